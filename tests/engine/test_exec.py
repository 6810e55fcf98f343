"""`pyctr exec` into a running container: its namespaces, filesystem, cgroup, exit codes."""

import os
import signal
import subprocess
import time

import pytest

from pyctr.runtime import cgroups
from pyctr.runtime.cgroups.v1 import controller_mounts

from helpers import Held
from helpers import parent_of
from helpers import read_until
from helpers import state_of
from helpers import wait_for

V2 = cgroups.mode() == "v2"
# the namespaces an exec'd process must share with its container's pid 1, by their names
# in /proc/<pid>/ns: those the container has of its own and those it shares with the host
NAMESPACES = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"}


def test_exec_sees_the_containers_world(pyctr):
    held = Held(pyctr, "--hostname", "inside", command="echo mine > /marker; echo ready; read x")
    try:
        r = pyctr("exec", held.record.name, "sh", "-c", "hostname; cat /marker; echo $$; ps -o pid,args | sed -n 2p")
        assert r.returncode == 0, r.stderr
        hostname, marker, pid, first = r.stdout.splitlines()
        assert (hostname, marker) == ("inside", "mine")
        assert pid != "1" and first.split()[0] == "1"  # the container's pid 1 is visible
        assert "read x" in first or "sh -c" in first
    finally:
        held.release()


def _namespaces(pid: int) -> dict[str, str]:
    d = f"/proc/{pid}/ns"
    return {name: os.readlink(os.path.join(d, name)) for name in os.listdir(d)}


def _procs(cgroup_dir: str) -> set[int]:
    with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
        return {int(p) for p in f.read().split()}


def _cgroup_dirs(parent: str, container_id: str) -> set[str]:
    """Where the container's cgroup must be: one directory on v2, one in each hierarchy of a
    controller pyctr manages on v1 (cpu and cpuacct may share one)."""
    mounts = ["/sys/fs/cgroup"] if V2 else controller_mounts().values()
    return {os.path.realpath(os.path.join(m, parent, container_id)) for m in mounts}


def _children(pid: int) -> list[int]:
    kids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if parent_of(int(entry)) == pid:
                kids.append(int(entry))
        except OSError:  # gone meanwhile
            pass
    return kids


def _looked_at(pid: int) -> tuple[dict[str, str], str]:
    """(its namespaces, its /proc/<pid>/cgroup) as the host sees them."""
    with open(f"/proc/{pid}/cgroup") as f:
        return _namespaces(pid), f.read()


@pytest.mark.cgroups
def test_exec_joins_every_namespace_and_the_whole_cgroup_before_it_runs(pyctr):
    """pyctr stops itself (PYCTR_PAUSE_AT=cloned) with the exec'd process made and waiting
    for the go-ahead: the host compares every /proc/<pid>/ns/* and its /proc/<pid>/cgroup
    with the container's pid 1's before the command runs an instruction.  Let go, the
    command, `cat /proc/self/cgroup -`, says first thing what it sees from inside, then
    waits on its stdin while the host looks again."""
    held = Held(pyctr)
    proc, code = None, None
    try:
        pid1 = held.record.pid
        container = _looked_at(pid1)
        proc = pyctr.popen("exec", "-i", held.record.name, "cat", "/proc/self/cgroup", "-",
                           env={"PYCTR_PAUSE_AT": "cloned"}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
        wait_for(lambda: proc.poll() is None and state_of(proc.pid) == "T")
        [pid] = _children(proc.pid)  # CLONE_PARENT: the exec'd process is `pyctr exec`'s child
        before = _looked_at(pid)
        members = {os.path.realpath(d): _procs(d) for d in pyctr.cgroup_dirs(held.record.id)}
        proc.send_signal(signal.SIGCONT)
        seen_inside = [proc.stdout.readline() for _ in container[1].splitlines()]
        after = _looked_at(pid)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGCONT)
            proc.stdin.close()
            code = proc.wait(timeout=15)
            proc.stdout.close()
        held.release()
    assert code == 0
    namespaces, cgroups_of_pid1 = container
    assert NAMESPACES <= namespaces.keys()  # none missing from the comparison
    assert before == container and after == container
    # in the container's cgroup on every hierarchy pyctr makes one in, before it runs
    assert members.keys() == _cgroup_dirs(pyctr.cgroup_parent, held.record.id)
    assert all({pid1, pid} <= procs for procs in members.values()), (pid1, pid, members)
    # and from inside, first thing: the root of the container's cgroup namespace (pid 1's
    # cgroup when the namespace was made) on every hierarchy
    assert seen_inside == [line.rsplit(":", 1)[0] + ":/\n" for line in cgroups_of_pid1.splitlines()]


