#!/bin/sh
# lvsd BGP lab, guest side (lab.sh --bgp boots UML and runs it): N active
# directors behind a router's ECMP, as issue #17 describes.
#
#   lab-client 172.16.0.10 ── 172.16.0.1 lab-router (BIRD: BGP + BFD, ECMP,
#                                         │  fib_multipath_hash_policy=1)
#                                     10.0.0.1
#                                         │ bridge br0 in lab-sw
#   lab-dir1 10.0.0.11 ─┬─ lab-dir2 10.0.0.12 ─┬─ lab-dir3 10.0.0.13
#   lvsd (route_announce, mh, DR, sloppy_tcp) + BIRD (BGP + BFD) on each,
#   the VIP 10.0.0.100 on lo
#   lab-rs1 10.0.0.21, lab-rs2 10.0.0.22, lab-rs3 10.0.0.23: nginx answering
#   "rs1".."rs3", the VIP on lo (DR), default route via the router
#
#   bgp-guest.sh demo   spread, crash, graceful stop, rejoin (below); exits 0
#                       when every step held
#   bgp-guest.sh shell  set up, then an interactive shell (exit to halt)
#
# The demo: (1) LAB_SPREAD (150) new connections from the client are spread over
# the three directors, and long-lived flows (persistent HTTP connections, a
# request every LAB_FLOW_INTERVAL s) run through all three; (2) dir3
# crashes (its switch port cut, lvsd and BIRD SIGKILLed): its route must
# leave the router within LAB_MAX_WITHDRAW s (BFD at 100 ms x 3), no flow of
# dir1 or dir2 may break, new connections go to the survivors; (3) dir2
# stops gracefully (SIGTERM: withdraw, drain, remove) while a client opens
# a new connection every 0.1 s: none may fail; (4) dir2 and dir3 rejoin and
# carry new connections again. Figures are printed as "figure: NAME VALUE".
# Environment: LAB_SUBJECT (the lvsd command without -f/-p, as lab.sh
# sets it), LAB_DIR, LAB_FLOWS (30), LAB_FLOW_INTERVAL (0.5),
# LAB_MAX_WITHDRAW (2.0 s), LAB_SLOPPY (yes; "no" shows what breaks),
# LAB_SCHED (mh; or rr...), LAB_SYNC (no; yes adds lvs_sync_daemon eth0),
# LAB_BFD (yes; no leaves dead peers to the BGP hold timer).
#
#   bgp-guest.sh bench  the figures of issue #17 instead of the demo: balance
#                       and consistency of 1,000 five-tuples through each
#                       director (also after a real server flaps and a
#                       director restarts), then LAB_ROUNDS (10) crashes and
#                       LAB_ROUNDS graceful stops, each with its withdraw time
#                       and the flows broken on the leaving director and on
#                       the others ("figure:" lines; deploy/bench/bgp.sh
#                       sums them up).
#   bgp-guest.sh health the health withdraw, lvsd against keepalived in the
#                       same run: the VIP has one real server (rs1, TCP_CHECK
#                       at delay_loop 1, quorum 1); dir1 and dir2 run lvsd,
#                       dir3 keepalived 2.2.7 whose quorum_down/quorum_up
#                       scripts delete/add the same route in table 201 by
#                       `ip route`. LAB_ROUNDS (10) times rs1's nginx dies at
#                       a random point of the check interval; each director's
#                       time until its next hop left the router is a figure,
#                       and so is the part of it after the failed check its
#                       checker decided on (the last reset rs1 sent it,
#                       from tcpdump on rs1): what the daemon itself adds.
#
# Withdraw times are read from the router's route notifications
# (flows.py watch), not by polling.
set -eu

mode=${1:-demo}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
subject=${LAB_SUBJECT:?LAB_SUBJECT: the lvsd command, e.g. "/usr/sbin/lvsd run -n -l -D"}
lvsd_program=${subject%% *}
flows=${LAB_FLOWS:-30}
flow_interval=${LAB_FLOW_INTERVAL:-0.5}
max_withdraw=${LAB_MAX_WITHDRAW:-2.0}
sloppy=${LAB_SLOPPY:-yes}
sched=${LAB_SCHED:-mh}
sync=${LAB_SYNC:-no}
bfd=${LAB_BFD:-yes}
if [ -n "${LAB_DIR:-}" ]; then
    work=$LAB_DIR own_work=
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lvsd-bgp-lab.XXXXXX") own_work=1
fi
mkdir -p "$work"
vip=10.0.0.100
directors="dir1 dir2 dir3"
servers="rs1 rs2 rs3"
# What each director runs, and the real servers its virtual server lists.
keepalived_directors=
reals=$servers
delay_loop=2
if [ "$mode" = health ]; then
    keepalived_directors=dir3 reals=rs1 delay_loop=1
