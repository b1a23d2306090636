//! The typed keepalived.conf model: plain data, defaults resolved, ranges checked.
//!
//! Values that have a legal range are newtypes built only through `new`, which returns
//! a [`Problem`] describing what was expected. Inheritance (global → instance,
//! virtual server → real server → checker) is already applied: consumers read the
//! effective value. Secrets are [`Secret`]s, which never print or serialize.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::diag::Problem;
use super::source::Span;

// ---------------------------------------------------------------------------
// Range-checked values
// ---------------------------------------------------------------------------

fn out_of_range(keyword: &str, value: impl ToString, min: i64, max: i64) -> Problem {
    Problem::OutOfRange {
        keyword: keyword.to_string(),
        value: value.to_string(),
        min,
        max,
    }
}

/// VRRP virtual router id, 1..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Vrid(u8);

impl Vrid {
    pub fn new(value: i64) -> Result<Vrid, Problem> {
        match u8::try_from(value) {
            Ok(v) if v >= 1 => Ok(Vrid(v)),
            _ => Err(out_of_range("virtual_router_id", value, 1, 255)),
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// VRRP priority, 1..=255; 255 means "address owner".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Priority(u8);

impl Priority {
    pub const DEFAULT: Priority = Priority(100);
    pub const OWNER: Priority = Priority(255);
    pub fn new(value: i64) -> Result<Priority, Problem> {
        match u8::try_from(value) {
            Ok(v) if v >= 1 => Ok(Priority(v)),
            _ => Err(out_of_range("priority", value, 1, 255)),
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
    pub fn is_owner(self) -> bool {
        self.0 == 255
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::DEFAULT
    }
}

/// VRRP advertisement interval in centiseconds (VRRPv3 resolution; v2 uses whole seconds).
/// Valid: 1 cs ..= 40.95 s (the v3 12-bit field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AdvertInt(u16);

impl AdvertInt {
    pub const DEFAULT: AdvertInt = AdvertInt(100);
    pub const MAX_CENTISECONDS: u16 = 4095;
    pub fn from_centiseconds(cs: u64) -> Result<AdvertInt, Problem> {
        match u16::try_from(cs) {
            Ok(v) if (1..=Self::MAX_CENTISECONDS).contains(&v) => Ok(AdvertInt(v)),
            _ => Err(Problem::OutOfRange {
                keyword: "advert_int".into(),
                value: format!("{}.{:02}", cs / 100, cs % 100),
                min: 0,
                max: 40,
            }),
        }
    }
    pub fn centiseconds(self) -> u16 {
        self.0
    }
    /// Whole seconds as sent in a VRRPv2 advert (rounded, at least 1).
    pub fn whole_seconds(self) -> u8 {
        u8::try_from(self.0.div_ceil(100).clamp(1, 255)).unwrap_or(255)
    }
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
}

impl Default for AdvertInt {
    fn default() -> Self {
        AdvertInt::DEFAULT
    }
}

/// A priority adjustment of a tracked object: -253..=253 (track_interface/track_script),
/// -254..=254 for track_file / track_process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TrackWeight(i16);

impl TrackWeight {
    pub fn new(value: i64) -> Result<TrackWeight, Problem> {
        TrackWeight::within(value, 253)
    }
    /// A track_file weight: -254..=254.
    pub fn for_file(value: i64) -> Result<TrackWeight, Problem> {
        TrackWeight::within(value, 254)
    }
    fn within(value: i64, limit: i16) -> Result<TrackWeight, Problem> {
        match i16::try_from(value) {
            Ok(v) if (-limit..=limit).contains(&v) => Ok(TrackWeight(v)),
            _ => Err(out_of_range(
                "weight",
                value,
                -i64::from(limit),
                i64::from(limit),
            )),
        }
    }
    pub fn get(self) -> i16 {
        self.0
    }
}

/// IPVS real server weight, 0..=65535 (0 = quiesced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Weight(u32);

impl Weight {
    /// keepalived 2.2.7's IPVS_WEIGHT_MAX (INT32_MAX), as the kernel takes it.
    pub const MAX: u32 = i32::MAX as u32;
    pub fn new(value: i64) -> Result<Weight, Problem> {
        match u32::try_from(value) {
            Ok(v) if v <= Self::MAX => Ok(Weight(v)),
            _ => Err(out_of_range("weight", value, 0, i64::from(Self::MAX))),
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for Weight {
    fn default() -> Self {
        Weight(1)
    }
}

/// An MD5 digest of an HTTP body as printed by genhash: exactly 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    pub fn parse(text: &str) -> Result<Md5Digest, Problem> {
        let bad = || Problem::InvalidValue {
            keyword: "digest".into(),
            value: text.into(),
        };
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Md5Digest(out))
    }
    /// Lower-case hex, as genhash prints it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Md5Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// A secret (auth_pass, SSL key password): never printed, never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub const REDACTED: &'static str = "<redacted>";
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for the code that must put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Self::REDACTED)
    }
}

/// IPVS scheduler (`lvs_sched`, alias `lb_algo`). keepalived's default is `wlc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LbAlgo {
    Rr,
    Wrr,
    Lc,
    #[default]
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Twos,
}

impl LbAlgo {
    pub const ALL: [LbAlgo; 14] = [
        LbAlgo::Rr,
        LbAlgo::Wrr,
        LbAlgo::Lc,
        LbAlgo::Wlc,
        LbAlgo::Lblc,
        LbAlgo::Lblcr,
        LbAlgo::Dh,
        LbAlgo::Sh,
        LbAlgo::Sed,
        LbAlgo::Nq,
        LbAlgo::Fo,
        LbAlgo::Ovf,
        LbAlgo::Mh,
        LbAlgo::Twos,
    ];
    /// The kernel scheduler name (`ip_vs_<name>` module).
    pub fn name(self) -> &'static str {
        match self {
            LbAlgo::Rr => "rr",
            LbAlgo::Wrr => "wrr",
            LbAlgo::Lc => "lc",
            LbAlgo::Wlc => "wlc",
            LbAlgo::Lblc => "lblc",
            LbAlgo::Lblcr => "lblcr",
            LbAlgo::Dh => "dh",
            LbAlgo::Sh => "sh",
            LbAlgo::Sed => "sed",
            LbAlgo::Nq => "nq",
            LbAlgo::Fo => "fo",
            LbAlgo::Ovf => "ovf",
            LbAlgo::Mh => "mh",
            LbAlgo::Twos => "twos",
        }
    }
    pub fn parse(text: &str) -> Option<LbAlgo> {
        LbAlgo::ALL.into_iter().find(|a| a.name() == text)
    }
}

/// IPVS forwarding method (`lvs_method`, alias `lb_kind`). keepalived's default is NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum LbKind {
    #[default]
    #[serde(rename = "NAT")]
    Nat,
    /// Direct routing (keepalived also accepts the old name `DR`).
    #[serde(rename = "DR")]
    Dr,
    #[serde(rename = "TUN")]
    Tun,
}

