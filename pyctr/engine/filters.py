"""docker's --filter for `ps` and `images`: KEY=VALUE, repeatable.  Values of one key are
ORed, different keys ANDed, as docker does; `label` is the exception, as in docker: every
label asked for must be there.

    ps:     id, name (regular expressions, unanchored), label=KEY / label=KEY=VALUE,
            status, exited=CODE, ancestor=IMAGE (name[:tag], id, or an image built on it),
            before=CONTAINER, since=CONTAINER, volume=NAME|DESTINATION, network=NAME|ID,
            publish / expose=PORT[-PORT][/PROTO] (the container's side; expose: the image's
            ExposedPorts too), and what pyctr has no use for answered as docker would on a
            host without it: health (no health checks: none), is-task (no swarm: false),
            isolation (default)
    images: dangling=true|false, label, reference=GLOB (* stops at /), before=IMAGE,
            since=IMAGE

A key neither knows is docker's error: `invalid filter 'foo'`, exit 1."""

from .errors import PyctrError, UsageError

CONTAINER_KEYS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since", "volume", "network",
                  "publish", "expose", "health", "is-task", "isolation")
IMAGE_KEYS = ("dangling", "label", "reference", "before", "since")
# docker's container states; pyctr's "starting" is shown (and filtered) as created
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
USAGE = 1  # docker's exit code for a filter the daemon refuses


class FilterError(PyctrError):
    """A filter docker's daemon would refuse."""

    def __init__(self, message: str):
        super().__init__(message, USAGE)


def parse(specs: list[str] | None, keys: tuple[str, ...]) -> dict[str, list[str]]:
    """["status=exited", "label=a=b"] -> {"status": ["exited"], "label": ["a=b"]}."""
    wanted: dict[str, list[str]] = {}
    for spec in specs or ():
        key, sep, value = spec.partition("=")
        key = key.strip().lower()
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {spec!r}")
        if key not in keys:
            raise FilterError(f"invalid filter '{key}'")
        wanted.setdefault(key, []).append(value)
    return wanted


