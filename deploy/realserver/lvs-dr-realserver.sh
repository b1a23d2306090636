#!/bin/sh
# Real-server side of LVS direct routing: hold each VIP on lo (so the real
# server accepts packets addressed to it) without answering ARP for it.
#
#   lvs-dr-realserver.sh start VIP [VIP...]   # add VIPs, set the ARP sysctls
#   lvs-dr-realserver.sh stop  VIP [VIP...]   # remove VIPs (sysctls are left)
#
# arp_ignore=1: answer ARP only for addresses on the receiving interface.
# arp_announce=2: never use a lo address (the VIP) as ARP source.
set -eu

usage() {
    echo "usage: $0 start|stop VIP [VIP...]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action=$1
shift

case "$action" in
start)
    for key in all lo; do
        sysctl -q -w net.ipv4.conf.$key.arp_ignore=1
        sysctl -q -w net.ipv4.conf.$key.arp_announce=2
    done
    for vip in "$@"; do
        case "$vip" in
        *:*) ip -6 addr replace "$vip/128" dev lo ;;
        *) ip addr replace "$vip/32" dev lo ;;
        esac
    done
    ;;
stop)
    for vip in "$@"; do
        case "$vip" in
        *:*) ip -6 addr del "$vip/128" dev lo 2>/dev/null || true ;;
        *) ip addr del "$vip/32" dev lo 2>/dev/null || true ;;
        esac
    done
    ;;
*)
    usage
    ;;
esac
