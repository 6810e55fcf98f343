"""The device rules on real containers, with CAP_MKNOD kept: v1's devices controller here,
the eBPF device filter in the cgroup v2 guest (marked `cgroups`: both run the same tests and
must see the same)."""

import ctypes
import errno
import os
import struct
import subprocess
import time

import pytest

from pyctr.engine.spec import DEFAULT_DEVICE_RULES
from pyctr.runtime import cgroups
from pyctr.runtime import container as runtime
from pyctr.runtime.cgroups import devices
from pyctr.runtime.errors import ConfigError

from helpers import Held
from conftest import CID
from test_container import create

pytestmark = pytest.mark.cgroups
V2 = cgroups.mode() == "v2"
CAP_MKNOD = 27

# what each line prints is checked below; `2>&1` keeps each error beside its command
SCRIPT = """
grep CapEff /proc/self/status
mknod /dev/n c 1 3 && echo hello > /dev/n && head -c1 /dev/n | wc -c
head -c3 /dev/zero | wc -c
mknod /dev/disk b 8 0 && echo made disk
head -c1 /dev/disk 2>&1
mknod /dev/mem2 c 1 1 && echo made mem
head -c1 /dev/mem2 2>&1
echo x 2>&1 > /dev/mem2
mknod /tmp/n c 1 3 && echo made on rootfs
head -c1 /tmp/n 2>&1
"""


def test_mknod_is_kept_and_only_the_allowed_devices_open(pyctr):
    r = pyctr("run", "--rm", "busybox", "sh", "-c", SCRIPT)
    assert r.returncode != 0 or r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert int(lines[0].split()[1], 16) & (1 << CAP_MKNOD), lines[0]  # docker's 14 caps, on v2 too
    assert lines[1:4] == ["0", "3", "made disk"]  # a node made for /dev/null works as /dev/null
    assert lines[4] == "head: /dev/disk: Operation not permitted"  # EPERM: the rules, not the caps
    assert lines[5] == "made mem"
    assert lines[6] == "head: /dev/mem2: Operation not permitted"
    assert lines[7] == "sh: can't create /dev/mem2: Operation not permitted"
    assert lines[8] == "made on rootfs"
    assert lines[9] == "head: /tmp/n: Permission denied"  # EACCES: the rootfs is nodev
    assert len(lines) == 10


def test_a_pty_and_the_tty_are_allowed(pyctr):
    r = subprocess.run(pyctr.argv("run", "--rm", "-t", "busybox", "sh", "-c",
                                  "tty; echo via-tty > /dev/tty; head -c1 /dev/urandom | wc -c"),
                       capture_output=True, env=pyctr.env, stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == 0, r.stdout
    assert r.stdout.replace(b"\r", b"").split(b"\n") == [b"/dev/pts/0", b"via-tty", b"1", b""]


def test_exec_keeps_mknod_under_the_same_rules(pyctr):
    held = Held(pyctr)
    try:
        r = pyctr("exec", held.record.name, "sh", "-c",
                  "grep CapEff /proc/self/status; mknod /dev/m c 1 1 && head -c1 /dev/m 2>&1; head -c2 /dev/zero | wc -c")
    finally:
        held.release()
    lines = r.stdout.splitlines()
    assert int(lines[0].split()[1], 16) & (1 << CAP_MKNOD)
    assert lines[1:] == ["head: /dev/m: Operation not permitted", "2"]


def _runtime_root(pyctr, record) -> str:
    return record.runtime_root or os.path.join(pyctr.root, "run")


def test_an_update_replaces_the_rules(pyctr):
    """The whole list again, less /dev/full: writing to it, ENOSPC before, is EPERM after.
    On v2 the new program takes the old one's place."""
    held = Held(pyctr, command="echo ready; while read line; do sh -c \"$line\" 2>&1; echo done; done")

    def inside(command: str) -> list[str]:
        held.proc.stdin.write(command + "\n")
        held.proc.stdin.flush()
        out = []
        while (line := held.proc.stdout.readline().rstrip("\n")) != "done":
            out.append(line)
        return out

    try:
        before = inside("echo x > /dev/full")
        rules = [r for r in DEFAULT_DEVICE_RULES if (r.get("major"), r.get("minor")) != (1, 7)]
        runtime.update(_runtime_root(pyctr, held.record), held.record.id, {"devices": rules})
        after = inside("echo x > /dev/full")
        still = inside("head -c1 /dev/zero | wc -c")
        if V2:
            cgroup = cgroups.open_cgroup(f"{pyctr.cgroup_parent}/{held.record.id}")
            assert len(cgroup.device_filters()) == 1
    finally:
        held.release()
    assert before == ["sh: write error: No space left on device"]
    assert after == ["sh: can't create /dev/full: Operation not permitted"]
    assert still == ["1"]


def test_an_update_without_a_rule_for_all_devices_is_refused(pyctr):
    """v1 would add such a list to the rules in force, v2 would replace them with it: two
    meanings, so neither."""
    held = Held(pyctr)
    try:
        with pytest.raises(ConfigError, match="must give the whole list"):
            runtime.update(_runtime_root(pyctr, held.record), held.record.id,
                           {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 1, "access": "r"}]})
        # an empty list changes nothing
        runtime.update(_runtime_root(pyctr, held.record), held.record.id, {"devices": []})
        r = pyctr("exec", held.record.name, "sh", "-c", "mknod /dev/m c 1 1 && head -c1 /dev/m")
    finally:
        held.release()
    assert "Operation not permitted" in r.stderr


