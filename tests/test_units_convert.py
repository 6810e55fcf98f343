"""Parsing of sizes and CPU lists, cgroup value conversions, and the v1 driver on a fake
cgroup tree (no root, no kernel)."""

import os
import re

import pytest
from hypothesis import given, strategies as st

from pyctr import resources
from pyctr.cgroups import convert, v1
from pyctr.errors import PyctrError
from pyctr.units import format_cpu_list, parse_cpu_list, parse_size

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


@given(st.integers(min_value=0, max_value=1 << 20), st.sampled_from(sorted(UNITS)),
       st.sampled_from(["", "b", "ib"]), st.booleans())
def test_parse_size_units(n, unit, suffix, upper):
    text = f"{n}{unit}{suffix if unit not in ('', 'b') else ''}"
    assert parse_size(text.upper() if upper else text) == n * UNITS[unit]


@pytest.mark.parametrize("bad", ["3x", "", "m", "-1m", "1.2.3m", "64 mb b", "0x10"])
def test_parse_size_refuses(bad):
    with pytest.raises(PyctrError, match="invalid"):
        parse_size(bad)


def test_parse_size_fraction():
    assert parse_size("1.5g") == 3 << 29


# docker's grammar as the regular expressions the parsers used to be (units.py parses by
# hand now, to keep `re` off the run path): both must take and refuse the same texts
SIZE_GRAMMAR = re.compile(r"^(\d+(?:\.\d+)?) ?([bkmgtp])?(?:i?b)?$", re.IGNORECASE | re.ASCII)
CPU_LIST_GRAMMAR = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$", re.ASCII)


@given(st.text(alphabet="0123456789.bkmgtpiBKMGTPI x", max_size=8))
def test_parse_size_follows_the_grammar(text):
    m = SIZE_GRAMMAR.match(text.strip())
    if m is None:
        with pytest.raises(PyctrError, match="invalid"):
            parse_size(text)
    else:
        number, unit = m.groups()
        assert parse_size(text) == int(float(number) * (1 << 10 * "bkmgtp".index((unit or "b").lower())))


@given(st.text(alphabet="0123456789-, ", max_size=6))  # short: a range can be millions of cpus
def test_cpu_list_follows_the_grammar(text):
    if CPU_LIST_GRAMMAR.match(text.strip()) is None:
        with pytest.raises(PyctrError):
            parse_cpu_list(text)
    else:
        try:
            cpus = parse_cpu_list(text)
        except PyctrError as e:
            assert "downwards" in str(e)
        else:
            assert cpus


@given(st.sets(st.integers(min_value=0, max_value=256), min_size=1))
def test_cpu_list_round_trip(cpus):
    assert parse_cpu_list(format_cpu_list(cpus)) == cpus


@pytest.mark.parametrize("bad", ["", "a", "1-", "3-1", "1,,2", "-1", "0 1"])
def test_cpu_list_refuses(bad):
    with pytest.raises(PyctrError):
        parse_cpu_list(bad)


@given(st.integers(min_value=2, max_value=262143))
def test_shares_to_weight_is_monotonic_and_in_range(shares):
    w = convert.shares_to_weight(shares)
    assert 1 <= w <= 10000
    assert convert.shares_to_weight(shares + 1) >= w


@pytest.mark.parametrize("shares,weight", [(0, 0), (2, 1), (512, 59), (1024, 100), (2048, 174), (262144, 10000)])
def test_shares_to_weight_table(shares, weight):
    assert convert.shares_to_weight(shares) == weight


def test_swap_conversion():
    assert convert.swap_v2(None, 64) is None
    assert convert.swap_v2(-1, 64) == -1
    assert convert.swap_v2(128, 64) == 64
    with pytest.raises(ValueError):
        convert.swap_v2(32, 64)
    assert convert.cpus_to_quota(0.5) == (50000, 100000)
    assert convert.limit_text(-1) == "max" and convert.limit_text(5) == "5"


def test_resources_from_flags(monkeypatch):
    monkeypatch.setattr(resources, "online_cpus", lambda: {0, 1})
    r = resources.build_resources(resources.ResourceOptions(memory="64m", cpus="1.5", cpu_shares=512,
                                                            cpuset_cpus="1,0", pids_limit=64))
    assert r == {"memory": {"limit": 64 << 20, "swap": 128 << 20},
                 "cpu": {"quota": 150000, "period": 100000, "shares": 512, "cpus": "0-1"},
                 "pids": {"limit": 64}}


def fake_tree(tmp_path, limit: int, memsw: int) -> v1.CgroupV1:
    cg = v1.CgroupV1("pyctr/c1", root=str(tmp_path))
    for controller in v1.CONTROLLERS:
        os.makedirs(cg.dir(controller))
    files = {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": memsw}
    for name, value in files.items():
        with open(os.path.join(cg.dir("memory"), name), "w") as f:
            f.write(str(value))
    return cg


@pytest.mark.parametrize("old,new,first", [
    ((64, 128), (256, 512), "memory.memsw.limit_in_bytes"),  # growing: memsw first
    ((256, 512), (64, 128), "memory.limit_in_bytes"),  # shrinking: the limit first
])
def test_v1_keeps_memsw_above_the_limit_at_every_step(tmp_path, monkeypatch, old, new, first):
    """The kernel refuses memsw < limit at any moment, so the write order matters."""
    cg = fake_tree(tmp_path, *old)
    order = []
    real_write = v1.write
    monkeypatch.setattr(v1, "write", lambda path, value: (order.append(os.path.basename(path)), real_write(path, value)))
    cg.apply({"memory": {"limit": new[0], "swap": new[1]}})
    assert order[0] == first and len(order) == 2
