//! A real keepalived peer for interop tests: started in a given network
//! namespace with its own config and pid files under a temp dir, logging to a
//! file, and killed with its whole process group on drop.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::netns::Netns;
use super::process::ProcessGuard;
use super::wait::{wait_until, WaitTimeout};

/// The keepalived binary (Debian's package puts it in /usr/sbin).
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// A running `keepalived -n -l -D -P` in a namespace.
#[derive(Debug)]
pub struct Keepalived {
    guard: ProcessGuard,
    dir: tempfile::TempDir,
}

impl Keepalived {
    /// Writes `config` to a temp dir and starts keepalived (VRRP only) on it in `ns`.
    pub fn start(ns: &Netns, config: &str) -> io::Result<Keepalived> {
        Keepalived::start_mode(ns, config, true)
    }

    /// [`Keepalived::start`], VRRP only (`-P`) or whole (VRRP and checker processes).
    pub fn start_mode(ns: &Netns, config: &str, vrrp_only: bool) -> io::Result<Keepalived> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("keepalived-{}-", std::process::id()))
            .tempdir()?;
        let conf = dir.path().join("keepalived.conf");
        fs::write(&conf, config)?;
        let log = fs::File::create(dir.path().join("keepalived.log"))?;
        let log2 = log.try_clone()?;
        let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let mut argv = vec![
            KEEPALIVED.to_string(),
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-f".into(),
            p("keepalived.conf"),
            "-p".into(),
            p("keepalived.pid"),
            "-r".into(),
            p("vrrp.pid"),
            "-c".into(),
            p("checkers.pid"),
        ];
        if vrrp_only {
            argv.push("-P".into());
        }
        let guard = ns.spawn(&argv, Stdio::from(log), Stdio::from(log2))?;
        Ok(Keepalived { guard, dir })
    }

    /// The parent process's pid (also the process group id).
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The temp dir holding config, pid files and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything keepalived logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("keepalived.log")).unwrap_or_default()
    }

    /// The VRRP child's pid once it has written its pid file.
    pub fn vrrp_pid(&self) -> Option<i32> {
        fs::read_to_string(self.vrrp_pid_file())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn vrrp_pid_file(&self) -> PathBuf {
        self.dir.path().join("vrrp.pid")
    }

    /// Waits until the VRRP child is running.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), WaitTimeout> {
        wait_until("keepalived's VRRP child to start", timeout, || {
            self.vrrp_pid().is_some()
        })
    }

    /// Crash: SIGKILL the whole process group (parent and VRRP child), so no
    /// priority-0 advert is sent. (SIGKILL of the parent alone is not a crash:
    /// its VRRP child notices and still sends priority 0.)
    pub fn crash(&mut self) {
        self.guard.kill();
    }

    /// Graceful stop: SIGTERM to the parent, which stops its children
    /// (priority 0 sent); waits for the parent to exit.
    pub fn stop(&mut self, timeout: Duration) -> Result<(), WaitTimeout> {
        let _ = kill(Pid::from_raw(self.pid_i32()), Signal::SIGTERM);
        self.guard.wait_timeout(timeout).map(|_| ())
    }

    fn pid_i32(&self) -> i32 {
        i32::try_from(self.guard.pid()).unwrap_or(i32::MAX)
    }
}
