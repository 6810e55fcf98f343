"""The OCI runtime config as the runtime takes it: a bundle's config.json loaded and checked,
then turned into the C core's plan (a typed record), names into numbers, options into
flags.  A config the runtime cannot carry out is a ConfigError.

Pure data work but for the load and the kernel's capability count, so it is cheap on the
run path and testable without root.
"""

import os
import stat

from .. import fastjson
from ..records import record
from .errors import ConfigError

OCI_VERSION = "1.2.0"
# The engine asks the runtime, through these, to mount the rootfs itself inside the
# container's mount namespace (the host never holds the overlay mount).  A config without
# them has its root.path bind-mounted, as runc does with a bundle.
ROOTFS_TYPE = "org.pyctr.rootfs.type"
ROOTFS_OPTIONS = "org.pyctr.rootfs.options"


def load(bundle: str) -> dict:
    """<bundle>/config.json, checked; ConfigError if it is missing or not a valid config."""
    path = os.path.join(bundle, "config.json")
    try:
        config = fastjson.read(path)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except ValueError as e:
        raise ConfigError(f"{path} is not JSON: {e}") from None
    validate(config)
    return config


def validate(config) -> None:
    """The shape the runtime relies on: a process with args, a root with a path."""
    if not isinstance(config, dict):
        raise ConfigError("the config is not a JSON object")
    version = config.get("ociVersion", OCI_VERSION)
    if not isinstance(version, str) or version.split(".")[0] != "1" or not version[2:3].isdigit():
        raise ConfigError(f"unsupported ociVersion {version!r}: this runtime takes 1.x")
    process = config.get("process")
    if not isinstance(process, dict):
        raise ConfigError("the config has no process")
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise ConfigError("process.args must be a non-empty list of strings")
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise ConfigError("root.path must be set")
    for key in ("linux", "annotations"):
        if not isinstance(config.get(key, {}), dict):
            raise ConfigError(f"{key} must be an object")
    if not isinstance(config.get("mounts", []), list):
        raise ConfigError("mounts must be a list")

CLONE_FLAGS = {
    "mount": 0x00020000, "cgroup": 0x02000000, "uts": 0x04000000, "ipc": 0x08000000,
    "user": 0x10000000, "pid": 0x20000000, "network": 0x40000000, "time": 0x00000080,
}

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC = 16, 32, 64, 128
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 1024, 2048, 4096, 16384
MS_UNBINDABLE, MS_PRIVATE, MS_SLAVE, MS_SHARED = 1 << 17, 1 << 18, 1 << 19, 1 << 20
MS_RELATIME, MS_STRICTATIME = 1 << 21, 1 << 24

# A bind option of pyctr's: the source was resolved when the container was made (no
# links left on it), so a link on it at mount time was swapped in since: refused.
SOURCE_RESOLVED = "pyctr.source-resolved"
# option -> (flags to set, flags to clear)
MOUNT_OPTIONS = {
    "ro": (MS_RDONLY, 0), "rw": (0, MS_RDONLY),
    "nosuid": (MS_NOSUID, 0), "suid": (0, MS_NOSUID),
    "nodev": (MS_NODEV, 0), "dev": (0, MS_NODEV),
    "noexec": (MS_NOEXEC, 0), "exec": (0, MS_NOEXEC),
    "sync": (MS_SYNCHRONOUS, 0), "async": (0, MS_SYNCHRONOUS),
    "dirsync": (MS_DIRSYNC, 0), "remount": (MS_REMOUNT, 0),
    "mand": (MS_MANDLOCK, 0), "nomand": (0, MS_MANDLOCK),
    "noatime": (MS_NOATIME, 0), "atime": (0, MS_NOATIME),
    "nodiratime": (MS_NODIRATIME, 0), "diratime": (0, MS_NODIRATIME),
    "relatime": (MS_RELATIME, 0), "norelatime": (0, MS_RELATIME),
    "strictatime": (MS_STRICTATIME, 0), "nostrictatime": (0, MS_STRICTATIME),
    "bind": (MS_BIND, 0), "rbind": (MS_BIND | MS_REC, 0),
}
PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}

CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
CAP_NUMBERS = {name: i for i, name in enumerate(CAPABILITIES)}

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

# The devices every container gets (OCI "default devices"), as (path, major, minor).
DEFAULT_DEVICES = [("dev/null", 1, 3), ("dev/zero", 1, 5), ("dev/full", 1, 7),
                   ("dev/random", 1, 8), ("dev/urandom", 1, 9), ("dev/tty", 5, 0)]
DEFAULT_SYMLINKS = [("/proc/self/fd", "dev/fd"), ("/proc/self/fd/0", "dev/stdin"),
                    ("/proc/self/fd/1", "dev/stdout"), ("/proc/self/fd/2", "dev/stderr"),
                    ("pts/ptmx", "dev/ptmx"), ("/proc/kcore", "dev/core")]
DEVICE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


@record
class Mount:
    """struct pyctr_mount: one mount inside the container, its target resolved in the rootfs."""
    target: str
    source: str | None = None
    fstype: str | None = None
    data: str | None = None
    flags: int = 0  # MS_*
    propagation: int = 0  # MS_SHARED/SLAVE/PRIVATE (| MS_REC), or 0
    source_no_symlinks: bool = False  # SOURCE_RESOLVED
    idmap: bool = False  # OCI's "idmap": with a user namespace, seen through its maps (userns.py)


@record
class Device:
    """struct pyctr_device: a node made in the container's /dev."""
    path: str  # relative to the rootfs: "dev/null"
    mode: int  # S_IFCHR | 0o666 ...
    major: int
    minor: int
    uid: int = 0
    gid: int = 0


@record
class Caps:
    """struct pyctr_caps: the five capability sets as bit masks."""
    bounding: int
    effective: int
    permitted: int
    inheritable: int
    ambient: int


@record
class Hook:
    """struct pyctr_hook: an OCI hook (path, args, env, timeout in seconds)."""
    path: str
    args: list[str] = []
    env: list[str] = []
    timeout: int = 0


@record
class Plan:
    """struct pyctr_plan: everything the child does between clone and execve, resolved.
    _core.pyx copies exactly these fields into C (tests/runtime/test_plan.py checks that
    it reads no other)."""
    argv: list[str]
    env: list[str] = []
    cwd: str = "/"
    stdio: tuple = (0, 1, 2)  # parent fds that become the child's 0, 1, 2 (not with tty);
    # -1: the container's own /dev/null
    tty: bool = False
    tty_size: tuple = (0, 0)  # rows, cols
    rlimits: list[tuple[int, int, int]] = []  # (RLIMIT_*, soft, hard)
    oom_score_adj: int | None = None  # written to /proc/self/oom_score_adj; None: inherited
    uid: int = 0
    gid: int = 0
    groups: list[int] = []
    caps: Caps | None = None  # None: keep the caller's
    cap_last_cap: int = 0
    no_new_privs: bool = False
    new_keyring: bool = True  # a session keyring of its own, as runc gives each container
    seccomp: bytes | None = None  # a BPF program (struct sock_filter[]), or None
    clone_flags: int = 0  # CLONE_NEW*
    unshare_flags: int = 0  # made after the go-ahead (the cgroup namespace)
    cgroup_fd: int = -1  # v2: clone3(CLONE_INTO_CGROUP) into this directory
    join_pidfd: int = -1  # exec: join this process's namespaces (join_flags)
    join_flags: int = 0
    namespace_paths: list[tuple[int, str]] = []  # (CLONE_NEW*, path): OCI namespaces with a path
    namespace_fds: list[tuple[int, int]] = []  # (fd, CLONE_NEW*): those opened, just for the clone
    uid_map: str | None = None  # a user namespace's maps, as /proc/PID/uid_map takes them
    gid_map: str | None = None
    idmapped: list[str] = []  # host dirs the rootfs is reached through: "{i}" (userns.py)
    rootfs: str = "/"
    rootfs_fstype: str | None = None  # mount this on rootfs (inside the container's
    rootfs_source: str | None = None  # namespace) instead of bind-mounting it
    rootfs_data: str | None = None
    rootfs_readonly: bool = False
    root_propagation: int = 0
    mounts: list[Mount] = []
    devices: list[Device] = []
    symlinks: list[tuple[str, str]] = []  # (target, linkpath in the rootfs)
    masked_paths: list[str] = []
    readonly_paths: list[str] = []
    hostname: str | None = None
    domainname: str | None = None
    sysctls: list[tuple[str, str]] = []  # linux.sysctl, into the container's /proc/sys
    no_pivot: bool = False  # chroot instead of pivot_root (--no-pivot)
    personality: int | None = None  # linux.personality's domain, PER_*
    loopback_up: bool = False
    # the OCI CLI's create/start split (runtime/oci/): a fifo's read end the created child
    # waits on, the HOOKS pause for the parent's hooks, the hooks the child runs itself,
    # and their state JSON, cut where the host pid goes
    start_fd: int = -1
    hooks_sync: bool = False
    preserve_fds: int = 0  # the caller's fds 3 .. 3+n-1 kept open for the command
    create_hooks: list[Hook] = []
    start_hooks: list[Hook] = []
    hook_state: tuple = (None, None)


