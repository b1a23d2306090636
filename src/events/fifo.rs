//! keepalived's notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`,
//! `lvs_notify_fifo`), as keepalived 2.2.7 does them (lib/notify.c,
//! vrrp_notify.c, check/ipwrapper.c): the FIFO is made (mode 0644, owned by
//! its user/group) if it does not exist, its script is started once with the
//! FIFO's path as one more argument (not restarted if it dies: keepalived
//! only logs it), then the FIFO is opened read-write and non-blocking, so a
//! FIFO with no reader never blocks and a full one drops the line, as in
//! keepalived. At stop and at each reload it is closed and, if lvsd made it,
//! removed first (a reload then makes it again and starts the script again).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::{Event, VrrpState};
use crate::vrrp::config::RunAs;
use crate::vrrp::notify;

/// One FIFO as configured: path, owner, and the script reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoConfig {
    pub path: PathBuf,
    /// The FIFO's owner (default: the script user, as keepalived).
    pub owner: Option<RunAs>,
    /// The command line of `*_notify_fifo_script`, and who runs it.
    pub script: Option<(Vec<String>, Option<RunAs>)>,
}

/// Which lines a FIFO gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carries {
    pub vrrp: bool,
    pub lvs: bool,
}

/// The line keepalived writes for an event, if any:
/// `INSTANCE "VI_1" MASTER 100`, `GROUP "G" BACKUP 0`,
/// `RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN`, `VS [10.0.0.1]:tcp:80 UP`.
pub fn line(event: &Event) -> Option<String> {
    match event {
        Event::Instance {
            name,
            state,
            priority,
        } => Some(format!("INSTANCE \"{name}\" {} {priority}\n", state.word())),
        Event::InstanceNote {
            name,
            note,
            priority,
        } => Some(format!("INSTANCE \"{name}\" {} {priority}\n", note.word())),
        Event::Group { name, state } => Some(format!("GROUP \"{name}\" {} 0\n", state.word())),
        // keepalived writes an RS line when the server's state changes only.
        Event::RealServer {
            vs_text,
            rs_text,
            up,
            changed: true,
            ..
        } => Some(format!("RS {rs_text} {vs_text} {}\n", up_down(*up))),
        Event::Quorum { vs_text, up, .. } => Some(format!("VS {vs_text} {}\n", up_down(*up))),
        _ => None,
    }
}

fn up_down(up: bool) -> &'static str {
    if up {
        "UP"
    } else {
        "DOWN"
    }
}

/// Is this a VRRP line (else an LVS one)?
pub fn is_vrrp(event: &Event) -> bool {
    matches!(
        event,
        Event::Instance { .. } | Event::InstanceNote { .. } | Event::Group { .. }
    )
}

/// An open FIFO.
#[derive(Debug)]
pub struct OpenFifo {
    pub config: FifoConfig,
    pub carries: Carries,
    file: File,
    created: bool,
    script: Option<std::process::Child>,
}

