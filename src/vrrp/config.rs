//! The VRRP core's own view of an instance's configuration: plain data, so the
//! state machine does not depend on the keepalived.conf parser's model.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Duration;

use super::packet::{Family, Version, AUTH_DATA_LEN};

/// One `unicast_peer` entry: where unicast adverts go, and what the receive
/// path accepts from it.
pub use super::packet::PeerRx as UnicastPeer;

/// keepalived's `old_unicast_checksum [never]`, for VRRPv3 IPv4 unicast
/// instances: whether the checksum's pseudo-header carries the multicast
/// group instead of the unicast destination (keepalived up to 1.3.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OldUnicastChecksum {
    /// No keyword: send the RFC form; the first advert received in the old
    /// form switches the instance to sending and accepting only that.
    #[default]
    Auto,
    /// `old_unicast_checksum never`: the RFC form only.
    Never,
    /// `old_unicast_checksum`: the old form only.
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum InitialState {
    Master,
    Backup,
}

/// One address of `virtual_ipaddress` / `virtual_ipaddress_excluded`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VipConfig {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// `dev`; the instance's interface when absent.
    pub dev: Option<String>,
    pub label: Option<String>,
    /// `scope` as the rtnetlink scope number (global 0, site 200, link 253, host 254, nowhere 255).
    pub scope: Option<u8>,
    pub brd: Option<IpAddr>,
    pub options: VipOptions,
}

/// The `virtual_ipaddress` options that become address flags and attributes
/// (`ip addr add` semantics, as keepalived 2.2.7 sets them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct VipOptions {
    /// `peer ADDR`: a point-to-point address (IFA_ADDRESS is the peer).
    pub peer: Option<IpAddr>,
    /// `home` (IFA_F_HOMEADDRESS).
    pub home: bool,
    /// `-nodad`: the address goes through duplicate address detection. IPv6
    /// VIPs are added without it otherwise (IFA_F_NODAD), so that they answer
    /// at once after a failover (keepalived 2.2.7's rule: its `-nodad` clears
    /// its default IFA_F_NODAD).
    pub dad: bool,
    /// `mngtmpaddr` (IFA_F_MANAGETEMPADDR).
    pub mngtmpaddr: bool,
    /// `noprefixroute` (IFA_F_NOPREFIXROUTE).
    pub noprefixroute: bool,
    /// `autojoin` (IFA_F_MCAUTOJOIN).
    pub autojoin: bool,
    /// `preferred_lft N` in seconds; `None`: forever (the kernel's default).
    pub preferred_lft: Option<u32>,
    /// `no_track`: its interface going down is no FAULT, and its deletion by
    /// someone else does not make the master step back (not an address flag).
    pub no_track: bool,
    /// The VIP's own `use_vmac` option (read with the instance's
    /// `use_vmac_addr` into `own_vmac`).
    pub use_vmac: bool,
    /// The VIP goes on a VMAC of its own on its interface, with this MAC
    /// (keepalived's `use_vmac_addr` / a VIP's `use_vmac`); set by translate.
    pub own_vmac: Option<[u8; 6]>,
}

/// Kind of a `virtual_routes` entry (rtnetlink route type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RouteKind {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Throw,
    /// The kernel refuses it (RTN_NAT has been gone since Linux 2.6); keepalived 2.2.7
    /// reads it and logs the kernel's refusal when adding it, and so does lvsd.
    Nat,
    /// As `Nat`: read, passed on, refused by the kernel.
    Xresolve,
}

impl RouteKind {
    /// Whether the route goes out of an interface (`dev`, or the instance's own).
    pub fn has_device(self) -> bool {
        !matches!(
            self,
            RouteKind::Blackhole | RouteKind::Unreachable | RouteKind::Prohibit | RouteKind::Throw
        )
    }
}

/// One `virtual_routes` entry: added while MASTER, removed otherwise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteConfig {
    pub kind: RouteKind,
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub via: Option<IpAddr>,
    /// The instance's interface when absent (unless the route has a gateway or is not unicast).
    pub dev: Option<String>,
    pub src: Option<IpAddr>,
    pub table: Option<u32>,
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    /// `no_track`: its interface going down is no FAULT, and its deletion
    /// by someone else changes nothing.
    pub no_track: bool,
}

