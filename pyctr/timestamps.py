"""Times as RFC 3339 text in UTC with nanoseconds, as docker and the OCI state write them;
text of this one shape also sorts as the times do."""

import time

ZERO = "0001-01-01T00:00:00Z"  # docker's "never"


def rfc3339(t: float | None = None) -> str:
    """`t` (seconds since the epoch; now if None) as 2026-11-28T10:00:00.123456789Z."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"
