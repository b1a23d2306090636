//! keepalived-style notify scripts: which commands a transition runs (pure)
//! and running them detached (thin).

use super::config::NotifyConfig;
use super::fsm::State;

/// Quote one argument for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Shell command lines to run for a transition of instance (or group) `name`
/// into `state`: the state's own script as configured, then `notify` with
/// keepalived's four extra arguments `INSTANCE|GROUP name STATE priority`.
pub fn commands(
    cfg: &NotifyConfig,
    kind: &str,
    name: &str,
    state: State,
    priority: u8,
) -> Vec<String> {
    let specific = match state {
        State::Master => cfg.master.as_ref(),
        State::Backup => cfg.backup.as_ref(),
        State::Fault => cfg.fault.as_ref(),
        State::Initialize => cfg.stop.as_ref(),
    };
    let mut out: Vec<String> = specific.cloned().into_iter().collect();
    if let Some(any) = &cfg.any {
        out.push(format!(
            "{any} {kind} {} {} {priority}",
            sh_quote(name),
            state.notify_word()
        ));
    }
    out
}

/// Run each command with `sh -c`, without waiting (keepalived does not wait either).
pub fn spawn_all(commands: &[String]) {
    for c in commands {
        match std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(c)
            .stdin(std::process::Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                // Reap in the background so no zombie is left.
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
            }
            Err(e) => tracing::warn!("notify script `{c}` could not be started: {e}"),
        }
    }
}