impl OpenFifo {
    /// Makes (if missing), starts the script, opens. `None` (logged) when
    /// the FIFO cannot be made or opened, as keepalived then drops it.
    pub fn open(
        config: FifoConfig,
        carries: Carries,
        run_script: bool,
        what: &str,
    ) -> Option<Self> {
        use nix::sys::stat::Mode;
        let path = &config.path;
        let created = match nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o644)) {
            Ok(()) => true,
            Err(nix::errno::Errno::EEXIST) => false,
            Err(e) => {
                tracing::warn!("Unable to create {what}notify fifo {}: {e}", path.display());
                return None;
            }
        };
        if created {
            if let Some(owner) = &config.owner {
                match notify::resolve(Some(owner)) {
                    Ok(Some(c)) => {
                        let chown = nix::unistd::chown(
                            path,
                            Some(nix::unistd::Uid::from_raw(c.uid)),
                            Some(nix::unistd::Gid::from_raw(c.gid)),
                        );
                        if let Err(e) = chown {
                            tracing::info!(
                                "Failed to set uid:gid for fifo {}: {e}",
                                path.display()
                            );
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::info!("fifo {}: {e}", path.display()),
                }
            }
        }
        // As keepalived: the script first, then the open.
        let script = if run_script {
            config
                .script
                .as_ref()
                .and_then(|(argv, run_as)| start_script(argv, run_as.as_ref(), path))
        } else {
            None
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(path);
        match file {
            Ok(file) => {
                tracing::info!("{what}notify fifo {} open", path.display());
                Some(OpenFifo {
                    config,
                    carries,
                    file,
                    created,
                    script,
                })
            }
            Err(e) => {
                tracing::warn!("Unable to open {what}notify fifo {}: {e}", path.display());
                if created {
                    let _ = std::fs::remove_file(path);
                }
                None
            }
        }
    }

    /// Writes the event's line if this FIFO carries it; a full FIFO drops it.
    pub fn write(&mut self, event: &Event) {
        let wanted = if is_vrrp(event) {
            self.carries.vrrp
        } else {
            self.carries.lvs
        };
        if !wanted {
            return;
        }
        if let Some(l) = line(event) {
            if let Err(e) = self.file.write_all(l.as_bytes()) {
                tracing::debug!(
                    "notify fifo {}: line dropped: {e}",
                    self.config.path.display()
                );
            }
        }
    }

    /// Closes: removes the FIFO first if lvsd made it (so a script that
    /// reopens it in a loop cannot), then closes it; the script sees EOF.
    pub fn close(mut self) {
        if self.created {
            let _ = std::fs::remove_file(&self.config.path);
        }
        drop(self.file);
        if let Some(child) = self.script.take() {
            // Reaped in the background; keepalived does not kill it either.
            // Without a thread to spare (a machine out of tasks) it stays a
            // zombie rather than panicking this subscriber.
            if let Err(e) = std::thread::Builder::new()
                .name("fifo-reap".into())
                .spawn(move || reap(child))
            {
                tracing::warn!("notify fifo script left unreaped: {e}");
            }
        }
    }
}

fn reap(mut child: std::process::Child) {
    let _ = child.wait();
    tracing::info!("notify fifo script terminated");
}

fn start_script(
    argv: &[String],
    run_as: Option<&RunAs>,
    fifo: &std::path::Path,
) -> Option<std::process::Child> {
    let (program, args) = argv.split_first()?;
    let creds = match notify::resolve(run_as) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("notify fifo script {program} not run: {e}");
            return None;
        }
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).arg(fifo).stdin(std::process::Stdio::null());
    notify::apply(&mut cmd, creds);
    match cmd.spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            tracing::warn!("notify fifo script {program} could not be started: {e}");
            None
        }
    }
}

/// The global, VRRP and LVS FIFOs as keepalived resolves them: a VRRP or
/// LVS FIFO on the global FIFO's path is ignored (its lines would be
/// written twice); an LVS FIFO on the VRRP FIFO's path carries both kinds
/// of lines (keepalived's two processes each write to it), and if both
/// have scripts only the VRRP one runs. In `-P` (VRRP only) there is no LVS
/// FIFO.
pub fn plan(
    global: Option<FifoConfig>,
    vrrp: Option<FifoConfig>,
    lvs: Option<FifoConfig>,
    vrrp_only: bool,
) -> Vec<(FifoConfig, Carries, &'static str)> {
    let mut out = Vec::new();
    let lvs = if vrrp_only { None } else { lvs };
    let same =
        |a: &Option<FifoConfig>, b: &FifoConfig| a.as_ref().is_some_and(|a| a.path == b.path);
    let vrrp = vrrp.filter(|v| {
        let dup = same(&global, v);
        if dup {
            tracing::info!(
                "notify FIFO {} has been specified for global and vrrp FIFO - ignoring vrrp FIFO",
                v.path.display()
            );
        }
        !dup
    });
    let mut lvs = lvs.filter(|l| {
        let dup = same(&global, l);
        if dup {
            tracing::info!(
                "notify FIFO {} has been specified for global and LVS FIFO - ignoring LVS FIFO",
                l.path.display()
            );
        }
        !dup
    });
    if let Some(g) = global {
        out.push((
            g,
            Carries {
                vrrp: true,
                lvs: !vrrp_only,
            },
            "",
        ));
    }
    if let Some(mut v) = vrrp {
        let mut carries = Carries {
            vrrp: true,
            lvs: false,
        };
        if let Some(l) = lvs.take_if(|l| l.path == v.path) {
            carries.lvs = true;
            if v.script.is_some() && l.script.is_some() {
                tracing::info!(
                    "LVS notify FIFO and vrrp FIFO are the same both with scripts - ignoring LVS FIFO script"
                );
            } else if v.script.is_none() {
                v.script = l.script;
            }
        }
        out.push((v, carries, "vrrp_"));
    }
    if let Some(l) = lvs {
        out.push((
            l,
            Carries {
                vrrp: false,
                lvs: true,
            },
            "lvs_",
        ));
    }
    out
}