_cap_last_cap: int | None = None


def cap_last_cap() -> int:
    global _cap_last_cap
    if _cap_last_cap is None:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            _cap_last_cap = int(f.read())
    return _cap_last_cap


def _known(table: dict, key, what: str):
    """table[key], or a ConfigError naming what was unknown."""
    try:
        return table[key]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown {what} {key!r}") from None


def mount_flags(options: list[str]) -> tuple[int, int, str]:
    """OCI mount options -> (MS_* flags, propagation flags, filesystem data string)."""
    flags = propagation = 0
    data = []
    for opt in options:
        if opt in MOUNT_OPTIONS:
            on, off = MOUNT_OPTIONS[opt]
            flags = (flags | on) & ~off
        elif opt in PROPAGATION:
            propagation = PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def plan_mount(m: dict) -> Mount:
    if not isinstance(m, dict) or not isinstance(m.get("destination"), str):
        raise ConfigError(f"a mount needs a destination: {m!r}")
    options = m.get("options", [])
    ours = [o for o in options if o in (SOURCE_RESOLVED, "idmap")]
    flags, propagation, data = mount_flags([o for o in options if o not in ours] if ours else options)
    if m.get("type") == "bind":
        flags |= MS_BIND
    return Mount(m["destination"], m.get("source"), m.get("type"), data or None, flags, propagation,
                 SOURCE_RESOLVED in ours, "idmap" in ours)


def plan_mounts(mounts: list, own_cgroup: str | None = None) -> tuple[list[Mount], list[str]]:
    """config.mounts as Mounts, and the paths to make read-only once all is mounted: a
    "cgroup" mount becomes the host's cgroup filesystems mounted again (seen through the
    container's cgroup namespace), read-only as a whole if it asks for "ro".  A container
    without a cgroup namespace (`own_cgroup`: its cgroupsPath) gets its own cgroup's
    directories bound instead, as runc does: a fresh mount would show the host's tree."""
    planned, readonly = [], []
    for m in mounts:
        if isinstance(m, dict) and m.get("type") in ("cgroup", "cgroup2"):
            cgroup_mounts, ro = _cgroup_mounts(m, own_cgroup)
            planned.extend(cgroup_mounts)
            if ro:
                readonly.append(m["destination"])
        else:
            planned.append(plan_mount(m))
    return planned, readonly


