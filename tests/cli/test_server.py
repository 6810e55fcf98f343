"""The warm pyctr process (pyctr/cli/server.py) and the `pyctr` client (csrc/client/):
the same commands, outputs, exit codes, terminals and signals as the cold Python CLI, and
the process's own rules (who may connect, when it leaves, when it restarts).

Whether a command ran warm is read from the client itself: a cold one execs the Python
CLI (bin/pyctr-cli), a warm one never does (strace, or /proc/PID/exe of a running one)."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PYCTR
from helpers import TICK, read_until, state_of, tty_shell_session, wait_for

WARM = {"PYCTR_NO_SERVER": ""}  # on, whatever the run's setting (scripts/test.sh's second pass)
COLD = {"PYCTR_NO_SERVER": "1"}
CLIENT = os.path.realpath(PYCTR)


def socket_path(pyctr) -> str:
    return os.path.join(pyctr.root, "run", "server", "sock")


def servers(root: str) -> list[int]:
    """The warm processes serving `root` (their cmdline and PYCTR_ROOT say so)."""
    from pyctr.cli.server import is_server
    found = []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"PYCTR_ROOT={root}".encode() in env and is_server(pid):
            found.append(pid)
    return found


def start_server(pyctr) -> int:
    """The root's warm process, started by a cold command; its pid.  (The first command
    of a root makes its runroot; the next one starts the warm process in it.)"""
    assert pyctr("ps", env=WARM).returncode == 0
    assert pyctr("ps", env=WARM).returncode == 0
    wait_for(lambda: os.path.exists(socket_path(pyctr)), timeout=30)
    [pid] = servers(pyctr.root)
    return pid


def traced(pyctr, *args, env=None, **kwargs) -> tuple[subprocess.CompletedProcess, bool]:
    """The command's result, and whether its client ran the cold Python CLI."""
    log = os.path.join(pyctr.root, "execve.log")
    r = subprocess.run(["strace", "-qq", "-e", "trace=execve", "-o", log, *pyctr.argv(*args)],
                       capture_output=True, text=True, timeout=60, env={**pyctr.env, **(env or WARM)}, **kwargs)
    with open(log) as f:
        cold = "pyctr-cli" in f.read()
    os.unlink(log)
    return r, cold


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its reaper has not got to yet."""
    try:
        return state_of(pid) == "Z"
    except OSError:
        return True


def warm_client(pid: int) -> bool:
    """A running client still is the C program: it handed its command to a worker."""
    return os.readlink(f"/proc/{pid}/exe") == CLIENT


COMMANDS = [
    ("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"),
    ("run", "--rm", "busybox", "no-such-command"),
    ("run", "--no-such-flag", "busybox"),
    ("ps", "-a"),
    ("images",),
    ("image", "inspect", "--format", "{{.Id}}", "busybox"),
    ("inspect", "no-such-container"),
    ("--version",),
    ("volume", "ls"),
]


def test_same_output_and_exit_codes_warm_and_cold(pyctr):
    start_server(pyctr)
    for argv in COMMANDS:
        warm, ran_cold = traced(pyctr, *argv)
        assert not ran_cold, argv
        cold = pyctr(*argv, env=COLD)
        assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr), argv
    assert [r.returncode for r in (pyctr(*COMMANDS[0], env=WARM), pyctr(*COMMANDS[1], env=WARM))] == [3, 127]


def test_stdin_stdout_stderr_and_closed_fds(pyctr):
    start_server(pyctr)
    r, ran_cold = traced(pyctr, "run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo to-err >&2",
                         input="hello warm\n")
    assert not ran_cold
    assert (r.returncode, r.stdout, r.stderr) == (0, "HELLO WARM\n", "to-err\n")
    # a closed stdin is /dev/null to the command, as for a cold start
    r = subprocess.run(["sh", "-c", 'exec "$0" run --rm -i busybox cat <&-', PYCTR], capture_output=True,
                       text=True, env={**pyctr.env, **WARM}, timeout=60)
    assert (r.returncode, r.stdout) == (0, "")


def test_environment_cwd_and_umask_are_the_clients(pyctr, tmp_path):
    start_server(pyctr)
    (tmp_path / "env.list").write_text("FROM_FILE=1\n")
    r, ran_cold = traced(pyctr, "run", "--rm", "--env-file", "env.list", "-e", "MINE", "busybox", "env",
                         env={**WARM, "MINE": "the-clients"}, cwd=tmp_path)
    assert not ran_cold and r.returncode == 0, r.stderr
    assert "MINE=the-clients" in r.stdout.splitlines() and "FROM_FILE=1" in r.stdout.splitlines()


def test_a_pty_session(pyctr):
    """-ti from a terminal: the worker puts the client's terminal in raw mode, resizes
    reach the container through the client's SIGWINCH, and the terminal is put back."""
    start_server(pyctr)
    warm = []
    lines, before, after = tty_shell_session(pyctr, env=WARM, started=lambda proc: warm.append(warm_client(proc.pid)))
    assert warm == [True]
    assert "/dev/pts/0" in lines and "pid=1" in lines and "33 101" in lines and "44 120" in lines
    assert after == before


