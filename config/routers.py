"""Reads that may lag a moment go to a read replica when one is configured
(``DATABASE_REPLICA_URL``); writes and every other read stay on the primary.

Only code that opts in reads from the replica, inside :func:`replica_reads`: the OGC API
(GIS clients reading layers). The register itself (titles, acts, the journal, the desk, the
API) always reads the primary, so a registrar never sees a state older than the one they
just wrote, and row locks are taken where the rows are written.
"""

import contextvars
from contextlib import contextmanager
from functools import wraps

from django.conf import settings

REPLICA = "replica"
_replica_reads = contextvars.ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads():
    """Within this block, ORM reads go to the replica if one is configured."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica(view):
    """A view whose ORM reads may be served by the replica."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    wrapper.reads_from_replica = True
    return wrapper


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _replica_reads.get() and REPLICA in settings.DATABASES:
            return REPLICA
        return None  # the default database

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, copied: rows relate whichever copy they came from

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
