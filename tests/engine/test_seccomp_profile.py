"""docker's default profile as pyctr makes it from Debian's package, and the OCI section it
resolves to for a container's capabilities (no container needed)."""

import pytest

from pyctr.engine import seccomp
from pyctr.engine.spec import DEFAULT_CAPS


@pytest.fixture(scope="module")
def default():
    return seccomp.docker_default()


def _allowed(section: dict) -> set:
    """The syscalls allowed without conditions."""
    return {n for r in section["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for n in r["names"]}


def test_unknown_syscalls_get_eperm_as_docker(default):
    section = seccomp.resolve(default, DEFAULT_CAPS)
    assert (section["defaultAction"], section["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    assert section["architectures"][0] == "SCMP_ARCH_X86_64"


def test_what_docker_refuses_without_capabilities_is_not_allowed(default):
    allowed = _allowed(seccomp.resolve(default, DEFAULT_CAPS))
    assert {"read", "write", "execve", "setresuid", "capset", "prctl", "chroot"} <= allowed
    for name in ("keyctl", "add_key", "request_key", "unshare", "setns", "mount", "umount2", "pivot_root",
                 "io_uring_setup", "userfaultfd", "bpf", "perf_event_open", "clone", "clone3", "reboot", "syslog"):
        assert name not in allowed, name


def test_cap_sys_admin_gives_back_its_group_but_never_the_keyring(default):
    allowed = _allowed(seccomp.resolve(default, DEFAULT_CAPS + ["CAP_SYS_ADMIN"]))
    assert {"unshare", "setns", "mount", "clone", "clone3"} <= allowed
    assert not {"keyctl", "add_key", "io_uring_setup"} & allowed


def test_clone_without_sys_admin_may_not_make_namespaces(default):
    section = seccomp.resolve(default, DEFAULT_CAPS)
    [clone] = [r for r in section["syscalls"] if r["names"] == ["clone"]]
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    [clone3] = [r for r in section["syscalls"] if r["names"] == ["clone3"]]
    assert (clone3["action"], clone3["errnoRet"]) == ("SCMP_ACT_ERRNO", 38)


def test_a_missing_default_source_says_what_to_do(tmp_path):
    from pyctr.engine.errors import PyctrError
    with pytest.raises(PyctrError, match="install golang-github-containers-common"):
        seccomp.docker_default(str(tmp_path / "none.json"))


def test_cap_sys_ptrace_opens_its_group_but_not_userfaultfd(default):
    allowed = _allowed(seccomp.resolve(default, DEFAULT_CAPS + ["CAP_SYS_PTRACE"]))
    assert {"kcmp", "pidfd_getfd", "process_madvise", "ptrace"} <= allowed
    assert "userfaultfd" not in allowed


def test_socket_takes_any_family_but_vsock(default):
    section = seccomp.resolve(default, DEFAULT_CAPS)
    assert "socket" not in _allowed(section)
    assert [r["args"] for r in section["syscalls"] if "socket" in r["names"]] == \
        [[{"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_NE"}]]
