//! Routes and rules deleted behind lvsd's back. keepalived 2.2.7 watches
//! the kernel's route and rule deletions: a master whose tracked virtual
//! route or rule is deleted leaves MASTER and takes over again after
//! Skew_Time (which puts it back), and a deleted static route or rule is
//! put back at once. The keys and the matching are pure; `watch` is the
//! thin netlink part.

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

/// What the kernel says was deleted: the fields that identify a route or a
/// rule in its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
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

impl Deleted {
    /// Whether this deletion removed `route` (destination, table and, when
    /// configured, metric: the kernel's own key).
    pub fn is_route(&self, route: &RouteConfig) -> bool {
        match self {
            Deleted::Route {
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
            Deleted::Rule { .. } => false,
        }
    }

    /// Whether this deletion removed `rule`: one of keepalived's protocol
    /// (a tracked rule) of the same family and preference.
    pub fn is_rule(&self, rule: &RuleConfig) -> bool {
        match self {
            Deleted::Rule {
                v6,
                priority,
                protocol,
            } => {
                *v6 == rule.v6
                    && *priority == rule.priority
                    && rule.protocol == Some(PROTO_KEEPALIVED)
                    && protocol.is_none_or(|p| p == PROTO_KEEPALIVED)
            }
            Deleted::Route { .. } => false,
        }
    }

    pub fn of_route(m: &RouteMessage) -> Option<Deleted> {
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
        Some(Deleted::Route {
            dst,
            prefix_len: m.header.destination_prefix_length,
            table,
            metric,
        })
    }

    pub fn of_rule(m: &RuleMessage) -> Option<Deleted> {
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
        Some(Deleted::Rule {
            v6,
            priority,
            protocol,
        })
    }
}

/// Sends every route and rule deletion the kernel announces until the
/// receiver is gone. Without a netlink socket it logs and returns (nothing
/// is then put back).
pub async fn watch(tx: mpsc::Sender<Deleted>) {
    use rtnetlink::constants::{RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE};
    use rtnetlink::sys::{AsyncSocket, SocketAddr};
    let (mut conn, _handle, mut changes) = match rtnetlink::new_connection() {
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
        let deleted = match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(m)) => Deleted::of_route(&m),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRule(m)) => Deleted::of_rule(&m),
            _ => None,
        };
        if let Some(d) = deleted {
            if tx.send(d).await.is_err() {
                return;
            }
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

    #[test]
    fn a_deleted_route_is_matched_by_the_kernels_key() {
        let gone = Deleted::Route {
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
        let rule = |protocol| RuleConfig {
            v6: false,
            from: None,
            to: None,
            invert: false,
            priority: 100,
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
        };
        let gone = Deleted::Rule {
            v6: false,
            priority: 100,
            protocol: Some(18),
        };
        assert!(gone.is_rule(&rule(Some(18))));
        // `no_track`: not keepalived's protocol, not watched.
        assert!(!gone.is_rule(&rule(None)));
        let other = Deleted::Rule {
            v6: false,
            priority: 100,
            protocol: Some(4),
        };
        assert!(!other.is_rule(&rule(Some(18))));
    }
}
