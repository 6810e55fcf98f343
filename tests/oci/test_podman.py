"""podman 4.3 driving pyctr-runtime as it drives runc (`--runtime PATH`): conmon calls
create (with --pid-file, and --console-socket for -t), start, kill, delete, exec
(--process, --detach, --tty), pause and resume.  Each test checks what a podman user
sees (output, exit codes, logs, states) and that the runtime keeps nothing afterwards."""

import os
import time

from helpers import wait_for

from .clients import RUNTIME_DEFAULT_ROOT, ok, shell_on_a_pty


def runtime_state(cid: str) -> bool:
    return os.path.exists(os.path.join(RUNTIME_DEFAULT_ROOT, cid))


def test_run_rm_echo(podman, tmp_path):
    cidfile = str(tmp_path / "cid")
    r = podman(*podman.container_flags("run", "--rm", "--cidfile", cidfile, "busybox", "echo", "hi"))
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    with open(cidfile) as f:
        cid = f.read().strip()
    assert not runtime_state(cid)
    assert podman("ps", "-aq").stdout == ""


def test_exit_code_and_config_reach_the_process(podman):
    r = podman(*podman.container_flags("run", "--rm", "-e", "GREETING=hello", "-w", "/tmp", "--hostname", "box",
                                       "busybox", "sh", "-c", 'echo "$GREETING $(pwd) $(hostname) $$"; exit 3'))
    assert (r.returncode, r.stdout) == (3, "hello /tmp box 1\n"), r.stderr


def test_podman_s_config_reaches_the_container(podman):
    """What podman's config asks on this v1 host, read from inside: the user, no
    capabilities, a read-only root with tmpfs (tmpcopyup) on /tmp, and under
    /sys/fs/cgroup the container's own cgroup (no cgroup namespace here: bound, as runc
    does, not the host's tree) with its limits, read-only."""
    script = ("id -u; grep CapEff /proc/self/status; touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw; "
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
              "mkdir /sys/fs/cgroup/pids/x 2>/dev/null || echo cgroup-ro")
    r = podman(*podman.container_flags("run", "--rm", "--user", "1000:1000", "--cap-drop", "all", "--read-only",
                                       "--memory", "64m", "--pids-limit", "50", "busybox", "sh", "-c", script))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["1000", "CapEff:\t0000000000000000", "root-ro", "tmp-rw", str(64 << 20), "50",
                                     "cgroup-ro", ""]


def test_a_command_that_cannot_run_is_127_or_126_with_the_runtime_s_words(podman):
    """As a shell and docker tell them: 127 for a command not found, 126 for one found
    but not runnable; the runtime's reason on podman's stderr."""
    for command, code, words in (("nosuchcmd", 127, "executable file not found in $PATH: nosuchcmd"),
                                 ("/etc", 126, "/etc: Permission denied")):
        r = podman(*podman.container_flags("run", "--rm", "busybox", command))
        assert r.returncode == code and words in r.stderr, (command, r.returncode, r.stderr)
    assert podman("ps", "-aq").stdout == ""


def test_detached_exec_logs_pause_stop_rm(podman):
    script = "trap 'echo bye; exit 3' TERM; echo started; while :; do sleep 0.1; done"
    cid = ok(podman(*podman.container_flags("run", "-d", "--name", "d", "busybox", "sh", "-c", script))).strip()
    assert runtime_state(cid)
    wait_for(lambda: "started" in podman("logs", "d").stdout)
    assert podman("inspect", "d", "--format", "{{.State.Status}}").stdout.strip() == "running"

    # exec: a process of its own in the container, its output and exit code podman's
    r = podman("exec", "-e", "X=1", "-w", "/etc", "d", "sh", "-c", 'echo "$X $(pwd)"; cat /proc/1/cmdline; exit 7')
    assert r.returncode == 7, r.stderr
    first, init = r.stdout.split("\n", 1)
    assert first == "1 /etc"
    assert init.startswith("sh\0-c\0trap")
    assert ok(podman("exec", "d", "sh", "-c", "echo $$")).strip() != "1"

    ok(podman("pause", "d"))
    assert podman("inspect", "d", "--format", "{{.State.Status}}").stdout.strip() == "paused"
    ok(podman("unpause", "d"))
    assert podman("inspect", "d", "--format", "{{.State.Status}}").stdout.strip() == "running"

    started = time.monotonic()
    ok(podman("stop", "-t", "20", "d"))
    assert time.monotonic() - started < 10  # SIGTERM ended it: no wait for the timeout
    assert podman("inspect", "d", "--format", "{{.State.ExitCode}}").stdout.strip() == "3"
    assert podman("logs", "d").stdout == "started\nbye\n"
    ok(podman("rm", "d"))
    assert not runtime_state(cid)
    assert podman("ps", "-aq").stdout == ""


