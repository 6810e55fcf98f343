"""The filter parser and matchers (engine/filters.py) and the texts docker's formats show
(cli/render.py), without containers."""

import json

import pytest

from pyctr.cli import render
from pyctr.engine import filters
from pyctr.engine.errors import PyctrError
from pyctr.engine.store import ContainerRecord


def test_parse_groups_values_by_key():
    assert filters.parse(["status=exited", "label=a=b", "status=created", "name="], filters.CONTAINER_KEYS) == \
        {"status": ["exited", "created"], "label": ["a=b"], "name": [""]}
    assert filters.parse(None, filters.IMAGE_KEYS) == {}


def test_unknown_keys_and_bad_forms_are_docker_s_errors():
    with pytest.raises(filters.FilterError) as e:
        filters.parse(["foo=bar"], filters.CONTAINER_KEYS)
    assert str(e.value) == "invalid filter 'foo'" and e.value.exit_code == 1
    with pytest.raises(filters.FilterError):
        filters.parse(["ancestor=busybox"], filters.IMAGE_KEYS)  # a ps key, not an images one
    with pytest.raises(PyctrError) as e:
        filters.parse(["status"], filters.CONTAINER_KEYS)
    assert e.value.exit_code == 125 and "name=value" in str(e.value)


@pytest.mark.parametrize("wanted,expected", [
    (["app"], True), (["app=web"], True), (["app=db"], False), (["app=web", "tier"], True),
    (["app=web", "nope"], False), (["tier="], False), (["empty="], True), ([], True),
])
def test_labels_all_must_match(wanted, expected):
    assert filters.label_matches({"app": "web", "tier": "front", "empty": ""}, wanted) is expected


@pytest.mark.parametrize("pattern,name,expected", [
    ("busybox", "busybox", True), ("busy*", "busybox", True), ("*box", "library/busybox", False),
    ("*/busybox", "library/busybox", True), ("b?sybox", "busybox", True), ("b[uv]sybox", "busybox", True),
    ("b[!x]sybox", "busybox", False), ("busybox:*", "busybox:latest", True), ("a.b", "axb", False),
])
def test_reference_globs_are_go_path_match(pattern, name, expected):
    import re
    assert bool(re.fullmatch(filters.glob_regex(pattern), name)) is expected


def _record(name: str, created: float, status: str = "exited", code: int | None = 0) -> ContainerRecord:
    return ContainerRecord(id=name * 8, name=name, image_id="i" * 64, image_ref="busybox", command=["true"],
                           created=created, status=status, exit_code=code)


RECORDS = [_record("dd", 4, "running", None), _record("cc", 3, "exited", 3), _record("bb", 2, "starting", None),
           _record("aa", 1, "exited", 0)]  # newest first, as the store lists them


@pytest.mark.parametrize("specs,all_,last,expected", [
    ([], False, None, ["dd"]),
    ([], True, None, ["dd", "cc", "bb", "aa"]),
    (["status=exited"], False, None, ["cc", "aa"]),  # a status filter implies every state
    (["status=created"], False, None, ["bb"]),  # "starting" shows as docker's created
    (["status=exited", "status=running"], False, None, ["dd", "cc", "aa"]),
    (["exited=3"], True, None, ["cc"]),
    (["exited=0", "exited=3"], True, None, ["cc", "aa"]),
    (["name=a"], True, None, ["aa"]),
    (["name=^/?[ab]"], True, None, ["bb", "aa"]),
    (["name=aa", "status=running"], True, None, []),
    (["id=cccc"], True, None, ["cc"]),
    ([], False, 2, ["dd", "cc"]),  # -n: every state
    (["status=exited"], False, 1, ["cc"]),
    ([], False, 0, ["dd"]),
])
def test_listing(specs, all_, last, expected):
    chosen = filters.listing(None, None, list(RECORDS), specs, all_, last)
    assert [r.name for r in chosen] == expected


@pytest.mark.parametrize("spec,expected", [
    ("80", (80, 80, "tcp")), ("53/udp", (53, 53, "udp")), ("8000-8080/tcp", (8000, 8080, "tcp")),
])
def test_port_ranges(spec, expected):
    assert filters.port_range(spec, "publish") == expected


@pytest.mark.parametrize("specs,expected", [
    (["health=none"], ["dd", "cc", "bb", "aa"]), (["health=healthy"], []),  # no health checks
    (["is-task=false"], ["dd", "cc", "bb", "aa"]), (["is-task=true"], []),  # no swarm
    (["isolation=default"], ["dd", "cc", "bb", "aa"]),
])
def test_what_pyctr_has_no_use_for_answers_as_docker_without_it(specs, expected):
    assert [r.name for r in filters.listing(None, None, list(RECORDS), specs, True)] == expected


