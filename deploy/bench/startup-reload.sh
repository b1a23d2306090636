#!/usr/bin/env bash
# The issue-6 benchmark in one UML boot: start-up to a fully programmed
# 100 x 100 table and a SIGHUP reload changing one weight, keepalived 2.2.7
# against lvsd, reported as ratios (see startup-reload-guest.sh).
#   sudo deploy/bench/startup-reload.sh [--keepalived-only]
# lvsd: $BENCH_LVSD, else target/release/lvsd (built with cargo when
# missing). BENCH_VS, BENCH_RS, BENCH_DELAY_LOOP, BENCH_TIMEOUT pass through.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [[ ${1:-} == --keepalived-only ]]; then
    export BENCH_LVSD=
else
    if [[ -z ${BENCH_LVSD:-} ]]; then
        BENCH_LVSD=$repo/target/release/lvsd
        if [[ ! -x $BENCH_LVSD ]]; then
            echo "startup-reload.sh: building lvsd (cargo build --release -p lvsd --bin lvsd)" >&2
            (cd "$repo" && cargo build --release -p lvsd --bin lvsd)
        fi
    fi
    export BENCH_LVSD
fi
exec "$repo/deploy/lab/in-uml.sh" --mem 1024 "$here/startup-reload-guest.sh"
