"""docker's verbs as scripts use them: create + start, rename, pause/unpause, container
and system prune, system df, info, -h, did-you-mean, and shell completion."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import TICK, exited, wait_for

HEX64 = re.compile(r"[0-9a-f]{64}")


def _status(pyctr, name: str) -> str:
    """docker's STATUS of a container, by `ps -a --format`."""
    lines = pyctr("ps", "-a", "--format", "{{.Names}}|{{.Status}}").stdout.splitlines()
    return dict(line.split("|", 1) for line in lines).get(name, "")


def _id(pyctr, name: str) -> str:
    return pyctr.store().find_containers(name)[0].id


# create, start

def test_create_makes_a_container_that_does_not_run(pyctr):
    r = pyctr("create", "--name", "c", "busybox", "sh", "-c", TICK)
    assert r.returncode == 0, r.stderr
    assert HEX64.fullmatch(r.stdout.strip())  # the full id, as docker create prints it
    cid = r.stdout.strip()
    try:
        assert _status(pyctr, "c") == "Created"
        assert "c" not in pyctr("ps", "--format", "{{.Names}}").stdout.split()  # not running
        # nothing of it runs or is held: no cgroup, no runtime state, no monitor
        assert pyctr.cgroup_dirs(cid) == []
        assert not os.path.exists(os.path.join(pyctr.root, "run", cid))
        record = pyctr.store().get_container(cid)
        assert record.status == "created" and record.pid is None and record.monitor_pid is None
        assert pyctr("start", "c").returncode == 0
        assert _status(pyctr, "c").startswith("Up")
        wait_for(lambda: "tick 2" in pyctr("logs", "c").stdout)
    finally:
        pyctr("rm", "-f", "c")


def test_create_without_a_name_gets_one(pyctr):
    r = pyctr("create", "busybox", "true")
    assert r.returncode == 0, r.stderr
    record = pyctr.store().get_container(r.stdout.strip())
    assert re.fullmatch(r"[a-z]+_[a-z]+", record.name)
    pyctr("rm", record.id)


def test_create_errors_are_125_and_leave_nothing(pyctr):
    assert pyctr("create", "--name", "x", "busybox", "true").returncode == 0
    r = pyctr("create", "--name", "x", "busybox", "true")
    assert r.returncode == 125 and "already in use" in r.stderr
    r = pyctr("create", "--name", "bad name", "busybox", "true")
    assert r.returncode == 125
    r = pyctr("create", "--cpus", "many", "busybox")
    assert r.returncode == 125
    assert len(pyctr.store().list_containers()) == 1
    pyctr("rm", "x")


def test_start_attached_of_a_created_container(pyctr):
    assert pyctr("create", "--name", "a", "busybox", "sh", "-c", "echo hello; exit 3").returncode == 0
    r = pyctr("start", "-a", "a")
    assert (r.returncode, r.stdout) == (3, "hello\n")
    assert _status(pyctr, "a").startswith("Exited (3)")
    assert pyctr("create", "-i", "--name", "b", "busybox", "cat").returncode == 0
    r = pyctr("start", "-ai", "b", input="through stdin\n")
    assert (r.returncode, r.stdout) == (0, "through stdin\n")
    pyctr("rm", "a", "b")


def test_a_created_container_whose_start_fails_stays_created(pyctr):
    assert pyctr("create", "--name", "n", "busybox", "no-such-command").returncode == 0
    r = pyctr("start", "n")
    assert r.returncode == 1 and "not found" in r.stderr  # docker: start's failures are 1
    assert _status(pyctr, "n") == "Created"
    pyctr("rm", "n")


# rename

