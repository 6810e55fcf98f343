"""docker compatibility of inspect, the exit codes per verb, logs --since/--until and top:
the command lines a script written for docker uses, and the shapes (field names, value
forms, exit codes) it expects back.  Real containers on the real kernel."""

import json
import os
import re
import time

import pytest

from helpers import wait_for

ZERO = "0001-01-01T00:00:00Z"
RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")
README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def _ok(r) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def _inspect(pyctr, name: str) -> dict:
    [obj] = json.loads(_ok(pyctr("inspect", name)))
    return obj


# inspect: State

def test_exit_code_is_0_while_running_and_the_code_after(pyctr):
    _ok(pyctr("run", "-d", "--name", "w", "busybox", "sh", "-c", "while [ ! -e /go ]; do sleep 0.05; done; exit 3"))
    try:
        assert pyctr("inspect", "-f", "{{.State.ExitCode}}", "w").stdout == "0\n"
        state = _inspect(pyctr, "w")["State"]
        assert state["Status"] == "running" and state["Running"] is True and state["Pid"] > 0
        assert (state["Paused"], state["Restarting"], state["Dead"], state["OOMKilled"], state["Error"]) == \
            (False, False, False, False, "")
        assert RFC3339_NANO.fullmatch(state["StartedAt"]) and state["FinishedAt"] == ZERO
        _ok(pyctr("exec", "w", "touch", "/go"))
        assert _ok(pyctr("wait", "w")) == "3\n"
        assert pyctr("inspect", "-f", "{{.State.ExitCode}}", "w").stdout == "3\n"
        state = _inspect(pyctr, "w")["State"]
        assert (state["Status"], state["Running"], state["Pid"]) == ("exited", False, 0)
        assert RFC3339_NANO.fullmatch(state["FinishedAt"]) and state["FinishedAt"] >= state["StartedAt"]
    finally:
        pyctr("rm", "-f", "w")


def test_state_before_a_start_and_after_an_unseen_exit():
    """ExitCode 0 before the first start (docker's), a start under way shown as created,
    and an exit nobody recorded as docker's 255; Pid 0 whenever it is not running."""
    from pyctr.engine.store import ContainerRecord
    from pyctr.engine.views import state
    base = dict(id="c" * 64, name="c", image_id="i", image_ref="busybox", command=["true"], created=1.0)
    created = state(ContainerRecord(**base, status="starting", pid=os.getpid()))
    assert (created["Status"], created["ExitCode"], created["Pid"], created["StartedAt"]) == ("created", 0, 0, ZERO)
    unseen = state(ContainerRecord(**base, status="exited", started=2.0, finished=3.0))
    assert (unseen["Status"], unseen["ExitCode"], unseen["Running"]) == ("exited", 255, False)


# inspect: HostConfig and Config

def test_limits_in_dockers_fields(pyctr):
    _ok(pyctr("run", "--name", "lim", "-m", "64m", "--cpus", "0.5", "--cpuset-cpus", "0", "--pids-limit", "50",
              "-c", "512", "--memory-reservation", "32m", "busybox", "true"))
    template = ("{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} "
                "{{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.MemorySwap}} "
                "{{.HostConfig.CpuShares}} {{.HostConfig.MemoryReservation}}")
    assert pyctr("inspect", "-f", template, "lim").stdout == \
        "67108864 500000000 0 0 0 50 134217728 512 33554432\n"
    host = _inspect(pyctr, "lim")["HostConfig"]
    assert host["Resources"]["memory"]["limit"] == 67108864  # the OCI form stays beside
    _ok(pyctr("rm", "lim"))


