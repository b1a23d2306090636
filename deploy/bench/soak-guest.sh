#!/bin/sh
# Issue #16's soak, guest side (run by soak.sh inside UML, or as root in any
# scratch kernel with ip_vs). For each director program in turn (lvsd, then
# keepalived 2.2.7), in a fresh director namespace:
#   reloads: BENCH_RELOADS SIGHUP reloads (default 1000) alternating between
#            config A (virtual servers 1..V, real servers 1..R, VRRP instance
#            VI_A tracking script chk_a) and config B (virtual servers
#            V/2+1..V+V/2, real servers R/2+1..R+R/2, VI_B tracking chk_b):
#            each reload adds and removes virtual servers, real servers, a
#            VRRP instance and a script. Each is waited for in the kernel's
#            table (a service only the new config has is there, one only the
#            old had is gone). Every BENCH_SAMPLE reloads: the daemon's RSS
#            (all its processes), open fds and threads.
#   flap:    BENCH_FLAP_RS real servers (default 1000, one virtual server,
#            TCP_CHECK delay_loop 1) of which BENCH_FLAP_BATCH (100) lose
#            their address every 2 s and get it back 2 s later, for
#            BENCH_FLAP_SECONDS (240); RSS, fds and threads every 30 s.
# For lvsd also: after the last reload, no metric series names a virtual
# server the running config does not have. Lines start with "soak:".
set -eu

vs_count=${BENCH_VS:-10} rs_count=${BENCH_RS:-20}
reloads=${BENCH_RELOADS:-1000} sample=${BENCH_SAMPLE:-100}
flap_rs=${BENCH_FLAP_RS:-1000} flap_batch=${BENCH_FLAP_BATCH:-100}
flap_seconds=${BENCH_FLAP_SECONDS:-240}
work=${LAB_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lvsd-soak.XXXXXX")}
mkdir -p "$work"
lvsd=${BENCH_LVSD:-}
rs=soak-rs$$ dir= dir_count=0 status=0

log() { printf 'soak: %s\n' "$*"; }

cleanup() {
    [ -f "$work/director.pid" ] && kill -9 "-$(cat "$work/director.pid")" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    [ -z "$dir" ] || ip netns del "$dir" 2>/dev/null || true
    ip netns del "$rs" 2>/dev/null || true
}
trap cleanup EXIT

# The real servers' LAN: addresses 10.2.X.Y on a bridge in one namespace,
# nginx answering on all of them.
ip netns add "$rs"
ip -n "$rs" link set lo up
ip -n "$rs" link add br0 type bridge
ip -n "$rs" link set br0 up
most=$rs_count
[ "$flap_rs" -gt "$most" ] && most=$flap_rs
[ $((rs_count + rs_count / 2)) -gt "$most" ] && most=$((rs_count + rs_count / 2))
# rs_addr N: the Nth real server's address (1-based).
rs_addr() { echo "10.2.$((($1 - 1) / 250)).$((($1 - 1) % 250 + 1))"; }
i=1
while [ $i -le "$most" ]; do
    ip -n "$rs" addr add "$(rs_addr $i)/16" dev br0
    i=$((i + 1))
done
new_director() {
    if [ -n "$dir" ]; then
        ip netns del "$dir"
        sleep 2
    fi
    dir_count=$((dir_count + 1))
    dir=soak-dir$$-$dir_count
    ip netns add "$dir"
    ip -n "$dir" link set lo up
    ip -n "$dir" link add eth0 type veth peer name "d$dir_count" netns "$rs"
    ip -n "$rs" link set "d$dir_count" master br0 up
    ip -n "$dir" addr add 10.2.255.254/16 dev eth0
    ip -n "$dir" link set eth0 up
}
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

# config A|B: the soak's two configurations.
config() {
    awk -v which="$1" -v vs="$vs_count" -v rs="$rs_count" 'BEGIN {
        print "global_defs {\n    router_id soak\n    enable_script_security\n    script_user root\n}"
        if (which == "A") { v0 = 1; r0 = 1; inst = "VI_A"; vrid = 51; chk = "chk_a"; vip = "10.2.250.1" }
        else { v0 = int(vs / 2) + 1; r0 = int(rs / 2) + 1; inst = "VI_B"; vrid = 52; chk = "chk_b"; vip = "10.2.250.2" }
        printf "vrrp_script %s {\n    script \"/bin/true\"\n    interval 2\n}\n", chk
        printf "vrrp_instance %s {\n    state BACKUP\n    interface eth0\n    virtual_router_id %d\n    priority 100\n    advert_int 1\n", inst, vrid
        printf "    track_script {\n        %s\n    }\n    virtual_ipaddress {\n        %s/16\n    }\n}\n", chk, vip
        for (i = v0; i < v0 + vs; i++) {
            printf "virtual_server 10.1.0.%d 80 {\n    delay_loop 5\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", i
            for (j = r0; j < r0 + rs; j++) {
                printf "    real_server 10.2.%d.%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 2\n        }\n    }\n", int((j - 1) / 250), (j - 1) % 250 + 1
            }
            print "}"
        }
    }'
}
# flap_config: one virtual server over the flapping real servers.
flap_config() {
    awk -v rs="$flap_rs" 'BEGIN {
        print "global_defs {\n    router_id soak\n}"
        print "virtual_server 10.1.1.1 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP"
        for (j = 1; j <= rs; j++)
            printf "    real_server 10.2.%d.%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n    }\n", int((j - 1) / 250), (j - 1) % 250 + 1
        print "}"
    }'
}
config A >"$work/A.conf"
config B >"$work/B.conf"
flap_config >"$work/flap.conf"
first_a=10.1.0.1 first_b=10.1.0.$((vs_count + vs_count / 2))

