//! Two directors and a client on a bridged LAN of network namespaces, each
//! director either lvsd or a real keepalived; VIP sampling for split-brain
//! checks and a pinging client counting failures.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::keepalived::Keepalived;
use crate::netns::{Lan, Netns};
use crate::process::ProcessGuard;
use crate::wait::wait_until;

/// Generous: CI machines are loaded.
pub const SLACK: Duration = Duration::from_millis(2500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lvsd,
    Keepalived,
}

enum Proc {
    Lvsd(ProcessGuard),
    Keepalived(Keepalived),
}

/// A running director (lvsd or keepalived) in a namespace.
pub struct Director {
    pub kind: Kind,
    proc: Proc,
    dir: tempfile::TempDir,
}

impl Director {
    pub fn start(kind: Kind, ns: &Netns, conf: &str) -> Director {
        Director::start_with(kind, ns, conf, &[])
    }

    /// [`Director::start`] with more arguments for `lvsd run` (none for keepalived).
    pub fn start_with(kind: Kind, ns: &Netns, conf: &str, extra: &[String]) -> Director {
        Director::start_mode(kind, ns, conf, extra, true)
    }

    /// The whole daemon (no `-P`): VRRP and, for a config with virtual
    /// servers, the director (keepalived: its checker process).
    pub fn start_whole(kind: Kind, ns: &Netns, conf: &str) -> Director {
        Director::start_mode(kind, ns, conf, &[], false)
    }

    fn start_mode(
        kind: Kind,
        ns: &Netns,
        conf: &str,
        extra: &[String],
        vrrp_only: bool,
    ) -> Director {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lvsd-vrrp-{}-", std::process::id()))
            .tempdir()
            .expect("temp dir");
        let proc = match kind {
            Kind::Lvsd => {
                let path = dir.path().join("keepalived.conf");
                fs::write(&path, conf).expect("write conf");
                let log = fs::File::create(dir.path().join("lvsd.log")).expect("log");
                let log2 = log.try_clone().expect("log");
                let state = dir.path().join("state.json");
                let mut argv = vec![
                    env!("CARGO_BIN_EXE_lvsd").to_string(),
                    "run".into(),
                    "-n".into(),
                    "-l".into(),
                    "-D".into(),
                    "-f".into(),
                    path.to_string_lossy().into_owned(),
                    "--vrrp-state-file".into(),
                    state.to_string_lossy().into_owned(),
                ];
                argv.extend(extra.iter().cloned());
                if vrrp_only {
                    argv.push("-P".into());
                } else {
                    // The whole daemon's files, in this director's own dir.
                    for (option, file) in [
                        ("--control-socket", "lvsd.sock"),
                        ("--data-file", "lvsd.data"),
                        ("--admin-state-file", "admin.state"),
                    ] {
                        argv.push(option.into());
                        argv.push(dir.path().join(file).to_string_lossy().into_owned());
                    }
                }
                Proc::Lvsd(
                    ns.spawn(&argv, Stdio::from(log), Stdio::from(log2))
                        .expect("spawn lvsd"),
                )
            }
            Kind::Keepalived => {
                Proc::Keepalived(Keepalived::start_mode(ns, conf, vrrp_only).expect("keepalived"))
            }
        };
        Director { kind, proc, dir }
    }

    /// The directory holding its config, log and (lvsd) state file.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Crash: SIGKILL the whole process group, no goodbye advert.
    pub fn crash(&mut self) {
        match &mut self.proc {
            Proc::Lvsd(g) => g.kill(),
            Proc::Keepalived(k) => k.crash(),
        }
    }

    /// The director's main process.
    pub fn pid(&self) -> u32 {
        match &self.proc {
            Proc::Lvsd(g) => g.pid(),
            Proc::Keepalived(k) => k.pid(),
        }
    }

    /// Send `signal` to the director's main process without waiting.
    pub fn signal(&self, signal: Signal) {
        let pid = match &self.proc {
            Proc::Lvsd(g) => g.pid(),
            Proc::Keepalived(k) => k.pid(),
        };
        let _ = kill(
            Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
            signal,
        );
    }

    /// Graceful stop with SIGTERM; returns whether the exit status was 0.
    pub fn stop(&mut self) -> bool {
        match &mut self.proc {
            Proc::Lvsd(g) => {
                let pid = i32::try_from(g.pid()).expect("pid");
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                g.wait_timeout(Duration::from_secs(10))
                    .map(|s| s.success())
                    .unwrap_or(false)
            }
            Proc::Keepalived(k) => k.stop(Duration::from_secs(10)).is_ok(),
        }
    }