impl LbKind {
    pub fn parse(text: &str) -> Option<LbKind> {
        match text {
            "NAT" => Some(LbKind::Nat),
            "DR" => Some(LbKind::Dr),
            "TUN" => Some(LbKind::Tun),
            _ => None,
        }
    }
}

/// Tunnel encapsulation for `lvs_method TUN type ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    #[default]
    Ipip,
    Gue {
        port: u16,
    },
    Gre,
}

/// Tunnel checksum option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelChecksum {
    Nocsum,
    Csum,
    Remcsum,
}

/// Forwarding method with its tunnel settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub struct ForwardingMethod {
    pub kind: LbKind,
    /// Only for `TUN`.
    pub tunnel: Option<TunnelType>,
    pub tunnel_checksum: Option<TunnelChecksum>,
}

/// Layer-4 protocol of a virtual service. An address service without `protocol` gets
/// UDP, with a warning, as in keepalived (see check.rs); fwmark services ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The keyword as written in keepalived.conf: `TCP`, `UDP`, `SCTP`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Inet,
    Inet6,
}

impl IpFamily {
    pub fn of(addr: &IpAddr) -> IpFamily {
        match addr {
            IpAddr::V4(_) => IpFamily::Inet,
            IpAddr::V6(_) => IpFamily::Inet6,
        }
    }
}

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// A script or program to run, with the user/group to run it as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptCommand {
    /// The command line as configured (quotes removed), e.g. `/bin/notify.sh VI_1`.
    pub command: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

impl ScriptCommand {
    /// The command line split into program and arguments: unquoted spaces separate
    /// arguments; single quotes keep spaces inside one argument (keepalived's rule).
    pub fn argv(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut in_quote = false;
        let mut has = false;
        for c in self.command.chars() {
            match c {
                '\'' => {
                    in_quote = !in_quote;
                    has = true;
                }
                c if c.is_whitespace() && !in_quote => {
                    if has {
                        out.push(std::mem::take(&mut cur));
                        has = false;
                    }
                }
                c => {
                    cur.push(c);
                    has = true;
                }
            }
        }
        if has {
            out.push(cur);
        }
        out
    }
}

/// `user USERNAME [GROUPNAME]` / `script_user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

/// A FIFO for notify events, with an optional script reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    pub path: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

// ---------------------------------------------------------------------------
// Whole configuration
// ---------------------------------------------------------------------------

/// A loaded keepalived.conf.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    pub global: GlobalDefs,
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `vrrp_track_process` blocks.
    pub vrrp_track_processes: Vec<VrrpTrackProcess>,
    /// `track_file` (or `vrrp_track_file`) blocks.
    pub track_files: Vec<TrackFile>,
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    pub vrrp_instances: Vec<VrrpInstance>,
    /// `static_ipaddress`: addresses configured at start, never moved.
    pub static_ipaddresses: Vec<VirtualIpAddress>,
    /// `static_routes`.
    pub static_routes: Vec<VirtualRoute>,
    /// `static_rules`.
    pub static_rules: Vec<VirtualRule>,
    /// `track_group NAME { group { ... } }`: the instances that track the
    /// interfaces of the static entries naming the group.
    pub track_groups: Vec<TrackGroup>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// Top-level `SSL { }` block for SSL_GET checkers.
    pub ssl: Option<SslSettings>,
    /// lvsd's own `route_announce { }` block (keepalived skips it, with a
    /// warning per line): healthy VIPs as host routes in a table of lvsd's.
    pub route_announce: Option<RouteAnnounce>,
}

/// Which of the virtual servers gating a VIP must have quorum to announce it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum AnnouncePolicy {
    /// Every one (the default).
    #[default]
    All,
    /// At least one.
    Any,
}

/// `route_announce { table N protocol N policy all|any startup_delay S
/// drain_delay S withdraw_on_exit yes|no sloppy_tcp yes|no }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteAnnounce {
    #[serde(skip)]
    pub span: Span,
    /// The kernel routing table lvsd owns (no `ip rule` points at it).
    pub table: u32,
    /// The routes' protocol number (what BIRD's `krt_source` filters on).
    pub protocol: u8,
    pub policy: AnnouncePolicy,
    /// After the first table is programmed, how long before announcing
    /// (None: the longest delay_loop of the gating virtual servers, so each
    /// real server has had a first check).
    pub startup_delay: Option<Duration>,
    /// At SIGTERM: withdraw, wait this long, then remove the services.
    pub drain_delay: Duration,
    /// Withdraw when lvsd exits (no: the routes stay, fail-static).
    pub withdraw_on_exit: bool,
    /// Set net.ipv4.vs.sloppy_tcp and sloppy_sctp (flows taken over from
    /// another director are scheduled mid-connection).
    pub sloppy_tcp: bool,
}

