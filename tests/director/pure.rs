//! The pure director: keepalived.conf text in, desired IPVS table and
//! minimal operations out. No sockets, virtual time.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ipvs::model::{Forward, Protocol, Scheduler, ServiceKey, Table};
use ipvs::ops::Op;
use lvsd::config::{load_str, ConfigOptions};
use lvsd::director::plan::{plan, removal, scoped};
use lvsd::director::{translate, Action, Director, DirectorSpec, RealServerKey, DRAIN_BOUND};

fn spec(text: &str) -> DirectorSpec {
    let loaded = match load_str(Path::new("test.conf"), text, &ConfigOptions::default()) {
        Ok(l) => l,
        Err(d) => panic!("config does not load:\n{d}"),
    };
    translate(&loaded.config).unwrap_or_else(|e| panic!("translate: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

fn rs_key(vs: &str, addr: &str, port: u16) -> RealServerKey {
    RealServerKey {
        virtual_server: vs.into(),
        addr: ip(addr),
        port,
    }
}

/// `service -> [(real, weight)]`, sorted, for compact assertions.
fn summary(table: &Table) -> Vec<(String, Vec<(String, u32)>)> {
    let mut out: Vec<_> = table
        .services
        .iter()
        .map(|(s, ds)| {
            let mut d: Vec<_> = ds
                .iter()
                .map(|d| (format!("{}:{}", d.addr, d.port), d.weight))
                .collect();
            d.sort();
            (s.key.to_string(), d)
        })
        .collect();
    out.sort();
    out
}

/// What the kernel would list after applying `table` (so a plan against it
/// is what a restart sees).
fn as_kernel_lists_it(table: &Table) -> Table {
    let mut t = table.clone();
    for (s, _) in &mut t.services {
        s.flags.0 |= ipvs::model::ServiceFlags::HASHED;
        s.stats.conns = 7;
    }
    t
}

const NAT: &str = r#"
virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    persistence_timeout 50
    persistence_granularity 255.255.255.0
    protocol TCP
    real_server 10.0.0.2 8080 {
        weight 2
        HTTP_GET {
            url {
                path /health
                digest 640205b7b0fc66c1ea91c463fac6334d
                status_code 200
            }
            connect_timeout 3
            retry 2
            delay_before_retry 1
        }
    }
    real_server 10.0.0.3 8080 {
        weight 1
        TCP_CHECK {
            connect_port 9000
        }
    }
}
"#;

const VS: &str = "virtual_server 192.0.2.10:80 TCP";

#[test]
fn nat_virtual_server_becomes_a_service_with_its_real_servers_and_checks() {
    let spec = spec(NAT);
    let (d, actions) = Director::new(spec.clone());
    let table = d.desired();
    assert_eq!(table.services.len(), 1);
    let (svc, dests) = &table.services[0];
    assert_eq!(svc.key, tcp("192.0.2.10", 80));
    assert_eq!(svc.scheduler, Scheduler::Rr);
    assert_eq!(svc.persistence, Some(50));
    assert_eq!(svc.netmask_v4().to_string(), "255.255.255.0");
    assert_eq!(
        summary(&table)[0].1,
        vec![("10.0.0.2:8080".into(), 2), ("10.0.0.3:8080".into(), 1)]
    );
    assert!(dests.iter().all(|d| d.forward == Forward::Masq));

    // Both real servers get their checks started, translated faithfully.
    assert_eq!(actions.len(), 2);
    let Action::StartChecks { key, checks } = &actions[0] else {
        panic!("expected StartChecks, got {actions:?}");
    };
    assert_eq!(key, &rs_key(VS, "10.0.0.2", 8080));
    assert_eq!(checks.weight, 2);
    let c = &checks.checkers[0];
    assert_eq!(c.schedule.delay_loop, Duration::from_secs(6));
    assert_eq!(c.schedule.retry, 2);
    assert_eq!(c.schedule.delay_before_retry, Duration::from_secs(1));
    let checkers::CheckSpec::Http(h) = &c.spec else {
        panic!("expected HTTP_GET, got {:?}", c.spec);
    };
    assert_eq!(h.connection.target().to_string(), "10.0.0.2:8080");
    assert_eq!(h.connection.connect_timeout, Duration::from_secs(3));
    assert_eq!(h.urls[0].path, "/health");
    assert_eq!(
        h.urls[0].digest.as_deref(),
        Some("640205b7b0fc66c1ea91c463fac6334d")
    );
    assert!(h.tls.is_none());
    let Action::StartChecks { checks, .. } = &actions[1] else {
        panic!("expected StartChecks, got {actions:?}");
    };
    let checkers::CheckSpec::Tcp(t) = &checks.checkers[0].spec else {
        panic!("expected TCP_CHECK");
    };
    assert_eq!(t.connection.target().to_string(), "10.0.0.3:9000");
}

#[test]
fn failing_real_server_leaves_and_returns() {
    let (mut d, _) = Director::new(spec(NAT));
    let key = rs_key(VS, "10.0.0.3", 8080);
    d.on_transition(
        &key,
        false,
        1,
        "TCP_CHECK 10.0.0.3:9000: connection refused",
    );
    assert_eq!(
        summary(&d.desired())[0].1,
        vec![("10.0.0.2:8080".into(), 2)]
    );
    assert_eq!(
        d.real_server(&key).map(|s| s.reason.as_str()),
        Some("TCP_CHECK 10.0.0.3:9000: connection refused")
    );
    // Still down, for a new reason: the reason changes, nothing else.
    let table = d.desired();
    let actions = d.on_transition(&key, false, 1, "TCP_CHECK 10.0.0.3:9000: timed out");
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(d.desired(), table);
    assert_eq!(
        d.real_server(&key).map(|s| s.reason.as_str()),
        Some("TCP_CHECK 10.0.0.3:9000: timed out")
    );
    d.on_transition(&key, true, 1, "TCP_CHECK 10.0.0.3:9000: connected");
    assert_eq!(summary(&d.desired())[0].1.len(), 2);
}

#[test]
fn alpha_starts_down_and_inhibit_keeps_weight_zero() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo wrr
    lb_kind DR
    alpha
    real_server 10.0.0.2 80 {
        weight 5
        inhibit_on_failure
        TCP_CHECK { }
    }
    real_server 10.0.0.3 80 {
        weight 7
        TCP_CHECK { }
    }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    let vs = "virtual_server 192.0.2.10:80 TCP";
    // alpha: both down; the inhibited one stays with weight 0.
    assert_eq!(summary(&d.desired())[0].1, vec![("10.0.0.2:80".into(), 0)]);
    assert!(d.desired().services[0]
        .1
        .iter()
        .all(|d| d.forward == Forward::Route));
    d.on_transition(&rs_key(vs, "10.0.0.2", 80), true, 5, "up");
    d.on_transition(&rs_key(vs, "10.0.0.3", 80), true, 7, "up");
    assert_eq!(
        summary(&d.desired())[0].1,
        vec![("10.0.0.2:80".into(), 5), ("10.0.0.3:80".into(), 7)]
    );
    d.on_transition(&rs_key(vs, "10.0.0.2", 80), false, 5, "down");
    assert_eq!(
        summary(&d.desired())[0].1,
        vec![("10.0.0.2:80".into(), 0), ("10.0.0.3:80".into(), 7)]
    );
    // The weight change is one edit, nothing else.
    let before = as_kernel_lists_it(&{
        let mut t = d.desired();
        t.services[0].1[0].weight = 5;
        t
    });
    let ops = plan(&d.desired(), &before);
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(matches!(&ops[0], Op::EditDest(_, dest) if dest.weight == 0));
}

#[test]
fn sorry_server_takes_over_when_no_real_server_is_up() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    sorry_server 10.0.0.99 8080
    real_server 10.0.0.2 80 { TCP_CHECK { } }
    real_server 10.0.0.3 80 { TCP_CHECK { } }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    let vs = "virtual_server 192.0.2.10:80 TCP";
    d.on_transition(&rs_key(vs, "10.0.0.2", 80), false, 1, "down");
    assert_eq!(summary(&d.desired())[0].1, vec![("10.0.0.3:80".into(), 1)]);
    d.on_transition(&rs_key(vs, "10.0.0.3", 80), false, 1, "down");
    assert_eq!(
        summary(&d.desired())[0].1,
        vec![("10.0.0.99:8080".into(), 1)]
    );
    assert_eq!(d.quorum_up(vs), Some(false));
    d.on_transition(&rs_key(vs, "10.0.0.3", 80), true, 1, "up");
    assert_eq!(summary(&d.desired())[0].1, vec![("10.0.0.3:80".into(), 1)]);
}

