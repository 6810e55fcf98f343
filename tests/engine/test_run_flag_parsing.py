"""The lesser run flags' parsing and the restart policy's decisions, without containers
(tests/compat/test_runflags.py runs them on real ones)."""

import pytest

from pyctr.cli.render import status_text
from pyctr.engine import restarts, runflags
from pyctr.engine.errors import PyctrError
from pyctr.engine.running import detach_keys, sig_proxy
from pyctr.engine.spec import RESTART, STOP_TIMEOUT, RootfsLayout, RunOptions, build_spec
from pyctr.engine.store import ContainerRecord


@pytest.mark.parametrize("text,expected", [
    ("no", ("no", 0)), ("always", ("always", 0)), ("unless-stopped", ("unless-stopped", 0)),
    ("on-failure", ("on-failure", 0)), ("on-failure:3", ("on-failure", 3)),
])
def test_restart_policies(text, expected):
    assert runflags.parse_restart(text) == expected


@pytest.mark.parametrize("text", ["", "sometimes", "always:2", "on-failure:", "on-failure:-1", "on-failure:²"])
def test_bad_restart_policies(text):
    with pytest.raises(PyctrError):
        runflags.parse_restart(text)


@pytest.mark.parametrize("text,expected", [
    ("nofile=1024:2048", {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}),
    ("nproc=10", {"type": "RLIMIT_NPROC", "soft": 10, "hard": 10}),
    ("core=-1", {"type": "RLIMIT_CORE", "soft": runflags.UNLIMITED, "hard": runflags.UNLIMITED}),
])
def test_ulimits(text, expected):
    assert runflags.parse_ulimit(text) == expected


@pytest.mark.parametrize("text", ["nofile", "files=1", "nofile=a:b", "nofile=2:1", "nofile=1:", "nofile=٣"])
def test_bad_ulimits(text):
    with pytest.raises(PyctrError):
        runflags.parse_ulimit(text)


def test_labels_flags_over_files_over_the_images(tmp_path):
    f = tmp_path / "labels"
    f.write_text("# comment\n\n a=file \nb=file\nempty\n")
    assert runflags.labels({"a": "image", "c": "image"}, ["b=flag"], [str(f)]) == \
        {"a": "file", "b": "flag", "c": "image", "empty": ""}
    with pytest.raises(PyctrError):
        runflags.labels({}, ["=v"], [])


@pytest.mark.parametrize("text,expected", [
    (None, None), ("", None), ("ctrl-p,ctrl-q", b"\x10\x11"), ("ctrl-x,y", b"\x18y"), ("ctrl-@,ctrl-_", b"\x00\x1f"),
    ("ctrl-[", b"\x1b"), ("a", b"a"),
])
def test_detach_keys(text, expected):
    assert detach_keys(text) == expected


@pytest.mark.parametrize("text", ["ctrl-1", "ctrl-", "ab", "p,,q", "ctrl-é"])
def test_bad_detach_keys(text):
    with pytest.raises(PyctrError):
        detach_keys(text)


def test_sig_proxy():
    assert (sig_proxy(None), sig_proxy("true"), sig_proxy("false"), sig_proxy("0")) == (True, True, False, False)
    with pytest.raises(PyctrError):
        sig_proxy("maybe")


def _spec(**options):
    layout = RootfsLayout(["/nonexistent"], "/u", "/w", "/m")
    image = {"config": {"Labels": {"from": "image"}}}
    return build_spec(RunOptions(image="busybox", command=["true"], **options), image, "c" * 64, layout, host_env={})


def test_the_spec_carries_the_flags():
    config = _spec(restart="on-failure:2", stop_timeout=3, stop_signal="USR1", oom_score_adj=-10, shm_size="1m",
                   ulimits=["nofile=5:6", "nofile=7:8"], group_add=["27", "27"], oom_kill_disable=True)
    annotations = config["annotations"]
    assert (annotations[RESTART], annotations[STOP_TIMEOUT]) == ("on-failure:2", "3")
    assert annotations["org.opencontainers.image.stopSignal"] == "USR1"
    assert annotations["org.pyctr.labels"] == '{"from": "image"}'
    assert config["process"]["oomScoreAdj"] == -10
    assert config["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 7, "hard": 8}]  # the last wins
    assert config["process"]["user"]["additionalGids"] == [27]
    assert config["linux"]["resources"]["memory"] == {"disableOOMKiller": True}
    [shm] = [m for m in config["mounts"] if m["destination"] == "/dev/shm"]
    assert [o for o in shm["options"] if o.startswith("size=")] == ["size=1024k"]


def test_a_plain_spec_has_none_of_them():
    config = build_spec(RunOptions(image="busybox", command=["true"]), {}, "c" * 64,
                        RootfsLayout([], "/u", "/w", "/m"), host_env={})
    assert not {RESTART, STOP_TIMEOUT, "org.pyctr.labels"} & set(config["annotations"])
    assert "oomScoreAdj" not in config["process"] and "rlimits" not in config["process"]


def test_restart_with_rm_conflicts():
    with pytest.raises(PyctrError, match="Conflicting options: --restart and --rm"):
        _spec(restart="always", remove=True)
    _spec(restart="no", remove=True)


def _record(**fields) -> ContainerRecord:
    return ContainerRecord("c" * 64, "n", "i", "busybox", ["true"], 0.0, **{"status": "exited", **fields})


@pytest.mark.parametrize("policy,fields,wanted", [
    (None, {"exit_code": 1}, False),
    ("no", {"exit_code": 1}, False),
    ("always", {"exit_code": 0}, True),
    ("always", {"exit_code": 0, "stopped_by_user": 1}, False),
    ("unless-stopped", {"exit_code": 0}, True),
    ("on-failure", {"exit_code": 0}, False),
    ("on-failure", {"exit_code": 1, "restart_count": 50}, True),
    ("on-failure:3", {"exit_code": 1, "restart_count": 2}, True),
    ("on-failure:3", {"exit_code": 1, "restart_count": 3}, False),
    ("on-failure:3", {"exit_code": None}, True),  # killed while no pyctr watched: not a success
])
def test_when_the_policy_restarts(policy, fields, wanted):
    config = {"annotations": {RESTART: policy} if policy else {}}
    assert restarts.wanted(config, _record(**fields)) is wanted


def test_back_off_doubles_up_to_a_minute_and_starts_over_after_a_long_run():
    assert restarts.next_delay(_record()) == 0.1
    assert restarts.next_delay(_record(restart_delay=0.1, started=100.0, finished=101.0)) == 0.2
    assert restarts.next_delay(_record(restart_delay=40.0, started=100.0, finished=101.0)) == 60.0
    assert restarts.next_delay(_record(restart_delay=40.0, started=100.0, finished=110.0)) == 0.1


def test_ps_shows_a_restarting_container_as_docker_does():
    assert status_text(_record(status="restarting", exit_code=1, finished=100.0), now=102.0) == \
        "Restarting (1) 2 seconds ago"
