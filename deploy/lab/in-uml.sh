#!/usr/bin/env bash
# Boots a User-Mode Linux kernel with IPVS (Debian's user-mode-linux, its
# modules in /usr/lib/uml/modules) with the host's / as root file system and
# runs one command in it as root; exits with the command's status.
#   deploy/lab/in-uml.sh [--interactive] [--mem MIB] COMMAND [ARGS...]
# --interactive wires the guest console to this terminal (for shells).
# The guest gets PATH, HOME, LAB_DIR (a fresh work dir under the host's
# /tmp, removed afterwards) and every LAB_*, BENCH_* and LVSD_* variable of
# the caller. Used by lab.sh and deploy/bench. Needs root and gcc.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
interactive= mem=512
while [[ $# -gt 0 ]]; do
    case $1 in
        --interactive) interactive=1; shift ;;
        --mem) mem=$2; shift 2 ;;
        *) break ;;
    esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--interactive] [--mem MIB] COMMAND [ARGS...]" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "in-uml.sh: run as root" >&2; exit 1; }
command -v linux.uml >/dev/null || { echo "in-uml.sh: linux.uml missing (apt-get install user-mode-linux)" >&2; exit 1; }

# The guest sees the host's / (hostfs); results come back under /tmp.
run=$(mktemp -d /tmp/lvsd-lab.XXXXXX)
uml_pid=
cleanup() {
    [[ -z $uml_pid ]] || kill -KILL -- "-$uml_pid" 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT

# The packaged UML 6.1 needs this shim on hosts with AMX (see tests/testbed/uml).
gcc -O2 -shared -fPIC -o "$run/shim.so" "$repo/tests/testbed/uml/xstate_shim.c" -ldl

# ip_vs with every scheduler module present, and the network pieces.
mods=(ip_vs nf_conntrack veth bridge dummy)
for m in /usr/lib/uml/modules/*/kernel/net/netfilter/ipvs/ip_vs_*.ko*; do
    m=$(basename "$m"); m=${m%%.ko*}
    case $m in ip_vs_ftp | ip_vs_pe_sip) ;; *) mods+=("$m") ;; esac
done

{
    echo '#!/bin/sh'
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=$run LAB_DIR=$run/work"
    while IFS='=' read -r name _; do
        printf 'export %s=%q\n' "$name" "${!name}"
    done < <(env | grep -E '^(LAB|BENCH|LVSD)_[A-Za-z0-9_]*=' | grep -v '^LAB_DIR=')
    cat <<INIT
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
mkdir -p /lib/modules && mount --bind /usr/lib/uml/modules /lib/modules
ip link set lo up
for m in ${mods[*]}; do modprobe \$m || echo "in-uml: modprobe \$m failed"; done
mkdir -p $run/work
cd $(printf '%q' "$PWD")
$(printf '%q ' "$@")
echo \$? >$run/rc
halt -f
INIT
} >"$run/init"
chmod +x "$run/init"

# UML's memory file: /dev/shm unless it is small or noexec.
uml_tmp=/tmp
if [[ -w /dev/shm ]] && [[ $(df -Pk /dev/shm | awk 'NR==2 {print $4}') -gt $((mem * 1024 + 200000)) ]] &&
    ! findmnt -no OPTIONS /dev/shm | grep -qw noexec; then
    uml_tmp=/dev/shm
fi

if [[ -n $interactive ]]; then
    console=(con=null con0=fd:0,fd:1)
else
    console=(con=null con0=null,fd:1)
fi
# Background (so cleanup can kill its process group) but reading our stdin,
# which bash would otherwise replace with /dev/null.
exec 3<&0
LD_PRELOAD=$run/shim.so TMPDIR=$uml_tmp setsid linux.uml "mem=${mem}M" rootfstype=hostfs \
    rootflags=/ rw quiet loglevel=4 "umid=lvsd-lab-$$" "uml_dir=$run" "init=$run/init" "${console[@]}" <&3 &
uml_pid=$!
wait "$uml_pid" || true
uml_pid=
rc=$(cat "$run/rc" 2>/dev/null || echo 1)
exit "$rc"
