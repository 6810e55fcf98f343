"""User and group names to ids, from a container's own /etc/passwd and /etc/group (for
`run -u` and `exec -u`): files the image or the container wrote, so read as untrusted:
looked up inside its root (no link leads to a host file), regular files only, bounded."""

import os

from ..runtime import container as runtime
from .errors import PyctrError

ACCOUNT_FILE_LIMIT = 1 << 20  # /etc/passwd of a big image is tens of KB
MAX_ID = 0xFFFFFFFE  # (uid_t)-1 means "no change" to the kernel


def _ascii_number(text: str) -> bool:
    """0-9 only: str.isdigit() also takes '²' and fullwidth digits, which int() refuses or
    reads as other numbers."""
    return text.isascii() and text.isdigit()


def _id(text: str, what: str) -> int:
    if not _ascii_number(text) or int(text) > MAX_ID:
        raise PyctrError(f"invalid {what} {text!r}: ids are numbers from 0 to {MAX_ID}")
    return int(text)


def _entry(lines: list[str], key: str, path: str) -> list[str] | None:
    """The passwd/group line whose name or number is `key`; a line naming it that is not
    a valid entry (name:x:id:...; passwd's with a gid) is an error, not a miss."""
    numbers = 2 if path.endswith("passwd") else 1
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and key in (fields[0], fields[2]):
            if len(fields) < 4 or not all(_ascii_number(f) for f in fields[2:2 + numbers]):
                raise PyctrError(f"invalid entry for {key!r} in the container's {path}")
            return fields
    return None


def resolve_user(read, user: str) -> dict:
    """`name`, `uid`, `name:group` or `uid:gid`, looked up in the container's own
    /etc/passwd and /etc/group: `read(path)` returns a file's lines (from inside the
    container's root), [] when it has none."""
    name, _, group = user.partition(":")
    entry = _entry(read("/etc/passwd"), name, "/etc/passwd") if name else None
    if entry:
        uid, gid = _id(entry[2], "uid"), _id(entry[3], "gid")
    elif _ascii_number(name):
        uid, gid = _id(name, "uid"), 0
    else:
        raise PyctrError(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        gid = resolve_group(read, group)
    return {"uid": uid, "gid": gid}


def resolve_group(read, group: str) -> int:
    """A group's name or number, looked up in the container's /etc/group (`read`, as for
    resolve_user): -u's group, and --group-add's."""
    found = _entry(read("/etc/group"), group, "/etc/group")
    if found:
        return _id(found[2], "gid")
    if _ascii_number(group):
        return _id(group, "gid")
    raise PyctrError(f"unable to find group {group}: no matching entries in group file")


def _lines(read_bytes, path: str) -> list[str]:
    """A file's lines for resolve_user, [] when there is none; any other failure is the
    user's one-line error."""
    try:
        return read_bytes().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise PyctrError(f"cannot read the container's {path}: {e.strerror}") from None


def container_reader(runtime, container_id: str):
    """`read(path)` for resolve_user: a live container's file, resolved inside its root
    (`runtime`: the container's, containers.runtime_of)."""
    return lambda path: _lines(lambda: runtime.read_file(container_id, path, ACCOUNT_FILE_LIMIT), path)


def image_reader(lower_dirs: list[str]):
    """`read(path)` for resolve_user before the container exists: the file from the
    topmost of the image's layers that has it, looked up inside that layer."""
    def read_layers(path: str) -> bytes:
        for layer in lower_dirs:
            rootfd = os.open(layer, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                return runtime.read_in_root(rootfd, path, ACCOUNT_FILE_LIMIT)
            except FileNotFoundError:
                continue
            finally:
                os.close(rootfd)
        raise FileNotFoundError(path)
    return lambda path: _lines(lambda: read_layers(path), path)