def test_detach_keys_through_the_warm_process(pyctr):
    start_server(pyctr)
    master, slave = os.openpty()
    proc = pyctr.popen("run", "-ti", "--name", "dk", "busybox", "sh", stdin=slave, stdout=slave, stderr=slave,
                       start_new_session=True, env=WARM)
    try:
        assert b"# " in read_until(master, b"# ")
        assert warm_client(proc.pid)
        os.write(master, b"\x10\x11")  # ctrl-p ctrl-q: docker's detach keys
        assert proc.wait(timeout=15) == 0
        assert "Up" in pyctr("ps", "--format", "{{.Status}}").stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(slave)
        os.close(master)
        pyctr("rm", "-f", "dk")


def test_sigterm_to_the_client_reaches_the_container(pyctr):
    start_server(pyctr)
    proc = pyctr.popen("run", "--rm", "busybox", "sh", "-c", TICK, stdout=subprocess.PIPE, env=WARM)
    try:
        assert proc.stdout.readline() == b"tick 0\n"
        assert warm_client(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143  # the container's trap: exit 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_client_killed_mid_run(pyctr, mode):
    """kill -9 of the client: its worker dies with it, and the container is left as a
    killed cold `pyctr run` leaves it (running, under its monitor; `rm -f` cleans)."""
    if mode == "warm":
        server = start_server(pyctr)
    proc = pyctr.popen("run", "--name", "k", "busybox", "sh", "-c", "echo up; exec sleep 600",
                       stdout=subprocess.PIPE, env=WARM if mode == "warm" else COLD)
    assert proc.stdout.readline() == b"up\n"
    assert warm_client(proc.pid) == (mode == "warm")
    if mode == "warm":  # the command's worker, not the spare forked for the next (in /)
        [worker] = [c for c in _children(server) if os.readlink(f"/proc/{c}/cwd") != "/"]
    proc.kill()
    proc.wait()
    proc.stdout.close()
    if mode == "warm":
        wait_for(lambda: gone(worker))
    assert pyctr("ps", "--format", "{{.Names}} {{.Status}}").stdout.startswith("k Up")
    assert pyctr("rm", "-f", "k").returncode == 0


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def test_detached_run_returns_at_once(pyctr):
    start_server(pyctr)
    r, ran_cold = traced(pyctr, "run", "-d", "--name", "d", "busybox", "sleep", "600")
    assert not ran_cold and r.returncode == 0 and len(r.stdout.strip()) == 64
    assert pyctr("inspect", "--format", "{{.State.Status}}", "d").stdout == "running\n"
    assert pyctr("rm", "-f", "d").returncode == 0


def test_two_hundred_commands_in_parallel_all_answered(pyctr):
    """200 `logs -f` clients at once, each shown warm while it follows, each ending with
    the container's whole output and code 0 when it stops."""
    start_server(pyctr)
    assert pyctr("run", "-d", "--name", "talk", "busybox", "sh", "-c", "echo said; exec sleep 600").returncode == 0
    clients = [pyctr.popen("logs", "-f", "talk", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=WARM)
               for _ in range(200)]
    try:
        for c in clients:
            assert c.stdout.readline() == b"said\n"
        assert all(warm_client(c.pid) for c in clients)
        assert pyctr("stop", "-t", "0", "talk").returncode == 0
        results = [(c.wait(timeout=60), c.stdout.read(), c.stderr.read()) for c in clients]
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait()
            c.stdout.close()
            c.stderr.close()
        pyctr("rm", "-f", "talk")
    assert results == [(0, b"", b"")] * 200


def test_off_by_environment_and_by_config(pyctr):
    start_server(pyctr)
    r, ran_cold = traced(pyctr, "ps", env=COLD)
    assert ran_cold and r.returncode == 0
    pyctr("system", "server", "--stop")
    with open(os.path.join(pyctr.root, "pyctr.toml"), "w") as f:
        f.write('server = false\n')
    for _ in range(2):
        r, ran_cold = traced(pyctr, "ps")
        assert ran_cold and r.returncode == 0
    time.sleep(0.5)
    assert not os.path.exists(socket_path(pyctr)) and servers(pyctr.root) == []


def test_stop_and_idle_exit(pyctr):
    with open(os.path.join(pyctr.root, "pyctr.toml"), "w") as f:
        f.write("server_idle = 1\n")
    server = start_server(pyctr)
    wait_for(lambda: gone(server), timeout=10)  # a second without a command
    assert not os.path.exists(socket_path(pyctr))
    server = start_server(pyctr)
    r = pyctr("system", "server", "--stop")
    assert r.returncode == 0 and gone(server)
    r = pyctr("system", "server", "--stop")
    assert "no warm pyctr process was running" in r.stderr


def test_a_changed_installation_restarts_the_server(pyctr):
    """pip's install adds and removes files in the package's directories: the next command
    runs cold, the old process leaves, a new one serves the next."""
    import pyctr as package
    old = start_server(pyctr)
    marker = os.path.join(os.path.dirname(package.__file__), "cli", "_test_reinstalled.txt")
    with open(marker, "w") as f:
        f.write("a new installation\n")
    try:
        r, ran_cold = traced(pyctr, "ps")
    finally:
        os.unlink(marker)
    assert ran_cold and r.returncode == 0
    wait_for(lambda: gone(old))
    assert pyctr("ps", env=WARM).returncode == 0  # (a traced client starts none) this one starts the next
    wait_for(lambda: os.path.exists(socket_path(pyctr)) and servers(pyctr.root) not in ([], [old]), timeout=30)
    r, ran_cold = traced(pyctr, "ps")
    assert not ran_cold and r.returncode == 0


def test_only_root_or_the_owner_may_connect(pyctr):
    """The socket is 0600 in a 0700 directory; opened up, a connection from another user
    is still refused by its credentials (SO_PEERCRED), and nothing of the request runs."""
    start_server(pyctr)
    directory = os.path.dirname(socket_path(pyctr))
    assert os.stat(directory).st_mode & 0o777 == 0o700 and os.stat(socket_path(pyctr)).st_mode & 0o777 == 0o600
    for d in (pyctr.root, os.path.join(pyctr.root, "run"), directory):
        os.chmod(d, 0o711)
    os.chmod(socket_path(pyctr), 0o666)
    code = f"""
import ctypes, os, socket, struct, sys
from pyctr.cli.server import HEADER, MESSAGE, P
# the directory opened first: the test's temp dirs above it are root's own (0700)
d = os.open({os.path.dirname(socket_path(pyctr))!r}, os.O_PATH | os.O_DIRECTORY)
os.setgroups([]); os.setgid(65534); os.setuid(65534)
ctypes.CDLL(None).prctl(4, 1)  # PR_SET_DUMPABLE, which setuid cleared: /proc/self/fd is ours again
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(f"/proc/self/fd/{{d}}/sock")
argv = b"pyctr\\0run\\0busybox\\0touch\\0/made\\0"
try:  # the server may answer (and close) before it is all sent: it checks the peer first
    s.sendall(HEADER.pack(P["MAGIC"], P["VERSION"], P["RUN"], len(argv), 5, 0, 0o22, 0, 0, 0, *([0] * 2 * P["RLIMITS"])) + argv)
except BrokenPipeError:
    pass
kind, value = MESSAGE.unpack(s.recv(MESSAGE.size, socket.MSG_WAITALL))
print("refused" if kind == P["REFUSED"] else kind)
"""
    r = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=30)
    assert r.stdout == "refused\n", r.stderr
    assert pyctr("ps", "-a", "-q").stdout == ""
    # the client as another user: no socket for it, so the cold CLI answers, as without a server
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", PYCTR, "ps"],
                       capture_output=True, text=True, timeout=60, env={**pyctr.env, **WARM})
    cold = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", PYCTR, "ps"],
                          capture_output=True, text=True, timeout=60, env={**pyctr.env, **COLD})
    assert (r.returncode, r.stderr) == (cold.returncode, cold.stderr) and r.returncode != 0


