//! Routes and rules deleted behind lvsd's back. keepalived 2.2.7 watches
//! the kernel's route and rule deletions: a master whose tracked virtual
//! route or rule is deleted leaves MASTER and takes over again after
//! Skew_Time (which puts it back), and a deleted static route or rule is
//! put back at once. The keys and the matching are pure; `watch` is the
//! thin netlink part.
//!
//! Deletions are announced, not asked for: when the watching socket
//! overruns (the kernel had more to say than its buffer held, e.g. under a
//! burst of route changes or while lvsd was stopped) some deletions are
//! lost. Then the watcher lists every route and rule, and whatever lvsd
//! expects but the list lacks is handled as a deletion ([`Present`]).

use std::net::IpAddr;

use futures::StreamExt;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::packet_route::rule::{RuleAttribute, RuleMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::sync::mpsc;

use super::config::{RouteConfig, RuleConfig};

/// The main table, where a route without `table` goes.
const MAIN_TABLE: u32 = 254;
/// keepalived's route/rule protocol (RTPROT_KEEPALIVED), which lvsd uses too.
const PROTO_KEEPALIVED: u8 = 18;
/// rtnetlink multicast groups (RTNLGRP_IPV4_RULE = 8, RTNLGRP_IPV6_RULE = 19).
const RTMGRP_IPV4_RULE: u32 = 1 << 7;
const RTMGRP_IPV6_RULE: u32 = 1 << 18;

/// The fields that identify a route or a rule in the kernel's tables: what a
/// deletion names, and what a listing holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelKey {
    Route {
        dst: IpAddr,
        prefix_len: u8,
        table: u32,
        metric: Option<u32>,
    },
    Rule {
        v6: bool,
        priority: u32,
        protocol: Option<u8>,
    },
}

/// What the watcher reports: a deletion, or after lost messages the keys
/// of every route and rule there now is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    Deleted(KernelKey),
    Resync(Present),
}

/// The keys of every route and rule in the kernel (a listing made after
/// the watching socket overran).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Present {
    pub keys: Vec<KernelKey>,
}

impl Present {
    /// The deletion to act on for `route` if the listing lacks it.
    pub fn missing_route(&self, route: &RouteConfig) -> Option<KernelKey> {
        (!self.keys.iter().any(|k| k.is_route(route))).then(|| KernelKey::of_route_config(route))
    }

    /// The deletion to act on for a tracked `rule` the listing lacks
    /// (untracked ones, not of keepalived's protocol, are not watched).
    pub fn missing_rule(&self, rule: &RuleConfig) -> Option<KernelKey> {
        let gone = KernelKey::of_rule_config(rule);
        (gone.is_rule(rule) && !self.keys.iter().any(|k| k.is_rule(rule))).then_some(gone)
    }
}

impl KernelKey {
    /// The key `route` has in the kernel.
    pub fn of_route_config(route: &RouteConfig) -> KernelKey {
        KernelKey::Route {
            dst: route.dst,
            prefix_len: route.prefix_len,
            table: route.table.unwrap_or(MAIN_TABLE),
            metric: route.metric,
        }
    }

    /// The key `rule` has in the kernel.
    pub fn of_rule_config(rule: &RuleConfig) -> KernelKey {
        KernelKey::Rule {
            v6: rule.v6,
            priority: rule.priority,
            protocol: rule.protocol,
        }
    }

    /// Whether this deletion removed `route` (destination, table and, when
    /// configured, metric: the kernel's own key).
    pub fn is_route(&self, route: &RouteConfig) -> bool {
        match self {
            KernelKey::Route {
                dst,
                prefix_len,
                table,
                metric,
            } => {
                *dst == route.dst
                    && *prefix_len == route.prefix_len
                    && *table == route.table.unwrap_or(MAIN_TABLE)
                    && route.metric.is_none_or(|m| Some(m) == *metric)
            }
            KernelKey::Rule { .. } => false,
        }
    }

    /// Whether this deletion removed `rule`: one of keepalived's protocol
    /// (a tracked rule) of the same family and preference.
    pub fn is_rule(&self, rule: &RuleConfig) -> bool {
        match self {
            KernelKey::Rule {
                v6,
                priority,
                protocol,
            } => {
                *v6 == rule.v6
                    && *priority == rule.priority
                    && rule.protocol == Some(PROTO_KEEPALIVED)
                    && protocol.is_none_or(|p| p == PROTO_KEEPALIVED)
            }
            KernelKey::Route { .. } => false,
        }
    }

