"""Everything a person reads: tables, sizes, ages.  rich is imported here only."""

import time


def human_size(n: float, binary: bool = False) -> str:
    """docker's styles: 4.19MB for image sizes (decimal), 1.50MiB for stats (binary)."""
    base, units = (1024, ("B", "KiB", "MiB", "GiB", "TiB")) if binary else (1000, ("B", "kB", "MB", "GB", "TB"))
    for unit in units:
        if n < base or unit == units[-1]:
            if unit == "B":
                return f"{n:.0f}{unit}"
            return f"{n:.2f}{unit}" if binary else f"{n:.3g}{unit}"
        n /= base
    return f"{n}"


def human_age(then: float, now: float | None = None) -> str:
    seconds = max(0, (now if now is not None else time.time()) - then)
    for limit, unit, div in ((60, "second", 1), (3600, "minute", 60), (86400, "hour", 3600),
                             (86400 * 30, "day", 86400), (86400 * 365, "month", 86400 * 30)):
        if seconds < limit:
            n = int(seconds // div)
            if unit == "second" and n < 1:
                return "Less than a second ago"
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    n = int(seconds // (86400 * 365))
    return f"{n} year{'s' if n != 1 else ''} ago"


def images_table(records) -> "object":
    from rich.table import Table
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"):
        table.add_column(column)
    for image in records:
        table.add_row(image.repository, image.tag, image.id[:12], human_age(image.created),
                      human_size(image.size))
    return table


def print_table(table) -> None:
    """On a terminal, fitted to its width; piped, whole lines (as docker prints them)."""
    import sys
    from rich.console import Console
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 100_000).print(table)


def print_error(message: str) -> None:
    import sys
    sys.stderr.write(f"pyctr: {message}\n")



def stats_table(rows) -> "object":
    from rich.table import Table
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"):
        table.add_column(column)
    for r in rows:
        mem_pct = f"{r.memory_percent:.2f}%" if r.memory_percent is not None else "--"
        limit = human_size(r.memory_limit, binary=True) if r.memory_limit else "--"
        table.add_row(r.id[:12], r.name, f"{r.cpu_percent:.2f}%",
                      f"{human_size(r.memory_usage, binary=True)} / {limit}", mem_pct, str(r.pids))
    return table


def ps_table(rows, no_trunc: bool = False) -> "object":
    """rows: (record, status text)."""
    from rich.table import Table
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"):
        table.add_column(column, no_wrap=True)
    for record, status in rows:
        command = " ".join(record.command)
        if not no_trunc and len(command) > 20:
            command = command[:19] + "…"
        table.add_row(record.id if no_trunc else record.id[:12], record.image_ref, f'"{command}"',
                      human_age(record.created), status, "", record.name)
    return table
