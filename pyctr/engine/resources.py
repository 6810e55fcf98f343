"""Resource flags (docker's spelling) -> OCI linux.resources, checked before anything starts."""

import os

from ..records import as_dict, record
from .errors import PyctrError

# units and cgroups.convert are imported where a flag needs them: a run without resource
# flags does not load them.

MIN_MEMORY = 6 * 1024 * 1024  # docker's floor: below it the container cannot even start


@record
class ResourceOptions:
    memory: str | None = None
    memory_swap: str | None = None
    memory_reservation: str | None = None
    cpus: str | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None

    def given(self) -> bool:
        return any(v is not None for v in as_dict(self).values())


def online_cpus() -> set[int]:
    from .units import read_online
    return read_online("/sys/devices/system/cpu/online")


def online_mems() -> set[int]:
    from .units import read_online
    return read_online("/sys/devices/system/node/online") if os.path.exists("/sys/devices/system/node/online") else {0}


def _memory(opts: ResourceOptions, current: dict | None) -> dict:
    """`current`: the container's memory section for `update` (None when creating)."""
    from .units import parse_size
    out: dict = {}
    if opts.memory is not None:
        limit = parse_size(opts.memory, "memory limit")
        if limit == 0:
            out["limit"] = -1  # docker: 0 means no limit
        elif limit < MIN_MEMORY:
            raise PyctrError("minimum memory limit allowed is 6MB")
        else:
            out["limit"] = limit
    limit = out.get("limit", (current or {}).get("limit"))
    limited = limit is not None and limit > 0
    swap_text = (opts.memory_swap or "").strip()
    if swap_text == "-1":
        out["swap"] = -1
    elif swap_text and swap_text != "0":  # docker: 0 means unset
        swap = parse_size(swap_text, "memory swap")
        if not limited:
            raise PyctrError("you should always set a memory limit when using the memory swap limit")
        if swap < limit:
            raise PyctrError("minimum memory swap limit should be larger than the memory limit")
        out["swap"] = swap
    elif current is None and limited:
        out["swap"] = 2 * limit  # docker, on create: as much swap as memory
    elif current is not None and "limit" in out:
        # update: keep the swap the container has, raised if the new limit passes it
        swap = current.get("swap")
        if swap is not None and swap != -1 and limited and swap < limit:
            out["swap"] = limit
    if opts.memory_reservation is not None:
        reservation = parse_size(opts.memory_reservation, "memory reservation")
        if limited and reservation > limit:
            raise PyctrError("minimum memory limit can not be less than memory reservation limit")
        out["reservation"] = reservation
    return out


def _cpu(opts: ResourceOptions) -> dict:
    from ..runtime.cgroups.convert import SHARES_MAX, SHARES_MIN, cpus_to_quota
    from .units import format_cpu_list, parse_cpu_list
    out: dict = {}
    if opts.cpus is not None:
        try:
            cpus = float(opts.cpus)
        except ValueError:
            raise PyctrError(f"invalid --cpus: {opts.cpus!r}") from None
        available = len(online_cpus())
        if not 0.01 <= cpus <= available:
            raise PyctrError(f"range of CPUs is from 0.01 to {available}.00, as there are only {available} CPUs available")
        out["quota"], out["period"] = cpus_to_quota(cpus)
    if opts.cpu_shares:
        if not SHARES_MIN <= opts.cpu_shares <= SHARES_MAX:
            raise PyctrError(f"--cpu-shares must be between {SHARES_MIN} and {SHARES_MAX}")
        out["shares"] = opts.cpu_shares
    for value, online, key, flag in ((opts.cpuset_cpus, online_cpus, "cpus", "--cpuset-cpus"),
                                     (opts.cpuset_mems, online_mems, "mems", "--cpuset-mems")):
        if value is not None:
            wanted = parse_cpu_list(value, flag)
            unavailable = wanted - online()
            if unavailable:
                raise PyctrError(f"{flag} {value}: {format_cpu_list(unavailable)} not available "
                                 f"(this host has {format_cpu_list(online())})")
            out[key] = format_cpu_list(wanted)
    return out


def build_resources(opts: ResourceOptions, current: dict | None = None) -> dict:
    """OCI linux.resources for the flags given, every value checked; with `current` (the
    container's resources, for `update`), checked against what it already has."""
    resources: dict = {}
    if not opts.given():  # the common run: nothing to check, nothing to import
        return resources
    memory, cpu = _memory(opts, None if current is None else current.get("memory") or {}), _cpu(opts)
    if memory:
        resources["memory"] = memory
    if cpu:
        resources["cpu"] = cpu
    if opts.pids_limit is not None:
        if opts.pids_limit < -1:
            raise PyctrError("--pids-limit must be a positive number, or 0 or -1 for unlimited")
        resources["pids"] = {"limit": opts.pids_limit if opts.pids_limit > 0 else -1}
    return resources


def merge(current: dict, changes: dict) -> dict:
    """`update`: new values over the container's present ones, per section."""
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in current.items()}
    for section, values in changes.items():
        if isinstance(values, dict):
            merged.setdefault(section, {}).update(values)
        else:  # a list section (device rules) is replaced whole
            merged[section] = values
    return merged
