#!/usr/bin/env python3
"""Long-lived flows for the BGP lab (deploy/lab/bgp-guest.sh).

flows.py run VIP N INTERVAL OUT STOPFILE
    opens N persistent HTTP/1.1 connections to VIP:80 and sends a request on
    each every INTERVAL seconds until STOPFILE exists. A connection that
    fails (reset, timeout, closed) is broken and not reopened. Writes one
    JSON line per connection to OUT: its local port, the real servers that
    answered and whether (and when) it broke. Prints "ready" on stdout once
    every connection has had its first answer.

flows.py report OUT SNAPSHOT...
    SNAPSHOT is NAME=FILE, FILE a copy of director NAME's
    /proc/net/ip_vs_conn_sync taken while the flows ran (only connections it
    scheduled itself count, not those connection sync copied to it).
    Prints, per director, how many of the flows it carried broke, and a
    last line "broken-by-director name=n/total ...".

flows.py spread SNAPSHOT...
    prints how many distinct client ports each director scheduled itself.

flows.py tables PORTS SNAPSHOT...
    prints how many of the ports in PORTS each director's listing holds.

flows.py probe VIP FIRST COUNT OUT STOPFILE
    opens COUNT connections to VIP:80 from source ports FIRST, FIRST+1, ...
    (the same five-tuples every time), asks each which real server it
    reached, writes "PORT SERVER" lines to OUT, prints "ready", keeps them
    open until STOPFILE exists (so the directors' connection tables can be
    read) and then resets them (no TIME_WAIT: the next probe may reuse the
    ports).

flows.py compare FILE...
    compares probe outputs: the share of ports whose real server is the
    same in every file, and the count per real server in the first.

flows.py watch VIP OUT
    runs `ip -o monitor route` (in the caller's namespace) and writes a line
    "TIME NEXTHOP,NEXTHOP,..." to OUT whenever the main table's route to
    VIP/32 changes (an empty list when it is deleted). TIME is when the
    notification arrived, so withdraw times carry no polling delay.

flows.py withdrawn OUT T0 NEXTHOP
    prints the seconds from T0 (a `date +%s.%N` time) to the first change
    in OUT after T0 that leaves NEXTHOP out of the route, or "-" if none.

flows.py decided RESETS ADDR T
    RESETS is `tcpdump -n -tt -l` of the resets a real server sent; prints
    the seconds from the last reset to ADDR at or before T (the failed
    check on which the checker decided) to T, or "-" if none.
"""

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time


