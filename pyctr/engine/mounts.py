"""What -v, --mount, --tmpfs and --volumes-from ask for, read as docker reads them, and a
request turned into the OCI mount config.json carries and the shape `inspect` shows.

Pure parsing: nothing here looks at the store or makes a directory (volumes.py does).
"""

import os
import posixpath

from ..records import record
from ..runtime.plan import SOURCE_RESOLVED
from .errors import PyctrError

# a volume's name: [a-zA-Z0-9][a-zA-Z0-9_.-]* (docker's), checked by hand: `re` costs a run 10 ms
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_REST = _NAME_FIRST | frozenset("_.-")
BIND_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION = "rprivate"
# docker's defaults for a tmpfs: a user's `exec` (say) comes later and wins
TMPFS_DEFAULTS = ["nosuid", "nodev", "noexec"]
# mount options a tmpfs takes besides the generic MS_* ones (runtime/plan.py's table)
TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "huge")


@record
class MountRequest:
    """One user mount.  `source`: a host path (bind) or a volume's name (volume)."""
    type: str  # bind | volume | tmpfs
    destination: str
    source: str = ""
    readonly: bool = False
    propagation: str = ""  # binds only; "" is rprivate
    options: list[str] = []  # tmpfs: its mount options
    anonymous: bool = False  # a volume made for this container, named at random
    nocopy: bool = False  # a new volume is not filled from the image
    make_source: bool = False  # -v: a missing host directory is made, as docker does


def _destination(path: str, fail) -> str:
    if not path.startswith("/"):
        raise fail(f"invalid mount path: '{path}' mount path must be absolute")
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if path == "/":
        raise fail("invalid specification: destination can't be '/'")
    return path


