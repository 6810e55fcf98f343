"""docker's lesser `run` flags into a container's config: labels (--label, --label-file,
over the image's), the restart policy, the stop signal and timeout, OOM settings, extra
groups, /dev/shm's size and rlimits.  Imported only when one of them is given (or the
image has labels): a plain `run` pays nothing for them.

What is not OCI (labels, the restart policy, the stop timeout) is kept in config.json's
annotations, under the keys spec.py names."""

from .errors import PyctrError

MAX_LABEL_FILE = 1 << 20
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
OOM_SCORE_RANGE = (-1000, 1000)
# docker's --ulimit names (podman's too) -> OCI's
ULIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK",
}
UNLIMITED = (1 << 64) - 1  # RLIM_INFINITY, as -1 is read


def read_label_file(path: str) -> list[str]:
    """A label file's KEY=VALUE lines; blank lines and # comments skipped.  A regular file
    of at most MAX_LABEL_FILE bytes (as env files are read)."""
    from .userfiles import read_bounded
    text = read_bounded(path, MAX_LABEL_FILE, "label file").decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def labels(image_labels: dict | None, lines: list[str], files: list[str]) -> dict:
    """docker's order: the image's labels < --label-file < --label.  `K` alone is K="" ."""
    merged = dict(image_labels or {})
    for line in [line for path in files for line in read_label_file(path)] + list(lines):
        key, _, value = line.partition("=")
        if not key.strip():
            raise PyctrError(f"invalid label: {line!r}: a label needs a key")
        merged[key] = value
    return merged


def parse_restart(text: str) -> tuple[str, int]:
    """`no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N` -> (policy, N);
    N is 0 (no bound) but for on-failure:N."""
    name, sep, count = text.partition(":")
    if name not in RESTART_POLICIES:
        raise PyctrError(f"invalid restart policy: {text!r}: use no, always, unless-stopped or on-failure[:N]")
    if not sep:
        return name, 0
    if name != "on-failure":
        raise PyctrError(f"invalid restart policy: maximum retry count cannot be used with restart policy '{name}'")
    if not (count.isascii() and count.isdigit()):
        raise PyctrError(f"invalid restart policy: {text!r}: the retry count must be a number")
    return name, int(count)


def parse_ulimit(text: str) -> dict:
    """`nofile=1024:2048` (soft:hard) or `nofile=1024` (both) -> an OCI rlimit."""
    name, sep, values = text.partition("=")
    if not sep or name not in ULIMITS:
        raise PyctrError(f"invalid ulimit argument: {text!r} (e.g. nofile=1024:2048)")
    soft_text, colon, hard_text = values.partition(":")
    soft, hard = _limit(soft_text, text), _limit(hard_text if colon else soft_text, text)
    if soft > hard:
        raise PyctrError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"type": ULIMITS[name], "soft": soft, "hard": hard}


def _limit(text: str, whole: str) -> int:
    if text == "-1" or text == "unlimited":
        return UNLIMITED
    if not (text.isascii() and text.isdigit()) or int(text) >= UNLIMITED:
        raise PyctrError(f"invalid ulimit argument: {whole!r}: limits are numbers (or -1 for unlimited)")
    return int(text)


def _groups(read, groups: list[str]) -> list[int]:
    """--group-add: numbers, or names from the container's /etc/group (`read`)."""
    from .accounts import resolve_group
    found: list[int] = []
    for group in groups:
        gid = resolve_group(read, group)
        if gid not in found:
            found.append(gid)
    return found


def _set_shm(config: dict, size_text: str) -> None:
    from .units import parse_size
    size = parse_size(size_text, "shm size")
    if size <= 0:
        raise PyctrError(f"invalid shm size: {size_text!r}: it must be greater than 0")
    for mount in config["mounts"]:
        if mount["destination"] == "/dev/shm":
            mount["options"] = [o for o in mount["options"] if not o.startswith("size=")] + [f"size={size // 1024}k"]


def apply(opts, image_config: dict, config: dict, annotations: dict, reader) -> None:
    """The flags onto `config` (OCI) and `annotations` (the engine's); `reader()` gives the
    image's /etc/group reader for --group-add."""
    from .. import fastjson
    from .spec import LABELS, RESTART, STOP_SIGNAL, STOP_TIMEOUT
    found = labels((image_config.get("config") or {}).get("Labels"), opts.labels, opts.label_files)
    if found:
        annotations[LABELS] = fastjson.dumps(found)
    if opts.restart:
        policy, count = parse_restart(opts.restart)
        if policy != "no" and opts.remove:
            raise PyctrError("Conflicting options: --restart and --rm")
        annotations[RESTART] = opts.restart if policy != "no" else "no"
        del count  # checked; restarts.py reads it back from the annotation
    if opts.stop_signal:
        from .lifecycle import parse_signal
        parse_signal(opts.stop_signal)
        annotations[STOP_SIGNAL] = opts.stop_signal
    if opts.stop_timeout is not None:
        annotations[STOP_TIMEOUT] = str(opts.stop_timeout)
    process, linux = config["process"], config["linux"]
    if opts.oom_score_adj is not None:
        low, high = OOM_SCORE_RANGE
        if not low <= opts.oom_score_adj <= high:
            raise PyctrError(f"invalid value {opts.oom_score_adj}, range for oom score adj is [-1000, 1000]")
        process["oomScoreAdj"] = opts.oom_score_adj
    if opts.oom_kill_disable:
        linux["resources"].setdefault("memory", {})["disableOOMKiller"] = True
    if opts.group_add:
        user = process["user"]
        extra = [gid for gid in _groups(reader(), opts.group_add) if gid not in user.get("additionalGids", [])]
        user["additionalGids"] = user.get("additionalGids", []) + extra
    if opts.shm_size:
        _set_shm(config, opts.shm_size)
    if opts.ulimits:
        rlimits = {}
        for text in opts.ulimits:
            rlimit = parse_ulimit(text)
            rlimits[rlimit["type"]] = rlimit  # the last of a name wins
        process["rlimits"] = list(rlimits.values())
