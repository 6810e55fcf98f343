"""docker's output shapes for ps, images and stats, on real containers: `--format json`
(one object a line, docker's keys and texts), templates, filters, -n/-l/-s, and tables
that never cut an id or a name, honour NO_COLOR and carry no trailing blanks."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from helpers import Held, read_until

PS_KEYS = {"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports",
           "RunningFor", "Size", "State", "Status"}
IMAGE_KEYS = {"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag",
              "UniqueSize", "VirtualSize"}
STATS_KEYS = {"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}
DOCKER_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC")
SIZE = r"\d+(\.\d+)?(B|kB|MB|GB)"
SHORT_ID = re.compile(r"[0-9a-f]{12}")


def _ok(r) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def _id(pyctr, name: str) -> str:
    return _ok(pyctr("ps", "-aq", "--no-trunc", "--filter", f"name=^{name}$")).strip()


def _label(pyctr, name: str, labels: dict) -> None:
    """Labels as the run flags will record them (spec.LABELS, a JSON object in config.json's
    annotations): until `run --label` lands, written there directly."""
    from pyctr.engine.spec import LABELS
    path = os.path.join(pyctr.root, "containers", _id(pyctr, name), "config.json")
    with open(path) as f:
        config = json.load(f)
    config.setdefault("annotations", {})[LABELS] = json.dumps(labels)
    with open(path, "w") as f:
        json.dump(config, f)


@pytest.fixture
def three(pyctr):
    """ok (exited 0), bad (exited 3), up (running), created in that order."""
    _ok(pyctr("run", "--network", "none", "--name", "ok", "busybox", "true"))
    assert pyctr("run", "--network", "none", "--name", "bad", "busybox", "sh", "-c", "exit 3").returncode == 3
    _ok(pyctr("run", "-d", "--network", "none", "--name", "up", "busybox", "sleep", "60"))
    yield pyctr
    _ok(pyctr("rm", "-f", "ok", "bad", "up"))


def test_ps_filter_status_with_a_template(three):
    pyctr = three
    lines = _ok(pyctr("ps", "-a", "--filter", "status=exited", "--format", "{{.ID}} {{.Status}}")).splitlines()
    assert len(lines) == 2
    for line in lines:
        ident, status = line.split(" ", 1)
        assert SHORT_ID.fullmatch(ident) and re.fullmatch(r"Exited \([03]\) .+ ago", status)
    # a status filter shows every state without -a, as docker's does
    assert _ok(pyctr("ps", "--filter", "status=exited", "--format", "{{.Names}}")).split() == ["bad", "ok"]
    assert _ok(pyctr("ps", "--filter", "status=running", "--format", "{{.Names}}")) == "up\n"
    assert _ok(pyctr("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}")) == "bad\n"
    # the same key ORed, different keys ANDed
    assert _ok(pyctr("ps", "-a", "-f", "name=ok", "-f", "name=bad", "--format", "{{.Names}}")).split() == ["bad", "ok"]
    assert _ok(pyctr("ps", "-a", "-f", "name=ok", "-f", "status=running", "-q")) == ""
    up = _id(pyctr, "up")
    assert _ok(pyctr("ps", "-a", "--filter", f"id={up[:6]}", "-q")) == up[:12] + "\n"
    assert _ok(pyctr("ps", "-q")) == up[:12] + "\n"  # without filters: the running ones
    assert _ok(pyctr("ps", "-a", "--filter", "since=ok", "--format", "{{.Names}}")).split() == ["up", "bad"]
    assert _ok(pyctr("ps", "-a", "--filter", "before=bad", "--format", "{{.Names}}")).split() == ["ok"]


def test_ps_json_is_one_docker_object_per_line(three):
    pyctr = three
    _label(pyctr, "bad", {"b": "2", "a": "1"})
    rows = {row["Names"]: row for row in _json_lines(_ok(pyctr("ps", "-a", "--format", "json")))}
    assert set(rows) == {"ok", "bad", "up"}
    for row in rows.values():
        assert set(row) == PS_KEYS
        assert SHORT_ID.fullmatch(row["ID"]) and DOCKER_TIME.fullmatch(row["CreatedAt"])
        assert row["Image"] == "busybox" and row["Networks"] == "none" and row["LocalVolumes"] == "0"
        assert row["Size"] == "0B" and row["RunningFor"].endswith("ago")
    assert rows["bad"]["Command"] == '"sh -c exit 3"'
    assert rows["up"]["Command"] == '"sleep 60"'
    assert rows["bad"]["Labels"] == "a=1,b=2" and rows["ok"]["Labels"] == ""
    assert rows["up"]["State"] == "running" and rows["up"]["Status"].startswith("Up ")
    assert rows["bad"]["State"] == "exited" and rows["bad"]["Status"].startswith("Exited (3) ")
    # `json` is lowercase only: anything else is a template, printed as it is
    assert _ok(pyctr("ps", "--format", "JSON")) == "JSON\n"


def test_ps_label_filter(three):
    pyctr = three
    _label(pyctr, "ok", {"app": "web", "tier": "front"})
    _label(pyctr, "bad", {"app": "db"})

    def names(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return sorted(_ok(pyctr("ps", "-a", *args, "--format", "{{.Names}}")).split())
    assert names("label=app") == ["bad", "ok"]
    assert names("label=app=web") == ["ok"]
    assert names("label=app=web", "label=tier") == ["ok"]  # every label asked for
    assert names("label=app=db", "label=tier") == []
    assert names("label=nothing") == []


def test_ps_last_latest_and_sizes(three):
    pyctr = three
    assert _ok(pyctr("ps", "-l", "--format", "{{.Names}}")) == "up\n"
    assert _ok(pyctr("ps", "--latest", "-q")) == _id(pyctr, "up")[:12] + "\n"
    assert _ok(pyctr("ps", "-n", "2", "--format", "{{.Names}}")).split() == ["up", "bad"]
    assert _ok(pyctr("ps", "-n", "2", "--filter", "status=exited", "--format", "{{.Names}}")).split() == ["bad", "ok"]
    _ok(pyctr("run", "--network", "none", "--name", "writer", "busybox", "sh", "-c", "printf hello-world! > /f"))
    try:
        [header, row] = _ok(pyctr("ps", "-a", "-s", "--filter", "name=writer")).splitlines()
        assert header.split()[-1] == "SIZE" and re.search(rf"{SIZE} \(virtual {SIZE}\)$", row)
        [size] = _ok(pyctr("ps", "-a", "-f", "name=writer", "--format", "{{.Size}}")).splitlines()
        written = int(re.match(r"(\d+)B ", size).group(1))
        assert written >= 12 and "(virtual" in size  # /f, and what the run itself wrote there
        [row] = _json_lines(_ok(pyctr("ps", "-a", "-s", "-f", "name=writer", "--format", "json")))
        assert row["Size"] == size
    finally:
        _ok(pyctr("rm", "writer"))


def test_ps_filter_errors_are_docker_s(pyctr):
    r = pyctr("ps", "--filter", "foo=bar")
    assert r.returncode == 1 and r.stderr.strip().endswith("invalid filter 'foo'") and len(r.stderr.splitlines()) == 1
    r = pyctr("ps", "--filter", "status=sleeping")
    assert r.returncode == 1 and "status=sleeping" in r.stderr
    r = pyctr("ps", "--filter", "novalue")
    assert r.returncode == 125 and "expected name=value" in r.stderr
    r = pyctr("ps", "--filter", "before=nosuch")
    assert r.returncode == 1 and "nosuch" in r.stderr


def test_ps_ancestor_volume_and_network_filters(pyctr):
    _ok(pyctr("tag", "busybox", "mybox:1"))
    _ok(pyctr("run", "--network", "none", "--name", "base", "-v", "vol1:/data", "mybox:1", "sh", "-c", "echo x > /x"))
    _ok(pyctr("commit", "-c", "EXPOSE 80", "base", "derived:1"))
    _ok(pyctr("run", "--network", "none", "--name", "child", "derived:1", "true"))
    try:
        def names(*filters: str) -> list[str]:
            args = [a for f in filters for a in ("--filter", f)]
            return sorted(_ok(pyctr("ps", "-a", *args, "--format", "{{.Names}}")).split())
        assert names("ancestor=busybox") == ["base", "child"]  # the image, and one built on it
        assert names("ancestor=derived:1") == ["child"]
        assert names("ancestor=derived") == []  # derived:latest, which does not exist (as docker)
        assert names("ancestor=nosuch:9") == []
        assert names("volume=vol1") == ["base"] and names("volume=/data") == ["base"]
        assert names("network=none") == ["base", "child"] and names("network=bridge") == []
        assert names("expose=80") == ["child"] and names("expose=70-90/tcp") == ["child"]
        assert names("expose=80/udp") == [] and names("publish=80") == []  # exposed, not published
        assert names("health=none") == ["base", "child"] and names("is-task=true") == []
        [row] = _json_lines(_ok(pyctr("ps", "-a", "-f", "name=base", "--format", "json")))
        assert row["Mounts"] == "vol1" and row["LocalVolumes"] == "1"
    finally:
        _ok(pyctr("rm", "-v", "base", "child"))
        _ok(pyctr("rmi", "derived:1", "mybox:1"))
        pyctr("volume", "rm", "vol1")


def test_images_filters_and_json(pyctr):
    _ok(pyctr("tag", "busybox", "mybox:1"))
    _ok(pyctr("run", "--network", "none", "--name", "src", "busybox", "true"))
    _ok(pyctr("commit", "-c", "LABEL team=blue", "src", "newer:2"))
    try:
        def refs(*args: str) -> list[str]:
            return sorted(_ok(pyctr("images", *args, "--format", "{{.Repository}}:{{.Tag}}")).split())
        assert refs("--filter", "reference=mybox") == ["mybox:1"]
        assert refs("--filter", "reference=*box") == ["busybox:latest", "mybox:1"]
        assert refs("--filter", "reference=*box:1") == ["mybox:1"]
        assert refs("mybox:1") == ["mybox:1"]
        assert refs("--filter", "dangling=true") == []
        assert refs("--filter", "dangling=false") == ["busybox:latest", "mybox:1", "newer:2"]
        assert refs("--filter", "label=team=blue") == ["newer:2"] and refs("--filter", "label=team=red") == []
        assert refs("--filter", "since=busybox") == ["newer:2"]
        assert refs("--filter", "before=newer:2") == ["busybox:latest", "mybox:1"]
        assert refs("-a") == refs()
        r = pyctr("images", "--filter", "colour=red")
        assert r.returncode == 1 and "invalid filter 'colour'" in r.stderr
        ids = _ok(pyctr("images", "--no-trunc", "--format", "{{.ID}}")).split()
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", i) for i in ids) and len(ids) == 3
        assert len(_ok(pyctr("images", "-q")).split()) == 2  # one line an image, not a tag
        rows = _json_lines(_ok(pyctr("images", "--format", "json")))
        assert len(rows) == 3
        for row in rows:
            assert set(row) == IMAGE_KEYS and SHORT_ID.fullmatch(row["ID"]) and DOCKER_TIME.fullmatch(row["CreatedAt"])
            assert re.fullmatch(SIZE, row["Size"]) and re.fullmatch(SIZE, row["VirtualSize"])
            assert row["Digest"] == "<none>" and row["Containers"] == "N/A"
    finally:
        _ok(pyctr("rm", "src"))
        _ok(pyctr("rmi", "newer:2", "mybox:1"))


def test_stats_json_template_and_table(pyctr):
    _ok(pyctr("run", "--network", "none", "--name", "gone", "busybox", "true"))
    held = Held(pyctr, "-m", "64m", "--network", "none", "--name", "watched",
                command="dd if=/dev/zero of=/f bs=1M count=2 conv=fsync 2>/dev/null; echo ready; read x")
    try:
        [row] = _json_lines(_ok(pyctr("stats", "--no-stream", "--format", "json")))
        line = _ok(pyctr("stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}} {{.NetIO}}", "watched"))
        table = _ok(pyctr("stats", "--no-stream")).splitlines()
        custom = _ok(pyctr("stats", "--no-stream", "--format", "table {{.Name}}\t{{.MemPerc}}")).splitlines()
        everyone = _ok(pyctr("stats", "--no-stream", "-a", "--format", "{{.Name}}: {{.MemUsage}} {{.PIDs}}"))
        named = _ok(pyctr("stats", "--no-stream", "--format", "{{.Container}} {{.CPUPerc}}", "gone"))
    finally:
        held.release()
        _ok(pyctr("rm", "gone"))
    assert everyone.splitlines()[1] == "gone: 0B / 0B 0" and everyone.startswith("watched: ")  # -a: stopped ones too
    assert named == "gone 0.00%\n"  # named: shown though stopped, by the name it was asked by
    assert set(row) == STATS_KEYS
    assert row["Name"] == "watched" and row["ID"] == held.record.id[:12] and row["Container"] == held.record.id
    assert re.fullmatch(r"\d+\.\d\d%", row["CPUPerc"]) and re.fullmatch(r"\d+\.\d\d%", row["MemPerc"])
    assert re.fullmatch(r"\d+(\.\d+)?(B|KiB|MiB) / 64MiB", row["MemUsage"])
    assert row["NetIO"] == "0B / 0B"  # --network none: only lo, which does not count
    read, written = row["BlockIO"].split(" / ")
    assert re.fullmatch(SIZE, read) and re.fullmatch(r"\d+(\.\d+)?MB", written)  # the 2 MiB dd wrote
    assert int(row["PIDs"]) >= 1
    assert re.fullmatch(r"watched: [1-9]\d* 0B / 0B\n", line)
    assert re.split(r"\s{2,}", table[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                                             "BLOCK I/O", "PIDS"]
    assert table[1].startswith(held.record.id[:12] + "   watched   ")
    assert re.split(r"\s{2,}", custom[0]) == ["NAME", "MEM %"] and custom[1].startswith("watched ")


def _through_a_pty(pyctr, args: list[str], columns: int, env: dict | None = None) -> str:
    """What `pyctr args` prints on a terminal `columns` wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = pyctr.popen(*args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = read_until(master, b"\0", timeout=30)  # no NUL comes: all of it, until the pty closes
    os.close(master)
    assert proc.wait(timeout=30) == 0, out
    return out.decode().replace("\r\n", "\n")


def test_tables_never_cut_ids_or_names_and_honour_no_color(three):
    pyctr = three
    long_name = "a-rather-long-container-name-for-a-narrow-terminal"
    _ok(pyctr("run", "--network", "none", "--name", long_name, "busybox", "true"))
    try:
        ids = {_id(pyctr, n)[:12] for n in ("ok", "bad", "up", long_name)}
        narrow = _through_a_pty(pyctr, ["ps", "-a"], 60, {"COLUMNS": "60"})
        lines = narrow.splitlines()
        header = lines[0].replace("\x1b[1m", "").replace("\x1b[0m", "")
        assert header.startswith("CONTAINER ID") and header.endswith("NAMES") and "COMMAND" not in header
        assert lines[0].startswith("\x1b[1m")  # bold on a terminal
        assert {line.split()[0] for line in lines[1:]} == ids and {line.split()[-1] for line in lines[1:]} == \
            {"ok", "bad", "up", long_name}
        assert all(len(line) <= 60 for line in lines if long_name not in line and "\x1b" not in line)
        plain = _through_a_pty(pyctr, ["ps", "-a"], 60, {"COLUMNS": "60", "NO_COLOR": ""})
        assert "\x1b" not in plain and plain.splitlines()[1:] == lines[1:]
        for args in (["ps", "-a"], ["images"], ["ps", "-a", "-s"], ["stats", "--no-stream"]):
            piped = _ok(pyctr(*args, env={"COLUMNS": "60"}))
            assert "\x1b" not in piped and all(line == line.rstrip() for line in piped.splitlines())
        piped = _ok(pyctr("ps", "-a", env={"COLUMNS": "60"})).splitlines()
        assert "COMMAND" in piped[0] and any(long_name in line for line in piped)  # piped: whole lines, all columns
        assert _ok(pyctr("images", env={"FORCE_COLOR": "1"})).startswith("\x1b[1mREPOSITORY")
        assert "\x1b" not in _ok(pyctr("images", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}))
    finally:
        _ok(pyctr("rm", long_name))