has_service() { ip netns exec "$dir" ipvsadm -Ln -t "$1:80" >/dev/null 2>&1; }
# wait_config A|B: until the table shows that config (60 s at most).
wait_config() {
    tries=1200
    while [ $tries -gt 0 ]; do
        if [ "$1" = A ]; then
            has_service "$first_a" && ! has_service "$first_b" && return 0
        else
            has_service "$first_b" && ! has_service "$first_a" && return 0
        fi
        sleep 0.05
        tries=$((tries - 1))
    done
    return 1
}
# usage: "RSS_kB fds threads" over every process of the daemon's session.
usage() {
    sid=$(cat "$work/director.pid")
    pids=$(ps -o pid= -s "$sid" | tr -d ' ')
    rss=0 fds=0 threads=0
    for p in $pids; do
        [ -r "/proc/$p/status" ] || continue
        r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")
        t=$(awk '/^Threads:/ { print $2 }' "/proc/$p/status")
        f=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
        # ip netns exec and setsid themselves are not the daemon.
        case $(cat "/proc/$p/comm") in ip|setsid) continue ;; esac
        rss=$((rss + ${r:-0})) fds=$((fds + f)) threads=$((threads + ${t:-0}))
    done
    echo "$rss $fds $threads"
}
start() {
    name=$1 conf=$2
    cp "$conf" "$work/running.conf"
    case $name in
        keepalived)
            set -- keepalived -n -l -f "$work/running.conf" -p "$work/keepalived.pid" \
                -r "$work/vrrp.pid" -c "$work/checkers.pid"
            ;;
        lvsd)
            set -- "$lvsd" run -n -l -f "$work/running.conf" -p "$work/lvsd.pid" \
                --control-socket "$work/lvsd.sock" --data-file "$work/lvsd.data"
            ;;
    esac
    setsid ip netns exec "$dir" "$@" >"$work/$name.log" 2>&1 &
    echo $! >"$work/director.pid"
    tries=200
    until [ -s "$work/$name.pid" ] || [ $tries -le 0 ]; do sleep 0.1; tries=$((tries - 1)); done
}
stop() {
    name=$1
    kill -TERM "$(cat "$work/$name.pid")" 2>/dev/null || true
    tries=300
    while kill -0 "$(cat "$work/$name.pid")" 2>/dev/null && [ $tries -gt 0 ]; do sleep 0.1; tries=$((tries - 1)); done
    kill -9 "-$(cat "$work/director.pid")" 2>/dev/null || true
    rm -f "$work/director.pid" "$work/$name.pid"
}

