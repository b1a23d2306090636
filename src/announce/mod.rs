//! Route announcement for N active directors (issue #17): while a VIP is
//! healthy here, lvsd keeps a host route for it (`V/32 dev lo`) in a kernel
//! table of its own, marked with its own protocol number; a routing daemon
//! (BIRD: `protocol kernel { kernel table N; learn; ... krt_source = P }`)
//! announces what is there over BGP. No `ip rule` points at the table, so
//! forwarding on the director is unchanged. lvsd speaks no BGP itself.
//!
//! [`plan`] decides which VIPs are healthy (pure); [`routes`] reads and
//! writes the table; [`announcer`] is the event subscriber that ties them
//! to the director's quorum events and the daemon's start and stop.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::model;

pub mod announcer;
pub mod plan;
pub mod routes;

pub use model::AnnouncePolicy;

/// What `route_announce` and the `announce` keywords make of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceConfig {
    pub table: u32,
    pub protocol: u8,
    pub policy: AnnouncePolicy,
    /// After the first table: the first checks' time before announcing.
    pub startup_delay: Duration,
    pub drain_delay: Duration,
    pub withdraw_on_exit: bool,
    pub sloppy_tcp: bool,
    /// Each VIP and the virtual servers (the director's names) gating it.
    pub gates: BTreeMap<IpAddr, Vec<Arc<str>>>,
}

/// The announce settings of a config, if it has `route_announce`. The
/// virtual servers saying `announce` gate their address; with none saying
/// it, every virtual server with an address does. fwmark and group virtual
/// servers have no single address and gate nothing (check-config says so).
pub fn translate(cfg: &model::Config) -> Option<AnnounceConfig> {
    let r = cfg.route_announce.as_ref()?;
    let any_marked = cfg.virtual_servers.iter().any(|v| v.announce);
    let mut gates: BTreeMap<IpAddr, Vec<Arc<str>>> = BTreeMap::new();
    let mut longest_delay_loop = Duration::ZERO;
    for vs in &cfg.virtual_servers {
        if any_marked && !vs.announce {
            continue;
        }
        let model::VirtualServerKey::Address { ip, .. } = vs.key else {
            continue;
        };
        longest_delay_loop = longest_delay_loop.max(vs.delay_loop);
        let name: Arc<str> = crate::director::spec::virtual_server_name(vs).into();
        gates.entry(ip).or_default().push(name);
    }
    Some(AnnounceConfig {
        table: r.table,
        protocol: r.protocol,
        policy: r.policy,
        startup_delay: r.startup_delay.unwrap_or(longest_delay_loop),
        drain_delay: r.drain_delay,
        withdraw_on_exit: r.withdraw_on_exit,
        sloppy_tcp: r.sloppy_tcp,
        gates,
    })
}
