#!/bin/sh
# The issue-6 benchmark, guest side (run by startup-reload.sh inside UML, or
# as root in any scratch kernel with ip_vs): a config with 100 virtual
# servers x 100 real servers (NAT, rr, TCP_CHECK against a real nginx that
# answers on all 100 real-server addresses in a namespace), for each
# director program in turn:
#   startup: from exec to a fully programmed table (/proc/net/ip_vs lists all
#            10,000 real servers);
#   reload:  the config file changes one real server's weight, SIGHUP; time
#            until ipvsadm shows the new weight;
#   writes:  IPVS netlink writes of a second such reload, counted with
#            strace (sendmsg/sendto to AF_NETLINK) on the process that
#            programs IPVS; for lvsd also its own counter (lvsd status).
# Start-up and the timed reload run BENCH_ROUNDS times (default 3, order
# alternating), medians reported; the traced reload runs once. Every start
# gets a fresh director namespace, as on a freshly booted director: the
# kernel keeps a namespace's deleted real servers for minutes and walks that
# list on every add, so a start in the namespace the previous daemon
# emptied pays for that daemon's deletions (see dest-trash.sh).
# BENCH_SAME_NETNS=1 keeps one namespace for all starts (the old method).
# Environment: BENCH_LVSD (lvsd binary; empty: keepalived only), BENCH_CHECKS
# (0: no checkers, to time table programming alone),
# BENCH_VS / BENCH_RS (100 / 100), BENCH_DELAY_LOOP (30), BENCH_TIMEOUT
# (seconds per phase, 300), BENCH_NOFILE (run lvsd under prlimit with this open-files limit; default none: it raises its own), BENCH_ROUNDS, BENCH_LOGS (keep logs there), LAB_DIR (work dir).
# For A/B runs of one program's start-up: BENCH_ONLY=lvsd (or keepalived)
# runs that program alone, BENCH_STARTUP_ONLY=1 skips the reloads.
set -eu

vs_count=${BENCH_VS:-100} rs_count=${BENCH_RS:-100}
delay_loop=${BENCH_DELAY_LOOP:-30} timeout=${BENCH_TIMEOUT:-300}
work=${LAB_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lvsd-bench.XXXXXX")}
mkdir -p "$work"
rs=bench-rs$$ dir= dir_count=0
# The real server whose weight the reloads change, in the middle.
probe_vs=10.1.0.$(((vs_count + 1) / 2)) probe_rs=10.2.0.$(((rs_count + 1) / 2))
total=$((vs_count * rs_count))
# BENCH_CHECKS=0: real servers without checkers (pure table programming).
checks=${BENCH_CHECKS:-1}

log() { printf 'bench: %s\n' "$*"; }
now() { date +%s.%N; }
# utc_time EPOCH: HH:MM:SS.mmm (UTC), to line up with the daemons' logs.
utc_time() { awk -v t="$1" 'BEGIN { s = t % 86400; printf "%02d:%02d:%06.3f", int(s / 3600), int(s % 3600 / 60), s % 60 }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
    [ -f "$work/director.pid" ] && kill -9 "-$(cat "$work/director.pid")" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    [ -z "$dir" ] || ip netns del "$dir" 2>/dev/null || true
    ip netns del "$rs" 2>/dev/null || true
}
trap cleanup EXIT

# config WEIGHT: the whole config with the probe real server at WEIGHT.
config() {
    awk -v vs="$vs_count" -v rs="$rs_count" -v dl="$delay_loop" -v w="$1" \
        -v pvs="$probe_vs" -v prs="$probe_rs" -v chk="$checks" 'BEGIN {
        print "global_defs {\n    router_id bench\n}"
        for (i = 1; i <= vs; i++) {
            v = "10.1.0." i
            printf "virtual_server %s 80 {\n    delay_loop %d\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", v, dl
            for (j = 1; j <= rs; j++) {
                r = "10.2.0." j
                printf "    real_server %s 80 {\n        weight %d\n", r, (v == pvs && r == prs) ? w : 1
                if (chk) printf "        TCP_CHECK {\n            connect_timeout 5\n        }\n"
                printf "    }\n"
            }
            print "}"
        }
    }'
}

# The LAN: the real servers' addresses on a bridge in one namespace; each
# director namespace joins it with a veth.
ip netns add "$rs"
ip -n "$rs" link set lo up
ip -n "$rs" link add br0 type bridge
ip -n "$rs" link set br0 up
j=1
while [ $j -le "$rs_count" ]; do
    ip -n "$rs" addr add "10.2.0.$j/16" dev br0
    j=$((j + 1))
done
# new_director: replaces the director namespace with a fresh one.
new_director() {
    if [ -n "$dir" ]; then
        ip netns del "$dir"
        # The old namespace is torn down by a kernel worker: let it finish.
        sleep 2
    fi
    dir_count=$((dir_count + 1))
    dir=bench-dir$$-$dir_count
    ip netns add "$dir"
    ip -n "$dir" link set lo up
    ip -n "$dir" link add eth0 type veth peer name "d$dir_count" netns "$rs"
    ip -n "$rs" link set "d$dir_count" master br0 up
    ip -n "$dir" addr add 10.2.255.254/16 dev eth0
    ip -n "$dir" link set eth0 up
}
new_director
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server { listen 80 backlog=4096; location / { return 200 "ok\n"; } }
}
NGINX
ip netns exec "$rs" nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" \
    >"$work/nginx/stdout" 2>&1 &
tries=100
until ip netns exec "$dir" curl -s -o /dev/null --max-time 1 "http://$probe_rs/"; do
    tries=$((tries - 1)); [ $tries -gt 0 ] || { log "nginx does not answer"; exit 1; }
    sleep 0.2
done
config 1 >"$work/weight1.conf"
config 5 >"$work/weight5.conf"
config 6 >"$work/weight6.conf"
log "$vs_count virtual servers x $rs_count real servers, TCP_CHECK $( [ "$checks" = 1 ] && echo on || echo off); config $(wc -l <"$work/weight1.conf") lines"

# The start-up probe: one process in the director's namespace that reads
# /proc/net/ip_vs every 0.05 s (no exec per poll: in UML an exec costs tens
# of milliseconds of the one CPU the daemon needs) and prints the time it
# first sees WANT "->" lines (real servers + the header line). Gives up
# when the daemon (its pid, once PIDFILE exists) is gone or after LIMIT s.
watch_table='
import os, sys, time
path, want, limit, pidfile = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
print("ready", flush=True)
end = time.time() + limit
while time.time() < end:
    with open(path, "rb") as f:
        seen = f.read().count(b"->")
    if seen >= want:
        print("seen %.6f" % time.time(), flush=True)
        sys.exit(0)
    try:
        with open(pidfile) as f:
            os.kill(int(f.read()), 0)
    except (FileNotFoundError, ValueError):
        pass  # not written yet
    except ProcessLookupError:
        print("daemon exited", flush=True)
        sys.exit(1)
    time.sleep(0.05)
print("timed out", flush=True)
sys.exit(1)
'
# Real servers in the kernel's table (+1: the header line has "->" too),
# for failure messages; the watcher above reads the same file. Not polled
# with `ipvsadm -Ln`: its dump holds the IPVS mutex (blocking the daemon's
# writes) and takes 0.34 s for 10,000 real servers in UML, while the kernel
# prints /proc/net/ip_vs under RCU. One full `ipvsadm -Ln` confirms the
# count once the watcher sees it.
programmed() { ip netns exec "$dir" grep -c -- '->' /proc/net/ip_vs || true; }
programmed_ipvsadm() { ip netns exec "$dir" ipvsadm -Ln | grep -c -- '->' || true; }
probe_weight() {
    ip netns exec "$dir" ipvsadm -Ln -t "$probe_vs:80" 2>/dev/null |
        awk -v r="$probe_rs:80" '$2 == r { print $4 }'
}
# wait_weight W: poll every 0.05 s until the probe real server has weight W.
wait_weight() {
    deadline=$(awk -v t="$(now)" -v s="$timeout" 'BEGIN { printf "%.3f", t + s }')
    while [ "$(probe_weight)" != "$1" ]; do
        awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }' && return 1
        sleep 0.05
    done
}
# netlink_writes FILE: sendmsg/sendto calls to an AF_NETLINK address in an strace log.
# netlink_writes FILE: IPVS write commands in an strace log of sendmsg/sendto:
# each netlink message's generic-netlink command byte (the first payload
# byte) is one of IPVS's NEW/SET/DEL/FLUSH/ZERO commands; family look-ups
# (nlctrl, type 0x10) and GET dumps are reads. (UML's strace cannot name
# the netlink family, so the command byte decides.)
netlink_writes() {
    grep -oE 'nlmsg_type=[^,]*, nlmsg_flags=[^}]*\}, "\\x[0-9a-f]{2}' "$1" |
        sed -E 's/^nlmsg_type=([^ ,]*).*"\\x(..)$/\1 \2/' |
        awk '$1 != "nlctrl" && $1 != "0x10" && $2 ~ /^(01|02|03|05|06|07|09|0a|0c|0e|10|11)$/ { n++ }
             END { print n + 0 }'
}
# write_commands FILE: the IPVS write commands in FILE, as "cmd=COUNT" (hex).
write_commands() {
    grep -oE 'nlmsg_type=[^,]*, nlmsg_flags=[^}]*\}, "\\x[0-9a-f]{2}' "$1" |
        sed -E 's/^nlmsg_type=([^ ,]*).*"\\x(..)$/\1 \2/' |
        awk '$1 != "nlctrl" && $1 != "0x10" && $2 ~ /^(01|02|03|05|06|07|09|0a|0c|0e|10|11)$/ { n[$2]++ }
             END { for (c in n) printf "cmd 0x%s x%d ", c, n[c] }'
}
lvsd_writes() {
    "$lvsd" status --json -s "$work/lvsd.sock" 2>>"$work/lvsd-status.err" |
        sed -n 's/.*"ipvs_writes": *\([0-9]*\).*/\1/p'
}

status=0
# 10,000 checkers need more sockets than the usual limit of 1024 when real
# servers answer slowly. Both daemons raise their own limit (as root);
# BENCH_NOFILE=N runs lvsd under `prlimit --nofile=N:N` instead.
nofile=${BENCH_NOFILE:-}
rounds=${BENCH_ROUNDS:-3}
# bench NAME ROUND: start-up and timed reload; in round 1 also the traced reload.
bench() {
    name=$1 round=$2 reload=
    cp "$work/weight1.conf" "$work/running.conf"
    [ "${BENCH_SAME_NETNS:-0}" = 1 ] || new_director
    ip netns exec "$dir" ipvsadm -C
    case $name in
        keepalived)
            set -- keepalived -n -l -G -f "$work/running.conf" -p "$work/keepalived.pid" \
                -r "$work/vrrp.pid" -c "$work/checkers.pid"
            ;;
        lvsd)
            set -- "$lvsd" run -n -l -f "$work/running.conf" -p "$work/lvsd.pid" \
                --control-socket "$work/lvsd.sock" --data-file "$work/lvsd.data"
            [ -z "$nofile" ] || set -- prlimit --nofile="$nofile:$nofile" "$@"
            ;;
    esac
    log "$name round $round: before start: $(ip netns exec "$dir" ss -tan state time-wait | wc -l) TIME-WAIT sockets, $(ip netns exec "$dir" ss -tan | wc -l) TCP sockets"
    # The watcher runs before the start, so its own start-up is not timed.
    rm -f "$work/director.pid" "$work/watch.out"
    ip netns exec "$dir" python3 -c "$watch_table" /proc/net/ip_vs $((total + 1)) \
        "$timeout" "$work/director.pid" >"$work/watch.out" 2>&1 &
    watcher=$!
    tries=100
    until grep -q ready "$work/watch.out" 2>/dev/null || [ $tries -le 0 ]; do sleep 0.1; tries=$((tries - 1)); done
    t0=$(now)
    setsid ip netns exec "$dir" "$@" >"$work/$name.$round.log" 2>&1 &
    echo $! >"$work/director.pid.new"
    mv "$work/director.pid.new" "$work/director.pid"
    if ! wait "$watcher"; then
        log "$name: FAILED: $(($(programmed) - 1)) of $total real servers programmed ($(tail -n 1 "$work/watch.out")); log tail:"
        tail -n 15 "$work/$name.$round.log"
        status=1
        kill -9 "-$(cat "$work/director.pid")" 2>/dev/null || true
        return
    fi
    t1=$(sed -n 's/^seen //p' "$work/watch.out")
    startup=$(elapsed "$t0" "$t1")
    listed=$(programmed_ipvsadm)
    if [ "$listed" -ne $((total + 1)) ]; then
        log "$name: FAILED: /proc/net/ip_vs shows $total real servers, ipvsadm -Ln $((listed - 1))"
        status=1
    fi
    log "$name round $round: startup to $total real servers programmed: $startup s (ipvsadm -Ln confirms; exec at $(utc_time "$t0"), seen at $(utc_time "$t1") UTC)"
    echo "$startup" >>"$work/$name.startups"
    if [ "${BENCH_STARTUP_ONLY:-0}" = 1 ]; then
        kill -9 "-$(cat "$work/director.pid")" 2>/dev/null || true
        rm -f "$work/director.pid"
        return
    fi

    # Which process writes to IPVS: keepalived's checker child, lvsd itself.
    case $name in
        keepalived) main_pid=$(cat "$work/keepalived.pid") writer_pid=$(cat "$work/checkers.pid") ;;
        lvsd) main_pid=$(cat "$work/lvsd.pid") writer_pid=$main_pid ;;
    esac

    before=
    if [ "$name" = lvsd ]; then
        tries=100
        until [ -S "$work/lvsd.sock" ] || [ $tries -le 0 ]; do sleep 0.1; tries=$((tries - 1)); done
        before=$(lvsd_writes)
    fi
    [ "$name" = lvsd ] && [ -z "$before" ] && log "$name: lvsd status failed: $(tail -n 3 "$work/lvsd-status.err")"
    cp "$work/weight5.conf" "$work/running.conf"
    t0=$(now)
    kill -HUP "$main_pid"
    if ! wait_weight 5; then
        log "$name: FAILED: weight 5 not visible ${timeout}s after SIGHUP"; status=1
    else
        reload=$(elapsed "$t0" "$(now)")
        log "$name round $round: reload (one weight changed) visible after: $reload s"
        echo "$reload" >>"$work/$name.reloads"
    fi
    sleep 3
    if [ -n "$before" ]; then
        after=$(lvsd_writes)
        if [ -n "$after" ]; then
            echo $((after - before)) >>"$work/$name.counters"
            log "$name round $round: IPVS writes of that reload (lvsd status): $((after - before))"
        else
            log "$name: lvsd status failed: $(tail -n 3 "$work/lvsd-status.err")"
        fi
    fi

    # A second reload under strace, for the write count only.
    if [ "$round" = 1 ]; then
    strace -f -qq -yy -s 64 -e trace=sendmsg,sendto -o "$work/$name.strace" -p "$writer_pid" &
    strace_pid=$!
    sleep 2
    before=
    [ "$name" = lvsd ] && before=$(lvsd_writes)
    cp "$work/weight6.conf" "$work/running.conf"
    kill -HUP "$main_pid"
    wait_weight 6 || { log "$name: FAILED: weight 6 not visible"; status=1; }
    sleep 3
    kill -INT "$strace_pid" 2>/dev/null || true
    wait "$strace_pid" 2>/dev/null || true
    writes=$(netlink_writes "$work/$name.strace")
    if [ -n "$before" ] && after=$(lvsd_writes) && [ -n "$after" ]; then
        log "$name: IPVS writes of the traced reload (lvsd status): $((after - before))"
    fi
    log "$name: IPVS netlink writes of a reload (strace): $writes ($(write_commands "$work/$name.strace"))"
    eval "${name}_writes=$writes"
    fi
    kill -TERM "$main_pid" 2>/dev/null || true
    tries=600
    while kill -0 "$main_pid" 2>/dev/null && [ $tries -gt 0 ]; do sleep 0.1; tries=$((tries - 1)); done
    kill -9 "-$(cat "$work/director.pid")" 2>/dev/null || true
    rm -f "$work/director.pid"
}

