"""The state store: one SQLite database (WAL) for images, containers and, later, networks.

Every change is one transaction, so a crash leaves either the old or the new state.
"""

import os

try:
    # sqlite3's own C module: the sqlite3 package around it only adds adapters for
    # datetime, and imports datetime and collections.abc for them (about 3 ms here;
    # _sqlite3 itself still imports functools, for its statement cache)
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - another Python
    import sqlite3

from .. import fastjson
from ..records import record
from .errors import Conflict, PyctrError

SCHEMA_VERSION = 11

SCHEMA = """
CREATE TABLE images (
    id TEXT PRIMARY KEY,          -- sha256 of the image config, hex
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    layers TEXT NOT NULL,         -- JSON list of layer digests (hex), lowest first
    config TEXT NOT NULL          -- the OCI image config, JSON
);
CREATE TABLE image_tags (
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repository, tag)
);
CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    image_ref TEXT NOT NULL,      -- as the user named it
    command TEXT NOT NULL,        -- JSON argv
    created REAL NOT NULL,
    status TEXT NOT NULL,         -- created | starting | running | restarting | exited
    pid INTEGER,
    pid_start INTEGER,            -- start time of pid (clock ticks), against pid reuse
    exit_code INTEGER,
    started REAL,
    finished REAL
);
"""
# Each step takes the schema from version i+1 to i+2.
MIGRATIONS = [
    """
    ALTER TABLE containers ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE containers ADD COLUMN final_stats TEXT;
    """,
    # the last run's monitor (pid and start time): a new run waits until it has gone
    """
    ALTER TABLE containers ADD COLUMN monitor_pid INTEGER;
    ALTER TABLE containers ADD COLUMN monitor_start INTEGER;
    """,
    # where the runtime keeps the container's state (the runroot it was made under)
    """
    ALTER TABLE containers ADD COLUMN runtime_root TEXT;
    """,
    # host id ranges of user namespaces, each held by a container (or, until its row is
    # written, by the pyctr making it): --userns=auto takes one that none overlaps
    """
    CREATE TABLE id_ranges (
        container_id TEXT NOT NULL,
        kind TEXT NOT NULL,           -- uid | gid
        host_start INTEGER NOT NULL,
        size INTEGER NOT NULL,
        auto INTEGER NOT NULL,        -- taken by --userns=auto: no other container may share it
        holder_pid INTEGER,           -- the pyctr that took it, and its start time
        holder_start INTEGER
    );
    CREATE INDEX id_ranges_container ON id_ranges (container_id);
    """,
    # images in the content-addressed store: each keeps its manifest (a blob), its layers
    # are rows (unpacked once, by chain id, shared), and the digests it was pulled by.
    # The built-in busybox of before had no manifest: it is made again on first use, with
    # the same id (its config and layer are reproducible).
    """
    ALTER TABLE images ADD COLUMN manifest TEXT;
    DELETE FROM image_tags WHERE image_id IN (SELECT id FROM images WHERE manifest IS NULL);
    DELETE FROM images WHERE manifest IS NULL;
    CREATE TABLE layers (
        chain_id TEXT PRIMARY KEY,    -- hex: its directory, layers/<chain_id>/diff
        diff_id TEXT NOT NULL,        -- sha256:... of the uncompressed tar
        parent TEXT,                  -- the chain id below it
        size INTEGER NOT NULL,        -- bytes of its files, unpacked
        blob TEXT NOT NULL,           -- sha256:... of the bytes as kept (blobs/)
        blob_size INTEGER NOT NULL,
        media_type TEXT NOT NULL
    );
    CREATE TABLE image_digests (
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,         -- the manifest digest it was pulled by
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (repository, digest)
    );
    """,
    # volumes: named and anonymous
    # volumes under <root>/volumes/<name>/_data, and which container uses which, a stopped
    # one too (a volume in use cannot be removed).  `creator`: the container whose run
    # made it, so that a failed run takes the volume it made with it.
    """
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL,
        driver TEXT NOT NULL DEFAULT 'local',
        labels TEXT NOT NULL DEFAULT '{}',  -- JSON object
        anonymous INTEGER NOT NULL DEFAULT 0,
        creator TEXT
    );
    CREATE TABLE container_volumes (
        container_id TEXT NOT NULL,
        volume TEXT NOT NULL REFERENCES volumes(name),
        PRIMARY KEY (container_id, volume)
    );
    CREATE INDEX container_volumes_volume ON container_volumes (volume);
    """,
    # networks (engine/network_records.py): each a bridge; a container's way onto them
    # (`netconf`: its mode and -p/--dns/--add-host; `endpoints`: the networks it is on),
    # and what a running one holds: an address on each (`leases`) and host ports (`ports`)
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        driver TEXT NOT NULL,
        bridge TEXT NOT NULL UNIQUE,  -- the Linux bridge
        subnet TEXT NOT NULL,         -- 10.88.0.0/16
        gateway TEXT NOT NULL,        -- the bridge's address
        mtu INTEGER NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        options TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE TABLE netconf (
        container_id TEXT PRIMARY KEY,
        mode TEXT NOT NULL,           -- bridge | none | host | container:<id>
        options TEXT NOT NULL         -- JSON: ports, dns, dns_search, dns_options, add_hosts
    );
    CREATE TABLE endpoints (
        container_id TEXT NOT NULL,
        network_id TEXT NOT NULL REFERENCES networks(id),
        position INTEGER NOT NULL,    -- eth0, eth1, ...
        ip TEXT,                      -- --ip: asked for, or NULL: any free one
        mac TEXT,                     -- --mac-address
        aliases TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (container_id, network_id)
    );
    CREATE INDEX endpoints_network ON endpoints (network_id);
    CREATE TABLE leases (
        network_id TEXT NOT NULL REFERENCES networks(id),
        address TEXT NOT NULL,
        container_id TEXT NOT NULL,
        mac TEXT,
        PRIMARY KEY (network_id, address)
    );
    CREATE INDEX leases_container ON leases (container_id);
    CREATE TABLE ports (
        container_id TEXT NOT NULL,
        proto TEXT NOT NULL,
        host_ip TEXT NOT NULL,        -- '' for every host address
        host_port INTEGER NOT NULL,
        container_port INTEGER NOT NULL
    );
    CREATE INDEX ports_port ON ports (host_port, proto);
    CREATE INDEX ports_container ON ports (container_id);
    """,
    # what happened to containers, images, networks and volumes (engine/events.py): the
    # last events.LIMIT of them, in the order recorded, which `pyctr events` follows
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,      -- the order recorded in: a follower reads on from the last it saw
        time INTEGER NOT NULL,        -- ns since the epoch (docker's timeNano)
        type TEXT NOT NULL,           -- container | image | network | volume
        action TEXT NOT NULL,         -- create, start, die, destroy, pull, tag, connect ...
        actor TEXT NOT NULL,          -- an id, a volume's name, a pulled reference
        attributes TEXT NOT NULL      -- JSON object of strings: name, image, exitCode ...
    );
    """,
    # the restart policy (--restart, restarts.py): how often the container was restarted,
    # whether a user stopped it (no restart then), and the back-off before the next one
    """
    ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE containers ADD COLUMN stopped_by_user INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE containers ADD COLUMN restart_delay REAL;
    """,
    # the OCI runtime binary a container runs on (--runtime: runc, crun, a path), its
    # absolute path; NULL for pyctr's own
    """
    ALTER TABLE containers ADD COLUMN runtime TEXT;
    """,
]


