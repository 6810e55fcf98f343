"""What a careless or hostile user (or container) does to the docker command line, and
what must hold all the same: nothing a restart policy keeps is removed, no control
character reaches the terminal, no traceback, docker's exit codes."""

import json
import os
import subprocess

import pytest

from helpers import wait_for
from pyctr import timestamps
from pyctr.cli.template import TemplateError, format_rows


def _record(pyctr, name: str):
    found = pyctr.store().find_containers(name)
    return found[0] if found else None


def _names(pyctr) -> set[str]:
    return set(pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split())


# a restart policy's back-off is not "stopped"

def test_container_prune_never_removes_a_container_its_policy_is_restarting(pyctr):
    names = [f"again{i}" for i in range(4)]
    for name in names:
        assert pyctr("run", "-d", "--name", name, "--restart", "always", "busybox", "true").returncode == 0
    try:
        # each exit is recorded ("exited") a moment before its cleanup hands the row to the
        # back-off's waiter ("restarting"): prunes all along, to meet that moment
        for _ in range(15):
            r = pyctr("container", "prune", "-f")
            assert r.returncode == 0, r.stderr
            assert r.stderr == ""
            assert set(names) <= _names(pyctr), r.stdout
    finally:
        pyctr("rm", "-f", *names)
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


def test_rm_of_a_restarting_container_is_refused_without_f(pyctr):
    assert pyctr("run", "-d", "--name", "loop", "--restart", "always", "busybox", "true").returncode == 0
    try:
        # after a few restarts the back-off is long enough to find it waiting
        wait_for(lambda: _record(pyctr, "loop").restart_count >= 3, timeout=30)
        wait_for(lambda: _record(pyctr, "loop").status == "restarting", timeout=30)
        r = pyctr("rm", "loop")
        assert r.returncode == 1 and "restarting" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
        assert _record(pyctr, "loop") is not None
    finally:
        r = pyctr("rm", "-f", "loop")
    assert (r.returncode, r.stdout) == (0, "loop\n"), r.stderr
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


# what a container's labels carry to the terminal

def test_events_default_lines_escape_a_labels_control_characters(pyctr):
    hostile = "x=a\nforged line\x1b]0;retitled\x07\x1b[2J"
    assert pyctr("create", "--name", "lab", "--label", hostile, "busybox", "true").returncode == 0
    try:
        # (the container's events only: on the default network the first create makes
        # pyctr0 too, a network's create event)
        r = pyctr("events", "--since", "0", "--until", "0s", "--filter", "container=lab")
        assert r.returncode == 0, r.stderr
        [line] = r.stdout.splitlines()  # one event, one line: no line forged
        assert " container create " in line
        assert not any(c in line for c in "\x1b\x07")
        assert "x=a\\x0aforged line\\x1b]0;retitled\\x07\\x1b[2J" in line
        # the machine formats keep the value whole
        [obj] = map(json.loads, pyctr("events", "--since", "0", "--until", "0s", "--filter", "container=lab",
                                              "--format", "json").stdout.splitlines())
        assert obj["Actor"]["Attributes"]["x"] == hostile[2:]
    finally:
        pyctr("rm", "lab")


# a caller that closed a standard stream (`<&-`, `>&-`: a daemon's child, a careless script)

def _with_closed(pyctr, redirect: str, *args: str, timeout: float = 30):
    return subprocess.run(["sh", "-c", f'exec "$@" {redirect}', "sh", *pyctr.argv(*args)], capture_output=True,
                          text=True, timeout=timeout, env=pyctr.env,
                          stdin=subprocess.DEVNULL if redirect != "<&-" else None)


def test_run_i_with_a_closed_stdin_sees_its_end_instead_of_hanging(pyctr):
    try:
        r = _with_closed(pyctr, "<&-", "run", "--name", "in", "-i", "busybox", "cat")
        assert (r.returncode, r.stderr) == (0, "")
    finally:  # (before: cat read pyctr's own pipe, which took fd 0, for ever)
        pyctr("rm", "-f", "in")


def test_a_closed_stdout_or_stderr_is_no_traceback(pyctr):
    r = _with_closed(pyctr, ">&-", "ps", "-a")
    assert (r.returncode, r.stderr) == (0, "")
    r = _with_closed(pyctr, ">&-", "run", "--name", "out", "busybox", "echo", "hi")
    assert (r.returncode, r.stderr) == (0, "")
    assert pyctr("logs", "out").stdout == "hi\n"  # the container's output is logged all the same
    assert pyctr("rm", "out").returncode == 0
    r = _with_closed(pyctr, "2>&-", "rm", "nosuch")
    assert (r.returncode, r.stdout) == (1, "")