def test_client_finds_the_server_of_a_relative_runroot(pyctr, tmp_path):
    """--runroot spelled relative to the working directory: the client finds the socket
    where Paths.resolve puts it."""
    env = {**WARM, "PYCTR_RUNROOT": ""}
    for _ in range(2):  # the first makes the runroot, the second starts the warm process
        r = subprocess.run([PYCTR, "--runroot", "./x/../rr", "ps"], env={**pyctr.env, **env}, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    sock = tmp_path / "rr" / "server" / "sock"
    wait_for(sock.exists, timeout=30)
    try:
        log = tmp_path / "execve.log"
        r = subprocess.run(["strace", "-qq", "-e", "trace=execve", "-o", str(log), PYCTR, f"--runroot={tmp_path}/rr/",
                            "ps"], env={**pyctr.env, **env}, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "pyctr-cli" not in log.read_text()
    finally:
        from conftest import stop_server
        stop_server(pyctr.root, str(tmp_path / "rr"))


def test_the_socket_path_may_be_longer_than_sun_path(pyctr, tmp_path):
    deep = tmp_path / ("d" * 100) / ("e" * 100)
    env = {**WARM, "PYCTR_RUNROOT": str(deep)}
    assert pyctr("ps", env=env).returncode == 0 and pyctr("ps", env=env).returncode == 0
    wait_for((deep / "server" / "sock").exists, timeout=30)
    try:
        log = tmp_path / "execve.log"
        r = subprocess.run(["strace", "-qq", "-e", "trace=execve", "-o", str(log), PYCTR, "ps"],
                           env={**pyctr.env, **env}, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "pyctr-cli" not in log.read_text()
    finally:
        from conftest import stop_server
        stop_server(pyctr.root, str(deep))


def test_a_client_in_another_mount_namespace_runs_cold(pyctr):
    start_server(pyctr)
    log = os.path.join(pyctr.root, "execve.log")
    r = subprocess.run(["unshare", "-m", "strace", "-qq", "-e", "trace=execve", "-o", log, PYCTR, "ps"],
                       env={**pyctr.env, **WARM}, capture_output=True, text=True, timeout=60)
    with open(log) as f:
        assert r.returncode == 0 and "pyctr-cli" in f.read()
    os.unlink(log)


def test_a_raw_connection_that_sends_nothing_does_not_block_others(pyctr):
    start_server(pyctr)
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(socket_path(pyctr))
    try:
        r, ran_cold = traced(pyctr, "ps")  # waits at most the server's read timeout behind it
        assert r.returncode == 0
    finally:
        idle.close()


def test_a_spare_worker_killed_is_replaced(pyctr):
    """The workers forked ahead of the next commands (in /, waiting, one per CPU up to 4):
    one killed, the next command is still served warm, and another takes its place."""
    from pyctr.cli.server import SPARES
    server = start_server(pyctr)
    wait_for(lambda: len(_children(server)) == SPARES)
    spares = _children(server)
    assert all(os.readlink(f"/proc/{c}/cwd") == "/" for c in spares)
    os.kill(spares[0], signal.SIGKILL)
    wait_for(lambda: len(_children(server)) == SPARES and spares[0] not in _children(server))
    r, ran_cold = traced(pyctr, "ps")
    assert not ran_cold and r.returncode == 0
    wait_for(lambda: len(_children(server)) == SPARES)


def test_a_server_directory_of_another_user_is_not_used(pyctr):
    """Whoever can put a socket in <runroot>/server would get the command's environment
    and fds: the client uses only its own user's directory (0700), else runs cold."""
    assert pyctr("ps").returncode == 0  # the runroot made
    directory = os.path.join(pyctr.root, "run", "server")
    os.makedirs(directory, exist_ok=True)
    os.chown(directory, 65534, 65534)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(directory, "sock"))
    listener.listen(8)
    listener.settimeout(0.5)
    try:
        r, ran_cold = traced(pyctr, "ps", env={**WARM, "SECRET": "hunter2"})
        assert ran_cold and r.returncode == 0
        with pytest.raises(socket.timeout):
            listener.accept()  # nothing connected
    finally:
        listener.close()
        os.unlink(os.path.join(directory, "sock"))
        os.chown(directory, 0, 0)


def test_ignored_signals_stay_ignored(pyctr):
    """nohup, or a script's `cmd &`: a signal the caller ignores is neither forwarded nor
    taken by the worker, as the cold CLI inherits it ignored."""
    start_server(pyctr)
    proc = subprocess.Popen(["sh", "-c", "trap '' HUP; exec \"$0\" run --rm busybox sh -c 'echo up; sleep 1; echo done'",
                             PYCTR], stdout=subprocess.PIPE, env={**pyctr.env, **WARM})
    try:
        assert proc.stdout.readline() == b"up\n"
        assert warm_client(proc.pid)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=30) == 0 and proc.stdout.read() == b"done\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_a_client_with_fewer_capabilities_runs_cold(pyctr):
    """A worker has the server's capabilities: a client that dropped some must not get
    them back, so it runs cold."""
    start_server(pyctr)
    log = os.path.join(pyctr.root, "execve.log")
    r = subprocess.run(["strace", "-qq", "-e", "trace=execve", "-o", log, "setpriv", "--bounding-set=-sys_ptrace",
                        PYCTR, "ps"], env={**pyctr.env, **WARM}, capture_output=True, text=True, timeout=60)
    with open(log) as f:
        assert r.returncode == 0 and "pyctr-cli" in f.read()
    os.unlink(log)


def test_a_new_server_keeps_none_of_the_first_commands_other_fds(pyctr):
    """The command that starts a server may have inherited a pipe someone reads to its
    end: the server must not hold it for its idle time."""
    assert pyctr("ps", env=WARM).returncode == 0  # the runroot made; the next starts a server
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(pyctr.argv("ps"), env={**pyctr.env, **WARM}, pass_fds=(w,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        w = None
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: os.path.exists(socket_path(pyctr)), timeout=30)
        os.set_blocking(r, False)
        wait_for(lambda: _eof(r), timeout=5)  # not the server's 60 s
    finally:
        if w is not None:
            os.close(w)
        os.close(r)


def _eof(fd: int) -> bool:
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return False
