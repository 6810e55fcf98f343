"""Log size caps (`--log-opt max-size=... --log-opt max-file=...`, docker's json-file
options) on real containers: the monitor rotates, `logs` (and `logs -f`) reads across the
files, bad options are refused before anything is made, and logs are 0600 whatever the
umask."""

import json
import os
import stat
import subprocess

import pytest

from helpers import exited, wait_for

# numbered lines, padded so that a record is about 130 bytes
COUNT = "i=0; while [ $i -lt {n} ]; do echo \"line $i {pad}\"; i=$((i+1)); {pause} done"
PAD = "x" * 40


def _count(n: int, pause: str = "") -> str:
    return COUNT.format(n=n, pad=PAD, pause=pause)


def _log_files(pyctr, name: str) -> dict[str, bytes]:
    [record] = pyctr.store().find_containers(name)
    d = os.path.join(pyctr.root, "containers", record.id)
    out = {}
    for f in sorted(os.listdir(d)):
        if f.startswith("container.log"):
            with open(os.path.join(d, f), "rb") as log:
                out[f] = log.read()
    return out


def _numbers(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines()]


def test_a_chatty_container_keeps_max_file_files_of_at_most_max_size(pyctr):
    r = pyctr("run", "--name", "chatty", "--log-opt", "max-size=4k", "--log-opt", "max-file=3", "busybox",
              "sh", "-c", _count(3000))
    assert r.returncode == 0, r.stderr
    assert _numbers(r.stdout) == list(range(3000))  # the caller sees all of it
    files = _log_files(pyctr, "chatty")
    assert sorted(files) == ["container.log", "container.log.1", "container.log.2"]
    kept = []
    for name in ("container.log.2", "container.log.1", "container.log"):
        data = files[name]
        assert 0 < len(data) <= 4000, name  # 4k is docker's 4000 bytes
        assert data.endswith(b"\n")
        kept += [json.loads(line)["log"] for line in data.decode().splitlines()]  # whole records only
    assert kept[-1].startswith("line 2999 ") and _numbers("".join(kept)) == list(range(3000 - len(kept), 3000))

    logs = pyctr("logs", "chatty")
    assert logs.stdout == "".join(kept)  # oldest file first, in order
    tail = pyctr("logs", "--tail", "50", "chatty").stdout
    assert _numbers(tail) == list(range(2950, 3000))  # more than the newest file holds
    assert len(files["container.log"].splitlines()) < 50

    # a start again writes on under the same cap
    assert pyctr("start", "-a", "chatty").returncode == 0
    files = _log_files(pyctr, "chatty")
    assert sorted(files) == ["container.log", "container.log.1", "container.log.2"]
    assert all(len(data) <= 4000 for data in files.values())
    assert _numbers(pyctr("logs", "--tail", "1", "chatty").stdout) == [2999]
    assert pyctr("rm", "chatty").returncode == 0


def test_max_file_1_starts_the_log_over(pyctr):
    r = pyctr("run", "--name", "one", "--log-opt", "max-size=2k", "busybox", "sh", "-c", _count(200))
    assert r.returncode == 0, r.stderr
    files = _log_files(pyctr, "one")
    assert list(files) == ["container.log"] and len(files["container.log"]) <= 2000
    assert _numbers(pyctr("logs", "one").stdout)[-1] == 199
    assert pyctr("rm", "one").returncode == 0


@pytest.mark.parametrize("max_file", ["4", "1"])
def test_logs_follow_keeps_following_through_rotations(pyctr, max_file):
    """About 8 records a file, one every ~12 ms, once the follower is there: it goes
    through dozens of rotations.  With old files kept it sees every line (a file goes only
    after three newer ones: the follower would have to stall for ~300 ms); with none kept
    a file may go before it is read, but what it shows is in order and ends with the last
    line."""
    wait = "echo 'line -1 waits'; while [ ! -e /go ]; do usleep 10000; done; "
    r = pyctr("run", "-d", "--name", "rolling", "--log-opt", "max-size=1k", "--log-opt", f"max-file={max_file}",
              "busybox", "sh", "-c", wait + _count(300, "usleep 10000;"))
    assert r.returncode == 0, r.stderr
    try:
        follower = pyctr.popen("logs", "-f", "rolling", stdout=subprocess.PIPE, text=True)
        try:
            assert follower.stdout.readline() == "line -1 waits\n"
            assert pyctr("exec", "rolling", "touch", "/go").returncode == 0
            out, _ = follower.communicate(timeout=120)  # -f ends when the container does
        finally:
            follower.kill()
        seen = _numbers(out)
        if max_file == "1":
            assert seen == sorted(set(seen)) and seen[-1] == 299 and len(seen) > 16  # through rotations
        else:
            assert seen == list(range(300))
        wait_for(exited(pyctr, "rolling"))
    finally:
        assert pyctr("rm", "-f", "rolling").returncode == 0


@pytest.mark.parametrize("opts,message", [
    (["max-size=10x"], "invalid max-size: '10x'"),
    (["max-size=0"], "max-size must be a positive number"),
    (["max-size=-1m"], "invalid max-size"),
    (["max-size=99999999999999999999p"], "too large"),
    (["max-size=1m", "max-file=0"], "max-file cannot be less than 1"),
    (["max-size=1m", "max-file=two"], "invalid max-file: 'two'"),
    (["max-size=1m", "max-file=99999999999"], "too large"),
    (["max-file=3"], "max-file needs max-size"),
    (["mode=non-blocking"], "unknown log opt 'mode' for json-file log driver"),
    (["max-size"], "invalid log opt 'max-size': use KEY=VALUE"),
])
@pytest.mark.parametrize("detach", [[], ["-d"]])
def test_bad_log_opts_are_refused_in_one_line_and_leave_nothing(pyctr, opts, message, detach):
    line = [arg for opt in opts for arg in ("--log-opt", opt)]
    r = pyctr("run", *detach, *line, "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


def test_logs_are_0600_whatever_the_umask(pyctr):
    """Under umask 000 a log used to be 0666: the container's output (and what it prints of
    its secrets) readable and writable by every user."""
    def run_under_umask_000(name: str, *flags: str):
        r = subprocess.run(["sh", "-c", 'umask 000; exec "$@"', "sh",
                            *pyctr.argv("run", "--name", name, *flags, "busybox", "sh", "-c", _count(30))],
                           capture_output=True, text=True, env=pyctr.env, timeout=60)
        assert r.returncode == 0, r.stderr
        [record] = pyctr.store().find_containers(name)
        return os.path.join(pyctr.root, "containers", record.id)

    plain = run_under_umask_000("plain")
    rotated = run_under_umask_000("rotated", "--log-opt", "max-size=1k", "--log-opt", "max-file=2")
    for path in (f"{plain}/container.log", f"{rotated}/container.log", f"{rotated}/container.log.1"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert pyctr("rm", "plain", "rotated").returncode == 0
