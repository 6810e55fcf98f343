"""`pyctr events`: the events the engine recorded (events.py) read back as docker's
Messages, filtered as docker's daemon filters them, and followed as they come.  Nothing of
this is on the run path: events.py, which is, stays small."""

import time

from .. import fastjson
from .filters import label_matches, parse  # as ps and images read and match them

ACCEPTED_FILTERS = ("container", "event", "status", "type", "image", "label", "network", "volume", "scope",
                    "daemon", "plugin", "node", "service", "secret", "config")
_FUZZY = ("container", "network", "volume", "plugin", "node", "service", "secret", "config")
# the JSON keys docker's events.Message has under other names in a Go template
_GO_NAMES = {"Status": "status", "ID": "id", "From": "from", "Scope": "scope", "Time": "time", "TimeNano": "timeNano"}


class Message(dict):
    """One event in docker's JSON shape (status, id, from, Type, Action, Actor, scope, time,
    timeNano); a template reads it by the Go names too (.Status, .ID, .TimeNano), and
    .Status, .ID and .From are "" where the JSON leaves them out (networks, volumes)."""

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in _GO_NAMES

    def __getitem__(self, key):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in _GO_NAMES:
            return self.get(_GO_NAMES[key], "")
        raise KeyError(key)


class _GoMap(dict):
    """Attributes as a Go template sees docker's map[string]string: a key it lacks reads
    as "<no value>" (`{{.Actor.Attributes.exitCode}}` over events of every kind)."""

    def __contains__(self, key) -> bool:
        return True

    def __missing__(self, key):
        return "<no value>"


def for_template(event: Message) -> Message:
    """The event as a template reads it (see _GoMap)."""
    return Message(event, Actor={"ID": event["Actor"]["ID"], "Attributes": _GoMap(event["Actor"]["Attributes"])})


def message(row) -> Message:
    """A row (seq, time, type, action, actor, attributes) as docker's events.Message."""
    _, ns, type_, action, actor, attributes = row
    attrs = fastjson.loads(attributes)
    out = Message()
    if type_ in ("container", "image"):  # docker's older fields, kept for these two
        out.update(status=action, id=actor)
        if type_ == "container" and "image" in attrs:
            out["from"] = attrs["image"]
    out.update(Type=type_, Action=action, Actor={"ID": actor, "Attributes": attrs}, scope="local",
               time=ns // 1_000_000_000, timeNano=ns)
    return out


def line(event: Message) -> str:
    """docker's default line: 2026-12-02T09:40:43.123456789Z container start ID (image=busybox, name=web)."""
    ns = event["timeNano"]
    text = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z "
            f"{event['Type']} {event['Action']} {event['Actor']['ID']}")
    attrs = event["Actor"]["Attributes"]
    if attrs:
        text += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return text


def parse_filters(texts: list[str]) -> dict[str, set[str]]:
    """`--filter k=v`s as {key: values}: values of one key are ORed, keys ANDed (labels,
    as docker, all must match).  status= is event='s other name."""
    filters: dict[str, set[str]] = {}
    for key, values in parse(texts, ACCEPTED_FILTERS).items():
        filters.setdefault("event" if key == "status" else key, set()).update(values)
    return filters


def _exact(filters: dict, key: str, source: str) -> bool:
    return key not in filters or source in filters[key]


def _fuzzy(filters: dict, key: str, source: str) -> bool:
    """docker's FuzzyMatch: the value, or a prefix of it (an id's short form)."""
    if key not in filters:
        return True
    return bool(source) and any(source.startswith(v) for v in filters[key])


def _strip_tag(name: str) -> str:
    """busybox:latest -> busybox (a digest or a port is kept)."""
    if "@" in name:
        return name.partition("@")[0]
    repository, sep, tag = name.rpartition(":")
    return repository if sep and "/" not in tag else name


def matches(filters: dict, event: Message) -> bool:
    """Whether the event passes the filters, as docker's daemon decides it."""
    if not filters:
        return True
    attrs = event["Actor"]["Attributes"]
    actor, name = event["Actor"]["ID"], attrs.get("name", "")
    action = event["Action"]
    if "event" in filters and not (action in filters["event"] or any(
            v in ("exec_create", "exec_start", "health_status") and action.startswith(v) for v in filters["event"])):
        return False
    if not _exact(filters, "type", event["Type"]) or not _exact(filters, "scope", "local") or "daemon" in filters:
        return False
    if not all(_fuzzy(filters, key, actor) or _fuzzy(filters, key, name) for key in _FUZZY if key in filters):
        return False
    if "image" in filters:
        image = attrs.get("name" if event["Type"] == "image" else "image", "")
        if not {actor, image, _strip_tag(actor), _strip_tag(image)} & filters["image"]:
            return False
    return label_matches(attrs, filters.get("label", ()))


def parse_time(text: str, now_ns: int | None = None) -> int:
    """A --since/--until as docker reads it (timestamps.parse), in ns since the epoch;
    `now` too (pyctr's; docker: 0s)."""
    from ..timestamps import parse
    from .errors import PyctrError
    now_ns = time.time_ns() if now_ns is None else now_ns
    if text.strip() == "now":
        return now_ns
    try:
        return parse(text, now_ns)
    except ValueError:
        raise PyctrError(f'failed to parse value as time or duration: "{text}"', exit_code=1) from None


def last_seq(store) -> int:
    """The seq of the last event recorded (0: none)."""
    return store.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]


def _rows(store, after: int, upto: int | None, since: int | None, until: int | None) -> list:
    return store.db.execute(
        "SELECT seq, time, type, action, actor, attributes FROM events WHERE seq > ? AND (? IS NULL OR seq <= ?)"
        " AND (? IS NULL OR time >= ?) AND (? IS NULL OR time <= ?) ORDER BY seq",
        (after, upto, upto, since, since, until, until)).fetchall()


def stream(store, since: int | None = None, until: int | None = None, filters: dict | None = None,
           follow: bool = True, poll: float = 0.15, now_ns: int | None = None):
    """The events (docker's Messages) that pass `filters`, in the order recorded: those
    kept of the past when `since` or `until` is given (none otherwise, as docker), then,
    with `follow`, new ones as they come (the table polled every `poll` s) until `until`
    passes, if it was given, or forever."""
    filters = filters or {}
    now_ns = time.time_ns() if now_ns is None else now_ns
    seen = last_seq(store)
    if since is not None or until is not None:
        for row in _rows(store, 0, seen, since, until):
            event = message(row)
            if matches(filters, event):
                yield event
    if not follow or (until is not None and until <= now_ns):
        return
    while until is None or time.time_ns() <= until:
        time.sleep(poll if until is None else max(0.0, min(poll, (until - time.time_ns()) / 1e9)))
        for row in _rows(store, seen, None, since, until):
            seen = row[0]
            event = message(row)
            if matches(filters, event):
                yield event
