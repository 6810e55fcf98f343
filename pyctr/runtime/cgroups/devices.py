"""The OCI device rules (`linux.resources.devices`) as both drivers take them: read with the
OCI defaults, and checked by the C core's one judge of a rule (csrc/devicefilter.c), so that
v1, which writes devices.allow and devices.deny, and v2, which loads the rules as an eBPF
program, refuse the same rule sets with the same words."""

from .. import _core
from ..errors import ConfigError

ANY = -1
# What every container may use, whatever its rules (runc adds the same after them): mknod
# of any node (opening one still takes a rule), the OCI default devices, /dev/tty,
# /dev/console, /dev/ptmx and the ptys.  Without the deny before them CAP_MKNOD would let
# a container make and read the host's disks.
DEFAULT_ALLOWED = [
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
      for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None))),
]


DENY_ALL = {"allow": False, "access": "rwm"}


def with_defaults(rules: list, devices: list) -> list:
    """DENY_ALL, a config's rules, then DEFAULT_ALLOWED and the config's own linux.devices (a
    device the config makes is one it may use): the rules the OCI CLI applies, as runc's
    start from deny."""
    made = [{"allow": True, "type": d.get("type"), "major": d.get("major"), "minor": d.get("minor"),
             "access": "rwm"} for d in devices if isinstance(d, dict) and d.get("type") in ("c", "b", "u")]
    for rule in made:
        if rule["type"] == "u":
            rule["type"] = "c"
    return [DENY_ALL, *rules, *DEFAULT_ALLOWED, *made]
_OUT_OF_RANGE = -2  # what the C core refuses as a number, with its own message


def rules(devices) -> list[tuple[bool, str, int, int, str]]:
    """OCI rules -> (allow, type, major, minor, access), unset fields as the spec defaults
    them (type a, any number, rwm); a malformed field is passed on in a form the C core
    refuses, so that one place words every refusal."""
    if not isinstance(devices, list):
        raise ConfigError("linux.resources.devices must be a list")
    out = []
    for i, rule in enumerate(devices, 1):
        if not isinstance(rule, dict) or not isinstance(rule.get("allow"), bool):
            raise ConfigError(f"device rule {i}: allow must be true or false")
        kind = rule.get("type") or "a"
        access = rule.get("access") or "rwm"
        out.append((rule["allow"], kind if isinstance(kind, str) and len(kind) == 1 else "?",
                    _number(rule.get("major")), _number(rule.get("minor")),
                    access if isinstance(access, str) else None))
    return out


def _number(value) -> int:
    if value is None:
        return ANY
    # bool is an int to Python, never a device number; past 2**31 the C core says why
    return value if type(value) is int and -2 <= value <= 1 << 32 else _OUT_OF_RANGE


def program(devices) -> bytes:
    """The eBPF program for OCI rules; ConfigError for a bad rule."""
    return _core.device_filter(rules(devices))


def checked(devices) -> list[tuple[bool, str, int, int, str]]:
    """rules(), judged as v2 judges them (ConfigError for a bad one): what v1 writes."""
    out = rules(devices)
    _core.device_filter(out)
    return out


def check_update(devices) -> None:
    """The rules an update gives must be the whole list, from an 'a' rule on: v1 would add
    a list without one to the rules in force, and v2, which replaces its program, would
    make it the only rules.  No rules at all is no change."""
    if devices and not any(isinstance(r, dict) and (r.get("type") or "a") == "a" for r in devices):
        raise ConfigError("an update's device rules must give the whole list, from a rule for all devices (a)")


def v1_line(rule: tuple[bool, str, int, int, str]) -> str:
    """(True, "c", 1, 3, "rwm") -> "c 1:3 rwm", what devices.allow and devices.deny take."""
    _, kind, major, minor, access = rule
    return f"{kind} {'*' if major == ANY else major}:{'*' if minor == ANY else minor} {access}"
