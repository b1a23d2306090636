//! The control socket: a unix stream socket that answers every connection
//! with the current status as one JSON document, then closes.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::status::Status;

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/lvsd/lvsd.sock";

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

/// Binds the socket (replacing a stale one) and serves until dropped.
pub fn serve(
    path: &Path,
    requests: mpsc::Sender<StatusRequest>,
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
    let shown = path.display().to_string();
    Ok(tokio::spawn(async move {
        loop {
            let mut stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("control socket {shown}: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (tx, rx) = oneshot::channel();
            if requests.send(tx).await.is_err() {
                return;
            }
            tokio::spawn(async move {
                let Ok(status) = rx.await else { return };
                match serde_json::to_vec(&status) {
                    Ok(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                        let _ = stream.shutdown().await;
                    }
                    Err(e) => tracing::warn!("serialising status: {e}"),
                }
            });
        }
    }))
}

/// Asks a running daemon for its status.
pub async fn fetch(path: &Path) -> Result<Status, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream = UnixStream::connect(path).await.map_err(io)?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.map_err(io)?;
    serde_json::from_slice(&buf).map_err(|source| ControlError::Decode {
        path: path.to_owned(),
        source,
    })
}