fi
runs_keepalived() { case " $keepalived_directors " in *" $1 "*) return 0 ;; esac; return 1; }
nodes="client router $directors $servers"

log() { printf 'lab: %s\n' "$*"; }
figure() { printf 'figure: %s\n' "$*"; }
fail() {
    printf 'lab: FAILED: %s\n' "$*" >&2
    printf 'lab: the router: %s\n' "$(ip -n lab-router route show "$vip/32" 2>&1 | tr '\n' ' ')" >&2
    [ -S "$work/bird-router.ctl" ] && birdc -s "$work/bird-router.ctl" show protocols >&2 2>&1 || true
    for f in "$work"/dir*.log "$work"/bird-router.log; do
        [ -f "$f" ] && { printf 'lab: --- tail of %s ---\n' "$f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
addr_of() {
    case $1 in
        client) echo 172.16.0.10 ;; router) echo 10.0.0.1 ;;
        dir1) echo 10.0.0.11 ;; dir2) echo 10.0.0.12 ;; dir3) echo 10.0.0.13 ;;
        rs1) echo 10.0.0.21 ;; rs2) echo 10.0.0.22 ;; rs3) echo 10.0.0.23 ;;
    esac
}
in_ns() { ns=$1; shift; ip netns exec "lab-$ns" "$@"; }
# wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s.
wait_for() {
    secs=$1 what=$2; shift 2
    tries=$((secs * 5))
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}
now() { date +%s.%N; }
elapsed() { echo "$(now) $1" | awk '{ printf "%.3f", $1 - $2 }'; }

