#!/bin/sh
# Side-by-side checker benchmark inside the User-Mode Linux test bed (the host kernel has no
# IPVS, which keepalived's checker process requires). One guest boot runs keepalived's
# checker (`keepalived -C`) and lvsd's checker pool (the `pool` bench) AT THE SAME TIME, each
# with N real servers (10.1.x.y, the same addresses) on HTTP_GET delay_loop 1, against one
# nginx: keepalived's checks go to port 8080, lvsd's to 8081, and nginx logs the port of each
# request, which counts both checkers' checks exactly. Running both at once means the host's
# load (other builds) weighs on both alike.
#
# Where the real servers are (REAL_SERVERS): "host" (default), as on a director: nginx runs
# outside the guest, in a network namespace this script makes on the host, which takes every
# address of 10.0.0.0/9 as its own and is reached through a tap device (the guest's vec0,
# 10.200.0.2 -> 10.200.0.1). The guest then holds only what a director holds: the checker
# and its kernel's side of each connection. "guest": nginx inside the guest on loopback
# (127.1.x.y), as earlier stops measured; nginx's work per check is then in the guest's
# figures too.
#
# Measured over the same T-second window: CPU seconds per minute (utime+stime of the checker
# process, as the guest accounts it), CPU milliseconds per check, checks done, peak RSS. The
# lvsd bench's own line also gives how punctually its checks started (% within 50 ms of
# their due time); for both, intervals_within_50ms_pct is the share of intervals between two
# checks of one real server that are 1 s +- 50 ms (from nginx's log).
#
# The guest's own CPU figures above are sampled at its 100 Hz tick (CONFIG_TICK_CPU_ACCOUNTING;
# UML's scheduler clock counts jiffies too), and lvsd starts its checks on a 20 ms grid
# (checkers::schedule::START_SLOT): the tick then lands at the same point of every wake-up, so
# a run charges lvsd almost all or almost none of its CPU, by the phase between the two
# (0.009 and 0.62 ms per check, same build, consecutive runs). Host-measured windows: after the
# side-by-side window the guest idles IDLE seconds (default 20), then runs keepalived alone
# and lvsd alone for T seconds each, marking the times; the host samples the whole guest's CPU
# (exact on the host) and gives per check: (CPU of the window - idle CPU) / checks. That cost
# includes what the guest kernel spends on the check (and with REAL_SERVERS=guest what nginx
# spends), the same for both checkers (the "test_bed_alone" line). A third window runs
# minimal_checker.c alone (port 8082): the five system calls per check that no checker
# opening one connection per check avoids, and nothing else; its cost per check is a floor
# for the ratio any such checker can reach here ("minimal_ratio").
# With STRACE=1, a second 10-second window counts each checker's system calls per check
# (strace -c), the cost that carries over to a real kernel (UML has no vDSO: there every
# clock read is a system call too, which a real kernel answers in user space).
#
# usage: checkers/benches/pool_vs_keepalived.sh [N=100] [T=60]
#   (env, optional: STRACE=1, REAL_SERVERS=host|guest, IDLE=seconds, POOL_BENCH=binary)
# needs: user-mode-linux, keepalived, nginx-light, gcc, bc, strace; run from the repository
# root as root. Results: stdout, and $DIR/out.
set -eu
N=${1:-100}
T=${2:-60}
STRACE=${STRACE:-0}
REAL_SERVERS=${REAL_SERVERS:-host}
case $REAL_SERVERS in
host) NET=10 ;;
guest) NET=127 ;;
*) echo "REAL_SERVERS is host or guest, not '$REAL_SERVERS'" >&2 && exit 2 ;;
esac
ROOT=$(pwd)
# POOL_BENCH: a pool bench binary built elsewhere (comparing two builds in one session).
if [ -n "${POOL_BENCH:-}" ]; then
    BENCH=$POOL_BENCH
else
    cargo build --release -p checkers --bench pool >/dev/null 2>&1 || cargo build --release -p checkers --bench pool
    BENCH=$(ls -t "$ROOT"/target/release/deps/pool-* | grep -v '\.d$' | head -n 1)
fi
DIR=$(mktemp -d /tmp/lvsd-poolbench-$$-XXXX)
chmod 755 "$DIR" # nginx workers run as nobody
gcc -O2 -shared -fPIC -o "$DIR/shim.so" "$ROOT/tests/testbed/uml/xstate_shim.c" -ldl
gcc -O2 -Wall -o "$DIR/minimal_checker" "$ROOT/checkers/benches/minimal_checker.c"

