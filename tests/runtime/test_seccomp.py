"""The runtime's seccomp compile: an OCI linux.seccomp section to BPF with libseccomp, and
the on-disk cache that makes a run pay for it once."""

import os

import pytest

from pyctr.runtime import seccomp
from pyctr.runtime.errors import ConfigError

SECTION = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["read", "write", "exit_group", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"},
                        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                                  {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}


def test_no_section_no_program(tmp_path):
    assert seccomp.program(str(tmp_path), None) is None
    assert os.listdir(tmp_path) == []


def test_compiled_once_then_read_from_the_cache(tmp_path, monkeypatch):
    first = seccomp.program(str(tmp_path), SECTION)
    assert first and len(first) % 8 == 0
    [cached] = os.listdir(tmp_path / seccomp.CACHE_DIR)
    assert cached.endswith(".bpf") and (tmp_path / seccomp.CACHE_DIR / cached).read_bytes() == first
    monkeypatch.setattr(seccomp, "build", lambda section: pytest.fail("compiled again"))
    assert seccomp.program(str(tmp_path), SECTION) == first


def test_a_different_section_is_a_different_program(tmp_path):
    other = dict(SECTION, defaultErrnoRet=38)
    assert seccomp.program(str(tmp_path), SECTION) != seccomp.program(str(tmp_path), other)
    assert len(os.listdir(tmp_path / seccomp.CACHE_DIR)) == 2


def test_a_damaged_cache_entry_is_compiled_again(tmp_path):
    good = seccomp.program(str(tmp_path), SECTION)
    [name] = os.listdir(tmp_path / seccomp.CACHE_DIR)
    (tmp_path / seccomp.CACHE_DIR / name).write_bytes(good[:-3])  # not whole instructions
    assert seccomp.program(str(tmp_path), SECTION) == good


@pytest.mark.parametrize("change, message", [
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "unsupported seccomp action"),
    ({"architectures": ["SCMP_ARCH_NOPE"]}, "unknown seccomp architecture"),
    ({"syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}, "needs a list of names"),
    ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]},
     "bad seccomp argument condition"),
    ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}, "errnoRet out of range"),
])
def test_bad_sections_are_config_errors_and_leave_no_cache_entry(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        seccomp.program(str(tmp_path), {**SECTION, **change})
    cache = tmp_path / seccomp.CACHE_DIR
    assert not cache.exists() or os.listdir(cache) == []


def test_several_conditions_on_one_argument_become_alternatives():
    assert seccomp.conditions([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                               {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]) == [[(0, 4, 1, 0)], [(0, 4, 2, 0)]]
    assert seccomp.conditions([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                               {"index": 2, "value": 9, "op": "SCMP_CMP_NE"}]) == [[(0, 4, 1, 0), (2, 1, 9, 0)]]
