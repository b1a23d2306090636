#!/bin/sh
# lvsd lab, guest side: runs inside the UML kernel that lab.sh boots (or in
# any scratch kernel with ip_vs, as root). Builds a LAN of network namespaces:
#
#   lab-client 192.168.100.10 ─┐
#   lab-dir1   192.168.100.2  ─┤  bridge br0 in lab-sw; VIP 192.168.100.100
#   lab-dir2   192.168.100.3  ─┤  held by the VRRP master; IPVS in DR mode
#   lab-rs1    192.168.100.11 ─┤  real servers: nginx on :80 answering
#   lab-rs2    192.168.100.12 ─┘  "rs1"/"rs2", VIP on lo (arp_ignore)
#
# and runs the director under test on dir1 (MASTER) and dir2 (BACKUP).
#   guest.sh demo    traffic through the VIP; then the master "crashes" (its
#                    link is cut and its daemon SIGKILLed) while a client
#                    sends a request every 0.1 s; the backup must carry the
#                    traffic; failed requests are counted
#   guest.sh shell   set up, then an interactive shell (exit to halt)
#   guest.sh migrate the README's upgrade and rollback, one director at a
#                    time, while a client sends a request every 0.1 s: both
#                    run keepalived; dir2 (backup) -> lvsd; dir1 stops keepalived
#                    (dir2 takes the VIP); dir1 -> lvsd (takes it back); then
#                    back: dir2 -> keepalived; dir1 stops lvsd (dir2 takes the
#                    VIP); dir1 -> keepalived (takes it back). Needs LAB_LVSD,
#                    the lvsd command ("/path/to/lvsd run -n -l -D").
# Environment: LAB_SUBJECT, the director command without -f/-p (default
# "keepalived -n -l -D -G"; for lvsd "/path/to/lvsd run -n -l -D"; a
# command whose first word ends in "lvsd" gets its own control socket and
# data file per director), LAB_DIR (work dir, default: mktemp -d),
# LAB_SUBJECT_DIR2 (dir2's command if different: a mixed pair),
# LAB_MAX_FAILED (failed requests allowed during the failover, default 40).
set -eu

mode=${1:-demo}
here=$(cd "$(dirname "$0")" && pwd)
subject=${LAB_SUBJECT:-keepalived -n -l -D -G}
keepalived_cmd="keepalived -n -l -D -G"
if [ "$mode" = migrate ]; then
    [ -n "${LAB_LVSD:-}" ] || { echo "guest.sh migrate: LAB_LVSD is not set" >&2; exit 2; }
    subject=$keepalived_cmd LAB_SUBJECT_DIR2=$keepalived_cmd
fi
# A mixed pair: dir2 may run another program (e.g. keepalived next to lvsd).
subject_dir2=${LAB_SUBJECT_DIR2:-$subject}
subject_of() { if [ "$1" = dir2 ]; then echo "$subject_dir2"; else echo "$subject"; fi; }
if [ -n "${LAB_DIR:-}" ]; then
    work=$LAB_DIR own_work=
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lvsd-lab-guest.XXXXXX") own_work=1
fi
vip=192.168.100.100
nodes="client dir1 dir2 rs1 rs2"

log() { printf 'lab: %s\n' "$*"; }
fail() {
    printf 'lab: FAILED: %s\n' "$*" >&2
    for f in "$work"/dir1.log "$work"/dir2.log; do
        [ -f "$f" ] && { printf 'lab: --- tail of %s ---\n' "$f" >&2; tail -n 25 "$f" >&2; }
    done
    exit 1
}
addr_of() {
    case $1 in
        client) echo 192.168.100.10 ;; dir1) echo 192.168.100.2 ;;
        dir2) echo 192.168.100.3 ;; rs1) echo 192.168.100.11 ;;
        rs2) echo 192.168.100.12 ;;
    esac
}
in_ns() { ns=$1; shift; ip netns exec "lab-$ns" "$@"; }
# wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s.
wait_for() {
    secs=$1 what=$2; shift 2
    tries=$((secs * 5))
    while ! "$@" >/dev/null 2>&1; do
        for d in $live_directors; do
            kill -0 "$(cat "$work/$d.session")" 2>/dev/null || fail "the director on $d exited"
        done
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}

