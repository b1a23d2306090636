//! `/metrics` and `lvsd metrics`: the Prometheus exposition of one [`Status`]
//! snapshot, encoded by `prometheus-client` at request time (nothing is kept
//! between scrapes, so a real server a reload removed has no series left).
//!
//! Labels come only from the configuration (instance, VRID, virtual server,
//! real server, tracked object names) and from enums in the code (states,
//! drop reasons): free-text reasons never become label values.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};

/// The empty label set.
const NONE: [(&str, &str); 0] = [];
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde::Deserialize;

use super::status::Status;

/// The two text formats, chosen by the scrape's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (what `promtool check metrics` lints).
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for (Prometheus text unless it
    /// names OpenMetrics).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// How much to export per real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RealServerDetail {
    /// Every per-real-server series.
    #[default]
    Full,
    /// Only `lvsd_real_server_up` and `lvsd_real_server_weight`
    /// (`--metrics-minimal-real-servers`, for pools in the thousands).
    Minimal,
}

/// What to render besides the snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub detail: RealServerDetail,
    /// Add the `process_*` metrics of the daemon (read from `/proc/PID`).
    pub process: bool,
}

/// The exposition of `status` in `format`.
pub fn render(status: &Status, format: Format, options: Options) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(StatusCollector {
        status: status.clone(),
        options,
    }));
    let mut out = String::with_capacity(256 + 200 * status_size(status));
    let encoded = match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    if let Err(e) = encoded {
        // Only a writer error can fail, and a String does not.
        tracing::warn!("encoding metrics: {e}");
    }
    out
}

fn status_size(s: &Status) -> usize {
    s.vrrp.len() * 20
        + s.virtual_servers
            .iter()
            .map(|v| 10 + v.real_servers.len() * 5)
            .sum::<usize>()
}

/// The fields of a VRRP instance snapshot (`vrrp::fsm::Snapshot` as JSON)
/// that metrics use; absent fields read as their defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VrrpView {
    pub name: String,
    pub vrid: u8,
    pub state: String,
    pub priority: u8,
    pub effective_priority: u8,
    pub master_addr: Option<String>,
    pub master_priority: Option<u8>,
    pub master_advert_int_cs: u32,
    pub counters: serde_json::Map<String, serde_json::Value>,
    pub faults: Vec<serde_json::Value>,
    pub track_files: std::collections::BTreeMap<String, i64>,
    pub tracks_up: Vec<TrackUpView>,
    pub priority_changes: Vec<(String, i64)>,
    pub state_since: Option<f64>,
    pub takeovers: crate::vrrp::takeover::TakeoverLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrackUpView {
    pub kind: String,
    pub name: String,
    pub up: bool,
    pub runs: Option<crate::vrrp::track::ScriptRuns>,
}

impl VrrpView {
    pub fn of(v: &serde_json::Value) -> VrrpView {
        VrrpView::deserialize(v).unwrap_or_default()
    }

    pub fn counter(&self, key: &str) -> u64 {
        self.counters
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// The VRRP states as label values, in keepalived's words.
pub const VRRP_STATES: [(&str, &str); 4] = [
    ("Initialize", "init"),
    ("Backup", "backup"),
    ("Master", "master"),
    ("Fault", "fault"),
];

#[derive(Debug)]
struct StatusCollector {
    status: Status,
    options: Options,
}

type Labels<'a, const N: usize> = [(&'static str, &'a str); N];

/// One metric family: a descriptor, then its samples.
struct Family<'e> {
    enc: prometheus_client::encoding::MetricEncoder<'e>,
    kind: MetricType,
}

impl Family<'_> {
    fn sample<L: EncodeLabelSet>(&mut self, labels: &L, value: f64) -> Result<(), std::fmt::Error> {
        let mut m = self.enc.encode_family(labels)?;
        match self.kind {
            MetricType::Counter => m.encode_counter::<NoLabelSet, f64, f64>(&value, None),
            _ => m.encode_gauge(&value),
        }
    }

    fn int<L: EncodeLabelSet>(&mut self, labels: &L, value: u64) -> Result<(), std::fmt::Error> {
        let mut m = self.enc.encode_family(labels)?;
        match self.kind {
            MetricType::Counter => m.encode_counter::<NoLabelSet, u64, u64>(&value, None),
            _ => m.encode_gauge(&(value as i64)),
        }
    }
}

