"""The distribution client against real registries on loopback (docker-registry, images
pushed by skopeo): manifests and indexes, every digest checked, token auth, tampered blobs,
resumed blobs."""

import hashlib
import http.server
import json
import threading

import pytest

import material
from material import SMALL_IMAGE as SMALL

from pyctr.images.reference import parse, parse_platform
from pyctr.images.registry import (AuthError, Client, DigestMismatch, NotFound, RegistryError, Verifier, choose,
                                   is_loopback)


def _fetch(client, ref, descriptor, offset=0, hasher=None) -> bytes:
    """The blob's bytes from `offset`, verified against the descriptor at the end."""
    with client.blob(ref, descriptor["digest"], offset) as stream:
        verifier = Verifier(descriptor["digest"], descriptor["size"], hasher, offset)
        return b"".join(stream.chunks(verifier))


def test_a_multi_layer_image(debian_ref, debian_layout):
    layout, manifest = debian_layout
    client = Client()
    ref = parse(debian_ref)
    pulled = client.manifest(ref)
    assert pulled.digest == manifest.digest  # skopeo kept the layout's manifest as it was
    assert pulled.index_digest == "" and pulled.platform is None
    assert len(pulled.layers) == 2 and pulled.layers[0]["size"] > 50_000_000
    config = json.loads(pulled.config)
    assert "sha256:" + hashlib.sha256(pulled.config).hexdigest() == pulled.config_digest
    assert config["config"]["Cmd"] == ["bash"] and config["config"]["WorkingDir"] == "/srv/app"
    assert config["config"]["Labels"] == {"org.pyctr.test": "debian"} and "8080/tcp" in config["config"]["ExposedPorts"]
    assert len(config["rootfs"]["diff_ids"]) == 2
    for layer in pulled.layers:  # both layers, in parallel, through one client
        assert layer["mediaType"].endswith("tar+gzip")
    results, errors = {}, []

    def fetch(layer):
        try:
            results[layer["digest"]] = len(_fetch(client, ref, layer))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=fetch, args=(layer,)) for layer in pulled.layers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == {layer["digest"]: layer["size"] for layer in pulled.layers}


def test_by_digest(registry):
    client = Client()
    digest = registry.platforms["arm64"].digest
    pulled = client.manifest(parse(f"{registry.addr}/multi/img@{digest}"))
    assert pulled.digest == digest and json.loads(pulled.config)["architecture"] == "arm64"
    wrong = "sha256:" + "0" * 64
    with pytest.raises(NotFound, match=r"^127\.0\.0\.1:\d+/multi/img@sha256:0+: manifest unknown$"):
        client.manifest(parse(f"{registry.addr}/multi/img@{wrong}"))


def test_an_index_of_two_platforms(registry):
    client = Client()
    ref = parse(f"{registry.addr}/multi/img:1")
    pulled = client.manifest(ref)  # this host: linux/amd64
    assert pulled.index_digest == registry.index_digest
    assert pulled.digest == registry.platforms["amd64"].digest and str(pulled.platform) == "linux/amd64"
    assert json.loads(pulled.config)["architecture"] == "amd64"
    arm = client.manifest(ref, parse_platform("linux/arm64"))
    assert arm.digest == registry.platforms["arm64"].digest
    assert json.loads(arm.config)["architecture"] == "arm64"
    with pytest.raises(RegistryError) as e:
        client.manifest(ref, parse_platform("linux/s390x"))
    assert str(e.value) == (f"{ref}: no image for platform linux/s390x in the manifest list "
                            "(it has: linux/amd64, linux/arm64/v8)")


def test_a_missing_tag_and_repository(registry):
    with pytest.raises(NotFound, match=r"^127\.0\.0\.1:\d+/small/img:nope: manifest unknown$"):
        Client().manifest(parse(f"{registry.addr}/small/img:nope"))
    with pytest.raises(NotFound, match=r"^127\.0\.0\.1:\d+/no/such:1: manifest unknown$"):
        Client().manifest(parse(f"{registry.addr}/no/such:1"))


def test_token_auth(token_registry, token_server):
    ref = parse(f"{token_registry.addr}/{SMALL}")
    client = Client(credentials=lambda domain: (token_registry.user, token_registry.password))
    before = len(token_server.requests)
    pulled = client.manifest(ref)
    assert len(pulled.layers) == 2
    _fetch(client, ref, pulled.layers[1])
    # one token for the repository's pull scope, kept for the manifest and both blobs
    assert token_server.requests[before:] == [{"user": "alice", "scope": ["repository:small/img:pull"],
                                               "service": ["pyctr-test-registry"]}]