cleanup() {
    touch "$work/client.stop"
    for pidfile in "$work"/*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    sleep 0.5
    for session in "$work"/*.session; do
        [ -f "$session" ] && kill -9 "-$(cat "$session")" 2>/dev/null || true
    done
    for n in $nodes sw; do ip netns del "lab-$n" 2>/dev/null || true; done
    # Writers may still be closing their logs.
    if [ -n "$own_work" ]; then rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }; fi
}
trap cleanup EXIT

log "work dir $work; dir1: $subject; dir2: $subject_dir2"
ip netns add lab-sw
ip -n lab-sw link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n lab-sw link set br0 up
for n in $nodes; do
    ip netns add "lab-$n"
    ip -n "lab-$n" link set lo up
    ip -n "lab-$n" link add eth0 type veth peer name "p-$n" netns lab-sw
    ip -n lab-sw link set "p-$n" master br0 up
    ip -n "lab-$n" link set eth0 up
    ip -n "lab-$n" addr add "$(addr_of "$n")/24" dev eth0
done

# Real servers: accept traffic for the VIP (DR) without answering ARP for it.
for rs in rs1 rs2; do
    in_ns "$rs" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    ip -n "lab-$rs" addr add "$vip/32" dev lo
    mkdir -p "$work/$rs"
    cat >"$work/$rs/nginx.conf" <<NGINX
daemon off;
pid $work/$rs.pid;
error_log $work/$rs/error.log;
events { worker_connections 64; }
http {
    access_log $work/$rs/access.log;
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

# Directors whose daemon must stay up (wait_for fails early otherwise).
live_directors=
# start_director DIR COMMAND: runs COMMAND on DIR in a session of its own, so
# a crash kills all its processes.
start_director() {
    d=$1 cmd=$2 program=${2%% *}
    case $program in
        # keepalived's child processes need pid files of their own per instance.
        keepalived | */keepalived) extra="-r $work/$d-vrrp.pid -c $work/$d-check.pid" ;;
        # Both directors share the guest's /run: give each its own control files.
        lvsd | */lvsd) extra="--control-socket $work/$d.sock --data-file $work/$d.data" ;;
        *) extra= ;;
    esac
    # shellcheck disable=SC2086 # $cmd and $extra are word lists
    setsid ip netns exec "lab-$d" $cmd -f "$work/$d.conf" -p "$work/$d.pid" $extra \
        >"$work/$d.log" 2>&1 &
    echo $! >"$work/$d.session"
    echo "$cmd" >"$work/$d.cmd"
    live_directors="$live_directors $d"
}
# stop_director DIR: SIGTERM, as systemctl stop does; waits for the exit.
stop_director() {
    live_directors=$(echo "$live_directors" | sed "s/ *$1//")
    kill "$(cat "$work/$1.pid")" 2>/dev/null || true
    n=0
    while kill -0 "$(cat "$work/$1.session")" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -lt 150 ] || fail "the director on $1 did not stop within 30 s of SIGTERM"
        sleep 0.2
    done
}
for d in dir1 dir2; do
    if [ "$d" = dir1 ]; then state=MASTER prio=150; else state=BACKUP prio=100; fi
    sed -e "s/@STATE@/$state/" -e "s/@PRIORITY@/$prio/" -e "s/@VIP@/$vip/" \
        "$here/keepalived.conf.in" >"$work/$d.conf"
    start_director "$d" "$(subject_of "$d")"
done

has_vip() { ip -n "lab-$1" -o addr show dev eth0 | grep -q "inet $vip/"; }
two_real_servers() { [ "$(in_ns "$1" ipvsadm -Ln | grep -c -- '->.*:80 ')" -eq 2 ]; }
show_director() {
    log "$1 IPVS table:"
    in_ns "$1" ipvsadm -Ln
    cmd=$(cat "$work/$1.cmd") program=${cmd%% *}
    case $program in
        lvsd | */lvsd) log "$1 lvsd status:"; "$program" status -s "$work/$1.sock" || true ;;
    esac
}
wait_for 60 "dir1 to take the VIP" has_vip dir1
wait_for 60 "dir1's checkers to enable both real servers" two_real_servers dir1
wait_for 60 "dir2's checkers to enable both real servers" two_real_servers dir2
has_vip dir2 && fail "dir2 holds the VIP while dir1 is MASTER"
log "dir1 is MASTER with the VIP"
show_director dir1

if [ "$mode" = shell ]; then
    log "try: ip netns exec lab-client curl -s http://$vip/ ; exit to halt"
    sh -i </dev/console >/dev/console 2>&1 || true
    exit 0
fi

