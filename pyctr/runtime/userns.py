"""A user namespace in the runtime's plan: the config's uidMappings/gidMappings as the lines
/proc/PID/uid_map takes, and the rootfs reached through idmapped mounts (csrc/userns.h
says why): each overlay layer and the directory holding the rootfs mount point, the upper
and the work dir are idmapped by the parent and named "{i}" in the rootfs path and the
overlay's options, which the child fills in with the fds it was given."""

import os

from .errors import ConfigError

MAX_MAP_LINES = 340  # the kernel's limit for one uid_map
ID_LIMIT = 1 << 32  # ids are 32 bits, and 2**32 - 1 is (uid_t)-1: no id
MAX_IDMAPPED = 128  # csrc/userns.h, PYCTR_MAX_IDMAPPED


def map_lines(mappings, field: str) -> str:
    """OCI [{containerID, hostID, size}] -> "0 100000 65536\\n"; ConfigError for what the
    kernel would refuse (it answers EINVAL and no more)."""
    if not isinstance(mappings, list) or not mappings:
        raise ConfigError(f"a user namespace needs linux.{field}")
    if len(mappings) > MAX_MAP_LINES:
        raise ConfigError(f"linux.{field} has more than {MAX_MAP_LINES} entries")
    spans = []
    for m in mappings:
        values = [m.get(k) if isinstance(m, dict) else None for k in ("containerID", "hostID", "size")]
        if not all(type(v) is int and v >= 0 for v in values) or values[2] == 0 or \
                max(values[0], values[1]) + values[2] >= ID_LIMIT:
            raise ConfigError(f"linux.{field}: bad entry {m!r}")
        spans.append(values)
    for i in (0, 1):  # neither the container's ids nor the host's may be mapped twice
        ordered = sorted((s[i], s[i] + s[2]) for s in spans)
        if any(later[0] < earlier[1] for earlier, later in zip(ordered, ordered[1:])):
            raise ConfigError(f"linux.{field}: the ranges overlap")
    return "".join(f"{c} {h} {n}\n" for c, h, n in spans)


def _literal(text: str) -> str:
    """Text in a "{i}" template, as itself."""
    return text.replace("{", "{{")


def _inside(home: str, path: str, what: str) -> str:
    """`path` relative to `home` (the idmapped directory), which it must be under."""
    rel = os.path.relpath(os.path.normpath(path), home)
    if not os.path.isabs(path) or rel == ".." or rel.startswith("../"):
        raise ConfigError(f"with a user namespace, {what} must be inside {home} (the rootfs mount point's directory)")
    return rel


def plan_user_namespace(plan, config: dict) -> None:
    """Fills in the plan's maps, and its rootfs as "{i}" templates over idmapped dirs."""
    linux = config.get("linux", {})
    plan.uid_map = map_lines(linux.get("uidMappings"), "uidMappings")
    plan.gid_map = map_lines(linux.get("gidMappings"), "gidMappings")
    root = os.path.normpath(plan.rootfs)
    if not os.path.isabs(root) or root == "/":
        raise ConfigError("with a user namespace, root.path must be an absolute path below /")
    if not plan.rootfs_fstype:  # a bind: the rootfs itself, idmapped, is the new root
        plan.idmapped, plan.rootfs = [root], "{0}"
        _idmap_binds(plan)
        return
    if plan.rootfs_fstype != "overlay":
        raise ConfigError(f"with a user namespace, the rootfs must be an overlay, not {plan.rootfs_fstype}")
    data = plan.rootfs_data or ""
    if "\\" in data:
        raise ConfigError("with a user namespace, overlay options cannot have escaped characters")
    home = os.path.dirname(root)
    options = [option.partition("=") for option in data.split(",") if option]
    lowers = [os.path.normpath(d) for key, _, value in options if key == "lowerdir" for d in value.split(":") if d]
    if not lowers or not all(os.path.isabs(d) for d in lowers):
        raise ConfigError("the overlay needs lowerdir, absolute paths")
    if len(lowers) + 1 > MAX_IDMAPPED:
        raise ConfigError(f"with a user namespace, an overlay takes at most {MAX_IDMAPPED - 1} layers")
    here = f"{{{len(lowers)}}}"  # home, after the layers
    filled = [f"lowerdir={':'.join(f'{{{i}}}' for i in range(len(lowers)))}"]
    for key, eq, value in options:
        if key in ("upperdir", "workdir"):
            filled.append(f"{key}={here}/{_literal(_inside(home, value, key))}")
        elif key not in ("lowerdir", "userxattr"):
            filled.append(_literal(key + eq + value))
    # user.overlay.* xattrs: an overlay mounted in a user namespace cannot set trusted.*,
    # and without xattrs a directory made over a deleted lower one fails (EIO)
    plan.rootfs_data = ",".join([*filled, "userxattr"])
    plan.idmapped = [*lowers, home]
    plan.rootfs = f"{here}/{_literal(os.path.basename(root))}"
    _idmap_binds(plan)


def _idmap_binds(plan) -> None:
    """Binds with OCI's "idmap" option (the engine's volumes, a container's /etc/hosts)
    idmapped as the layers are, and named "{i}": container root owns what host root owns
    there, and reaches a volume under host root's 0700 directories.  One inside a
    directory idmapped already (the container's own, the rootfs's) is reached through it,
    "{i}/path", a file too; any other must be a directory.  A host directory bound without
    the option is seen unmapped, as podman does: container root must not make host root's
    files."""
    from .plan import MS_BIND
    for mount in plan.mounts:
        if not (mount.flags & MS_BIND and mount.idmap):
            continue
        source = os.path.normpath(mount.source)
        within = next((i for i, d in enumerate(plan.idmapped) if source.startswith(d.rstrip("/") + "/")), None)
        if within is not None:
            rel = os.path.relpath(source, plan.idmapped[within])
            mount.source, mount.source_no_symlinks = f"{{{within}}}/{_literal(rel)}", False
            continue
        # no look at the source now: the engine makes a volume's directory while the
        # child is cloned; the parent opens it (a directory) just before the go-ahead
        if len(plan.idmapped) >= MAX_IDMAPPED:
            raise ConfigError(f"with a user namespace, at most {MAX_IDMAPPED} layers and binds")
        plan.idmapped.append(source)
        mount.source, mount.source_no_symlinks = f"{{{len(plan.idmapped) - 1}}}", False
