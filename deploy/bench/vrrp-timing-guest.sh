#!/bin/sh
# Issue #16's VRRP timing benchmark, guest side (vrrp-timing.sh runs it in
# UML; any scratch kernel with ip_vs will do, as root). For each director
# program in turn, on fresh namespaces:
#   - a real-server namespace: a bridge holding BENCH_RS addresses, nginx;
#   - a backup (VRRP only, priority 100) started first, so it is master;
#   - the master (priority 150, the full director: BENCH_VS x BENCH_RS
#     HTTP_GET checks at delay_loop 1, NAT) started while the backup runs.
# Phases, each timed by the master's adverts that tcpdump on the backup's
# side hears (VRRPv3, advert_int 0.1 s: 10 a second):
#   startup: from the master's first advert for 10 s (its checkers start);
#   steady:  BENCH_STEADY s (default 20) of checks;
#   reload:  a SIGHUP every 5 s, BENCH_RELOADS times (default 4), the
#            config alternating one real server's weight.
# Reported per phase: adverts heard / due, p99 and largest gap, and the
# backup's adverts after the master took over (each a false failover: a
# running backup takes over after 3 x 0.1 s + skew = 0.36 s of silence).
# Environment: BENCH_LVSD (lvsd binary; empty: keepalived only), BENCH_VS,
# BENCH_RS, BENCH_CHECK (HTTP_GET, TCP_CHECK or MISC_CHECK: /bin/true
# forked per check; TRACK_SCRIPT: VRRP only, see master()), BENCH_TASKSET,
# BENCH_DELAY_LOOP (1), BENCH_RELOADS, BENCH_STEADY,
# BENCH_RT / BENCH_NICE (vrrp_rt_priority / vrrp_priority for both
# programs), BENCH_SCRAPE (1: from the steady phase on, the master's state
# is read in a loop: lvsd status --json and /metrics for lvsd, SIGUSR1 and
# SIGUSR2 dumps every 0.1 s for keepalived), LAB_DIR (work dir).
set -eu

vs_count=${BENCH_VS:-10} rs_count=${BENCH_RS:-100}
reloads=${BENCH_RELOADS:-4} steady=${BENCH_STEADY:-20}
check=${BENCH_CHECK:-HTTP_GET} delay_loop=${BENCH_DELAY_LOOP:-1}
work=${LAB_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lvsd-vt.XXXXXX")}
mkdir -p "$work"
lvsd=${BENCH_LVSD:-}
ns_rs=vt-rs$$ ns_m=vt-m$$ ns_b=vt-b$$
log() { printf 'vrrp-timing: %s\n' "$*"; }
now() { date +%s.%N; }

cleanup() {
    for p in master backup tcpdump nginx; do
        [ -f "$work/$p.pid" ] && kill -9 "-$(cat "$work/$p.pid")" 2>/dev/null || true
        [ -f "$work/$p.pid" ] && kill -9 "$(cat "$work/$p.pid")" 2>/dev/null || true
    done
    for n in "$ns_m" "$ns_b" "$ns_rs"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT

rt=
[ -z "${BENCH_RT:-}" ] || rt="    vrrp_rt_priority $BENCH_RT
"
[ -z "${BENCH_NICE:-}" ] || rt="$rt    vrrp_priority $BENCH_NICE
"
# vrrp PRIORITY [SCRIPTS TRACK]: the instance, the same for both directors;
# SCRIPTS: vrrp_script blocks, TRACK: its track_script block.
vrrp() {
    cat <<VRRP
global_defs {
    router_id vt$1
    script_user root
${rt}}
${2:-}vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $1
    version 3
    advert_int 0.1
    virtual_ipaddress {
        10.2.254.1/16
    }
${3:-}}
VRRP
}
# master WEIGHT: the master's config, one real server at WEIGHT. With
# BENCH_CHECK=TRACK_SCRIPT: no virtual servers (no IPVS needed, so it runs
# on any kernel), BENCH_VS x BENCH_RS vrrp_scripts (/bin/true every
# BENCH_DELAY_LOOP s) tracked by the instance; WEIGHT 2 runs the first one
# every 2 s instead (what the reloads change). keepalived runs track
# scripts from its VRRP process, lvsd from its spawn helper.
master() {
    if [ "$check" = TRACK_SCRIPT ]; then
        n=$((vs_count * rs_count)) i=1 scripts= track=
        while [ $i -le $n ]; do
            every=$delay_loop
            [ $i -gt 1 ] || [ "$1" = 1 ] || every=2
            scripts="${scripts}vrrp_script s$i {
    script /bin/true
    interval $every
    timeout 2
}
"
            track="$track        s$i
"
            i=$((i + 1))
        done
        vrrp 150 "$scripts" "    track_script {
$track    }
"
        return
    fi
    vrrp 150
    awk -v vs="$vs_count" -v rs="$rs_count" -v w="$1" -v chk="$check" -v dl="$delay_loop" 'BEGIN {
        for (i = 1; i <= vs; i++) {
            printf "virtual_server 10.1.0.%d 80 {\n    delay_loop %d\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", i, dl
            for (j = 1; j <= rs; j++) {
                printf "    real_server 10.2.%d.%d 80 {\n        weight %d\n", int(j / 250), j % 250 + 1, (i == 1 && j == 1) ? w : 1
                if (chk == "HTTP_GET")
                    printf "        HTTP_GET {\n            url {\n                path /\n                status_code 200\n            }\n            connect_timeout 2\n        }\n    }\n"
                else if (chk == "MISC_CHECK")
                    printf "        MISC_CHECK {\n            misc_path /bin/true\n            misc_timeout 2\n        }\n    }\n"
                else
                    printf "        TCP_CHECK {\n            connect_timeout 2\n        }\n    }\n"
            }
            print "}"
        }
    }'
}

setup() {
    cleanup
    ip netns add "$ns_rs"; ip netns add "$ns_m"; ip netns add "$ns_b"
    ip -n "$ns_rs" link set lo up
    ip -n "$ns_rs" link add br0 type bridge
    ip -n "$ns_rs" link set br0 up
    j=1
    while [ $j -le "$rs_count" ]; do
        ip -n "$ns_rs" addr add "10.2.$((j / 250)).$((j % 250 + 1))/16" dev br0
        j=$((j + 1))
    done
    k=1
    for n in "$ns_m" "$ns_b"; do
        ip -n "$n" link set lo up
        ip -n "$n" link add eth0 type veth peer name "p$k" netns "$ns_rs"
        ip -n "$ns_rs" link set "p$k" master br0 up
        ip -n "$n" addr add "10.2.255.$k/16" dev eth0
        ip -n "$n" link set eth0 up
        k=$((k + 1))
    done
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<NGINX
daemon off;
pid $work/nginx/nginx.pid;
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
    setsid ip netns exec "$ns_rs" nginx -p "$work/nginx" -e "$work/nginx/error.log" \
        -c "$work/nginx/nginx.conf" >"$work/nginx/stdout" 2>&1 &
    echo $! >"$work/nginx.pid"
    tries=100
    until ip netns exec "$ns_m" curl -s -o /dev/null --max-time 1 http://10.2.0.2/; do
        tries=$((tries - 1)); [ $tries -gt 0 ] || { log "nginx does not answer"; exit 1; }
        sleep 0.2
    done
}

# start NAME ROLE NS CONF: the director program in the background.
start() {
    role=$2 ns=$3
    case $1 in
        keepalived)
            if [ "$2" = backup ]; then
                set -- keepalived -n -l -P -f "$4" -p "$work/$2-ka.pid" -r "$work/$2-vrrp.pid" -c "$work/$2-chk.pid"
            else
                set -- keepalived -n -l -f "$4" -p "$work/$2-ka.pid" -r "$work/$2-vrrp.pid" -c "$work/$2-chk.pid"
            fi
            ;;
        lvsd)
            if [ "$2" = backup ]; then
                set -- "$lvsd" run -n -l -P -f "$4" -p "$work/$2-ka.pid"
            else
                set -- "$lvsd" run -n -l -f "$4" -p "$work/$2-ka.pid" \
                    --control-socket "$work/$2.sock" --data-file "$work/$2.data" \
                    --metrics-listen 127.0.0.1:9662
            fi
            ;;
    esac
    # BENCH_TASKSET: the master's CPUs (taskset -c), e.g. 0 on a host to
    # give it one CPU as UML does.
    if [ "$role" = master ] && [ -n "${BENCH_TASKSET:-}" ]; then
        set -- taskset -c "$BENCH_TASKSET" "$@"
    fi
    setsid ip netns exec "$ns" "$@" >"$work/$name.$role.log" 2>&1 &
    echo $! >"$work/$role.pid"
}

analyse='
import sys
name, marks = sys.argv[1], sys.argv[2]
t = {}
for line in open(marks):
    k, v = line.split()
    t[k] = float(v)
master, backup = [], []
for line in open(sys.argv[3]):
    f = line.split()
    if len(f) < 4 or "VRRP" not in line:
        continue
    try:
        ts = float(f[0])
    except ValueError:
        continue
    if "10.2.255.1 >" in line:
        master.append(ts)
    elif "10.2.255.2 >" in line:
        backup.append(ts)
first = master[0] if master else t["start"]
phases = [("startup", first, first + 10), ("steady", t["steady"], t["reload"]), ("reload", t["reload"], t["end"])]
for ph, a, b in phases:
    seen = [x for x in master if a <= x <= b]
    gaps = sorted(y - x for x, y in zip(seen, seen[1:]))
    due = int((b - a) / 0.1)
    p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] * 1000 if gaps else float("nan")
    worst = gaps[-1] * 1000 if gaps else float("nan")
    # The backup advertising after the master took over: a false failover.
    takeovers = sum(1 for x in backup if a + 1 <= x <= b) if ph == "startup" else sum(1 for x in backup if a <= x <= b)
    print("RESULT %s %s %d %d %.1f %.1f %d" % (name, ph, len(seen), due, p99, worst, takeovers))
'

run() {
    name=$1
    setup
    vrrp 100 >"$work/backup.conf"
    master 1 >"$work/master1.conf"
    master 2 >"$work/master2.conf"
    cp "$work/master1.conf" "$work/master.conf"
    : >"$work/$name.marks"
    setsid ip netns exec "$ns_b" tcpdump -tt -n -l -i eth0 ip proto 112 >"$work/$name.dump" 2>"$work/$name.tcpdump.err" &
    echo $! >"$work/tcpdump.pid"
    start "$name" backup "$ns_b" "$work/backup.conf"
    sleep 3
    echo "start $(now)" >>"$work/$name.marks"
    start "$name" master "$ns_m" "$work/master.conf"
    sleep 10
    echo "steady $(now)" >>"$work/$name.marks"
    main=$(cat "$work/master-ka.pid" 2>/dev/null || cat "$work/master.pid")
    if [ "${BENCH_SCRAPE:-0}" = 1 ]; then
        case $name in
            lvsd) setsid ip netns exec "$ns_m" sh -c "while :; do '$lvsd' status --json -s '$work/master.sock' >/dev/null 2>&1; curl -s -o /dev/null http://127.0.0.1:9662/metrics; done" >/dev/null 2>&1 & ;;
            keepalived) setsid sh -c "while :; do kill -USR1 $main; kill -USR2 $main; sleep 0.1; done" >/dev/null 2>&1 & ;;
        esac
        echo $! >"$work/scrape.pid"
    fi
    sleep "$steady"
    echo "reload $(now)" >>"$work/$name.marks"
    r=1
    while [ $r -le "$reloads" ]; do
        cp "$work/master$((r % 2 + 1)).conf" "$work/master.conf"
        kill -HUP "$main" 2>/dev/null || log "$name: the master (pid $main) is gone: $(tail -n 3 "$work/$name.master.log" | tr '\n' ' ')"
        sleep 5
        r=$((r + 1))
    done
    echo "end $(now)" >>"$work/$name.marks"
    if [ -f "$work/scrape.pid" ]; then
        kill -9 "-$(cat "$work/scrape.pid")" 2>/dev/null || true
        rm -f "$work/scrape.pid"
    fi
    if [ "$check" != TRACK_SCRIPT ]; then
        programmed=$(ip netns exec "$ns_m" grep -c -- '->' /proc/net/ip_vs || true)
        log "$name: $((programmed - 1)) real servers in the master's table at the end"
    fi
    kill -TERM "$(cat "$work/tcpdump.pid")" 2>/dev/null || true
    sleep 1
    python3 -c "$analyse" "$name" "$work/$name.marks" "$work/$name.dump"
    for p in master backup; do kill -TERM "-$(cat "$work/$p.pid")" 2>/dev/null || true; done
    sleep 2
    [ -z "${BENCH_LOGS:-}" ] || { mkdir -p "$BENCH_LOGS"; cp "$work/$name".*.log "$work/$name.dump" "$BENCH_LOGS/" 2>/dev/null || true; }
    cleanup
}

log "$vs_count x $rs_count $check real servers at delay_loop $delay_loop; VRRPv3 advert_int 0.1 s${BENCH_RT:+; vrrp_rt_priority $BENCH_RT}${BENCH_NICE:+; vrrp_priority $BENCH_NICE}; $reloads reloads${BENCH_SCRAPE:+; state read in a loop}"
[ -z "$lvsd" ] || run lvsd
run keepalived
log "done"
