"""Completion's candidates from a command tree (completion.candidates), the suggestions a
typo gets (usage.close_matches), and prune's time filter, without containers."""

import os
import time

import pytest

from pyctr.cli.completion import FILES, candidates, tree
from pyctr.cli.usage import close_matches
from pyctr.engine.errors import PyctrError
from pyctr.engine.prune import parse_filters, parse_time


@pytest.fixture(scope="module")
def commands():
    from typer.main import get_command

    from pyctr.cli.commands import app
    return tree(get_command(app))


def test_the_tree_is_the_clis(commands):
    assert {"run", "rm", "container", "image", "completion"} <= set(commands[""]["c"])
    assert "_cleanup" not in commands[""]["c"]  # hidden
    assert "-f" in commands["rm"]["s"] and "--name" in commands["run"]["v"]
    assert commands["run"]["x"] and not commands["rm"]["x"]
    assert commands["rm"]["a"] == ["container"] and commands["rm"]["r"]
    assert commands["run"]["a"][0] == "image" and commands["inspect"]["a"] == ["container,image"]
    assert commands["network connect"]["a"] == ["network", "container"]
    assert "ls" in commands["container"]["c"] and commands["container ls"]["s"] == commands["ps"]["s"]


def test_candidates(commands):
    env = {"PYCTR_ROOT": "/nonexistent"}  # no store: no names
    assert candidates(commands, ["r"], env) == [c for c in commands[""]["c"] if c.startswith("r")]
    assert candidates(commands, ["ps", "--a"], env) == ["--all"]
    assert candidates(commands, ["--root", "/x", "image", "l"], env) == ["load", "ls"]
    assert candidates(commands, ["run", "--env-file", ""], env) == [FILES]
    assert candidates(commands, ["run", "-e", "A=1", "busybox", "--"], env) == []  # the command's
    assert candidates(commands, ["rm", "-f", ""], env) == []


def test_close_matches():
    assert close_matches("--usr", ["--cpus", "--user", "--userns"]) == ["--user"]
    assert close_matches("stp", ["stop", "top", "start"]) == ["stop"]
    assert close_matches("rmii", ["rm", "rmi"]) == ["rmi"]
    assert close_matches("frobnicate", ["rm", "run", "ps"]) == []


def test_prune_times(monkeypatch):
    now = 1_000_000.0
    assert parse_time("10m", now) == now - 600
    assert parse_time("1h30m", now) == now - 5400
    assert parse_time("1733130000.5", now) == 1733130000.5
    monkeypatch.setenv("TZ", "UTC")  # a time without a zone is local, as docker's
    time.tzset()
    try:
        assert parse_time("2026-12-01T10:00:00Z", now) == parse_time("2026-12-01T10:00:00", now) == 1796119200.0
    finally:
        monkeypatch.undo()
        time.tzset()
    for bad in ("soon", "10x", "m"):
        with pytest.raises(PyctrError):
            parse_time(bad, now)
    assert parse_filters(["until=10m", "label=a=b", "label!=c"])["label!"] == ["c"]
    with pytest.raises(PyctrError) as e:
        parse_filters(["dangling=true"])
    assert e.value.exit_code == 1
    assert os.environ  # (no side effects on the environment)