def test_rename(pyctr):
    assert pyctr("run", "-d", "--name", "old", "busybox", "sleep", "60").returncode == 0
    assert pyctr("create", "--name", "other", "busybox", "true").returncode == 0
    try:
        r = pyctr("rename", "old", "new")
        assert (r.returncode, r.stdout) == (0, "")
        names = pyctr("ps", "--format", "{{.Names}}").stdout.split()
        assert "new" in names and "old" not in names
        r = pyctr("rename", "new", "other")
        assert r.returncode == 1
        assert 'Conflict. The container name "/other" is already in use' in r.stderr
        r = pyctr("rename", "new", "no good")
        assert r.returncode == 1 and "Invalid container name" in r.stderr
        r = pyctr("rename", "other", "stopped-renamed")  # a container that is not running too
        assert r.returncode == 0 and "stopped-renamed" in pyctr("ps", "-a", "--format", "{{.Names}}").stdout
        assert pyctr("exec", "new", "true").returncode == 0
    finally:
        pyctr("rm", "-f", "new", "stopped-renamed")


# pause, unpause

def _freezer_state(pyctr, cid: str) -> str:
    # the v1 freezer first: on a hybrid host runc also makes the container a cgroup in the
    # unified hierarchy, whose cgroup.freeze its pause leaves alone
    for name, frozen in (("freezer.state", "FROZEN"), ("cgroup.freeze", "1")):
        for d in pyctr.cgroup_dirs(cid):
            path = os.path.join(d, name)
            if os.path.exists(path):
                with open(path) as f:
                    return "FROZEN" if f.read().strip() == frozen else "THAWED"
    return "none"


@pytest.mark.cgroups
def test_pause_unpause_and_stop_of_a_paused_container(pyctr):
    assert pyctr("run", "-d", "--name", "p", "busybox", "sh", "-c", TICK).returncode == 0
    cid = _id(pyctr, "p")
    try:
        wait_for(lambda: "tick 1" in pyctr("logs", "p").stdout)
        r = pyctr("pause", "p")
        assert (r.returncode, r.stdout) == (0, "p\n")
        assert _freezer_state(pyctr, cid) == "FROZEN"
        assert re.fullmatch(r"Up .* \(Paused\)", _status(pyctr, "p"))
        assert pyctr("ps", "--format", "{{.Names}} {{.State}}").stdout.split("\n")[0] == "p paused"
        r = pyctr("exec", "p", "true")
        assert r.returncode == 1 and "is paused, unpause the container before exec" in r.stderr
        assert pyctr("pause", "p").returncode == 1  # already paused
        r = pyctr("start", "p")
        assert r.returncode == 1 and "cannot start a paused container, try unpause instead" in r.stderr
        assert pyctr("unpause", "p").returncode == 0
        assert _freezer_state(pyctr, cid) == "THAWED"
        assert re.fullmatch(r"Up [^(]*", _status(pyctr, "p"))
        assert pyctr("unpause", "p").returncode == 1  # not paused
        assert pyctr("exec", "p", "true").returncode == 0
        assert pyctr("pause", "p").returncode == 0
        # stop thaws after its signal: the trap answers SIGTERM (143), not the SIGKILL (137)
        r = pyctr("stop", "-t", "10", "p")
        assert r.returncode == 0, r.stderr
        wait_for(exited(pyctr, "p"))
        assert _status(pyctr, "p").startswith("Exited (143)")
        r = pyctr("pause", "p")
        assert r.returncode == 1 and "is not running" in r.stderr
    finally:
        pyctr("rm", "-f", "p")


@pytest.mark.cgroups
def test_rm_f_of_a_paused_container(pyctr):
    assert pyctr("run", "-d", "--name", "p", "busybox", "sleep", "60").returncode == 0
    cid = _id(pyctr, "p")
    assert pyctr("pause", "p").returncode == 0
    assert pyctr("rm", "-f", "p").returncode == 0
    assert pyctr.cgroup_dirs(cid) == [] and pyctr.store().list_containers() == []


