"""The runtime on its own: an OCI config in, a process out, as podman would drive it.
A plain rootfs directory (no overlay annotation) is bind-mounted."""

import errno
import os
import shutil

import pytest

from pyctr import runtime
from pyctr.spec import RootfsLayout, RunOptions, build_spec


@pytest.fixture
def bundle_spec(pyctr, tmp_path):
    """A spec over a plain copy of the busybox rootfs, the way an OCI bundle comes."""
    assert pyctr("run", "--rm", "busybox", "true").returncode == 0
    [layer] = os.listdir(os.path.join(pyctr.root, "layers"))
    rootfs = tmp_path / "bundle" / "rootfs"
    shutil.copytree(os.path.join(pyctr.root, "layers", layer, "diff"), rootfs, symlinks=True)

    def make(*argv, **spec_changes):
        spec = build_spec(RunOptions(image="busybox", command=list(argv), cgroup_parent=pyctr.cgroup_parent),
                          {}, "f" * 64, RootfsLayout([], "", "", str(rootfs)), host_env={})
        del spec["annotations"]
        spec.update(spec_changes)
        return spec
    return make


def run_to_exit(spec, stdout) -> int:
    proc = runtime.create(spec, stdio=(0, stdout, 2))
    proc.start()
    code = runtime.wait(proc.pid)
    proc.finish()
    return code


def test_plain_rootfs_is_bind_mounted(bundle_spec, tmp_path):
    out = tmp_path / "out"
    with open(out, "w") as f:
        code = run_to_exit(bundle_spec("sh", "-c", "echo $$ > /x; cat /x; hostname"), f.fileno())
    assert code == 0
    assert out.read_text() == "1\n" + "f" * 12 + "\n"
    assert (tmp_path / "bundle" / "rootfs" / "x").read_text() == "1\n"  # no overlay: writes land in place


def test_child_failure_comes_back_with_stage_and_errno(bundle_spec):
    spec = bundle_spec("true")
    spec["mounts"].append({"destination": "/bad", "type": "no-such-fs", "source": "x", "options": []})
    proc = runtime.create(spec)
    with pytest.raises(runtime.ChildError) as e:
        proc.start()
    assert (e.value.stage, e.value.errno) == ("mount", errno.ENODEV)
    assert e.value.message == "mount: /bad"


def test_readonly_root(bundle_spec, tmp_path):
    spec = bundle_spec("sh", "-c", "touch /y 2>/dev/null && echo writable || echo readonly")
    spec["root"]["readonly"] = True
    out = tmp_path / "out"
    with open(out, "w") as f:
        assert run_to_exit(spec, f.fileno()) == 0
    assert out.read_text() == "readonly\n"


def test_abort_kills_a_waiting_child(bundle_spec):
    proc = runtime.create(bundle_spec("true"))
    pid = proc.pid
    assert os.path.exists(f"/proc/{pid}")
    proc.abort()
    assert not os.path.exists(f"/proc/{pid}")


def test_non_root_user_gets_capabilities_only_in_its_bounding_set(bundle_spec, tmp_path):
    spec = bundle_spec("sh", "-c", "id -u; grep -E 'CapEff|CapBnd' /proc/self/status")
    spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    out = tmp_path / "out"
    with open(out, "w") as f:
        assert run_to_exit(spec, f.fileno()) == 0
    uid, _, eff, _, bnd = out.read_text().split()
    assert uid == "1000"
    assert eff == "0000000000000000"  # a non-root user's effective set is empty after exec
    assert bnd == "00000000a80425fb"


def test_a_child_killed_before_exec_is_reported_not_started(bundle_spec):
    import signal
    proc = runtime.create(bundle_spec("true"))
    os.kill(proc.pid, signal.SIGKILL)
    with pytest.raises(runtime.ChildError) as e:
        proc.start()
    assert e.value.stage == "sync"
    assert "died before exec" in e.value.message and "signal 9" in e.value.message


def test_spec_without_mount_namespace_is_refused(bundle_spec):
    spec = bundle_spec("true")
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "mount"]
    with pytest.raises(ValueError, match="mount namespace"):
        runtime.create(spec)


def test_recursive_read_only_bind_covers_submounts(bundle_spec, tmp_path):
    import subprocess
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        spec = bundle_spec("sh", "-c", "touch /mnt/v/x 2>/dev/null && echo top-writable; "
                                       "touch /mnt/v/sub/y 2>/dev/null && echo sub-writable; "
                                       "grep -c ' /mnt/v' /proc/self/mountinfo")
        spec["mounts"].append({"destination": "/mnt/v", "type": "bind", "source": str(src), "options": ["rbind", "ro"]})
        out = tmp_path / "out"
        with open(out, "w") as f:
            assert run_to_exit(spec, f.fileno()) == 0
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
    assert out.read_text() == "2\n"  # both mounts there, neither writable