impl Default for RouteAnnounce {
    fn default() -> Self {
        RouteAnnounce {
            span: Span::default(),
            table: 201,
            protocol: 201,
            policy: AnnouncePolicy::All,
            startup_delay: None,
            drain_delay: Duration::from_secs(2),
            withdraw_on_exit: true,
            sloppy_tcp: false,
        }
    }
}

impl Config {
    pub fn vrrp_script(&self, name: &str) -> Option<&VrrpScript> {
        self.vrrp_scripts.iter().find(|s| s.name == name)
    }
    pub fn track_file(&self, name: &str) -> Option<&TrackFile> {
        self.track_files.iter().find(|s| s.name == name)
    }
    pub fn vrrp_instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.vrrp_instances.iter().find(|s| s.name == name)
    }
    pub fn virtual_server_group(&self, name: &str) -> Option<&VirtualServerGroup> {
        self.virtual_server_groups.iter().find(|s| s.name == name)
    }
    /// The sync group `instance` belongs to, if any.
    pub fn sync_group_of(&self, instance: &str) -> Option<&VrrpSyncGroup> {
        self.vrrp_sync_groups
            .iter()
            .find(|g| g.group.iter().any(|m| m == instance))
    }
}

/// `SSL { password ca certificate key }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SslSettings {
    pub password: Option<Secret>,
    pub ca: Option<String>,
    pub certificate: Option<String>,
    pub key: Option<String>,
    /// Not from the file: `lvsd run --ssl-verify-ca` makes SSL_GET verify the
    /// real servers' certificates against `ca` (keepalived loads it and
    /// verifies nothing).
    #[serde(skip)]
    pub verify: bool,
}

// ---------------------------------------------------------------------------
// global_defs
// ---------------------------------------------------------------------------

/// `smtp_server HOST [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    /// IP address or host name.
    pub host: String,
    /// Default 25.
    pub port: u16,
}

/// `lvs_sync_daemon IFACE [inst] VRRP_INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    #[serde(skip)]
    pub span: Span,
    /// The vrrp_instance whose state drives master/backup; `None` = run both.
    pub instance: Option<String>,
    /// Default: the VRID of the instance, or 0.
    pub sync_id: Option<u8>,
    pub maxlen: Option<u16>,
    /// Default 8848.
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    /// Default 224.0.0.81.
    pub group: Option<IpAddr>,
}

/// `lvs_timeouts [tcp S] [tcpfin S] [udp S]` (unset = leave the kernel's value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcp_fin: Option<u32>,
    pub udp: Option<u32>,
}

/// Gratuitous ARP / unsolicited NA settings (global defaults, overridable per instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpSettings {
    /// Delay of the second burst after becoming MASTER (default 5 s; 0 = none).
    pub master_delay: Duration,
    /// GARPs per burst after becoming MASTER (default 5).
    pub master_repeat: u32,
    /// Delay of the burst after a lower-priority advert while MASTER (default = master_delay).
    pub lower_prio_delay: Duration,
    /// GARPs per burst after a lower-priority advert (default = master_repeat).
    pub lower_prio_repeat: u32,
    /// Periodic refresh while MASTER (default none).
    pub master_refresh: Option<Duration>,
    /// GARPs per refresh (default 1).
    pub master_refresh_repeat: u32,
    /// Gap between GARPs on one interface (default 0).
    pub interval: Duration,
    /// Gap between unsolicited NAs on one interface (default 0).
    pub gna_interval: Duration,
    /// Periodic GARP on VIP interfaces other than the instance's (`garp_extra_if`).
    pub extra_if: Option<GarpExtraIf>,
}

impl Default for GarpSettings {
    fn default() -> Self {
        GarpSettings {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
            interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            extra_if: None,
        }
    }
}

/// `garp_extra_if [all] SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpExtraIf {
    pub all: bool,
    pub interval: Duration,
}

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub enum VrrpVersion {
    #[default]
    #[serde(rename = "2")]
    V2,
    #[serde(rename = "3")]
    V3,
}