def test_exec_exit_codes(pyctr):
    held = Held(pyctr)
    try:
        assert pyctr("exec", held.record.id[:12], "sh", "-c", "exit 7").returncode == 7
        r = pyctr("exec", held.record.name, "no-such-command")
        assert r.returncode == 127 and "executable file not found" in r.stderr
        assert pyctr("exec", held.record.name, "/etc/passwd").returncode == 126
    finally:
        held.release()
    r = pyctr("exec", "nosuch", "true")
    assert r.returncode == 1 and r.stderr == "pyctr: no such container: nosuch\n"


def test_exec_is_counted_in_the_containers_cgroup(pyctr):
    held = Held(pyctr)
    try:
        proc = pyctr.popen("exec", held.record.name, "sh", "-c", "echo started; exec sleep 30",
                           stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "started\n"
        top = pyctr("top", held.record.name).stdout
        proc.kill()
        proc.wait()
        proc.stdout.close()
        assert "sleep 30" in top
    finally:
        held.release()


def test_exec_user_workdir_env_and_detach(pyctr):
    held = Held(pyctr)
    try:
        r = pyctr("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", held.record.name, "sh", "-c", "id -u; pwd; echo $X")
        assert r.stdout.split() == ["65534", "/tmp", "1"]
        assert pyctr("exec", "-d", held.record.name, "sh", "-c", "echo bg > /from-detached").returncode == 0
        deadline = time.monotonic() + 5
        while pyctr("exec", held.record.name, "cat", "/from-detached").stdout != "bg\n":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = pyctr("exec", "-u", "nosuchuser", held.record.name, "true")
        assert r.returncode == 1 and "unable to find user" in r.stderr
    finally:
        held.release()


def test_exec_with_a_tty(pyctr):
    held = Held(pyctr)
    master, slave = os.openpty()
    try:
        proc = pyctr.popen("exec", "-t", "-i", held.record.name, "sh", stdin=slave, stdout=slave, stderr=slave,
                           start_new_session=True)
        assert b"# " in read_until(master, b"# ")
        os.write(master, b"tty; exit 3\r")
        out = read_until(master, b"pts/")
        assert proc.wait(timeout=15) == 3
        assert b"/dev/pts/" in out
    finally:
        os.close(slave)
        os.close(master)
        held.release()


def test_exec_into_a_stopped_container_is_refused(pyctr):
    pyctr("run", "--name", "done", "busybox", "true")
    r = pyctr("exec", "done", "true")
    assert r.returncode == 1 and "is not running" in r.stderr


def test_the_exec_helper_is_not_dumpable_before_it_joins(pyctr, tmp_path):
    """Anything that joins a container first makes itself undumpable: a process inside
    must not reach our interpreter through /proc."""
    import re
    import shutil
    import pytest
    if not shutil.which("strace"):
        pytest.skip("needs strace")
    held = Held(pyctr)
    out = tmp_path / "strace"  # -ff: one file per process, no call split by another's
    try:
        r = subprocess.run(["strace", "-ff", "-qq", "-o", str(out), "-e", "trace=prctl,setns",
                            *pyctr.argv("exec", held.record.name, "true")],
                           env={**pyctr.env, "PYCTR_NO_SERVER": "1"},  # cold: the helper is the traced one's
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        held.release()
    joiners = [f.read_text().splitlines() for f in tmp_path.glob("strace.*") if "setns(" in f.read_text()]
    assert len(joiners) == 1, joiners  # the helper that joins the container
    calls = joiners[0]
    setns = [i for i, line in enumerate(calls) if line.startswith("setns(")]
    dumpable = [i for i, line in enumerate(calls) if re.match(r"prctl\(PR_SET_DUMPABLE, (0|SUID_DUMP_DISABLE)\)", line)]
    assert setns and dumpable and dumpable[0] < setns[0], calls


def test_exec_without_a_tty_hands_the_process_pipes_not_our_files(pyctr, tmp_path):
    """A process inside could reopen our stdin/stdout through /proc/<pid>/fd: read the host
    file we redirected from, write to our terminal or file after exec returned."""
    held = Held(pyctr)
    try:
        secret = tmp_path / "host-secret"
        secret.write_text("host only\n")
        out = tmp_path / "out"
        with open(secret) as stdin, open(out, "w") as stdout:
            r = subprocess.run(pyctr.argv("exec", "-i", held.record.name, "sh", "-c",
                                          "for f in 0 1 2; do readlink /proc/$$/fd/$f; done; "
                                          "cat /proc/$$/fd/0; (sleep 1; echo late) &"),
                               stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=pyctr.env, timeout=30)
        assert r.returncode == 0, r.stderr
        time.sleep(1.5)  # the background writer has had its turn
        lines = out.read_text().splitlines()
        assert all(line.startswith("pipe:[") for line in lines[:3]), lines
        assert lines[3:] == ["host only"]  # what we relayed, and nothing after we returned
    finally:
        held.release()


def test_exec_passes_on_everything_written_before_the_exit(pyctr):
    held = Held(pyctr)
    try:
        r = pyctr("exec", held.record.name, "sh", "-c", "seq 1 20000; echo to-stderr >&2")
        assert r.returncode == 0
        assert r.stdout.splitlines() == [str(i) for i in range(1, 20001)] and r.stderr == "to-stderr\n"
        r = pyctr("exec", "-i", held.record.name, "wc", "-c", input="x" * 200000)
        assert r.stdout.strip() == "200000"
    finally:
        held.release()


@pytest.mark.parametrize("plant, user, message", [
    # read through /proc/<pid>/root from the host, these gave the host's shadow files
    ("rm /etc/passwd && ln -s /etc/shadow /etc/passwd", "root",
     "unable to find user root: no matching entries in passwd file"),
    ("rm /etc/passwd && ln -s ../../../../etc/gshadow /etc/passwd", "root", "unable to find user root"),
    # a FIFO once hung pyctr, /dev/zero grew it to gigabytes
    ("rm /etc/group && mkfifo /etc/group", "root:root", "cannot read the container's /etc/group: not a regular file"),
    ("rm /etc/passwd && ln -s /dev/zero /etc/passwd", "nobody", "cannot read the container's /etc/passwd: not a regular"),
    ("echo 'bad:x:notanumber:0::/:/bin/sh' >> /etc/passwd", "bad", "invalid entry for 'bad' in the container's /etc/passwd"),
    ("true", "99999999999", "invalid uid '99999999999'"),
    ("true", "0:99999999999", "invalid gid '99999999999'"),
])
def test_exec_user_is_looked_up_inside_the_container_and_bounded(pyctr, plant, user, message):
    held = Held(pyctr)
    try:
        assert pyctr("exec", held.record.name, "sh", "-c", plant).returncode == 0
        r = pyctr("exec", "-u", user, held.record.name, "id", "-u", timeout=20)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    finally:
        held.release()


def _status_of(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_the_process_a_container_can_see_holds_only_what_the_container_may(pyctr, tmp_path):
    """Between its clone into the container and its execve, the exec'd process is visible
    to the container (which, with CAP_SYS_PTRACE, could attach to it).  By then it must
    hold the container's capabilities, filter and std streams only: not pyctr's full set,
    no filter, and the caller's terminal or files (as a review found it did)."""
    assert pyctr("run", "-d", "--name", "p", "--cap-add", "SYS_PTRACE", "busybox", "sleep", "60").returncode == 0
    proc = None
    try:
        pid1 = pyctr.store().find_containers("p")[0].pid
        with open(tmp_path / "caller-out", "w") as out:
            proc = pyctr.popen("exec", "p", "true", env={"PYCTR_PAUSE_AT": "cloned"}, stdout=out, stderr=out)
        wait_for(lambda: proc.poll() is None and state_of(proc.pid) == "T")
        [pid] = _children(proc.pid)
        seen, container = _status_of(pid), _status_of(pid1)
        fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.wait(timeout=15)
        pyctr("rm", "-f", "p")
    for key in ("CapEff", "CapPrm", "CapBnd", "Seccomp", "NoNewPrivs"):
        assert seen[key] == container[key], key
    assert seen["Seccomp"] == "2"
    caller = str(tmp_path / "caller-out")
    assert caller not in fds.values(), fds
    assert set(fds) <= {0, 1, 2, max(fds)} and all(fds[i].startswith(("pipe:", "/dev/null")) for i in (0, 1, 2)), fds


def test_exec_user_lookup_looks_before_it_opens(pyctr):
    """A FIFO (or a device node) planted as /etc/group: pyctr must not open it to find out
    what it is.  A writer blocked on opening the FIFO shows whether it was opened."""
    held = Held(pyctr)
    try:
        plant = "rm /etc/group && mkfifo /etc/group && (echo x > /etc/group; echo opened > /flag) &"
        assert pyctr("exec", "-d", held.record.name, "sh", "-c", plant).returncode == 0
        wait_for(lambda: pyctr("exec", held.record.name, "test", "-p", "/etc/group").returncode == 0)
        r = pyctr("exec", "-u", "root:root", held.record.name, "true", timeout=20)
        assert r.returncode == 1 and "not a regular file" in r.stderr
        time.sleep(0.3)
        assert pyctr("exec", held.record.name, "cat", "/flag").returncode != 0  # the writer still waits
    finally:
        held.release()


def test_exec_keeps_feeding_stdin_after_the_process_closed_its_output(pyctr):
    held = Held(pyctr)
    try:
        r = subprocess.run(f"(sleep 0.5; echo hello) | {pyctr.argv('exec')[0]} exec -i {held.record.name} "
                           "sh -c 'exec >/dev/null 2>&1; cat > /got'", shell=True, env=pyctr.env, timeout=20)
        assert r.returncode == 0
        assert pyctr("exec", held.record.name, "cat", "/got").stdout == "hello\n"
    finally:
        held.release()


def test_exec_whose_reader_went_away_ends_without_an_error(pyctr):
    held = Held(pyctr)
    try:
        r = subprocess.run(f"{pyctr.argv('exec')[0]} exec {held.record.name} yes | head -c 100 >/dev/null",
                           shell=True, env=pyctr.env, timeout=20, capture_output=True, text=True)
        assert "internal error" not in r.stderr and r.stderr == ""
    finally:
        held.release()


@pytest.mark.parametrize("how", [("run", "--rm", "busybox"), ("exec",)])
def test_without_i_stdin_is_the_containers_own_dev_null(pyctr, how):
    """Not the host's /dev/null, which container root could chmod for everyone."""
    script = "stat -L -c %i /proc/self/fd/0; stat -c %i /dev/null"
    if how == ("exec",):
        held = Held(pyctr)
        try:
            r = pyctr("exec", held.record.name, "sh", "-c", script)
        finally:
            held.release()
    else:
        r = pyctr(*how, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    fd0, own = r.stdout.split()
    assert fd0 == own