def _cgroup_mounts(m: dict, own_cgroup: str | None) -> tuple[list[Mount], bool]:
    from .cgroups import CGROUP_ROOT, hierarchies, mode
    from .cgroups.v1 import CONTROLLERS
    base = plan_mount(m)
    ro = bool(base.flags & MS_RDONLY)
    flags = base.flags & ~MS_RDONLY
    if mode() == "v2":
        if own_cgroup:
            return [Mount(base.target, os.path.join(CGROUP_ROOT, own_cgroup), "bind", None, flags | MS_BIND)], ro
        return [Mount(base.target, "cgroup2", "cgroup2", None, flags | (MS_RDONLY if ro else 0))], False
    planned = [Mount(base.target, "tmpfs", "tmpfs", "mode=755", flags)]
    for name, fstype, options in hierarchies():
        target = os.path.join(base.target, name)
        if not own_cgroup:
            planned.append(Mount(target, fstype, fstype, options or None, flags))
        elif set(name.split(",")) <= set(CONTROLLERS):
            # the hierarchies the runtime puts the container in; in the others (systemd,
            # unified) it stays where it was, and an empty directory shows no host's tree
            planned.append(Mount(target, os.path.join(CGROUP_ROOT, name, own_cgroup), "bind", None, flags | MS_BIND))
    return planned, ro


def cap_mask(names: list[str]) -> int:
    mask = 0
    last = cap_last_cap()
    for name in names:
        upper = name.upper()
        bit = _known(CAP_NUMBERS, upper if upper.startswith("CAP_") else f"CAP_{upper}", "capability")
        if bit <= last:  # the kernel may be older than our table
            mask |= 1 << bit
    return mask