/// `global_defs { }` (and the daemon-wide keywords allowed at top level).
#[derive(Debug, Clone, Serialize)]
pub struct GlobalDefs {
    /// Default: the local host name.
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    /// Default 30 s.
    pub smtp_connect_timeout: Duration,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub checker_log_all_failures: bool,
    pub no_email_faults: bool,
    pub no_checker_emails: bool,
    /// Default 224.0.0.18.
    pub vrrp_mcast_group4: Ipv4Addr,
    /// Default ff02::12.
    pub vrrp_mcast_group6: Ipv6Addr,
    /// Interface for static addresses without `dev` (default eth0).
    pub default_interface: String,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]`: `Some(false)` = flush all, `Some(true)` = only remove virtual servers.
    pub lvs_flush_on_stop: Option<bool>,
    pub garp: GarpSettings,
    /// `vrrp_min_garp`: one GARP, no second burst.
    pub vrrp_min_garp: bool,
    /// Default master down timer in adverts (default 3).
    pub vrrp_down_timer_adverts: u8,
    pub vrrp_lower_prio_no_advert: bool,
    pub vrrp_higher_prio_send_advert: bool,
    /// Default VRRP version (default 2; IPv6 instances always use 3).
    pub vrrp_version: VrrpVersion,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_strict: bool,
    /// `nftables [NAME]`: the table for the no_accept rules (`None`: lvsd's
    /// own, `lvsd`; the keyword alone: `keepalived`, as keepalived names it).
    pub nftables_table: Option<String>,
    /// `nftables_priority` of the no_accept chains (default -1).
    pub nftables_priority: i32,
    /// Default of the instances' `v3_checksum_as_v2`.
    pub v3_checksum_as_v2: bool,
    pub vrrp_notify_priority_changes: bool,
    pub vrrp_startup_delay: Option<Duration>,
    pub log_unknown_vrids: bool,
    /// Prefix of generated VMAC interface names (default "vrrp").
    pub vmac_prefix: String,
    pub vmac_addr_prefix: Option<String>,
    pub dynamic_interfaces: bool,
    pub dynamic_interfaces_allow_if_changes: bool,
    pub script_user: Option<RunAs>,
    pub enable_script_security: bool,
    pub notify_fifo: Option<NotifyFifo>,
    pub notify_fifo_script: Option<ScriptCommand>,
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    pub vrrp_notify_fifo_script: Option<ScriptCommand>,
    pub lvs_notify_fifo: Option<NotifyFifo>,
    pub lvs_notify_fifo_script: Option<ScriptCommand>,
    pub fifo_write_vrrp_states_on_reload: bool,
    pub rs_init_notifies: bool,
    pub startup_script: Option<ScriptCommand>,
    /// Default 10 s.
    pub startup_script_timeout: Duration,
    pub shutdown_script: Option<ScriptCommand>,
    /// Default 10 s.
    pub shutdown_script_timeout: Duration,
    /// Seconds for children to exit on shutdown (default 5).
    pub child_wait_time: Duration,
    pub instance: Option<String>,
    pub use_pid_dir: bool,
    pub random_seed: Option<u32>,
    /// `vrrp_priority`, `vrrp_rt_priority`, ...: keepalived tunes its VRRP
    /// process; lvsd the thread VRRP runs on.
    pub vrrp_tuning: ProcessTuning,
    /// `checker_priority`, ...: keepalived tunes its checker process; lvsd
    /// the threads of its main runtime (checkers, IPVS, control socket).
    pub checker_tuning: ProcessTuning,
}

/// keepalived's per-process scheduling keywords (`<p>_priority`,
/// `<p>_rt_priority`, `<p>_rlimit_rttime`, `<p>_no_swap`,
/// `<p>_cpu_affinity`), as they are read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessTuning {
    /// Nice value -20..19 (keepalived applies it only without a real-time
    /// priority).
    pub nice: Option<i32>,
    /// SCHED_RR priority 1..99.
    pub rt_priority: Option<u32>,
    /// RLIMIT_RTTIME hard limit in microseconds while real-time (the soft
    /// limit, which warns, is half). Default 10,000 (keepalived's); 0: none.
    pub rlimit_rttime_us: u64,
    pub no_swap: bool,
    /// CPUs to run on (empty: any).
    pub cpu_affinity: Vec<usize>,
}

impl Default for ProcessTuning {
    fn default() -> Self {
        ProcessTuning {
            nice: None,
            rt_priority: None,
            rlimit_rttime_us: 10_000,
            no_swap: false,
            cpu_affinity: Vec::new(),
        }
    }
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            checker_log_all_failures: false,
            no_email_faults: false,
            no_checker_emails: false,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            default_interface: "eth0".into(),
            lvs_sync_daemon: None,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_flush: false,
            lvs_flush_on_stop: None,
            garp: GarpSettings::default(),
            vrrp_min_garp: false,
            vrrp_down_timer_adverts: 3,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_version: VrrpVersion::V2,
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_strict: false,
            nftables_table: None,
            nftables_priority: -1,
            v3_checksum_as_v2: false,
            vrrp_notify_priority_changes: false,
            vrrp_startup_delay: None,
            log_unknown_vrids: false,
            vmac_prefix: "vrrp".into(),
            vmac_addr_prefix: None,
            dynamic_interfaces: false,
            dynamic_interfaces_allow_if_changes: false,
            script_user: None,
            enable_script_security: false,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            lvs_notify_fifo: None,
            lvs_notify_fifo_script: None,
            fifo_write_vrrp_states_on_reload: false,
            rs_init_notifies: false,
            startup_script: None,
            startup_script_timeout: Duration::from_secs(10),
            shutdown_script: None,
            shutdown_script_timeout: Duration::from_secs(10),
            child_wait_time: Duration::from_secs(5),
            instance: None,
            use_pid_dir: false,
            random_seed: None,
            vrrp_tuning: ProcessTuning::default(),
            checker_tuning: ProcessTuning::default(),
        }
    }
}

// ---------------------------------------------------------------------------
// VRRP
// ---------------------------------------------------------------------------

/// `vrrp_script NAME { }`.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpScript {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub script: ScriptCommand,
    /// Default 1 s.
    pub interval: Duration,
    /// Default: none (keepalived then uses the interval).
    pub timeout: Option<Duration>,
    /// -253..=253, default 0 (0 = failure means FAULT).
    pub weight: i16,
    pub weight_reverse: bool,
    /// Default 1.
    pub rise: u32,
    /// Default 1.
    pub fall: u32,
    pub init_fail: bool,
}

/// How a `vrrp_track_process`'s parameters must match a process's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParamMatch {
    /// No parameters checked.
    None,
    /// The arguments are exactly the parameters (`param_match` alone, or
    /// parameters after `process`).
    Exact,
    /// The arguments start with the parameters (`param_match partial`).
    Partial,
    /// As partial, the last parameter may be the start of its argument
    /// (`param_match initial`).
    Initial,
}

/// `vrrp_track_process NAME { }`: processes counted by name (or full
/// command line); up while their number is within the quorum.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpTrackProcess {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    /// The name (`comm`) or, with `full_command`, the command (argv\[0\]).
    pub process: String,
    pub params: Vec<String>,
    pub param_match: ParamMatch,
    pub full_command: bool,
    /// Default 1.
    pub quorum: u32,
    /// Default unlimited.
    pub quorum_max: u32,
    /// Before reporting it up (`fork_delay`, `delay`).
    pub fork_delay: Duration,
    /// Before reporting it down (`terminate_delay`, `delay`).
    pub terminate_delay: Duration,
    /// -254..=254, default 0 (0 = down means FAULT).
    pub weight: i16,
    pub weight_reverse: bool,
}

/// `track_interface` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedInterface {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    /// `None` = unweighted (down means FAULT).
    pub weight: Option<TrackWeight>,
    pub reverse: bool,
}

/// `track_script` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedScript {
    /// Name of a `vrrp_script`.
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    /// `None` = the script's own weight.
    pub weight: Option<TrackWeight>,
    pub reverse: bool,
}

/// `track_file NAME { }` (`vrrp_track_file` is its deprecated synonym): a file holding a
/// number, which the objects tracking it multiply by their weight. With weight 0 a
/// non-zero number means FAULT (down for a real server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub file: PathBuf,
    /// -254..=254, default 1: the weight of trackers that give none.
    pub weight: i16,
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`: write VALUE at start-up if the file does not
    /// exist (or always, with `overwrite`; never on a reload when it exists).
    pub init: Option<TrackFileInit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrackFileInit {
    pub value: i32,
    pub overwrite: bool,
}

