#!/usr/bin/env bash
# Issue #16's soak in one UML boot: 1,000 reloads that add and remove
# virtual servers, real servers, a VRRP instance and a script, then a pool
# of 1,000 flapping real servers; the daemon's RSS, open fds and threads
# along the way, lvsd and keepalived 2.2.7 in turn (see soak-guest.sh).
#   sudo deploy/bench/soak.sh
# lvsd: $BENCH_LVSD, else target/release/lvsd (built when missing).
# BENCH_RELOADS, BENCH_SAMPLE, BENCH_VS, BENCH_RS, BENCH_FLAP_RS,
# BENCH_FLAP_BATCH, BENCH_FLAP_SECONDS, BENCH_KEEPALIVED (0: lvsd only)
# pass through.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [[ -z ${BENCH_LVSD:-} ]]; then
    BENCH_LVSD=$repo/target/release/lvsd
    if [[ ! -x $BENCH_LVSD ]]; then
        echo "soak.sh: building lvsd (cargo build --release -p lvsd --bin lvsd)" >&2
        (cd "$repo" && cargo build --release -p lvsd --bin lvsd)
    fi
fi
export BENCH_LVSD
exec "$repo/deploy/lab/in-uml.sh" --mem 1024 "$here/soak-guest.sh"
