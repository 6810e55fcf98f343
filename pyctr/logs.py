"""`pyctr logs`: the monitor's JSON lines back to stdout and stderr."""

import json
import os
import re
import sys
import time
from collections import deque

from . import containers, monitor
from .errors import PyctrError
from .paths import Paths
from .store import ContainerRecord, Store


def parse_since(text: str, now: float | None = None) -> str:
    """`10m`, `2h`, `30s` (ago) or an RFC 3339 time -> an RFC 3339 UTC string, which
    compares with the records' times as text."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", text.strip())
    if m:
        seconds = float(m[1]) * {"s": 1, "m": 60, "h": 3600}[m[2]]
        t = (time.time() if now is None else now) - seconds
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", text.strip()):
        return text.strip().rstrip("Z")
    raise PyctrError(f"invalid --since: {text!r} (use 10m, 2h, 30s or 2026-11-28T10:00:00)")


def _emit(line: str, timestamps: bool, since: str | None) -> None:
    try:
        record = json.loads(line)
    except ValueError:
        return  # a line cut short by a crash
    if since and record["time"] < since:
        return
    out = sys.stderr if record.get("stream") == "stderr" else sys.stdout
    out.write((record["time"] + " " if timestamps else "") + record["log"])
    out.flush()


def _finished(paths: Paths, store: Store, record: ContainerRecord) -> bool:
    if os.path.exists(monitor.exit_path(paths, record.id)):
        return True
    current = store.get_container(record.id)
    return current is None or not containers.is_running(current)


def show(paths: Paths, store: Store, record: ContainerRecord, follow=False, tail=None, timestamps=False,
         since=None) -> None:
    since_text = parse_since(since) if since else None
    path = monitor.log_path(paths, record.id)
    if not os.path.exists(path):
        if os.path.isdir(paths.container_dir(record.id)):
            return  # nothing written yet, or not a detached container
        raise PyctrError(f"no logs for container {record.name}")
    with open(path, errors="replace") as f:
        lines = deque(f, maxlen=tail) if tail is not None and tail >= 0 else f.readlines()
        for line in lines:
            _emit(line, timestamps, since_text)
        if not follow:
            return
        pending = ""
        while True:
            chunk = f.read()
            if chunk:
                pending += chunk
                *whole, pending = pending.split("\n")
                for line in whole:
                    _emit(line, timestamps, since_text)
                continue
            if _finished(paths, store, record):
                # the monitor writes the exit file after its last record: one more read
                for line in (pending + f.read()).splitlines():
                    _emit(line, timestamps, since_text)
                return
            time.sleep(0.05)
