"""The child runs no interpreter code between clone and execve, counted by uprobes on the
interpreter itself: test_no_python_in_child.py sees files opened, this sees Python run
without opening any (PyRun_SimpleString called from C in the child, say).

bpftrace follows every process the traced command starts, from its birth (the fork
tracepoint) to its first execve or its exit: its window.  Uprobes on the python binary
count, per process, entries into the eval loop (`_PyEval_EvalFrameDefault`: all bytecode
runs inside it, and C reaches Python only by entering it) and takings of the GIL (pyctr
clones with the GIL released, so Python code in the child, even a return into a frame
that was already running, has to take it first).  A control child built from
eval_in_child.c, cloned the same way, shows both probes fire in a clone that runs Python.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass

import pytest

from helpers import Held

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="uprobes and tracefs need root"),
    pytest.mark.skipif(not shutil.which("bpftrace"), reason="needs bpftrace"),
]

PYTHON = os.path.realpath(sys.executable)  # the venv's interpreter, which pyctr runs on
EVAL_LOOP = "_PyEval_EvalFrameDefault"
GIL_TAKERS = ("PyEval_RestoreThread", "PyEval_AcquireThread", "PyGILState_Ensure")
HERE = os.path.dirname(os.path.abspath(__file__))

# @open: processes between birth and first exec; @all: eval entries anywhere in the tree
# (a lost increment between CPUs only undercounts, and zero stays zero).
TRACER = """
BEGIN { @tree[cpid] = 1; }
uprobe:PY:EVAL /@tree[pid]/ { @eval[pid] = @eval[pid] + 1; @all = @all + 1; }
GIL /@tree[pid]/ { @gil[pid] = @gil[pid] + 1; }
tracepoint:sched:sched_process_fork /@tree[pid]/ {
  $c = args->child_pid;
  @tree[$c] = 1; @open[$c] = 1; @parent[$c] = pid; @since[$c] = @all; @eval[$c] = 0; @gil[$c] = 0;
  printf("birth %d %s\\n", $c, comm);  // a child is born with its parent's name
}
tracepoint:sched:sched_process_exec /@open[pid]/ {
  printf("window %d %d %d %d %d exec %s\\n", pid, @parent[pid], @eval[pid], @gil[pid],
         @all - @since[pid] - @eval[pid], str(args->filename));
  delete(@open[pid]);
}
tracepoint:sched:sched_process_exit /@open[pid] && tid == pid/ {
  printf("window %d %d %d %d %d exit -\\n", pid, @parent[pid], @eval[pid], @gil[pid],
         @all - @since[pid] - @eval[pid]);
  delete(@open[pid]);
}
END { clear(@tree); clear(@open); clear(@parent); clear(@since); clear(@eval); clear(@gil); clear(@all); }
"""
WINDOW = re.compile(r"^window (\d+) (\d+) (\d+) (\d+) (\d+) (exec|exit) (.*)$")
BIRTH = re.compile(r"^birth (\d+) (.*)$")


@dataclass
class Window:
    """One process from its birth to its first execve (or exit): what ran in it."""
    pid: int
    parent: int
    comm: str  # its name at birth
    evals: int  # eval loop entries
    gil: int  # GIL takings
    tree_evals: int  # eval loop entries elsewhere in the traced tree meanwhile
    end: str  # "exec" or "exit"
    path: str  # what it exec'd


def _tracefs_then(argv: list[str]) -> list[str]:
    """`argv` in a mount namespace of its own with tracefs mounted (the tracepoints need it;
    this host has none mounted, and mounting one is no business of a test's)."""
    script = "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; exec \"$@\""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def _tracer_can_attach() -> str | None:
    """None, or why bpftrace cannot put a uprobe on the interpreter and a tracepoint here."""
    program = (f"uprobe:{PYTHON}:{EVAL_LOOP} {{ @n = count(); }} "
               "tracepoint:sched:sched_process_fork { @f = count(); } END { clear(@n); clear(@f); }")
    try:
        r = subprocess.run(_tracefs_then(["bpftrace", "-q", "-e", program, "-c", "/bin/true"]),
                           capture_output=True, text=True, timeout=60)
    except OSError as e:
        return str(e)
    errors = [line for line in r.stderr.splitlines() if "ERROR" in line and "RLIMIT_MEMLOCK" not in line]
    return errors[0] if r.returncode or errors else None


@pytest.fixture(scope="module")
def tracer():
    reason = _tracer_can_attach()
    if reason:
        pytest.skip(f"bpftrace cannot attach here: {reason}")
    listed = subprocess.run(["bpftrace", "-l", f"uprobe:{PYTHON}:*"], capture_output=True, text=True).stdout
    missing = [s for s in (EVAL_LOOP, *GIL_TAKERS) if f":{s}\n" not in listed]
    assert not missing, f"{PYTHON} has no symbol for {missing}: it needs its debug symbols"
    gil = ", ".join(f"uprobe:{PYTHON}:{s}" for s in GIL_TAKERS)
    return TRACER.replace("uprobe:PY:EVAL", f"uprobe:{PYTHON}:{EVAL_LOOP}").replace("GIL", gil, 1)


def _trace(program: str, argv: list[str], env: dict, tmp_path) -> tuple[int, list[Window]]:
    """(exit status, windows) of `argv` run under the tracer, in the test's own mount
    namespace (nsenter undoes the one tracefs was mounted in)."""
    status = tmp_path / "status"
    wrapper = tmp_path / "traced.sh"  # bpftrace -c splits its command at spaces, unquoted
    wrapper.write_text(f"nsenter --mount=/proc/{os.getpid()}/ns/mnt -- {shlex.join(argv)}\necho $? > {status}\n")
    script = tmp_path / "tracer.bt"
    script.write_text(program)
    r = subprocess.run(_tracefs_then(["bpftrace", "-q", str(script), "-c", f"/bin/sh {wrapper}"]),
                       env={**env, "BPFTRACE_STRLEN": "200"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and status.exists(), r.stderr
    births = {int(m[1]): m[2] for m in map(BIRTH.match, r.stdout.splitlines()) if m}
    windows = [Window(int(m[1]), int(m[2]), births.get(int(m[1]), ""), int(m[3]), int(m[4]), int(m[5]), m[6], m[7])
               for m in map(WINDOW.match, r.stdout.splitlines()) if m]
    return int(status.read_text()), windows


def _exec_of(windows: list[Window], path: str) -> Window:
    [window] = [w for w in windows if w.end == "exec" and w.path == path]
    return window


@pytest.fixture(scope="module")
def control_lib(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("control") / "eval_in_child.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", f"-I{sysconfig.get_paths()['include']}", "-o", out,
                    os.path.join(HERE, "eval_in_child.c")], check=True)
    return out


def _control(lib: str, code: str | None) -> list[str]:
    """The interpreter loading the control and cloning a child that runs `code` (if any)
    before it execs /bin/true."""
    call = f"sys.exit(ctypes.CDLL({lib!r}).clone_then_exec({code.encode() if code else None!r}, b'/bin/true'))"
    return [PYTHON, "-c", f"import ctypes, sys; {call}"]


def test_the_probes_fire_in_a_clone_that_runs_python(tracer, control_lib, tmp_path):
    """The negative control: the same probes and windows, on a child made to run Python."""
    code, windows = _trace(tracer, _control(control_lib, "x = sum(range(10))"), dict(os.environ), tmp_path)
    assert code == 0
    child = _exec_of(windows, "/bin/true")
    assert child.evals > 0 and child.gil > 0, child


def test_the_probes_stay_silent_in_a_clone_that_runs_only_c(tracer, control_lib, tmp_path):
    code, windows = _trace(tracer, _control(control_lib, None), dict(os.environ), tmp_path)
    assert code == 0
    child = _exec_of(windows, "/bin/true")
    assert (child.evals, child.gil) == (0, 0), child


def _interpreter_of(script: str) -> str:
    with open(script) as f:
        return os.path.realpath(f.readline().removeprefix("#!").split()[0])


def test_the_containers_child_runs_no_python(tracer, pyctr, tmp_path):
    assert _interpreter_of(pyctr.cli_argv()[0]) == PYTHON  # the probes are on pyctr's interpreter (warm or cold)
    code, windows = _trace(tracer, pyctr.argv("run", "--rm", "busybox", "/bin/true"), pyctr.env, tmp_path)
    assert code == 0
    child = _exec_of(windows, "/bin/true")
    assert child.comm == "pyctr/created"  # we are looking at the container's process
    assert child.tree_evals > 0, "the probe must see pyctr's own Python over the same window"
    assert (child.evals, child.gil) == (0, 0), child


def test_the_exec_helper_and_its_child_run_no_python(tracer, pyctr, tmp_path):
    held = Held(pyctr)
    try:
        code, windows = _trace(tracer, pyctr.argv("exec", held.record.name, "/bin/true"), pyctr.env, tmp_path)
    finally:
        held.release()
    assert code == 0
    child = _exec_of(windows, "/bin/true")
    [helper] = [w for w in windows if w.pid == child.parent]  # it joins, then clones the command
    assert helper.end == "exit"
    assert child.tree_evals > 0, "the probe must see pyctr's own Python over the same window"
    assert (helper.evals, helper.gil, child.evals, child.gil) == (0, 0, 0, 0), (helper, child)
