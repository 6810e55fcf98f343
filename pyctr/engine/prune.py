"""`container prune` and `system prune`: what nothing uses, removed as docker removes it.
Stopped containers (created or exited; never a running, paused or starting one) go as
`rm` removes them; `system prune` then takes unused networks, dangling images (every
unused one with --all) and, with --volumes, anonymous volumes no container uses."""


from ..records import record
from . import containers, lifecycle, views
from .errors import Conflict, PyctrError
from .paths import Paths
from .store import Store



@record
class Pruned:
    """What a prune removed (ids or names, per kind) and the bytes it freed."""
    containers: list[str] = []
    networks: list[str] = []
    images: list[str] = []
    volumes: list[str] = []
    freed: int = 0
    warnings: list[str] = []


def parse_filters(filters: list[str]) -> dict:
    """docker's prune filters: until=TIME (a duration ago: 10m, 24h; Unix seconds; or
    2026-12-01T10:00:00), label=KEY[=VALUE], label!=KEY[=VALUE].  An unknown key is
    docker's error, exit 1."""
    out: dict = {"until": None, "label": [], "label!": []}
    for text in filters:
        key, sep, value = text.partition("=")
        if not sep or key not in out:
            raise PyctrError(f"invalid filter '{text}'", exit_code=1)
        if key == "until":
            out["until"] = parse_time(value)
        else:
            out[key].append(value)
    return out


def parse_time(text: str, now: float | None = None) -> float:
    """A point in time as docker's filters take it (timestamps.parse), in seconds."""
    from ..timestamps import ns, parse
    try:
        return parse(text, None if now is None else ns(now)) / 1e9
    except ValueError:
        raise PyctrError(f"invalid time in filter: {text!r} (use 10m, 24h, a Unix time or 2026-12-01T10:00:00)",
                         exit_code=1) from None


def _matches(paths: Paths, record, filters: dict) -> bool:
    if filters["until"] is not None and record.created >= filters["until"]:
        return False
    if filters["label"] or filters["label!"]:
        from .spec import labels
        have = labels(containers.read_config(paths, record.id) or {})

        def has(spec: str) -> bool:
            key, sep, value = spec.partition("=")
            return key in have and (not sep or have[key] == value)
        if not all(has(s) for s in filters["label"]) or any(has(s) for s in filters["label!"]):
            return False
    return True


def prune_containers(paths: Paths, store: Store, filters: list[str] = ()) -> Pruned:
    """Every stopped container (created or exited) the filters take, removed as `rm`
    does; one that started meanwhile is left.  Freed: their upper dirs' bytes."""
    from .volumes import size
    wanted = parse_filters(list(filters))
    out = Pruned()
    for row in store.list_containers():
        container = views.refresh(paths, store, row)
        if container.status not in ("created", "exited") or not _matches(paths, container, wanted):
            continue
        freed = size(paths.container_file(container.id, "upper"))
        try:
            lifecycle.remove(paths, store, container.id)
        except Conflict:  # its restart policy's back-off began meanwhile: not stopped, and docker says nothing
            continue
        except PyctrError as e:  # started, or removed, meanwhile
            out.warnings.append(str(e))
            continue
        out.containers.append(container.id)
        out.freed += freed
    return out


def prune_system(paths: Paths, store: Store, all_images: bool = False, volumes: bool = False,
                 filters: list[str] = ()) -> Pruned:
    """`system prune`: stopped containers, then the networks, images and (with `volumes`)
    anonymous volumes that nothing uses any more."""
    out = prune_containers(paths, store, filters)
    from . import network_records
    if network_records.list_networks(store):  # no network: nothing of the network stack loaded
        from . import networks
        out.networks = networks.prune(paths, store)
    if volumes:
        from . import volumes as volume_store
        out.volumes, freed = volume_store.prune(paths, store)
        out.freed += freed
    from . import images
    out.images, freed = images.prune(paths, store, all_images)
    out.freed += freed
    return out