@record
class ContainerRecord:
    id: str
    name: str
    image_id: str
    image_ref: str
    command: list[str]
    created: float
    status: str = "created"
    pid: int | None = None
    pid_start: int | None = None
    exit_code: int | None = None
    started: float | None = None
    finished: float | None = None
    oom_killed: int = 0
    final_stats: str | None = None  # JSON: the cgroup's last figures
    monitor_pid: int | None = None  # the last run's monitor, and its start time
    monitor_start: int | None = None
    runtime_root: str | None = None  # where the runtime keeps its state of it
    restart_count: int = 0  # restarts by its restart policy since a user last started it
    stopped_by_user: int = 0  # stop or kill by a user: no restart by the policy
    restart_delay: float | None = None  # seconds: the back-off of the last restart
    runtime: str | None = None  # an OCI runtime binary's absolute path (--runtime); None: pyctr's own


@record
class VolumeRecord:
    name: str
    created: float
    driver: str = "local"
    labels: dict = {}
    anonymous: bool = False


@record
class IdRange:
    """Host ids [host_start, host_start + size) of a container's uid or gid map."""
    container_id: str
    kind: str  # "uid" | "gid"
    host_start: int
    size: int
    auto: bool = False  # taken by --userns=auto


CONTAINER_COLUMNS = (
    "id", "name", "image_id", "image_ref", "command", "created", "status", "pid",
    "pid_start", "exit_code", "started", "finished", "oom_killed", "final_stats", "monitor_pid", "monitor_start",
    "runtime_root", "restart_count", "stopped_by_user", "restart_delay", "runtime",
)


