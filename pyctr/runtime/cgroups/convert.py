"""cgroup v1 <-> v2 value conversions, in one place.

| OCI (v1 meaning)            | cgroup v1 file              | cgroup v2 file   | conversion                          |
|-----------------------------|-----------------------------|------------------|-------------------------------------|
| memory.limit                | memory.limit_in_bytes       | memory.max       | same; -1 -> max                     |
| memory.reservation          | memory.soft_limit_in_bytes  | memory.low       | same                                |
| memory.swap (memory + swap) | memory.memsw.limit_in_bytes | memory.swap.max  | v2 = swap - limit (swap alone)      |
| cpu.shares (2..262144)      | cpu.shares                  | cpu.weight       | quadratic in log2, 1024 -> 100      |
| cpu.quota / cpu.period      | cpu.cfs_quota_us / _period  | cpu.max          | "quota period"; quota -1 -> "max"   |
| cpu.cpus / cpu.mems         | cpuset.cpus / cpuset.mems   | same names       | same                                |
| pids.limit                  | pids.max                    | pids.max         | same; <= 0 -> max                   |

The shares -> weight formula is the one runc and crun moved to in 2025: it maps the
v1 default (1024) to the v2 default (100) and the ends of the ranges onto each other,
where the older linear formula mapped 1024 to 39.
"""

import math

from ..errors import ConfigError

SHARES_MIN, SHARES_MAX = 2, 262144
WEIGHT_MIN, WEIGHT_MAX = 1, 10000
DEFAULT_PERIOD = 100_000  # microseconds, as docker


def shares_to_weight(shares: int) -> int:
    if shares == 0:
        return 0  # unset
    if shares <= SHARES_MIN:
        return WEIGHT_MIN
    if shares >= SHARES_MAX:
        return WEIGHT_MAX
    l = math.log2(shares)
    exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
    return min(WEIGHT_MAX, math.ceil(10 ** exponent))  # as runc's ConvertCPUSharesToCgroupV2Value


def swap_v2(swap: int | None, limit: int | None) -> int | None:
    """OCI swap (memory + swap) -> memory.swap.max (swap alone); -1 is unlimited."""
    if swap is None:
        return None
    if swap == -1:
        return -1
    if limit is None or limit == -1:
        raise ConfigError("a swap limit needs a memory limit")
    if swap < limit:
        raise ConfigError("memory + swap must not be below memory")
    return swap - limit


def cpus_to_quota(cpus: float, period: int = DEFAULT_PERIOD) -> tuple[int, int]:
    """--cpus 0.5 -> (50000, 100000)."""
    return int(round(cpus * period)), period


def limit_text(value: int | None) -> str:
    """A byte or count limit for a v2 file (and pids.max): -1, 0, None -> "max"."""
    return "max" if value is None or value <= 0 else str(value)
