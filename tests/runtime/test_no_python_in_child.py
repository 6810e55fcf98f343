"""The child runs only C between clone and execve: no interpreter, no re-exec of Python.

strace -f follows the clone; every file the child opens and every program it executes
before its first successful execve is checked.
"""

import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")

LINE = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+|\?)")
# a Python source or bytecode file, the interpreter, its library, or any shared object
PYTHONISH = re.compile(r'\.py[cd]?"|/python[\d.]*"|libpython|site-packages|\.so(\.\d+)*"')


def _trace(pyctr, tmp_path) -> list[tuple[int, str, str, str]]:
    """(pid, syscall, arguments, result) of every traced call.  One output file per
    process (-ff): with -f alone, a call that another process interrupts is printed in
    two halves ("<unfinished ...>", "<... resumed>"), which the pattern would miss."""
    out = tmp_path / "strace"
    cmd = ["strace", "-ff", "-qq", "-o", str(out), "-e",
           "trace=clone,clone3,execve,openat,open,openat2,pivot_root", *pyctr.argv("run", "--rm", "busybox", "true")]
    # cold: the container is made by the traced process itself, not by a warm pyctr's worker
    r = subprocess.run(cmd, env={**pyctr.env, "PYCTR_NO_SERVER": "1"}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    calls = []
    for file in sorted(tmp_path.glob("strace.*")):
        pid = int(file.suffix[1:])
        for line in file.read_text().splitlines():
            m = LINE.match(line)
            if m:
                calls.append((pid, m[1], m[2], m[3]))
    return calls


def test_child_runs_no_python_before_execve(pyctr, tmp_path):
    pyctr("run", "--rm", "busybox", "true")  # build the image outside the trace
    calls = _trace(pyctr, tmp_path)
    clones = [c for c in calls if c[1] in ("clone", "clone3") and "CLONE_NEWPID" in c[2]]
    assert len(clones) == 1, clones
    child = int(clones[0][3])
    before_exec = []
    for pid, name, args, ret in calls:
        if pid != child:
            continue
        if name == "execve" and ret == "0":
            break
        before_exec.append((name, args))
    else:
        pytest.fail("the child never reached a successful execve")
    assert ("pivot_root", '".", "."') in before_exec  # we are looking at the container's child
    parent_python = [c for c in calls if c[0] != child and c[1] == "openat" and PYTHONISH.search(c[2])]
    assert parent_python, "the pattern must recognise the parent's own Python files"
    offenders = [c for c in before_exec if c[0] in ("open", "openat", "openat2") and PYTHONISH.search(c[1])]
    assert offenders == []
    execs = [c for c in before_exec if c[0] == "execve"]
    assert all("true" in args for _, args in execs), execs  # PATH search only, no interpreter
