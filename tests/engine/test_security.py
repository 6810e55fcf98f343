"""Security defaults on real containers: docker's seccomp profile (what it blocks, what it
lets a workload do), the flags that change it, capabilities, --privileged."""

import errno
import os
import subprocess

import pytest

PROBE_SOURCE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "probes", "syscalls.c")

# What docker's default profile answers, case by case (tests/probes/syscalls.c)
BLOCKED = {
    "keyctl": errno.EPERM,  # the host root's keyring, read and changed from a container
    "add_key": errno.EPERM,
    "request_key": errno.EPERM,
    "unshare_user": errno.EPERM,  # a user namespace: a full capability set of its own
    "clone_newuser": errno.EPERM,
    "clone3": errno.ENOSYS,  # its flags are out of the filter's sight: glibc falls back to clone
    "personality": errno.EPERM,  # READ_IMPLIES_EXEC
    "perf_event_open": errno.EPERM,
    "io_uring_setup": errno.EPERM,
    "userfaultfd": errno.EPERM,
    "socket_vsock": errno.EPERM,  # the hypervisor's side of a VM
}
ALLOWED = {"fork": 0, "thread": 0, "mmap": 0, "futex": 0, "socket": 0}


@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("probe") / "syscalls"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), PROBE_SOURCE, "-lpthread"], check=True)
    return out.read_bytes()


def run_probe(pyctr, probe: bytes, *flags: str) -> dict:
    """The probe's report from a container run with `flags` (the binary goes in on stdin)."""
    proc = pyctr.popen("run", "-i", "--rm", *flags, "busybox", "sh", "-c", "cat > /probe; chmod +x /probe; exec /probe",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(probe, timeout=60)
    assert proc.returncode == 0, err
    return {name: int(code) for name, code in (line.split() for line in out.decode().splitlines())}


def test_default_profile_blocks_what_docker_blocks_and_lets_a_program_work(pyctr, probe):
    report = run_probe(pyctr, probe)
    assert report == {**BLOCKED, **ALLOWED}


def test_unconfined_lifts_the_filter(pyctr, probe):
    report = run_probe(pyctr, probe, "--security-opt", "seccomp=unconfined")
    assert all(report[name] != code for name, code in BLOCKED.items()), report
    assert {name: report[name] for name in ALLOWED} == ALLOWED


def _status(pyctr, *flags: str) -> dict:
    r = pyctr("run", "--rm", *flags, "busybox", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    return dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)


def test_a_filter_is_loaded_by_default_and_not_when_unconfined_or_privileged(pyctr):
    assert _status(pyctr)["Seccomp"] == "2"
    assert _status(pyctr, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"
    assert _status(pyctr, "--privileged")["Seccomp"] == "0"


def test_busybox_workload_runs_under_the_default_profile(pyctr):
    script = ("ps >/dev/null && top -b -n1 >/dev/null && sleep 0.1 && mkdir -p /www && echo hi > /www/x && "
              "httpd -p 127.0.0.1:8080 -h /www && wget -q -O- http://127.0.0.1:8080/x")
    r = pyctr("run", "--rm", "busybox", "sh", "-c", script)
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr


def test_exec_gets_the_containers_profile(pyctr):
    assert pyctr("run", "-d", "--name", "s", "busybox", "sleep", "60").returncode == 0
    try:
        r = pyctr("exec", "s", "grep", "Seccomp:", "/proc/self/status")
        assert r.stdout.split() == ["Seccomp:", "2"]
        r = pyctr("exec", "s", "unshare", "-U", "true")
        assert r.returncode != 0 and "Operation not permitted" in r.stderr
    finally:
        pyctr("rm", "-f", "s")


def test_cap_sys_admin_opens_the_syscalls_docker_gates_on_it(pyctr):
    r = pyctr("run", "--rm", "busybox", "unshare", "-m", "true")
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    r = pyctr("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c", "unshare -m true && mount -t tmpfs t /tmp")
    assert r.returncode == 0, r.stderr


def _cap_eff(pyctr, *flags: str) -> int:
    return int(_status(pyctr, *flags)["CapEff"], 16)


def test_cap_add_and_cap_drop_as_docker_reads_them(pyctr):
    with open("/proc/self/status") as f:  # all that pyctr may give: its own bounding set
        every = int([line for line in f if line.startswith("CapBnd:")][0].split()[1], 16)
    default = _cap_eff(pyctr)
    assert bin(default).count("1") == 14
    assert _cap_eff(pyctr, "--cap-drop", "ALL") == 0
    assert _cap_eff(pyctr, "--cap-drop", "ALL", "--cap-add", "chown") == 1 << 0
    assert _cap_eff(pyctr, "--cap-drop", "CAP_KILL") == default & ~(1 << 5)
    assert _cap_eff(pyctr, "--cap-add", "ALL") == every
    assert _cap_eff(pyctr, "--cap-add", "ALL", "--cap-drop", "NET_ADMIN") == every & ~(1 << 12)
    assert _cap_eff(pyctr, "--privileged") == every


def test_no_new_privileges(pyctr):
    assert _status(pyctr)["NoNewPrivs"] == "0"
    assert _status(pyctr, "--security-opt", "no-new-privileges")["NoNewPrivs"] == "1"
    assert _status(pyctr, "--security-opt", "no-new-privileges:true")["Seccomp"] == "2"


def test_privileged_unmasks_proc_and_sys_and_gives_the_hosts_devices(pyctr):
    host_block = sorted(n for n in os.listdir("/dev") if os.path.exists(f"/sys/class/block/{n}"))
    script = "grep ' /sys ' /proc/mounts; grep -c ' /proc/keys ' /proc/mounts; ls /dev"
    r = pyctr("run", "--rm", "--privileged", "busybox", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert " rw," in lines[0] and lines[1] == "0"
    assert set(host_block) <= set(lines[2:])
    r = pyctr("run", "--rm", "busybox", "sh", "-c", script)
    lines = r.stdout.splitlines()
    assert " ro," in lines[0] and lines[1] == "1"


def test_a_profile_file_in_dockers_format(pyctr, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": '
                       '[{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}')
    r = pyctr("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "mkdir", "/x")
    assert r.returncode != 0 and "Permission denied" in r.stderr


@pytest.mark.parametrize("flags, message", [
    (["--security-opt", "seccomp=/nonexistent.json"], "cannot read seccomp profile /nonexistent.json"),
    (["--security-opt", "seccomp=/dev/zero"], "is not a regular file"),
    (["--security-opt", "apparmor"], "invalid --security-opt"),
    (["--cap-add", "NOPE"], "unknown capability"),
])
def test_bad_security_flags_are_one_line_errors_and_leave_nothing(pyctr, flags, message):
    r = pyctr("run", *flags, "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert pyctr.container_dirs() == []


def test_a_bad_profile_is_refused_before_the_container_starts(pyctr, tmp_path):
    profile = tmp_path / "bad.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_NOPE", "syscalls": []}')
    r = pyctr("run", "--security-opt", f"seccomp={profile}", "busybox", "true")
    assert r.returncode == 125 and "unsupported seccomp action" in r.stderr and r.stderr.count("\n") == 1
