//! systemd readiness notifications: one datagram to `$NOTIFY_SOCKET`.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. `READY=1`) if lvsd runs under systemd with
/// `Type=notify`; does nothing otherwise. Failures are logged, never fatal.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let addr = if let Some(name) = path.strip_prefix('@') {
        SocketAddr::from_abstract_name(name.as_bytes())
    } else {
        SocketAddr::from_pathname(&path)
    };
    let sent = addr.and_then(|addr| {
        let sock = UnixDatagram::unbound()?;
        sock.send_to_addr(state.as_bytes(), &addr)
    });
    if let Err(e) = sent {
        tracing::warn!("sd_notify {state:?} to {path}: {e}");
    }
}

/// `RELOADING=1` (Type=notify; the status goes back with `READY=1`).
pub fn reloading() {
    notify("RELOADING=1");
}

/// `WATCHDOG=1` when systemd asks for pings (`WatchdogSec=` sets
/// `$WATCHDOG_USEC`); the director loop sends it every second, so a loop
/// that stops turning gets lvsd restarted.
pub fn watchdog() {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let wanted = *WANTED.get_or_init(|| {
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        ours && std::env::var_os("WATCHDOG_USEC").is_some()
    });
    if wanted {
        notify("WATCHDOG=1");
    }
}