    pub fn log(&self) -> String {
        match &self.proc {
            Proc::Lvsd(_) => {
                fs::read_to_string(self.dir.path().join("lvsd.log")).unwrap_or_default()
            }
            Proc::Keepalived(k) => k.log(),
        }
    }

    /// Replace the configuration file and send SIGHUP.
    pub fn reload(&self, conf: &str) {
        let dir = match &self.proc {
            Proc::Lvsd(_) => self.dir.path(),
            Proc::Keepalived(k) => k.dir(),
        };
        fs::write(dir.join("keepalived.conf"), conf).expect("write conf");
        self.signal(Signal::SIGHUP);
    }

    /// lvsd's VRRP snapshot (JSON array of instances).
    pub fn snapshot(&self) -> serde_json::Value {
        let text = fs::read_to_string(self.dir.path().join("state.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    pub fn instance(&self, name: &str) -> serde_json::Value {
        self.snapshot()
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == name).cloned())
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Whether `addr` is configured in namespace `ns` (by name).
pub fn holds(ns: &str, addr: &str) -> bool {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(addr)),
        Err(_) => false,
    }
}

/// When a sample was taken and which directors held the VIP.
type Samples = Arc<Mutex<Vec<(Instant, Vec<bool>)>>>;

/// Samples which directors hold the VIP, every 50 ms, until dropped.
pub struct VipSampler {
    stop: Arc<AtomicBool>,
    /// A crashed director's VIP lingers in its namespace (as on a real box whose
    /// process died but whose kernel still runs); it does not count while down.
    alive: Arc<Vec<AtomicBool>>,
    samples: Samples,
    thread: Option<JoinHandle<()>>,
}

impl VipSampler {
    pub fn start(namespaces: Vec<String>, vip: &str) -> VipSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(
            namespaces
                .iter()
                .map(|_| AtomicBool::new(true))
                .collect::<Vec<_>>(),
        );
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s2, sm2, vip) = (stop.clone(), samples.clone(), vip.to_string());
        let alive2 = alive.clone();
        let thread = std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                let row: Vec<bool> = namespaces
                    .iter()
                    .zip(alive2.iter())
                    .map(|(n, a)| a.load(Ordering::Relaxed) && holds(n, &vip))
                    .collect();
                if let Ok(mut s) = sm2.lock() {
                    s.push((Instant::now(), row));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        VipSampler {
            stop,
            alive,
            samples,
            thread: Some(thread),
        }
    }

    /// Mark director `i` as crashed (false) or running again (true).
    pub fn set_alive(&self, i: usize, alive: bool) {
        if let Some(a) = self.alive.get(i) {
            a.store(alive, Ordering::Relaxed);
        }
    }

    /// The longest stretch during which more than one director held the VIP.
    pub fn longest_overlap(&self) -> Duration {
        let s = self.samples.lock().expect("samples");
        let mut longest = Duration::ZERO;
        let mut start: Option<Instant> = None;
        for (t, row) in s.iter() {
            let both = row.iter().filter(|h| **h).count() > 1;
            match (both, start) {
                (true, None) => start = Some(*t),
                (false, Some(st)) => {
                    longest = longest.max(*t - st);
                    start = None;
                }
                _ => {}
            }
        }
        if let (Some(st), Some((t, _))) = (start, s.last()) {
            longest = longest.max(*t - st + Duration::from_millis(50));
        }
        longest
    }

    /// Split brain in steady state: both directors holding the VIP for longer
    /// than a transition takes (VIP add → advert → peer's removal).
    pub fn assert_no_split_brain(&self) {
        let o = self.longest_overlap();
        assert!(
            o < Duration::from_millis(600),
            "VIP was on both directors for {o:?}"
        );
    }

    /// Samples in which director `i` did not hold the VIP.
    pub fn missing_on(&self, i: usize) -> usize {
        let s = self.samples.lock().expect("samples");
        s.iter()
            .filter(|(_, row)| !row.get(i).copied().unwrap_or(false))
            .count()
    }

    /// Whether director `i` held the VIP in any sample.
    pub fn ever_on(&self, i: usize) -> bool {
        let s = self.samples.lock().expect("samples");
        s.iter()
            .any(|(_, row)| row.get(i).copied().unwrap_or(false))
    }

    pub fn sample_count(&self) -> usize {
        self.samples.lock().map(|s| s.len()).unwrap_or(0)
    }
}

impl Drop for VipSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client pinging the VIP every 50 ms (`ping -D -O`), output parsed afterwards.
pub struct Pinger {
    guard: ProcessGuard,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

#[derive(Debug, Default)]
pub struct PingReport {
    pub sent: u64,
    pub answered: u64,
    /// Wall-clock times (s since epoch) of answered requests.
    pub answers: Vec<f64>,
}

impl PingReport {
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.answered)
    }
    /// First answer at or after `t` (seconds since epoch).
    pub fn first_answer_after(&self, t: f64) -> Option<f64> {
        self.answers.iter().copied().find(|a| *a >= t)
    }
}

