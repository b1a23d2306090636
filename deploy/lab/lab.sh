#!/usr/bin/env bash
# lvsd lab: boots a User-Mode Linux kernel with IPVS (no root kernel module
# needed on the host) and runs deploy/lab/guest.sh in it: two directors with
# VRRP + IPVS (DR) in front of two nginx real servers, all in network
# namespaces inside the guest.
#   deploy/lab/lab.sh [demo|shell]
# demo (default) sends traffic through the VIP, stops the master and checks
# that the backup takes over; shell gives you a root shell in the guest.
# LAB_SUBJECT picks the director (default keepalived; e.g.
# LAB_SUBJECT="$PWD/target/debug/lvsd run -n -l -D"). Needs root, and the
# Debian packages user-mode-linux, ipvsadm, keepalived, nginx-light, curl, gcc.
set -euo pipefail

mode=${1:-demo}
case $mode in demo | shell) ;; *) echo "usage: $0 [demo|shell]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "lab.sh: run as root" >&2; exit 1; }

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

mods=(ip_vs ip_vs_rr ip_vs_wrr nf_conntrack veth bridge dummy)
cat >"$run/init" <<INIT
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=$run
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
mkdir -p /lib/modules && mount --bind /usr/lib/uml/modules /lib/modules
ip link set lo up
for m in ${mods[*]}; do modprobe \$m || echo "lab: modprobe \$m failed"; done
export LAB_SUBJECT='${LAB_SUBJECT:-keepalived -n -l -D -G}' LAB_DIR=$run/work
mkdir -p $run/work
$here/guest.sh $mode
echo \$? >$run/rc
halt -f
INIT
chmod +x "$run/init"

# UML's memory file: /dev/shm unless it is small or noexec.
uml_tmp=/tmp
if [[ -w /dev/shm ]] && [[ $(df -Pk /dev/shm | awk 'NR==2 {print $4}') -gt 700000 ]] &&
    ! findmnt -no OPTIONS /dev/shm | grep -qw noexec; then
    uml_tmp=/dev/shm
fi

if [[ $mode == shell ]]; then
    console=(con=null con0=fd:0,fd:1)
else
    console=(con=null con0=null,fd:1)
fi
# Background (so cleanup can kill its process group) but reading our stdin,
# which bash would otherwise replace with /dev/null.
exec 3<&0
LD_PRELOAD=$run/shim.so TMPDIR=$uml_tmp setsid linux.uml mem=512M rootfstype=hostfs \
    rootflags=/ rw quiet loglevel=4 "umid=lvsd-lab-$$" "uml_dir=$run" "init=$run/init" "${console[@]}" <&3 &
uml_pid=$!
wait "$uml_pid" || true
uml_pid=
rc=$(cat "$run/rc" 2>/dev/null || echo 1)
exit "$rc"
