//! Thin rtnetlink layer: virtual addresses on and off interfaces, link state
//! and the interface facts the runner needs (index, MAC, primary address).

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::Handle;

use rtnetlink::packet_route::route::{RouteMessage, RouteScope, RouteType};
use rtnetlink::RouteMessageBuilder;

use rtnetlink::packet_route::route::RouteProtocol;
use rtnetlink::packet_route::rule::{
    RuleAction as NlRuleAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use rtnetlink::packet_route::AddressFamily;

use super::config::{RouteConfig, RouteKind, RuleAction, RuleConfig, VipConfig};

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("opening the rtnetlink socket: {0}")]
    Connect(#[source] std::io::Error),
    #[error("interface {0} does not exist")]
    NoSuchInterface(String),
    #[error("{0}")]
    BadRoute(String),
    #[error("{what} on {interface}: {source}")]
    Request {
        what: String,
        interface: String,
        #[source]
        source: rtnetlink::Error,
    },
}

/// Facts about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub mac: Option<[u8; 6]>,
    /// Administratively up and carrier present.
    pub up: bool,
}

/// An rtnetlink connection (its driver task runs on the current tokio runtime).
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    pub fn connect() -> Result<Netlink, NetlinkError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Connect)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn link(&self, name: &str) -> Result<LinkInfo, NetlinkError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        let msg = match links.try_next().await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(NetlinkError::NoSuchInterface(name.to_string())),
            // The kernel answers ENODEV for an unknown name.
            Err(_) => return Err(NetlinkError::NoSuchInterface(name.to_string())),
        };
        let mut mac = None;
        for attr in &msg.attributes {
            if let LinkAttribute::Address(bytes) = attr {
                if let Ok(m) = <[u8; 6]>::try_from(bytes.as_slice()) {
                    mac = Some(m);
                }
            }
        }
        let flags = msg.header.flags;
        Ok(LinkInfo {
            index: msg.header.index,
            mac,
            up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp),
        })
    }

    /// Whether the interface of index `index` is up (administratively and
    /// with carrier); `None` when there is none.
    pub async fn link_up_by_index(&self, index: u32) -> Result<Option<bool>, NetlinkError> {
        let mut links = self.handle.link().get().match_index(index).execute();
        match links.try_next().await {
            Ok(Some(msg)) => {
                let flags = msg.header.flags;
                Ok(Some(
                    flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp),
                ))
            }
            // The kernel answers ENODEV for an unknown index.
            Ok(None) | Err(_) => Ok(None),
        }
    }

    /// Addresses on an interface as (address, prefix length, message).
    async fn addresses(
        &self,
        interface: &str,
        index: u32,
    ) -> Result<Vec<(IpAddr, u8, AddressMessage)>, NetlinkError> {
        let mut out = Vec::new();
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        loop {
            match stream.try_next().await {
                Ok(Some(msg)) => {
                    let addr = msg.attributes.iter().find_map(|a| match a {
                        AddressAttribute::Local(ip) => Some(*ip),
                        _ => None,
                    });
                    let addr = addr.or_else(|| {
                        msg.attributes.iter().find_map(|a| match a {
                            AddressAttribute::Address(ip) => Some(*ip),
                            _ => None,
                        })
                    });
                    if let Some(a) = addr {
                        out.push((a, msg.header.prefix_len, msg));
                    }
                }
                Ok(None) => break,
                Err(source) => {
                    return Err(NetlinkError::Request {
                        what: "listing addresses".into(),
                        interface: interface.to_string(),
                        source,
                    })
                }
            }
        }
        Ok(out)
    }

    /// The first non-secondary address of the family (IPv6: link-local first, as VRRPv3 requires).
    pub async fn primary_address(
        &self,
        interface: &str,
        index: u32,
        v6: bool,
        exclude: &[IpAddr],
    ) -> Result<Option<IpAddr>, NetlinkError> {
        let addrs = self.addresses(interface, index).await?;
        let candidates: Vec<IpAddr> = addrs
            .iter()
            .filter(|(a, _, m)| {
                a.is_ipv6() == v6
                    && !exclude.contains(a)
                    && !m.header.flags.contains(AddressHeaderFlags::Secondary)
            })
            .map(|(a, _, _)| *a)
            .collect();
        if v6 {
            let ll = candidates.iter().find(|a| match a {
                IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
                IpAddr::V4(_) => false,
            });
            return Ok(ll.or(candidates.first()).copied());
        }
        Ok(candidates.first().copied())
    }

    /// Whether `addr` is configured on the interface.
    pub async fn has_address(
        &self,
        interface: &str,
        index: u32,
        addr: IpAddr,
    ) -> Result<bool, NetlinkError> {
        Ok(self
            .addresses(interface, index)
            .await?
            .iter()
            .any(|(a, _, _)| *a == addr))
    }

    /// Add a VIP; an address that is already there counts as added.
    pub async fn add_vip(
        &self,
        interface: &str,
        index: u32,
        vip: &VipConfig,
    ) -> Result<(), NetlinkError> {
        let mut req = self
            .handle
            .address()
            .add(index, vip.addr, vip.prefix_len)
            .replace();
        let msg = req.message_mut();
        msg.attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(IpAddr::V4(brd)) = vip.brd {
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        if let Some(label) = &vip.label {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
        if let Some(scope) = vip.scope {
            msg.header.scope = AddressScope::from(scope);
        }
        let o = &vip.options;
        if let Some(peer) = o.peer {
            // ip addr add LOCAL peer PEER: IFA_ADDRESS names the other end.
            for a in &mut msg.attributes {
                if let AddressAttribute::Address(x) = a {
                    *x = peer;
                }
            }
        }
        let mut flags = AddressFlags::empty();
        // A VIP must answer at once after failover; DAD would hold it tentative
        // (unless `-nodad` asks for DAD).
        if vip.addr.is_ipv6() && !o.dad {
            msg.header.flags |= AddressHeaderFlags::Nodad;
            flags |= AddressFlags::Nodad;
        }
        if o.home {
            msg.header.flags |= AddressHeaderFlags::Homeaddress;
            flags |= AddressFlags::Homeaddress;
        }
        for (set, flag) in [
            (o.mngtmpaddr, AddressFlags::Managetempaddr),
            (o.noprefixroute, AddressFlags::Noprefixroute),
            (o.autojoin, AddressFlags::Mcautojoin),
        ] {
            if set {
                flags |= flag;
            }
        }
        if !flags.is_empty() {
            // The flags past the header's 8 bits travel in IFA_FLAGS.
            msg.attributes.push(AddressAttribute::Flags(flags));
        }
        if let Some(preferred) = o.preferred_lft {
            let mut info = CacheInfo::default();
            info.ifa_preferred = preferred;
            info.ifa_valid = u32::MAX;
            msg.attributes.push(AddressAttribute::CacheInfo(info));
        }
        req.execute().await.map_err(|source| NetlinkError::Request {
            what: format!("adding {}/{}", vip.addr, vip.prefix_len),
            interface: interface.to_string(),
            source,
        })
    }

    /// Remove a VIP if present.
    pub async fn remove_vip(
        &self,
        interface: &str,
        index: u32,
        vip: &VipConfig,
    ) -> Result<bool, NetlinkError> {
        let addrs = self.addresses(interface, index).await?;
        let mut removed = false;
        for (a, _, msg) in addrs {
            if a == vip.addr {
                self.handle
                    .address()
                    .del(msg)
                    .execute()
                    .await
                    .map_err(|source| NetlinkError::Request {
                        what: format!("removing {}", vip.addr),
                        interface: interface.to_string(),
                        source,
                    })?;
                removed = true;
            }
        }
        Ok(removed)
    }
}

impl Netlink {
    /// The rtnetlink message for a `virtual_routes` entry; `ifindex` is its
    /// device (the instance's interface unless the route names one).
    fn route_message(
        &self,
        route: &RouteConfig,
        ifindex: Option<u32>,
    ) -> Result<RouteMessage, String> {
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(route.dst, route.prefix_len)
            .map_err(|e| e.to_string())?;
        if let Some(via) = route.via {
            b = b.gateway(via).map_err(|e| e.to_string())?;
        }
        if let Some(src) = route.src {
            b = b.pref_source(src).map_err(|e| e.to_string())?;
        }
        if let Some(idx) = ifindex.filter(|_| route.kind.has_device()) {
            b = b.output_interface(idx);
        }
        if let Some(t) = route.table {
            b = b.table_id(t);
        }
        if let Some(m) = route.metric {
            b = b.priority(m);
        }
        let kind = match route.kind {
            RouteKind::Unicast => RouteType::Unicast,
            RouteKind::Blackhole => RouteType::BlackHole,
            RouteKind::Unreachable => RouteType::Unreachable,
            RouteKind::Prohibit => RouteType::Prohibit,
            RouteKind::Local => RouteType::Local,
            RouteKind::Broadcast => RouteType::Broadcast,
            RouteKind::Anycast => RouteType::Anycast,
            RouteKind::Multicast => RouteType::Multicast,
            RouteKind::Throw => RouteType::Throw,
            RouteKind::Nat => RouteType::Nat,
            RouteKind::Xresolve => RouteType::ExternalResolve,
        };
        b = b.kind(kind);
        // `ip route`'s default scopes: host for local (and nat) routes, link for
        // broadcast, anycast, multicast and a directly connected unicast route.
        let scope = match (route.scope, route.via, route.kind) {
            (Some(s), _, _) => RouteScope::from(s),
            (None, _, RouteKind::Local | RouteKind::Nat) => RouteScope::Host,
            (None, _, RouteKind::Broadcast | RouteKind::Anycast | RouteKind::Multicast) => {
                RouteScope::Link
            }
            (None, None, RouteKind::Unicast) => RouteScope::Link,
            _ => RouteScope::Universe,
        };
        // keepalived marks its routes as its own (RTPROT_KEEPALIVED, 18).
        let mut msg = b.scope(scope).build();
        msg.header.protocol = RouteProtocol::from(RTPROT_KEEPALIVED);
        Ok(msg)
    }

    pub async fn add_route(
        &self,
        route: &RouteConfig,
        ifindex: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let what = format!("adding route to {}/{}", route.dst, route.prefix_len);
        let msg = self
            .route_message(route, ifindex)
            .map_err(|e| NetlinkError::BadRoute(format!("{what}: {e}")))?;
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what,
                interface: route.dev.clone().unwrap_or_default(),
                source,
            })
    }

    pub async fn remove_route(
        &self,
        route: &RouteConfig,
        ifindex: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let what = format!("removing route to {}/{}", route.dst, route.prefix_len);
        let msg = self
            .route_message(route, ifindex)
            .map_err(|e| NetlinkError::BadRoute(format!("{what}: {e}")))?;
        self.handle
            .route()
            .del(msg)
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what,
                interface: route.dev.clone().unwrap_or_default(),
                source,
            })
    }
}

