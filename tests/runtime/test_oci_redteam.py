"""pyctr-runtime against what a careless or hostile caller, config or image does to it:
each test here is a bug found by red-teaming the runc-compatible command line, first
seen failing, then fixed.  runc 1.1.5 and crun 1.8.1 are the reference for behaviour."""

import glob
import json
import os
import subprocess
import sys
import time

import pytest

import test_oci_cli
from conftest import CID

from pyctr.runtime import cgroups

# test_oci_cli's fixtures: a bundle over busybox, and the runtime's command line on it
bundle, rt = test_oci_cli.bundle, test_oci_cli.rt
RUNTIME = test_oci_cli.RUNTIME


@pytest.fixture
def foreign_cgroup(bundle_spec, run_scope):
    """A cgroup that is not the runtime's, with a process of someone else's in it: where
    a config's cgroupsPath may point (a shared parent, a pod's cgroup)."""
    path = bundle_spec("true")["linux"]["cgroupsPath"] + "-foreign"
    cgroup = cgroups.open_cgroup(path)
    cgroup.create()
    victim = subprocess.Popen(["sleep", "100"])
    try:
        cgroup.add(victim.pid)
        yield path, victim
    finally:
        victim.kill()
        victim.wait()
        cgroup.destroy()


def test_a_create_in_a_cgroup_with_others_in_it_is_refused_and_kills_nobody(rt, bundle, foreign_cgroup):
    path, victim = foreign_cgroup
    spec = bundle("true")
    spec["linux"]["cgroupsPath"] = path
    spec["mounts"].append({"destination": "/x", "type": "bind", "source": "/nonexistent", "options": ["bind"]})
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("create", CID)
    assert (done.returncode, done.stderr) == (1, "container's cgroup is not empty: 1 process(es) found\n")
    time.sleep(0.2)
    assert victim.poll() is None  # runc 1.1.5 leaves it alone too (and 1.2 refuses, as here)
    assert cgroups.open_cgroup(path).procs() == [victim.pid]


@pytest.mark.parametrize("flag", ["--pid-file", "--console-socket"])
def test_a_create_that_fails_at_its_last_step_leaves_nothing(rt, bundle, tmp_path, flag):
    """--pid-file where none can be written, --console-socket where nobody listens: the
    container was made by then; runc kills and deletes it before failing, as here."""
    spec = bundle("sleep", "100")
    spec["process"]["terminal"] = flag == "--console-socket"
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("create", flag, str(tmp_path / "nonexistent" / "x"), CID)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert rt("list", "-q").stdout == ""
    assert not cgroups.open_cgroup(spec["linux"]["cgroupsPath"]).exists()


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def test_hooks_print_nothing_on_the_container_stdio(rt, bundle, tmp_path):
    """create's stdio is the container's (conmon's log pipe): runc and crun keep a hook's
    output out of it, and runc tells it in the error of a hook that fails."""
    talk = {"path": "/bin/sh", "args": ["sh", "-c", "echo hook-out; echo hook-err >&2"]}
    bundle("echo", "container-out", hooks={kind: [talk] for kind in HOOK_KINDS})
    done = rt("run", CID)
    assert (done.returncode, done.stdout, done.stderr) == (0, "container-out\n", "")


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_a_failed_hook_tells_its_output(rt, bundle, kind):
    fail = {"path": "/bin/sh", "args": ["sh", "-c", "echo why; echo because >&2; exit 3"]}
    bundle("true", hooks={kind: [fail]})
    done = rt("run", CID)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.endswith("hook /bin/sh failed: exit status 3, output: why because\n"), done.stderr


@pytest.mark.parametrize("force", [False, True])
def test_delete_clears_what_a_killed_create_left_of_an_id(rt, bundle, force):
    """A create killed between making <root>/<id> and writing its state leaves the
    directory alone: the id is then taken for good unless delete clears it (runc's delete
    removes such a directory, then says the container does not exist, or with --force
    nothing)."""
    bundle("true")
    os.makedirs(os.path.join(rt.root, CID))
    done = rt("delete", *(["--force"] if force else []), CID)
    assert (done.returncode, done.stderr) == ((0, "") if force else (1, f"container {CID} does not exist\n"))
    assert not os.path.exists(os.path.join(rt.root, CID))
    assert rt("run", CID).returncode == 0  # the id is free again


@pytest.mark.parametrize("cid", ["a b", "tab\there", "new\nline", "ünï", "x;y", "..", "a*"])
def test_ids_are_what_runc_takes(rt, bundle, cid):
    """runc takes [A-Za-z0-9_+.-] only: anything else broke `list` (an id with a space or
    a newline is two columns, two lines) or failed half-way with a cgroup error."""
    bundle("true")
    done = rt("create", cid)
    assert (done.returncode, done.stderr) == (1, f"invalid container id format: {cid!r}\n")
    assert rt("list", "-q").stdout == ""


