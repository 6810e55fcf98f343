"""pyctr-runtime, the runtime behind runc's command line, driven as podman's conmon and
containerd's shim drive runc: a bundle (config.json + rootfs) on disk, the commands as
separate processes, the state under --root."""

import array
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import CID
from pyctr.runtime.oci.main import UsageError, parse

RUNTIME = os.path.join(os.path.dirname(sys.executable), "pyctr-runtime")


class Runtime:
    def __init__(self, root: str, bundle: str):
        self.root, self.bundle = root, bundle

    def __call__(self, *args, **kwargs) -> subprocess.CompletedProcess:
        """The command's result; a created container keeps the stdio create had (runc's
        way), so create's output goes through files, not pipes that would stay open."""
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 30)
        argv = [RUNTIME, "--root", self.root, *args]
        if "create" not in args or "stderr" in kwargs:
            if "stderr" not in kwargs:
                kwargs.setdefault("capture_output", True)
            return subprocess.run(argv, cwd=self.bundle, **kwargs)
        import tempfile
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            done = subprocess.run(argv, cwd=self.bundle, stdin=subprocess.DEVNULL, stdout=out, stderr=err, **kwargs)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, done.returncode, out.read(), err.read())

    def state(self, cid: str = CID) -> dict:
        done = self("state", cid)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def wait_status(self, status: str, cid: str = CID, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while (state := self.state(cid))["status"] != status:
            assert time.monotonic() < deadline, state
            time.sleep(0.02)
        return state


@pytest.fixture
def bundle(bundle_spec, tmp_path):
    """write(*argv, **changes): config.json of the bundle, root.path relative as in a bundle."""
    path = tmp_path / "bundle"

    def write(*argv, **changes):
        spec = bundle_spec(*argv, **changes)
        spec["root"]["path"] = "rootfs"
        (path / "config.json").write_text(json.dumps(spec))
        return spec
    write.path = path
    return write


@pytest.fixture
def rt(runtime_root, bundle):
    runtime = Runtime(runtime_root, str(bundle.path))
    yield runtime
    # whatever a failed test left: killed and deleted (the leak check looks after this)
    for cid in os.listdir(runtime_root) if os.path.isdir(runtime_root) else []:
        runtime("delete", "--force", cid)


def test_argv_is_read_as_runc_reads_it():
    inv = parse(["--root=/r", "--log", "/l", "--log-format", "json", "create", "-b", "/b", "--pid-file=/p", "c1"])
    assert (inv.root, inv.globals["log"], inv.command, inv.args) == ("/r", "/l", "create", ["c1"])
    assert inv.options == {"bundle": "/b", "pid-file": "/p"}
    assert parse(["-root", "/r", "kill", "--all", "c1", "KILL"]).args == ["c1", "KILL"]
    # exec's command keeps its own options, after the id
    inv = parse(["exec", "-t", "--env", "A=1", "-e", "B=2", "c1", "ls", "-l", "--color"])
    assert (inv.options, inv.args) == ({"tty": True, "env": ["A=1", "B=2"]}, ["c1", "ls", "-l", "--color"])
    with pytest.raises(UsageError, match="flag provided but not defined: --bogus"):
        parse(["create", "--bogus", "c1"])
    with pytest.raises(UsageError, match="flag needs an argument: --bundle"):
        parse(["create", "c1", "--bundle"])
    with pytest.raises(UsageError, match="no such command: fly"):
        parse(["fly"])


def test_create_waits_until_start(rt, bundle, tmp_path):
    bundle("sh", "-c", "echo started > /started; exec sleep 100")
    started = bundle.path / "rootfs" / "started"
    done = rt("create", "--pid-file", str(tmp_path / "pid"), CID)
    assert done.returncode == 0, done.stderr
    state = rt.state()
    assert state["status"] == "created" and state["bundle"] == str(bundle.path)
    assert (tmp_path / "pid").read_text() == str(state["pid"])
    time.sleep(0.2)
    assert not started.exists()  # process.args do not run before start
    assert rt("start", CID).returncode == 0
    assert rt.state()["status"] == "running"
    assert started.read_text() == "started\n"
    assert rt("start", CID).returncode == 1  # once only
    assert json.loads(rt("ps", "--format", "json", CID).stdout) == [state["pid"]]
    assert rt("exec", CID, "cat", "/started").stdout == "started\n"
    assert rt("exec", CID, "sh", "-c", "exit 3").returncode == 3
    listed = rt("list", "--format", "json")
    assert [(c["id"], c["status"]) for c in json.loads(listed.stdout)] == [(CID, "running")]
    assert rt("kill", CID, "KILL").returncode == 0
    rt.wait_status("stopped")
    assert rt("kill", CID, "KILL").stderr == "container not running\n"
    assert rt("delete", CID).returncode == 0
    assert rt("state", CID).stderr == f"container {CID} does not exist\n"
    assert rt("list", "-q").stdout == ""


def test_delete_refuses_a_live_container_without_force(rt, bundle):
    bundle("sleep", "100")
    assert rt("create", CID).returncode == 0
    done = rt("delete", CID)
    assert (done.returncode, done.stderr) == (1, f"cannot delete container {CID} that is not stopped: created\n")
    assert rt.state()["status"] == "created"
    assert rt("start", CID).returncode == 0
    assert rt("delete", CID).returncode == 1
    assert rt("delete", "--force", CID).returncode == 0
    assert rt("state", CID).returncode == 1


def _hook(kind: str, log: str) -> dict:
    return {"path": "/bin/sh", "args": ["sh", "-c", f'echo "{kind} $(cat)" >> {log}']}


def test_hooks_run_in_the_spec_order_with_the_state_on_stdin(rt, bundle):
    host_log = str(bundle.path / "rootfs" / "hooks.log")
    hooks = {kind: [_hook(kind, host_log)] for kind in ("prestart", "createRuntime", "poststart", "poststop")}
    hooks["createContainer"] = [_hook("createContainer", host_log)]  # before pivot_root: host paths
    hooks["startContainer"] = [_hook("startContainer", "/hooks.log")]  # inside the container
    bundle("sleep", "100", hooks=hooks)
    assert rt("create", CID).returncode == 0
    pid = rt.state()["pid"]
    assert rt("start", CID).returncode == 0
    assert rt("kill", CID, "KILL").returncode == 0
    rt.wait_status("stopped")
    assert rt("delete", CID).returncode == 0
    lines = [line.split(" ", 1) for line in open(host_log).read().splitlines()]
    assert [kind for kind, _ in lines] == ["createRuntime", "createContainer", "prestart", "startContainer",
                                           "poststart", "poststop"]
    for kind, text in lines:
        state = json.loads(text)
        assert (state["id"], state["bundle"]) == (CID, str(bundle.path)), kind
        assert state["pid"] == (0 if kind == "poststop" else pid), kind
        assert state["status"] == {"poststart": "running", "poststop": "stopped"}.get(kind, "created"), kind


def test_a_failed_prestart_hook_leaves_nothing(rt, bundle):
    spec = bundle("true", hooks={"prestart": [{"path": "/bin/false"}]})
    assert rt("create", CID).returncode == 0
    done = rt("start", CID)
    assert (done.returncode, done.stderr) == (1, "prestart hook /bin/false failed: exit status 1\n")
    assert rt("state", CID).returncode == 1
    cgroup = spec["linux"]["cgroupsPath"]
    assert not any(os.path.exists(f"{d}/{cgroup}") for d in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory"))


def test_a_failed_poststart_hook_is_a_warning(rt, bundle):
    bundle("true", hooks={"poststart": [{"path": "/bin/false"}, _hook("poststart", str(bundle.path / "log"))]})
    assert rt("create", CID).returncode == 0
    done = rt("start", CID)
    assert (done.returncode, done.stderr) == (0, "warning: poststart hook /bin/false failed: exit status 1\n")
    assert (bundle.path / "log").read_text().startswith("poststart {")  # the next hook ran


def test_a_command_missing_at_start_is_told_on_the_container_stderr(rt, bundle, tmp_path):
    bundle("/no/such/program")
    with open(tmp_path / "err", "w") as err:
        assert rt("create", CID, stderr=err, stdout=subprocess.DEVNULL).returncode == 0
    assert rt("start", CID).returncode == 0
    rt.wait_status("stopped")
    assert (tmp_path / "err").read_text() == "pyctr-runtime: exec: exec: /no/such/program: No such file or directory\n"


def receive_master(listener: socket.socket) -> tuple[bytes, int]:
    """The pty's name and master fd, as a console socket's listener (conmon) takes them."""
    conn, _ = listener.accept()
    with conn:
        fds = array.array("i")
        name, ancillary, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(fds.itemsize))
        fds.frombytes(ancillary[0][2])
    return name, fds[0]


def test_the_console_socket_receives_the_pty_master(rt, bundle, tmp_path):
    spec = bundle("sh", "-c", "tty; read line; echo got $line")
    spec["process"]["terminal"] = True
    (bundle.path / "config.json").write_text(json.dumps(spec))
    path = str(tmp_path / "console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        assert rt("create", "--console-socket", path, CID).returncode == 0
        name, master = receive_master(listener)
    try:
        assert name.decode().startswith("/dev/pts/")
        assert rt("start", CID).returncode == 0
        os.write(master, b"hello\n")
        seen = b""
        deadline = time.monotonic() + 10
        while b"got hello" not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(master, 1024)
            except OSError:  # EIO: the far side closed
                break
        assert b"/dev/pts/0" in seen and b"got hello" in seen, seen
    finally:
        os.close(master)
    rt.wait_status("stopped")


def test_run_stays_until_the_exit_and_deletes(rt, bundle):
    bundle("sh", "-c", "echo out; exit 7")
    done = rt("run", CID)
    assert (done.returncode, done.stdout) == (7, "out\n")
    assert rt("state", CID).returncode == 1


@pytest.mark.parametrize("args,message", [
    (["create"], "create: a container id is required"),
    (["create", "--bogus", "x"], "flag provided but not defined: --bogus (create)"),
    (["create", "--bundle", "/nonexistent", "x"], "cannot read /nonexistent/config.json: No such file or directory"),
    (["--systemd-cgroup", "create", "x"], "--systemd-cgroup is not supported"),
    (["kill", "x", "NOSUCHSIG"], "unknown signal 'NOSUCHSIG'"),
    (["start", "nothere"], "container nothere does not exist"),
])
def test_bad_input_is_one_line_and_exit_1(rt, bundle, args, message):
    bundle("true")
    done = rt(*args)
    assert done.returncode == 1
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert rt("list", "-q").stdout == ""


def test_a_second_create_of_an_id_is_refused_and_keeps_the_first(rt, bundle):
    bundle("sleep", "100")
    assert rt("create", CID).returncode == 0
    pid = rt.state()["pid"]
    done = rt("create", CID)
    assert (done.returncode, done.stderr) == (1, f"container with id {CID} already exists\n")
    assert rt.state()["pid"] == pid
    assert rt("delete", "--force", CID).returncode == 0


def test_errors_go_to_the_log_as_json(rt, tmp_path):
    log = tmp_path / "log.json"
    done = rt("--log", str(log), "--log-format", "json", "start", "nothere")
    assert done.returncode == 1
    record = json.loads(log.read_text())
    assert (record["level"], record["msg"]) == ("error", "container nothere does not exist")


def test_spec_and_features(rt, tmp_path):
    (tmp_path / "b").mkdir()
    assert rt("spec", "--bundle", str(tmp_path / "b")).returncode == 0
    spec = json.loads((tmp_path / "b" / "config.json").read_text())
    assert spec["root"]["path"] == "rootfs" and spec["process"]["args"] == ["sh"]
    assert rt("spec", "--bundle", str(tmp_path / "b")).returncode == 1  # never over one
    features = json.loads(rt("features").stdout)
    assert "createContainer" in features["hooks"] and "mount" in features["linux"]["namespaces"]


def test_pyctr_runtime_is_pyctr_runtime(rt, bundle):
    from conftest import PYCTR
    bundle("sleep", "100")
    assert rt("create", CID).returncode == 0
    listed = subprocess.run([PYCTR, "runtime", "--root", rt.root, "list", "-q"], capture_output=True, text=True)
    assert (listed.returncode, listed.stdout) == (0, f"{CID}\n")
    assert rt("delete", "--force", CID).returncode == 0


def test_state_says_creating_until_create_is_done(rt, bundle):
    """A createRuntime hook runs while create is still at work: `state` then says so."""
    seen = bundle.path / "seen"
    ask = f"{RUNTIME} --root {rt.root} state {CID} > {seen}"
    bundle("true", hooks={"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", ask]}]})
    assert rt("create", CID).returncode == 0
    assert json.loads(seen.read_text())["status"] == "creating"
    assert rt.state()["status"] == "created"
    assert rt("delete", "--force", CID).returncode == 0


