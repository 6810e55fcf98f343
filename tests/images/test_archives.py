"""save and load: ids kept, several images in one archive, docker's and OCI's formats;
and archives crossing to and from podman and skopeo (Debian's), in both directions."""

import glob
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest


def _ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def _make(pyctr, name: str, script: str) -> str:
    _ok(pyctr("run", "--name", f"mk-{name.replace(':', '-')}", "busybox", "sh", "-c", script))
    image_id = _ok(pyctr("commit", "-c", 'CMD ["cat","/marker"]', f"mk-{name.replace(':', '-')}", name)).strip()
    _ok(pyctr("rm", f"mk-{name.replace(':', '-')}"))
    return image_id


def test_save_rmi_load_keeps_ids_and_layers(pyctr, tmp_path):
    first = _make(pyctr, "one:1", "echo one > /marker")
    second = _make(pyctr, "two:1", "echo two > /marker; rm /bin/vi")
    archive = tmp_path / "both.tar"
    _ok(pyctr("save", "-o", str(archive), "one:1", "two:1"))
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        layer_tars = [n for n in tar.getnames() if n.endswith("/layer.tar")]
    assert [m["RepoTags"] for m in manifest] == [["one:1"], ["two:1"]]
    assert len(layer_tars) == 3  # busybox's layer once, shared by both
    for ref in ("one:1", "two:1", "busybox"):
        _ok(pyctr("rmi", ref))
    assert _ok(pyctr("images", "-q")) == ""
    assert os.listdir(os.path.join(pyctr.root, "layers")) == []  # nothing left of them
    out = _ok(pyctr("load", "-i", str(archive)))
    assert out.splitlines() == ["Loaded image: one:1", "Loaded image: two:1"]
    store = pyctr.store()
    assert f"sha256:{store.find_image('one', '1').id}" == first
    assert f"sha256:{store.find_image('two', '1').id}" == second
    assert _ok(pyctr("run", "--rm", "two:1")) == "two\n"
    # again: nothing new, the same ids
    _ok(pyctr("load", "-i", str(archive)))
    assert len({line for line in _ok(pyctr("images", "-q")).split()}) == 2


