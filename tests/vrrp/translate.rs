//! keepalived.conf → VRRP core configuration, on the shared seed configs and
//! on a config exercising every translated keyword.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lvsd::config::{load_str, ConfigOptions};
use lvsd::vrrp::config::{InitialState, OldUnicastChecksum, TrackId, UnicastPeer};
use lvsd::vrrp::packet::{Family, Version};
use lvsd::vrrp::translate::{translate, TranslateError};

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-configs")
}

fn tr(text: &str) -> Result<lvsd::vrrp::runner::VrrpConfig, TranslateError> {
    let loaded = load_str(Path::new("test.conf"), text, &ConfigOptions::default())?;
    translate(&loaded.config)
}

#[test]
fn every_seed_config_with_vrrp_translates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(seed_dir()).expect("seed dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read seed");
        if !text.contains("vrrp_instance") {
            continue;
        }
        let loaded = match lvsd::config::load(&path, &ConfigOptions::default()) {
            Ok(l) => l,
            // The parser's verdict on a seed is the config branch's business.
            Err(_) => continue,
        };
        let vrrp = translate(&loaded.config).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            vrrp.instances.len(),
            loaded.config.vrrp_instances.len(),
            "{}",
            path.display()
        );
        for i in &vrrp.instances {
            assert!(i.vrid > 0 && i.priority > 0, "{}: {i:?}", path.display());
            assert!(!i.vips.is_empty(), "{}: {}", path.display(), i.name);
        }
        seen += 1;
    }
    assert!(seen >= 6, "only {seen} seed configs with VRRP translated");
}

const FULL: &str = r#"
global_defs {
  vrrp_garp_master_delay 2
  vrrp_garp_master_repeat 3
  vrrp_garp_master_refresh 30
}
vrrp_script chk_nginx {
  script "/usr/bin/pgrep nginx"
  interval 2
  timeout 1
  fall 3
  rise 2
  weight -20
  init_fail
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_6
  }
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 0.5
  version 3
  authentication {
    auth_type PASS
    auth_pass 0123456789
  }
  mcast_src_ip 10.0.0.1
  nopreempt
  preempt_delay 4
  track_interface {
    eth1 weight -10
  }
  track_script {
    chk_nginx
  }
  virtual_ipaddress {
    10.0.0.100/24 brd + dev eth0 label eth0:1 scope global
  }
  virtual_ipaddress_excluded {
    10.0.1.100/24
  }
  notify_master "/bin/m.sh arg"
  notify "/bin/n.sh"
}
vrrp_instance VI_6 {
  state MASTER
  interface eth0
  virtual_router_id 52
  priority 100
  unicast_src_ip fe80::1
  unicast_peer {
    fe80::2
  }
  authentication {
    auth_type PASS
    auth_pass 0123456789
  }
  virtual_ipaddress {
    fd00::100/64
  }
}
"#;

#[test]
fn keywords_map_to_the_core_configuration() {
    let v = tr(FULL).expect("translates");
    let i = &v.instances[0];
    assert_eq!(i.initial_state, InitialState::Backup);
    assert_eq!((i.vrid, i.priority, i.advert_int_cs), (51, 150, 50));
    assert_eq!(i.version, Version::V3);
    assert_eq!(i.src_addr, Some("10.0.0.1".parse::<IpAddr>().expect("ip")));
    assert!(!i.preempt);
    // keepalived 2.2.7 clears preempt_delay under nopreempt ("incompatible
    // with nopreempt mode - resetting"), and so does the config layer.
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.garp.master_delay, Duration::from_secs(2));
    assert_eq!(i.garp.master_repeat, 3);
    assert_eq!(i.garp.master_refresh, Duration::from_secs(30));
    let vip = &i.vips[0];
    assert_eq!(vip.label.as_deref(), Some("eth0:1"));
    assert_eq!(vip.brd, Some("10.0.0.255".parse::<IpAddr>().expect("ip")));
    assert_eq!(vip.scope, Some(0));
    assert_eq!(i.excluded_vips.len(), 1);
    let cmd = |c: &Option<lvsd::vrrp::config::NotifyCommand>| c.as_ref().map(|c| c.command.clone());
    assert_eq!(cmd(&i.notify.master).as_deref(), Some("/bin/m.sh arg"));
    assert_eq!(cmd(&i.notify.any).as_deref(), Some("/bin/n.sh"));
    let eth1 = i
        .tracks
        .iter()
        .find(|t| t.id == TrackId::Interface("eth1".into()))
        .expect("eth1 tracked");
    assert_eq!(eth1.weight, -10);
    let chk = i
        .tracks
        .iter()
        .find(|t| t.id == TrackId::Script("chk_nginx".into()))
        .expect("script tracked");
    // Sync group members move together: keepalived zeroes tracking weights.
    assert_eq!(chk.weight, 0);
    assert!(!chk.initially_up, "init_fail");
    let s = &v.scripts[0];
    assert_eq!((s.fall, s.rise, s.weight), (3, 2, -20));
    assert_eq!(s.timeout, Duration::from_secs(1));
    assert_eq!(v.sync_groups[0].members, vec!["VI_1", "VI_6"]);

    let six = &v.instances[1];
    assert_eq!(six.family, Family::V6);
    assert_eq!(six.version, Version::V3, "IPv6 instances always run VRRPv3");
    assert_eq!(
        six.unicast_peers.iter().map(|p| p.addr).collect::<Vec<_>>(),
        vec!["fe80::2".parse::<IpAddr>().expect("ip")]
    );
    // VRRPv3 has no authentication; keepalived ignores the block.
    assert_eq!(six.auth_pass, None);
    assert_eq!(six.initial_state, InitialState::Master);
}

