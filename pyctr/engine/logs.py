"""`pyctr logs`: a container's output read back from the monitor's JSON lines (docker's
json-file records), across the files a size cap rotates them into, to the end or,
following (through rotations), until the container exits."""

import json
import os
import time

from ..timestamps import ns, parse, rfc3339
from . import containers, logopts
from .errors import PyctrError
from .paths import Paths
from .store import ContainerRecord, Store


def parse_time(text: str, flag: str = "--since", now: float | None = None) -> str:
    """What docker's --since and --until take (timestamps.parse), as the log records
    write times (RFC 3339 UTC, nine decimals), which sort as text."""
    try:
        point = parse(text, None if now is None else ns(now))
    except ValueError:
        raise PyctrError(f"invalid value for {flag}: {text!r} (a time such as 2026-11-28T10:00:00Z, a Unix time "
                         f"such as 1733130000.5, or a duration such as 10m or 1h30m)") from None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(point // 1_000_000_000)) + f".{point % 1_000_000_000:09d}Z"


class _Window:
    """Which records a --since and an --until let through: both ends included, as
    docker's; the first past --until ends the output (records come in time order)."""

    def __init__(self, since: str | None, until: str | None):
        self.since, self.until = since, until
        self.ended = False

    def entry(self, line: str, timestamps: bool) -> tuple[str, str] | None:
        """(stream, text) of one record, or None for one to skip."""
        try:
            record = json.loads(line)
        except ValueError:
            return None  # a line cut short by a crash
        if self.since and record["time"] < self.since:
            return None
        if self.until and record["time"] > self.until:
            self.ended = True
            return None
        return record.get("stream", "stdout"), (record["time"] + " " if timestamps else "") + record["log"]

    def past(self) -> bool:
        """Whether --until has come: nothing later is shown, so following can end."""
        return self.ended or bool(self.until) and rfc3339() > self.until


def _finished(paths: Paths, store: Store, record: ContainerRecord) -> bool:
    if os.path.exists(paths.container_file(record.id, "exit")):
        return True
    current = store.get_container(record.id)
    return current is None or not containers.is_running(paths, current)


def entries(paths: Paths, store: Store, record: ContainerRecord, follow=False, tail=None, timestamps=False,
            since=None, until=None):
    """Yields (stream, text): "stdout" or "stderr", and a piece of output as written,
    across the log's rotated files (logopts.py), oldest first; with `since` and `until`
    (parse_time's texts) those written between them."""
    window = _Window(parse_time(since) if since else None, parse_time(until, "--until") if until else None)
    if not os.path.isdir(paths.container_dir(record.id)):
        raise PyctrError(f"no logs for container {record.name}")
    path = paths.container_file(record.id, "log")
    names = logopts.files(path, containers.read_config(paths, record.id))
    files = _open_existing(names)
    if not files:
        return  # nothing written yet
    try:
        lines, pending = _last_lines(files, tail)
        yield from _entries(lines, timestamps, window)
        if follow and not window.past():
            yield from _follow(paths, store, record, path, names, files.pop(), pending, timestamps, window)
    finally:
        for f in files:
            f.close()


def _open_existing(names: list[str]) -> list:
    files = []
    for name in names:
        try:
            files.append(open(name, errors="replace"))
        except FileNotFoundError:
            pass
    return files


def _last_lines(files: list, tail: int | None) -> tuple[list[str], str]:
    """The records in the files (oldest first), the last `tail` of them only, read from the
    newest file back as far as they reach; and the newest file's unfinished last record."""
    wanted = tail if tail is not None and tail >= 0 else None
    chunks, count, pending = [], 0, ""
    for newest, f in enumerate(reversed(files)):
        lines = f.read().split("\n")
        last = lines.pop()  # after the last newline: nothing, or a record being written
        if newest == 0:
            pending = last  # (an older file's cut-off end was a crash's: dropped)
        if wanted is not None:
            lines = lines[max(0, len(lines) - (wanted - count)):]
        chunks.append(lines)
        count += len(lines)
        if wanted is not None and count >= wanted:
            break
    return [line for chunk in reversed(chunks) for line in chunk], pending


def _follow(paths: Paths, store: Store, record: ContainerRecord, path: str, names: list[str], f, pending: str,
            timestamps: bool, window: _Window):
    """What the monitor writes from here on, through its rotations, until the container
    ends (or --until comes).  A rotation renames the file we read (or, with max-file=1, removes it): once
    the path names another file, we read ours to its end (the monitor wrote its last
    record into it before the rename), then the newer files in turn.  They are opened
    when first seen, so a file removed while we read another stays readable to us."""
    newer: list = []
    done = False
    try:
        while True:
            chunk = f.read()
            if chunk:
                pending += chunk
                *whole, pending = pending.split("\n")
                yield from _entries(whole, timestamps, window)
                if window.ended:
                    return
                continue
            if newer:  # rotated before this read came back empty: ours is complete
                f.close()
                f, pending = newer.pop(0), ""
                continue
            if _rotated(path, f):
                newer = _newer_files(names, f)
                if not newer and not done:  # the new file is being made this moment
                    time.sleep(0.002)
                    newer = _newer_files(names, f)
                if newer:
                    continue
            if done or window.past():
                return
            # the monitor writes the exit file after its last record: once more round, to
            # read what came before it (through a last rotation too)
            done = _finished(paths, store, record)
            if not done:
                time.sleep(0.05)
    finally:
        for each in (f, *newer):
            each.close()


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _rotated(path: str, f) -> bool:
    """Whether the log's path names another file than the one we read (or none, for the
    moment of a rotation)."""
    try:
        return _identity(os.stat(path)) != _identity(os.fstat(f.fileno()))
    except FileNotFoundError:
        return True


def _newer_files(names: list[str], f) -> list:
    """The files written after ours, oldest first, opened (all there are, when ours is no
    longer among them: it was the oldest, and removed).  Each is checked to be the file
    its name held a moment before: a rotation meanwhile ends the list early, and the
    caller asks again."""
    there = []
    for name in names:
        try:
            there.append((name, _identity(os.stat(name))))
        except FileNotFoundError:
            pass
    ours = _identity(os.fstat(f.fileno()))
    position = next((i for i, (_, identity) in enumerate(there) if identity == ours), -1)
    opened = []
    for name, identity in there[position + 1:]:
        try:
            newer = open(name, errors="replace")
        except FileNotFoundError:
            break
        if _identity(os.fstat(newer.fileno())) != identity:
            newer.close()
            break
        opened.append(newer)
    return opened


def _entries(lines, timestamps: bool, window: _Window):
    for line in lines:
        entry = window.entry(line, timestamps)
        if window.ended:
            return
        if entry is not None:
            yield entry
