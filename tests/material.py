"""Real test material made by other tools than pyctr, for every image test to share:

- debian_rootfs_tar(cache): a minbase bookworm rootfs tar made by mmdebstrap (once per cache
  directory: PYCTR_TEST_CACHE keeps one across sessions);
- layer_tar(path, files): a small layer tar of the given files (tarfile, uid 0);
- oci_image(layout, tag, layers, ...): an OCI image layout made by umoci (init, new, raw
  add-layer per layer tar, config); returns its manifest Descriptor;
- Registry / start_registry(dir, auth=...): Debian's docker-registry on 127.0.0.1 at a free
  port, storage in `dir`, anonymous, htpasswd (htpasswd -B) or token auth; stop() ends it;
- TokenServer: a token server on loopback for docker-registry's `auth: token`: checks basic
  credentials and issues RS256 JWTs signed with `openssl dgst -sha256 -sign`, its
  self-signed certificate in the header's x5c (the registry's rootcertbundle);
- zstd_image(layout, tag, new_tag): the image with its layers recompressed as zstd;
- push(layout, tag, registry, repo_tag, format=None): skopeo copy oci:LAYOUT:TAG docker://ADDR/REPO:TAG;
  push_index(registry, repo_tag, entries): an OCI index of pushed manifests, PUT over HTTP.

No function here imports pyctr: the material must not depend on what it tests.
"""

import base64
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from io import BytesIO

CACHE_ENV = "PYCTR_TEST_CACHE"
DEBIAN_MIRROR = os.environ.get("PYCTR_TEST_MIRROR", "http://deb.debian.org/debian")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


# -- a Debian rootfs and OCI images ---------------------------------------------------------

def debian_rootfs_tar(cache: str) -> str:
    """<cache>/debian.tar: `mmdebstrap --variant=minbase bookworm` (about 20 s, 170 MB),
    made only when the cache does not hold it yet; written under a temp name, so a killed
    run leaves no half tar."""
    path = os.path.join(cache, "debian.tar")
    if not os.path.exists(path):
        # two sessions may share a cache; mmdebstrap reads the format off the name's ending
        partial = os.path.join(cache, f"debian.{os.getpid()}.partial.tar")
        subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "--format=tar", "bookworm", partial,
                        DEBIAN_MIRROR], check=True, stdin=subprocess.DEVNULL)
        os.replace(partial, path)
    return path


def layer_tar(path: str, files: dict) -> str:
    """A layer tar at `path` holding `files` (name -> bytes or str; a name ending in / is a
    directory), owned by root."""
    with tarfile.open(path, "w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = 1_700_000_000
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, BytesIO(data))
    return path


class Descriptor:
    """A manifest's digest and size (and the platform it is for)."""

    def __init__(self, digest: str, size: int, platform: dict | None = None):
        self.digest, self.size, self.platform = digest, size, platform

    def as_dict(self) -> dict:
        return {"mediaType": OCI_MANIFEST, "digest": self.digest, "size": self.size,
                **({"platform": self.platform} if self.platform else {})}


def oci_image(layout: str, tag: str, layers: list[str], *, cmd: list[str] | None = None,
              entrypoint: list[str] | None = None, env: list[str] = (), workdir: str | None = None,
              labels: dict | None = None, ports: list[str] = (), user: str | None = None,
              architecture: str = "amd64", os_name: str = "linux") -> Descriptor:
    """An image `tag` in the OCI layout `layout` (made if missing) with `layers` (plain tars,
    lowest first; umoci compresses them with gzip) and the config given."""
    image = f"{layout}:{tag}"
    if not os.path.exists(os.path.join(layout, "index.json")):
        _run("umoci", "init", "--layout", layout)
    _run("umoci", "new", "--image", image)
    for layer in layers:
        _run("umoci", "raw", "add-layer", "--image", image, layer)
    options = [f"--architecture={architecture}", f"--os={os_name}"]
    options += [f"--config.cmd={c}" for c in cmd or ()]
    options += [f"--config.entrypoint={e}" for e in entrypoint or ()]
    options += [f"--config.env={e}" for e in env]
    options += [f"--config.label={k}={v}" for k, v in (labels or {}).items()]
    options += [f"--config.exposedports={p}" for p in ports]
    options += [f"--config.workingdir={workdir}"] if workdir else []
    options += [f"--config.user={user}"] if user else []
    _run("umoci", "config", "--image", image, *options)
    _run("umoci", "gc", "--layout", layout)
    return manifest_of(layout, tag)


def manifest_of(layout: str, tag: str) -> Descriptor:
    with open(os.path.join(layout, "index.json")) as f:
        for entry in json.load(f)["manifests"]:
            if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return Descriptor(entry["digest"], entry["size"])
    raise LookupError(f"no tag {tag} in {layout}")


def zstd_image(layout: str, tag: str, new_tag: str) -> Descriptor:
    """`new_tag`: image `tag` of the layout with each layer recompressed by the zstd CLI
    (media type tar+zstd; the config and its diff_ids unchanged), as umoci cannot."""
    manifest = json.loads(layout_blob(layout, manifest_of(layout, tag).digest))
    for layer in manifest["layers"]:
        plain = subprocess.run(["gzip", "-dc"], input=layout_blob(layout, layer["digest"]), capture_output=True,
                               check=True).stdout
        packed = subprocess.run(["zstd", "-q", "-c", "-3"], input=plain, capture_output=True, check=True).stdout
        layer.update(mediaType="application/vnd.oci.image.layer.v1.tar+zstd", size=len(packed),
                     digest=_put_blob(layout, packed))
    raw = json.dumps(manifest).encode()
    digest = _put_blob(layout, raw)
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    index["manifests"].append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw),
                               "annotations": {"org.opencontainers.image.ref.name": new_tag}})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    return Descriptor(digest, len(raw))


def _put_blob(layout: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return f"sha256:{digest}"


def layout_blob(layout: str, digest: str) -> bytes:
    algorithm, _, hexpart = digest.partition(":")
    with open(os.path.join(layout, "blobs", algorithm, hexpart), "rb") as f:
        return f.read()


# -- registries -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """A docker-registry process serving `storage` on 127.0.0.1:port."""

    def __init__(self, directory: str, auth: dict | None = None, user: str = "", password: str = "",
                 tls: bool = False):
        self.directory, self.storage = directory, os.path.join(directory, "storage")
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.user, self.password = user, password
        self.config = os.path.join(directory, "config.yml")
        http_config = {"addr": self.addr, "secret": secrets.token_hex(16)}
        if tls:  # a self-signed certificate for 127.0.0.1: only an unverified client accepts it
            http_config["tls"] = {"certificate": os.path.join(directory, "tls.crt"),
                                  "key": os.path.join(directory, "tls.key")}
            _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", http_config["tls"]["key"],
                 "-out", http_config["tls"]["certificate"], "-days", "2", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1")
        with open(self.config, "w") as f:  # JSON is YAML
            json.dump({"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
                       "storage": {"filesystem": {"rootdirectory": self.storage}, "delete": {"enabled": True}},
                       "http": http_config,
                       **({"auth": auth} if auth else {})}, f)
        self.log = open(os.path.join(directory, "registry.log"), "wb")
        self.process = subprocess.Popen(["docker-registry", "serve", self.config], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                with open(self.log.name, errors="replace") as f:
                    raise RuntimeError(f"docker-registry exited: {f.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not listen within 15 s")

    def blob_file(self, digest: str) -> str:
        """Where the registry keeps a blob's bytes (distribution's filesystem layout)."""
        algorithm, _, hexpart = digest.partition(":")
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs", algorithm, hexpart[:2], hexpart, "data")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def start_registry(directory: str, auth: str | None = None, user: str = "alice",
                   password: str = "wonderland", token_server: "TokenServer | None" = None) -> Registry:
    """A registry in `directory` (made if missing): auth None (anonymous), "tls" (anonymous,
    HTTPS with a self-signed certificate), "htpasswd" (one user, bcrypt) or "token"
    (token_server issues the tokens)."""
    os.makedirs(directory, exist_ok=True)
    if auth in (None, "tls"):
        return Registry(directory, tls=auth == "tls")
    if auth == "htpasswd":
        path = os.path.join(directory, "htpasswd")
        _run("htpasswd", "-Bbc", path, user, password)
        return Registry(directory, {"htpasswd": {"realm": "pyctr-test", "path": path}}, user, password)
    if auth == "token":
        return Registry(directory, {"token": {"realm": token_server.realm, "service": token_server.service,
                                              "issuer": token_server.issuer,
                                              "rootcertbundle": token_server.cert}},
                        token_server.user, token_server.password)
    raise ValueError(auth)


class TokenServer:
    """A docker token server on 127.0.0.1 for one user: valid basic credentials get an
    RS256 JWT granting the scopes asked for; anonymous requests get one granting nothing;
    wrong credentials 401."""

    service, issuer = "pyctr-test-registry", "pyctr-test-issuer"

    def __init__(self, directory: str, user: str = "alice", password: str = "wonderland"):
        os.makedirs(directory, exist_ok=True)
        self.user, self.password = user, password
        self.key, self.cert = os.path.join(directory, "token.key"), os.path.join(directory, "token.crt")
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
             "-days", "2", "-subj", "/CN=pyctr-test-token-issuer")
        with open(self.cert) as f:
            self.x5c = base64.b64encode(ssl.PEM_cert_to_DER_cert(f.read())).decode()
        self.requests: list[dict] = []  # what was asked, for tests to look at
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server._answer(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, request) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        header = request.headers.get("Authorization", "")
        user = None
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if (name, password) != (self.user, self.password):
                return self._reply(request, 401, {"errors": [{"code": "UNAUTHORIZED",
                                                              "message": "invalid username or password"}]})
            user = name
        self.requests.append({"user": user, "scope": query.get("scope", []), "service": query.get("service")})
        access = []
        for scope in query.get("scope", []) if user else []:
            kind, name, actions = scope.split(":")[0], ":".join(scope.split(":")[1:-1]), scope.split(":")[-1]
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self.sign({"iss": self.issuer, "sub": user or "", "aud": self.service, "access": access,
                           "iat": int(time.time()), "nbf": int(time.time()) - 10, "exp": int(time.time()) + 300,
                           "jti": secrets.token_hex(8)})
        self._reply(request, 200, {"token": token, "access_token": token, "expires_in": 300})

    @staticmethod
    def _reply(request, status: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def sign(self, claims: dict) -> str:
        """A compact JWS: RS256 over header.payload, by openssl with the server's key."""
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                                   capture_output=True, check=True).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def push(layout: str, tag: str, registry: Registry, repo_tag: str, credentials: bool = True,
         format: str | None = None) -> None:
    """skopeo copy oci:LAYOUT:TAG docker://ADDR/REPO_TAG (REPO@sha256:... pushes by digest);
    format "v2s2" converts to a docker schema2 manifest on the way."""
    auth = ["--dest-creds", f"{registry.user}:{registry.password}"] if credentials and registry.user else []
    auth += ["--format", format] if format else []
    _run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", *auth, f"oci:{layout}:{tag}",
         f"docker://{registry.addr}/{repo_tag}")


