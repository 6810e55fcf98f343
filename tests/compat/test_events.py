"""`pyctr events` as docker users and scripts call it: a container's whole life in order
(`events --since 0 --until now --format ...`), die with its exit code, docker's default
line and JSON keys, filters (one key's values ORed, keys ANDed), times, a stream that sees
what happens after it began and ends quietly on SIGINT/SIGTERM; and, as units, the table's
bound, events committing with the change they tell of, times and filters as docker reads
them."""

import json
import os
import re
import select
import signal
import subprocess
import time

import pytest

from pyctr.engine import event_stream, events
from pyctr.engine.errors import PyctrError
from pyctr.engine.store import Store

TRAP = "trap 'exit 7' TERM; while :; do sleep 0.1; done"
ALL = ("--since", "0", "--until", "now")


def _lines(pyctr, *args) -> list[str]:
    r = pyctr("events", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _life(pyctr, name: str) -> list[str]:
    return [line.split()[0] for line in _lines(pyctr, *ALL, "--format", "{{.Action}} {{.Actor.Attributes.name}}")
            if line.split()[1:] == [name]]


def test_a_containers_whole_life_in_order(pyctr):
    assert pyctr("run", "-d", "--net", "none", "--name", "web", "busybox", "sh", "-c", TRAP).returncode == 0
    assert pyctr("stop", "-t", "5", "web").returncode == 0
    assert pyctr("rm", "web").returncode == 0
    assert _life(pyctr, "web") == ["create", "start", "kill", "die", "stop", "destroy"]
    assert _lines(pyctr, *ALL, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}") == ["7"]
    assert _lines(pyctr, *ALL, "--filter", "event=kill", "--format", "{{.Actor.Attributes.signal}}") == ["15"]


def test_a_foreground_run_with_rm(pyctr):
    assert pyctr("run", "--rm", "--net", "none", "--name", "once", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert _life(pyctr, "once") == ["create", "start", "die", "destroy"]
    assert _lines(pyctr, *ALL, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}") == ["3"]


def test_rm_f_of_a_running_container_kills_it(pyctr):
    assert pyctr("run", "-d", "--net", "none", "--name", "busy", "busybox", "sleep", "60").returncode == 0
    assert pyctr("rm", "-f", "busy").returncode == 0
    assert _life(pyctr, "busy") == ["create", "start", "kill", "die", "destroy"]
    assert _lines(pyctr, *ALL, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}") == ["137"]


def test_create_pause_unpause_and_rename(pyctr):
    assert pyctr("create", "--net", "none", "--name", "made", "busybox", "sleep", "60").returncode == 0
    assert pyctr("start", "made").returncode == 0
    assert pyctr("pause", "made").returncode == 0
    assert pyctr("unpause", "made").returncode == 0
    assert pyctr("rename", "made", "renamed").returncode == 0
    try:
        assert _life(pyctr, "made") == ["create", "start", "pause", "unpause"]
        assert _lines(pyctr, *ALL, "--filter", "event=rename",
                      "--format", "{{.Actor.Attributes.name}} {{.Actor.Attributes.oldName}}") == ["renamed /made"]
    finally:
        assert pyctr("rm", "-f", "renamed").returncode == 0


def test_kill_start_restart(pyctr):
    assert pyctr("run", "-d", "--net", "none", "--name", "web", "busybox", "sh", "-c", TRAP).returncode == 0
    assert pyctr("kill", "web").returncode == 0
    pyctr("wait", "web")
    assert pyctr("start", "web").returncode == 0
    assert pyctr("restart", "-t", "5", "web").returncode == 0
    assert pyctr("rm", "-f", "web").returncode == 0
    assert _life(pyctr, "web") == ["create", "start", "kill", "die", "start", "kill", "die", "stop", "start", "restart",
                                   "kill", "die", "destroy"]
    assert _lines(pyctr, *ALL, "--filter", "event=kill", "--format", "{{.Actor.Attributes.signal}}") == ["9", "15", "9"]
    assert _lines(pyctr, *ALL, "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}") == \
        ["137", "7", "137"]


def test_an_oom_kill_then_die(pyctr):
    r = pyctr("run", "--rm", "--net", "none", "-m", "16m", "--memory-swap", "16m", "--name", "hog", "busybox",
              "sh", "-c", "x=a; while :; do x=$x$x; done")
    assert r.returncode == 137
    assert _life(pyctr, "hog") == ["create", "start", "oom", "die", "destroy"]


def test_docker_default_line_and_json_keys(pyctr):
    r = pyctr("run", "-d", "--net", "none", "--name", "web", "busybox", "true")
    container_id = r.stdout.strip()
    pyctr("wait", "web")
    pyctr("rm", "web")
    lines = _lines(pyctr, *ALL)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container create " + container_id
                        + r" \(image=busybox, name=web\)", lines[0]), lines[0]
    assert re.fullmatch(r".* container die " + container_id + r" \(execDuration=\d+, exitCode=0, image=busybox,"
                        r" name=web\)", lines[2]), lines[2]
    objects = [json.loads(line) for line in _lines(pyctr, *ALL, "--format", "json")]
    assert [o["Action"] for o in objects] == ["create", "start", "die", "destroy"]
    for o in objects:
        assert list(o) == ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
        assert (o["status"], o["id"], o["from"], o["Type"], o["scope"]) == (o["Action"], container_id, "busybox",
                                                                              "container", "local")
        assert o["Actor"] == {"ID": container_id, "Attributes": o["Actor"]["Attributes"]}
        assert all(isinstance(v, str) for v in o["Actor"]["Attributes"].values())
        assert o["time"] == o["timeNano"] // 10**9
    assert [o["timeNano"] for o in objects] == sorted(o["timeNano"] for o in objects)
    table = _lines(pyctr, *ALL, "--format", "table {{.Type}}\t{{.Action}}")
    assert [line.split() for line in table] == [["TYPE", "ACTION"]] + [["container", o["Action"]] for o in objects]
    # the Go template names of the same fields
    assert _lines(pyctr, *ALL, "--format", "{{.Status}} {{.ID}} {{.From}} {{.Type}} {{.Scope}}")[0] == \
        f"create {container_id} busybox container local"


def test_filters_one_keys_values_ored_keys_anded(pyctr):
    # names with letters no hex id has: docker's container= matches a prefix of an id too
    ids = {}
    for name in ("alpha", "omega"):
        ids[name] = pyctr("run", "-d", "--net", "none", "--name", name, "busybox", "true").stdout.strip()
        pyctr("wait", name)

    def shown(*filters):
        args = [arg for f in filters for arg in ("--filter", f)]
        return _lines(pyctr, *ALL, *args, "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    assert shown("container=alpha") == ["create alpha", "start alpha", "die alpha"]
    assert shown(f"container={ids['omega'][:12]}") == ["create omega", "start omega", "die omega"]  # as docker
    assert shown("event=die") == ["die alpha", "die omega"]
    assert shown("status=start") == ["start alpha", "start omega"]  # event's other name
    assert shown("event=start", "event=die", "container=omega") == ["start omega", "die omega"]
    assert shown("container=alpha", "container=omega", "event=create") == ["create alpha", "create omega"]
    assert shown("type=container", "image=busybox", "event=create") == ["create alpha", "create omega"]
    assert shown("type=image") == shown("image=nosuch") == shown("label=nosuch") == []
    assert shown("type=volume", "container=alpha") == []


def test_image_and_volume_events(pyctr):
    assert pyctr("tag", "busybox", "mine:1").returncode == 0
    assert pyctr("rmi", "mine:1").returncode == 0
    assert pyctr("volume", "create", "data").returncode == 0
    assert pyctr("volume", "rm", "data").returncode == 0
    shown = _lines(pyctr, *ALL, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.driver}}")
    image_id = shown[1].split()[2]
    assert image_id.startswith("sha256:")
    assert shown == ["image tag mine:1 <no value>", f"image untag {image_id} <no value>",
                     "volume create <no value> local", "volume destroy <no value> local"]  # docker's map lookups
    volume = [json.loads(line) for line in _lines(pyctr, *ALL, "--format", "json", "--filter", "type=volume")]
    assert volume[0] == {"Type": "volume", "Action": "create", "Actor": {"ID": "data", "Attributes": {"driver": "local"}},
                         "scope": "local", "time": volume[0]["time"], "timeNano": volume[0]["timeNano"]}
    assert _lines(pyctr, *ALL, "--filter", "volume=data", "--format", "{{.Action}}") == ["create", "destroy"]


def test_the_volumes_a_run_makes_and_its_rm_removes(pyctr):
    assert pyctr("run", "--rm", "--net", "none", "-v", "/data", "-v", "named1:/n", "busybox", "true").returncode == 0
    assert pyctr("volume", "rm", "named1").returncode == 0
    shown = [line.split() for line in _lines(pyctr, *ALL, "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")]
    anonymous, container = shown[0][2], shown[2][2]
    assert shown == [["volume", "create", anonymous], ["volume", "create", "named1"], ["container", "create", container],
                     ["container", "start", container], ["container", "die", container],
                     ["container", "destroy", container], ["volume", "destroy", anonymous],
                     ["volume", "destroy", "named1"]]


def test_load_and_commit(pyctr, tmp_path):
    archive = str(tmp_path / "busybox.tar")
    assert pyctr("save", "-o", archive, "busybox").returncode == 0
    assert pyctr("load", "-i", archive).returncode == 0
    assert pyctr("run", "--net", "none", "--name", "c1", "busybox", "touch", "/x").returncode == 0
    image_id = pyctr("commit", "c1", "snap:1").stdout.strip()
    pyctr("rm", "c1")
    pyctr("rmi", "snap:1")
    shown = _lines(pyctr, *ALL, "--filter", "event=load", "--filter", "event=commit", "--format",
                   "{{.Type}} {{.Action}} {{.Actor.Attributes.imageID}} {{.Actor.Attributes.imageRef}}")
    assert shown == ["image load <no value> <no value>", f"container commit {image_id} snap:1"]
    assert _lines(pyctr, *ALL, "--filter", "type=image", "--filter", f"image={image_id}", "--format",
                  "{{.Action}}") == ["untag", "delete"]


def test_since_and_until(pyctr):
    pyctr("run", "--rm", "--net", "none", "--name", "first", "busybox", "true")
    stamps = [json.loads(line)["timeNano"] for line in _lines(pyctr, *ALL, "--format", "json")]
    pyctr("run", "--rm", "--net", "none", "--name", "second", "busybox", "true")
    last = stamps[-1]
    after = f"{last // 10**9}.{last % 10**9 + 1:09d}"  # Unix seconds, with ns
    names = "{{.Actor.Attributes.name}}"
    assert set(_lines(pyctr, "--since", after, "--until", "now", "--format", names)) == {"second"}
    assert set(_lines(pyctr, "--since", "0", "--until", f"{last // 10**9}.{last % 10**9:09d}",
                      "--format", names)) == {"first"}
    assert len(_lines(pyctr, "--since", "1h", "--until", "0s")) == 8  # durations: ago
    assert len(_lines(pyctr, "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02")) == 0
    assert _lines(pyctr, "--until", "2000-01-01T00:00:00.5+01:00") == []


def test_wrong_filters_times_and_templates_as_docker(pyctr):
    r = pyctr("events", "--filter", "colour=red", "--until", "now")
    assert r.returncode == 1 and "invalid filter 'colour'" in r.stderr
    assert pyctr("events", "--filter", "container", "--until", "now").returncode == 125
    r = pyctr("events", "--since", "yesterday", "--until", "now")
    assert r.returncode == 1 and 'failed to parse value as time or duration: "yesterday"' in r.stderr
    assert pyctr("events", "--until", "now", "--format", "{{.Action}}{{end}}").returncode == 64
    assert pyctr("events", "--until", "now", "--format", "{{if .Action}}").returncode == 64


class _Stream:
    """A running `pyctr events`, its lines read as they come."""

    def __init__(self, pyctr, *args):
        self.proc = pyctr.popen("events", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buffer = b""

    def wait_for(self, line: str, timeout: float = 20) -> list[str]:
        """Lines up to the one wanted."""
        deadline = time.monotonic() + timeout
        while (line + "\n").encode() not in self.buffer:
            assert time.monotonic() < deadline, f"no {line!r} in {self.buffer!r}"
            if select.select([self.proc.stdout], [], [], 0.1)[0]:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"the stream ended: {self.buffer!r} {self.proc.stderr.read()!r}"
                self.buffer += chunk
        return self.buffer.decode().splitlines()

    def stop(self, sig: int) -> tuple[int, bytes]:
        self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=20)
        finally:
            self.proc.kill()
        return self.proc.returncode, err


def _started(pyctr, stream: _Stream) -> None:
    """Until the stream is known to follow: a volume made again and again until it shows one."""
    deadline = time.monotonic() + 20
    n = 0
    while b"volume create" not in stream.buffer:
        assert time.monotonic() < deadline, stream.buffer
        pyctr("volume", "create", f"mark{n}")
        pyctr("volume", "rm", f"mark{n}")
        n += 1
        if select.select([stream.proc.stdout], [], [], 0.3)[0]:
            stream.buffer += os.read(stream.proc.stdout.fileno(), 65536)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stream_sees_what_happens_after_it_began_and_ends_quietly(pyctr, sig):
    stream = _Stream(pyctr, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    try:
        _started(pyctr, stream)
        assert pyctr("run", "--rm", "--net", "none", "--name", "live", "busybox", "true").returncode == 0
        lines = stream.wait_for("container destroy live")
        assert [line for line in lines if line.startswith("container ")] == [
            "container create live", "container start live", "container die live", "container destroy live"]
    finally:
        code, err = stream.stop(sig)
    assert (code, err) == (0, b"")


def test_since_1m_follows_the_past_then_the_new(pyctr):
    pyctr("run", "--rm", "--net", "none", "--name", "past", "busybox", "true")
    stream = _Stream(pyctr, "--since", "1m", "--filter", "type=container", "--format",
                     "{{.Action}} {{.Actor.Attributes.name}}")
    try:
        assert stream.wait_for("destroy past")[:4] == ["create past", "start past", "die past", "destroy past"]
        deadline = time.monotonic() + 20
        n = 0
        while b"start new" not in stream.buffer:  # until the stream shows one (it may not follow yet)
            assert time.monotonic() < deadline
            pyctr("run", "--rm", "--net", "none", "--name", f"new{n}", "busybox", "true")
            n += 1
            if select.select([stream.proc.stdout], [], [], 0.3)[0]:
                stream.buffer += os.read(stream.proc.stdout.fileno(), 65536)
    finally:
        code, _ = stream.stop(signal.SIGINT)
    assert code == 0


def test_until_in_the_future_ends_the_stream_by_itself(pyctr):
    until = time.time() + 1
    r = pyctr("events", "--until", f"{until:.3f}", timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# units: the table, times, filters

def test_the_table_keeps_only_the_last_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(events, "LIMIT", 5)
    monkeypatch.setattr(events, "PRUNE_EVERY", 4)
    store = Store(str(tmp_path / "db"))
    for n in range(12):
        events.emit(store, "volume", "create", f"v{n}", driver="local")
        assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] <= 5 + 3
    with store.transaction():  # several in one commit: seq 13 and 14 pass no multiple of 4
        for n in range(12, 14):
            events.emit(store, "volume", "create", f"v{n}", driver="local")
    assert store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 7
    events.emit(store, "volume", "create", "v14", driver="local")  # seq 15
    events.emit(store, "volume", "create", "v15", driver="local")  # 16: the oldest beyond 5 go
    rows = store.db.execute("SELECT actor FROM events ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [f"v{n}" for n in range(11, 16)]
    assert [e["Actor"]["ID"] for e in event_stream.stream(store, since=0, follow=False)] == [f"v{n}" for n in range(11, 16)]


def test_a_queued_event_commits_with_the_change_or_not_at_all(tmp_path):
    from pyctr.engine.store import VolumeRecord
    store = Store(str(tmp_path / "db"))
    events.queue(store, "volume", "create", "kept", driver="local")
    assert store.create_volume(VolumeRecord("kept", 1.0))
    events.queue(store, "volume", "create", "lost", driver="local")
    with pytest.raises(RuntimeError):
        with store.transaction():
            raise RuntimeError("the change failed")
    with store.transaction():  # a later one does not write what the failed one dropped
        events.emit(store, "volume", "destroy", "kept", driver="local")
    assert [(e["Action"], e["Actor"]["ID"]) for e in event_stream.stream(store, since=0, follow=False)] == [
        ("create", "kept"), ("destroy", "kept")]


def test_an_exit_recorded_though_the_cgroup_stays_has_its_oom_and_die(tmp_path, monkeypatch):
    from pyctr.engine import containers
    from pyctr.engine.paths import Paths
    from pyctr.engine.store import ContainerRecord
    from pyctr.runtime import container as runtime
    from pyctr.runtime.cgroups import Stats
    from pyctr.runtime.errors import CgroupError

    def stuck(*args):
        raise CgroupError("cannot remove cgroup: busy")
    monkeypatch.setattr(runtime, "stats", lambda *args, **kwargs: Stats(oom_kills=1))
    monkeypatch.setattr(runtime, "delete", stuck)
    paths = Paths.resolve(str(tmp_path))
    store = Store(paths.db)
    record = ContainerRecord("c" * 64, "hog", "img", "busybox", ["true"], 1.0, status="running", pid=1)
    store.add_container(record)
    os.makedirs(paths.container_dir(record.id))
    containers.write_config(paths, record.id, {"process": {"args": ["true"]}, "root": {"path": "/r"}})
    with open(paths.container_file(record.id, "exit"), "w") as f:
        f.write("137 2026-12-01T00:00:00Z\n")
    with pytest.raises(CgroupError):
        containers.cleanup(paths, store, record.id)
    assert [(e["Action"], e["Actor"]["Attributes"]) for e in event_stream.stream(store, since=0, follow=False)] == [
        ("oom", {"image": "busybox", "name": "hog"}), ("die", {"image": "busybox", "name": "hog", "exitCode": "137"})]
    assert store.get_container(record.id).exit_code == 137


NOW = 1_800_000_000 * 10**9


@pytest.mark.parametrize("text, expected", [
    ("now", NOW), ("0s", NOW), ("10m", NOW - 600 * 10**9), ("1h30m", NOW - 5400 * 10**9), ("1.5s", NOW - 15 * 10**8),
    ("300ms", NOW - 3 * 10**8), ("0", 0), ("1764668443", 1764668443 * 10**9), ("1764668443.5", 1764668443_500_000_000),
    ("2026-12-02T09:40:43Z", 1796204443 * 10**9), ("2026-12-02T09:40:43.123456789Z", 1796204443_123456789),
    ("2026-12-02T10:40:43+01:00", 1796204443 * 10**9),
])
def test_times_as_docker_reads_them(text, expected):
    assert event_stream.parse_time(text, NOW) == expected


def test_local_times_and_bad_ones(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert event_stream.parse_time("2026-12-02T09:40:43", NOW) == 1796204443 * 10**9
        assert event_stream.parse_time("2026-12-02", NOW) == 1796169600 * 10**9
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    for bad in ("yesterday", "10x", "2026-13-01", "-5", "1.2.3"):
        with pytest.raises(PyctrError) as e:
            event_stream.parse_time(bad, NOW)
        assert e.value.exit_code == 1


def _event(type_="container", action="start", actor="abc123", **attributes):
    return event_stream.message((1, NOW, type_, action, actor, json.dumps(attributes)))


def test_filters_as_dockers_daemon_matches_them():
    web = _event(name="web", image="busybox:latest", team="a", tier="front")
    match = lambda *texts: event_stream.matches(event_stream.parse_filters(list(texts)), web)  # noqa: E731
    assert match() and match("container=web") and match("container=abc") and match("container=we")
    assert not match("container=xyz") and not match("network=web2")
    assert match("image=busybox") and match("image=busybox:latest") and not match("image=alpine")
    assert match("label=team") and match("label=team=a", "label=tier=front") and not match("label=team=a", "label=x")
    assert match("event=start", "event=die") and not match("event=die") and match("type=container", "scope=local")
    assert not match("type=image") and not match("daemon=x")
    tagged = _event("image", "tag", "sha256:" + "1" * 64, name="mine:1")
    assert event_stream.matches(event_stream.parse_filters(["image=mine"]), tagged)
    with pytest.raises(PyctrError):
        event_stream.parse_filters(["nokey"])
