//! Scripts started by a helper process instead of the daemon (issue #16).
//!
//! Measured in the UML test bed (BENCHMARKS.md, "VRRP timing under the
//! director's own load"): while a process creates processes (fork,
//! posix_spawn alike), every other thread of that process stalls, for up to
//! ~100 ms at 200 scripts a second, whatever its priority; a separate
//! process at a raised priority is not delayed. keepalived gets this from
//! its split (its VRRP process never runs MISC_CHECK scripts). lvsd keeps
//! one process for everything else, so its frequent spawns (MISC_CHECK,
//! track and notify scripts) go to a small single-threaded helper process:
//! lvsd's own binary started once at start-up, talking over a
//! `SOCK_SEQPACKET` socket pair. A request is queued in memory for a
//! writer thread (the socket holds only ten), so asking never blocks and
//! the VRRP thread cannot be delayed by the helper either. Without a
//! helper (tests, one-shot commands) or once it has gone, scripts are
//! spawned in-process as before.
//!
//! The wire format ([`Request`], [`Reply`]) is pure and tested here; the
//! helper's loop is [`serve`]: one `poll` over its socket and its scripts'
//! pidfds, reporting ends before serving the next request.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use nix::unistd::Pid;
use tokio::sync::oneshot;

/// The argument that makes lvsd's binary the helper (`lvsd __spawn-helper FD`).
pub const HELPER_ARG: &str = "__spawn-helper";
/// The largest request: a message must fit one `SOCK_SEQPACKET` datagram.
const MAX_MESSAGE: usize = 60 * 1024;

/// What to run, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub program: String,
    pub args: Vec<String>,
    /// uid and gid to run as; `None` (or our own): as ourselves.
    pub ids: Option<(u32, u32)>,
    /// Where its stdout and stderr go (stdin is always /dev/null).
    pub output: Output,
    /// The leader of a process group of its own, so that a timeout ends
    /// what it started too.
    pub own_group: bool,
}

/// Where a script's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// lvsd's stdout and stderr (notify scripts, as keepalived's).
    Inherit,
    /// stdout to /dev/null, stderr to lvsd's (track scripts).
    NoStdout,
    /// Both to /dev/null (MISC_CHECK: its output is not read).
    Null,
}

impl Script {
    /// `sh -c LINE`, as notify and track scripts run.
    pub fn shell(line: &str, ids: Option<(u32, u32)>, output: Output, own_group: bool) -> Script {
        Script {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), line.into()],
            ids,
            output,
            own_group,
        }
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args).stdin(Stdio::null());
        match self.output {
            Output::Inherit => {}
            Output::NoStdout => {
                cmd.stdout(Stdio::null());
            }
            Output::Null => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        if self.own_group {
            cmd.process_group(0);
        }
        // Only a real change of user: with uid/gid set, std forks instead
        // of using posix_spawn.
        if let Some((uid, gid)) = self.ids {
            if (uid, gid)
                != (
                    nix::unistd::geteuid().as_raw(),
                    nix::unistd::getegid().as_raw(),
                )
            {
                cmd.uid(uid).gid(gid);
            }
        }
        cmd
    }
}

/// From the daemon to the helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Start `script`; answer `Spawned` or `Failed`, and `Exited` once it
    /// ends unless `detached`.
    Spawn {
        id: u64,
        detached: bool,
        script: Script,
    },
    /// Send `signal` to script `id` (to its process group if `group`), if
    /// it has not been reaped yet.
    Signal { id: u64, signal: i32, group: bool },
}

/// From the helper to the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Spawned {
        id: u64,
        pid: u32,
    },
    Failed {
        id: u64,
        errno: i32,
    },
    /// The raw wait status.
    Exited {
        id: u64,
        status: i32,
    },
}

