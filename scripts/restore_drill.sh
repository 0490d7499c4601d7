#!/usr/bin/env bash
# Restore drill: back up the LandLedger database that DATABASE_URL names (the local one by
# default) with pg_dump, restore the backup into a new database, and check the copy:
# `manage.py verify_journal` passes on it and every table holds exactly as many rows as in
# the original (run it while nothing writes, or the counts may move under it). Exit status
# non-zero when anything differs. The copy is dropped afterwards unless KEEP_RESTORED=1.
#
# Usage (from the repository root):
#   DATABASE_URL=postgis://landledger:landledger@127.0.0.1:5432/landledger scripts/restore_drill.sh
# Environment:
#   RESTORE_DATABASE   name of the copy (default: the original's name + _restored; it must not exist)
#   TEMPLATE_DATABASE  template holding the extensions (default: landledger_template), since
#                      the application role may not create extensions itself
#   BACKUP_FILE        where the backup is written (default: a temporary file, removed after)
#   KEEP_RESTORED=1    keep the restored copy
# Writes stay in the application role's rights: CREATEDB, no superuser.
set -euo pipefail
cd "$(dirname "$0")/.."

url=${DATABASE_URL:-postgis://landledger:landledger@127.0.0.1:5432/landledger}
python=${PYTHON:-.venv/bin/python}
# postgis://user:password@host:port/name, split by Python rather than by hand.
read -r user password host port name < <("$python" - "$url" <<'EOF'
import sys
from urllib.parse import unquote, urlsplit
parts = urlsplit(sys.argv[1])
print(unquote(parts.username or ""), unquote(parts.password or ""), parts.hostname or "127.0.0.1",
      parts.port or 5432, parts.path.lstrip("/"))
EOF
)
restored=${RESTORE_DATABASE:-${name}_restored}
template=${TEMPLATE_DATABASE:-landledger_template}
backup=${BACKUP_FILE:-$(mktemp --suffix=.dump)}
export PGUSER=$user PGPASSWORD=$password PGHOST=$host PGPORT=$port
restored_url="postgis://${user}:${password}@${host}:${port}/${restored}"

cleanup() {
    [[ -z ${BACKUP_FILE:-} ]] && rm -f "$backup"
    if [[ ${KEEP_RESTORED:-0} != 1 ]]; then
        dropdb --if-exists "$restored" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# Row counts of every table of the public schema, one "table count" line each.
table_counts() {
    psql -X -q -tA -F' ' -d "$1" -c "
        SELECT table_name,
               (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM public.%I',
                table_name), false, true, '')))[1]::text
        FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
        ORDER BY table_name"
}

started=$(date +%s)
echo "1. backing up $name (pg_dump, custom format) to $backup"
# spatial_ref_sys belongs to PostGIS and comes with the extension; rows added to it by hand
# would show as a difference in the counts below.
pg_dump -Fc --exclude-table-data=public.spatial_ref_sys -d "$name" -f "$backup"
before=$(table_counts "$name")
echo "   $(wc -c <"$backup") bytes, $(wc -l <<<"$before") tables"

echo "2. restoring into a new database $restored (from $template, which holds the extensions)"
createdb -T "$template" "$restored"
# --no-owner/--no-acl: the copy belongs to whoever restores it; --no-comments: the
# extensions' comments belong to their superuser owner and are already in the template.
pg_restore --no-owner --no-acl --no-comments --exit-on-error -d "$restored" "$backup"

echo "3. checking the copy"
DATABASE_URL=$restored_url "$python" manage.py verify_journal
after=$(table_counts "$restored")
if [[ "$before" != "$after" ]]; then
    echo "row counts differ (original < > copy):" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi
rows=$(awk '{ total += $2 } END { print total }' <<<"$after")
echo "   every table has the same number of rows: $(wc -l <<<"$after") tables, $rows rows"
echo "restore drill passed in $(($(date +%s) - started)) s"