def test_defaults_are_dockers_zero_values(pyctr):
    _ok(pyctr("run", "--name", "plain", "busybox", "true"))
    obj = _inspect(pyctr, "plain")
    host = obj["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["CpuShares"], host["MemorySwap"], host["PidsLimit"]) == \
        (0, 0, 0, 0, None)
    assert (host["CpusetCpus"], host["CpusetMems"], host["Privileged"], host["ReadonlyRootfs"]) == ("", "", False, False)
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert (host["AutoRemove"], host["CapAdd"], host["CapDrop"], host["Init"], host["Binds"]) == \
        (False, None, None, None, None)
    assert host["LogConfig"]["Type"] == "json-file" and host["ShmSize"] == 64 << 20
    assert obj["Name"] == "/plain" and obj["Image"].startswith("sha256:") and obj["RestartCount"] == 0
    assert RFC3339_NANO.fullmatch(obj["Created"]) and os.path.isfile(obj["LogPath"])
    config = obj["Config"]
    assert (config["Image"], config["Cmd"], config["Entrypoint"], config["User"], config["Labels"]) == \
        ("busybox", ["true"], None, "", {})
    assert (config["Tty"], config["OpenStdin"]) == (False, False)
    assert (obj["Path"], obj["Args"]) == ("true", [])
    _ok(pyctr("rm", "plain"))


def test_flags_show_where_docker_shows_them(pyctr):
    _ok(pyctr("run", "--name", "f", "--init", "--read-only", "-u", "nobody", "--cap-add", "NET_ADMIN",
              "--cap-drop", "MKNOD", "--security-opt", "no-new-privileges", "-i", "busybox", "true", input=""))
    obj = _inspect(pyctr, "f")
    host = obj["HostConfig"]
    assert (host["Init"], host["ReadonlyRootfs"], host["CapAdd"], host["CapDrop"]) == \
        (True, True, ["CAP_NET_ADMIN"], ["CAP_MKNOD"])
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert (obj["Path"], obj["Args"]) == ("true", [])  # not --init's /dev/init
    assert (obj["Config"]["User"], obj["Config"]["OpenStdin"]) == ("nobody", True)
    _ok(pyctr("rm", "f"))


def test_entrypoint_and_cmd_split_as_docker(pyctr):
    _ok(pyctr("run", "--name", "ep", "--entrypoint", "sh", "busybox", "-c", "exit 0"))
    assert pyctr("inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "ep").stdout == \
        '["sh"] ["-c","exit 0"]\n'
    obj = _inspect(pyctr, "ep")
    assert (obj["Path"], obj["Args"]) == ("sh", ["-c", "exit 0"])
    _ok(pyctr("run", "--name", "only", "--entrypoint", "true", "busybox"))
    assert pyctr("inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "only").stdout == \
        '["true"] null\n'
    _ok(pyctr("rm", "ep", "only"))


# inspect: several names, --type

def test_several_names_print_the_found_ones_and_fail_for_the_missing(pyctr):
    _ok(pyctr("run", "--name", "a", "busybox", "true"))
    _ok(pyctr("run", "--name", "c", "busybox", "true"))
    # (a missing name no hex id can start with: docker's lookup takes an id's prefix too)
    r = pyctr("inspect", "a", "nob", "c")
    assert r.returncode == 1 and r.stderr == "Error: No such object: nob\n"
    assert [o["Name"] for o in json.loads(r.stdout)] == ["/a", "/c"]
    r = pyctr("inspect", "-f", "{{.Name}} {{.State.Status}}", "a", "nob", "c")
    assert (r.returncode, r.stdout, r.stderr) == (1, "/a exited\n/c exited\n", "Error: No such object: nob\n")
    assert json.loads(pyctr("inspect", "--format", "json", "a").stdout)[0]["Name"] == "/a"
    r = pyctr("inspect", "nope")
    assert (r.returncode, json.loads(r.stdout), r.stderr) == (1, [], "Error: No such object: nope\n")
    _ok(pyctr("rm", "a", "c"))


def test_type_picks_the_kind(pyctr):
    [image] = json.loads(_ok(pyctr("inspect", "--type", "image", "busybox")))
    assert image["Id"].startswith("sha256:") and "busybox:latest" in image["RepoTags"]
    r = pyctr("inspect", "--type", "container", "busybox")
    assert (r.returncode, r.stderr) == (1, "Error: No such container: busybox\n")
    _ok(pyctr("volume", "create", "vol"))
    [volume] = json.loads(_ok(pyctr("inspect", "--type", "volume", "vol")))
    assert volume["Name"] == "vol" and volume["Driver"] == "local"
    assert json.loads(_ok(pyctr("inspect", "vol")))[0]["Name"] == "vol"  # no --type: found as a volume
    r = pyctr("inspect", "--type", "image", "vol")
    assert (r.returncode, r.stderr) == (1, "Error: No such image: vol\n")
    r = pyctr("inspect", "--type", "nope", "vol")
    assert r.returncode == 1 and "--type" in r.stderr and r.stderr.count("\n") == 1
    _ok(pyctr("volume", "rm", "vol"))


# exit codes

MISSING_CONTAINER = [
    ["start", "nosuch"], ["start", "-a", "nosuch"], ["stop", "nosuch"], ["restart", "nosuch"],
    ["kill", "nosuch"], ["rm", "nosuch"], ["wait", "nosuch"], ["logs", "nosuch"], ["top", "nosuch"],
    ["port", "nosuch"], ["inspect", "nosuch"], ["attach", "nosuch"], ["exec", "nosuch", "true"],
    ["update", "-m", "64m", "nosuch"], ["stats", "--no-stream", "nosuch"], ["diff", "nosuch"],
    ["commit", "nosuch", "x:1"], ["export", "nosuch"], ["cp", "nosuch:/etc/hostname", "-"],
    ["cp", "/etc/hostname", "nosuch:/tmp"],
]
MISSING_OTHER = [
    ["rmi", "nosuch"], ["tag", "nosuch", "x:1"], ["history", "nosuch"], ["save", "-o", "/dev/null", "nosuch"],
    ["image", "inspect", "nosuch"], ["image", "rm", "nosuch"], ["load", "-i", "/nonexistent"],
    ["import", "/nonexistent"], ["logout", "nosuch.example"], ["pull", "127.0.0.1:1/nosuch:1"],
    ["volume", "inspect", "nosuch"], ["volume", "rm", "nosuch"], ["network", "inspect", "nosuch"],
    ["network", "rm", "nosuch"], ["network", "connect", "nosuch", "nosuch"],
    ["network", "disconnect", "nosuch", "nosuch"], ["version", "-f", "{{.Nope}}"],
]


@pytest.mark.parametrize("line", MISSING_CONTAINER + MISSING_OTHER, ids=" ".join)
def test_a_failing_verb_exits_1(pyctr, line):
    r = pyctr(*line)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("verb", [["stop", "-t", "0"], ["kill"], ["wait"], ["restart", "-t", "0"], ["start"]])
def test_several_names_act_on_each_and_fail_for_the_missing(pyctr, verb):
    """docker stop a nosuch b: a and b are acted on, nosuch told, exit 1."""
    names = ["x1", "x2"]
    for name in names:  # (wait: on containers that exited, to return at once)
        _ok(pyctr("run", *([] if verb == ["wait"] else ["-d"]), "--name", name, "busybox",
                  *(["true"] if verb == ["wait"] else ["sleep", "30"])))
    try:
        r = pyctr(*verb, "x1", "nosuch", "x2")
        assert r.returncode == 1 and r.stderr == "pyctr: no such container: nosuch\n"
        assert len(r.stdout.splitlines()) == 2
    finally:
        pyctr("rm", "-f", *names)


@pytest.mark.parametrize("line,code", [
    (["run", "--volumes-from", "nosuch", "busybox", "true"], 125),  # a missing container: pyctr failed
    (["run", "--net", "container:nosuch", "busybox", "true"], 125),
    (["run", "--rm", "nosuchimage"], 125),
    (["run", "--rm", "busybox", "nosuchcommand"], 127),
    (["run", "--rm", "busybox", "/etc"], 126),
    (["run", "--rm", "busybox", "sh", "-c", "exit 7"], 7),
    (["ps", "--bogus"], 125),  # a bad flag: 125 for every verb
    (["rm", "--bogus", "x"], 125),
    (["volume", "ls", "--bogus"], 125),
])
def test_run_and_usage_errors_keep_dockers_codes(pyctr, line, code):
    r = pyctr(*line)
    assert r.returncode == code, r.stderr
    assert pyctr.store().list_containers() == []


def test_the_verb_is_read_after_the_global_options(pyctr):
    assert pyctr("--root", pyctr.root, "run", "--rm", "nosuchimage").returncode == 125
    assert pyctr(f"--root={pyctr.root}", "stop", "nosuch").returncode == 1
    _ok(pyctr("run", "--name", "gone", "busybox", "true"))
    r = pyctr("--root", pyctr.root, "top", "gone")  # not running: refused, as docker's daemon does
    assert r.returncode == 1 and "is not running" in r.stderr
    _ok(pyctr("rm", "gone"))


def test_the_readme_lists_every_verb():
    """The README's exit-code table names every command `pyctr --help` lists (and each of
    the groups')."""
    import typer.main

    from pyctr.cli.commands import app
    with open(README) as f:
        text = f.read()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z][a-z -]*?)`", section))
    group = typer.main.get_group(app)
    missing = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        for sub in (getattr(command, "commands", None) or {None: None}):
            verb = f"{name} {sub}" if sub else name
            if verb not in listed and name not in listed:
                missing.append(verb)
    assert missing == []


# logs --since, --until

def _log_times(pyctr, name: str) -> list[str]:
    return [line.split(" ", 1)[0] for line in _ok(pyctr("logs", "-t", name)).splitlines()]


def test_logs_since_and_until_take_times_unix_times_and_durations(pyctr):
    _ok(pyctr("run", "--name", "lg", "busybox", "sh", "-c", "echo a; sleep 0.3; echo b; sleep 0.3; echo c"))
    times = _log_times(pyctr, "lg")
    assert len(times) == 3 and all(RFC3339_NANO.fullmatch(t) for t in times)
    middle = times[1]
    assert _ok(pyctr("logs", "--since", middle, "lg")) == "b\nc\n"
    assert _ok(pyctr("logs", "--until", middle, "lg")) == "a\nb\n"  # both ends included, as docker's
    import calendar
    unix = f"{calendar.timegm(time.strptime(middle[:19], '%Y-%m-%dT%H:%M:%S'))}.{middle[20:29]}"
    assert _ok(pyctr("logs", "--since", unix, "lg")) == "b\nc\n"
    assert _ok(pyctr("logs", "--until", unix, "lg")) == "a\nb\n"
    assert _ok(pyctr("logs", "--since", middle[:29] + "+00:00", "lg")) == "b\nc\n"  # with an offset
    assert _ok(pyctr("logs", "--since", "1h", "lg")) == "a\nb\nc\n"
    assert _ok(pyctr("logs", "--until", "1h", "lg")) == ""
    assert _ok(pyctr("logs", "--since", "1h30m", "--until", "-1m", "lg")) == "a\nb\nc\n"
    r = pyctr("logs", "--until", "yesterday", "lg")
    assert r.returncode == 1 and "--until" in r.stderr and r.stderr.count("\n") == 1
    _ok(pyctr("rm", "lg"))


def test_logs_follow_ends_at_until(pyctr):
    _ok(pyctr("run", "-d", "--name", "fl", "busybox", "sh", "-c", "echo first; sleep 30"))
    try:
        wait_for(lambda: _ok(pyctr("logs", "fl")) == "first\n")
        r = pyctr("logs", "-f", "--until", "-1s", "fl", timeout=20)  # a second ahead: then it ends
        assert (r.returncode, r.stdout) == (0, "first\n")
    finally:
        pyctr("rm", "-f", "fl")


def test_since_parsing():
    from pyctr.engine.logs import parse_time
    now = 1733130000.25
    assert parse_time("1733130000.5") == "2024-12-02T09:00:00.500000000Z"
    assert parse_time("1733130000") == "2024-12-02T09:00:00.000000000Z"
    assert parse_time("10m", now=now) == "2024-12-02T08:50:00.250000000Z"
    assert parse_time("1h30m", now=now) == "2024-12-02T07:30:00.250000000Z"
    assert parse_time("2024-12-02T10:00:00+01:00") == "2024-12-02T09:00:00.000000000Z"
    assert parse_time("2024-12-02T09:00:00.123Z") == "2024-12-02T09:00:00.123000000Z"
    assert parse_time("2024-12-02Z") == "2024-12-02T00:00:00.000000000Z"
    for bad in ("", "10x", "2024-13-01", "2024-02-30T10:00:00Z", "2024-12-02T24:00", "soon", "1.2.3", "1e9"):
        with pytest.raises(Exception):
            parse_time(bad)


# top

def test_top_shows_ps_ef_columns_and_takes_ps_options(pyctr):
    _ok(pyctr("run", "-d", "--name", "t", "busybox", "sh", "-c", "sleep 31 & sleep 32 & wait"))
    try:
        wait_for(lambda: "sleep 32" in pyctr("top", "t").stdout)
        lines = _ok(pyctr("top", "t")).splitlines()
        assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        commands = sorted(line.split(None, 7)[7] for line in lines[1:])
        assert commands == ["sh -c sleep 31 & sleep 32 & wait", "sleep 31", "sleep 32"]
        pid = json.loads(_ok(pyctr("inspect", "t")))[0]["State"]["Pid"]
        lines = _ok(pyctr("top", "t", "-o", "pid,comm")).splitlines()
        assert lines[0].split() == ["PID", "COMMAND"]
        rows = [line.split() for line in lines[1:]]
        assert [str(pid), "sh"] in rows and sorted(r[1] for r in rows) == ["sh", "sleep", "sleep"]
        r = pyctr("top", "t", "--no-such-ps-option")
        assert r.returncode == 1 and r.stderr.startswith("pyctr: ps: ") and r.stderr.count("\n") == 1
    finally:
        pyctr("rm", "-f", "t")
