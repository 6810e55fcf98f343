"""Parsing what users type: sizes like `64m`, CPU lists like `0-1,3`."""

import re

from .errors import PyctrError

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([bkmgtp])?(?:i?b)?$", re.IGNORECASE)
_MULT = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def parse_size(text: str, what: str = "size") -> int:
    """docker's RAMInBytes: binary units, `b k m g t p`, an optional `b`/`ib`."""
    m = _SIZE.match(text.strip())
    if not m:
        raise PyctrError(f"invalid {what}: {text!r} (use a number with an optional unit b, k, m, g)")
    number, unit = m.groups()
    return int(float(number) * _MULT[(unit or "b").lower()])


def parse_cpu_list(text: str, what: str = "cpu list") -> set[int]:
    """`0-2,5` -> {0, 1, 2, 5}; ranges must go upwards."""
    text = text.strip()
    if not _CPU_LIST.match(text):
        raise PyctrError(f"invalid {what}: {text!r} (use a list like 0-2,5)")
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise PyctrError(f"invalid {what}: {text!r} (range {part} goes downwards)")
        cpus.update(range(first, last + 1))
    return cpus


def format_cpu_list(cpus: set[int]) -> str:
    """{0, 1, 2, 5} -> `0-2,5`."""
    parts = []
    ordered = sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def read_online(path: str) -> set[int]:
    """A kernel list file such as /sys/devices/system/cpu/online."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return {0}
    return parse_cpu_list(text) if text else set()