fn family<'e>(
    enc: &'e mut DescriptorEncoder,
    name: &'e str,
    help: &str,
    kind: MetricType,
) -> Result<Family<'e>, std::fmt::Error> {
    Ok(Family {
        enc: enc.encode_descriptor(name, help, None, kind)?,
        kind,
    })
}

const GAUGE: MetricType = MetricType::Gauge;
const COUNTER: MetricType = MetricType::Counter;

fn b(x: bool) -> u64 {
    u64::from(x)
}

impl Collector for StatusCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.status;
        {
            let mut f =
                enc.encode_descriptor("lvsd_build", "lvsd's version.", None, MetricType::Info)?;
            f.encode_info(&[("version", s.version.as_str())])?;
        }
        family(
            &mut enc,
            "lvsd_start_time_seconds",
            "When the daemon started (Unix time).",
            GAUGE,
        )?
        .sample(&NONE, s.started_at)?;
        {
            let mut f = family(
                &mut enc,
                "lvsd_config_reloads",
                "Configuration reloads (SIGHUP) by result.",
                COUNTER,
            )?;
            f.int(&[("result", "success")], s.reloads)?;
            f.int(&[("result", "failure")], s.reload_failures)?;
        }
        family(&mut enc, "lvsd_config_last_reload_successful", "1 if the last configuration load succeeded (a refused reload keeps the old one running).", GAUGE)?
            .int(&NONE, b(s.last_reload_error.is_none()))?;
        family(
            &mut enc,
            "lvsd_config_last_reload_success_timestamp_seconds",
            "When a configuration was last loaded successfully (Unix time).",
            GAUGE,
        )?
        .sample(&NONE, s.last_reload_success_at)?;
        family(
            &mut enc,
            "lvsd_ipvs_writes",
            "IPVS write operations since start.",
            COUNTER,
        )?
        .int(&NONE, s.ipvs_writes)?;
        {
            let mut f = family(
                &mut enc,
                "lvsd_ipvs_reconcile_duration_seconds",
                "How long IPVS reconciles took (plan and writes), by scope: full (the whole table: start-up, reload, repair) or virtual_servers (a checker transition's).",
                MetricType::Histogram,
            )?;
            for (scope, h) in &s.reconcile_durations {
                f.enc
                    .encode_family(&[("scope", scope.as_str())])?
                    .encode_histogram::<NoLabelSet>(h.sum, h.count(), &h.per_bucket(), None)?;
            }
        }
        {
            let mut f = family(
                &mut enc,
                "lvsd_ipvs_operations",
                "IPVS operations applied since start, by operation and result (ok, error: the kernel refused it).",
                COUNTER,
            )?;
            for o in &s.ipvs_operations {
                f.int(
                    &[
                        ("operation", o.operation.as_str()),
                        ("result", o.result.as_str()),
                    ],
                    o.count,
                )?;
            }
        }
        family(
            &mut enc,
            "lvsd_ipvs_drift_repairs",
            "Times lvsd found its IPVS services changed behind its back (compared every 10 s) and repaired them.",
            COUNTER,
        )?
        .int(&NONE, s.drift_repairs)?;
        if let Some(roles) = &s.sync_daemons {
            let mut f = family(
                &mut enc,
                "lvsd_sync_daemon_up",
                "lvs_sync_daemon: 1 while lvsd runs the kernel's connection-sync daemon of this role.",
                GAUGE,
            )?;
            for role in ["master", "backup"] {
                f.int(&[("role", role)], b(roles.iter().any(|r| r == role)))?;
            }
        }
        if let Some(p) = s.ipvs_programmed {
            family(
                &mut enc,
                "lvsd_ipvs_programmed",
                "1 if the IPVS table is programmed as configured.",
                GAUGE,
            )?
            .int(&NONE, b(p))?;
        }
        if let Some(c) = &s.checks {
            family(
                &mut enc,
                "lvsd_checks_started",
                "Health checks started.",
                COUNTER,
            )?
            .int(&NONE, c.started)?;
            family(
                &mut enc,
                "lvsd_checks_late",
                "Health checks started more than 50 ms after their time.",
                COUNTER,
            )?
            .int(&NONE, c.late_over_50ms)?;
            family(
                &mut enc,
                "lvsd_checks_skipped",
                "Health check rounds skipped: more checks were due than the checker threads could start.",
                COUNTER,
            )?
            .int(&NONE, c.skipped)?;
            family(
                &mut enc,
                "lvsd_check_max_lateness_seconds",
                "The latest a health check has started so far.",
                GAUGE,
            )?
            .sample(&NONE, c.max_lateness_seconds)?;
            {
                let mut f = family(
                    &mut enc,
                    "lvsd_checks",
                    "Health checks finished, by checker type and result (inconclusive: not run, the verdict kept).",
                    COUNTER,
                )?;
                for r in &c.results {
                    f.int(
                        &[("type", r.kind.as_str()), ("result", r.result.as_str())],
                        r.count,
                    )?;
                }
            }
            family(
                &mut enc,
                "lvsd_checks_in_flight",
                "Health checks running now.",
                GAUGE,
            )?
            .int(&NONE, c.in_flight)?;
            {
                let h = &c.durations;
                let mut f = family(
                    &mut enc,
                    "lvsd_check_duration_seconds",
                    "How long health checks took, from their start to their result.",
                    MetricType::Histogram,
                )?;
                f.enc.encode_family(&NONE)?.encode_histogram::<NoLabelSet>(
                    h.sum,
                    h.count(),
                    &h.per_bucket(),
                    None,
                )?;
            }
        }
        self.encode_vrrp(&mut enc)?;
        self.encode_virtual_servers(&mut enc)?;
        if self.options.process {
            encode_process(&mut enc, s.pid)?;
        }
        Ok(())
    }
}

