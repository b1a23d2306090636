//! Network namespaces for tests, on the host and inside a UML guest, driven
//! through iproute2 (`ip netns`, `ip -n`). Every namespace is named
//! `tb-<prefix>-<pid>-<n>`, so parallel tests and parallel test processes
//! never collide, and namespaces left by a killed test process (its pid is
//! gone) are swept when the next process creates its first namespace.
//! Dropping a [`Netns`] kills the processes in it and deletes it.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;
use std::{fs, io};

use crate::process::ProcessGuard;
pub use crate::process::{run_checked, CommandError};
use crate::wait::{wait_until, WaitTimeout};

/// Where iproute2 keeps named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";
/// Marks namespaces made by this module.
const NAME_TAG: &str = "tb";

fn ip<S: AsRef<OsStr>>(args: &[S]) -> Result<String, CommandError> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    run_checked(cmd)
}

/// A named network namespace, deleted (with its processes) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `tb-<prefix>-<pid>-<n>`; lo is brought up.
    pub fn new(prefix: &str) -> Result<Netns, CommandError> {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NAME_TAG}-{prefix}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` running `program` in the namespace (`ip netns exec`,
    /// which execs, so the child's pid is the program's).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    fn command_argv<S: AsRef<OsStr>>(&self, argv: &[S]) -> Command {
        let (program, args) = argv
            .split_first()
            .map_or((OsStr::new("true"), &[][..]), |(p, a)| (p.as_ref(), a));
        let mut cmd = self.command(program);
        cmd.args(args);
        cmd
    }

    /// Runs `argv` in the namespace and returns its raw output.
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> io::Result<Output> {
        self.command_argv(argv).stdin(Stdio::null()).output()
    }

    /// Runs `argv` in the namespace; errs (with stderr) unless it exits 0.
    pub fn run<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<String, CommandError> {
        run_checked(self.command_argv(argv))
    }

    /// `ip -n <ns> args..`, checked.
    pub fn ip<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, CommandError> {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.name]).args(args);
        run_checked(cmd)
    }

    /// Sets a sysctl inside the namespace, e.g. `("net.ipv4.ip_forward", "1")`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), CommandError> {
        self.run(&["sysctl", "-qw", &format!("{key}={value}")])
            .map(drop)
    }

    /// Spawns `argv` in the namespace in its own process group, stdin
    /// closed, output where `stdout`/`stderr` say; the guard kills the group
    /// on drop. See also [`Netns::spawn_logged`].
    pub fn spawn<S: AsRef<OsStr>>(
        &self,
        argv: &[S],
        stdout: Stdio,
        stderr: Stdio,
    ) -> io::Result<ProcessGuard> {
        let mut cmd = self.command_argv(argv);
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        ProcessGuard::spawn(cmd)
    }

    /// Spawns `argv` in the namespace with stdout/stderr written to
    /// `<log_dir>/<name>.stdout|.stderr` (see [`ProcessGuard::spawn_logged`]).
    pub fn spawn_logged<S: AsRef<OsStr>>(
        &self,
        argv: &[S],
        log_dir: &Path,
        name: &str,
    ) -> io::Result<ProcessGuard> {
        ProcessGuard::spawn_logged(self.command_argv(argv), log_dir, name)
    }

    /// Waits until something in the namespace listens on TCP `port` (any
    /// address), as `ss` sees it.
    pub fn wait_for_tcp_listener(&self, port: u16, timeout: Duration) -> Result<(), WaitTimeout> {
        self.wait_for_listener("TCP", port, timeout)
    }

    /// Waits until a socket of `protocol` ("TCP" or "UDP") in the namespace
    /// listens on `port` (any address), as `ss` sees it.
    pub fn wait_for_listener(
        &self,
        protocol: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(), WaitTimeout> {
        let filter = format!("sport = :{port}");
        let flags = if protocol.eq_ignore_ascii_case("udp") {
            "-Hlun"
        } else {
            "-Hltn"
        };
        wait_until(
            &format!("a {protocol} listener on port {port} in {}", self.name),
            timeout,
            || {
                self.run(&["ss", flags, &filter])
                    .is_ok_and(|out| !out.trim().is_empty())
            },
        )
    }

    /// Pids of processes in the namespace.
    pub fn pids(&self) -> Vec<i32> {
        ip(&["netns", "pids", &self.name])
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether a namespace of this name exists.
pub fn exists(name: &str) -> bool {
    Path::new(NETNS_RUN_DIR).join(name).exists()
}

/// SIGKILLs every process in namespace `name`, then deletes it.
fn destroy(name: &str) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    for _ in 0..3 {
        let pids = ip(&["netns", "pids", name]).unwrap_or_default();
        let pids: Vec<i32> = pids
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(crate::wait::POLL_INTERVAL);
    }
    let _ = ip(&["netns", "del", name]);
}

impl Drop for Netns {
    fn drop(&mut self) {
        destroy(&self.name);
    }
}

/// Deletes `tb-*-<pid>-<n>` namespaces whose creating process is gone.
fn sweep_stale() {
    let Ok(entries) = fs::read_dir(NETNS_RUN_DIR) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = creator_pid(&name) {
            if !Path::new("/proc").join(pid.to_string()).exists() {
                destroy(&name);
            }
        }
    }
}

/// The pid in a `tb-<prefix>-<pid>-<n>` name.
fn creator_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_TAG)?.strip_prefix('-')?;
    let mut parts = rest.rsplitn(3, '-');
    let _n: u64 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let _prefix = parts.next()?;
    Some(pid)
}

/// A LAN: a bridge in its own namespace and `n` host namespaces, each with
/// `eth0` (a veth into the bridge) holding an IPv4 address from a /24 and
/// an IPv6 address from a /64 (DAD off, so usable at once). Host `i` gets
/// base + i + 1. Multicast snooping and STP are off so VRRP adverts and
/// gratuitous ARP flood like on a plain hub.
#[derive(Debug)]
pub struct Lan {
    // Hosts drop first, then the switch.
    hosts: Vec<Netns>,
    switch: Netns,
    ipv4_base: Ipv4Addr,
    ipv6_base: Ipv6Addr,
}

impl Lan {
    /// Default subnets: 10.0.0.0/24 and fd00::/64 (private to the namespaces).
    pub fn new(prefix: &str, hosts: usize) -> Result<Lan, CommandError> {
        Lan::with_subnets(
            prefix,
            hosts,
            Ipv4Addr::new(10, 0, 0, 0),
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0),
        )
    }

    /// Hosts numbered from `ipv4_base`+1 / `ipv6_base`+1 (/24, /64).
    pub fn with_subnets(
        prefix: &str,
        hosts: usize,
        ipv4_base: Ipv4Addr,
        ipv6_base: Ipv6Addr,
    ) -> Result<Lan, CommandError> {
        let switch = Netns::new(&format!("{prefix}-sw"))?;
        switch.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        switch.ip(&["link", "set", "br0", "up"])?;
        let mut lan = Lan {
            hosts: Vec::with_capacity(hosts),
            switch,
            ipv4_base,
            ipv6_base,
        };
        for i in 0..hosts {
            let host = Netns::new(&format!("{prefix}-h{i}"))?;
            host.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
            host.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
            let port = format!("p{i}");
            host.ip(&[
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &port,
                "netns",
                lan.switch.name(),
            ])?;
            lan.switch
                .ip(&["link", "set", &port, "master", "br0", "up"])?;
            host.ip(&["link", "set", "eth0", "up"])?;
            let v4 = format!("{}/24", lan.ipv4(i));
            host.ip(&["addr", "add", &v4, "dev", "eth0"])?;
            let v6 = format!("{}/64", lan.ipv6(i));
            host.ip(&["-6", "addr", "add", &v6, "dev", "eth0", "nodad"])?;
            lan.hosts.push(host);
        }
        Ok(lan)
    }

    /// Host `i`'s namespace. Panics if out of range (a test bug).
    pub fn host(&self, i: usize) -> &Netns {
        &self.hosts[i]
    }

    /// All host namespaces.
    pub fn hosts(&self) -> &[Netns] {
        &self.hosts
    }

    /// The bridge's namespace (bridge `br0`, ports `p<i>`).
    pub fn switch(&self) -> &Netns {
        &self.switch
    }

    /// Host `i`'s IPv4 address.
    pub fn ipv4(&self, i: usize) -> Ipv4Addr {
        let offset = u32::try_from(i + 1).unwrap_or(u32::MAX);
        Ipv4Addr::from(u32::from(self.ipv4_base).wrapping_add(offset))
    }

    /// Host `i`'s IPv6 address.
    pub fn ipv6(&self, i: usize) -> Ipv6Addr {
        let offset = u128::try_from(i + 1).unwrap_or(u128::MAX);
        Ipv6Addr::from(u128::from(self.ipv6_base).wrapping_add(offset))
    }

    /// Names of every namespace of this LAN (for cleanup checks).
    pub fn namespace_names(&self) -> Vec<String> {
        self.hosts
            .iter()
            .chain([&self.switch])
            .map(|n| n.name().to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creator_pid_parses_our_names_only() {
        assert_eq!(creator_pid("tb-lan-sw-1234-7"), Some(1234));
        assert_eq!(creator_pid("tb-x-42-0"), Some(42));
        assert_eq!(creator_pid("tb-42-0"), None);
        assert_eq!(creator_pid("other-1-2"), None);
        assert_eq!(creator_pid("tb-x-y-0"), None);
    }
}