def test_two_starts_at_once_start_it_once(rt, bundle):
    """Racing starts (a caller retrying) must not both report success."""
    bundle("sleep", "100")
    for _ in range(20):  # the window is narrow: both open the fifo before either is done
        assert rt("create", CID).returncode == 0
        argv = [test_oci_cli.RUNTIME, "--root", rt.root, "start", CID]
        starts = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = sorted((p.wait(), p.stderr.read()) for p in starts)
        for p in starts:
            p.stderr.close()
        assert results[0] == (0, "")
        assert results[1][0] == 1 and results[1][1].startswith("cannot start a container that"), results
        assert rt("delete", "--force", CID).returncode == 0


def test_a_console_socket_path_longer_than_sockaddr_un_takes(rt, bundle, tmp_path):
    """conmon's socket paths can pass sun_path's 108 bytes (crun connects through
    /proc/self/fd then; this failed with 'cannot connect to the console socket: None')."""
    import socket
    spec = bundle("true")
    spec["process"]["terminal"] = True
    (bundle.path / "config.json").write_text(json.dumps(spec))
    where = tmp_path / ("d" * 100)
    where.mkdir()
    path = str(where / "console.sock")
    assert len(path) > 108
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        dirfd = os.open(where, os.O_PATH)
        try:
            listener.bind(f"/proc/self/fd/{dirfd}/console.sock")
        finally:
            os.close(dirfd)
        listener.listen(1)
        assert rt("create", "--console-socket", path, CID).returncode == 0
        name, master = test_oci_cli.receive_master(listener)
    os.close(master)
    assert name.decode().startswith("/dev/pts/")
    assert rt("delete", "--force", CID).returncode == 0


@pytest.mark.parametrize("kind,key", [("network", "net.ipv4.ip_forward"), ("ipc", "kernel.shmmni")])
def test_a_sysctl_in_a_namespace_joined_from_the_host_is_refused(rt, bundle, kind, key):
    """A namespace joined by path may be the host's own: its sysctls are then the host's
    (runc refuses net.* in the host's network namespace).  The value asked for is the one
    in force, so that the host is left as it was whatever happens."""
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        value = f.read().strip()
    spec = bundle("true")
    spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != kind]
    spec["linux"]["namespaces"].append({"type": kind, "path": f"/proc/{os.getpid()}/ns/{kind[:3]}"})
    spec["linux"]["sysctl"] = {key: value}
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("create", CID)
    assert (done.returncode, done.stderr) == (1, f"sysctl {key!r} would change the host's: the {kind} namespace "
                                                 "joined is the runtime's own\n")
    assert rt("list", "-q").stdout == ""


def test_hooks_get_no_fd_of_the_runtime_caller(rt, bundle, tmp_path):
    """An fd the caller left open (conmon's, containerd's) is not the container's, nor its
    hooks': the container closes them (CVE-2024-21626's lesson), and so must a hook the
    child starts (createContainer ran with them all)."""
    seen = tmp_path / "fds"
    listing = {"path": "/bin/sh", "args": ["sh", "-c", f"ls /proc/self/fd > {seen}"]}
    bundle("true", hooks={"createContainer": [listing]})
    with open("/dev/null") as stray:
        os.set_inheritable(stray.fileno(), True)
        done = rt("run", CID, pass_fds=[stray.fileno()])
    assert done.returncode == 0, done.stderr
    # 0-2, and the fd ls opens to read the directory
    assert sorted(int(fd) for fd in seen.read_text().split()) == [0, 1, 2, 3]