# templates that go wrong: Go's refusal, never an internal error

@pytest.mark.parametrize("fmt", [
    "{{join .List 5}}",  # a number as the separator
    "{{.ID | truncate 5}}",  # piped: truncate 5 "abc", the arguments the wrong way round
    "{{len 5}}",
    "{{upper .List | truncate .ID}}",
    "{{if .ID}}" * 5000 + "x" + "{{end}}" * 5000,  # deeper than the interpreter's stack
])
def test_a_template_that_cannot_run_is_a_template_error(fmt):
    with pytest.raises(TemplateError):
        format_rows(fmt, [{"ID": "abc", "List": ["x", "y"]}])


def test_split_on_nothing_splits_into_characters_as_go():
    assert format_rows('{{range split .ID ""}}<{{.}}>{{end}}', [{"ID": "abc"}]) == "<a><b><c>\n"


def test_ps_with_a_template_that_fails_is_one_line_exit_1(pyctr):
    assert pyctr("create", "--name", "t", "busybox", "true").returncode == 0
    try:
        for fmt in ("{{join .Names 5}}", "{{if .ID}}" * 3000 + "{{end}}" * 3000):
            r = pyctr("ps", "-a", "--format", fmt)
            assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
            assert r.stderr.startswith("pyctr: template ") and "internal error" not in r.stderr
    finally:
        pyctr("rm", "t")


# times far out: docker takes them (nothing is that old, or that new)

@pytest.mark.parametrize("text", ["99999999999999", "9999-12-31T23:59:59", "99999999999h", "9" * 400 + "h",
                                  "-99999999999h"])
def test_a_time_far_out_is_cut_to_int64_ns(text):
    t = timestamps.parse(text)
    assert -(1 << 63) <= t < (1 << 63)


def test_events_and_logs_with_a_time_far_out(pyctr):
    assert pyctr("run", "--name", "far", "busybox", "echo", "hi").returncode == 0
    try:
        for since in ("99999999999999", "9999-12-31T23:59:59"):
            r = pyctr("events", "--since", since, "--until", "0s")
            assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
            r = pyctr("logs", "--since", since, "far")
            assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
        r = pyctr("events", "--since", "99999999999h", "--until", "0s", "--filter", "container=far")
        assert r.returncode == 0 and " container create " in r.stdout, r.stderr
        r = pyctr("logs", "--since", "99999999999h", "--until", "99999999999999", "far")
        assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    finally:
        pyctr("rm", "far")


# a container that cannot be frozen (cgroup v1)

def test_stop_and_rm_f_of_a_container_hung_in_an_oom_with_the_killer_disabled(pyctr):
    from pyctr.runtime import cgroups
    if cgroups.mode() == "v2":
        pytest.skip("v1's memory.oom_control only: v2 has no OOM-kill switch")
    hog = 'x=a; while true; do x="$x$x"; done'
    for verb in (("stop", "-t", "1"), ("rm", "-f")):
        r = pyctr("run", "-d", "--name", "hog", "-m", "16m", "--memory-swap", "16m", "--oom-kill-disable",
                  "busybox", "sh", "-c", hog)
        assert r.returncode == 0, r.stderr
        try:
            [memory] = [d for d in pyctr.cgroup_dirs(r.stdout.strip()) if "/memory/" in d]
            # its shell waits in the OOM for ever: a freeze of its cgroup cannot finish
            wait_for(lambda: "under_oom 1" in open(os.path.join(memory, "memory.oom_control")).read(), timeout=30)
            r = pyctr(*verb, "hog")
            assert (r.returncode, r.stdout, r.stderr) == (0, "hog\n", ""), verb
            if verb[0] == "stop":
                assert pyctr("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}",
                             "hog").stdout == "exited 137 false\n"
        finally:
            pyctr("rm", "-f", "hog")
    assert pyctr.store().list_containers() == [] and pyctr.container_dirs() == []


# a shell's TAB: never a traceback, whatever comes in

@pytest.mark.parametrize("tree,args", [
    ('{"": {"c": {}, "v": [], "s": [], "a": [], "r": false, "x": false}}', ["--bash", ""]),  # an empty line
    ('{"": []}', ["--", "rm", ""]),  # trees of other shapes: an older pyctr's script
    ('{"": {"c": 5}}', ["--", "rm", ""]),
    ("[1]", ["--", "rm", ""]),
])
def test_complete_with_odd_input_answers_nothing(pyctr, tree, args):
    r = subprocess.run(pyctr.argv("__complete", *args), input=tree, capture_output=True, text=True, env=pyctr.env,
                       timeout=30)
    assert (r.returncode, r.stderr) == (0, "")