def push_index(registry: Registry, repo: str, tag: str, entries: list[Descriptor]) -> str:
    """An OCI index of manifests already in `repo`, PUT as `tag` (anonymous registry);
    returns its digest."""
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [e.as_dict() for e in entries]}).encode()
    request = urllib.request.Request(f"http://{registry.addr}/v2/{repo}/manifests/{tag}", data=body, method="PUT",
                                     headers={"Content-Type": OCI_INDEX})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as response:
        assert response.status == 201, response.status
    return "sha256:" + hashlib.sha256(body).hexdigest()



def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode:
        raise RuntimeError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()[-2000:]}")


DEBIAN_TAG = "bookworm"
SMALL_IMAGE = "small/img:1"  # the small image every test registry holds (tests/images/conftest.py)


def debian_image(cache: str) -> tuple[str, Descriptor]:
    """(<cache>/debian-oci, its manifest): an OCI layout whose `bookworm` image has the
    Debian rootfs as its first layer and a small second one (/etc/pyctr-test, /srv/app/),
    with a config that sets Cmd, Env, WorkingDir, Labels, ExposedPorts and User.  Made once
    per cache (under a temp name, then renamed)."""
    layout = os.path.join(cache, "debian-oci")
    if not os.path.exists(layout):
        partial = f"{layout}.{os.getpid()}.partial"
        if os.path.exists(partial):
            shutil.rmtree(partial)
        second = layer_tar(f"{partial}-layer.tar",
                           {"etc/pyctr-test": "made by the test material\n", "srv/": None, "srv/app/": None,
                            "srv/app/hello.sh": "#!/bin/sh\necho hello from the second layer\n"})
        oci_image(partial, DEBIAN_TAG, [debian_rootfs_tar(cache), second], cmd=["bash"],
                  env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
                  workdir="/srv/app", labels={"org.pyctr.test": "debian"}, ports=["8080/tcp"], user="root")
        os.unlink(second)
        try:
            os.rename(partial, layout)
        except OSError:  # another session made it first
            shutil.rmtree(partial)
    return layout, manifest_of(layout, DEBIAN_TAG)
