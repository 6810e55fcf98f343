"""images, rmi, tag, history, image inspect, image prune, system df: on a real store; and
an image of more layers than one mount(2) option page holds."""

import io
import json
import os
import tarfile


def _ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def _commit(pyctr, name: str, script: str, base: str = "busybox") -> None:
    _ok(pyctr("run", "--name", "tmp-c", base, "sh", "-c", script))
    _ok(pyctr("commit", "tmp-c", name))
    _ok(pyctr("rm", "tmp-c"))


def test_rmi_frees_a_layer_only_when_nothing_uses_it(pyctr):
    _commit(pyctr, "a:1", "echo a > /a")
    _commit(pyctr, "b:1", "echo b > /b", base="a:1")
    layers_dir = os.path.join(pyctr.root, "layers")
    assert len(os.listdir(layers_dir)) == 3
    _ok(pyctr("tag", "a:1", "alias:x"))
    assert _ok(pyctr("rmi", "a:1")) == "Untagged: a:1\n"  # another name holds it
    _ok(pyctr("run", "--name", "user", "alias:x", "true"))
    r = pyctr("rmi", "alias:x")
    assert r.returncode == 1 and "being used by container user" in r.stderr
    _ok(pyctr("rm", "user"))
    out = _ok(pyctr("rmi", "alias:x"))
    assert out.startswith("Untagged: alias:x\nDeleted: sha256:")
    assert len(os.listdir(layers_dir)) == 3  # b:1 still stands on a's layers
    _ok(pyctr("rmi", "b:1"))
    assert len(os.listdir(layers_dir)) == 1  # only busybox's
    blobs = os.listdir(os.path.join(pyctr.root, "blobs", "sha256"))
    assert len(blobs) == 3  # busybox's layer, config and manifest
    r = pyctr("rmi", "nosuch:1")
    assert r.returncode == 1 and r.stderr.strip() == "pyctr: No such image: nosuch:1"


def test_rmi_force_keeps_an_image_a_container_needs(pyctr):
    _commit(pyctr, "kept:1", "echo k > /k")
    _ok(pyctr("run", "--name", "k", "kept:1", "true"))
    assert _ok(pyctr("rmi", "-f", "kept:1")) == "Untagged: kept:1\n"
    assert _ok(pyctr("start", "-a", "k")) == ""  # its layers are still there
    listed = _ok(pyctr("images"))
    assert "<none>" in listed
    _ok(pyctr("rm", "k"))
    out = _ok(pyctr("image", "prune", "-f"))
    assert "deleted: sha256:" in out and "Total reclaimed space" in out
    assert "<none>" not in _ok(pyctr("images"))


def test_images_lists_as_docker_does(pyctr):
    _commit(pyctr, "localhost:5000/team/app:v1", "echo x > /x")
    rows = [json.loads(line) for line in _ok(pyctr("images", "--format", "json")).splitlines()]
    assert {r["Repository"] for r in rows} == {"busybox", "localhost:5000/team/app"}
    assert set(rows[0]) >= {"Repository", "Tag", "ID", "CreatedAt", "CreatedSince", "Size", "Digest"}
    ids = _ok(pyctr("images", "-q", "--no-trunc")).split()
    assert all(i.startswith("sha256:") and len(i) == 71 for i in ids)
    table = _ok(pyctr("images", "--digests"))
    assert table.splitlines()[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    [inspected] = json.loads(_ok(pyctr("image", "inspect", "localhost:5000/team/app:v1")))
    assert inspected["RepoTags"] == ["localhost:5000/team/app:v1"]
    assert len(inspected["RootFS"]["Layers"]) == 2 and inspected["Os"] == "linux"
    r = pyctr("tag", "busybox", "Bad:Name")
    assert r.returncode == 1 and "must be lowercase" in r.stderr


def test_system_df_counts_shared_layers_once(pyctr):
    _commit(pyctr, "s1:1", "echo 1 > /one")
    _commit(pyctr, "s2:1", "echo 2 > /two")
    store = pyctr.store()
    layers = {layer.chain_id: layer.size for layer in store.all_layers()}
    out = _ok(pyctr("system", "df"))
    images_line = [line for line in out.splitlines() if line.startswith("Images")][0]
    from pyctr.cli.render import human_size
    assert images_line.split()[1] == "3" and images_line.split()[3] == human_size(sum(layers.values()))
    # and each image's own size is the sum of its layers
    for image in {i.id: i for i in store.list_images()}.values():
        assert image.size == sum(layers[c] for c in image.layers)


def _layer_tar(name: str, content: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_an_image_of_sixty_layers_runs(pyctr, tmp_path):
    """60 layers' paths are more than mount(2)'s one page of options: the runtime mounts
    the overlay through fsconfig, layer by layer."""
    from pyctr.engine.image_lookup import blob_store
    from pyctr.engine.paths import Paths
    from pyctr.images import oci
    from pyctr.images.ingest import ingest
    paths = Paths.resolve(pyctr.root)
    store = pyctr.store()
    base = store.find_image("busybox", "latest")
    layers = [store.find_layer(c) for c in base.layers]
    for i in range(60):
        layers.append(ingest(io.BytesIO(_layer_tar(f"layer{i}", f"{i}\n".encode())), blob_store(paths),
                             paths.under_root("layers"), paths.under_root("tmp"), layers[-1].chain_id))
    image = oci.image_of(blob_store(paths), {"os": "linux", "architecture": "amd64", "config": base.config["config"]},
                         layers, "tall", "1")
    store.add_image(image, layers)
    assert len(",".join(image.lower_dirs(paths.under_root("layers")))) > 4096
    assert _ok(pyctr("run", "--rm", "tall:1", "cat", "/layer0", "/layer59")) == "0\n59\n"