/// `track_file` entry of a vrrp_instance / vrrp_sync_group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedFile {
    /// Name of a `track_file` block.
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    /// `None` = the track_file's own weight.
    pub weight: Option<TrackWeight>,
    /// `None` = the track_file's own reverse (an explicit `noreverse` overrides it).
    pub reverse: Option<bool>,
}

/// Initial state of a VRRP instance. keepalived's default is BACKUP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

/// VRRP authentication type (VRRPv2 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    Pass,
    Ah,
}

/// `authentication { auth_type auth_pass }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    pub auth_type: AuthType,
    /// At most 8 bytes (longer values are truncated with a warning).
    pub auth_pass: Secret,
}

/// Address scope (`scope` of a VIP or route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
    /// A numeric scope.
    Other(u8),
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "global" | "universe" => Some(Scope::Global),
            "site" => Some(Scope::Site),
            "link" => Some(Scope::Link),
            "host" => Some(Scope::Host),
            "nowhere" => Some(Scope::Nowhere),
            n => n.parse::<u8>().ok().map(Scope::Other),
        }
    }
    /// The rtnetlink `RT_SCOPE_*` value.
    pub fn value(self) -> u8 {
        match self {
            Scope::Global => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
            Scope::Other(n) => n,
        }
    }
}

/// `brd` of a VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Broadcast {
    Address(Ipv4Addr),
    /// `brd +`: host bits set.
    SetHostBits,
    /// `brd -`: host bits cleared.
    ClearHostBits,
}

/// A `virtual_ipaddress` / `virtual_ipaddress_excluded` / `static_ipaddress` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIpAddress {
    pub address: IpAddr,
    /// Default 32 (IPv4) / 128 (IPv6).
    pub prefix_len: u8,
    #[serde(skip)]
    pub span: Span,
    pub broadcast: Option<Broadcast>,
    /// Default: the instance's interface (static: global default_interface).
    pub dev: Option<String>,
    pub scope: Option<Scope>,
    pub label: Option<String>,
    pub peer: Option<IpAddr>,
    pub home: bool,
    /// `-nodad`: keepalived's negation of its default IFA_F_NODAD on IPv6
    /// addresses, i.e. do duplicate address detection.
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    pub use_vmac: bool,
    /// `preferred_lft N|forever` (`None` = kernel default; `Some(None)` = forever).
    pub preferred_lft: Option<Option<u32>>,
    pub track_group: Option<String>,
}

/// A `virtual_routes` / `static_routes` entry, in `ip route add` syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualRoute {
    #[serde(skip)]
    pub span: Span,
    /// Route type if given (`blackhole`, `unreachable`, `prohibit`, `throw`, ...).
    pub route_type: Option<String>,
    /// Destination `ADDR[/LEN]` (or `default`).
    pub destination: String,
    pub src: Option<IpAddr>,
    /// `via`/`gw` next hops (`or` adds alternatives).
    pub via: Vec<IpAddr>,
    pub dev: Option<String>,
    pub scope: Option<Scope>,
    pub table: Option<String>,
    pub metric: Option<u32>,
    pub no_track: bool,
    pub track_group: Option<String>,
    /// The remaining `ip route` options, verbatim, in order.
    pub options: Vec<String>,
}

/// A `virtual_rules` / `static_rules` entry, in `ip rule add` syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualRule {
    #[serde(skip)]
    pub span: Span,
    pub from: Option<String>,
    pub to: Option<String>,
    pub table: Option<String>,
    pub preference: Option<u32>,
    pub no_track: bool,
    pub track_group: Option<String>,
    /// The remaining `ip rule` options, verbatim, in order.
    pub options: Vec<String>,
}

/// `unicast_peer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub address: IpAddr,
    #[serde(skip)]
    pub span: Span,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// `use_vmac [NAME] [MAC]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UseVmac {
    pub name: Option<String>,
    pub mac: Option<String>,
}

/// Notify scripts of an instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VrrpNotify {
    pub master: Option<ScriptCommand>,
    pub backup: Option<ScriptCommand>,
    pub fault: Option<ScriptCommand>,
    pub stop: Option<ScriptCommand>,
    /// Called for every transition with `TYPE NAME STATE PRIORITY` appended.
    pub any: Option<ScriptCommand>,
    pub master_rx_lower_pri: Option<ScriptCommand>,
    /// `notify_deleted [script]` (instances and sync groups; `Some(None)` = flag only).
    pub deleted: Option<Option<ScriptCommand>>,
}

