"""Real PostgreSQL in tests, ready in milliseconds, with a clock you control.

A thin layer over the ``pg_unit_tests`` command line::

    with pg_unit_tests.server(init=["migrations"]) as server:
        with pg_unit_tests.database(server) as db:
            conn = psycopg.connect(db.uri)
            pg_unit_tests.clock(db).freeze(datetime(2024, 2, 29, 12, tzinfo=timezone.utc))

Under pytest the plugin of this package gives the fixtures ``pg_server``, ``pg_database`` and
``pg_clock`` (see ``pg_unit_tests.plugin``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping, Union
from urllib.parse import parse_qs, unquote, urlsplit

from . import _cli
from ._cli import PgUnitTestsError

__all__ = [
    "Clock",
    "Database",
    "PgUnitTestsError",
    "Server",
    "clock",
    "database",
    "server",
]
__version__ = "0.1.0"

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class _Connection:
    uri: str
    host: str
    port: int
    user: str
    password: str
    dbname: str
    cli: str = field(default="", repr=False)

    @property
    def env(self) -> dict[str, str]:
        """``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE`` and ``DATABASE_URL``."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
            "DATABASE_URL": self.uri,
        }
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


@dataclass(frozen=True)
class Server(_Connection):
    """A running server (``pg_unit_tests start --json``). Stop it with :meth:`stop` or ``with``."""

    id: str = ""
    directory: str = ""
    version: str = ""

    def create_database(self, template: str | None = None, *, label: str | None = None) -> Database:
        """A fresh database cloned from ``template`` (default: the server's migrated database);
        ``label`` names it in ``pg_unit_tests list`` (a test's name)."""
        return _database(self.cli, self.uri, template, label)

    def stop(self) -> None:
        """Stops the server now and removes its files."""
        _cli.stop(self.cli, self.uri)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Database(_Connection):
    """A database of its own on a server (``pg_unit_tests createdb``). Drop it with :meth:`drop`."""

    def clock(self) -> Clock:
        """The clock of every session of this database."""
        return Clock(self.uri, self.cli)

    def drop(self) -> None:
        """Drops the database, ending the sessions still connected to it."""
        _cli.dropdb(self.cli, self.uri)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


Instant = Union[datetime, date, str]
Delta = Union[timedelta, str]


def _instant(at: Instant) -> str:
    """A timestamp the server reads unambiguously.

    Naive datetimes (and dates, at midnight) are taken as UTC, as freezegun does, so that a test
    means the same instant on every machine whatever its time zone. Strings go as they are
    (PostgreSQL's timestamptz input).
    """
    if isinstance(at, str):
        return at
    if isinstance(at, datetime):
        if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
            at = at.replace(tzinfo=timezone.utc)
        return at.astimezone(timezone.utc).isoformat()
    if isinstance(at, date):
        return datetime.combine(at, time(), timezone.utc).isoformat()
    raise TypeError(f"expected a datetime, date or str, not {type(at).__name__}")


def _interval(delta: Delta) -> str:
    """An interval: a timedelta is exact elapsed time; a string is PostgreSQL's interval input
    (``'1 month'``: calendar arithmetic)."""
    if isinstance(delta, str):
        return delta
    if isinstance(delta, timedelta):
        micros = delta // timedelta(microseconds=1)
        sign = "-" if micros < 0 else ""
        seconds, fraction = divmod(abs(micros), 1_000_000)
        return f"{sign}{seconds}.{fraction:06d} seconds"
    raise TypeError(f"expected a timedelta or str, not {type(delta).__name__}")


