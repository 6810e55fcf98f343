"""docker's `run` flags a script would use, on real containers: --restart (and the boot
command of the pyctr-restart unit), --label/--label-file, --ulimit, --oom-score-adj,
--oom-kill-disable, --group-add, --shm-size, --cidfile, --pull, --stop-signal,
--stop-timeout, --detach-keys and --sig-proxy; each with docker's output shape and exit
code."""

import json
import os
import signal
import subprocess
import time

from helpers import monitor_of, read_until, wait_for

LOOP = "while true; do sleep 0.1; done"


def _inspect(pyctr, name: str) -> dict:
    r = pyctr("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def _ps_row(pyctr, name: str) -> str:
    """The container's row of `ps -a` (docker's table: its STATUS column among it)."""
    [row] = [line for line in pyctr("ps", "-a").stdout.splitlines() if line.rstrip().endswith(" " + name)]
    return row


def _record(pyctr, name: str):
    [record] = pyctr.store().find_containers(name)
    return record


def _config(pyctr, container_id: str) -> dict:
    with open(os.path.join(pyctr.root, "containers", container_id, "config.json")) as f:
        return json.load(f)


def _settled(pyctr, name: str, count: int):
    """Once it was restarted `count` times and its last run's exit is on record."""
    wait_for(lambda: (lambda r: r.restart_count >= count and r.status == "exited")(_record(pyctr, name)), timeout=30)
    return _record(pyctr, name)


# --restart

def test_restart_on_failure_restarts_exactly_n_times_with_back_off(pyctr):
    r = pyctr("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c",
              "cat /proc/uptime; exit 1")
    assert r.returncode == 0, r.stderr
    try:
        record = _settled(pyctr, "flaky", 3)
        # no fourth: the policy's count is spent, and nothing waits to restart it
        assert (record.restart_count, record.exit_code) == (3, 1)
        assert _inspect(pyctr, "flaky")["RestartCount"] == 3
        assert "Exited (1)" in _ps_row(pyctr, "flaky")
        uptimes = [float(line.split()[0]) for line in pyctr("logs", "flaky").stdout.splitlines()]
        assert len(uptimes) == 4  # the run and its three restarts
        assert uptimes == sorted(uptimes) and len(set(uptimes)) == 4
    finally:
        pyctr("rm", "-f", "flaky")


def test_restart_on_failure_does_not_restart_a_clean_exit(pyctr):
    assert pyctr("run", "--name", "clean", "--restart", "on-failure", "busybox", "true").returncode == 0
    record = _record(pyctr, "clean")
    assert (record.status, record.restart_count) == ("exited", 0)
    assert pyctr("rm", "clean").returncode == 0


def test_restart_always_restarts_after_exit_0_until_stopped(pyctr):
    r = pyctr("run", "-d", "--name", "ever", "--restart", "always", "busybox", "sh", "-c", "echo run; sleep 0.3")
    assert r.returncode == 0, r.stderr
    try:
        wait_for(lambda: _record(pyctr, "ever").restart_count >= 2, timeout=30)
        assert pyctr("stop", "ever").returncode == 0
        stopped = _record(pyctr, "ever")
        assert stopped.status == "exited" and stopped.stopped_by_user
        time.sleep(1.5)  # longer than the back-off it had reached: a restart would have come
        assert (_record(pyctr, "ever").status, _record(pyctr, "ever").restart_count) == ("exited",
                                                                                        stopped.restart_count)
        assert "Exited (" in _ps_row(pyctr, "ever")
        # a user's start lifts the stop, and counts from 0 again (docker's RestartCount)
        assert pyctr("start", "ever").returncode == 0
        assert _inspect(pyctr, "ever")["RestartCount"] == 0
        assert pyctr("stop", "ever").returncode == 0
    finally:
        pyctr("rm", "-f", "ever")


def test_a_foreground_run_with_a_policy_returns_its_code_and_the_restarts_go_on(pyctr):
    r = pyctr("run", "--name", "fg", "--restart", "on-failure:1", "busybox", "sh", "-c", "echo hi; exit 4")
    assert (r.returncode, r.stdout) == (4, "hi\n")  # and nothing of the restarter held our pipes
    try:
        record = _settled(pyctr, "fg", 1)
        assert record.exit_code == 4
        assert pyctr("logs", "fg").stdout == "hi\nhi\n"
    finally:
        pyctr("rm", "-f", "fg")


def test_restart_and_rm_conflict(pyctr):
    r = pyctr("run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.strip().endswith("Conflicting options: --restart and --rm")
    assert pyctr("run", "--rm", "--restart", "no", "busybox", "true").returncode == 0
    assert pyctr.store().list_containers() == []


def test_a_bad_restart_policy_is_refused(pyctr):
    for policy in ("sometimes", "always:3", "on-failure:x"):
        r = pyctr("run", "--restart", policy, "busybox", "true")
        assert r.returncode == 125 and "restart policy" in r.stderr and r.stderr.count("\n") == 1
    assert pyctr.store().list_containers() == []


def _killed_as_by_a_reboot(pyctr, name: str) -> None:
    """Its monitor and its process gone at once, with no cleanup: as after a reboot."""
    pid = _record(pyctr, name).pid
    monitor = monitor_of(pid)
    os.kill(monitor, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") and not os.path.exists(f"/proc/{monitor}"))


def test_the_restart_units_command_brings_back_what_the_policy_wants_running(pyctr):
    """pyctr-restart.service runs `pyctr _restart-policy` at boot."""
    unit = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "systemd", "pyctr-restart.service")
    with open(unit) as f:
        assert "ExecStart=/usr/local/bin/pyctr _restart-policy\n" in f.read()
    names = ("always", "unless", "stopped", "none")
    for name, policy in zip(names, ("always", "unless-stopped", "unless-stopped", "no")):
        assert pyctr("run", "-d", "--name", name, "--restart", policy, "busybox", "sleep", "100").returncode == 0
    try:
        assert pyctr("stop", "-t", "0", "stopped").returncode == 0  # a user's stop: it stays down
        for name in ("always", "unless", "none"):
            _killed_as_by_a_reboot(pyctr, name)
        r = pyctr("_restart-policy")
        assert r.returncode == 0, r.stderr
        assert sorted(r.stdout.split()) == ["always", "unless"]
        status = {c.name: c.status for c in pyctr.store().list_containers()}
        assert status == {"always": "running", "unless": "running", "stopped": "exited", "none": "exited"}
        assert pyctr("_restart-policy").stdout == ""  # what runs already is left alone
    finally:
        pyctr("rm", "-f", *names)


# labels

def test_labels_from_flags_and_a_file_are_kept(pyctr, tmp_path):
    label_file = tmp_path / "labels"
    label_file.write_text("# a comment\ncolor=blue\n\nteam=db\n")
    r = pyctr("run", "-d", "--name", "lab", "-l", "team=web", "--label", "tier=1", "--label-file", str(label_file),
              "busybox", "true")
    assert r.returncode == 0, r.stderr
    try:
        annotations = _config(pyctr, r.stdout.strip())["annotations"]
        # --label over --label-file over the image's
        assert json.loads(annotations["org.pyctr.labels"]) == {"color": "blue", "team": "web", "tier": "1"}
        shown = _inspect(pyctr, "lab").get("Config", {}).get("Labels")
        assert shown in (None, {"color": "blue", "team": "web", "tier": "1"})  # where inspect shows them
    finally:
        pyctr("rm", "-f", "lab")


def test_a_label_file_that_is_not_a_regular_file_is_refused(pyctr):
    r = pyctr("run", "--rm", "--label-file", "/dev/zero", "busybox", "true")
    assert r.returncode == 125 and r.stderr.count("\n") == 1


# limits inside

def test_ulimit_sets_the_soft_and_hard_limits(pyctr):
    r = pyctr("run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
    assert (r.returncode, r.stdout) == (0, "100\n200\n")
    r = pyctr("run", "--rm", "--ulimit", "nofile=300:200", "busybox", "true")
    assert r.returncode == 125 and "soft limit" in r.stderr


def test_oom_score_adj_is_the_processs(pyctr):
    r = pyctr("run", "--rm", "--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj")
    assert (r.returncode, r.stdout) == (0, "500\n")
    r = pyctr("run", "--rm", "--oom-score-adj", "1001", "busybox", "true")
    assert r.returncode == 125 and "[-1000, 1000]" in r.stderr


def test_oom_kill_disable(pyctr):
    from pyctr.runtime import cgroups
    r = pyctr("run", "-d", "--name", "nooom", "-m", "64m", "--oom-kill-disable", "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    try:
        if cgroups.mode() == "v2":  # no such switch: docker's warning, and it is dropped
            assert "OOM kill disable discarded" in r.stderr
        else:
            [memory] = [d for d in pyctr.cgroup_dirs(r.stdout.strip()) if "/memory/" in d]
            with open(os.path.join(memory, "memory.oom_control")) as f:
                assert "oom_kill_disable 1\n" in f.read()
    finally:
        pyctr("rm", "-f", "nooom")


def test_group_add_by_number_and_by_the_images_name(pyctr):
    r = pyctr("run", "--rm", "--group-add", "27", "--group-add", "tty", "busybox", "id")
    assert r.returncode == 0, r.stderr
    groups = r.stdout.split("groups=")[1].split()[0].split(",")
    assert "27" in groups and "5(tty)" in groups
    r = pyctr("run", "--rm", "--group-add", "nosuchgroup", "busybox", "id")
    assert r.returncode == 125 and "unable to find group nosuchgroup" in r.stderr


def test_shm_size_is_dev_shms(pyctr):
    r = pyctr("run", "--rm", "--shm-size", "1m", "busybox", "df", "-k", "/dev/shm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[1] == "1024"  # 1K-blocks
    assert pyctr("run", "--rm", "--shm-size", "lots", "busybox", "true").returncode == 125


# --cidfile, --pull

def test_cidfile_gets_the_id_and_is_never_overwritten(pyctr, tmp_path):
    cidfile = str(tmp_path / "cid")
    r = pyctr("run", "-d", "--cidfile", cidfile, "busybox", "true")
    assert r.returncode == 0, r.stderr
    container_id = r.stdout.strip()
    try:
        with open(cidfile) as f:
            assert f.read() == container_id
        again = pyctr("run", "--cidfile", cidfile, "busybox", "true")
        assert again.returncode == 125
        assert again.stderr.strip().endswith(
            f"Container ID file found, make sure the other container isn't running or delete {cidfile}")
        assert [c.id for c in pyctr.store().list_containers()] == [container_id]
    finally:
        pyctr("rm", "-f", container_id)
    failed = str(tmp_path / "failed")
    assert pyctr("run", "--cidfile", failed, "--pull", "never", "localhost:5000/no/such:1", "true").returncode == 125
    assert not os.path.exists(failed)  # a failed run leaves no cidfile


def test_pull_never_with_a_missing_image(pyctr):
    r = pyctr("run", "--rm", "--pull", "never", "localhost:5000/no/such:1", "true")
    assert r.returncode == 125
    assert r.stderr.strip().endswith("No such image: localhost:5000/no/such:1")
    assert "Unable to find image" not in r.stderr
    # a name with no registry to pull from (and none set) is the store's: --pull always runs it
    assert pyctr("run", "--rm", "--pull", "always", "busybox", "true").returncode == 0
    r = pyctr("run", "--rm", "--pull", "sometimes", "busybox", "true")
    assert r.returncode == 125 and 'must be one of "always", "missing" or "never"' in r.stderr


# stopping

def test_stop_signal_is_what_stop_sends(pyctr):
    script = f"trap 'echo got USR1; exit 0' USR1; echo ready; {LOOP}"
    assert pyctr("run", "-d", "--name", "sig", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c", script).returncode == 0
    try:
        wait_for(lambda: "ready" in pyctr("logs", "sig").stdout)
        assert pyctr("stop", "sig").returncode == 0
        assert pyctr("logs", "sig").stdout == "ready\ngot USR1\n"
        assert _record(pyctr, "sig").exit_code == 0
    finally:
        pyctr("rm", "-f", "sig")


def test_stop_timeout_is_stops_default_grace(pyctr):
    # its TERM trap would end it with 0 after the current sleep: a grace of 0 kills it first
    script = "trap 'exit 0' TERM; echo ready; while true; do sleep 1; done"
    assert pyctr("run", "-d", "--name", "quick", "--stop-timeout", "0", "busybox", "sh", "-c", script).returncode == 0
    try:
        wait_for(lambda: "ready" in pyctr("logs", "quick").stdout)
        assert pyctr("stop", "quick").returncode == 0
        assert _record(pyctr, "quick").exit_code == 137
        assert _config(pyctr, _record(pyctr, "quick").id)["annotations"]["org.pyctr.stoptimeout"] == "0"
    finally:
        pyctr("rm", "-f", "quick")


# the attached run: detach keys, signals

def test_detach_keys_are_the_ones_given(pyctr):
    master, slave = os.openpty()
    proc = pyctr.popen("run", "-t", "-i", "--name", "dk", "--detach-keys", "ctrl-x,y", "busybox", "sh",
                       stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    try:
        assert b"# " in read_until(master, b"# ")
        os.write(master, b"\x10\x11")  # ctrl-p ctrl-q: not the keys now, the shell gets them
        os.write(master, b"\x18y")  # ctrl-x y
        assert proc.wait(timeout=15) == 0
        assert _record(pyctr, "dk").status == "running"
    finally:
        os.close(slave)
        os.close(master)
        pyctr("rm", "-f", "dk")


def test_attach_and_start_take_detach_keys(pyctr):
    """docker's attach --detach-keys and start -a --detach-keys: the keys given detach."""
    assert pyctr("run", "-d", "-t", "-i", "--name", "dka", "busybox", "sh").returncode == 0
    try:
        _detach_with_ctrl_x_y(pyctr, "attach", "--detach-keys", "ctrl-x,y", "dka")
        assert pyctr("stop", "-t", "0", "dka").returncode == 0
        _detach_with_ctrl_x_y(pyctr, "start", "-a", "-i", "--detach-keys", "ctrl-x,y", "dka")
    finally:
        pyctr("rm", "-f", "dka")


def _detach_with_ctrl_x_y(pyctr, *argv):
    """`argv` on a pty: the shell answers, then ctrl-x y detaches and it runs on."""
    master, slave = os.openpty()
    proc = pyctr.popen(*argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    try:
        # what is typed before the client's raw mode is set may be flushed: a newline until
        # the shell's prompt answers
        wait_for(lambda: os.write(master, b"\n") and b"# " in read_until(master, b"# ", 0.5))
        os.write(master, b"echo hi-$((6*7))\n")
        assert b"hi-42" in read_until(master, b"hi-42")
        os.write(master, b"\x18y")
        assert proc.wait(timeout=15) == 0
        assert _record(pyctr, "dka").status == "running"
    finally:
        os.close(slave)
        os.close(master)


def test_bad_detach_keys_are_refused(pyctr):
    r = pyctr("run", "--rm", "--detach-keys", "ctrl-1", "busybox", "true")
    assert r.returncode == 125 and "detach keys" in r.stderr
    assert pyctr.store().list_containers() == []


def test_sig_proxy_false_keeps_signals_from_the_container(pyctr):
    script = f"trap 'echo got USR1; exit 3' USR1; echo ready; {LOOP}"
    proc = pyctr.popen("run", "--sig-proxy=false", "--name", "np", "busybox", "sh", "-c", script,
                       stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGUSR1)
        assert proc.wait(timeout=15) == -signal.SIGUSR1  # pyctr run's own default action
        assert _record(pyctr, "np").status == "running"  # not forwarded: the container runs on
        assert "got" not in pyctr("logs", "np").stdout
    finally:
        proc.stdout.close()
        pyctr("rm", "-f", "np")


def test_signals_are_proxied_by_default(pyctr):
    script = f"trap 'echo got USR1; exit 3' USR1; echo ready; {LOOP}"
    proc = pyctr.popen("run", "--sig-proxy=true", "--rm", "busybox", "sh", "-c", script, stdout=subprocess.PIPE,
                       text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=15) == 3
    assert proc.stdout.read() == "got USR1\n"
    proc.stdout.close()


def test_kill_is_a_users_stop_but_a_reload_signal_is_not(pyctr):
    script = f"trap 'echo reload' HUP; echo ready; {LOOP}"
    assert pyctr("run", "-d", "--name", "k", "--restart", "always", "busybox", "sh", "-c", script).returncode == 0
    try:
        wait_for(lambda: "ready" in pyctr("logs", "k").stdout)
        assert pyctr("kill", "-s", "HUP", "k").returncode == 0
        wait_for(lambda: "reload" in pyctr("logs", "k").stdout)
        assert not _record(pyctr, "k").stopped_by_user
        assert pyctr("kill", "k").returncode == 0
        wait_for(lambda: _record(pyctr, "k").status == "exited")
        record = _record(pyctr, "k")
        assert (record.exit_code, record.stopped_by_user, record.restart_count) == (137, 1, 0)
    finally:
        pyctr("rm", "-f", "k")


def test_rm_f_of_a_container_that_keeps_restarting(pyctr):
    assert pyctr("run", "-d", "--name", "loop", "--restart", "always", "busybox", "true").returncode == 0
    wait_for(lambda: _record(pyctr, "loop").restart_count >= 2, timeout=30)
    # while it waits out its back-off (longer with each restart): docker's status
    wait_for(lambda: "Restarting (0) " in _ps_row(pyctr, "loop"), timeout=30)
    assert json.loads(pyctr("inspect", "loop").stdout)[0]["State"]["Status"] == "restarting"
    r = pyctr("rm", "-f", "loop")
    assert (r.returncode, r.stdout) == (0, "loop\n"), r.stderr
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []
