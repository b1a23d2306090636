//! keepalived's VMAC (`use_vmac`): a private-mode macvlan on the instance's
//! interface carrying the VRRP virtual MAC, holding the VIPs and sending the
//! adverts. The decisions (name, MAC, what an existing interface means, which
//! sysctls) are plain functions here; the runner carries them out over
//! rtnetlink and /proc/sys.
#![forbid(unsafe_code)]

use super::packet::Family;

/// Longest interface name the kernel takes (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// What the translation knows of an instance's VMAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacConfig {
    /// `use_vmac NAME`; `None`: `PREFIX.VRID` (see [`choose_name`]).
    pub name: Option<String>,
    /// Global `vmac_prefix` (default `vrrp`).
    pub prefix: String,
    /// The MAC the macvlan gets ([`default_mac`] unless `use_vmac` gives one).
    pub mac: [u8; 6],
    /// `vmac_xmit_base`: adverts leave from the base interface.
    pub xmit_base: bool,
}

/// RFC 5798's virtual router MAC: 00:00:5e:00:01:VRID (IPv4), 00:00:5e:00:02:VRID (IPv6).
pub fn default_mac(family: Family, vrid: u8) -> [u8; 6] {
    let kind = match family {
        Family::V4 => 0x01,
        Family::V6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid]
}

/// Why a `use_vmac` MAC is not taken (keepalived logs it and uses the RFC MAC).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    #[error("invalid MAC address {0}")]
    Invalid(String),
    #[error("MAC address {0} is multicast")]
    Multicast(String),
    #[error("MAC address {0} is an RFC 5798 VRRP address")]
    Rfc(String),
}

/// A `use_vmac` MAC: six hex octets, or five (the VRID is the sixth), as keepalived reads it.
pub fn parse_mac(text: &str, vrid: u8) -> Result<[u8; 6], MacError> {
    let bad = || MacError::Invalid(text.to_string());
    let trimmed = text.strip_suffix(':').unwrap_or(text);
    let parts: Vec<&str> = trimmed.split(':').collect();
    if parts.len() != 5 && parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if parts.len() == 5 {
        mac[5] = vrid;
    }
    if mac[0] & 1 != 0 {
        return Err(MacError::Multicast(text.to_string()));
    }
    if mac[..4] == [0x00, 0x00, 0x5e, 0x00] && matches!(mac[4], 1 | 2) {
        return Err(MacError::Rfc(text.to_string()));
    }
    Ok(mac)
}

/// `PREFIX[NUM].VRID`, the prefix shortened so the name fits IFNAMSIZ.
fn ifname(prefix: &str, num: Option<u32>, vrid: u8) -> String {
    let tail = match num {
        Some(n) => format!("{n}.{vrid}"),
        None => format!(".{vrid}"),
    };
    let keep = IFNAME_MAX.saturating_sub(tail.len());
    let prefix: String = prefix.chars().take(keep).collect();
    format!("{prefix}{tail}")
}

/// keepalived's generated name: `PREFIX.VRID`, and while that is taken (by an
/// interface or another instance's VMAC), `PREFIX1.VRID`, `PREFIX2.VRID`, ...
/// (IPv6 tries `PREFIX6.VRID` second and skips 6 later).
pub fn choose_name(prefix: &str, vrid: u8, family: Family, taken: impl Fn(&str) -> bool) -> String {
    let mut num: Option<u32> = None;
    loop {
        let name = ifname(prefix, num, vrid);
        if !taken(&name) || num.is_some_and(|n| n > 9999) {
            return name;
        }
        num = Some(match (family, num) {
            (Family::V6, None) => 6,
            (Family::V6, Some(6)) => 1,
            (Family::V6, Some(5)) => 7,
            (_, None) => 1,
            (_, Some(n)) => n + 1,
        });
    }
}

/// An interface that exists already, as the VMAC logic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingLink {
    pub name: String,
    pub index: u32,
    pub mac: Option<[u8; 6]>,
    /// For a macvlan: (its lower interface's index, private mode?).
    pub macvlan: Option<(u32, bool)>,
}

/// What to do about the VMAC at start or reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmacPlan {
    /// Create a macvlan with this name.
    Create(String),
    /// A private macvlan on the base interface with our MAC exists: use it
    /// as it is (keepalived adopts it whatever its name).
    Adopt(String),
    /// The named macvlan is on the base but has another MAC or mode: change those.
    Update(String),
    /// The named macvlan hangs off another interface: delete it, then create.
    Replace(String),
}

/// keepalived 2.2.7's choice (vrrp_complete_instance, netlink_link_add_vmac):
/// adopt any matching private macvlan; else use the configured name (anything
/// but a private macvlan of that name makes it fall back to a generated name) or
/// a generated one that no interface has; an existing private macvlan of the
/// configured name is given our MAC (on the base) or replaced (elsewhere).
/// `reserved` holds the names other instances' VMACs use.
pub fn plan(
    cfg: &VmacConfig,
    vrid: u8,
    family: Family,
    base_index: u32,
    links: &[ExistingLink],
    reserved: &[String],
) -> VmacPlan {
    if let Some(l) = links.iter().find(|l| {
        l.macvlan == Some((base_index, true))
            && l.mac == Some(cfg.mac)
            && !reserved.contains(&l.name)
    }) {
        return VmacPlan::Adopt(l.name.clone());
    }
    let by_name = |n: &str| links.iter().find(|l| l.name == n);
    let name = match &cfg.name {
        Some(n)
            if by_name(n).is_none_or(|l| l.macvlan.is_some_and(|(_, private)| private))
                && !reserved.contains(n) =>
        {
            n.clone()
        }
        _ => choose_name(&cfg.prefix, vrid, family, |n| {
            by_name(n).is_some() || reserved.iter().any(|r| r == n)
        }),
    };
    match by_name(&name).and_then(|l| l.macvlan) {
        Some((lower, _)) if lower == base_index => VmacPlan::Update(name),
        Some(_) => VmacPlan::Replace(name),
        None => VmacPlan::Create(name),
    }
}

/// The IPv4 settings keepalived gives the VMAC (`net.ipv4.conf.VMAC.*`), so
/// that it answers ARP only for its own addresses and accepts what the base
/// interface also sees.
pub const VMAC_SYSCTLS: [(&str, u32); 4] = [
    ("arp_ignore", 1),
    ("accept_local", 1),
    ("rp_filter", 0),
    ("promote_secondaries", 1),
];

/// The settings keepalived gives the base interface while a VMAC uses it, so
/// that the base does not answer ARP for the VIPs with its own MAC. The values
/// before are put back when its last VMAC goes.
pub const BASE_SYSCTLS: [(&str, u32); 2] = [("arp_ignore", 1), ("arp_filter", 1)];

/// keepalived's way to let a VMAC's `rp_filter=0` count while
/// `net.ipv4.conf.all.rp_filter` is set (the kernel uses the higher of `all` and
/// the interface's): raise `default` and every interface to `all`'s value, then set
/// `all` to 0. `None` when `all` is 0 already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpFilterPlan {
    /// `all`'s value before.
    pub all: u32,
    /// (`default` or an interface, its value before), for those raised to `all`.
    pub raised: Vec<(String, u32)>,
}

/// `current` holds `default` and each interface with its `rp_filter`.
pub fn rp_filter_plan(all: u32, current: &[(String, u32)]) -> Option<RpFilterPlan> {
    if all == 0 {
        return None;
    }
    let raised = current.iter().filter(|(_, v)| *v < all).cloned().collect();
    Some(RpFilterPlan { all, raised })
}

impl RpFilterPlan {
    /// What to write back at stop, given the values then: `all` if still 0, and
    /// each raised one still at `all`'s value (keepalived's restore_rp_filter).
    pub fn restore(&self, all_now: u32, now: &[(String, u32)]) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        if all_now == 0 {
            out.push(("all".to_string(), self.all));
        }
        for (name, before) in &self.raised {
            if now.iter().any(|(n, v)| n == name && *v == self.all) {
                out.push((name.clone(), *before));
            }
        }
        out
    }
}

