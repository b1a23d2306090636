//! Programming and reading a large IPVS table through the crate against
//! ipvsadm, side by side in ONE User-Mode Linux boot (real ip_vs).
//!
//! `cargo bench -p ipvs --bench program` boots UML and reruns itself in the
//! guest. Size: `LVSD_BENCH_SERVICES` x `LVSD_BENCH_DESTS` (default 100 x
//! 100 = 10,000 real servers), `LVSD_BENCH_ROUNDS` rounds (default 3; the
//! median is reported). Absolute times in UML mean little (a system call
//! costs ~100 us there); the ratios are the result.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvs::model::{Destination, Forward, Protocol, Scheduler, Service, ServiceKey, Table};
use ipvs::{plan, AckMode, IpvsClient, OwnershipFilter, PlanSummary};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !testbed::uml::in_guest() {
        host();
        return;
    }
    if let Err(e) = guest() {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

fn host() {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot find the bench binary: {e}");
            std::process::exit(1);
        }
    };
    let mut uml = testbed::uml::Uml::new().timeout(Duration::from_secs(1200));
    for var in [
        "LVSD_BENCH_SERVICES",
        "LVSD_BENCH_DESTS",
        "LVSD_BENCH_ROUNDS",
    ] {
        if let Ok(v) = std::env::var(var) {
            uml = uml.env(var, v);
        }
    }
    // UML's system calls are host context switches: host load moves the
    // absolute figures a lot, so say what it was.
    let load = |when: &str| {
        let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("  host load average {when}: {}", l.trim());
    };
    let result = uml.run(&exe.to_string_lossy(), &["--guest"]);
    match result {
        Ok(out) => {
            print!("{}", out.stdout);
            load("after the run");
            if out.status != 0 {
                eprintln!("{}", out.report());
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("UML: {e}");
            std::process::exit(1);
        }
    }
}

fn table(services: usize, dests: usize) -> Table {
    let mut t = Table::default();
    for i in 0..services {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([10, 10, (i / 256) as u8, (i % 256) as u8]),
            port: 80,
        };
        let ds = (0..dests)
            .map(|j| {
                let a = IpAddr::from([
                    10,
                    (20 + i / 256) as u8,
                    (i % 256) as u8,
                    (j % 250 + 1) as u8,
                ]);
                Destination::new(a, 8000 + (j / 250) as u16, Forward::Masq, 1)
            })
            .collect();
        t.services.push((Service::new(key, Scheduler::Wlc), ds));
    }
    t
}

