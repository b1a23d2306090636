//! keepalived-style notify scripts: which commands a transition runs (pure),
//! who runs them (`script_user`), and running them detached (thin).

use std::os::unix::process::CommandExt;

use super::config::{NotifyCommand, NotifyConfig, RunAs};
use super::fsm::State;

/// keepalived runs scripts as this user when none is configured and it exists.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// User and group ids a script runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RunAsError {
    #[error("script user {user} does not exist")]
    NoSuchUser { user: String },
    #[error("script group {group} does not exist")]
    NoSuchGroup { group: String },
    #[error("looking up script user {name}: {source}")]
    Lookup {
        name: String,
        #[source]
        source: nix::Error,
    },
}

/// Resolves who a script runs as. `None` configured: `keepalived_script` if
/// the system has that user, else `Ok(None)` (lvsd's own user, as keepalived
/// falls back to root).
pub fn resolve(run_as: Option<&RunAs>) -> Result<Option<Credentials>, RunAsError> {
    use nix::unistd::{Group, User};
    let lookup_user = |name: &str| {
        User::from_name(name).map_err(|source| RunAsError::Lookup {
            name: name.to_string(),
            source,
        })
    };
    let Some(run_as) = run_as else {
        return Ok(lookup_user(DEFAULT_SCRIPT_USER)?.map(|u| Credentials {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }));
    };
    let user = lookup_user(&run_as.user)?.ok_or_else(|| RunAsError::NoSuchUser {
        user: run_as.user.clone(),
    })?;
    let gid = match &run_as.group {
        None => user.gid.as_raw(),
        Some(g) => Group::from_name(g)
            .map_err(|source| RunAsError::Lookup {
                name: g.clone(),
                source,
            })?
            .ok_or_else(|| RunAsError::NoSuchGroup { group: g.clone() })?
            .gid
            .as_raw(),
    };
    Ok(Some(Credentials {
        uid: user.uid.as_raw(),
        gid,
    }))
}

impl Credentials {
    /// As the spawner takes them.
    pub fn ids(creds: Option<Credentials>) -> Option<(u32, u32)> {
        creds.map(|c| (c.uid, c.gid))
    }
}

/// Applies `creds` (if any) to a command about to be spawned here (the
/// FIFO's long-running script; others go through `checkers::spawner`).
pub fn apply(cmd: &mut std::process::Command, creds: Option<Credentials>) {
    // Only a real change of user: std forks (rather than posix_spawn) when
    // uid/gid are set.
    if let Some(c) = creds {
        if (c.uid, c.gid)
            != (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        {
            cmd.uid(c.uid).gid(c.gid);
        }
    }
}

/// Quote one argument for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Shell command lines to run for a transition of instance (or group) `name`
/// into `state`, each with who runs it: the state's own script as configured,
/// then `notify` with keepalived's four extra arguments
/// `INSTANCE|GROUP name STATE priority`.
pub fn commands(
    cfg: &NotifyConfig,
    kind: &str,
    name: &str,
    state: State,
    priority: u8,
) -> Vec<NotifyCommand> {
    let specific = match state {
        State::Master => cfg.master.as_ref(),
        State::Backup => cfg.backup.as_ref(),
        State::Fault => cfg.fault.as_ref(),
        State::Initialize => cfg.stop.as_ref(),
    };
    with_generic(cfg, specific, kind, name, state.notify_word(), priority)
}

/// The commands for an instance a reload removed under `notify_deleted`:
/// its `notify_deleted` script, then `notify ... DELETED priority`.
pub fn deleted_commands(cfg: &NotifyConfig, name: &str, priority: u8) -> Vec<NotifyCommand> {
    with_generic(
        cfg,
        cfg.deleted.as_ref(),
        "INSTANCE",
        name,
        "DELETED",
        priority,
    )
}

fn with_generic(
    cfg: &NotifyConfig,
    specific: Option<&NotifyCommand>,
    kind: &str,
    name: &str,
    word: &str,
    priority: u8,
) -> Vec<NotifyCommand> {
    let mut out: Vec<NotifyCommand> = specific.cloned().into_iter().collect();
    if let Some(any) = &cfg.any {
        out.push(NotifyCommand {
            command: format!(
                "{} {kind} {} {word} {priority}",
                any.command,
                sh_quote(name)
            ),
            run_as: any.run_as.clone(),
        });
    }
    out
}

/// Run each command with `sh -c` as its user, without waiting (keepalived
/// does not wait either).
pub fn spawn_all(commands: &[NotifyCommand]) {
    for NotifyCommand { command: c, run_as } in commands {
        let creds = match resolve(run_as.as_ref()) {
            Ok(creds) => creds,
            Err(e) => {
                tracing::warn!("notify script `{c}` not run: {e}");
                continue;
            }
        };
        let script = checkers::spawner::Script::shell(
            c,
            Credentials::ids(creds),
            checkers::spawner::Output::Inherit,
            false,
        );
        if let Err(e) = checkers::spawner::spawn_detached(&script, &format!("notify script `{c}`"))
        {
            tracing::warn!("notify script `{c}` could not be started: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use checkers::spawner::spawn_local_detached as spawn_detached;

    /// Whether `pid` is still a process of ours that has not been reaped.
    fn unreaped(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok()
    }

    #[test]
    fn detached_scripts_are_reaped_in_and_outside_a_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let pids: Vec<u32> = rt.block_on(async {
            let pids = (0..20)
                .map(|_| spawn_detached(std::process::Command::new("/bin/true")).expect("spawn"))
                .collect::<Vec<_>>();
            for _ in 0..100 {
                if !pids.iter().any(|p| unreaped(*p)) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            pids
        });
        let left: Vec<&u32> = pids.iter().filter(|p| unreaped(**p)).collect();
        assert!(left.is_empty(), "zombies left in a runtime: {left:?}");
        let pid = spawn_detached(std::process::Command::new("/bin/true")).expect("spawn");
        let t0 = std::time::Instant::now();
        while unreaped(pid) && t0.elapsed() < std::time::Duration::from_secs(2) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!unreaped(pid), "zombie left outside a runtime");
    }
}