@pytest.mark.parametrize("spec", ["status=sleeping", "exited=x", "name=(", "health=sick", "publish=http",
                                  "expose=80/icmp", "is-task=maybe"])
def test_bad_values_are_refused(spec):
    with pytest.raises(filters.FilterError) as e:
        filters.listing(None, None, list(RECORDS), [spec], True)
    assert e.value.exit_code == 1


@pytest.mark.parametrize("n,binary,expected", [
    (0, False, "0B"), (12, False, "12B"), (4_261_000, False, "4.26MB"), (1_982_000, False, "1.98MB"),
    (1_500_000_000, False, "1.5GB"), (999, False, "999B"), (1000, False, "1kB"),
    (64 << 20, True, "64MiB"), (int(1.5 * (1 << 20)), True, "1.5MiB"), (1_577_000, True, "1.504MiB"),
    (512, True, "512B"),
])
def test_sizes_as_go_units_prints_them(n, binary, expected):
    assert render.human_size(n, binary) == expected


def test_virtual_size_has_four_digits():
    assert render.human_size(4_261_234, precision=4) == "4.261MB"


def test_json_lines_as_go_encodes_them():
    line = render.json_line({"b": "<none>", "a": "x & y", "c": "…"})
    assert line == '{"a":"x \\u0026 y","b":"\\u003cnone\\u003e","c":"…"}'
    assert json.loads(line) == {"a": "x & y", "b": "<none>", "c": "…"}


def test_ps_fields_quote_and_shorten_the_command():
    record = ContainerRecord(id="f" * 64, name="web", image_ref="busybox", image_id="i" * 64, created=0,
                             command=["sh", "-c", 'echo "hi" && sleep 1000'], status="running", started=0)
    fields = render.ps_fields(record, [], {"labels": {"b": "2", "a": "1"}, "mounts": ["a-very-long-volume-name"],
                                           "networks": ["bridge", "web"], "local_volumes": 1,
                                           "size_rw": 12, "size_root": 4_261_012})
    assert fields["Command"] == '"sh -c echo \\"hi\\" && …"' and fields["ID"] == "f" * 12
    assert fields["Labels"] == "a=1,b=2" and fields["Mounts"] == "a-very-long-vo…"
    assert fields["Networks"] == "bridge,web" and fields["LocalVolumes"] == "1"
    assert fields["Size"] == "12B (virtual 4.26MB)" and fields["CreatedAt"] == "1970-01-01 00:00:00 +0000 UTC"
    whole = render.ps_fields(record, [], None, no_trunc=True)
    assert whole["Command"] == '"sh -c echo \\"hi\\" && sleep 1000"' and whole["Size"] == "0B"


def test_a_narrow_table_drops_columns_by_rank_and_never_cuts():
    table = render.Table(("ID", 0), ("COMMAND", 3), ("CREATED", 2), ("STATUS", 1), ("NAMES", 0))
    table.add_row("0123456789ab", '"sleep 1000"', "2 hours ago", "Up 2 hours", "web")
    assert table.lines(None)[1] == '0123456789ab   "sleep 1000"   2 hours ago   Up 2 hours   web'
    assert table.lines(47)[0] == "ID             CREATED       STATUS       NAMES"  # just fits
    assert table.lines(46) == ["ID             STATUS       NAMES", "0123456789ab   Up 2 hours   web"]
    assert table.lines(10) == ["ID             NAMES", "0123456789ab   web"]  # wider than 10: nothing cut
    assert all(line == line.rstrip() for line in table.lines(None))


NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    1296      16    0    0    0     0          0         0      648       8    0    0    0     0       0          0
  eth1: 4 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0
"""


def test_net_io_counts_every_interface_but_lo():
    from pyctr.engine.stats import net_dev_totals
    assert net_dev_totals(NET_DEV) == (1300, 654)
    assert net_dev_totals("\n".join(NET_DEV.splitlines()[:3])) == (0, 0)  # --net none: lo alone


@pytest.mark.parametrize("text,expected", [
    ("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:16 Read 4\n8:0 Total 4608\nTotal 4612\n", (4100, 512)),  # v1
    ("8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=4 wbytes=0 rios=1 wios=0\n", (4100, 512)),
    ("", (0, 0)),
])
def test_block_io_from_either_cgroup_file(tmp_path, text, expected):
    from pyctr.runtime.cgroups import read_block_io
    path = tmp_path / "io"
    path.write_text(text)
    assert read_block_io(str(path)) == expected
    assert read_block_io(str(tmp_path / "missing")) == (0, 0)
