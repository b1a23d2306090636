#!/usr/bin/env bash
# lvsd lab: boots a User-Mode Linux kernel with IPVS (no kernel module
# needed on the host) and runs deploy/lab/guest.sh in it: two directors with
# VRRP + IPVS (DR) in front of two nginx real servers, all in network
# namespaces inside the guest.
#   deploy/lab/lab.sh [--lvsd | --keepalived | --mixed] [demo | shell]
# --lvsd (default) runs lvsd on both directors (target/debug/lvsd, built
# with cargo when missing; LVSD_BIN overrides it), --keepalived runs
# keepalived 2.2.7 instead, --mixed keepalived on dir1 (the master) and
# lvsd on dir2 (the backup that takes over). demo (default) sends traffic through the VIP,
# crashes the master and checks that the backup carries the traffic; shell
# gives you a root shell in the guest with everything running.
# LAB_SUBJECT overrides the whole director command (without -f/-p).
# Needs root, and the Debian packages user-mode-linux, ipvsadm, keepalived,
# nginx-light, curl, gcc.
set -euo pipefail

usage() { echo "usage: $0 [--lvsd | --keepalived | --mixed] [demo | shell]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
director=lvsd mode=demo
for arg in "$@"; do
    case $arg in
        --lvsd) director=lvsd ;;
        --keepalived) director=keepalived ;;
        --mixed) director=mixed ;;
        demo | shell) mode=$arg ;;
        *) usage ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "lab.sh: run as root" >&2; exit 1; }

lvsd_subject() {
    local lvsd=${LVSD_BIN:-$repo/target/debug/lvsd}
    if [[ ! -x $lvsd ]]; then
        echo "lab.sh: building lvsd (cargo build -p lvsd --bin lvsd)" >&2
        (cd "$repo" && cargo build -p lvsd --bin lvsd) >&2
    fi
    echo "$lvsd run -n -l -D"
}
keepalived_subject="keepalived -n -l -D -G"
if [[ -z ${LAB_SUBJECT:-} ]]; then
    case $director in
        lvsd) LAB_SUBJECT=$(lvsd_subject) ;;
        keepalived) LAB_SUBJECT=$keepalived_subject ;;
        mixed)
            LAB_SUBJECT=$keepalived_subject
            LAB_SUBJECT_DIR2=$(lvsd_subject)
            export LAB_SUBJECT_DIR2
            ;;
    esac
fi
export LAB_SUBJECT
if [[ $mode == shell ]]; then
    exec "$here/in-uml.sh" --interactive "$here/guest.sh" shell
fi
exec "$here/in-uml.sh" "$here/guest.sh" demo