cleanup() {
    touch "$work/flows.stop" "$work/client.stop"
    for pidfile in "$work"/*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    sleep 0.5
    for session in "$work"/*.session; do
        [ -f "$session" ] && kill -9 "-$(cat "$session")" 2>/dev/null || true
    done
    for n in $nodes sw; do ip netns del "lab-$n" 2>/dev/null || true; done
    if [ -n "$own_work" ]; then rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }; fi
}
trap cleanup EXIT

# The switch and the LAN; the client sits behind the router.
ip netns add lab-sw
ip -n lab-sw link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n lab-sw link set br0 up
for n in $nodes; do
    ip netns add "lab-$n"
    ip -n "lab-$n" link set lo up
done
for n in router $directors $servers; do
    ip -n "lab-$n" link add eth0 type veth peer name "p-$n" netns lab-sw
    ip -n lab-sw link set "p-$n" master br0 up
    ip -n "lab-$n" link set eth0 up
    ip -n "lab-$n" addr add "$(addr_of "$n")/24" dev eth0
done
ip -n lab-client link add eth0 type veth peer name eth1 netns lab-router
ip -n lab-client link set eth0 up
ip -n lab-client addr add 172.16.0.10/24 dev eth0
ip -n lab-client route add default via 172.16.0.1
ip -n lab-router link set eth1 up
ip -n lab-router addr add 172.16.0.1/24 dev eth1
in_ns router sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
for n in $directors $servers; do
    ip -n "lab-$n" route add default via 10.0.0.1
    # The VIP on lo: accepted, never answered for in ARP (the router routes it).
    in_ns "$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    ip -n "lab-$n" addr add "$vip/32" dev lo
done

# Real servers.
for rs in $servers; do
    mkdir -p "$work/$rs"
    cat >"$work/$rs/nginx.conf" <<NGINX
daemon off;
pid $work/$rs.pid;
error_log $work/$rs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 600;
    keepalive_requests 1000000;
    client_body_temp_path $work/$rs/body;
    proxy_temp_path $work/$rs/proxy;
    fastcgi_temp_path $work/$rs/fastcgi;
    uwsgi_temp_path $work/$rs/uwsgi;
    scgi_temp_path $work/$rs/scgi;
    server { listen 80; location / { return 200 "$rs\n"; } }
}
NGINX
    in_ns "$rs" nginx -p "$work/$rs" -e "$work/$rs/error.log" -c "$work/$rs/nginx.conf" \
        >"$work/$rs/stdout" 2>&1 &
done

# BIRD: the router (ECMP over every director announcing the VIP) and one
# per director, from the reference configurations with a router id each.
start_bird() {
    n=$1 conf=$2
    # LAB_BFD=no: the BGP hold timer (3 s) alone notices a dead peer.
    { echo "router id $(addr_of "$n");"; if [ "$bfd" = no ]; then sed '/bfd on;/d' "$conf"; else cat "$conf"; fi; } \
        >"$work/bird-$n.conf"
    bird -p -c "$work/bird-$n.conf" || fail "bird -p $work/bird-$n.conf"
    setsid ip netns exec "lab-$n" bird -f -c "$work/bird-$n.conf" -s "$work/bird-$n.ctl" \
        -P "$work/bird-$n.pid" >"$work/bird-$n.log" 2>&1 &
    echo $! >"$work/bird-$n.session"
}
start_bird router "$repo/deploy/bgp/router.conf"

# lvsd on each director, in a session of its own (a crash kills it all).
sched_lines="    lb_algo $sched"
[ "$sched" != mh ] || sched_lines="$sched_lines
    mh-port"
sync_line=
[ "$sync" != yes ] || sync_line="    lvs_sync_daemon eth0"
cat >"$work/lvsd.conf" <<CONF
global_defs {
    router_id bgp_lab
$sync_line
}
route_announce {
    table 201
    protocol 201
    startup_delay 1
    drain_delay 3
    sloppy_tcp $sloppy
}
CONF
# The virtual server, the same for lvsd and keepalived; keepalived also
# gets the quorum scripts that do by `ip route` what route_announce does.
virtual_server() { # virtual_server [QUORUM_LINES]
    printf 'virtual_server %s 80 {\n    delay_loop %s\n%s\n    lb_kind DR\n    protocol TCP\n    quorum 1\n%s' \
        "$vip" "$delay_loop" "$sched_lines" "${1:-}"
    for rs in $reals; do
        printf '    real_server %s 80 {\n        weight 1\n        inhibit_on_failure\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n' \
            "$(addr_of "$rs")"
    done
    echo "}"
}
virtual_server >>"$work/lvsd.conf"
announce_route="$vip/32 dev lo table 201 proto 201 scope host"
{
    echo "global_defs {"
    echo "    router_id bgp_lab_keepalived"
    echo "    script_user root"
    echo "    enable_script_security"
    echo "}"
    virtual_server "    quorum_up \"/sbin/ip route replace $announce_route\"
    quorum_down \"/sbin/ip route del $announce_route\"
"
} >"$work/keepalived.conf"
$lvsd_program check-config -f "$work/lvsd.conf" >"$work/check-config.out" 2>&1 ||
    fail "lvsd check-config: $(cat "$work/check-config.out")"
log "variant: lb_algo $sched, sloppy_tcp $sloppy, lvs_sync_daemon $sync, BFD $bfd"
grep -i warn "$work/check-config.out" | sed 's/^/lab: check-config: /' || true
if [ -n "$keepalived_directors" ]; then
    keepalived -t -f "$work/keepalived.conf" >"$work/keepalived-t.out" 2>&1 ||
        fail "keepalived -t: $(cat "$work/keepalived-t.out")"
    log "keepalived 2.2.7 (quorum_up/quorum_down scripts) on: $keepalived_directors"
fi
start_lvsd() {
    if runs_keepalived "$1"; then
        # Its real server is up at start, and keepalived runs quorum_up only
        # on a change: the route starts announced, as lvsd's does.
        ip -n "lab-$1" route replace $announce_route
        # The children's pid files do not end in .pid: cleanup signals the
        # parent only (a child killed first is respawned), as systemd would.
        setsid ip netns exec "lab-$1" keepalived -n -l -D -C -f "$work/keepalived.conf" \
            -p "$work/$1.ka.pid" -c "$work/$1.ka-checkers.pid-child" -r "$work/$1.ka-vrrp.pid-child" \
            >>"$work/$1.log" 2>&1 &
        echo $! >"$work/$1.session"
        return
    fi
    # shellcheck disable=SC2086 # $subject is a word list
    setsid ip netns exec "lab-$1" $subject -f "$work/lvsd.conf" -p "$work/$1.pid" \
        --control-socket "$work/$1.sock" --data-file "$work/$1.data" >>"$work/$1.log" 2>&1 &
    echo $! >"$work/$1.session"
}
for d in $directors; do
    start_lvsd "$d"
    start_bird "$d" "$repo/deploy/bgp/director.conf"
done

# The router's ECMP route to the VIP: one "nexthop via" per director.
nexthops() { ip -n lab-router route show "$vip/32" | grep -c "via 10.0.0.1[123]" || true; }
has_nexthops() { [ "$(nexthops)" -eq "$1" ]; }
wait_for 90 "the router's route to $vip over three directors" has_nexthops 3
log "the router has the VIP over three directors:"
ip -n lab-router route show "$vip/32"
nreals=$(echo $reals | wc -w)
for d in $directors; do
    wait_for 30 "$d's real servers" sh -c "[ \$(ip netns exec lab-$d ipvsadm -Ln | grep -c -- '->.*:80 .*Route *1 ') -eq $nreals ]"
done
# Every director must build the same Maglev table: same list, same weights.
fingerprints=$(for d in $directors; do runs_keepalived "$d" || $lvsd_program status -s "$work/$d.sock" | grep -o 'real servers [0-9a-f]*'; done | sort -u | wc -l)
[ "$fingerprints" -eq 1 ] || fail "the directors' real-server fingerprints differ"
log "every lvsd director shows the same real-server fingerprint"
# Every change of the router's route to the VIP, timestamped as it arrives.
setsid ip netns exec lab-router python3 "$here/flows.py" watch "$vip" "$work/router-route.changes" &
echo $! >"$work/watch.session"
sleep 0.5
# gone_after T0 DIR: seconds from T0 until DIR's next hop left the router.
gone_after() { python3 "$here/flows.py" withdrawn "$work/router-route.changes" "$1" "$(addr_of "$2")"; }

if [ "$mode" = shell ]; then
    log "try: ip netns exec lab-client curl -s http://$vip/ ; exit to halt"
    sh -i </dev/console >/dev/console 2>&1 || true
    exit 0
fi

# Functions name their loop variables apart: sh has no local variables, and
# a caller's $d must survive them.
# snapshot TAG: every director's connection table, with each connection's
# origin (scheduled there, or copied by connection sync).
snapshot() {
    for snap_d in $directors; do
        in_ns "$snap_d" cat /proc/net/ip_vs_conn_sync >"$work/$1-$snap_d.conns" 2>/dev/null ||
            : >"$work/$1-$snap_d.conns"
    done
}
snapshot_args() { for arg_d in $directors; do printf '%s=%s ' "$arg_d" "$work/$1-$arg_d.conns"; done; }
up_directors() { echo "$directors"; }

# start_flows TAG: LAB_FLOWS long-lived flows through every director, and
# a client opening a new connection every 0.1 s; snapshot TAG once they run.
start_flows() {
    rm -f "$work/flows.stop" "$work/client.stop"
    : >"$work/flows.stdout"
    in_ns client python3 "$here/flows.py" run "$vip" "$flows" "$flow_interval" "$work/flows.out" "$work/flows.stop" \
        >"$work/flows.stdout" 2>&1 &
    flows_pid=$!
    wait_for 90 "$flows long-lived flows to start" grep -q ready "$work/flows.stdout"
    grep -qx ready "$work/flows.stdout" || fail "long-lived flows: $(cat "$work/flows.stdout")"
    sleep 2
    snapshot "$1"
    # shellcheck disable=SC2046 # word list of NAME=FILE
    log "long-lived flows by director: $(python3 "$here/flows.py" tables "$work/flows.out.ports" $(snapshot_args "$1"))"
    : >"$work/requests"
    (
        while [ ! -e "$work/client.stop" ]; do
            if in_ns client curl -s --max-time 2 -o /dev/null "http://$vip/"; then
                echo "ok $(date +%s.%N)" >>"$work/requests"
            else
                echo "fail $(date +%s.%N)" >>"$work/requests"
            fi
            sleep 0.1
        done
    ) &
    client_loop=$!
    wait_for 30 "the client's first requests" sh -c "[ \$(grep -c ok '$work/requests') -ge 3 ]"
}
# stop_flows TAG: ends both; prints the report of the flows against the
# snapshot TAG; sets $broken ("dir1=b/t dir2=..."), $failed_requests.
stop_flows() {
    touch "$work/client.stop" "$work/flows.stop"
    wait "$client_loop" || true
    wait "$flows_pid" || true
    failed_requests=$(grep -c fail "$work/requests" || true)
    # shellcheck disable=SC2046 # word list of NAME=FILE
    python3 "$here/flows.py" report "$work/flows.out" $(snapshot_args "$1") >"$work/flows.report"
    sed 's/^/lab:   /' "$work/flows.report"
    broken=$(sed -n 's/^broken-by-director //p' "$work/flows.report")
}
# crash DIR: its switch port cut, lvsd and BIRD SIGKILLed; sets $withdraw
# (seconds until its route left the router).
# $live: how many directors announce the VIP (what the router should have).
live=3
crash() {
    t0=$(now)
    ip -n lab-sw link set "p-$1" down
    kill -9 "-$(cat "$work/$1.session")" "-$(cat "$work/bird-$1.session")" 2>/dev/null || true
    live=$((live - 1))
    while [ "$(nexthops)" -gt "$live" ]; do
        [ "$(elapsed "$t0" | cut -d. -f1)" -lt 30 ] || fail "$1's route still at the router 30 s after the crash"
        sleep 0.05
    done
    withdraw=$(gone_after "$t0" "$1")
    [ "$withdraw" != - ] || fail "the router's route notifications lack $1's withdraw"
}
# graceful DIR: SIGTERM to lvsd (withdraw, drain, remove); waits for its exit.
graceful() {
    t0=$(now)
    live=$((live - 1))
    kill "$(cat "$work/$1.pid")"
    wait_for 30 "$1's route to leave the router" sh -c "[ \$(ip -n lab-router route show $vip/32 | grep -c 'via 10.0.0.1[123]') -le $live ]"
    withdraw=$(gone_after "$t0" "$1")
    [ "$withdraw" != - ] || fail "the router's route notifications lack $1's withdraw"
    n=0
    while kill -0 "$(cat "$work/$1.session")" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -lt 150 ] || fail "lvsd on $1 did not stop within 30 s of SIGTERM"
        sleep 0.2
    done
}
# rejoin DIR: its port up, lvsd (and BIRD if it was killed) started again.
rejoin() {
    live=$((live + 1))
    ip -n lab-sw link set "p-$1" up
    start_lvsd "$1"
    if ! kill -0 "$(cat "$work/bird-$1.session")" 2>/dev/null; then
        start_bird "$1" "$repo/deploy/bgp/director.conf"
    fi
}
# broken_on DIR: flows carried by DIR that broke ("b/t") in $broken.
broken_on() { echo " $broken " | sed -n "s/.* $1=\([0-9]*\/[0-9]*\) .*/\1/p"; }
broken_elsewhere() { # broken_elsewhere DIR: summed over the other directors
    echo " $broken " | tr ' ' '\n' | grep '^dir' | grep -v "^$1=" |
        awk -F'[=/]' '{ b += $2; t += $3 } END { printf "%d/%d", b, t }'
}

if [ "$mode" = bench ]; then
    rounds=${LAB_ROUNDS:-10}
    log "bench: balance and consistency of 1,000 five-tuples, then $rounds crashes and $rounds graceful stops"
    # Balance: 1,000 connections from fixed ports through the router's ECMP.
    probe() { # probe TAG FIRST: 1,000 connections from ports FIRST..; table snapshot TAG
        rm -f "$work/probe.stop"
        in_ns client python3 "$here/flows.py" probe "$vip" "$2" 1000 "$work/probe-$1.txt" "$work/probe.stop" \
            >"$work/probe.stdout" 2>&1 &
        probe_pid=$!
        wait_for 300 "1,000 probe connections" grep -q ready "$work/probe.stdout"
        snapshot "probe-$1"
        touch "$work/probe.stop"
        wait "$probe_pid" || true
    }
    probe balance 30000
    # shellcheck disable=SC2046 # word list of NAME=FILE
    figure "balance-directors $(python3 "$here/flows.py" spread $(snapshot_args probe-balance))"
    figure "balance-servers $(python3 "$here/flows.py" compare "$work/probe-balance.txt" | sed 's/.*by-server //')"
    # Consistency: the same 1,000 five-tuples steered through each director
    # in turn (a policy rule on the router by source port).
    ip -n lab-router rule add pref 100 ipproto tcp sport 31000-33999 lookup 100
    consistency() { # consistency TAG FIRST
        files=
        for via in $directors; do
            ip -n lab-router route replace "$vip/32" via "$(addr_of "$via")" table 100
            probe "$1-$via" "$2"
            files="$files $work/probe-$1-$via.txt"
        done
        # shellcheck disable=SC2086 # word list of files
        figure "consistency-$1 $(python3 "$here/flows.py" compare $files)"
    }
    consistency fresh 31000
    log "rs2 fails and comes back (inhibit_on_failure: weight 0 on every director, then 1)"
    in_ns rs2 kill "$(cat "$work/rs2.pid")"
    for d in $directors; do
        wait_for 30 "$d to set rs2's weight to 0" sh -c "ip netns exec lab-$d ipvsadm -Ln | grep -q '10.0.0.22:80 *Route *0 '"
    done
    in_ns rs2 nginx -p "$work/rs2" -e "$work/rs2/error.log" -c "$work/rs2/nginx.conf" >"$work/rs2/stdout" 2>&1 &
    for d in $directors; do
        wait_for 30 "$d to set rs2's weight back to 1" sh -c "ip netns exec lab-$d ipvsadm -Ln | grep -q '10.0.0.22:80 *Route *1 '"
    done
    consistency after-flap 32000
    log "dir2's lvsd restarts (adopting the table)"
    graceful dir2
    rejoin dir2
    wait_for 90 "the router's route over three directors again" has_nexthops 3
    consistency after-restart 33000
    ip -n lab-router rule del pref 100
    ip -n lab-router route flush table 100
    # Crashes and graceful stops, rotating over the directors.
    r=1
    while [ $r -le "$rounds" ]; do
        for kind in crash graceful; do
            victim=$(echo "$directors" | cut -d' ' -f$(( (r - 1) % 3 + 1 )))
            start_flows "r$r-$kind"
            "$kind" "$victim"
            sleep 4
            stop_flows "r$r-$kind"
            figure "$kind-withdraw-seconds $withdraw round=$r director=$victim"
            figure "$kind-broken leaving=$(broken_on "$victim") others=$(broken_elsewhere "$victim") failed-requests=$failed_requests round=$r director=$victim"
            rejoin "$victim"
            wait_for 90 "the router's route over three directors again" has_nexthops 3
            sleep 2
        done
        r=$((r + 1))
    done
    log "bench done"
    exit 0
fi

if [ "$mode" = health ]; then
    rounds=${LAB_ROUNDS:-10}
    log "health: $rounds times rs1 (the VIP's only real server) fails; lvsd on dir1, dir2, keepalived on dir3"
    # The resets rs1 sends while its nginx is down: each is a failed check.
    setsid ip netns exec lab-rs1 tcpdump -i eth0 -n -tt -l 'tcp src port 80 and tcp[tcpflags] & tcp-rst != 0' \
        >"$work/rs1.resets" 2>"$work/rs1.tcpdump" &
    echo $! >"$work/tcpdump.session"
    wait_for 10 "tcpdump on rs1" grep -q listening "$work/rs1.tcpdump"
    r=1
    while [ $r -le "$rounds" ]; do
        # A random point of the 1 s check interval.
        phase=$(awk -v s="$r$$" 'BEGIN { srand(s); printf "%.3f", rand() }')
        sleep "$phase"
        t0=$(now)
        in_ns rs1 kill "$(cat "$work/rs1.pid")"
        wait_for 30 "every director to withdraw the VIP" has_nexthops 0
        sleep 0.2 # tcpdump's line of the last reset
        line="round=$r phase=$phase" after="round=$r"
        for d in $directors; do
            w=$(gone_after "$t0" "$d")
            a=$(python3 "$here/flows.py" decided "$work/rs1.resets" "$(addr_of "$d")" "$(echo "$t0 $w" | awk '{ printf "%.6f", $1 + $2 }')")
            if runs_keepalived "$d"; then impl=keepalived; else impl=lvsd; fi
            line="$line $impl-$d=$w" after="$after $impl-$d=$a"
        done
        figure "health-withdraw-seconds $line"
        figure "health-withdraw-after-decision-seconds $after"
        in_ns rs1 nginx -p "$work/rs1" -e "$work/rs1/error.log" -c "$work/rs1/nginx.conf" >"$work/rs1/stdout" 2>&1 &
        wait_for 60 "every director to announce the VIP again" has_nexthops 3
        r=$((r + 1))
    done
    log "health done"
    exit 0
fi

# (1) Spread: short connections, each from a new source port.
spread_count=${LAB_SPREAD:-150}
: >"$work/spread.answers"
i=0
while [ $i -lt "$spread_count" ]; do
    in_ns client curl -s --max-time 3 "http://$vip/" >>"$work/spread.answers" || echo fail >>"$work/spread.answers"
    i=$((i + 1))
done
snapshot spread
# shellcheck disable=SC2046 # word list of NAME=FILE
spread=$(python3 "$here/flows.py" spread $(snapshot_args spread))
failed=$(grep -c fail "$work/spread.answers" || true)
log "$spread_count new connections: $failed failed; by director: $spread; by real server: $(sort "$work/spread.answers" | uniq -c | tr '\n' ' ' | tr -s ' ')"
figure "spread-by-director $spread"
[ "$failed" -eq 0 ] || fail "$failed of $spread_count connections failed with every director up"
for d in $directors; do
    case " $spread " in *" $d=0 "*) fail "$d carried none of $spread_count connections" ;; esac