soak() {
    name=$1
    new_director
    ip netns exec "$dir" ipvsadm -C
    start "$name" "$work/A.conf"
    if ! wait_config A; then
        log "$name: FAILED: config A never in the table"; status=1; stop "$name"; return
    fi
    sleep 5
    log "$name reload 0 $(usage)"
    n=1 which=B t0=$(date +%s)
    while [ $n -le "$reloads" ]; do
        cp "$work/$which.conf" "$work/running.conf"
        kill -HUP "$(cat "$work/$name.pid")"
        if ! wait_config "$which"; then
            log "$name: FAILED: reload $n (config $which) not in the table after 60 s"; status=1; break
        fi
        [ $((n % sample)) -eq 0 ] && log "$name reload $n $(usage)"
        if [ "$which" = A ]; then which=B; else which=A; fi
        n=$((n + 1))
    done
    log "$name: $((n - 1)) reloads in $(($(date +%s) - t0)) s"
    sleep 5
    log "$name settled $(usage)"
    if [ "$name" = lvsd ]; then
        # The running config is A (an even number of reloads) or B; the
        # other's first virtual server must have no series left.
        "$lvsd" metrics -s "$work/lvsd.sock" >"$work/metrics.txt" 2>&1 || true
        if [ $((reloads % 2)) -eq 0 ]; then gone=$first_b; else gone=$first_a; fi
        left=$(grep -c "$gone:80" "$work/metrics.txt" || true)
        series=$(grep -vc '^#' "$work/metrics.txt" || true)
        log "lvsd: $series series after the reloads; $left of them name $gone (removed)"
        [ "$left" -eq 0 ] || status=1
    fi
    stop "$name"

    # The flapping pool.
    new_director
    ip netns exec "$dir" ipvsadm -C
    start "$name" "$work/flap.conf"
    tries=600
    until [ "$(ip netns exec "$dir" grep -c -- '->' /proc/net/ip_vs)" -gt "$flap_rs" ] || [ $tries -le 0 ]; do
        sleep 0.5; tries=$((tries - 1))
    done
    sleep 5
    log "$name flap 0 s $(usage) (in the table: $(($(ip netns exec "$dir" grep -c -- '->' /proc/net/ip_vs) - 1)))"
    t0=$(date +%s) batch=0 last_sample=$t0
    while [ $(($(date +%s) - t0)) -lt "$flap_seconds" ]; do
        first=$((batch * flap_batch % flap_rs + 1))
        i=$first
        while [ $i -lt $((first + flap_batch)) ]; do
            ip -n "$rs" addr del "$(rs_addr $i)/16" dev br0 2>/dev/null || true
            i=$((i + 1))
        done
        sleep 2
        i=$first
        while [ $i -lt $((first + flap_batch)) ]; do
            ip -n "$rs" addr add "$(rs_addr $i)/16" dev br0 2>/dev/null || true
            i=$((i + 1))
        done
        sleep 2
        batch=$((batch + 1))
        now=$(date +%s)
        if [ $((now - last_sample)) -ge 30 ]; then
            log "$name flap $((now - t0)) s $(usage) (batches so far: $batch)"
            last_sample=$now
        fi
    done
    sleep 10
    log "$name flap settled $(usage) (in the table: $(($(ip netns exec "$dir" grep -c -- '->' /proc/net/ip_vs) - 1)))"
    stop "$name"
}

[ -n "$lvsd" ] && soak lvsd
[ "${BENCH_KEEPALIVED:-1}" = 1 ] && soak keepalived
log "done (status $status)"
exit "$status"
