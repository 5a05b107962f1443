"""Holding the database lightly in work that lasts."""

from django.db import connection


def release_connection() -> None:
    """
    Give this greenlet's database connection back (to the pool, on
    PostgreSQL) until it is needed again. A reply or a stream can last
    minutes; holding a connection for each would exhaust the database at a
    few hundred at once. Inside a transaction (a test's, say) it stays.
    """
    if not connection.in_atomic_block:
        connection.close()
