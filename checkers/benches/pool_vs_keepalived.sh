#!/bin/sh
# Side-by-side checker benchmark inside the User-Mode Linux test bed (the host kernel has no
# IPVS, which keepalived's checker process requires). One guest boot runs keepalived's
# checker (`keepalived -C`) and lvsd's checker pool (the `pool` bench) AT THE SAME TIME, each
# with N real servers (127.1.x.y, the same addresses) on HTTP_GET delay_loop 1, against one
# nginx: keepalived's checks go to port 8080, lvsd's to 8081, and nginx logs the port of each
# request, which counts both checkers' checks exactly. Running both at once means the host's
# load (other builds) weighs on both alike.
#
# Measured over the same T-second window: CPU seconds per minute (utime+stime of the checker
# process, as the guest accounts it), CPU milliseconds per check, checks done, peak RSS. The
# lvsd bench's own line also gives how punctually its checks started (% within 50 ms of
# their due time); for both, intervals_within_50ms_pct is the share of intervals between two
# checks of one real server that are 1 s +- 50 ms (from nginx's log).
# With STRACE=1, a second 10-second window counts each checker's system calls per check
# (strace -c), the cost that carries over to a real kernel (UML has no vDSO: there every
# clock read is a system call too, which a real kernel answers in user space).
#
# usage: checkers/benches/pool_vs_keepalived.sh [N=100] [T=60]   (env STRACE=1 optional)
# needs: user-mode-linux, keepalived, nginx-light, gcc, bc, strace; run from the repository
# root as root. Results: stdout, and $DIR/out.
set -eu
N=${1:-100}
T=${2:-60}
STRACE=${STRACE:-0}
ROOT=$(pwd)
cargo build --release -p checkers --bench pool >/dev/null 2>&1 || cargo build --release -p checkers --bench pool
BENCH=$(ls -t "$ROOT"/target/release/deps/pool-* | grep -v '\.d$' | head -n 1)
DIR=$(mktemp -d /tmp/lvsd-poolbench-$$-XXXX)
chmod 755 "$DIR" # nginx workers run as nobody
gcc -O2 -shared -fPIC -o "$DIR/shim.so" "$ROOT/tests/testbed/uml/xstate_shim.c" -ldl

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
  server { listen 0.0.0.0:8080; listen 0.0.0.0:8081; root $DIR/html; }
}
NGINX

# keepalived.conf: the addresses the lvsd bench uses (127.1.x.y, 250 per /24), port 8080.
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
		echo "  real_server 127.$a.$b.$c 8080 { weight 1"
		echo "    HTTP_GET { url { path /health status_code 200 } connect_timeout 3 } }"
		i=$((i + 1))
	done
	echo "}"
} >"$DIR/keepalived.conf"

cat >"$DIR/env" <<ENV
DIR=$DIR
N=$N
T=$T
STRACE=$STRACE
BENCH=$BENCH
ENV

cat >"$DIR/guest.sh" <<'GUEST'
#!/bin/sh
. "$1"
cd "$DIR"
# utime+stime ticks (USER_HZ 100) and VmHWM (KiB) of a pid; checks per port in nginx's log.
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
hwm() { awk '/VmHWM/ {print $2}' /proc/$1/status; }
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
nginx -c "$DIR/nginx.conf"
sleep 1
keepalived -n -l -D -C -G -f "$DIR/keepalived.conf" -p "$DIR/k.pid" -c "$DIR/c.pid" >"$DIR/keepalived.log" 2>&1 &
KPID=$!
WINDOW=$T
[ "$STRACE" = 1 ] && WINDOW=$((T + 15))
BENCH_SERVERS=$N BENCH_SECONDS=$((WINDOW + 30)) BENCH_PORT=8081 "$BENCH" --bench >"$DIR/lvsd.json" 2>"$DIR/lvsd.err" &
LPID=$!
sleep 5 # both past their warmup spread
CPID=$(cat "$DIR/c.pid")
K0=$(cpu $CPID); L0=$(cpu $LPID); W0=$(date +%s.%N)
sleep "$T"
W1=$(date +%s.%N)
K1=$(cpu $CPID); L1=$(cpu $LPID)
sleep 1.2 # nginx flushes its log buffer every second
KC=$(checks 8080 $W0 $W1); LC=$(checks 8081 $W0 $W1)
KH=$(hwm $CPID); LH=$(hwm $LPID)
line() { # name ticks checks hwm_kib port
	echo "{\"checker\":\"$1\",\"servers\":$N,\"seconds\":$T,\"cpu_seconds_per_minute\":$(echo "scale=2; $2 / 100 * 60 / $T" | bc),\"cpu_ms_per_check\":$(echo "scale=3; $2 * 10 / $3" | bc),\"checks\":$3,\"intervals_within_50ms_pct\":$(on_time $5 $W0 $W1),\"peak_rss_mib\":$(echo "scale=1; $4 / 1024" | bc)}"
}
line keepalived $((K1 - K0)) $KC $KH 8080
line lvsd $((L1 - L0)) $LC $LH 8081
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
kill "$(cat "$DIR/nginx.pid")"
GUEST
chmod +x "$DIR/guest.sh"

cat >"$DIR/init.sh" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /lib/modules
mount --bind /usr/lib/uml/modules /lib/modules
ip link set lo up
modprobe -a ip_vs ip_vs_rr
$DIR/guest.sh $DIR/env >$DIR/out 2>&1
echo \$? >$DIR/rc
halt -f
INIT
chmod +x "$DIR/init.sh"
LD_PRELOAD="$DIR/shim.so" TMPDIR=/dev/shm linux.uml mem=1024M rootfstype=hostfs rootflags=/ rw \
	init="$DIR/init.sh" con=null con0=fd:0,fd:1 </dev/null >"$DIR/uml.log" 2>&1 || true
cat "$DIR/out"
echo "(work dir: $DIR)"
