"""The engine on runc and crun (`run --runtime`, or <root>/pyctr.toml's runtime): the
lifecycle tests `pyctr run` passes, run again with the container's runtime an OCI
runtime's CLI under pyctr's monitor.  crun here runs in a private mount namespace with
/sys/fs/cgroup/unified hidden (runtime/external.py), as the benchmark does.  Each runtime
is skipped where it is not installed."""

import json
import os
import shutil
import subprocess
import sys

import pytest

for _other in ("compat", "runtime"):  # where the rest of the lifecycle tests are
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), _other))

from helpers import Held, monitor_of
from test_detach import test_stop_start_restart_keep_files_and_logs, test_the_docker_session  # noqa: F401
from test_exec import test_exec_exit_codes as exec_exit_codes
from test_exec import test_exec_user_workdir_env_and_detach, test_exec_with_a_tty  # noqa: F401
from test_lifecycle import (test_kill_with_a_signal_and_wait, test_ps_shows_running_then_exited,  # noqa: F401
                            test_start_of_a_running_container_is_a_no_op,
                            test_stop_of_a_process_that_ignores_sigterm_takes_the_grace_then_sigkill,
                            test_top_lists_the_containers_processes)
from test_run import (test_echo_hello, test_exit_code_is_the_containers, test_killed_by_signal_is_128_plus_signal,  # noqa: F401
                      test_rm_leaves_nothing, test_sigterm_is_forwarded_to_the_container,
                      test_without_rm_the_container_stays_with_its_exit_code)
from test_tty import test_tty_interactive_shell, test_tty_without_interactive_still_gets_a_terminal  # noqa: F401
from test_verbs import test_pause_unpause_and_stop_of_a_paused_container, test_rm_f_of_a_paused_container  # noqa: F401
from test_cgroups import test_with_rm_an_oom_kill_is_still_told  # noqa: F401
from test_events import test_an_oom_kill_then_die, test_kill_start_restart  # noqa: F401
from test_runflags import test_restart_on_failure_restarts_exactly_n_times_with_back_off  # noqa: F401

# and pyctr's own runtime behind runc's command line, as any other: the engine's bundle
# through pyctr-runtime (this build's, beside the tests' interpreter)
RUNTIMES = ("runc", "crun", "pyctr-runtime")


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    if request.param == "pyctr-runtime":
        return os.path.join(os.path.dirname(sys.executable), "pyctr-runtime")
    if shutil.which(request.param) is None:
        pytest.skip(f"{request.param} is not installed")
    return request.param


@pytest.fixture
def pyctr(pyctr, runtime):
    """conftest's pyctr, its root's default runtime the external one: every test above
    runs its containers there (and says so, below)."""
    with open(os.path.join(pyctr.root, "pyctr.toml"), "w") as f:
        f.write(f'runtime = "{runtime}"\n')
    return pyctr


def test_exec_exit_codes(pyctr, runtime):
    if runtime == "runc":  # runc's words are pyctr's: the test as it is
        return exec_exit_codes(pyctr)
    held = Held(pyctr)  # crun says "executable file `x` not found in $PATH"
    try:
        assert pyctr("exec", held.record.name, "sh", "-c", "exit 7").returncode == 7
        r = pyctr("exec", held.record.name, "no-such-command")
        assert r.returncode == 127 and "not found" in r.stderr
    finally:
        held.release()


def _runtime_state(pyctr, runtime: str, cid: str) -> dict | None:
    """What the runtime itself says of the container, from its own state root."""
    root = os.path.join(pyctr.root, "run", "runtimes", os.path.basename(runtime))
    r = subprocess.run([runtime, "--root", root, "state", cid], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_the_container_is_the_runtimes_under_pyctrs_monitor(pyctr, runtime):
    assert pyctr("run", "-d", "--name", "r", "busybox", "sleep", "60").returncode == 0
    try:
        [info] = json.loads(pyctr("inspect", "r").stdout)
        assert info["HostConfig"]["Runtime"] == shutil.which(runtime)
        state = _runtime_state(pyctr, runtime, info["Id"])
        assert state["status"] == "running" and state["pid"] == info["State"]["Pid"]
        with open(f"/proc/{monitor_of(state['pid'])}/comm") as f:
            assert f.read().strip() == "pyctr-monitor"  # reparented to the subreaper fork
        # stats and top read its cgroup
        r = pyctr("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "r")
        assert r.returncode == 0 and r.stdout.split() == ["r", "1"]
        assert pyctr("update", "--pids-limit", "50", "r").returncode == 0
        [limit] = [os.path.join(d, "pids.max") for d in pyctr.cgroup_dirs(info["Id"])
                   if os.path.exists(os.path.join(d, "pids.max"))]
        with open(limit) as f:
            assert f.read().strip() == "50"
    finally:
        assert pyctr("rm", "-f", "r").returncode == 0
    # deleted from the runtime too (its state root goes with its last container)
    assert not os.path.exists(os.path.join(pyctr.root, "run", "runtimes"))


def test_the_flag_beats_the_config_file(pyctr, runtime):
    assert pyctr("create", "--name", "own", "--runtime", "pyctr", "busybox", "true").returncode == 0
    assert pyctr("create", "--name", "ext", "busybox", "true").returncode == 0
    runtimes = {c["Name"]: c["HostConfig"]["Runtime"] for c in json.loads(pyctr("inspect", "own", "ext").stdout)}
    assert runtimes == {"/own": "pyctr", "/ext": shutil.which(runtime)}
    assert pyctr("start", "-a", "ext").returncode == 0
    pyctr("rm", "own", "ext")


def test_an_unknown_runtime_is_one_line_and_leaves_nothing(pyctr):
    for args in (["--runtime", "no-such-runtime"], ["--runtime", "/no/such/runc"]):
        r = pyctr("run", "--rm", *args, "busybox", "true")
        assert r.returncode == 125
        assert r.stderr.startswith("pyctr: unknown runtime ") and r.stderr.count("\n") == 1
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


def test_a_bad_config_file_is_one_line(pyctr):
    with open(os.path.join(pyctr.root, "pyctr.toml"), "w") as f:
        f.write("runtime = [\n")
    r = pyctr("run", "--rm", "busybox", "true")
    assert r.returncode == 125 and r.stderr.startswith("pyctr: ") and r.stderr.count("\n") == 1


def test_adapt_gives_runc_and_crun_what_they_read():
    from pyctr.engine.runtimes import EXTERNAL_OCI_VERSION, adapt
    bind = {"destination": "/etc/hosts", "type": "bind", "source": "/x", "options": ["rbind", "idmap"]}
    config = {"ociVersion": "1.2.0", "mounts": [dict(bind)],
              "linux": {"cgroupsPath": "pyctr/abc", "namespaces": [{"type": "pid"}]}}
    adapt(config)
    assert config["ociVersion"] == EXTERNAL_OCI_VERSION
    assert config["linux"]["cgroupsPath"] == "/pyctr/abc"
    assert config["mounts"][0]["options"] == ["rbind"]
    in_userns = {"ociVersion": "1.2.0", "mounts": [dict(bind)],
                 "linux": {"cgroupsPath": "/pyctr/abc", "namespaces": [{"type": "user"}]}}
    adapt(in_userns)
    assert in_userns["linux"]["cgroupsPath"] == "/pyctr/abc" and in_userns["mounts"][0]["options"] == ["rbind", "idmap"]