def run(vip, n, interval, out, stop):
    results = [None] * n
    started = threading.Semaphore(0)

    def flow(i):
        rec = {"port": 0, "servers": [], "requests": 0, "broken": None}
        results[i] = rec
        conn = http.client.HTTPConnection(vip, 80, timeout=5)
        try:
            conn.connect()
            rec["port"] = conn.sock.getsockname()[1]
            # Never reconnect behind our back: a new connection is a broken flow.
            conn.auto_open = 0
            while rec["requests"] == 0 or not os.path.exists(stop):
                conn.request("GET", "/")
                body = conn.getresponse().read().decode().strip()
                rec["requests"] += 1
                if body not in rec["servers"]:
                    rec["servers"].append(body)
                if rec["requests"] == 1:
                    started.release()
                time.sleep(interval)
        except (OSError, http.client.HTTPException) as e:
            rec["broken"] = {"at": time.time(), "why": repr(e), "after": rec["requests"]}
            if rec["requests"] == 0:
                started.release()
        finally:
            conn.close()

    threads = [threading.Thread(target=flow, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for _ in range(n):
        started.acquire(timeout=60)
    failed = sum(1 for r in results if r and r["broken"] and r["requests"] == 0)
    with open(out + ".ports", "w") as f:
        f.write("".join(f"{r['port']}\n" for r in results if r and r["port"]))
    if failed:
        why = next(r["broken"]["why"] for r in results if r and r["broken"])
        print(f"not ready: {failed} of {n} flows failed before their first answer (first: {why})", flush=True)
    else:
        print("ready", flush=True)
    for t in threads:
        t.join()
    with open(out, "w") as f:
        for rec in results:
            f.write(json.dumps(rec) + "\n")


def ports_of(listing, established_only=False):
    """Client ports of the connections a director scheduled itself, from a
    copy of its /proc/net/ip_vs_conn_sync (hex addresses and ports; Origin
    LOCAL, where SYNC marks one learnt from another director's connection
    sync), only the ESTABLISHED ones if asked (closed ones linger for
    minutes)."""
    ports = set()
    with open(listing) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 9 or fields[0] not in ("TCP", "UDP") or fields[8].upper() != "LOCAL":
                continue
            if established_only and fields[7] != "ESTABLISHED":
                continue
            try:
                ports.add(int(fields[2], 16))
            except ValueError:
                pass
    return ports


def snapshots(args, established_only=False):
    out = {}
    for a in args:
        name, path = a.split("=", 1)
        out[name] = ports_of(path, established_only)
    return out


def report(out, args):
    flows = [json.loads(line) for line in open(out)]
    where = snapshots(args, established_only=True)
    tally = {}
    for rec in flows:
        owners = [name for name, ports in where.items() if rec["port"] in ports]
        name = owners[0] if len(owners) == 1 else "unknown"
        t = tally.setdefault(name, [0, 0])
        t[1] += 1
        if rec["broken"]:
            t[0] += 1
    for name, (broken, total) in sorted(tally.items()):
        print(f"{name}: {broken} of {total} flows broken")
    served = sorted({s for rec in flows for s in rec["servers"]})
    changed = sum(1 for rec in flows if len(rec["servers"]) > 1)
    print(f"real servers answering: {' '.join(served)}; flows answered by more than one: {changed}")
    print("broken-by-director " + " ".join(f"{n}={b}/{t}" for n, (b, t) in sorted(tally.items())))


def tables(ports_file, args):
    """How many of the ports in PORTS_FILE each director's listing holds."""
    ports = {int(l) for l in open(ports_file) if l.strip().isdigit()}
    found_in = snapshots(args, established_only=True)
    print(" ".join(f"{name}={len(ports & found)}" for name, found in sorted(found_in.items())))


def spread(args):
    print(" ".join(f"{name}={len(ports)}" for name, ports in snapshots(args).items()))


def probe(vip, first, count, out, stop):
    import resource
    import socket
    import struct
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 256)), hard))
    socks, lines = [], []
    for port in range(first, first + count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(5)
        try:
            s.bind(("", port))
            s.connect((vip, 80))
            s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
            reply = b""
            while not reply.endswith(b"\n") or b"\r\n\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            server = reply.split(b"\r\n\r\n", 1)[-1].decode().strip() or "none"
        except OSError as e:
            server = "error:" + type(e).__name__
        lines.append(f"{port} {server}")
        socks.append(s)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("ready", flush=True)
    while not os.path.exists(stop):
        time.sleep(0.1)
    for s in socks:
        s.close()


def compare(files):
    maps = []
    for path in files:
        m = {}
        for line in open(path):
            port, server = line.split()
            m[port] = server
        maps.append(m)
    ports = set(maps[0])
    same = sum(1 for p in ports if all(m.get(p) == maps[0][p] for m in maps) and not maps[0][p].startswith("error"))
    counts = {}
    for p in ports:
        counts[maps[0][p]] = counts.get(maps[0][p], 0) + 1
    share = 100.0 * same / max(1, len(ports))
    print(f"same-server {same}/{len(ports)} {share:.1f}% by-server " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def watch(vip, out):
    mon = subprocess.Popen(["ip", "-o", "monitor", "route"], stdout=subprocess.PIPE, text=True)
    with open(out, "a") as f:
        for line in mon.stdout:
            deleted = line.startswith("Deleted ")
            words = line.split()
            if len(words) < 2:
                continue
            dest = words[1] if deleted else words[0]
            # Only the main table's host route (the consistency probes use table 100).
            if dest not in (vip, vip + "/32") or " table " in line:
                continue
            hops = [] if deleted else re.findall(r"via (\S+)", line)
            f.write(f"{time.time():.6f} {','.join(hops)}\n")
            f.flush()


def withdrawn(out, t0, hop):
    for line in open(out):
        fields = line.split()
        try:
            at = float(fields[0])
        except (IndexError, ValueError):
            continue
        hops = fields[1].split(",") if len(fields) > 1 else []
        if at >= t0 and hop not in hops:
            print(f"{at - t0:.3f}")
            return
    print("-")


def decided(resets, addr, t):
    last = None
    for line in open(resets):
        fields = line.split()
        # "TIME IP SRC.PORT > DST.PORT: Flags [R.], ..."
        if len(fields) < 5 or fields[1] != "IP":
            continue
        try:
            at = float(fields[0])
        except ValueError:
            continue
        if fields[4].rsplit(".", 1)[0] == addr and at <= t:
            last = at
    print("-" if last is None else f"{t - last:.3f}")


def main():
    if len(sys.argv) >= 7 and sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "tables":
        tables(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "spread":
        spread(sys.argv[2:])
    elif len(sys.argv) >= 7 and sys.argv[1] == "probe":
        probe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif len(sys.argv) >= 3 and sys.argv[1] == "compare":
        compare(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "watch":
        watch(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "decided":
        decided(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "withdrawn":
        withdrawn(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
