"""Seccomp profiles in docker's JSON format (`--security-opt seccomp=FILE`, and the default),
and the OCI config's linux.seccomp that one resolves to for a container's capabilities and
this machine's architecture, as docker resolves it.

The default is docker's policy.  Its allow-list comes from Debian's package of the profile
that podman and docker share the format of (golang-github-containers-common:
/usr/share/containers/seccomp.json, kept up to date by Debian), tightened where docker is
stricter than podman: `tightened` below.  podman leaves mount, unshare, setns,
keyctl and new namespaces from clone to the capabilities; docker refuses them by syscall
as well, because a user namespace hands a process a full capability set of its own.
"""

import os

from .. import fastjson
from .errors import PyctrError

DEFAULT_SOURCE = "/usr/share/containers/seccomp.json"
MAX_PROFILE = 1 << 20  # a profile is tens of KB; a bigger file is not one
EPERM, ENOSYS = 1, 38

# docker's answer for a syscall the profile does not name is EPERM (podman's: ENOSYS).
# Syscalls docker allows only with a capability (its profile's per-capability groups):
CAP_GATED = {
    "CAP_SYS_ADMIN": ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                      "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
                      "perf_event_open", "pivot_root", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
                      "setns", "syslog", "umount", "umount2", "unshare"),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise"),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
}
# Refused whatever the capabilities: the keyring is not namespaced (a container could read
# and change the host root's keys), io_uring bypasses the filter for the calls it runs.
ALWAYS_REFUSED = ("add_key", "keyctl", "request_key", "io_uring_enter", "io_uring_register", "io_uring_setup",
                  "userfaultfd")  # a race-widening tool in kernel exploits; the packaged profile refuses it too
# Newer than the packaged profile, allowed by docker's: harmless calls a current libc uses
# (a libseccomp that does not know one skips it).
ALSO_ALLOWED = ("cachestat", "fchmodat2", "futex_waitv", "listmount", "map_shadow_stack", "mseal",
                "process_mrelease", "statmount")
AF_VSOCK = 40  # socket(2) for any family but this one: vsock reaches the hypervisor's side
# clone without CAP_SYS_ADMIN: only when it makes no namespace (flags & these == 0).
# clone3's flags are in memory, out of a filter's sight: ENOSYS sends glibc to clone.
CLONE_NAMESPACE_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
# os.uname().machine -> the profile's architecture name
NATIVE_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "armv7l": "SCMP_ARCH_ARM",
               "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64"}
# the profile's `arches` conditions name Go's architectures
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
           "riscv64": "riscv64"}


def read_profile(path: str) -> dict:
    """A profile file in docker's format: a regular file of bounded size, valid JSON."""
    from .userfiles import read_bounded
    data = read_bounded(path, MAX_PROFILE, "seccomp profile")
    try:
        profile = fastjson.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise PyctrError(f"seccomp profile {path} is not valid JSON: {e}") from None
    if not isinstance(profile, dict) or not isinstance(profile.get("syscalls", []), list):
        raise PyctrError(f"seccomp profile {path} is not a seccomp profile")
    return profile


def docker_default(source: str = DEFAULT_SOURCE) -> dict:
    """docker's default profile: the packaged one, tightened."""
    try:
        profile = read_profile(source)
    except PyctrError as e:
        raise PyctrError(f"{e} (the default profile: install golang-github-containers-common, "
                         f"or run with --security-opt seccomp=unconfined)") from None
    return tightened(profile)


def tightened(profile: dict) -> dict:
    """podman's profile made docker's: the gated and refused syscalls taken out of the unconditional
    allow rules and given back under their capabilities; clone and clone3 filtered."""
    gated = {name for names in CAP_GATED.values() for name in names} | set(ALWAYS_REFUSED)
    rules = []
    for rule in profile.get("syscalls", []):
        # podman's socket rules (by CAP_AUDIT_WRITE) allow every family: docker's, below
        names = [n for n in rule.get("names", []) if n != "socket"]
        if rule.get("action") == "SCMP_ACT_ALLOW" and not (rule.get("includes") or {}).get("caps"):
            names = [n for n in names if n not in gated]
        if names:
            rules.append(dict(rule, names=names))
    rules.append({"names": list(ALSO_ALLOWED), "action": "SCMP_ACT_ALLOW"})
    rules.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": AF_VSOCK, "valueTwo": 0, "op": "SCMP_CMP_NE"}]})
    for cap, names in CAP_GATED.items():
        rules.append({"names": list(names), "action": "SCMP_ACT_ALLOW", "includes": {"caps": [cap]}})
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]},
                  "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS,
                  "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    return dict(profile, defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=EPERM, syscalls=rules)


def default_section(caps: list[str], cache_dir: str | None = None) -> dict:
    """resolve(docker_default(), caps), kept in `cache_dir` under a name made of all it
    depends on (the packaged file, this module, the machine, the kernel, the
    capabilities): reading and resolving the 16 KB profile was most of what the filter
    cost a run (the compiled program is the runtime's cache)."""
    try:
        source, code = os.stat(DEFAULT_SOURCE), os.stat(__file__)
    except OSError:
        return resolve(docker_default(), caps)  # which says what is missing
    from _sha256 import sha256
    made_of = (DEFAULT_SOURCE, source.st_ino, source.st_size, source.st_mtime_ns, code.st_size, code.st_mtime_ns,
               os.uname().machine, os.uname().release, sorted(caps))
    path = os.path.join(cache_dir or "", f"seccomp-{sha256(repr(made_of).encode()).hexdigest()[:32]}.json")
    if cache_dir:
        try:
            return fastjson.read(path)
        except (OSError, ValueError):
            pass
    section = resolve(docker_default(), caps)
    if cache_dir:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        fastjson.write(path, section)
    return section


def _kernel_at_least(version: str) -> bool:
    def numbers(text):
        return tuple(int(p) for p in text.split("-")[0].split(".")[:2] if p.isdigit())
    try:
        return numbers(os.uname().release) >= numbers(version)
    except ValueError:
        return True


def _applies(rule: dict, caps: set, arch: str) -> bool:
    """docker's includes/excludes: every included capability held, no excluded one; the
    architecture; a minimum kernel."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if not set(inc.get("caps") or []) <= caps or set(exc.get("caps") or []) & caps:
        return False
    if inc.get("arches") and arch not in inc["arches"] or arch in (exc.get("arches") or []):
        return False
    return not inc.get("minKernel") or _kernel_at_least(inc["minKernel"])


def resolve(profile: dict, caps: list[str]) -> dict:
    """docker's format -> the OCI linux.seccomp section for these capabilities, here."""
    machine = os.uname().machine
    native = NATIVE_ARCH.get(machine)
    arches = []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            arches = [native, *(entry.get("subArchitectures") or [])]
    if not arches and profile.get("architectures"):
        arches = list(profile["architectures"])
    held = set(caps)
    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not isinstance(rule, dict):
            raise PyctrError(f"bad seccomp rule: {rule!r}")
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        if names and _applies(rule, held, GO_ARCH.get(machine, machine)):
            out = {"names": list(names), "action": rule.get("action")}
            for key in ("errnoRet", "args"):
                if rule.get(key):
                    out[key] = rule[key]
            syscalls.append(out)
    section = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ERRNO"), "architectures": arches,
               "syscalls": syscalls}
    if profile.get("defaultErrnoRet") is not None:
        section["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return section
