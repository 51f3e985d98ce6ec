"""The pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

- ``pg_server`` (session): one server for the run — for each pytest-xdist worker, its own.
- ``pg_database`` (function): a fresh database per test, cloned from the server's migrated database,
  dropped afterwards (its open connections ended).
- ``pg_clock`` (function): the clock of every connection to the test's database; released after
  the test.

Configuration: ``pg_unit_tests_*`` keys in pytest.ini / ``[tool.pytest.ini_options]``, or the
``--pg-*`` command-line options, which take precedence (see ``pytest --help``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from . import Clock, Database, Server, server

_GROUP = "pg_unit_tests"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(_GROUP, "PostgreSQL for tests (pg_unit_tests)")
    group.addoption(
        "--pg-init",
        action="append",
        metavar="PATH",
        help="SQL file or directory of files (name order) that migrates the server's database; "
        "repeatable [ini: pg_unit_tests_init]",
    )
    group.addoption(
        "--pg-init-command",
        metavar="CMD",
        help="migration command, run once per change with DATABASE_URL set [ini: pg_unit_tests_init_command]",
    )
    group.addoption(
        "--pg-init-key",
        action="append",
        metavar="PATH",
        help="a file or directory whose content keys the migration command's result (its "
        "migrations); repeatable [ini: pg_unit_tests_init_key]",
    )
    group.addoption(
        "--pg-extension",
        action="append",
        metavar="DIR",
        help="serve this PGXS extension from its build tree; repeatable [ini: pg_unit_tests_extensions]",
    )
    group.addoption(
        "--pg-create",
        action="append",
        metavar="NAME",
        help="CREATE EXTENSION NAME in the server's database; repeatable [ini: pg_unit_tests_create]",
    )
    group.addoption(
        "--pg-setting",
        action="append",
        metavar="NAME=VALUE",
        help="a server setting; repeatable [ini: pg_unit_tests_settings]",
    )
    group.addoption(
        "--pg-tcp",
        action="store_true",
        default=None,
        help="also listen on 127.0.0.1 with a password [ini: pg_unit_tests_tcp]",
    )
    group.addoption("--pg-config", metavar="PATH", help="pg_config of the PostgreSQL to use [ini: pg_unit_tests_pg_config]")
    group.addoption(
        "--pg-cli",
        metavar="PATH",
        help="the pg_unit_tests command (default: $PG_UNIT_TESTS_CLI, then PATH) [ini: pg_unit_tests_cli]",
    )
    parser.addini("pg_unit_tests_init", "migration SQL files or directories", type="paths", default=[])
    parser.addini("pg_unit_tests_init_command", "migration command", default="")
    parser.addini("pg_unit_tests_init_key", "files or directories the migration command's result depends on", type="paths", default=[])
    parser.addini("pg_unit_tests_extensions", "PGXS extension directories to serve", type="paths", default=[])
    parser.addini("pg_unit_tests_create", "extensions to CREATE", type="linelist", default=[])
    parser.addini("pg_unit_tests_settings", "server settings, NAME=VALUE per line", type="linelist", default=[])
    parser.addini("pg_unit_tests_tcp", "also listen on 127.0.0.1", type="bool", default=False)
    parser.addini("pg_unit_tests_pg_config", "pg_config of the PostgreSQL to use", default="")
    parser.addini("pg_unit_tests_cli", "the pg_unit_tests command", default="")


def _ini_path(config: pytest.Config, value: str) -> str:
    # A path in the ini file is relative to that file; a bare command name is looked up on PATH.
    if not value or os.sep not in value:
        return value
    base = config.inipath.parent if config.inipath else config.rootpath
    return str(base / value)


def _settings(lines: list[str], option: str) -> dict[str, str]:
    settings = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise pytest.UsageError(f"{option}: {line!r} is not NAME=VALUE")
        settings[name.strip()] = value.strip()
    return settings


def server_options(config: pytest.Config) -> dict:
    """The keyword arguments of :func:`pg_unit_tests.server` from the ini file and command line."""
    opt = config.getoption

    def paths(option: str, ini: str) -> list[str]:
        given = opt(option)
        return [str(Path(p).resolve()) for p in given] if given else [str(p) for p in config.getini(ini)]

    settings = _settings(config.getini("pg_unit_tests_settings"), "pg_unit_tests_settings")
    settings.update(_settings(opt("pg_setting") or [], "--pg-setting"))
    tcp = opt("pg_tcp")
    return {
        "init": paths("pg_init", "pg_unit_tests_init"),
        "init_command": opt("pg_init_command") or config.getini("pg_unit_tests_init_command") or None,
        "init_key": paths("pg_init_key", "pg_unit_tests_init_key"),
        "extensions": paths("pg_extension", "pg_unit_tests_extensions"),
        "create": opt("pg_create") or config.getini("pg_unit_tests_create"),
        "settings": settings,
        "tcp": config.getini("pg_unit_tests_tcp") if tcp is None else tcp,
        "pg_config": opt("pg_config") or _ini_path(config, config.getini("pg_unit_tests_pg_config")) or None,
        "cli": opt("pg_cli") or _ini_path(config, config.getini("pg_unit_tests_cli")) or None,
    }


_OPTIONS = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    # Read now, so that a bad option is a usage error before any test runs.
    config.stash[_OPTIONS] = server_options(config)


@pytest.fixture(scope="session")
def pg_server(pytestconfig: pytest.Config) -> Iterator[Server]:
    """One server for the test session (each pytest-xdist worker has its own). It stops when the
    session ends, and with the pytest process, however that ends."""
    with server(**pytestconfig.stash[_OPTIONS], owner=_run_pid(pytestconfig)) as s:
        yield s


def _run_pid(config: pytest.Config) -> int:
    """The pytest process the user started. A pytest-xdist worker is its child: owned by the worker,
    a server would outlive a ``kill -9`` of pytest until the worker's current test ends."""
    return os.getppid() if hasattr(config, "workerinput") else os.getpid()


@pytest.fixture
def pg_database(pg_server: Server, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A fresh database for this test, cloned from the server's migrated database."""
    with pg_server.create_database(label=request.node.nodeid) as db:
        yield db


@pytest.fixture
def pg_clock(pg_database: Database) -> Iterator[Clock]:
    """The clock of every connection to this test's database; real time again after the test."""
    clock = pg_database.clock()
    try:
        yield clock
    finally:
        clock.release()
