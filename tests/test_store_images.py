"""The SQLite store, image references and the reproducible built-in image."""

import os

import pytest
from hypothesis import given, strategies as st

from pyctr import builtin, images
from pyctr.errors import Conflict, NotFound
from pyctr.paths import Paths
from pyctr.store import ContainerRecord, Store


@pytest.mark.parametrize("ref,expected", [
    ("busybox", ("busybox", "latest")),
    ("busybox:1.36", ("busybox", "1.36")),
    ("host:5000/a/b", ("host:5000/a/b", "latest")),
    ("host:5000/a/b:v1", ("host:5000/a/b", "v1")),
])
def test_parse_reference(ref, expected):
    assert images.parse_reference(ref) == expected


@given(st.from_regex(r"[a-z0-9]+(/[a-z0-9]+)*", fullmatch=True), st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True))
def test_parse_reference_round_trips(repo, tag):
    assert images.parse_reference(f"{repo}:{tag}") == (repo, tag)


@pytest.mark.parametrize("bad", ["", " busybox", "a b"])
def test_bad_reference(bad):
    with pytest.raises(NotFound):
        images.parse_reference(bad)


def test_container_names_unique_and_prefix_lookup(tmp_path):
    store = Store(str(tmp_path / "db"))
    store.add_container(ContainerRecord("abc1" + "0" * 60, "one", "img", "busybox", ["true"], 1.0))
    store.add_container(ContainerRecord("abc2" + "0" * 60, "two", "img", "busybox", ["true"], 2.0))
    with pytest.raises(Conflict):
        store.add_container(ContainerRecord("def" + "0" * 61, "one", "img", "busybox", ["true"], 3.0))
    assert [c.name for c in store.find_containers("abc")] == ["one", "two"]
    assert [c.name for c in store.find_containers("abc2")] == ["two"]
    assert [c.name for c in store.find_containers("two")] == ["two"]
    assert store.find_containers("%") == []
    store.update_container("abc1" + "0" * 60, status="exited", exit_code=3)
    assert store.get_container("abc1" + "0" * 60).exit_code == 3


def test_builtin_busybox_is_reproducible(tmp_path):
    ids = []
    for name in ("a", "b"):
        paths = Paths.resolve(str(tmp_path / name))
        store = Store(paths.db)
        image = builtin.build(paths, store)
        ids.append((image.id, image.layers))
        assert store.find_image("busybox", "latest").id == image.id
    assert ids[0] == ids[1]
    assert len(ids[0][0]) == 64


def test_paths_keep_everything_under_a_custom_root(tmp_path):
    p = Paths.resolve(str(tmp_path))
    assert p.runroot.startswith(str(tmp_path))
    d = Paths.resolve("/var/lib/pyctr")
    assert d.runroot == "/run/pyctr"


def test_cleanup_records_the_exit_when_the_cgroup_will_not_go(tmp_path, monkeypatch):
    """The exit goes into the row even if removing the cgroup fails (rm retries that)."""
    from pyctr import containers, monitor, runtime
    from pyctr.cgroups import CgroupError

    class Stuck:
        def exists(self):
            return True

        def stats(self):
            from pyctr.cgroups import Stats
            return Stats(oom_kills=1)

        def destroy(self):
            raise CgroupError("cannot remove cgroup: busy")

    paths = Paths.resolve(str(tmp_path))
    store = Store(paths.db)
    cid = "c" * 64
    store.add_container(ContainerRecord(cid, "stuck", "img", "busybox", ["true"], 1.0, status="running", pid=1))
    os.makedirs(paths.container_dir(cid))
    containers.write_spec(paths, cid, {"process": {"args": ["true"]}, "linux": {"cgroupsPath": "x/y"}})
    with open(monitor.exit_path(paths, cid), "w") as f:
        f.write("3 2026-12-01T00:00:00Z\n")
    monkeypatch.setattr(runtime, "cgroup_of", lambda spec: Stuck())
    with pytest.raises(CgroupError):
        monitor.cleanup(paths, store, cid)
    row = store.get_container(cid)
    assert (row.status, row.exit_code, row.oom_killed) == ("exited", 3, 1)
