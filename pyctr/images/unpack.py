"""Layer tars unpacked into overlay-ready directories, safely, from a stream.

A layer is untrusted input.  The rules (containerd's and umoci's):
- Names are cleaned lexically: `./a//b/` is `a/b`, a leading `/` is dropped (`/etc/x` lands
  at `<target>/etc/x`, as containerd does), and a name whose `..` climbs above the root
  (`../x`, `a/../../x`, a whiteout `../.wh.x`) is refused.
- Every parent directory is resolved with openat2(RESOLVE_IN_ROOT), so a symlink the layer
  made (`a -> /`, `a -> ../../..`) resolves inside the target, never outside; the last
  component is made with *at calls on that parent's fd, never following a link.
- A hardlink's target must be an existing non-directory inside the target (so, of this
  layer); it is linked without following.
- OCI whiteouts become overlay ones: `.wh.NAME` a char device 0:0 named NAME, `.wh..wh..opq`
  the opaque xattr on its directory, in both namespaces (trusted.* for a host overlay,
  user.* for one mounted with userxattr in a user namespace).  Other device nodes are
  dropped and counted; FIFOs are kept.
- Owner, mode (setuid and setgid too, as containerd keeps them) and mtimes are kept;
  directories get theirs last, after their content.  An owner outside uid_t (or -1,
  which chown reads as "leave it") is refused; an mtime before 1970 or past 2262, or not
  a number, becomes 1970 (containerd's boundTime).  Of the PAX xattrs only user.* and
  security.capability are kept: a layer must never forge trusted.overlay.* or
  user.overlay.* (redirect, metacopy, opaque) or a security label.
- A later entry replaces an earlier one as tar does: a directory over a directory merges,
  anything else removes what was there first.

`whiteouts=False` is the plain mode of `pyctr cp`: a tar that is not a layer.  `.wh.*`
names are ordinary files, and setuid, setgid and security.capability are dropped (cp
makes root the owner of what it copies in, and must not make a user's setuid file root's).
"""

import os
import posixpath
import shutil
import stat
import tarfile

from .. import _openat2
from ..records import record
from .image import ImageError

MAX_PATH = 4096  # PATH_MAX, a name or a link target
MAX_COMPONENT = 255  # NAME_MAX
MAX_ENTRIES = 1_000_000
MAX_BYTES = 64 << 30  # of file content, in one layer
MAX_OPEN_DIRS = 64  # parents kept open (tar keeps a directory's entries together); fds are few
MAX_ID = (1 << 32) - 2  # (uid_t)-1 is chown's "unchanged"
MAX_MTIME_NS = (1 << 63) - 1  # what a timespec holds
MAX_HEADER = 1 << 20  # a PAX or GNU long-name header, which tarfile reads whole into memory
CHUNK = 256 << 10  # a file's content is copied this much at a time

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
XATTR_PREFIX = "SCHILY.xattr."
# what overlayfs reads from an upper or lower dir when mounted with userxattr: as much a
# forgery as trusted.overlay.* (opaque, redirect, metacopy)
OVERLAY_USER_XATTRS = "user.overlay."
CAPABILITY = "security.capability"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeLayer(ImageError):
    """A layer entry that would reach outside its target, or breaks a bound."""


@record
class UnpackStats:
    bytes: int = 0  # of regular files, each inode once
    entries: int = 0
    dropped_devices: int = 0


def kept_xattr(name: str) -> bool:
    """The xattrs a layer may carry onto disk (diff.py writes the same ones)."""
    return (name.startswith("user.") and not name.startswith(OVERLAY_USER_XATTRS)) or name == CAPABILITY


def check_fields(info: tarfile.TarInfo) -> None:
    """UnsafeLayer for numbers a PAX header can set to anything (an mtime is clamped
    instead, by _ns): a size below 0 would lower the layer's total, an owner outside
    uid_t is an OverflowError in chown, and (uid_t)-1 would leave the owner root."""
    if info.size < 0:
        raise UnsafeLayer(f"layer entry {info.name!r} of a size below 0")
    for field, value in (("uid", info.uid), ("gid", info.gid)):
        if not 0 <= value <= MAX_ID:
            raise UnsafeLayer(f"layer entry {info.name!r}: {field} {value} out of range (0 to {MAX_ID})")


