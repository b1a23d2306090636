//! The daemon's observable state: one serde snapshot served on the control
//! socket (`lvsd status`), written by SIGUSR1 as text. Secrets never enter
//! it: VRRP authentication is not part of any field. Pure.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use ipvs::model::{SocketText, Table};
use serde::{Deserialize, Serialize};

use crate::director::{Director, RealServerKey};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub config_file: String,
    /// "full" or "checkers-only" (`-C`).
    pub mode: String,
    pub reloads: u64,
    /// Why the last reload was refused (the old configuration kept running).
    pub last_reload_error: Option<String>,
    /// IPVS write operations since start (a restart that adopts the table adds none).
    pub ipvs_writes: u64,
    /// How long IPVS reconciles took, by scope: "full" (the whole table:
    /// start-up, reloads, repairs) and "virtual_servers" (a checker
    /// transition's virtual servers only).
    #[serde(default)]
    pub reconcile_durations: std::collections::BTreeMap<String, crate::histogram::Histogram>,
    /// Snapshots of the VRRP instances, as the VRRP runner reports them.
    pub vrrp: Vec<serde_json::Value>,
    pub virtual_servers: Vec<VirtualServerStatus>,
    /// lvsd's version.
    #[serde(default)]
    pub version: String,
    /// When the daemon started (Unix seconds).
    #[serde(default)]
    pub started_at: f64,
    /// Reloads refused (the old configuration kept running).
    #[serde(default)]
    pub reload_failures: u64,
    /// When a configuration was last loaded successfully, at start or by a
    /// reload (Unix seconds).
    #[serde(default)]
    pub last_reload_success_at: f64,
    /// Whether the IPVS table is programmed as the configuration wants
    /// (`None`: VRRP only, no table).
    #[serde(default)]
    pub ipvs_programmed: Option<bool>,
    /// The health checkers' scheduling (`None`: VRRP only).
    #[serde(default)]
    pub checks: Option<CheckStats>,
    /// `route_announce`: each VIP announced or not, and why not.
    #[serde(default)]
    pub announce: Vec<crate::announce::announcer::VipAnnounce>,
    /// IPVS operations applied since start, by kind and result.
    #[serde(default)]
    pub ipvs_operations: Vec<OpCount>,
    /// Times lvsd found its services changed in the kernel behind its back
    /// (checked every 10 s) and repaired them.
    #[serde(default)]
    pub drift_repairs: u64,
    /// `lvs_sync_daemon` configured: the roles of the sync daemons lvsd
    /// runs now (`None`: not configured).
    #[serde(default)]
    pub sync_daemons: Option<Vec<String>>,
}

/// IPVS operations of one kind with one result ("ok" or "error").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCount {
    pub operation: String,
    pub result: String,
    pub count: u64,
}

/// How the health checks keep their schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckStats {
    /// Checks started since the daemon started.
    pub started: u64,
    /// Of those, started more than 50 ms after their time.
    pub late_over_50ms: u64,
    /// The latest start so far, in seconds.
    pub max_lateness_seconds: f64,
    /// Rounds skipped because more checks were due than the checker threads could start
    /// (a check more than 50 ms late after a second of late checks skips its round).
    #[serde(default)]
    pub skipped: u64,
    /// Checks finished, by checker type (keepalived's name) and result
    /// (success, failure, inconclusive); non-zero ones.
    #[serde(default)]
    pub results: Vec<CheckCount>,
    /// How long checks took.
    #[serde(default)]
    pub durations: crate::histogram::Histogram,
    /// Checks running now.
    #[serde(default)]
    pub in_flight: u64,
}

/// Checks of one type with one result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckCount {
    #[serde(rename = "type")]
    pub kind: String,
    pub result: String,
    pub count: u64,
}

