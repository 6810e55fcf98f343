"""The runtime on its own: an OCI config and an id in, a process out, as podman would drive
it; its state under its own root.  A plain rootfs directory (no overlay annotation) is
bind-mounted."""

import errno
import json
import os
import shutil
import signal
import time

import pytest

from helpers import runtime_entries

from pyctr.runtime import container as runtime
from pyctr.runtime.errors import ConfigError, NoSuchContainer, NotRunning
from pyctr.runtime.process import wait
from pyctr.runtime._core import ChildError
from pyctr.timestamps import rfc3339

from conftest import CID


@pytest.fixture
def state_root(runtime_root):
    return runtime_root


def create(root: str, spec: dict, **kwargs):
    return runtime.create(root, CID, spec, os.path.dirname(spec["root"]["path"]), **kwargs)


def run_to_exit(root, spec, stdout) -> int:
    proc = create(root, spec, stdio=(0, stdout, 2))
    proc.start()
    code = wait(proc.pid)
    runtime.delete(root, CID)
    return code


def test_plain_rootfs_is_bind_mounted(bundle_spec, state_root, tmp_path):
    out = tmp_path / "out"
    with open(out, "w") as f:
        code = run_to_exit(state_root, bundle_spec("sh", "-c", "echo $$ > /x; cat /x; hostname"), f.fileno())
    assert code == 0
    assert out.read_text() == "1\n" + "f" * 12 + "\n"
    assert (tmp_path / "bundle" / "rootfs" / "x").read_text() == "1\n"  # no overlay: writes land in place


def test_child_failure_comes_back_with_stage_and_errno(bundle_spec, state_root):
    spec = bundle_spec("true")
    spec["mounts"].append({"destination": "/bad", "type": "no-such-fs", "source": "x", "options": []})
    proc = create(state_root, spec)
    with pytest.raises(ChildError) as e:
        proc.start()
    assert (e.value.stage, e.value.errno) == ("mount", errno.ENODEV)
    assert e.value.message == "mount: /bad"
    assert runtime.status(state_root, CID) is None  # nothing of it is left


def test_a_failed_mkdir_is_reported_as_the_stage_that_wanted_it(bundle_spec, state_root, tmp_path):
    """A device node's directory that cannot be made: the device stage, not the mount one."""
    spec = bundle_spec("true")
    spec["root"]["readonly"] = False
    with open(os.path.join(spec["root"]["path"], "blocker"), "w"):
        pass
    spec["linux"]["devices"] = [{"path": "/blocker/x", "type": "c", "major": 1, "minor": 3}]
    proc = create(state_root, spec)
    with pytest.raises(ChildError) as e:
        proc.start()
    assert (e.value.stage, e.value.errno) == ("device", errno.ENOTDIR)


def test_readonly_root(bundle_spec, state_root, tmp_path):
    spec = bundle_spec("sh", "-c", "touch /y 2>/dev/null && echo writable || echo readonly")
    spec["root"]["readonly"] = True
    out = tmp_path / "out"
    with open(out, "w") as f:
        assert run_to_exit(state_root, spec, f.fileno()) == 0
    assert out.read_text() == "readonly\n"


def test_abort_kills_a_waiting_child(bundle_spec, state_root):
    proc = create(state_root, bundle_spec("true"))
    pid = proc.pid
    assert os.path.exists(f"/proc/{pid}")
    proc.abort()
    assert not os.path.exists(f"/proc/{pid}")
    assert runtime.status(state_root, CID) is None and runtime_entries(state_root) == []


def test_non_root_user_gets_capabilities_only_in_its_bounding_set(bundle_spec, state_root, tmp_path):
    spec = bundle_spec("sh", "-c", "id -u; grep -E 'CapEff|CapBnd' /proc/self/status")
    spec["process"]["user"] = {"uid": 1000, "gid": 1000}
    out = tmp_path / "out"
    with open(out, "w") as f:
        assert run_to_exit(state_root, spec, f.fileno()) == 0
    uid, _, eff, _, bnd = out.read_text().split()
    assert uid == "1000"
    assert eff == "0000000000000000"  # a non-root user's effective set is empty after exec
    assert bnd == "00000000a80425fb"


