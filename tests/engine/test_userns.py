"""User namespaces on real containers: --userns=auto makes container root an unprivileged
host uid, the rootfs reached through idmapped mounts; ranges are recorded and freed;
--uidmap/--gidmap; bad flags refused."""

import os
import subprocess

import pytest

from helpers import Held, wait_for


def _status_ids(pid: int) -> tuple[int, int]:
    """(real uid, real gid) of a host process."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def _procs(pyctr, container_id: str) -> list[int]:
    """The container's processes: any controller's cgroup lists them all."""
    with open(os.path.join(pyctr.cgroup_dirs(container_id)[0], "cgroup.procs")) as f:
        return [int(p) for p in f.read().split()]


@pytest.fixture
def idmappable(pyctr):
    """runc's `requires` guard: the test root's filesystem must take idmapped mounts (ext4,
    xfs, btrfs; tmpfs from Linux 6.3 on)."""
    r = pyctr("run", "--rm", "--userns=auto", "busybox", "true")
    if "the filesystem takes no idmapped mounts" in r.stderr:
        pytest.skip(r.stderr.strip())


def _ranges(pyctr, container_id: str) -> dict:
    return {r.kind: (r.host_start, r.size) for r in pyctr.store().id_ranges(container_id)}


def test_auto_runs_container_root_as_an_unprivileged_host_uid(pyctr, idmappable):
    held = Held(pyctr, "--userns=auto", command="echo made > /made-inside; echo ready; read x")
    try:
        ranges = _ranges(pyctr, held.record.id)
        uid, size = ranges["uid"]
        assert uid >= 1000 and size == 65536 and ranges["gid"][1] == 65536
        # inside: root, and the file it made is root's
        r = pyctr("exec", held.record.name, "sh", "-c", "id -u; id -g; stat -c %u:%g /made-inside; cat /proc/self/uid_map")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[:3] == ["0", "0", "0:0"]
        assert lines[3].split() == ["0", str(uid), "65536"]
        # on the host: every process of the container (pid 1 and an exec'd one) runs as the mapped ids
        proc = pyctr.popen("exec", held.record.name, "sleep", "30")
        try:
            wait_for(lambda: len(_procs(pyctr, held.record.id)) >= 2)
            for pid in _procs(pyctr, held.record.id):
                assert _status_ids(pid) == (uid, ranges["gid"][0])
                # exec joined the user namespace as well as the others
                assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
            assert len({os.readlink(f"/proc/{pid}/ns/user") for pid in _procs(pyctr, held.record.id)}) == 1
        finally:
            proc.kill()
            proc.wait()
        # the upper dir on the host: through the idmapped mount container root writes as
        # on-disk 0, so the files are stored as a container without a user namespace has them
        made = os.stat(os.path.join(pyctr.root, "containers", held.record.id, "upper", "made-inside"))
        assert (made.st_uid, made.st_gid) == (0, 0)
        # a directory made where an image's directory was removed (user.overlay.* xattrs);
        # not /etc, which holds the hosts files' mount points now
        r = pyctr("exec", held.record.name, "sh", "-c", "rm -rf /home && mkdir /home && echo ok")
        assert r.stdout == "ok\n", r.stderr
    finally:
        held.release()


def test_two_containers_get_different_ranges_and_rm_frees_them(pyctr, idmappable):
    first = pyctr("run", "-d", "--userns=auto", "busybox", "sleep", "30").stdout.strip()
    second = pyctr("run", "-d", "--userns=auto", "busybox", "sleep", "30").stdout.strip()
    try:
        a, b = _ranges(pyctr, first)["uid"], _ranges(pyctr, second)["uid"]
        assert a[0] + a[1] <= b[0] or b[0] + b[1] <= a[0]
        assert pyctr("rm", "-f", first).returncode == 0
        assert _ranges(pyctr, first) == {}
        third = pyctr("run", "-d", "--userns=auto", "busybox", "sleep", "30").stdout.strip()
        assert _ranges(pyctr, third)["uid"] == a  # the lowest free range: the one rm freed
        assert pyctr("rm", "-f", third).returncode == 0
    finally:
        assert pyctr("rm", "-f", second).returncode == 0
    assert pyctr.store().db.execute("SELECT COUNT(*) FROM id_ranges").fetchone()[0] == 0


def test_a_failed_or_removed_run_holds_no_range(pyctr, idmappable):
    r = pyctr("run", "--rm", "--userns=auto", "busybox", "no-such-command")
    assert r.returncode == 127
    r = pyctr("run", "--rm", "--userns=auto", "busybox", "true")
    assert r.returncode == 0, r.stderr
    assert pyctr.store().db.execute("SELECT COUNT(*) FROM id_ranges").fetchone()[0] == 0
    assert pyctr.container_dirs() == []


def test_explicit_maps(pyctr, idmappable):
    r = pyctr("run", "--rm", "--uidmap", "0:200000:1000", "--gidmap", "0:300000:2000", "busybox", "sh", "-c",
              "cat /proc/self/uid_map /proc/self/gid_map; id -u")
    assert r.returncode == 0, r.stderr
    assert [line.split() for line in r.stdout.splitlines()] == [["0", "200000", "1000"], ["0", "300000", "2000"], ["0"]]
    r = pyctr("run", "--rm", "--uidmap", "0:200000:1000", "busybox", "cat", "/proc/self/gid_map")
    assert r.stdout.split() == ["0", "200000", "1000"]  # podman's rule: --uidmap alone maps gids too


def test_an_explicit_map_may_not_take_an_auto_range(pyctr, idmappable):
    held = pyctr("run", "-d", "--userns=auto", "busybox", "sleep", "30").stdout.strip()
    try:
        start = _ranges(pyctr, held)["uid"][0]
        r = pyctr("run", "--rm", "--uidmap", f"0:{start + 10}:10", "busybox", "true")
        assert r.returncode == 125 and r.stderr.count("\n") == 1 and held[:12] in r.stderr
    finally:
        pyctr("rm", "-f", held)


@pytest.mark.parametrize("flags, message", [
    (["--userns=bogus"], "invalid --userns 'bogus'"),
    (["--userns=auto:size=0"], "invalid --userns option"),
    (["--userns=auto", "--uidmap", "0:100000:10"], "cannot be combined"),
    (["--userns=host", "--uidmap", "0:100000:10"], "cannot be combined"),
    (["--uidmap", "0:100000"], "want CONTAINER:HOST:SIZE"),
    (["--uidmap", "0:-1:10"], "want CONTAINER:HOST:SIZE"),
    (["--uidmap", "0:4294967290:10"], "ids must stay below"),
    (["--uidmap", "0:1:0"], "the size above 0"),
    (["--uidmap", "0:100000:10", "--uidmap", "5:200000:10"], "the ranges overlap"),
    (["--gidmap", "0:100000:10", "--gidmap", "20:100005:10"], "the ranges overlap"),
])
def test_bad_flags_are_one_line_and_leave_nothing(pyctr, flags, message):
    r = pyctr("run", "--rm", *flags, "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("pyctr: ") and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert pyctr.container_dirs() == []
    assert pyctr.store().db.execute("SELECT COUNT(*) FROM id_ranges").fetchone()[0] == 0


def test_userns_from_the_environment_and_host_to_turn_it_off(pyctr, idmappable):
    r = pyctr("run", "--rm", "busybox", "cat", "/proc/self/uid_map", env={"PYCTR_USERNS": "auto"})
    assert r.stdout.split()[1] != "0"
    r = pyctr("run", "--rm", "--userns=host", "busybox", "cat", "/proc/self/uid_map", env={"PYCTR_USERNS": "auto"})
    assert r.stdout.split() == ["0", "0", "4294967295"]


def test_a_tty_and_init_work_in_a_user_namespace(pyctr, idmappable):
    r = subprocess.run(["script", "-qec", " ".join(pyctr.argv("run", "--rm", "-t", "--init", "--userns=auto",
                                                             "busybox", "sh", "-c", "'tty; id -u'")), "/dev/null"],
                       capture_output=True, text=True, timeout=60, env=pyctr.env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\r", "").split() == ["/dev/pts/0", "0"]