done
for rs in $servers; do
    grep -qx "$rs" "$work/spread.answers" || fail "$rs answered none of $spread_count connections"
done

# Long-lived flows through all three, and a client connecting every 0.1 s.
start_flows demo

# (2) Crash dir3: its port cut and everything on it SIGKILLed.
log "crashing dir3 (switch port cut, lvsd and BIRD SIGKILLed)"
crash dir3
log "dir3's route left the router ${withdraw} s after the crash"
figure "crash-withdraw-seconds $withdraw"
awk -v w="$withdraw" -v m="$max_withdraw" 'BEGIN { exit !(w <= m) }' ||
    fail "the crash withdraw took ${withdraw} s (limit ${max_withdraw} s)"
crash_mark=$(wc -l <"$work/requests")
sleep 5
after_crash=$(tail -n +"$((crash_mark + 1))" "$work/requests")
failed_after=$(echo "$after_crash" | grep -c fail || true)
log "new connections in the 5 s after the route left: $(echo "$after_crash" | grep -c ok) ok, $failed_after failed"
[ "$failed_after" -eq 0 ] || fail "$failed_after new connections failed after dir3's route was withdrawn"

# (3) dir2 stops gracefully while the client keeps connecting.
log "stopping dir2 gracefully (SIGTERM: withdraw, drain 3 s, remove)"
stop_mark=$(wc -l <"$work/requests")
graceful dir2
sleep 3
during_stop=$(tail -n +"$((stop_mark + 1))" "$work/requests")
failed_stop=$(echo "$during_stop" | grep -c fail || true)
log "requests during dir2's graceful stop: $(echo "$during_stop" | grep -c ok) ok, $failed_stop failed"
figure "graceful-stop-failed-requests $failed_stop"
[ "$failed_stop" -eq 0 ] || fail "$failed_stop requests failed during dir2's graceful stop"

# (4) Rejoin: dir2 starts again, dir3's port and daemons come back.
log "dir2 and dir3 rejoin"
rejoin dir2
rejoin dir3
wait_for 90 "the router's route over three directors again" has_nexthops 3
sleep 3
stop_flows demo
log "new connections over the whole demo: $(grep -c ok "$work/requests") ok, $failed_requests failed"
figure "flows-broken-by-director $broken"
for d in dir1 dir2; do
    b=$(broken_on "$d" | cut -d/ -f1)
    [ "${b:-0}" = 0 ] || fail "flows carried by $d broke ($broken)"
done

# After the rejoin new connections reach every director again.
for d in $directors; do in_ns "$d" ipvsadm -Z; done
i=0
while [ $i -lt 90 ]; do
    in_ns client curl -s --max-time 3 -o /dev/null "http://$vip/" || fail "a connection failed after the rejoin"
    i=$((i + 1))
done
for d in $directors; do
    conns=$(in_ns "$d" ipvsadm -Ln --stats | awk '$1 == "TCP" { print $3 }')
    log "$d: $conns connections of 90 after the rejoin"
    [ "${conns:-0}" -gt 0 ] || fail "$d carried no connection after the rejoin"
done
log "BGP demo passed"
