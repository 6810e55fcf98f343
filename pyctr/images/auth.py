"""Registry credentials in a docker-compatible auth file ({"auths": {host: {"auth":
base64(user:password)}}}): where it lies, read, written 0600 atomically, and login (checked
against the registry first) and logout."""

import base64
import binascii
import json
import os

from .image import ImageError
from .reference import DOCKER_HUB

AUTH_FILE_ENV = "REGISTRY_AUTH_FILE"
# the names docker and podman file Docker Hub's credentials under
_HUB_KEYS = (DOCKER_HUB, "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")
MAX_AUTH_FILE = 1 << 20


def auth_file(root: str) -> str:
    """$REGISTRY_AUTH_FILE, else <root>/auth.json."""
    return os.environ.get(AUTH_FILE_ENV) or os.path.join(root, "auth.json")


def load(path: str) -> dict:
    """The file's content ({"auths": {}} when there is none); a broken file is an error."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_AUTH_FILE + 1)
    except FileNotFoundError:
        return {"auths": {}}
    except OSError as e:
        raise ImageError(f"cannot read the auth file {path}: {e.strerror}") from None
    try:
        doc = json.loads(data) if len(data) <= MAX_AUTH_FILE else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.setdefault("auths", {}), dict):
        raise ImageError(f"the auth file {path} is not a valid docker auth file")
    return doc


def credentials(path: str, domain: str) -> tuple[str, str] | None:
    """(user, password) kept for the registry `domain`, or None."""
    auths = load(path)["auths"]
    for key in _keys(domain):
        entry = auths.get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, TypeError):
                raise ImageError(f"the auth file {path}: invalid credentials for {key}") from None
            if sep:
                return user, password
    return None


def lookup(path: str):
    """credentials() as the registry client's `credentials(domain)` callback."""
    return lambda domain: credentials(path, domain)


def save(path: str, doc: dict) -> None:
    """Written to a temp file 0600 and renamed over: never half a file, never readable by others."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a umask cannot loosen it, a stale temp file's mode is not kept
        with os.fdopen(fd, "w") as f:
            fd = -1
            json.dump(doc, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def login(path: str, domain: str, user: str, password: str, tls_verify: bool = True) -> None:
    """Checks the credentials against the registry (GET /v2/, a Bearer challenge answered),
    then keeps them."""
    from .registry import Client  # the client only when a login is made
    if not user or ":" in user:
        raise ImageError("login: a user name is required, without ':'")
    if not password:
        raise ImageError("login: a password is required")
    Client(credentials=lambda _: (user, password), tls_verify=tls_verify).check(domain)
    doc = load(path)
    for key in _keys(domain):
        doc["auths"].pop(key, None)
    doc["auths"][domain] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    save(path, doc)


def logout(path: str, domain: str) -> None:
    doc = load(path)
    removed = [doc["auths"].pop(key) for key in _keys(domain) if key in doc["auths"]]
    if not removed:
        raise ImageError(f"not logged in to {domain}")
    save(path, doc)


def _keys(domain: str) -> tuple[str, ...]:
    return _HUB_KEYS if domain in _HUB_KEYS else (domain,)
