"""The runtime's user namespace plan, without root: maps as the kernel takes them, and the
rootfs rewritten as "{i}" templates over idmapped directories (csrc/userns.h)."""

import pytest

from pyctr.runtime.errors import ConfigError
from pyctr.runtime.plan import build_plan, build_exec_plan, CLONE_FLAGS, ROOTFS_OPTIONS, ROOTFS_TYPE
from pyctr.runtime.userns import map_lines

AUTO = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _config(namespaces=("mount", "pid", "user"), overlay: str | None = "lowerdir=/l/a:/l/b,upperdir=/c/id/upper,"
            "workdir=/c/id/work", root="/c/id/rootfs", **linux):
    config = {"process": {"args": ["true"]}, "root": {"path": root},
              "linux": {"namespaces": [{"type": t} for t in namespaces], "uidMappings": AUTO, "gidMappings": AUTO,
                        **linux}}
    if overlay is not None:
        config["annotations"] = {ROOTFS_TYPE: "overlay", ROOTFS_OPTIONS: overlay}
    return config


def test_an_overlay_is_reached_through_its_idmapped_layers_and_home():
    plan = build_plan(_config())
    assert plan.clone_flags & CLONE_FLAGS["user"]
    assert plan.uid_map == plan.gid_map == "0 100000 65536\n"
    assert plan.idmapped == ["/l/a", "/l/b", "/c/id"]
    assert plan.rootfs == "{2}/rootfs"
    assert plan.rootfs_data == "lowerdir={0}:{1},upperdir={2}/upper,workdir={2}/work,userxattr"


def test_other_overlay_options_stay_and_braces_are_escaped():
    plan = build_plan(_config(overlay="index=off,lowerdir=/l/a,userxattr,upperdir=/c/id/u{1},workdir=/c/id/w",
                              root="/c/id/r{oot}"))
    assert plan.rootfs_data == "lowerdir={0},index=off,upperdir={1}/u{{1},workdir={1}/w,userxattr"
    assert plan.rootfs == "{1}/r{{oot}"


def test_a_bind_rootfs_is_idmapped_itself():
    plan = build_plan(_config(overlay=None))
    assert (plan.idmapped, plan.rootfs, plan.rootfs_data) == (["/c/id/rootfs"], "{0}", None)


@pytest.mark.parametrize("overlay, root, message", [
    ("lowerdir=/l/a,upperdir=/elsewhere/upper,workdir=/c/id/work", "/c/id/rootfs", "upperdir must be inside /c/id"),
    ("lowerdir=/l/a,upperdir=/c/id/upper,workdir=/c/work", "/c/id/rootfs", "workdir must be inside"),
    ("lowerdir=/l/a,upperdir=/c/id/../x/upper,workdir=/c/id/work", "/c/id/rootfs", "upperdir must be inside"),
    ("upperdir=/c/id/upper,workdir=/c/id/work", "/c/id/rootfs", "needs lowerdir"),
    ("lowerdir=l/a,upperdir=/c/id/upper,workdir=/c/id/work", "/c/id/rootfs", "absolute"),
    ("lowerdir=/l/a\\:b,upperdir=/c/id/upper,workdir=/c/id/work", "/c/id/rootfs", "escaped"),
    ("lowerdir=/l/a", "/", "below /"),
])
def test_overlays_it_cannot_carry_are_config_errors(overlay, root, message):
    with pytest.raises(ConfigError, match=message):
        build_plan(_config(overlay=overlay, root=root))


def test_too_many_layers():
    lowers = ":".join(f"/l/{i}" for i in range(128))
    with pytest.raises(ConfigError, match="at most 127 layers"):
        build_plan(_config(overlay=f"lowerdir={lowers},upperdir=/c/id/u,workdir=/c/id/w"))


@pytest.mark.parametrize("mappings, message", [
    (None, "needs linux.uidMappings"),
    ([], "needs linux.uidMappings"),
    ([{"containerID": 0, "hostID": 1}], "bad entry"),
    ([{"containerID": 0, "hostID": 1, "size": 0}], "bad entry"),
    ([{"containerID": 0, "hostID": -1, "size": 1}], "bad entry"),
    ([{"containerID": 0, "hostID": 1, "size": True}], "bad entry"),
    ([{"containerID": 0, "hostID": 4294967295, "size": 1}], "bad entry"),
    ([{"containerID": 0, "hostID": 10, "size": 5}, {"containerID": 4, "hostID": 100, "size": 5}], "overlap"),
    ([{"containerID": 0, "hostID": 10, "size": 5}, {"containerID": 10, "hostID": 14, "size": 5}], "overlap"),
    ([{"containerID": i, "hostID": 1000 + i, "size": 1} for i in range(341)], "more than 340"),
    ("0 1 1", "needs linux.uidMappings"),
])
def test_maps_the_kernel_would_refuse(mappings, message):
    with pytest.raises(ConfigError, match=message):
        map_lines(mappings, "uidMappings")


def test_several_map_lines():
    assert map_lines([{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65535}],
                     "uidMappings") == "0 1000 1\n1 100000 65535\n"


def test_maps_without_a_user_namespace_are_refused():
    with pytest.raises(ConfigError, match="need a user namespace"):
        build_plan(_config(namespaces=("mount", "pid")))


def test_a_plan_without_a_user_namespace_has_none():
    config = _config(namespaces=("mount",))
    del config["linux"]["uidMappings"], config["linux"]["gidMappings"]
    plan = build_plan(config)
    assert (plan.uid_map, plan.gid_map, plan.idmapped) == (None, None, [])
    assert plan.rootfs == "/c/id/rootfs" and "{" not in plan.rootfs_data


def test_exec_joins_the_user_namespace():
    plan = build_exec_plan(_config(), {"args": ["sh"]}, pidfd=5)
    assert plan.join_flags & CLONE_FLAGS["user"] and plan.uid_map is None  # joined, not written