@pytest.mark.cgroups
def test_commit_leaves_a_paused_container_paused(pyctr):
    assert pyctr("run", "-d", "--name", "p", "busybox", "sh", "-c", "echo x > /made; sleep 60").returncode == 0
    cid = _id(pyctr, "p")
    try:
        wait_for(lambda: pyctr("diff", "p").stdout.strip() != "")
        assert pyctr("pause", "p").returncode == 0
        r = pyctr("commit", "p", "snap:1")
        assert r.returncode == 0, r.stderr
        assert _freezer_state(pyctr, cid) == "FROZEN" and _status(pyctr, "p").endswith("(Paused)")
    finally:
        pyctr("rm", "-f", "p")
        pyctr("rmi", "snap:1")


# container prune, system prune, system df, info

def test_container_prune(pyctr):
    assert pyctr("run", "--name", "done", "busybox", "sh", "-c", "echo x > /file").returncode == 0
    assert pyctr("create", "--name", "made", "busybox", "true").returncode == 0
    assert pyctr("run", "-d", "--name", "up", "busybox", "sleep", "60").returncode == 0
    try:
        gone = {_id(pyctr, "done"), _id(pyctr, "made")}
        r = pyctr("container", "prune", input="")  # no answer: docker's No
        assert r.returncode == 0 and "Are you sure you want to continue? [y/N]" in r.stdout
        assert len(pyctr.store().list_containers()) == 3
        r = pyctr("container", "prune", "-f", "--filter", "until=1h")  # made within the hour: kept
        assert r.stdout == "Total reclaimed space: 0B\n"
        r = pyctr("container", "prune", input="y\n")
        assert r.returncode == 0, r.stderr
        out = r.stdout.split("[y/N] ", 1)[1]
        head, ids, rest = out.partition("Deleted Containers:\n")[1], out.split("\n\n")[0].splitlines()[1:], out
        assert head and set(ids) == gone
        assert re.search(r"\n\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$", rest)
        assert pyctr("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["up"]
        r = pyctr("container", "prune", "-f", "--filter", "bogus=1")
        assert r.returncode == 1 and "invalid filter" in r.stderr
    finally:
        pyctr("rm", "-f", "up")


def test_system_prune_all_with_volumes(pyctr):
    assert pyctr("create", "--name", "v", "-v", "/data", "busybox", "true").returncode == 0
    assert len(pyctr.store().list_volumes()) == 1
    r = pyctr("system", "prune", "-af", "--volumes")
    assert r.returncode == 0, r.stderr
    assert "Deleted Containers:\n" in r.stdout and "Deleted Volumes:\n" in r.stdout
    assert re.search(r"Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n", r.stdout)
    assert r.stdout.splitlines()[-1].startswith("Total reclaimed space: ")
    store = pyctr.store()
    assert store.list_containers() == [] and store.list_volumes() == [] and store.list_images() == []


def test_system_prune_asks_first(pyctr):
    assert pyctr("create", "--name", "s", "busybox", "true").returncode == 0
    r = pyctr("system", "prune", input="n\n")
    assert r.returncode == 0
    assert r.stdout.startswith("WARNING! This will remove:\n  - all stopped containers\n")
    assert "  - all dangling images\n" in r.stdout
    assert len(pyctr.store().list_containers()) == 1
    pyctr("rm", "s")


def test_system_df_shape(pyctr):
    assert pyctr("create", "--name", "d", "-v", "/data", "busybox", "true").returncode == 0
    lines = pyctr("system", "df").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}
    assert set(rows) == {"Images", "Containers", "Local Volumes"}
    assert rows["Images"][:2] == ["1", "1"] and rows["Containers"][:2] == ["1", "0"]
    assert rows["Local Volumes"][:2] == ["1", "1"]
    assert rows["Images"][3] == "0B (0%)"  # its one image is in use: nothing to reclaim
    assert re.fullmatch(r"[\d.]+[kMG]?B", rows["Images"][2])
    objects = [json.loads(line) for line in pyctr("system", "df", "--format", "json").stdout.splitlines()]
    assert [o["Type"] for o in objects] == ["Images", "Containers", "Local Volumes"]
    assert set(objects[0]) == {"Type", "TotalCount", "Active", "Size", "Reclaimable"} and objects[0]["TotalCount"] == "1"
    assert pyctr("system", "df", "--format", "{{.Type}}={{.Active}}").stdout == "Images=1\nContainers=0\nLocal Volumes=1\n"
    verbose = pyctr("system", "df", "-v").stdout
    for title in ("Images space usage:", "Containers space usage:", "Local Volumes space usage:"):
        assert f"{title}\n\n" in verbose
    assert re.search(r"^CONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES$", verbose, re.M)
    assert re.search(r"^[0-9a-f]{12} +busybox +\"true\" +1 +\S+ +.* ago +Created +d$", verbose, re.M)
    assert re.search(r"^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS$", verbose, re.M)
    assert re.search(r"^VOLUME NAME +LINKS +SIZE\n[0-9a-f]{64} +1 +\S+$", verbose, re.M)
    pyctr("rm", "-v", "d")