impl StatusCollector {
    fn encode_vrrp(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let views: Vec<VrrpView> = self.status.vrrp.iter().map(VrrpView::of).collect();
        if views.is_empty() {
            return Ok(());
        }
        let vrids: Vec<String> = views.iter().map(|v| v.vrid.to_string()).collect();
        let id = |i: usize| {
            [
                ("vrrp_instance", views[i].name.as_str()),
                ("vrid", vrids[i].as_str()),
            ]
        };
        {
            let mut f = family(
                enc,
                "lvsd_vrrp_state",
                "VRRP state: 1 for the state the instance is in, 0 for the others.",
                GAUGE,
            )?;
            for (i, v) in views.iter().enumerate() {
                for (word, label) in VRRP_STATES {
                    let [a, c] = id(i);
                    f.int(&[a, c, ("state", label)], b(v.state == word))?;
                }
            }
        }
        let per = |enc: &mut DescriptorEncoder,
                   name: &str,
                   help: &str,
                   kind,
                   value: &dyn Fn(&VrrpView) -> Option<f64>|
         -> Result<(), std::fmt::Error> {
            let mut f = family(enc, name, help, kind)?;
            for (i, v) in views.iter().enumerate() {
                if let Some(x) = value(v) {
                    if kind == COUNTER {
                        f.int(&id(i), x as u64)?;
                    } else {
                        f.sample(&id(i), x)?;
                    }
                }
            }
            Ok(())
        };
        per(
            enc,
            "lvsd_vrrp_state_since_timestamp_seconds",
            "When the instance entered its current state (Unix time).",
            GAUGE,
            &|v| v.state_since,
        )?;
        per(
            enc,
            "lvsd_vrrp_priority",
            "Configured VRRP priority.",
            GAUGE,
            &|v| Some(f64::from(v.priority)),
        )?;
        per(
            enc,
            "lvsd_vrrp_effective_priority",
            "VRRP priority after track weights.",
            GAUGE,
            &|v| Some(f64::from(v.effective_priority)),
        )?;
        per(
            enc,
            "lvsd_vrrp_master_priority",
            "Priority of the current master (its last advert; ours while MASTER).",
            GAUGE,
            &|v| v.master_priority.map(f64::from),
        )?;
        per(
            enc,
            "lvsd_vrrp_master_advert_interval_seconds",
            "The master's advert interval (learned in VRRPv3).",
            GAUGE,
            &|v| Some(f64::from(v.master_advert_int_cs) / 100.0),
        )?;
        let c = |key: &'static str| move |v: &VrrpView| Some(v.counter(key) as f64);
        per(
            enc,
            "lvsd_vrrp_adverts_sent",
            "VRRP adverts sent.",
            COUNTER,
            &c("adverts_tx"),
        )?;
        per(
            enc,
            "lvsd_vrrp_adverts_received",
            "VRRP adverts received and accepted.",
            COUNTER,
            &c("adverts_rx"),
        )?;
        per(
            enc,
            "lvsd_vrrp_priority_zero_sent",
            "Priority 0 adverts sent (stepping down).",
            COUNTER,
            &c("priority_zero_tx"),
        )?;
        per(
            enc,
            "lvsd_vrrp_priority_zero_received",
            "Priority 0 adverts received.",
            COUNTER,
            &c("priority_zero_rx"),
        )?;
        // Counters split by cause: every `<prefix><cause>` counter of the
        // snapshot, the suffix as the reason (a new cause needs no change here).
        for (name, help, prefix) in [
            (
                "lvsd_vrrp_became_master",
                "Transitions to MASTER, by reason (timeout: the master fell silent; priority_zero: it stepped down; preempt; sync_group; owner: priority 255; vip_deleted: back after a VIP was deleted behind its back).",
                "became_master_",
            ),
            (
                "lvsd_vrrp_released_master",
                "Transitions from MASTER, by reason (higher_priority, fault, sync_group, stop, vip_deleted: a VIP was deleted behind its back).",
                "released_master_",
            ),
        ] {
            let mut f = family(enc, name, help, COUNTER)?;
            for (i, v) in views.iter().enumerate() {
                for (key, value) in &v.counters {
                    if let Some(reason) = key.strip_prefix(prefix) {
                        let [a, c] = id(i);
                        f.int(&[a, c, ("reason", reason)], value.as_u64().unwrap_or(0))?;
                    }
                }
            }
        }
        per(
            enc,
            "lvsd_vrrp_near_failovers",
            "As backup: the master's advert arrived with less than one advert interval left on the down timer.",
            COUNTER,
            &c("near_failovers"),
        )?;
        per(
            enc,
            "lvsd_vrrp_announcements",
            "Gratuitous ARPs and unsolicited neighbour adverts sent for the VIPs.",
            COUNTER,
            &c("announcements"),
        )?;
        {
            let mut f = family(
                enc,
                "lvsd_vrrp_takeover_phase_seconds",
                "How long each phase of this director's takeovers took, measured by lvsd: detection (the old master's last advert to the decision), then from the decision: vips_added, garp_sent, notify_done (scripts started, subscribers told).",
                MetricType::Histogram,
            )?;
            for (i, v) in views.iter().enumerate() {
                for (phase, h) in crate::vrrp::takeover::PHASES
                    .iter()
                    .zip(&v.takeovers.phases)
                {
                    let [a, c] = id(i);
                    f.enc
                        .encode_family(&[a, c, ("phase", *phase)])?
                        .encode_histogram::<NoLabelSet>(h.sum, h.count(), &h.per_bucket(), None)?;
                }
            }
        }
        {
            // Every `dropped_*` counter of the snapshot, its suffix as the reason:
            // new drop reasons in the VRRP core appear here without a change.
            let mut f = family(
                enc,
                "lvsd_vrrp_adverts_dropped",
                "VRRP adverts dropped, by reason.",
                COUNTER,
            )?;
            for (i, v) in views.iter().enumerate() {
                for (key, value) in &v.counters {
                    if let Some(reason) = key.strip_prefix("dropped_") {
                        let [a, c] = id(i);
                        f.int(&[a, c, ("reason", reason)], value.as_u64().unwrap_or(0))?;
                    }
                }
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_vrrp_v3_checksum_received",
                "VRRPv3 IPv4 adverts accepted, by checksum kind.",
                COUNTER,
            )?;
            for (i, v) in views.iter().enumerate() {
                for (kind, key) in [
                    ("pseudo_header", "checksum_pseudo_header_rx"),
                    ("message_only", "checksum_message_only_rx"),
                ] {
                    let [a, c] = id(i);
                    f.int(&[a, c, ("kind", kind)], v.counter(key))?;
                }
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_vrrp_track_up",
                "Tracked interfaces and scripts of an instance: 1 up, 0 down.",
                GAUGE,
            )?;
            for (i, v) in views.iter().enumerate() {
                for t in &v.tracks_up {
                    let [a, c] = id(i);
                    f.int(
                        &[a, c, ("type", t.kind.as_str()), ("track", t.name.as_str())],
                        b(t.up),
                    )?;
                }
            }
        }
        {
            // A script is run once however many instances track it: its
            // runs are labelled by the script alone.
            let mut scripts: std::collections::BTreeMap<&str, &crate::vrrp::track::ScriptRuns> =
                Default::default();
            for v in &views {
                for t in &v.tracks_up {
                    if let Some(r) = &t.runs {
                        scripts.entry(t.name.as_str()).or_insert(r);
                    }
                }
            }
            let mut f = family(
                enc,
                "lvsd_vrrp_track_script_runs",
                "Runs of each tracked script by result (success, failure, timeout).",
                COUNTER,
            )?;
            for (name, runs) in &scripts {
                for (result, n) in &runs.results {
                    f.int(&[("track", *name), ("result", result.as_str())], *n)?;
                }
            }
            let mut f = family(
                enc,
                "lvsd_vrrp_track_script_duration_seconds",
                "How long each tracked script's runs took.",
                MetricType::Histogram,
            )?;
            for (name, runs) in &scripts {
                let h = &runs.durations;
                f.enc
                    .encode_family(&[("track", *name)])?
                    .encode_histogram::<NoLabelSet>(h.sum, h.count(), &h.per_bucket(), None)?;
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_vrrp_track_file_value",
                "The number last read from each tracked file of an instance.",
                GAUGE,
            )?;
            for (i, v) in views.iter().enumerate() {
                for (file, value) in &v.track_files {
                    let [a, c] = id(i);
                    f.sample(&[a, c, ("file", file.as_str())], *value as f64)?;
                }
            }
        }
        Ok(())
    }

