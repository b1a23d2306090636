#!/bin/sh
# Guest side of dest-trash.sh (root, a kernel with ip_vs). IPVS keeps a
# namespace's deleted real servers on a "trash" list for a few minutes and,
# on every real-server add, walks that list from the most recently deleted
# entry looking for the same server to reuse. A daemon starting where
# another just removed the same 100 x 100 table (no checkers here: pure
# table programming) pays one walk per add; how long each walk is depends
# on the order the previous daemon removed them in.
# For lvsd the log gives the write phase alone (plan to "reconciled").
set -eu

lvsd=${BENCH_LVSD:?BENCH_LVSD: the lvsd binary}
vs_count=${BENCH_VS:-100} rs_count=${BENCH_RS:-100}
work=${LAB_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lvsd-trash.XXXXXX")}
mkdir -p "$work"
total=$((vs_count * rs_count))
namespaces=

cleanup() {
    for p in "$work"/*.pid; do
        [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null || true
    done
    for ns in $namespaces; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

awk -v vs="$vs_count" -v rs="$rs_count" 'BEGIN {
    print "global_defs {\n    router_id trash\n}"
    for (i = 1; i <= vs; i++) {
        printf "virtual_server 10.1.0.%d 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", i
        for (j = 1; j <= rs; j++) printf "    real_server 10.2.0.%d 80 {\n        weight 1\n    }\n", j
        print "}"
    }
}' >"$work/table.conf"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fresh_namespace() {
    ns=trash$$-$1
    ip netns add "$ns"
    namespaces="$namespaces $ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add d0 type dummy
    ip -n "$ns" addr add 10.2.255.254/16 dev d0
    ip -n "$ns" link set d0 up
}
programmed() { ip netns exec "$1" grep -c -- '->' /proc/net/ip_vs || true; }
# start NS CASE PROGRAM: start PROGRAM in NS, time it to the full table,
# stop it (each removes its table on SIGTERM) and wait until it is gone.
start() {
    ns=$1 case=$2 program=$3 log=$work/$program-$2.log
    case $program in
        lvsd) set -- "$lvsd" run -n -l -f "$work/table.conf" -p "$work/lvsd.pid" \
                  --control-socket "$work/lvsd.sock" --data-file "$work/lvsd.data" ;;
        keepalived) set -- keepalived -n -l -G -f "$work/table.conf" -p "$work/keepalived.pid" \
                  -r "$work/vrrp.pid" -c "$work/checkers.pid" ;;
    esac
    t0=$(now)
    setsid ip netns exec "$ns" "$@" >"$log" 2>&1 &
    tries=3000
    while [ "$(programmed "$ns")" -lt $((total + 1)) ]; do
        tries=$((tries - 1)); [ $tries -gt 0 ] || { echo "dest-trash: $program never programmed the table" >&2; exit 1; }
        sleep 0.05
    done
    took=$(elapsed "$t0" "$(now)")
    writes=
    if [ "$program" = lvsd ]; then
        # Log lines start with an RFC 3339 time; seconds within the minute
        # suffice here. From the first plan line (the summary, or for a plan
        # written in pieces the line saying so) to the table reconciled.
        writes=$(grep -E 'IPVS: PlanSummary|IPVS: more than|IPVS table reconciled' "$log" |
            sed -E 's/^[^T]*T[0-9]{2}:([0-9]{2}):([0-9.]+)Z.*/\1 \2/' |
            awk 'NR == 1 { a = $1 * 60 + $2 } { b = $1 * 60 + $2 } END { if (NR > 1) printf "; writes %.2f s", b - a }')
    fi
    printf 'dest-trash: %-34s %-10s start-up %s s%s\n' "$case" "$program" "$took" "$writes"
    sleep 1
    pid=$(cat "$work/$program.pid")
    kill -TERM "$pid"
    tries=600
    while kill -0 "$pid" 2>/dev/null && [ $tries -gt 0 ]; do sleep 0.1; tries=$((tries - 1)); done
    # One line: the header, which has "->" too.
    [ "$(programmed "$ns")" = 1 ] || { echo "dest-trash: $program left its table" >&2; exit 1; }
}

echo "dest-trash: $vs_count x $rs_count real servers, no checkers"
fresh_namespace 1
start "$ns" "fresh namespace" lvsd
start "$ns" "after lvsd removed the table" lvsd
start "$ns" "after lvsd removed the table" keepalived
start "$ns" "after keepalived removed the table" lvsd
fresh_namespace 2
start "$ns" "fresh namespace" keepalived
start "$ns" "after keepalived removed the table" keepalived
fresh_namespace 3
start "$ns" "fresh namespace" lvsd
