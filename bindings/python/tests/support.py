"""Helpers of the tests."""

import os
import re
import subprocess
import time

import psycopg


def eventually(check, timeout: float = 20.0) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` seconds: for what the harness does in
    the background (a keeper removing a server's files, an asynchronous DROP DATABASE)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def gone(path: str) -> bool:
    return eventually(lambda: not os.path.exists(path))


def scalar(uri: str, sql: str, *params):
    with psycopg.connect(uri, autocommit=True) as conn:
        return conn.execute(sql, params).fetchone()[0]


def databases_gone(server_uri: str, names) -> bool:
    query = "select count(*) from pg_database where datname = any(%s)"
    return eventually(lambda: scalar(server_uri, query, list(names)) == 0)


def cli_has(option: str) -> bool:
    """Whether the CLI under test offers ``start OPTION``: tests of the package's options for
    features still on their way to the CLI are skipped, not failed, on a CLI without them."""
    from pg_unit_tests import _cli

    usage = subprocess.run([_cli.find(), "start", "--help"], capture_output=True, text=True).stdout
    return re.search(rf"(^|[\s,]){re.escape(option)}(?![\w-])", usage, re.M) is not None
