"""The leak check itself: a test session of its own (with this conftest) whose test leaks a
cgroup, a mount, a process and a file on purpose must fail in its teardown, naming each;
what other work does on the host meanwhile (a process and a cgroup of another's, a mount
and a /tmp file elsewhere) must not be named; a test that leaks nothing passes."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

import leaks

# the check stands on cgroups: run it in the cgroup v2 guest too
pytestmark = pytest.mark.cgroups

LEAKY = '''
import json, os, subprocess

import conftest
import leaks

RECORD = os.environ["LEAK_RECORD"]


def test_leaks_on_purpose(cgroup_parent, runtime_root, tmp_path):
    mine = {"session cgroup": conftest.SCOPE.own_cgroup}
    cgroup = os.path.join(leaks.hierarchy_dir(), cgroup_parent, "leaked")
    os.makedirs(cgroup)
    mine["cgroup"] = cgroup
    (tmp_path / "mnt").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "mnt")], check=True)
    mine["mount"] = str(tmp_path / "mnt")
    mine["process"] = subprocess.Popen(["sleep", "300"], start_new_session=True).pid
    with open(os.path.join(os.environ["TMPDIR"], "leaked-file"), "w"):
        pass
    mine["file"] = os.path.join(os.environ["TMPDIR"], "leaked-file")
    os.makedirs(os.path.join(runtime_root, "c1"))  # what a runtime that forgot to delete leaves
    with open(os.path.join(runtime_root, "c1", "state.json"), "w"):
        pass
    mine["state"] = os.path.join(runtime_root, "c1")
    # other work on the host, meanwhile
    theirs = {"cgroup": os.path.join(leaks.hierarchy_dir(), "pyctr-selftest-other-" + cgroup_parent)}
    os.makedirs(theirs["cgroup"])
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    with open(os.path.join(leaks.hierarchy_dir(), "cgroup.procs"), "w") as f:
        f.write(str(other.pid))  # not in this run's cgroup: another's process
    theirs["process"] = other.pid
    theirs["mount"] = "/run/pyctr-selftest-" + cgroup_parent  # beside /run/pyctr, not in it
    os.makedirs(theirs["mount"])
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", theirs["mount"]], check=True)
    theirs["file"] = "/tmp/pyctr-selftest-" + cgroup_parent
    with open(theirs["file"], "w"):
        pass
    with open(RECORD, "w") as f:
        json.dump({"mine": mine, "theirs": theirs}, f)


def test_a_clean_test_passes(cgroup_parent, tmp_path):
    subprocess.run(["true"], check=True)
    (tmp_path / "kept").write_text("a test's own temp dir is its to fill")
'''


def _gone(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.02)


def _clean(record: dict) -> None:
    """What the session left, removed in order: processes, mounts, cgroups, files."""
    for side in ("mine", "theirs"):
        _gone(record[side]["process"])
    for side in ("mine", "theirs"):
        subprocess.run(["umount", record[side]["mount"]], check=False)
    os.rmdir(record["theirs"]["mount"])
    for cgroup in (record["mine"]["cgroup"], os.path.dirname(record["mine"]["cgroup"]), record["theirs"]["cgroup"],
                   record["mine"]["session cgroup"]):
        if os.path.isdir(cgroup):
            os.rmdir(cgroup)
    os.unlink(record["theirs"]["file"])


def _sweep_killed_selftests() -> None:
    """What a self-test killed before its _clean left of "theirs" (outside any run's
    places, so no leak check sees it): its mount beside /run/pyctr, its /tmp file, its
    cgroup.  Each name carries that run's prefix; this run has made none yet."""
    import glob
    for mount in glob.glob("/run/pyctr-selftest-*"):
        subprocess.run(["umount", mount], check=False, capture_output=True)
        os.rmdir(mount)
    for leftover in glob.glob("/tmp/pyctr-selftest-*"):
        os.unlink(leftover)
    for cgroup in glob.glob(os.path.join(leaks.hierarchy_dir(), "pyctr-selftest-other-*")):
        try:
            os.rmdir(cgroup)
        except OSError:  # its `sleep 300` still in it: gone within five minutes
            pass


def test_the_leak_check_fails_a_leak_and_only_a_leak(pytester, tmp_path):
    _sweep_killed_selftests()
    with open(os.path.join(os.path.dirname(__file__), "conftest.py")) as f:
        pytester.makeconftest(f.read())
    with open(os.path.join(os.path.dirname(__file__), "leaks.py")) as f:
        pytester.makepyfile(leaks=f.read())
    pytester.makepyfile(test_leaky=LEAKY)
    record_path = tmp_path / "record.json"
    os.environ["LEAK_RECORD"] = str(record_path)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    finally:
        del os.environ["LEAK_RECORD"]
    record = json.loads(record_path.read_text())
    try:
        result.assert_outcomes(passed=2, errors=1)
        report = next(line for line in result.outlines if line.startswith("test left things behind"))
        for what in ("cgroup", "mount", "file", "state"):
            assert record["mine"][what] in report, what
        for what in ("cgroup", "mount", "file"):
            assert record["theirs"][what] not in report, what
        assert re.search(rf"\b{record['mine']['process']}\b", report)
        assert not re.search(rf"\b{record['theirs']['process']}\b", report)
    finally:
        _clean(record)
    assert not os.path.isdir(record["mine"]["session cgroup"])


def test_the_run_sits_in_a_cgroup_of_its_own_inside_the_one_it_came_from():
    import conftest
    scope = conftest.SCOPE
    assert leaks.own_cgroup() == scope.own_cgroup == os.path.join(scope.origin, scope.prefix)
    with open(os.path.join(scope.own_cgroup, "cgroup.procs")) as f:
        assert str(os.getpid()) in f.read().split()


def test_only_this_runs_containers_count_in_pyctrs_default_state(tmp_path):
    """Containers in the default root and runroot count when their config or state names
    this run's cgroup prefix: those of other work on the host do not."""
    scope = leaks.Scope("r1", [str(tmp_path / "t")], "/nowhere", (str(tmp_path / "var"), str(tmp_path / "run")))
    for top, name, parent in (("var/containers", "config.json", "pyctr-test-r1-3"),
                              ("var/containers", "config.json", "pyctr"),
                              ("run", "state.json", "pyctr-test-r1-0"),
                              ("run", "state.json", "pyctr-test-r12-0")):
        d = tmp_path / top / f"{parent}-{name}"
        d.mkdir(parents=True)
        (d / name).write_text(f'{{"cgroupsPath": "{parent}/abc"}}')
    assert scope.files() == {str(tmp_path / "var/containers/pyctr-test-r1-3-config.json"),
                             str(tmp_path / "run/pyctr-test-r1-0-state.json")}


def test_the_default_roots_bridge_counts_as_a_link():
    """pyctr0 (the default root's default network) is host-wide: one a test makes there
    is a leak the per-test check must name, beside pv* and pybr*."""
    from pyctr.engine.networks import DEFAULT_NETWORK
    if os.path.exists(f"/sys/class/net/{DEFAULT_NETWORK}"):
        pytest.skip(f"{DEFAULT_NETWORK} exists on this host: not ours to make")
    scope = leaks.Scope("r2", ["/nowhere"], "/nowhere")
    before = scope.links()
    subprocess.run(["ip", "link", "add", DEFAULT_NETWORK, "type", "bridge"], check=True)
    try:
        assert scope.links() - before == {DEFAULT_NETWORK}
    finally:
        subprocess.run(["ip", "link", "del", DEFAULT_NETWORK], check=True)
