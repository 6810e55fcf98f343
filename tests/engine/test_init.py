"""run --init: a tiny C init as pid 1 that forwards signals and reaps zombies."""

import time

ORPHAN = "(sleep 0.1 &); echo ready; exec sleep 30"  # sleep 0.1 is orphaned to pid 1


def zombies(pyctr, name) -> int:
    out = pyctr("exec", name, "ps", "-o", "stat").stdout.split()
    return sum(1 for stat in out[1:] if stat.startswith("Z"))


def started(pyctr, *args) -> None:
    r = pyctr("run", "-d", *args)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while "ready" not in pyctr("logs", args[args.index("--name") + 1]).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_init_is_pid_1_and_the_command_its_child(pyctr):
    r = pyctr("run", "--rm", "--init", "busybox", "ps", "-o", "pid,args")
    rows = [line.split(None, 1) for line in r.stdout.splitlines()[1:]]
    assert rows[0] == ["1", "/dev/init -- ps -o pid,args"]
    assert r.returncode == 0


def test_init_passes_the_exit_code(pyctr):
    assert pyctr("run", "--rm", "--init", "busybox", "sh", "-c", "exit 9").returncode == 9


def test_orphans_are_reaped_only_with_init(pyctr):
    started(pyctr, "--init", "--name", "with", "busybox", "sh", "-c", ORPHAN)
    started(pyctr, "--name", "without", "busybox", "sh", "-c", ORPHAN)
    try:
        time.sleep(0.5)  # the orphan has exited by now
        assert zombies(pyctr, "with") == 0
        assert zombies(pyctr, "without") == 1  # pid 1 is a sleep that never waits
    finally:
        pyctr("rm", "-f", "with", "without")


def test_stop_with_init_is_at_once(pyctr):
    started(pyctr, "--init", "--name", "quick", "busybox", "sh", "-c", "echo ready; exec sleep 100")
    try:
        began = time.monotonic()
        assert pyctr("stop", "quick").returncode == 0  # a 10 s grace it does not need
        assert time.monotonic() - began < 5
        assert "Exited (143)" in pyctr("ps", "-a").stdout
    finally:
        pyctr("rm", "-f", "quick")
