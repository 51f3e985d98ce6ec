"""The plugin's fixtures, used the way a project's tests use them."""

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from support import scalar

seen: dict[str, str] = {}


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_a_fresh_database(pg_database, run):
    with psycopg.connect(pg_database.uri, autocommit=True) as conn:
        assert conn.execute("select to_regclass('orders') is null").fetchone()[0]
        conn.execute("create table orders (id int)")
    seen[run] = pg_database.dbname
    assert len(set(seen.values())) == len(seen)


def test_the_database_is_on_the_session_server(pg_server, pg_database):
    assert (pg_database.host, pg_database.port, pg_database.user) == (pg_server.host, pg_server.port, pg_server.user)
    assert pg_database.dbname != pg_server.dbname
    assert pg_database.env["PGDATABASE"] == pg_database.dbname
    assert scalar(pg_server.uri, "select count(*) from pg_database where datname = %s", pg_database.dbname) == 1


def test_pg_clock_controls_the_test_database(pg_clock, pg_database):
    with psycopg.connect(pg_database.uri, autocommit=True) as conn:
        pg_clock.freeze(datetime(2024, 2, 29, 12))  # naive: UTC
        assert conn.execute("select now()").fetchone()[0] == datetime(2024, 2, 29, 12, tzinfo=timezone.utc)
        pg_clock.advance(timedelta(hours=1))
        assert conn.execute("select now()").fetchone()[0] == datetime(2024, 2, 29, 13, tzinfo=timezone.utc)


def test_the_database_is_listed_with_the_tests_name_and_process(pg_server, pg_database, request):
    listed = json.loads(subprocess.run([pg_server.cli, "list", "--json"], capture_output=True, text=True, check=True).stdout)
    (server,) = [s for s in listed if s["directory"] == pg_server.directory]
    (db,) = [d for d in server["databases"] if d["name"] == pg_database.dbname]
    assert db["label"] == request.node.nodeid and db["owner_pid"] == os.getpid()