@pytest.mark.cgroups
def test_resources_and_the_cgroup_mount_on_this_hierarchy(rt, bundle):
    """(Also run in the cgroup v2 guest.)  linux.resources applied at create, `update`
    changes them, `events --stats` reads them; a `cgroup` mount shows the container's own
    cgroup as the root of /sys/fs/cgroup."""
    from pyctr.runtime import cgroups
    spec = bundle("sh", "-c", "ls /sys/fs/cgroup > /cg; exec sleep 100")
    spec["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    spec["linux"]["resources"]["pids"] = {"limit": 50}
    spec["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                           "options": ["nosuid", "noexec", "nodev", "ro"]})
    (bundle.path / "config.json").write_text(json.dumps(spec))
    assert rt("create", CID).returncode == 0
    assert rt("start", CID).returncode == 0
    group = cgroups.open_cgroup(spec["linux"]["cgroupsPath"])
    assert group.stats().memory_limit == 64 << 20 and group.stats().pids_limit == 50
    done = rt("update", "--memory", "128m", "--pids-limit", "60", CID)
    assert done.returncode == 0, done.stderr
    assert group.stats().memory_limit == 128 << 20 and group.stats().pids_limit == 60
    figures = json.loads(rt("events", "--stats", CID).stdout)
    assert figures["type"] == "stats" and figures["data"]["memory"]["usage"]["limit"] == 128 << 20
    deadline = time.monotonic() + 10
    while not (bundle.path / "rootfs" / "cg").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    listed = (bundle.path / "rootfs" / "cg").read_text().split()
    if cgroups.mode() == "v2":
        assert "cgroup.controllers" in listed and "memory.max" in listed
    else:
        assert {"memory", "pids", "devices"} <= set(listed)
    assert rt("exec", CID, "touch", "/sys/fs/cgroup/x").returncode != 0  # read-only, as asked
    assert rt("delete", "--force", CID).returncode == 0


HEAVY = {"re", "enum", "subprocess", "json", "socket", "typer", "rich", "sqlite3", "tempfile"}


def _imported(*args, cwd=None) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", RUNTIME, *args], capture_output=True, text=True,
                          cwd=cwd, stdin=subprocess.DEVNULL, timeout=30)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_the_commands_a_client_calls_most_import_nothing_heavy(rt, bundle, tmp_path):
    """state, create, start, delete run for every container podman or containerd starts:
    an interpreter start, and not the 5 ms of `re` (an id check once took it) or more."""
    bundle("true")
    for args in (["state", "nothere"], ["list"], ["kill", "nothere", "KILL"]):
        assert not _imported("--root", rt.root, *args) & HEAVY, args
    with open(tmp_path / "imports", "w") as err:  # a file: the container keeps create's stdio
        subprocess.run([sys.executable, "-X", "importtime", RUNTIME, "--root", rt.root, "create", CID], cwd=rt.bundle,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=30, check=True)
    text = (tmp_path / "imports").read_text().splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in text if line.startswith("import time:")}
    assert not imported & HEAVY
    assert not _imported("--root", rt.root, "start", CID) & HEAVY
    rt.wait_status("stopped")
    assert not _imported("--root", rt.root, "delete", CID) & HEAVY
