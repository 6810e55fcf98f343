"""`pyctr logs`: a container's output read back from the monitor's JSON lines (docker's
json-file records), to its end or, following, until the container exits."""

import json
import os
import re
import time
from collections import deque

from ..timestamps import rfc3339
from . import containers
from .errors import PyctrError
from .paths import Paths
from .store import ContainerRecord, Store


def parse_since(text: str, now: float | None = None) -> str:
    """`10m`, `2h`, `30s` (ago) or an RFC 3339 time -> an RFC 3339 UTC string, which
    compares with the records' times as text."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", text.strip())
    if m:
        seconds = float(m[1]) * {"s": 1, "m": 60, "h": 3600}[m[2]]
        return rfc3339((time.time() if now is None else now) - seconds)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", text.strip()):
        return text.strip().rstrip("Z")
    raise PyctrError(f"invalid --since: {text!r} (use 10m, 2h, 30s or 2026-11-28T10:00:00)")


def _entry(line: str, timestamps: bool, since: str | None) -> tuple[str, str] | None:
    """(stream, text) of one record, or None for one to skip."""
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a line cut short by a crash
    if since and record["time"] < since:
        return None
    return record.get("stream", "stdout"), (record["time"] + " " if timestamps else "") + record["log"]


def _finished(paths: Paths, store: Store, record: ContainerRecord) -> bool:
    if os.path.exists(paths.container_file(record.id, "exit")):
        return True
    current = store.get_container(record.id)
    return current is None or not containers.is_running(paths, current)


def entries(paths: Paths, store: Store, record: ContainerRecord, follow=False, tail=None, timestamps=False,
            since=None):
    """Yields (stream, text): "stdout" or "stderr", and a piece of output as written."""
    since_text = parse_since(since) if since else None
    path = paths.container_file(record.id, "log")
    if not os.path.exists(path):
        if os.path.isdir(paths.container_dir(record.id)):
            return  # nothing written yet
        raise PyctrError(f"no logs for container {record.name}")
    with open(path, errors="replace") as f:
        lines = deque(f, maxlen=tail) if tail is not None and tail >= 0 else f.readlines()
        yield from _entries(lines, timestamps, since_text)
        if not follow:
            return
        pending = ""
        while True:
            chunk = f.read()
            if chunk:
                pending += chunk
                *whole, pending = pending.split("\n")
                yield from _entries(whole, timestamps, since_text)
                continue
            if _finished(paths, store, record):
                # the monitor writes the exit file after its last record: one more read
                yield from _entries((pending + f.read()).splitlines(), timestamps, since_text)
                return
            time.sleep(0.05)


def _entries(lines, timestamps: bool, since: str | None):
    for line in lines:
        entry = _entry(line, timestamps, since)
        if entry is not None:
            yield entry