/// The /proc/sys path of an IPv4/IPv6 per-interface setting.
pub fn sysctl_path(v6: bool, interface: &str, name: &str) -> std::path::PathBuf {
    let fam = if v6 { "ipv6" } else { "ipv4" };
    std::path::PathBuf::from(format!("/proc/sys/net/{fam}/conf/{interface}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: Option<&str>) -> VmacConfig {
        VmacConfig {
            name: name.map(str::to_string),
            prefix: "vrrp".into(),
            mac: default_mac(Family::V4, 51),
            xmit_base: false,
        }
    }

    fn link(name: &str, index: u32, mac: [u8; 6], macvlan: Option<(u32, bool)>) -> ExistingLink {
        ExistingLink {
            name: name.into(),
            index,
            mac: Some(mac),
            macvlan,
        }
    }

    #[test]
    fn macs_follow_rfc5798() {
        assert_eq!(default_mac(Family::V4, 51), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(default_mac(Family::V6, 7), [0, 0, 0x5e, 0, 2, 7]);
        assert_eq!(
            parse_mac("02:11:22:33:44:55", 9),
            Ok([2, 0x11, 0x22, 0x33, 0x44, 0x55])
        );
        assert_eq!(
            parse_mac("02:11:22:33:44", 9),
            Ok([2, 0x11, 0x22, 0x33, 0x44, 9])
        );
        assert!(matches!(
            parse_mac("01:00:5e:00:00:01", 1),
            Err(MacError::Multicast(_))
        ));
        assert!(matches!(
            parse_mac("00:00:5e:00:01:09", 9),
            Err(MacError::Rfc(_))
        ));
        assert!(matches!(
            parse_mac("02:11:22", 9),
            Err(MacError::Invalid(_))
        ));
        assert!(matches!(
            parse_mac("02:11:22:33:44:zz", 9),
            Err(MacError::Invalid(_))
        ));
    }

    #[test]
    fn generated_names_as_keepalived() {
        assert_eq!(choose_name("vrrp", 51, Family::V4, |_| false), "vrrp.51");
        assert_eq!(
            choose_name("vrrp", 51, Family::V4, |n| n == "vrrp.51"),
            "vrrp1.51"
        );
        assert_eq!(
            choose_name("vrrp", 51, Family::V6, |n| n == "vrrp.51"),
            "vrrp6.51"
        );
        let taken = [
            "vrrp.5", "vrrp6.5", "vrrp1.5", "vrrp2.5", "vrrp3.5", "vrrp4.5", "vrrp5.5",
        ];
        assert_eq!(
            choose_name("vrrp", 5, Family::V6, |n| taken.contains(&n)),
            "vrrp7.5"
        );
        assert_eq!(choose_name("vm", 200, Family::V4, |_| false), "vm.200");
        let long = choose_name("averyveryverylongprefix", 200, Family::V4, |_| false);
        assert_eq!(long, "averyveryve.200");
        assert!(long.len() <= IFNAME_MAX);
    }

    #[test]
    fn rp_filter_is_moved_off_all_and_put_back() {
        let cur = |v: &[(&str, u32)]| -> Vec<(String, u32)> {
            v.iter().map(|(n, x)| (n.to_string(), *x)).collect()
        };
        assert_eq!(rp_filter_plan(0, &cur(&[("default", 0)])), None);
        let plan =
            rp_filter_plan(1, &cur(&[("default", 0), ("eth0", 0), ("lo", 2)])).expect("a plan");
        assert_eq!(plan.raised, cur(&[("default", 0), ("eth0", 0)]));
        // Whatever someone changed meanwhile stays.
        assert_eq!(
            plan.restore(0, &cur(&[("default", 1), ("eth0", 2)])),
            cur(&[("all", 1), ("default", 0)])
        );
        assert_eq!(
            plan.restore(2, &cur(&[("default", 1), ("eth0", 1)])),
            cur(&[("default", 0), ("eth0", 0)])
        );
    }

    #[test]
    fn existing_interfaces() {
        let mac = default_mac(Family::V4, 51);
        // Nothing there: create the generated or the configured name.
        assert_eq!(
            plan(&cfg(None), 51, Family::V4, 2, &[], &[]),
            VmacPlan::Create("vrrp.51".into())
        );
        assert_eq!(
            plan(&cfg(Some("vm0")), 51, Family::V4, 2, &[], &[]),
            VmacPlan::Create("vm0".into())
        );
        // A matching private macvlan is adopted under its own name.
        let other = [link("old", 9, mac, Some((2, true)))];
        assert_eq!(
            plan(&cfg(Some("vm0")), 51, Family::V4, 2, &other, &[]),
            VmacPlan::Adopt("old".into())
        );
        // ... unless another instance holds it.
        assert_eq!(
            plan(&cfg(None), 51, Family::V4, 2, &other, &["old".into()]),
            VmacPlan::Create("vrrp.51".into())
        );
        // The configured name on a private macvlan with another MAC: updated; on
        // another base: replaced; not private: a generated name instead. A
        // generated name just skips such interfaces.
        let wrong = [link("vm0", 9, [2, 0, 0, 0, 0, 9], Some((2, true)))];
        assert_eq!(
            plan(&cfg(Some("vm0")), 51, Family::V4, 2, &wrong, &[]),
            VmacPlan::Update("vm0".into())
        );
        let bridge = [link("vm0", 9, mac, Some((2, false)))];
        assert_eq!(
            plan(&cfg(Some("vm0")), 51, Family::V4, 2, &bridge, &[]),
            VmacPlan::Create("vrrp.51".into())
        );
        let elsewhere = [link("vm0", 9, mac, Some((3, true)))];
        assert_eq!(
            plan(&cfg(Some("vm0")), 51, Family::V4, 2, &elsewhere, &[]),
            VmacPlan::Replace("vm0".into())
        );
        let generated = [link("vrrp.51", 9, mac, Some((3, true)))];
        assert_eq!(
            plan(&cfg(None), 51, Family::V4, 2, &generated, &[]),
            VmacPlan::Create("vrrp1.51".into())
        );
        // A configured name held by a non-macvlan falls back to a generated name;
        // a generated name skips any existing interface.
        let phys = [
            link("vm0", 4, [2, 0, 0, 0, 0, 1], None),
            link("vrrp.51", 5, [2, 0, 0, 0, 0, 2], None),
        ];
        assert_eq!(
            plan(&cfg(Some("vm0")), 51, Family::V4, 2, &phys, &[]),
            VmacPlan::Create("vrrp1.51".into())
        );
    }
}
