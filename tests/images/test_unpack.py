"""Layer tars unpacked: what a layer holds lands in the target as overlay expects it, and a
malicious layer (made here with tarfile) changes nothing outside the target."""

import hashlib
import io
import os
import resource
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pyctr.images.image import ImageError
from pyctr.images.unpack import MAX_PATH, UnsafeLayer, unpack
from pyctr.images.readahead import ReadAhead

MTIME = 1_600_000_000


def entry(name: str, kind=tarfile.REGTYPE, data: bytes = b"", **fields) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime = kind, len(data), MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def layer(*entries) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    out.seek(0)
    return out


class Pipe:
    """A stream that only reads, in small pieces (no seek, no tell): as a socket gives it."""

    def __init__(self, data: io.BytesIO):
        self.data = data

    def read(self, n: int = -1) -> bytes:
        return self.data.read(min(n, 1000) if n >= 0 else 1000)


def snapshot(root: str) -> dict:
    """Everything about a tree that a write could change, links not followed."""
    found = {}
    for directory, dirs, files in os.walk(root) if os.path.isdir(root) else [(root, [], [])]:
        for name in [""] + dirs + files:
            path = os.path.join(directory, name) if name else directory
            st = os.lstat(path)
            content = os.readlink(path) if stat.S_ISLNK(st.st_mode) else \
                hashlib.sha256(open(path, "rb").read()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            found[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, st.st_nlink, st.st_mtime_ns, content)
    return found


@pytest.fixture
def place(tmp_path):
    """(target, check): an empty target with a canary dir beside it; check() asserts the
    canary, /etc/passwd and the host paths the corpus aims at are as they were."""
    target, canary = tmp_path / "target", tmp_path / "canary"
    target.mkdir()
    canary.mkdir()
    (canary / "file").write_text("canary")
    (canary / "sub").mkdir()
    (canary / "sub" / "x").write_text("x")
    before = snapshot(str(canary)), snapshot("/etc/passwd")

    def check():
        assert (snapshot(str(canary)), snapshot("/etc/passwd")) == before
        assert sorted(os.listdir(tmp_path)) == ["canary", "target"]
        for host in ("/evil", "/etc/pyctr-unpack-evil", "/tmp/pyctr-unpack-evil"):
            assert not os.path.lexists(host)

    return str(target), str(canary), check


def test_a_layer_lands_as_overlay_wants_it(tmp_path):
    target = str(tmp_path / "t")
    os.mkdir(target)
    stats = unpack(Pipe(layer(
        entry("./", tarfile.DIRTYPE, mode=0o755),
        entry("./usr/", tarfile.DIRTYPE, mode=0o750, uid=12, gid=34),
        entry("./usr/bin/su", data=b"su" * 5000, mode=0o4755),
        entry("./usr/bin/su2", tarfile.LNKTYPE, linkname="usr/bin/su"),
        entry("./usr/link", tarfile.SYMTYPE, linkname="/etc/nowhere", uid=5, gid=6),
        entry("./run/fifo", tarfile.FIFOTYPE, mode=0o620),
        entry("./old/.wh.gone"),
        entry("./opaque/", tarfile.DIRTYPE),
        entry("./opaque/.wh..wh..opq"),
        entry("./opaque/kept", data=b"k", pax_headers={"SCHILY.xattr.user.note": "hello"}),
        entry("./dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
    )), target)
    assert stats.bytes == 10001 and stats.entries == 11 and stats.dropped_devices == 1
    su = os.lstat(f"{target}/usr/bin/su")
    assert stat.S_IMODE(su.st_mode) == 0o4755 and su.st_nlink == 2 and su.st_mtime == MTIME
    assert os.lstat(f"{target}/usr/bin/su2").st_ino == su.st_ino
    usr = os.lstat(f"{target}/usr")
    assert (stat.S_IMODE(usr.st_mode), usr.st_uid, usr.st_gid, usr.st_mtime) == (0o750, 12, 34, MTIME)
    assert os.lstat(f"{target}/usr/bin").st_mode & 0o777 == 0o755  # made as tar makes a missing parent
    link = os.lstat(f"{target}/usr/link")
    assert os.readlink(f"{target}/usr/link") == "/etc/nowhere" and (link.st_uid, link.st_gid) == (5, 6)
    assert stat.S_ISFIFO(os.lstat(f"{target}/run/fifo").st_mode) and os.lstat(f"{target}/run/fifo").st_mode & 0o777 == 0o620
    gone = os.lstat(f"{target}/old/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    for attr in ("trusted.overlay.opaque", "user.overlay.opaque"):
        assert os.getxattr(f"{target}/opaque", attr) == b"y"
    assert os.getxattr(f"{target}/opaque/kept", "user.note") == b"hello"
    assert not os.path.lexists(f"{target}/dev/null")
    assert os.lstat(target).st_mtime == MTIME  # the root's own entry, set last


def test_later_entries_replace_earlier_ones_as_tar_does(tmp_path):
    target = str(tmp_path / "t")
    os.mkdir(target)
    unpack(layer(
        entry("a/", tarfile.DIRTYPE), entry("a/inside", data=b"1"),
        entry("a", data=b"file over dir"),
        entry("b", data=b"file"), entry("b/", tarfile.DIRTYPE),
        entry("c/", tarfile.DIRTYPE), entry("c/one", data=b"1"), entry("c/", tarfile.DIRTYPE, mode=0o700),
        entry("c/two", data=b"2"),
        entry("d", data=b"old"), entry(".wh.d"),
    ), target)
    assert open(f"{target}/a").read() == "file over dir"
    assert os.path.isdir(f"{target}/b")
    assert sorted(os.listdir(f"{target}/c")) == ["one", "two"] and os.lstat(f"{target}/c").st_mode & 0o777 == 0o700
    assert stat.S_ISCHR(os.lstat(f"{target}/d").st_mode)


def test_a_layer_read_ahead_in_a_thread_is_the_same(tmp_path):
    data = layer(entry(".", tarfile.DIRTYPE), *(entry(f"d{i}/f{j}", data=os.urandom(3000)) if j >= 0 else
                                                 entry(f"d{i}", tarfile.DIRTYPE)
                                                 for i in range(5) for j in range(-1, 20))).getvalue()
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    os.mkdir(one)
    os.mkdir(two)
    unpack(io.BytesIO(data), one)
    with ReadAhead(io.BytesIO(data), chunk=4096, depth=2) as stream:
        unpack(stream, two)
    assert snapshot(one) == snapshot(two)


def test_a_broken_read_ahead_stream_raises_and_stops():
    class Broken:
        def read(self, n):
            raise OSError("connection reset")

    with ReadAhead(Broken()) as stream, pytest.raises(OSError, match="connection reset"):
        stream.read(10)


@pytest.mark.parametrize("name,entries", [
    ("path climbing out", [entry("../evil", data=b"x")]),
    ("path climbing out from inside", [entry("a/../../evil", data=b"x")]),
    ("hardlink climbing out", [entry("h", tarfile.LNKTYPE, linkname="../canary/file")]),
    ("hardlink to a host file", [entry("h", tarfile.LNKTYPE, linkname="/etc/passwd")]),
    ("hardlink through a symlink out", [entry("s", tarfile.SYMTYPE, linkname="/etc"),
                                        entry("h", tarfile.LNKTYPE, linkname="s/passwd")]),
    ("hardlink to a directory", [entry("d/", tarfile.DIRTYPE), entry("h", tarfile.LNKTYPE, linkname="d")]),
    ("symlinked parent pointing out", [entry("up", tarfile.SYMTYPE, linkname="../canary"),
                                       entry("up/evil", data=b"x")]),
    ("symlinked parent, absolute", [entry("abs", tarfile.SYMTYPE, linkname="/tmp"),
                                    entry("abs/pyctr-unpack-evil", data=b"x")]),
    ("huge name", [entry("a/" * (MAX_PATH // 2) + "x", data=b"x")]),
    ("huge component", [entry("x" * 300, data=b"x")]),
    ("whiteout climbing out", [entry("../.wh.canary")]),
    ("whiteout of its own dir", [entry("a/.wh...")]),
    ("hardlink to itself", [entry("f", data=b"x"), entry("f", tarfile.LNKTYPE, linkname="f")]),
    ("not a tar", None),
])
def test_a_malicious_layer_is_refused(place, name, entries):
    target, canary, check = place
    stream = io.BytesIO(b"\x01" * 2048) if entries is None else layer(*entries)
    with pytest.raises(ImageError) as error:
        unpack(stream, target)
    assert "\n" not in str(error.value)
    assert isinstance(error.value, UnsafeLayer) == (entries is not None)
    check()


@pytest.mark.parametrize("name,entries,inside", [
    ("absolute name", [entry("/etc/pyctr-unpack-evil", data=b"x")], "etc/pyctr-unpack-evil"),
    ("symlink to / as a parent", [entry("root", tarfile.SYMTYPE, linkname="/"),
                                  entry("root/evil", data=b"x")], "evil"),
    ("symlink climbing as a parent", [entry("up", tarfile.SYMTYPE, linkname="../../../../../../.."),
                                      entry("up/evil", data=b"x")], "evil"),
    ("a file over a symlink pointing out", [entry("f", tarfile.SYMTYPE, linkname="../canary/file"),
                                            entry("f", data=b"x")], "f"),
    ("a whiteout over a symlink pointing out", [entry("w", tarfile.SYMTYPE, linkname="../canary/file"),
                                                entry(".wh.w")], "w"),
])
def test_a_malicious_layer_is_confined(place, name, entries, inside):
    target, canary, check = place
    unpack(layer(*entries), target)
    assert not os.path.islink(os.path.join(target, inside)) and os.path.lexists(os.path.join(target, inside))
    check()


def test_a_failing_stream_is_one_line_error(tmp_path):
    class Cut:
        def __init__(self):
            self.data = layer(entry("big", data=b"x" * 100_000)).getvalue()[:60_000]
            self.sent = False

        def read(self, n):
            if self.sent:
                raise ConnectionResetError(104, "Connection reset by peer")
            self.sent = True
            return self.data

    with pytest.raises(ImageError, match="at entry 'big': Connection reset by peer$"):
        unpack(Cut(), str(tmp_path))


def test_a_huge_tar_header_is_refused_before_it_is_read(tmp_path):
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 4 << 30
    with pytest.raises(UnsafeLayer, match="header of 4294967296 bytes"):
        unpack(io.BytesIO(header.tobuf(tarfile.USTAR_FORMAT) + b"0" * 4096), str(tmp_path))


def test_deep_and_wide_layers_need_neither_recursion_nor_many_fds(tmp_path):
    """2000 levels of parents the layer never names, and 500 directories under an fd
    limit far below that."""
    deep, wide = str(tmp_path / "deep"), str(tmp_path / "wide")
    os.mkdir(deep)
    os.mkdir(wide)
    unpack(layer(entry("d/" * 2000 + "x", data=b"x")), deep)
    assert os.path.exists(os.path.join(deep, "d/" * 2000 + "x"))
    subprocess.run(["rm", "-rf", deep], check=True)  # deeper than pytest's own removal goes
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 100, hard))
    try:
        unpack(layer(*(entry(f"{i}/{j}/f", data=b"x") for i in range(50) for j in range(10))), wide)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(os.listdir(wide)) == 50


def test_devices_are_dropped(place):
    target, canary, check = place
    stats = unpack(layer(entry("null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                         entry("sda", tarfile.BLKTYPE, devmajor=8, devminor=0),
                         entry("zero", tarfile.CHRTYPE, devmajor=0, devminor=0)), target)
    assert stats.dropped_devices == 3 and os.listdir(target) == []
    check()


def test_forged_xattrs_are_dropped(place):
    target, canary, check = place
    forged = {f"SCHILY.xattr.{k}": v for k, v in {
        "trusted.overlay.redirect": "/etc", "trusted.overlay.opaque": "y", "trusted.overlay.metacopy": "",
        "user.overlay.opaque": "y", "user.overlay.redirect": "/etc", "security.selinux": "system_u:object_r:x",
        "user.kept": "yes", "security.capability": "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    }.items()}
    unpack(layer(entry("d/", tarfile.DIRTYPE, pax_headers=forged), entry("d/ping", data=b"x", pax_headers=forged)), target)
    assert sorted(os.listxattr(f"{target}/d")) == ["security.capability", "user.kept"]
    assert sorted(os.listxattr(f"{target}/d/ping")) == ["security.capability", "user.kept"]
    check()


NAMES = ["a", "b", "a/b", "a/b/c", "../a", "/a", "b/../../a", "a/.wh.b", ".wh..wh..opq", "a/.wh..wh..opq", ".wh..."]
TARGETS = ["/", "..", "../..", "../canary", "../canary/file", "/etc/passwd", "a", "b", "a/b", "/tmp", "."]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from("fdsh"), st.sampled_from(TARGETS)),
                max_size=8))
def test_any_layer_stays_inside_or_is_refused(tmp_path, entries):
    """Random layers of names, dirs, and links aimed out: never a write outside the
    target, never an error other than a one-line ImageError."""
    root = tempfile.mkdtemp(dir=tmp_path)
    target, canary = os.path.join(root, "target"), os.path.join(root, "canary")
    os.mkdir(target)
    os.mkdir(canary)
    with open(os.path.join(canary, "file"), "w") as f:
        f.write("canary")
    before = snapshot(canary), snapshot("/etc/passwd")
    kinds = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "s": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}
    try:
        unpack(layer(*(entry(name, kinds[kind], b"x" if kind == "f" else b"", linkname=link)
                       for name, kind, link in entries)), target)
    except ImageError as e:
        assert "\n" not in str(e)
    assert (snapshot(canary), snapshot("/etc/passwd")) == before
    assert sorted(os.listdir(root)) == ["canary", "target"] and not os.path.lexists("/tmp/a")
    shutil.rmtree(root)


@pytest.mark.parametrize("name,entries,expect", [
    ("a file twice", [entry("d/", tarfile.DIRTYPE), entry("d/a", data=b"1"), entry("d/a", data=b"2")],
     {"d/a": b"2"}),
    ("a file, then its whiteout", [entry("d/", tarfile.DIRTYPE), entry("d/a", data=b"1"), entry("d/.wh.a")],
     {"d/a": None}),
    ("a directory under a cached one replaced", [
        entry("a/b/c/f1", data=b"1"), entry("a/b", data=b"file"), entry("a/b/", tarfile.DIRTYPE),
        entry("a/b/c/f2", data=b"2")], {"a/b/c/f2": b"2", "a/b/c/f1": "absent"}),
    ("a directory reached through a cached symlink replaced", [
        entry("real/", tarfile.DIRTYPE), entry("s", tarfile.SYMTYPE, linkname="real"), entry("s/f1", data=b"1"),
        entry("real", data=b"file"), entry("real/", tarfile.DIRTYPE), entry("s/f2", data=b"2")],
     {"real/f2": b"2", "real/f1": "absent"}),
])
def test_an_entry_after_a_removal_lands_where_it_names(place, name, entries, expect):
    """A removal forgets the cached parents, but never closes the one the entry in hand
    writes into (it was: EBADF, or with layers unpacked on threads, another layer's dir)."""
    target, canary, check = place
    unpack(layer(*entries), target)
    for path, content in expect.items():
        full = os.path.join(target, path)
        if content == "absent":
            assert not os.path.lexists(full)
        elif content is None:
            assert stat.S_ISCHR(os.lstat(full).st_mode)
        else:
            assert open(full, "rb").read() == content
    check()


def test_a_hardlink_whose_source_fills_the_parent_cache(tmp_path):
    """The link's own parent is cached; looking its source up overflows the cache, which
    forgets that parent while the link still needs it."""
    fill = lambda prefix: [entry(f"{prefix}{i}/f", data=b"x") for i in range(63)]  # noqa: E731
    unpack(layer(entry("y/f", data=b"source"), *fill("a"), entry("x/f", data=b"x"), *fill("b"),
                 entry("x/h", tarfile.LNKTYPE, linkname="y/f")), str(tmp_path))
    assert os.lstat(tmp_path / "x/h").st_ino == os.lstat(tmp_path / "y/f").st_ino


@pytest.mark.parametrize("pax,mtime", [({"mtime": "1e300"}, 0), ({"mtime": "-1e300"}, 0), ({"mtime": "nan"}, 0),
                                       ({"mtime": "inf"}, 0), ({"mtime": "-1"}, 0), ({"mtime": "1e10"}, 0),
                                       ({"mtime": "4e9"}, 4 * 10**9)])
def test_mtimes_past_what_a_timespec_holds_are_clamped(tmp_path, pax, mtime):
    """As containerd's boundTime: before 1970 or past 2262 (or not a number) is 1970."""
    unpack(layer(entry("d/", tarfile.DIRTYPE, pax_headers=pax), entry("d/f", data=b"x", pax_headers=pax),
                 entry("d/s", tarfile.SYMTYPE, linkname="f", pax_headers=pax),
                 entry("d/p", tarfile.FIFOTYPE, pax_headers=pax)), str(tmp_path))
    for path in ("d", "d/f", "d/s", "d/p"):
        assert os.lstat(tmp_path / path).st_mtime_ns == mtime * 10**9


@pytest.mark.parametrize("pax", [{"uid": str(2**64)}, {"gid": str(2**64)}, {"uid": "-5"}, {"gid": "-1"},
                                 {"uid": str(2**32 - 1)}, {"gid": str(2**32)}, {"size": "-5"}])
@pytest.mark.parametrize("kind", [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.FIFOTYPE],
                         ids=["file", "dir", "symlink", "fifo"])
def test_owners_and_sizes_out_of_range_are_refused(place, pax, kind):
    target, canary, check = place
    with pytest.raises(UnsafeLayer, match="out of range|size below 0") as error:
        unpack(layer(entry("e", kind, b"x" if kind == tarfile.REGTYPE else b"", linkname="t", pax_headers=pax)),
               target)
    assert "\n" not in str(error.value)
    check()


def test_plain_mode_for_cp(tmp_path):
    """whiteouts=False: `.wh.*` are files, setuid, setgid and file capabilities go; an
    open fd as the target is dup'd, and the caller's stays open."""
    capability = "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    data = layer(entry("a", data=b"a"), entry(".wh.a", data=b"not a whiteout"),
                 entry("d/", tarfile.DIRTYPE, mode=0o2775), entry("d/.wh..wh..opq", data=b"not opaque"),
                 entry("d/su", data=b"su", mode=0o4755, uid=1000),
                 entry("d/ping", data=b"p", pax_headers={"SCHILY.xattr.security.capability": capability,
                                                          "SCHILY.xattr.user.note": "kept"}),
                 entry("d/sticky/", tarfile.DIRTYPE, mode=0o1777), entry("d/fifo", tarfile.FIFOTYPE, mode=0o2666))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        open_before = sorted(os.listdir("/proc/self/fd"))
        unpack(data, fd, whiteouts=False)
        assert sorted(os.listdir("/proc/self/fd")) == open_before
        os.fstat(fd)  # still ours
    finally:
        os.close(fd)
    assert (tmp_path / "a").read_bytes() == b"a" and (tmp_path / ".wh.a").read_bytes() == b"not a whiteout"
    assert (tmp_path / "d/.wh..wh..opq").read_bytes() == b"not opaque"
    assert not {"trusted.overlay.opaque", "user.overlay.opaque"} & set(os.listxattr(tmp_path / "d"))
    modes = {path: stat.S_IMODE(os.lstat(tmp_path / path).st_mode) for path in ("d", "d/su", "d/sticky", "d/fifo")}
    assert modes == {"d": 0o775, "d/su": 0o755, "d/sticky": 0o1777, "d/fifo": 0o666}
    assert os.listxattr(tmp_path / "d/ping") == ["user.note"]


def test_a_layer_into_an_open_fd_keeps_whiteouts(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        unpack(layer(entry("su", data=b"su", mode=0o4755), entry(".wh.gone")), fd)
        os.fstat(fd)
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.lstat(tmp_path / "su").st_mode) == 0o4755
    assert stat.S_ISCHR(os.lstat(tmp_path / "gone").st_mode)


def test_layers_unpacked_on_threads_with_removals_stay_apart(tmp_path):
    """As pull unpacks: three layers at once in one process, each replacing its own
    entries over and over; an fd closed under one would be reused by another's open()."""
    import threading

    def data(n: int) -> io.BytesIO:
        return layer(*(e for i in range(100) for e in (
            entry(f"d{i}/", tarfile.DIRTYPE), entry(f"d{i}/a", data=b"old"), entry(f"d{i}/a", data=f"{n}".encode()),
            entry(f"d{i}/b", data=b"x"), entry(f"d{i}/.wh.b"), entry(f"d{i}/layer{n}", data=b"mine"))))

    errors = []

    def run(n: int) -> None:
        try:
            with ReadAhead(data(n), chunk=4096) as stream:
                unpack(stream, str(tmp_path / f"t{n}"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    for n in range(3):
        (tmp_path / f"t{n}").mkdir()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(3):
        for i in range(100):
            assert sorted(os.listdir(tmp_path / f"t{n}" / f"d{i}")) == ["a", "b", f"layer{n}"]
            assert (tmp_path / f"t{n}" / f"d{i}" / "a").read_bytes() == f"{n}".encode()