    pub fn of_route(m: &RouteMessage) -> Option<KernelKey> {
        let mut dst = None;
        let mut table = u32::from(m.header.table);
        let mut metric = None;
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(RouteAddress::Inet(v4)) => dst = Some(IpAddr::V4(*v4)),
                RouteAttribute::Destination(RouteAddress::Inet6(v6)) => dst = Some(IpAddr::V6(*v6)),
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Priority(p) => metric = Some(*p),
                _ => {}
            }
        }
        let dst = dst.or(match m.header.address_family {
            AddressFamily::Inet => Some(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            AddressFamily::Inet6 => Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
            _ => None,
        })?;
        Some(KernelKey::Route {
            dst,
            prefix_len: m.header.destination_prefix_length,
            table,
            metric,
        })
    }

    pub fn of_rule(m: &RuleMessage) -> Option<KernelKey> {
        let v6 = match m.header.family {
            AddressFamily::Inet => false,
            AddressFamily::Inet6 => true,
            _ => return None,
        };
        let mut priority = 0;
        let mut protocol = None;
        for a in &m.attributes {
            match a {
                RuleAttribute::Priority(p) => priority = *p,
                RuleAttribute::Protocol(p) => protocol = Some(u8::from(*p)),
                _ => {}
            }
        }
        Some(KernelKey::Rule {
            v6,
            priority,
            protocol,
        })
    }
}

/// Every route and rule there is now, as keys.
async fn list_present(handle: &rtnetlink::Handle) -> Result<Present, rtnetlink::Error> {
    use futures::TryStreamExt;
    use rtnetlink::IpVersion;
    let mut keys = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family;
        let mut routes = handle.route().get(msg).execute();
        while let Some(m) = routes.try_next().await? {
            keys.extend(KernelKey::of_route(&m));
        }
    }
    for version in [IpVersion::V4, IpVersion::V6] {
        let mut rules = handle.rule().get(version).execute();
        while let Some(m) = rules.try_next().await? {
            keys.extend(KernelKey::of_rule(&m));
        }
    }
    Ok(Present { keys })
}

/// What one message from the kernel means for the watcher: a deletion, a
/// sign that messages were lost (an overrun), or nothing.
pub fn classify(payload: &NetlinkPayload<RouteNetlinkMessage>) -> Option<Option<KernelKey>> {
    match payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(m)) => {
            KernelKey::of_route(m).map(Some)
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRule(m)) => {
            KernelKey::of_rule(m).map(Some)
        }
        NetlinkPayload::Overrun(_) => Some(None),
        _ => None,
    }
}

