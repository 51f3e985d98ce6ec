"""The plugin as pytest runs it: configuration, teardown, pytest-xdist, a killed run."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from support import cli_has, eventually, gone

RECORD = """
import json, os, psycopg

def record(path, **values):
    with open(path, "a") as f:
        f.write(json.dumps(values) + "\\n")
"""


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_ini_and_command_line_configure_the_server(pytester):
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        pg_unit_tests_settings = ["work_mem = 7MB", "lock_timeout=3s"]
        """
    )
    pytester.makepyfile(
        """
        import psycopg

        def test_settings(pg_server):
            with psycopg.connect(pg_server.uri) as c:
                assert c.execute("show work_mem").fetchone()[0] == "9MB"
                assert c.execute("show lock_timeout").fetchone()[0] == "3s"
                assert pg_server.host == "127.0.0.1" and pg_server.password
        """
    )
    result = pytester.runpytest("--pg-setting=work_mem=9MB", "--pg-tcp", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_databases_are_dropped_after_each_test(pytester):
    pytester.makepyfile(
        """
        import psycopg
        from support import databases_gone
        names = []

        def test_one(pg_database):
            names.append(pg_database.dbname)

        def test_two(pg_database):
            names.append(pg_database.dbname)

        def test_both_gone(pg_server):
            assert len(set(names)) == 2
            assert databases_gone(pg_server.uri, names)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_cli_failure_fails_the_tests_with_its_line(pytester):
    pytester.makepyfile("def test_x(pg_database):\n    pass\n")
    result = pytester.runpytest("--pg-setting=no_such_setting=1", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(['*unrecognized configuration parameter "no_such_setting" (exit code 4)*'])


def test_a_bad_setting_line_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(pg_server):\n    pass\n")
    result = pytester.runpytest("--pg-setting=work_mem", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--pg-setting: 'work_mem' is not NAME=VALUE*"])


def test_xdist_workers_get_their_own_servers_and_databases(pytester, tmp_path):
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(
        RECORD
        + textwrap.dedent(
            f"""
            import pytest

            @pytest.mark.parametrize("n", range(6))
            def test_work(pg_server, pg_database, n):
                with psycopg.connect(pg_database.uri, autocommit=True) as c:
                    c.execute("create table items (id int)")  # the same name in every test
                record({str(out)!r}, worker=os.environ["PYTEST_XDIST_WORKER"], server=pg_server.directory,
                       database=pg_database.dbname)
            """
        )
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    seen = records(out)
    workers = {r["worker"] for r in seen}
    servers = {r["server"] for r in seen}
    assert len(workers) == 2 and len(servers) == 2
    assert len({(r["server"], r["database"]) for r in seen}) == 6
    assert all(gone(directory) for directory in servers)


@pytest.mark.skipif(not cli_has("--init"), reason="needs `pg_unit_tests start --init` (issue 13)")
def test_migrations_from_the_ini_file_reach_every_test_database(pytester):
    pytester.mkdir("migrations")
    pytester.path.joinpath("migrations", "001_orders.sql").write_text(
        "create table orders (id serial primary key, created_at timestamptz not null default now());\n"
    )
    pytester.path.joinpath("migrations", "002_seed.sql").write_text("insert into orders default values;\n")
    pytester.makeini("[pytest]\npg_unit_tests_init = migrations\n")
    pytester.makepyfile(
        """
        import psycopg, pytest

        @pytest.mark.parametrize("n", range(2))
        def test_migrated(pg_database, n):
            with psycopg.connect(pg_database.uri, autocommit=True) as c:
                assert c.execute("select count(*) from orders").fetchone()[0] == 1
                c.execute("insert into orders default values")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


@pytest.mark.skipif(not cli_has("--init-key"), reason="needs `pg_unit_tests start --init-command --init-key` (issue 13)")
def test_a_migration_command_runs_once_per_change_of_its_key(pytester, tmp_path):
    runs = tmp_path / "runs"
    pytester.mkdir("migrations")
    pytester.path.joinpath("migrations", "001.sql").write_text("create table orders (id int);\n")
    command = f"echo run >> {runs} && psql -v ON_ERROR_STOP=1 -qf migrations/001.sql"
    pytester.makeini(f"[pytest]\npg_unit_tests_init_command = {command}\npg_unit_tests_init_key = migrations\n")
    pytester.makepyfile(
        """
        import psycopg

        def test_migrated(pg_database):
            with psycopg.connect(pg_database.uri) as c:
                assert c.execute("select to_regclass('orders') is not null").fetchone()[0]
        """
    )
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert runs.read_text().count("run") == 1  # the second run reused the migrated template
    pytester.path.joinpath("migrations", "002.sql").write_text("select 1;\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert runs.read_text().count("run") == 2  # a changed key migrates again


@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_a_killed_run_leaves_no_server(pytester, tmp_path, workers):
    out = tmp_path / "seen.jsonl"
    pytester.makepyfile(
        RECORD
        + textwrap.dedent(
            f"""
            import pytest, time

            @pytest.mark.parametrize("n", range({max(workers, 1)}))
            def test_hangs(pg_server, pg_database, n):
                record({str(out)!r}, server=pg_server.directory, pid=os.getpid())
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:  # stuck: no teardown runs
                    try:
                        time.sleep(1)
                    except KeyboardInterrupt:  # how a pytest-xdist worker learns that pytest died
                        pass
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *(["-n", str(workers)] if workers else [])],
        cwd=pytester.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    expected = max(workers, 1)
    try:
        assert eventually(lambda: out.exists() and out.read_text().count("\n") == expected, timeout=60)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    seen = records(out)
    worker_pids = {r["pid"] for r in seen} - {proc.pid}
    try:
        for directory in {r["server"] for r in seen}:
            assert gone(directory), f"the killed run's server is still there: {directory}"
        # The workers of pytest-xdist outlive a killed pytest by several seconds (their test is
        # stuck): the servers went with pytest, not with them.
        assert not worker_pids or any(alive(pid) for pid in worker_pids)
    finally:
        for pid in worker_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
