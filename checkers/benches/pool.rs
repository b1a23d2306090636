//! Checker pool benchmark: N real servers (127.1.x.y, or BENCH_SERVER_NET.1.x.y; all answered
//! by one nginx listening on 0.0.0.0) with HTTP_GET and `delay_loop 1`, run for T seconds on
//! one thread. Prints CPU seconds per minute, peak RSS and how punctually checks started (of
//! the rounds due, those started within 50 ms; a round skipped past capacity is not
//! punctual), as one JSON line.
//!
//! cargo bench -p checkers --bench pool                      # 10,000 servers, 60 s, own nginx
//! BENCH_SERVERS=500 BENCH_SECONDS=60 BENCH_PORT=8080 target/release/deps/pool-* --bench
//!   (BENCH_PORT: use an nginx that is already running, e.g. inside the UML test bed;
//!    otherwise BENCH_NGINX_WORKERS, default 2, sets the own nginx's worker processes;
//!    BENCH_SERVER_NET=10: the servers are 10.1.x.y, routed to where that nginx runs)
//!
//! Compare with keepalived's checker on the same pool with bench/pool_vs_keepalived.sh.

use testbed::nginx;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use checkers::runner::Runner;
use checkers::{
    CheckKind, CheckSchedule, CheckSpec, Checker, Connection, HttpCheck, HttpProtocol,
    RealServerChecks, StatusCodes, UrlCheck,
};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The n-th real server address: 127.1.0.1, 127.1.0.2, ... (250 per /24); the first octet is
/// `net` (127, or BENCH_SERVER_NET when the servers are outside this machine).
pub fn server_ip(net: u8, n: usize) -> IpAddr {
    let n = n as u32;
    IpAddr::V4(Ipv4Addr::new(
        net,
        1 + (n / 62_500) as u8,
        ((n / 250) % 250) as u8,
        (n % 250 + 1) as u8,
    ))
}

/// (utime, stime) of this process in seconds, from /proc/self/stat (USER_HZ = 100).
fn cpu_split() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command: state(0) ppid(1) ... utime(11) stime(12).
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

fn cpu_seconds() -> f64 {
    let (user, system) = cpu_split();
    user + system
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The open files limit `lvsd run` sets (at least 65,536, where it may): past capacity
/// checks pile up in flight, each holding a socket, and a lower limit would end the run
/// with failed checks and unreadable /proc files rather than show the backlog.
fn raise_open_files_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let wanted = hard.max(65_536);
        if soft < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted).is_err() {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

fn main() {
    raise_open_files_limit();
    // `cargo bench` passes --bench; `cargo test --benches` runs it too: keep that short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let servers: usize = env_or("BENCH_SERVERS", if quick { 50 } else { 10_000 });
    let seconds: u64 = env_or("BENCH_SECONDS", if quick { 3 } else { 60 });
    let _nginx;
    let port: u16 = match std::env::var("BENCH_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        Some(p) => p,
        None => {
            let n = nginx::Nginx::builder()
                .file("health", b"OK\n")
                .listen_ip("0.0.0.0")
                .worker_processes(env_or("BENCH_NGINX_WORKERS", 2))
                .start()
                .expect("start nginx");
            let p = n.http_port();
            _nginx = n;
            p
        }
    };
    let net: u8 = env_or("BENCH_SERVER_NET", 127);
    let pool: Vec<RealServerChecks> = (0..servers)
        .map(|i| {
            let mut connection = Connection::new(SocketAddr::new(server_ip(net, i), port));
            connection.connect_timeout = Duration::from_secs(3);
            RealServerChecks {
                id: i as u64,
                weight: 1,
                checkers: vec![Checker {
                    spec: CheckSpec::Http(Box::new(HttpCheck {
                        urls: vec![UrlCheck {
                            path: "/health".into(),
                            digest: None,
                            status_codes: StatusCodes {
                                ranges: vec![(200, 200)],
                            },
                            virtualhost: None,
                            regex: None,
                        }],
                        virtualhost: None,
                        connection,
                        http_protocol: HttpProtocol::Http10,
                        tls: None,
                        fast_recovery: false,
                        max_body_bytes: checkers::DEFAULT_MAX_BODY_BYTES,
                    })),
                    schedule: CheckSchedule {
                        delay_loop: Duration::from_secs(1),
                        ..CheckSchedule::keepalived_default(CheckKind::Http)
                    },
                }],
            }
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (user_before, system_before) = cpu_split();
    let cpu_before = user_before + system_before;
    let (report, downs) = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let runner = Runner::start(pool, tx).expect("runner");
        let stats = runner.stats();
        let started = Instant::now();
        let mut downs = 0u64;
        let deadline = tokio::time::sleep(Duration::from_secs(seconds));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                Some(t) = rx.recv() => if !t.up { downs += 1; if downs <= 3 { eprintln!("down: {}", t.reason); } },
            }
        }
        let elapsed = started.elapsed();
        drop(runner);
        ((stats, elapsed), downs)
    });
    let (stats, elapsed) = report;
    let cpu = cpu_seconds() - cpu_before;
    let (user_after, system_after) = cpu_split();
    eprintln!(
        "user {:.2} s, system {:.2} s",
        user_after - user_before,
        system_after - system_before
    );
    let started = stats.checks_started();
    let late = stats.late_over_50ms();
    let skipped = stats.checks_skipped();
    // Punctual: of every round that came due (started or skipped past capacity), the
    // share that started within 50 ms.
    let due = started + skipped;
    println!(
        "{{\"servers\":{servers},\"seconds\":{:.1},\"cpu_seconds\":{cpu:.2},\"cpu_seconds_per_minute\":{:.2},\"peak_rss_mib\":{:.1},\"checks_started\":{started},\"late_over_50ms\":{late},\"checks_skipped\":{skipped},\"on_time_pct\":{:.2},\"max_lateness_ms\":{:.1},\"down_transitions\":{downs}}}",
        elapsed.as_secs_f64(),
        cpu * 60.0 / elapsed.as_secs_f64(),
        peak_rss_kib() as f64 / 1024.0,
        if due == 0 { 0.0 } else { 100.0 * (started - late) as f64 / due as f64 },
        stats.max_lateness().as_secs_f64() * 1000.0,
    );
}
