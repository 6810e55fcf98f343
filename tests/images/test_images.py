"""Image references and the reproducible built-in image."""

import pytest
from hypothesis import given, strategies as st

from pyctr.images import builtin
from pyctr.images.image import InvalidReference, id_prefix, parse_reference


@pytest.mark.parametrize("ref,expected", [
    ("busybox", ("busybox", "latest")),
    ("busybox:1.36", ("busybox", "1.36")),
    ("host:5000/a/b", ("host:5000/a/b", "latest")),
    ("host:5000/a/b:v1", ("host:5000/a/b", "v1")),
])
def test_parse_reference(ref, expected):
    assert parse_reference(ref) == expected


@given(st.from_regex(r"[a-z0-9]+(/[a-z0-9]+)*", fullmatch=True), st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True))
def test_parse_reference_round_trips(repo, tag):
    assert parse_reference(f"{repo}:{tag}") == (repo, tag)


@pytest.mark.parametrize("bad", ["", " busybox", "a b"])
def test_bad_reference(bad):
    with pytest.raises(InvalidReference):
        parse_reference(bad)


@pytest.mark.parametrize("ref,prefix", [("3ac0", "3ac0"), ("sha256:3ac080", "3ac080"), ("3ac", None),
                                        ("busybox", None), ("3AC0", None)])
def test_id_prefix(ref, prefix):
    assert id_prefix(ref) == prefix


def test_builtin_busybox_is_reproducible(tmp_path):
    from pyctr.images.blobs import BlobStore
    ids = []
    for name in ("a", "b"):
        blobs = BlobStore(str(tmp_path / name / "blobs"), str(tmp_path / name / "tmp"))
        image, layer = builtin.build(blobs, str(tmp_path / name / "layers"), str(tmp_path / name / "tmp"))
        ids.append((image.id, image.layers))
        assert (image.repository, image.tag) == ("busybox", "latest")
        assert [d.name for d in (tmp_path / name / "layers").iterdir()] == image.layers == [layer.chain_id]
        assert list((tmp_path / name / "tmp").iterdir()) == []  # the scratch dir went
        # a blob for the layer, the config (the image id) and the manifest
        assert sorted(blobs.all()) == sorted([layer.blob, f"sha256:{image.id}", image.manifest])
        assert blobs.read(f"sha256:{image.id}")
    assert ids[0] == ids[1]
    assert len(ids[0][0]) == 64