/// `rtnetlink`'s protocol number for keepalived (iproute2's rt_protos "keepalived").
pub const RTPROT_KEEPALIVED: u8 = 18;

/// The rtnetlink message for an ip rule, as keepalived 2.2.7 builds it (vrrp_iprule.c).
pub fn rule_message(rule: &RuleConfig) -> RuleMessage {
    let mut m = RuleMessage::default();
    let h = &mut m.header;
    h.family = if rule.v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    h.tos = rule.tos;
    if rule.invert {
        h.flags |= RuleFlags::Invert;
    }
    let a = &mut m.attributes;
    h.action = match rule.action {
        RuleAction::Table(t) => {
            // Small table numbers travel in the header, larger ones as FRA_TABLE.
            match u8::try_from(t) {
                Ok(t) => h.table = t,
                Err(_) => a.push(RuleAttribute::Table(t)),
            }
            NlRuleAction::ToTable
        }
        RuleAction::L3mdev => {
            a.push(RuleAttribute::L3MDev(true));
            NlRuleAction::ToTable
        }
        RuleAction::Goto(target) => {
            a.push(RuleAttribute::Goto(target));
            NlRuleAction::Goto
        }
        RuleAction::Nop => NlRuleAction::Nop,
        RuleAction::Blackhole => NlRuleAction::Blackhole,
        RuleAction::Unreachable => NlRuleAction::Unreachable,
        RuleAction::Prohibit => NlRuleAction::Prohibit,
    };
    if let Some((addr, len)) = rule.from {
        a.push(RuleAttribute::Source(addr));
        h.src_len = len;
    }
    if let Some((addr, len)) = rule.to {
        a.push(RuleAttribute::Destination(addr));
        h.dst_len = len;
    }
    a.push(RuleAttribute::Priority(rule.priority));
    if let Some((mark, mask)) = rule.fwmark {
        a.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            a.push(RuleAttribute::FwMask(mask));
        }
    }
    if let Some(n) = rule.suppress_prefixlen {
        a.push(RuleAttribute::SuppressPrefixLen(n));
    }
    if let Some(g) = rule.suppress_ifgroup {
        a.push(RuleAttribute::SuppressIfGroup(g));
    }
    if let Some(i) = &rule.iif {
        a.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &rule.oif {
        a.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some((start, end)) = rule.uid_range {
        a.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if let Some(p) = rule.protocol {
        a.push(RuleAttribute::Protocol(RouteProtocol::from(p)));
    }
    if let Some(p) = rule.ip_proto {
        a.push(RuleAttribute::IpProtocol(p.into()));
    }
    if let Some((start, end)) = rule.sport {
        a.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = rule.dport {
        a.push(RuleAttribute::DestinationPortRange(RulePortRange {
            start,
            end,
        }));
    }
    m
}

/// How a rule is named in logs: `pref N from ... to ...`.
pub fn rule_name(rule: &RuleConfig) -> String {
    let addr = |x: Option<(IpAddr, u8)>| match x {
        Some((a, l)) => format!("{a}/{l}"),
        None => "all".into(),
    };
    format!(
        "rule pref {} from {} to {}",
        rule.priority,
        addr(rule.from),
        addr(rule.to)
    )
}

impl Netlink {
    /// Add an ip rule; one that is already there counts as added.
    pub async fn add_rule(&self, rule: &RuleConfig) -> Result<(), NetlinkError> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = rule_message(rule);
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -nix::libc::EEXIST => Ok(()),
            Err(source) => Err(NetlinkError::Request {
                what: format!("adding {}", rule_name(rule)),
                interface: rule.iif.clone().unwrap_or_default(),
                source,
            }),
        }
    }

    pub async fn remove_rule(&self, rule: &RuleConfig) -> Result<(), NetlinkError> {
        self.handle
            .rule()
            .del(rule_message(rule))
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what: format!("removing {}", rule_name(rule)),
                interface: rule.iif.clone().unwrap_or_default(),
                source,
            })
    }
}