def peek_names(path: str, kinds: list[str]) -> list[tuple[str, str, str | None]]:
    """(kind, name, status) of the database's containers (status: theirs), images
    (repository:tag, and the repository alone for latest), volumes and networks, those
    of `kinds`; read-only, without migrating or writing it (a shell's TAB): [] where it
    cannot be read."""
    if not os.path.exists(path):
        return []
    queries = {"container": "SELECT 'container', name, status FROM containers",
               "image": "SELECT 'image', repository || ':' || tag, NULL FROM image_tags UNION ALL "
                        "SELECT 'image', repository, NULL FROM image_tags WHERE tag = 'latest'",
               "volume": "SELECT 'volume', name, NULL FROM volumes",
               "network": "SELECT 'network', name, NULL FROM networks"}
    found: list = []
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return []
    try:
        for kind in kinds:
            if kind in queries:
                found += connection.execute(queries[kind]).fetchall()
    except sqlite3.Error:
        pass
    finally:
        connection.close()
    return found


class Store:
    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so a transaction is exactly
        # what `transaction()` spans.
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        # Per connection, in one call.  A pyctr command is mostly the only connection, so
        # each one rebuilds the WAL index by reading the whole WAL: checkpoint at 1 MiB, not
        # the default 4 MiB (measured: about 2 ms less to open near the top, a little more
        # per write).  WAL itself is set once, when the database is made: it persists.
        self.db.executescript("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=256; PRAGMA foreign_keys=ON")
        # events (engine/events.py) for the next transaction to write as it commits
        self.queued_events: list = []
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> "_Transaction":
        """`with store.transaction() as db:` one transaction, rolled back on any exception."""
        return _Transaction(self)

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version == 0:  # outside any transaction, as SQLite requires
            self.db.execute("PRAGMA journal_mode=WAL")
        if version > SCHEMA_VERSION:
            raise PyctrError(f"the state database {self.path} is from a newer pyctr (schema {version}); "
                             f"this one knows schema {SCHEMA_VERSION}")
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # again, under the lock
            if version == 0:
                _run_script(db, SCHEMA)
                version = 1
            for script in MIGRATIONS[version - 1:]:
                _run_script(db, script)
            if version < 3:
                _monitor_files_into_rows(db, os.path.dirname(self.path))
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # images

    def add_image(self, image: "Image", layers: "list[Layer]" = (), digest: str | None = None) -> None:  # noqa: F821
        """The image and its layers' rows, tagged with its repository:tag (if it has one),
        and `digest` (a manifest digest it was pulled by) recorded for its repository."""
        with self.transaction() as db:
            for layer, parent in zip(layers, [None, *(layer.chain_id for layer in layers)]):
                _insert_layer(db, layer, parent)
            db.execute(
                "INSERT OR REPLACE INTO images (id, created, size, layers, config, manifest) VALUES (?,?,?,?,?,?)",
                (image.id, image.created, image.size, fastjson.dumps(image.layers), fastjson.dumps(image.config),
                 image.manifest),
            )
            if image.repository:
                db.execute("INSERT OR REPLACE INTO image_tags (repository, tag, image_id) VALUES (?,?,?)",
                           (image.repository, image.tag, image.id))
            if digest and image.repository:
                db.execute("INSERT OR REPLACE INTO image_digests (repository, digest, image_id) VALUES (?,?,?)",
                           (image.repository, digest, image.id))

    def find_image(self, repository: str, tag: str) -> "Image | None":  # noqa: F821
        row = self.db.execute(
            f"SELECT {IMAGE_COLUMNS}, t.repository, t.tag"
            " FROM image_tags t JOIN images i ON i.id = t.image_id"
            " WHERE t.repository = ? AND t.tag = ?",
            (repository, tag),
        ).fetchone()
        return _image(row) if row else None

    def find_image_by_digest(self, repository: str, digest: str) -> "Image | None":  # noqa: F821
        row = self.db.execute(
            f"SELECT {IMAGE_COLUMNS}, d.repository, '' FROM image_digests d JOIN images i ON i.id = d.image_id"
            " WHERE d.repository = ? AND d.digest = ?", (repository, digest)).fetchone()
        return _image(row) if row else None

    def images_by_id_prefix(self, prefix: str) -> "list[Image]":  # noqa: F821
        rows = self.db.execute(
            f"SELECT {IMAGE_COLUMNS}, '', '' FROM images i WHERE substr(i.id, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchall()
        return [_image(r) for r in rows]

    def list_images(self) -> "list[Image]":  # noqa: F821
        """One entry per tag; an image without any once, as <none>:<none>."""
        rows = self.db.execute(
            f"SELECT {IMAGE_COLUMNS}, COALESCE(t.repository, '<none>'), COALESCE(t.tag, '<none>')"
            " FROM images i LEFT JOIN image_tags t ON i.id = t.image_id"
            " ORDER BY i.created DESC, t.repository, t.tag"
        ).fetchall()
        return [_image(r) for r in rows]

    def image_tags(self, image_id: str) -> list[tuple[str, str]]:
        return self.db.execute("SELECT repository, tag FROM image_tags WHERE image_id = ? ORDER BY repository, tag",
                               (image_id,)).fetchall()

    def image_digests(self, image_id: str) -> list[tuple[str, str]]:
        return self.db.execute("SELECT repository, digest FROM image_digests WHERE image_id = ?"
                               " ORDER BY repository", (image_id,)).fetchall()

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO image_tags (repository, tag, image_id) VALUES (?,?,?)",
                       (repository, tag, image_id))

    def untag_image(self, repository: str, tag: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM image_tags WHERE repository = ? AND tag = ?",
                              (repository, tag)).rowcount == 1

    def remove_image(self, image_id: str) -> None:
        """The image's row, tags and digests; its layers' rows stay for `unused_layers`."""
        with self.transaction() as db:
            db.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
            db.execute("DELETE FROM image_digests WHERE image_id = ?", (image_id,))
            db.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def image_users(self, image_id: str) -> list[str]:
        """Names of the containers made from the image."""
        return [r[0] for r in self.db.execute("SELECT name FROM containers WHERE image_id = ?", (image_id,))]

    def add_layer(self, layer: "Layer", parent: str | None) -> None:  # noqa: F821
        """A layer on its own, as soon as it is in (pull resumes from the layers it has)."""
        with self.transaction() as db:
            _insert_layer(db, layer, parent)

    def find_layer(self, chain_id: str) -> "Layer | None":  # noqa: F821
        row = self.db.execute("SELECT chain_id, diff_id, blob, blob_size, media_type, size FROM layers"
                              " WHERE chain_id = ?", (chain_id,)).fetchone()
        if row is None:
            return None
        from ..images.ingest import Layer
        return Layer(*row)

    def all_layers(self) -> "list[Layer]":  # noqa: F821
        from ..images.ingest import Layer
        return [Layer(*row) for row in self.db.execute(
            "SELECT chain_id, diff_id, blob, blob_size, media_type, size FROM layers").fetchall()]

    def remove_layers(self, chain_ids: list[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM layers WHERE chain_id = ?", [(c,) for c in chain_ids])

    def images_in_use(self) -> set[str]:
        """Ids of images some container was made from."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT image_id FROM containers")}

    # containers

    def add_container(self, c: ContainerRecord, volumes: list[tuple[str, bool]] = (), also=None) -> None:
        """The row, and the container's use of `volumes` ((name, anonymous)): those that
        do not exist yet are made here, in the same transaction; `also(db)`, if given,
        writes more rows of the container's in it (its networks)."""
        try:
            with self.transaction() as db:
                db.execute(
                    f"INSERT INTO containers ({', '.join(CONTAINER_COLUMNS)})"
                    f" VALUES ({', '.join('?' * len(CONTAINER_COLUMNS))})",
                    _container_row(c),
                )
                for name, anonymous in volumes:
                    db.execute("INSERT OR IGNORE INTO volumes (name, created, anonymous, creator) VALUES (?,?,?,?)",
                               (name, c.created, int(anonymous), c.id))
                    db.execute("INSERT OR IGNORE INTO container_volumes (container_id, volume) VALUES (?,?)",
                               (c.id, name))
                if also is not None:
                    also(db)
        except sqlite3.IntegrityError as e:
            if "name" in str(e):
                raise Conflict(f'the container name "{c.name}" is already in use') from None
            raise

    def update_container(self, container_id: str, expect: dict | None = None, **changes) -> bool:
        """Sets `changes`; with `expect`, only if the row still has those values (a
        compare-and-set: of two pyctr commands racing on one container, one wins).
        Returns whether the row changed."""
        expect = expect or {}
        unknown = (set(changes) | set(expect)) - set(CONTAINER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown container fields: {sorted(unknown)}")
        assignments = ", ".join(f"{k} = ?" for k in changes)
        conditions = "".join(f" AND {k} IS ?" for k in expect)
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE containers SET {assignments} WHERE id = ?{conditions}",
                (*changes.values(), container_id, *expect.values()),
            )
            return cursor.rowcount == 1

    def remove_container(self, container_id: str) -> None:
        """The row, the host id ranges it held, its networks' rows and what it held of them."""
        with self.transaction() as db:
            db.execute("DELETE FROM containers WHERE id = ?", (container_id,))
            db.execute("DELETE FROM id_ranges WHERE container_id = ?", (container_id,))
            db.execute("DELETE FROM container_volumes WHERE container_id = ?", (container_id,))
            for table in ("netconf", "endpoints", "leases", "ports"):
                db.execute(f"DELETE FROM {table} WHERE container_id = ?", (container_id,))

    # host id ranges (user namespaces)

    def take_id_ranges(self, container_id: str, choose) -> "list[IdRange]":
        """In one transaction: `choose(held)` picks ranges for the container, seeing every
        range held now, and they are recorded.  A range whose container has no row and whose
        taker is gone (a pyctr killed while making it) is held no more."""
        from ..runtime.process import alive, start_time
        me = os.getpid()
        started = start_time(me)
        with self.transaction() as db:
            held = []
            for row in db.execute(
                    "SELECT r.container_id, r.kind, r.host_start, r.size, r.auto, r.holder_pid, r.holder_start,"
                    " c.id IS NOT NULL FROM id_ranges r LEFT JOIN containers c ON c.id = r.container_id").fetchall():
                if not row[7] and not alive(row[5], row[6]):
                    db.execute("DELETE FROM id_ranges WHERE container_id = ?", (row[0],))
                    continue
                held.append(IdRange(*row[:4], bool(row[4])))
            chosen = choose(held)
            for r in chosen:
                db.execute("INSERT INTO id_ranges (container_id, kind, host_start, size, auto, holder_pid, holder_start)"
                           " VALUES (?,?,?,?,?,?,?)", (container_id, r.kind, r.host_start, r.size, int(r.auto), me, started))
        return [IdRange(container_id, r.kind, r.host_start, r.size, r.auto) for r in chosen]

    def id_ranges(self, container_id: str) -> "list[IdRange]":
        rows = self.db.execute("SELECT container_id, kind, host_start, size, auto FROM id_ranges"
                               " WHERE container_id = ? ORDER BY kind DESC, host_start", (container_id,)).fetchall()
        return [IdRange(*row[:4], bool(row[4])) for row in rows]

    def get_container(self, container_id: str) -> ContainerRecord | None:
        row = self.db.execute(
            f"SELECT {', '.join(CONTAINER_COLUMNS)} FROM containers WHERE id = ?", (container_id,)
        ).fetchone()
        return _container(row) if row else None

    def name_taken(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM containers WHERE name = ?", (name,)).fetchone() is not None

    def find_containers(self, name_or_prefix: str) -> list[ContainerRecord]:
        """An exact name, else every id starting with the given prefix."""
        if not name_or_prefix:
            return []
        cols = ", ".join(CONTAINER_COLUMNS)
        row = self.db.execute(f"SELECT {cols} FROM containers WHERE name = ?", (name_or_prefix,)).fetchone()
        if row:
            return [_container(row)]
        rows = self.db.execute(
            f"SELECT {cols} FROM containers WHERE substr(id, 1, ?) = ?",
            (len(name_or_prefix), name_or_prefix),
        ).fetchall()
        return [_container(r) for r in rows]

    def list_containers(self) -> list[ContainerRecord]:
        rows = self.db.execute(
            f"SELECT {', '.join(CONTAINER_COLUMNS)} FROM containers ORDER BY created DESC"
        ).fetchall()
        return [_container(r) for r in rows]


    # volumes

    def create_volume(self, volume: VolumeRecord) -> bool:
        """False if one of that name exists (it is kept as it is)."""
        with self.transaction() as db:
            return db.execute("INSERT OR IGNORE INTO volumes (name, created, driver, labels, anonymous)"
                              " VALUES (?,?,?,?,?)", (volume.name, volume.created, volume.driver,
                                                      fastjson.dumps(volume.labels), int(volume.anonymous))).rowcount == 1

    def get_volume(self, name: str) -> VolumeRecord | None:
        row = self.db.execute(f"SELECT {VOLUME_COLUMNS} FROM volumes WHERE name = ?", (name,)).fetchone()
        return _volume(row) if row else None

    def list_volumes(self) -> list[VolumeRecord]:
        return [_volume(r) for r in self.db.execute(f"SELECT {VOLUME_COLUMNS} FROM volumes ORDER BY name")]

    def volume_users(self, name: str) -> list[str]:
        """The containers (ids) that use the volume, running or not."""
        return [r[0] for r in self.db.execute("SELECT container_id FROM container_volumes WHERE volume = ?"
                                              " ORDER BY container_id", (name,))]

    def container_volumes(self, container_id: str) -> list[VolumeRecord]:
        return [_volume(r) for r in self.db.execute(
            f"SELECT {VOLUME_COLUMNS} FROM volumes WHERE name IN"
            " (SELECT volume FROM container_volumes WHERE container_id = ?)", (container_id,))]

    def remove_unused_volumes(self, names: list[str], creator: str | None = None) -> list[str]:
        """Of `names`, those no container uses (and, given `creator`, made by that
        container's run) removed in one transaction; returns them."""
        removed = []
        with self.transaction() as db:
            for name in names:
                cursor = db.execute(
                    "DELETE FROM volumes WHERE name = ? AND (? IS NULL OR creator = ?)"
                    " AND NOT EXISTS (SELECT 1 FROM container_volumes WHERE volume = ?)",
                    (name, creator, creator, name))
                if cursor.rowcount:
                    removed.append(name)
        return removed


class _Transaction:
    """A context manager by hand: contextlib costs an import of collections and functools."""

    def __init__(self, store: Store):
        self.store = store
        self.db = store.db

    def __enter__(self):
        # IMMEDIATE takes the write lock up front: two pyctr processes serialise here
        # instead of failing later on a lock upgrade.
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> bool:
        queued = self.store.queued_events
        if queued:  # they commit with the change they tell of, or not at all
            self.store.queued_events = []
            if kind is None:
                try:
                    from .events import write
                    write(self.db, queued)
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
        return False


def _run_script(db, script: str) -> None:
    # executescript would COMMIT our transaction; statements one by one stay inside it
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _monitor_files_into_rows(db, root: str) -> None:
    """Schema 3 keeps a container's monitor on its row; pyctr before it kept the monitor's
    pid and start time in containers/<id>/monitor, which a monitor still running from
    then is known by."""
    for (container_id,) in db.execute("SELECT id FROM containers").fetchall():
        try:
            with open(os.path.join(root, "containers", container_id, "monitor")) as f:
                pid, started = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
        db.execute("UPDATE containers SET monitor_pid = ?, monitor_start = ? WHERE id = ?", (pid, started, container_id))


def _insert_layer(db, layer, parent: str | None) -> None:
    db.execute("INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, blob, blob_size, media_type)"
               " VALUES (?,?,?,?,?,?,?)", (layer.chain_id, layer.diff_id, parent, layer.size, layer.blob,
                                           layer.blob_size, layer.media_type))


IMAGE_COLUMNS = "i.id, i.created, i.size, i.layers, i.config, i.manifest"


def _image(row) -> "Image":  # noqa: F821
    # images/ is loaded where an image is read: exec, ps, stop and the like need none
    from ..images.image import Image
    id_, created, size, layers, config, manifest, repository, tag = row
    return Image(id_, created, size, fastjson.loads(layers), fastjson.loads(config), repository, tag, manifest or "")


VOLUME_COLUMNS = "name, created, driver, labels, anonymous"


def _volume(row) -> VolumeRecord:
    name, created, driver, labels, anonymous = row
    return VolumeRecord(name, created, driver, fastjson.loads(labels), bool(anonymous))


def _container_row(c: ContainerRecord) -> tuple:
    values = {name: getattr(c, name) for name in CONTAINER_COLUMNS}
    values["command"] = fastjson.dumps(c.command)
    return tuple(values[name] for name in CONTAINER_COLUMNS)


def _container(row) -> ContainerRecord:
    values = dict(zip(CONTAINER_COLUMNS, row))
    values["command"] = fastjson.loads(values["command"])
    return ContainerRecord(**values)
