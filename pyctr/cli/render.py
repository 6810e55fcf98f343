"""Everything a person reads: tables, sizes, ages, errors and warnings, how a container
ended, and the fields `--format` sees (docker's names and texts).  rich is imported here
only, and only for a pull's progress bars: tables are plain text, as docker's."""

import os
import sys
import time


# C0 controls but tab, DEL and C1 controls: what a terminal acts on instead of showing.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0a, 0x20), *range(0x7f, 0xa0))}


def printable(text: str) -> str:
    """`text` with control characters escaped (\\x1b): a string a container chose (its
    command line, a name from its config) must not move the cursor, retitle the window or
    hide lines on the terminal of whoever looks at it."""
    return text.translate(_CONTROLS)


def human_size(n: float, binary: bool = False, precision: int | None = None) -> str:
    """docker's (go-units) styles: HumanSizeWithPrecision, decimal, 3 significant digits
    (4.26MB: image sizes, NET I/O, BLOCK I/O); BytesSize, binary, 4 (1.5MiB / 64MiB)."""
    base, units = (1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB")) if binary else \
        (1000, ("B", "kB", "MB", "GB", "TB", "PB"))
    digits = precision or (4 if binary else 3)
    i = 0
    while n >= base and i < len(units) - 1:
        n /= base
        i += 1
    return f"{n:.{digits}g}{units[i]}"


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


class Table:
    """A table as docker prints one: a header, columns padded to their widest cell and 3
    spaces apart, no blanks at the end of a line, nothing ever cut.  Each column has a rank:
    on a terminal too narrow for it all, columns go highest rank first until the rest fits
    (rank 0, the ids and names, never goes); what still does not fit wraps as the terminal
    wraps it.  The header is bold on a terminal, unless NO_COLOR is set (FORCE_COLOR bolds
    it anywhere, NO_COLOR still winning)."""

    def __init__(self, *columns: tuple[str, int]):
        self.titles = [title for title, _ in columns]
        self.ranks = [rank for _, rank in columns]
        self.rows: list[list[str]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append([str(cell) for cell in cells])

    def lines(self, width: int | None = None) -> list[str]:
        shown = list(range(len(self.titles)))
        widths = [max(len(row[i]) for row in (self.titles, *self.rows)) for i in shown]

        def total() -> int:
            return sum(widths[i] for i in shown) + 3 * (len(shown) - 1)
        while width is not None and total() > width:
            droppable = [i for i in shown if self.ranks[i]]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda i: (self.ranks[i], i)))
        return ["   ".join(row[i].ljust(widths[i]) for i in shown).rstrip() for row in (self.titles, *self.rows)]


def colour() -> bool:
    """Whether to bold: on a terminal or with FORCE_COLOR, never with NO_COLOR (any value)."""
    if "NO_COLOR" in os.environ:
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def table_text(table) -> str:
    """A Table (or a rich one, as some commands still make: its cells read back) as text:
    fitted to a terminal's width, whole lines when piped."""
    if not isinstance(table, Table):
        plain = Table(*((str(column.header), 0) for column in table.columns))
        for cells in zip(*(column._cells for column in table.columns)):
            plain.add_row(*cells)
        table = plain
    width = None
    if sys.stdout.isatty():
        import shutil
        width = shutil.get_terminal_size().columns
    lines = table.lines(width)
    if colour():
        lines[0] = f"\x1b[1m{lines[0]}\x1b[0m"
    return "".join(line + "\n" for line in lines)


def print_table(table) -> None:
    sys.stdout.write(table_text(table))
    sys.stdout.flush()


def json_line(row: dict) -> str:
    """One object as docker's `--format json` prints it: keys sorted, no blanks, <, > and &
    escaped as Go's encoder does."""
    import json
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def images_table(rows: list[dict], digests: bool = False) -> Table:
    """`images`: rows as image_commands makes them (docker's json keys)."""
    table = Table(("REPOSITORY", 0), ("TAG", 0), *((("DIGEST", 3),) if digests else ()), ("IMAGE ID", 0),
                  ("CREATED", 2), ("SIZE", 1))
    for row in rows:
        table.add_row(printable(row["Repository"]), printable(row["Tag"]), *((row["Digest"],) if digests else ()),
                      row["ID"], row["CreatedSince"], row["Size"])
    return table


def history_table(rows: list[dict], no_trunc: bool = False) -> Table:
    from ..images.oci import parse_created
    table = Table(("IMAGE", 0), ("CREATED", 2), ("CREATED BY", 3), ("SIZE", 1), ("COMMENT", 4))
    for row in rows:
        image = row["id"] if no_trunc or row["id"] == "<missing>" else row["id"][7:19]
        step = printable(row["created_by"])
        if not no_trunc and len(step) > 45:
            step = step[:44] + "…"
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
    if record.status in ("exited", "restarting"):  # docker: Restarting (1) 2 seconds ago
        code = "unknown" if record.exit_code is None else record.exit_code
        return f"{record.status.capitalize()} ({code}) {human_age(record.finished or record.created, now)}"
    return record.status.capitalize()


