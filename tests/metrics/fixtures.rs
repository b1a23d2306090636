//! Fixed `Status` values for the renderer tests.

use lvsd::daemon::status::{RealServerStatus, ServiceStatus, Status, VirtualServerStatus};
use serde_json::json;

/// A reason text that must never become a label and must be escaped on the page.
pub const HOSTILE: &str =
    "<script>alert(\"x\")</script> back\\slash \"quoted\"\nsecond line & more";

/// A small director: two VRRP instances, one virtual server with a hostile
/// group-like name, three real servers (one down for a hostile reason).
pub fn small() -> Status {
    Status {
        pid: 4242,
        config_file: "/etc/keepalived/<keepalived>.conf".into(),
        mode: "full".into(),
        reloads: 3,
        last_reload_error: Some("line 3: \"unknown\" <keyword>".into()),
        ipvs_writes: 17,
        reconcile_durations: [
            ("full", vec![0.012]),
            ("virtual_servers", vec![0.0004, 0.0007, 0.003]),
        ]
        .into_iter()
        .map(|(scope, seen)| {
            let mut h = lvsd::histogram::Histogram::new(&lvsd::histogram::LATENCY_BUCKETS);
            seen.into_iter().for_each(|v| h.observe(v));
            (scope.to_string(), h)
        })
        .collect(),
        vrrp: vec![
            json!({
                "name": "VI_1", "vrid": 51, "state": "Master", "priority": 150,
                "effective_priority": 140, "master_addr": "10.0.0.1", "master_priority": 140,
                "master_advert_int_cs": 100,
                "counters": {"adverts_rx": 5, "adverts_tx": 1000, "priority_zero_rx": 1,
                    "priority_zero_tx": 0, "became_master": 2, "released_master": 1,
                    "became_master_timeout": 1, "became_master_priority_zero": 1,
                    "released_master_higher_priority": 1, "near_failovers": 4,
                    "announcements": 10,
                    "dropped_version": 0, "dropped_auth": 3, "dropped_advert_int": 0,
                    "dropped_vips": 1, "checksum_pseudo_header_rx": 5, "checksum_message_only_rx": 0},
                "conflicts": [], "faults": [],
                "track_files": {"weights\\file": 2},
                "tracks_up": [{"kind": "interface", "name": "eth1", "up": true},
                              {"kind": "script", "name": "chk\"nginx\"", "up": false,
                               "runs": {"results": {"success": 40, "failure": 3, "timeout": 1},
                                        "durations": {"bounds": [0.01, 0.1, 1.0],
                                                      "counts": [30, 12, 1, 1], "sum": 3.25}}}],
                "priority_changes": [["script chk\"nginx\"", -12], ["file weights\\file", 2]],
                "state_since": 1_700_000_000u64,
                "takeovers": takeovers()
            }),
            json!({
                "name": "VI_2", "vrid": 52, "state": "Backup", "priority": 100,
                "effective_priority": 100, "master_addr": "10.0.0.2", "master_priority": 200,
                "master_advert_int_cs": 100,
                "counters": {"adverts_rx": 900, "adverts_tx": 0},
                "conflicts": [], "faults": [], "track_files": {}, "tracks_up": [],
                "state_since": 1_700_000_500u64
            }),
        ],
        virtual_servers: vec![VirtualServerStatus {
            name: "group web\"\\<b>".into(),
            quorum_up: false,
            weight: 1,
            quorum: 3,
            hysteresis: 1,
            sorry_server_active: true,
            services: vec![ServiceStatus {
                service: "TCP 10.0.0.100:80".into(),
                scheduler: "wlc".into(),
                programmed: true,
                conns: 10,
                inpkts: 20,
                outpkts: 30,
                inbytes: 4000,
                outbytes: 5000,
                fingerprint: "0123456789abcdef".into(),
            }],
            real_servers: vec![
                rs("10.0.1.1:80", true, 10, 12, ""),
                rs("10.0.1.2:80", false, 10, 10, HOSTILE),
                rs("[fd00::3]:80", true, 5, 5, "TCP_CHECK: connected"),
            ],
        }],
        version: "0.1.0".into(),
        started_at: 1_699_999_000.0,
        reload_failures: 1,
        last_reload_success_at: 1_699_999_900.0,
        ipvs_programmed: Some(true),
        checks: Some(lvsd::daemon::status::CheckStats {
            started: 1234,
            late_over_50ms: 2,
            max_lateness_seconds: 0.075,
            skipped: 3,
            results: vec![
                lvsd::daemon::status::CheckCount {
                    kind: "HTTP_GET".into(),
                    result: "success".into(),
                    count: 1200,
                },
                lvsd::daemon::status::CheckCount {
                    kind: "HTTP_GET".into(),
                    result: "failure".into(),
                    count: 34,
                },
            ],
            durations: lvsd::histogram::Histogram::from_counts(
                &checkers::runner::DURATION_BUCKETS,
                &[10, 200, 900, 100, 20, 4, 0, 0, 0, 0, 0, 0],
                4.2,
            ),
            in_flight: 3,
        }),
        announce: Vec::new(),
        ipvs_operations: vec![
            lvsd::daemon::status::OpCount {
                operation: "add_dest".into(),
                result: "ok".into(),
                count: 16,
            },
            lvsd::daemon::status::OpCount {
                operation: "edit_dest".into(),
                result: "error".into(),
                count: 1,
            },
        ],
        sync_daemons: Some(vec!["master".into()]),
        drift_repairs: 1,
    }
}

