"""update's new limits (an OCI linux.resources document, from --resources FILE or - , or
runc's flags) and events (the cgroup's figures as runc's JSON lines)."""

import sys
import time

from ... import fastjson
from .. import container
from ..errors import ConfigError
from .main import Invocation, UsageError

# runc update's flags: (section, key, parse)
_FLAGS = {
    "memory": ("memory", "limit", "size"), "memory-swap": ("memory", "swap", "size"),
    "memory-reservation": ("memory", "reservation", "size"), "kernel-memory": ("memory", "kernel", "size"),
    "kernel-memory-tcp": ("memory", "kernelTCP", "size"), "cpu-shares": ("cpu", "shares", "int"),
    "cpu-quota": ("cpu", "quota", "int"), "cpu-period": ("cpu", "period", "int"),
    "cpu-rt-period": ("cpu", "realtimePeriod", "int"), "cpu-rt-runtime": ("cpu", "realtimeRuntime", "int"),
    "cpuset-cpus": ("cpu", "cpus", "str"), "cpuset-mems": ("cpu", "mems", "str"),
    "pids-limit": ("pids", "limit", "int"), "blkio-weight": ("blockIO", "weight", "int"),
}
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}


def _size(text: str) -> int:
    t = text.strip().lower()
    if t == "-1":
        return -1
    digits = t.rstrip("bkmg")
    try:
        return int(float(digits) * _UNITS[t[len(digits):]])
    except (ValueError, KeyError):
        raise UsageError(f"invalid size {text!r}") from None


def from_options(options: dict) -> dict:
    """linux.resources from --resources (a file, or - for stdin) and runc's flags."""
    resources: dict = {}
    source = options.get("resources")
    if source:
        try:
            text = sys.stdin.read() if source == "-" else open(source).read()
            resources = fastjson.loads(text)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read the resources {source}: {e}") from None
        if not isinstance(resources, dict):
            raise ConfigError("the resources must be a JSON object")
    for flag, (section, key, kind) in _FLAGS.items():
        if flag not in options:
            continue
        value = options[flag]
        if kind == "size":
            value = _size(value)
        elif kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"--{flag} takes a number: {value!r}") from None
        resources.setdefault(section, {})[key] = value
    return resources


def _figures(root: str, cid: str) -> dict:
    figures = container.stats(root, cid)
    if figures is None:
        return {}
    return {"cpu": {"usage": {"total": figures.cpu_usage_ns}},
            "memory": {"usage": {"usage": figures.memory_usage, "limit": figures.memory_limit or 0,
                                 "max": figures.memory_max_usage or 0}},
            "pids": {"current": figures.pids, "limit": figures.pids_limit or 0},
            "blkio": {"ioServiceBytesRecursive": [{"op": "Read", "value": figures.block_read},
                                                  {"op": "Write", "value": figures.block_write}]}}


def _seconds(text: str) -> float:
    """A Go duration (5s, 500ms, 1m) in seconds: timestamps.parse reads it as that long
    before `now`."""
    from ...timestamps import parse
    try:
        seconds = -parse(text, now_ns=0) / 1e9
    except ValueError:
        seconds = 0
    if not text or text[-1].isdigit() or seconds <= 0:
        raise UsageError(f"invalid --interval {text!r}: a duration such as 5s")
    return seconds


def events_loop(inv: Invocation, cid: str) -> int:
    """--stats: one record; else one every --interval (5s) until the container stops."""
    interval = _seconds(inv.options.get("interval") or "5s")
    while True:
        record = {"type": "stats", "id": cid, "data": _figures(inv.root, cid)}
        sys.stdout.write(fastjson.dumps(record) + "\n")
        sys.stdout.flush()
        if inv.options.get("stats"):
            return 0
        time.sleep(interval)
        saved = container.load_state(inv.root, cid)
        if saved is None or saved.current_status() == "stopped":
            return 0