/// Now, as Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualServerStatus {
    pub name: String,
    pub quorum_up: bool,
    /// The weights of its real servers in service, summed: what keepalived
    /// compares with `quorum` (up at quorum + hysteresis, down below
    /// quorum - hysteresis).
    #[serde(default)]
    pub weight: u64,
    #[serde(default)]
    pub quorum: u32,
    #[serde(default)]
    pub hysteresis: u32,
    /// Its sorry server is in the table (quorum lost).
    #[serde(default)]
    pub sorry_server_active: bool,
    pub services: Vec<ServiceStatus>,
    pub real_servers: Vec<RealServerStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub service: String,
    pub scheduler: String,
    /// In the kernel's table (false until programmed).
    pub programmed: bool,
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    /// A digest of the kernel's real-server list of the service, in the
    /// kernel's order, with weights: directors whose `mh` services show the
    /// same fingerprint build the same Maglev table.
    #[serde(default)]
    pub fingerprint: String,
}

/// FNV-1a (64 bit) over `addr:port/weight` of each real server, in the
/// kernel's list order (the order the hashing schedulers build from).
pub fn dest_fingerprint(dests: &[ipvs::model::Destination]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for d in dests {
        for b in format!("{}:{}/{};", d.addr, d.port, d.weight).bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RealServerStatus {
    pub address: String,
    pub up: bool,
    /// Its configured weight.
    #[serde(default)]
    pub configured_weight: u32,
    /// The weight it has in the table while up, FILE_CHECK numbers included.
    pub weight: u32,
    /// The sum of its FILE_CHECK numbers (0 without FILE_CHECK).
    #[serde(default)]
    pub file_adjustment: i64,
    /// Why it last changed state: the last failure while down.
    pub reason: String,
    /// When it last went up or down (Unix seconds; 0: unknown).
    #[serde(default)]
    pub since: u64,
    /// Summed over the virtual server's services, from the kernel.
    pub active_conns: u64,
    pub inactive_conns: u64,
    /// The kernel's counters for it, summed over the virtual server's services.
    #[serde(default)]
    pub conns: u64,
    #[serde(default)]
    pub inpkts: u64,
    #[serde(default)]
    pub outpkts: u64,
    #[serde(default)]
    pub inbytes: u64,
    #[serde(default)]
    pub outbytes: u64,
    /// Times it went down since lvsd started (or a reload changed its checks).
    #[serde(default)]
    pub down_transitions: u64,
    /// Seconds it has been down in that time.
    #[serde(default)]
    pub downtime_seconds: u64,
    /// Failed checks (each one, not only those that took it down) since
    /// its checkers started (a reload that changes them starts them again).
    #[serde(default)]
    pub check_failures: u64,
    /// When its last check ended (Unix seconds; 0: none yet).
    #[serde(default)]
    pub last_check: u64,
    /// An operator's override (`lvsd ctl`): absent when its checkers alone
    /// decide (`ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<crate::director::admin::AdminOverride>,
}

/// What the checkers know of one real server.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckRecord {
    /// Failed checks since its checkers were (re)started.
    pub failures: u64,
    /// When its last check ended (Unix seconds; 0: none yet).
    pub last_check: u64,
}

/// Builds the snapshot from the director, the kernel's table and each real
/// server's failed checks.
pub fn snapshot(
    director: &Director,
    kernel: &Table,
    check_record: &dyn Fn(&crate::director::RealServerKey) -> CheckRecord,
) -> Vec<VirtualServerStatus> {
    let mut out = Vec::new();
    let now = unix_now() as u64;
    for vs in &director.spec().virtual_servers {
        let mut services = Vec::new();
        for s in &vs.services {
            let live = kernel.services.iter().find(|(k, _)| k.key == s.key);
            let stats = live.map(|(k, _)| *k.stats).unwrap_or_default();
            services.push(ServiceStatus {
                fingerprint: live.map(|(_, d)| dest_fingerprint(d)).unwrap_or_default(),
                service: s.key.to_string(),
                scheduler: s.scheduler.name().to_owned(),
                programmed: live.is_some(),
                conns: stats.conns,
                inpkts: stats.inpkts,
                outpkts: stats.outpkts,
                inbytes: stats.inbytes,
                outbytes: stats.outbytes,
            });
        }
        let mut real_servers = Vec::new();
        for rs in &vs.real_servers {
            let (addr, port) = rs.key();
            let key = RealServerKey {
                virtual_server: vs.name.clone(),
                addr,
                port,
            };
            let Some(state) = director.real_server(&key) else {
                continue;
            };
            let (mut active, mut inactive) = (0u64, 0u64);
            let mut stats = ipvs::model::Stats::default();
            for s in &vs.services {
                if let Some((_, ds)) = kernel.services.iter().find(|(k, _)| k.key == s.key) {
                    for d in ds
                        .iter()
                        .filter(|d| d.addr == key.addr && d.port == key.port)
                    {
                        active += u64::from(d.active_conns);
                        inactive += u64::from(d.inactive_conns);
                        stats.conns += d.stats.conns;
                        stats.inpkts += d.stats.inpkts;
                        stats.outpkts += d.stats.outpkts;
                        stats.inbytes += d.stats.inbytes;
                        stats.outbytes += d.stats.outbytes;
                    }
                }
            }
            let record = check_record(&key);
            real_servers.push(RealServerStatus {
                address: SocketText(key.addr, key.port).to_string(),
                up: state.up,
                configured_weight: rs.dest.weight,
                weight: director.effective_weight(&key).unwrap_or(state.weight),
                file_adjustment: director.file_adjustment(rs),
                reason: state.reason.clone(),
                since: state.since,
                active_conns: active,
                inactive_conns: inactive,
                conns: stats.conns,
                inpkts: stats.inpkts,
                outpkts: stats.outpkts,
                inbytes: stats.inbytes,
                outbytes: stats.outbytes,
                down_transitions: state.down_transitions,
                downtime_seconds: state.downtime(now),
                check_failures: record.failures,
                last_check: record.last_check,
                admin: director.admin(&key).cloned(),
            });
        }
        let quorum_up = director.quorum_up(&vs.name).unwrap_or(true);
        out.push(VirtualServerStatus {
            name: vs.name.to_string(),
            quorum_up,
            weight: director.weight_sum_of(&vs.name).unwrap_or(0),
            quorum: vs.quorum,
            hysteresis: vs.hysteresis,
            sorry_server_active: !quorum_up && vs.sorry_server.is_some(),
            services,
            real_servers,
        });
    }
    out
}

/// One line of an instance's advert counters: sent, received (with the
/// VRRPv3 IPv4 checksum forms seen) and the non-zero drops by reason.
fn advert_counters(c: &serde_json::Map<String, serde_json::Value>) -> String {
    let n = |k: &str| c.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let mut line = format!("    adverts tx {} rx {}", n("adverts_tx"), n("adverts_rx"));
    let forms: Vec<String> = [
        ("checksum_pseudo_header_rx", "pseudo-header"),
        ("checksum_message_only_rx", "message-only"),
        ("checksum_old_unicast_rx", "old unicast"),
    ]
    .iter()
    .filter(|(k, _)| n(k) > 0)
    .map(|(k, name)| format!("{name} {}", n(k)))
    .collect();
    if !forms.is_empty() {
        let _ = write!(line, " (v3 checksums: {})", forms.join(", "));
    }
    let drops: Vec<String> = c
        .iter()
        .filter_map(|(k, v)| {
            let reason = k.strip_prefix("dropped_")?;
            v.as_u64()
                .filter(|n| *n > 0)
                .map(|n| format!("{reason} {n}"))
        })
        .collect();
    if !drops.is_empty() {
        let _ = write!(line, "; dropped: {}", drops.join(", "));
    }
    line
}

/// Human-readable text (`lvsd status`, the SIGUSR1 dump).
pub fn render(s: &Status) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "lvsd pid {} ({} mode), config {}",
        s.pid, s.mode, s.config_file
    );
    let _ = writeln!(t, "reloads: {}, IPVS writes: {}", s.reloads, s.ipvs_writes);
    if let Some(e) = &s.last_reload_error {
        let _ = writeln!(t, "last reload refused: {e}");
    }
    if !s.vrrp.is_empty() {
        let _ = writeln!(t, "\nVRRP instances:");
        for v in &s.vrrp {
            let text = |k: &str| v.get(k).map(|x| x.to_string().trim_matches('"').to_owned());
            let _ = writeln!(
                t,
                "  {} vrid {} state {} priority {} (effective {}), master {}",
                text("name").unwrap_or_default(),
                text("vrid").unwrap_or_default(),
                text("state").unwrap_or_default(),
                text("priority").unwrap_or_default(),
                text("effective_priority").unwrap_or_default(),
                text("master_addr").unwrap_or_else(|| "-".into()),
            );
            if let Some(faults) = v.get("faults").and_then(|f| f.as_array()) {
                if !faults.is_empty() {
                    let names: Vec<String> = faults.iter().map(|f| f.to_string()).collect();
                    let _ = writeln!(t, "    FAULT because of: {}", names.join(", "));
                }
            }
            if let Some(c) = v.get("counters").and_then(|c| c.as_object()) {
                let _ = writeln!(t, "{}", advert_counters(c));
            }
            if let Some(files) = v.get("track_files").and_then(|f| f.as_object()) {
                for (name, value) in files {
                    let _ = writeln!(t, "    track_file {name}: {value}");
                }
            }
            let view = super::metrics::VrrpView::of(v);
            if !view.priority_changes.is_empty() {
                let parts: Vec<String> = view
                    .priority_changes
                    .iter()
                    .map(|(what, change)| format!("{change:+} {what}"))
                    .collect();
                let _ = writeln!(
                    t,
                    "    priority {} {} = {}",
                    view.priority,
                    parts.join(" "),
                    view.effective_priority
                );
            }
            if let Some(last) = view.takeovers.recent.back() {
                let _ = writeln!(
                    t,
                    "    last takeover ({} of {} recorded): {}",
                    view.takeovers.recent.len(),
                    crate::vrrp::takeover::RECENT,
                    crate::vrrp::takeover::describe(last)
                );
            }
        }
    }
    if !s.announce.is_empty() {
        let _ = writeln!(t, "\nroute_announce:");
        for a in &s.announce {
            if a.announced {
                let _ = writeln!(t, "  {} announced", a.vip);
            } else {
                let _ = writeln!(t, "  {} withdrawn: {}", a.vip, a.reason);
            }
        }
    }
    let _ = writeln!(t, "\nVirtual servers:");
    for vs in &s.virtual_servers {
        let _ = writeln!(
            t,
            "  {} (quorum {}: weight {} for quorum {}{})",
            vs.name,
            if vs.quorum_up { "up" } else { "down" },
            vs.weight,
            vs.quorum,
            if vs.hysteresis > 0 {
                format!(" ± {}", vs.hysteresis)
            } else {
                String::new()
            }
        );
        for svc in &vs.services {
            let _ = writeln!(
                t,
                "    service {} {}{}: conns {} inpkts {} outpkts {} inbytes {} outbytes {}",
                svc.service,
                svc.scheduler,
                if !svc.programmed {
                    " (not programmed)".to_string()
                } else if svc.fingerprint.is_empty() {
                    String::new()
                } else {
                    format!(" (real servers {})", svc.fingerprint)
                },
                svc.conns,
                svc.inpkts,
                svc.outpkts,
                svc.inbytes,
                svc.outbytes
            );
        }
        for rs in &vs.real_servers {
            let _ = writeln!(
                t,
                "    real_server {} {}{} weight {}{} active {} inactive {}{}",
                rs.address,
                if rs.up { "UP" } else { "DOWN" },
                match &rs.admin {
                    Some(a) => format!(" admin {} (uid {})", a.state, a.set_by_uid),
                    None => String::new(),
                },
                rs.weight,
                if rs.file_adjustment == 0 {
                    String::new()
                } else {
                    format!(" (FILE_CHECK {:+})", rs.file_adjustment)
                },
                rs.active_conns,
                rs.inactive_conns,
                if rs.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", rs.reason)
                }
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrrp_counters_show_checksum_forms_and_drops_by_reason() {
        let s = Status {
            vrrp: vec![serde_json::json!({
                "name": "VI_1", "vrid": 51, "state": "Backup", "priority": 100,
                "effective_priority": 100, "master_addr": "10.0.0.1",
                "counters": {
                    "adverts_tx": 0, "adverts_rx": 7, "dropped_auth": 0,
                    "dropped_ttl": 3, "dropped_checksum_message_only": 2,
                    "checksum_pseudo_header_rx": 7, "checksum_message_only_rx": 0
                }
            })],
            ..Status::default()
        };
        let text = render(&s);
        assert!(
            text.contains(
                "    adverts tx 0 rx 7 (v3 checksums: pseudo-header 7); dropped: checksum_message_only 2, ttl 3\n"
            ),
            "{text}"
        );
    }
}
