"""`pull` from real registries on loopback (Debian's docker-registry, images pushed by
skopeo): multi-layer images, an index of two platforms, docker schema2 and zstd, token and
basic auth, a tampered blob, a pull killed half-way and resumed; and the Debian image,
pulled and run as the issue shows it."""

import json
import os
import subprocess

import material

from helpers import state_of, wait_for

SMALL = material.SMALL_IMAGE


def _ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def _read(pyctr, ref: str, path: str) -> bytes | str:
    """A file of a pulled image, from its topmost layer that has it (the small images hold
    no programs to run: the Debian image's tests run it)."""
    repository, tag = ref.rsplit(":", 1)
    image = pyctr.store().find_image(repository, tag)
    for layer in image.lower_dirs(os.path.join(pyctr.root, "layers")):
        if os.path.exists(os.path.join(layer, path)):
            with open(os.path.join(layer, path), "rb") as f:
                data = f.read()
            return data.decode() if path.startswith("etc/") else data
    raise FileNotFoundError(path)


def test_pull_then_run_honours_the_image_config(pyctr, registry):
    ref = f"{registry.addr}/{SMALL}"
    out = _ok(pyctr("pull", ref))
    lines = out.splitlines()
    assert lines[0] == "1: Pulling from small/img"
    assert sum(line.endswith(": Pull complete") for line in lines) == 2
    assert lines[-3].startswith("Digest: sha256:") and lines[-1] == ref
    assert _read(pyctr, ref, "etc/arch") == "amd64\n" and len(_read(pyctr, ref, "srv/data")) > 0
    [inspected] = json.loads(_ok(pyctr("image", "inspect", ref)))
    assert inspected["RepoDigests"] == [f"{registry.addr}/small/img@{lines[-3].split()[1]}"]
    assert inspected["Config"]["Labels"] == {"arch": "amd64"} and inspected["Config"]["WorkingDir"] == "/srv"
    assert "Image is up to date" in _ok(pyctr("pull", ref))  # nothing fetched again
    assert "DIGEST" in _ok(pyctr("images", "--digests"))


def test_an_index_of_two_platforms(pyctr, registry):
    ref = f"{registry.addr}/multi/img:1"
    _ok(pyctr("pull", ref))
    assert _read(pyctr, ref, "etc/arch") == "amd64\n"
    _ok(pyctr("pull", "--platform", "linux/arm64", ref))
    [inspected] = json.loads(_ok(pyctr("image", "inspect", ref)))
    assert inspected["Architecture"] == "arm64" and _read(pyctr, ref, "etc/arch") == "arm64\n"
    r = pyctr("pull", "--platform", "linux/s390x", ref)
    assert r.returncode == 1 and "s390x" in r.stderr and len(r.stderr.splitlines()) == 1


def test_docker_schema2_and_zstd_layers(pyctr, registry):
    for name in ("small/docker:1", "small/zstd:1"):
        ref = f"{registry.addr}/{name}"
        _ok(pyctr("pull", ref))
        assert _read(pyctr, ref, "etc/arch") == "amd64\n"


def test_token_auth(pyctr, token_registry):
    ref = f"{token_registry.addr}/{SMALL}"
    r = pyctr("pull", ref)
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1
    _ok(pyctr("login", "-u", token_registry.user, "-p", token_registry.password, token_registry.addr))
    _ok(pyctr("pull", ref))
    assert _read(pyctr, ref, "etc/arch") == "amd64\n"


def test_basic_auth_login_pull_logout(pyctr, htpasswd_registry):
    ref = f"{htpasswd_registry.addr}/{SMALL}"
    _ok(pyctr("login", "-u", htpasswd_registry.user, "--password-stdin", htpasswd_registry.addr,
              input=htpasswd_registry.password + "\n"))
    auth_file = os.path.join(pyctr.root, "auth.json")
    assert os.stat(auth_file).st_mode & 0o777 == 0o600
    _ok(pyctr("pull", ref))
    _ok(pyctr("logout", htpasswd_registry.addr))
    _ok(pyctr("rmi", ref))
    assert pyctr("pull", ref).returncode == 1