    fn encode_virtual_servers(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let vss = &self.status.virtual_servers;
        if vss.is_empty() {
            return Ok(());
        }
        fn vs_label(name: &str) -> Labels<'_, 1> {
            [("virtual_server", name)]
        }
        {
            let mut f = family(
                enc,
                "lvsd_virtual_server_up",
                "1 while the virtual server's quorum is met.",
                GAUGE,
            )?;
            for vs in vss {
                f.int(&vs_label(&vs.name), b(vs.quorum_up))?;
            }
        }
        for (name, help, value) in [
            (
                "lvsd_virtual_server_weight",
                "The weights of the virtual server's real servers in service, summed: what its quorum is compared with.",
                (|vs| vs.weight) as fn(&super::status::VirtualServerStatus) -> u64,
            ),
            (
                "lvsd_virtual_server_quorum",
                "The virtual server's configured quorum (the weight it needs).",
                |vs| u64::from(vs.quorum),
            ),
            (
                "lvsd_virtual_server_quorum_hysteresis",
                "The virtual server's configured hysteresis: quorum is gained at quorum + hysteresis and lost below quorum - hysteresis.",
                |vs| u64::from(vs.hysteresis),
            ),
        ] {
            let mut f = family(enc, name, help, GAUGE)?;
            for vs in vss {
                f.int(&vs_label(&vs.name), value(vs))?;
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_virtual_server_sorry_server_active",
                "1 while the sorry server is in the table.",
                GAUGE,
            )?;
            for vs in vss {
                f.int(&vs_label(&vs.name), b(vs.sorry_server_active))?;
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_virtual_server_real_servers",
                "Real servers of the virtual server, by state.",
                GAUGE,
            )?;
            for vs in vss {
                let up = vs.real_servers.iter().filter(|r| r.up).count() as u64;
                let total = vs.real_servers.len() as u64;
                f.int(&[("virtual_server", vs.name.as_str()), ("state", "up")], up)?;
                f.int(
                    &[("virtual_server", vs.name.as_str()), ("state", "down")],
                    total - up,
                )?;
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_ipvs_service_programmed",
                "1 if the service is in the kernel's table.",
                GAUGE,
            )?;
            for vs in vss {
                for svc in &vs.services {
                    f.int(
                        &[
                            ("virtual_server", vs.name.as_str()),
                            ("service", svc.service.as_str()),
                        ],
                        b(svc.programmed),
                    )?;
                }
            }
        }
        let svc_counter = |enc: &mut DescriptorEncoder,
                           name: &str,
                           help: &str,
                           value: &dyn Fn(&super::status::ServiceStatus) -> u64|
         -> Result<(), std::fmt::Error> {
            let mut f = family(enc, name, help, COUNTER)?;
            for vs in vss {
                for svc in &vs.services {
                    f.int(
                        &[
                            ("virtual_server", vs.name.as_str()),
                            ("service", svc.service.as_str()),
                        ],
                        value(svc),
                    )?;
                }
            }
            Ok(())
        };
        svc_counter(
            enc,
            "lvsd_ipvs_service_connections",
            "Connections the kernel scheduled for the service.",
            &|s| s.conns,
        )?;
        {
            let mut f = family(
                enc,
                "lvsd_ipvs_service_packets",
                "Packets through the service, by direction (kernel).",
                COUNTER,
            )?;
            for vs in vss {
                for svc in &vs.services {
                    for (dir, v) in [("in", svc.inpkts), ("out", svc.outpkts)] {
                        f.int(
                            &[
                                ("virtual_server", vs.name.as_str()),
                                ("service", svc.service.as_str()),
                                ("direction", dir),
                            ],
                            v,
                        )?;
                    }
                }
            }
        }
        {
            let mut f = family(
                enc,
                "lvsd_ipvs_service_bytes",
                "Bytes through the service, by direction (kernel).",
                COUNTER,
            )?;
            for vs in vss {
                for svc in &vs.services {
                    for (dir, v) in [("in", svc.inbytes), ("out", svc.outbytes)] {
                        f.int(
                            &[
                                ("virtual_server", vs.name.as_str()),
                                ("service", svc.service.as_str()),
                                ("direction", dir),
                            ],
                            v,
                        )?;
                    }
                }
            }
        }
        let rs_metric = |enc: &mut DescriptorEncoder,
                         name: &str,
                         help: &str,
                         kind: MetricType,
                         value: &dyn Fn(&super::status::RealServerStatus) -> u64|
         -> Result<(), std::fmt::Error> {
            let mut f = family(enc, name, help, kind)?;
            for vs in vss {
                for rs in &vs.real_servers {
                    f.int(
                        &[
                            ("virtual_server", vs.name.as_str()),
                            ("real_server", rs.address.as_str()),
                        ],
                        value(rs),
                    )?;
                }
            }
            Ok(())
        };
        let rs_gauge =
            |enc: &mut DescriptorEncoder,
             name: &str,
             help: &str,
             value: &dyn Fn(&super::status::RealServerStatus) -> u64| {
                rs_metric(enc, name, help, GAUGE, value)
            };
        rs_gauge(
            enc,
            "lvsd_real_server_up",
            "1 while the real server is in service (its checks pass).",
            &|r| b(r.up),
        )?;
        rs_gauge(
            enc,
            "lvsd_real_server_weight",
            "The weight the real server has in the table while up (FILE_CHECK included).",
            &|r| u64::from(r.weight),
        )?;
        // Only real servers with an override have a series (1): a pool
        // without overrides costs nothing, and the label has 3 values.
        if vss
            .iter()
            .any(|vs| vs.real_servers.iter().any(|r| r.admin.is_some()))
        {
            let mut f = family(
                enc,
                "lvsd_real_server_admin_state",
                "1 while an operator's override (lvsd ctl: drain, maint, weight) holds the real server.",
                GAUGE,
            )?;
            for vs in vss {
                for rs in &vs.real_servers {
                    let Some(a) = &rs.admin else { continue };
                    f.int(
                        &[
                            ("virtual_server", vs.name.as_str()),
                            ("real_server", rs.address.as_str()),
                            ("state", a.state.name()),
                        ],
                        1,
                    )?;
                }
            }
        }
        if self.options.detail == RealServerDetail::Full {
            rs_gauge(
                enc,
                "lvsd_real_server_state_since_timestamp_seconds",
                "When the real server last went up or down (Unix time).",
                &|r| r.since,
            )?;
            rs_gauge(
                enc,
                "lvsd_real_server_configured_weight",
                "The real server's configured weight.",
                &|r| u64::from(r.configured_weight),
            )?;
            rs_gauge(enc, "lvsd_ipvs_real_server_active_connections", "Active connections to the real server (kernel, summed over its virtual server's services).", &|r| r.active_conns)?;
            rs_gauge(enc, "lvsd_ipvs_real_server_inactive_connections", "Inactive connections to the real server (kernel, summed over its virtual server's services).", &|r| r.inactive_conns)?;
            rs_metric(
                enc,
                "lvsd_real_server_down_transitions",
                "Times the real server went down.",
                COUNTER,
                &|r| r.down_transitions,
            )?;
            rs_metric(
                enc,
                "lvsd_real_server_downtime_seconds",
                "Seconds the real server has been down.",
                COUNTER,
                &|r| r.downtime_seconds,
            )?;
            rs_metric(
                enc,
                "lvsd_real_server_check_failures",
                "Failed health checks of the real server (each one, not only those that took it down; from 0 again when a reload restarts its checkers).",
                COUNTER,
                &|r| r.check_failures,
            )?;
            rs_metric(enc, "lvsd_ipvs_real_server_connections", "Connections scheduled to the real server (kernel, summed over its virtual server's services).", COUNTER, &|r| r.conns)?;
            {
                let mut f = family(
                    enc,
                    "lvsd_ipvs_real_server_packets",
                    "Packets to (in) and from (out) the real server (kernel).",
                    COUNTER,
                )?;
                for vs in vss {
                    for rs in &vs.real_servers {
                        for (dir, v) in [("in", rs.inpkts), ("out", rs.outpkts)] {
                            f.int(
                                &[
                                    ("virtual_server", vs.name.as_str()),
                                    ("real_server", rs.address.as_str()),
                                    ("direction", dir),
                                ],
                                v,
                            )?;
                        }
                    }
                }
            }
            {
                let mut f = family(
                    enc,
                    "lvsd_ipvs_real_server_bytes",
                    "Bytes to (in) and from (out) the real server (kernel).",
                    COUNTER,
                )?;
                for vs in vss {
                    for rs in &vs.real_servers {
                        for (dir, v) in [("in", rs.inbytes), ("out", rs.outbytes)] {
                            f.int(
                                &[
                                    ("virtual_server", vs.name.as_str()),
                                    ("real_server", rs.address.as_str()),
                                    ("direction", dir),
                                ],
                                v,
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `process_*` metrics of process `pid`, from `/proc` (nothing when it is unreadable).
fn encode_process(enc: &mut DescriptorEncoder, pid: u32) -> Result<(), std::fmt::Error> {
    let Some(p) = ProcessStats::read(pid) else {
        return Ok(());
    };
    family(
        enc,
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        COUNTER,
    )?
    .sample(&NONE, p.cpu_seconds)?;
    family(
        enc,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        GAUGE,
    )?
    .int(&NONE, p.resident_bytes)?;
    family(
        enc,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        GAUGE,
    )?
    .int(&NONE, p.virtual_bytes)?;
    family(
        enc,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        GAUGE,
    )?
    .sample(&NONE, p.start_time)?;
    family(
        enc,
        "process_open_fds",
        "Number of open file descriptors.",
        GAUGE,
    )?
    .int(&NONE, p.open_fds)?;
    if let Some(max) = p.max_fds {
        family(
            enc,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            GAUGE,
        )?
        .int(&NONE, max)?;
    }
    family(
        enc,
        "process_threads",
        "Number of OS threads in the process.",
        GAUGE,
    )?
    .int(&NONE, p.threads)?;
    Ok(())
}

/// What `/proc/PID/stat` and friends say, in the units client_golang uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub start_time: f64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub threads: u64,
}

impl ProcessStats {
    pub fn read(pid: u32) -> Option<ProcessStats> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())
        })?;
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096) as u64;
        let mut p = Self::parse_stat(&stat, ticks, page, boot_time)?;
        p.open_fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        p.max_fds = std::fs::read_to_string(format!("/proc/{pid}/limits"))
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
            });
        Some(p)
    }

    /// Parses `/proc/PID/stat` (fields after the parenthesised command name,
    /// which may itself hold spaces and parentheses).
    pub fn parse_stat(stat: &str, ticks: f64, page: u64, boot_time: f64) -> Option<ProcessStats> {
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state): field N is f[N - 3].
        let num = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(ProcessStats {
            cpu_seconds: (num(14)? + num(15)?) as f64 / ticks,
            threads: num(20)?,
            start_time: boot_time + num(22)? as f64 / ticks,
            virtual_bytes: num(23)?,
            resident_bytes: num(24)? * page,
            open_fds: 0,
            max_fds: None,
        })
    }
}

/// Counts the samples of an exposition (lines that are not comments).
pub fn count_series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// Counts samples per metric family name (the name before `{` or space).
pub fn series_by_name(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let end = l.find(['{', ' ']).unwrap_or(l.len());
        *out.entry(l[..end].to_owned()).or_insert(0) += 1;
    }
    out
}
