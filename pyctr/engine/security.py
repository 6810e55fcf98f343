"""What a container may do, as `run`'s security flags say it: its capabilities
(--cap-add, --cap-drop), no-new-privileges and the seccomp profile (--security-opt), and
--privileged; written into the OCI config the spec builder made, as docker does."""

import os
import stat

from ..records import record
from ..runtime.plan import CAPABILITIES
from . import seccomp
from .errors import PyctrError


@record
class SecurityOptions:
    cap_add: list[str] = []
    cap_drop: list[str] = []
    privileged: bool = False
    security_opt: list[str] = []


@record
class Settings:
    """--security-opt read: the profile (None: unconfined; "": docker's default; else a
    path) and no-new-privileges."""
    profile: str | None = ""
    no_new_privileges: bool = False


def parse_security_opts(values: list[str]) -> Settings:
    """docker's `seccomp=unconfined|FILE` and `no-new-privileges[=true|false|:true]`."""
    settings = Settings()
    for value in values:
        key, sep, arg = value.partition("=")
        if not sep and ":" in value:  # docker's old spelling, no-new-privileges:true
            key, _, arg = value.partition(":")
        if key == "seccomp" and arg:
            settings.profile = None if arg == "unconfined" else arg
        elif key == "no-new-privileges" and arg in ("", "true", "false"):
            settings.no_new_privileges = arg != "false"
        else:
            raise PyctrError(f"invalid --security-opt: {value!r}")
    return settings


def _cap_name(name: str) -> str:
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else f"CAP_{upper}"
    if full not in CAPABILITIES:
        raise PyctrError(f"unknown capability: {name!r}")
    return full


def capabilities(defaults: list[str], add: list[str], drop: list[str], privileged: bool) -> list[str]:
    """docker's rules: ALL in --cap-add gives every capability but those dropped; ALL in
    --cap-drop keeps only those added; --privileged gives all."""
    if not (privileged or add or drop):  # the common run: nothing to read or check
        return list(defaults)
    known = _grantable()
    if privileged:
        return known
    add = [_cap_name(c) for c in add]
    drop = [_cap_name(c) for c in drop]
    if "ALL" in add:
        return [c for c in known if c not in drop]
    base = [] if "ALL" in drop else [c for c in defaults if c not in drop]
    return base + [c for c in add if c not in base]


def _grantable() -> list[str]:
    """The capabilities this kernel has and pyctr may give: those in its own bounding set
    (a sandbox may have taken some from root, and asking for one then fails the start),
    as podman does for --privileged."""
    from ..runtime.plan import CAP_NUMBERS, cap_last_cap
    with open("/proc/self/status") as f:
        bounding = next((int(line.split()[1], 16) for line in f if line.startswith("CapBnd:")), 0)
    return [c for c in CAPABILITIES if CAP_NUMBERS[c] <= cap_last_cap() and bounding >> CAP_NUMBERS[c] & 1]


def apply(config: dict, opts: SecurityOptions, cache_dir: str | None = None) -> None:
    """The security flags onto a config from spec.build_spec (which gives docker's
    defaults: its 14 capabilities, masked and read-only paths, device rules).
    `cache_dir` keeps the default profile resolved (seccomp.default_section)."""
    settings = parse_security_opts(opts.security_opt)
    process = config["process"]
    caps = process["capabilities"]
    granted = capabilities(caps["bounding"], opts.cap_add, opts.cap_drop, opts.privileged)
    for key in ("bounding", "effective", "permitted"):
        caps[key] = list(granted)
    process["noNewPrivileges"] = settings.no_new_privileges
    if opts.privileged:
        _privileged(config)
    elif settings.profile is not None:
        config["linux"]["seccomp"] = seccomp.default_section(granted, cache_dir) if settings.profile == "" \
            else seccomp.resolve(seccomp.read_profile(settings.profile), granted)


def _privileged(config: dict) -> None:
    """docker's --privileged: no seccomp, nothing masked or read-only, /sys writable, the
    host's devices, and the device cgroup open."""
    linux = config["linux"]
    linux.pop("seccomp", None)
    linux["maskedPaths"] = []
    linux["readonlyPaths"] = []
    for m in config["mounts"]:
        if m["type"] == "sysfs":
            m["options"] = [o for o in m["options"] if o != "ro"]
    linux["devices"] = host_devices()
    linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]


# Not the host's: the container's own devpts, and what its /dev holds already.
_SKIP_DEVICES = {"/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/ptmx", "/dev/console", "/dev/fd"}


def host_devices(top: str = "/dev") -> list[dict]:
    """Every character and block device under /dev, as OCI linux.devices."""
    found = []
    for parent, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(parent, d) not in _SKIP_DEVICES]
        for name in sorted(files):
            path = os.path.join(parent, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if path in _SKIP_DEVICES or not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            found.append({"path": path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                          "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                          "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return found
