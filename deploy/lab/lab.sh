#!/usr/bin/env bash
# lvsd lab: boots a User-Mode Linux kernel with IPVS (no kernel module
# needed on the host) and runs deploy/lab/guest.sh in it: two directors with
# VRRP + IPVS (DR) in front of two nginx real servers, all in network
# namespaces inside the guest.
#   deploy/lab/lab.sh [--lvsd | --keepalived | --mixed | --bgp] [demo | shell]
# --lvsd (default) runs lvsd on both directors (target/debug/lvsd, else
# /usr/sbin/lvsd, else built with cargo; LVSD_BIN overrides it), --keepalived
# runs keepalived 2.2.7 instead, --mixed keepalived on dir1 (the master) and
# lvsd on dir2 (the backup). demo (default) sends traffic through the VIP,
# crashes the master and checks that the backup carries the traffic; shell
# gives you a root shell in the guest with everything running; migrate (the
# default with --mixed) walks through the README's upgrade from keepalived to
# lvsd one director at a time and the rollback, under client traffic.
# --bgp runs deploy/lab/bgp-guest.sh instead: three lvsd directors announcing
# the VIP through BIRD to a router's ECMP (issue #17); demo spreads flows,
# crashes one director, stops another gracefully and lets both rejoin.
# LAB_SUBJECT overrides the whole director command (without -f/-p).
# Needs root (no sudo: run it from a root shell). On a fresh Debian 12 machine
# it first installs the Debian packages it needs (LAB_PACKAGES in
# deploy/apt-packages.sh, the list tests/run.sh uses too) and builds lvsd.
set -euo pipefail

usage() { echo "usage: $0 [--lvsd | --keepalived | --mixed | --bgp] [demo | shell | migrate]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
director=lvsd mode= guest=guest.sh
for arg in "$@"; do
    case $arg in
        --bgp) director=lvsd guest=bgp-guest.sh ;;
        --lvsd) director=lvsd ;;
        --keepalived) director=keepalived ;;
        --mixed) director=mixed ;;
        demo | shell | migrate) mode=$arg ;;
        *) usage ;;
    esac
done
# --mixed alone walks through the README's migration and rollback.
[[ -n $mode ]] || { [[ $director == mixed ]] && mode=migrate || mode=demo; }
# The migration needs both programs.
[[ $mode != migrate ]] || director=mixed
[[ $guest != bgp-guest.sh || $mode != migrate ]] || usage
[[ $(id -u) -eq 0 ]] || { echo "lab.sh: run as root (from a root shell: su -, or sudo $0 $*)" >&2; exit 1; }
say() { printf 'lab.sh: %s\n' "$*" >&2; }

# What the lvsd binary is: LVSD_BIN, else this checkout's debug build, else
# the Debian package's /usr/sbin/lvsd, else a build with cargo.
target=${CARGO_TARGET_DIR:-$repo/target}
lvsd_bin() {
    if [[ -n ${LVSD_BIN:-} ]]; then echo "$LVSD_BIN"
    elif [[ -x $target/debug/lvsd ]]; then echo "$target/debug/lvsd"
    elif [[ -x /usr/sbin/lvsd ]]; then echo /usr/sbin/lvsd
    else echo ""
    fi
}
needs_lvsd() { [[ $director != keepalived ]]; }

case $mode in
    demo) what="then the master crashes and the backup must carry the traffic" ;;
    shell) what="then a root shell in the guest" ;;
    migrate) what="then keepalived -> lvsd one director at a time and back, under traffic" ;;
esac
if [[ $guest == bgp-guest.sh ]]; then
    [[ $mode == demo ]] && what="then flows are spread, one director crashes, one stops gracefully, both rejoin"
    say "a User-Mode Linux kernel with IPVS, a router (BIRD, ECMP), three lvsd directors (BIRD, DR, mh) in front of three nginx, a client; $what."
    steps="boot UML and run the $mode (about 3 minutes)"
else
    say "a User-Mode Linux kernel with IPVS, two directors ($director) in front of two nginx, a client; $what."
    steps="boot UML and run the $mode (about 1 minute; 45 s measured for --mixed)"
fi
source "$repo/deploy/apt-packages.sh"
missing=()
for pkg in "${LAB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing+=("$pkg")
done
((${#missing[@]} == 0)) || steps="install ${#missing[@]} Debian packages (1-3 minutes), $steps"
if needs_lvsd && [[ -z $(lvsd_bin) ]]; then
    steps="build lvsd with cargo (3-5 minutes on 2 cores the first time), $steps"
fi
say "steps: $steps."
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    apt_install "${LAB_PACKAGES[@]}" >&2
fi

lvsd_subject() {
    local lvsd
    lvsd=$(lvsd_bin)
    if [[ -z $lvsd ]]; then
        [[ -d $HOME/.cargo/bin ]] && PATH=$HOME/.cargo/bin:$PATH
        command -v cargo >/dev/null || {
            say "no lvsd binary and no cargo: install Rust (https://rustup.rs) or the lvsd Debian package (README)"
            exit 1
        }
        say "building lvsd (cargo build -p lvsd --bin lvsd)"
        (cd "$repo" && cargo build -p lvsd --bin lvsd) >&2
        lvsd=$target/debug/lvsd
    fi
    say "lvsd: $lvsd"
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
            LAB_LVSD=$LAB_SUBJECT_DIR2
            export LAB_SUBJECT_DIR2 LAB_LVSD
            ;;
    esac
fi
export LAB_SUBJECT
if [[ $mode == shell ]]; then
    exec "$here/in-uml.sh" --interactive "$here/$guest" shell
fi
exec "$here/in-uml.sh" "$here/$guest" "$mode"