def stats_fields(row, no_trunc: bool = False) -> dict:
    """A stats sample (engine.stats.Row) as docker's `stats --format` sees it."""
    mem_pct = f"{row.memory_percent or 0:.2f}%"
    limit = human_size(row.memory_limit or 0, binary=True)
    return {"BlockIO": f"{human_size(row.block_read)} / {human_size(row.block_write)}",
            "CPUPerc": f"{row.cpu_percent:.2f}%", "Container": row.container or row.id,
            "ID": row.id if no_trunc else row.id[:12], "MemPerc": mem_pct,
            "MemUsage": f"{human_size(row.memory_usage, binary=True)} / {limit}", "Name": printable(row.name),
            "NetIO": f"{human_size(row.net_rx)} / {human_size(row.net_tx)}", "PIDs": str(row.pids)}


STATS_HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
                 "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
                 "Container": "CONTAINER"}
_STATS_COLUMNS = (("ID", 0), ("Name", 0), ("CPUPerc", 1), ("MemUsage", 2), ("MemPerc", 3), ("NetIO", 5),
                  ("BlockIO", 6), ("PIDs", 4))


def stats_table(rows: list[dict]) -> Table:
    """`stats`: CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS."""
    table = Table(*((STATS_HEADERS[key], rank) for key, rank in _STATS_COLUMNS))
    for row in rows:
        table.add_row(*(row[key] for key, _ in _STATS_COLUMNS))
    return table


def _quoted(text: str) -> str:
    """Go's strconv.Quote, as docker shows a COMMAND."""
    return '"' + printable(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def ps_fields(record, ports: list[str], facts: dict | None = None, no_trunc: bool = False) -> dict:
    """A container as docker's `ps --format` sees it: its field names and texts.  `facts`:
    engine.views.listed's (labels, mounts, networks, sizes)."""
    from ..engine.filters import shown_status
    facts = facts or {}
    command = " ".join(record.command)
    size = "0B"
    if facts.get("size_rw") is not None:
        size = human_size(facts["size_rw"])
        if facts.get("size_root"):
            size += f" (virtual {human_size(facts['size_root'])})"
    mounts = [printable(m if no_trunc else _ellipsis(m, 15)) for m in facts.get("mounts", [])]
    return {"ID": record.id if no_trunc else record.id[:12], "Image": printable(record.image_ref),
            "Command": _quoted(command if no_trunc else _ellipsis(command, 20)),
            "CreatedAt": docker_time(record.created), "RunningFor": human_age(record.created),
            "Ports": ", ".join(ports), "State": shown_status(record),
            "Status": status_text(record), "Names": printable(record.name), "Size": size,
            "Labels": printable(",".join(f"{k}={v}" for k, v in sorted(facts.get("labels", {}).items()))),
            "Mounts": ",".join(mounts), "Networks": ",".join(facts.get("networks", [])),
            "LocalVolumes": str(facts.get("local_volumes", 0))}


PS_HEADERS = {"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT", "Names": "NAMES",
              "LocalVolumes": "LOCAL VOLUMES"}
# what goes first on a narrow terminal: COMMAND, then CREATED, PORTS, SIZE, IMAGE, STATUS
_PS_COLUMNS = (("ID", 0), ("Image", 2), ("Command", 6), ("RunningFor", 5), ("Status", 1), ("Ports", 4),
               ("Names", 0))


def ps_table(rows: list[dict], size: bool = False) -> Table:
    columns = _PS_COLUMNS + ((("Size", 3),) if size else ())
    table = Table(*((PS_HEADERS.get(key, key.upper()), rank) for key, rank in columns))
    for row in rows:
        table.add_row(*(row[key] for key, _ in columns))
    return table


def live(frame, interval: float = 1.0) -> None:
    """`frame()`'s text, again every `interval` seconds until Ctrl-C: on a terminal the
    screen is cleared first (as docker's stats does), piped each frame follows the last."""
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    try:
        while True:
            sys.stdout.write(clear + frame())
            sys.stdout.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        pass


def top_table(titles: list[str], rows: list[list[str]]) -> str:
    """`top`'s lines as docker prints them (Go's tabwriter, minwidth 20, padding 3):
    every column but the last padded to its widest cell; what ps shows of a container's
    command lines escaped."""
    lines = [titles, *([printable(cell) for cell in row] for row in rows)]
    widths = [max([20, *(len(line[i]) + 3 for line in lines if i < len(line) - 1)]) for i in range(len(titles) - 1)]
    return "".join("".join(cell.ljust(widths[i]) if i < len(line) - 1 else cell for i, cell in enumerate(line)) + "\n"
                   for line in lines)