def test_a_tampered_blob_is_refused_and_nothing_stored(pyctr, fresh_registry, small_layout):
    manifest = json.loads(material.layout_blob(small_layout, material.manifest_of(small_layout, "amd64").digest))
    top = manifest["layers"][-1]["digest"]
    path = fresh_registry.blob_file(top)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    r = pyctr("pull", f"{fresh_registry.addr}/{SMALL}")
    assert r.returncode == 1 and "digest mismatch" in r.stderr and len(r.stderr.splitlines()) == 1
    assert [i.repository for i in pyctr.store().list_images()] == ["busybox"]
    assert not os.path.exists(os.path.join(pyctr.root, "blobs", "sha256", top[7:]))
    tmp = os.path.join(pyctr.root, "tmp")
    assert not os.listdir(tmp)


def _stopped(pid: int) -> None:
    """Until `pid` has stopped itself (SIGSTOP at its pause point)."""
    wait_for(lambda: state_of(pid) == "T", timeout=60)


def test_a_killed_pull_is_not_listed_and_resumes_without_refetching(pyctr, debian_ref):
    p = pyctr.popen("pull", debian_ref, env={"PYCTR_PAUSE_AT": "layer-stored"}, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
    _stopped(p.pid)
    p.kill()
    p.wait()
    assert [i.repository for i in pyctr.store().list_images()] == ["busybox"]
    assert "debian" not in _ok(pyctr("images"))
    [done] = pyctr.store().all_layers()[1:] if len(pyctr.store().all_layers()) == 2 else [None]
    assert done is not None  # busybox's layer and the one that finished
    inode = os.stat(os.path.join(pyctr.root, "layers", done.chain_id)).st_ino
    out = _ok(pyctr("pull", debian_ref))
    assert sum(line.endswith(": Already exists") for line in out.splitlines()) == 1
    assert sum(line.endswith(": Pull complete") for line in out.splitlines()) == 1
    assert os.stat(os.path.join(pyctr.root, "layers", done.chain_id)).st_ino == inode  # not fetched again
    assert _ok(pyctr("run", "--rm", debian_ref, "cat", "/etc/pyctr-test")) == "made by the test material\n"


def test_the_debian_image_as_the_issue_shows_it(pyctr, debian_ref):
    _ok(pyctr("pull", debian_ref))
    version = _ok(pyctr("run", "--rm", debian_ref, "cat", "/etc/debian_version")).strip()
    assert version.startswith("12.")
    assert _ok(pyctr("run", "--rm", debian_ref, "apt", "--version")).startswith("apt 2.6")
    packages = int(_ok(pyctr("run", "--rm", debian_ref, "sh", "-c", "dpkg -l | wc -l")))
    assert packages > 80
    assert _ok(pyctr("run", "--rm", debian_ref, "bash", "-c", 'echo "$BASH_VERSION $LANG $PWD"')).startswith("5.2")
    assert "C.UTF-8 /srv/app" in _ok(pyctr("run", "--rm", debian_ref, "bash", "-c", 'echo "$LANG $PWD"'))
    # a container's change committed over the pulled layers, which are shared
    _ok(pyctr("run", "--name", "deb", debian_ref, "bash", "-c", "echo new > /etc/motd; rm /usr/bin/apt"))
    _ok(pyctr("commit", "deb", "mydeb:1"))
    store = pyctr.store()
    pulled, mine = store.find_image(debian_ref.rsplit(":", 1)[0], "bookworm"), store.find_image("mydeb", "1")
    assert mine.layers[:-1] == pulled.layers
    assert _ok(pyctr("run", "--rm", "mydeb:1", "sh", "-c", "cat /etc/motd; ls /usr/bin/apt 2>&1; true")) == \
        "new\nls: cannot access '/usr/bin/apt': No such file or directory\n"
    _ok(pyctr("rm", "deb"))


def test_run_pulls_an_image_the_store_lacks(pyctr, debian_ref, registry):
    r = pyctr("run", "--rm", debian_ref, "cat", "/etc/pyctr-test")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "made by the test material\n"
    assert f"Unable to find image '{debian_ref}' locally" in r.stderr and "Pull complete" in r.stderr
    # a short name, completed by the default registry (run finds what pull stored)
    short = debian_ref.split("/", 1)[1]
    r = pyctr("run", "--rm", short, "true", env={"PYCTR_DEFAULT_REGISTRY": registry.addr})
    assert r.returncode == 0 and "Unable to find" not in r.stderr, r.stderr
    r = pyctr("run", "--rm", "nosuchshortname", "true")
    assert r.returncode == 125 and "PYCTR_DEFAULT_REGISTRY" in r.stderr
    assert len(r.stderr.splitlines()) == 1