/// What an ip rule does when it matches (`FR_ACT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RuleAction {
    /// `table N` / `lookup N` (or `l3mdev`, whose table comes from the device).
    Table(u32),
    L3mdev,
    /// `goto PREF`.
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// One `virtual_rules` / `static_rules` entry, as keepalived 2.2.7 sends it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleConfig {
    pub v6: bool,
    /// `from ADDR[/LEN]` (`None`: all).
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    /// `not`.
    pub invert: bool,
    /// `preference` (keepalived numbers rules without one down from 16384).
    pub priority: u32,
    pub tos: u8,
    /// `fwmark MARK[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub suppress_prefixlen: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub uid_range: Option<(u32, u32)>,
    /// FRA_PROTOCOL: keepalived's own (18) unless `no_track`.
    pub protocol: Option<u8>,
    pub ip_proto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub action: RuleAction,
}

/// `static_ipaddress`, `static_routes`, `static_rules`: added at start whatever the
/// VRRP state, removed at stop (keepalived 2.2.7 vrrp_daemon.c).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticConfig {
    /// Addresses with their device (`dev`, else `default_interface`).
    pub addresses: Vec<(VipConfig, String)>,
    pub routes: Vec<RouteConfig>,
    pub rules: Vec<RuleConfig>,
}

/// `global_defs { startup_script / shutdown_script }` with their timeouts: keepalived
/// 2.2.7 runs the startup script before anything else and starts only once it ended
/// (or was killed after its timeout); the shutdown script after everything stopped,
/// and exits once it ended (core/main.c).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartStopScripts {
    pub startup: Option<(NotifyCommand, Duration)>,
    pub shutdown: Option<(NotifyCommand, Duration)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpConfig {
    /// Delay of the second burst after becoming master; zero disables it.
    pub master_delay: Duration,
    pub master_repeat: u32,
    /// Periodic refresh while master; zero disables it.
    pub master_refresh: Duration,
    pub master_refresh_repeat: u32,
    /// While master, an advert of lower priority: send this many at once
    /// (keepalived's `garp_lower_prio_repeat`; 0 = none) ...
    pub lower_prio_repeat: u32,
    /// ... and again this long after (`garp_lower_prio_delay`; 0 = not again).
    pub lower_prio_delay: Duration,
    /// Gap between two gratuitous ARPs (`vrrp_garp_interval`); 0 = back to back.
    pub interval: Duration,
    /// Gap between two unsolicited NAs (`vrrp_gna_interval`); 0 = back to back.
    pub na_interval: Duration,
    /// While master, one announcement this often on each other interface
    /// holding a VIP (`garp_extra_if`); zero disables it.
    pub extra_if: Duration,
    /// `garp_extra_if all`: on every such interface, not only VMACs.
    pub extra_if_all: bool,
}

impl Default for GarpConfig {
    /// keepalived's defaults (keepalived.conf(5), global_defs).
    fn default() -> Self {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
            interval: Duration::ZERO,
            na_interval: Duration::ZERO,
            extra_if: Duration::ZERO,
            extra_if_all: false,
        }
    }
}

/// What a tracked object is; the runner watches it and reports up/down.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum TrackId {
    Interface(String),
    Script(String),
    /// A `track_file`: a number, not up/down (see [`super::track::file_effect`]).
    File(String),
    /// `track_src_ip`: the instance's source address is on the machine.
    Address(IpAddr),
    /// A `vrrp_track_process`: enough matching processes run.
    Process(String),
}

/// `track_interface` / `track_script` entry with keepalived's weight semantics:
/// weight 0 puts the instance in FAULT while the object is down; a positive
/// weight is added while up, a negative one subtracted while down; `reverse`
/// flips the direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    pub id: TrackId,
    pub weight: i32,
    pub reverse: bool,
    /// State assumed before the first report (`init_fail` makes scripts start down).
    pub initially_up: bool,
    /// A tracked file's value before the first report (the runner reads the file).
    pub initial_value: i32,
}

/// A `track_file` the runner watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFileConfig {
    pub name: String,
    pub path: std::path::PathBuf,
    /// `init_file VALUE [overwrite]`: (value, overwrite).
    pub init: Option<(i32, bool)>,
}

/// Who a script runs as: a vrrp_script's `user USER [GROUP]`, else
/// `global_defs { script_user USER [GROUP] }`; with neither, keepalived's
/// `keepalived_script` user if the system has one, else lvsd's own user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    /// The user's primary group when absent.
    pub group: Option<String>,
}

/// `vrrp_script` settings the runner needs to run a tracked script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptConfig {
    pub name: String,
    pub command: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
    pub weight: i32,
    pub init_fail: bool,
    pub run_as: Option<RunAs>,
}

