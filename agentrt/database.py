"""The SQL database a store keeps its tables in: a SQLite file (or memory), or a PostgreSQL
server, opened from one location string and brought to the current schema by versioned migrations.

The stores (`store.py`, `memory.py`) write their SQL once, in what both dialects understand (`?`
placeholders, `ON CONFLICT`, `DOUBLE PRECISION`), so the two backends differ only here: how to
connect, how a write transaction begins, and the two column types spelled differently (`{bytes}`,
`{serial}` in a migration). Each `Database` is one connection that one thread at a time uses (the
caller's, or a store's writer thread), as sqlite3 and psycopg connections want.

psycopg is imported only when a postgresql:// URL is opened: `import agentrt` stays light, and
a SQLite user needs no PostgreSQL driver.

Migrations: a `Schema` is a list of migrations, each a list of statements; the `schema_version`
table says how many of each schema's have run in this database, and opening runs the rest, in one
transaction (so two processes opening a new database at once do not both create it). A schema
only grows: a change appends a migration, and a shipped one is never edited.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import urlsplit

from .errors import ConfigError

if TYPE_CHECKING:
    import psycopg

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str | Path) -> bool:
    """Whether `location` names a PostgreSQL database rather than a SQLite file."""
    return str(location).startswith(POSTGRES_SCHEMES)


def hide_password(url: str) -> str:
    """`url` fit to show: its password, in the user part or the query, replaced by `***`.

    `postgresql://ada:s3cret@db:5432/agents?sslmode=require` -> `postgresql://ada:***@db:5432/agents?sslmode=require`
    """
    netloc = urlsplit(url).netloc
    if ":" in netloc.rpartition("@")[0]:
        user, _, host = netloc.rpartition("@")
        url = url.replace(netloc, f"{user.partition(':')[0]}:***@{host}", 1)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)


CONNECT_TIMEOUT_S = 10
"""How long to wait for a PostgreSQL server the URL does not set a `connect_timeout` for: libpq
waits forever for a host that drops packets."""


def connect_postgres(url: str, *, what: str, setting: str) -> psycopg.Connection[Any]:
    """An autocommit psycopg connection to `url` (group writes with `connection.transaction()`),
    or a `ConfigError` naming the URL, password hidden, what failed and how to fix it. `what` is
    what the database is for ("run store"), `setting` where the user chose it ("--store")."""
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(f"The {what} {hide_password(url)} is a PostgreSQL database, which needs psycopg: "
                          "pip install 'agentrt[postgres]'") from exc
    try:
        conninfo = url  # a timeout the URL does not set is ours: an unreachable host fails soon
        if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(conninfo):
            conninfo = psycopg.conninfo.make_conninfo(conninfo, connect_timeout=CONNECT_TIMEOUT_S)
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        reason = driver_reason(exc, url)
        missing = re.search(r'database "([^"]+)" does not exist', reason)
        fix = (f"Create it (createdb {missing.group(1)}) or name another database" if missing else
               "Is the server running, and are the URL's host, port, user, password and database right "
               "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)?")
        raise ConfigError(f"Could not connect to the {what} {hide_password(url)} ({reason}). {fix} "
                          f"Or point {setting} elsewhere") from exc


def driver_reason(exc: Exception, url: str) -> str:
    """The driver's reason for `exc`, on one line, without the password should it quote `url`."""
    reason = " ".join(str(exc).split())
    password = urlsplit(url).password
    return reason.replace(password, "***") if password else reason


