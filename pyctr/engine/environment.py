"""A container's environment from what users type: `-e K=V`, `-e K` (the host's value) and
env files, docker's way; for run and exec alike."""

from .errors import PyctrError


def parse_env_line(line: str, host_env) -> tuple[str, str] | None:
    """'K=V' -> (K, V); a bare 'K' takes the host's value, or is dropped (as docker)."""
    key, sep, value = line.partition("=")
    if not key or any(c.isspace() for c in key):
        raise PyctrError(f"invalid environment variable: {line!r}")
    if sep:
        return key, value
    return (key, host_env[key]) if key in host_env else None


MAX_ENV_FILE = 1 << 20  # docker's env files are lines of K=V: a megabyte is plenty


def read_env_file(path: str, host_env) -> dict:
    """An env file's K=V lines as {K: V}; blank lines and # comments are skipped.  A
    regular file of at most MAX_ENV_FILE bytes of UTF-8: not a device, FIFO or the like,
    which could hang or flood us."""
    from .userfiles import read_bounded
    data = read_bounded(path, MAX_ENV_FILE, "env file")
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        raise PyctrError(f"env file {path} is not UTF-8 text (byte {e.start})") from None
    lines = [line.strip() for line in text.splitlines()]
    return apply_lines({}, [line for line in lines if line and not line.startswith("#")], host_env)


def apply_lines(env: dict, lines: list[str], host_env) -> dict:
    """`-e` lines onto `env` (changed in place, and returned)."""
    for line in lines:
        pair = parse_env_line(line, host_env)
        if pair:
            env[pair[0]] = pair[1]
    return env


def as_dict(items: list[str]) -> dict:
    """["K=V", ...] (an OCI process env) -> {K: V}."""
    return dict(item.split("=", 1) for item in items if "=" in item)


def as_list(env: dict) -> list[str]:
    return [f"{k}={v}" for k, v in env.items()]