def clean_name(name: str) -> str:
    """A tar name as a path relative to the root ("" for the root itself); UnsafeLayer for
    one too long or climbing out."""
    if len(os.fsencode(name)) > MAX_PATH:
        raise UnsafeLayer(f"layer entry name longer than {MAX_PATH} bytes: {name[:64]!r}...")
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafeLayer(f"layer entry {name!r} climbs out of the layer")
            parts.pop()
        elif len(os.fsencode(part)) > MAX_COMPONENT:
            raise UnsafeLayer(f"layer entry {name[:64]!r}...: a name longer than {MAX_COMPONENT} bytes")
        else:
            parts.append(part)
    return "/".join(parts)


class _BoundedInfo(tarfile.TarInfo):
    """tarfile's member, but for a PAX or GNU long-name header larger than MAX_HEADER,
    refused before tarfile reads it into memory (a layer could claim gigabytes)."""

    def _proc_member(self, tar):
        if self.type in _EXTENDED and self.size > MAX_HEADER:
            raise UnsafeLayer(f"a layer tar header of {self.size} bytes (at most {MAX_HEADER})")
        return super()._proc_member(tar)


_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)


def _ns(mtime: float) -> int:
    """An mtime in ns, clamped as containerd does: anything a timespec cannot hold, or
    before 1970, is 1970 (PAX headers carry any float: 1e300, nan)."""
    ns = mtime * 10**9
    return int(ns) if 0 <= ns <= MAX_MTIME_NS else 0  # a NaN compares false: 0


def unpack(stream, target: str | int, whiteouts: bool = True) -> UnpackStats:
    """Writes the uncompressed layer tar read from `stream` (anything with .read(n); a pipe
    will do) into `target`, an existing empty directory: a path, or an open fd of one (a
    dup of it is used; the caller's stays open).  `whiteouts=False`: a plain tar, not a
    layer (the module's doc).  UnsafeLayer (an ImageError) for an entry the rules refuse,
    ImageError for a tar that is not one."""
    info = None
    try:
        with _Unpacker(target, whiteouts) as unpacker:
            with tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK // 4, tarinfo=_BoundedInfo) as tar:
                for info in tar:
                    unpacker.entry(tar, info)
            unpacker.finish()
            return unpacker.stats
    except (tarfile.TarError, EOFError) as e:
        raise ImageError(f"a layer that is not a valid tar: {e}") from None
    except OSError as e:  # the disk, the stream, or an entry the kernel refused
        where = f" at entry {info.name!r}" if info is not None else ""
        into = target if isinstance(target, str) else "its target"
        raise ImageError(f"unpacking a layer into {into}{where}: {e.strerror or e}") from None


