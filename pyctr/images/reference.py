"""Image references as docker reads them: domain[:port]/path[:tag][@digest], short names
completed with a default registry (docker.io's `library/` rule included), and the
`os/arch[/variant]` platforms a manifest list is chosen by (architecture names from
platforms.py).

Only parsing: whether `busybox` names an image already in the store is the engine's question.
"""

import os
import re

from ..records import record
from . import platforms
from .image import DEFAULT_TAG, InvalidReference

# The grammar of github.com/distribution/reference (regexp.go), piece by piece.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")
_DOMAIN_ONLY = re.compile(rf"^{_DOMAIN}$")
_NAME_TOTAL_LENGTH_MAX = 255
_TEXT_MAX = 1024  # a name, a 128-character tag and a sha512 digest fit
# digests whose hex we can check, and its length
DIGEST_ALGORITHMS = {"sha256": 64, "sha512": 128}

DOCKER_HUB = "docker.io"
DEFAULT_REGISTRY_ENV = "PYCTR_DEFAULT_REGISTRY"


@record
class Reference:
    domain: str  # registry host[:port], as written (docker.io for Docker Hub)
    path: str  # the repository within it: library/debian
    tag: str = ""
    digest: str = ""  # algorithm:hex

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def target(self) -> str:
        """What the registry is asked for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def default_registry() -> str | None:
    """The registry short names resolve against: PYCTR_DEFAULT_REGISTRY, else none."""
    return os.environ.get(DEFAULT_REGISTRY_ENV) or None


def parse(text: str, default_registry: str | None = None) -> Reference:
    """A full reference from `text`: `localhost:5000/library/debian:bookworm`, or a short
    name (`debian`) completed with `default_registry`; no tag and no digest means latest."""
    # a bound before the regex: whatever the engine's backtracking, a huge text is refused at once
    match = _REFERENCE.match(text) if text and len(text) <= _TEXT_MAX else None
    if not match:
        raise InvalidReference(_why_invalid(text))
    name, tag, digest = match["name"], match["tag"] or "", match["digest"] or ""
    if len(name) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"invalid reference {text[:80]!r}...: repository name longer than "
                               f"{_NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        check_digest(digest)
    domain, path = split_domain(name)
    if not domain:
        if not default_registry:
            raise InvalidReference(f"short name {text!r}: no default registry configured; use a full name "
                                   "such as localhost:5000/library/debian")
        if not _DOMAIN_ONLY.match(default_registry):
            raise InvalidReference(f"invalid default registry {default_registry!r}")
        domain = default_registry
    if domain in (DOCKER_HUB, "index.docker.io") and "/" not in path:
        domain, path = DOCKER_HUB, f"library/{path}"
    return Reference(domain, path, tag or ("" if digest else DEFAULT_TAG), digest)


def split_domain(name: str) -> tuple[str, str]:
    """('host:5000', 'a/b') for 'host:5000/a/b'; ('', 'a/b') when the first component is no
    domain: docker takes it as one when it holds '.' or ':', or is 'localhost'."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return "", name


def is_short(text: str) -> bool:
    """Whether `text` names no registry (`debian`, `library/debian:12`)."""
    match = _REFERENCE.match(text or "")
    return bool(match) and not split_domain(match["name"])[0]


def check_digest(digest: str) -> str:
    """`digest` when it is algorithm:hex of an algorithm we verify, else InvalidReference."""
    algorithm, _, hexpart = digest.partition(":")
    length = DIGEST_ALGORITHMS.get(algorithm)
    if length is None:
        raise InvalidReference(f"unsupported digest algorithm in {digest!r}")
    if len(hexpart) != length or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise InvalidReference(f"invalid digest {digest!r}")
    return digest


def _why_invalid(text: str) -> str:
    if not text:
        return "invalid reference: empty"
    shown = text if len(text) <= 80 else text[:80] + "..."
    name = text.partition("@")[0]
    if len(text) > _TEXT_MAX:
        return f"invalid reference {shown!r}: longer than {_TEXT_MAX} characters"
    if any(c.isspace() for c in text):
        return f"invalid reference {shown!r}: contains whitespace"
    if name != name.lower() and not split_domain(name.rpartition(":")[0] or name)[0]:
        return f"invalid reference {shown!r}: repository name must be lowercase"
    return f"invalid reference format: {shown!r}"


# -- platforms --------------------------------------------------------------------------

@record
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    _, architecture, variant = platforms.host()
    return Platform("linux", architecture, _normal_variant(architecture, variant))


def parse_platform(text: str) -> Platform:
    """`linux/arm64`, `linux/arm/v7`, `linux/amd64`: docker's --platform."""
    parts = text.lower().split("/") if text else []
    if not 2 <= len(parts) <= 3 or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
        raise InvalidReference(f"invalid platform {text!r}: expected os/arch[/variant]")
    architecture = _architecture(parts[1])
    return Platform(parts[0], architecture, _normal_variant(architecture, parts[2] if len(parts) == 3 else ""))


def _normal_variant(architecture: str, variant: str) -> str:
    """containerd's normal form: arm64 is v8 unless it says otherwise."""
    return "" if architecture == "arm64" and variant == "v8" else variant


def _architecture(name: str) -> str:
    """GOARCH's name for `name` (x86_64 -> amd64), by platforms.py's table."""
    return platforms.ARCHITECTURES.get(name, (name, ""))[0]
