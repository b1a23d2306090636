//! The control socket: a unix stream socket speaking one JSON line request
//! → one JSON reply per connection.
//!
//! - `{"command":"status"}` (or nothing at all: a client that sends no
//!   request and closes its side, as `lvsd status` before `lvsd ctl` did)
//!   → the status snapshot, the document `lvsd status --json` prints.
//! - `{"command":"drain"|"maint"|"ready","virtual_server":VS,"real_server":RS}`
//!   and `{"command":"weight",...,"weight":N}` → `{"ok":true,...}` or
//!   `{"ok":false,"error":"..."}`. These change state: only root, the
//!   daemon's own user or members of `--control-group` may send them
//!   (SO_PEERCRED), and each is logged with who asked.
//!
//! Requests are at most [`MAX_REQUEST`] bytes; a malformed one gets an
//! error naming what was wrong. The file mode of the socket still decides
//! who may connect at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::status::Status;
use crate::director::admin::AdminState;

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/lvsd/lvsd.sock";

/// The longest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 4096;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once (more wait to be accepted).
const MAX_CONNECTIONS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("control socket {path}: bad reply: {source}")]
    Decode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A request for the current status, answered by the daemon's loop.
pub type StatusRequest = oneshot::Sender<Status>;

/// Who is on the other end of a connection (SO_PEERCRED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uid {}", self.uid)?;
        if let Ok(Some(user)) = nix::unistd::User::from_uid(self.uid.into()) {
            write!(f, " ({})", user.name)?;
        }
        if let Some(pid) = self.pid {
            write!(f, " pid {pid}")?;
        }
        Ok(())
    }
}

/// A state-changing request, authorised, for the daemon's loop.
#[derive(Debug)]
pub struct AdminRequest {
    pub virtual_server: String,
    pub real_server: String,
    /// `None`: `ready`, back to the checkers' verdict.
    pub admin: Option<AdminState>,
    pub peer: Peer,
    pub reply: oneshot::Sender<Reply>,
}

/// A request as it arrives on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

/// What a request asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status,
    Admin {
        virtual_server: String,
        real_server: String,
        admin: Option<AdminState>,
    },
}

/// The reply to a state-changing request (or to a bad request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What now holds, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Reply {
    pub fn ok(message: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            error: None,
            message: Some(message.into()),
        }
    }
    pub fn error(error: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(error.into()),
            message: None,
        }
    }
}

/// Parses one request line (pure; the error says what was wrong).
pub fn parse_request(line: &[u8]) -> Result<Command, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("request is not UTF-8: {e}"))?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(Command::Status);
    }
    let req: Request =
        serde_json::from_str(text).map_err(|e| format!("request is not valid JSON: {e}"))?;
    let admin = match req.command.as_str() {
        "status" => {
            if req.virtual_server.is_some() || req.real_server.is_some() || req.weight.is_some() {
                return Err("\"status\" takes no other field".into());
            }
            return Ok(Command::Status);
        }
        "drain" => Some(AdminState::Drain),
        "maint" => Some(AdminState::Maint),
        "ready" => None,
        "weight" => {
            let w = req
                .weight
                .ok_or("\"weight\" needs a \"weight\" field (0..2147483647)")?;
            let w = u32::try_from(w)
                .ok()
                .filter(|w| *w <= i32::MAX as u32)
                .ok_or_else(|| format!("\"weight\": {w} is out of range 0..2147483647"))?;
            Some(AdminState::Weight(w))
        }
        other => {
            return Err(format!(
                "unknown command {other:?} (expected status, drain, maint, ready or weight)"
            ))
        }
    };
    if req.weight.is_some() && req.command != "weight" {
        return Err(format!("{:?} takes no \"weight\" field", req.command));
    }
    let field = |v: Option<String>, name: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("{:?} needs a {name:?} field", req.command))
    };
    Ok(Command::Admin {
        virtual_server: field(req.virtual_server.clone(), "virtual_server")?,
        real_server: field(req.real_server.clone(), "real_server")?,
        admin,
    })
}

/// Who may change state: root, the daemon's own user, and members of
/// `group` (as primary group, or a supplementary group of the peer process
/// as `/proc/PID/status` lists them).
pub fn authorised(peer: &Peer, group: Option<u32>) -> bool {
    if peer.uid == 0 || peer.uid == nix::unistd::geteuid().as_raw() {
        return true;
    }
    let Some(g) = group else { return false };
    if peer.gid == g {
        return true;
    }
    peer.pid
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Groups:"))
                .map(|l| l.split_whitespace().any(|x| x.parse() == Ok(g)))
        })
        .unwrap_or(false)
}

/// What the daemon behind the socket can do.
#[derive(Debug, Clone)]
pub struct ControlOptions {
    /// Where state-changing requests go (`None`: VRRP only, none possible).
    pub admin: Option<mpsc::Sender<AdminRequest>>,
    /// `--control-group`: its members may change state too.
    pub group: Option<u32>,
}

/// Reads one request: up to a newline or the end, at most [`MAX_REQUEST`]
/// bytes.
async fn read_request(stream: &mut UnixStream) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the request: {e}"))?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.iter().position(|b| *b == b'\n') {
                buf.truncate(end);
                return Ok(());
            }
            if buf.len() > MAX_REQUEST {
                return Err(format!(
                    "request too long: more than {MAX_REQUEST} bytes without a newline"
                ));
            }
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, read).await {
        Ok(Ok(())) if buf.len() > MAX_REQUEST => {
            Err(format!("request too long: more than {MAX_REQUEST} bytes"))
        }
        Ok(r) => r.map(|()| buf),
        Err(_) => Err(format!(
            "no complete request within {} s",
            REQUEST_TIMEOUT.as_secs()
        )),
    }
}

