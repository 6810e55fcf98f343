"""Times as RFC 3339 text in UTC with nanoseconds, as docker and the OCI state write them;
text of this one shape also sorts as the times do."""

import time

ZERO = "0001-01-01T00:00:00Z"  # docker's "never"


def rfc3339(t: float | None = None) -> str:
    """`t` (seconds since the epoch; now if None) as 2026-11-28T10:00:00.123456789Z."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                   "m": 60_000_000_000, "h": 3_600_000_000_000}


def ns(t: float) -> int:
    """Seconds since the epoch as whole ns, without the float's rounding of the product."""
    whole = int(t)
    return whole * 1_000_000_000 + round((t - whole) * 1e9)


# int64 ns (the years 1677 to 2262): what docker's times hold and SQLite stores; a time
# given further out is the same "never" or "always" for every caller, so it is cut to these
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def parse(text: str, now_ns: int | None = None) -> int:
    """A point in time as docker's --since, --until and `until=` filters take it (its
    timetypes), in ns since the epoch: a Go duration before now (10m, 1h30m, 1.5s, 300ms;
    negative: ahead), an RFC 3339 time or date (2026-12-02T09:40:43.5Z, an offset, or no
    zone: local time; 2026-12-02), or Unix seconds (1764668443, 1764668443.5; "0" is the
    epoch, not a duration).  ValueError for anything else: each caller words its own.
    Cut to int64."""
    return max(INT64_MIN, min(INT64_MAX, _parse(text, now_ns)))


def _parse(text: str, now_ns: int | None = None) -> int:
    import re
    text = text.strip()
    now_ns = time.time_ns() if now_ns is None else now_ns
    m = re.fullmatch(r"([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)", text)
    if m:
        total = sum(float(n) * _DURATION_UNITS[unit]
                    for n, unit in re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)", m[2]))
        total = min(total, 2.0 ** 64)  # (999...9h is a float's inf)
        return now_ns - int(-total if m[1] == "-" else total)
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?)?([Zz]|[+-]\d\d:\d\d)?",
                     text)
    if m:
        return _calendar(m)
    m = re.fullmatch(r"(\d+)(?:\.(\d{1,9}))?", text)
    if m:
        return int(m[1]) * 1_000_000_000 + int((m[2] or "0").ljust(9, "0"))
    raise ValueError(text)


def _calendar(m) -> int:
    """An RFC 3339-like match in ns; in local time when it names no zone, as docker."""
    import calendar
    fields = tuple(int(g or 0) for g in m.groups()[:6])
    year, month, day, hour, minute, second = fields
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24 and minute < 60
            and second < 61):
        raise ValueError(m[0])
    zone = m[8]
    if zone is None:
        seconds = int(time.mktime((*fields, 0, 0, -1)))
    else:
        seconds = calendar.timegm((*fields, 0, 0, 0))
        if zone not in ("Z", "z"):
            seconds -= (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 1_000_000_000 + int((m[7] or "0").ljust(9, "0"))
