"""Platforms (os/architecture/variant): this host's, `--platform` parsed, and the entry of a
manifest list or index chosen as docker chooses it."""

import platform as _platform

from .image import ImageError

# uname's machine -> OCI architecture (Go's GOARCH names), with the variant docker assumes
ARCHITECTURES = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
                 "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
                 "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""),
                 "riscv64": ("riscv64", "")}


def host() -> tuple[str, str, str]:
    arch, variant = ARCHITECTURES.get(_platform.machine(), (_platform.machine(), ""))
    return "linux", arch, variant


def parse(text: str | None) -> tuple[str, str, str]:
    """'linux/arm64/v8' -> ('linux', 'arm64', 'v8'); None -> this host's."""
    if not text:
        return host()
    parts = text.lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageError(f"invalid platform {text!r}: expected os/arch[/variant]")
    os_, arch = parts[0], ARCHITECTURES.get(parts[1], (parts[1], ""))[0]
    return os_, arch, parts[2] if len(parts) == 3 else ""


def name(p: tuple[str, str, str]) -> str:
    return "/".join(x for x in p if x)


def choose(descriptors: list, wanted: str | None) -> dict:
    """The descriptor for the platform: os and architecture must match; among those an
    exact variant first, then one without a variant (docker's order)."""
    os_, arch, variant = parse(wanted)
    matches = []
    for d in descriptors:
        p = (d or {}).get("platform") or {}
        if p.get("os") == os_ and p.get("architecture") == arch:
            matches.append(d)
    exact = [d for d in matches if (d.get("platform") or {}).get("variant", "") == variant]
    loose = [d for d in matches if not (d.get("platform") or {}).get("variant")]
    chosen = exact or loose or (matches if not variant else [])
    if not chosen:
        offered = sorted({name(((d.get("platform") or {}).get("os", "?"), (d.get("platform") or {}).get(
            "architecture", "?"), (d.get("platform") or {}).get("variant", ""))) for d in descriptors if d})
        raise ImageError(f"no image for platform {name((os_, arch, variant))} in the manifest list"
                         f" (it has: {', '.join(offered) or 'none'})")
    return chosen[0]