def test_a_child_killed_before_exec_is_reported_not_started(bundle_spec, state_root):
    proc = create(state_root, bundle_spec("true"))
    os.kill(proc.pid, signal.SIGKILL)
    with pytest.raises(ChildError) as e:
        proc.start()
    assert e.value.stage == "sync"
    assert "died before exec" in e.value.message and "signal 9" in e.value.message


def test_a_read_only_root_without_a_mount_namespace_is_refused(bundle_spec, state_root):
    """(Without one the container's mounts are the host's, as with runc: the suite's
    linux_ns_itype runs that; a read-only root would be the host's bind remounted.)"""
    spec = bundle_spec("true")
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "mount"]
    spec["root"]["readonly"] = True
    with pytest.raises(ConfigError, match="a read-only root, masked or read-only paths need a mount namespace"):
        create(state_root, spec)
    assert runtime.status(state_root, CID) is None


def test_recursive_read_only_bind_covers_submounts(bundle_spec, state_root, tmp_path):
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
            assert run_to_exit(state_root, spec, f.fileno()) == 0
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)
    assert out.read_text() == "2\n"  # both mounts there, neither writable


def _saved(root: str) -> dict:
    with open(os.path.join(root, CID, "state.json")) as f:
        return json.load(f)


def test_state_follows_the_container_created_running_stopped_deleted(bundle_spec, state_root, pyctr):
    """state.json is written once cloned (pid, its start time, the cgroup); the status is
    read off the kernel: "created" until exec, "running" after, "stopped" once gone;
    delete removes it all."""
    spec = bundle_spec("sh", "-c", "read x")
    r, w = os.pipe()
    proc = create(state_root, spec, stdio=(r, 1, 2))
    os.close(r)
    try:
        saved = _saved(state_root)
        assert (saved["pid"], saved["bundle"]) == (proc.pid, os.path.dirname(spec["root"]["path"]))
        assert saved["cgroupsPath"] == spec["linux"]["cgroupsPath"] and saved["pidStart"] > 0
        assert oct(os.stat(os.path.join(state_root, CID, "state.json")).st_mode & 0o777) == "0o600"
        assert runtime.status(state_root, CID).current_status() == "created"
        proc.start()
        state = runtime.status(state_root, CID)
        assert state.current_status() == "running"
        assert state.as_oci() == {"ociVersion": "1.2.0", "id": CID, "status": "running", "pid": proc.pid,
                                  "bundle": saved["bundle"], "annotations": {}, "created": rfc3339(saved["created"])}
        assert runtime.processes(state_root, CID) == [proc.pid]
        assert runtime.stats(state_root, CID).pids == 1
    finally:
        os.close(w)  # `read` ends
    assert wait(proc.pid) == 1
    assert runtime.status(state_root, CID).current_status() == "stopped"
    with pytest.raises(NotRunning):
        runtime.kill(state_root, CID, signal.SIGTERM)
    assert runtime.stats(state_root, CID).pids == 0  # the cgroup's last figures, still there
    runtime.delete(state_root, CID)
    assert runtime.status(state_root, CID) is None and runtime_entries(state_root) == []
    assert pyctr.cgroup_dirs(CID) == [] and runtime.stats(state_root, CID) is None
    runtime.delete(state_root, CID)  # nothing to delete is no error
    with pytest.raises(NoSuchContainer):
        runtime.kill(state_root, CID, signal.SIGTERM)


