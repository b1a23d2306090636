#!/bin/sh
# Side-by-side checker benchmark inside the User-Mode Linux test bed (the host kernel has no
# IPVS, which keepalived's checker process requires). One guest boot runs, one after the
# other on the same nginx: keepalived -C (checker only) with N real servers on HTTP_GET
# delay_loop 1, then lvsd's checker pool bench with the same N; each for T seconds.
# Reports CPU seconds per minute and peak RSS of each checker process as JSON lines.
#
# usage: checkers/benches/pool_vs_keepalived.sh [N=200] [T=60]
# needs: user-mode-linux, keepalived, nginx-light, gcc; run from the repository root as root.
set -eu
N=${1:-200}
T=${2:-60}
ROOT=$(pwd)
cargo build --release -p checkers --bench pool >/dev/null 2>&1 || cargo build --release -p checkers --bench pool
BENCH=$(ls -t "$ROOT"/target/release/deps/pool-* | grep -v '\.d$' | head -n 1)
DIR=$(mktemp -d /tmp/lvsd-poolbench-$$-XXXX)
chmod 755 "$DIR"  # nginx workers run as nobody
gcc -O2 -shared -fPIC -o "$DIR/shim.so" "$ROOT/tests/testbed/uml/xstate_shim.c" -ldl

mkdir -p "$DIR/html" "$DIR/tmp" "$DIR/logs"
echo OK > "$DIR/html/health"
cat > "$DIR/nginx.conf" <<NGINX
daemon on;
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp; proxy_temp_path $DIR/tmp; fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp; scgi_temp_path $DIR/tmp;
  server { listen 0.0.0.0:8080; root $DIR/html; }
}
NGINX

# keepalived.conf: the same addresses the lvsd bench uses (127.1.x.y, 250 per /24).
{
  echo "global_defs { router_id poolbench }"
  echo "virtual_server 10.255.0.1 80 {"
  echo "  delay_loop 1"
  echo "  lb_algo rr"
  echo "  lb_kind NAT"
  echo "  protocol TCP"
  i=0
  while [ "$i" -lt "$N" ]; do
    a=$((1 + i / 62500)); b=$(((i / 250) % 250)); c=$((i % 250 + 1))
    echo "  real_server 127.$a.$b.$c 8080 { weight 1"
    echo "    HTTP_GET { url { path /health status_code 200 } connect_timeout 3 } }"
    i=$((i + 1))
  done
  echo "}"
} > "$DIR/keepalived.conf"

cat > "$DIR/init.sh" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /lib/modules
mount --bind /usr/lib/uml/modules /lib/modules
ip link set lo up
modprobe -a ip_vs ip_vs_rr
cd $DIR
{
nginx -c $DIR/nginx.conf
sleep 1
# Process CPU (utime+stime ticks, USER_HZ 100) and VmHWM of a pid.
cpu() { awk '{print \$14 + \$15}' /proc/\$1/stat; }
hwm() { awk '/VmHWM/ {print \$2}' /proc/\$1/status; }
keepalived -n -l -D -C -G -f $DIR/keepalived.conf -p $DIR/k.pid -c $DIR/c.pid >$DIR/keepalived.log 2>&1 &
KPID=\$!
sleep 3
CPID=\$(cat $DIR/c.pid)
C0=\$(cpu \$CPID)
sleep $T
C1=\$(cpu \$CPID)
H=\$(hwm \$CPID)
echo "{\"checker\":\"keepalived\",\"servers\":$N,\"seconds\":$T,\"cpu_seconds_per_minute\":\$(echo "(\$C1 - \$C0) / 100 * 60 / $T" | bc -l),\"peak_rss_mib\":\$(echo "\$H / 1024" | bc -l)}"
kill \$KPID; wait \$KPID
ipvsadm -C
BENCH_SERVERS=$N BENCH_SECONDS=$T BENCH_PORT=8080 $BENCH --bench
kill \$(cat $DIR/nginx.pid)
} > $DIR/out 2>&1
echo \$? > $DIR/rc
halt -f
INIT
chmod +x "$DIR/init.sh"
LD_PRELOAD="$DIR/shim.so" TMPDIR=/dev/shm linux.uml mem=1024M rootfstype=hostfs rootflags=/ rw \
  init="$DIR/init.sh" con=null con0=fd:0,fd:1 </dev/null >"$DIR/uml.log" 2>&1 || true
cat "$DIR/out"
echo "(work dir: $DIR)"