/// A message that is not one of ours (never from lvsd's own helper, but
/// the socket is read as untrusted input all the same).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("spawn helper message: {0}")]
pub struct WireError(&'static str);

fn fields(bytes: &[u8]) -> Result<Vec<&str>, WireError> {
    std::str::from_utf8(bytes)
        .map_err(|_| WireError("not UTF-8"))
        .map(|s| s.split('\0').collect())
}

fn number<T: std::str::FromStr>(s: Option<&&str>, what: &'static str) -> Result<T, WireError> {
    s.and_then(|s| s.parse().ok()).ok_or(WireError(what))
}

fn optional_id(s: Option<&&str>) -> Result<Option<u32>, WireError> {
    match s {
        Some(&"-") => Ok(None),
        other => number(other, "bad uid/gid").map(Some),
    }
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut f: Vec<String> = Vec::new();
        match self {
            Request::Spawn {
                id,
                detached,
                script,
            } => {
                let flags: String = [
                    (*detached, 'd'),
                    (script.output == Output::NoStdout, 'o'),
                    (script.output == Output::Null, 'q'),
                    (script.own_group, 'g'),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| *c)
                .collect();
                let (uid, gid) = match script.ids {
                    Some((u, g)) => (u.to_string(), g.to_string()),
                    None => ("-".into(), "-".into()),
                };
                f.extend(["S".into(), id.to_string(), format!("f{flags}"), uid, gid]);
                f.push(script.program.clone());
                f.extend(script.args.iter().cloned());
            }
            Request::Signal { id, signal, group } => {
                f.extend([
                    "K".into(),
                    id.to_string(),
                    signal.to_string(),
                    if *group { "g" } else { "p" }.into(),
                ]);
            }
        }
        f.join("\0").into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, WireError> {
        let f = fields(bytes)?;
        match f.first() {
            Some(&"S") => {
                let id = number(f.get(1), "bad id")?;
                let flags = f
                    .get(2)
                    .and_then(|s| s.strip_prefix('f'))
                    .ok_or(WireError("bad flags"))?;
                let uid = optional_id(f.get(3))?;
                let gid = optional_id(f.get(4))?;
                let program = f.get(5).ok_or(WireError("no program"))?.to_string();
                if program.is_empty() {
                    return Err(WireError("empty program"));
                }
                Ok(Request::Spawn {
                    id,
                    detached: flags.contains('d'),
                    script: Script {
                        program,
                        args: f[6..].iter().map(|s| s.to_string()).collect(),
                        ids: uid.zip(gid),
                        output: if flags.contains('q') {
                            Output::Null
                        } else if flags.contains('o') {
                            Output::NoStdout
                        } else {
                            Output::Inherit
                        },
                        own_group: flags.contains('g'),
                    },
                })
            }
            Some(&"K") if f.len() == 4 => Ok(Request::Signal {
                id: number(f.get(1), "bad id")?,
                signal: number(f.get(2), "bad signal")?,
                group: match f[3] {
                    "g" => true,
                    "p" => false,
                    _ => return Err(WireError("bad signal target")),
                },
            }),
            _ => Err(WireError("unknown request")),
        }
    }
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Spawned { id, pid } => format!("P\0{id}\0{pid}"),
            Reply::Failed { id, errno } => format!("F\0{id}\0{errno}"),
            Reply::Exited { id, status } => format!("E\0{id}\0{status}"),
        }
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Reply, WireError> {
        let f = fields(bytes)?;
        if f.len() != 3 {
            return Err(WireError("wrong number of fields"));
        }
        let id = number(f.get(1), "bad id")?;
        match f[0] {
            "P" => Ok(Reply::Spawned {
                id,
                pid: number(f.get(2), "bad pid")?,
            }),
            "F" => Ok(Reply::Failed {
                id,
                errno: number(f.get(2), "bad errno")?,
            }),
            "E" => Ok(Reply::Exited {
                id,
                status: number(f.get(2), "bad status")?,
            }),
            _ => Err(WireError("unknown reply")),
        }
    }
}

/// What the daemon waits for on one script.
enum Pending {
    Running {
        spawned: Option<oneshot::Sender<io::Result<u32>>>,
        exited: oneshot::Sender<io::Result<ExitStatus>>,
    },
    /// A detached script: only a failure to start it is reported (logged).
    Detached { what: String },
}

