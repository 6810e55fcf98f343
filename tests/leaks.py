"""What a test may leave behind, looked for only where this test run puts things, so that
other work on the same host cannot fail a test and a real leak cannot pass:
- processes: those in the run's own cgroup (pytest moves itself into one made inside the
  cgroup it was started in, so everything it starts is there, orphans and daemons
  included) and in the cgroups under the run's cgroup parents (containers, exec'd ones);
- cgroups: anything under the run's cgroup parents, `pyctr-test-<run>-<n>`;
- mounts: those whose mount point or source lies in the run's temp dirs or pyctr's default
  root and runroot;
- files: the contents of the run's TMPDIR; the runtime state left in the runroots of the
  tests' own roots (a test may leave a stopped container in its root, but the runtime
  keeps nothing of one, but for its cache of compiled seccomp filters); and in pyctr's default root and runroot, the containers whose
  config or state names this run's cgroup prefix (others there are someone else's).
"""

import glob
import os
import re
import signal
import subprocess

from pyctr.runtime.seccomp import CACHE_DIR

CGROUP_ROOT = "/sys/fs/cgroup"
V2 = os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))
# The hierarchy that holds the run's processes: on v1 the pids one (no limits are set
# on the run's cgroup, so membership changes nothing else), on v2 the only one.
MEMBERSHIP = "" if V2 else "pids"
DEFAULT_ROOT, DEFAULT_RUNROOT = "/var/lib/pyctr", "/run/pyctr"


def _hierarchy() -> tuple[str, str]:
    """(mount point, root within the hierarchy) of the membership hierarchy's mount: a
    path in /proc/self/cgroup is relative to the hierarchy, and a mount may show only a
    part of it (a bind-mounted one, in a container)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, options = post.split()[:3]
            fields = pre.split()
            if (V2 and fstype == "cgroup2") or (not V2 and fstype == "cgroup" and MEMBERSHIP in options.split(",")):
                return fields[4], fields[3]
    raise RuntimeError("the cgroup hierarchy for processes is not mounted")


def hierarchy_dir() -> str:
    """Where the membership hierarchy is mounted (/sys/fs/cgroup/pids on this v1 host)."""
    return _hierarchy()[0]


def own_cgroup() -> str:
    """The directory of the cgroup this process is in, in the membership hierarchy."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if (V2 and controllers == "") or (not V2 and MEMBERSHIP in controllers.split(",")):
                mount, root = _hierarchy()
                inside = path[len(root):] if root != "/" and path.startswith(root) else path
                return os.path.join(mount, inside.lstrip("/"))
    raise RuntimeError("this process is in no cgroup of the membership hierarchy")


# What a runroot keeps by design, beside its containers' state: the compiled seccomp
# filters (a cache), networks/ (a root's markers of the bridges it made: the pyctr fixture
# takes its networks down; links() and nft_tables() check that) and server/ (the warm
# process's socket and lock; the process is stopped by the pyctr fixture, else below).
KEPT_IN_RUNROOT = (CACHE_DIR, "networks", "server")