def check_volume_name(name: str) -> str:
    if not (name and name[0] in _NAME_FIRST and all(c in _NAME_REST for c in name)):
        raise PyctrError(f'"{name}" includes invalid characters for a local volume name, only '
                         '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                         'use absolute path')
    return name


def _is_mode(text: str) -> bool:
    return all(part in ("ro", "rw", "z", "Z", "nocopy", *BIND_PROPAGATIONS) for part in text.split(","))


def parse_volume(spec: str) -> MountRequest:
    """-v HOST:CTR[:MODE], -v NAME:CTR[:MODE], -v CTR[:MODE] (an anonymous volume)."""
    def fail(why: str = "") -> PyctrError:
        return PyctrError(f"invalid volume specification: '{spec}'" + (f": {why}" if why else ""))
    parts = spec.split(":")
    if len(parts) == 1:
        source, destination, mode = "", parts[0], ""
    elif len(parts) == 2 and _is_mode(parts[1]):
        source, destination, mode = "", parts[0], parts[1]
    elif len(parts) == 2:
        source, destination, mode = parts[0], parts[1], ""
    elif len(parts) == 3:
        source, destination, mode = parts
    else:
        raise fail()
    if len(parts) > 1 and not source and not (len(parts) == 2 and mode):
        raise fail()  # ":/data"
    request = MountRequest("bind" if source.startswith("/") else "volume", _destination(destination, fail))
    if source.startswith("/"):
        request.source, request.make_source = posixpath.normpath(source), True
    elif source:
        request.source = check_volume_name(source)
    else:
        request.anonymous = True
    for part in filter(None, mode.split(",")):
        _apply_mode(request, part, fail)
    return request


def _apply_mode(request: MountRequest, part: str, fail) -> None:
    if part in ("ro", "rw"):
        request.readonly = part == "ro"
    elif part in ("z", "Z"):
        pass  # SELinux labels: none here
    elif part == "nocopy" and request.type == "volume":
        request.nocopy = True
    elif part in BIND_PROPAGATIONS and request.type == "bind":
        request.propagation = part
    else:
        raise fail(f"invalid mode: {part}")


def _truth(key: str, value: str, fail) -> bool:
    if value.lower() in ("", "1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise fail(f"invalid value for {key}: {value}")


def parse_mount(spec: str) -> MountRequest:
    """--mount type=bind|volume|tmpfs,source=,target=,readonly,...: docker's CSV fields."""
    import csv  # only a run with --mount pays for it

    def fail(why: str) -> PyctrError:
        return PyctrError(f'invalid argument "{spec}" for "--mount" flag: {why}')
    try:
        fields = next(csv.reader([spec]), [])
    except csv.Error as e:
        raise fail(str(e)) from None
    values: dict = {}
    for field in fields:
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise fail(f"invalid field '{field}' must be a key=value pair")
        if key == "volume-opt" or key == "volume-label":
            values.setdefault(key, []).append(value)
        elif key in ("type", "source", "src", "target", "destination", "dst", "readonly", "ro", "volume-nocopy",
                     "bind-propagation", "bind-nonrecursive", "tmpfs-size", "tmpfs-mode", "consistency",
                     "volume-driver"):
            values[key] = value
        else:
            raise fail(f"unexpected key '{key}' in '{field}'")
    kind = values.get("type", "volume")
    if kind not in ("bind", "volume", "tmpfs"):
        raise fail(f"invalid mount type: {kind!r}")
    target = values.get("target", values.get("destination", values.get("dst")))
    if not target:
        raise fail("target is required")
    source = values.get("source", values.get("src", ""))
    request = MountRequest(kind, _destination(target, fail), readonly=any(
        _truth(k, values[k], fail) for k in ("readonly", "ro") if k in values))
    if values.get("volume-driver", "local") != "local":
        raise fail(f"volume driver {values['volume-driver']!r} is not supported: only local")
    if kind == "bind":
        _bind_fields(request, source, values, fail)
    elif kind == "volume":
        if source.startswith("/"):
            raise fail(f"invalid mount config for type \"volume\": invalid volume name: {source}")
        request.source, request.anonymous = (check_volume_name(source), False) if source else ("", True)
        request.nocopy = "volume-nocopy" in values and _truth("volume-nocopy", values["volume-nocopy"], fail)
    else:
        if source:
            raise fail('invalid mount config for type "tmpfs": source must not be specified')
        request.options = _tmpfs_fields(values, fail)
    for key in values:
        if key.startswith(("bind-", "volume-", "tmpfs-")) and not key.startswith(kind) and key != "volume-driver":
            raise fail(f"cannot mix '{key}' with mount type '{kind}'")
    return request


def _bind_fields(request: MountRequest, source: str, values: dict, fail) -> None:
    if not source.startswith("/"):
        raise fail('invalid mount config for type "bind": source must be an absolute path'
                   if source else 'invalid mount config for type "bind": field Source must not be empty')
    request.source = posixpath.normpath(source)
    propagation = values.get("bind-propagation", "")
    if propagation and propagation not in BIND_PROPAGATIONS:
        raise fail(f"invalid bind propagation: {propagation}")
    request.propagation = propagation


def _tmpfs_fields(values: dict, fail) -> list[str]:
    options = list(TMPFS_DEFAULTS)
    if values.get("tmpfs-size"):
        from .units import parse_size
        options.append(f"size={parse_size(values['tmpfs-size'], 'tmpfs-size')}")
    if values.get("tmpfs-mode"):
        try:
            options.append(f"mode={int(values['tmpfs-mode'], 8):o}")
        except ValueError:
            raise fail(f"invalid tmpfs-mode: {values['tmpfs-mode']}") from None
    return options


def parse_tmpfs(spec: str) -> MountRequest:
    """--tmpfs /path[:opt,opt]: mount options as mount(8) takes them (size=64m, mode=1777)."""
    from ..runtime.plan import MOUNT_OPTIONS

    def fail(why: str) -> PyctrError:
        return PyctrError(f"invalid tmpfs specification: '{spec}': {why}")
    destination, _, opts = spec.partition(":")
    options = list(TMPFS_DEFAULTS)
    for option in filter(None, opts.split(",")):
        if option not in MOUNT_OPTIONS and option.partition("=")[0] not in TMPFS_DATA:
            raise fail(f"invalid option: {option}")
        options.append(option)
    readonly = "ro" in options
    return MountRequest("tmpfs", _destination(destination, fail), readonly=readonly,
                        options=[o for o in options if o not in ("ro", "rw")])


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """CONTAINER[:ro|rw] -> (container, "" | "ro" | "rw")."""
    name, _, mode = spec.partition(":")
    if not name or mode not in ("", "ro", "rw"):
        raise PyctrError(f"invalid volumes-from specification: '{spec}'")
    return name, mode


def oci_mount(request: MountRequest, volume_data: str | None) -> dict:
    """The config.json mount: a bind (binds and volumes: `volume_data` is the volume's
    directory) recursive and private unless asked otherwise, or a tmpfs.  A bind's
    source is resolved now, as docker does, and marked so: a link that appears on it by
    the time it is mounted (one a container made, say) is refused, not followed."""
    access = ["ro"] if request.readonly else []
    if request.type == "tmpfs":
        return {"destination": request.destination, "type": "tmpfs", "source": "tmpfs",
                "options": [*request.options, *access]}
    # a volume is pyctr's: with a user namespace, container root owns it as host root does
    source, idmap = (volume_data, ["idmap"]) if request.type == "volume" else (request.source, [])
    return {"destination": request.destination, "type": "bind", "source": os.path.realpath(source),
            "options": ["rbind", request.propagation or DEFAULT_PROPAGATION, *access, *idmap, SOURCE_RESOLVED]}


def inspect_shape(request: MountRequest, volume_data: str | None) -> dict:
    """docker inspect's MountPoint."""
    shape = {"Type": request.type}
    if request.type == "volume":
        shape.update(Name=request.source, Source=volume_data, Driver="local")
    else:
        shape["Source"] = request.source
    mode = "ro" if request.readonly else "z" if request.type == "volume" else ""
    shape.update(Destination=request.destination, Mode=mode,
                 RW=not request.readonly,
                 Propagation=(request.propagation or DEFAULT_PROPAGATION) if request.type == "bind" else "")
    return shape


def depth(request: MountRequest) -> int:
    """Mounts go on parents first: /a before /a/b (docker sorts them so)."""
    return request.destination.count("/")
