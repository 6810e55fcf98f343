"""The spec builder: `run` options + an image -> an OCI runtime-spec config (config.json).

This config is the contract between the engine and the runtime: everything the runtime
does to a container is written here first.
"""

import os

from ..fastjson import dumps, loads
from ..images.image import DEFAULT_PATH
from ..records import factory, record
from ..runtime.cgroups.devices import with_defaults
from ..runtime.plan import OCI_VERSION, ROOTFS_OPTIONS, ROOTFS_TYPE
from .environment import apply_lines, as_list, read_env_file
from .errors import PyctrError
from .resources import ResourceOptions, build_resources
from .security import SecurityOptions, apply as apply_security

DEFAULT_CGROUP_PARENT = "pyctr"  # as docker's /docker: kept once made
# read by the engine's side only: remove the container after its exit (--rm), and keep
# its stdin open for attached clients (-i)
AUTOREMOVE = "org.pyctr.autoremove"
OPEN_STDIN = "org.pyctr.openstdin"
# the image's StopSignal, under the image spec's own annotation key
STOP_SIGNAL = "org.opencontainers.image.stopSignal"
# the run's own mounts as volumes.py decided them (inspect, --volumes-from, the volumes
# a container uses read them back); config.json's mounts hold them in OCI form
USER_MOUNTS = "org.pyctr.mounts"
# the container's labels (--label, --label-file, and the image's), a JSON object: ps and
# events filter on them, inspect shows them as Config.Labels
LABELS = "org.pyctr.labels"
# --restart as given (no, on-failure[:N], always, unless-stopped; absent: no) and
# --stop-timeout in seconds: the monitor and stop read them, inspect shows them
RESTART = "org.pyctr.restart"
STOP_TIMEOUT = "org.pyctr.stoptimeout"
# the entrypoint part of process.args (a JSON list; absent: none) and -u as given (else
# the image's User): inspect's Config.Entrypoint, Cmd and User
ENTRYPOINT = "org.pyctr.entrypoint"
USER = "org.pyctr.user"


def annotated(config: dict, key: str) -> bool:
    """Whether the engine's annotation `key` is on in a container's config."""
    return (config.get("annotations") or {}).get(key) == "true"


def labels(config: dict) -> dict:
    """A container's labels, from its config: {} when it has none."""
    text = (config.get("annotations") or {}).get(LABELS)
    return loads(text) if text else {}
# docker's default capability set
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
DEFAULT_NAMESPACES = ["pid", "network", "ipc", "uts", "mount", "cgroup"]
DEFAULT_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
]
MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
]
INIT_PATH = "/dev/init"  # where --init's pid 1 is bound, as docker's /sbin/docker-init
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# docker's device cgroup: nothing but mknod, and the default devices, a tty and ptys.
DEFAULT_DEVICE_RULES = with_defaults([], [])


@record
class RunOptions:
    image: str
    command: list[str] = []
    name: str | None = None
    env: list[str] = []
    env_files: list[str] = []
    workdir: str | None = None
    hostname: str | None = None
    log_opts: list[str] = []  # --log-opt KEY=VALUE: logopts.py
    tty: bool = False
    interactive: bool = False
    remove: bool = False
    entrypoint: str | None = None
    user: str | None = None
    resources: ResourceOptions = factory(ResourceOptions)
    security: SecurityOptions = factory(SecurityOptions)
    cgroup_parent: str | None = None
    runtime: str | None = None  # --runtime: runc, crun, a path (runtimes.py: the default)
    init: bool = False
    userns: str | None = None  # "auto", "auto:size=N", "host"
    uidmap: list[str] = []  # CONTAINER:HOST:SIZE
    gidmap: list[str] = []
    volumes: list[str] = []  # -v: volumes.py and mounts.py read these
    mounts: list[str] = []  # --mount
    tmpfs: list[str] = []  # --tmpfs
    volumes_from: list[str] = []
    read_only: bool = False  # --read-only: the rootfs; what is mounted on it keeps its own
    # networks: endpoints.py reads these
    network: str | None = None  # bridge (the default network), none, host, container:NAME, or a network
    publish: list[str] = []  # -p [IP:][HOST:]CTR[/proto]
    publish_all: bool = False  # -P: the image's ExposedPorts
    ip: str | None = None
    mac_address: str | None = None
    network_aliases: list[str] = []
    dns: list[str] = []
    dns_search: list[str] = []
    dns_options: list[str] = []
    add_hosts: list[str] = []
    # docker's lesser flags: runflags.py reads these
    labels: list[str] = []  # -l K=V
    label_files: list[str] = []
    restart: str | None = None  # no | always | unless-stopped | on-failure[:N]
    stop_signal: str | None = None
    stop_timeout: int | None = None
    oom_kill_disable: bool = False
    oom_score_adj: int | None = None
    group_add: list[str] = []
    shm_size: str | None = None
    ulimits: list[str] = []
    pull: str | None = None  # always | missing (None) | never: the CLI acts on it, before the engine
    # the attached run's: running.py
    cidfile: str | None = None  # the id written there (it must not exist)
    sig_proxy: str | None = None  # "false": signals to `pyctr run` are not forwarded
    detach_keys: str | None = None  # docker's "ctrl-p,ctrl-q" form


@record
class RootfsLayout:
    """Where a container's overlay lives on the host."""
    lowers: list[str]
    upper: str
    work: str
    mountpoint: str

    def options(self) -> str:
        return f"lowerdir={':'.join(self.lowers)},upperdir={self.upper},workdir={self.work}"