def test_info(pyctr):
    assert pyctr("create", "--name", "i", "busybox", "true").returncode == 0
    assert pyctr("info", "--format", "{{.Containers}}").stdout == "1\n"
    assert pyctr("info", "--format", "{{.ContainersStopped}} {{.Images}}").stdout == "1 1\n"
    facts = json.loads(pyctr("info", "--format", "json").stdout)
    assert facts["CgroupDriver"] == "cgroupfs" and facts["CgroupVersion"] in ("1", "2")
    assert facts["NCPU"] == os.cpu_count() and facts["MemTotal"] > 0 and facts["DockerRootDir"] == pyctr.root
    text = pyctr("info").stdout
    for line in ("Containers: 1", " Running: 0", " Paused: 0", " Stopped: 1", "Images: 1",
                 "Cgroup Driver: cgroupfs", f"Root Dir: {pyctr.root}", f"CPUs: {os.cpu_count()}"):
        assert line in text.splitlines()
    assert re.search(r"^Kernel Version: \S+$", text, re.M) and re.search(r"^Total Memory: [\d.]+GiB$", text, re.M)
    assert pyctr("system", "info", "-f", "{{.Images}}").stdout == "1\n"
    pyctr("rm", "i")


# -h, did you mean, the container group

def test_dash_h_is_help_but_for_run_and_create(pyctr):
    for line in (["ps", "-h"], ["-h"], ["image", "ls", "-h"], ["container", "prune", "-h"], ["exec", "-h"]):
        r = pyctr(*line)
        assert r.returncode == 0 and "Usage: pyctr" in r.stdout, line
    r = pyctr("run", "--rm", "-h", "x", "busybox", "hostname")
    assert (r.returncode, r.stdout) == (0, "x\n")
    cid = pyctr("create", "-h", "y", "busybox", "hostname").stdout.strip()
    assert pyctr("start", "-a", cid).stdout == "y\n"
    pyctr("rm", cid)
    assert "Usage: pyctr create" in pyctr("create", "--help").stdout


def test_suggestions_only_for_close_matches(pyctr):
    r = pyctr("stp")
    assert "Did you mean 'stop'?" in r.stderr and "'top'" not in r.stderr
    r = pyctr("run", "--usr", "1", "busybox")
    assert r.returncode == 125 and "Did you mean --user?" in r.stderr and "--cpus" not in r.stderr
    assert "Did you mean" not in pyctr("ps", "--bogus").stderr
    assert "Did you mean" not in pyctr("frobnicate").stderr


def test_container_group_aliases(pyctr):
    assert pyctr("container", "create", "--name", "g", "busybox", "true").returncode == 0
    assert pyctr("container", "ls", "-a", "--format", "{{.Names}}").stdout == "g\n"
    assert pyctr("container", "rm", "g").stdout == "g\n"


# completion