#[test]
fn parse_errors_come_back_with_their_location() {
    let err = tr("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 300\n  priority 100\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n")
        .map(|_| ())
        .expect_err("VRID 300 is invalid");
    let text = err.to_string();
    assert!(text.contains("test.conf:3"), "{text}");
}

#[test]
fn v2_auth_pass_is_cut_to_eight_bytes() {
    let v = tr("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 9\n  priority 100\n  authentication {\n    auth_type PASS\n    auth_pass 0123456789\n  }\n  virtual_ipaddress {\n    10.0.0.9/24\n  }\n}\n")
        .expect("translates");
    assert_eq!(v.instances[0].version, Version::V2);
    assert_eq!(v.instances[0].auth_pass, Some(*b"01234567"));
}

#[test]
fn virtual_routes_translate_with_types_tables_and_defaults() {
    use lvsd::vrrp::config::RouteKind;
    let v = tr("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 9\n  priority 100\n  virtual_ipaddress {\n    10.0.0.9/24\n  }\n  virtual_routes {\n    default via 10.0.0.254 table main\n    blackhole 192.168.114.0/24\n    10.5.0.1 dev eth1 table 100\n  }\n}\n")
        .expect("translates");
    let r = &v.instances[0].routes;
    assert_eq!(r.len(), 3);
    assert_eq!(
        (r[0].dst, r[0].prefix_len),
        ("0.0.0.0".parse().expect("ip"), 0)
    );
    assert_eq!(r[0].via, Some("10.0.0.254".parse().expect("ip")));
    assert_eq!(r[0].table, Some(254));
    assert_eq!(r[1].kind, RouteKind::Blackhole);
    assert_eq!(r[1].prefix_len, 24);
    assert_eq!(r[2].prefix_len, 32);
    assert_eq!(r[2].dev.as_deref(), Some("eth1"));
    assert_eq!(r[2].table, Some(100));
}

