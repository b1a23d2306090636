//! `no_accept` (and `vrrp_strict`, which implies it): while an instance is
//! master without owning its addresses (priority below 255), traffic to and
//! from its VIPs is dropped, as RFC 5798 section 6.4.3 asks and keepalived
//! 2.2.7 does with nftables: a table of our own with a set of blocked
//! addresses and two rules per family (input `daddr @vips drop`, output
//! `saddr @vips drop`; IPv6 neighbour discovery is let through). The
//! ruleset is built here (pure) and loaded atomically by `nft -j` reading it from its stdin.
//!
//! Why `nft`'s JSON interface and not a crate: the ruleset is a handful of
//! fixed objects that serde_json (already a dependency) writes directly;
//! the crates wrapping the same interface add a typed schema we would not
//! use, and the netlink ones do not cover nftables sets yet.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::{json, Value};

/// Where the rules go (`nftables NAME`, `nftables_priority`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallConfig {
    pub table: String,
    pub priority: i32,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        FirewallConfig {
            table: "lvsd".into(),
            priority: -1,
        }
    }
}

/// The nft JSON commands that make the tables hold exactly `blocked`: each
/// family's table is created (so the delete cannot fail), deleted and, if
/// that family has blocked addresses, made again with them, in one atomic
/// batch. With nothing blocked no table is left.
pub fn ruleset(cfg: &FirewallConfig, blocked: &BTreeSet<IpAddr>) -> Value {
    let mut cmds = Vec::new();
    for (family, v6) in [("ip", false), ("ip6", true)] {
        let addrs: Vec<String> = blocked
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .map(IpAddr::to_string)
            .collect();
        let table = json!({"family": family, "name": cfg.table});
        cmds.push(json!({"add": {"table": table}}));
        cmds.push(json!({"delete": {"table": table}}));
        if addrs.is_empty() {
            continue;
        }
        cmds.push(json!({"add": {"table": table}}));
        let set_type = if v6 { "ipv6_addr" } else { "ipv4_addr" };
        cmds.push(json!({"add": {"set": {
            "family": family, "table": cfg.table, "name": "vips", "type": set_type,
            "elem": addrs,
        }}}));
        for (chain, hook, field) in [("in", "input", "daddr"), ("out", "output", "saddr")] {
            cmds.push(json!({"add": {"chain": {
                "family": family, "table": cfg.table, "name": chain,
                "type": "filter", "hook": hook, "prio": cfg.priority, "policy": "accept",
            }}}));
            if v6 && chain == "in" {
                // Neighbour discovery for the VIP must still work.
                cmds.push(rule(cfg, family, chain, vec![
                    json!({"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}},
                        "right": {"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]}}}),
                    json!({"accept": null}),
                ]));
            }
            cmds.push(rule(cfg, family, chain, vec![
                json!({"match": {"op": "==", "left": {"payload": {"protocol": family, "field": field}},
                    "right": "@vips"}}),
                json!({"drop": null}),
            ]));
        }
    }
    json!({"nftables": cmds})
}

fn rule(cfg: &FirewallConfig, family: &str, chain: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": family, "table": cfg.table, "chain": chain, "expr": expr}}})
}

/// Loads `ruleset` with nft reading JSON from its stdin; an error names
/// what nft said. Not `-f -`: nft opens /dev/stdin for it, which a minimal
/// /dev (no udev symlinks, as in the UML test bed) does not have.
pub async fn apply(ruleset: &Value) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("nft")
        .args(["-j", "-f", "/proc/self/fd/0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("running nft (is the nftables package installed?): {e}"))?;
    let text = ruleset.to_string();
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| format!("writing to nft: {e}"))?;
    }
    let out = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .map_err(|_| "nft did not finish within 5 s".to_string())?
        .map_err(|e| format!("waiting for nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft refused the no_accept rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().filter_map(|a| a.parse().ok()).collect()
    }

    #[test]
    fn nothing_blocked_leaves_no_table() {
        let v = ruleset(&FirewallConfig::default(), &BTreeSet::new());
        let cmds = v["nftables"].as_array().cloned().unwrap_or_default();
        // add + delete per family: the tables are gone whether they existed or not.
        assert_eq!(cmds.len(), 4);
        assert!(cmds.iter().all(|c| c
            .get("add")
            .or(c.get("delete"))
            .is_some_and(|x| x.get("table").is_some())));
    }

    #[test]
    fn blocked_addresses_get_a_set_and_drop_rules_per_family() {
        let cfg = FirewallConfig {
            table: "keepalived".into(),
            priority: -1,
        };
        let v = ruleset(&cfg, &addrs(&["10.0.0.100", "10.0.0.101", "fd00::100"]));
        let text = v.to_string();
        assert!(
            text.contains(r#""elem":["10.0.0.100","10.0.0.101"]"#),
            "{text}"
        );
        assert!(text.contains(r#""elem":["fd00::100"]"#), "{text}");
        assert!(text.contains(r#""field":"daddr""#) && text.contains(r#""field":"saddr""#));
        assert!(text.contains("nd-neighbor-solicit"));
        let cmds = v["nftables"].as_array().map_or(0, Vec::len);
        // Per family: add, delete, add table, set, 2 chains, 2 drops; IPv6 + 1 ND rule.
        assert_eq!(cmds, 8 + 9);
    }
}