#[test]
fn sorry_server_inhibit_stays_with_weight_zero() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    sorry_server 10.0.0.99 80
    sorry_server_inhibit
    real_server 10.0.0.2 80 { TCP_CHECK { } }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    assert_eq!(
        summary(&d.desired())[0].1,
        vec![("10.0.0.2:80".into(), 1), ("10.0.0.99:80".into(), 0)]
    );
    d.on_transition(
        &rs_key("virtual_server 192.0.2.10:80 TCP", "10.0.0.2", 80),
        false,
        1,
        "down",
    );
    assert_eq!(summary(&d.desired())[0].1, vec![("10.0.0.99:80".into(), 1)]);
}

#[test]
fn quorum_with_hysteresis_runs_scripts_on_transitions_only() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    quorum 3
    hysteresis 1
    quorum_up "/bin/echo up"
    quorum_down "/bin/echo down"
    real_server 10.0.0.1 80 { TCP_CHECK { } }
    real_server 10.0.0.2 80 { TCP_CHECK { } }
    real_server 10.0.0.3 80 { TCP_CHECK { } }
    real_server 10.0.0.4 80 { TCP_CHECK { } }
    real_server 10.0.0.5 80 { TCP_CHECK { } }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    let vs = "virtual_server 192.0.2.10:80 TCP";
    let scripts = |a: Vec<Action>| -> Vec<String> {
        a.into_iter()
            .filter_map(|a| match a {
                Action::RunScript { script, .. } => Some(script.command),
                _ => None,
            })
            .collect()
    };
    assert_eq!(d.quorum_up(vs), Some(true));
    // 5 -> 3 -> 2 (= quorum - hysteresis): still up.
    for n in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert!(scripts(d.on_transition(&rs_key(vs, n, 80), false, 1, "down")).is_empty());
    }
    assert_eq!(d.quorum_up(vs), Some(true));
    // 1 < 2: lost.
    assert_eq!(
        scripts(d.on_transition(&rs_key(vs, "10.0.0.4", 80), false, 1, "down")),
        vec!["/bin/echo down"]
    );
    // 2 and 3 are below quorum + hysteresis = 4: still down.
    for n in ["10.0.0.4", "10.0.0.3"] {
        assert!(scripts(d.on_transition(&rs_key(vs, n, 80), true, 1, "up")).is_empty());
    }
    assert_eq!(d.quorum_up(vs), Some(false));
    assert_eq!(
        scripts(d.on_transition(&rs_key(vs, "10.0.0.2", 80), true, 1, "up")),
        vec!["/bin/echo up"]
    );
}

