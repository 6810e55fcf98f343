"""The flags of `run`, `exec` and `update` and the global options, declared once, and what
either parser read turned into the engine's options records: the lean parser (fast.py) and
the typer commands (commands.py) are both built from these tables.  Flags left off take
their environment variable's value, else their kind's default.  Cheap to import: the lean
path reads this on every `pyctr run`."""

import os


class Flag:
    """An option.  `kind`: "text" takes a value, "int" a whole number, "list" a value and
    may be repeated, "switch" none.  `envvar` gives the default when the flag is not on the
    command line."""

    __slots__ = ("names", "field", "kind", "help", "envvar")

    def __init__(self, names: tuple, field: str, kind: str, help: str, envvar: str | None = None):
        self.names, self.field, self.kind, self.help, self.envvar = names, field, kind, help, envvar

    def default(self):
        return False if self.kind == "switch" else [] if self.kind == "list" else None


class Argument:
    """A positional argument; `many` takes the rest of the command line.  `metavar`: how
    help and errors name it (None: after its field, as typer does)."""

    __slots__ = ("field", "metavar", "help", "many", "required")

    def __init__(self, field: str, metavar: str | None, help: str, many: bool = False, required: bool = True):
        self.field, self.metavar, self.help, self.many, self.required = field, metavar, help, many, required


GLOBAL = (
    Flag(("--root",), "root", "text", "Persistent state (default /var/lib/pyctr).", "PYCTR_ROOT"),
    Flag(("--runroot",), "runroot", "text", "Runtime state (default /run/pyctr).", "PYCTR_RUNROOT"),
)

# docker's spelling, with mydocker's aliases; ResourceOptions' fields
RESOURCES = (
    Flag(("-m", "--memory"), "memory", "text", "Memory limit, e.g. 64m (b, k, m, g units)."),
    Flag(("--memory-swap",), "memory_swap", "text", "Memory plus swap limit; -1 for unlimited swap."),
    Flag(("--memory-reservation",), "memory_reservation", "text", "Memory soft limit."),
    Flag(("--cpus",), "cpus", "text", "Number of CPUs, e.g. 0.5 (CFS quota over a 100 ms period)."),
    Flag(("-c", "--cpu-shares", "--cpushare"), "cpu_shares", "int", "CPU shares (relative weight, 2-262144)."),
    Flag(("--cpuset-cpus", "--cpuset"), "cpuset_cpus", "text", "CPUs to run on, e.g. 0-1,3."),
    Flag(("--cpuset-mems",), "cpuset_mems", "text", "Memory nodes to allocate from, e.g. 0."),
    Flag(("--pids-limit",), "pids_limit", "int", "Maximum number of processes; -1 for unlimited."),
)

# SecurityOptions' fields
SECURITY = (
    Flag(("--cap-add",), "cap_add", "list", "Add a Linux capability (ALL for every one)."),
    Flag(("--cap-drop",), "cap_drop", "list", "Drop a Linux capability (ALL for every one)."),
    Flag(("--privileged",), "privileged", "switch",
         "Every capability, no seccomp filter, nothing masked, the host's devices."),
    Flag(("--security-opt",), "security_opt", "list",
         "seccomp=unconfined|PROFILE.json, no-new-privileges."),
)

# RunOptions' network fields (engine/endpoints.py)
NETWORK = (
    Flag(("--network", "--net"), "network", "text",
         "Network: bridge (the default network, pyctr0), none (lo only), host, container:NAME, or a network's name.",
         "PYCTR_NETWORK"),
    Flag(("-p", "--publish"), "publish", "list",
         "Publish a port: IP:HOST:CONTAINER/udp, HOST:CONTAINER, or CONTAINER (a free host port); ranges low-high."),
    Flag(("-P", "--publish-all"), "publish_all", "switch", "Publish the image's exposed ports on free host ports."),
    Flag(("--ip",), "ip", "text", "The container's IPv4 address on its network."),
    Flag(("--mac-address",), "mac_address", "text", "The container's MAC address, e.g. 02:42:0a:58:00:09."),
    Flag(("--network-alias",), "network_aliases", "list", "Another name the network's containers know it by."),
    Flag(("--dns",), "dns", "list", "A nameserver for /etc/resolv.conf (replaces the host's)."),
    Flag(("--dns-search",), "dns_search", "list", "A search domain for /etc/resolv.conf."),
    Flag(("--dns-option",), "dns_options", "list", "An option for /etc/resolv.conf."),
    Flag(("--add-host",), "add_hosts", "list", "Add a line to /etc/hosts: NAME:IP."),
)

