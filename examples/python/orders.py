"""The application: it talks to PostgreSQL through its own connection pool."""

from psycopg_pool import ConnectionPool


def connect(database_url: str) -> ConnectionPool:
    # Connections are opened now and reused: a clock set on one test connection would not reach them.
    return ConnectionPool(database_url, min_size=2, max_size=4, open=True)


def place_order(pool: ConnectionPool, customer: str) -> int:
    with pool.connection() as conn:
        return conn.execute("INSERT INTO orders (customer) VALUES (%s) RETURNING id", (customer,)).fetchone()[0]


def mark_overdue(pool: ConnectionPool) -> list[int]:
    with pool.connection() as conn:
        return sorted(row[0] for row in conn.execute("SELECT * FROM mark_overdue_orders()"))