#[test]
fn notify_up_and_down_scripts_follow_state_changes() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        notify_up "/bin/true up"
        notify_down "/bin/true down"
        TCP_CHECK { }
    }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    let k = rs_key("virtual_server 192.0.2.10:80 TCP", "10.0.0.2", 80);
    let a = d.on_transition(&k, false, 1, "refused");
    assert!(
        matches!(&a[..], [Action::RunScript { script, .. }] if script.command == "/bin/true down"),
        "{a:?}"
    );
    // A weight change alone is no state change.
    assert!(d.on_transition(&k, false, 1, "refused again").is_empty());
    let a = d.on_transition(&k, true, 1, "ok");
    assert!(
        matches!(&a[..], [Action::RunScript { script, .. }] if script.command == "/bin/true up"),
        "{a:?}"
    );
}

/// keepalived 2.2.7 (ipwrapper.c, and side by side in tests/director/uml.rs):
/// quorum_up when a virtual server starts with quorum; with rs_init_notifies,
/// notify_up of each real server in service at start first. With omega, at stop:
/// notify_down of the real servers in service, then quorum_down.
#[test]
fn rs_init_notifies_and_omega_run_scripts_at_start_and_stop() {
    let text = |global: &str, omega: &str| {
        format!(
            "global_defs {{\n{global}}}\n\
             virtual_server 192.0.2.10 80 {{\n    protocol TCP\n{omega}    quorum_up \"/bin/true qup\"\n    quorum_down \"/bin/true qdown\"\n\
             real_server 10.0.0.2 80 {{\n        notify_up \"/bin/true up2\"\n        notify_down \"/bin/true down2\"\n        TCP_CHECK {{ }}\n    }}\n\
             real_server 10.0.0.3 80 {{\n        notify_up \"/bin/true up3\"\n        notify_down \"/bin/true down3\"\n        TCP_CHECK {{\n            alpha\n        }}\n    }}\n}}\n"
        )
    };
    let commands = |a: Vec<Action>| -> Vec<String> {
        a.into_iter()
            .filter_map(|a| match a {
                Action::RunScript { script, .. } => Some(script.command),
                _ => None,
            })
            .collect()
    };
    // Starting with quorum runs quorum_up, as keepalived does.
    let (d, _) = Director::new(spec(&text("", "")));
    assert_eq!(commands(d.init_notifies()), ["/bin/true qup"]);
    assert!(d.stop_notifies().is_empty());
    let (d, _) = Director::new(spec(&text("    rs_init_notifies\n", "    omega\n")));
    // 10.0.0.3 starts down (alpha): no script for it at start.
    assert_eq!(
        commands(d.init_notifies()),
        ["/bin/true up2", "/bin/true qup"]
    );
    assert_eq!(
        commands(d.stop_notifies()),
        ["/bin/true down2", "/bin/true qdown"]
    );
}

#[test]
fn misc_dynamic_weight_is_programmed() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server 10.0.0.2 80 {
        weight 10
        MISC_CHECK {
            misc_path "/bin/true"
            misc_dynamic
        }
    }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    let k = rs_key("virtual_server 192.0.2.10:80 TCP", "10.0.0.2", 80);
    d.on_transition(&k, true, 42, "exit 44");
    assert_eq!(summary(&d.desired())[0].1, vec![("10.0.0.2:80".into(), 42)]);
}

#[test]
fn group_becomes_one_service_per_member_and_fwmark_is_kept() {
    let text = r#"
virtual_server_group WEB {
    192.0.2.1-3 80
    fwmark 7
}
virtual_server group WEB {
    protocol TCP
    lb_algo sh
    lb_kind DR
    real_server 10.0.0.2 80 { }
}
virtual_server fwmark 9 {
    lb_algo wlc
    persistence_timeout
    real_server 10.0.0.5 0 { }
}
"#;
    let (d, actions) = Director::new(spec(text));
    // No checkers: nothing to start, always up.
    assert!(actions.is_empty(), "{actions:?}");
    let s = summary(&d.desired());
    let keys: Vec<&str> = s.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "FWM 7",
            "FWM 9",
            "TCP 192.0.2.1:80",
            "TCP 192.0.2.2:80",
            "TCP 192.0.2.3:80"
        ]
    );
    for (k, dests) in &s {
        if k == "FWM 9" {
            assert_eq!(dests, &vec![("10.0.0.5:0".to_string(), 1)]);
        } else {
            assert_eq!(dests, &vec![("10.0.0.2:80".to_string(), 1)], "{k}");
        }
    }
    let fwm9 = d
        .desired()
        .services
        .into_iter()
        .find(|(s, _)| {
            s.key
                == ServiceKey::Fwmark {
                    mark: 9,
                    ipv6: false,
                }
        })
        .map(|(s, _)| s);
    assert_eq!(fwm9.and_then(|s| s.persistence), Some(360));
}

#[test]
fn restart_with_the_same_config_plans_zero_operations() {
    let (d, _) = Director::new(spec(NAT));
    let kernel = as_kernel_lists_it(&d.desired());
    assert_eq!(plan(&d.desired(), &kernel), Vec::<Op>::new());
    // From an empty kernel: one service, two real servers.
    let ops = plan(&d.desired(), &Table::default());
    assert_eq!(ops.len(), 3, "{ops:?}");
}