def test_load_from_stdin_and_oci_formats(pyctr, tmp_path):
    image_id = _make(pyctr, "oci:1", "echo oci > /marker")
    for fmt in ("oci-archive", "docker-archive"):
        archive = tmp_path / f"{fmt}.tar"
        _ok(pyctr("save", "--format", fmt, "-o", str(archive), "oci:1"))
        _ok(pyctr("rmi", "oci:1"))
        with open(archive, "rb") as f:
            r = subprocess.run(pyctr.argv("load"), stdin=f, capture_output=True, env=pyctr.env)
        assert r.returncode == 0, r.stderr
        assert f"sha256:{pyctr.store().find_image('oci', '1').id}" == image_id
    _ok(pyctr("save", "--format", "oci-dir", "-o", str(tmp_path / "dir"), "oci:1"))
    assert json.loads((tmp_path / "dir" / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    _ok(pyctr("rmi", "oci:1"))
    _ok(pyctr("load", "-i", str(tmp_path / "dir")))
    assert _ok(pyctr("run", "--rm", "oci:1")) == "oci\n"
    assert not os.listdir(os.path.join(pyctr.root, "tmp"))  # the spooled stdin went


def test_a_tampered_archive_is_refused_and_stores_nothing(pyctr, tmp_path):
    _make(pyctr, "t:1", "echo t > /marker")
    archive = tmp_path / "t.tar"
    _ok(pyctr("save", "-o", str(archive), "t:1"))
    _ok(pyctr("rmi", "t:1"))
    bad = tmp_path / "bad.tar"
    with tarfile.open(archive) as src, tarfile.open(bad, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("layer.tar") and member.size < 100_000:  # the small top layer
                data = data.replace(b"t\n", b"x\n", 1)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    r = pyctr("load", "-i", str(bad))
    assert r.returncode == 1 and "does not match" in r.stderr and "Traceback" not in r.stderr
    assert pyctr.store().find_image("t", "1") is None


@pytest.fixture
def podman(tmp_path, cgroup_parent):
    """Debian's podman on a storage of the test's own; its containers under the test's
    cgroup parent (the leak check sees them) and with no network."""
    if not shutil.which("podman"):
        pytest.fail("podman is not installed: scripts/setup.sh installs it")
    base = Path(tempfile.mkdtemp(prefix="pd", dir="/tmp"))  # podman takes a runroot of 50 characters at most
    args = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"), "--tmpdir", str(base / "tmp"),
            "--storage-driver", "vfs", "--events-backend", "none", "--cgroup-manager", "cgroupfs"]

    def run(*more, check=True):
        r = subprocess.run([*args, *more], capture_output=True, text=True, timeout=120)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    run.run_flags = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                     "--network", "none", "--cgroup-parent", f"/{cgroup_parent}"]
    yield run
    run("system", "reset", "--force", check=False)
    shutil.rmtree(base, ignore_errors=True)
    for leftover in glob.glob(f"/sys/fs/cgroup/*/{cgroup_parent}/conmon") + glob.glob(
            f"/sys/fs/cgroup/{cgroup_parent}/conmon"):
        os.rmdir(leftover)  # conmon's own, which podman does not remove: empty once it exits


def test_archives_cross_to_and_from_podman(pyctr, podman, tmp_path):
    image_id = _make(pyctr, "cross:1", "echo crossed > /marker")
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"to-podman-{fmt}.tar"
        _ok(pyctr("save", "--format", fmt, "-o", str(archive), "cross:1"))
        podman("load", "-i", str(archive))
        assert podman("image", "inspect", "--format", "{{.Id}}", "localhost/cross:1").stdout.strip() == image_id[7:]
        assert podman("run", "--rm", *podman.run_flags, "localhost/cross:1").stdout == "crossed\n"
        podman("rmi", "localhost/cross:1")
    podman("load", "-i", str(tmp_path / "to-podman-docker-archive.tar"))
    _ok(pyctr("rmi", "cross:1"))
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"from-podman-{fmt}.tar"
        podman("save", "--format", fmt, "-o", str(archive), "localhost/cross:1")
        _ok(pyctr("load", "-i", str(archive)))
        if fmt == "docker-archive":  # podman keeps docker's config as it came; to OCI it converts it
            assert f"sha256:{pyctr.store().find_image('localhost/cross', '1').id}" == image_id
        assert _ok(pyctr("run", "--rm", "localhost/cross:1")) == "crossed\n"
        _ok(pyctr("rmi", "localhost/cross:1"))


def test_archives_cross_to_and_from_skopeo(pyctr, tmp_path):
    image_id = _make(pyctr, "sk:1", "echo skopeo > /marker")
    _ok(pyctr("save", "--format", "oci-archive", "-o", str(tmp_path / "pyctr-oci.tar"), "sk:1"))
    _ok(pyctr("save", "-o", str(tmp_path / "pyctr-docker.tar"), "sk:1"))

    def skopeo(*args):
        r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    # OCI to OCI: nothing converted, so the same id
    skopeo("copy", f"oci-archive:{tmp_path / 'pyctr-oci.tar'}", f"oci:{tmp_path / 'layout'}:sk")
    skopeo("copy", f"oci:{tmp_path / 'layout'}:sk", f"oci-archive:{tmp_path / 'skopeo.tar'}:sk/back:2")
    _ok(pyctr("load", "-i", str(tmp_path / "skopeo.tar")))
    [back] = [i for i in pyctr.store().list_images() if i.repository == "sk/back"]
    assert f"sha256:{back.id}" == image_id and back.tag == "2"
    assert _ok(pyctr("run", "--rm", "sk/back:2")) == "skopeo\n"
    # docker's archive read by skopeo, converted to an OCI layout (a new config), loaded back
    assert json.loads(skopeo("inspect", f"docker-archive:{tmp_path / 'pyctr-docker.tar'}"))["Layers"]
    skopeo("copy", f"docker-archive:{tmp_path / 'pyctr-docker.tar'}", f"oci:{tmp_path / 'converted'}:sk/conv:3")
    _ok(pyctr("load", "-i", str(tmp_path / "converted")))
    assert _ok(pyctr("run", "--rm", "sk/conv:3")) == "skopeo\n"


def test_an_archive_directory_names_nothing_outside_itself(pyctr, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"auths": {"x": {"auth": "c2VjcmV0"}}}')
    layout = tmp_path / "layout"
    layout.mkdir()
    for config in ("../secret.json", str(secret)):
        (layout / "manifest.json").write_text(json.dumps([{"Config": config, "RepoTags": ["creds:1"], "Layers": []}]))
        r = pyctr("load", "-i", str(layout))
        assert r.returncode == 1 and "names a file badly" in r.stderr, r.stderr
    (layout / "link.json").symlink_to(secret)  # a link in the directory that leads out
    (layout / "manifest.json").write_text(json.dumps([{"Config": "link.json", "RepoTags": ["creds:1"], "Layers": []}]))
    r = pyctr("load", "-i", str(layout))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert pyctr.store().find_image("creds", "1") is None
