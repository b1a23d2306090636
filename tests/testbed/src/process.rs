//! Child processes that cannot outlive the test: each runs in its own process
//! group, and dropping the guard kills the whole group (also during a panic).

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::wait::{wait_until, WaitTimeout};

/// A spawned process group; SIGKILLs the group and reaps the leader on drop.
#[derive(Debug)]
pub struct ProcessGuard {
    child: Child,
    what: String,
    reaped: Option<ExitStatus>,
}

impl ProcessGuard {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(mut command: Command) -> io::Result<Self> {
        let what = format!("{command:?}");
        command.process_group(0);
        let child = command
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawning {what}: {e}")))?;
        Ok(ProcessGuard {
            child,
            what,
            reaped: None,
        })
    }

    /// The leader's pid, which is also the process group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line, for messages.
    pub fn describe(&self) -> &str {
        &self.what
    }

    /// The leader's exit status if it has exited (reaps it), else `None`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.reaped {
            return Ok(Some(status));
        }
        let status = self.child.try_wait()?;
        self.reaped = status;
        Ok(status)
    }

    /// Waits up to `timeout` for the leader to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<ExitStatus, WaitTimeout> {
        let what = format!("{} to exit", self.what);
        let mut status = None;
        wait_until(&what, timeout, || {
            status = self.try_wait().ok().flatten();
            status.is_some()
        })?;
        status.ok_or_else(|| WaitTimeout::new(&what, timeout))
    }

    /// Sends `signal` to the whole group (no-op once the leader is reaped and
    /// the group is gone).
    pub fn signal_group(&self, signal: Signal) -> nix::Result<()> {
        killpg(Pid::from_raw(self.pgid()), signal)
    }

    fn pgid(&self) -> i32 {
        // Process ids always fit in i32 on Linux.
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// Kills the group and reaps the leader.
    pub fn kill(&mut self) {
        // ESRCH just means the group is already gone.
        let _ = self.signal_group(Signal::SIGKILL);
        if self.reaped.is_none() {
            if let Ok(status) = self.child.wait() {
                self.reaped = Some(status);
            }
        }
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