/// `vrrp_instance NAME { }`.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub state: InitialState,
    /// May be omitted only with unicast peers.
    pub interface: Option<String>,
    /// Where the interface name is written (the instance header if not given).
    #[serde(skip)]
    pub interface_span: Span,
    pub vrf: Option<String>,
    pub use_vmac: Option<UseVmac>,
    pub use_vmac_addr: bool,
    pub vmac_xmit_base: bool,
    pub native_ipv6: bool,
    pub dont_track_primary: bool,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    /// `track_process` entries (a `vrrp_track_process` name, weight, reverse).
    pub track_processes: Vec<TrackedScript>,
    pub track_files: Vec<TrackedFile>,
    /// `mcast_src_ip` / `unicast_src_ip` (synonyms in keepalived).
    pub src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub track_src_ip: bool,
    /// Effective version: explicit `version`, else 3 for IPv6 VIPs, else global `vrrp_version`.
    pub version: VrrpVersion,
    pub check_unicast_src: bool,
    pub unicast_peers: Vec<UnicastPeer>,
    pub unicast_fault_no_peer: bool,
    /// A unicast keyword, no peer and `unicast_fault_no_peer`: permanently FAULT.
    pub unicast_no_peer_fault: bool,
    pub unicast_ttl: Option<u8>,
    /// `v3_checksum_as_v2 [BOOL]` (here or in global_defs): VRRPv3 over IPv4 without the
    /// pseudo-header in the checksum (Cisco interop; newer keepalived keyword).
    pub v3_checksum_as_v2: bool,
    /// `old_unicast_checksum [never]`: v3 checksum computed the pre-1.3.6 way (`Some(true)` = never auto-detect).
    pub old_unicast_checksum: Option<bool>,
    /// Effective GARP settings (global defaults with this instance's overrides).
    pub garp: GarpSettings,
    /// Default: global vrrp_down_timer_adverts (3).
    pub down_timer_adverts: u8,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub virtual_router_id: Vrid,
    pub priority: Priority,
    pub advert_int: AdvertInt,
    pub authentication: Option<Authentication>,
    pub virtual_ipaddresses: Vec<VirtualIpAddress>,
    pub virtual_ipaddresses_excluded: Vec<VirtualIpAddress>,
    pub promote_secondaries: bool,
    pub virtual_routes: Vec<VirtualRoute>,
    pub virtual_rules: Vec<VirtualRule>,
    /// Accept mode: `accept` / `no_accept`; `None` = default (accept unless strict).
    pub accept: Option<bool>,
    /// `false` with `nopreempt`.
    pub preempt: bool,
    pub preempt_delay: Duration,
    pub skip_check_adv_addr: bool,
    pub strict_mode: bool,
    pub notify: VrrpNotify,
    /// `notify_priority_changes`; `None`: the sync group's, else the global one.
    pub notify_priority_changes: Option<bool>,
    pub smtp_alert: Option<bool>,
    pub debug: Option<u8>,
    pub kernel_rx_buf_size: Option<u64>,
    pub linkbeat_use_polling: bool,
}

impl VrrpInstance {
    /// Address family of the instance, decided as keepalived does: `native_ipv6`, else
    /// the source address, else the first unicast peer, else the first VIP; IPv4 if none.
    /// (VIPs of the other family were dropped with a warning while loading.)
    pub fn family(&self) -> IpFamily {
        if self.native_ipv6 {
            return IpFamily::Inet6;
        }
        self.src_ip
            .or(self.unicast_peers.first().map(|p| p.address))
            .or(self.virtual_ipaddresses.first().map(|v| v.address))
            .map(|a| IpFamily::of(&a))
            .unwrap_or(IpFamily::Inet)
    }
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }
    /// Effective accept mode: as configured; else under strict mode only for the address
    /// owner (priority 255), otherwise on (keepalived's rules).
    pub fn accept_mode(&self) -> bool {
        self.accept
            .unwrap_or(!self.strict_mode || self.priority.is_owner())
    }
}

/// `track_group NAME { group { VI_1 VI_2 } }`.
#[derive(Debug, Clone, Serialize)]
pub struct TrackGroup {
    #[serde(skip)]
    pub span: Span,
    pub name: String,
    pub instances: Vec<String>,
}

/// `vrrp_sync_group NAME { }`.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpSyncGroup {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    /// Member vrrp_instance names.
    pub group: Vec<String>,
    /// Where each of `group`'s names is written (same order).
    #[serde(skip)]
    pub group_spans: Vec<Span>,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    /// `track_process` entries (a `vrrp_track_process` name, weight, reverse).
    pub track_processes: Vec<TrackedScript>,
    pub track_files: Vec<TrackedFile>,
    pub notify: VrrpNotify,
    pub notify_priority_changes: Option<bool>,
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight` (or its deprecated synonym `global_tracking`):
    /// members' tracked objects keep their weights instead of meaning FAULT.
    pub sync_group_tracking_weight: bool,
}

// ---------------------------------------------------------------------------
// LVS
// ---------------------------------------------------------------------------

/// One member of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VsgMember {
    /// `IP[-LAST] [PORT]` or `IP/LEN [PORT]`: every address `first..=last`.
    Range {
        first: IpAddr,
        last: IpAddr,
        port: Option<u16>,
        #[serde(skip)]
        span: Span,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        mark: u32,
        family: Option<IpFamily>,
        #[serde(skip)]
        span: Span,
    },
}

/// `virtual_server_group NAME { }`.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    #[serde(skip)]
    pub span: Span,
    pub members: Vec<VsgMember>,
}

/// What a `virtual_server` line names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VirtualServerKey {
    /// `virtual_server IP [PORT]` (port may be omitted only for persistent services).
    Address { ip: IpAddr, port: Option<u16> },
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME`.
    Group(String),
}

impl std::fmt::Display for VirtualServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VirtualServerKey::Address { ip, port } => match (ip, port) {
                (IpAddr::V4(a), Some(p)) => write!(f, "virtual_server {a}:{p}"),
                (IpAddr::V6(a), Some(p)) => write!(f, "virtual_server [{a}]:{p}"),
                (a, None) => write!(f, "virtual_server {a}"),
            },
            VirtualServerKey::Fwmark(m) => write!(f, "virtual_server fwmark {m}"),
            VirtualServerKey::Group(g) => write!(f, "virtual_server group {g}"),
        }
    }
}

/// IPVS scheduler flags (`flag-1`.., `sh-port`, ...), `ops`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SchedulerFlags {
    pub flag_1: bool,
    pub flag_2: bool,
    pub flag_3: bool,
    /// `sh-fallback` (= flag-1) for sh, `mh-fallback` for mh.
    pub fallback: bool,
    /// `sh-port` (= flag-2) for sh, `mh-port` for mh.
    pub port: bool,
    /// One-packet scheduling (UDP).
    pub ops: bool,
    /// `hashed` (IP_VS_SVC_F_HASHED; keepalived accepts it, the kernel sets it itself).
    pub hashed: bool,
}

