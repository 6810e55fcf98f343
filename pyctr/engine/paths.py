"""Where the engine keeps its state (`--root` for what persists, `--runroot` for what lives
only while the machine is up: podman's split) and every file's place under them; and where
pyctr's small C programs are (pyctr/libexec/, built there by setup.py)."""

import os
import sys

from ..records import record

LIBEXEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "libexec")
MONITOR = os.path.join(LIBEXEC, "pyctr-monitor")  # the parent of every container
INIT = os.path.join(LIBEXEC, "pyctr-init")  # pid 1 for run --init
# pyctr's main for its own background commands (pyctr_command): by -c, not -m, since runpy
# imports importlib.util and, through it, contextlib first (measured: about 8% of a cold
# `_cleanup`, some 2 ms here)
_MAIN = "import sys; from pyctr.cli.main import main; sys.exit(main())"
# the `pyctr` command (csrc/client/), installed beside the interpreter (a virtualenv's bin/)
CLIENT = os.path.join(os.path.dirname(sys.executable), "pyctr")
DEFAULT_ROOT = "/var/lib/pyctr"
DEFAULT_RUNROOT = "/run/pyctr"
# A container's files, under <root>/containers/<id>/: the one place their names are.
CONTAINER_FILES = {
    "config": "config.json",  # the OCI config: the container's bundle, for the runtime
    "log": "container.log",  # the monitor's json-file log
    "exit": "exit",  # the exit code, written by the monitor
    "attach": "attach",  # the monitor's attach socket
    "upper": "upper",  # the overlay's writable layer,
    "work": "work",  # its work dir,
    "rootfs": "rootfs",  # and where it is mounted (inside the container only)
}


@record
class Paths:
    root: str
    runroot: str

    @classmethod
    def resolve(cls, root: str | None = None, runroot: str | None = None) -> "Paths":
        """The defaults for what is not given.  A non-default root without a runroot keeps
        runtime files under it, so a test's temp root holds everything."""
        root = os.path.abspath(root or DEFAULT_ROOT)
        if not runroot:
            runroot = DEFAULT_RUNROOT if root == DEFAULT_ROOT else os.path.join(root, "run")
        return cls(root, os.path.abspath(runroot))

    def under_root(self, name: str) -> str:
        """<root>/pyctr.db, layers, containers; cache: what runs keep for later runs; tmp: scratch space on the store's
        filesystem, for atomic renames."""
        return os.path.join(self.root, name)

    @property
    def db(self) -> str:
        return self.under_root("pyctr.db")

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.root, "containers", container_id)

    def container_file(self, container_id: str, what: str) -> str:
        """One of CONTAINER_FILES: `paths.container_file(id, "log")`."""
        return os.path.join(self.container_dir(container_id), CONTAINER_FILES[what])

    def secure(self) -> list[str]:
        """Makes root and runroot private (0700: they hold configs with -e secrets, and
        attach sockets), whatever the umask; one that is looser is tightened, and said so."""
        notes = []
        for d in (self.root, self.runroot):
            try:
                mode = os.stat(d).st_mode & 0o7777
            except FileNotFoundError:
                os.makedirs(d, mode=0o700, exist_ok=True)
                mode = os.stat(d).st_mode & 0o7777
            if mode & 0o077:
                os.chmod(d, 0o700)
                notes.append(f"{d} was open to other users ({mode:04o}): made 0700")
        return notes

    def pyctr_command(self, *args: str, warm: bool = True) -> list[str]:
        """The command line of pyctr's own background work on this root and runroot (the
        monitor's `_cleanup ID`, a restart policy's `_restart ID`): the `pyctr` client
        beside this interpreter, which hands it to the warm pyctr process when one runs
        (measured: a detached container's cleanup 3 ms warm against 16 cold); else, or
        not `warm` (work that must outlive a warm process: it dies with its server), this
        interpreter, with -P, so that no working directory is searched for the package
        (it may hold a pyctr source tree)."""
        where = ["--root", self.root, "--runroot", self.runroot, *args]
        if warm and os.access(CLIENT, os.X_OK):
            return [CLIENT, *where]
        return [sys.executable, "-P", "-c", _MAIN, *where]

    @property
    def runtime_root(self) -> str:
        """Where the runtime keeps its state of the engine's containers (runc's --root)."""
        return self.runroot