# more of docker's run flags (RunOptions' fields)
RUN_EXTRA = (
    Flag(("-l", "--label"), "labels", "list", "Set a label: KEY=VALUE (over the image's labels)."),
    Flag(("--label-file",), "label_files", "list", "Read labels from a file: KEY=VALUE lines, # comments."),
    Flag(("--restart",), "restart", "text",
         "Restart policy: no, on-failure:N (N restarts at most), always, unless-stopped."),
    Flag(("--stop-signal",), "stop_signal", "text", "Signal to stop the container with (default SIGTERM)."),
    Flag(("--stop-timeout",), "stop_timeout", "int", "Seconds stop waits before SIGKILL (default 10)."),
    Flag(("--oom-kill-disable",), "oom_kill_disable", "switch", "Disable the OOM killer (cgroup v1 only)."),
    Flag(("--oom-score-adj",), "oom_score_adj", "int", "The process's OOM score adjustment, -1000 to 1000."),
    Flag(("--group-add",), "group_add", "list", "Another group to run as: a name from the image's /etc/group, or a gid."),
    Flag(("--shm-size",), "shm_size", "text", "Size of /dev/shm, e.g. 128m (default 64m)."),
    Flag(("--ulimit",), "ulimits", "list", "A resource limit: nofile=1024:2048 (soft:hard; or one value for both)."),
    Flag(("--cidfile",), "cidfile", "text", "Write the container's id to this file (which must not exist)."),
    Flag(("--pull",), "pull", "text", "Pull the image: missing (the default), always, never."),
    Flag(("--sig-proxy",), "sig_proxy", "text", "Forward signals to the container (true, the default, or false)."),
    Flag(("--detach-keys",), "detach_keys", "text", "Keys that detach a -ti run, e.g. ctrl-x,y (default ctrl-p,ctrl-q)."),
)

# RunOptions' fields, but for `detach` (the CLI's) and the resources
RUN = (
    Flag(("--name",), "name", "text", "Name of the container."),
    Flag(("-e", "--env"), "env", "list", "Set an environment variable (K=V, or K to take the host's)."),
    Flag(("--env-file",), "env_files", "list", "Read environment variables from a file."),
    Flag(("-w", "--workdir"), "workdir", "text", "Working directory inside the container."),
    Flag(("-h", "--hostname"), "hostname", "text", "Container host name."),
    Flag(("--log-opt",), "log_opts", "list", "Log option: max-size=10m (rotate past it), max-file=3 (files kept)."),
    Flag(("-t", "--tty"), "tty", "switch", "Allocate a pseudo-TTY."),
    Flag(("-i", "--interactive"), "interactive", "switch", "Keep STDIN open."),
    Flag(("-d", "--detach"), "detach", "switch", "Run in the background and print the id."),
    Flag(("--init",), "init", "switch", "Run a tiny init as pid 1: forwards signals, reaps zombies."),
    Flag(("--rm",), "remove", "switch", "Remove the container when it exits."),
    Flag(("--entrypoint",), "entrypoint", "text", "Override the image's entrypoint."),
    Flag(("-u", "--user"), "user", "text", "user[:group] to run as, names or numbers."),
    Flag(("--userns",), "userns", "text",
         "User namespace: auto (container root is an unprivileged host uid of a free range; auto:size=N), "
         "or host (none).", "PYCTR_USERNS"),
    Flag(("--uidmap",), "uidmap", "list", "Map container uids to host uids: CONTAINER:HOST:SIZE (repeatable)."),
    Flag(("--gidmap",), "gidmap", "list", "Map container gids to host gids: CONTAINER:HOST:SIZE (default: --uidmap's)."),
    Flag(("-v", "--volume"), "volumes", "list",
         "Bind a host path or mount a volume: /host:/ctr[:ro], NAME:/ctr[:ro], or /ctr (an anonymous volume)."),
    Flag(("--mount",), "mounts", "list",
         "A mount, docker's CSV: type=bind|volume|tmpfs,source=...,target=...,readonly,tmpfs-size=..."),
    Flag(("--tmpfs",), "tmpfs", "list", "Mount a tmpfs: /path[:size=64m,mode=1777,...]."),
    Flag(("--volumes-from",), "volumes_from", "list", "Mount the volumes and binds of a container: NAME[:ro|rw]."),
    Flag(("--read-only",), "read_only", "switch", "Mount the root filesystem read-only (what is mounted on it keeps its own)."),
    *NETWORK,
    *RESOURCES,
    *SECURITY,
    Flag(("--runtime",), "runtime", "text",
         "OCI runtime to run it on: runc, crun or a path (default: pyctr's own, or <root>/pyctr.toml's runtime)."),
    Flag(("--cgroup-parent",), "cgroup_parent", "text", "Parent cgroup of the container's (default pyctr).",
         "PYCTR_CGROUP_PARENT"),
    *RUN_EXTRA,
)
RUN_ARGUMENTS = (
    Argument("image", None, "Image to run, e.g. busybox."),
    Argument("command", None, "Command and arguments (default: the image's).", many=True, required=False),
)