def stop_warm_servers(pids: set[int]) -> None:
    """Asks those of `pids` that are warm pyctr processes (or a client's child about to
    become one) to leave (SIGTERM: they finish what they run, then exit): one a test
    started under a root of its own is a cache, not a leak, but the process count cannot
    tell."""
    from pyctr.cli.server import is_server
    for pid in pids:
        if is_server(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


class Scope:
    """One test run's places: its cgroups, its temp dirs, the roots its tests made."""

    def __init__(self, run_id: str, temp_dirs: list[str], origin: str,
                 default_state: tuple[str, str] = (DEFAULT_ROOT, DEFAULT_RUNROOT)):
        self.prefix = f"pyctr-test-{run_id}"
        self.origin = origin  # pytest's cgroup at the start
        self.own_cgroup = os.path.join(origin, self.prefix)
        self.temp_dirs = [os.path.realpath(d) for d in temp_dirs]
        self.tmpdir = self.temp_dirs[-1]
        self.runroots: list[str] = []  # of the tests' own roots
        self.default_root, self.default_runroot = default_state
        places = "|".join(re.escape(p) for p in (*self.temp_dirs, *default_state))
        # a path that is one of ours or below it: /run/pyctr/x, not /run/pyctr-other
        self.mine = re.compile(rf"(?:{places})(?=[/\s,:]|$)")

    def cgroup_parent(self, n: int) -> str:
        return f"{self.prefix}-{n}"

    def cgroups(self) -> set[str]:
        found = set()
        for parent in glob.glob(f"{CGROUP_ROOT}/{self.prefix}-*/") + glob.glob(f"{CGROUP_ROOT}/*/{self.prefix}-*/"):
            for directory, _, _ in os.walk(parent):
                found.add(directory.rstrip("/"))
        return found

    def processes(self) -> set[int]:
        pids = set()
        for directory in [self.own_cgroup, *self.cgroups()]:
            try:
                with open(os.path.join(directory, "cgroup.procs")) as f:
                    pids.update(int(p) for p in f.read().split())
            except OSError:  # removed meanwhile
                pass
        return pids - {os.getpid()}

    def mounts(self) -> set[str]:
        with open("/proc/self/mountinfo") as f:
            # without the mount and parent ids: they are not what identifies a leaked mount
            return {line.split(" ", 2)[2].rstrip("\n") for line in f if self.mine.search(line)}

    def files(self) -> set[str]:
        found = _entries(self.tmpdir)
        for runroot in self.runroots:
            # the compiled seccomp filters are a cache, kept across containers by design;
            # networks/ holds the root's markers of bridges made (the pyctr fixture
            # takes its networks down; links() and nft_tables() check that)
            found |= _entries(runroot) - {os.path.join(runroot, d) for d in KEPT_IN_RUNROOT}
        found |= {d for d in _entries(os.path.join(self.default_root, "containers")) if self._named(d, "config.json")}
        found |= {d for d in _entries(self.default_runroot) if self._named(d, "state.json")}
        return found

    def _named(self, directory: str, name: str) -> bool:
        """Whether the file `name` in `directory` names this run's cgroup prefix."""
        try:
            with open(os.path.join(directory, name)) as f:
                return f'"{self.prefix}-' in f.read()
        except OSError:
            return False

    def links(self) -> set[str]:
        """pyctr's network links: veth host ends (pv*), networks' bridges (pybr*) and the
        default root's default network (pyctr0): one a test reached in the default root is
        a host-wide object a user would find."""
        from pyctr.engine.networks import DEFAULT_NETWORK
        return {name for name in os.listdir("/sys/class/net")
                if name.startswith(("pv", "pybr")) or name == DEFAULT_NETWORK}

    def nft_tables(self) -> set[str]:
        """pyctr's nftables tables (one per root; every rule lives in one)."""
        try:
            out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return set()
        return {line.split()[-1] for line in out.splitlines() if line.split()[-1:] and
                line.split()[-1].startswith("pyctr")}

    def snapshot(self) -> dict:
        return {"processes": self.processes(), "cgroups": self.cgroups(), "mounts": self.mounts(),
                "files": self.files(), "links": self.links(), "nft": self.nft_tables()}


def _entries(directory: str) -> set[str]:
    try:
        return {os.path.join(directory, e) for e in os.listdir(directory)}
    except OSError:
        return set()


def found(before: dict, after: dict) -> dict:
    """What is in `after` and was not in `before`, by kind."""
    return {k: sorted(after[k] - before[k]) for k in before if after[k] - before[k]}


def join(scope: Scope) -> None:
    """The run's own cgroup made inside pytest's and entered: its limits still hold, and
    the cgroup it came from keeps a child, so nothing (systemd) removes it meanwhile."""
    os.makedirs(scope.own_cgroup, exist_ok=True)
    with open(os.path.join(scope.own_cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def leave(scope: Scope) -> str | None:
    """Back where pytest came from, the run's cgroup removed unless something stayed in
    it; what went wrong, or None."""
    try:
        with open(os.path.join(scope.origin, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        os.rmdir(scope.own_cgroup)
    except OSError as e:
        return f"{e.filename}: {e.strerror}"
    return None