class _Unpacker:
    def __init__(self, target: str | int, whiteouts: bool = True):
        self.root = os.dup(target) if isinstance(target, int) else os.open(target, DIR_FLAGS | os.O_NOFOLLOW)
        self.whiteouts = whiteouts
        self.dirs: dict[str, int] = {"": self.root}  # parent path -> its fd, until a removal
        # fds forgotten while an entry may still use them (its parent, a hardlink's
        # source): closed once the entry is done, never under it, where a thread's
        # open() could get the same number and this entry land in another layer
        self.retired: list[int] = []
        self.dir_times: dict[str, int] = {}  # path -> mtime ns, set at the end
        self.stats = UnpackStats()
        self.total = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.forget_dirs()
        self.close_retired()
        os.close(self.root)

    def forget_dirs(self) -> None:
        """Forgets the cached parents (after a removal a cached path may name something
        else, even one reached through a symlink); their fds are retired, not closed."""
        self.retired += [fd for path, fd in self.dirs.items() if path]
        self.dirs = {"": self.root}

    def close_retired(self) -> None:
        while self.retired:
            os.close(self.retired.pop())

    def parent(self, path: str, create: bool = True) -> tuple[int, str]:
        """(fd of the parent directory, last component) of a cleaned path; missing parents
        are made (0755, root's) as tar makes them, unless `create` is false."""
        head, name = posixpath.split(path)
        fd = self.dirs.get(head)
        if fd is None:
            if len(self.dirs) > MAX_OPEN_DIRS:
                self.forget_dirs()
            fd = self.dirs[head] = self._open_dir(head, create)
        return fd, name

    def _open_dir(self, path: str, create: bool) -> int:
        try:
            return _openat2.open_in_root(self.root, path, DIR_FLAGS)
        except FileNotFoundError:
            if not create:
                raise UnsafeLayer(f"layer entry refers to {path!r}, which the layer does not hold") from None
        except NotADirectoryError:
            raise UnsafeLayer(f"layer entry below {path!r}, which is not a directory") from None
        return self._make_dirs(path.split("/"))

    def _make_dirs(self, parts: list[str]) -> int:
        """An fd of the directory `parts`, the missing ones made top down (a loop, not a
        recursion: a layer may name 2000 levels)."""
        fd, made = os.dup(self.root), False
        try:
            for depth, part in enumerate(parts):
                below = None if made else self._existing("/".join(parts[:depth + 1]))
                if below is None:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:  # a symlink whose target, resolved inside, is missing
                        raise UnsafeLayer(f"layer entry below {'/'.join(parts[:depth + 1])!r}, "
                                          "a link to nothing in the layer") from None
                    below, made = os.open(part, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd), True
                os.close(fd)
                fd = below
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _existing(self, path: str) -> int | None:
        try:
            return _openat2.open_in_root(self.root, path, DIR_FLAGS)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise UnsafeLayer(f"layer entry below {path!r}, which is not a directory") from None

    def entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        try:
            self._entry(tar, info)
        finally:
            self.close_retired()

    def _entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        self.stats.entries += 1
        self.total += info.size
        if self.stats.entries > MAX_ENTRIES or self.total > MAX_BYTES:
            raise UnsafeLayer(f"a layer of more than {MAX_ENTRIES} entries or {MAX_BYTES >> 30} GiB")
        check_fields(info)
        path = clean_name(info.name)
        if not path:  # the root itself: its metadata only
            self.metadata(self.root, info)
            self.dir_times[""] = _ns(info.mtime)
            return
        if info.sparse is not None:  # no layer writer makes them; copied flat they would be wrong
            raise UnsafeLayer(f"layer entry {info.name!r} is a GNU sparse file, which layers do not hold")
        if info.ischr() or info.isblk():
            self.stats.dropped_devices += 1
            return
        fd, name = self.parent(path)
        if self.whiteouts and name.startswith(WHITEOUT):
            return self.whiteout(fd, name)
        merge = self.make_room(fd, name, info.isdir())
        if info.isreg():
            self.file(tar, info, fd, name)
        elif info.isdir():
            if not merge:
                os.mkdir(name, 0o700, dir_fd=fd)
        elif info.issym():
            self.symlink(info, fd, name)
        elif info.islnk():
            self.hardlink(info, fd, name)
        elif info.isfifo():
            self.fifo(info, fd, name)
        else:
            raise UnsafeLayer(f"layer entry {info.name!r} of an unknown type {info.type!r}")
        if info.isdir():
            self.directory(info, fd, name, path)

    def make_room(self, fd: int, name: str, is_dir: bool) -> bool:
        """Removes what an earlier entry left at `name`; True when it is a directory the
        new directory merges into."""
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if is_dir:
                return True
            if not self.whiteouts:  # cp: a directory already there is the user's, not ours to remove
                raise ImageError(f"cannot overwrite directory {name!r} with a non-directory")
            shutil.rmtree(name, dir_fd=fd)  # fd-based: never follows a link inside
        else:
            os.unlink(name, dir_fd=fd)
        self.forget_dirs()
        return False

    def file(self, tar: tarfile.TarFile, info: tarfile.TarInfo, fd: int, name: str) -> None:
        out = os.open(name, NEW_FILE, 0o600, dir_fd=fd)
        try:
            left = info.size
            # stream mode: the data follows the header, and next() skips what is left of
            # it; read straight from tarfile's stream, not through extractfile's layers
            source = tar.fileobj
            while left:
                chunk = source.read(min(left, CHUNK))
                if not chunk:
                    raise ImageError(f"a layer cut short in {info.name!r}")
                os.write(out, chunk)
                left -= len(chunk)
            self.stats.bytes += info.size
            self.metadata(out, info)
            os.utime(out, ns=(_ns(info.mtime), _ns(info.mtime)))
        finally:
            os.close(out)

    def directory(self, info: tarfile.TarInfo, fd: int, name: str, path: str) -> None:
        d = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
        try:
            self.metadata(d, info)
        finally:
            os.close(d)
        self.dir_times[path] = _ns(info.mtime)

    def symlink(self, info: tarfile.TarInfo, fd: int, name: str) -> None:
        if len(os.fsencode(info.linkname)) > MAX_PATH:
            raise UnsafeLayer(f"layer symlink {info.name!r}: a target longer than {MAX_PATH} bytes")
        os.symlink(info.linkname, name, dir_fd=fd)  # only ever read by the container
        os.chown(name, info.uid, info.gid, dir_fd=fd, follow_symlinks=False)
        os.utime(name, ns=(_ns(info.mtime),) * 2, dir_fd=fd, follow_symlinks=False)

    def hardlink(self, info: tarfile.TarInfo, fd: int, name: str) -> None:
        source = clean_name(info.linkname)
        source_fd, source_name = self.parent(source, create=False) if source else (None, "")
        try:
            st = os.stat(source_name, dir_fd=source_fd, follow_symlinks=False) if source else None
        except FileNotFoundError:
            st = None
        if st is None or stat.S_ISDIR(st.st_mode):
            raise UnsafeLayer(f"layer hardlink {info.name!r} -> {info.linkname!r}: not a file of this layer")
        os.link(source_name, name, src_dir_fd=source_fd, dst_dir_fd=fd, follow_symlinks=False)

    def fifo(self, info: tarfile.TarInfo, fd: int, name: str) -> None:
        os.mkfifo(name, 0o600, dir_fd=fd)
        os.chown(name, info.uid, info.gid, dir_fd=fd, follow_symlinks=False)
        os.chmod(name, self.mode(info), dir_fd=fd)  # a FIFO just made: no link to follow
        os.utime(name, ns=(_ns(info.mtime),) * 2, dir_fd=fd, follow_symlinks=False)

    def whiteout(self, fd: int, name: str) -> None:
        if name == OPAQUE:
            for attr in OPAQUE_XATTRS:
                os.setxattr(fd, attr, b"y")
            return
        hidden = name[len(WHITEOUT):]
        if hidden.startswith(WHITEOUT):  # aufs's own (.wh..wh.plnk and such): not content
            return
        if hidden in ("", ".", ".."):
            raise UnsafeLayer(f"layer whiteout {name!r} names no entry of its directory")
        self.make_room(fd, hidden, False)
        os.mknod(hidden, stat.S_IFCHR, os.makedev(0, 0), dir_fd=fd)

    def metadata(self, fd: int, info: tarfile.TarInfo) -> None:
        """Owner, then mode (chown clears setuid), then xattrs (chown clears
        security.capability), on an fd of our own making."""
        os.fchown(fd, info.uid, info.gid)
        os.fchmod(fd, self.mode(info))
        for key, value in info.pax_headers.items():
            name = key[len(XATTR_PREFIX):]
            if key.startswith(XATTR_PREFIX) and kept_xattr(name) and (self.whiteouts or name != CAPABILITY):
                os.setxattr(fd, name, value.encode("utf-8", "surrogateescape"))

    def mode(self, info: tarfile.TarInfo) -> int:
        """The permission bits to set: setuid and setgid kept only in a layer."""
        return info.mode & (0o7777 if self.whiteouts else 0o1777)

    def finish(self) -> None:
        """Directory mtimes, once nothing more is written into them."""
        for path, mtime in sorted(self.dir_times.items(), key=lambda item: -(item[0].count("/") + 1 if item[0] else 0)):
            if not path:
                os.utime(self.root, ns=(mtime,) * 2)
                continue
            try:
                fd, name = self.parent(path, create=False)
                os.utime(name, ns=(mtime,) * 2, dir_fd=fd, follow_symlinks=False)
            except (FileNotFoundError, UnsafeLayer):  # removed by a later entry
                pass
            self.close_retired()
