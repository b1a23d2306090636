#!/bin/sh
# lvsd lab, seed configs: runs inside the UML kernel (as root) and starts a
# director on every LVS seed config (those with a virtual_server) in a
# namespace that has the seed's interfaces and addresses, then prints the
# IPVS table it programmed.
#   seeds.sh [SEED_DIR]     (default: ../shared/seed-configs beside the repo)
# For each seed, one address per /24 the seed mentions (x.y.z.250/24) goes
# on the interface the seed names with "dev IF" for it, else on eth0; every
# interface the seed names ("interface IF", "dev IF") is a veth into a peer
# namespace, up. Real servers do not exist, so checkers fail over time: the
# table is read once it first holds every virtual and real server (keepalived
# and lvsd both start real servers up without "alpha"), or 10 s after the
# services appeared. Printed: the service lines, then the whole table:
#   seed NAME service: <ipvsadm -Ln service line>
#   seed NAME table: <ipvsadm -Ln line>
# Environment: LAB_SUBJECT as for guest.sh (default keepalived), LAB_DIR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
seed_dir=${1:-$here/../../../shared/seed-configs}
subject=${LAB_SUBJECT:-keepalived -n -l -D -G}
program=${subject%% *}
work=${LAB_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lvsd-seeds.XXXXXX")}
mkdir -p "$work"
ns=seed-dir$$ peer=seed-peer$$

log() { printf 'seeds: %s\n' "$*"; }
stop_director() {
    if [ -f "$work/session" ]; then
        kill "$(cat "$work/session")" 2>/dev/null || true
        tries=50
        while kill -0 "$(cat "$work/session")" 2>/dev/null && [ $tries -gt 0 ]; do
            sleep 0.1; tries=$((tries - 1))
        done
        kill -9 "-$(cat "$work/session")" 2>/dev/null || true
        rm -f "$work/session"
    fi
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "$peer" 2>/dev/null || true
}
trap stop_director EXIT

[ -d "$seed_dir" ] || { echo "seeds: no seed directory $seed_dir" >&2; exit 1; }
status=0
for seed in "$seed_dir"/*.conf; do
    grep -q '^[[:space:]]*virtual_server[[:space:]]' "$seed" || continue
    name=$(basename "$seed" .conf)
    expected=$(grep -c '^[[:space:]]*virtual_server[[:space:]]' "$seed")
    ip netns add "$ns"
    ip netns add "$peer"
    ip -n "$ns" link set lo up
    ifaces=$(grep -oE '(interface|dev)[[:space:]]+[A-Za-z0-9_.-]+' "$seed" |
        awk '{print $2}' | sort -u)
    for ifname in eth0 $ifaces; do
        ip -n "$ns" link show "$ifname" >/dev/null 2>&1 && continue
        ip -n "$ns" link add "$ifname" type veth peer name "p-$ifname" netns "$peer"
        ip -n "$ns" link set "$ifname" up
        ip -n "$peer" link set "p-$ifname" up
    done
    # Strip comments, then one address per /24 on the interface named for it.
    sed 's/[!#].*//' "$seed" | grep -oE '([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]+)?([[:space:]]+dev[[:space:]]+[A-Za-z0-9_.-]+)?' |
        awk '$1 !~ /^127\./ {
            split($1, a, "[./]"); p = a[1] "." a[2] "." a[3]
            dev = ($2 == "dev") ? $3 : ""
            if (!(p in seen) || (dev != "" && seen[p] == "")) seen[p] = dev
        } END { for (p in seen) print p, (seen[p] == "" ? "eth0" : seen[p]) }' |
        while read -r prefix ifname; do
            ip -n "$ns" addr add "$prefix.250/24" dev "$ifname"
        done
    case $program in
        keepalived | */keepalived) extra="-r $work/$name-vrrp.pid -c $work/$name-check.pid" ;;
        lvsd | */lvsd) extra="--control-socket $work/$name.sock --data-file $work/$name.data" ;;
        *) extra= ;;
    esac
    # shellcheck disable=SC2086 # word lists
    setsid ip netns exec "$ns" $subject -f "$seed" -p "$work/$name.pid" $extra \
        >"$work/$name.log" 2>&1 &
    echo $! >"$work/session"
    # Without "alpha" both programs start real servers up: wait for the
    # whole table (or 10 s after the services, should checks remove some).
    expected_reals=$(grep -c '^[[:space:]]*real_server[[:space:]]' "$seed")
    tries=300 services=0 reals=0 grace=100
    while [ $tries -gt 0 ] && [ $grace -gt 0 ]; do
        table=$(ip netns exec "$ns" ipvsadm -Ln)
        services=$(printf '%s\n' "$table" | grep -cE '^(TCP|UDP|SCTP|FWM) ' || true)
        reals=$(printf '%s\n' "$table" | grep -cE '^  -> [0-9[]' || true)
        [ "$services" -ge "$expected" ] && [ "$reals" -ge "$expected_reals" ] && break
        [ "$services" -ge "$expected" ] && grace=$((grace - 1))
        kill -0 "$(cat "$work/session")" 2>/dev/null || break
        sleep 0.1; tries=$((tries - 1))
    done
    if [ "$services" -ne "$expected" ]; then
        log "$name: FAILED: $services of $expected virtual servers programmed; log tail:" >&2
        tail -n 20 "$work/$name.log" >&2
        status=1
    else
        log "$name: $services virtual servers, $reals of $expected_reals real servers programmed"
    fi
    printf '%s\n' "$table" | grep -E '^(TCP|UDP|SCTP|FWM) ' | sed "s/^/seed $name service: /" || true
    printf '%s\n' "$table" | sed "s/^/seed $name table: /"
    stop_director
done
exit $status