def test_token_auth_refuses_a_wrong_password_and_no_credentials(token_registry):
    ref = parse(f"{token_registry.addr}/{SMALL}")
    with pytest.raises(AuthError) as e:
        Client(credentials=lambda domain: ("alice", "wrong")).manifest(ref)
    assert str(e.value) == f"{token_registry.addr}: authentication failed: unauthorized: invalid username or password"
    with pytest.raises(AuthError) as e:
        Client().manifest(ref)
    assert str(e.value) == (f"{token_registry.addr}: small/img: authentication required "
                            f"(pyctr login {token_registry.addr})")


def test_basic_auth(htpasswd_registry):
    ref = parse(f"{htpasswd_registry.addr}/{SMALL}")
    assert Client(credentials=lambda d: ("alice", "wonderland")).manifest(ref).layers
    with pytest.raises(AuthError, match="access denied to small/img"):
        Client(credentials=lambda d: ("alice", "wrong")).manifest(ref)
    with pytest.raises(AuthError, match="authentication required"):
        Client().manifest(ref)


def test_a_tampered_layer_is_refused(fresh_registry):
    client = Client()
    ref = parse(f"{fresh_registry.addr}/{SMALL}")
    pulled = client.manifest(ref)
    layer = pulled.layers[1]
    path = fresh_registry.blob_file(layer["digest"])
    with open(path, "r+b") as f:  # the same size: only the digest can tell
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with open(path, "rb") as f:
        sent = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    with pytest.raises(DigestMismatch) as e:
        _fetch(client, ref, layer)
    assert str(e.value) == f"blob {layer['digest']} digest mismatch: registry sent {sent}"


def test_a_tampered_config_is_refused(fresh_registry):
    client = Client()
    ref = parse(f"{fresh_registry.addr}/{SMALL}")
    config = client.manifest(ref).config_digest
    path = fresh_registry.blob_file(config)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data.replace(b"amd64", b"arm64"))
    with pytest.raises(DigestMismatch, match=rf"^blob {config} digest mismatch: registry sent sha256:[0-9a-f]{{64}}$"):
        Client().manifest(ref)


def test_a_short_blob_is_refused(fresh_registry):
    ref = parse(f"{fresh_registry.addr}/{SMALL}")
    layer = Client().manifest(ref).layers[1]
    with pytest.raises(DigestMismatch, match=r"size mismatch: expected \d+ bytes, registry sent \d+"):
        _fetch(Client(), ref, {**layer, "size": layer["size"] + 1})
    with pytest.raises(DigestMismatch, match="more than the 10 bytes expected"):
        _fetch(Client(), ref, {**layer, "size": 10})


def test_a_blob_resumed_at_an_offset(registry, small_layout):
    client = Client()
    ref = parse(f"{registry.addr}/{SMALL}")
    layer = client.manifest(ref).layers[1]
    whole = material.layout_blob(small_layout, layer["digest"])
    offset = len(whole) // 3
    hasher = hashlib.sha256(whole[:offset])  # what the first attempt had hashed
    with client.blob(ref, layer["digest"], offset) as stream:
        assert stream.offset == offset and stream.size == len(whole)  # from the 206's Content-Range
    assert _fetch(client, ref, layer, offset, hasher) == whole[offset:]
    with pytest.raises(DigestMismatch):  # a resume that starts from other bytes is caught at the end
        _fetch(client, ref, layer, offset, hashlib.sha256(b"x" * offset))


def test_plain_http_only_to_loopback():
    assert is_loopback("127.0.0.1:5000") and is_loopback("127.8.9.1") and is_loopback("[::1]:5000")
    assert is_loopback("localhost:5000") and not is_loopback("10.0.0.1:5000") and not is_loopback("example.com")
    with pytest.raises(RegistryError, match=r"^refusing plain HTTP to 192\.0\.2\.1:5000 \(use --tls-verify=false\)$"):
        Client()._send("http://192.0.2.1:5000/v2/", {}, None, False)  # refused before any packet


def test_tls_is_verified_unless_told_not_to(tls_registry):
    ref = parse(f"{tls_registry.addr}/{SMALL}")
    with pytest.raises(RegistryError, match=r"^127\.0\.0\.1:\d+: TLS certificate not trusted: self-signed certificate "
                       r"\(--tls-verify=false skips the check\)$"):
        Client().manifest(ref)  # HTTPS spoken (no fallback to plain HTTP), its self-signed certificate refused
    assert Client(tls_verify=False).manifest(ref).layers


