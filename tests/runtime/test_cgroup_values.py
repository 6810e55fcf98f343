"""cgroup value conversions (v1 <-> v2), and the v1 driver on a fake cgroup tree (no root,
no kernel)."""

import os

import pytest
from hypothesis import given, strategies as st

from pyctr.runtime.cgroups import convert, v1
from pyctr.runtime.errors import ConfigError


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
    with pytest.raises(ConfigError):
        convert.swap_v2(32, 64)
    assert convert.cpus_to_quota(0.5) == (50000, 100000)
    assert convert.limit_text(-1) == "max" and convert.limit_text(5) == "5"


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