@pytest.mark.parametrize("rule, says", [
    ({"allow": True, "type": "x"}, "device rule 2: type must be a, b or c"),
    ({"allow": "yes"}, "device rule 2: allow must be true or false"),
    ({"allow": True, "type": "c", "access": "rwx"}, "device rule 2: access must be made of r, w and m"),
    ({"allow": True, "type": "c", "major": 1 << 40}, "device rule 2: major and minor must be -1 (any) or 0 to 2147483647"),
    ({"allow": True, "type": "c", "minor": "3"}, "device rule 2: major and minor must be -1 (any) or 0 to 2147483647"),
    ({"allow": True, "type": "c", "minor": True}, "device rule 2: major and minor must be -1 (any) or 0 to 2147483647"),
    ({"allow": True, "type": "a", "major": 8}, "device rule 2: a rule for all devices (a) must not name a major"),
])
def test_a_bad_rule_says_which_and_why(rule, says):
    with pytest.raises(ConfigError) as e:
        devices.program([{"allow": False, "access": "rwm"}, rule])
    assert str(e.value).startswith(says)


def test_a_bad_rule_set_fails_the_create_and_leaves_nothing(bundle_spec, runtime_root, pyctr):  # noqa: F811
    spec = bundle_spec("true")
    spec["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "x"}]
    with pytest.raises(ConfigError, match="^device rule 2: type must be a, b or c$"):
        create(runtime_root, spec)
    assert runtime.status(runtime_root, CID) is None
    assert pyctr.cgroup_dirs(CID) == []


def _bpf_program_exists(prog_id: int) -> bool:
    """BPF_PROG_GET_FD_BY_ID: False once the kernel has freed the program."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(struct.pack("=I", prog_id), 128)
    fd = libc.syscall(321, 13, attr, 128)  # x86_64 __NR_bpf, BPF_PROG_GET_FD_BY_ID
    if fd >= 0:
        os.close(fd)
        return True
    assert ctypes.get_errno() == errno.ENOENT
    return False


@pytest.mark.skipif(not V2, reason="the eBPF device filter is cgroup v2's: v1 has the devices controller")
def test_the_filter_goes_with_the_cgroup(pyctr):
    held = Held(pyctr)
    try:
        [prog_id] = cgroups.open_cgroup(f"{pyctr.cgroup_parent}/{held.record.id}").device_filters()
        assert _bpf_program_exists(prog_id)
    finally:
        held.release()
    deadline = time.monotonic() + 10  # the kernel frees it after the cgroup, from a work queue
    while _bpf_program_exists(prog_id):
        assert time.monotonic() < deadline, f"device program {prog_id} outlived its cgroup"
        time.sleep(0.05)


def test_the_rules_are_read_with_the_oci_defaults():
    assert devices.rules([{"allow": False}, {"allow": True, "type": "c", "major": 136}]) == [
        (False, "a", -1, -1, "rwm"), (True, "c", 136, -1, "rwm")]
    assert [devices.v1_line(r) for r in devices.rules(DEFAULT_DEVICE_RULES[:4])] == [
        "a *:* rwm", "c *:* m", "b *:* m", "c 1:3 rwm"]
    assert len(devices.program(DEFAULT_DEVICE_RULES)) % 8 == 0