# Four requests: round robin must hit both real servers.
fetch_round() {
    : >"$work/answers"
    for _ in 1 2 3 4; do
        in_ns client curl -s --max-time 5 "http://$vip/" >>"$work/answers" || fail "curl http://$vip/"
    done
    log "answers: $(tr '\n' ' ' <"$work/answers")"
    grep -qx rs1 "$work/answers" && grep -qx rs2 "$work/answers" || fail "round robin did not reach rs1 and rs2"
}
fetch_round

# A client that keeps asking, one request every 0.1 s, each with a 1 s
# deadline; one line per request: ok/fail.
: >"$work/requests"
(
    while [ ! -e "$work/client.stop" ]; do
        if in_ns client curl -s --max-time 1 -o /dev/null "http://$vip/"; then
            echo ok >>"$work/requests"
        else
            echo fail >>"$work/requests"
        fi
        sleep 0.1
    done
) &
client_loop=$!
wait_for 30 "the client's first requests" sh -c "[ \$(grep -c ok '$work/requests') -ge 5 ]"

# replace DIR COMMAND: stop DIR's director, start COMMAND there with the same config.
replace() {
    log "$1: stop $(cut -d' ' -f1 "$work/$1.cmd"), start ${2%% *}"
    stop_director "$1"
    start_director "$1" "$2"
    wait_for 60 "$1's checkers to enable both real servers" two_real_servers "$1"
}
# vip_on DIR: DIR holds the VIP and the other director does not.
vip_on() {
    other=dir1; [ "$1" = dir1 ] && other=dir2
    wait_for 60 "$1 to hold the VIP" has_vip "$1"
    wait_for 10 "$other to release the VIP" sh -c "! ip -n lab-$other -o addr show dev eth0 | grep -q 'inet $vip/'"
    log "$1 holds the VIP"
}
if [ "$mode" = migrate ]; then
    log "step 1: the backup (dir2) moves to lvsd; dir1 (keepalived) stays MASTER"
    replace dir2 "$LAB_LVSD"
    show_director dir2
    has_vip dir1 || fail "dir1 lost the VIP while dir2 changed"
    log "step 2: keepalived stops on dir1 (systemctl stop keepalived): lvsd on dir2 takes the VIP"
    stop_director dir1
    vip_on dir2
    log "step 3: dir1 moves to lvsd and, with the higher priority, takes the VIP back"
    start_director dir1 "$LAB_LVSD"
    vip_on dir1
    wait_for 60 "dir1's checkers to enable both real servers" two_real_servers dir1
    show_director dir1
    log "rollback 1: dir2 goes back to keepalived; dir1 (lvsd) stays MASTER"
    replace dir2 "$keepalived_cmd"
    has_vip dir1 || fail "dir1 lost the VIP while dir2 changed"
    log "rollback 2: lvsd stops on dir1: keepalived on dir2 takes the VIP"
    stop_director dir1
    vip_on dir2
    log "rollback 3: dir1 goes back to keepalived and takes the VIP back"
    start_director dir1 "$keepalived_cmd"
    vip_on dir1
    recovered() { [ "$(tail -n 20 "$work/requests" | grep -c ok)" -eq 20 ]; }
    wait_for 60 "20 requests in a row through dir1" recovered
    touch "$work/client.stop"
    wait "$client_loop" || true
    failed=$(grep -c fail "$work/requests" || true)
    log "requests during the migration and rollback: $(grep -c ok "$work/requests") ok, $failed failed"
    [ "$failed" -le "${LAB_MAX_FAILED:-40}" ] || fail "$failed requests failed during the migration"
    fetch_round
    log "migration passed"
    exit 0
fi

log "crashing dir1 (link cut, SIGKILL): dir2 must take over"
live_directors=dir2
ip -n lab-sw link set p-dir1 down
kill -9 "-$(cat "$work/dir1.session")"
wait_for 60 "dir2 to take the VIP" has_vip dir2
# The backup has taken over once 20 requests in a row succeed.
recovered() { [ "$(tail -n 20 "$work/requests" | grep -c ok)" -eq 20 ]; }
wait_for 60 "20 requests in a row through dir2" recovered
touch "$work/client.stop"
wait "$client_loop" || true
failed=$(grep -c fail "$work/requests" || true)
log "requests during the failover: $(grep -c ok "$work/requests") ok, $failed failed"
[ "$failed" -le "${LAB_MAX_FAILED:-40}" ] || fail "$failed requests failed during the failover"
show_director dir2
fetch_round
log "demo passed"
