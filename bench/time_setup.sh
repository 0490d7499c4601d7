#!/usr/bin/env bash
# Times `make run` (until /healthz answers 200) and `make test` in a fresh clone.
# Usage: bench/time_setup.sh [REPEATS]   (run from the repository root, as root)
# For the "from scratch" figure, first put the machine in the state of a new one: drop the
# landledger databases and role, stop the cluster and remove PostGIS, pgRouting and Chromium
# (the commands are in docs/benchmarks.md).
set -euo pipefail

repeats=${1:-3}
clone=$(mktemp -d)/landledger
git clone -q . "$clone"
cd "$clone"

time_make_run() {
    local start end
    start=$(date +%s.%N)
    make run >"$clone/run.log" 2>&1 &
    until curl -sf http://127.0.0.1:8000/healthz >/dev/null 2>&1; do sleep 0.2; done
    end=$(date +%s.%N)
    pkill -f "manage.py runserver 127.0.0.1:8000" || true
    sleep 1
    echo "$end - $start" | bc
}

time_make_test() {
    local start end
    start=$(date +%s.%N)
    make test >"$clone/test.log" 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

echo "make run, first: $(time_make_run) s"
for i in $(seq 1 "$repeats"); do echo "make run, again ($i): $(time_make_run) s"; done
for i in $(seq 1 "$repeats"); do echo "make test ($i): $(time_make_test) s"; done