mkdir -p "$DIR/html" "$DIR/tmp" "$DIR/logs"
echo OK >"$DIR/html/health"
cat >"$DIR/nginx.conf" <<NGINX
daemon on;
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log;
events { worker_connections 16384; }
http {
  log_format check '\$server_port \$server_addr \$msec';
  access_log $DIR/logs/access.log check buffer=64k flush=1s;
  client_body_temp_path $DIR/tmp; proxy_temp_path $DIR/tmp; fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp; scgi_temp_path $DIR/tmp;
  server { listen 0.0.0.0:8080; listen 0.0.0.0:8081; listen 0.0.0.0:8082; root $DIR/html; }
}
NGINX

# keepalived.conf: the addresses the lvsd bench uses ($NET.1.x.y, 250 per /24), port 8080.
{
	echo "global_defs { router_id poolbench }"
	echo "virtual_server 10.255.0.1 80 {"
	echo "  delay_loop 1"
	echo "  lb_algo rr"
	echo "  lb_kind NAT"
	echo "  protocol TCP"
	i=0
	while [ "$i" -lt "$N" ]; do
		a=$((1 + i / 62500))
		b=$(((i / 250) % 250))
		c=$((i % 250 + 1))
		echo "  real_server $NET.$a.$b.$c 8080 { weight 1"
		echo "    HTTP_GET { url { path /health status_code 200 } connect_timeout 3 } }"
		i=$((i + 1))
	done
	echo "}"
} >"$DIR/keepalived.conf"

IDLE=${IDLE:-20}
cat >"$DIR/env" <<ENV
DIR=$DIR
N=$N
T=$T
IDLE=$IDLE
STRACE=$STRACE
BENCH=$BENCH
NET=$NET
REAL_SERVERS=$REAL_SERVERS
ENV

cat >"$DIR/guest.sh" <<'GUEST'
#!/bin/sh
. "$1"
cd "$DIR"
# utime+stime ticks (USER_HZ 100) and VmHWM (KiB) of a pid; checks per port in nginx's log.
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
hwm() { awk '/VmHWM/ {print $2}' /proc/$1/status; }
# Context switches (voluntary + involuntary, every thread).
switches() { cat /proc/$1/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }'; }
# Checks of one checker (by port) whose request nginx logged in [$2, $3].
checks() {
	awk -v port="$1" -v from="$2" -v to="$3" '$1 == port && $3 >= from && $3 <= to { n++ } END { print n + 0 }' "$DIR/logs/access.log"
}
# Punctuality from nginx's log, the same measure for both checkers: of the intervals between
# consecutive checks of one real server that end in [$2, $3], the % within 1 s +- 50 ms.
on_time() {
	grep "^$1 " "$DIR/logs/access.log" | sort -k2,2 -k3,3n | awk -v from="$2" -v to="$3" '
		$2 == addr && $3 >= from && $3 <= to { n++; d = $3 - last - 1; if (d < 0) d = -d; if (d <= 0.050) ok++ }
		{ addr = $2; last = $3 }
		END { if (n) printf "%.2f", 100 * ok / n; else printf "0" }'
}
[ "$REAL_SERVERS" = guest ] && nginx -c "$DIR/nginx.conf"
sleep 1
keepalived -n -l -D -C -G -f "$DIR/keepalived.conf" -p "$DIR/k.pid" -c "$DIR/c.pid" >"$DIR/keepalived.log" 2>&1 &
KPID=$!
WINDOW=$T
[ "$STRACE" = 1 ] && WINDOW=$((T + 15))
BENCH_SERVERS=$N BENCH_SECONDS=$((WINDOW + 30)) BENCH_PORT=8081 BENCH_SERVER_NET=$NET "$BENCH" --bench >"$DIR/lvsd.json" 2>"$DIR/lvsd.err" &
LPID=$!
sleep 5 # both past their warmup spread
CPID=$(cat "$DIR/c.pid")
K0=$(cpu $CPID); L0=$(cpu $LPID)
KS0=$(switches $CPID); LS0=$(switches $LPID); W0=$(date +%s.%N)
sleep "$T"
W1=$(date +%s.%N)
K1=$(cpu $CPID); L1=$(cpu $LPID)
KS1=$(switches $CPID); LS1=$(switches $LPID)
sleep 1.2 # nginx flushes its log buffer every second
KC=$(checks 8080 $W0 $W1); LC=$(checks 8081 $W0 $W1)
KH=$(hwm $CPID); LH=$(hwm $LPID)
line() { # name ticks checks hwm_kib port switches
	echo "{\"checker\":\"$1\",\"servers\":$N,\"seconds\":$T,\"cpu_seconds_per_minute\":$(echo "scale=2; $2 / 100 * 60 / $T" | bc),\"cpu_ms_per_check\":$(echo "scale=3; $2 * 10 / $3" | bc),\"switches_per_check\":$(echo "scale=2; $6 / $3" | bc),\"checks\":$3,\"intervals_within_50ms_pct\":$(on_time $5 $W0 $W1),\"peak_rss_mib\":$(echo "scale=1; $4 / 1024" | bc)}"
}
line keepalived $((K1 - K0)) $KC $KH 8080 $((KS1 - KS0))
line lvsd $((L1 - L0)) $LC $LH 8081 $((LS1 - LS0))
if [ "$STRACE" = 1 ]; then
	# Each check opens one socket, in both checkers: socket() calls count the checks.
	timeout 10 strace -c -f -o "$DIR/keepalived.strace" -p "$CPID" 2>/dev/null &
	S1=$!
	timeout 10 strace -c -f -o "$DIR/lvsd.strace" -p "$LPID" 2>/dev/null &
	S2=$!
	wait $S1 $S2 || true
	for name in keepalived lvsd; do
		awk -v name="$name" '
			$NF == "total" { total = $4 }
			$NF == "clock_gettime" { clock = $4 }
			$NF == "socket" { n = $4 }
			END { if (n) printf "{\"checker\":\"%s\",\"strace_checks\":%d,\"syscalls_per_check\":%.1f,\"clock_gettime_per_check\":%.1f,\"other_syscalls_per_check\":%.1f}\n", name, n, total / n, clock / n, (total - clock) / n }
		' "$DIR/$name.strace"
	done
