"""Everything a person reads: tables, sizes, ages, errors and warnings, how a container
ended.  rich is imported here only, and only where a table is drawn."""

import sys
import time


# C0 controls but tab, DEL and C1 controls: what a terminal acts on instead of showing.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0a, 0x20), *range(0x7f, 0xa0))}


def printable(text: str) -> str:
    """`text` with control characters escaped (\\x1b): a string a container chose (its
    command line, a name from its config) must not move the cursor, retitle the window or
    hide lines on the terminal of whoever looks at it."""
    return text.translate(_CONTROLS)


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


def images_table(rows: list[dict], digests: bool = False) -> "object":
    """`images`: rows as image_commands makes them (docker's json keys)."""
    from rich.table import Table
    table = Table(box=None, header_style="bold", pad_edge=False)
    columns = ("REPOSITORY", "TAG", *(("DIGEST",) if digests else ()), "IMAGE ID", "CREATED", "SIZE")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(row["Repository"], row["Tag"], *((row["Digest"],) if digests else ()), row["ID"],
                      row["CreatedSince"], row["Size"])
    return table


def history_table(rows: list[dict], no_trunc: bool = False) -> "object":
    from rich.table import Table
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"):
        table.add_column(column)
    for row in rows:
        image = row["id"] if no_trunc or row["id"] == "<missing>" else row["id"][7:19]
        step = printable(row["created_by"])
        if not no_trunc and len(step) > 45:
            step = step[:44] + "…"
        from ..images.oci import parse_created
        table.add_row(image, human_age(parse_created(row["created"])) if row["created"] else "",
                      step, human_size(row["size"]), printable(row["comment"]))
    return table


class PullReport:
    """How a pull shows itself: a rich progress bar per layer on a terminal, else docker's
    plain lines (one as each layer completes).  Its methods are engine.pull.Progress's."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.digest = ""
        self.fetched = False
        self.bars = None
        self.tasks: dict[int, object] = {}
        self.names: list[str] = []

    def resolved(self, ref, digest: str, layers) -> None:
        self.digest = digest
        self.names = [short for short, _, _ in layers]
        self.fetched = not all(present for _, _, present in layers)
        if self.quiet:
            return
        self._say(f"{ref.tag or ref.digest[:19]}: Pulling from {ref.path}")
        if self.stream.isatty() and self.fetched:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
            self.bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), transient=False,
                                 console=Console(file=self.stream))
            self.bars.start()
        for index, (short, size, present) in enumerate(layers):
            if present:
                self._say(f"{short}: Already exists")
            elif self.bars is not None:
                self.tasks[index] = self.bars.add_task(f"{short}: Downloading", total=size or None)

    def advanced(self, index: int, n: int) -> None:
        if self.bars is not None:
            self.bars.advance(self.tasks[index], n)

    def finished(self, index: int) -> None:
        if self.quiet:
            return
        if self.bars is not None:
            self.bars.update(self.tasks[index], description=f"{self.names[index]}: Pull complete")
        else:
            self._say(f"{self.names[index]}: Pull complete")

    def _say(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()


def docker_time(t: float) -> str:
    """docker's CreatedAt: 2026-12-02 03:45:01 +0000 UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(t))


def print_table(table) -> None:
    """On a terminal, fitted to its width; piped, whole lines (as docker prints them)."""
    from rich.console import Console
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 100_000).print(table)


def print_error(message: str) -> None:
    sys.stderr.write(f"pyctr: {printable(message)}\n")


def print_failure(error: BaseException) -> None:
    """An error's one line, then what rode on it as notes (what a failed start could not
    clean up), each a warning."""
    print_error(str(error))
    for note in getattr(error, "__notes__", ()):
        print_error(f"warning: {note}")


def report(outcome) -> int:
    """How a container we stayed with ended (an engine Outcome): the OOM kill and what
    could not be removed told on stderr; returns its exit code."""
    if outcome.oom_killed:
        limit = f" (memory limit {outcome.memory_limit // (1 << 20)} MiB)" if outcome.memory_limit else ""
        print_error(f"container {outcome.container_id[:12]} was OOM-killed{limit}")
    for warning in outcome.warnings:
        print_error(f"warning: {warning}")
    return outcome.code


def status_text(record, now: float | None = None) -> str:
    """docker's STATUS column: Up 5 seconds / Exited (0) 2 minutes ago / Created."""
    now = time.time() if now is None else now
    if record.status in ("running", "paused"):
        up = "Up " + human_age(record.started or record.created, now).removesuffix(" ago")
        return up + " (Paused)" if record.status == "paused" else up
    if record.status == "exited":
        code = "unknown" if record.exit_code is None else record.exit_code
        return f"Exited ({code}) {human_age(record.finished or record.created, now)}"
    return record.status.capitalize()


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


def ps_fields(record, ports: list[str], no_trunc: bool = False) -> dict:
    """A container as docker's `ps --format` sees it: its field names and texts."""
    command = printable(" ".join(record.command))
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    return {"ID": record.id if no_trunc else record.id[:12], "Image": record.image_ref, "Command": f'"{command}"',
            "CreatedAt": docker_time(record.created), "RunningFor": human_age(record.created),
            "Ports": ", ".join(ports), "State": record.status, "Status": status_text(record),
            "Names": printable(record.name), "Size": "", "Labels": "", "Mounts": "", "Networks": ""}


def ps_table(records, no_trunc: bool = False, ports: dict | None = None) -> "object":
    from rich.table import Table
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"):
        table.add_column(column, no_wrap=True)
    for record in records:
        command = printable(" ".join(record.command))
        if not no_trunc and len(command) > 20:
            command = command[:19] + "…"
        table.add_row(record.id if no_trunc else record.id[:12], record.image_ref, f'"{command}"',
                      human_age(record.created), status_text(record), ", ".join((ports or {}).get(record.id, [])),
                      printable(record.name))
    return table


def live_stats(sample) -> None:
    """`stats` without --no-stream: a table of `sample()`'s rows, redrawn every second
    until Ctrl-C."""
    from rich.live import Live
    with Live(stats_table(sample()), auto_refresh=False) as view:
        try:
            while True:
                time.sleep(1)
                view.update(stats_table(sample()), refresh=True)
        except KeyboardInterrupt:
            pass
