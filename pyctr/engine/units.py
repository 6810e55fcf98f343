"""Parsing what users type: sizes like `64m`, CPU lists like `0-1,3`.

By hand rather than with regular expressions: `re` costs `pyctr run -m 64m` an import of
re and enum, several ms.  The grammar is small and tests/test_units_convert.py covers it."""

from .errors import PyctrError

_MULT = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def _is_number(text: str) -> bool:
    """One or more ASCII digits (str.isdigit also takes other scripts' digits)."""
    return bool(text) and all("0" <= c <= "9" for c in text)


def parse_size(text: str, what: str = "size", multipliers: dict = _MULT) -> int:
    """docker's RAMInBytes: `NUMBER[.FRACTION][ ][UNIT][b|ib]`, binary units `b k m g t p`,
    any case (other `multipliers`: parse_decimal_size)."""
    number, unit, rest = _split_size(text.strip().lower())
    whole, _, fraction = number.partition(".")
    if not _is_number(whole) or ("." in number and not _is_number(fraction)) or rest not in ("", "b", "ib"):
        raise PyctrError(f"invalid {what}: {text!r} (use a number with an optional unit b, k, m, g)")
    size = float(number) * multipliers[unit]
    if size >= 1 << 63:  # docker's sizes are int64; and an endless float is no int at all
        raise PyctrError(f"invalid {what}: {text!r} (too large)")
    return int(size)


_DECIMAL = {unit: 1000 ** power for power, unit in enumerate("bkmgtp")}


def parse_decimal_size(text: str, what: str = "size") -> int:
    """docker's FromHumanSize, which log sizes (--log-opt max-size) are read with: the same
    grammar, decimal units (10k = 10000), `ib` alike."""
    return parse_size(text, what, _DECIMAL)


def _split_size(text: str) -> tuple[str, str, str]:
    """`1.5 gib` -> ("1.5", "g", "ib"): the number, the unit (default b), what follows."""
    end = 0
    while end < len(text) and (text[end] in "0123456789."):
        end += 1
    number, rest = text[:end], text[end:]
    if rest.startswith(" "):
        rest = rest[1:]
    if rest[:1] and rest[0] in _MULT:
        return number, rest[0], rest[1:]
    return number, "b", rest


# The kernel's own bound on cpu and memory node numbers (NR_CPUS is at most 8192): a
# range is checked against it before it is expanded, so `0-99999999999` costs nothing.
MAX_CPU_INDEX = 8191
MAX_CPU_LIST = 4096  # characters


def parse_cpu_list(text: str, what: str = "cpu list") -> set[int]:
    """`0-2,5` -> {0, 1, 2, 5}; ranges must go upwards."""
    text = text.strip()
    if len(text) > MAX_CPU_LIST:
        raise PyctrError(f"invalid {what}: longer than {MAX_CPU_LIST} characters")
    cpus: set[int] = set()
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not _is_number(lo) or (dash and not _is_number(hi)):
            raise PyctrError(f"invalid {what}: {text!r} (use a list like 0-2,5)")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise PyctrError(f"invalid {what}: {text!r} (range {part} goes downwards)")
        if last > MAX_CPU_INDEX:
            raise PyctrError(f"invalid {what}: {text!r} (no cpu or node is numbered above {MAX_CPU_INDEX})")
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