/// The same table as an `ipvsadm -R` script.
fn restore_script(t: &Table) -> String {
    let mut s = String::new();
    for (svc, dests) in &t.services {
        let ServiceKey::Inet { addr, port, .. } = svc.key else {
            continue;
        };
        let _ = writeln!(s, "-A -t {addr}:{port} -s wlc");
        for d in dests {
            let _ = writeln!(s, "-a -t {addr}:{port} -r {}:{} -m -w 1", d.addr, d.port);
        }
    }
    s
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {program}: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("writing to {program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(Duration, T), String> {
    let start = Instant::now();
    let v = f()?;
    Ok((start.elapsed(), v))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn guest() -> Result<(), String> {
    let services = env_usize("LVSD_BENCH_SERVICES", 100);
    let dests = env_usize("LVSD_BENCH_DESTS", 100);
    let rounds = env_usize("LVSD_BENCH_ROUNDS", 3).max(1);
    let desired = table(services, dests);
    let script = restore_script(&desired);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let owned = OwnershipFilter::All;

    let (mut t_restore, mut t_crate, mut t_lockstep) = (vec![], vec![], vec![]);
    let (mut t_list, mut t_dump, mut t_noop) = (vec![], vec![], vec![]);
    let mut noop_writes = 0;
    for _ in 0..rounds {
        run("ipvsadm", &["-C"], None)?;
        let (d, _) = timed(|| run("ipvsadm", &["-R"], Some(&script)))?;
        t_restore.push(d);
        let reference = run("ipvsadm", &["-S", "-n"], None)?;

        // The crate from empty: connect, dump, plan, apply (a full pass).
        run("ipvsadm", &["-C"], None)?;
        let (d, summary) = timed(|| {
            rt.block_on(async {
                let mut c = IpvsClient::connect().await.map_err(|e| e.to_string())?;
                c.reconcile(&desired, &owned)
                    .await
                    .map_err(|e| e.to_string())
            })
        })?;
        t_crate.push(d);
        if summary.total() != services * (dests + 1) {
            return Err(format!("crate pass did {summary:?}"));
        }
        if run("ipvsadm", &["-S", "-n"], None)? != reference {
            return Err("the crate's table differs from ipvsadm -R's".into());
        }

        // The same apply without pipelining (one request, one ack).
        run("ipvsadm", &["-C"], None)?;
        let (d, ()) = timed(|| {
            rt.block_on(async {
                let mut c = IpvsClient::connect().await.map_err(|e| e.to_string())?;
                c.set_window(1);
                c.set_ack_mode(AckMode::PerRequest);
                let ops = plan(&desired, &Table::default(), &owned);
                c.apply(&ops).await.map_err(|e| e.to_string())
            })
        })?;
        t_lockstep.push(d);

        let (d, _) = timed(|| run("ipvsadm", &["-Ln"], None))?;
        t_list.push(d);
        let (d, n) = timed(|| {
            rt.block_on(async {
                let mut c = IpvsClient::connect().await.map_err(|e| e.to_string())?;
                let t = c.table().await.map_err(|e| e.to_string())?;
                Ok::<_, String>(t.services.iter().map(|(_, d)| d.len()).sum::<usize>())
            })
        })?;
        t_dump.push(d);
        if n != services * dests {
            return Err(format!("dump returned {n} real servers"));
        }

        let (d, summary): (Duration, PlanSummary) = timed(|| {
            rt.block_on(async {
                let mut c = IpvsClient::connect().await.map_err(|e| e.to_string())?;
                c.reconcile(&desired, &owned)
                    .await
                    .map_err(|e| e.to_string())
            })
        })?;
        t_noop.push(d);
        noop_writes = noop_writes.max(summary.total());
    }
    run("ipvsadm", &["-C"], None)?;

    // Pipelining depth: apply from empty with several windows.
    let mut windows = String::new();
    for (mode, window) in [
        (AckMode::PerRequest, 16usize),
        (AckMode::PerRequest, 256),
        (AckMode::ErrorsOnly, 16),
        (AckMode::ErrorsOnly, 64),
        (AckMode::ErrorsOnly, 256),
    ] {
        run("ipvsadm", &["-C"], None)?;
        let (d, ()) = timed(|| {
            rt.block_on(async {
                let mut c = IpvsClient::connect().await.map_err(|e| e.to_string())?;
                c.set_window(window);
                c.set_ack_mode(mode);
                let ops = plan(&desired, &Table::default(), &owned);
                c.apply(&ops).await.map_err(|e| e.to_string())
            })
        })?;
        let _ = write!(windows, "\n    {mode:?} window {window}: {}", ms(d));
    }
    run("ipvsadm", &["-C"], None)?;

    let (r, c, l) = (median(t_restore), median(t_crate), median(t_lockstep));
    let (list, dump, noop) = (median(t_list), median(t_dump), median(t_noop));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "IPVS bench in UML: {services} services x {dests} real servers, median of {rounds} rounds"
    );
    println!("  ipvsadm -R (from empty)                      {}", ms(r));
    println!(
        "  crate reconcile pass (from empty, default)   {}   ratio {:.2}x ipvsadm -R",
        ms(c),
        ratio(c, r)
    );
    println!(
        "  crate apply, lockstep (window 1, acked)      {}   ratio {:.2}x ipvsadm -R",
        ms(l),
        ratio(l, r)
    );
    println!(
        "  ipvsadm -Ln                                  {}",
        ms(list)
    );
    println!(
        "  crate dump (services + real servers)         {}   ratio {:.2}x ipvsadm -Ln",
        ms(dump),
        ratio(dump, list)
    );
    println!(
        "  crate reconcile pass, nothing changed        {}   writes: {noop_writes}",
        ms(noop)
    );
    println!("  crate apply by ack mode and window (one round each):{windows}");
    if noop_writes != 0 {
        return Err(format!("no-change pass wrote {noop_writes} operations"));
    }
    Ok(())
}
