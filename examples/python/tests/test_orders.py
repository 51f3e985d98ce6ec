from datetime import datetime, timedelta, timezone

import pytest

import orders


@pytest.fixture
def pool(pg_database):
    """The application's own pool, on this test's fresh, migrated database."""
    with orders.connect(pg_database.uri) as pool:
        yield pool


def test_an_open_order_is_overdue_after_30_days(pool, pg_clock):
    pg_clock.freeze(datetime(2024, 1, 31, 9, 0, tzinfo=timezone.utc))
    order = orders.place_order(pool, "ada")  # created_at DEFAULT now(): the frozen instant

    pg_clock.advance(timedelta(days=30))
    assert orders.mark_overdue(pool) == []  # exactly 30 days old: not yet

    pg_clock.advance(timedelta(days=1))
    assert orders.mark_overdue(pool) == [order]


def test_created_at_is_the_frozen_instant(pool, pg_clock):
    pg_clock.freeze(datetime(2024, 2, 29, 12, 0))  # naive datetimes are UTC
    order = orders.place_order(pool, "grace")
    with pool.connection() as conn:
        created = conn.execute("SELECT created_at FROM orders WHERE id = %s", (order,)).fetchone()[0]
    assert created == datetime(2024, 2, 29, 12, 0, tzinfo=timezone.utc)