/// One notify command line and who runs it: its own `USER [GROUP]` after
/// the command, else `script_user`, else keepalived's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCommand {
    pub command: String,
    pub run_as: Option<RunAs>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyConfig {
    pub master: Option<NotifyCommand>,
    pub backup: Option<NotifyCommand>,
    pub fault: Option<NotifyCommand>,
    pub stop: Option<NotifyCommand>,
    /// `notify`: called for every transition with `INSTANCE|GROUP name STATE priority`.
    pub any: Option<NotifyCommand>,
    /// `notify_deleted SCRIPT`: run when a reload removes the instance.
    pub deleted: Option<NotifyCommand>,
    /// `notify_master_rx_lower_pri`: run (without arguments) each time the
    /// master hears an advert of lower priority.
    pub master_rx_lower_pri: Option<NotifyCommand>,
}

impl NotifyConfig {
    /// Every configured command.
    pub fn all(&self) -> impl Iterator<Item = &NotifyCommand> {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.any,
            &self.deleted,
            &self.master_rx_lower_pri,
        ]
        .into_iter()
        .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: Version,
    pub family: Family,
    pub initial_state: InitialState,
    /// Configured (base) priority 1..=255.
    pub priority: u8,
    /// Advertisement interval in centiseconds.
    pub advert_int_cs: u32,
    /// false for `nopreempt`.
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// `auth_type PASS` password bytes (VRRPv2 only).
    pub auth_pass: Option<[u8; AUTH_DATA_LEN]>,
    pub vips: Vec<VipConfig>,
    pub excluded_vips: Vec<VipConfig>,
    pub routes: Vec<RouteConfig>,
    /// `virtual_rules`: added while MASTER, as routes.
    pub rules: Vec<RuleConfig>,
    /// `mcast_src_ip` / `unicast_src_ip`; the interface's primary address otherwise
    /// (filled in by the runner before the state machine starts).
    pub src_addr: Option<IpAddr>,
    /// The multicast group adverts go to and are accepted on (`mcast_dst_ip`,
    /// else `vrrp_mcast_group4`/`6`); `None`: the RFC's group for the family.
    pub mcast_group: Option<IpAddr>,
    /// Adverts go to these instead of the multicast group.
    pub unicast_peers: Vec<UnicastPeer>,
    /// A unicast advert must come from a `unicast_peer`, within its TTL range
    /// (`check_unicast_src`, global `vrrp_check_unicast_src`, or a peer with
    /// `min_ttl` / `max_ttl`).
    pub check_unicast_src: bool,
    /// `unicast_ttl`: IPv4 TTL / IPv6 hop limit of unicast adverts.
    pub unicast_ttl: u8,
    pub garp: GarpConfig,
    pub skip_check_adv_addr: bool,
    /// VRRPv3 IPv4 checksums without the pseudo-header: sent so, and accepted
    /// besides the RFC form (`v3_checksum_as_v2`, instance or global).
    pub v3_checksum_as_v2: bool,
    pub old_unicast_checksum: OldUnicastChecksum,
    pub dont_track_primary: bool,
    /// Master_Down_Interval is this many advert intervals plus skew
    /// (`down_timer_adverts`, default 3 as in the RFCs).
    pub down_timer_adverts: u32,
    /// A master does not answer a lower priority advert (RFC behaviour).
    pub lower_prio_no_advert: bool,
    /// A master sends one more advert before yielding to a higher priority one.
    pub higher_prio_send_advert: bool,
    pub tracks: Vec<TrackConfig>,
    pub notify: NotifyConfig,
    /// `track_src_ip`: FAULT while the source address is missing.
    pub track_src_ip: bool,
    /// `promote_secondaries`: set on the interface while lvsd runs.
    pub promote_secondaries: bool,
    /// In FAULT for as long as it runs, for a configuration reason
    /// (`unicast_fault_no_peer` without peers), as keepalived's config faults.
    pub config_fault: bool,
    /// `no_accept` (or `vrrp_strict`'s default) without owning the addresses:
    /// while master, traffic to and from the VIPs is dropped ([`super::firewall`]).
    pub no_accept: bool,
    /// `notify_deleted`: a reload that removes the instance reports DELETED
    /// (else keepalived's old way: FAULT, unless it is in FAULT already).
    pub notify_deleted: bool,
    /// `notify_priority_changes` (instance, else its sync group, else global):
    /// FIFO lines `MASTER_PRIORITY` / `BACKUP_PRIORITY` when the effective
    /// priority changes.
    pub notify_priority_changes: bool,
    /// `use_vmac`: VIPs and adverts go on a macvlan with the virtual MAC.
    pub vmac: Option<super::vmac::VmacConfig>,
    /// The name prefix of the VIPs' own VMACs (`vmac_addr_prefix`, else
    /// `vmac_prefix`).
    pub own_vmac_prefix: String,
}

