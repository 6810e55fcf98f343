"""The SQLite store, the engine's paths, the built-in image recorded on first use, and an
exit recorded when the runtime cannot remove the cgroup."""

import os

import pytest

from pyctr.engine.errors import Conflict
from pyctr.engine.paths import Paths
from pyctr.engine.store import ContainerRecord, Store


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
    assert store.name_taken("one") and not store.name_taken("abc1") and not store.name_taken("three")


def test_paths_keep_everything_under_a_custom_root(tmp_path):
    p = Paths.resolve(str(tmp_path))
    assert p.runroot.startswith(str(tmp_path))
    d = Paths.resolve("/var/lib/pyctr")
    assert d.runroot == "/run/pyctr"


def test_paths_place_a_containers_files_in_its_directory(tmp_path):
    p = Paths.resolve(str(tmp_path))
    assert p.container_file("c1", "config") == str(tmp_path / "containers" / "c1" / "config.json")
    assert p.runtime_root == p.runroot
    with pytest.raises(KeyError):
        p.container_file("c1", "nosuch")


def test_cleanup_records_the_exit_when_the_cgroup_will_not_go(tmp_path, monkeypatch):
    """The exit goes into the row even if removing the cgroup fails; the runtime keeps its
    state, so that rm can try again."""
    from pyctr.engine import containers
    from pyctr.runtime import container as runtime
    from pyctr.runtime.cgroups import Stats
    from pyctr.runtime.errors import CgroupError

    class Stuck:
        def exists(self):
            return True

        def stats(self):
            return Stats(oom_kills=1)

        def destroy(self):
            raise CgroupError("cannot remove cgroup: busy")

    paths = Paths.resolve(str(tmp_path))
    store = Store(paths.db)
    cid = "c" * 64
    store.add_container(ContainerRecord(cid, "stuck", "img", "busybox", ["true"], 1.0, status="running", pid=1))
    os.makedirs(paths.container_dir(cid))
    containers.write_config(paths, cid, {"process": {"args": ["true"]}, "root": {"path": "/r"},
                                         "linux": {"cgroupsPath": "x/y"}})
    runtime.save_state(paths.runtime_root, runtime.State(cid, paths.container_dir(cid), 1, 1, "x/y"))
    with open(paths.container_file(cid, "exit"), "w") as f:
        f.write("3 2026-12-01T00:00:00Z\n")
    monkeypatch.setattr(runtime.cgroups, "open_cgroup", lambda path: Stuck())
    with pytest.raises(CgroupError):
        containers.cleanup(paths, store, cid)
    row = store.get_container(cid)
    assert (row.status, row.exit_code, row.oom_killed) == ("exited", 3, 1)
    assert runtime.status(paths.runtime_root, cid) is not None


def test_the_builtin_image_is_recorded_on_first_use(tmp_path):
    from pyctr.engine import image_lookup
    from pyctr.engine.errors import NotFound
    paths = Paths.resolve(str(tmp_path))
    store = Store(paths.db)
    image = image_lookup.resolve(paths, store, "busybox")
    assert store.find_image("busybox", "latest").id == image.id
    assert image_lookup.resolve(paths, store, image.id[:8]).id == image.id
    assert image_lookup.lower_dirs(paths, image) == [os.path.join(paths.root, "layers", image.layers[0], "diff")]
    with pytest.raises(NotFound):
        image_lookup.resolve(paths, store, "nosuch")


def test_a_new_database_is_in_wal_mode_and_an_old_one_is_migrated(tmp_path):
    import sqlite3

    from pyctr.engine import store as schema
    assert Store(str(tmp_path / "new.db")).db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    old = sqlite3.connect(str(tmp_path / "old.db"))  # as pyctr with schema 2 left it
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript(schema.SCHEMA + schema.MIGRATIONS[0] + "PRAGMA user_version=2;")
    old.execute("INSERT INTO containers (id, name, image_id, image_ref, command, created, status)"
                " VALUES ('c1', 'one', 'i', 'busybox', '[\"true\"]', 1.0, 'exited')")
    old.execute("INSERT INTO containers (id, name, image_id, image_ref, command, created, status)"
                " VALUES ('c2', 'two', 'i', 'busybox', '[\"true\"]', 1.0, 'running')")
    old.commit()
    old.close()
    os.makedirs(tmp_path / "containers" / "c2")
    (tmp_path / "containers" / "c2" / "monitor").write_text("4242 77\n")  # where it kept its monitor
    store = Store(str(tmp_path / "old.db"))
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    row = store.get_container("c1")
    assert (row.name, row.monitor_pid, row.monitor_start) == ("one", None, None)
    assert (store.get_container("c2").monitor_pid, store.get_container("c2").monitor_start) == (4242, 77)


def test_a_made_up_name_drawn_twice_is_drawn_again(tmp_path, monkeypatch):
    """Two runs at once can draw the same random name; the second draws another, where a
    name the user gave is a Conflict."""
    from pyctr.engine import create
    paths = Paths.resolve(str(tmp_path))
    store = Store(paths.db)
    store.add_container(ContainerRecord("a" * 64, "calm_curie", "img", "busybox", ["true"], 1.0))
    names = iter(["calm_curie", "calm_curie", "swift_turing"])
    monkeypatch.setattr(create, "random_name", lambda taken: next(names))
    config = {"process": {"args": ["true"]}, "root": {"path": "/r"}}
    mine = ContainerRecord("b" * 64, "calm_curie", "img", "busybox", ["true"], 2.0)  # drawn a moment ago
    create.write_new(paths, store, mine, config, named=False)
    assert store.get_container("b" * 64).name == "swift_turing"
    theirs = ContainerRecord("c" * 64, "calm_curie", "img", "busybox", ["true"], 3.0)
    with pytest.raises(Conflict):
        create.write_new(paths, store, theirs, config, named=True)
    assert store.get_container("c" * 64) is None
