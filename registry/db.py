"""A cursor for the few statements on every map request that Django's own cursor makes dear.

Django's PostgreSQL cursor binds parameters on the client: it writes them into the statement's
text, so a bytea value travels as hex text twice its size, results come back as text too, and
PostgreSQL parses and plans the statement afresh every time. The cursor here sends the
parameters apart from the statement and reads results in binary; and, unless told otherwise, a
statement it has run a few times on a connection is prepared there (``prepare_threshold`` in
settings), so that PostgreSQL plans it once.
"""

from contextlib import contextmanager

import psycopg
from django.db import connection
from psycopg.pq import Format


class _ServerBoundCursor(psycopg.Cursor):
    may_prepare = True

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if not self.may_prepare:
            prepare = False
        return super().execute(query, params, prepare=prepare, binary=binary)


@contextmanager
def server_bound_cursor(*, prepared: bool = True):
    """A cursor of the default connection that binds on the server and reads binary, wrapped
    as Django wraps its own (database errors, execute wrappers, query logging). ``prepared``
    False for a statement whose plan depends on its parameters: a prepared statement may come
    to run one generic plan for all of them."""
    # As Django opens its own cursors: a kept connection found broken is replaced.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    cursor = _ServerBoundCursor(connection.connection)
    cursor.format = Format.BINARY
    cursor.may_prepare = prepared
    # Private to Django and left out of its type stubs, but the one way to get its wrapping.
    with connection._prepare_cursor(cursor) as wrapped:  # type: ignore[attr-defined]
        yield wrapped
