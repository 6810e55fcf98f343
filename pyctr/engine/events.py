"""What happens to containers, images, networks and volumes, as docker's events: recorded
in the store's `events` table (the last LIMIT of them), read back and followed by
`pyctr events`.

Recording is on the run path, so it costs next to nothing there: an event rides in the
transaction that records the change it tells of (its row commits with that change, or
not at all), and this module imports only fastjson.  Two ways in:

    emit(store, "container", "pause", id, name=...)   now: in the transaction open on the
                                                      store, else in one of its own
    queue(store, "container", "start", id, ...)       with the store's next transaction:
                                                      called just before the store call
                                                      that records the change

An event: its time (ns since the epoch, docker's timeNano), type (container, image,
network, volume), action (create, start, die, ...), actor (an id; a volume's name, an
image pull's reference) and attributes (strings: a container's name, image and labels,
exitCode on die, signal on kill).  event_stream.py reads them back.
"""

import time

from .. import fastjson

LIMIT = 10000  # events kept (docker keeps its last 256 in memory, none across a restart)


def queue(store, type_: str, action: str, actor: str, **attributes) -> None:
    """The event, written by the store's next transaction (dropped if that one fails)."""
    store.queued_events.append((time.time_ns(), type_, action, actor,
                                fastjson.dumps({k: str(v) for k, v in attributes.items()})))


def emit(store, type_: str, action: str, actor: str, **attributes) -> None:
    """The event, written now: in the store's open transaction (it commits with it), or
    in a transaction of its own."""
    queue(store, type_, action, actor, **attributes)
    if not store.db.in_transaction:
        with store.transaction():
            pass  # its commit writes what is queued


PRUNE_EVERY = 64  # rows: the oldest go in batches, so most commits write no page of theirs


def write(db, queued: list) -> None:
    """Inside a transaction (the store's, as it commits): the queued rows; and each time
    the seq passes a multiple of PRUNE_EVERY, those beyond the last LIMIT removed (a range
    of the primary key).  Each page a commit changes is one more page into the WAL (and
    checkpoints come sooner): an event's costs its page, a removal on every insert would
    cost the table's first page too."""
    for row in queued:
        last = db.execute("INSERT INTO events (time, type, action, actor, attributes) VALUES (?,?,?,?,?)",
                          row).lastrowid
    if last // PRUNE_EVERY != (last - len(queued)) // PRUNE_EVERY:
        db.execute("DELETE FROM events WHERE seq <= ?", (last - LIMIT,))


def container_attributes(record, config: dict | None) -> dict:
    """docker's attributes of a container's events: its labels, image (as the user named
    it) and name."""
    from .spec import labels
    return {**(labels(config) if config else {}), "image": record.image_ref, "name": record.name}


def container(store, action: str, record, config: dict | None = None, now: bool = False, **extra) -> None:
    """A container's event, with its attributes (and `extra`): queued, or with `now` emitted."""
    (emit if now else queue)(store, "container", action, record.id, **container_attributes(record, config), **extra)


def image_attributes(image, name: str) -> dict:
    """docker's attributes of an image's events: its labels, and `name`."""
    return {**((image.config.get("config") or {}).get("Labels") or {}), "name": name}
