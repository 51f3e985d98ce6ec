import pytest

import orders


@pytest.fixture(scope="session", autouse=True)
def migrated(pg_server):
    """The server's database, migrated once: every test's database (pg_database) is a clone of it."""
    orders.migrate(pg_server.uri)
