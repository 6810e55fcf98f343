"""What a test may leave behind, looked for only where this test run puts things, so that
other work on the same host cannot fail a test and a real leak cannot pass:
- processes: those in the run's own cgroup (pytest moves itself into one at the start, so
  everything it starts is there, orphans and daemons included) and in the cgroups under
  the run's cgroup parents (containers, exec'd processes);
- cgroups: anything under the run's cgroup parents, `pyctr-test-<run>-<n>`;
- mounts: those whose mount point or source lies in the run's temp dirs or pyctr's default
  root and runroot;
- files: the contents of the run's TMPDIR, and of the default root and runroot (their
  contents, not whether they exist: setup.sh's first `pyctr run` made them).
"""

import glob
import os
import re

CGROUP_ROOT = "/sys/fs/cgroup"
V2 = os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))
# where the run's own cgroup lives: v1 needs one hierarchy to hold processes (pids has
# no limits set here, so membership changes nothing else)
MEMBERSHIP = CGROUP_ROOT if V2 else os.path.join(CGROUP_ROOT, "pids")
DEFAULT_STATE = ("/var/lib/pyctr", "/run/pyctr")


class Scope:
    """One test run's places: its cgroup prefix, its temp dirs."""

    def __init__(self, run_id: str, temp_dirs: list[str]):
        self.prefix = f"pyctr-test-{run_id}"
        self.own_cgroup = os.path.join(MEMBERSHIP, self.prefix)
        self.temp_dirs = [os.path.realpath(d) for d in temp_dirs]
        self.tmpdir = self.temp_dirs[-1]
        places = "|".join(re.escape(p) for p in (*self.temp_dirs, *DEFAULT_STATE))
        # a path that is one of ours or below it: /run/pyctr/x, not /run/pyctr-other
        self.mine = re.compile(rf"(?:{places})(?=[/\s,:]|$)")

    def cgroup_parent(self, n: int) -> str:
        return f"{self.prefix}-{n}"

    def parent_dirs(self) -> list[str]:
        """The run's cgroup parents (v1: in every hierarchy)."""
        return glob.glob(f"{CGROUP_ROOT}/{self.prefix}-*/") + glob.glob(f"{CGROUP_ROOT}/*/{self.prefix}-*/")

    def cgroups(self) -> set[str]:
        found = set()
        for parent in self.parent_dirs():
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
        """The TMPDIR's entries, and the default root's and runroot's two levels down."""
        found = {os.path.join(self.tmpdir, e) for e in os.listdir(self.tmpdir)} if os.path.isdir(self.tmpdir) else set()
        for top in DEFAULT_STATE:
            if os.path.isdir(top):
                found.add(top)
                for entry in os.listdir(top):
                    path = os.path.join(top, entry)
                    found.add(path)
                    if os.path.isdir(path) and not os.path.islink(path):
                        found.update(os.path.join(path, e) for e in os.listdir(path))
        return found

    def snapshot(self) -> dict:
        return {"processes": self.processes(), "cgroups": self.cgroups(), "mounts": self.mounts(),
                "files": self.files()}


def found(before: dict, after: dict) -> dict:
    """What is in `after` and was not in `before`, by kind."""
    return {k: sorted(after[k] - before[k]) for k in before if after[k] - before[k]}


def join(directory: str) -> str:
    """The run's own cgroup made and entered; returns the one pytest came from."""
    with open("/proc/self/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    if V2:
        [origin] = [path for _, controllers, path in lines if controllers == ""]
    else:
        [origin] = [path for _, controllers, path in lines if "pids" in controllers.split(",")]
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    return os.path.join(MEMBERSHIP, origin.lstrip("/"))


def leave(directory: str, origin: str) -> None:
    """Back where pytest came from; the run's cgroup removed, unless something stayed."""
    with open(os.path.join(origin, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    try:
        os.rmdir(directory)
    except OSError:
        pass