#[test]
fn script_users_come_from_the_script_or_script_user() {
    let cfg = tr(r#"
global_defs {
  script_user nobody nogroup
}
vrrp_script own {
  script "/bin/true"
  user daemon
}
vrrp_script global {
  script "/bin/true"
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  virtual_ipaddress {
    10.0.0.100
  }
  track_script {
    own
    global
  }
  notify "/bin/true"
  notify_master "/bin/true" daemon
}
"#)
    .expect("translates");
    let user = |name: &str| {
        let s = cfg.scripts.iter().find(|s| s.name == name).expect("script");
        s.run_as.as_ref().map(|r| (r.user.clone(), r.group.clone()))
    };
    assert_eq!(user("own"), Some(("daemon".into(), None)));
    assert_eq!(
        user("global"),
        Some(("nobody".into(), Some("nogroup".into())))
    );
    let n = &cfg.instances[0].notify;
    let notify_user = |c: &Option<lvsd::vrrp::config::NotifyCommand>| {
        c.as_ref()
            .and_then(|c| c.run_as.as_ref())
            .map(|r| (r.user.clone(), r.group.clone()))
    };
    assert_eq!(
        notify_user(&n.any),
        Some(("nobody".into(), Some("nogroup".into())))
    );
    // A notify command's own `USER [GROUP]` wins.
    assert_eq!(notify_user(&n.master), Some(("daemon".into(), None)));
}

#[test]
fn advert_options_and_startup_delay_translate() {
    let cfg = tr(r#"
global_defs {
  vrrp_startup_delay 2.5
  vrrp_lower_prio_no_advert
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  higher_prio_send_advert
  down_timer_adverts 5
  virtual_ipaddress {
    10.0.0.100
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  priority 100
  lower_prio_no_advert false
  virtual_ipaddress {
    10.0.0.101
  }
}
"#)
    .expect("translates");
    assert_eq!(cfg.startup_delay, Duration::from_millis(2500));
    let (a, b) = (&cfg.instances[0], &cfg.instances[1]);
    assert!(a.higher_prio_send_advert && !b.higher_prio_send_advert);
    assert!(a.lower_prio_no_advert, "global default");
    assert!(!b.lower_prio_no_advert, "instance override");
    assert_eq!((a.down_timer_adverts, b.down_timer_adverts), (5, 3));
}

#[test]
fn track_files_carry_their_weights_paths_and_init() {
    let loaded = load_str(
        Path::new("test.conf"),
        r#"
track_file maint {
  file /run/lvsd/maint
  weight 0
  init_file 0 overwrite
}
vrrp_track_file prio {
  file "/run/lvsd/prio"
  weight -3 reverse
}
track_file unused {
  file /run/lvsd/unused
}
vrrp_sync_group G {
  group {
    VI_2
    VI_3
  }
  track_file {
    maint
  }
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  track_file {
    prio
    maint weight 254
    missing
  }
  virtual_ipaddress {
    10.0.0.100
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  priority 100
  track_file {
    prio weight 5
  }
  virtual_ipaddress {
    10.0.0.101
  }
}
vrrp_instance VI_3 {
  interface eth0
  virtual_router_id 3
  priority 100
  virtual_ipaddress {
    10.0.0.102
  }
}
vrrp_instance VI_4 {
  interface eth0
  virtual_router_id 4
  priority 100
  track_file {
    prio weight 4 noreverse
  }
  virtual_ipaddress {
    10.0.0.103
  }
}
"#,
        &ConfigOptions::default(),
    )
    .expect("loads");
    let text: Vec<String> = loaded
        .warnings
        .iter()
        .map(|w| w.render(&loaded.sources))
        .collect();
    let all = text.join("\n");
    assert!(all.contains("'vrrp_track_file' is deprecated"), "{all}");
    assert!(all.contains("track_file 'missing' is not defined"), "{all}");
    assert!(!all.contains("not supported"), "{all}");
    let v = translate(&loaded.config).expect("translates");
    let track = |i: usize, name: &str| {
        v.instances[i]
            .tracks
            .iter()
            .find(|t| t.id == TrackId::File(name.into()))
            .map(|t| (t.weight, t.reverse))
    };
    // The file's own weight and reverse, or the instance's weight.
    assert_eq!(track(0, "prio"), Some((-3, true)));
    assert_eq!(track(0, "maint"), Some((254, false)));
    assert_eq!(track(0, "missing"), None);
    // An explicit noreverse overrides the file's reverse, as in keepalived.
    assert_eq!(track(3, "prio"), Some((4, false)));
    // Sync group members track with weight 0, the group's files too.
    assert_eq!(track(1, "prio"), Some((0, true)));
    assert_eq!(track(1, "maint"), Some((0, false)));
    assert_eq!(track(2, "maint"), Some((0, false)));
    // Only files something tracks are watched.
    let names: Vec<&str> = v.track_files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["maint", "prio"]);
    let (maint, prio) = (&v.track_files[0], &v.track_files[1]);
    assert_eq!(maint.path, Path::new("/run/lvsd/maint"));
    assert_eq!(maint.init, Some((0, true)));
    assert_eq!(prio.path, Path::new("/run/lvsd/prio"));
    assert_eq!(prio.init, None);
}

#[test]
fn unicast_ttl_peer_ttl_ranges_source_check_and_checksum_keywords_reach_the_runtime() {
    let inst = |name: &str, vrid: u8, body: &str| {
        format!(
            "vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n  priority 100\n  version 3\n  virtual_ipaddress {{\n    10.0.0.{vrid}\n  }}\n{body}}}\n"
        )
    };
    let text = [
        "global_defs {\n  v3_checksum_as_v2\n}\n".to_string(),
        inst(
            "VI_U",
            1,
            "  unicast_ttl 1\n  unicast_peer {\n    10.0.0.2 min_ttl 250\n    10.0.0.3\n  }\n  old_unicast_checksum\n",
        ),
        inst(
            "VI_C",
            2,
            "  check_unicast_src\n  unicast_peer {\n    10.0.0.2\n  }\n  v3_checksum_as_v2 false\n  old_unicast_checksum never\n",
        ),
        inst("VI_M", 3, ""),
    ]
    .concat();
    let v = tr(&text).expect("translates");
    let [u, c, m] = &v.instances[..] else {
        panic!("three instances: {:?}", v.instances.len());
    };
    assert_eq!(u.unicast_ttl, 1);
    assert_eq!(
        u.unicast_peers,
        vec![
            UnicastPeer {
                addr: "10.0.0.2".parse().expect("ip"),
                min_ttl: 250,
                max_ttl: 255
            },
            UnicastPeer {
                addr: "10.0.0.3".parse().expect("ip"),
                min_ttl: 0,
                max_ttl: 255
            },
        ]
    );
    // A peer's TTL range turns the source check on, as in keepalived's parser.
    assert!(u.check_unicast_src);
    assert_eq!(u.old_unicast_checksum, OldUnicastChecksum::Always);
    assert!(
        u.v3_checksum_as_v2,
        "the global keyword is every instance's default"
    );
    assert_eq!(c.unicast_ttl, 255, "keepalived's default");
    assert!(c.check_unicast_src);
    assert!(
        !c.v3_checksum_as_v2,
        "the instance keyword overrides the global one"
    );
    assert_eq!(c.old_unicast_checksum, OldUnicastChecksum::Never);
    assert!(!m.check_unicast_src && m.unicast_peers.is_empty());
    assert_eq!(m.old_unicast_checksum, OldUnicastChecksum::Auto);

    let global = "global_defs {\n  vrrp_check_unicast_src\n}\n".to_string()
        + &inst("VI_G", 4, "  unicast_peer {\n    10.0.0.2\n  }\n");
    let v = tr(&global).expect("translates");
    assert!(v.instances[0].check_unicast_src, "vrrp_check_unicast_src");
}

#[test]
fn use_vmac_translates_name_mac_prefix_and_xmit_base() {
    use lvsd::vrrp::vmac::VmacConfig;
    let v = tr("global_defs {\n vmac_prefix vm\n}\n\
         vrrp_instance A {\n interface eth0\n virtual_router_id 7\n use_vmac\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
         vrrp_instance B {\n interface eth0\n virtual_router_id 8\n use_vmac vmb 02:11:22:33:44\n vmac_xmit_base\n virtual_ipaddress {\n 10.0.0.2\n }\n}\n\
         vrrp_instance C {\n interface eth0\n virtual_router_id 9\n use_vmac 00:00:5e:00:01:09\n virtual_ipaddress {\n fd00::9\n }\n}\n\
         vrrp_instance D {\n interface eth0\n virtual_router_id 10\n virtual_ipaddress {\n 10.0.0.4\n }\n}\n")
    .expect("translates");
    let vmac = |i: usize| v.instances[i].vmac.clone();
    assert_eq!(
        vmac(0),
        Some(VmacConfig {
            name: None,
            prefix: "vm".into(),
            mac: [0, 0, 0x5e, 0, 1, 7],
            xmit_base: false,
        })
    );
    assert_eq!(
        vmac(1),
        Some(VmacConfig {
            name: Some("vmb".into()),
            prefix: "vm".into(),
            mac: [2, 0x11, 0x22, 0x33, 0x44, 8],
            xmit_base: true,
        })
    );
    // An RFC 5798 address as the MAC is refused (logged): the family's RFC MAC.
    assert_eq!(vmac(2).map(|c| c.mac), Some([0, 0, 0x5e, 0, 2, 9]));
    assert_eq!(vmac(3), None);
    assert_eq!(v.instances[1].advert_interface(), "eth0");
}

/// `garp_extra_if` is on where keepalived 2.2.7 turns it on: with `all` and
/// a VIP on an interface other than the instance's (lvsd makes no VMACs of a
/// VIP's own, which is what it would do without `all`).
#[test]
fn garp_extra_if_is_on_only_where_keepalived_sends_it() {
    let conf = |global: &str, opt: &str, vips: &str| {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance V {{\n interface eth0\n virtual_router_id 9\n{opt}\n virtual_ipaddress {{\n{vips}\n }}\n}}\n"
        )
    };
    let extra = |text: String| tr(&text).expect("translates").instances[0].garp.extra_if;
    let other = "10.0.0.1/24\n10.1.0.1/24 dev eth1";
    let own = "10.0.0.1/24\n10.0.0.2/24 dev eth0";
    let secs = Duration::from_secs;
    assert_eq!(extra(conf("", " garp_extra_if all 30", other)), secs(30));
    assert_eq!(extra(conf("", " garp_extra_if 30 all", other)), secs(30));
    assert_eq!(extra(conf("", " garp_extra_if 30", other)), secs(0));
    assert_eq!(extra(conf("", " garp_extra_if all 30", own)), secs(0));
    // The global default, which the instance's 0 turns off.
    assert_eq!(
        extra(conf(" vrrp_garp_extra_if all 40", "", other)),
        secs(40)
    );
    assert_eq!(
        extra(conf(
            " vrrp_garp_extra_if all 40",
            " garp_extra_if 0",
            other
        )),
        secs(0)
    );
    // With a VMAC, a VIP of the other family stays on the base interface.
    assert_eq!(
        extra(conf(
            "",
            " use_vmac\n garp_extra_if all 30\n virtual_ipaddress_excluded {\n  fd00::9/64\n }",
            "10.0.0.1/24"
        )),
        secs(30)
    );
    // The deprecated spelling still works (with its warning).
    assert_eq!(extra(conf("", " vmac_garp_intvl all 30", other)), secs(30));
}
