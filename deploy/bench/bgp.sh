#!/usr/bin/env bash
# Issue #17's figures: N active directors behind a router's ECMP, in the BGP
# lab (deploy/lab/bgp-guest.sh bench, one UML boot per variant): balance and
# consistency of 1,000 five-tuples through each director, then crashes and
# graceful stops of one director of three with long-lived flows running
# (withdraw time at the router; flows broken on the leaving director and on
# the others; new connections failed).
#   sudo deploy/bench/bgp.sh [VARIANT...]
# VARIANT is SCHED,SLOPPY,SYNC (default: mh,yes,no mh,no,yes rr,no,no
# rr,no,yes), or "health": the health withdraw (the VIP's only real server
# fails) of two lvsd directors against one keepalived 2.2.7 director with
# quorum_down/quorum_up scripts, in the same boot (bgp-guest.sh health). BENCH_ROUNDS crashes and as many graceful stops per variant
# (default 10); BENCH_BFD=no runs them without BFD (the BGP hold timer
# alone); lvsd: $BENCH_LVSD, else target/release/lvsd (built when
# missing). Prints one table; the guest's output is kept in BENCH_LOGS (a
# temporary directory by default).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rounds=${BENCH_ROUNDS:-10}
variants=("$@")
((${#variants[@]})) || variants=(mh,yes,no mh,no,yes rr,no,no rr,no,yes)
if [[ -z ${BENCH_LVSD:-} ]]; then
    BENCH_LVSD=$repo/target/release/lvsd
    [[ -x $BENCH_LVSD ]] || (cd "$repo" && cargo build --release -p lvsd --bin lvsd)
fi
logs=${BENCH_LOGS:-$(mktemp -d /tmp/lvsd-bgp-bench.XXXXXX)}
mkdir -p "$logs"
minutes=0
for v in "${variants[@]}"; do
    if [[ $v == health ]]; then minutes=$((minutes + 1 + rounds / 4)); else minutes=$((minutes + 4 + rounds)); fi
done
echo "bgp.sh: ${variants[*]}: per variant 10 probes of 1,000 connections, $rounds crashes and $rounds graceful stops (health: $rounds failures of the real server); about $minutes minutes" >&2

# median and p90 of the numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]; printf "%.3f / %.3f (n=%d)", m, p, NR }'; }
# sum of "b/t" fractions on stdin -> "B of T (P %)"
share() { awk -F/ '{ b += $1; t += $2 } END { if (t == 0) { print "-"; exit } printf "%d of %d (%.1f %%)", b, t, 100 * b / t }'; }

rows=() health_rows=()
for v in "${variants[@]}"; do
    if [[ $v == health ]]; then
        log=$logs/bgp-health.log
        echo "bgp.sh: health withdraw, lvsd against keepalived -> $log" >&2
        LAB_SUBJECT="$BENCH_LVSD run -n -l -D" LAB_ROUNDS=$rounds "$repo/deploy/lab/in-uml.sh" --mem 1024 \
            "$repo/deploy/lab/bgp-guest.sh" health >"$log" 2>&1 || echo "bgp.sh: the health run failed (see $log)" >&2
        # per FIGURE IMPL: the values of IMPL's directors in FIGURE
        per() { sed -n "s/^figure: $1 //p" "$log" | tr ' ' '\n' | sed -n "s/^$2-dir[0-9]*=//p" | { grep -v '^-$' || true; }; }
        median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
        for f in health-withdraw-seconds health-withdraw-after-decision-seconds; do
            ratio=$(paste <(per $f lvsd | median) <(per $f keepalived | median) | awk '$2 > 0 { printf "%.2f", $1 / $2 }')
            case $f in
                health-withdraw-seconds) what="rs1's nginx killed -> next hop gone at the router" ;;
                *) what="the checker's deciding failed check (rs1's last reset to it) -> next hop gone" ;;
            esac
            health_rows+=("| $what | $(per $f lvsd | stats) | $(per $f keepalived | stats) | ${ratio:--} |")
        done
        continue
    fi
    IFS=, read -r sched sloppy sync <<<"$v"
    log=$logs/bgp-$sched-sloppy_$sloppy-sync_$sync-bfd_${BENCH_BFD:-yes}.log
    echo "bgp.sh: variant lb_algo $sched, sloppy_tcp $sloppy, sync $sync -> $log" >&2
    LAB_SUBJECT="$BENCH_LVSD run -n -l -D" LAB_SCHED=$sched LAB_SLOPPY=$sloppy LAB_SYNC=$sync \
        LAB_ROUNDS=$rounds LAB_BFD=${BENCH_BFD:-yes} "$repo/deploy/lab/in-uml.sh" --mem 1024 \
        "$repo/deploy/lab/bgp-guest.sh" bench >"$log" 2>&1 || echo "bgp.sh: the $v run failed (see $log)" >&2
    fig() { sed -n "s/^figure: $1 //p" "$log"; }
    crash_w=$(fig crash-withdraw-seconds | cut -d' ' -f1 | stats)
    grace_w=$(fig graceful-withdraw-seconds | cut -d' ' -f1 | stats)
    crash_leaving=$(fig crash-broken | sed -n 's/.*leaving=\([0-9/]*\).*/\1/p' | share)
    crash_others=$(fig crash-broken | sed -n 's/.*others=\([0-9/]*\).*/\1/p' | share)
    grace_leaving=$(fig graceful-broken | sed -n 's/.*leaving=\([0-9/]*\).*/\1/p' | share)
    grace_others=$(fig graceful-broken | sed -n 's/.*others=\([0-9/]*\).*/\1/p' | share)
    grace_failed=$(fig graceful-broken | sed -n 's/.*failed-requests=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    consistency=$(sed -n 's/^figure: consistency-\([a-z-]*\) same-server \([0-9/]*\) .*/\1 \2/p' "$log" | paste -sd';' -)
    balance="$(fig balance-directors); $(fig balance-servers)"
    rows+=("| $sched, sloppy $sloppy, sync $sync, BFD ${BENCH_BFD:-yes} | $crash_w | $crash_leaving | $crash_others | $grace_w | $grace_leaving | $grace_others | $grace_failed | $consistency | $balance |")
done

if ((${#health_rows[@]})); then
    echo
    echo "| health withdraw, s (TCP_CHECK, delay_loop 1, connect_timeout 1, retry 1; quorum 1; the VIP's only real server fails) | lvsd (route_announce), median / p90 | keepalived (quorum_down script), median / p90 | ratio of medians |"
    echo "|---|---|---|---|"
    printf '%s\n' "${health_rows[@]}"
fi
((${#rows[@]})) || exit 0
echo
echo "| variant | crash: withdraw s, median / p90 | crash: flows broken, leaving director | crash: flows broken, the others | graceful: withdraw s | graceful: broken, leaving | graceful: broken, others | graceful: new connections failed | consistency (same real server through all three) | balance (1,000 connections) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