/// The daemon's side of the helper.
struct Helper {
    socket: Arc<OwnedFd>,
    /// Requests for the writer thread. The socket's queue holds only
    /// `net.unix.max_dgram_qlen` (10) messages; the writer waits on it so
    /// that no one else does.
    requests: Mutex<std::sync::mpsc::Sender<Outgoing>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    alive: AtomicBool,
}

static HELPER: OnceLock<Arc<Helper>> = OnceLock::new();

/// What the writer thread takes: a request, or a flush marker answered once
/// everything queued before it has been written.
enum Outgoing {
    Request(Vec<u8>),
    Flushed(std::sync::mpsc::Sender<()>),
}

/// Starts the helper (`program HELPER_ARG FD`, normally lvsd's own binary,
/// `/proc/self/exe`) and sends every later [`spawn`] and
/// [`spawn_detached`] to it. Call it once, early, from a thread at the
/// process's own scheduling priority: scripts inherit the helper's.
/// `on_reader_start` runs first on the thread that reads the helper's
/// replies (the daemon registers it for its scheduling keywords).
pub fn start_helper(program: &std::path::Path, on_reader_start: fn()) -> io::Result<()> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    // The helper's end crosses exec: CLOEXEC off for that one spawn (nothing
    // else spawns this early).
    nix::fcntl::fcntl(
        &theirs,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(io::Error::from)?;
    let child = std::process::Command::new(program)
        // What `ps` shows (not "/proc/self/exe").
        .arg0("lvsd")
        .arg(HELPER_ARG)
        .arg(theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .spawn();
    drop(theirs);
    let child = child?;
    let socket = Arc::new(ours);
    let (requests, queued) = std::sync::mpsc::channel::<Outgoing>();
    let helper = Arc::new(Helper {
        socket: socket.clone(),
        requests: Mutex::new(requests),
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        alive: AtomicBool::new(true),
    });
    std::thread::Builder::new()
        .name("spawn-requests".into())
        .spawn(move || {
            on_reader_start();
            for outgoing in queued {
                let bytes = match outgoing {
                    Outgoing::Request(bytes) => bytes,
                    Outgoing::Flushed(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                loop {
                    match send(socket.as_raw_fd(), &bytes, MsgFlags::empty()) {
                        Ok(_) => break,
                        Err(nix::errno::Errno::EINTR) => continue,
                        // The helper has gone: the reply thread says so.
                        Err(_) => return,
                    }
                }
            }
        })?;
    let reader = helper.clone();
    std::thread::Builder::new()
        .name("spawn-replies".into())
        .spawn(move || {
            on_reader_start();
            reader.read_replies(child)
        })?;
    HELPER
        .set(helper)
        .map_err(|_| io::Error::other("the spawn helper was started twice"))
}

/// Waits (at most `timeout`) until every request queued so far has been
/// written to the helper. The daemon calls it last: the helper serves what
/// reached it even after lvsd has gone, so stop scripts queued in the last
/// moments are started, as keepalived starts every one.
pub fn flush(timeout: std::time::Duration) -> bool {
    let Some(h) = helper() else {
        return true;
    };
    let (done, flushed) = std::sync::mpsc::channel();
    h.queue(Outgoing::Flushed(done)).is_ok() && flushed.recv_timeout(timeout).is_ok()
}

fn helper() -> Option<&'static Arc<Helper>> {
    HELPER.get().filter(|h| h.alive.load(Ordering::Relaxed))
}

impl Helper {
    fn send(&self, request: &Request) -> io::Result<()> {
        let bytes = request.encode();
        if bytes.len() > MAX_MESSAGE {
            return Err(io::Error::other(
                "script command too long for the spawn helper",
            ));
        }
        self.queue(Outgoing::Request(bytes))
    }

    /// Hands `outgoing` to the writer thread.
    fn queue(&self, outgoing: Outgoing) -> io::Result<()> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(outgoing)
            .map_err(|_| io::Error::other("the spawn helper's writer has gone"))
    }

    /// The reply thread: hands each reply to whoever waits for it; when the
    /// helper goes, fails everything pending and leaves spawning to the
    /// daemon itself.
    fn read_replies(&self, mut child: std::process::Child) {
        let mut buf = vec![0u8; 4096];
        loop {
            match recv(self.socket.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => break,
                Ok(n) => match Reply::decode(&buf[..n]) {
                    Ok(reply) => self.deliver(reply),
                    Err(e) => tracing::warn!("{e}; ignored"),
                },
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!("reading the spawn helper's replies: {e}");
                    break;
                }
            }
        }
        self.alive.store(false, Ordering::Relaxed);
        let status = child.wait();
        tracing::warn!(
            "the spawn helper has gone ({}); scripts are now started by lvsd itself",
            status.map_or_else(|e| e.to_string(), |s| s.to_string())
        );
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, p) in pending {
            // A start still unanswered is dropped (its waiter starts the
            // script itself); a running one's wait fails.
            if let Pending::Running { exited, .. } = p {
                let _ = exited.send(Err(io::Error::other("the spawn helper has gone")));
            }
        }
    }

    fn deliver(&self, reply: Reply) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match reply {
            Reply::Spawned { id, pid } => match pending.get_mut(&id) {
                Some(Pending::Running { spawned, .. }) => {
                    let waiter_gone = spawned.take().is_some_and(|s| s.send(Ok(pid)).is_err());
                    if waiter_gone {
                        // Nobody will wait for it or end it (the start was
                        // given up on): as kill_on_drop.
                        let _ = self.send(&Request::Signal {
                            id,
                            signal: Signal::SIGKILL as i32,
                            group: false,
                        });
                    }
                }
                Some(Pending::Detached { .. }) => {
                    pending.remove(&id);
                }
                None => {}
            },
            Reply::Failed { id, errno } => match pending.remove(&id) {
                Some(Pending::Running {
                    spawned: Some(s), ..
                }) => {
                    let _ = s.send(Err(io::Error::from_raw_os_error(errno)));
                }
                Some(Pending::Detached { what }) => {
                    tracing::warn!(
                        "{what} could not be started: {}",
                        io::Error::from_raw_os_error(errno)
                    );
                }
                _ => {}
            },
            Reply::Exited { id, status } => {
                if let Some(Pending::Running { exited, .. }) = pending.remove(&id) {
                    let _ = exited.send(Ok(ExitStatus::from_raw(status)));
                }
            }
        }
    }

    async fn spawn(self: &Arc<Self>, script: &Script) -> Result<HelperChild, HelperError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (spawned_tx, spawned_rx) = oneshot::channel();
        let (exited_tx, exited_rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id,
                Pending::Running {
                    spawned: Some(spawned_tx),
                    exited: exited_tx,
                },
            );
        let sent = self.send(&Request::Spawn {
            id,
            detached: false,
            script: script.clone(),
        });
        if let Err(e) = sent {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return Err(HelperError::Unusable(e));
        }
        let pid = match spawned_rx.await {
            Ok(Ok(pid)) => pid,
            Ok(Err(e)) => return Err(HelperError::Start(e)),
            Err(_) => {
                return Err(HelperError::Unusable(io::Error::other(
                    "the spawn helper has gone",
                )))
            }
        };
        Ok(HelperChild {
            helper: self.clone(),
            id,
            pid,
            exited: Some(exited_rx),
            status: None,
        })
    }
}

