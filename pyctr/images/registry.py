"""A client of the OCI distribution API: manifests (OCI and docker schema2, lists and
indexes resolved to this host's platform) and config blobs fetched with their digests
verified, layer blobs streamed (resumable with Range), and the registry's auth (anonymous,
Bearer tokens, Basic).

Plain HTTP is spoken only to loopback registries, or to any when `tls_verify=False` (as
podman's --tls-verify=false: TLS unverified first, then plain HTTP).  Every error is a
RegistryError whose str() is one line.  One Client may serve several threads: each thread
keeps its own connections, a blob stream has one to itself.
"""

import base64
import hashlib
import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import urllib.parse

from ..records import record
from . import platforms
from .image import ImageError
from .reference import DOCKER_HUB, Platform, Reference, check_digest, host_platform

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
MANIFESTS, LISTS = (OCI_MANIFEST, DOCKER_MANIFEST), (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((*MANIFESTS, *LISTS))

MAX_MANIFEST = 4 << 20  # containerd's limit for manifests and indexes
MAX_CONFIG = 8 << 20
MAX_ERROR_BODY = 64 << 10
MAX_REDIRECTS = 5
TIMEOUT = 30.0  # seconds without a byte, per socket operation
CHUNK = 1 << 20
USER_AGENT = "pyctr"
# Docker Hub's API host for the docker.io name
API_HOSTS = {DOCKER_HUB: "registry-1.docker.io"}


class RegistryError(ImageError):
    """The registry refused, failed or sent something wrong."""


class AuthError(RegistryError):
    """Credentials missing or refused."""


class NotFound(RegistryError):
    """No such repository, manifest or blob."""


class DigestMismatch(RegistryError):
    """What arrived is not what its digest says."""



@record
class Pulled:
    """An image manifest as the registry gave it, verified, and the config it names."""
    reference: Reference
    digest: str  # of `raw`, the image manifest
    media_type: str
    manifest: dict
    raw: bytes
    config: bytes  # the config blob, its digest verified
    index_digest: str = ""  # the list or index it was chosen from, if any
    platform: Platform | None = None  # the platform it was chosen for, if from a list

    @property
    def config_digest(self) -> str:
        return self.manifest["config"]["digest"]

    @property
    def layers(self) -> list[dict]:
        """The layer descriptors (mediaType, digest, size), lowest first."""
        return self.manifest["layers"]


class Verifier:
    """Hashes what a blob stream gives and checks it at the end against the digest and size
    the manifest promised.  Resuming: pass the hasher that already took the first bytes, and
    their count."""

    def __init__(self, digest: str, size: int | None = None, hasher=None, received: int = 0):
        algorithm, _, self.expected = check_digest(digest).partition(":")
        self.digest, self.size, self.received = digest, size, received
        self.hasher = hasher or hashlib.new(algorithm)

    def update(self, data: bytes) -> None:
        self.received += len(data)
        if self.size is not None and self.received > self.size:  # bounded: stop at once
            raise DigestMismatch(f"blob {self.digest}: registry sent more than the {self.size} bytes expected")
        self.hasher.update(data)

    def finish(self) -> None:
        if self.size is not None and self.received != self.size:
            raise DigestMismatch(f"blob {self.digest}: size mismatch: expected {self.size} bytes, "
                                 f"registry sent {self.received}")
        got = self.hasher.hexdigest()
        if got != self.expected:
            raise DigestMismatch(f"blob {self.digest} digest mismatch: registry sent "
                                 f"{self.digest.partition(':')[0]}:{got}")


class BlobStream:
    """A blob's bytes from `offset` on, read in chunks; closes its own connection."""

    def __init__(self, digest: str, response, connection, offset: int, size: int | None):
        self.digest, self.offset, self.size = digest, offset, size  # size: the whole blob's, if told
        self.position = offset  # how far it has read
        self._response, self._connection = response, connection

    def read(self, n: int = CHUNK) -> bytes:
        """Up to n bytes; b"" at the end.  A connection that ends before the length the
        registry announced is an error (http.client's read(n) would just stop): the caller
        may resume from `position`."""
        try:
            data = self._response.read(n)
        except (http.client.HTTPException, OSError) as e:
            raise RegistryError(f"blob {self.digest}: connection lost at byte {self.position}: {_oneline(e)}") from None
        self.position += len(data)
        if not data and n and self.size is not None and self.position < self.size:
            raise RegistryError(f"blob {self.digest}: connection lost at byte {self.position} of {self.size}")
        return data

    def chunks(self, verifier: Verifier | None = None):
        """The chunks to the end; with a verifier, each is hashed and the end checked."""
        while data := self.read():
            if verifier:
                verifier.update(data)
            yield data
        if verifier:
            verifier.finish()

    def close(self) -> None:
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def is_loopback(netloc: str) -> bool:
    host = _split_netloc(netloc)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client:
    """Talks to registries for one process: the scheme found for each host, tokens cached
    per (host, scope), connections kept per thread."""

    def __init__(self, credentials=None, tls_verify: bool = True, timeout: float = TIMEOUT):
        """`credentials(domain)` gives (user, password) or None."""
        self.credentials = credentials or (lambda domain: None)
        self.tls_verify, self.timeout = tls_verify, timeout
        self._lock = threading.Lock()
        self._schemes: dict[str, str] = {}
        self._auth: dict[tuple[str, str], str] = {}  # (netloc, scope) -> Authorization value
        self._local = threading.local()

    # -- the API ------------------------------------------------------------------------

    def manifest(self, ref: Reference, platform: Platform | None = None) -> Pulled:
        """The image manifest `ref` names, chosen for `platform` (this host's by default)
        from a list or index, and its config; every digest verified."""
        raw, media_type, digest = self._manifest(ref, ref.target)
        index_digest, chosen = "", None
        if media_type in LISTS:
            chosen = platform or host_platform()
            entry = choose(json.loads(raw), chosen, ref)
            index_digest = digest
            raw, media_type, digest = self._manifest(ref, entry["digest"], entry.get("size"))
            if media_type in LISTS:
                raise RegistryError(f"{ref}: an index inside an index is not supported")
        manifest = _image_manifest(ref, raw, media_type)
        config = self._small_blob(ref, manifest["config"], MAX_CONFIG)
        return Pulled(ref, digest, media_type, manifest, raw, config, index_digest, chosen)

    def blob(self, ref: Reference, digest: str, offset: int = 0) -> BlobStream:
        """A stream of blob `digest` of ref's repository from byte `offset` on (Range), for
        the caller to hash (Verifier)."""
        check_digest(digest)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response, connection = self._open(ref, f"/blobs/{digest}", headers, stream=True)
        size = _length(response)
        if offset and response.status == 206:
            size = _range_total(response) or (size + offset if size is not None else None)
        elif offset:  # the registry ignored Range: the bytes before offset are skipped here
            _skip(response, offset, digest)
        return BlobStream(digest, response, connection, offset, size)

    def check(self, domain: str) -> None:
        """Whether the registry lets us in with our credentials (GET /v2/, a Bearer
        challenge answered without a scope): None, or AuthError / RegistryError."""
        response, connection = self._open(Reference(domain, ""), "", {}, api_root=True)
        _read(response, MAX_ERROR_BODY)
        _release(connection, response)

    # -- manifests and small blobs ------------------------------------------------------

    def _manifest(self, ref: Reference, target: str, size: int | None = None) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of the manifest `target` (a tag or a digest)."""
        response, connection = self._open(ref, f"/manifests/{target}", {"Accept": ACCEPT})
        raw = _bounded(response, MAX_MANIFEST, f"manifest {_label(ref, target)}")
        _release(connection, response)
        header_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
        try:
            doc = json.loads(raw)
        except ValueError:
            raise RegistryError(f"{_label(ref, target)}: the manifest is not JSON") from None
        media_type = (doc.get("mediaType") if isinstance(doc, dict) else None) or header_type
        if media_type in DOCKER_SCHEMA1 or (isinstance(doc, dict) and doc.get("schemaVersion") == 1):
            raise RegistryError(f"{ref}: docker schema 1 manifests are not supported")
        if media_type not in (*MANIFESTS, *LISTS) and isinstance(doc, dict):
            media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "layers" in doc else media_type
        if media_type not in (*MANIFESTS, *LISTS):
            raise RegistryError(f"{ref}: unsupported manifest type {media_type!r}")
        if ":" in target:  # by digest: what came must be it
            digest = target
            if size is not None and len(raw) != size:
                raise DigestMismatch(f"manifest {digest}: size mismatch: expected {size} bytes, registry sent {len(raw)}")
            verifier = Verifier(digest)
            verifier.update(raw)
            verifier.finish()
        else:
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            told = response.getheader("Docker-Content-Digest") or ""
            if told.startswith("sha256:") and told != digest:
                raise DigestMismatch(f"manifest {ref}: digest mismatch: registry said {told}, sent {digest}")
        return raw, media_type, digest

    def _small_blob(self, ref: Reference, descriptor: dict, limit: int) -> bytes:
        digest, size = descriptor["digest"], descriptor.get("size")
        if size is not None and size > limit:
            raise RegistryError(f"blob {digest}: {size} bytes, more than the {limit} allowed")
        with self.blob(ref, digest) as stream:
            verifier = Verifier(digest, size)
            data = b"".join(stream.chunks(verifier))
            if len(data) > limit:
                raise RegistryError(f"blob {digest}: more than the {limit} bytes allowed")
        return data

    # -- requests, auth and redirects ---------------------------------------------------

    def _open(self, ref: Reference, tail: str, headers: dict, stream: bool = False, api_root: bool = False):
        """The response (status 2xx) and its connection for GET /v2/<repo><tail>, after
        answering an auth challenge; errors raised."""
        netloc = API_HOSTS.get(ref.domain, ref.domain)
        path = "/v2/" if api_root else f"/v2/{ref.path}{tail}"
        scope = "" if api_root else f"repository:{ref.path}:pull"
        url = f"{self._scheme(netloc)}://{netloc}{path}"
        authorization = self._auth.get((netloc, scope))
        response, connection = self._send(url, headers, authorization, stream)
        if response.status == 401:
            challenge = response.getheader("WWW-Authenticate") or ""
            connection.close()  # once per scope: a new connection costs less than reading on
            authorization = self._answer(ref.domain, netloc, challenge, scope)
            response, connection = self._send(url, headers, authorization, stream)
            if response.status == 401:
                body = _read(response, MAX_ERROR_BODY)
                connection.close()
                what = ref.path or "the registry"
                if not self.credentials(ref.domain):
                    raise AuthError(f"{ref.domain}: {what}: authentication required (pyctr login {ref.domain})")
                raise AuthError(f"{ref.domain}: access denied to {what}: {_message(body, 401)}")
        if response.status >= 300:
            body = _read(response, MAX_ERROR_BODY)
            connection.close()
            what = _label(ref, tail.rpartition("/")[2]) if tail else ref.domain  # tail: /manifests/TAG, /blobs/DIGEST
            error = NotFound if response.status == 404 else RegistryError
            raise error(f"{what}: {_message(body, response.status)}")
        return response, connection

    def _answer(self, domain: str, netloc: str, challenge: str, scope: str) -> str:
        """The Authorization value answering a WWW-Authenticate challenge, cached."""
        kind, params = _parse_challenge(challenge)
        credentials = self.credentials(domain)
        if kind == "basic":
            if not credentials:
                raise AuthError(f"{domain}: authentication required: pyctr login {domain}")
            value = "Basic " + _basic(*credentials)
        elif kind == "bearer" and params.get("realm"):
            value = "Bearer " + self._token(domain, params, scope or params.get("scope", ""), credentials)
        else:
            raise AuthError(f"{domain}: unsupported authentication challenge {challenge[:100]!r}")
        with self._lock:
            self._auth[(netloc, scope)] = value
        return value

    def _token(self, domain: str, params: dict, scope: str, credentials) -> str:
        realm = urllib.parse.urlsplit(params["realm"])
        if realm.scheme not in ("http", "https") or not realm.netloc:
            raise AuthError(f"{domain}: invalid token realm {params['realm']!r}")
        if realm.scheme == "http" and self.tls_verify and not is_loopback(realm.netloc):
            raise AuthError(f"{domain}: token realm {params['realm']!r} is not HTTPS")
        query = [(k, v) for k, v in (("service", params.get("service")), ("scope", scope)) if v]
        if credentials:
            query.append(("account", credentials[0]))
        url = urllib.parse.urlunsplit((realm.scheme, realm.netloc, realm.path or "/",
                                       "&".join(filter(None, [realm.query, urllib.parse.urlencode(query)])), ""))
        response, connection = self._send(url, {}, "Basic " + _basic(*credentials) if credentials else None, False)
        body = _read(response, MAX_ERROR_BODY)
        _release(connection, response)
        if response.status in (401, 403):
            raise AuthError(f"{domain}: authentication failed: {_message(body, response.status)}")
        if response.status != 200:
            raise AuthError(f"{domain}: token server {realm.netloc}: {_message(body, response.status)}")
        try:
            answer = json.loads(body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"{domain}: the token server {realm.netloc} sent no token")
        return token

    def _send(self, url: str, headers: dict, authorization: str | None, stream: bool):
        """GET `url`, redirects followed (Authorization kept only on the same host)."""
        origin = urllib.parse.urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme == "http" and self.tls_verify and not is_loopback(parts.netloc):
                raise RegistryError(f"refusing plain HTTP to {parts.netloc} (use --tls-verify=false)")
            sent = {"User-Agent": USER_AGENT, **headers}
            if authorization and parts.netloc == origin:
                sent["Authorization"] = authorization
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            response, connection = self._request(parts.scheme, parts.netloc, target, sent, stream)
            if response.status not in (301, 302, 303, 307, 308):
                return response, connection
            location = response.getheader("Location")
            connection.close()  # the next hop is most often another host
            if not location:
                raise RegistryError(f"{parts.netloc}: redirect without a Location")
            url = urllib.parse.urljoin(url, location)
        raise RegistryError(f"{origin}: more than {MAX_REDIRECTS} redirects")

    def _request(self, scheme: str, netloc: str, target: str, headers: dict, stream: bool):
        """One GET; a kept connection is used (and retried once fresh if the server had
        closed it) unless streaming, which takes a connection of its own."""
        for attempt in (0, 1):
            # a kept connection the server closed: close() makes http.client open it anew
            connection = self._connection(scheme, netloc, fresh=stream)
            try:
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                return response, connection
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                connection.close()
                if attempt or stream:
                    raise RegistryError(f"{netloc}: {_oneline(e)}") from None
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                raise RegistryError(f"{netloc}: {_oneline(e)}") from None

    def _connection(self, scheme: str, netloc: str, fresh: bool):
        kept = self._local.__dict__.setdefault("connections", {})
        key = (scheme, netloc)
        if not fresh and key in kept:
            return kept[key]
        host, port = _split_netloc(netloc)
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls())
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        if not fresh:
            kept[key] = connection
        return connection

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _scheme(self, netloc: str) -> str:
        """https, or http for a loopback registry (or any, with tls_verify off) that does not
        speak TLS: found once per host by a TLS handshake."""
        with self._lock:
            if netloc in self._schemes:
                return self._schemes[netloc]
        scheme = "https"
        if not self.tls_verify or is_loopback(netloc):
            host, port = _split_netloc(netloc)
            try:
                with socket.create_connection((host, port or 443), timeout=self.timeout) as raw:
                    context = self._tls()
                    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                    context.wrap_socket(raw, server_hostname=host).close()
            except ssl.SSLError:
                scheme = "http"
            except OSError as e:
                if port is None:
                    scheme = "http"  # nothing on 443: docker then tries 80
                else:
                    raise RegistryError(f"{netloc}: {_oneline(e)}") from None
        with self._lock:
            self._schemes[netloc] = scheme
        return scheme


def choose(index: dict, wanted: Platform, ref: Reference) -> dict:
    """The entry of a list or index for `wanted`, as docker picks it (platforms.choose)."""
    try:
        entry = platforms.choose([m for m in index.get("manifests") or [] if isinstance(m, dict)], str(wanted))
    except ImageError as e:
        raise RegistryError(f"{ref}: {e}") from None
    check_digest(entry.get("digest", ""))
    if not isinstance(entry.get("size"), int):
        raise RegistryError(f"{ref}: the manifest list's entry for {wanted} has no valid size")
    return entry


def _image_manifest(ref: Reference, raw: bytes, media_type: str) -> dict:
    """The manifest, checked to have the shape we rely on."""
    doc = json.loads(raw)
    config = doc.get("config") if isinstance(doc, dict) else None
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(config, dict) or not isinstance(layers, list) or not all(isinstance(d, dict) for d in layers):
        raise RegistryError(f"{ref}: the {media_type} manifest has no config or layers")
    for descriptor in (config, *layers):
        check_digest(descriptor.get("digest", ""))
        if not isinstance(descriptor.get("size"), int) or descriptor["size"] < 0:
            raise RegistryError(f"{ref}: descriptor {descriptor.get('digest')} without a valid size")
    return doc


def _label(ref: Reference, target: str) -> str:
    """host/repo:TAG or host/repo@DIGEST, for messages."""
    return f"{ref.name}{'@' if ':' in target else ':'}{target}"


def _parse_challenge(header: str) -> tuple[str, dict]:
    kind, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return kind.lower(), params


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _split_netloc(netloc: str) -> tuple[str, int | None]:
    parsed = urllib.parse.urlsplit(f"//{netloc}")
    return parsed.hostname or netloc, parsed.port


def _length(response) -> int | None:
    value = response.getheader("Content-Length")
    return int(value) if value and value.isdigit() else None


def _range_total(response) -> int | None:
    match = re.match(r"bytes \d+-\d+/(\d+)", response.getheader("Content-Range") or "")
    return int(match[1]) if match else None


def _skip(response, count: int, digest: str) -> None:
    while count:
        data = response.read(min(count, CHUNK))
        if not data:
            raise RegistryError(f"blob {digest}: shorter than the offset asked for")
        count -= len(data)


def _read(response, limit: int) -> bytes:
    try:
        return response.read(limit)
    except (http.client.HTTPException, OSError):
        return b""


def _bounded(response, limit: int, what: str) -> bytes:
    length = _length(response)
    if length is not None and length > limit:
        raise RegistryError(f"{what}: {length} bytes, more than the {limit} allowed")
    try:
        data = response.read(limit + 1)
    except (http.client.HTTPException, OSError) as e:
        raise RegistryError(f"{what}: {_oneline(e)}") from None
    if len(data) > limit:
        raise RegistryError(f"{what}: more than the {limit} bytes allowed")
    return data


def _release(connection, response) -> None:
    """A connection whose response was not read to its end cannot carry the next request."""
    if not response.isclosed():
        connection.close()


def _message(body: bytes, status: int) -> str:
    """The registry's own words (its errors[].message), else the HTTP status."""
    try:
        errors = json.loads(body).get("errors") or []
        text = "; ".join(_error_text(e) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        text = ""
    return _oneline(text or f"HTTP {status} {http.client.responses.get(status, '')}".strip())[:300]


def _error_text(error: dict) -> str:
    """`code: message` of one of the registry's errors, once when both say the same."""
    code, message = str(error.get("code", "")).lower().replace("_", " "), str(error.get("message", ""))
    return message if code in ("", message.lower()) else f"{code}: {message}" if message else code


def _oneline(error) -> str:
    """An exception's words for the user: the certificate's trouble, an errno's text."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {error.verify_message} (--tls-verify=false skips the check)"
    if isinstance(error, TimeoutError):  # socket.timeout too
        return "timed out"
    if isinstance(error, OSError) and error.strerror and not isinstance(error, ssl.SSLError):
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__
