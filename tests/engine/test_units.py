"""Parsing of sizes and CPU lists, and resource flags -> OCI linux.resources (no root, no
kernel)."""

import re

import pytest
from hypothesis import given, strategies as st

from pyctr.engine import resources
from pyctr.engine.errors import PyctrError
from pyctr.engine.units import MAX_CPU_INDEX, format_cpu_list, parse_cpu_list, parse_decimal_size, parse_size

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


@pytest.mark.parametrize("parse,base", [(parse_size, 1024), (parse_decimal_size, 1000)])  # docker's two
@given(st.text(alphabet="0123456789.bkmgtpiBKMGTPI x", max_size=8))
def test_parse_size_follows_the_grammar(parse, base, text):
    m = SIZE_GRAMMAR.match(text.strip())
    if m is None:
        with pytest.raises(PyctrError, match="invalid"):
            parse(text)
    else:
        number, unit = m.groups()
        assert parse(text) == int(float(number) * base ** "bkmgtp".index((unit or "b").lower()))


@given(st.text(alphabet="0123456789-, ", max_size=24))  # long ranges are checked, not expanded
def test_cpu_list_follows_the_grammar(text):
    if CPU_LIST_GRAMMAR.match(text.strip()) is None:
        with pytest.raises(PyctrError):
            parse_cpu_list(text)
    else:
        try:
            cpus = parse_cpu_list(text)
        except PyctrError as e:
            assert "downwards" in str(e) or f"above {MAX_CPU_INDEX}" in str(e)
        else:
            assert cpus and max(cpus) <= MAX_CPU_INDEX


def test_a_huge_cpu_range_is_refused_without_being_expanded():
    import time
    started = time.process_time()
    with pytest.raises(PyctrError, match="above 8191"):
        parse_cpu_list("0-99999999999")
    assert time.process_time() - started < 0.5  # expanding it took minutes and gigabytes


@given(st.sets(st.integers(min_value=0, max_value=256), min_size=1))
def test_cpu_list_round_trip(cpus):
    assert parse_cpu_list(format_cpu_list(cpus)) == cpus


@pytest.mark.parametrize("bad", ["", "a", "1-", "3-1", "1,,2", "-1", "0 1"])
def test_cpu_list_refuses(bad):
    with pytest.raises(PyctrError):
        parse_cpu_list(bad)


def test_resources_from_flags(monkeypatch):
    monkeypatch.setattr(resources, "online_cpus", lambda: {0, 1})
    r = resources.build_resources(resources.ResourceOptions(memory="64m", cpus="1.5", cpu_shares=512,
                                                            cpuset_cpus="1,0", pids_limit=64))
    assert r == {"memory": {"limit": 64 << 20, "swap": 128 << 20},
                 "cpu": {"quota": 150000, "period": 100000, "shares": 512, "cpus": "0-1"},
                 "pids": {"limit": 64}}
