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
# and runs the director under test (keepalived by default) on dir1 (MASTER)
# and dir2 (BACKUP).
#   guest.sh demo    traffic through the VIP, then failover, checked
#   guest.sh shell   set up, then an interactive shell (exit to halt)
# Environment: LAB_SUBJECT (default "keepalived -n -l -D -G"; for lvsd e.g.
# "/path/to/lvsd run -n -l -D"), LAB_DIR (work dir, default: mktemp -d).
set -eu

mode=${1:-demo}
here=$(cd "$(dirname "$0")" && pwd)
subject=${LAB_SUBJECT:-keepalived -n -l -D -G}
if [ -n "${LAB_DIR:-}" ]; then
    work=$LAB_DIR own_work=
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/lvsd-lab-guest.XXXXXX") own_work=1
fi
vip=192.168.100.100
nodes="client dir1 dir2 rs1 rs2"

log() { printf 'lab: %s\n' "$*"; }
fail() { printf 'lab: FAILED: %s\n' "$*" >&2; exit 1; }
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
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}

cleanup() {
    for pidfile in "$work"/*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    for n in $nodes sw; do ip netns del "lab-$n" 2>/dev/null || true; done
    if [ -n "$own_work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

log "work dir $work; subject: $subject"
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

for d in dir1 dir2; do
    if [ "$d" = dir1 ]; then state=MASTER prio=150; else state=BACKUP prio=100; fi
    sed -e "s/@STATE@/$state/" -e "s/@PRIORITY@/$prio/" -e "s/@VIP@/$vip/" \
        "$here/keepalived.conf.in" >"$work/$d.conf"
    # keepalived's child processes need pid files of their own per instance.
    case $subject in
        keepalived*) child_pids="-r $work/$d-vrrp.pid -c $work/$d-check.pid" ;;
        *) child_pids= ;;
    esac
    # shellcheck disable=SC2086 # $subject and $child_pids are word lists
    in_ns "$d" $subject -f "$work/$d.conf" -p "$work/$d.pid" $child_pids \
        >"$work/$d.log" 2>&1 &
done

has_vip() { ip -n "lab-$1" -o addr show dev eth0 | grep -q "inet $vip/"; }
wait_for 60 "dir1 to take the VIP" has_vip dir1
two_real_servers() { [ "$(in_ns dir1 ipvsadm -Ln | grep -c -- '->.*:80 ')" -eq 2 ]; }
wait_for 60 "dir1's checkers to enable both real servers" two_real_servers
log "dir1 is MASTER with the VIP; IPVS table:"
in_ns dir1 ipvsadm -Ln

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

log "stopping the subject on dir1: dir2 must take over"
kill "$(cat "$work/dir1.pid")"
wait_for 60 "dir2 to take the VIP" has_vip dir2
wait_for 30 "dir1 to release the VIP" sh -c "! ip -n lab-dir1 -o addr show dev eth0 | grep -q 'inet $vip/'"
in_ns client ip neigh flush all
wait_for 60 "dir2's checkers to enable both real servers" sh -c \
    "[ \"\$(ip netns exec lab-dir2 ipvsadm -Ln | grep -c -- '->.*:80 ')\" -eq 2 ]"
fetch_round
log "demo passed"