/// Why the helper did not start a script.
enum HelperError {
    /// The helper cannot take it (gone): start it here.
    Unusable(io::Error),
    /// The script itself could not be started (the helper's errno).
    Start(io::Error),
}

/// A script the helper started.
pub struct HelperChild {
    helper: Arc<Helper>,
    id: u64,
    pid: u32,
    exited: Option<oneshot::Receiver<io::Result<ExitStatus>>>,
    status: Option<ExitStatus>,
}

impl HelperChild {
    fn signal(&self, signal: Signal, group: bool) -> io::Result<()> {
        self.helper.send(&Request::Signal {
            id: self.id,
            signal: signal as i32,
            group,
        })
    }
}

impl Drop for HelperChild {
    /// As tokio's `kill_on_drop`: a script whose waiter went away (its
    /// checker removed by a reload, say) is killed.
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.signal(Signal::SIGKILL, false);
        }
    }
}

/// A running script, started by the helper or, without one, by lvsd.
pub enum Child {
    Local(tokio::process::Child),
    Helper(HelperChild),
}

impl Child {
    pub fn id(&self) -> Option<u32> {
        match self {
            Child::Local(c) => c.id(),
            Child::Helper(c) => c.status.is_none().then_some(c.pid),
        }
    }

    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            Child::Local(c) => c.wait().await,
            Child::Helper(c) => {
                if let Some(s) = c.status {
                    return Ok(s);
                }
                let rx = c
                    .exited
                    .as_mut()
                    .ok_or_else(|| io::Error::other("the spawn helper has gone"))?;
                let status = rx
                    .await
                    .map_err(|_| io::Error::other("the spawn helper has gone"))
                    .and_then(|r| r);
                c.exited = None;
                let status = status?;
                c.status = Some(status);
                Ok(status)
            }
        }
    }

    /// SIGKILL to the script itself (not its group).
    pub fn start_kill(&mut self) -> io::Result<()> {
        match self {
            Child::Local(c) => c.start_kill(),
            Child::Helper(c) if c.status.is_none() => c.signal(Signal::SIGKILL, false),
            Child::Helper(_) => Ok(()),
        }
    }
}