def test_kill_all_reaches_every_process_in_the_cgroup(bundle_spec, state_root):
    proc = create(state_root, bundle_spec("sh", "-c", "sleep 60 & sleep 60; true"))
    proc.start()
    try:
        deadline = time.monotonic() + 5
        while len(runtime.processes(state_root, CID)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(runtime.processes(state_root, CID)) == 3
        runtime.kill(state_root, CID, signal.SIGKILL, all_processes=True)
        assert wait(proc.pid) == 137
    finally:
        runtime.delete(state_root, CID)


def test_a_reused_pid_is_not_the_container(bundle_spec, state_root):
    """The state names the process by pid and start time: the same pid with another start
    time (a reused pid) is "stopped", and never signalled."""
    proc = create(state_root, bundle_spec("sleep", "60"))
    proc.start()
    try:
        path = os.path.join(state_root, CID, "state.json")
        saved = _saved(state_root)
        with open(path, "w") as f:
            json.dump(dict(saved, pidStart=saved["pidStart"] + 1), f)
        assert runtime.status(state_root, CID).current_status() == "stopped"
        with pytest.raises(NotRunning):
            runtime.kill(state_root, CID, signal.SIGKILL)
        assert os.path.exists(f"/proc/{proc.pid}")
    finally:
        runtime.delete(state_root, CID)  # the cgroup goes, and the sleep in it
        wait(proc.pid)


def test_delete_without_state_removes_the_cgroup_the_config_names(bundle_spec, state_root, pyctr):
    """A create killed between making the cgroup and writing the state leaves no state to
    find it by: delete takes the cgroup's path from the config."""
    from pyctr.runtime import cgroups
    spec = bundle_spec("true")
    cgroups.open_cgroup(spec["linux"]["cgroupsPath"]).create()
    assert pyctr.cgroup_dirs(CID) != []
    runtime.delete(state_root, CID, spec)
    assert pyctr.cgroup_dirs(CID) == []


def test_delete_removes_whatever_a_crash_left_in_the_state_dir(bundle_spec, state_root):
    proc = create(state_root, bundle_spec("true"))
    with open(os.path.join(state_root, CID, "state.json.tmp"), "w") as f:
        f.write("{half")
    proc.abort()  # kills it and deletes what it had
    assert runtime_entries(state_root) == []


@pytest.mark.parametrize("where", ["proc", "sys", "dev"])
def test_a_kernel_filesystems_place_that_is_a_link_is_refused(bundle_spec, state_root, where):
    """An image that makes /proc a link (to /dev/p, say) had proc mounted where the masks do
    not look, and a nested namespace could mount a fresh unmasked one."""
    spec = bundle_spec("true")
    rootfs = spec["root"]["path"]
    shutil.rmtree(os.path.join(rootfs, where))
    os.symlink("/tmp/elsewhere", os.path.join(rootfs, where))
    mounts_before = open("/proc/self/mountinfo").read()
    proc = create(state_root, spec)
    with pytest.raises(ChildError) as e:
        proc.start()
    assert (e.value.stage, e.value.errno) == ("mount", errno.ELOOP)
    assert e.value.message == f"mount destination is a symbolic link in the rootfs: /{where}"
    assert not os.path.exists(os.path.join(rootfs, "tmp", "elsewhere"))  # nothing made through it
    assert runtime.status(state_root, CID) is None
    assert open("/proc/self/mountinfo").read() == mounts_before


def _link_on_the_way(spec):
    os.symlink("/tmp", os.path.join(spec["root"]["path"], "linked"))
    spec["mounts"].append({"destination": "/linked/q", "type": "mqueue", "source": "mqueue", "options": []})


def _masked_link(spec):
    """A link would send the mask elsewhere and leave the path itself readable."""
    os.symlink("/etc/group", os.path.join(spec["root"]["path"], "etc", "secret"))
    spec["linux"]["maskedPaths"].append("/etc/secret")


@pytest.mark.parametrize("plant, stage", [(_link_on_the_way, "mount"), (_masked_link, "mask")])
def test_a_link_where_none_may_be_fails_the_start(bundle_spec, state_root, plant, stage):
    spec = bundle_spec("true")
    plant(spec)
    proc = create(state_root, spec)
    with pytest.raises(ChildError) as e:
        proc.start()
    assert (e.value.stage, e.value.errno) == (stage, errno.ELOOP)


def test_devices_and_root_get_dockers_modes_whatever_the_umask(bundle_spec, state_root, tmp_path):
    spec = bundle_spec("sh", "-c", "stat -c '%a %n' /dev/null /dev/zero /dev/tty; umask")
    out = tmp_path / "out"
    old = os.umask(0o077)
    try:
        with open(out, "w") as f:
            assert run_to_exit(state_root, spec, f.fileno()) == 0
    finally:
        os.umask(old)
    assert out.read_text() == "666 /dev/null\n666 /dev/zero\n666 /dev/tty\n0022\n"


def test_a_process_reaped_between_open_and_read_is_gone_not_an_error(monkeypatch):
    """/proc/PID/stat opens, then the read fails with ESRCH: the process was being reaped
    (seen once as `rm -f`'s internal error in the v2 guest)."""
    from pyctr.runtime import process

    def reaped(fd, n):
        raise ProcessLookupError(3, "No such process")
    monkeypatch.setattr(process.os, "read", reaped)
    assert process.identity(os.getpid()) is None


@pytest.fixture
def namespaced_sleep():
    """A process in network, uts and ipc namespaces of its own (`unshare -nui sleep`), its
    network one holding a link besides lo and its uts one a hostname; killed after."""
    import subprocess
    proc = subprocess.Popen(["unshare", "-n", "-u", "-i", "sleep", "60"])
    try:
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{proc.pid}/exe") != "/usr/bin/sleep":
            assert time.monotonic() < deadline
            time.sleep(0.005)
        nsenter = ["nsenter", "-t", str(proc.pid)]
        subprocess.run([*nsenter, "-n", "ip", "link", "add", "joinedbr0", "type", "bridge"], check=True)
        subprocess.run([*nsenter, "-u", "hostname", "joined-uts"], check=True)
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _join(spec: dict, pid: int, types=("network", "uts", "ipc")) -> dict:
    names = {"network": "net", "uts": "uts", "ipc": "ipc", "pid": "pid", "user": "user"}
    spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] not in types] + [
        {"type": t, "path": f"/proc/{pid}/ns/{names[t]}"} for t in types]
    spec.pop("hostname", None)  # a joined uts namespace keeps its own
    return spec