#[test]
fn shutdown_removes_services_last_configured_first() {
    let (d, _) = Director::new(spec(
        "virtual_server 192.0.2.1 80 { protocol TCP\n real_server 10.0.0.1 80 { } }\n\
         virtual_server 192.0.2.2 80 { protocol TCP\n real_server 10.0.0.1 80 { } }\n\
         virtual_server 192.0.2.3 80 { protocol TCP\n real_server 10.0.0.1 80 { } }\n",
    ));
    assert_eq!(
        d.configured_services(),
        vec![
            tcp("192.0.2.1", 80),
            tcp("192.0.2.2", 80),
            tcp("192.0.2.3", 80)
        ]
    );
    // The kernel lists services in its own (hash) order; a service the
    // director owned before a reload is unknown to the configured order.
    let mut kernel = as_kernel_lists_it(&d.desired());
    kernel.services.reverse();
    kernel.services.rotate_left(1);
    let old = ipvs::model::Service::new(tcp("192.0.2.9", 80), Scheduler::Wlc);
    kernel.services.insert(1, (old, Vec::new()));
    let ops = removal(&kernel, &d.configured_services());
    assert_eq!(
        ops,
        vec![
            Op::DelService(tcp("192.0.2.9", 80)),
            Op::DelService(tcp("192.0.2.3", 80)),
            Op::DelService(tcp("192.0.2.2", 80)),
            Op::DelService(tcp("192.0.2.1", 80)),
        ]
    );
    assert!(removal(&Table::default(), &d.configured_services()).is_empty());
}

#[test]
fn foreign_services_are_never_touched() {
    let (d, _) = Director::new(spec(NAT));
    let mut kernel = as_kernel_lists_it(&d.desired());
    let foreign = ipvs::model::Service::new(tcp("198.51.100.1", 443), Scheduler::Wlc);
    kernel.services.push((foreign, Vec::new()));
    let ops = plan(&d.desired(), &scoped(&kernel, &d.owned_services()));
    assert!(ops.is_empty(), "{ops:?}");
}

#[test]
fn reload_changing_one_weight_is_one_edit_and_keeps_checker_state() {
    let (mut d, _) = Director::new(spec(NAT));
    let down = rs_key(VS, "10.0.0.3", 8080);
    d.on_transition(&down, false, 1, "refused");
    let kernel = as_kernel_lists_it(&d.desired());
    let actions = d.reload(
        spec(&NAT.replace("weight 2", "weight 4")),
        Duration::from_secs(100),
    );
    // Same checks: no checker restarted, state kept.
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(d.real_server(&down).map(|s| s.up), Some(false));
    let ops = plan(&d.desired(), &kernel);
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(
        matches!(&ops[0], Op::EditDest(_, dest) if dest.weight == 4 && dest.addr == ip("10.0.0.2")),
        "{ops:?}"
    );
}

#[test]
fn reload_with_changed_checks_restarts_only_that_checker() {
    let (mut d, _) = Director::new(spec(NAT));
    let actions = d.reload(
        spec(&NAT.replace("connect_port 9000", "connect_port 9001")),
        Duration::ZERO,
    );
    let k = rs_key(VS, "10.0.0.3", 8080);
    assert!(
        matches!(&actions[..], [Action::StopChecks { key: a }, Action::StartChecks { key: b, .. }] if a == &k && b == &k),
        "{actions:?}"
    );
}

#[test]
fn reload_adding_a_real_server_adds_one_destination() {
    let (mut d, _) = Director::new(spec(NAT));
    let kernel = as_kernel_lists_it(&d.desired());
    let text = NAT.replace(
        "    real_server 10.0.0.3 8080 {",
        "    real_server 10.0.0.4 8080 { weight 3 }\n    real_server 10.0.0.3 8080 {",
    );
    let actions = d.reload(spec(&text), Duration::ZERO);
    assert!(actions.is_empty(), "{actions:?}");
    let ops = plan(&d.desired(), &kernel);
    assert!(
        matches!(&ops[..], [Op::AddDest(_, dest)] if dest.addr == ip("10.0.0.4") && dest.weight == 3),
        "{ops:?}"
    );
}

#[test]
fn removed_real_server_drains_then_goes() {
    let (mut d, _) = Director::new(spec(NAT));
    let kernel = as_kernel_lists_it(&d.desired());
    let text = NAT.replace("real_server 10.0.0.3 8080 {\n        weight 1\n        TCP_CHECK {\n            connect_port 9000\n        }\n    }", "");
    assert_ne!(text, NAT);
    let now = Duration::from_secs(1000);
    let actions = d.reload(spec(&text), now);
    assert_eq!(
        actions,
        vec![Action::StopChecks {
            key: rs_key(VS, "10.0.0.3", 8080)
        }]
    );
    // Weight 0 first.
    let ops = plan(&d.desired(), &kernel);
    assert!(
        matches!(&ops[..], [Op::EditDest(_, dest)] if dest.addr == ip("10.0.0.3") && dest.weight == 0),
        "{ops:?}"
    );
    // Connections remain: it stays.
    let mut kernel = as_kernel_lists_it(&d.desired());
    kernel.services[0].1[1].active_conns = 3;
    assert!(!d.drain_tick(now + Duration::from_secs(5), &kernel));
    assert_eq!(d.desired().services[0].1.len(), 2);
    // Connections gone: deleted.
    kernel.services[0].1[1].active_conns = 0;
    assert!(d.drain_tick(now + Duration::from_secs(6), &kernel));
    let ops = plan(&d.desired(), &kernel);
    assert!(
        matches!(&ops[..], [Op::DelDest(_, a, 8080)] if *a == ip("10.0.0.3")),
        "{ops:?}"
    );
}

#[test]
fn drain_is_bounded() {
    let (mut d, _) = Director::new(spec(NAT));
    let text = NAT.replace("real_server 10.0.0.3 8080 {\n        weight 1\n        TCP_CHECK {\n            connect_port 9000\n        }\n    }", "");
    d.reload(spec(&text), Duration::ZERO);
    let mut kernel = as_kernel_lists_it(&d.desired());
    kernel.services[0].1[1].active_conns = 3;
    assert!(!d.drain_tick(DRAIN_BOUND - Duration::from_secs(1), &kernel));
    assert!(d.drain_tick(DRAIN_BOUND, &kernel));
    assert_eq!(d.desired().services[0].1.len(), 1);
}