class Clock:
    """The clock of every session of one database, existing and new, from their next statement
    on: the application's connection pool follows it too (``pg_unit_tests clock``)."""

    def __init__(self, uri: str, cli: str | None = None):
        self.uri = uri
        self.cli = cli or _cli.find()

    def freeze(self, at: Instant | None = None) -> None:
        """Time stands still at ``at`` (default: now)."""
        _cli.clock(self.cli, self.uri, "freeze", _instant(at if at is not None else datetime.now(timezone.utc)))

    def travel(self, to: Instant) -> None:
        """Jumps to ``to``; the clock keeps running from there."""
        _cli.clock(self.cli, self.uri, "travel", _instant(to))

    def advance(self, by: Delta) -> None:
        """Moves a frozen or travelled clock by ``by``."""
        _cli.clock(self.cli, self.uri, "advance", _interval(by))

    def release(self) -> None:
        """Back to real time."""
        _cli.clock(self.cli, self.uri, "release")

    def __repr__(self) -> str:
        return f"Clock({self.uri!r})"


def server(
    *,
    tcp: bool = False,
    init: Iterable[PathLike] = (),
    init_command: str | None = None,
    init_key: Iterable[PathLike] = (),
    extensions: Iterable[PathLike] = (),
    create: Iterable[str] = (),
    settings: Mapping[str, object] | None = None,
    pg_config: PathLike | None = None,
    cli: PathLike | None = None,
    owner: int | None = None,
    keep: bool = False,
) -> Server:
    """Starts a throw-away server; use it with ``with`` or call :meth:`Server.stop`.

    ``init``: SQL files or directories that migrate the server's database (once per content, cached);
    ``init_command``: a migration command run with ``DATABASE_URL`` set, once per change of the files
    or directories ``init_key`` names (its migrations); ``extensions``: PGXS
    extensions to serve from their build trees; ``create``: ``CREATE EXTENSION`` these; ``settings``:
    server settings; ``tcp``: also listen on 127.0.0.1 with a password. The server stops when this
    process (or the process ``owner``) exits, however it exits (even by SIGKILL); ``keep=True`` leaves
    it to :meth:`Server.stop` and the CLI's idle timeout.
    """
    path = _cli.find(cli)
    info = _cli.start(
        path,
        tcp=tcp,
        init=init,
        init_command=init_command,
        init_key=init_key,
        extensions=extensions,
        create=create,
        settings=settings,
        pg_config=pg_config,
        owner=None if keep else owner or os.getpid(),
    )
    return Server(
        uri=info["uri"],
        host=info["host"],
        port=int(info["port"]),
        user=info["user"],
        password=info.get("password") or "",
        dbname=info["database"],
        id=info.get("id", ""),
        directory=info.get("directory", ""),
        version=info.get("version", ""),
        cli=path,
    )


def _database(cli: str, server_uri: str, template: str | None, label: str | None) -> Database:
    # Owned by this process: dropped when it ends, however it ends, if not before.
    uri = _cli.createdb(cli, server_uri, template=template, owner=os.getpid(), label=label)
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    return Database(
        uri=uri,
        host=parts.hostname or query.get("host", [""])[0],
        port=int(parts.port or query.get("port", ["5432"])[0]),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=unquote(parts.path.lstrip("/")),
        cli=cli,
    )


def database(
    server: Server | str | None = None,
    *,
    template: str | None = None,
    label: str | None = None,
    cli: PathLike | None = None,
) -> Database:
    """A fresh database on ``server`` (a :class:`Server`, a server URI, or by default
    ``$DATABASE_URL`` as ``pg_unit_tests exec`` sets it); drop it with ``with`` or
    :meth:`Database.drop`. It goes with this process if not before."""
    if isinstance(server, Server):
        return server.create_database(template, label=label)
    uri = server or os.environ.get("DATABASE_URL")
    if not uri:
        raise PgUnitTestsError(
            "pg_unit_tests: no server given: pass a Server or a URI, or run under "
            "`pg_unit_tests exec`, which sets DATABASE_URL",
            2,
        )
    return _database(_cli.find(cli), uri, template, label)


def clock(target: Database | str, *, cli: PathLike | None = None) -> Clock:
    """The clock of a database (a :class:`Database` or a URI)."""
    if isinstance(target, Database):
        return target.clock()
    return Clock(target, _cli.find(cli) if cli else None)
