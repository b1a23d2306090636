#!/bin/bash
# Benchmark: `lvsd list -n` against `ipvsadm -Ln` on a table of 100 virtual
# services x 100 real servers (10,000 destinations), both run in one UML
# boot (the real kernel's IPVS), alternating, RUNS times each. Prints the
# median and the minimum wall time of each and their ratios lvsd/ipvsadm
# (goal: <= 1.0), and checks that both printed the same bytes. On a loaded
# host UML's wall times are noisy: the minimum is the steadier figure.
#
# usage: deploy/bench/list-bench.sh [path/to/lvsd] [runs]
#   default lvsd: target/release/lvsd (cargo build --release -p lvsd --bin lvsd)
# needs: user-mode-linux, ipvsadm, gcc (for the UML xstate shim), bash, bc,
# strace and GNU time (/usr/bin/time).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
lvsd=$(realpath "${1:-$here/target/release/lvsd}")
runs=${2:-15}
[ -x "$lvsd" ] || { echo "no lvsd binary at $lvsd (build it: cargo build --release -p lvsd --bin lvsd)" >&2; exit 2; }

work=$(mktemp -d /tmp/lvsd-list-bench-$$-XXXXXX)
trap 'rm -rf "$work"' EXIT

shim_src=$here/tests/testbed/uml/xstate_shim.c
shim=$work/xstate_shim.so
gcc -O2 -shared -fPIC -o "$shim" "$shim_src" -ldl

# ipvsadm -R input: 100 TCP services, each with 100 NAT real servers.
for s in $(seq 0 99); do
    vip="10.10.$((s / 250)).$((s % 250 + 1))"
    echo "-A -t $vip:80 -s wlc"
    for d in $(seq 0 99); do
        echo "-a -t $vip:80 -r 10.$((20 + s / 100)).$((s % 100)).$((d + 1)):8080 -m -w $((d % 7 + 1))"
    done
done > "$work/table.rules"

cat > "$work/guest.sh" <<GUEST
#!/bin/bash
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmp /run
mkdir -p /lib/modules; mount --bind /usr/lib/uml/modules /lib/modules
ip link set lo up
modprobe -a ip_vs ip_vs_wlc
{
    ipvsadm -C
    ipvsadm -R < $work/table.rules
    ipvsadm -Ln > $work/ipvsadm.out
    $lvsd list -n > $work/lvsd.out
    if cmp -s $work/ipvsadm.out $work/lvsd.out; then echo "identical=yes"; else echo "identical=no"; fi
    echo "lines=\$(wc -l < $work/ipvsadm.out)"
    # Steadier than wall time in UML: page faults and system calls per run.
    echo "faults ipvsadm=\$(/usr/bin/time -f %R ipvsadm -Ln 2>&1 >/dev/null) lvsd=\$(/usr/bin/time -f %R $lvsd list -n 2>&1 >/dev/null)"
    strace -f -c -o $work/sc.ipvsadm ipvsadm -Ln >/dev/null
    strace -f -c -o $work/sc.lvsd $lvsd list -n >/dev/null
    echo "syscalls ipvsadm=\$(awk '/total/ {print \$(NF-2)}' $work/sc.ipvsadm) lvsd=\$(awk '/total/ {print \$(NF-2)}' $work/sc.lvsd)"
    for opts in "" "--stats"; do
        for i in \$(seq 1 $runs); do
            t0=\$EPOCHREALTIME; ipvsadm -Ln \$opts > /dev/null; t1=\$EPOCHREALTIME
            $lvsd list -n \$opts > /dev/null; t2=\$EPOCHREALTIME
            echo "ipvsadm\$opts \$(echo "\$t1 - \$t0" | bc)"
            echo "lvsd\$opts \$(echo "\$t2 - \$t1" | bc)"
        done
    done
} > $work/result 2>&1
halt -f
GUEST
chmod +x "$work/guest.sh"

LD_PRELOAD=$shim TMPDIR=/dev/shm timeout 900 linux.uml mem=768M rootfstype=hostfs rootflags=/ rw \
    init="$work/guest.sh" con=null con0=fd:0,fd:1 </dev/null >"$work/console" 2>&1 || true

if ! grep -q '^identical=' "$work/result" 2>/dev/null; then
    echo "the guest did not finish; console tail:" >&2
    tail -20 "$work/console" >&2
    cat "$work/result" >&2 2>/dev/null || true
    exit 1
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
minimum() { sort -n | head -1; }
grep -E '^(identical|lines)=|^(faults|syscalls) ' "$work/result"
for opts in "" "--stats"; do
    times() { awk -v k="$1$opts" '$1 == k {print $2}' "$work/result"; }
    im=$(times ipvsadm | median); lm=$(times lvsd | median)
    i0=$(times ipvsadm | minimum); l0=$(times lvsd | minimum)
    printf 'list%-8s 100x100 (%s runs each): median ipvsadm -Ln %.3f s, lvsd list -n %.3f s, ratio %.2f; minimum %.3f s vs %.3f s, ratio %.2f\n' \
        "${opts:+ $opts}" "$runs" "$im" "$lm" "$(echo "$lm / $im" | bc -l)" "$i0" "$l0" "$(echo "$l0 / $i0" | bc -l)"
done
