"""--log-opt read and checked (no root, no kernel): docker's json-file keys and units (its
sizes: test_units.py), what a config keeps of them, the monitor's flags, the files `logs`
reads."""

import pytest

from pyctr.engine import logopts
from pyctr.engine.errors import PyctrError
from pyctr.engine.spec import RootfsLayout, RunOptions, build_spec


@pytest.mark.parametrize("items,expected", [
    ([], logopts.LogOptions()),
    (["max-size=10m"], logopts.LogOptions(10_000_000, 1)),
    (["max-size=10k", "max-file=3"], logopts.LogOptions(10_000, 3)),
    (["max-file=3", "max-size=1g"], logopts.LogOptions(1_000_000_000, 3)),  # any order
    (["max-size=1k", "max-size=2k"], logopts.LogOptions(2000, 1)),  # the last one wins, as in docker
    (["max-size=1.5m"], logopts.LogOptions(1_500_000, 1)),
])
def test_parse(items, expected):
    assert logopts.parse(items) == expected


def test_a_config_keeps_them_and_the_monitor_gets_them():
    layout = RootfsLayout(["/l"], "/c/upper", "/c/work", "/c/rootfs")
    config = build_spec(RunOptions(image="b", command=["true"], log_opts=["max-size=10k", "max-file=3"]), {},
                        "c" * 64, layout, host_env={})
    assert config["annotations"][logopts.MAX_SIZE] == "10000"
    assert logopts.from_config(config) == logopts.LogOptions(10_000, 3)
    assert logopts.monitor_flags(config) == ["--log-max-size", "10000", "--log-max-file", "3"]
    assert logopts.files("/c/container.log", config) == ["/c/container.log.2", "/c/container.log.1",
                                                         "/c/container.log"]
    plain = build_spec(RunOptions(image="b", command=["true"]), {}, "c" * 64, layout, host_env={})
    assert not any(key.startswith("org.pyctr.log.") for key in plain["annotations"])
    assert logopts.monitor_flags(plain) == [] and logopts.files("/c/container.log", plain) == ["/c/container.log"]


def test_a_bad_option_stops_the_spec():
    with pytest.raises(PyctrError, match="unknown log opt 'max-buffer-size'"):
        build_spec(RunOptions(image="b", command=["true"], log_opts=["max-buffer-size=1m"]), {}, "c" * 64,
                   RootfsLayout(["/l"], "/u", "/w", "/r"), host_env={})
