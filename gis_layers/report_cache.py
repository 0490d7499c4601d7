"""Reports kept until the register changes under them.

The land-use and office-space reports read whole tables: about a second with the demo, about
a minute with a million parcels. A computed report is kept in ``gis_layers_cachedreport`` with
the transaction snapshot taken before computing it. Statement triggers note every transaction
that writes to a table a report reads (``gis_layers_reportinputchange``, migration gis_layers
0016), whatever path the write took: a registration act, an import, the admin, SQL. A kept
report is served while no note of its input tables comes from a transaction its snapshot did
not see; a note counts only once its transaction commits, as the note is part of it. Notes no
kept report, no computation under way (``gis_layers_reportcomputation``) and no running
transaction can need are dropped whenever a report is kept.

Reports are kept only when asked for outside a transaction (Django's autocommit, as every
request runs), then computed and kept in a transaction that writes nothing else: inside
another, writes that came later in it would pass for seen by its snapshot, which never lists
its own transaction. A transaction reads a kept report unless it has written to the
report's inputs itself; then it computes the report afresh. Two requests for the same missing
report wait for each other (an advisory lock), so a report is computed once, not once per
waiting planner.
"""

import datetime
import hashlib
import json
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.code_version import running_code

# Kept reports of other keys (other settings of the office-space plan, other clearances) are
# dropped when they have not been computed again for this long, and beyond this many of one
# report: every new-building scenario asked for is a key of its own.
KEPT_FOR = datetime.timedelta(days=7)
KEPT_PER_REPORT = 50
# A computation recorded this long ago was cut off (its process died): it holds nothing back.
ABANDONED_AFTER = datetime.timedelta(days=1)


def cache_key(name: str, **parameters) -> str:
    """The key of report ``name`` computed with ``parameters`` by this code, measuring in this
    deployment's metric CRS (a report measured in another is another report)."""
    parameters = {**parameters, "metric_epsg": settings.LANDLEDGER_METRIC_EPSG}
    given = json.dumps(parameters, sort_keys=True, default=str, separators=(",", ":"))
    return f"{name}/{running_code()}/{hashlib.sha256(given.encode()).hexdigest()[:32]}"


def _lookup(cursor, key: str, inputs: Sequence[str]) -> tuple[str | None, bool]:
    """The kept report if it is still good; whether this transaction has written to the
    inputs."""
    cursor.execute(
        "SELECT c.payload, EXISTS ("
        "  SELECT 1 FROM gis_layers_reportinputchange n WHERE n.relation = ANY(%s) "
        "  AND n.transaction_id = pg_current_xact_id_if_assigned()::text::bigint) "
        "FROM (SELECT) AS one LEFT JOIN gis_layers_cachedreport c ON c.key = %s "
        "AND c.system_identifier = (SELECT system_identifier FROM pg_control_system()) "
        "AND NOT EXISTS (SELECT 1 FROM gis_layers_reportinputchange n "
        "  WHERE n.relation = ANY(%s) "
        "  AND n.transaction_id >= pg_snapshot_xmin(c.snapshot::pg_snapshot)::text::bigint "
        "  AND NOT pg_visible_in_snapshot(n.transaction_id::text::xid8, c.snapshot::pg_snapshot))",
        [list(inputs), key, list(inputs)],
    )
    return cursor.fetchone()


def _keep(cursor, key: str, payload: str, snapshot: str, seconds: float) -> None:
    cursor.execute(
        "INSERT INTO gis_layers_cachedreport "
        "(key, payload, snapshot, system_identifier, computed_at, seconds) "
        "SELECT %s, %s, %s, system_identifier, %s, %s FROM pg_control_system() "
        "ON CONFLICT (key) DO UPDATE SET payload = EXCLUDED.payload, "
        "snapshot = EXCLUDED.snapshot, system_identifier = EXCLUDED.system_identifier, "
        "computed_at = EXCLUDED.computed_at, seconds = EXCLUDED.seconds",
        [key, payload, snapshot, timezone.now(), seconds],
    )
    # Rows another request is keeping are skipped, not waited for: two requests dropping
    # each other's rows would deadlock.
    cursor.execute(
        "DELETE FROM gis_layers_cachedreport WHERE key IN ("
        "  SELECT key FROM gis_layers_cachedreport WHERE key <> %s AND (computed_at < %s "
        "  OR key IN (SELECT key FROM gis_layers_cachedreport WHERE starts_with(key, %s) "
        "             ORDER BY computed_at DESC OFFSET %s)) "
        "  FOR UPDATE SKIP LOCKED)",
        [
            key,
            timezone.now() - KEPT_FOR,
            key.partition("/")[0] + "/",
            KEPT_PER_REPORT,
        ],
    )
    cursor.execute(
        "DELETE FROM gis_layers_reportcomputation WHERE started_at < %s",
        [timezone.now() - ABANDONED_AFTER],
    )
    # Notes older than every kept report's snapshot, every computation's under way and every
    # running transaction can invalidate nothing kept now or computed later. Notes of ids
    # this cluster has not reached come from another one (a restored copy) and would count
    # against every report.
    cursor.execute(
        "DELETE FROM gis_layers_reportinputchange WHERE transaction_id < LEAST("
        "  pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
        "  (SELECT min(pg_snapshot_xmin(snapshot::pg_snapshot)::text::bigint) "
        "   FROM gis_layers_cachedreport), "
        "  (SELECT min(pg_snapshot_xmin(snapshot::pg_snapshot)::text::bigint) "
        "   FROM gis_layers_reportcomputation)) "
        "OR transaction_id >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
    )


def cached_report(key: str, *, inputs: Sequence[str], compute: Callable[[], dict]) -> dict:
    """The report ``compute`` gives, computed from the tables ``inputs``, from the cache while
    none of them has changed. Kept or fresh, it comes back as JSON would give it back (tuples
    as lists, keys as strings), so that both ways give the same report."""
    with connection.cursor() as cursor:
        kept, wrote_inputs = _lookup(cursor, key, inputs)
    if kept is not None and not wrote_inputs:
        return json.loads(kept)
    if connection.in_atomic_block:
        return json.loads(json.dumps(compute()))
    # The snapshot is recorded, and committed, before computing: another request keeping a
    # report meanwhile must not drop the notes this one has not seen.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO gis_layers_reportcomputation (key, snapshot, started_at) "
            "VALUES (%s, pg_current_snapshot()::text, %s) RETURNING id, snapshot",
            [key, timezone.now()],
        )
        computation, snapshot = cursor.fetchone()
    try:
        # A transaction of its own, which only reads until it keeps the report, for a lock
        # that is released however it ends (transaction-scoped, as connection poolers
        # require). Read committed: after the wait, the lookup must see what the request
        # that held the lock kept.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
            kept, _ = _lookup(cursor, key, inputs)
            if kept is not None:
                return json.loads(kept)
            started = time.perf_counter()
            payload = json.dumps(compute(), separators=(",", ":"))
            _keep(cursor, key, payload, snapshot, time.perf_counter() - started)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM gis_layers_reportcomputation WHERE id = %s", [computation])
    return json.loads(payload)