/// Starts `script`; through the helper when there is one.
pub async fn spawn(script: &Script) -> io::Result<Child> {
    if let Some(h) = helper() {
        match h.spawn(script).await {
            Ok(c) => return Ok(Child::Helper(c)),
            Err(HelperError::Start(e)) => return Err(e),
            Err(HelperError::Unusable(e)) => {
                tracing::debug!("spawn helper: {e}; starting {} here", script.program);
            }
        }
    }
    let mut cmd = tokio::process::Command::from(script.command());
    cmd.kill_on_drop(true);
    cmd.spawn().map(Child::Local)
}

/// Starts `script` without waiting for it; nobody is told when it ends, but
/// it is reaped. `what` names it in a warning if it cannot be started. Never
/// waits for the helper.
pub fn spawn_detached(script: &Script, what: &str) -> io::Result<()> {
    if let Some(h) = helper() {
        let id = h.next_id.fetch_add(1, Ordering::Relaxed);
        h.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            Pending::Detached {
                what: what.to_owned(),
            },
        );
        let sent = h.send(&Request::Spawn {
            id,
            detached: true,
            script: script.clone(),
        });
        match sent {
            Ok(()) => return Ok(()),
            Err(e) => {
                h.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                tracing::debug!("spawn helper: {e}; starting {what} here");
            }
        }
    }
    spawn_local_detached(script.command()).map(|_| ())
}

/// Starts `cmd` here without waiting for it; its exit is collected in the
/// background, so no zombie is left. Inside a tokio runtime (the VRRP
/// thread's, the director's) tokio's reaper collects it: no thread per
/// script, and nothing that can panic when the machine is out of tasks (a
/// runaway script's doing), as creating a thread would on the VRRP thread.
pub fn spawn_local_detached(mut cmd: std::process::Command) -> io::Result<u32> {
    if tokio::runtime::Handle::try_current().is_ok() {
        // Dropping the handle gives the child to tokio's orphan reaper.
        let child = tokio::process::Command::from(cmd).spawn()?;
        return Ok(child.id().unwrap_or(0));
    }
    let mut child = cmd.spawn()?;
    let id = child.id();
    if let Err(e) = std::thread::Builder::new()
        .name("reap".into())
        .spawn(move || child.wait())
    {
        tracing::warn!("script {id} started, but no thread to collect its exit: {e}");
    }
    Ok(id)
}

