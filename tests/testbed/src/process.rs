//! Child processes that cannot outlive the test: each runs in its own process
//! group, and dropping the guard kills the whole group (also during a panic).
//! Daemons started with [`ProcessGuard::spawn_logged`] write stdout/stderr to
//! files, so a test can wait for a log line and quote the logs on failure.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::wait::{wait_until, WaitTimeout, POLL_INTERVAL};

/// A command that ran and failed, or could not start.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// It ran and exited non-zero (or was killed).
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    /// It could not be started.
    #[error("starting `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
}

/// Runs `cmd` with stdin closed; its stdout, or an error naming the command
/// with its stderr.
pub fn run_checked(mut cmd: Command) -> Result<String, CommandError> {
    let command = describe(&cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(CommandError::Failed {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `program arg1 arg2 ...` for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A daemon did not reach the awaited state.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The deadline passed.
    #[error("{timeout}\n{logs}")]
    Timeout { timeout: WaitTimeout, logs: String },
    /// The process exited while we waited.
    #[error("{command} exited ({status}) while waiting for {what}\n{logs}")]
    Exited {
        command: String,
        status: String,
        what: String,
        logs: String,
    },
}

/// A spawned process group; SIGKILLs the group and reaps the leader on drop.
#[derive(Debug)]
pub struct ProcessGuard {
    child: Child,
    what: String,
    reaped: Option<ExitStatus>,
    logs: Option<(PathBuf, PathBuf)>,
}

impl ProcessGuard {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(mut command: Command) -> io::Result<Self> {
        let what = describe(&command);
        command.process_group(0);
        let child = command
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawning {what}: {e}")))?;
        Ok(ProcessGuard {
            child,
            what,
            reaped: None,
            logs: None,
        })
    }

    /// Spawns `command` with stdin closed and stdout/stderr written to
    /// `<log_dir>/<name>.stdout` and `<log_dir>/<name>.stderr`.
    pub fn spawn_logged(mut command: Command, log_dir: &Path, name: &str) -> io::Result<Self> {
        let out_path = log_dir.join(format!("{name}.stdout"));
        let err_path = log_dir.join(format!("{name}.stderr"));
        let create = |p: &Path| {
            fs::File::create(p)
                .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", p.display())))
        };
        command
            .stdin(Stdio::null())
            .stdout(create(&out_path)?)
            .stderr(create(&err_path)?);
        let mut guard = Self::spawn(command)?;
        guard.logs = Some((out_path, err_path));
        Ok(guard)
    }

    /// The leader's pid, which is also the process group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command line, for messages.
    pub fn describe(&self) -> &str {
        &self.what
    }

    /// What the process wrote to stdout so far (`spawn_logged` only).
    pub fn stdout(&self) -> String {
        self.logs
            .as_ref()
            .map(|(out, _)| read_lossy(out))
            .unwrap_or_default()
    }

    /// What the process wrote to stderr so far (`spawn_logged` only).
    pub fn stderr(&self) -> String {
        self.logs
            .as_ref()
            .map(|(_, err)| read_lossy(err))
            .unwrap_or_default()
    }

    /// Both logs, labelled, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout(),
            self.stderr()
        )
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

    /// Waits until `ready` holds, failing early with the logs if the
    /// process exits first.
    pub fn wait_ready(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) -> Result<(), ProcessError> {
        let deadline = Instant::now() + timeout;
        loop {
            if ready(self) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.try_wait() {
                // One last look: it may have said it and then exited.
                if ready(self) {
                    return Ok(());
                }
                return Err(ProcessError::Exited {
                    command: self.what.clone(),
                    status: status.to_string(),
                    what: what.to_owned(),
                    logs: self.logs(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ProcessError::Timeout {
                    timeout: WaitTimeout::new(what, timeout),
                    logs: self.logs(),
                });
            }
            std::thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }

    /// Waits until stdout or stderr contains `needle` (`spawn_logged` only).
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> Result<(), ProcessError> {
        let what = format!("{:?} in the output of {}", needle, self.what);
        self.wait_ready(&what, timeout, |p| {
            p.stdout().contains(needle) || p.stderr().contains(needle)
        })
    }

    /// Sends `signal` to the whole group.
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

/// Waits until `path` exists.
pub fn wait_for_file(path: &Path, timeout: Duration) -> Result<(), WaitTimeout> {
    wait_until(&format!("{} to exist", path.display()), timeout, || {
        path.exists()
    })
}

/// Waits until a TCP connection to `addr` (loopback, from this network
/// namespace) succeeds.
pub fn wait_for_tcp_port(addr: SocketAddr, timeout: Duration) -> Result<(), WaitTimeout> {
    wait_until(&format!("{addr} to accept TCP"), timeout, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    })
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The child processes of `pid` (of its main thread).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The spawn helper lvsd `pid` starts its scripts from (checkers::spawner).
pub fn spawn_helper_of(pid: u32) -> Option<u32> {
    children(pid).into_iter().find(|c| {
        std::fs::read(format!("/proc/{c}/cmdline"))
            .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|a| a == b"__spawn-helper"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_process_is_awaited_by_output_and_killed_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo starting >&2; sleep 0.2; echo ready; exec sleep 600",
        ]);
        let mut p = ProcessGuard::spawn_logged(cmd, dir.path(), "daemon").expect("spawn sh");
        p.wait_for_output("ready", Duration::from_secs(30))
            .expect("ready line");
        assert_eq!(p.stderr(), "starting\n");
        let pid = Pid::from_raw(i32::try_from(p.pid()).expect("pid"));
        drop(p);
        // The group is gone: signal 0 to it fails.
        assert!(killpg(pid, None).is_err());
    }

    #[test]
    fn waiting_fails_early_with_logs_when_the_process_exits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'bad config' >&2; exit 2"]);
        let mut p = ProcessGuard::spawn_logged(cmd, dir.path(), "failing").expect("spawn sh");
        let err = p
            .wait_for_output("ready", Duration::from_secs(60))
            .expect_err("exits instead");
        let text = err.to_string();
        assert!(matches!(err, ProcessError::Exited { .. }), "{text}");
        assert!(text.contains("bad config"), "{text}");
    }

    #[test]
    fn run_checked_names_the_failing_command() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo nope >&2; exit 4"]);
        let err = run_checked(cmd).expect_err("exit 4");
        assert_eq!(
            err.to_string(),
            "`sh -c echo nope >&2; exit 4` failed (exit status: 4): nope"
        );
    }

    #[test]
    fn tcp_port_and_file_waits() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        wait_for_tcp_port(addr, Duration::from_secs(10)).expect("listening");
        drop(listener);
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("pid");
        assert!(wait_for_file(&file, Duration::from_millis(100)).is_err());
        fs::write(&file, "1").expect("write");
        wait_for_file(&file, Duration::from_secs(10)).expect("exists");
    }
}
