"""Fixtures of real image material (tests/material.py): the Debian image, registries on
loopback (anonymous, htpasswd, token) and images pushed into them.

Session fixtures are set up before a test's leak snapshot is taken, so the registries they
start live across tests; each is stopped at the session's end.  A test that damages a
registry's storage uses `fresh_registry`, stopped at its own end."""

import contextlib
import os

import pytest

import material

SMALL = material.SMALL_IMAGE


@pytest.fixture(scope="session")
def material_cache(tmp_path_factory) -> str:
    """$PYCTR_TEST_CACHE (kept across sessions, for developers) or a session directory."""
    cache = os.environ.get(material.CACHE_ENV)
    if cache:
        os.makedirs(cache, exist_ok=True)
        return cache
    return str(tmp_path_factory.mktemp("material"))


@pytest.fixture(scope="session")
def debian_tar(material_cache) -> str:
    return material.debian_rootfs_tar(material_cache)


@pytest.fixture(scope="session")
def debian_layout(material_cache) -> tuple[str, "material.Descriptor"]:
    """(OCI layout, manifest) of the two-layer Debian image tagged material.DEBIAN_TAG."""
    return material.debian_image(material_cache)


@pytest.fixture(scope="session")
def small_layout(tmp_path_factory) -> str:
    """An OCI layout with small images: `amd64` and `arm64` (two gzip layers each, their
    platform in the config) and `amd64-zstd` (amd64's layers as zstd)."""
    d = tmp_path_factory.mktemp("small")
    layout = str(d / "layout")
    for arch in ("amd64", "arm64"):
        base = material.layer_tar(str(d / f"base-{arch}.tar"), {"etc/": None, "etc/arch": f"{arch}\n"})
        top = material.layer_tar(str(d / f"top-{arch}.tar"), {"srv/": None, "srv/data": os.urandom(300_000)})
        material.oci_image(layout, arch, [base, top], cmd=["cat", "/etc/arch"], env=["A=1"], workdir="/srv",
                           labels={"arch": arch}, ports=["80/tcp"], architecture=arch)
    material.zstd_image(layout, "amd64", "amd64-zstd")
    return layout


@contextlib.contextmanager
def _serving_small(tmp_path_factory, small_layout, name, **options):
    """A registry (material.start_registry's options) holding SMALL, stopped at the end."""
    r = material.start_registry(str(tmp_path_factory.mktemp(name)), **options)
    try:
        material.push(small_layout, "amd64", r, SMALL)
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory, small_layout):
    """An anonymous registry holding SMALL, `small/docker:1` (SMALL as a docker schema2
    manifest), `small/zstd:1` (zstd layers) and `multi/img:1`, an OCI index of the amd64 and
    arm64 images (its .index_digest, .platforms: {arch: manifest Descriptor})."""
    with _serving_small(tmp_path_factory, small_layout, "registry") as r:
        material.push(small_layout, "amd64", r, "small/docker:1", format="v2s2")
        material.push(small_layout, "amd64-zstd", r, "small/zstd:1")
        r.platforms = {}
        for arch in ("amd64", "arm64"):
            manifest = material.manifest_of(small_layout, arch)
            material.push(small_layout, arch, r, f"multi/img@{manifest.digest}")
            r.platforms[arch] = material.Descriptor(manifest.digest, manifest.size,
                                                    {"os": "linux", "architecture": arch,
                                                     **({"variant": "v8"} if arch == "arm64" else {})})
        r.index_digest = material.push_index(r, "multi/img", "1", list(r.platforms.values()))
        yield r


@pytest.fixture(scope="session")
def debian_ref(registry, debian_layout) -> str:
    """The Debian image pushed into `registry`: 127.0.0.1:PORT/library/debian:bookworm."""
    layout, _ = debian_layout
    material.push(layout, material.DEBIAN_TAG, registry, f"library/debian:{material.DEBIAN_TAG}")
    return f"{registry.addr}/library/debian:{material.DEBIAN_TAG}"


@pytest.fixture
def fresh_registry(tmp_path_factory, small_layout):
    """An anonymous registry of the test's own holding SMALL: its storage may be damaged."""
    with _serving_small(tmp_path_factory, small_layout, "fresh-registry") as r:
        yield r


@pytest.fixture(scope="session")
def htpasswd_registry(tmp_path_factory, small_layout):
    """A registry with `auth: htpasswd` (user .user, password .password) holding SMALL."""
    with _serving_small(tmp_path_factory, small_layout, "htpasswd-registry", auth="htpasswd") as r:
        yield r


@pytest.fixture(scope="session")
def token_server(tmp_path_factory):
    server = material.TokenServer(str(tmp_path_factory.mktemp("token-server")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory, small_layout, token_server):
    """A registry with `auth: token` (token_server's tokens) holding SMALL."""
    with _serving_small(tmp_path_factory, small_layout, "token-registry", auth="token",
                        token_server=token_server) as r:
        yield r


@pytest.fixture
def tls_registry(tmp_path_factory, small_layout):
    """An anonymous registry holding SMALL over HTTPS with a self-signed certificate."""
    with _serving_small(tmp_path_factory, small_layout, "tls-registry", auth="tls") as r:
        yield r