fi
wait $LPID || true
cat "$DIR/lvsd.json"
kill $KPID
wait $KPID || true

# Each checker alone, then, measured from the host (see "Host-measured windows" above).
mark() { echo "$1 $(date +%s.%N)" >>"$DIR/marks"; }
sleep 3
mark idle_from
sleep "$IDLE"
mark idle_to
keepalived -n -l -D -C -G -f "$DIR/keepalived.conf" -p "$DIR/k.pid" -c "$DIR/c.pid" >>"$DIR/keepalived.log" 2>&1 &
KPID=$!
sleep 5
mark keepalived_from
sleep "$T"
mark keepalived_to
kill $KPID
wait $KPID || true
sleep 2
BENCH_SERVERS=$N BENCH_SECONDS=$((T + 8)) BENCH_PORT=8081 BENCH_SERVER_NET=$NET "$BENCH" --bench >"$DIR/lvsd-alone.json" 2>>"$DIR/lvsd.err" &
LPID=$!
sleep 5
mark lvsd_from
sleep "$T"
mark lvsd_to
wait $LPID || true
sleep 2
"$DIR/minimal_checker" "$N" "$NET" 8082 $((T + 8)) >"$DIR/minimal.out" 2>&1 &
MPID=$!
sleep 5
mark minimal_from
sleep "$T"
mark minimal_to
wait $MPID || true
sleep 1.2
while read -r name from; do
	read -r _ to
	case $name in
	keepalived_from) echo "keepalived_checks $(checks 8080 "$from" "$to")" ;;
	lvsd_from) echo "lvsd_checks $(checks 8081 "$from" "$to")" ;;
	minimal_from) echo "minimal_checks $(checks 8082 "$from" "$to")" ;;
	esac
done <"$DIR/marks" >"$DIR/marks.checks"
cat "$DIR/marks.checks" >>"$DIR/marks"
[ "$REAL_SERVERS" = guest ] && kill "$(cat "$DIR/nginx.pid")"
exit 0
GUEST
chmod +x "$DIR/guest.sh"

cat >"$DIR/init.sh" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /lib/modules
mount --bind /usr/lib/uml/modules /lib/modules
ip link set lo up
if [ "$REAL_SERVERS" = host ]; then
	ip link set vec0 up
	ip addr add 10.200.0.2/24 dev vec0
	ip route add 10.0.0.0/9 via 10.200.0.1