#[test]
fn reload_removing_a_virtual_server_deletes_its_service() {
    let text =
        format!("{NAT}\nvirtual_server 192.0.2.11 443 {{ protocol TCP\n real_server 10.0.0.9 443 {{ }} }}\n");
    let (mut d, _) = Director::new(spec(&text));
    let kernel = as_kernel_lists_it(&d.desired());
    let before: BTreeSet<ServiceKey> = d.owned_services();
    d.reload(spec(NAT), Duration::ZERO);
    let scope: BTreeSet<ServiceKey> = before.union(&d.owned_services()).copied().collect();
    let ops = plan(&d.desired(), &scoped(&kernel, &scope));
    assert_eq!(ops, vec![Op::DelService(tcp("192.0.2.11", 443))]);
}

/// Every example config in deploy/examples and every seed config with a
/// virtual_server translates for both the director and VRRP.
#[test]
fn example_and_seed_configs_translate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("deploy/examples"))
        .unwrap_or_else(|e| panic!("deploy/examples: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let seeds = root.join("../shared/seed-configs");
    if let Ok(dir) = std::fs::read_dir(&seeds) {
        files.extend(dir.filter_map(|e| e.ok().map(|e| e.path())));
    }
    files.retain(|p| p.extension().is_some_and(|e| e == "conf"));
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut with_lvs = 0;
    for f in &files {
        let loaded = lvsd::config::load(f, &ConfigOptions::default())
            .unwrap_or_else(|d| panic!("{}: {d}", f.display()));
        let spec = translate(&loaded.config).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        lvsd::vrrp::translate::translate(&loaded.config)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if !spec.virtual_servers.is_empty() {
            with_lvs += 1;
            let (d, _) = Director::new(spec);
            assert!(!d.desired().services.is_empty(), "{}", f.display());
        }
    }
    assert!(with_lvs >= 4, "{with_lvs} configs with virtual servers");
}

/// The alpha flag each StartChecks action gives its real server's checkers.
fn alpha_of(actions: &[Action]) -> Vec<(String, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartChecks { key, checks } => Some((
                key.addr.to_string(),
                checks.checkers.iter().all(|c| c.schedule.alpha),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn restart_adopts_the_state_the_kernel_table_shows() {
    let text = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_kind DR
    alpha
    real_server 10.0.0.2 80 { weight 5
        TCP_CHECK { } }
    real_server 10.0.0.3 80 { weight 7
        inhibit_on_failure
        TCP_CHECK { } }
    real_server 10.0.0.4 80 { weight 1
        TCP_CHECK { } }
}
"#;
    let vs = "virtual_server 192.0.2.10:80 TCP";
    // What the previous run left: .2 up, .3 inhibited at weight 0, .4 out.
    let (mut before, _) = Director::new(spec(text));
    before.on_transition(&rs_key(vs, "10.0.0.2", 80), true, 5, "ok");
    let kernel = as_kernel_lists_it(&before.desired());
    assert_eq!(
        summary(&kernel)[0].1,
        vec![("10.0.0.2:80".into(), 5), ("10.0.0.3:80".into(), 0)]
    );

    // alpha alone would take .2 out; adopting keeps the table as it is.
    let (d, actions) = Director::adopting(spec(text), &kernel);
    assert_eq!(plan(&d.desired(), &kernel), Vec::<Op>::new());
    let up = |d: &Director, a: &str| d.real_server(&rs_key(vs, a, 80)).map(|s| s.up);
    assert_eq!(up(&d, "10.0.0.2"), Some(true));
    assert_eq!(up(&d, "10.0.0.3"), Some(false));
    assert_eq!(up(&d, "10.0.0.4"), Some(false));
    // The checkers start in the adopted state.
    assert_eq!(
        alpha_of(&actions),
        vec![
            ("10.0.0.2".into(), false),
            ("10.0.0.3".into(), true),
            ("10.0.0.4".into(), true)
        ]
    );

    // Without alpha: the servers that were down stay down until checked.
    let no_alpha = text.replace("    alpha\n", "");
    let (d, actions) = Director::adopting(spec(&no_alpha), &kernel);
    assert_eq!(plan(&d.desired(), &kernel), Vec::<Op>::new());
    assert_eq!(alpha_of(&actions)[2], ("10.0.0.4".into(), true));

    // A virtual server not in the kernel starts as configured.
    let (d, actions) = Director::adopting(spec(&no_alpha), &Table::default());
    assert_eq!(up(&d, "10.0.0.4"), Some(true));
    assert!(alpha_of(&actions).iter().all(|(_, alpha)| !alpha));
}

#[test]
fn desired_for_covers_only_the_named_virtual_servers() {
    let text =
        format!("{NAT}\nvirtual_server 192.0.2.11 443 {{ protocol TCP\n real_server 10.0.0.9 443 {{ }} }}\n");
    let (d, _) = Director::new(spec(&text));
    let names: BTreeSet<std::sync::Arc<str>> = [VS.into()].into();
    let part = d.desired_for(&names);
    let full = d.desired();
    assert_eq!(part.services.len(), 1);
    assert_eq!(part.services[0], full.services[0]);
    assert!(d.desired_for(&BTreeSet::new()).services.is_empty());
}

#[test]
fn udp_check_translates_to_its_checker_with_keepalived_reply_rules() {
    let spec = spec(
        "virtual_server 192.0.2.53 53 {\n    protocol UDP\n    lb_kind NAT\n    real_server 10.0.0.2 5353 {\n        UDP_CHECK {\n            connect_port 53\n            payload 00 01\n            require_reply 00 x1\n            max_reply_length 64\n        }\n        UDP_CHECK {\n            require_reply\n        }\n        UDP_CHECK {\n            min_reply_length 1000\n        }\n    }\n}\n",
    );
    let checks = first_checks(spec);
    let udp: Vec<&checkers::UdpCheck> = checks
        .checkers
        .iter()
        .map(|c| match &c.spec {
            checkers::CheckSpec::Udp(u) => &**u,
            other => panic!("expected UDP_CHECK, got {other:?}"),
        })
        .collect();
    assert_eq!(udp[0].connection.target().to_string(), "10.0.0.2:53");
    assert_eq!(udp[0].payload.as_deref(), Some(&[0u8, 1][..]));
    assert_eq!(
        udp[0].reply,
        checkers::UdpReply::Matching(checkers::ReplyPattern {
            data: checkers::HexBytes {
                bytes: vec![0, 0x01],
                wildcard: vec![0, 0xf0],
            },
            min_len: 0,
            max_len: 64,
        })
    );
    assert_eq!(udp[1].reply, checkers::UdpReply::Any);
    // Lengths alone do not make a reply required (keepalived checks them
    // only against reply data).
    assert_eq!(udp[2].reply, checkers::UdpReply::NotRequired);
    assert_eq!(udp[2].payload, None);
    assert_eq!(
        checks.checkers[0].schedule.delay_before_retry,
        Duration::from_secs(1)
    );
}

#[test]
fn smtp_check_host_blocks_become_one_checker_each() {
    let spec = spec(
        "virtual_server 192.0.2.25 25 {\n    protocol TCP\n    lb_kind NAT\n    real_server 10.0.0.2 25 {\n        SMTP_CHECK {\n            connect_timeout 3\n            delay_loop 7\n            host {\n                connect_ip 10.0.0.9\n                connect_port 587\n            }\n        }\n    }\n}\n",
    );
    let checks = first_checks(spec);
    let smtp: Vec<(String, String, Duration, Duration)> = checks
        .checkers
        .iter()
        .map(|c| match &c.spec {
            checkers::CheckSpec::Smtp(s) => (
                s.connection.target().to_string(),
                s.helo_name.clone(),
                s.connection.connect_timeout,
                c.schedule.delay_loop,
            ),
            other => panic!("expected SMTP_CHECK, got {other:?}"),
        })
        .collect();
    let helo = "smtpchecker.keepalived.org".to_string();
    let (three, seven) = (Duration::from_secs(3), Duration::from_secs(7));
    assert_eq!(
        smtp,
        [
            ("10.0.0.9:587".to_string(), helo.clone(), three, seven),
            ("10.0.0.2:25".to_string(), helo, three, seven),
        ]
    );
}

#[test]
fn dns_check_translates_to_its_checker() {
    let spec = spec(
        "virtual_server 192.0.2.53 53 {\n    protocol UDP\n    lb_kind NAT\n    real_server 10.0.0.2 53 {\n        DNS_CHECK {\n            type MX\n            name example.org\n            connect_port 5353\n        }\n    }\n}\n",
    );
    let checks = first_checks(spec);
    let c = &checks.checkers[0];
    let checkers::CheckSpec::Dns(d) = &c.spec else {
        panic!("expected DNS_CHECK, got {:?}", c.spec);
    };
    assert_eq!(
        (d.connection.target().to_string(), d.qtype, d.name.as_str()),
        ("10.0.0.2:5353".to_string(), 15, "example.org")
    );
    assert_eq!(c.schedule.retry, 3);
}

/// The checks the director starts first for `spec` (its first real server).
fn first_checks(spec: DirectorSpec) -> std::sync::Arc<checkers::RealServerChecks> {
    let (_, actions) = Director::new(spec);
    match actions.into_iter().next() {
        Some(Action::StartChecks { checks, .. }) => checks,
        other => panic!("expected StartChecks, got {other:?}"),
    }
}

const FILE_CHECKS: &str = r#"
track_file maint { 
    file /run/lvsd-test/maint
    weight 0
}
track_file boost {
    file /run/lvsd-test/boost
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    quorum 15
    quorum_down "/bin/echo down"
    quorum_up "/bin/echo up"
    real_server 10.0.0.1 80 {
        weight 10
        notify_down "/bin/echo rs1 down"
        notify_up "/bin/echo rs1 up"
        FILE_CHECK {
            track_file maint
        }
    }
    real_server 10.0.0.2 80 {
        weight 10
        inhibit_on_failure
        TCP_CHECK { }
        FILE_CHECK {
            track_file boost
        }
        FILE_CHECK {
            track_file boost
            weight -3
        }
    }
    real_server 10.0.0.3 80 {
        weight 10
        FILE_CHECK {
            track_file maint
            weight 2 reverse
        }
    }
}
virtual_server 192.0.2.11 80 {
    protocol TCP
    real_server 10.0.0.9 80 {
        weight 1
    }
}
"#;

fn scripts(a: Vec<Action>) -> Vec<String> {
    a.into_iter()
        .filter_map(|a| match a {
            Action::RunScript { script, .. } => Some(script.command),
            _ => None,
        })
        .collect()
}

#[test]
fn file_check_numbers_weigh_and_fault_as_keepalived_2_2_7_does() {
    let s = spec(FILE_CHECKS);
    let names: Vec<&str> = s.track_files.iter().map(|f| &*f.name).collect();
    assert_eq!(names, ["maint", "boost"], "only files FILE_CHECK uses");
    let (mut d, _) = Director::new(s);
    d.start_with_file_values([("boost".into(), 1)]);
    let vs = "virtual_server 192.0.2.10:80 TCP";
    let weights = |d: &Director| summary(&d.desired())[0].1.clone();
    let w = |a: &str, w: u32| (a.to_string(), w);
    // boost 1: +1 and -3 on 10.0.0.2; read before the first table.
    assert_eq!(
        weights(&d),
        vec![
            w("10.0.0.1:80", 10),
            w("10.0.0.2:80", 8),
            w("10.0.0.3:80", 10)
        ]
    );
    // Weight 0: a non-zero number takes the server out (notify_down); a
    // weight on the FILE_CHECK replaces the track_file's (2 reverse: -2 each).
    let (actions, touched) = d.on_file_value("maint", 4);
    assert_eq!(
        scripts(actions),
        ["/bin/echo rs1 down", "/bin/echo down"],
        "and 8 + 2 < quorum 15"
    );
    assert_eq!(touched.into_iter().collect::<Vec<_>>(), [vs.into()]);
    assert_eq!(weights(&d), vec![w("10.0.0.2:80", 8), w("10.0.0.3:80", 2)]);
    let rs1 = d.real_server(&rs_key(vs, "10.0.0.1", 80)).cloned();
    assert!(
        rs1.is_some_and(|s| !s.up && s.reason == "FILE_CHECK: track_file maint reads 4 (weight 0)")
    );
    // The same number again changes nothing.
    assert!(d.on_file_value("maint", 4).1.is_empty());
    // Below zero the weight stays at 0; the server stays in the table.
    d.on_file_value("boost", 10);
    assert_eq!(weights(&d)[0], w("10.0.0.2:80", 0));
    assert_eq!(d.effective_weight(&rs_key(vs, "10.0.0.2", 80)), Some(0));
    d.on_file_value("boost", -1);
    assert_eq!(weights(&d)[0], w("10.0.0.2:80", 12));
    // A down checker takes it out too (inhibit: weight 0); back up, files count.
    d.on_transition(&rs_key(vs, "10.0.0.2", 80), false, 10, "refused");
    assert_eq!(weights(&d)[0], w("10.0.0.2:80", 0));
    d.on_transition(&rs_key(vs, "10.0.0.2", 80), true, 10, "ok");
    assert_eq!(weights(&d)[0], w("10.0.0.2:80", 12));
    // Back to 0: in again.
    assert_eq!(
        scripts(d.on_file_value("maint", 0).0),
        ["/bin/echo rs1 up", "/bin/echo up"]
    );
    assert_eq!(weights(&d)[0], w("10.0.0.1:80", 10));
}

#[test]
fn a_checker_coming_up_does_not_lift_a_file_fault() {
    let text = r#"
track_file gate {
    file /run/lvsd-test/gate
    weight 0 reverse
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server 10.0.0.1 80 {
        TCP_CHECK { }
        FILE_CHECK {
            track_file gate
        }
    }
}
"#;
    let (mut d, _) = Director::new(spec(text));
    let k = rs_key("virtual_server 192.0.2.10:80 TCP", "10.0.0.1", 80);
    // reverse: 0 (the file missing) is the fault.
    d.start_with_file_values([]);
    assert!(d.desired().services[0].1.is_empty());
    d.on_transition(&k, false, 1, "refused");
    d.on_transition(&k, true, 1, "ok");
    assert!(d.desired().services[0].1.is_empty());
    let st = d.real_server(&k).cloned();
    assert!(st.is_some_and(|s| s.reason.contains("gate reads 0 (weight 0 reverse)")));
    d.on_file_value("gate", 1);
    assert_eq!(d.desired().services[0].1.len(), 1);
}

#[test]
fn file_check_numbers_count_towards_quorum() {
    let (mut d, _) = Director::new(spec(FILE_CHECKS));
    let vs = "virtual_server 192.0.2.10:80 TCP";
    assert_eq!(d.quorum_up(vs), Some(true), "30 >= 15");
    assert_eq!(
        scripts(d.on_file_value("boost", 3).0),
        Vec::<String>::new(),
        "10 + 10 - 6 + 10 = 24"
    );
    assert_eq!(
        scripts(d.on_file_value("maint", 2).0),
        ["/bin/echo rs1 down", "/bin/echo down"],
        "rs1 out, 4 + 10 - 4 = 10 < 15"
    );
    assert_eq!(
        scripts(d.on_file_value("maint", 0).0),
        ["/bin/echo rs1 up", "/bin/echo up"]
    );
    // Values known before the first table set the starting state, without a script.
    let (mut d, _) = Director::new(spec(FILE_CHECKS));
    d.start_with_file_values([("maint".into(), 3)]);
    assert_eq!(d.quorum_up(vs), Some(false), "rs1 out, 10 + 4 < 15");
}

#[test]
fn file_checks_survive_a_reload_and_a_restart_writes_nothing() {
    let (mut d, _) = Director::new(spec(FILE_CHECKS));
    d.start_with_file_values([("maint".into(), 7), ("boost".into(), 2)]);
    let before = d.desired();
    d.reload(spec(FILE_CHECKS), Duration::ZERO);
    assert_eq!(d.desired(), before, "the numbers read stay across a reload");
    // A reload that changes only a FILE_CHECK's weight applies it at once.
    let changed = FILE_CHECKS.replace("weight 2 reverse", "weight 0");
    let actions = d.reload(spec(&changed), Duration::ZERO);
    assert!(scripts(actions).is_empty());
    assert_eq!(
        summary(&d.desired())[0].1.len(),
        1,
        "10.0.0.3 out: maint reads 7"
    );
    // A restart reading the same numbers adopts the table as it is.
    let kernel = as_kernel_lists_it(&before);
    let (mut again, _) = Director::adopting(spec(FILE_CHECKS), &kernel);
    again.start_with_file_values([("maint".into(), 7), ("boost".into(), 2)]);
    assert_eq!(plan(&again.desired(), &kernel), Vec::<Op>::new());
}

/// `ha_suspend`: the checkers of the virtual server run only while its
/// address is on this machine; suspended, its servers keep their verdicts,
/// and resumed checkers start in the state the server is in.
#[test]
fn ha_suspend_runs_checkers_only_while_the_vip_is_here() {
    let text = NAT.replace("    protocol TCP\n", "    protocol TCP\n    ha_suspend\n");
    let starts = |actions: &[Action]| -> Vec<(String, bool)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::StartChecks { key, checks } => Some((
                    key.addr.to_string(),
                    checks.checkers.iter().all(|c| c.schedule.alpha),
                )),
                _ => None,
            })
            .collect()
    };
    let stops = |actions: &[Action]| {
        actions
            .iter()
            .filter(|a| matches!(a, Action::StopChecks { .. }))
            .count()
    };
    let (mut d, actions) = Director::new(spec(&text));
    assert!(
        starts(&actions).is_empty(),
        "nothing checked before the addresses are known"
    );
    // Both servers stay in the table meanwhile (as keepalived: never checked).
    assert_eq!(summary(&d.desired())[0].1.len(), 2);
    let here = |a: &[&str]| a.iter().map(|s| ip(s)).collect::<BTreeSet<IpAddr>>();
    assert!(d.set_local_addresses(here(&["10.0.0.1"])).is_empty());
    let resumed = d.set_local_addresses(here(&["10.0.0.1", "192.0.2.10"]));
    assert_eq!(
        starts(&resumed),
        vec![("10.0.0.2".into(), false), ("10.0.0.3".into(), false)]
    );
    let key = rs_key(VS, "10.0.0.3", 8080);
    d.on_transition(
        &key,
        false,
        1,
        "TCP_CHECK 10.0.0.3:9000: connection refused",
    );
    // The VIP goes (this director is backup now): checkers stop, the verdict stays.
    let suspended = d.set_local_addresses(here(&["10.0.0.1"]));
    assert_eq!(stops(&suspended), 2);
    assert_eq!(d.real_server(&key).map(|s| s.up), Some(false));
    // A reload keeps them suspended: nothing starts.
    let reloaded = d.reload(spec(&text), Duration::from_secs(100));
    assert!(starts(&reloaded).is_empty(), "{reloaded:?}");
    // Back: the down server's checker starts down (alpha), the other up.
    let resumed = d.set_local_addresses(here(&["192.0.2.10"]));
    assert_eq!(
        starts(&resumed),
        vec![("10.0.0.2".into(), false), ("10.0.0.3".into(), true)]
    );
    // A reload without ha_suspend, while suspended, resumes the checkers.
    d.set_local_addresses(here(&[]));
    let without = d.reload(spec(NAT), Duration::from_secs(200));
    assert_eq!(starts(&without).len(), 2, "{without:?}");
}

