//! `lvs_sync_daemon`: which kernel connection-sync daemon to run, following
//! the state of its VRRP instance (master sends, everything else receives).
//! Pure.
#![forbid(unsafe_code)]

use ipvs::model::{SyncDaemon, SyncState};
use ipvs::ops::Op;

use crate::config::model::LvsSyncDaemon;

/// The sync daemon role for a VRRP state name as the VRRP runner reports it.
pub fn role_for(vrrp_state: &str) -> SyncState {
    if vrrp_state.eq_ignore_ascii_case("master") {
        SyncState::Master
    } else {
        SyncState::Backup
    }
}

/// The IPVS sync daemon for `cfg` in `role`.
pub fn daemon(cfg: &LvsSyncDaemon, role: SyncState) -> SyncDaemon {
    let mut d = SyncDaemon::new(role, &cfg.interface, u32::from(cfg.sync_id.unwrap_or(0)));
    d.maxlen = cfg.maxlen.unwrap_or(0);
    d.port = cfg.port.unwrap_or(0);
    d.ttl = cfg.ttl.unwrap_or(0);
    d.group = cfg.group;
    d
}

/// Operations to move from the running role (if any) to `role`.
pub fn switch(cfg: &LvsSyncDaemon, running: Option<SyncState>, role: SyncState) -> Vec<Op> {
    if running == Some(role) {
        return Vec::new();
    }
    let mut ops = Vec::new();
    if let Some(old) = running {
        ops.push(Op::StopDaemon(old));
    }
    ops.push(Op::StartDaemon(daemon(cfg, role)));
    ops
}

/// Whether two `lvs_sync_daemon` settings run the same daemon (a reload
/// that changes it restarts the daemon; source positions do not count).
pub fn same_config(a: Option<&LvsSyncDaemon>, b: Option<&LvsSyncDaemon>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.instance == b.instance && daemon(a, SyncState::Master) == daemon(b, SyncState::Master)
        }
        _ => false,
    }
}

/// The role of an already running kernel sync daemon that is `cfg`'s (a
/// restarted lvsd adopts it instead of starting it again). Only interface
/// and sync id are compared: the kernel reports its defaults for the rest.
pub fn adopt(cfg: &LvsSyncDaemon, running: &[SyncDaemon]) -> Option<SyncState> {
    let sync_id = u32::from(cfg.sync_id.unwrap_or(0));
    running
        .iter()
        .find(|d| d.mcast_ifn == cfg.interface && d.sync_id == sync_id)
        .map(|d| d.state)
}

/// The state of instance `name` in the VRRP runner's state file contents.
pub fn instance_state(state_json: &str, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(state_json).ok()?;
    v.as_array()?
        .iter()
        .find(|i| i.get("name").and_then(|n| n.as_str()) == Some(name))
        .and_then(|i| i.get("state"))
        .and_then(|s| s.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_sends_others_receive_and_switches_are_minimal() {
        let cfg = LvsSyncDaemon {
            interface: "eth0".into(),
            span: Default::default(),
            instance: Some("VI_1".into()),
            sync_id: Some(7),
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        assert_eq!(role_for("Master"), SyncState::Master);
        assert_eq!(role_for("Fault"), SyncState::Backup);
        assert!(switch(&cfg, Some(SyncState::Master), SyncState::Master).is_empty());
        let ops = switch(&cfg, Some(SyncState::Backup), SyncState::Master);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0], Op::StopDaemon(SyncState::Backup));
        assert!(matches!(&ops[1], Op::StartDaemon(d) if d.sync_id == 7 && d.mcast_ifn == "eth0"));
        let moved = LvsSyncDaemon {
            span: crate::config::Span::new(crate::config::FileId(0), 10, 20),
            ..cfg.clone()
        };
        assert!(same_config(Some(&cfg), Some(&moved)));
        let other_id = LvsSyncDaemon {
            sync_id: Some(8),
            ..cfg.clone()
        };
        assert!(!same_config(Some(&cfg), Some(&other_id)));
        assert!(!same_config(Some(&cfg), None));
        let running = [SyncDaemon::new(SyncState::Backup, "eth0", 7)];
        assert_eq!(adopt(&cfg, &running), Some(SyncState::Backup));
        assert_eq!(
            adopt(&cfg, &[SyncDaemon::new(SyncState::Master, "eth1", 7)]),
            None
        );
        let json = r#"[{"name":"VI_1","state":"Master"},{"name":"VI_2","state":"Backup"}]"#;
        assert_eq!(instance_state(json, "VI_2").as_deref(), Some("Backup"));
        assert_eq!(instance_state("not json", "VI_2"), None);
    }
}