fi
modprobe -a ip_vs ip_vs_rr
$DIR/guest.sh $DIR/env >$DIR/out 2>&1
echo \$? >$DIR/rc
halt -f
INIT
chmod +x "$DIR/init.sh"
NS= NET_ARG=
if [ "$REAL_SERVERS" = host ]; then
	# The real servers' network: a namespace of this run's own, every address of 10.0.0.0/9
	# local to it, nginx in it, the guest's tap device in it (UML runs in it to open that).
	NS=lvsd-poolbench-$$
	TAP=pbtap$$
	cleanup() {
		kill "$(cat "$DIR/nginx.pid" 2>/dev/null)" ${UML:-} 2>/dev/null || true
		ip netns del "$NS" 2>/dev/null || true
	}
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" tuntap add dev "$TAP" mode tap
	ip -n "$NS" link set "$TAP" up
	ip -n "$NS" addr add 10.200.0.1/24 dev "$TAP"
	ip -n "$NS" route add local 10.0.0.0/9 dev lo
	ip netns exec "$NS" nginx -c "$DIR/nginx.conf"
	NET_ARG="vec0:transport=tap,ifname=$TAP"
fi
# `ip netns exec` execs the command: $! stays the UML kernel's pid.
LD_PRELOAD="$DIR/shim.so" TMPDIR=/dev/shm ${NS:+ip netns exec "$NS"} linux.uml mem=1024M \
	rootfstype=hostfs rootflags=/ rw init="$DIR/init.sh" con=null con0=fd:0,fd:1 $NET_ARG \
	</dev/null >"$DIR/uml.log" 2>&1 &
UML=$!
# The whole guest's CPU as the host counts it (exactly, from the host scheduler): the UML
# kernel process, its children (one per guest process) and the children it reaped, sampled
# every 0.2 s with the host's wall clock, which is the guest's too.
while kill -0 "$UML" 2>/dev/null; do
	t=$(date +%s.%N)
	for p in $UML $(pgrep -P "$UML"); do cat "/proc/$p/stat" 2>/dev/null; done |
		awk -v t="$t" '{ s += $14 + $15 + $16 + $17 } END { print t, s }' >>"$DIR/host-cpu"
	sleep 0.2
done
wait "$UML" || true
cat "$DIR/out"
if [ -s "$DIR/marks" ]; then
	# CPU ticks (USER_HZ 100) of the guest at time t, interpolated between samples.
	awk -v n="$N" -v where="$REAL_SERVERS" -v tick="$(getconf CLK_TCK)" '
		FNR == NR { st[NR] = $1; sc[NR] = $2; ns = NR; next }
		{ m[$1] = $2 }
		function at(t,   i) {
			for (i = 2; i <= ns; i++)
				if (st[i] >= t) return sc[i - 1] + (sc[i] - sc[i - 1]) * (t - st[i - 1]) / (st[i] - st[i - 1])
			return sc[ns]
		}
		function cpu(a, b) { return (at(m[b]) - at(m[a])) / tick }
		END {
			idle = cpu("idle_from", "idle_to") / (m["idle_to"] - m["idle_from"])
			k = cpu("keepalived_from", "keepalived_to") - idle * (m["keepalived_to"] - m["keepalived_from"])
			l = cpu("lvsd_from", "lvsd_to") - idle * (m["lvsd_to"] - m["lvsd_from"])
			f = cpu("minimal_from", "minimal_to") - idle * (m["minimal_to"] - m["minimal_from"])
			kc = m["keepalived_checks"]; lc = m["lvsd_checks"]; fc = m["minimal_checks"]
			if (kc > 0 && lc > 0 && fc > 0 && k > 0)
				printf "{\"test_bed_alone\":true,\"real_servers\":\"%s\",\"servers\":%d,\"idle_cpu_pct\":%.1f,\"keepalived_ms_per_check\":%.3f,\"keepalived_checks\":%d,\"lvsd_ms_per_check\":%.3f,\"lvsd_checks\":%d,\"ratio\":%.2f,\"minimal_ms_per_check\":%.3f,\"minimal_checks\":%d,\"minimal_ratio\":%.2f}\n", where, n, 100 * idle, 1000 * k / kc, kc, 1000 * l / lc, lc, (l / lc) / (k / kc), 1000 * f / fc, fc, (f / fc) / (k / kc)
		}' "$DIR/host-cpu" "$DIR/marks"
fi
echo "(work dir: $DIR)"
