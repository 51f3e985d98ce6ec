"""The plain API: server(), database(), clock(), errors."""

import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

import pg_unit_tests
from pg_unit_tests import PgUnitTestsError, _instant, _interval
from support import databases_gone, gone, scalar


def test_server_runs_until_stopped_and_leaves_nothing():
    with pg_unit_tests.server() as s:
        assert scalar(s.uri, "select current_database()") == s.dbname == "postgres"
        assert os.path.isdir(s.directory)
    assert gone(s.directory)


def test_attributes_and_env_reach_the_server_over_tcp():
    with pg_unit_tests.server(tcp=True) as s:
        assert s.host == "127.0.0.1" and s.password and s.port > 0
        with psycopg.connect(host=s.host, port=s.port, user=s.user, password=s.password, dbname=s.dbname) as c:
            assert c.execute("select inet_server_addr()::text").fetchone()[0] == "127.0.0.1/32"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
        out = subprocess.run(
            ["psql", "-Atc", "select current_user || ' ' || current_database()"],
            env={**env, **s.env}, capture_output=True, text=True, check=True,
        )
        assert out.stdout.strip() == "postgres postgres"
        assert s.env["DATABASE_URL"] == s.uri


def test_databases_are_fresh_and_dropped():
    with pg_unit_tests.server() as s:
        with pg_unit_tests.database(s) as a, pg_unit_tests.database(s) as b:
            assert a.dbname != b.dbname
            assert (a.host, a.port, a.user) == (s.host, s.port, s.user)
            with psycopg.connect(a.uri, autocommit=True) as conn:
                conn.execute("create table t (x int)")
            assert scalar(b.uri, "select to_regclass('t') is null")
            still_open = psycopg.connect(a.uri)  # dropping ends the sessions left open
        assert databases_gone(s.uri, {a.dbname, b.dbname})
        still_open.close()


def test_settings_with_spaces_and_quotes_reach_the_server():
    settings = {"work_mem": "5MB", "search_path": 'app, "my schema"'}
    with pg_unit_tests.server(settings=settings) as s:
        assert scalar(s.uri, "show work_mem") == "5MB"
        assert scalar(s.uri, "show search_path") == 'app, "my schema"'


def test_a_cli_failure_is_an_exception_with_its_line_and_exit_code():
    with pytest.raises(PgUnitTestsError) as caught:
        pg_unit_tests.server(settings={"no_such_setting": "1"})
    error = caught.value
    assert error.exit_code == 4
    assert 'unrecognized configuration parameter "no_such_setting"' in error.message
    assert "\n" not in error.message and error.message.startswith("pg_unit_tests: ")
    assert str(error).endswith("(exit code 4)")


def test_missing_cli_names_the_variable(monkeypatch):
    monkeypatch.setenv("PG_UNIT_TESTS_CLI", "/nonexistent/pg_unit_tests")
    with pytest.raises(PgUnitTestsError) as caught:
        pg_unit_tests.server()
    assert caught.value.exit_code == 127 and "PG_UNIT_TESTS_CLI" in caught.value.message


def test_an_explicit_cli_wins_over_the_environment(monkeypatch, cli):
    monkeypatch.setenv("PG_UNIT_TESTS_CLI", "/nonexistent/pg_unit_tests")
    with pg_unit_tests.server(cli=cli) as s:
        assert scalar(s.uri, "select 1") == 1


def test_database_on_database_url_as_exec_sets_it(monkeypatch):
    with pg_unit_tests.server() as s:
        monkeypatch.setenv("DATABASE_URL", s.uri)
        with pg_unit_tests.database() as db:
            assert scalar(db.uri, "select current_database()") == db.dbname != s.dbname


