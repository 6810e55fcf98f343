"""OCI config -> C plan: mount options, capabilities, namespaces; the Plan record against
what the Cython bridge reads; a config the runtime cannot carry out is a ConfigError."""

import os
import re

import pytest
from hypothesis import given, strategies as st

from pyctr.engine.spec import DEFAULT_CAPS, RootfsLayout, RunOptions, build_spec
from pyctr.runtime import plan


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
    assert m.flags & plan.MS_BIND and m.flags & plan.MS_REC and m.flags & plan.MS_RDONLY


def test_docker_default_caps_mask():
    assert plan.cap_mask(DEFAULT_CAPS) == 0xA80425FB


def test_build_plan_from_spec():
    layout = RootfsLayout(["/l"], "/u", "/w", "/r")
    spec = build_spec(RunOptions(image="b", command=["true"]), {}, "c" * 64, layout, host_env={})
    p = plan.build_plan(spec, stdio=(5, 1, 2))
    assert p.clone_flags == sum(plan.CLONE_FLAGS[n] for n in ("pid", "network", "ipc", "uts", "mount"))
    assert p.unshare_flags == plan.CLONE_FLAGS["cgroup"]  # made once inside its cgroup
    assert (p.rootfs_fstype, p.rootfs_source, p.rootfs_data) == ("overlay", "overlay", "lowerdir=/l,upperdir=/u,workdir=/w")
    assert p.loopback_up and p.stdio == (5, 1, 2)
    assert [d.path for d in p.devices][:3] == ["dev/null", "dev/zero", "dev/full"]
    assert p.caps.inheritable == 0 and p.caps.bounding == 0xA80425FB


def _config(**changes) -> dict:
    layout = RootfsLayout(["/l"], "/u", "/w", "/r")
    config = build_spec(RunOptions(image="b", command=["true"]), {}, "c" * 64, layout, host_env={})
    config.update(changes)
    return config


@pytest.mark.parametrize("change,message", [
    ({"linux": {"namespaces": [{"type": "mount"}, {"type": "bogus"}]}}, "unknown namespace 'bogus'"),
    ({"linux": {"namespaces": [{"type": "pid"}]}, "root": {"path": "/r", "readonly": True}},
     "a read-only root, masked or read-only paths need a mount namespace"),
    ({"linux": {"namespaces": [{"type": "pid"}], "maskedPaths": ["/proc/kcore"]}},
     "a read-only root, masked or read-only paths need a mount namespace"),
    ({"linux": {"namespaces": [{"type": "mount"}, {"type": "user", "path": "/x"}]}},
     "joining a user namespace by path is not supported"),
    ({"ociVersion": "2.0.0"}, "unsupported ociVersion '2.0.0'"),
    ({"linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}], "sysctl": {"vm.swappiness": "1"}}},
     "would change the host's"),
    ({"hostname": None, "linux": {"namespaces": [{"type": "mount"}], "sysctl": {"net.ipv4.ip_forward": "1"}}},
     "needs a network namespace"),
    ({"hostname": None, "linux": {"namespaces": [{"type": "mount"}], "personality": {"domain": "LINUX64"}}},
     "unknown personality domain"),
    ({"linux": {"namespaces": [{"type": "mount"}, {"type": "network", "path": 7}]}},
     "the path of the network namespace must be a string"),
    ({"linux": {"namespaces": [{"type": "mount"}, {"type": "user"}, {"type": "network", "path": "/x"}]}},
     "joining a namespace by path is not supported with a new user namespace"),
    ({"linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}], "rootfsPropagation": "sideways"}},
     "unknown rootfsPropagation"),
    ({"linux": {"namespaces": [{"type": "mount"}]}}, "setting a hostname or domainname needs a uts namespace"),
    ({"process": {"args": ["true"], "capabilities": {"bounding": ["CAP_FLY"]}}}, "unknown capability 'CAP_FLY'"),
    ({"process": {"args": ["true"], "rlimits": [{"type": "RLIMIT_FUN", "soft": 1, "hard": 1}]}}, "unknown rlimit"),
    ({"process": {"args": []}}, "process.args"),
    ({"root": {}}, "root.path"),
    ({"mounts": [{"type": "tmpfs"}]}, "a mount needs a destination"),
])
def test_what_the_runtime_cannot_do_is_a_config_error(change, message):
    """A ConfigError, not a bare ValueError: a bug in pyctr must not read as a user error."""
    with pytest.raises(plan.ConfigError, match=re.escape(message)):
        plan.build_plan(_config(**change))


def test_a_namespace_joined_by_path_is_not_cloned():
    config = _config()
    config["linux"]["namespaces"] = [{"type": t} for t in ("mount", "pid", "uts")] + [
        {"type": "network", "path": "/proc/1/ns/net"}, {"type": "ipc", "path": "/run/ipc"}]
    p = plan.build_plan(config)
    assert p.clone_flags == plan.CLONE_FLAGS["mount"] | plan.CLONE_FLAGS["pid"] | plan.CLONE_FLAGS["uts"]
    assert p.namespace_paths == [(plan.CLONE_FLAGS["network"], "/proc/1/ns/net"), (plan.CLONE_FLAGS["ipc"], "/run/ipc")]
    assert not p.loopback_up  # a joined network namespace's lo is left as it is
    assert p.namespace_fds == []  # opened only by the runtime's create, around the clone


def test_a_device_of_an_unknown_type_is_a_config_error():
    config = _config()
    config["linux"]["devices"] = [{"path": "/dev/x", "type": "z"}]
    with pytest.raises(plan.ConfigError, match="unknown device type 'z'"):
        plan.build_plan(config)


def _fields_read(source: str, name: str) -> set[str]:
    return set(re.findall(rf"\b{name}\.([a-z_]\w*)", source))


def test_the_bridge_reads_only_the_plans_fields():
    """_core.pyx copies a Plan into struct pyctr_plan by attribute: every attribute it reads
    must be a field of the record (a misspelt or missing one was once a dict key that
    nothing set)."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "pyctr", "runtime", "_core.pyx")) as f:
        source = f.read()
    assert _fields_read(source, "plan") >= {"argv", "seccomp", "cgroup_fd", "mounts", "caps"}  # the pattern works
    assert _fields_read(source, "plan") <= set(plan.Plan.__fields__)
    assert _fields_read(source, "d") <= set(plan.Mount.__fields__)  # _fill_mounts
    assert _fields_read(source, "dev") <= set(plan.Device.__fields__)  # _fill_devices
    assert _fields_read(source, "caps") == set(plan.Caps.__fields__)


def test_stage_names_come_from_the_c_core():
    from pyctr.runtime import _core
    assert _core.STAGES[:6] == ("none", "clone", "sync", "propagation", "rootfs", "mount")
    assert _core.STAGES[-5:] == ("namespace", "hook", "sysctl", "personality", "start")
    assert len(set(_core.STAGES)) == len(_core.STAGES)