# BENCH_LOGS=DIR keeps the directors' logs and strace files (host path).
keep_logs() {
    if [ -n "${BENCH_LOGS:-}" ]; then
        mkdir -p "$BENCH_LOGS"
        cp "$work"/*.log "$work"/*.strace "$BENCH_LOGS"/ 2>/dev/null || true
    fi
}

# median FILE: the median of the numbers in FILE (one per line).
median() {
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

lvsd=${BENCH_LVSD:-}
round=1
while [ $round -le "$rounds" ]; do
    # Alternate the order so neither program always runs on a warmer guest.
    if [ $((round % 2)) = 1 ]; then order="keepalived lvsd"; else order="lvsd keepalived"; fi
    for name in $order; do
        [ "$name" = lvsd ] && [ -z "$lvsd" ] && continue
        [ -n "${BENCH_ONLY:-}" ] && [ "$name" != "$BENCH_ONLY" ] && continue
        bench "$name" "$round"
    done
    round=$((round + 1))
done

for name in keepalived lvsd; do
    [ -f "$work/$name.startups" ] || continue
    reloads=
    [ -f "$work/$name.reloads" ] &&
        reloads=", reload $(median "$work/$name.reloads") s (all: $(tr '\n' ' ' <"$work/$name.reloads"))"
    log "$name: median of $rounds: startup $(median "$work/$name.startups") s (all: $(tr '\n' ' ' <"$work/$name.startups"))$reloads"
done
if [ -f "$work/lvsd.startups" ] && [ -f "$work/keepalived.startups" ]; then
    log "ratio lvsd/keepalived startup (medians): $(ratio "$(median "$work/lvsd.startups")" "$(median "$work/keepalived.startups")") (goal <= 0.5)"
fi
if [ -f "$work/lvsd.reloads" ] && [ -f "$work/keepalived.reloads" ]; then
    log "ratio lvsd/keepalived reload (medians): $(ratio "$(median "$work/lvsd.reloads")" "$(median "$work/keepalived.reloads")") (goal <= 0.1)"
fi
if [ "${BENCH_STARTUP_ONLY:-0}" = 1 ]; then
    log "BENCH_STARTUP_ONLY=1: no reloads"
elif [ -n "$lvsd" ]; then
    log "reload IPVS writes: lvsd ${lvsd_writes:-?} by strace, $(tr '\n' ' ' <"$work/lvsd.counters" 2>/dev/null)by its counter; keepalived ${keepalived_writes:-?} by strace (goal: lvsd exactly 1)"
else
    log "BENCH_LVSD unset: keepalived only"
fi
keep_logs
exit $status
