"""`commit -c` and `import -c`: Dockerfile instructions applied to an image config's
`config` section (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME,
STOPSIGNAL), as docker applies them."""

import json
import shlex

from .image import ImageError

SUPPORTED = ("CMD", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME", "STOPSIGNAL")


def apply(config: dict, changes: list[str]) -> dict:
    """A copy of `config` (an image config's `config` section) with `changes` applied."""
    out = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in config.items()}
    for change in changes:
        instruction, _, rest = change.strip().partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction not in SUPPORTED:
            raise ImageError(f"{instruction or change!r} is not a valid change command (supported: "
                             f"{', '.join(SUPPORTED)})")
        if not rest:
            raise ImageError(f"{instruction} requires at least one argument")
        _APPLY[instruction](out, rest)
    return out


def _command(text: str) -> list[str]:
    """The JSON (exec) form, else the shell form: sh -c TEXT."""
    if text.startswith("["):
        try:
            argv = json.loads(text)
        except ValueError:
            argv = None
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            return argv
    return ["/bin/sh", "-c", text]


def _pairs(text: str, instruction: str) -> list[tuple[str, str]]:
    """KEY=VALUE words (quotes as the shell reads them), or the old `KEY VALUE` form."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ImageError(f"{instruction}: {e}") from None
    if words and "=" not in words[0]:
        return [(words[0], text.partition(" ")[2].strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ImageError(f"{instruction}: expected KEY=VALUE, got {word!r}")
        pairs.append((key, value))
    return pairs


def _env(config: dict, text: str) -> None:
    env = [e for e in config.get("Env") or []]
    for key, value in _pairs(text, "ENV"):
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def _label(config: dict, text: str) -> None:
    config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(text, "LABEL"))}


def _expose(config: dict, text: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in text.split():
        port, _, proto = word.partition("/")
        if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("", "tcp", "udp", "sctp"):
            raise ImageError(f"EXPOSE: invalid port {word!r}")
        ports[f"{int(port)}/{proto or 'tcp'}"] = {}
    config["ExposedPorts"] = ports


def _volume(config: dict, text: str) -> None:
    paths = _command(text) if text.startswith("[") else text.split()
    config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in paths}}


_APPLY = {
    "CMD": lambda c, t: c.__setitem__("Cmd", _command(t)),
    "ENTRYPOINT": lambda c, t: c.__setitem__("Entrypoint", _command(t)),
    "ENV": _env,
    "WORKDIR": lambda c, t: c.__setitem__("WorkingDir", t),
    "USER": lambda c, t: c.__setitem__("User", t),
    "LABEL": _label,
    "EXPOSE": _expose,
    "VOLUME": _volume,
    "STOPSIGNAL": lambda c, t: c.__setitem__("StopSignal", t),
}
