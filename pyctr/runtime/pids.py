"""A process named by its pid and its start time, so that pid reuse never fools a check or
sends a signal to a stranger (runc and crun do the same)."""


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat):
    with the pid, it names a process uniquely, whatever pid reuse does.  None once it is
    gone, a zombie included: it has exited, only its parent has not looked yet."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return None if fields[0] == b"Z" else int(fields[19])


def alive(pid: int | None, started: int | None) -> bool:
    """True while `pid` is still the process that started at `started`."""
    return pid is not None and started is not None and start_time(pid) == started
