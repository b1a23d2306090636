#!/usr/bin/env bash
# Issue #16's VRRP timing benchmark in one UML boot: a master whose checkers
# and reloads load it, a VRRP-only backup beside it, VRRPv3 at advert_int
# 0.1 s; the master's advert gaps as the backup hears them and any takeover
# by the backup, lvsd against keepalived 2.2.7 on the same topology (see
# vrrp-timing-guest.sh).
#   sudo deploy/bench/vrrp-timing.sh
# lvsd: $BENCH_LVSD, else target/release/lvsd (built when missing).
# BENCH_VS x BENCH_RS HTTP_GET real servers (10 x 100), BENCH_RELOADS (4),
# BENCH_STEADY seconds (20), BENCH_RT (a vrrp_rt_priority for both, none by
# default), BENCH_CHECK (HTTP_GET, TCP_CHECK, MISC_CHECK, TRACK_SCRIPT),
# BENCH_SCRAPE (1: the master's state read in a loop), BENCH_TASKSET pass
# through. BENCH_HOST=1 runs it on this host's kernel instead of UML
# (TRACK_SCRIPT only: the host may have no IPVS), in fresh namespaces.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [[ -z ${BENCH_LVSD:-} ]]; then
    BENCH_LVSD=$repo/target/release/lvsd
    if [[ ! -x $BENCH_LVSD ]]; then
        echo "vrrp-timing.sh: building lvsd (cargo build --release -p lvsd --bin lvsd)" >&2
        (cd "$repo" && cargo build --release -p lvsd --bin lvsd)
    fi
fi
export BENCH_LVSD
if [[ ${BENCH_HOST:-0} == 1 ]]; then
    [[ ${BENCH_CHECK:-} == TRACK_SCRIPT ]] || { echo "vrrp-timing.sh: BENCH_HOST=1 needs BENCH_CHECK=TRACK_SCRIPT" >&2; exit 2; }
    exec sh "$here/vrrp-timing-guest.sh"
fi
exec "$repo/deploy/lab/in-uml.sh" --mem 1024 "$here/vrrp-timing-guest.sh"