async fn write_reply(stream: &mut UnixStream, reply: &Reply) {
    if let Ok(mut bytes) = serde_json::to_vec(reply) {
        bytes.push(b'\n');
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    }
}

async fn handle(
    mut stream: UnixStream,
    requests: mpsc::Sender<StatusRequest>,
    options: Arc<ControlOptions>,
) {
    let command = match read_request(&mut stream).await {
        Ok(line) => parse_request(&line),
        Err(e) => Err(e),
    };
    let command = match command {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("control socket: bad request: {e}");
            return write_reply(&mut stream, &Reply::error(e)).await;
        }
    };
    match command {
        Command::Status => {
            let (tx, rx) = oneshot::channel();
            if requests.send(tx).await.is_err() {
                return;
            }
            let Ok(status) = rx.await else { return };
            match serde_json::to_vec(&status) {
                Ok(mut bytes) => {
                    bytes.push(b'\n');
                    let _ = stream.write_all(&bytes).await;
                    let _ = stream.shutdown().await;
                }
                Err(e) => tracing::warn!("serialising status: {e}"),
            }
        }
        Command::Admin {
            virtual_server,
            real_server,
            admin,
        } => {
            let what = match admin {
                Some(a) => a.to_string(),
                None => "ready".into(),
            };
            let peer = match stream.peer_cred() {
                Ok(c) => Peer {
                    uid: c.uid(),
                    gid: c.gid(),
                    pid: c.pid(),
                },
                Err(e) => {
                    let e = format!("cannot tell who is asking (SO_PEERCRED): {e}");
                    return write_reply(&mut stream, &Reply::error(e)).await;
                }
            };
            if !authorised(&peer, options.group) {
                tracing::warn!(
                    "control socket: {what} {virtual_server} real_server {real_server} refused: {peer} may not change state"
                );
                let e = format!(
                    "permission denied: uid {} may not change state (root{} only)",
                    peer.uid,
                    if options.group.is_some() {
                        " or the --control-group"
                    } else {
                        ""
                    }
                );
                return write_reply(&mut stream, &Reply::error(e)).await;
            }
            let Some(admin_tx) = options.admin.clone() else {
                let e = "this lvsd runs VRRP only (-P): it has no real servers";
                return write_reply(&mut stream, &Reply::error(e)).await;
            };
            let (tx, rx) = oneshot::channel();
            let req = AdminRequest {
                virtual_server,
                real_server,
                admin,
                peer,
                reply: tx,
            };
            if admin_tx.send(req).await.is_err() {
                return write_reply(&mut stream, &Reply::error("lvsd is stopping")).await;
            }
            let reply = rx
                .await
                .unwrap_or_else(|_| Reply::error("lvsd is stopping"));
            write_reply(&mut stream, &reply).await;
        }
    }
}

/// Binds the socket (replacing a stale one) and serves until dropped.
pub fn serve(
    path: &Path,
    requests: mpsc::Sender<StatusRequest>,
    options: ControlOptions,
) -> Result<tokio::task::JoinHandle<()>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    if let Some(gid) = options.group {
        // The group may connect: group owner and group read/write. Not
        // fatal: status still works for root (the shipped unit keeps no
        // CAP_CHOWN; the README says what to add).
        use std::os::unix::fs::PermissionsExt;
        let given = nix::unistd::chown(path, None, Some(gid.into()))
            .map_err(std::io::Error::from)
            .and_then(|()| {
                let mode = std::fs::metadata(path)?.permissions().mode();
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o060))
            });
        if let Err(e) = given {
            tracing::warn!(
                "control socket {}: cannot give it to group {gid} ({e}; changing a file's group needs CAP_CHOWN): members of --control-group cannot connect",
                path.display()
            );
        }
    }
    let shown = path.display().to_string();
    let options = Arc::new(options);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    Ok(tokio::spawn(async move {
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("control socket {shown}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let requests = requests.clone();
            let options = options.clone();
            tokio::spawn(async move {
                handle(stream, requests, options).await;
                drop(slot);
            });
        }
    }))
}

/// Sends one request line and reads the whole reply.
async fn exchange(path: &Path, request: &Request) -> Result<Vec<u8>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream = UnixStream::connect(path).await.map_err(io)?;
    let mut line = serde_json::to_vec(request).map_err(|source| ControlError::Decode {
        path: path.to_owned(),
        source,
    })?;
    line.push(b'\n');
    // An lvsd from before requests existed answers without reading: a
    // refused write is not an error as long as a reply comes.
    let _ = stream.write_all(&line).await;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.map_err(io)?;
    Ok(buf)
}

/// Asks a running daemon for its status.
pub async fn fetch(path: &Path) -> Result<Status, ControlError> {
    let request = Request {
        command: "status".into(),
        virtual_server: None,
        real_server: None,
        weight: None,
    };
    let buf = exchange(path, &request).await?;
    serde_json::from_slice(&buf).map_err(|source| ControlError::Decode {
        path: path.to_owned(),
        source,
    })
}

/// Sends a state-changing request and returns the daemon's reply.
pub async fn send(path: &Path, request: &Request) -> Result<Reply, ControlError> {
    let buf = exchange(path, request).await?;
    serde_json::from_slice(&buf).map_err(|source| ControlError::Decode {
        path: path.to_owned(),
        source,
    })
}