def _bash_candidates(pyctr, line: str) -> list[str]:
    script = pyctr("completion", "bash").stdout
    bin_dir = os.path.dirname(pyctr.argv()[0])
    test = f'{script}\nCOMP_LINE="$1"; COMP_POINT=${{#COMP_LINE}}; _pyctr; printf "%s\\n" "${{COMPREPLY[@]}}"\n'
    r = subprocess.run(["bash", "-c", test, "bash", line], capture_output=True, text=True, timeout=30,
                       env={**pyctr.env, "PATH": f"{bin_dir}:{pyctr.env['PATH']}"})
    assert r.returncode == 0, r.stderr
    return [c for c in r.stdout.splitlines() if c]


def test_bash_completion(pyctr):
    assert pyctr("create", "--name", "web", "busybox", "true").returncode == 0
    try:
        assert "web" in _bash_candidates(pyctr, "pyctr rm ")
        assert _bash_candidates(pyctr, "pyctr rm -f w") == ["web"]
        assert {"rm", "rmi", "run", "rename"} <= set(_bash_candidates(pyctr, "pyctr r"))
        assert "--all" in _bash_candidates(pyctr, "pyctr ps --a")
        assert "busybox:latest" in _bash_candidates(pyctr, "pyctr run busy")
        assert _bash_candidates(pyctr, "pyctr run busybox:") == ["latest"]  # bash splits at ':'
        assert _bash_candidates(pyctr, "pyctr stop ") == []  # only running ones
        assert "prune" in _bash_candidates(pyctr, "pyctr container ")
        assert _bash_candidates(pyctr, "pyctr run busybox ") == []  # the command's words
    finally:
        pyctr("rm", "web")


# zsh's compadd and _files work only inside its completion system: stand-ins print what
# they are given
ZSH_DRIVER = """
compdef() { : }
compadd() { while [[ "$1" == -* && "$1" != "--" ]]; do shift; done; [[ "$1" == "--" ]] && shift; print -l -- "$@" }
_files() { print ::files }
source "$1"; shift
words=("$@"); CURRENT=$#
_pyctr
"""


def _shell_candidates(pyctr, shell: str, script: str, words: list[str]) -> list[str]:
    env = {**pyctr.env, "PATH": f"{os.path.dirname(pyctr.argv()[0])}:{pyctr.env['PATH']}", "HOME": pyctr.root}
    if shell == "zsh":
        argv = ["zsh", "-f", "-c", ZSH_DRIVER, "zsh", script, *words]
    else:  # fish completes a command line itself
        argv = ["fish", "--no-config", "-c", f"source {script}; complete -C $argv[1]", " ".join(words)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return [line.split("\t")[0] for line in r.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion(pyctr, shell, tmp_path):
    r = pyctr("completion", shell)
    assert r.returncode == 0 and "pyctr __complete" in r.stdout
    assert pyctr("completion", "tcsh").returncode == 125
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell} here: only its script was checked")
    script = tmp_path / f"pyctr.{shell}"
    script.write_text(r.stdout)
    assert pyctr("create", "--name", "web", "busybox", "true").returncode == 0
    try:
        assert "web" in _shell_candidates(pyctr, shell, str(script), ["pyctr", "rm", ""])
        assert {"rm", "rmi", "run"} <= set(_shell_candidates(pyctr, shell, str(script), ["pyctr", "r"]))
        assert "busybox:latest" in _shell_candidates(pyctr, shell, str(script), ["pyctr", "run", "busybox:"])
        assert "--all" in _shell_candidates(pyctr, shell, str(script), ["pyctr", "ps", "--a"])
    finally:
        pyctr("rm", "web")


def test_a_tab_loads_no_typer(pyctr):
    tree = subprocess.run(pyctr.argv("completion", "bash"), capture_output=True, text=True, env=pyctr.env).stdout
    tree = tree.split("_pyctr_tree='", 1)[1].split("'\n", 1)[0]
    r = subprocess.run([sys.executable, "-X", "importtime", *pyctr.cli_argv("__complete", "--", "r")],
                       input=tree, capture_output=True, text=True, env=pyctr.env, timeout=30)
    assert r.returncode == 0 and "rm" in r.stdout.split()
    imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    assert not imported & {"typer", "click", "rich", "json", "re"}