# ExecOptions' fields
EXEC = (
    Flag(("-t", "--tty"), "tty", "switch", "Allocate a pseudo-TTY."),
    Flag(("-i", "--interactive"), "interactive", "switch", "Keep STDIN open."),
    Flag(("-d", "--detach"), "detach", "switch", "Run in the background."),
    Flag(("-e", "--env"), "env", "list", "Set an environment variable."),
    Flag(("-w", "--workdir"), "workdir", "text", "Working directory inside the container."),
    Flag(("-u", "--user"), "user", "text", "user[:group], names or numbers."),
)
EXEC_ARGUMENTS = (
    Argument("container", "CONTAINER", "A running container."),
    Argument("command", None, "Command and arguments.", many=True),
)

UPDATE = RESOURCES
UPDATE_ARGUMENTS = (Argument("names", "CONTAINER...", "Running containers to change.", many=True),)

RESOURCE_FIELDS = tuple(f.field for f in RESOURCES)
SECURITY_FIELDS = tuple(f.field for f in SECURITY)
CLI_ONLY = {"detach"}  # run's flags that the CLI acts on, not the engine


def complete(table, values: dict, environ=os.environ) -> dict:
    """Every field of `table`: as read (an empty value too, as click has it), else from its
    environment variable, else its default."""
    done = {}
    for flag in table:
        value = values.get(flag.field)
        if value is None and flag.envvar:  # text flags only
            value = environ.get(flag.envvar)
        elif value in ([], ()):
            value = None
        done[flag.field] = flag.default() if value is None else list(value) if flag.kind == "list" else value
    return done


def paths(values: dict):
    """An empty --root or --runroot is as good as none: the environment's, else the default."""
    import sys

    from ..engine.paths import Paths
    values = complete(GLOBAL, {field: value for field, value in values.items() if value})
    where = Paths.resolve(values["root"], values["runroot"])
    for note in where.secure():
        sys.stderr.write(f"pyctr: warning: {note}\n")
    return where


def resources(values: dict):
    from ..engine.resources import ResourceOptions
    values = complete(RESOURCES, values)
    return ResourceOptions(**{f: values[f] for f in RESOURCE_FIELDS})


def run_options(values: dict, image: str, command: list[str]):
    from ..engine.spec import RunOptions
    values = complete(RUN, values)
    nested = set(RESOURCE_FIELDS) | set(SECURITY_FIELDS) | CLI_ONLY
    fields = {f.field: values[f.field] for f in RUN if f.field not in nested}
    return RunOptions(image=image, command=list(command), resources=resources(values), security=security(values),
                      **fields)


def security(values: dict):
    from ..engine.security import SecurityOptions
    values = complete(SECURITY, values)
    return SecurityOptions(**{f: values[f] for f in SECURITY_FIELDS})


def exec_options(values: dict, command: list[str]):
    from ..engine.execute import ExecOptions
    return ExecOptions(command=list(command), **complete(EXEC, values))