def test_namespaces_joined_by_path(bundle_spec, state_root, tmp_path, namespaced_sleep):
    """--net container:NAME at the runtime's level: the container sees the other process's
    links, hostname and ipc namespace, and the joined lo is left as it was (down)."""
    import subprocess
    spec = _join(bundle_spec("sh", "-c", "for n in net uts ipc; do readlink /proc/self/ns/$n; done; hostname;"
                             " cut -d: -f1 /proc/net/dev | tail -n +3"), namespaced_sleep)
    out = tmp_path / "out"
    with open(out, "w") as f:
        assert run_to_exit(state_root, spec, f.fileno()) == 0
    theirs = [os.readlink(f"/proc/{namespaced_sleep}/ns/{n}") for n in ("net", "uts", "ipc")]
    lines = out.read_text().split("\n")
    assert lines[:4] == [*theirs, "joined-uts"]
    assert sorted(line.strip() for line in lines[4:] if line.strip()) == ["joinedbr0", "lo"]
    lo = subprocess.run(["nsenter", "-t", str(namespaced_sleep), "-n", "ip", "-j", "link", "show", "lo"],
                        check=True, capture_output=True, text=True).stdout
    assert "UP" not in json.loads(lo)[0]["flags"]


@pytest.mark.parametrize("case,message", [
    ("a file", "is not a namespace"),
    ("missing", "cannot open the network namespace"),
    ("wrong type", "is a uts namespace, not a network one"),
    ("user", "joining a user namespace by path is not supported"),
])
def test_a_namespace_path_that_cannot_be_joined_is_a_config_error(bundle_spec, state_root, tmp_path, case, message):
    spec = _join(bundle_spec("true"), os.getpid(), ("user",) if case == "user" else ("network",))
    path = {"a file": str(tmp_path / "plain"), "missing": str(tmp_path / "none"), "wrong type": "/proc/self/ns/uts",
            "user": "/proc/self/ns/user"}[case]
    (tmp_path / "plain").write_text("")
    spec["linux"]["namespaces"][-1]["path"] = path
    with pytest.raises(ConfigError, match=message):
        create(state_root, spec)
    assert runtime.status(state_root, CID) is None  # and the leak check finds no state left