def label_matches(labels: dict, wanted: list[str]) -> bool:
    """Every `KEY` present and every `KEY=VALUE` equal."""
    for spec in wanted:
        key, sep, value = spec.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _flag(value: str, key: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise FilterError(f"invalid filter '{key}={value}'")


def glob_regex(pattern: str) -> str:
    """Go's path.Match as a regular expression: * and ? never cross a /."""
    import re
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise FilterError(f"invalid reference pattern {pattern!r}")
            out.append(pattern[i:end + 1])
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _regex(value: str, key: str):
    import re
    try:
        return re.compile(value)
    except re.error as e:
        raise FilterError(f"invalid filter '{key}={value}': {e}") from None


def _found(lookup, *args):
    """A container or image a filter names; one missing is the filter's error (exit 1)."""
    from .errors import NotFound
    try:
        return lookup(*args)
    except NotFound as e:
        raise FilterError(str(e)) from None


# containers

class ContainerFacts:
    """What the container filters read beyond the row, looked up when a filter asks."""

    def __init__(self, paths, store):
        self.paths, self.store = paths, store
        self._configs: dict = {}
        self._layers: dict = {}

    def config(self, container_id: str) -> dict:
        if container_id not in self._configs:
            from .containers import read_config
            self._configs[container_id] = read_config(self.paths, container_id) or {}
        return self._configs[container_id]

    def labels(self, record) -> dict:
        from .spec import labels
        return labels(self.config(record.id))

    def image_layers(self, image_id: str) -> list[str]:
        if image_id not in self._layers:
            found = self.store.images_by_id_prefix(image_id)
            self._layers[image_id] = found[0].layers if found else []
        return self._layers[image_id]

    def volumes(self, record) -> set[str]:
        """The names of the volumes it mounts and the destinations of all its mounts."""
        from .volumes import requests_of
        shown = set()
        for request in requests_of(self.config(record.id)):
            shown.add(request.destination)
            if request.type == "volume":
                shown.add(request.source)
        return shown

    def ports(self, record, exposed: bool) -> set[tuple[int, str]]:
        """(port, proto) it publishes; with `exposed`, its image's ExposedPorts too."""
        from . import network_records
        found = {(int(row[4]), row[1]) for row in network_records.ports(self.store, record.id)}
        if exposed:
            image = self.store.images_by_id_prefix(record.image_id)
            for spec in ((image[0].config.get("config") or {}).get("ExposedPorts") or {}) if image else ():
                port, _, proto = spec.partition("/")
                if port.isdigit():
                    found.add((int(port), proto or "tcp"))
        return found

    def networks(self, record) -> set[str]:
        """Names and ids of its networks; "none" or "host" for those modes."""
        from .views import networks_of
        return {word for pair in networks_of(self.store, record.id) for word in pair}


def shown_status(record) -> str:
    return "created" if record.status == "starting" else record.status


def _container_test(facts: ContainerFacts, key: str, values: list[str]):
    if key in ("id", "name"):
        patterns = [_regex(v, key) for v in values]
        if key == "id":
            return lambda r: any(p.search(r.id) for p in patterns)
        return lambda r: any(p.search(r.name) or p.search("/" + r.name) for p in patterns)
    if key == "label":
        return lambda r: label_matches(facts.labels(r), values)
    if key == "status":
        for value in values:
            if value not in STATUSES:
                raise FilterError(f"invalid filter 'status={value}': the status is one of {', '.join(STATUSES)}")
        return lambda r: shown_status(r) in values
    if key == "exited":
        try:
            codes = {int(v) for v in values}
        except ValueError:
            raise FilterError(f"invalid filter 'exited={values[0]}': an exit code is a number") from None
        return lambda r: r.status == "exited" and r.exit_code in codes
    if key == "ancestor":
        ancestors = [_ancestor_layers(facts, value) for value in values]
        return lambda r: any(_descends(facts, r.image_id, a) for a in ancestors)
    if key in ("before", "since"):
        from .containers import lookup
        times = [_found(lookup, facts.store, value).created for value in values]
        edge = min(times) if key == "before" else max(times)
        return (lambda r: r.created < edge) if key == "before" else (lambda r: r.created > edge)
    if key == "volume":
        return lambda r: bool(facts.volumes(r) & set(values))
    if key in ("publish", "expose"):
        ranges = [port_range(v, key) for v in values]
        return lambda r: any(low <= port <= high and proto == want for port, proto in facts.ports(r, key == "expose")
                             for low, high, want in ranges)
    if key == "health":
        for value in values:
            if value not in ("starting", "healthy", "unhealthy", "none"):
                raise FilterError(f"Unrecognised filter value for health: {value}")
        return lambda r: "none" in values  # no health checks
    if key == "is-task":
        task = {_flag(v, key) for v in values}
        return lambda r: False in task
    if key == "isolation":
        return lambda r: "default" in values
    return lambda r: bool(facts.networks(r) & set(values))  # network


def port_range(spec: str, key: str) -> tuple[int, int, str]:
    """"80", "80/udp", "8000-8080/tcp" -> (low, high, proto)."""
    ports, _, proto = spec.partition("/")
    low, _, high = ports.partition("-")
    if not low.isdigit() or (high and not high.isdigit()) or proto not in ("", "tcp", "udp", "sctp"):
        raise FilterError(f"invalid filter '{key}={spec}'")
    return int(low), int(high or low), proto or "tcp"


def _ancestor_layers(facts: ContainerFacts, ref: str) -> tuple[str, list[str]]:
    """(id, layers) of the image `ref` names; one no image has matches nothing, as in docker."""
    from .errors import NotFound
    from .images import find
    try:
        image = find(facts.paths, facts.store, ref)
    except NotFound:
        return ("", [])
    return image.id, image.layers


def _descends(facts: ContainerFacts, image_id: str, ancestor: tuple[str, list[str]]) -> bool:
    """The image itself, or one whose layers start with all of the ancestor's."""
    ancestor_id, layers = ancestor
    if not ancestor_id:
        return False
    if image_id == ancestor_id:
        return True
    mine = facts.image_layers(image_id)
    return bool(layers) and len(mine) > len(layers) and mine[:len(layers)] == layers


# images

def images(paths, store, rows: list, specs: list[str] | None) -> list:
    """The image rows (one per tag, as store.list_images gives them) that pass every filter."""
    wanted = parse(specs, IMAGE_KEYS)
    tests = [_image_test(paths, store, key, values) for key, values in wanted.items()]
    return [image for image in rows if all(test(image) for test in tests)]


def dangling(image) -> bool:
    return image.repository in ("", "<none>") and image.tag in ("", "<none>")


def _image_test(paths, store, key: str, values: list[str]):
    if key == "dangling":
        flags = {_flag(v, key) for v in values}
        return lambda image: dangling(image) in flags
    if key == "label":
        return lambda image: label_matches((image.config.get("config") or {}).get("Labels") or {}, values)
    if key == "reference":
        import re
        patterns = [re.compile(glob_regex(v)) for v in values]
        return lambda image: not dangling(image) and any(
            p.fullmatch(image.repository) or p.fullmatch(f"{image.repository}:{image.tag}") for p in patterns)
    from .images import find  # before, since
    times = [_found(find, paths, store, value).created for value in values]
    edge = min(times) if key == "before" else max(times)
    return (lambda image: image.created < edge) if key == "before" else (lambda image: image.created > edge)


def with_paused(paths, records: list) -> list:
    """The records, a running one whose cgroup is frozen marked "paused" (docker's state;
    the store keeps it running): for `ps` to show and filter."""
    from .containers import is_paused
    for r in records:
        if r.status == "running" and is_paused(paths, r):
            r.status = "paused"
    return records


def listing(paths, store, records: list, specs: list[str] | None, all_: bool = False,
            last: int | None = None) -> list:
    """`ps`'s selection from the records (newest first): the running ones unless `all_`, a
    status filter or `last` asks for every state (as docker), the filters, then the `last`
    N created (-n; -l is 1)."""
    wanted = parse(specs, CONTAINER_KEYS)
    if not (all_ or "status" in wanted or (last is not None and last > 0)):
        # docker's: what runs, frozen or waiting for its restart policy too
        records = [r for r in records if r.status in ("running", "paused", "restarting")]
    if wanted:
        facts = ContainerFacts(paths, store)
        tests = [_container_test(facts, key, values) for key, values in wanted.items()]
        records = [r for r in records if all(test(r) for test in tests)]
    return records[:last] if last is not None and last > 0 else records
