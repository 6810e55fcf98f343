"""Upper dirs back into layers: a tree through write_layer and unpack comes back the same, and
a real overlay's changes (made in a private mount namespace) become the OCI whiteouts that,
unpacked and stacked, show the same merged view."""

import io
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from pyctr.images.diff import changes, write_layer, write_tree
from pyctr.images.image import ImageError
from pyctr.images.unpack import unpack

MTIME = 1_500_000_000


def tree(root: str) -> dict:
    """path -> (mode, owner, size, mtime, link target or content, xattrs, hardlink group)."""
    found, inodes = {}, {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            content = os.readlink(path) if stat.S_ISLNK(st.st_mode) else \
                open(path, "rb").read() if stat.S_ISREG(st.st_mode) else st.st_rdev
            xattrs = {a: os.getxattr(path, a) for a in os.listxattr(path)} if stat.S_ISDIR(st.st_mode) or \
                stat.S_ISREG(st.st_mode) else {}
            group = inodes.setdefault(st.st_ino, rel)
            whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0  # its mtime is nobody's
            found[rel] = (st.st_mode, st.st_uid, st.st_gid, None if whiteout else st.st_mtime, content, xattrs, group)
    return found


def make_upper(root: str) -> None:
    os.makedirs(f"{root}/etc/opaque")
    os.makedirs(f"{root}/bin")
    with open(f"{root}/etc/motd", "w") as f:
        f.write("new\n")
    os.link(f"{root}/etc/motd", f"{root}/etc/motd.2")
    with open(f"{root}/bin/su", "wb") as f:
        f.write(b"\x7fELF" * 100)
    os.chown(f"{root}/bin/su", 0, 4)
    os.chmod(f"{root}/bin/su", 0o4750)
    os.setxattr(f"{root}/bin/su", "user.note", b"\xff\x00binary")
    os.symlink("../etc/motd", f"{root}/bin/motd")
    os.mkfifo(f"{root}/etc/fifo", 0o640)
    os.mknod(f"{root}/bin/vi", stat.S_IFCHR, os.makedev(0, 0))  # overlay's whiteout
    for attr in ("trusted.overlay.opaque", "user.overlay.opaque"):
        os.setxattr(f"{root}/etc/opaque", attr, b"y")
    with open(f"{root}/etc/opaque/only", "w") as f:
        f.write("only")
    os.makedirs(f"{root}/data/deep")
    with open(f"{root}/data/deep/volume-file", "w") as f:
        f.write("not in the layer")
    for directory, dirs, files in os.walk(root, topdown=False):
        for name in dirs + files:
            os.utime(os.path.join(directory, name), (MTIME, MTIME), follow_symlinks=False)


def test_a_layer_round_trips(tmp_path):
    upper, again = str(tmp_path / "upper"), str(tmp_path / "again")
    make_upper(upper)
    out = io.BytesIO()
    write_layer(upper, out, exclude=["/data"])
    out.seek(0)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert "bin/.wh.vi" in members and members["bin/.wh.vi"].isreg() and "bin/vi" not in members
    assert "etc/opaque/.wh..wh..opq" in members
    assert members["etc/motd.2"].islnk() and members["etc/motd.2"].linkname == "etc/motd"
    assert not any(name.startswith("data") for name in members)
    assert all("overlay" not in key for m in members.values() for key in m.pax_headers)
    names = list(members)
    assert names.index("bin") < names.index("bin/motd") < names.index("bin/su") < names.index("etc")
    os.mkdir(again)
    stats = unpack(out, again)
    assert stats.bytes == 400 + 4 + 4 and stats.dropped_devices == 0
    expected = tree(upper)
    del expected["data"], expected["data/deep"], expected["data/deep/volume-file"]
    assert tree(again) == expected


def test_the_same_tree_writes_the_same_bytes(tmp_path):
    upper = str(tmp_path / "upper")
    make_upper(upper)
    one, two = io.BytesIO(), io.BytesIO()
    write_layer(upper, one)
    write_layer(upper, two)
    assert one.getvalue() == two.getvalue()


def test_a_flat_tree_keeps_what_it_has(tmp_path):
    """write_tree: an exported rootfs, no whiteouts read (a device stays a device)."""
    upper = str(tmp_path / "upper")
    make_upper(upper)
    out = io.BytesIO()
    write_tree(upper, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/vi"].ischr() and "etc/opaque/.wh..wh..opq" not in members
    assert "data/deep/volume-file" in members


def test_a_redirected_upper_dir_is_refused(tmp_path):
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/old")
    with pytest.raises(ImageError, match="redirect"):
        write_layer(str(upper), io.BytesIO())


def test_a_metacopy_file_is_refused_and_a_full_disk_is_one_line(tmp_path):
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "f").write_text("x")
    os.setxattr(upper / "f", "trusted.overlay.metacopy", b"")
    with pytest.raises(ImageError, match="metacopy"):
        write_layer(str(upper), io.BytesIO())

    class Full:
        def write(self, data):
            raise OSError(28, "No space left on device")

    with pytest.raises(ImageError, match="No space left on device$"):
        write_tree(str(upper), Full())


def test_changes_of_a_missing_lower_are_one_line(tmp_path):
    (tmp_path / "upper").mkdir()
    with pytest.raises(ImageError, match="No such file or directory$"):
        changes(str(tmp_path / "upper"), [str(tmp_path / "upper"), str(tmp_path / "gone")])


def test_links_in_upper_are_never_followed(tmp_path):
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "escape").symlink_to("/etc")
    (upper / "pw").symlink_to("/etc/passwd")
    out = io.BytesIO()
    write_layer(str(upper), out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert [(m.name, m.issym(), m.linkname) for m in tar.getmembers()] == \
            [("escape", True, "/etc"), ("pw", True, "/etc/passwd")]


def test_changes_read_whiteouts_and_opaque_dirs_of_the_lowers(tmp_path):
    base, top, upper = tmp_path / "base", tmp_path / "top", tmp_path / "upper"
    for d in (base / "op", base / "kept", top / "op", upper / "op", upper / "kept"):
        d.mkdir(parents=True)
    for f in (base / "gone", base / "op" / "old", base / "kept" / "k", base / "file",
              upper / "gone", upper / "op" / "old", upper / "kept" / "k", upper / "file2"):
        f.write_text("x")
    os.mknod(top / "gone", stat.S_IFCHR, os.makedev(0, 0))
    os.setxattr(top / "op", "trusted.overlay.opaque", b"y")
    (top / "file2").write_text("a file")
    (upper / "file2").unlink()
    (upper / "file2").mkdir()  # a dir over the top layer's file
    (upper / "file2" / "in").write_text("x")
    os.mknod(upper / "file", stat.S_IFCHR, os.makedev(0, 0))
    assert changes(str(upper), [str(top), str(base)]) == [
        ("D", "/file"), ("C", "/file2"), ("A", "/file2/in"), ("A", "/gone"), ("C", "/kept"), ("C", "/kept/k"),
        ("C", "/op"), ("A", "/op/old")]


SHOW = "cd {0} && find . -printf '%p %y %m %U %G %s %l\\n' | sort && find . -type f -exec md5sum {{}} + | sort"


def in_namespace(script: str) -> str:
    """Runs a shell script in a private mount namespace of its own: its mounts end with it."""
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-ec", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def committed(tmp_path):
    """A real overlay changed in a private mount namespace: (lower, upper, the merged view
    as SHOW lists it, the upper dir written as a layer)."""
    lower, upper, work, merged = (str(tmp_path / n) for n in ("lower", "upper", "work", "merged"))
    for d in (upper, work, merged):
        os.mkdir(d)
    os.makedirs(f"{lower}/etc/replaced")
    os.makedirs(f"{lower}/bin")
    for path, text in (("etc/motd", "old"), ("etc/hosts", "h"), ("etc/replaced/a", "a"), ("bin/vi", "vi"),
                       ("bin/sh", "sh")):
        with open(f"{lower}/{path}", "w") as f:
            f.write(text)
    view = in_namespace(f"""
        mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} {merged}
        echo new > {merged}/etc/motd
        rm {merged}/bin/vi
        rm -r {merged}/etc/replaced && mkdir {merged}/etc/replaced && echo b > {merged}/etc/replaced/b
        echo a2 > {merged}/etc/replaced/a
        mkdir -p {merged}/new/dir && echo n > {merged}/new/dir/n && ln {merged}/new/dir/n {merged}/new/n2
        {SHOW.format(merged)}""")
    layer = io.BytesIO()
    write_layer(upper, layer)
    return lower, upper, view, layer.getvalue()


def test_a_real_overlay_commits_and_stacks(tmp_path, committed):
    lower, upper, view, layer = committed
    found = changes(upper, [lower])
    assert [path for _, path in found] == sorted(path for _, path in found)
    assert dict((path, kind) for kind, path in found) == {
        "/bin": "C", "/bin/vi": "D", "/etc": "C", "/etc/motd": "C", "/etc/replaced": "C",
        "/etc/replaced/a": "A", "/etc/replaced/b": "A",  # the opaque dir hides the lower's a
        "/new": "A", "/new/dir": "A", "/new/dir/n": "A", "/new/n2": "A"}
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        names = tar.getnames()
    assert "bin/.wh.vi" in names and "etc/replaced/.wh..wh..opq" in names
    stacked, merged2 = str(tmp_path / "stacked"), str(tmp_path / "merged2")
    for d in (stacked, merged2):
        os.mkdir(d)
    unpack(io.BytesIO(layer), stacked)
    again = in_namespace(f"""
        mount -t overlay overlay -o lowerdir={stacked}:{lower} {merged2}
        {SHOW.format(merged2)}""")
    assert again == view and "./bin/vi" not in view and "./etc/replaced/a f 644" in view


@pytest.mark.skipif(not shutil.which("umoci"), reason="umoci (Debian package) is not installed")
def test_umoci_reads_the_layer_as_overlay_showed_it(tmp_path, committed):
    """Another implementation's reading of our whiteouts: umoci unpacks the lower and our
    layer on top of it into the same view the overlay showed."""
    lower, _, view, layer = committed
    (tmp_path / "top.tar").write_bytes(layer)
    subprocess.run(["tar", "-C", lower, "-cf", str(tmp_path / "base.tar"), "."], check=True)
    for argv in (["init", "--layout", "img"], ["new", "--image", "img:t"],
                 ["raw", "add-layer", "--image", "img:t", "base.tar"],
                 ["raw", "add-layer", "--image", "img:t", "top.tar"],
                 ["unpack", "--image", "img:t", "bundle"]):
        subprocess.run(["umoci", *argv], cwd=tmp_path, check=True, capture_output=True)
    assert in_namespace(SHOW.format(tmp_path / "bundle" / "rootfs")) == view