impl Pinger {
    pub fn start(ns: &Netns, vip: &str) -> Pinger {
        Pinger::start_interval(ns, vip, "0.05")
    }

    /// Ping every `interval` seconds (root may go down to 0.002).
    pub fn start_interval(ns: &Netns, vip: &str, interval: &str) -> Pinger {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("ping.out");
        let f = fs::File::create(&out).expect("ping out");
        let argv = ["ping", "-n", "-D", "-O", "-i", interval, "-W", "1", vip];
        let guard = ns
            .spawn(&argv, Stdio::from(f), Stdio::null())
            .expect("ping");
        Pinger {
            guard,
            out,
            _dir: dir,
        }
    }

    pub fn finish(mut self) -> PingReport {
        let _ = self.guard.signal_group(Signal::SIGINT);
        let _ = self.guard.wait_timeout(Duration::from_secs(5));
        let mut r = PingReport::default();
        let f = match fs::File::open(&self.out) {
            Ok(f) => f,
            Err(_) => return r,
        };
        let mut max_seq = 0u64;
        for line in BufReader::new(f).lines().map_while(Result::ok) {
            let ts = line
                .strip_prefix('[')
                .and_then(|l| l.split(']').next())
                .and_then(|t| t.parse::<f64>().ok());
            let seq = line
                .split("icmp_seq=")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(seq) = seq {
                max_seq = max_seq.max(seq);
                if line.contains("bytes from") {
                    r.answered += 1;
                    if let Some(ts) = ts {
                        r.answers.push(ts);
                    }
                }
            }
        }
        r.sent = max_seq;
        r
    }
}

pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Polls until `cond` or panics with `what` and the directors' logs.
pub fn wait_for(what: &str, timeout: Duration, dirs: &[&Director], cond: impl FnMut() -> bool) {
    if wait_until(what, timeout, cond).is_err() {
        let logs: Vec<String> = dirs
            .iter()
            .map(|d| format!("--- {:?} log ---\n{}", d.kind, d.log()))
            .collect();
        panic!(
            "timed out after {timeout:?} waiting for {what}\n{}",
            logs.join("\n")
        );
    }
}

/// Time from now until `cond` holds (polled every 10 ms), or None after `timeout`.
pub fn time_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Two directors (hosts 0 and 1, 10.0.0.1/.2, fd00::1/::2) and a client (host 2).
pub struct Topo {
    pub lan: Lan,
}

impl Topo {
    pub fn new(name: &str) -> Topo {
        Topo {
            lan: Lan::new(name, 3).expect("lan"),
        }
    }
    pub fn director(&self, i: usize) -> &Netns {
        self.lan.host(i)
    }
    pub fn client(&self) -> &Netns {
        self.lan.host(2)
    }
    pub fn director_names(&self) -> Vec<String> {
        vec![
            self.lan.host(0).name().to_string(),
            self.lan.host(1).name().to_string(),
        ]
    }
    /// Take host `i` off the LAN (its link stays up): what the network sees
    /// when a machine dies. A killed process alone leaves the VIP answering.
    pub fn isolate(&self, i: usize) {
        let port = format!("p{i}");
        self.lan
            .switch()
            .ip(&["link", "set", &port, "nomaster"])
            .expect("detach port");
    }

    /// Put host `i` back on the LAN.
    pub fn rejoin(&self, i: usize) {
        let port = format!("p{i}");
        self.lan
            .switch()
            .ip(&["link", "set", &port, "master", "br0"])
            .expect("attach port");
    }

    pub fn holds(&self, i: usize, addr: &str) -> bool {
        holds(self.lan.host(i).name(), addr)
    }

    /// Whether director `i` holds every one of `vips` and the other none.
    pub fn sole_holder(&self, i: usize, vips: &[&str]) -> bool {
        vips.iter()
            .all(|v| self.holds(i, v) && !self.holds(1 - i, v))
    }

    /// Waits until director `i` alone holds `vips` (see [`wait_for`]).
    pub fn wait_sole_holder(
        &self,
        what: &str,
        i: usize,
        vips: &[&str],
        timeout: Duration,
        dirs: &[&Director],
    ) {
        wait_for(what, timeout, dirs, || self.sole_holder(i, vips));
    }
}