#[test]
fn real_servers_that_check_alike_share_one_template_and_keep_their_targets() {
    let s = spec(
        "virtual_server 192.0.2.10 80 {
            lb_kind NAT
            real_server 10.0.0.2 8080 { TCP_CHECK { connect_timeout 3 } }
            real_server 10.0.0.3 8080 { TCP_CHECK { connect_timeout 3 } }
            real_server 10.0.0.4 8081 { TCP_CHECK { connect_timeout 3 } }
            real_server 10.0.0.5 8080 {
                TCP_CHECK {
                    connect_ip 10.9.9.9
                    connect_timeout 3
                }
            }
            real_server 10.0.0.6 8080 {
                TCP_CHECK {
                    connect_port 9
                    connect_timeout 3
                }
            }
            real_server 10.0.0.7 8080 {
                SMTP_CHECK {
                    connect_timeout 3
                    host {
                        connect_ip 10.8.8.8
                        connect_port 25
                    }
                }
            }
        }",
    );
    let rs = &s.virtual_servers[0].real_servers;
    // Neighbours that check alike (the port is the real server's too) share
    // one template; a connect_ip or connect_port makes another.
    assert!(std::sync::Arc::ptr_eq(&rs[0].checks, &rs[1].checks));
    assert!(std::sync::Arc::ptr_eq(&rs[1].checks, &rs[2].checks));
    assert!(!std::sync::Arc::ptr_eq(&rs[2].checks, &rs[3].checks));
    assert!(!std::sync::Arc::ptr_eq(&rs[3].checks, &rs[4].checks));
    let targets: Vec<Vec<String>> = rs
        .iter()
        .map(|r| {
            r.checks()
                .checkers
                .iter()
                .map(|c| match &c.spec {
                    checkers::CheckSpec::Tcp(t) => t.connection.target().to_string(),
                    checkers::CheckSpec::Smtp(m) => m.connection.target().to_string(),
                    other => panic!("unexpected checker {other:?}"),
                })
                .collect()
        })
        .collect();
    assert_eq!(
        targets,
        [
            vec!["10.0.0.2:8080"],
            vec!["10.0.0.3:8080"],
            vec!["10.0.0.4:8081"],
            vec!["10.9.9.9:8080"],
            vec!["10.0.0.6:9"],
            vec!["10.8.8.8:25", "10.0.0.7:8080"],
        ]
    );
    // What starts is the resolved checks, one per real server.
    let (_, actions) = Director::new(s);
    let started: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::StartChecks { key, checks } => match &checks.checkers[0].spec {
                checkers::CheckSpec::Tcp(t) => Some(format!("{key} {}", t.connection.target())),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 5);
    assert!(started[3].ends_with("real_server 10.0.0.5:8080 10.9.9.9:8080"));
}
