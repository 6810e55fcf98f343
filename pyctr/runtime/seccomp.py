"""The config's linux.seccomp as the kernel takes it: a BPF program, compiled with libseccomp
in the parent (never in the raw-clone child, which may not allocate) and kept on disk under
the runtime's root by the section's hash, so that a run pays for the compile once.

The child loads the program last before execve (csrc/child.c, load_seccomp).
"""

import os

from .. import fastjson
from .errors import ConfigError

ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
EPERM = 1
# How the program is compiled: part of its cache key, so that a change here compiles anew
COMPILER = "libseccomp optimize=2;"
CACHE_DIR = "seccomp"  # under the runtime's root: compiled for this kernel, gone at reboot
MAX_PROGRAM = 4096 * 8  # BPF_MAXINSNS instructions of 8 bytes: the kernel's limit


def program(root: str, section: dict | None) -> bytes | None:
    """The compiled filter for `section` (OCI linux.seccomp), from the cache or compiled
    into it; None without a section.  ConfigError for a section libseccomp cannot take."""
    if not section:
        return None
    if not isinstance(section, dict):
        raise ConfigError("linux.seccomp must be an object")
    from _sha256 import sha256  # hashlib's import pulls in OpenSSL: 100x the cost
    key = sha256((COMPILER + os.uname().machine + fastjson.dumps(section)).encode()).hexdigest()
    cache = os.path.join(root, CACHE_DIR)
    path = os.path.join(cache, key + ".bpf")
    cached = _read(path)
    if cached is not None:
        return cached
    os.makedirs(cache, mode=0o700, exist_ok=True)
    _compile_to(section, path)
    cached = _read(path)
    if cached is None:
        raise ConfigError(f"the compiled seccomp filter {path} cannot be read back")
    return cached


def _read(path: str) -> bytes | None:
    """A cached program, or None.  Not a link, a whole number of instructions."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, MAX_PROGRAM + 1)
    finally:
        os.close(fd)
    if not data or len(data) % 8 or len(data) > MAX_PROGRAM:
        return None
    return data


def _compile_to(section: dict, path: str) -> None:
    """Compiles into a temp file beside `path`, then renames it into place: a killed
    compile leaves no half program under the cache's name."""
    flt = build(section)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            flt.export(fd)
        finally:
            os.close(fd)
        if os.stat(tmp).st_size > MAX_PROGRAM:
            raise ConfigError("the seccomp filter is longer than the kernel's 4096 instructions")
        os.rename(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def action(name, errno_ret=None, default_errno=EPERM) -> int:
    """An OCI action name (and its errno) -> libseccomp's action value."""
    if name not in ACTIONS:
        raise ConfigError(f"unsupported seccomp action {name!r}")
    value = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        errno_ret = default_errno if errno_ret is None else errno_ret
        if not isinstance(errno_ret, int) or not 0 <= errno_ret <= 0xFFFF:
            raise ConfigError(f"seccomp errnoRet out of range: {errno_ret!r}")
        value |= errno_ret
    return value


def conditions(args: list) -> list[list[tuple]]:
    """A rule's args -> the condition lists to add, one rule each.  libseccomp takes one
    comparison per argument in a rule: several on one argument become one rule apiece (they
    then match alternatively, as runc and crun have it)."""
    try:
        cmps = [(a["index"], OPERATORS[a["op"]], a.get("value", 0), a.get("valueTwo", 0)) for a in args or []]
    except (KeyError, TypeError):
        raise ConfigError(f"bad seccomp argument condition in {args!r}") from None
    for index, _op, a, b in cmps:
        if not (isinstance(index, int) and 0 <= index < 6 and isinstance(a, int) and isinstance(b, int)):
            raise ConfigError(f"bad seccomp argument condition in {args!r}")
    indexes = [c[0] for c in cmps]
    if len(set(indexes)) == len(indexes):
        return [cmps]
    return [[c] for c in cmps]


def build(section: dict):
    """A libseccomp filter for the section (see _seccomp.Filter)."""
    from ._seccomp import Filter, SeccompError
    default_errno = section.get("defaultErrnoRet", EPERM)
    default = action(section.get("defaultAction"), default_errno)
    try:
        flt = Filter(default)
        for arch in section.get("architectures") or []:
            flt.arch(str(arch).removeprefix("SCMP_ARCH_").lower())
        for rule in section.get("syscalls") or []:
            if not isinstance(rule, dict) or not isinstance(rule.get("names"), list):
                raise ConfigError(f"a seccomp rule needs a list of names: {rule!r}")
            value = action(rule.get("action"), rule.get("errnoRet"))
            if value == default:
                continue  # libseccomp refuses a rule that does what the default does
            for cmps in conditions(rule.get("args")):
                for name in rule["names"]:
                    flt.rule(value, str(name), cmps)
    except SeccompError as e:
        raise ConfigError(str(e)) from None
    return flt