/// Sends every route and rule deletion the kernel announces, and after
/// lost messages the full listing, until the receiver is gone. Without a
/// netlink socket it logs and returns (nothing is then put back).
pub async fn watch(tx: mpsc::Sender<Watched>) {
    use rtnetlink::constants::{RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE};
    use rtnetlink::sys::{AsyncSocket, SocketAddr};
    let (mut conn, handle, mut changes) = match rtnetlink::new_connection() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("no rtnetlink socket to watch routes and rules: {e}");
            return;
        }
    };
    let groups = SocketAddr::new(
        0,
        RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_RULE | RTMGRP_IPV6_RULE,
    );
    if let Err(e) = conn.socket_mut().socket_mut().bind(&groups) {
        tracing::error!("cannot watch route and rule changes: {e}");
        return;
    }
    tokio::spawn(conn);
    while let Some((msg, _)) = changes.next().await {
        let watched = match classify(&msg.payload) {
            None => continue,
            Some(Some(deleted)) => Watched::Deleted(deleted),
            Some(None) => {
                // Several overrun markers can queue up; one listing covers them.
                while let Ok(Some(_)) =
                    tokio::time::timeout(std::time::Duration::ZERO, changes.next()).await
                {
                }
                match list_present(&handle).await {
                    Ok(present) => {
                        tracing::warn!(
                            "route watch: kernel messages lost (socket overrun); \
                             listed {} routes and rules to find deletions missed",
                            present.keys.len()
                        );
                        Watched::Resync(present)
                    }
                    Err(e) => {
                        tracing::error!(
                            "route watch: kernel messages lost (socket overrun) and listing \
                             the routes failed: {e}"
                        );
                        continue;
                    }
                }
            }
        };
        if tx.send(watched).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::config::{RouteKind, RuleAction};

    fn route(dst: &str, len: u8, table: Option<u32>, metric: Option<u32>) -> RouteConfig {
        RouteConfig {
            kind: RouteKind::Unicast,
            dst: dst.parse().expect("addr"),
            prefix_len: len,
            via: None,
            dev: None,
            src: None,
            table,
            metric,
            scope: None,
            no_track: false,
        }
    }

    /// A rule of table 100 with `priority` and `protocol`, nothing else set.
    fn rule(priority: u32, protocol: Option<u8>) -> RuleConfig {
        RuleConfig {
            v6: false,
            from: None,
            to: None,
            invert: false,
            priority,
            tos: 0,
            fwmark: None,
            iif: None,
            oif: None,
            suppress_prefixlen: None,
            suppress_ifgroup: None,
            uid_range: None,
            protocol,
            ip_proto: None,
            sport: None,
            dport: None,
            action: RuleAction::Table(100),
        }
    }

    #[test]
    fn a_deleted_route_is_matched_by_the_kernels_key() {
        let gone = KernelKey::Route {
            dst: "10.8.0.0".parse().expect("addr"),
            prefix_len: 16,
            table: 254,
            metric: Some(5),
        };
        assert!(gone.is_route(&route("10.8.0.0", 16, None, None)));
        assert!(gone.is_route(&route("10.8.0.0", 16, Some(254), Some(5))));
        assert!(!gone.is_route(&route("10.8.0.0", 16, Some(100), None)));
        assert!(!gone.is_route(&route("10.8.0.0", 24, None, None)));
        assert!(!gone.is_route(&route("10.8.0.0", 16, None, Some(6))));
    }

    #[test]
    fn a_deleted_rule_is_ours_only_with_keepalived_protocol() {
        let rule = |protocol| rule(100, protocol);
        let gone = KernelKey::Rule {
            v6: false,
            priority: 100,
            protocol: Some(18),
        };
        assert!(gone.is_rule(&rule(Some(18))));
        // `no_track`: not keepalived's protocol, not watched.
        assert!(!gone.is_rule(&rule(None)));
        let other = KernelKey::Rule {
            v6: false,
            priority: 100,
            protocol: Some(4),
        };
        assert!(!other.is_rule(&rule(Some(18))));
    }

    #[test]
    fn after_an_overrun_what_the_listing_lacks_is_a_deletion() {
        let here = route("10.8.0.0", 16, Some(100), None);
        let gone = route("10.9.0.0", 16, None, Some(7));
        let present = Present {
            keys: vec![
                KernelKey::Route {
                    dst: "10.8.0.0".parse().expect("addr"),
                    prefix_len: 16,
                    table: 100,
                    metric: Some(3),
                },
                // Same destination, other metric: not the configured route.
                KernelKey::Route {
                    dst: "10.9.0.0".parse().expect("addr"),
                    prefix_len: 16,
                    table: 254,
                    metric: Some(8),
                },
                KernelKey::Rule {
                    v6: false,
                    priority: 100,
                    protocol: Some(18),
                },
            ],
        };
        assert_eq!(present.missing_route(&here), None);
        assert_eq!(
            present.missing_route(&gone),
            Some(KernelKey::Route {
                dst: "10.9.0.0".parse().expect("addr"),
                prefix_len: 16,
                table: 254,
                metric: Some(7),
            })
        );

        assert_eq!(present.missing_rule(&rule(100, Some(18))), None);
        assert!(present.missing_rule(&rule(101, Some(18))).is_some());
        // An untracked rule is not watched, listed or not.
        assert_eq!(present.missing_rule(&rule(101, None)), None);
    }

    #[test]
    fn an_overrun_message_asks_for_a_listing() {
        use rtnetlink::packet_core::NetlinkPayload;
        assert_eq!(classify(&NetlinkPayload::Overrun(Vec::new())), Some(None));
        assert_eq!(classify(&NetlinkPayload::Noop), None);
    }
}