/// `sorry_server IP [PORT]` with its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    pub address: IpAddr,
    /// Default: the virtual server's port.
    pub port: Option<u16>,
    /// `sorry_server_inhibit`.
    pub inhibit: bool,
    /// `sorry_server_lvs_method`; default the virtual server's.
    pub method: ForwardingMethod,
}

/// `virtual_server ... { }`.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualServer {
    pub key: VirtualServerKey,
    #[serde(skip)]
    pub span: Span,
    pub lb_algo: LbAlgo,
    pub scheduler_flags: SchedulerFlags,
    pub method: ForwardingMethod,
    pub persistence_engine: Option<String>,
    /// Seconds; `persistence_timeout` with no value = 360.
    pub persistence_timeout: Option<u32>,
    /// Netmask / prefix length (`-M` in ipvsadm).
    pub persistence_granularity: Option<String>,
    /// Effective protocol. keepalived uses UDP (with a warning) when an address service
    /// has no `protocol`; fwmark services ignore it.
    pub protocol: Protocol,
    /// Whether `protocol` was written in the block.
    #[serde(skip)]
    pub protocol_explicit: bool,
    pub ha_suspend: bool,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    /// `weight 1..2147483647` (IPVS_WEIGHT_MAX; undocumented in keepalived 2.2.7):
    /// the weight of its real servers that give none.
    pub weight: Option<u32>,
    pub alpha: bool,
    pub omega: bool,
    /// lvsd's `announce`: this virtual server gates its VIP's route
    /// (`route_announce`; without any `announce`, every one does).
    pub announce: bool,
    /// Default 1.
    pub quorum: u32,
    /// Default 0.
    pub hysteresis: u32,
    pub quorum_up: Option<ScriptCommand>,
    pub quorum_down: Option<ScriptCommand>,
    pub ip_family: Option<IpFamily>,
    pub sorry_server: Option<SorryServer>,
    /// Default 60 s.
    pub delay_loop: Duration,
    /// Checker defaults for real servers (effective values are on each checker).
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub inhibit_on_failure: bool,
    pub real_servers: Vec<RealServer>,
}

impl VirtualServer {
    pub fn port(&self) -> Option<u16> {
        match self.key {
            VirtualServerKey::Address { port, .. } => port,
            _ => None,
        }
    }
}

/// `real_server IP [PORT] { }`.
#[derive(Debug, Clone, Serialize)]
pub struct RealServer {
    pub address: IpAddr,
    /// Effective port: configured, else the virtual server's (None for fwmark services without one).
    pub port: Option<u16>,
    #[serde(skip)]
    pub span: Span,
    pub weight: Weight,
    /// Effective forwarding method (the virtual server's unless overridden).
    pub method: ForwardingMethod,
    // Boxed: rare, and 10,000 real servers would carry the room inline.
    pub notify_up: Option<Box<ScriptCommand>>,
    pub notify_down: Option<Box<ScriptCommand>>,
    pub uthreshold: Option<u32>,
    pub lthreshold: Option<u32>,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    pub alpha: bool,
    /// Effective: real server's, else the virtual server's.
    pub inhibit_on_failure: bool,
    pub delay_loop: Duration,
    pub checkers: Vec<Checker>,
    /// `FILE_CHECK` blocks: kept apart from `checkers`, as they run nothing.
    pub file_checks: Vec<FileCheck>,
}

/// `FILE_CHECK { track_file NAME  weight W [reverse] }`: the number in a tracked file
/// times the weight (negated by `reverse`) is added to the real server's weight
/// (clamped at 0). With weight 0 a non-zero number (with `reverse`: zero) takes the
/// real server down. Without a weight here (or with 0), the track_file's weight and
/// reverse apply; keepalived 2.2.7 does the same (measured against it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    /// Name of a `track_file` block.
    pub track_file: String,
    #[serde(skip)]
    pub span: Span,
    /// `None` (or 0): the track_file's weight and reverse.
    pub weight: Option<i32>,
    pub reverse: bool,
}

/// Options every checker has (MISC_CHECK only the timing ones), with effective values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckerCommon {
    /// Default: the real server's address.
    pub connect_ip: Option<IpAddr>,
    /// Default: the real server's port.
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_if: Option<String>,
    pub bind_port: Option<u16>,
    pub fwmark: Option<u32>,
    pub alpha: bool,
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// Default 1 (MISC_CHECK 0).
    pub retry: u32,
    /// Default 3 s for HTTP_GET/SSL_GET, 1 s otherwise.
    pub delay_before_retry: Duration,
    /// Random initial delay up to this; `None` = keepalived's default, up to delay_loop.
    pub warmup: Option<Duration>,
    /// Default: real server's / virtual server's (60 s).
    pub delay_loop: Duration,
    /// `None`: global_defs' `checker_log_all_failures` (lowering does not need global_defs
    /// first, so virtual servers are lowered as soon as their block closes).
    pub log_all_failures: Option<bool>,
}

/// An inclusive HTTP status range (`status_code 200-299`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatusRange {
    pub first: u16,
    pub last: u16,
}

impl StatusRange {
    pub fn contains(&self, code: u16) -> bool {
        (self.first..=self.last).contains(&code)
    }
}

/// A `url { }` of HTTP_GET / SSL_GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlCheck {
    pub path: String,
    #[serde(skip)]
    pub span: Span,
    pub digest: Option<Md5Digest>,
    /// Accepted statuses; default 200-299.
    pub status_codes: Vec<StatusRange>,
    /// Effective virtual host: url's, else checker's, real server's, virtual server's.
    pub virtualhost: Option<String>,
    pub regex: Option<String>,
    pub regex_no_match: bool,
    pub regex_options: Vec<String>,
    pub regex_min_offset: Option<u32>,
    pub regex_max_offset: Option<u32>,
    /// `regex` with its options and offsets, compiled once when the config
    /// is read (the fields above are what the dump shows).
    #[serde(skip)]
    pub compiled_regex: Option<checkers::BodyRegex>,
}