class Rows(Protocol):
    """What a statement gives back: sqlite3's cursor or psycopg's, rows as tuples."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What a store's SQL runs on, in either dialect: statements with `?` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...


@dataclass(frozen=True)
class Schema:
    """The tables of one store, as the migrations that build them.

    `migrations[n]` takes the schema from version n to n + 1: statements run in one transaction,
    in which `{bytes}` and `{serial}` stand for the dialect's binary type and auto-numbered key.
    """

    name: str
    """Its row in `schema_version`: several stores may share one database."""
    what: str
    """What the store is, for messages: "run store"."""
    setting: str
    """Where the user chose the location, for messages: "AGENTRT_STORE (Agent(store=...), --store)"."""
    migrations: tuple[tuple[str, ...], ...]


class Database(ABC):
    """One connection to a store's database, its schema up to date; threads take turns on it."""

    TYPES: ClassVar[dict[str, str]]
    """What `{bytes}` and `{serial}` mean in this dialect's migrations."""

    def __init__(self, location: str, schema: Schema) -> None:
        self.location = location
        self.schema = schema
        self._lock = threading.Lock()

    @property
    def shown(self) -> str:
        """The location as messages show it (without a password)."""
        return self.location

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """The connection, for reads, while no other thread uses it."""
        with self._lock:
            yield self._connection()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The connection inside a write transaction, committed when the block ends (rolled back
        if it raises), while no other thread uses it."""
        with self._lock, self._transaction(self._connection()) as db:
            yield db

    def migrate(self) -> None:
        """Run the schema's migrations this database has not had yet. Raises `ConfigError` if a
        newer agentrt has moved it past the migrations this one knows."""
        schema = self.schema
        with self.transaction() as db:
            self._lock_schemas(db)
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version WHERE name = ?", (schema.name,)).fetchone()
            version = row[0] if row else 0
            if version > len(schema.migrations):
                raise ConfigError(
                    f"{self.shown} holds a {schema.what} of schema version {version}, newer than this agentrt "
                    f"knows ({len(schema.migrations)}); upgrade agentrt (pip install -U agentrt), or point "
                    f"{schema.setting} elsewhere")
            for statements in schema.migrations[version:]:
                for statement in statements:
                    db.execute(statement.format(**self.TYPES))
            if version < len(schema.migrations):
                db.execute("INSERT INTO schema_version (name, version) VALUES (?, ?) ON CONFLICT (name) "
                           "DO UPDATE SET version = excluded.version", (schema.name, len(schema.migrations)))

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _connection(self) -> Connection:
        """The open connection (called holding the lock)."""

    @abstractmethod
    def _transaction(self, db: Connection) -> AbstractContextManager[Connection]:
        """A context manager: a write transaction on `db`."""

    @abstractmethod
    def _lock_schemas(self, db: Connection) -> None:
        """Keep other processes from migrating until this transaction ends."""


def open_database(location: str | Path, schema: Schema) -> Database:
    """The database at `location` (a SQLite path, ":memory:", or a postgresql:// URL) with
    `schema` brought up to date. Raises `ConfigError` saying what is wrong and what to do when
    it cannot be opened."""
    if is_postgres_url(location):
        return _PostgresDatabase(str(location), schema)
    if "://" in str(location):  # not a file name a user means: a URL of a database we do not speak
        raise ConfigError(f"{hide_password(str(location))} is neither a SQLite file nor a postgresql:// URL; "
                          f"give one of those as the {schema.what} ({schema.setting})")
    return _SQLiteDatabase(location, schema)


class _SQLiteDatabase(Database):
    """A SQLite file in WAL mode, synced at every commit; a write transaction takes the file's
    write lock at once (`BEGIN IMMEDIATE`), so processes sharing the file take turns."""

    TYPES: ClassVar[dict[str, str]] = {"bytes": "BLOB", "serial": "INTEGER PRIMARY KEY"}

    def __init__(self, path: str | Path, schema: Schema) -> None:
        super().__init__(str(path), schema)
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # ":memory:" keeps everything in memory only
        try:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut too
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{path} is not a readable {schema.what} ({exc}); move it aside to start a new one, "
                              f"or point {schema.setting} elsewhere") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _connection(self) -> sqlite3.Connection:
        return self._db

    @contextmanager
    def _transaction(self, db: Connection) -> Iterator[Connection]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _lock_schemas(self, db: Connection) -> None:
        pass  # BEGIN IMMEDIATE holds the file's write lock already


class _PostgresDatabase(Database):
    """A PostgreSQL database through psycopg 3. The connection is made again when the last one
    broke (a server restart fails the write under way, not every later one)."""

    TYPES: ClassVar[dict[str, str]] = {"bytes": "BYTEA",
                                       "serial": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"}

    def __init__(self, url: str, schema: Schema) -> None:
        super().__init__(url, schema)
        self._db: psycopg.Connection[Any] | None = None
        try:
            self.migrate()  # connects first: no psycopg, or a connection that fails, is a ConfigError already
        except BaseException as exc:
            self.close()
            if isinstance(exc, ConfigError):
                raise
            import psycopg  # connected, so there

            if not isinstance(exc, psycopg.Error):
                raise
            raise ConfigError(f"Could not set up the {schema.what}'s tables in {self.shown} "
                              f"({driver_reason(exc, url)}); "
                              "the URL's user must be allowed to create tables in its database") from exc

    @property
    def shown(self) -> str:
        return hide_password(self.location)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()

    def _connection(self) -> _PostgresConnection:
        if self._db is None or self._db.broken:  # one `close` closed stays closed, as sqlite3's does
            self._db = connect_postgres(self.location, what=self.schema.what, setting=self.schema.setting)
        return _PostgresConnection(self._db)

    def _transaction(self, db: Connection) -> AbstractContextManager[Connection]:
        assert isinstance(db, _PostgresConnection)
        return db.transaction()

    def _lock_schemas(self, db: Connection) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext('agentrt schema_version'))")


class _PostgresConnection:
    """A psycopg connection that takes the stores' SQL: `?` placeholders become `%s`."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return self._db.execute(_pyformat(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(_pyformat(sql), [tuple(row) for row in rows])

    @contextmanager
    def transaction(self) -> Iterator[_PostgresConnection]:
        with self._db.transaction():
            yield self


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """`sql` with psycopg's placeholders: `SELECT ? || '%'` -> `SELECT %s || '%%'`."""
    return sql.replace("%", "%%").replace("?", "%s")