/// One `vrrp_instance` block.
#[derive(Debug, Clone)]
pub struct Inst {
    pub name: &'static str,
    pub state: &'static str,
    pub priority: u8,
    pub vrid: u8,
    pub advert_int: &'static str,
    pub version: u8,
    pub vips: Vec<String>,
    pub auth: Option<&'static str>,
    pub nopreempt: bool,
    pub preempt_delay: Option<u32>,
    pub unicast: Option<(String, String)>,
    pub extra: String,
}

impl Inst {
    pub fn new(priority: u8) -> Inst {
        Inst {
            name: "VI_1",
            state: "BACKUP",
            priority,
            vrid: 51,
            advert_int: "1",
            version: 2,
            vips: vec!["10.0.0.100/24".into()],
            auth: Some("s3cret"),
            nopreempt: false,
            preempt_delay: None,
            unicast: None,
            extra: String::new(),
        }
    }

    pub fn render(&self) -> String {
        let mut s = format!(
            "vrrp_instance {} {{\n  state {}\n  interface eth0\n  virtual_router_id {}\n  priority {}\n  advert_int {}\n  version {}\n",
            self.name, self.state, self.vrid, self.priority, self.advert_int, self.version
        );
        if let Some(p) = self.auth {
            s += &format!("  authentication {{\n    auth_type PASS\n    auth_pass {p}\n  }}\n");
        }
        if self.nopreempt {
            s += "  nopreempt\n";
        }
        if let Some(d) = self.preempt_delay {
            s += &format!("  preempt_delay {d}\n");
        }
        if let Some((src, peer)) = &self.unicast {
            s += &format!("  unicast_src_ip {src}\n  unicast_peer {{\n    {peer}\n  }}\n");
        }
        s += "  virtual_ipaddress {\n";
        for v in &self.vips {
            s += &format!("    {v}\n");
        }
        s += "  }\n";
        s += &self.extra;
        s += "}\n";
        s
    }
}

/// A whole keepalived.conf: global_defs plus instances plus anything extra.
pub fn conf(instances: &[Inst], extra: &str) -> String {
    let mut s = String::from(
        "global_defs {\n  router_id lvsd_test\n  vrrp_garp_master_delay 1\n  vrrp_garp_master_repeat 2\n  script_user root\n  enable_script_security\n}\n",
    );
    s += extra;
    for i in instances {
        s += &i.render();
    }
    s
}

/// `ip monitor address` in a namespace: every address added or deleted, as
/// the kernel reports it (catches a delete + re-add that sampling would miss).
pub struct AddrMonitor {
    child: std::process::Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl AddrMonitor {
    pub fn start(ns: &str) -> AddrMonitor {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lvsd-addrmon-{}-", std::process::id()))
            .tempdir()
            .expect("temp dir");
        let out = dir.path().join("monitor.log");
        let file = fs::File::create(&out).expect("monitor log");
        let child = Command::new("ip")
            .args(["-n", ns, "-o", "monitor", "address"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::null())
            .spawn()
            .expect("ip monitor");
        // Let it subscribe before anything happens.
        std::thread::sleep(Duration::from_millis(300));
        AddrMonitor {
            child,
            out,
            _dir: dir,
        }
    }

    /// Lines reporting `addr` deleted so far.
    pub fn deleted(&self, addr: &str) -> Vec<String> {
        let text = fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("Deleted") && l.contains(&format!(" {addr}/")))
            .map(str::to_string)
            .collect()
    }

    pub fn text(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for AddrMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
/// A command's standard output, recorded to a file while the test runs
/// (tcpdump, `ip monitor`); stopped with SIGINT.
pub struct Recorder {
    guard: crate::process::ProcessGuard,
    out: std::path::PathBuf,
}

impl Recorder {
    pub fn start(ns: &crate::netns::Netns, argv: &[&str], out: std::path::PathBuf) -> Recorder {
        let f = std::fs::File::create(&out).expect("recorder out");
        let guard = ns
            .spawn(
                argv,
                std::process::Stdio::from(f),
                std::process::Stdio::null(),
            )
            .expect("recorder");
        Recorder { guard, out }
    }
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
    pub fn finish(mut self) -> String {
        let _ = self.guard.signal_group(Signal::SIGINT);
        let _ = self.guard.wait_timeout(Duration::from_secs(5));
        self.text()
    }
}

/// A notify script in `dir` that appends its argument `arg` (`$3` for the
/// state, `$*` for all) to `dir/out`; returns the script and that file.
pub fn notify_recorder(dir: &std::path::Path, out: &str, arg: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let out = dir.join(out);
    let script = dir.join("notify.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"{arg}\" >> {}\n", out.display()),
    )
    .expect("notify script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    (script, out)
}

pub use testbed::process::{children, spawn_helper_of};