def test_preserve_fds_passes_them_to_the_container(rt, bundle, tmp_path):
    """--preserve-fds N: the caller's fds 3 .. 3+N-1 are the container's too (podman's
    --preserve-fds, systemd's socket activation through it); it was taken and ignored."""
    bundle("sh", "-c", "echo via-fd-3 >&3; ls /proc/self/fd")
    out = tmp_path / "out"
    # a shell opens the fd 3 the runtime is handed, as a caller would
    argv = ["sh", "-c", f'exec "$@" 3>{out}', "sh", test_oci_cli.RUNTIME, "--root", rt.root, "run",
            "--preserve-fds", "1", CID]
    done = subprocess.run(argv, cwd=bundle.path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "via-fd-3\n"
    assert sorted(int(fd) for fd in done.stdout.split()) == [0, 1, 2, 3, 4]  # 4: ls's own


def test_preserve_fds_must_be_a_count(rt, bundle):
    bundle("true")
    done = rt("run", "--preserve-fds", "x", CID)
    assert (done.returncode, done.stderr) == (1, "--preserve-fds takes a number of fds: 'x'\n")


def test_exec_preserve_fds_passes_them_too(rt, bundle, tmp_path):
    bundle("sleep", "100")
    assert rt("create", CID).returncode == 0
    out = tmp_path / "out"
    argv = ["sh", "-c", f'exec "$@" 3>{out}', "sh", test_oci_cli.RUNTIME, "--root", rt.root, "exec",
            "--preserve-fds", "1", CID, "sh", "-c", "echo exec-fd-3 >&3"]
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "exec-fd-3\n"
    assert rt("delete", "--force", CID).returncode == 0


_KEYRING_CALLER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_add_key, SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_SETPERM = 248, 250, 1, 5
assert libc.syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, b"caller-session") > 0
key = libc.syscall(SYS_add_key, b"user", b"caller-secret", b"s3cret", 6, -3)  # -3: the session keyring
assert key > 0 and libc.syscall(SYS_keyctl, KEYCTL_SETPERM, key, 0x3f000000) == 0  # its possessor's only
os.execv(sys.argv[1], sys.argv[1:])
"""


@pytest.mark.parametrize("no_new_keyring", [False, True])
def test_the_container_has_a_session_keyring_of_its_own(rt, bundle, no_new_keyring):
    """runc joins each container to a new session keyring (unless --no-new-keyring): the
    caller's keys (a login's, kerberos', NFS's) are not the container's to use.  A key
    only its possessor may see shows in /proc/keys only where it is possessed."""
    spec = bundle("cat", "/proc/keys")
    spec["linux"]["maskedPaths"] = [p for p in spec["linux"].get("maskedPaths", []) if p != "/proc/keys"]
    (bundle.path / "config.json").write_text(json.dumps(spec))
    argv = [test_oci_cli.RUNTIME, "--root", rt.root, "run", *(["--no-new-keyring"] if no_new_keyring else []), CID]
    done = subprocess.run([sys.executable, "-c", _KEYRING_CALLER, *argv], cwd=bundle.path, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert ("caller-secret" in done.stdout) == no_new_keyring, done.stdout


def test_a_writable_cgroup_mount_without_a_cgroup_namespace_is_the_container_s_own_cgroup(rt, bundle):
    """Without a cgroup namespace, mounting the cgroup filesystems again showed the host's
    whole hierarchies: with "rw" the container moved itself out of its limits (into the
    root cgroup) and could rewrite anyone's.  runc binds the container's own cgroup."""
    if cgroups.mode() == "v2":
        pytest.skip("the v1 hierarchies")
    script = ("echo $$ > /sys/fs/cgroup/memory/cgroup.procs; grep memory: /proc/self/cgroup; "
              "ls /sys/fs/cgroup/memory/cgroup.sane_behavior")  # a file of the root cgroup's alone
    spec = bundle("sh", "-c", script)
    spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "cgroup"]
    spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    spec["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                           "options": ["nosuid", "noexec", "nodev", "rw"]})
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("run", CID)
    own = "/" + spec["linux"]["cgroupsPath"].strip("/")
    assert f"memory:{own}\n" in done.stdout, done.stdout  # still in its own cgroup
    assert "sane_behavior" in done.stderr and done.returncode == 1, (done.stdout, done.stderr)


def test_a_paused_container_says_so_and_refuses_exec(rt, bundle):
    """runc's state and list say "paused"; its exec refuses a paused container (a process
    joining a frozen cgroup freezes: our exec hung, deaf to SIGTERM) unless told
    --ignore-paused."""
    bundle("sleep", "100")
    assert rt("create", CID).returncode == 0 and rt("start", CID).returncode == 0
    assert rt("pause", CID).returncode == 0
    try:
        assert rt.state()["status"] == "paused"
        assert [c["status"] for c in json.loads(rt("list", "--format", "json").stdout)] == ["paused"]
        done = rt("exec", CID, "true", timeout=10)
        assert (done.returncode, done.stderr) == (1, "cannot exec in a paused container "
                                                     "(use --ignore-paused to override)\n")
    finally:
        assert rt("resume", CID).returncode == 0
    assert rt.state()["status"] == "running"
    assert rt("delete", "--force", CID).returncode == 0


@pytest.mark.parametrize("path,where", [("../../../../tmp/escaped-cgroup", "tmp/escaped-cgroup"), ("/..", None)])
def test_a_cgroups_path_never_leads_out_of_the_cgroup_root(rt, bundle, tmp_path, path, where):
    """`..` is cleaned as runc cleans it: from the root, never above it; the root itself is
    refused."""
    spec = bundle("true")
    spec["linux"]["cgroupsPath"] = path
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("create", CID)
    assert not os.path.exists("/tmp/escaped-cgroup")
    if where is None:
        assert done.returncode == 1 and "below the root" in done.stderr
    else:  # landed at /sys/fs/cgroup[/ctl]/tmp/escaped-cgroup: removed with the container
        assert done.returncode == 0, done.stderr
        assert rt("delete", "--force", CID).returncode == 0
        for d in glob.glob(f"/sys/fs/cgroup/*/{where}") + glob.glob(f"/sys/fs/cgroup/{where}"):
            os.rmdir(d)
        for d in glob.glob("/sys/fs/cgroup/*/tmp") + glob.glob("/sys/fs/cgroup/tmp"):
            os.rmdir(d)


def test_joining_the_runtimes_own_mount_namespace_is_refused(rt, bundle):
    spec = bundle("true")
    spec["linux"]["namespaces"] = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != "mount"] + [
        {"type": "mount", "path": f"/proc/{os.getpid()}/ns/mnt"}]  # ours is the runtime's
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("create", CID)
    assert done.returncode == 1 and "joining the runtime's own mount namespace is refused" in done.stderr
    assert rt("list", "-q").stdout == ""


def test_a_relative_root_is_made_absolute(bundle, tmp_path):
    bundle("sleep", "100")
    cwd = str(bundle.path)
    with open(tmp_path / "err", "w") as err:  # the container keeps create's stdio: a file, not a pipe
        done = subprocess.run([RUNTIME, "--root", "relroot", "create", CID], cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err, timeout=30)
    assert done.returncode == 0, (tmp_path / "err").read_text()
    state = subprocess.run([RUNTIME, "--root", os.path.join(cwd, "relroot"), "state", CID], capture_output=True,
                           text=True)
    assert json.loads(state.stdout)["status"] == "created"
    subprocess.run([RUNTIME, "--root", os.path.join(cwd, "relroot"), "delete", "--force", CID], check=True)


# The whole change's review


def _block_device() -> tuple[int, int] | None:
    """A block device of this host's (major, minor), one a container must not read."""
    for entry in sorted(os.listdir("/sys/dev/block")):
        major, minor = entry.split(":")
        if os.path.exists(f"/sys/dev/block/{entry}/size") and open(f"/sys/dev/block/{entry}/size").read().strip() != "0":
            return int(major), int(minor)
    return None


