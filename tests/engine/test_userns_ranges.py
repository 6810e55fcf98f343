"""--userns=auto's ranges in the store, and the flags read, without containers."""

import subprocess
import sys

import pytest

from pyctr.engine import userns
from pyctr.engine.errors import PyctrError
from pyctr.engine.store import IdRange, Store


def _held(*spans, kind="uid", auto=True):
    return [IdRange(f"c{i}", kind, start, size, auto) for i, (start, size) in enumerate(spans)]


def test_first_free_takes_the_lowest_gap_that_fits():
    pool = [(100000, 1 << 20)]
    assert userns.first_free(pool, [], 65536) == 100000
    assert userns.first_free(pool, _held((100000, 65536)), 65536) == 165536
    # a gap too small is skipped; one that fits is taken
    assert userns.first_free(pool, _held((100000, 100), (100200, 65536)), 65536) == 165736
    assert userns.first_free(pool, _held((100000, 65536), (300000, 10)), 65536) == 165536
    # overlapping held ranges (explicit maps may overlap each other)
    assert userns.first_free(pool, _held((100000, 70000), (150000, 30000)), 10) == 180000
    # a range held below the pool does not matter; a full pool is None
    assert userns.first_free(pool, _held((0, 50)), 10) == 100000
    assert userns.first_free([(100000, 65536)], _held((100000, 1)), 65536) is None
    # the next pool entry
    assert userns.first_free([(100000, 65536), (500000, 65536)], _held((100000, 1)), 65536) == 500000


def test_subid_pool_reads_only_the_containers_entries(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\ncontainers:2147483647:2147483648\ncontainers:bad:1\ncontainers:5:6\n")
    assert userns.subid_pool(str(f)) == [(2147483647, 2147483648), (5, 6)]
    assert userns.subid_pool(str(tmp_path / "none")) == []


def test_auto_ranges_come_from_the_subid_files(tmp_path):
    (tmp_path / "subuid").write_text("containers:300000:200000\n")
    (tmp_path / "subgid").write_text("containers:700000:200000\n")
    store = Store(str(tmp_path / "db"))
    req = userns.request("auto", [], [])
    got = [userns.assign(store, f"c{i}", req, str(tmp_path / "subuid"), str(tmp_path / "subgid")) for i in range(3)]
    assert got[0] == ([(0, 300000, 65536)], [(0, 700000, 65536)])
    assert got[2] == ([(0, 431072, 65536)], [(0, 831072, 65536)])
    with pytest.raises(PyctrError, match="no free range of 65536 host uids"):
        userns.assign(store, "c3", req, str(tmp_path / "subuid"), str(tmp_path / "subgid"))


def test_a_range_whose_taker_died_before_its_row_is_free_again(tmp_path):
    store = Store(str(tmp_path / "db"))
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    store.db.execute("INSERT INTO id_ranges VALUES ('gone', 'uid', 100000, 65536, 1, ?, 1)", (dead.pid,))
    store.db.execute("INSERT INTO id_ranges VALUES ('gone', 'gid', 100000, 65536, 1, ?, 1)", (dead.pid,))
    # held by a live pyctr (this one) without a row yet: kept
    req = userns.request("auto", [], [])
    assert userns.assign(store, "mine", req)[0] == [(0, 100000, 65536)]
    assert userns.assign(store, "next", req)[0] == [(0, 165536, 65536)]
    assert store.id_ranges("gone") == []


def test_removing_a_container_frees_its_ranges(tmp_path):
    from pyctr.engine.store import ContainerRecord
    store = Store(str(tmp_path / "db"))
    store.add_container(ContainerRecord("c1", "one", "img", "busybox", ["true"], 1.0))
    userns.assign(store, "c1", userns.request("auto", [], []))
    assert [r.kind for r in store.id_ranges("c1")] == ["uid", "gid"]
    store.remove_container("c1")
    assert store.id_ranges("c1") == []


@pytest.mark.parametrize("userns_flag, uidmap, gidmap, uid_maps, gid_maps", [
    ("host", [], [], None, None),
    (None, [], [], None, None),
    (None, ["0:1000:1", "1:100000:65535"], [], [(0, 1000, 1), (1, 100000, 65535)], [(0, 1000, 1), (1, 100000, 65535)]),
    (None, [], ["0:5:1"], [(0, 5, 1)], [(0, 5, 1)]),
    ("", ["0:5:1"], ["0:6:1"], [(0, 5, 1)], [(0, 6, 1)]),
])
def test_requests(userns_flag, uidmap, gidmap, uid_maps, gid_maps):
    req = userns.request(userns_flag, uidmap, gidmap)
    if uid_maps is None:
        assert req is None
    else:
        assert (req.auto, req.uid_maps, req.gid_maps) == (False, uid_maps, gid_maps)


def test_auto_size():
    assert userns.request("auto:size=1000", [], []).size == 1000
    assert userns.request("auto", [], []).size == 65536
    with pytest.raises(PyctrError):
        userns.request("auto:uidmapping=0:1:1", [], [])


def test_into_config():
    config = {"linux": {"namespaces": [{"type": "mount"}]}}
    userns.into_config(config, [(0, 100000, 65536)], [(0, 200000, 65536)])
    assert config["linux"]["namespaces"][-1] == {"type": "user"}
    assert config["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]
