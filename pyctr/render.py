"""Everything a person reads: tables, sizes, ages.  rich is imported here only."""

import time


def human_size(n: float) -> str:
    """docker's style: 4.19MB (decimal units)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
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
    from rich.console import Console
    Console(soft_wrap=True).print(table)


def print_error(message: str) -> None:
    import sys
    sys.stderr.write(f"pyctr: {message}\n")