/// HTTP version of HTTP_GET / SSL_GET requests (default 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum HttpProtocol {
    #[default]
    #[serde(rename = "1.0")]
    Http10,
    /// 1.0 plus `Connection: close`.
    #[serde(rename = "1.0C")]
    Http10Close,
    #[serde(rename = "1.1")]
    Http11,
}

/// HTTP_GET and SSL_GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    pub common: CheckerCommon,
    pub http_protocol: HttpProtocol,
    pub fast_recovery: bool,
    /// Checker-level virtualhost (already applied to each url's effective value).
    pub virtualhost: Option<String>,
    pub urls: Vec<UrlCheck>,
    /// SSL_GET only: send SNI.
    pub enable_sni: bool,
}

/// MISC_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MiscCheck {
    pub common: CheckerCommon,
    pub misc_path: ScriptCommand,
    /// Default: delay_loop.
    pub misc_timeout: Option<Duration>,
    pub misc_dynamic: bool,
}

pub use checkers::HexBytes;

/// UDP_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpCheck {
    pub common: CheckerCommon,
    /// Default: a filler datagram.
    pub payload: Option<HexBytes>,
    pub require_reply: bool,
    /// `require_reply HEX`: what the reply must start with.
    pub reply: Option<HexBytes>,
    /// Default 0; as in keepalived, the lengths are checked only with `reply`.
    pub min_reply_length: u16,
    /// Default 255.
    pub max_reply_length: u16,
}

/// SMTP_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpCheck {
    /// The check of the SMTP_CHECK block itself (the real server unless
    /// `connect_ip` / `connect_port` say otherwise).
    pub common: CheckerCommon,
    /// Default `smtpchecker.keepalived.org`, as keepalived.
    pub helo_name: String,
    /// Deprecated `host { }` blocks: each is checked too, with the block's
    /// connection options over the SMTP_CHECK's.
    pub hosts: Vec<CheckerCommon>,
}

/// DNS_CHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsCheck {
    pub common: CheckerCommon,
    /// The query type's number; default SOA (6), as keepalived.
    #[serde(serialize_with = "serialize_query_type")]
    pub qtype: u16,
    /// The name asked for; default `.` (the root), as keepalived.
    pub name: String,
}

fn serialize_query_type<S: Serializer>(qtype: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(checkers::dns::query_type_name(*qtype))
}

/// A health checker of a real server. All but the plain ones are boxed:
/// every real server holds one, and a TCP_CHECK is the common case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum Checker {
    #[serde(rename = "TCP_CHECK")]
    Tcp(CheckerCommon),
    #[serde(rename = "HTTP_GET")]
    Http(Box<HttpCheck>),
    #[serde(rename = "SSL_GET")]
    Ssl(Box<HttpCheck>),
    #[serde(rename = "MISC_CHECK")]
    Misc(Box<MiscCheck>),
    #[serde(rename = "PING_CHECK")]
    Ping(CheckerCommon),
    #[serde(rename = "UDP_CHECK")]
    Udp(Box<UdpCheck>),
    #[serde(rename = "SMTP_CHECK")]
    Smtp(Box<SmtpCheck>),
    #[serde(rename = "DNS_CHECK")]
    Dns(Box<DnsCheck>),
}

impl Checker {
    pub fn common(&self) -> &CheckerCommon {
        match self {
            Checker::Tcp(c) | Checker::Ping(c) => c,
            Checker::Http(h) | Checker::Ssl(h) => &h.common,
            Checker::Misc(m) => &m.common,
            Checker::Udp(u) => &u.common,
            Checker::Smtp(s) => &s.common,
            Checker::Dns(d) => &d.common,
        }
    }
    /// keepalived's block keyword for this checker.
    pub fn keyword(&self) -> &'static str {
        match self {
            Checker::Tcp(_) => "TCP_CHECK",
            Checker::Http(_) => "HTTP_GET",
            Checker::Ssl(_) => "SSL_GET",
            Checker::Misc(_) => "MISC_CHECK",
            Checker::Ping(_) => "PING_CHECK",
            Checker::Udp(_) => "UDP_CHECK",
            Checker::Smtp(_) => "SMTP_CHECK",
            Checker::Dns(_) => "DNS_CHECK",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newtypes_check_ranges() {
        assert!(Vrid::new(0).is_err());
        assert_eq!(Vrid::new(255).map(Vrid::get), Ok(255));
        assert!(Vrid::new(256).is_err());
        assert!(Priority::new(0).is_err());
        assert!(Priority::new(255).is_ok_and(|p| p.is_owner()));
        assert!(TrackWeight::new(-254).is_err());
        assert!(TrackWeight::new(253).is_ok());
        assert!(Weight::new(-1).is_err());
        assert!(AdvertInt::from_centiseconds(0).is_err());
        assert_eq!(
            AdvertInt::from_centiseconds(150).map(|a| a.whole_seconds()),
            Ok(2)
        );
    }

    #[test]
    fn digest_is_32_hex_digits() {
        let d = Md5Digest::parse("640205B7b0fc66c1ea91c463fac6334d");
        assert_eq!(
            d.map(|d| d.to_hex()),
            Ok("640205b7b0fc66c1ea91c463fac6334d".to_string())
        );
        assert!(Md5Digest::parse("640205b7b0fc66c1ea91c463fac6334").is_err());
        assert!(Md5Digest::parse("640205b7b0fc66c1ea91c463fac6334g").is_err());
        assert!(Md5Digest::parse("标识").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            "\"<redacted>\""
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn script_argv_honours_single_quotes() {
        let s = ScriptCommand {
            command: "/bin/x a 'b c' d".into(),
            user: None,
            group: None,
        };
        assert_eq!(s.argv(), vec!["/bin/x", "a", "b c", "d"]);
    }
}