def build_env(opts: RunOptions, image_env: list[str], hostname: str, host_env: dict) -> list[str]:
    """docker's order: defaults < image < --env-file < -e.  Nothing of the host's
    environment comes in unless named."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    if opts.tty:
        env["TERM"] = "xterm"
    for item in image_env:
        key, _, value = item.partition("=")
        env[key] = value
    for path in opts.env_files:
        env.update(read_env_file(path, host_env))
    apply_lines(env, opts.env, host_env)
    env.setdefault("HOME", "/root")
    return as_list(env)


def build_argv(opts: RunOptions, image_config: dict) -> list[str]:
    """docker's rules: --entrypoint replaces the image's entrypoint and drops its Cmd."""
    entrypoint, cmd = split_argv(opts, image_config)
    return entrypoint + cmd


def split_argv(opts: RunOptions, image_config: dict) -> tuple[list[str], list[str]]:
    """(entrypoint, cmd) of build_argv's command line."""
    if opts.entrypoint is not None:
        entrypoint = [opts.entrypoint] if opts.entrypoint else []
        cmd = list(opts.command)
    else:
        entrypoint = list(image_config.get("Entrypoint") or [])
        cmd = list(opts.command) or list(image_config.get("Cmd") or [])
    if not entrypoint and not cmd:
        raise PyctrError("no command specified")
    return entrypoint, cmd


def cgroup_path(parent: str | None, container_id: str) -> str:
    """`<parent>/<id>`, relative to the cgroup root(s); the parent defaults to `pyctr`."""
    parent = (parent or DEFAULT_CGROUP_PARENT).strip("/")
    if not parent or any(part in ("", ".", "..") for part in parent.split("/")):
        raise PyctrError(f"invalid cgroup parent: {parent!r}")
    return f"{parent}/{container_id}"


def config_labels(image_config: dict) -> dict | None:
    return (image_config.get("config") or {}).get("Labels")


def runflags_given(opts: RunOptions) -> bool:
    """Any of runflags.py's flags given (checked here: a plain run imports nothing more)."""
    return bool(opts.labels or opts.label_files or opts.restart or opts.stop_signal or opts.stop_timeout is not None
                or opts.oom_kill_disable or opts.oom_score_adj is not None or opts.group_add or opts.shm_size
                or opts.ulimits)


def _group_reader(layout: RootfsLayout):
    from .accounts import image_reader
    return image_reader(layout.lowers)


def build_spec(opts: RunOptions, image_config: dict, container_id: str, layout: RootfsLayout,
               host_env: dict | None = None, cache_dir: str | None = None) -> dict:
    """The config for `opts` over `image_config`; `cache_dir` keeps what is worth keeping
    between runs (the default seccomp profile, resolved)."""
    config = image_config.get("config") or {}
    hostname = opts.hostname or container_id[:12]
    if len(hostname) > 64 or "/" in hostname:
        raise PyctrError(f"invalid hostname: {hostname!r}")
    cwd = opts.workdir or config.get("WorkingDir") or "/"
    if not cwd.startswith("/"):
        raise PyctrError(f"the working directory {cwd!r} is invalid: it needs to be an absolute path")
    env = build_env(opts, config.get("Env") or [], hostname, os.environ if host_env is None else host_env)
    entrypoint, cmd = split_argv(opts, config)
    argv = entrypoint + cmd
    log_annotations = {}
    if opts.log_opts:  # logopts only then: a run without --log-opt does not import it
        from .logopts import annotations, parse
        log_annotations = annotations(parse(opts.log_opts))
    mounts = [dict(m, options=list(m["options"])) for m in DEFAULT_MOUNTS]
    if opts.init:
        from .paths import INIT
        if not os.access(INIT, os.X_OK):
            raise PyctrError(f"pyctr-init is missing ({INIT}): reinstall pyctr")
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": INIT, "options": ["bind", "ro"]})
        argv = [INIT_PATH, "--", *argv]
    user = {"uid": 0, "gid": 0}
    user_spec = opts.user or config.get("User")  # -u, else the image's
    if user_spec:
        from .accounts import image_reader, resolve_user
        user = resolve_user(image_reader(layout.lowers), user_spec)
    config = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": opts.tty,
            "user": user,
            "args": argv,
            "env": env,
            "cwd": cwd,
            "capabilities": {
                "bounding": list(DEFAULT_CAPS),
                "effective": list(DEFAULT_CAPS),
                "permitted": list(DEFAULT_CAPS),
                "inheritable": [],  # empty, since CVE-2022-24769
                "ambient": [],
            },
            "noNewPrivileges": False,
        },
        "root": {"path": layout.mountpoint, "readonly": opts.read_only},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": t} for t in DEFAULT_NAMESPACES],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
            "resources": {**build_resources(opts.resources), "devices": [dict(r) for r in DEFAULT_DEVICE_RULES]},
            "cgroupsPath": cgroup_path(opts.cgroup_parent, container_id),
        },
        "annotations": {ROOTFS_TYPE: "overlay", ROOTFS_OPTIONS: layout.options(),
                        **({AUTOREMOVE: "true"} if opts.remove else {}),
                        **({OPEN_STDIN: "true"} if opts.interactive else {}),
                        **({STOP_SIGNAL: config["StopSignal"]} if config.get("StopSignal") else {}),
                        **({ENTRYPOINT: dumps(entrypoint)} if entrypoint else {}),
                        **({USER: user_spec} if user_spec else {}),
                        **log_annotations},
    }
    if config_labels(image_config) or runflags_given(opts):  # else: not even imported
        from . import runflags
        runflags.apply(opts, image_config, config, config["annotations"], lambda: _group_reader(layout))
    apply_security(config, opts.security, cache_dir)
    return config
