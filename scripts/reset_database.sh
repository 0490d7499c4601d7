#!/usr/bin/env bash
# Drops the local LandLedger database (not the test template) so that the next `make run`
# starts from an empty register. Refuses when DATABASE_URL points elsewhere.
set -euo pipefail
if [[ -n "${DATABASE_URL:-}" ]]; then
    echo "DATABASE_URL is set: refusing to drop a database this script did not create." >&2
    exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- dropdb --if-exists landledger
else
    sudo -u postgres dropdb --if-exists landledger
fi