/// VMAC links (`use_vmac`): a private-mode macvlan per instance.
impl Netlink {
    /// Every interface, with what [`super::vmac::plan`] needs to know.
    pub async fn vmac_links(&self) -> Result<Vec<super::vmac::ExistingLink>, NetlinkError> {
        use rtnetlink::packet_route::link::{
            InfoData, InfoKind, InfoMacVlan, LinkInfo as Info, MacVlanMode,
        };
        let mut out = Vec::new();
        let mut links = self.handle.link().get().execute();
        loop {
            let msg = match links.try_next().await {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(source) => {
                    return Err(NetlinkError::Request {
                        what: "listing interfaces".into(),
                        interface: "all".into(),
                        source,
                    })
                }
            };
            let (mut name, mut mac, mut lower, mut macvlan, mut private) =
                (String::new(), None, None, false, false);
            for attr in &msg.attributes {
                match attr {
                    LinkAttribute::IfName(n) => name = n.clone(),
                    LinkAttribute::Address(b) => mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
                    LinkAttribute::Link(l) => lower = Some(*l),
                    LinkAttribute::LinkInfo(infos) => {
                        for i in infos {
                            match i {
                                Info::Kind(InfoKind::MacVlan) => macvlan = true,
                                Info::Data(InfoData::MacVlan(d)) => {
                                    private |= d.contains(&InfoMacVlan::Mode(MacVlanMode::Private))
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            out.push(super::vmac::ExistingLink {
                name,
                index: msg.header.index,
                mac,
                macvlan: macvlan.then_some((lower.unwrap_or(0), private)),
            });
        }
        Ok(out)
    }

    /// Creates the private macvlan `name` on `base` with `mac`, down (it is brought up
    /// once its settings are in place).
    pub async fn create_vmac(
        &self,
        name: &str,
        base: u32,
        mac: [u8; 6],
    ) -> Result<(), NetlinkError> {
        use rtnetlink::packet_route::link::MacVlanMode;
        let msg = rtnetlink::LinkMacVlan::new(name, base, MacVlanMode::Private)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what: "creating VMAC".into(),
                interface: name.to_string(),
                source,
            })
    }

    /// Puts an existing macvlan in private mode with `mac`.
    pub async fn update_vmac(
        &self,
        name: &str,
        index: u32,
        mac: [u8; 6],
    ) -> Result<(), NetlinkError> {
        use rtnetlink::packet_route::link::MacVlanMode;
        let msg = rtnetlink::LinkMessageBuilder::<rtnetlink::LinkMacVlan>::new(name)
            .index(index)
            .mode(MacVlanMode::Private)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what: "updating VMAC".into(),
                interface: name.to_string(),
                source,
            })
    }

    pub async fn set_link_up(&self, name: &str, index: u32) -> Result<(), NetlinkError> {
        let msg = rtnetlink::LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what: "setting up".into(),
                interface: name.to_string(),
                source,
            })
    }

    pub async fn delete_link(&self, name: &str, index: u32) -> Result<(), NetlinkError> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what: "deleting".into(),
                interface: name.to_string(),
                source,
            })
    }
}