class _Server:
    """A tiny HTTP server on a loopback address: `answer(handler)` answers each GET; the
    requests' headers are kept."""

    def __init__(self, host: str, answer):
        self.seen = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.seen.append(dict(self.headers))
                answer(self)

            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.netloc = f"{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _reply(handler, status, body=b"", **headers):
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **{k.replace("_", "-"): v for k, v in headers.items()}}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def test_a_redirected_blob_goes_without_our_credentials():
    """Registries send blob GETs to storage elsewhere (S3): the credentials stay home."""
    data = b"layer bytes " * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    storage = _Server("127.0.0.2", lambda h: _reply(h, 200, data))

    def registry(h):
        if "Authorization" not in h.headers:
            _reply(h, 401, WWW_Authenticate='Basic realm="test"')
        else:
            _reply(h, 307, Location=f"http://{storage.netloc}/bucket/blob?signature=abc")
    front = _Server("127.0.0.1", registry)
    try:
        client = Client(credentials=lambda domain: ("alice", "wonderland"))
        ref = parse(f"{front.netloc}/r")
        assert _fetch(client, ref, {"digest": digest, "size": len(data)}) == data
        assert front.seen[-1]["Authorization"].startswith("Basic ")
        assert len(storage.seen) == 1 and "Authorization" not in storage.seen[0]
        assert storage.seen[0]["Host"] == storage.netloc
    finally:
        front.stop()
        storage.stop()


def test_a_cut_connection_and_a_registry_that_ignores_range():
    data = bytes(range(256)) * 400
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def answer(h):
        if h.path.startswith("/v2/cut/"):  # promises all, sends half, hangs up
            _reply(h, 200, data[:len(data) // 2], Content_Length=str(len(data)))
            h.close_connection = True
        else:  # no Range support: the whole blob, 200
            _reply(h, 200, data)
    server = _Server("127.0.0.1", answer)
    try:
        ref = parse(f"{server.netloc}/r")
        offset = 10_000
        with Client().blob(ref, digest, offset) as stream:
            assert stream.offset == offset and b"".join(stream.chunks()) == data[offset:]
        assert server.seen[-1]["Range"] == f"bytes={offset}-"
        with pytest.raises(RegistryError, match=rf"^blob {digest}: connection lost at byte 51200 of 102400$"):
            with Client().blob(parse(f"{server.netloc}/cut"), digest) as stream:
                b"".join(stream.chunks())
    finally:
        server.stop()


def test_docker_schema2_and_zstd_layers(registry, small_layout):
    client = Client()
    docker = client.manifest(parse(f"{registry.addr}/small/docker:1"))
    assert docker.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert [layer["mediaType"] for layer in docker.layers] == ["application/vnd.docker.image.rootfs.diff.tar.gzip"] * 2
    oci = client.manifest(parse(f"{registry.addr}/{SMALL}"))
    assert json.loads(docker.config)["rootfs"] == json.loads(oci.config)["rootfs"]
    zstd = client.manifest(parse(f"{registry.addr}/small/zstd:1"))
    assert [layer["mediaType"] for layer in zstd.layers] == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2
    for layer in zstd.layers:
        data = _fetch(client, parse(f"{registry.addr}/small/zstd:1"), layer)
        assert data[:4] == b"\x28\xb5\x2f\xfd"  # zstd's magic


def test_the_platform_is_chosen_as_docker_does():
    def entry(n, os_="linux", arch="amd64", variant=None):
        return {"digest": f"sha256:{n * 64}", "size": 1,
                "platform": {"os": os_, "architecture": arch, **({"variant": variant} if variant else {})}}
    ref = parse("localhost/a:1")
    index = {"manifests": [entry("0", "unknown", "unknown"), entry("1", arch="arm", variant="v6"),
                           entry("2", arch="arm", variant="v7"), entry("3", arch="arm64", variant="v8"),
                           entry("4"), entry("5")]}
    assert choose(index, parse_platform("linux/amd64"), ref)["digest"][7] == "4"  # the first
    assert choose(index, parse_platform("linux/arm/v7"), ref)["digest"][7] == "2"
    assert choose(index, parse_platform("linux/arm64"), ref)["digest"][7] == "3"
    assert choose(index, parse_platform("linux/arm"), ref)["digest"][7] == "1"
    with pytest.raises(RegistryError, match=r"no image for platform linux/arm/v5 in the manifest list \(it has: linux/amd64, "
                                            r"linux/arm/v6, linux/arm/v7, linux/arm64/v8, unknown/unknown\)$"):
        choose(index, parse_platform("linux/arm/v5"), ref)