impl InstanceConfig {
    /// A minimal instance with keepalived's defaults; tests and translation start here.
    pub fn new(name: &str, interface: &str, vrid: u8, priority: u8) -> InstanceConfig {
        InstanceConfig {
            name: name.to_string(),
            interface: interface.to_string(),
            vrid,
            version: Version::V2,
            family: Family::V4,
            initial_state: InitialState::Backup,
            priority,
            advert_int_cs: 100,
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth_pass: None,
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            src_addr: None,
            mcast_group: None,
            unicast_peers: Vec::new(),
            check_unicast_src: false,
            unicast_ttl: super::packet::VRRP_TTL,
            garp: GarpConfig::default(),
            skip_check_adv_addr: false,
            v3_checksum_as_v2: false,
            old_unicast_checksum: OldUnicastChecksum::Auto,
            dont_track_primary: false,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            tracks: Vec::new(),
            notify: NotifyConfig::default(),
            track_src_ip: false,
            promote_secondaries: false,
            config_fault: false,
            no_accept: false,
            notify_deleted: false,
            notify_priority_changes: false,
            vmac: None,
            own_vmac_prefix: "vrrp".into(),
        }
    }

    /// The multicast group of this instance.
    pub fn group(&self) -> IpAddr {
        self.mcast_group.unwrap_or(match self.family {
            Family::V4 => IpAddr::V4(super::packet::MCAST_V4),
            Family::V6 => IpAddr::V6(super::packet::MCAST_V6),
        })
    }

    /// Where adverts are sent and received: the VMAC unless `vmac_xmit_base`
    /// (keepalived 2.2.7's socket pool), else the instance's interface.
    pub fn advert_interface(&self) -> &str {
        match &self.vmac {
            Some(v) if !v.xmit_base => v.name.as_deref().unwrap_or(&self.interface),
            _ => &self.interface,
        }
    }

    pub fn advert_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.advert_int_cs) * 10)
    }

    /// Whether a VIP (or excluded VIP) sits on an interface other than the
    /// one the instance's own VIPs go on: a `dev` naming another interface,
    /// or, with a VMAC, a VIP of the other family (it stays on the base).
    pub fn has_vip_on_other_interface(&self) -> bool {
        let vmac_name = self.vmac.as_ref().and_then(|v| v.name.as_deref());
        self.vips.iter().chain(&self.excluded_vips).any(|v| {
            let on_own = v.dev.as_ref().is_none_or(|d| *d == self.interface);
            let on_vmac = v.dev.is_some() && v.dev.as_deref() == vmac_name;
            v.options.own_vmac.is_some()
                || (!on_own && !on_vmac)
                || (on_own && self.vmac.is_some() && Family::of(&v.addr) != self.family)
        })
    }

    /// Decides which VIPs go on a VMAC of their own (keepalived 2.2.7's
    /// vrrp_complete_instance): a VIP on another interface with `use_vmac`
    /// or the instance's `use_vmac_addr`; one on the instance's interface
    /// the same, unless the instance's own VMAC takes it (same family).
    /// Their MAC: the instance's `use_vmac` MAC when one was given, else
    /// the RFC's for the VIP's family.
    pub fn place_own_vmacs(&mut self, use_vmac_addr: bool, mac_given: bool) {
        let (interface, family, vrid) = (self.interface.clone(), self.family, self.vrid);
        let instance_vmac = self.vmac.as_ref().map(|v| v.mac);
        for v in self.vips.iter_mut().chain(self.excluded_vips.iter_mut()) {
            let fam = Family::of(&v.addr);
            let on_own = v.dev.as_ref().is_none_or(|d| *d == interface);
            let wanted = if on_own {
                !(instance_vmac.is_some() && fam == family)
                    && (v.options.use_vmac || (use_vmac_addr && fam != family))
            } else {
                v.options.use_vmac || use_vmac_addr
            };
            v.options.own_vmac = wanted.then(|| match instance_vmac {
                Some(mac) if mac_given => mac,
                _ => super::vmac::default_mac(fam, vrid),
            });
        }
    }

    /// Whether some VIP goes on a VMAC of its own.
    pub fn has_own_vmacs(&self) -> bool {
        self.vips
            .iter()
            .chain(&self.excluded_vips)
            .any(|v| v.options.own_vmac.is_some())
    }
}
