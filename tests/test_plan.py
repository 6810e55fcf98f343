"""OCI config -> C plan: mount options, capabilities, namespaces."""

from hypothesis import given, strategies as st

from pyctr import plan
from pyctr.spec import RootfsLayout, RunOptions, build_spec


def test_mount_options_become_flags_and_data():
    flags, prop, data = plan.mount_flags(["nosuid", "ro", "mode=755", "rw", "size=1k", "rprivate"])
    assert flags == plan.MS_NOSUID
    assert prop == plan.MS_PRIVATE | plan.MS_REC
    assert data == "mode=755,size=1k"


@given(st.lists(st.sampled_from(sorted(plan.MOUNT_OPTIONS))))
def test_last_of_a_pair_wins(options):
    flags, _, data = plan.mount_flags(options)
    assert data == ""
    if "ro" in options or "rw" in options:
        last = max(i for i, o in enumerate(options) if o in ("ro", "rw"))
        assert bool(flags & plan.MS_RDONLY) == (options[last] == "ro")


def test_bind_type_sets_ms_bind():
    m = plan.plan_mount({"destination": "/data", "type": "bind", "source": "/src", "options": ["rbind", "ro"]})
    assert m["flags"] & plan.MS_BIND and m["flags"] & plan.MS_REC and m["flags"] & plan.MS_RDONLY


def test_docker_default_caps_mask():
    from pyctr.spec import DEFAULT_CAPS
    assert plan.cap_mask(DEFAULT_CAPS) == 0xA80425FB


def test_build_plan_from_spec():
    layout = RootfsLayout(["/l"], "/u", "/w", "/r")
    spec = build_spec(RunOptions(image="b", command=["true"]), {}, "c" * 64, layout, host_env={})
    p = plan.build_plan(spec, stdio=(5, 1, 2))
    assert p["clone_flags"] == sum(plan.CLONE_FLAGS[n] for n in ("pid", "network", "ipc", "uts", "mount"))
    assert p["unshare_flags"] == plan.CLONE_FLAGS["cgroup"]  # made once inside its cgroup
    assert p["rootfs_mount"] == {"fstype": "overlay", "source": "overlay", "data": "lowerdir=/l,upperdir=/u,workdir=/w"}
    assert p["loopback_up"] and p["stdio"] == (5, 1, 2)
    assert [d["path"] for d in p["devices"]][:3] == ["dev/null", "dev/zero", "dev/full"]
    assert p["caps"]["inheritable"] == 0 and p["caps"]["bounding"] == 0xA80425FB
