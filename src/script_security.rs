//! The load-time vetting keepalived 2.2.7 gives every script it will run
//! (lib/notify.c, read for the rules): a script whose program is not found or
//! not executable is disabled, as is one that would run as root while a
//! non-root user can modify it, under `enable_script_security`. Without
//! `enable_script_security` such a script runs, and a security warning is
//! logged once. A disabled track script is no longer tracked (the instance
//! does not go to FAULT for it); a disabled notify script is not run.
//!
//! MISC_CHECK scripts are vetted by the checkers crate with the same rules
//! ([`checkers::misc::why_disabled`]); this module covers the rest: vrrp_script,
//! VRRP notify scripts, quorum_up/down and notify_up/down.

use checkers::misc::{check_script_security, script_available};

use crate::config::ScriptCommand;
use crate::director::spec::DirectorSpec;
use crate::vrrp::config::{NotifyCommand, NotifyConfig, RunAs, TrackId};
use crate::vrrp::notify;
use crate::vrrp::runner::VrrpConfig;

/// Vets scripts one by one and remembers what the closing warning must say.
#[derive(Debug)]
pub struct Vetting {
    script_security: bool,
    any_script: bool,
    insecure: bool,
    /// One line per disabled or insecure script, for the log.
    pub notes: Vec<String>,
}

impl Vetting {
    pub fn new(script_security: bool) -> Vetting {
        Vetting {
            script_security,
            any_script: false,
            insecure: false,
            notes: Vec::new(),
        }
    }

    /// `Err(why)` when `command` must not run; `what` names it in the notes.
    pub fn vet(&mut self, what: &str, command: &str, run_as: Option<&RunAs>) -> Result<(), String> {
        // keepalived: a command starting "</path" only tests that a file opens.
        if command.trim_start().starts_with('<') {
            return Ok(());
        }
        let result = self.check(command, run_as);
        if let Err(why) = &result {
            self.notes.push(format!("disabling {what}: {why}"));
        }
        result
    }

    fn check(&mut self, command: &str, run_as: Option<&RunAs>) -> Result<(), String> {
        let path = script_available(command).map_err(|e| e.to_string())?;
        self.any_script = true;
        let creds = notify::resolve(run_as).map_err(|e| e.to_string())?;
        let as_root = match creds {
            Some(c) => c.uid == 0 || c.gid == 0,
            None => nix::unistd::geteuid().is_root(),
        };
        if !as_root {
            return Ok(());
        }
        match check_script_security(&path) {
            Ok(()) => Ok(()),
            Err(e) if self.script_security => Err(e.to_string()),
            Err(e) => {
                self.insecure = true;
                self.notes
                    .push(format!("{command}: runs as root although {e}"));
                Ok(())
            }
        }
    }

    /// Whether any vetted script can run (a `<file` test runs nothing).
    pub fn any_script(&self) -> bool {
        self.any_script
    }

    /// The warning keepalived logs when scripts run without `enable_script_security`.
    pub fn closing_warning(&self) -> Option<String> {
        (!self.script_security && self.any_script).then(|| {
            format!(
                "scripts are run while enable_script_security is off{}",
                if self.insecure {
                    "; some can be modified by users other than root"
                } else {
                    ""
                }
            )
        })
    }

    fn notify(&mut self, what: &str, slot: &mut Option<NotifyCommand>) {
        if let Some(c) = slot {
            if self.vet(what, &c.command, c.run_as.as_ref()).is_err() {
                *slot = None;
            }
        }
    }

    fn notify_config(&mut self, owner: &str, n: &mut NotifyConfig) {
        self.notify(&format!("{owner} notify_master"), &mut n.master);
        self.notify(&format!("{owner} notify_backup"), &mut n.backup);
        self.notify(&format!("{owner} notify_fault"), &mut n.fault);
        self.notify(&format!("{owner} notify_stop"), &mut n.stop);
        self.notify(&format!("{owner} notify"), &mut n.any);
    }

    /// Vets VRRP's scripts: a disabled vrrp_script is untracked everywhere.
    pub fn vrrp(&mut self, cfg: &mut VrrpConfig) {
        let mut disabled = Vec::new();
        for s in &cfg.scripts {
            let what = format!("vrrp_script {}", s.name);
            if self.vet(&what, &s.command, s.run_as.as_ref()).is_err() {
                disabled.push(s.name.clone());
            }
        }
        cfg.scripts.retain(|s| !disabled.contains(&s.name));
        for i in &mut cfg.instances {
            i.tracks
                .retain(|t| !matches!(&t.id, TrackId::Script(n) if disabled.contains(n)));
            self.notify_config(&format!("vrrp_instance {}", i.name), &mut i.notify);
        }
        for g in &mut cfg.sync_groups {
            self.notify_config(&format!("vrrp_sync_group {}", g.name), &mut g.notify);
        }
        for (what, script) in [
            ("startup_script", &mut cfg.start_stop.startup),
            ("shutdown_script", &mut cfg.start_stop.shutdown),
        ] {
            if let Some((c, _)) = script {
                if self.vet(what, &c.command, c.run_as.as_ref()).is_err() {
                    *script = None;
                }
            }
        }
    }

    fn script_command(
        &mut self,
        what: &str,
        script_user: Option<&RunAs>,
        c: &ScriptCommand,
    ) -> Result<(), String> {
        let own = c.user.as_ref().map(|user| RunAs {
            user: user.clone(),
            group: c.group.clone(),
        });
        self.vet(what, &c.command, own.as_ref().or(script_user))
    }

    /// Vets the director's quorum and real-server notify scripts.
    pub fn director(&mut self, spec: &mut DirectorSpec, script_user: Option<&RunAs>) {
        for vs in &mut spec.virtual_servers {
            for (kind, slot) in [
                ("quorum_up", &mut vs.quorum_up),
                ("quorum_down", &mut vs.quorum_down),
            ] {
                if let Some(c) = slot {
                    let what = format!("{} {kind}", vs.name);
                    if self.script_command(&what, script_user, c).is_err() {
                        *slot = None;
                    }
                }
            }
            for rs in &mut vs.real_servers {
                let at = rs.dest.key();
                for (kind, slot) in [
                    ("notify_up", &mut rs.notify_up),
                    ("notify_down", &mut rs.notify_down),
                ] {
                    if let Some(c) = slot {
                        let what = format!(
                            "{} real_server {} {kind}",
                            vs.name,
                            ipvs::model::SocketText(at.0, at.1)
                        );
                        if self.script_command(&what, script_user, c).is_err() {
                            *slot = None;
                        }
                    }
                }
            }
        }
    }

    /// The notify FIFO scripts (keepalived vets them too): a disabled one is
    /// not started; its FIFO is still made and written.
    pub fn events(&mut self, cfg: &mut crate::events::sinks::EventsConfig) {
        for (what, fifo) in [
            ("notify_fifo_script", &mut cfg.notify_fifo),
            ("vrrp_notify_fifo_script", &mut cfg.vrrp_notify_fifo),
            ("lvs_notify_fifo_script", &mut cfg.lvs_notify_fifo),
        ] {
            let Some(f) = fifo else { continue };
            let Some((argv, run_as)) = &f.script else {
                continue;
            };
            let program = argv.first().cloned().unwrap_or_default();
            if self.vet(what, &program, run_as.as_ref()).is_err() {
                f.script = None;
            }
        }
    }

    /// Logs what the vetting found, as keepalived does at start and reload.
    pub fn log(&self) {
        for n in &self.notes {
            tracing::warn!("{n}");
        }
        if let Some(w) = self.closing_warning() {
            tracing::warn!("SECURITY: {w}");
        }
    }
}