def test_device_rules_start_from_deny_when_the_config_gives_none(rt, bundle):
    found = _block_device()
    if found is None:
        pytest.skip("no block device on this host")
    spec = bundle("sh", "-c", f"mknod /disk b {found[0]} {found[1]} && head -c 1 /disk > /dev/null && echo READ")
    spec["linux"]["resources"].pop("devices", None)
    spec["linux"].pop("devices", None)
    (bundle.path / "config.json").write_text(json.dumps(spec))
    done = rt("run", CID)
    assert "READ" not in done.stdout and "Operation not permitted" in done.stderr, (done.stdout, done.stderr)
    assert rt("state", CID).returncode == 1


def test_a_failed_create_container_hook_runs_poststop(rt, bundle):
    log = bundle.path / "poststop.log"
    bundle("true", hooks={"createContainer": [{"path": "/bin/false"}],
                          "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {log}"]}]})
    done = rt("create", CID)
    assert done.returncode == 1 and "hook /bin/false failed" in done.stderr
    assert json.loads(log.read_text())["status"] == "stopped"
    assert rt("state", CID).returncode == 1


def test_a_hook_that_never_reads_its_state_still_times_out(rt, bundle):
    """A state larger than a pipe holds, to a hook that neither reads nor exits: its stdin
    is a file, so the timeout runs from its start."""
    bundle("true", annotations={"big": "x" * 300_000},
           hooks={"createContainer": [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]})
    began = time.monotonic()
    done = rt("create", CID)
    assert done.returncode == 1 and "hook timed out" in done.stderr, done.stderr
    assert time.monotonic() - began < 10
    assert rt("state", CID).returncode == 1


def test_host_hooks_are_checked_before_anything_runs(rt, bundle):
    bundle("true", hooks={"poststop": [{"path": "relative/hook"}]})
    done = rt("create", CID)
    assert (done.returncode, done.stderr) == (1, "a poststop hook needs an absolute path: {'path': 'relative/hook'}\n")
    assert rt("list", "-q").stdout == ""
