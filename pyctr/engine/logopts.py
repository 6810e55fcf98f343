"""A container's log options, docker's json-file ones (`--log-opt max-size=10m --log-opt
max-file=3`): read and checked, kept in its config.json's annotations (so a restart and
`logs` know them), handed to its monitor as flags, and the files they leave.

The monitor (csrc/monitor/logfile.c) does the rotating: container.log becomes
container.log.1, .1 becomes .2, and so on, max-file files in all.
"""

from ..records import record
from .errors import PyctrError

# in the config's annotations, as the monitor takes them: bytes, a count
MAX_SIZE = "org.pyctr.log.max-size"
MAX_FILE = "org.pyctr.log.max-file"
KEYS = ("max-size", "max-file")
INT_MAX = (1 << 31) - 1  # the monitor's int


@record
class LogOptions:
    max_size: int | None = None  # bytes; None: the log grows without a cap
    max_file: int = 1  # files kept, the current one among them


def parse(items: list[str]) -> LogOptions:
    """`--log-opt` values -> LogOptions, checked as docker checks them (the last of a key
    wins); a bad one is a PyctrError, before anything of the container is made."""
    given: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise PyctrError(f"invalid log opt {item!r}: use KEY=VALUE ({', '.join(KEYS)})")
        if key not in KEYS:
            raise PyctrError(f"unknown log opt '{key}' for json-file log driver")
        given[key] = value
    opts = LogOptions()
    if "max-size" in given:
        from .units import parse_decimal_size  # here: a run without --log-opt needs no units
        opts.max_size = parse_decimal_size(given["max-size"], "max-size")
        if opts.max_size <= 0:
            raise PyctrError("max-size must be a positive number")
    if "max-file" in given:
        if opts.max_size is None:  # nothing would ever rotate: say so rather than ignore it
            raise PyctrError("max-file needs max-size: without a size the log is never rotated")
        opts.max_file = _count(given["max-file"])
    return opts


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise PyctrError(f"invalid max-file: {text!r} (use a whole number, 1 or more)") from None
    if count < 1:
        raise PyctrError("max-file cannot be less than 1")
    if count > INT_MAX:
        raise PyctrError(f"invalid max-file: {text!r} (too large)")
    return count


def annotations(opts: LogOptions) -> dict[str, str]:
    """What a config keeps of them: nothing when the log has no cap."""
    if opts.max_size is None:
        return {}
    return {MAX_SIZE: str(opts.max_size), MAX_FILE: str(opts.max_file)}


def from_config(config: dict | None) -> LogOptions:
    """A container's options, from its config (none kept: no cap, as before they existed)."""
    kept = (config or {}).get("annotations") or {}
    if MAX_SIZE not in kept:
        return LogOptions()
    return LogOptions(int(kept[MAX_SIZE]), int(kept.get(MAX_FILE, 1)))


def monitor_flags(config: dict) -> list[str]:
    """pyctr-monitor's flags for a container's log options."""
    opts = from_config(config)
    if opts.max_size is None:
        return []
    return ["--log-max-size", str(opts.max_size), "--log-max-file", str(opts.max_file)]


def files(path: str, config: dict | None) -> list[str]:
    """The log's files, oldest first: container.log.N ... container.log.1, container.log
    (those max-file allows; whether each exists is for the reader to find)."""
    kept = from_config(config).max_file
    return [f"{path}.{i}" for i in range(kept - 1, 0, -1)] + [path]