def test_update_stats_top_cp(podman):
    """update (`update --resources FILE`), and what podman reads itself of a container the
    runtime made: its cgroup (stats), its processes (top), its root (cp)."""
    ok(podman(*podman.container_flags("run", "-d", "--name", "u", "--memory", "64m", "busybox", "sleep", "100")))
    assert ok(podman("stats", "--no-stream", "--format", "{{.MemLimit}}", "u")).strip() == str(64 << 20)
    ok(podman("update", "--memory", "128m", "u"))  # (podman's stats go on showing 64m, on runc too)
    assert ok(podman("exec", "u", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")).strip() == str(128 << 20)
    assert "sleep 100" in ok(podman("top", "u"))
    ok(podman("cp", "/etc/os-release", "u:/tmp/copied"))
    with open("/etc/os-release") as f:
        assert ok(podman("exec", "u", "cat", "/tmp/copied")) == f.read()
    ok(podman("rm", "-f", "-t", "0", "u"))


def test_kill_with_a_signal(podman):
    script = "trap 'echo got-usr1; exit 4' USR1; echo ready; while :; do sleep 0.1; done"
    ok(podman(*podman.container_flags("run", "-d", "--name", "k", "busybox", "sh", "-c", script)))
    wait_for(lambda: "ready" in podman("logs", "k").stdout)
    ok(podman("kill", "-s", "USR1", "k"))
    wait_for(lambda: podman("inspect", "k", "--format", "{{.State.Status}}").stdout.strip() == "exited")
    assert podman("inspect", "k", "--format", "{{.State.ExitCode}}").stdout.strip() == "4"
    assert "got-usr1" in podman("logs", "k").stdout
    ok(podman("rm", "k"))


def test_stop_kills_what_ignores_sigterm_and_restart_starts_it_again(podman):
    """stop: `kill ID 15`, then after the timeout `kill ID 9`; restart: a new create and
    start of the same container (its bundle again, the state of the old one gone)."""
    script = "trap '' TERM; echo up; while :; do sleep 0.1; done"
    cid = ok(podman(*podman.container_flags("run", "-d", "--name", "s", "busybox", "sh", "-c", script))).strip()
    wait_for(lambda: "up" in podman("logs", "s").stdout)
    started = time.monotonic()
    ok(podman("stop", "-t", "1", "s"))
    assert 1 <= time.monotonic() - started < 10
    assert podman("inspect", "s", "--format", "{{.State.ExitCode}}").stdout.strip() == "137"
    ok(podman("restart", "-t", "0", "s"))
    wait_for(lambda: podman("logs", "s").stdout.count("up") == 2)
    assert podman("inspect", "s", "--format", "{{.State.Status}}").stdout.strip() == "running"
    ok(podman("rm", "-f", "-t", "0", "s"))
    assert not runtime_state(cid)


def test_tty_through_the_console_socket(podman):
    code, lines = shell_on_a_pty(podman.argv(*podman.container_flags("run", "--rm", "-ti", "busybox", "sh")),
                                 b"tty; stty size; echo $((6*7)); exit 5", b"42")
    assert code == 5
    assert "/dev/pts/0" in lines  # the pty the runtime made in the container's devpts
    assert "33 101" in lines  # our terminal's size, which conmon gives the runtime's pty
    assert "42" in lines


def test_exec_tty_into_a_detached_container(podman):
    ok(podman(*podman.container_flags("run", "-d", "--name", "t", "busybox", "sleep", "100")))
    code, lines = shell_on_a_pty(podman.argv("exec", "-ti", "t", "sh"), b"tty; ps | grep -c 'sleep 100'; exit 6",
                                 b"\n1")
    assert code == 6
    assert any(line.startswith("/dev/pts/") for line in lines)
    ok(podman("rm", "-f", "-t", "0", "t"))