def plan_caps(caps: dict | None) -> Caps | None:
    if caps is None:
        return None
    return Caps(*(cap_mask(caps.get(k, [])) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")))


def plan_devices(devices: list[dict]) -> list[Device]:
    planned = [Device(p, stat.S_IFCHR | 0o666, ma, mi) for p, ma, mi in DEFAULT_DEVICES]
    for d in devices:
        planned.append(Device(d["path"], _known(DEVICE_TYPES, d.get("type"), "device type") | d.get("fileMode", 0o666),
                              d.get("major", 0), d.get("minor", 0), d.get("uid", 0), d.get("gid", 0)))
    return planned


def _oom_score_adj(value) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not -1000 <= value <= 1000:
        raise ConfigError(f"process.oomScoreAdj must be a number from -1000 to 1000: {value!r}")
    return value


def process_fields(process: dict, stdio, tty_size) -> dict:
    """The plan's part that an OCI process section decides, for run and exec alike."""
    user = process.get("user", {})
    caps = plan_caps(process.get("capabilities"))
    return {
        "argv": process["args"],
        "env": process.get("env", []),
        "cwd": process.get("cwd", "/"),
        "stdio": tuple(stdio),
        "tty": bool(process.get("terminal", False)),
        "tty_size": tuple(tty_size),
        "rlimits": [(_known(RLIMITS, r.get("type"), "rlimit"), r["soft"], r["hard"]) for r in process.get("rlimits", [])],
        "oom_score_adj": _oom_score_adj(process.get("oomScoreAdj")),
        "uid": user.get("uid", 0),
        "gid": user.get("gid", 0),
        "groups": user.get("additionalGids", []),
        "caps": caps,
        "cap_last_cap": cap_last_cap() if caps is not None else 0,
        "no_new_privs": bool(process.get("noNewPrivileges", False)),
    }


def namespace_flags(config: dict) -> int:
    """CLONE_NEW* for the config's namespaces."""
    flags = 0
    for ns in config.get("linux", {}).get("namespaces", []):
        flags |= _known(CLONE_FLAGS, ns.get("type"), "namespace")
    return flags


# What a new container may join by path (--net host, --net container:NAME, their ipc and
# uts kin; the OCI CLI's configs: mount, cgroup, and pid, which the parent joins for the
# clone); a user namespace would want more than a setns().
JOINABLE = ("network", "ipc", "uts", "mount", "cgroup", "pid")


def namespace_paths(config: dict) -> list[tuple[int, str]]:
    """(CLONE_NEW*, path) of the config's namespaces that are joined rather than made."""
    joined = []
    for ns in config.get("linux", {}).get("namespaces", []):
        if not ns.get("path"):
            continue
        flag = _known(CLONE_FLAGS, ns.get("type"), "namespace")
        if ns["type"] not in JOINABLE:
            raise ConfigError(f"joining a {ns['type']} namespace by path is not supported")
        if not isinstance(ns["path"], str):
            raise ConfigError(f"the path of the {ns['type']} namespace must be a string")
        joined.append((flag, ns["path"]))
    return joined


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def check_hooks(hooks) -> None:
    """config.hooks, each kind's list as plan_hooks takes it; ConfigError for a bad one
    (before anything runs: a host hook's fault must not show at poststop)."""
    if not isinstance(hooks, dict):
        raise ConfigError("hooks must be an object")
    for kind in HOOK_KINDS:
        plan_hooks(hooks, kind)


def plan_hooks(hooks: dict, kind: str) -> list[Hook]:
    """config.hooks[kind] as Hook records; ConfigError for one without an absolute path."""
    planned = []
    listed = hooks.get(kind) or []
    if not isinstance(listed, list):
        raise ConfigError(f"hooks.{kind} must be a list")
    for h in listed:
        if not isinstance(h, dict) or not isinstance(h.get("path"), str) or not h["path"].startswith("/"):
            raise ConfigError(f"a {kind} hook needs an absolute path: {h!r}")
        timeout = h.get("timeout", 0)
        if not isinstance(timeout, int) or timeout < 0:
            raise ConfigError(f"the timeout of a {kind} hook must be a positive number: {timeout!r}")
        planned.append(Hook(h["path"], list(h.get("args") or [h["path"]]), list(h.get("env") or []), timeout))
    return planned


PERSONALITIES = {"LINUX": 0x0000, "LINUX32": 0x0008}


def personality(linux: dict) -> int | None:
    """linux.personality's domain as PER_*; None to keep the caller's."""
    wanted = linux.get("personality")
    if not wanted:
        return None
    if not isinstance(wanted, dict):
        raise ConfigError("linux.personality must be an object")
    if wanted.get("flags"):
        raise ConfigError("linux.personality.flags are not supported")
    return _known(PERSONALITIES, wanted.get("domain"), "personality domain")


# Which namespace a sysctl lives in: writing one the container does not own would change
# the host's (runc refuses the same).
_SYSCTL_NAMESPACES = (("net.", "network"), ("kernel.msg", "ipc"), ("kernel.sem", "ipc"),
                      ("kernel.shm", "ipc"), ("fs.mqueue.", "ipc"), ("kernel.hostname", "uts"),
                      ("kernel.domainname", "uts"))


def sysctls(config: dict, clone_flags: int) -> list[tuple[str, str]]:
    """linux.sysctl as (key, value), each checked to belong to a namespace the container
    makes; ConfigError otherwise."""
    wanted = config.get("linux", {}).get("sysctl") or {}
    if not isinstance(wanted, dict):
        raise ConfigError("linux.sysctl must be an object")
    planned = []
    for key, value in wanted.items():
        if not isinstance(value, str) or ".." in key or "/" in key or not key:
            raise ConfigError(f"invalid sysctl {key!r}")
        owner = next((ns for prefix, ns in _SYSCTL_NAMESPACES if key.startswith(prefix)), None)
        if owner is None:
            raise ConfigError(f"sysctl {key!r} is not in a namespace the container has: it would change the host's")
        if not clone_flags & CLONE_FLAGS[owner]:
            raise ConfigError(f"sysctl {key!r} needs a {owner} namespace of the container's own")
        if _joins_our_own(config, owner):
            raise ConfigError(f"sysctl {key!r} would change the host's: the {owner} namespace joined is the "
                              "runtime's own")
        planned.append((key, value))
    return planned


def _joins_our_own(config: dict, ns_type: str) -> bool:
    """Whether the config joins, by path, the namespace of `ns_type` this process is in."""
    path = next((ns.get("path") for ns in config.get("linux", {}).get("namespaces", [])
                 if ns.get("type") == ns_type and ns.get("path")), None)
    if not path:
        return False
    try:
        joined, own = os.stat(path), os.stat(f"/proc/self/ns/{_NS_FILES[ns_type]}")
    except OSError:
        return False  # joining it fails, and says why
    return (joined.st_dev, joined.st_ino) == (own.st_dev, own.st_ino)


_NS_FILES = {"network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt"}


def build_plan(config: dict, stdio=(0, 1, 2), tty_size=(0, 0)) -> Plan:
    validate(config)
    linux = config.get("linux", {})
    annotations = config.get("annotations", {})
    joined = namespace_paths(config)
    clone_flags = namespace_flags(config) & ~sum(flag for flag, _ in joined)
    # The child makes / a slave and pivots: in the runtime's own mount namespace (the
    # host's) that would be done to the host.
    if _joins_our_own(config, "mount"):
        raise ConfigError("joining the runtime's own mount namespace is refused: the container's mounts and "
                          "pivot_root would be the host's")
    # A namespace joined from a new user namespace is owned by another one: setns refuses.
    if joined and clone_flags & CLONE_FLAGS["user"]:
        raise ConfigError("joining a namespace by path is not supported with a new user namespace")
    # Without a mount namespace (runc takes such a config) the child's mounts are the
    # host's, left there after it, and chroot stands for pivot_root (csrc/rootfs.c); what
    # would only restrict the host's tree (a read-only root, masks) is refused, as runc does.
    if not namespace_flags(config) & CLONE_FLAGS["mount"] and (
            config["root"].get("readonly") or linux.get("maskedPaths") or linux.get("readonlyPaths")):
        raise ConfigError("a read-only root, masked or read-only paths need a mount namespace of the container's own")
    if (config.get("hostname") or config.get("domainname")) and not namespace_flags(config) & CLONE_FLAGS["uts"]:
        raise ConfigError("setting a hostname or domainname needs a uts namespace")
    propagation = _known(PROPAGATION, linux.get("rootfsPropagation", "rprivate"), "rootfsPropagation")
    # The cgroup namespace is made by the child once it sits in its own cgroup.
    unshare_flags = clone_flags & CLONE_FLAGS["cgroup"]
    own_cgroup = None
    if not namespace_flags(config) & CLONE_FLAGS["cgroup"]:  # (one joined by path is its own)
        own_cgroup = (linux.get("cgroupsPath") or "").strip("/") or None
    mounts, readonly = plan_mounts(config.get("mounts", []), own_cgroup)
    plan = Plan(
        clone_flags=clone_flags & ~unshare_flags,
        unshare_flags=unshare_flags,
        namespace_paths=joined,
        rootfs=config["root"]["path"],
        rootfs_readonly=bool(config["root"].get("readonly", False)),
        root_propagation=propagation,
        mounts=mounts,
        devices=plan_devices(linux.get("devices", [])),
        symlinks=list(DEFAULT_SYMLINKS),
        masked_paths=linux.get("maskedPaths", []),
        readonly_paths=linux.get("readonlyPaths", []) + readonly,
        hostname=config.get("hostname"),
        domainname=config.get("domainname"),
        sysctls=sysctls(config, namespace_flags(config)),
        personality=personality(linux),
        loopback_up=bool(clone_flags & CLONE_FLAGS["network"]),
        **process_fields(config["process"], stdio, tty_size),
    )
    if annotations.get(ROOTFS_TYPE):
        plan.rootfs_fstype = plan.rootfs_source = annotations[ROOTFS_TYPE]
        plan.rootfs_data = annotations.get(ROOTFS_OPTIONS, "")
    if clone_flags & CLONE_FLAGS["user"]:
        from .userns import plan_user_namespace  # not on the path of a run without one
        plan_user_namespace(plan, config)
    elif linux.get("uidMappings") or linux.get("gidMappings"):
        raise ConfigError("uid or gid mappings need a user namespace")
    return plan


def build_exec_plan(config: dict, process: dict, pidfd: int, stdio=(0, 1, 2), tty_size=(0, 0)) -> Plan:
    """exec: `process` (OCI process) run inside the namespaces of the container `config`
    describes, joined through `pidfd`; capabilities and the like are the container's."""
    return Plan(join_pidfd=pidfd, join_flags=namespace_flags(config), rootfs="/",
                **process_fields(process, stdio, tty_size))