/// The VRRP states to write again after a reload
/// (`fifo_write_vrrp_states_on_reload`): groups first, then instances, as
/// keepalived's scheduler does (vrrp_init_state). keepalived 2.2.7 skips an
/// instance that stays MASTER across the reload (it takes another branch),
/// so lvsd does too.
pub fn states_on_reload(
    groups: &std::collections::BTreeMap<String, VrrpState>,
    instances: &std::collections::BTreeMap<String, (VrrpState, u8)>,
) -> Vec<Event> {
    groups
        .iter()
        .map(|(n, s)| Event::Group {
            name: n.as_str().into(),
            state: *s,
        })
        .chain(
            instances
                .iter()
                .filter(|(_, (s, _))| *s != VrrpState::Master)
                .map(|(n, (s, p))| Event::Instance {
                    name: n.as_str().into(),
                    state: *s,
                    priority: *p,
                }),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(path: &str, script: bool) -> FifoConfig {
        FifoConfig {
            path: path.into(),
            owner: None,
            script: script.then(|| (vec![format!("{path}.sh")], None)),
        }
    }

    #[test]
    fn lines_are_keepalived_s() {
        let e = Event::Instance {
            name: "VI_1".into(),
            state: VrrpState::Master,
            priority: 100,
        };
        assert_eq!(line(&e).as_deref(), Some("INSTANCE \"VI_1\" MASTER 100\n"));
        let e = Event::Group {
            name: "G".into(),
            state: VrrpState::Stop,
        };
        assert_eq!(line(&e).as_deref(), Some("GROUP \"G\" STOP 0\n"));
        let rs = |changed| Event::RealServer {
            virtual_server: "v".into(),
            vs_text: "[10.0.0.1]:tcp:80".into(),
            rs_text: "[10.0.0.2]:tcp:80".into(),
            up: false,
            changed,
            weight: 1,
            reason: "x".into(),
        };
        assert_eq!(
            line(&rs(true)).as_deref(),
            Some("RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n")
        );
        assert_eq!(line(&rs(false)), None);
        let q = Event::Quorum {
            virtual_server: "v".into(),
            vs_text: "FWM 7".into(),
            up: true,
            init: false,
            quorum: 1,
            hysteresis: 0,
            weight_sum: 1,
        };
        assert_eq!(line(&q).as_deref(), Some("VS FWM 7 UP\n"));
        assert_eq!(line(&Event::Daemon { running: true }), None);
    }

    #[test]
    fn states_on_reload_skip_masters_as_keepalived() {
        let groups = [("G".to_string(), VrrpState::Master)].into();
        let instances = [
            ("A".to_string(), (VrrpState::Master, 150)),
            ("B".to_string(), (VrrpState::Fault, 100)),
        ]
        .into();
        let lines: Vec<_> = states_on_reload(&groups, &instances)
            .iter()
            .filter_map(line)
            .collect();
        assert_eq!(
            lines,
            ["GROUP \"G\" MASTER 0\n", "INSTANCE \"B\" FAULT 100\n"]
        );
    }

    #[test]
    fn same_paths_resolve_as_keepalived() {
        // Global and VRRP on one path: the VRRP FIFO is ignored.
        let p = plan(Some(fifo("/a", true)), Some(fifo("/a", true)), None, false);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].1,
            Carries {
                vrrp: true,
                lvs: true
            }
        );
        // VRRP and LVS on one path, both with scripts: one FIFO, the VRRP script.
        let p = plan(None, Some(fifo("/v", true)), Some(fifo("/v", true)), false);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].1,
            Carries {
                vrrp: true,
                lvs: true
            }
        );
        assert_eq!(
            p[0].0.script.as_ref().map(|s| s.0[0].as_str()),
            Some("/v.sh")
        );
        // -P: no LVS FIFO, the global one carries VRRP lines only.
        let p = plan(Some(fifo("/g", false)), None, Some(fifo("/l", false)), true);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].1,
            Carries {
                vrrp: true,
                lvs: false
            }
        );
        // All distinct: three FIFOs.
        let p = plan(
            Some(fifo("/g", false)),
            Some(fifo("/v", false)),
            Some(fifo("/l", false)),
            false,
        );
        let carries: Vec<_> = p.iter().map(|x| (x.1.vrrp, x.1.lvs)).collect();
        assert_eq!(carries, [(true, true), (true, false), (false, true)]);
    }

    #[test]
    fn a_fifo_without_reader_never_blocks_and_is_removed_when_lvsd_made_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fifo");
        let cfg = FifoConfig {
            path: path.clone(),
            owner: None,
            script: None,
        };
        let mut f = OpenFifo::open(
            cfg,
            Carries {
                vrrp: true,
                lvs: true,
            },
            true,
            "",
        )
        .expect("open");
        let e = Event::Instance {
            name: "VI_1".into(),
            state: VrrpState::Backup,
            priority: 90,
        };
        // 64 KiB of pipe buffer fills up; later lines are dropped, nothing blocks.
        for _ in 0..5000 {
            f.write(&e);
        }
        f.close();
        assert!(!path.exists());
    }
}