/// One recorded takeover: a crash detected after 3.61 s.
pub fn takeovers() -> serde_json::Value {
    let mut log = lvsd::vrrp::takeover::TakeoverLog::default();
    log.record(lvsd::vrrp::takeover::Takeover {
        at: 1_700_000_000.0,
        detection: Some(3.61),
        vips_added: Some(0.0004),
        garp_sent: Some(0.0006),
        notify_done: Some(0.0009),
    });
    serde_json::to_value(log).expect("takeover log as JSON")
}

pub fn rs(addr: &str, up: bool, configured: u32, weight: u32, reason: &str) -> RealServerStatus {
    RealServerStatus {
        address: addr.into(),
        up,
        configured_weight: configured,
        weight,
        file_adjustment: i64::from(weight) - i64::from(configured),
        reason: reason.into(),
        since: 1_699_999_990,
        active_conns: 7,
        inactive_conns: 3,
        conns: 120,
        inpkts: 2400,
        outpkts: 2100,
        inbytes: 180_000,
        outbytes: 2_900_000,
        down_transitions: u64::from(!up),
        downtime_seconds: if up { 0 } else { 10 },
        check_failures: if up { 2 } else { 5 },
        last_check: 1_700_000_597,
        admin: None,
    }
}

/// `vs` virtual servers of `per` real servers each, one VRRP instance.
pub fn pool(vs: usize, per: usize) -> Status {
    let mut s = small();
    s.vrrp.truncate(1);
    // Before its first takeover (the histograms add 68 series after it).
    if let Some(v) = s.vrrp[0].as_object_mut() {
        v.remove("takeovers");
    }
    s.virtual_servers = (0..vs)
        .map(|v| VirtualServerStatus {
            name: format!("TCP 10.1.{}.{}:80", v / 250, v % 250 + 1),
            quorum_up: true,
            weight: per as u64,
            quorum: 1,
            hysteresis: 0,
            sorry_server_active: false,
            services: vec![ServiceStatus {
                service: format!("TCP 10.1.{}.{}:80", v / 250, v % 250 + 1),
                scheduler: "wrr".into(),
                programmed: true,
                ..ServiceStatus::default()
            }],
            real_servers: (0..per)
                .map(|r| {
                    rs(
                        &format!("10.2.{}.{}:8080", r / 250, r % 250 + 1),
                        r % 7 != 0,
                        1,
                        1,
                        if r % 7 == 0 {
                            "HTTP_GET http://10.2.0.1:8080/health: status 503"
                        } else {
                            ""
                        },
                    )
                })
                .collect(),
        })
        .collect();
    s
}