/// The helper's main loop (`lvsd __spawn-helper FD`): starts what it is
/// asked to, reports each start and exit, signals on request, and ends when
/// the daemon's end of the socket closes. Scripts it started keep running.
pub fn serve(fd: RawFd) -> std::process::ExitCode {
    // SAFETY: lvsd passed this descriptor on our command line for us alone
    // (start_helper); nothing else in this process owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // The helper ends when lvsd's end of the socket closes, not on the
    // signals a service manager sends to the whole service: lvsd may still
    // run its shutdown scripts then. Blocked, not ignored: scripts start
    // with an empty mask (std sets it), but would inherit an ignore.
    let mut stop = nix::sys::signal::SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        stop.add(s);
    }
    if let Err(e) = stop.thread_block() {
        eprintln!("lvsd spawn helper: blocking signals: {e}");
    }
    match Server::new(socket) {
        Ok(server) => server.run(),
        Err(e) => {
            eprintln!("lvsd spawn helper: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A script the helper started and has not reaped yet.
struct Started {
    id: u64,
    pid: Pid,
    /// Readable once the script has ended (`pidfd_open`), so that the
    /// helper waits for its requests and its scripts' ends in one `poll`,
    /// and reaps only its own children.
    ended: OwnedFd,
    detached: bool,
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; no memory is passed.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned to us, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The helper's state: its socket and the scripts it is waiting for.
struct Server {
    socket: OwnedFd,
    started: Vec<Started>,
    buf: Vec<u8>,
}

impl Server {
    fn new(socket: OwnedFd) -> io::Result<Server> {
        // Without pidfds (Linux < 5.3) the helper cannot wait for its
        // scripts; it ends, and lvsd starts scripts itself.
        pidfd_open(nix::unistd::getpid())
            .map_err(|e| io::Error::other(format!("pidfd_open: {e}")))?;
        Ok(Server {
            socket,
            started: Vec::new(),
            buf: vec![0u8; MAX_MESSAGE + 1],
        })
    }

    fn run(mut self) -> std::process::ExitCode {
        loop {
            match self.round() {
                Ok(true) => {}
                Ok(false) => return std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lvsd spawn helper: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
    }

    /// One round: wait until a request or a script's end is there, report
    /// every script that has ended, then serve at most one request. Ends
    /// come first so that a backlog of requests (scripts are slow to start
    /// in UML: ~50 a second) never delays the report of an end, which a
    /// MISC_CHECK's timeout is waiting for. `Ok(false)`: lvsd has gone.
    fn round(&mut self) -> io::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let (request_there, ended): (bool, Vec<bool>) = {
            let mut fds: Vec<PollFd> = std::iter::once(&self.socket)
                .chain(self.started.iter().map(|s| &s.ended))
                .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok(true),
                Err(e) => return Err(io::Error::other(format!("poll: {e}"))),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), fds[1..].iter().map(ready).collect())
        };
        let mut ended = ended.into_iter();
        let mut reports = Vec::new();
        self.started.retain(|s| {
            if !ended.next().unwrap_or(false) {
                return true;
            }
            match reap(s.pid) {
                Some(status) => {
                    if !s.detached {
                        reports.push(Reply::Exited { id: s.id, status });
                    }
                    false
                }
                None => true,
            }
        });
        for r in reports {
            self.reply(r)?;
        }
        if request_there {
            return self.serve_one();
        }
        Ok(true)
    }

    /// Reads and carries out one request. `Ok(false)`: the socket closed.
    fn serve_one(&mut self) -> io::Result<bool> {
        let n = match recv(
            self.socket.as_raw_fd(),
            &mut self.buf,
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => return Ok(true),
            Err(e) => return Err(io::Error::other(format!("reading a request: {e}"))),
        };
        match Request::decode(&self.buf[..n]) {
            Ok(Request::Spawn {
                id,
                detached,
                script,
            }) => {
                let started = script
                    .command()
                    .spawn()
                    .map(|child| Pid::from_raw(child.id() as i32))
                    .and_then(|pid| match pidfd_open(pid) {
                        Ok(ended) => Ok((pid, ended)),
                        Err(e) => {
                            // Cannot wait for it: stop it rather than
                            // report a script whose end never comes.
                            let _ = kill(pid, Signal::SIGKILL);
                            let _ = nix::sys::wait::waitpid(pid, None);
                            Err(e)
                        }
                    });
                match started {
                    Ok((pid, ended)) => {
                        self.started.push(Started {
                            id,
                            pid,
                            ended,
                            detached,
                        });
                        self.reply(Reply::Spawned {
                            id,
                            pid: pid.as_raw() as u32,
                        })?;
                    }
                    Err(e) => {
                        let errno = e.raw_os_error().unwrap_or(nix::libc::EIO);
                        self.reply(Reply::Failed { id, errno })?;
                    }
                }
            }
            Ok(Request::Signal { id, signal, group }) => {
                let pid = self.started.iter().find(|s| s.id == id).map(|s| s.pid);
                if let (Some(pid), Ok(signal)) = (pid, Signal::try_from(signal)) {
                    let _ = if group {
                        killpg(pid, signal)
                    } else {
                        kill(pid, signal)
                    };
                }
            }
            Err(e) => eprintln!("lvsd spawn helper: {e}; ignored"),
        }
        Ok(true)
    }

    fn reply(&self, reply: Reply) -> io::Result<()> {
        let bytes = reply.encode();
        loop {
            match send(self.socket.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                // lvsd has gone (a stop): nobody to tell, but the requests
                // it sent before it went (its stop scripts) are still
                // queued; they are served until the socket reads empty.
                Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => return Ok(()),
                Err(e) => return Err(io::Error::other(format!("replying: {e}"))),
            }
        }
    }
}

/// The raw wait status of `pid` if it has ended (and reaps it).
fn reap(pid: Pid) -> Option<i32> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some((code & 0xff) << 8),
        Ok(WaitStatus::Signaled(_, signal, core)) => {
            Some(signal as i32 | if core { 0x80 } else { 0 })
        }
        // Not ours to wait for any more (cannot happen: we are its parent).
        Err(_) => Some(0x7f00),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "exit 3".into(), String::new()],
            ids: Some((1000, 100)),
            output: Output::Null,
            own_group: true,
        }
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let requests = [
            Request::Spawn {
                id: 7,
                detached: false,
                script: script(),
            },
            Request::Spawn {
                id: u64::MAX,
                detached: true,
                script: Script {
                    ids: None,
                    output: Output::NoStdout,
                    own_group: false,
                    args: vec![],
                    ..script()
                },
            },
            Request::Signal {
                id: 3,
                signal: 15,
                group: true,
            },
            Request::Signal {
                id: 4,
                signal: 9,
                group: false,
            },
        ];
        for r in requests {
            assert_eq!(Request::decode(&r.encode()), Ok(r.clone()), "{r:?}");
        }
        for r in [
            Reply::Spawned { id: 1, pid: 4242 },
            Reply::Failed { id: 2, errno: 11 },
            Reply::Exited {
                id: 3,
                status: 0x0300,
            },
        ] {
            assert_eq!(Reply::decode(&r.encode()), Ok(r));
        }
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"S",
            b"S\x001",
            b"S\x00x\x00f\x00-\x00-\x00/bin/true",
            b"S\x001\x00f\x00-\x00-\x00",
            b"S\x001\x00q\x00-\x00-\x00/bin/true",
            b"S\x001\x00f\x00x\x00-\x00/bin/true",
            b"K\x001\x009",
            b"K\x001\x009\x00z",
            b"\xff\xfe",
            b"Z\x001\x002",
        ] {
            assert!(Request::decode(bad).is_err(), "{bad:?}");
        }
        for bad in [
            &b""[..],
            b"P\x001",
            b"E\x00x\x000",
            b"Q\x001\x002",
            b"P\x001\x00-1",
        ] {
            assert!(Reply::decode(bad).is_err(), "{bad:?}");
        }
    }

    /// The helper's loop, in a thread of this test process, against the
    /// daemon's side: a script's exit status, a detached script, a
    /// timed-out script signalled, a failed start, and the end when the
    /// daemon's side closes.
    #[test]
    fn the_helper_starts_reports_and_signals_scripts() {
        let (ours, theirs) = helper_socket_pair();
        let served = std::thread::spawn(move || Server::new(theirs).expect("helper").run());
        let ask = |r: Request| {
            send(ours.as_raw_fd(), &r.encode(), MsgFlags::empty()).expect("send");
        };
        let mut buf = vec![0u8; 256];
        let mut next = || {
            let n = recv(ours.as_raw_fd(), &mut buf, MsgFlags::empty()).expect("recv");
            Reply::decode(&buf[..n]).expect("reply")
        };
        ask(Request::Spawn {
            id: 1,
            detached: false,
            script: script_as_us("exit 3"),
        });
        assert!(matches!(next(), Reply::Spawned { id: 1, .. }));
        match next() {
            Reply::Exited { id: 1, status } => {
                assert_eq!(ExitStatus::from_raw(status).code(), Some(3))
            }
            other => panic!("{other:?}"),
        }
        ask(Request::Spawn {
            id: 2,
            detached: false,
            script: script_as_us("sleep 30"),
        });
        assert!(matches!(next(), Reply::Spawned { id: 2, .. }));
        ask(Request::Signal {
            id: 2,
            signal: Signal::SIGTERM as i32,
            group: true,
        });
        match next() {
            Reply::Exited { id: 2, status } => {
                assert_eq!(ExitStatus::from_raw(status).signal(), Some(15))
            }
            other => panic!("{other:?}"),
        }
        ask(Request::Spawn {
            id: 3,
            detached: false,
            script: Script {
                program: "/nonexistent/script".into(),
                ..script_as_us("")
            },
        });
        assert_eq!(
            next(),
            Reply::Failed {
                id: 3,
                errno: nix::libc::ENOENT
            }
        );
        // Detached: its start is answered, its exit is not; the next
        // replies are id 5's.
        ask(Request::Spawn {
            id: 4,
            detached: true,
            script: script_as_us("exit 0"),
        });
        assert!(matches!(next(), Reply::Spawned { id: 4, .. }));
        ask(Request::Spawn {
            id: 5,
            detached: false,
            script: script_as_us("exit 0"),
        });
        assert!(matches!(next(), Reply::Spawned { id: 5, .. }));
        assert!(matches!(next(), Reply::Exited { id: 5, status: 0 }));
        drop(ours);
        assert_eq!(
            served.join().expect("helper thread"),
            std::process::ExitCode::SUCCESS
        );
    }

    /// A script's end is reported before the next request is served, so
    /// that a backlog of requests cannot hold back the end a MISC_CHECK's
    /// timeout waits for. The helper's rounds are driven by hand here.
    #[test]
    fn ends_are_reported_before_the_next_request_is_served() {
        let (ours, theirs) = helper_socket_pair();
        let mut helper = Server::new(theirs).expect("helper");
        let ask = |id: u64| {
            let r = Request::Spawn {
                id,
                detached: false,
                script: script_as_us("exit 0"),
            };
            send(ours.as_raw_fd(), &r.encode(), MsgFlags::empty()).expect("send");
        };
        let mut buf = vec![0u8; 256];
        let mut next = || {
            let n = recv(ours.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).ok()?;
            Some(Reply::decode(&buf[..n]).expect("reply"))
        };
        ask(1);
        assert!(helper.round().expect("round"));
        let Some(Reply::Spawned { id: 1, pid }) = next() else {
            panic!("no start reported");
        };
        // Until script 1 has ended (not reaped: that is the helper's).
        nix::sys::wait::waitid(
            nix::sys::wait::Id::Pid(Pid::from_raw(pid as i32)),
            nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
        )
        .expect("waitid");
        ask(2);
        ask(3);
        assert!(helper.round().expect("round"));
        assert_eq!(next(), Some(Reply::Exited { id: 1, status: 0 }));
        assert!(matches!(next(), Some(Reply::Spawned { id: 2, .. })));
        assert_eq!(next(), None, "one request a round");
        // Drain: 2 ends, 3 starts and ends; then the socket closes.
        let mut seen = Vec::new();
        while seen.len() < 3 {
            assert!(helper.round().expect("round"));
            while let Some(r) = next() {
                seen.push(r);
            }
        }
        assert!(
            seen.contains(&Reply::Exited { id: 2, status: 0 }),
            "{seen:?}"
        );
        assert!(
            seen.contains(&Reply::Exited { id: 3, status: 0 }),
            "{seen:?}"
        );
        drop(ours);
        assert!(!helper.round().expect("round"), "ends when lvsd has gone");
    }

    /// The daemon's end and the helper's, as start_helper makes them.
    fn helper_socket_pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair")
    }

    fn script_as_us(line: &str) -> Script {
        Script::shell(line, None, Output::Null, true)
    }
}