def test_a_server_dies_with_its_owner_even_by_sigkill(tmp_path):
    script = (
        "import pg_unit_tests, sys, time\n"
        "s = pg_unit_tests.server()\n"
        "print(s.directory, flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    directory = proc.stdout.readline().strip()
    assert os.path.isdir(directory)
    proc.kill()
    proc.wait()
    assert gone(directory), f"the server of a killed owner is still there: {directory}"


def test_a_database_goes_with_the_process_that_asked_for_it_even_by_sigkill():
    with pg_unit_tests.server() as s:
        script = (
            "import pg_unit_tests, sys, time\n"
            f"db = pg_unit_tests.database({s.uri!r})\n"
            "print(db.dbname, flush=True)\n"
            "time.sleep(120)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        name = proc.stdout.readline().strip()
        assert scalar(s.uri, "select count(*) from pg_database where datname = %s", name) == 1
        proc.kill()
        proc.wait()
        assert databases_gone(s.uri, {name}), f"the database of a killed owner is still there: {name}"


def test_naive_datetimes_are_utc_and_aware_ones_converted():
    assert _instant(datetime(2024, 2, 29, 12)) == "2024-02-29T12:00:00+00:00"
    paris = timezone(timedelta(hours=1))
    assert _instant(datetime(2024, 2, 29, 13, tzinfo=paris)) == "2024-02-29T12:00:00+00:00"
    assert _instant(date(2024, 2, 29)) == "2024-02-29T00:00:00+00:00"
    assert _instant("2024-02-29 12:00 Europe/Paris") == "2024-02-29 12:00 Europe/Paris"
    with pytest.raises(TypeError):
        _instant(1709208000)


def test_timedeltas_are_exact_elapsed_time():
    assert _interval(timedelta(days=31)) == "2678400.000000 seconds"
    assert _interval(timedelta(seconds=-1.5)) == "-1.500000 seconds"
    assert _interval("1 month") == "1 month"
    with pytest.raises(TypeError):
        _interval(30)


def test_the_clock_moves_every_connection_of_the_database():
    with pg_unit_tests.server() as s, pg_unit_tests.database(s) as db:
        pool = [psycopg.connect(db.uri, autocommit=True) for _ in range(3)]  # opened before the freeze
        clock = pg_unit_tests.clock(db)
        at = datetime(2024, 2, 29, 12, tzinfo=timezone.utc)
        clock.freeze(at)
        assert [c.execute("select now()").fetchone()[0] for c in pool] == [at] * 3
        clock.advance(timedelta(days=31))
        assert {c.execute("select now()").fetchone()[0] for c in pool} == {at + timedelta(days=31)}
        with psycopg.connect(db.uri) as late:  # a new session follows too
            assert late.execute("select now()").fetchone()[0] == at + timedelta(days=31)
        clock.travel(datetime(2030, 1, 1))
        assert pool[0].execute("select now() >= '2030-01-01 00:00+00'").fetchone()[0]
        clock.release()
        real = pool[1].execute("select now()").fetchone()[0]
        assert abs(real - datetime.now(timezone.utc)) < timedelta(minutes=5)
        for c in pool:
            c.close()


def test_the_clock_of_another_database_stays_real():
    with pg_unit_tests.server() as s, pg_unit_tests.database(s) as a, pg_unit_tests.database(s) as b:
        pg_unit_tests.clock(a).freeze(datetime(2001, 1, 1))
        assert scalar(a.uri, "select extract(year from now())::int") == 2001
        assert scalar(b.uri, "select extract(year from now())::int") > 2001


def test_the_clock_goes_back_by_a_negative_delta():
    with pg_unit_tests.server() as s, pg_unit_tests.database(s) as db:
        clock = pg_unit_tests.clock(db)
        at = datetime(2024, 2, 29, 12, tzinfo=timezone.utc)
        clock.freeze(at)
        clock.advance(timedelta(hours=-2))
        assert scalar(db.uri, "select now()") == at - timedelta(hours=2)
        clock.advance("-1 day")
        assert scalar(db.uri, "select now()") == at - timedelta(days=1, hours=2)


def test_a_refused_clock_call_is_an_exception_with_the_servers_message():
    with pg_unit_tests.server() as s, pg_unit_tests.database(s) as db:
        with pytest.raises(PgUnitTestsError) as caught:
            pg_unit_tests.clock(db).advance(timedelta(days=1))  # a real clock cannot be advanced
    assert caught.value.exit_code == 9
    assert "\n" not in caught.value.message and caught.value.message.startswith("pg_unit_tests: ")
