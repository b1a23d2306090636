//! keepalived.conf parser and `lvsd check-config`: real files (seed configs, keepalived's
//! own samples, fixtures in tests/config/), every diagnostic with its file:line:col, the
//! CLI binary, and property tests feeding mutated configurations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use lvsd::config::{
    self, load, load_str, Checker, ConfigOptions, Diagnostic, Diagnostics, HttpProtocol,
    InitialState, LbAlgo, LbKind, Loaded, Problem, Protocol, Severity, VirtualServerKey,
    VrrpVersion,
};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config")
}

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

fn files_in(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    out
}

fn seed_configs() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = files_in(&shared().join("seed-configs"), "")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    assert!(v.len() >= 12, "seed configs missing: {v:?}");
    v
}

fn samples() -> Vec<PathBuf> {
    let v = files_in(Path::new(SAMPLES), "keepalived.conf.");
    assert!(v.len() >= 20, "keepalived samples missing: {v:?}");
    v
}

fn opts(id: &str) -> ConfigOptions {
    ConfigOptions {
        config_id: Some(id.to_string()),
        ..ConfigOptions::default()
    }
}

/// The config id a sample needs (keepalived.conf.conditional_conf says "run with -i high|low").
fn sample_ids(path: &Path) -> Vec<&'static str> {
    if path.ends_with("keepalived.conf.conditional_conf") {
        vec!["high", "low"]
    } else {
        vec!["lvsd-test"]
    }
}

/// A scratch directory with `test.conf` holding `text`.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix(&format!("lvsd-config-{}-", std::process::id()))
                .tempdir()
                .expect("tempdir"),
        }
    }
    fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
}

fn load_text(text: &str) -> (PathBuf, Result<Loaded, Diagnostics>, Scratch) {
    let s = Scratch::new();
    let path = s.write("test.conf", text);
    let r = load(&path, &opts("lvsd-test"));
    (path, r, s)
}

fn all_diags(r: &Result<Loaded, Diagnostics>) -> (Vec<Diagnostic>, config::SourceMap) {
    match r {
        Ok(l) => (l.warnings.clone(), l.sources.clone()),
        Err(d) => (d.items.clone(), d.sources.clone()),
    }
}

/// Asserts that loading `text` reports `severity` at `line:col` with a message containing
/// `message` (and, for errors, that the configuration is refused).
#[track_caller]
fn assert_problem(text: &str, severity: Severity, line: usize, col: usize, message: &str) {
    let (path, r, _s) = load_text(text);
    if severity == Severity::Error {
        assert!(r.is_err(), "expected an error for:\n{text}");
    }
    let (diags, sources) = all_diags(&r);
    let want_loc = format!("{}:{line}:{col}", path.display());
    let found = diags.iter().any(|d| {
        d.severity == severity
            && d.location(&sources).as_deref() == Some(want_loc.as_str())
            && d.message().contains(message)
    });
    let rendered: Vec<String> = diags.iter().map(|d| d.render(&sources)).collect();
    assert!(
        found,
        "expected {severity} at {line}:{col} containing {message:?}; got:\n{}",
        rendered.join("\n")
    );
}

#[track_caller]
fn loaded(text: &str) -> Loaded {
    let (_p, r, _s) = load_text(text);
    match r {
        Ok(l) => l,
        Err(d) => panic!("unexpected errors:\n{}", d.render()),
    }
}

const MINIMAL_INSTANCE: &str = "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 51\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n";

// ---------------------------------------------------------------------------
// Real configurations
// ---------------------------------------------------------------------------

/// Warnings a seed config may have on this machine: missing interfaces, keepalived's
/// own "nopreempt does not work with state MASTER" (the brief asks for that warning),
/// and the keywords lvsd does not implement (the seeds set up mail alerts).
fn seed_warning_allowed(d: &Diagnostic) -> bool {
    matches!(
        d.problem,
        Problem::NoSuchInterface { .. }
            | Problem::NopreemptWithMaster { .. }
            | Problem::NotImplemented { .. }
            | Problem::PartlyImplemented { .. }
    )
}

#[test]
fn every_seed_config_loads_without_errors() {
    for path in seed_configs() {
        let o = ConfigOptions {
            check_interfaces: true,
            ..opts("lvsd-test")
        };
        match load(&path, &o) {
            Ok(l) => {
                for w in &l.warnings {
                    assert!(
                        seed_warning_allowed(w),
                        "{}: unexpected warning:\n{}",
                        path.display(),
                        w.render(&l.sources)
                    );
                }
                assert!(
                    !l.config.vrrp_instances.is_empty(),
                    "{}: no vrrp_instance",
                    path.display()
                );
            }
            Err(d) => panic!("{}:\n{}", path.display(), d.render()),
        }
    }
}

#[test]
fn every_keepalived_sample_loads_without_errors() {
    for path in samples() {
        for id in sample_ids(&path) {
            if let Err(d) = sample_load(&path, &opts(id)) {
                panic!("{} (-i {id}):\n{}", path.display(), d.render());
            }
        }
    }
}

/// A sample loaded as [`load`] does, except that the one lvsd refuses for its `auth_type AH`
/// (keepalived runs AH; lvsd does not implement it: README "Deliberate differences")
/// gives its warnings, provided AH is its only error.
fn sample_load(path: &Path, o: &ConfigOptions) -> Result<Loaded, Diagnostics> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match load(path, o) {
        Err(d)
            if name == "keepalived.conf.SSL_GET"
                && d.errors()
                    .all(|e| matches!(e.problem, Problem::AuthAhNotImplemented { .. })) =>
        {
            Ok(Loaded {
                config: config::Config::default(),
                warnings: d.items.into_iter().filter(|e| !e.is_error()).collect(),
                sources: d.sources,
            })
        }
        r => r,
    }
}

/// Warnings the samples get that are keepalived's own warnings for the same text
/// (`keepalived -t` prints them too), not gaps in lvsd.
fn keepalived_also_warns(path: &Path, d: &Diagnostic) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match (&d.problem, name) {
        // The sample lists VI_2/VI_3 outside `group { }`: "Unknown keyword 'VI_2'".
        (Problem::UnknownKeyword { keyword, .. }, "keepalived.conf.vrrp.lvs_syncd") => {
            keyword == "VI_2" || keyword == "VI_3"
        }
        (Problem::MissingRequired { object, .. }, "keepalived.conf.vrrp.lvs_syncd") => {
            object == "vrrp_sync_group VG1"
        }
        // "Initial state master is incompatible with AH authentication - clearing".
        (Problem::InstanceConflict { reason, .. }, "keepalived.conf.SSL_GET") => {
            reason.contains("AH authentication")
        }
        // "The SMTP_CHECK host block is deprecated. Please define additional checkers."
        (Problem::DeprecatedSmtpHost, "keepalived.conf.SMTP_CHECK") => true,
        // "Warning: Virtual server FWM 1: protocol specified for fwmark - protocol will be ignored".
        (Problem::VirtualServerConflict { reason, .. }, "keepalived.conf.fwmark") => {
            reason.contains("protocol is ignored for a fwmark service")
        }
        _ => false,
    }
}

#[test]
fn sample_warnings_are_only_unimplemented_keywords() {
    let mut warned = std::collections::BTreeSet::new();
    for path in samples() {
        for id in sample_ids(&path) {
            let o = ConfigOptions {
                check_interfaces: true,
                ..opts(id)
            };
            let l = sample_load(&path, &o).unwrap_or_else(|d| panic!("{}", d.render()));
            for w in &l.warnings {
                match &w.problem {
                    Problem::NotImplemented { keyword, .. }
                    | Problem::PartlyImplemented { keyword, .. } => {
                        warned.insert(keyword.clone());
                    }
                    Problem::NoSuchInterface { .. } => {}
                    _ => assert!(
                        keepalived_also_warns(&path, w),
                        "{}: warning outside the not-supported list:\n{}",
                        path.display(),
                        w.render(&l.sources)
                    ),
                }
            }
        }
    }
    // The samples exercise these; the set must stay within the README list.
    let expected: std::collections::BTreeSet<String> = ["net_namespace", "or"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(warned, expected);
}

#[test]
fn lvs_dr_master_model_has_keepalived_defaults_and_inheritance() {
    let l = load(
        &shared().join("seed-configs/lvs-dr-master.conf"),
        &opts("lvsd-test"),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_MASTER"));
    assert_eq!(c.global.notification_email, vec!["ops@example.com"]);
    assert_eq!(
        c.global
            .smtp_server
            .as_ref()
            .map(|s| (s.host.as_str(), s.port)),
        Some(("127.0.0.1", 25))
    );
    assert_eq!(c.global.smtp_connect_timeout, Duration::from_secs(30));
    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.name, "VI_1");
    assert_eq!(vi.state, InitialState::Master);
    assert_eq!(vi.interface.as_deref(), Some("eth0"));
    assert_eq!(vi.virtual_router_id.get(), 51);
    assert_eq!(vi.priority.get(), 100);
    assert_eq!(vi.advert_int.centiseconds(), 100);
    assert_eq!(vi.version, VrrpVersion::V2);
    assert!(vi.preempt);
    assert_eq!(
        vi.authentication.as_ref().map(|a| a.auth_pass.expose()),
        Some("1111")
    );
    assert_eq!(vi.virtual_ipaddresses.len(), 1);
    assert_eq!(
        vi.virtual_ipaddresses[0].address.to_string(),
        "192.168.1.200"
    );
    assert_eq!(vi.virtual_ipaddresses[0].prefix_len, 32);
    assert_eq!(vi.garp.master_repeat, 5);
    assert_eq!(vi.garp.master_delay, Duration::from_secs(5));

    assert_eq!(c.virtual_servers.len(), 2);
    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.key,
        VirtualServerKey::Address {
            ip: "192.168.1.200".parse().expect("ip"),
            port: Some(80)
        }
    );
    assert_eq!(vs.lb_algo, LbAlgo::Wrr);
    assert_eq!(vs.method.kind, LbKind::Dr);
    assert_eq!(vs.protocol, Protocol::Tcp);
    assert_eq!(vs.persistence_timeout, Some(50));
    assert_eq!(vs.delay_loop, Duration::from_secs(6));
    assert_eq!(vs.quorum, 1);
    let rs = &vs.real_servers[0];
    assert_eq!(rs.port, Some(80));
    assert_eq!(rs.weight.get(), 1);
    assert_eq!(rs.method.kind, LbKind::Dr, "real server inherits lb_kind");
    let Checker::Http(h) = &rs.checkers[0] else {
        panic!("expected HTTP_GET, got {:?}", rs.checkers[0]);
    };
    assert_eq!(h.http_protocol, HttpProtocol::Http10);
    assert_eq!(h.urls.len(), 2);
    assert_eq!(
        h.urls[0].digest.map(|d| d.to_hex()).as_deref(),
        Some("640205b7b0fc66c1ea91c463fac6334d")
    );
    assert_eq!(h.urls[0].status_codes[0].first, 200, "default 200-299");
    assert_eq!(h.urls[0].status_codes[0].last, 299);
    assert_eq!(h.urls[1].status_codes[0].first, 200);
    assert_eq!(h.urls[1].status_codes[0].last, 200);
    assert_eq!(h.common.connect_timeout, Duration::from_secs(3));
    assert_eq!(h.common.retry, 3);
    assert_eq!(h.common.delay_before_retry, Duration::from_secs(3));
    assert_eq!(
        h.common.delay_loop,
        Duration::from_secs(6),
        "inherited from the VS"
    );
    let Checker::Tcp(t) = &vs.real_servers[1].checkers[0] else {
        panic!("expected TCP_CHECK");
    };
    assert_eq!(t.connect_port, Some(80));

    let https = &c.virtual_servers[1];
    let sorry = https.sorry_server.as_ref().expect("sorry_server");
    assert_eq!(sorry.address.to_string(), "192.168.1.140");
    assert_eq!(sorry.port, Some(443));
    let Checker::Ssl(s) = &https.real_servers[0].checkers[0] else {
        panic!("expected SSL_GET");
    };
    assert_eq!(s.common.connect_timeout, Duration::from_secs(3));
    assert_eq!(s.common.retry, 1, "keepalived default retry");
    let Checker::Misc(m) = &https.real_servers[1].checkers[0] else {
        panic!("expected MISC_CHECK");
    };
    assert_eq!(
        m.misc_path.argv(),
        ["/etc/keepalived/check_https.sh", "192.168.1.131"]
    );
    assert_eq!(m.misc_timeout, Some(Duration::from_secs(5)));
    assert_eq!(m.common.retry, 0, "MISC_CHECK default retry is 0");
    assert_eq!(m.common.delay_before_retry, Duration::from_secs(1));
}

#[test]
fn other_seed_models() {
    let nat = load(
        &shared().join("seed-configs/lvs-nat-tomcat.conf"),
        &opts("x"),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    let c = &nat.config;
    assert_eq!(c.vrrp_sync_groups[0].group, ["VI_EXT", "VI_INT"]);
    assert_eq!(
        c.sync_group_of("VI_INT").map(|g| g.name.as_str()),
        Some("VG_1")
    );
    assert_eq!(c.vrrp_instances[0].virtual_ipaddresses[0].prefix_len, 24);
    assert_eq!(
        c.vrrp_instances[0].virtual_ipaddresses[0].dev.as_deref(),
        Some("eth0")
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(
        (vs.lb_algo, vs.method.kind, vs.quorum),
        (LbAlgo::Wlc, LbKind::Nat, 1)
    );
    assert!(vs.real_servers[0].inhibit_on_failure);
    assert!(!vs.real_servers[1].inhibit_on_failure);
    assert!(matches!(vs.real_servers[0].checkers[0], Checker::Ping(_)));
    assert_eq!(vs.real_servers[0].checkers.len(), 2);

    let tun = load(&shared().join("seed-configs/lvs-tun.conf"), &opts("x"))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let vs = &tun.config.virtual_servers[0];
    assert_eq!(
        (vs.lb_algo, vs.method.kind, vs.protocol),
        (LbAlgo::Sh, LbKind::Tun, Protocol::Udp)
    );
    let Checker::Misc(m) = &vs.real_servers[0].checkers[0] else {
        panic!("expected MISC_CHECK");
    };
    assert!(m.misc_dynamic);
    assert_eq!(tun.config.virtual_servers[1].lb_algo, LbAlgo::Mh);

    let nginx = load(&shared().join("seed-configs/nginx-master.conf"), &opts("x"))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let s = &nginx.config.vrrp_scripts[0];
    assert_eq!((s.weight, s.rise, s.fall), (-5, 2, 3));
    assert_eq!(s.interval, Duration::from_secs(2));
    let vi = &nginx.config.vrrp_instances[0];
    assert_eq!(
        vi.src_ip.map(|a| a.to_string()).as_deref(),
        Some("192.168.49.100")
    );
    assert_eq!(vi.advert_int.centiseconds(), 200);
    assert_eq!(vi.track_scripts[0].name, "chk_nginx");
    assert!(
        vi.preempt,
        "nopreempt with MASTER is cleared, as keepalived does"
    );
    assert!(nginx.config.global.enable_script_security);
    assert_eq!(
        nginx
            .config
            .global
            .script_user
            .as_ref()
            .map(|u| u.user.as_str()),
        Some("root")
    );

    let backup = load(
        &shared().join("seed-configs/nopreempt-server1.conf"),
        &opts("x"),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    assert!(!backup.config.vrrp_instances[0].preempt);
    assert_eq!(
        backup.config.vrrp_instances[0].advert_int.centiseconds(),
        500
    );
}

#[test]
fn samples_with_groups_routes_and_ipv6() {
    let vsg = load(
        &Path::new(SAMPLES).join("keepalived.conf.virtual_server_group"),
        &opts("x"),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    let g = &vsg.config.virtual_server_groups[0];
    assert_eq!(g.members.len(), 6);
    match &g.members[3] {
        config::VsgMember::Range {
            first, last, port, ..
        } => {
            assert_eq!(first.to_string(), "192.168.200.3");
            assert_eq!(last.to_string(), "192.168.200.10");
            assert_eq!(*port, Some(80));
        }
        m => panic!("expected a range, got {m:?}"),
    }
    assert_eq!(
        vsg.config.virtual_servers[0].key,
        VirtualServerKey::Group("VSG_1".into())
    );

    let routes = load(
        &Path::new(SAMPLES).join("keepalived.conf.vrrp.routes"),
        &opts("x"),
    )
    .unwrap_or_else(|d| panic!("{}", d.render()));
    let r = &routes.config.vrrp_instances[0].virtual_routes;
    assert_eq!(
        r[0].src.map(|a| a.to_string()).as_deref(),
        Some("192.168.100.1")
    );
    assert_eq!(r[0].destination, "192.168.109.0/24");
    assert_eq!(r[4].via.len(), 2, "via ... or ...");
    assert_eq!(r[5].route_type.as_deref(), Some("blackhole"));
    assert_eq!(r[6].table.as_deref(), Some("100"));

    let v6 = load(&Path::new(SAMPLES).join("keepalived.conf.IPv6"), &opts("x"))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    match &v6.config.virtual_server_groups[0].members[0] {
        config::VsgMember::Range { first, last, .. } => {
            assert_eq!(
                (first.to_string(), last.to_string()),
                ("ae00::2".into(), "ae00::9".into())
            );
        }
        m => panic!("expected a range, got {m:?}"),
    }
    // IPv6 VIPs make an instance VRRPv3 unless told otherwise.
    let l = loaded("vrrp_instance V6 {\n    interface lo\n    virtual_router_id 5\n    advert_int 0.5\n    virtual_ipaddress {\n        2001:db8::5/64\n    }\n}\n");
    let i = &l.config.vrrp_instances[0];
    assert_eq!(i.version, VrrpVersion::V3);
    assert_eq!(i.advert_int.centiseconds(), 50);
    assert_eq!(i.virtual_ipaddresses[0].prefix_len, 64);
}

#[test]
fn include_globs_are_relative_to_the_including_file() {
    let l = load(&fixtures().join("include/main.conf"), &opts("x"))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(l.config.global.router_id.as_deref(), Some("included_test"));
    assert_eq!(l.config.vrrp_instances[0].name, "VI_INC");
    assert_eq!(l.config.vrrp_scripts[0].name, "chk_inc");
    assert_eq!(
        l.config.virtual_servers.len(),
        1,
        "nested include ../more/*.conf"
    );
    assert_eq!(l.sources.files().len(), 4);
}

#[test]
fn include_cycle_is_an_error_naming_the_include_line() {
    let r = load(&fixtures().join("cycle/a.conf"), &opts("x"));
    let d = r.expect_err("cycle must fail");
    let e = d.errors().next().expect("an error");
    assert!(matches!(e.problem, Problem::IncludeCycle { .. }), "{e:?}");
    let loc = e.location(&d.sources).expect("location");
    assert!(loc.ends_with("cycle/b.conf:1:1"), "{loc}");
}

#[test]
fn include_depth_is_limited() {
    let s = Scratch::new();
    let depth = config::preprocess::MAX_INCLUDE_DEPTH + 5;
    for k in 0..depth {
        s.write(&format!("f{k}.conf"), format!("include f{}.conf\n", k + 1));
    }
    s.write(&format!("f{depth}.conf"), MINIMAL_INSTANCE);
    let r = load(&s.dir.path().join("f0.conf"), &opts("x"));
    let d = r.expect_err("too deep");
    let e = d
        .items
        .iter()
        .find(|d| matches!(d.problem, Problem::IncludeTooDeep { .. }))
        .expect("an include depth error");
    let limit = config::preprocess::MAX_INCLUDE_DEPTH;
    // The include line of the last file that may still be read names the problem.
    let last = s.dir.path().join(format!("f{}.conf", limit - 1));
    assert_eq!(
        e.location(&d.sources),
        Some(format!("{}:1:1", last.display()))
    );
    assert!(
        e.message()
            .starts_with(&format!("includes nested more than {limit} files deep at")),
        "{}",
        e.message()
    );
}

#[test]
fn parameters_conditionals_and_sequences_expand_like_keepalived() {
    let main = load(&fixtures().join("params.conf"), &opts("main"))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let c = &main.config;
    assert_eq!(c.global.router_id.as_deref(), Some("main_router"));
    let names: Vec<_> = c.vrrp_instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2", "VI_SEQ"]);
    assert_eq!(c.vrrp_instances[0].priority.get(), 200);
    assert_eq!(c.vrrp_instances[1].virtual_router_id.get(), 2);
    assert_eq!(
        c.vrrp_instances[1].virtual_ipaddresses[0]
            .address
            .to_string(),
        "10.0.2.254"
    );
    let seq = &c.vrrp_instances[2];
    let vips: Vec<String> = seq
        .virtual_ipaddresses
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(vips, ["10.1.0.1", "10.1.1.1", "10.1.2.1", "10.1.3.1"]);
    let excluded: Vec<String> = seq
        .virtual_ipaddresses_excluded
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(
        excluded,
        [
            "fe80::20:90:1",
            "fe80::20:a0:1",
            "fe80::20:b0:1",
            "fe80::20:c0:1",
            "192.168.10.1",
            "192.168.20.4"
        ]
    );
    assert_eq!(
        seq.notify.master.as_ref().map(|s| s.command.as_str()),
        Some("/bin/echo #1 $UNDEFINED"),
        "${{_HASH}} is '#', undefined parameters stay"
    );

    let other = load(&fixtures().join("params.conf"), &opts("backup"))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(
        other.config.global.router_id.as_deref(),
        Some("backup_router")
    );
    assert_eq!(other.config.vrrp_instances[0].priority.get(), 50, "@^main");
}

#[test]
fn braces_quotes_and_comments_in_odd_places() {
    let l = loaded(
        "vrrp_script chk{\n  script \"/bin/check 'a b'\" # comment\n}\n\
         vrrp_instance VI_1\n{\n  interface lo ! bang comment\n  virtual_router_id 7\n  \
         track_script { chk }\n  virtual_ipaddress { 10.0.0.1/8 dev lo label lo:1 scope host }\n  \
         notify_master \"/bin/echo 标识 #not a comment\" nobody\n  priority 200 }\n",
    );
    let i = &l.config.vrrp_instances[0];
    assert_eq!(i.virtual_router_id.get(), 7);
    assert_eq!(i.priority.get(), 200);
    assert_eq!(i.track_scripts[0].name, "chk");
    assert_eq!(i.virtual_ipaddresses[0].label.as_deref(), Some("lo:1"));
    assert_eq!(i.virtual_ipaddresses[0].scope, Some(config::Scope::Host));
    let n = i.notify.master.as_ref().expect("notify_master");
    assert_eq!(n.command, "/bin/echo 标识 #not a comment");
    assert_eq!(n.user.as_deref(), Some("nobody"));
    assert_eq!(
        l.config.vrrp_scripts[0].script.argv(),
        ["/bin/check", "a b"]
    );
}

// ---------------------------------------------------------------------------
// Every diagnostic, with its place
// ---------------------------------------------------------------------------

#[test]
fn lexical_and_structural_errors() {
    assert_problem(
        "global_defs {\n  router_id x\n",
        Severity::Warning,
        1,
        13,
        "block 'global_defs' is never closed; keepalived closes it at the end of the file, and so does lvsd",
    );
    assert_problem("}\n", Severity::Error, 1, 1, "unmatched '}'");
    assert_problem(
        "{\n}\n",
        Severity::Error,
        1,
        1,
        "'{' without a keyword before it",
    );
    assert_problem(
        "vrrp_script x {\n  script \"/bin/true\n}\n",
        Severity::Error,
        2,
        10,
        "unterminated quoted string",
    );
    assert_problem(
        &format!("{}{}", "a {".repeat(100), "}".repeat(100)),
        Severity::Error,
        1,
        1 + 3 * config::tree::MAX_NESTING_DEPTH + 2,
        "blocks nested more than",
    );
}

#[test]
fn absurd_nesting_is_an_error_not_a_stack_overflow() {
    for text in [
        "{".repeat(100_000),
        "a {\n".repeat(100_000),
        "}".repeat(100_000),
    ] {
        let start = Instant::now();
        let (_p, r, _s) = load_text(&text);
        assert!(r.is_err());
        assert!(start.elapsed() < Duration::from_secs(60));
        let (d, _) = all_diags(&r);
        assert!(
            d.len() <= config::MAX_DIAGNOSTICS + 1,
            "diagnostics are capped"
        );
    }
}

#[test]
fn self_doubling_multi_line_parameter_stops_at_the_error_cap() {
    // Each substitution doubles the lines: without stopping at the error cap this ran
    // until the expanded-line budget (seconds here, a timeout under the fuzzer).
    let start = Instant::now();
    let (_p, r, _s) = load_text("$X=$X \\\n$X\n$X\n");
    let d = r.expect_err("runaway substitution");
    assert!(d
        .items
        .iter()
        .any(|d| matches!(d.problem, Problem::SubstitutionTooDeep { .. })));
    assert!(d.items.len() <= config::MAX_DIAGNOSTICS + 1);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn nesting_limit_error_names_the_first_block_too_deep() {
    let limit = config::tree::MAX_NESTING_DEPTH;
    assert_problem(
        &"a {\n".repeat(limit + 10),
        Severity::Error,
        limit + 1,
        3,
        &format!("blocks nested more than {limit} levels deep"),
    );
}

#[test]
fn substitution_that_makes_a_huge_line_is_an_error() {
    let text = format!("$A={}\n{}\n", "x".repeat(1024), ["$A"; 1100].join(" "));
    assert_problem(
        &text,
        Severity::Error,
        2,
        1,
        &format!(
            "parameter substitution makes a line longer than {} bytes",
            config::preprocess::MAX_LINE_BYTES
        ),
    );
}

#[test]
fn preprocessing_errors() {
    assert_problem(
        "include\n",
        Severity::Error,
        1,
        1,
        "'include' needs a file name",
    );
    assert_problem(
        "includea nothing/*.conf\n",
        Severity::Error,
        1,
        1,
        "no file matches include pattern 'nothing/*.conf'",
    );
    assert_problem(
        "include nothing/*.conf\n",
        Severity::Warning,
        1,
        1,
        "no file matches include pattern",
    );
    assert_problem(
        "include [\n",
        Severity::Error,
        1,
        1,
        "invalid include pattern '['",
    );
    assert_problem(
        "~SEQ(X, 1, 0, 5) a $X\n",
        Severity::Error,
        1,
        1,
        "malformed ~SEQ: step is 0",
    );
    assert_problem(
        "~LST(X)\n",
        Severity::Error,
        1,
        1,
        "malformed ~LST: no values",
    );
    assert_problem(
        "~LST({A,B}, {1}) x\n",
        Severity::Error,
        1,
        1,
        "1 values for 2 variables",
    );
    assert_problem(
        "~SEQ(X, 0, 1, 100000000) a\n",
        Severity::Error,
        1,
        1,
        "configuration expands to more than",
    );
    assert_problem(
        "$A=${A}x\n$A\n",
        Severity::Error,
        2,
        1,
        "parameter substitution nested more than",
    );
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let s = Scratch::new();
    let p = s.write("bin.conf", b"global_defs {\n  router_id \xff\xfe\n}\n");
    let d = load(&p, &opts("x")).expect_err("invalid utf-8");
    let e = &d.items[0];
    assert!(
        matches!(e.problem, Problem::InvalidUtf8 { byte: 0xff, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.location(&d.sources),
        Some(format!("{}:2:13", p.display()))
    );
}

/// Files are read a line at a time and their text read again only to show
/// a diagnostic: places and excerpts agree with what was read, across
/// CRLF line ends, replaced invalid UTF-8 and includes.
#[test]
fn diagnostics_of_a_file_read_line_by_line_show_the_right_lines() {
    let s = Scratch::new();
    let inc = s.write(
        "inc.conf",
        b"vrrp_script chk {\r\n    script /bin/true\r\n    no_such_option 1\r\n}\r\n",
    );
    let p = s.write(
        "top.conf",
        b"global_defs {\r\n  router_id \xff\xfe r1\r\n  bogus_global \xc3\xa9 x\r\n}\r\ninclude inc.conf\r\nalso_bogus",
    );
    let d = load(&p, &opts("x")).expect_err("invalid utf-8");
    let shown: Vec<(String, String)> = d
        .items
        .iter()
        .map(|e| {
            let rendered = e.render(&d.sources);
            let excerpt = rendered
                .lines()
                .find(|l| l.contains(" | ") && !l.trim_start().starts_with('|'))
                .unwrap_or("")
                .to_string();
            (e.location(&d.sources).unwrap_or_default(), excerpt)
        })
        .collect();
    let top = p.display().to_string();
    let inc = inc.display().to_string();
    assert_eq!(
        shown[0],
        (
            format!("{top}:2:13"),
            "2 |   router_id \u{fffd}\u{fffd} r1".to_string()
        ),
        "{shown:?}"
    );
    assert!(
        shown.contains(&(format!("{top}:3:3"), "3 |   bogus_global é x".to_string())),
        "{shown:?}"
    );
    assert!(
        shown.contains(&(format!("{inc}:3:5"), "3 |     no_such_option 1".to_string())),
        "{shown:?}"
    );
    assert!(
        shown.contains(&(format!("{top}:6:1"), "6 | also_bogus".to_string())),
        "{shown:?}"
    );
}

/// A configuration from a pipe (a FIFO, `-f /dev/stdin`) cannot be read
/// again: it is kept whole, and its diagnostics show their lines.
#[test]
fn a_configuration_from_a_fifo_is_read_once_and_its_lines_shown() {
    let s = Scratch::new();
    let fifo = s.write("dir/.keep", b"").with_file_name("keepalived.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "global_defs {\n  not_a_keyword 1\n}\n"))
    };
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let shown = match load(&fifo, &opts("x")) {
                Ok(l) => lvsd::config::render_all(&l.warnings, &l.sources),
                Err(d) => d.to_string(),
            };
            let _ = tx.send(shown);
        });
    }
    let shown = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("loading from a FIFO and showing its warnings must not block");
    assert!(writer.join().is_ok_and(|w| w.is_ok()));
    assert!(shown.contains(":2:3: warning"), "{shown}");
    assert!(shown.contains("2 |   not_a_keyword 1"), "{shown}");
}

#[test]
fn unreadable_top_file_is_an_error_without_a_place() {
    let d =
        load(Path::new("/nonexistent/lvsd/keepalived.conf"), &opts("x")).expect_err("missing file");
    assert!(matches!(d.items[0].problem, Problem::Unreadable { .. }));
    assert!(d.items[0].span.is_none());
    assert!(d
        .render()
        .contains("cannot read '/nonexistent/lvsd/keepalived.conf'"));
}

#[test]
fn value_errors_name_keyword_value_and_expectation() {
    let inst = |body: &str| {
        format!("vrrp_instance VI_1 {{\n    interface lo\n    virtual_router_id 51\n{body}\n}}\n")
    };
    assert_problem(
        &inst("    priority abc"),
        Severity::Warning,
        4,
        14,
        "'priority': 'abc' is not a number; keepalived uses the default 100, and so does lvsd",
    );
    assert_problem(
        &inst("    priority 0"),
        Severity::Warning,
        4,
        14,
        "'priority': '0' is out of range 1..255; keepalived uses the default 100, and so does lvsd",
    );
    assert_problem(
        &inst("    priority"),
        Severity::Error,
        4,
        5,
        "'priority' needs a value",
    );
    assert_problem(
        &inst("    priority 100 200"),
        Severity::Warning,
        4,
        18,
        "'priority': unexpected argument '200'",
    );
    assert_problem(
        &inst("    priority 100 {\n }"),
        Severity::Error,
        4,
        18,
        "'priority' does not take a block",
    );
    assert_problem(
        &inst("    virtual_ipaddress"),
        Severity::Error,
        4,
        5,
        "'virtual_ipaddress' needs a block",
    );
    assert_problem(
        &inst("    state LEADER"),
        Severity::Warning,
        4,
        11,
        "'state': 'LEADER' is not a state; keepalived starts as BACKUP, and so does lvsd",
    );
    assert_problem(
        &inst("    advert_int 0"),
        Severity::Warning,
        4,
        16,
        "'advert_int': '0' is below 0.01 s; keepalived ignores the line (1 s unless set before), and so does lvsd",
    );
    // lvsd's limit (the VRRPv3 field), not keepalived's (255 s): still an error.
    assert_problem(
        &inst("    advert_int 41"),
        Severity::Error,
        4,
        5,
        "'advert_int'",
    );
    assert_problem(
        &inst("    advert_int 1.5"),
        Severity::Warning,
        4,
        5,
        "VRRPv2 advert_int is whole seconds",
    );
    assert_problem(
        &inst("    track_interface {\n        lo weight 300\n    }"),
        Severity::Error,
        5,
        19,
        "'weight': 300 is out of range -253..253",
    );
    assert_problem(
        &inst("    virtual_ipaddress {\n        10.0.0.300/24\n    }"),
        Severity::Error,
        5,
        9,
        "'virtual_ipaddress': invalid value '10.0.0.300/24'",
    );
    assert_problem(
        &inst("    virtual_ipaddress {\n        10.0.0.3 bogus\n    }"),
        Severity::Error,
        5,
        18,
        "invalid value 'bogus'",
    );
    assert_problem(
        &inst("    unicast_peer {\n        10.0.0.2 min_ttl 999\n    }"),
        Severity::Error,
        5,
        26,
        "'10.0.0.2': 999 is out of range 0..255",
    );
    assert_problem(
        &inst("    smtp_alert maybe"),
        Severity::Error,
        4,
        16,
        "expected on|off|true|false|yes|no",
    );
    assert_problem(
        &inst("    authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }"),
        Severity::Warning,
        6,
        19,
        "auth_pass of VI_1 is longer than 8 characters",
    );
    assert_problem(
        &inst("    authentication {\n        auth_type NONE\n        auth_pass x\n    }"),
        Severity::Warning,
        5,
        19,
        "'auth_type': 'NONE' is not an authentication type (PASS or AH); keepalived ignores the line, and so does lvsd",
    );
    assert_problem(
        &inst("    authentication {\n        auth_pass x\n    }"),
        Severity::Warning,
        4,
        5,
        "authentication of VI_1 has no auth_type; it is ignored",
    );
    assert_problem(&inst("    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }"), Severity::Warning, 5, 5, "VRRPv3 has no authentication");
    assert_problem(
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 256\n}\n",
        Severity::Error,
        3,
        23,
        "'virtual_router_id': 256 is out of range 1..255",
    );
}

#[test]
fn lvs_value_errors() {
    let vs = |body: &str| format!("virtual_server 10.0.0.1 80 {{\n{body}\n}}\n");
    assert_problem(
        &vs("    lb_algo foo"),
        Severity::Warning,
        2,
        13,
        "'lb_algo': 'foo' is not a scheduler (rr, wrr, lc, wlc",
    );
    assert_problem(
        &vs("    lb_kind FAST"),
        Severity::Warning,
        2,
        13,
        "'lb_kind': 'FAST' is not a forwarding method (NAT, DR or TUN); keepalived ignores the line",
    );
    assert_problem(
        &vs("    protocol ICMP"),
        Severity::Warning,
        2,
        14,
        "'protocol': 'ICMP' is not a protocol (TCP, UDP or SCTP); keepalived ignores the line, and so does lvsd",
    );
    assert_problem(
        &vs("    delay_loop 1e3"),
        Severity::Error,
        2,
        16,
        "expected a time in seconds",
    );
    // keepalived's limit is IPVS_WEIGHT_MAX (INT32_MAX), as the kernel's.
    let heavy = loaded(&vs(
        "    protocol TCP\n    real_server 10.0.0.2 80 {\n        weight 70000\n    }",
    ));
    assert!(heavy.warnings.is_empty(), "{:?}", heavy.warnings);
    assert_eq!(
        heavy.config.virtual_servers[0].real_servers[0].weight.get(),
        70000
    );
    assert_problem(&vs("    real_server 10.0.0.2 80 {\n        HTTP_GET {\n            url {\n                path /\n                digest 640205b7b0fc66c1ea91c463fac6334\n            }\n        }\n    }"), Severity::Warning, 6, 24, "'digest': '640205b7b0fc66c1ea91c463fac6334' is not an MD5 digest of 32 hex digits (as genhash prints it); keepalived ignores the line (the url is checked without a digest), and so does lvsd");
    assert_problem(&vs("    real_server 10.0.0.2 80 {\n        HTTP_GET {\n            url {\n                path /\n                status_code 2xx\n            }\n        }\n    }"), Severity::Error, 6, 29, "invalid value '2xx'");
    assert_problem(&vs("    real_server 10.0.0.2 80 {\n        HTTP_GET {\n            connect_timeout 3\n        }\n    }"), Severity::Error, 3, 9, "HTTP_GET has no url");
    assert_problem(&vs("    real_server 10.0.0.2 80 {\n        SSL_GET {\n            url {\n                digest 640205b7b0fc66c1ea91c463fac6334d\n            }\n        }\n    }"), Severity::Error, 4, 13, "url has no path");
    assert_problem(&vs("    real_server 10.0.0.2 80 {\n        MISC_CHECK {\n            misc_timeout 3\n        }\n    }"), Severity::Warning, 3, 9, "MISC_CHECK has no misc_path; keepalived ignores the checker, and so does lvsd");
    let other_family = vs("    real_server 2001:db8::2 80 {\n    }");
    assert_problem(
        &other_family,
        Severity::Warning,
        2,
        5,
        "real server 2001:db8::2 is of another address family (only TUN real servers may be); it is ignored",
    );
    let kept = loaded(&vs(
        "    protocol TCP\n    real_server 2001:db8::2 80 {\n    }\n    real_server 10.0.0.3 80 {\n    }",
    ));
    let servers: Vec<String> = kept.config.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(servers, ["10.0.0.3"]);
    assert_problem(
        "virtual_server group NOPE {\n}\n",
        Severity::Error,
        1,
        1,
        "virtual_server_group 'NOPE' is not defined",
    );
    assert_problem(
        "virtual_server fwmark 0 {\n}\n",
        Severity::Error,
        1,
        23,
        "'virtual_server': 0 is out of range 1..4294967295",
    );
    let rs = "    protocol TCP\n    real_server 10.0.0.2 80 {\n    }\n";
    assert_problem(
        &format!("virtual_server 10.0.0.1 80 {{\n{rs}}}\nvirtual_server 10.0.0.1 80 {{\n{rs}}}\n"),
        Severity::Error,
        6,
        1,
        "virtual_server '10.0.0.1:80 TCP' is defined more than once",
    );
    // The same service with another protocol is another service...
    let udp = rs.replace("TCP", "UDP");
    assert!(loaded(&format!(
        "virtual_server 10.0.0.1 80 {{\n{rs}}}\nvirtual_server 10.0.0.1 80 {{\n{udp}}}\n"
    ))
    .warnings
    .is_empty());
    // ...but a fwmark service has no protocol of its own.
    assert_problem(
        &format!("virtual_server fwmark 5 {{\n{rs}}}\nvirtual_server fwmark 5 {{\n{udp}}}\n"),
        Severity::Error,
        6,
        1,
        "virtual_server 'fwmark 5' is defined more than once",
    );
    assert_problem(
        "virtual_server_group G {\n    10.0.0.1 80\n    2001:db8::1 80\n    fwmark 3\n}\n",
        Severity::Error,
        1,
        1,
        "IPv4 and IPv6 addresses with a fwmark need the fwmark's family",
    );
    assert_problem(
        "virtual_server_group G {\n    10.0.0.9-1 80\n}\n",
        Severity::Error,
        2,
        5,
        "'virtual_server_group': invalid value '10.0.0.9-1'",
    );
}

/// keepalived repairs these (check_data.c) with a warning; lvsd does the same repairs.
#[test]
fn virtual_server_repairs_match_keepalived() {
    let warn = |text: &str, line, col, message: &str| {
        assert_problem(text, Severity::Warning, line, col, message)
    };
    warn(
        "virtual_server 10.0.0.1 80 {\n    protocol TCP\n}\n",
        1,
        1,
        "has no real servers; it is ignored",
    );
    let l = loaded("virtual_server 10.0.0.1 80 {\n    protocol TCP\n}\n");
    assert!(l.config.virtual_servers.is_empty());

    let plain = "virtual_server 10.0.0.1 80 {\n    real_server 10.0.0.2 80 {\n    }\n}\n";
    warn(plain, 1, 1, "no protocol set; using UDP");
    assert_eq!(
        loaded(plain).config.virtual_servers[0].protocol,
        Protocol::Udp
    );

    let ops = "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    ops\n    real_server 10.0.0.2 80 {\n    }\n}\n";
    warn(
        ops,
        1,
        1,
        "one-packet scheduling (ops) requires UDP; cleared",
    );
    assert!(!loaded(ops).config.virtual_servers[0].scheduler_flags.ops);

    let portless =
        "virtual_server 10.0.0.1 {\n    protocol TCP\n    real_server 10.0.0.2 {\n    }\n}\n";
    warn(
        portless,
        1,
        1,
        "a service without a port must be persistent; persistence_timeout set to 360",
    );
    assert_eq!(
        loaded(portless).config.virtual_servers[0].persistence_timeout,
        Some(360)
    );

    let dr = "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    lb_kind DR\n    real_server 10.0.0.2 8080 {\n    }\n}\n";
    warn(
        dr,
        4,
        5,
        "real server 10.0.0.2:8080 port does not match the virtual server's; reset to 80",
    );
    assert_eq!(
        loaded(dr).config.virtual_servers[0].real_servers[0].port,
        Some(80)
    );
    // NAT may map ports.
    let nat = loaded("virtual_server 10.0.0.1 80 {\n    protocol TCP\n    real_server 10.0.0.2 8080 {\n    }\n}\n");
    assert!(nat.warnings.is_empty());
    assert_eq!(
        nat.config.virtual_servers[0].real_servers[0].port,
        Some(8080)
    );

    let fw = "virtual_server fwmark 5 {\n    protocol TCP\n    lb_kind DR\n    ha_suspend\n    real_server 10.0.0.2 80 {\n    }\n}\n";
    warn(fw, 1, 1, "protocol is ignored for a fwmark service");
    warn(fw, 1, 1, "ha_suspend cannot be used with fwmarks; cleared");
    warn(
        fw,
        5,
        5,
        "real server 10.0.0.2:80 has a port, which a fwmark service ignores; cleared",
    );
    let fwl = loaded(fw);
    assert_eq!(fwl.config.virtual_servers[0].real_servers[0].port, None);
    assert!(!fwl.config.virtual_servers[0].ha_suspend);

    let quorum = "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    quorum 5\n    hysteresis 9\n    real_server 10.0.0.2 80 {\n        weight 3\n    }\n}\n";
    warn(
        quorum,
        1,
        1,
        "quorum 5 exceeds the total weight 3 of the real servers; reduced to 3",
    );
    warn(quorum, 1, 1, "hysteresis 9 >= quorum 3; set to 2");
    let q = loaded(quorum);
    assert_eq!(
        (
            q.config.virtual_servers[0].quorum,
            q.config.virtual_servers[0].hysteresis
        ),
        (3, 2)
    );

    let dup = "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    real_server 10.0.0.2 80 {\n    }\n    real_server 10.0.0.2 80 {\n        weight 9\n    }\n}\n";
    warn(dup, 5, 5, "real server 10.0.0.2:80 is listed more than once in virtual_server 10.0.0.1:80; the repeat is ignored");
    let d = loaded(dup);
    assert_eq!(d.config.virtual_servers[0].real_servers.len(), 1);
    assert_eq!(
        d.config.virtual_servers[0].real_servers[0].weight.get(),
        1,
        "the first one is kept"
    );
}

#[test]
fn vrrp_repairs_match_keepalived() {
    let text = "vrrp_script chk {\n    script /bin/true\n}\nvrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 4\n    state MASTER\n    preempt_delay 5\n    track_script {\n        chk\n        chk weight 5\n    }\n}\n";
    assert_problem(
        text,
        Severity::Warning,
        4,
        1,
        "VI_1: preempt_delay does not work with state MASTER; cleared",
    );
    assert_problem(
        text,
        Severity::Warning,
        11,
        9,
        "vrrp_instance VI_1: track_script 'chk' is listed more than once; the repeat is ignored",
    );
    let l = loaded(text);
    let i = &l.config.vrrp_instances[0];
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.track_scripts.len(), 1);
    assert_eq!(i.track_scripts[0].weight, None, "the first entry is kept");

    let vmac = MINIMAL_INSTANCE.replace(
        "    virtual_router_id 51\n",
        "    virtual_router_id 51\n    use_vmac\n    promote_secondaries\n",
    );
    assert_problem(
        &vmac,
        Severity::Warning,
        1,
        1,
        "VI_1: promote_secondaries is set on the VMAC interface automatically; the keyword is ignored",
    );
    assert!(!loaded(&vmac).config.vrrp_instances[0].promote_secondaries);

    // AH turns MASTER into BACKUP before the preemption rules run: nopreempt stays.
    let ah = MINIMAL_INSTANCE.replace(
        "    virtual_router_id 51\n",
        "    virtual_router_id 51\n    state MASTER\n    priority 100\n    nopreempt\n    authentication {\n        auth_type AH\n        auth_pass x\n    }\n",
    );
    // lvsd refuses AH (README "Deliberate differences"), after keepalived's repairs.
    let (_p, r, _s) = load_text(&ah);
    let (diags, _) = all_diags(&r);
    assert!(r.is_err());
    assert!(diags
        .iter()
        .any(|d| d.is_error() && matches!(d.problem, Problem::AuthAhNotImplemented { .. })));
    assert!(diags.iter().any(|w| matches!(&w.problem,
        Problem::InstanceConflict { reason, .. } if reason.contains("starting as BACKUP"))));
    assert!(!diags
        .iter()
        .any(|w| matches!(w.problem, Problem::NopreemptWithMaster { .. })));
}

#[test]
fn cross_check_errors_and_warnings() {
    let two = |a: &str, b: &str| {
        format!(
            "vrrp_instance VI_1 {{\n    interface lo\n{a}\n}}\nvrrp_instance VI_2 {{\n    interface lo\n{b}\n}}\n"
        )
    };
    assert_problem(
        &two("    virtual_router_id 9", "    virtual_router_id 9"),
        Severity::Error,
        5,
        1,
        "virtual_router_id 9 is used by both VI_1 and VI_2 on interface lo",
    );
    // Different multicast groups, or disjoint unicast peers, may share a VRID.
    loaded(&two(
        "    virtual_router_id 9\n    unicast_peer {\n        10.0.0.2\n    }",
        "    virtual_router_id 9\n    unicast_peer {\n        10.0.0.3\n    }",
    ));
    assert_problem(
        &two(
            "    virtual_router_id 1",
            "    virtual_router_id 2\n    track_script {\n        chk_missing\n    }",
        ),
        Severity::Warning,
        9,
        9,
        "vrrp_script 'chk_missing' is not defined; the reference is ignored (as keepalived does)",
    );
    // A vrrp_script without `script` is dropped, and so are references to it.
    let l = loaded(
        "vrrp_script chk {\n    interval 2\n}\nvrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n    track_script {\n        chk\n    }\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n",
    );
    assert!(l.config.vrrp_scripts.is_empty());
    assert!(l.config.vrrp_instances[0].track_scripts.is_empty());
    let messages: Vec<String> = l.warnings.iter().map(|w| w.message()).collect();
    assert!(
        messages.contains(
            &"vrrp_script chk has no script; it is ignored (as keepalived does)".to_string()
        ),
        "{messages:?}"
    );
    assert_problem(
        &two(
            "    virtual_router_id 1",
            "    virtual_router_id 2\n    state MASTER\n    priority 200\n    nopreempt",
        ),
        Severity::Warning,
        5,
        1,
        "VI_2: nopreempt does not work with state MASTER",
    );
    assert_problem(
        "vrrp_instance VI_1 {\n    interface lo\n}\n",
        Severity::Error,
        1,
        1,
        "vrrp_instance VI_1 has no virtual_router_id",
    );
    assert_problem(
        "vrrp_instance VI_1 {\n    virtual_router_id 3\n}\n",
        Severity::Error,
        1,
        1,
        "vrrp_instance VI_1 has no interface",
    );
    let mixed = "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 3\n    virtual_ipaddress {\n        10.0.0.1\n        2001:db8::1\n    }\n}\n";
    assert_problem(
        mixed,
        Severity::Warning,
        6,
        9,
        "VI_1: virtual_ipaddress 2001:db8::1 is not of the instance's address family; it is ignored",
    );
    let vips: Vec<String> = loaded(mixed).config.vrrp_instances[0]
        .virtual_ipaddresses
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(vips, ["10.0.0.1"]);
    // The source address decides the family before the first VIP does (keepalived reads
    // families.conf the same way: see keepalived_reads_the_same_vrrp_values).
    let by_src = loaded(&mixed.replace(
        "    virtual_ipaddress {",
        "    unicast_src_ip 2001:db8::5\n    unicast_peer {\n        2001:db8::6\n    }\n    virtual_ipaddress {",
    ));
    let vips: Vec<String> = by_src.config.vrrp_instances[0]
        .virtual_ipaddresses
        .iter()
        .map(|v| v.address.to_string())
        .collect();
    assert_eq!(vips, ["2001:db8::1"]);
    assert_problem(
        &format!("{MINIMAL_INSTANCE}{}", MINIMAL_INSTANCE.replace("51", "52")),
        Severity::Error,
        8,
        1,
        "vrrp_instance 'VI_1' is defined more than once",
    );
    let sync = |members: &str| {
        format!("{MINIMAL_INSTANCE}vrrp_sync_group G1 {{\n    group {{\n{members}\n    }}\n}}\n")
    };
    assert_problem(
        &sync("        VI_1\n        VI_9"),
        Severity::Warning,
        11,
        9,
        "vrrp_instance (member of sync group G1) 'VI_9' is not defined; the reference is ignored",
    );
    let both = format!(
        "{}vrrp_sync_group G2 {{\n    group {{\n        VI_1\n    }}\n}}\n",
        sync("        VI_1")
    );
    assert_problem(
        &both,
        Severity::Warning,
        15,
        9,
        "vrrp_instance 'VI_1' is a member of both sync groups 'G1' and 'G2'; it is left out of 'G2'",
    );
    assert_problem(
        &both,
        Severity::Warning,
        8,
        1,
        "vrrp_sync_group G1 has only 1 vrrp_instance(s)",
    );
    assert_problem(
        &both,
        Severity::Warning,
        13,
        1,
        "vrrp_sync_group G2 has no member left; it is ignored",
    );
    let groups: Vec<String> = loaded(&both)
        .config
        .vrrp_sync_groups
        .iter()
        .map(|g| format!("{}:{}", g.name, g.group.join(",")))
        .collect();
    assert_eq!(groups, ["G1:VI_1"]);
    assert_problem(
        "global_defs {\n    lvs_sync_daemon eth0 inst VI_NONE\n}\n",
        Severity::Error,
        2,
        5,
        "vrrp_instance (lvs_sync_daemon) 'VI_NONE' is not defined",
    )
}

#[test]
fn unknown_and_unsupported_keywords_are_warnings_with_places() {
    assert_problem(
        "frobnicate 1\n",
        Severity::Warning,
        1,
        1,
        "unknown keyword 'frobnicate' in the top level",
    );
    assert_problem(
        "global_defs {\n    router_idd x\n}\n",
        Severity::Warning,
        2,
        5,
        "unknown keyword 'router_idd' in global_defs",
    );
    assert_problem(
        "bfd_instance b1 {\n    neighbor_ip 10.0.0.2\n}\n",
        Severity::Warning,
        1,
        1,
        "'bfd_instance' is not implemented by lvsd; it has no effect (keepalived tracks a BFD session",
    );
    assert_problem(
        "global_defs {\n    enable_snmp_vrrp\n}\n",
        Severity::Warning,
        2,
        5,
        "'enable_snmp_vrrp' is not implemented by lvsd; it has no effect (keepalived serves SNMP",
    );
    assert_problem(
        "garp_group {\n    garp_interval 1\n}\n",
        Severity::Warning,
        1,
        1,
        "'garp_group' is not implemented by lvsd",
    );
    assert_problem(
        "virtual_server 10.0.0.1 53 {\n    real_server 10.0.0.2 53 {\n        BFD_CHECK {\n            name b\n        }\n    }\n}\n",
        Severity::Warning,
        3,
        9,
        "'BFD_CHECK' is not implemented by lvsd; it has no effect",
    );
    // The model still loads; the unsupported checker is skipped, not silently kept.
    let l = loaded("virtual_server 10.0.0.1 53 {\n    real_server 10.0.0.2 53 {\n        BFD_CHECK {\n            name b\n        }\n    }\n}\n");
    assert!(l.config.virtual_servers[0].real_servers[0]
        .checkers
        .is_empty());
}

#[test]
fn file_check_problems_name_their_place() {
    const RS: &str = "track_file f {\n    file /tmp/f\n}\nvirtual_server 10.0.0.1 53 {\n    real_server 10.0.0.2 53 {\n        FILE_CHECK {\n";
    let with = |body: &str| format!("{RS}{body}        }}\n    }}\n}}\n");
    // As keepalived: an unknown track_file or none at all is ignored, with a warning.
    assert_problem(
        &with("            track_file g\n"),
        Severity::Warning,
        7,
        13,
        "track_file 'g' is not defined; the reference is ignored",
    );
    assert_problem(
        &with(""),
        Severity::Warning,
        6,
        9,
        "FILE_CHECK (ignored) has no track_file",
    );
    assert_problem(
        &with("            track_file f\n            weight 2 sideways\n"),
        Severity::Warning,
        8,
        22,
        "sideways",
    );
    assert_problem(
        &with("            track_file f\n            weight two\n"),
        Severity::Error,
        8,
        20,
        "two",
    );
    assert_problem(
        &with("            track_file f\n            dynamic\n"),
        Severity::Warning,
        8,
        13,
        "unknown keyword 'dynamic' in FILE_CHECK",
    );
    let l = loaded(&with("            track_file f\n"));
    let rs = &l.config.virtual_servers[0].real_servers[0];
    assert!(rs.checkers.is_empty());
    assert_eq!(rs.file_checks.len(), 1);
    assert_eq!(rs.file_checks[0].track_file, "f");
    let l = loaded(&with(
        "            track_file f\n            weight -3 reverse\n",
    ));
    let fc = &l.config.virtual_servers[0].real_servers[0].file_checks[0];
    assert_eq!((fc.weight, fc.reverse), (Some(-3), true));
    let l = loaded(&with("            track_file g\n"));
    assert!(l.config.virtual_servers[0].real_servers[0]
        .file_checks
        .is_empty());
}

#[test]
fn track_file_problems_name_their_place() {
    assert_problem(
        "track_file f {\n    weight 0\n}\n",
        Severity::Warning,
        1,
        1,
        "track_file f has no file; it is ignored",
    );
    assert_problem(
        "track_file f {\n    file /tmp/f\n    weight 255\n}\n",
        Severity::Error,
        3,
        12,
        "255",
    );
    assert_problem(
        "track_file f {\n    file /tmp/f\n    init_file 1000\n}\n",
        Severity::Warning,
        3,
        15,
        "outside the sensible range -254..254",
    );
    assert_problem(
        "track_file f {\n    file /tmp/f\n    init_file twelve\n}\n",
        Severity::Error,
        3,
        15,
        "twelve",
    );
    assert_problem(
        "track_file f {\n    file /tmp/f\n}\ntrack_file f {\n    file /tmp/g\n}\n",
        Severity::Error,
        4,
        1,
        "track_file",
    );
    assert_problem(
        "track_file f {\n    file /tmp/f\n}\nvrrp_instance V {\n    interface eth0\n    virtual_router_id 1\n    track_file {\n        f weight 300\n    }\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n",
        Severity::Error,
        8,
        18,
        "300",
    );
}

#[test]
fn missing_interfaces_are_warnings_when_asked() {
    let s = Scratch::new();
    let p = s.write(
        "t.conf",
        "vrrp_instance VI_1 {\n    interface lvsdnope0\n    virtual_router_id 3\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n",
    );
    let o = ConfigOptions {
        check_interfaces: true,
        ..opts("x")
    };
    let l = load(&p, &o).unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(
        l.warnings[0].location(&l.sources),
        Some(format!("{}:2:15", p.display()))
    );
    assert!(l.warnings[0]
        .message()
        .contains("interface 'lvsdnope0' does not exist"));
}

#[test]
fn all_problems_are_collected_not_only_the_first() {
    let (_p, r, _s) = load_text(
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 300\n}\nvirtual_server 10.0.0.1 80 {\n    lb_algo nope\n    protocol XYZ\n    delay_loop x\n}\nvirtual_server 10.0.0.2 80 {\n    delay_loop y\n}\n",
    );
    let d = r.expect_err("errors");
    assert_eq!(d.errors().count(), 3, "{}", d.render());
}

#[test]
fn rendering_shows_file_line_col_source_line_and_caret() {
    let (path, r, _s) = load_text("global_defs {\n    vrrp_version 4\n}\n");
    let d = r.expect_err("bad version");
    let text = d.render();
    let expected = format!(
        "{}:2:18: error: 'vrrp_version': 4 is out of range 2..3\n  |\n2 |     vrrp_version 4\n  |                  ^",
        path.display()
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.ends_with("1 error, 0 warnings"), "{text}");
}

#[test]
fn too_many_problems_are_capped() {
    let (_p, r, _s) = load_text(&"}\n".repeat(5000));
    let d = r.expect_err("errors");
    assert!(d.items.len() <= config::MAX_DIAGNOSTICS + 1);
    assert!(d
        .items
        .iter()
        .any(|d| matches!(d.problem, Problem::TooManyProblems { .. })));
}

#[test]
fn many_warnings_alone_do_not_refuse_a_configuration() {
    let l = loaded(&format!(
        "{MINIMAL_INSTANCE}{}",
        "frobnicate\n".repeat(3000)
    ));
    assert_eq!(l.warnings.len(), config::MAX_DIAGNOSTICS + 1);
    assert!(matches!(
        l.warnings.last().map(|d| &d.problem),
        Some(Problem::TooManyProblems { .. })
    ));
    let (_p, r, _s) = load_text(&format!(
        "{}vrrp_instance X {{\n interface lo\n virtual_router_id 0\n}}\n",
        "frobnicate\n".repeat(3000)
    ));
    assert!(
        r.is_err(),
        "an error after the cap still refuses the configuration"
    );
}

#[test]
fn secrets_are_redacted_in_json() {
    let l = loaded(&format!(
        "{}SSL {{\n    password s3cr3tkey\n}}\n",
        MINIMAL_INSTANCE.replace(
            "    interface lo\n",
            "    interface lo\n    authentication {\n        auth_type PASS\n        auth_pass hunter22\n    }\n"
        )
    ));
    let json = serde_json::to_string(&l.config).expect("json");
    assert!(
        !json.contains("hunter22") && !json.contains("s3cr3tkey"),
        "{json}"
    );
    assert!(json.contains("<redacted>"));
    assert!(!format!("{:?}", l.config).contains("hunter22"));
}

// ---------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------

fn lvsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .output()
        .expect("run lvsd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn cli_exit_codes_and_messages() {
    for seed in seed_configs() {
        let o = lvsd(&["check-config", "-f", seed.to_str().expect("utf-8 path")]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            seed.display(),
            stderr(&o)
        );
        assert!(stderr(&o).contains("configuration OK"));
    }
    let s = Scratch::new();
    let bad = s.write(
        "bad.conf",
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 0\n}\n",
    );
    let o = lvsd(&["check-config", "--use-file", bad.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:3:23: error: 'virtual_router_id': 0 is out of range 1..255",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("configuration is not usable"));

    let o = lvsd(&["check-config", "-f", "/nonexistent/lvsd.conf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read '/nonexistent/lvsd.conf'"));
}

#[test]
fn cli_strict_fails_on_warnings() {
    let s = Scratch::new();
    let warn = s.write("w.conf", format!("{MINIMAL_INSTANCE}frobnicate\n"));
    let p = warn.to_str().expect("path");
    let o = lvsd(&["check-config", "-f", p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: unknown keyword 'frobnicate'"));
    let o = lvsd(&["check-config", "-f", p, "--strict"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--strict"));
    assert!(stderr(&o).contains("error: unknown keyword 'frobnicate'"));
    let o = lvsd(&["run", "-t", "--strict", "-f", p]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("error: unknown keyword 'frobnicate'"));
    // `run --strict` refuses before touching anything (no privileges needed to see it),
    // with the start-failure status of any unusable configuration.
    for run in [
        vec!["run", "--strict", "-f", p],
        vec!["run", "-P", "--strict", "-f", p],
    ] {
        let o = lvsd(&run);
        assert_eq!(o.status.code(), Some(2), "{run:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("error: unknown keyword 'frobnicate'"),
            "{run:?}: {}",
            stderr(&o)
        );
    }
    let clean = s.write("c.conf", MINIMAL_INSTANCE);
    let o = lvsd(&[
        "check-config",
        "-f",
        clean.to_str().expect("path"),
        "--strict",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn cli_never_prints_secrets_in_diagnostics() {
    let s = Scratch::new();
    let p = s.write(
        "secret.conf",
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 5\n    authentication {\n        auth_type PASS\n        auth_pass Zq9secretX tail\n    }\n}\nvirtual_server 10.0.0.1 443 {\n    protocol TCP\n    real_server 10.0.0.2 443 {\n        SSL_GET {\n            url {\n                path /\n                status_code 200\n            }\n        }\n    }\n}\nSSL {\n    password Kp7secretY more\n}\n",
    );
    let o = lvsd(&["check-config", "-f", p.to_str().expect("path"), "--dump"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    // The problems are still reported, at their places...
    assert!(
        err.contains(&format!(
            "{}:6:30: warning: 'auth_pass': unexpected argument '<redacted>'",
            p.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:6:19: warning: auth_pass of VI_1 is longer than 8",
            p.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:21:25: warning: 'password': unexpected argument '<redacted>'",
            p.display()
        )),
        "{err}"
    );
    // ...but no part of a secret appears anywhere.
    for secret in ["Zq9secr", "secretX", "tail", "Kp7secretY", "more"] {
        assert!(!err.contains(secret), "{secret} leaked on stderr:\n{err}");
        assert!(!out.contains(secret), "{secret} leaked on stdout:\n{out}");
    }
}

#[test]
fn cli_dump_is_json_without_secrets_and_honours_config_id() {
    let p = fixtures().join("params.conf");
    let o = lvsd(&[
        "check-config",
        "-f",
        p.to_str().expect("path"),
        "--dump",
        "-i",
        "main",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["global"]["router_id"], "main_router");
    assert_eq!(v["vrrp_instances"][0]["priority"], 200);
    let o = lvsd(&[
        "check-config",
        "-f",
        p.to_str().expect("path"),
        "--dump",
        "--config-id",
        "backup",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["global"]["router_id"], "backup_router");

    let seed = shared().join("seed-configs/lvs-dr-master.conf");
    let o = lvsd(&["check-config", "-f", seed.to_str().expect("path"), "--dump"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("1111"), "auth_pass leaked:\n{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        v["vrrp_instances"][0]["authentication"]["auth_pass"],
        "<redacted>"
    );
    assert_eq!(v["virtual_servers"][0]["lb_algo"], "wrr");
    assert_eq!(
        v["virtual_servers"][0]["real_servers"][0]["checkers"][0]["type"],
        "HTTP_GET"
    );
    assert!(!stderr(&o).contains("1111"));
}

#[test]
fn cli_help_documents_the_options() {
    let o = lvsd(&["check-config", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in [
        "--use-file",
        "--strict",
        "--dump",
        "--config-id",
        "/etc/keepalived/keepalived.conf",
        "Exit status: 0 the configuration is usable, 1 it is not",
        "lvsd run -t",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
}

#[test]
fn check_function_is_callable_for_run_t() {
    let code = lvsd::cli::check_config::check(
        &shared().join("seed-configs/lvs-tun.conf"),
        false,
        false,
        Some("x"),
    );
    assert_eq!(code, std::process::ExitCode::SUCCESS);
}

// ---------------------------------------------------------------------------
// Robustness: random and mutated configurations never panic and finish quickly
// ---------------------------------------------------------------------------

fn corpus() -> Vec<String> {
    seed_configs()
        .into_iter()
        .chain(samples())
        .map(|p| std::fs::read_to_string(&p).unwrap_or_default())
        .collect()
}

fn fuzz_opts() -> ConfigOptions {
    ConfigOptions {
        config_id: Some("high".into()),
        check_interfaces: false,
        follow_includes: false,
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(usize, u8),
    Truncate(usize),
    DeleteBrace(usize),
    Duplicate(usize, usize),
    Insert(usize, String),
}

fn mutate(text: &str, muts: &[Mutation]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for m in muts {
        let len = b.len().max(1);
        match m {
            Mutation::FlipByte(i, x) => {
                if let Some(c) = b.get_mut(i % len) {
                    *c ^= x;
                }
            }
            Mutation::Truncate(i) => b.truncate(i % len),
            Mutation::DeleteBrace(i) => {
                let braces: Vec<usize> = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b'{' || **c == b'}')
                    .map(|(k, _)| k)
                    .collect();
                if !braces.is_empty() {
                    b.remove(braces[i % braces.len()]);
                }
            }
            Mutation::Duplicate(i, n) => {
                let start = i % len;
                let end = (start + n % 400).min(b.len());
                let piece = b[start..end].to_vec();
                b.splice(start..start, piece);
            }
            Mutation::Insert(i, s) => {
                let at = i % len;
                let at = at.min(b.len());
                b.splice(at..at, s.bytes());
            }
        }
    }
    b
}

fn mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    use proptest::prelude::*;
    let snippets = prop::sample::select(vec![
        "{",
        "}",
        "\"",
        "'",
        "\\",
        "$X=",
        "$X",
        "${X}",
        "@",
        "@^",
        "~SEQ(A,1,3) ",
        "~LST({A,B},{1,2}) ",
        "include x\n",
        "\n",
        "#",
        "!",
        "\u{6807}",
        "\u{fffd}",
        "\0",
        "255",
        "-1",
        "0x",
        "1.5",
        "virtual_server ",
        "real_server 10.0.0.1 80 {",
        "HTTP_GET {",
        "url {",
        "vrrp_instance V {",
    ]);
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::FlipByte(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DeleteBrace),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<usize>(), snippets).prop_map(|(i, s)| Mutation::Insert(i, s.to_string())),
    ]
}

fn parse_bytes_bounded(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let start = Instant::now();
    let r = load_str(Path::new("/nonexistent/fuzz.conf"), &text, &fuzz_opts());
    let (diags, sources) = all_diags(&r);
    for d in &diags {
        let _ = d.render(&sources);
    }
    if let Ok(l) = &r {
        let _ = serde_json::to_string(&l.config);
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    #[test]
    fn mutated_real_configs_never_panic(pick in 0usize..1000, muts in proptest::collection::vec(mutation(), 1..8)) {
        let corpus = corpus();
        let text = &corpus[pick % corpus.len()];
        parse_bytes_bounded(&mutate(text, &muts));
    }

    #[test]
    fn mutated_files_with_any_bytes_never_panic(pick in 0usize..1000, muts in proptest::collection::vec(mutation(), 1..8)) {
        // Through a file, so invalid UTF-8 reaches the reader's own check.
        let corpus = corpus();
        let bytes = mutate(&corpus[pick % corpus.len()], &muts);
        let s = Scratch::new();
        let path = s.write("mutated.conf", &bytes);
        let start = Instant::now();
        let r = load(&path, &fuzz_opts());
        let (diags, sources) = all_diags(&r);
        for d in &diags {
            let _ = d.render(&sources);
        }
        proptest::prop_assert!(start.elapsed() < Duration::from_secs(20));
        if std::str::from_utf8(&bytes).is_err() {
            proptest::prop_assert!(
                diags.iter().any(|d| matches!(d.problem, Problem::InvalidUtf8 { .. })),
                "invalid UTF-8 must be reported"
            );
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        parse_bytes_bounded(&bytes);
    }

    #[test]
    fn random_token_soup_never_panics(words in proptest::collection::vec(
        proptest::sample::select(vec!["{", "}", "\n", "vrrp_instance", "VI", "virtual_server", "10.0.0.1",
            "80", "real_server", "TCP_CHECK", "HTTP_GET", "url", "path", "/", "digest", "interface", "lo",
            "virtual_router_id", "1", "priority", "track_script", "$A=", "$A", "@x", "~SEQ(Q,1,2)", "\"a b\"",
            "global_defs", "vrrp_sync_group", "group", "virtual_server_group", "fwmark", "SSL", "include"]),
        0..300)) {
        parse_bytes_bounded(words.join(" ").as_bytes());
    }
}

// ---------------------------------------------------------------------------
// Differential: keepalived 2.2.7 reads the same VRRP values from the same files
// ---------------------------------------------------------------------------

/// What keepalived's `-d` dump says about one vrrp_instance.
#[derive(Debug, Default, PartialEq)]
struct DumpedInstance {
    version: String,
    wantstate: String,
    interface: String,
    vrid: String,
    priority: String,
    advert_cs: u64,
    preempt: String,
    garp_delay: String,
    garp_repeat: String,
    down_timer_adverts: String,
    auth: String,
    accept: String,
    /// "" when keepalived prints no "Preempt delay" line (no delay).
    preempt_delay: String,
    garp_refresh: String,
    garp_refresh_repeat: String,
    garp_lower_prio_delay: String,
    garp_lower_prio_repeat: String,
    /// "Send advert after receive lower priority advert" (the opposite of lower_prio_no_advert).
    advert_after_lower_prio: String,
    advert_after_higher_prio: String,
    /// "" when the instance is in no sync group.
    sync_group: String,
    promote_secondaries: String,
    /// "ADDR (from configuration)", or "(none)" (the test's interfaces have no address).
    src_ip: String,
    /// Multicast group (first word); "" for unicast instances, which print none.
    mcast_group: String,
    vips: Vec<String>,
    excluded_vips: Vec<String>,
    unicast_peers: Vec<String>,
    /// "NAME weight W[ reverse]" as keepalived prints them.
    tracked_interfaces: Vec<String>,
    tracked_scripts: Vec<String>,
}

#[derive(Debug, Default, PartialEq)]
struct DumpedScript {
    interval: String,
    weight: String,
    rise: String,
    fall: String,
}

fn value(line: &str, key: &str) -> Option<String> {
    line.trim()
        .strip_prefix(key)
        .and_then(|r| r.strip_prefix(" = "))
        .map(|v| v.trim().to_string())
}

/// The VRRP-relevant part of keepalived's "Global definitions" dump.
#[derive(Debug, Default, PartialEq)]
struct DumpedGlobals {
    router_id: String,
    mcast_group4: String,
    mcast_group6: String,
    default_version: String,
    strict: String,
    down_timer_adverts: String,
    check_unicast_src: String,
    skip_check_adv_addr: String,
}

fn parse_dump_globals(lines: &[String]) -> DumpedGlobals {
    let mut g = DumpedGlobals::default();
    let mut inside = false;
    for raw in lines {
        let line = raw.split_once(": ").map(|x| x.1).unwrap_or(raw);
        if line.starts_with("------<") {
            inside = line.contains("Global definitions");
            continue;
        }
        if !inside || !line.starts_with(' ') {
            continue;
        }
        for (slot, key) in [
            (&mut g.router_id, "Router ID"),
            (&mut g.mcast_group4, "VRRP IPv4 mcast group"),
            (&mut g.mcast_group6, "VRRP IPv6 mcast group"),
            (&mut g.default_version, "VRRP default protocol version"),
            (&mut g.strict, "VRRP strict mode"),
            (&mut g.down_timer_adverts, "Num adverts before down"),
            (&mut g.check_unicast_src, "VRRP check unicast_src"),
            (
                &mut g.skip_check_adv_addr,
                "VRRP skip check advert addresses",
            ),
        ] {
            if let Some(v) = value(line, key) {
                *slot = v;
            }
        }
    }
    g
}

/// Parses the VRRP part of keepalived's `-d` dump.
/// keepalived's dump: instances and scripts, by name, in order.
type Dump = (Vec<(String, DumpedInstance)>, Vec<(String, DumpedScript)>);

fn parse_dump(lines: &[String]) -> Dump {
    let mut instances: Vec<(String, DumpedInstance)> = Vec::new();
    let mut scripts: Vec<(String, DumpedScript)> = Vec::new();
    let mut section = "";
    let mut list = "";
    for raw in lines {
        // Strip the "Tue Nov 24 20:07:57 2026: " prefix.
        let line = raw.split_once(": ").map(|x| x.1).unwrap_or(raw);
        if line.starts_with("------<") {
            section = if line.contains("VRRP Topology") {
                "topology"
            } else if line.contains("VRRP Scripts") {
                "scripts"
            } else {
                ""
            };
            continue;
        }
        // Dump lines are indented; unindented ones are log messages of other processes
        // or of startup, which can land in the middle of a list.
        if !line.starts_with(' ') {
            continue;
        }
        if section == "topology" {
            if let Some(name) = value(line, "VRRP Instance") {
                instances.push((name, DumpedInstance::default()));
                list = "";
                continue;
            }
            let Some((_, i)) = instances.last_mut() else {
                continue;
            };
            let t = line.trim();
            if t.starts_with("Virtual IP (") {
                list = "vips";
            } else if t.starts_with("Virtual IP Excluded") {
                list = "excluded";
            } else if t.starts_with("Unicast Peer") {
                list = "peers";
            } else if t.starts_with("Tracked scripts") {
                list = "scripts";
            } else if t.starts_with("Tracked interfaces") {
                list = "interfaces";
            } else if line.starts_with("     ") && !list.is_empty() {
                let first = t.split_whitespace().next().unwrap_or("").to_string();
                match list {
                    "vips" => i.vips.push(first),
                    "excluded" => i.excluded_vips.push(first),
                    "peers" => i.unicast_peers.push(first),
                    "interfaces" => i.tracked_interfaces.push(t.to_string()),
                    _ => i.tracked_scripts.push(first),
                }
            } else {
                list = "";
                let set = |slot: &mut String, key: &str| {
                    if let Some(v) = value(line, key) {
                        *slot = v;
                    }
                };
                set(&mut i.version, "VRRP Version");
                set(&mut i.wantstate, "Wantstate");
                set(&mut i.interface, "Interface");
                set(&mut i.vrid, "Virtual Router ID");
                set(&mut i.priority, "Priority");
                set(&mut i.preempt, "Preempt");
                set(&mut i.garp_delay, "Gratuitous ARP delay");
                set(&mut i.garp_repeat, "Gratuitous ARP repeat");
                set(&mut i.down_timer_adverts, "Down timer adverts");
                set(&mut i.auth, "Authentication type");
                set(&mut i.accept, "Accept");
                set(&mut i.preempt_delay, "Preempt delay");
                set(&mut i.garp_refresh, "Gratuitous ARP refresh");
                set(&mut i.garp_refresh_repeat, "Gratuitous ARP refresh repeat");
                set(
                    &mut i.garp_lower_prio_delay,
                    "Gratuitous ARP lower priority delay",
                );
                set(
                    &mut i.garp_lower_prio_repeat,
                    "Gratuitous ARP lower priority repeat",
                );
                set(
                    &mut i.advert_after_lower_prio,
                    "Send advert after receive lower priority advert",
                );
                set(
                    &mut i.advert_after_higher_prio,
                    "Send advert after receive higher priority advert",
                );
                set(&mut i.promote_secondaries, "Promote_secondaries");
                set(&mut i.sync_group, "Sync group");
                set(&mut i.src_ip, "Using src_ip");
                if let Some(group) = t.strip_prefix("Multicast address ") {
                    let group = group.split([' ', ',']).next().unwrap_or("");
                    i.mcast_group = group.to_string();
                }
                if let Some(v) = value(line, "Advert interval") {
                    // "1 sec" or, below a second, "500 milli-sec".
                    let (number, scale) = match v.strip_suffix(" milli-sec") {
                        Some(ms) => (ms, 0.1),
                        None => (v.trim_end_matches(" sec"), 100.0),
                    };
                    let n: f64 = number.trim().parse().unwrap_or(-1.0);
                    i.advert_cs = (n * scale).round() as u64;
                }
                // With use_vmac: "Interface = vrrp.61, vmac on eth0, xmit base i/f".
                if let Some((_, base)) = i.interface.clone().split_once(", vmac on ") {
                    i.interface = base.split(',').next().unwrap_or(base).to_string();
                }
            }
        } else if section == "scripts" {
            if let Some(name) = value(line, "VRRP Script") {
                scripts.push((name, DumpedScript::default()));
                continue;
            }
            let Some((_, s)) = scripts.last_mut() else {
                continue;
            };
            if let Some(v) = value(line, "Interval") {
                s.interval = v;
            }
            if let Some(v) = value(line, "Weight") {
                s.weight = v;
            }
            if let Some(v) = value(line, "Rise") {
                s.rise = v;
            }
            if let Some(v) = value(line, "Fall") {
                s.fall = v;
            }
        }
    }
    // keepalived prints no authentication line for VRRPv3 (which has none).
    for (_, i) in &mut instances {
        if i.version == "3" && i.auth.is_empty() {
            i.auth = "none".into();
        }
    }
    (instances, scripts)
}

/// Kills a process group when dropped, so keepalived never outlives a failed test.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let pg = nix::unistd::Pid::from_raw(self.0);
        let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Runs keepalived 2.2.7 with `-d` on `conf` in a fresh network namespace holding veth
/// interfaces with the given names, and returns its dump once the VRRP part is out. Only
/// the VRRP process runs (`-P`): the checker process would interleave its own dump lines.
fn keepalived_dump(conf: &Path, ifnames: &[String], work: &Path, id: &str) -> Vec<String> {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let mut script = String::from("ip link set lo up\n");
    for (k, name) in ifnames.iter().enumerate() {
        script.push_str(&format!(
            "ip link add '{name}' type veth peer name lvsdp{k} && ip link set '{name}' up\n"
        ));
    }
    let pid = |n: &str| work.join(format!("{n}.pid")).display().to_string();
    script.push_str(&format!(
        "exec keepalived -P -n -l -D -d --no-syslog -i {id} -f '{}' -p '{}' -r '{}' -c '{}' -b '{}' 2>&1\n",
        conf.display(),
        pid("k"),
        pid("v"),
        pid("c"),
        pid("b"),
    ));
    let mut child = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("run unshare/keepalived (needs root, iproute2 and keepalived)");
    let guard = GroupGuard(child.id() as i32);
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let done = line.contains("------< Interfaces >------");
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(guard);
    let _ = child.wait();
    lines
}

fn vip_text(v: &config::VirtualIpAddress) -> String {
    let full = if v.address.is_ipv4() { 32 } else { 128 };
    if v.prefix_len == full {
        v.address.to_string()
    } else {
        format!("{}/{}", v.address, v.prefix_len)
    }
}

#[test]
fn keepalived_reads_the_same_vrrp_values() {
    let work = Scratch::new();
    let mut compared = 0;
    let own = [
        (fixtures().join("params.conf"), vec!["main", "backup"]),
        (fixtures().join("include/main.conf"), vec!["x"]),
        (fixtures().join("all_keywords.conf"), vec!["x"]),
        (fixtures().join("odd_syntax.conf"), vec!["x"]),
        (fixtures().join("families.conf"), vec!["x"]),
        (fixtures().join("state_priority.conf"), vec!["x"]),
        (fixtures().join("strict.conf"), vec!["x"]),
        (fixtures().join("sync_groups.conf"), vec!["x"]),
        (fixtures().join("vrrp_fallbacks.conf"), vec!["x"]),
    ];
    let runs: Vec<(PathBuf, Vec<&str>)> = seed_configs()
        .into_iter()
        .chain(samples())
        .map(|p| {
            let ids = sample_ids(&p);
            (p, ids)
        })
        .chain(own)
        .collect();
    for (path, ids) in runs {
        for id in ids {
            let ours = sample_load(&path, &opts(id)).unwrap_or_else(|d| panic!("{}", d.render()));
            let c = &ours.config;
            // keepalived would switch to a named network namespace lvsd does not support,
            // or (lvs_sync_daemon) need IPVS, which this host's kernel lacks.
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if c.vrrp_instances.is_empty()
                || text.contains("net_namespace")
                || c.global.lvs_sync_daemon.is_some()
            {
                continue;
            }
            let mut ifnames: Vec<String> = c
                .vrrp_instances
                .iter()
                .flat_map(|i| {
                    i.interface
                        .iter()
                        .cloned()
                        .chain(i.track_interfaces.iter().map(|t| t.name.clone()))
                        .chain(
                            i.virtual_ipaddresses
                                .iter()
                                .chain(&i.virtual_ipaddresses_excluded)
                                .filter_map(|v| v.dev.clone()),
                        )
                        .chain(i.virtual_routes.iter().filter_map(|r| r.dev.clone()))
                })
                .chain(c.static_ipaddresses.iter().filter_map(|v| v.dev.clone()))
                .chain(c.static_routes.iter().filter_map(|r| r.dev.clone()))
                .chain(c.global.lvs_sync_daemon.iter().map(|d| d.interface.clone()))
                .collect();
            ifnames.sort();
            ifnames.dedup();
            // Fresh pid files each run: killed children may linger a moment.
            let run_dir = work.dir.path().join(format!("run{compared}-{id}"));
            std::fs::create_dir_all(&run_dir).expect("mkdir");
            // keepalived runs startup_script/shutdown_script before it dumps its
            // configuration, and under `unshare -n` never gets past them: give it a copy
            // without them (they do not affect the VRRP values compared here).
            let keepalived_conf = if text.contains("startup_script") {
                let copy = run_dir.join("no-startup-script.conf");
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.contains("startup_script") && !l.contains("shutdown_script"))
                    .collect();
                std::fs::write(&copy, kept.join("\n")).expect("write copy");
                copy
            } else {
                path.clone()
            };
            let dump = keepalived_dump(&keepalived_conf, &ifnames, &run_dir, id);
            let (theirs, their_scripts) = parse_dump(&dump);
            let g = &c.global;
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let our_globals = DumpedGlobals {
                router_id: g
                    .router_id
                    .clone()
                    .unwrap_or_else(|| host.trim().to_string()),
                mcast_group4: g.vrrp_mcast_group4.to_string(),
                mcast_group6: g.vrrp_mcast_group6.to_string(),
                default_version: match g.vrrp_version {
                    VrrpVersion::V2 => "2".into(),
                    VrrpVersion::V3 => "3".into(),
                },
                strict: g.vrrp_strict.to_string(),
                down_timer_adverts: g.vrrp_down_timer_adverts.to_string(),
                check_unicast_src: g.vrrp_check_unicast_src.to_string(),
                skip_check_adv_addr: g.vrrp_skip_check_adv_addr.to_string(),
            };
            assert_eq!(
                our_globals,
                parse_dump_globals(&dump),
                "{}: global_defs",
                path.display()
            );
            let what = format!("{} (-i {id})", path.display());
            let names: Vec<&str> = theirs.iter().map(|(n, _)| n.as_str()).collect();
            let our_names: Vec<&str> = c.vrrp_instances.iter().map(|i| i.name.as_str()).collect();
            assert_eq!(names, our_names, "{what}: instances\n{}", dump.join("\n"));
            for (name, k) in &theirs {
                let i = c.vrrp_instance(name).expect("same names");
                let ours = DumpedInstance {
                    version: match i.version {
                        VrrpVersion::V2 => "2".into(),
                        VrrpVersion::V3 => "3".into(),
                    },
                    // A sync group moves its members' wanted state at startup (runtime, not
                    // configuration), so only compare it for instances outside groups.
                    wantstate: match (c.sync_group_of(name), i.state) {
                        (Some(_), _) => k.wantstate.clone(),
                        (None, InitialState::Master) => "MASTER".into(),
                        (None, InitialState::Backup) => "BACKUP".into(),
                    },
                    interface: i.interface.clone().unwrap_or_default(),
                    vrid: i.virtual_router_id.get().to_string(),
                    priority: i.priority.get().to_string(),
                    advert_cs: u64::from(i.advert_int.centiseconds()),
                    preempt: if i.preempt { "enabled" } else { "disabled" }.into(),
                    garp_delay: i.garp.master_delay.as_secs().to_string(),
                    garp_repeat: i.garp.master_repeat.to_string(),
                    down_timer_adverts: i.down_timer_adverts.to_string(),
                    auth: match i.authentication.as_ref().map(|a| a.auth_type) {
                        None => "none".into(),
                        Some(config::AuthType::Pass) => "SIMPLE_PASSWORD".into(),
                        Some(config::AuthType::Ah) => "IPSEC_AH".into(),
                    },
                    accept: if i.accept_mode() {
                        "enabled"
                    } else {
                        "disabled"
                    }
                    .into(),
                    preempt_delay: if i.preempt_delay.is_zero() {
                        String::new()
                    } else {
                        format!("{} secs", i.preempt_delay.as_secs())
                    },
                    garp_refresh: i.garp.master_refresh.map_or(0, |d| d.as_secs()).to_string(),
                    garp_refresh_repeat: i.garp.master_refresh_repeat.to_string(),
                    garp_lower_prio_delay: i.garp.lower_prio_delay.as_secs().to_string(),
                    garp_lower_prio_repeat: i.garp.lower_prio_repeat.to_string(),
                    advert_after_lower_prio: (!i.lower_prio_no_advert).to_string(),
                    advert_after_higher_prio: i.higher_prio_send_advert.to_string(),
                    sync_group: c
                        .sync_group_of(name)
                        .map(|g| g.name.clone())
                        .unwrap_or_default(),
                    promote_secondaries: if i.promote_secondaries {
                        "enabled"
                    } else {
                        "disabled"
                    }
                    .into(),
                    src_ip: i
                        .src_ip
                        .map_or("(none)".into(), |a| format!("{a} (from configuration)")),
                    mcast_group: if i.is_unicast() {
                        String::new()
                    } else {
                        i.mcast_dst_ip
                            .unwrap_or(match i.family() {
                                config::IpFamily::Inet => c.global.vrrp_mcast_group4.into(),
                                config::IpFamily::Inet6 => c.global.vrrp_mcast_group6.into(),
                            })
                            .to_string()
                    },
                    vips: i.virtual_ipaddresses.iter().map(vip_text).collect(),
                    excluded_vips: i
                        .virtual_ipaddresses_excluded
                        .iter()
                        .map(vip_text)
                        .collect(),
                    unicast_peers: i
                        .unicast_peers
                        .iter()
                        .map(|p| p.address.to_string())
                        .collect(),
                    // keepalived drops scripts whose file is missing; compare what it kept.
                    tracked_interfaces: i
                        .track_interfaces
                        .iter()
                        .map(|t| {
                            let w = t.weight.map_or(0, |w| w.get());
                            let reverse = if t.reverse { " reverse" } else { "" };
                            format!("{} weight {w}{reverse}", t.name)
                        })
                        .collect(),
                    tracked_scripts: i
                        .track_scripts
                        .iter()
                        .map(|t| t.name.clone())
                        .filter(|n| k.tracked_scripts.contains(n))
                        .collect(),
                };
                assert_eq!(&ours, k, "{what}: vrrp_instance {name}");
                compared += 1;
            }
            for (name, k) in &their_scripts {
                let s = c.vrrp_script(name).expect("script known to lvsd");
                let ours = DumpedScript {
                    interval: format!("{} sec", s.interval.as_secs()),
                    weight: if s.weight_reverse {
                        format!("{} reverse", s.weight)
                    } else {
                        s.weight.to_string()
                    },
                    rise: s.rise.to_string(),
                    fall: s.fall.to_string(),
                };
                assert_eq!(&ours, k, "{what}: vrrp_script {name}");
            }
        }
    }
    assert!(compared >= 30, "only {compared} instances compared");
}

#[test]
fn every_modelled_keyword_is_recognised_and_lands_in_the_model() {
    let path = fixtures().join("all_keywords.conf");
    let l = load(&path, &opts("x")).unwrap_or_else(|d| panic!("{}", d.render()));
    // The only warnings: keywords the keyword table marks as not (fully) implemented,
    // and the deprecations keepalived 2.2.7 reports too: global_tracking, and a
    // unicast keyword (old_unicast_checksum here) without unicast peers.
    let rendered: Vec<String> = l
        .warnings
        .iter()
        .filter(|w| {
            !matches!(
                &w.problem,
                Problem::NotImplemented { .. } | Problem::PartlyImplemented { .. }
            ) && !matches!(&w.problem, Problem::DeprecatedKeyword { keyword, .. } if keyword == "global_tracking")
                && !matches!(&w.problem, Problem::InstanceConflict { reason, .. } if reason.contains("without any unicast_peer"))
        })
        .map(|w| w.render(&l.sources))
        .collect();
    assert!(rendered.is_empty(), "{}", rendered.join("\n"));
    let c = &l.config;
    let g = &c.global;
    assert_eq!(g.notification_email.len(), 2);
    assert_eq!(g.smtp_server.as_ref().map(|s| s.port), Some(2525));
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(12));
    assert_eq!(
        (g.smtp_alert, g.smtp_alert_vrrp, g.smtp_alert_checker),
        (Some(false), Some(true), Some(true))
    );
    assert_eq!(g.vrrp_mcast_group4.to_string(), "224.0.0.19");
    assert_eq!(g.lvs_timeouts.tcp_fin, Some(120));
    assert_eq!(g.lvs_flush_on_stop, Some(true));
    assert_eq!(g.garp.lower_prio_delay, Duration::from_secs(8));
    assert_eq!(g.garp.gna_interval, Duration::from_micros(2));
    assert_eq!(
        g.garp.extra_if.map(|e| (e.all, e.interval)),
        Some((true, Duration::from_secs(100)))
    );
    assert_eq!(g.vrrp_down_timer_adverts, 4);
    assert!(g.vrrp_lower_prio_no_advert && !g.vrrp_higher_prio_send_advert);
    assert_eq!(g.vrrp_startup_delay, Some(Duration::from_millis(5500)));
    assert_eq!(
        g.script_user.as_ref().and_then(|u| u.group.as_deref()),
        Some("nogroup")
    );
    assert_eq!(
        g.notify_fifo_script
            .as_ref()
            .and_then(|s| s.user.as_deref()),
        Some("nobody")
    );
    assert_eq!(g.shutdown_script_timeout, Duration::from_secs(30));
    assert_eq!(g.random_seed, Some(42));

    let s = &c.vrrp_scripts[0];
    assert_eq!(s.script.argv(), ["/bin/true", "--flag", "two words"]);
    assert_eq!(s.script.user.as_deref(), Some("nobody"));
    assert_eq!(
        (s.weight, s.weight_reverse, s.rise, s.fall, s.init_fail),
        (-10, true, 4, 5, true)
    );
    assert_eq!(s.timeout, Some(Duration::from_secs(2)));

    let sg = &c.vrrp_sync_groups[0];
    assert_eq!(sg.track_interfaces[0].weight.map(|w| w.get()), Some(5));
    assert_eq!(sg.track_scripts[0].weight.map(|w| w.get()), Some(7));
    assert_eq!(
        sg.notify.fault.as_ref().and_then(|f| f.group.as_deref()),
        Some("nogroup")
    );
    assert_eq!(sg.notify.deleted, Some(None));
    assert!(sg.sync_group_tracking_weight && sg.notify_priority_changes == Some(true));

    let i = &c.vrrp_instances[0];
    assert_eq!(
        i.use_vmac.as_ref().and_then(|v| v.name.as_deref()),
        Some("vrrp.61")
    );
    assert_eq!(
        i.use_vmac.as_ref().and_then(|v| v.mac.as_deref()),
        Some("00:00:5e:00:01:3d")
    );
    assert!(i.vmac_xmit_base && i.dont_track_primary && i.track_src_ip && i.v3_checksum_as_v2);
    assert_eq!(i.old_unicast_checksum, Some(true));
    assert_eq!(i.track_interfaces[1].weight.map(|w| w.get()), Some(-20));
    assert!(i.track_interfaces[1].reverse);
    assert_eq!(i.version, VrrpVersion::V3);
    assert_eq!(i.advert_int.centiseconds(), 50);
    assert_eq!(i.priority.get(), 254);
    assert_eq!(i.garp.master_delay, Duration::from_secs(2));
    assert_eq!(i.garp.lower_prio_repeat, 6);
    assert_eq!(i.garp.master_refresh, Some(Duration::from_secs(30)));
    assert_eq!(i.garp.extra_if.map(|e| e.all), Some(false));
    assert_eq!(i.down_timer_adverts, 5);
    assert!(!i.lower_prio_no_advert && i.higher_prio_send_advert);
    let vip = &i.virtual_ipaddresses[0];
    assert_eq!(
        vip.broadcast,
        Some(config::Broadcast::Address(
            "10.61.0.255".parse().expect("ip")
        ))
    );
    assert_eq!(vip.label.as_deref(), Some("lvsdka0:1"));
    assert!(i.virtual_ipaddresses[1].no_track && i.virtual_ipaddresses[1].nodad);
    assert!(i.virtual_ipaddresses[2].use_vmac);
    assert_eq!(i.virtual_ipaddresses_excluded[0].preferred_lft, Some(None));
    let r = &i.virtual_routes;
    assert_eq!((r[0].table.as_deref(), r[0].metric), (Some("100"), Some(5)));
    assert_eq!(r[1].route_type.as_deref(), Some("blackhole"));
    assert!(r[1].no_track);
    assert_eq!(r[2].destination, "default");
    assert_eq!(r[2].options, ["onlink"]);
    assert_eq!(i.virtual_rules[0].preference, Some(500));
    assert_eq!(i.virtual_rules[1].table.as_deref(), Some("200"));
    assert_eq!(i.virtual_rules[1].options, ["iif", "lvsdka0"]);
    assert_eq!(i.accept, Some(false));
    assert!(!i.accept_mode());
    assert_eq!(i.preempt_delay, Duration::from_secs(10));
    assert_eq!(i.debug, Some(2));
    assert_eq!(i.kernel_rx_buf_size, Some(65536));
    assert!(i.notify.master_rx_lower_pri.is_some());

    let i6 = &c.vrrp_instances[1];
    assert_eq!(i6.version, VrrpVersion::V3);
    assert!(!i6.preempt && i6.accept_mode() && i6.check_unicast_src && i6.unicast_fault_no_peer);
    assert_eq!(i6.unicast_peers[0].min_ttl, Some(250));
    assert_eq!(i6.unicast_ttl, Some(64));

    let g = &c.virtual_server_groups[0];
    assert_eq!(g.members.len(), 6);
    assert!(
        matches!(g.members[2], config::VsgMember::Range { first, last, .. }
        if first.to_string() == "10.70.1.0" && last.to_string() == "10.70.1.3")
    );
    assert!(matches!(
        g.members[5],
        config::VsgMember::Fwmark {
            mark: 8,
            family: Some(config::IpFamily::Inet6),
            ..
        }
    ));

    let vs = &c.virtual_servers[0];
    assert_eq!(vs.lb_algo, LbAlgo::Sh);
    assert!(vs.scheduler_flags.port && vs.scheduler_flags.fallback && vs.scheduler_flags.ops);
    assert_eq!(
        vs.method.tunnel,
        Some(config::TunnelType::Gue { port: 6080 })
    );
    assert_eq!(
        vs.method.tunnel_checksum,
        Some(config::TunnelChecksum::Remcsum)
    );
    assert_eq!(
        vs.persistence_timeout,
        Some(360),
        "persistence_timeout without a value"
    );
    assert_eq!(vs.protocol, Protocol::Udp);
    assert!(vs.alpha && vs.omega && vs.inhibit_on_failure);
    assert_eq!((vs.quorum, vs.hysteresis), (3, 1));
    let sorry = vs.sorry_server.as_ref().expect("sorry server");
    assert!(sorry.inhibit);
    assert_eq!(sorry.method.kind, LbKind::Dr);
    let rs = &vs.real_servers[0];
    assert_eq!(rs.weight.get(), 5);
    assert_eq!(rs.method.kind, LbKind::Nat);
    assert_eq!((rs.uthreshold, rs.lthreshold), (Some(1000), Some(100)));
    assert!(
        !rs.inhibit_on_failure,
        "real server overrides the virtual server"
    );
    assert_eq!(rs.delay_loop, Duration::from_secs(9));
    let Checker::Http(h) = &rs.checkers[0] else {
        panic!("HTTP_GET")
    };
    let cm = &h.common;
    assert_eq!(
        cm.connect_ip.map(|a| a.to_string()).as_deref(),
        Some("10.71.0.100")
    );
    assert_eq!(
        (cm.connect_port, cm.bind_port, cm.fwmark),
        (Some(8080), Some(40000), Some(9))
    );
    assert_eq!(cm.delay_loop, Duration::from_secs(6));
    assert!(cm.alpha);
    assert_eq!(cm.log_all_failures, Some(false));
    assert_eq!(h.http_protocol, HttpProtocol::Http11);
    assert!(h.fast_recovery);
    let u = &h.urls[0];
    assert_eq!(u.status_codes.len(), 3);
    assert!(u.status_codes[1].contains(301) && !u.status_codes[1].contains(302));
    assert_eq!(u.virtualhost.as_deref(), Some("url.example.com"));
    assert_eq!(
        h.urls[1].virtualhost.as_deref(),
        Some("check.example.com"),
        "checker's virtualhost"
    );
    assert_eq!(u.regex.as_deref(), Some("ok|up"));
    assert_eq!(u.regex_options, ["caseless", "multiline"]);
    let Checker::Ssl(ssl) = &rs.checkers[1] else {
        panic!("SSL_GET")
    };
    assert!(ssl.enable_sni);
    assert_eq!(ssl.http_protocol, HttpProtocol::Http10Close);
    assert_eq!(
        ssl.urls[0].virtualhost.as_deref(),
        Some("rs.example.com"),
        "real server's virtualhost"
    );
    // Inherited from the real server: connect_timeout 1.5, retry 2, delay_before_retry 0.5.
    assert_eq!(ssl.common.connect_timeout, Duration::from_millis(1500));
    assert_eq!(ssl.common.retry, 2);
    assert_eq!(ssl.common.delay_before_retry, Duration::from_millis(500));
    assert_eq!(ssl.common.warmup, Some(Duration::ZERO));
    let Checker::Ping(p) = &rs.checkers[3] else {
        panic!("PING_CHECK")
    };
    assert_eq!(p.retry, 9);
    let Checker::Misc(m) = &rs.checkers[4] else {
        panic!("MISC_CHECK")
    };
    assert!(m.misc_dynamic && m.common.alpha);
    assert_eq!(m.misc_path.user.as_deref(), Some("nobody"));
    let rs2 = &vs.real_servers[1];
    assert_eq!(rs2.port, None, "group virtual server: no port to inherit");
    assert_eq!(rs2.checkers[0].common().retry, 4, "nb_get_retry is retry");
    assert_eq!(
        rs2.checkers[0].common().connect_timeout,
        Duration::from_secs(4),
        "from the VS"
    );

    let fw = &c.virtual_servers[1];
    assert_eq!(fw.key, VirtualServerKey::Fwmark(7));
    assert!(fw.scheduler_flags.flag_1 && fw.scheduler_flags.flag_2 && fw.scheduler_flags.flag_3);
    let v6 = &c.virtual_servers[2];
    assert_eq!(v6.lb_algo, LbAlgo::Twos);
    assert!(v6.ha_suspend);
    assert_eq!(v6.method.tunnel, Some(config::TunnelType::Gre));
    assert_eq!(
        c.ssl
            .as_ref()
            .map(|s| s.password.as_ref().map(|p| p.expose())),
        Some(Some("topsecretpw"))
    );
}

// ---------------------------------------------------------------------------
// Keyword parity with keepalived 2.2.7
// ---------------------------------------------------------------------------

/// A configuration with `body` inside the block `block` (one of the blocks listed in
/// keepalived-2.2.7-keywords.txt), with whatever that block needs around it.
fn inside_block(block: &str, body: &str) -> String {
    const RS: &str =
        "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    real_server 10.0.0.2 80 {\n";
    let (before, after) = match block {
        "top_level" => (String::new(), "\n"),
        "global_defs" => ("global_defs {\n".to_string(), "\n}\n"),
        "vrrp_instance" => (
            "vrrp_instance VI_K {\n    interface lvsdk0\n    virtual_router_id 50\n".into(),
            "\n}\n",
        ),
        "authentication" => (
            "vrrp_instance VI_K {\n    interface lvsdk0\n    virtual_router_id 50\n    authentication {\n".into(),
            "\n    }\n}\n",
        ),
        "vrrp_sync_group" => (
            "vrrp_instance VI_K {\n    interface lvsdk0\n    virtual_router_id 50\n}\n\
             vrrp_instance VI_L {\n    interface lvsdk0\n    virtual_router_id 51\n}\n\
             vrrp_sync_group G {\n    group {\n        VI_K\n        VI_L\n    }\n"
                .into(),
            "\n}\n",
        ),
        "vrrp_script" => ("vrrp_script chk {\n    script /bin/true\n".into(), "\n}\n"),
        "virtual_server" => (
            "virtual_server 10.0.0.1 80 {\n    protocol TCP\n".into(),
            "\n    real_server 10.0.0.2 80 {\n    }\n}\n",
        ),
        "real_server" => (RS.into(), "\n    }\n}\n"),
        "HTTP_GET" | "SSL_GET" => (
            format!("{RS}        {block} {{\n            url {{\n                path /\n                status_code 200\n            }}\n"),
            "\n        }\n    }\n}\n",
        ),
        "url" => (
            format!("{RS}        HTTP_GET {{\n            url {{\n                path /\n"),
            "\n            }\n        }\n    }\n}\n",
        ),
        "MISC_CHECK" => (
            format!("{RS}        MISC_CHECK {{\n            misc_path /bin/true\n"),
            "\n        }\n    }\n}\n",
        ),
        "TCP_CHECK" | "PING_CHECK" | "UDP_CHECK" | "SMTP_CHECK" | "DNS_CHECK" => {
            (format!("{RS}        {block} {{\n"), "\n        }\n    }\n}\n")
        }
        "host" => (
            format!("{RS}        SMTP_CHECK {{\n            host {{\n"),
            "\n            }\n        }\n    }\n}\n",
        ),
        "FILE_CHECK" => (
            format!("track_file tf {{\n    file /tmp/lvsd-kw\n}}\n{RS}        FILE_CHECK {{\n"),
            "\n        }\n    }\n}\n",
        ),
        "track_file" => ("track_file tf {\n    file /tmp/lvsd-kw\n".into(), "\n}\n"),
        "vrrp_track_process" => ("vrrp_track_process tp {\n    process sleep\n".into(), "\n}\n"),
        "SSL" => ("SSL {\n".into(), "\n}\n"),
        other => panic!("no wrapper for block {other}"),
    };
    format!("{before}{body}{after}")
}

fn keepalived_keywords() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(fixtures().join("keepalived-2.2.7-keywords.txt"))
        .expect("keyword list");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (block, words) = l.split_once(':').expect("BLOCK: WORDS");
            (
                block.to_string(),
                words.split_whitespace().map(String::from).collect(),
            )
        })
        .collect()
}

#[test]
fn every_keyword_keepalived_accepts_is_known_to_lvsd() {
    let lists = keepalived_keywords();
    assert!(lists.len() >= 14, "{lists:?}");
    for (block, words) in &lists {
        let body: Vec<String> = words.iter().map(|w| format!("    {w} 1")).collect();
        let text = inside_block(block, &body.join("\n"));
        let r = load_str(Path::new("/keywords.conf"), &text, &fuzz_opts());
        let (diags, sources) = all_diags(&r);
        let unknown: Vec<String> = diags
            .iter()
            .filter(|d| matches!(d.problem, Problem::UnknownKeyword { .. }))
            .map(|d| d.render(&sources))
            .collect();
        assert!(unknown.is_empty(), "{block}:\n{}", unknown.join("\n"));
    }
}

/// The list itself is checked against the installed keepalived: none of its words may be
/// an "Unknown keyword" to keepalived 2.2.7 in its block.
#[test]
fn keyword_list_matches_the_installed_keepalived() {
    let work = Scratch::new();
    for (block, words) in keepalived_keywords() {
        // One keyword per line. A keyword that opens a block makes keepalived say "Missing
        // '{'" on the line after it (and read on wrongly): give it a block and try again.
        let mut blocks = std::collections::HashSet::new();
        let text = loop {
            let body: Vec<String> = words
                .iter()
                .map(|w| {
                    if blocks.contains(w) {
                        format!("    {w} {{\n    }}")
                    } else {
                        format!("    {w} 1")
                    }
                })
                .collect();
            let full = inside_block(&block, &body.join("\n"));
            let conf = work.write(&format!("{block}.conf"), &full);
            let script = format!(
                "ip link add lvsdk0 type veth peer name lvsdk1 && keepalived -t -l -D -f '{}'",
                conf.display()
            );
            let out = Command::new("unshare")
                .args(["-n", "sh", "-c", &script])
                .output()
                .expect("run unshare/keepalived (needs root, iproute2 and keepalived)");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let missing = text.lines().find_map(|l| {
                let (_, rest) = l.split_once("Line ")?;
                let (n, rest) = rest.split_once(')')?;
                rest.contains("Missing '{'")
                    .then(|| n.parse::<usize>().ok())?
            });
            let Some(line) = missing else { break text };
            let opener = full
                .lines()
                .nth(line.saturating_sub(2))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("")
                .to_string();
            assert!(
                blocks.insert(opener.clone()),
                "{block}: still 'Missing {{' after giving '{opener}' a block:\n{text}"
            );
        };
        for w in &words {
            assert!(
                !text.contains(&format!("Unknown keyword '{w}'")),
                "keepalived does not know '{w}' in {block}:\n{text}"
            );
        }
    }
}

/// `keepalived -t` on `conf` in a new network namespace holding a veth `lvsdf0`:
/// its exit status and everything it said.
fn keepalived_config_test(conf: &Path) -> (std::process::Output, String) {
    let script = format!(
        "ip link add lvsdf0 type veth peer name lvsdf1 && keepalived -t -l -D -f '{}'",
        conf.display()
    );
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .output()
        .expect("run unshare/keepalived (needs root, iproute2 and keepalived)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, said)
}

/// Every repair (or refusal) lvsd makes "as keepalived does" is one keepalived 2.2.7 makes: the same
/// text gets lvsd's warning and keepalived -t's message for it.
#[test]
fn repairs_are_the_ones_keepalived_makes() {
    let vs = |body: &str| format!("virtual_server 10.0.0.1 80 {{\n{body}\n}}\n");
    let vi = |body: &str| {
        format!(
            "vrrp_instance VI_1 {{\n    interface lvsdf0\n    virtual_router_id 4\n{body}\n}}\n"
        )
    };
    let vip = "    virtual_ipaddress {\n        10.0.0.1\n    }";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            vs("    protocol TCP"),
            "has no real servers; it is ignored",
            "has no real servers - ignoring",
        ),
        (
            vs("    real_server 10.0.0.2 80 {\n    }"),
            "no protocol set; using UDP",
            "no protocol set - defaulting to UDP",
        ),
        (
            vs("    protocol TCP\n    ops\n    real_server 10.0.0.2 80 {\n    }"),
            "one-packet scheduling (ops) requires UDP; cleared",
            "one packet scheduling requires UDP - resetting",
        ),
        (
            "virtual_server 10.0.0.1 {\n    protocol TCP\n    real_server 10.0.0.2 {\n    }\n}\n"
                .into(),
            "a service without a port must be persistent",
            "zero port only valid for persistent services",
        ),
        (
            vs("    protocol TCP\n    lb_kind DR\n    real_server 10.0.0.2 8080 {\n    }"),
            "port does not match the virtual server's; reset to 80",
            "ports don't match - resetting",
        ),
        (
            "virtual_server fwmark 5 {\n    protocol TCP\n    lb_kind DR\n    ha_suspend\n    real_server 10.0.0.2 80 {\n    }\n}\n".into(),
            "ha_suspend cannot be used with fwmarks; cleared",
            "cannot use ha_suspend with fwmarks - clearing ha_suspend",
        ),
        (
            "virtual_server fwmark 5 {\n    protocol TCP\n    lb_kind DR\n    real_server 10.0.0.2 80 {\n    }\n}\n".into(),
            "protocol is ignored for a fwmark service",
            "protocol specified for fwmark - protocol will be ignored",
        ),
        (
            "virtual_server fwmark 5 {\n    lb_kind DR\n    real_server 10.0.0.2 80 {\n    }\n}\n".into(),
            "has a port, which a fwmark service ignores; cleared",
            "has port specified - clearing",
        ),
        (
            vs("    protocol TCP\n    quorum 5\n    hysteresis 9\n    real_server 10.0.0.2 80 {\n        weight 3\n    }"),
            "quorum 5 exceeds the total weight 3 of the real servers; reduced to 3",
            "reducing quorum to 3",
        ),
        (
            vs("    protocol TCP\n    quorum 5\n    hysteresis 9\n    real_server 10.0.0.2 80 {\n        weight 3\n    }"),
            "hysteresis 9 >= quorum 3; set to 2",
            "setting hysteresis to 2",
        ),
        (
            vs("    protocol TCP\n    real_server 10.0.0.2 80 {\n    }\n    real_server 10.0.0.2 80 {\n    }"),
            "is listed more than once in virtual_server 10.0.0.1:80; the repeat is ignored",
            "is duplicated - removing second rs",
        ),
        (
            vs("    protocol TCP\n    real_server 2001:db8::2 80 {\n    }\n    real_server 10.0.0.3 80 {\n    }"),
            "real server 2001:db8::2 is of another address family",
            "don't match - skipping real server",
        ),
        (
            vi(&format!("    state MASTER\n    priority 100\n    nopreempt\n{vip}")),
            "nopreempt does not work with state MASTER; nopreempt is cleared",
            "nopreempt will not work with initial state MASTER - clearing",
        ),
        (
            vi(&format!("    state MASTER\n    priority 100\n    preempt_delay 5\n{vip}")),
            "preempt_delay does not work with state MASTER; cleared",
            "preempt delay will not work with initial state MASTER - clearing",
        ),
        (
            vi(&format!("    priority 255\n    nopreempt\n{vip}")),
            "nopreempt is incompatible with priority 255 (address owner); nopreempt is cleared",
            "nopreempt is incompatible with priority 255. resetting nopreempt",
        ),
        (
            vi(&format!("    nopreempt\n    preempt_delay 5\n{vip}")),
            "preempt_delay is incompatible with nopreempt; cleared",
            "preempt_delay is incompatible with nopreempt mode - resetting",
        ),
        (
            vi(""),
            "vrrp_instance VI_1 has no virtual_ipaddress; at least one is sensible",
            "No VIP specified; at least one is sensible",
        ),
        (
            vi("    version 3"),
            "vrrp_instance VI_1 has no virtual_ipaddress (required with VRRP version 3",
            "No VIP specified; at least one is required",
        ),
        (
            vi(&format!("    track_script {{\n        chk_missing\n    }}\n{vip}")),
            "vrrp_script 'chk_missing' is not defined; the reference is ignored",
            "track script chk_missing not found, ignoring",
        ),
        (
            format!("vrrp_script chk {{\n    interval 2\n}}\n{}", vi(vip)),
            "vrrp_script chk has no script; it is ignored",
            "No script set for vrrp_script chk - removing",
        ),
        (
            format!(
                "{}vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        NOPE\n    }}\n}}\n",
                vi(vip)
            ),
            "'NOPE' is not defined; the reference is ignored",
            "Virtual router NOPE specified in sync group G1 doesn't exist - ignoring",
        ),
        (
            format!(
                "{}vrrp_sync_group G1 {{\n    group {{\n        VI_1\n    }}\n}}\n",
                vi(vip)
            ),
            "vrrp_sync_group G1 has only 1 vrrp_instance(s)",
            "Sync group G1 has only 1 virtual router(s)",
        ),
        (
            format!(
                "{}vrrp_sync_group G1 {{\n    group {{\n        VI_1\n    }}\n}}\nvrrp_sync_group G2 {{\n    group {{\n        VI_1\n    }}\n}}\n",
                vi(vip)
            ),
            "is a member of both sync groups 'G1' and 'G2'; it is left out of 'G2'",
            "Virtual router VI_1 cannot exist in more than one sync group; ignoring G2",
        ),
        (
            // AH makes the state BACKUP first, so nopreempt stays (keepalived's order).
            vi(&format!("    state MASTER\n    priority 100\n    nopreempt\n    authentication {{\n        auth_type AH\n        auth_pass x\n    }}\n{vip}")),
            "initial state MASTER is incompatible with AH authentication; starting as BACKUP",
            "Initial state master is incompatible with AH authentication - clearing",
        ),
        (
            vi(&format!("    authentication {{\n        auth_type PASS\n    }}\n{vip}")),
            "authentication of VI_1 has no auth_pass; it is ignored",
            "Authentication specified but no password given. Ignoring",
        ),
        (
            vi(&format!("    strict_mode\n    authentication {{\n        auth_type PASS\n        auth_pass x\n    }}\n{vip}")),
            "strict mode: authentication is not supported; it is ignored",
            "Strict mode does not support authentication. Ignoring.",
        ),
        (
            vi(&format!("    strict_mode\n    priority 100\n    accept\n{vip}")),
            "strict mode: accept mode with VRRPv2 does not comply with RFC 3768; cleared",
            "accept mode for VRRP version 2 does not comply with RFC3768 - resetting",
        ),
        (
            vi(&format!("    strict_mode\n    garp_lower_prio_repeat 3\n{vip}")),
            "strict mode: garp_lower_prio_repeat must be 0; reset",
            "Strict mode requires no repeat garps. resetting",
        ),
        (
            vi(&format!("    strict_mode\n    garp_lower_prio_delay 3\n{vip}")),
            "strict mode: garp_lower_prio_delay must be 0; reset",
            "Strict mode requires no repeat garp delay. resetting",
        ),
        (
            vi(&format!("    strict_mode\n    lower_prio_no_advert false\n{vip}")),
            "strict mode: lower_prio_no_advert cannot be cleared; set",
            "Strict mode requires no lower priority advert. resetting",
        ),
        (
            vi(&format!("    strict_mode\n    higher_prio_send_advert\n{vip}")),
            "strict mode: higher_prio_send_advert must be clear; cleared",
            "strict mode requires higher_prio_send_advert to be clear. resetting",
        ),
        (
            vi("    strict_mode\n    version 2\n    virtual_ipaddress {\n        fe80::1\n        fd00::5\n    }"),
            "strict mode: VRRPv2 cannot carry IPv6; using version 3",
            "cannot use IPv6 with VRRP version 2; setting version 3",
        ),
        (
            vi(&format!("    strict_mode\n    down_timer_adverts 5\n{vip}")),
            "strict mode: down_timer_adverts must be 3 (RFC 5798); reset",
            "down_timer_adverts is incompatible with strict mode - resetting",
        ),
        (
            vi(&format!("    strict_mode\n    use_vmac vrrp.51 02:00:5e:00:01:33\n{vip}")),
            "strict mode: use_vmac takes no MAC address; the RFC's is used",
            "cannot specify MAC address with strict mode - clearing",
        ),
        (
            vi(&format!("    strict_mode\n    use_vmac\n    vmac_xmit_base\n{vip}")),
            "strict mode: vmac_xmit_base is not allowed; adverts go out on the VMAC",
            "xmit_base is incompatible with strict mode - resetting",
        ),
        (
            vi(&format!("    strict_mode\n    state MASTER\n    priority 100\n{vip}")),
            "strict mode: state MASTER must match being the address owner (priority 255); starting as Backup",
            "State MASTER must match being address owner",
        ),
        (
            format!(
                "vrrp_script chk {{\n    script /bin/true\n}}\n{}",
                vi(&format!("    track_script {{\n        chk\n        chk weight 5\n    }}\n{vip}"))
            ),
            "track_script 'chk' is listed more than once; the repeat is ignored",
            "duplicate track_script chk - ignoring",
        ),
        (
            vi("    virtual_ipaddress {\n        10.0.0.1\n        2001:db8::1\n    }"),
            "virtual_ipaddress 2001:db8::1 is not of the instance's address family; it is ignored",
            "address family must match VRRP instance [2001:db8::1] - ignoring",
        ),
        (
            vi(&format!("    use_vmac\n    promote_secondaries\n{vip}")),
            "promote_secondaries is set on the VMAC interface automatically",
            "promote_secondaries is automatically set for vmacs - ignoring",
        ),
        (
            vi(&format!("    authentication {{\n        auth_type PASS\n        auth_pass 123456789\n    }}\n{vip}")),
            "is longer than 8 characters; only the first 8 are used",
            "Truncating auth_pass to 8 characters",
        ),
        (
            "global_defs {\n    vrrp_priority 30\n}\n".into(),
            "'30' is not a nice value -20..19; keepalived leaves the priority as it is",
            "Invalid vrrp process priority specified",
        ),
        (
            "global_defs {\n    vrrp_rt_priority 200\n}\n".into(),
            "'200' is not a real-time priority 1..99; keepalived uses 99",
            "vrrp process real-time priority 200 greater than maximum 99 - setting to maximum",
        ),
        (
            "global_defs {\n    checker_rt_priority 0\n}\n".into(),
            "'0' is not a real-time priority 1..99; keepalived uses 1",
            "checker process real-time priority 0 less than minimum 1 - setting to minimum",
        ),
        (
            "global_defs {\n    checker_cpu_affinity 0 999\n}\n".into(),
            "'999' is not a CPU of this machine",
            "Invalid cpu_id:999 specified for checker process",
        ),
    ];
    let work = Scratch::new();
    for (k, (text, ours, theirs)) in cases.iter().enumerate() {
        let (_path, r, _scratch) = load_text(text);
        let (diags, _) = all_diags(&r);
        let messages: Vec<String> = diags.iter().map(|w| w.message()).collect();
        assert!(
            messages.iter().any(|m| m.contains(ours)),
            "case {k}: lvsd does not warn '{ours}' for:\n{text}\n{messages:#?}"
        );
        let conf = work.write(&format!("case{k}.conf"), text);
        let (_, said) = keepalived_config_test(&conf);
        assert!(
            said.contains(theirs),
            "case {k}: keepalived does not say '{theirs}' for:\n{text}\nit says:\n{said}"
        );
    }
}

/// The scheduling keywords keep what keepalived reads (the repairs are in
/// `repairs_are_the_ones_keepalived_makes`).
#[test]
fn scheduling_keywords_are_read_per_part() {
    let l = loaded(
        "global_defs {\n    vrrp_rt_priority 50\n    vrrp_rlimit_rttime 1\n    vrrp_cpu_affinity 0 0\n    vrrp_no_swap\n    checker_priority -5\n}\n",
    );
    let (v, c) = (
        &l.config.global.vrrp_tuning,
        &l.config.global.checker_tuning,
    );
    assert_eq!(v.rt_priority, Some(50));
    assert_eq!(
        v.rlimit_rttime_us, 2,
        "keepalived makes 1 into 2 (its soft limit is half)"
    );
    assert_eq!(v.cpu_affinity, vec![0]);
    assert!(v.no_swap);
    assert_eq!((v.nice, c.nice), (None, Some(-5)));
    assert_eq!((c.rt_priority, c.rlimit_rttime_us), (None, 10_000));
}

/// Lowering is streamed (each top-level block as soon as it closes), yet global_defs still
/// applies wherever it stands: vrrp_instance blocks before it inherit its settings, and a
/// checker's log_all_failures left unset defers to checker_log_all_failures.
#[test]
fn global_defs_after_the_blocks_that_inherit_from_it_still_applies() {
    let text = "\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        10.0.0.10
    }
}
virtual_server 10.0.0.10 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        TCP_CHECK {
        }
        HTTP_GET {
            log_all_failures
            url {
                path /
                status_code 200
            }
        }
    }
}
global_defs {
    vrrp_version 3
    checker_log_all_failures
}
";
    let (_p, loaded, _s) = load_text(text);
    let loaded = loaded.expect("loads");
    assert_eq!(loaded.config.vrrp_instances[0].version, VrrpVersion::V3);
    assert!(loaded.config.global.checker_log_all_failures);
    let rs = &loaded.config.virtual_servers[0].real_servers[0];
    let common = |c: &Checker| match c {
        Checker::Tcp(t) => t.log_all_failures,
        Checker::Http(h) => h.common.log_all_failures,
        _ => panic!("unexpected checker {c:?}"),
    };
    assert_eq!(common(&rs.checkers[0]), None);
    assert_eq!(common(&rs.checkers[1]), Some(true));
}

#[test]
fn udp_check_reads_payload_reply_and_lengths_as_keepalived_does() {
    let l = loaded(
        "virtual_server 10.0.0.1 53 {\n    protocol UDP\n    real_server 10.0.1.1 53 {\n        UDP_CHECK {\n            connect_timeout 4\n            payload 12 34 0100 1\n            require_reply 12 3x\n            min_reply_length 12\n            max_reply_length 512\n        }\n    }\n    real_server 10.0.1.2 53 {\n        UDP_CHECK {\n            require_reply\n        }\n        UDP_CHECK {\n        }\n    }\n}\n",
    );
    let vs = &l.config.virtual_servers[0];
    let Checker::Udp(u) = &vs.real_servers[0].checkers[0] else {
        panic!("expected UDP_CHECK");
    };
    assert_eq!(
        u.payload.as_ref().map(|p| p.bytes.clone()),
        Some(vec![0x12, 0x34, 0x01, 0x00, 0x01])
    );
    let reply = u.reply.as_ref().expect("reply data");
    assert_eq!(
        (reply.bytes.clone(), reply.wildcard.clone()),
        (vec![0x12, 0x30], vec![0, 0x0f])
    );
    assert!(u.require_reply);
    assert_eq!((u.min_reply_length, u.max_reply_length), (12, 512));
    assert_eq!(u.common.connect_timeout, Duration::from_secs(4));
    // keepalived's defaults: nothing required, lengths 0..255, retry 1 after 1 s.
    let Checker::Udp(any) = &vs.real_servers[1].checkers[0] else {
        panic!("expected UDP_CHECK");
    };
    assert!(any.require_reply && any.reply.is_none());
    let Checker::Udp(d) = &vs.real_servers[1].checkers[1] else {
        panic!("expected UDP_CHECK");
    };
    assert!(!d.require_reply && d.payload.is_none());
    assert_eq!((d.min_reply_length, d.max_reply_length), (0, 255));
    assert_eq!(
        (d.common.retry, d.common.delay_before_retry),
        (1, Duration::from_secs(1))
    );
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);

    let udp = |body: &str| {
        format!("virtual_server 10.0.0.1 53 {{\n    protocol UDP\n    real_server 10.0.1.1 53 {{\n        UDP_CHECK {{\n{body}        }}\n    }}\n}}\n")
    };
    assert_problem(
        &udp("            payload 12 3g\n"),
        Severity::Error,
        5,
        24,
        "'payload': invalid value '3g'",
    );
    assert_problem(
        &udp("            payload x1\n"),
        Severity::Error,
        5,
        21,
        "'payload': invalid value 'x1'",
    );
    assert_problem(
        &udp("            payload\n"),
        Severity::Error,
        5,
        13,
        "'payload' needs a value",
    );
    assert_problem(
        &udp("            require_reply zz\n"),
        Severity::Error,
        5,
        27,
        "invalid value 'zz'",
    );
    assert_problem(
        &udp("            require_reply 01\n            min_reply_length 20\n            max_reply_length 10\n"),
        Severity::Warning,
        7,
        13,
        "min_reply_length 20 is above max_reply_length 10: no reply could pass; keepalived runs the check, failing every time, and so does lvsd",
    );
    // Without reply data keepalived does not check the lengths: a warning.
    assert_problem(
        &udp("            require_reply\n            min_reply_length 20\n            max_reply_length 10\n"),
        Severity::Warning,
        7,
        13,
        "without require_reply data the lengths are not checked",
    );
    assert_problem(
        &udp("            max_reply_length 65536\n"),
        Severity::Error,
        5,
        30,
        "out of range 0..65535",
    );
    // The UDP-only keywords belong to UDP_CHECK alone.
    assert_problem(
        "virtual_server 10.0.0.1 53 {\n    real_server 10.0.1.1 53 {\n        TCP_CHECK {\n            payload 00\n        }\n    }\n}\n",
        Severity::Warning,
        4,
        13,
        "unknown keyword 'payload'",
    );
}

#[test]
fn smtp_check_reads_helo_name_and_host_blocks_as_keepalived_does() {
    let text = "virtual_server 10.0.0.1 25 {\n    protocol TCP\n    real_server 10.0.1.1 25 {\n        SMTP_CHECK {\n            connect_timeout 10\n            helo_name \"mx.test\"\n            host {\n                connect_ip 192.0.2.7\n                connect_port 587\n                retry 4\n            }\n            host {\n                bindto 10.0.1.254\n                connect_timeout 2\n                payload 00\n            }\n        }\n        SMTP_CHECK {\n        }\n    }\n}\n";
    let (path, r, _s) = load_text(text);
    let l = r.unwrap_or_else(|d| panic!("{}", d.render()));
    let vs = &l.config.virtual_servers[0];
    let Checker::Smtp(m) = &vs.real_servers[0].checkers[0] else {
        panic!("expected SMTP_CHECK");
    };
    assert_eq!(m.helo_name, "mx.test");
    assert_eq!(
        m.common.connect_ip, None,
        "the block itself checks the real server"
    );
    // A timing keyword in a host block sets the whole check's, as in keepalived.
    assert_eq!(m.common.retry, 4);
    assert_eq!(m.hosts.len(), 2);
    assert_eq!(m.hosts[0].connect_ip, "192.0.2.7".parse().ok());
    assert_eq!(m.hosts[0].connect_port, Some(587));
    assert_eq!(m.hosts[0].connect_timeout, Duration::from_secs(10));
    assert_eq!(m.hosts[1].connect_ip, None);
    assert_eq!(m.hosts[1].bindto, "10.0.1.254".parse().ok());
    assert_eq!(m.hosts[1].connect_timeout, Duration::from_secs(2));
    assert_eq!(m.hosts[1].retry, 4);
    let Checker::Smtp(d) = &vs.real_servers[0].checkers[1] else {
        panic!("expected SMTP_CHECK");
    };
    assert_eq!(d.helo_name, "smtpchecker.keepalived.org");
    assert!(d.hosts.is_empty());
    assert_eq!(
        (d.common.retry, d.common.delay_before_retry),
        (1, Duration::from_secs(1))
    );
    // Two deprecation warnings and the unknown keyword, each with its place.
    let at = |d: &Diagnostic| d.location(&l.sources).unwrap_or_default();
    let found: Vec<(String, String)> = l.warnings.iter().map(|w| (at(w), w.message())).collect();
    let p = path.display();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].0 == format!("{p}:7:13") && found[0].1.contains("host block is deprecated"),
        "{found:?}"
    );
    assert!(
        found[1].0 == format!("{p}:12:13") && found[1].1.contains("host block is deprecated"),
        "{found:?}"
    );
    assert!(
        found[2].0 == format!("{p}:15:17")
            && found[2]
                .1
                .contains("unknown keyword 'payload' in SMTP_CHECK host"),
        "{found:?}"
    );
}

#[test]
fn dns_check_reads_type_and_name_with_keepalived_defaults() {
    let l = loaded(
        "virtual_server 10.0.0.1 53 {\n    protocol UDP\n    real_server 10.0.1.1 53 {\n        DNS_CHECK {\n            type aaaa\n            name www.example.org\n            retry 1\n        }\n        DNS_CHECK {\n        }\n    }\n}\n",
    );
    let rs = &l.config.virtual_servers[0].real_servers[0];
    let Checker::Dns(d) = &rs.checkers[0] else {
        panic!("expected DNS_CHECK");
    };
    assert_eq!(
        (d.qtype, d.name.as_str(), d.common.retry),
        (28, "www.example.org", 1)
    );
    // keepalived's defaults: SOA of the root, retry 3.
    let Checker::Dns(d) = &rs.checkers[1] else {
        panic!("expected DNS_CHECK");
    };
    assert_eq!((d.qtype, d.name.as_str(), d.common.retry), (6, ".", 3));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);

    let dns = |body: &str| {
        format!("virtual_server 10.0.0.1 53 {{\n    protocol UDP\n    real_server 10.0.1.1 53 {{\n        DNS_CHECK {{\n{body}        }}\n    }}\n}}\n")
    };
    assert_problem(
        &dns("            type SRV\n"),
        Severity::Warning,
        5,
        18,
        "'type': 'SRV' is not a query type (A, NS, CNAME, SOA, MX, TXT or AAAA); keepalived ignores the line (SOA unless a type was set before), and so does lvsd",
    );
    assert_problem(
        &dns("            name a..b\n"),
        Severity::Error,
        5,
        18,
        "'name': invalid value 'a..b'",
    );
    let long = format!("            name {}\n", "x".repeat(64));
    assert_problem(&dns(&long), Severity::Error, 5, 18, "'name': invalid value");
}

#[test]
fn url_regex_is_compiled_with_its_options_and_errors_have_places() {
    let url = |body: &str| {
        format!("virtual_server 10.0.0.1 80 {{\n    protocol TCP\n    real_server 10.0.1.1 80 {{\n        HTTP_GET {{\n            url {{\n                path /health\n{body}            }}\n        }}\n    }}\n}}\n")
    };
    let l = loaded(&url("                regex \"status: (up|ok)\"\n                regex_options caseless ucp\n                regex_min_offset 3\n                regex_max_offset 40\n                regex_stack 1000 20000\n"));
    // Only regex_stack, which lvsd accepts without effect.
    assert!(
        matches!(&l.warnings[..], [w] if matches!(&w.problem, Problem::NotImplemented { keyword, .. } if keyword == "regex_stack")),
        "{:?}",
        l.warnings
    );
    let Checker::Http(h) = &l.config.virtual_servers[0].real_servers[0].checkers[0] else {
        panic!("expected HTTP_GET");
    };
    let regex = h.urls[0].compiled_regex.as_ref().expect("a compiled regex");
    assert!(regex.flags.caseless && !regex.flags.multiline);
    assert_eq!((regex.min_offset, regex.max_offset), (3, Some(40)));
    assert_eq!(regex.find(b"...STATUS: UP"), Some(3));
    // PCRE-only syntax, an unknown option and one without equivalent.
    assert_problem(
        &url("                regex \"(unclosed\"\n"),
        Severity::Error,
        7,
        23,
        "missing closing parenthesis",
    );
    assert_problem(
        &url("                regex ok\n                regex_options bogus\n"),
        Severity::Error,
        8,
        31,
        "'regex_options': invalid value 'bogus'",
    );
    assert_problem(
        &url("                regex ok\n                regex_options firstline\n"),
        Severity::Warning,
        8,
        31,
        "regex_options 'firstline' cannot be passed to PCRE2 by lvsd; it is ignored",
    );
}

// ---------------------------------------------------------------------------
// Values keepalived logs and carries on after: the same fallback, with a warning
// ---------------------------------------------------------------------------

/// One value keepalived 2.2.7 reads with a log line and a fallback: the configuration, where
/// lvsd's warning points (line, column), what it says, what `keepalived -t` says, and a check
/// that lvsd applied keepalived's fallback.
struct Fallback {
    text: String,
    line: usize,
    col: usize,
    ours: &'static str,
    theirs: &'static str,
    applied: fn(&Loaded) -> bool,
}

fn fallback_cases() -> Vec<Fallback> {
    let vs = |body: &str| {
        format!(
            "virtual_server 10.0.0.1 80 {{\n    protocol TCP\n{body}\n    real_server 10.0.0.2 80 {{\n        weight 1\n    }}\n}}\n"
        )
    };
    let vi = |body: &str| {
        format!(
            "vrrp_instance VI_1 {{\n    interface lvsdf0\n    virtual_router_id 4\n{body}\n    virtual_ipaddress {{\n        10.0.0.1\n    }}\n}}\n"
        )
    };
    fn method(l: &Loaded) -> LbKind {
        l.config.virtual_servers[0].method.kind
    }
    fn checkers(l: &Loaded) -> &[Checker] {
        &l.config.virtual_servers[0].real_servers[0].checkers
    }
    let rs = |body: &str| {
        format!(
            "virtual_server 10.0.0.1 80 {{\n    protocol TCP\n    real_server 10.0.0.2 80 {{\n{body}\n    }}\n}}\n"
        )
    };
    vec![
        Fallback {
            text: rs("        HTTP_GET {\n            url {\n                path /\n                digest 640205b7b0fc66c1ea91c463fac6334\n            }\n        }"),
            line: 7,
            col: 24,
            ours: "'digest': '640205b7b0fc66c1ea91c463fac6334' is not an MD5 digest of 32 hex digits (as genhash prints it); keepalived ignores the line (the url is checked without a digest), and so does lvsd",
            theirs: "digest '640205b7b0fc66c1ea91c463fac6334' character length should be 32 rather than 31",
            applied: |l| matches!(&checkers(l)[0], Checker::Http(h) if h.urls[0].digest.is_none()),
        },
        Fallback {
            text: rs("        weight 5x"),
            line: 4,
            col: 16,
            ours: "'weight': '5x' is not a plain number; keepalived runs with 5, the number it starts with (keepalived -t reports the value as invalid), and so does lvsd",
            theirs: "invalid number '5x'",
            applied: |l| l.config.virtual_servers[0].real_servers[0].weight.get() == 5,
        },
        Fallback {
            text: rs("        weight 3000000000"),
            line: 4,
            col: 16,
            ours: "'weight': '3000000000' is not a number 0..2147483647; keepalived ignores the line, and so does lvsd",
            theirs: "Real server weight 3000000000 is outside range 0-2147483647",
            applied: |l| l.config.virtual_servers[0].real_servers[0].weight.get() == 1,
        },
        Fallback {
            text: vs("    weight 0"),
            line: 3,
            col: 12,
            ours: "'weight': '0' is not a number 1..2147483647; keepalived ignores the line, and so does lvsd",
            theirs: "Virtual server weight 0 is outside range 1-2147483647",
            applied: |l| l.config.virtual_servers[0].weight.is_none(),
        },
        Fallback {
            text: vs("    quorum 0"),
            line: 3,
            col: 12,
            ours: "'quorum': '0' is not a number 1..4294967295; keepalived uses 1, and so does lvsd",
            theirs: "Quorum 0 must be in [1, 4294967295]. Setting to 1.",
            applied: |l| l.config.virtual_servers[0].quorum == 1,
        },
        Fallback {
            text: vs("    quorum 2\n    hysteresis 1x"),
            line: 4,
            col: 16,
            ours: "'hysteresis': '1x' is not a plain number; keepalived runs with 1, the number it starts with (keepalived -t reports the value as invalid), and so does lvsd",
            theirs: "invalid number '1x'",
            // Read as 1, then keepalived's quorum rule (quorum cut to the total weight 1,
            // hysteresis 1 >= quorum) sets it to 0: the warning says so.
            applied: |l| {
                l.config.virtual_servers[0].hysteresis == 0
                    && l.warnings
                        .iter()
                        .any(|w| w.message().contains("hysteresis 1 >= quorum 1"))
            },
        },
        Fallback {
            text: rs("        uthreshold 7x"),
            line: 4,
            col: 20,
            ours: "'uthreshold': '7x' is not a plain number; keepalived runs with 7",
            theirs: "invalid number '7x'",
            applied: |l| l.config.virtual_servers[0].real_servers[0].uthreshold == Some(7),
        },
        Fallback {
            text: rs("        MISC_CHECK {\n            misc_timeout 3\n        }"),
            line: 4,
            col: 9,
            ours: "MISC_CHECK has no misc_path; keepalived ignores the checker, and so does lvsd",
            theirs: "No script path has been specified for MISC_CHECKER - skipping",
            applied: |l| checkers(l).is_empty(),
        },
        Fallback {
            text: rs("        UDP_CHECK {\n            require_reply 12\n            min_reply_length 20\n            max_reply_length 10\n        }"),
            line: 7,
            col: 13,
            ours: "UDP_CHECK min_reply_length 20 is above max_reply_length 10: no reply could pass; keepalived runs the check, failing every time, and so does lvsd",
            theirs: "UDP_CHECK min_reply length 20 > max_reply_length 10 - will always fail",
            applied: |l| checkers(l).len() == 1,
        },
        Fallback {
            text: rs("        DNS_CHECK {\n            type FOO\n        }"),
            line: 5,
            col: 18,
            ours: "'type': 'FOO' is not a query type (A, NS, CNAME, SOA, MX, TXT or AAAA); keepalived ignores the line (SOA unless a type was set before), and so does lvsd",
            theirs: "Unknown DNS check type FOO - ignoring",
            applied: |l| matches!(&checkers(l)[0], Checker::Dns(d) if d.qtype == 6),
        },
        Fallback {
            text: vs("    lb_kind dr"),
            line: 3,
            col: 13,
            ours: "'lb_kind': 'dr' is not a forwarding method (NAT, DR or TUN); keepalived ignores the line and uses NAT unless a method was set before, and so does lvsd (write DR)",
            theirs: "unknown [dr] routing method for virtual server",
            applied: |l| method(l) == LbKind::Nat,
        },
        Fallback {
            text: vs("    lb_kind DR\n    lb_kind dr"),
            line: 4,
            col: 13,
            ours: "'lb_kind': 'dr' is not a forwarding method",
            theirs: "unknown [dr] routing method for virtual server",
            applied: |l| method(l) == LbKind::Dr,
        },
        Fallback {
            text: vs("    lb_algo loadbalance"),
            line: 3,
            col: 13,
            ours: "'lb_algo': 'loadbalance' is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh or twos); keepalived ignores the line and uses wlc unless a scheduler was set before, and so does lvsd",
            theirs: "Invalid lvs_scheduler 'loadbalance' - ignoring",
            applied: |l| l.config.virtual_servers[0].lb_algo == LbAlgo::Wlc,
        },
        Fallback {
            text: vs("    lb_algo RR"),
            line: 3,
            col: 13,
            ours: "'lb_algo': 'RR' is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh or twos); keepalived ignores the line and uses wlc unless a scheduler was set before, and so does lvsd (write rr)",
            theirs: "Invalid lvs_scheduler 'RR' - ignoring",
            applied: |l| l.config.virtual_servers[0].lb_algo == LbAlgo::Wlc,
        },
        Fallback {
            text: vs("    persistence_timeout 0"),
            line: 3,
            col: 25,
            ours: "'persistence_timeout': '0' is not a timeout 1..2678400; keepalived ignores the line (the service is not persistent unless set before), and so does lvsd",
            theirs: "persistence_timeout invalid",
            applied: |l| l.config.virtual_servers[0].persistence_timeout.is_none(),
        },
        Fallback {
            text: vs("    persistence_timeout 3000000"),
            line: 3,
            col: 25,
            ours: "'persistence_timeout': '3000000' is not a timeout 1..2678400",
            theirs: "number '3000000' outside range [1, 2678400]",
            applied: |l| l.config.virtual_servers[0].persistence_timeout.is_none(),
        },
        Fallback {
            text: vs("    protocol ICMP"),
            line: 3,
            col: 14,
            ours: "'protocol': 'ICMP' is not a protocol (TCP, UDP or SCTP); keepalived ignores the line, and so does lvsd",
            theirs: "Unknown protocol ICMP - ignoring",
            applied: |l| l.config.virtual_servers[0].protocol == Protocol::Tcp,
        },
        Fallback {
            text: vi("    advert_int 0"),
            line: 4,
            col: 16,
            ours: "'advert_int': '0' is below 0.01 s; keepalived ignores the line (1 s unless set before), and so does lvsd",
            theirs: "(VI_1) Advert interval (0) not valid! Must be > 0 - ignoring",
            applied: |l| l.config.vrrp_instances[0].advert_int.centiseconds() == 100,
        },
        Fallback {
            text: vi("    state EQUAL"),
            line: 4,
            col: 11,
            ours: "'state': 'EQUAL' is not a state; keepalived starts as BACKUP, and so does lvsd",
            theirs: "(VI_1) unknown state 'EQUAL', defaulting to BACKUP",
            applied: |l| l.config.vrrp_instances[0].state == InitialState::Backup,
        },
        Fallback {
            text: vi("    state master"),
            line: 4,
            col: 11,
            ours: "'state': 'master' is not a state; keepalived starts as BACKUP, and so does lvsd (write MASTER)",
            theirs: "(VI_1) unknown state 'master', defaulting to BACKUP",
            applied: |l| l.config.vrrp_instances[0].state == InitialState::Backup,
        },
        Fallback {
            text: vi("    priority 100,xyz"),
            line: 4,
            col: 14,
            ours: "'priority': '100,xyz' is not a number; keepalived uses the default 100, and so does lvsd",
            theirs: "(VI_1) Priority not valid! must be between 1 & 255. Using default 100",
            applied: |l| l.config.vrrp_instances[0].priority.get() == 100,
        },
        Fallback {
            text: vi("    priority 150\n    priority 256"),
            line: 5,
            col: 14,
            ours: "'priority': '256' is out of range 1..255; keepalived uses the default 100, and so does lvsd",
            theirs: "(VI_1) Priority not valid! must be between 1 & 255. Using default 100",
            applied: |l| l.config.vrrp_instances[0].priority.get() == 100,
        },
        Fallback {
            text: vi("    authentication {\n        auth_type NONE\n        auth_pass x\n    }"),
            line: 5,
            col: 19,
            ours: "'auth_type': 'NONE' is not an authentication type (PASS or AH); keepalived ignores the line, and so does lvsd",
            theirs: "(VI_1) unknown authentication type 'NONE'",
            applied: |l| l.config.vrrp_instances[0].authentication.is_none(),
        },
        Fallback {
            text: "vrrp_instance VI_1 {\n    interface lvsdf0\n    virtual_router_id 4\n    virtual_ipaddress {\n        10.0.0.1\n    }\n"
                .into(),
            line: 1,
            col: 20,
            ours: "block 'vrrp_instance' is never closed; keepalived closes it at the end of the file, and so does lvsd",
            theirs: "There are 1 missing '}'s or extra '{'s",
            applied: |l| l.config.vrrp_instances.len() == 1,
        },
        Fallback {
            text: "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    lb_kind DR\n    real_server 10.0.0.2 80 {\n        weight 1\n    }\n"
                .into(),
            line: 1,
            col: 28,
            ours: "block 'virtual_server' is never closed",
            theirs: "There are 1 missing '}'s or extra '{'s",
            applied: |l| {
                l.config.virtual_servers.len() == 1
                    && l.config.virtual_servers[0].real_servers.len() == 1
            },
        },
        Fallback {
            text: vs("\u{a0}\u{a0}\u{a0}\u{a0}lb_kind DR"),
            line: 3,
            col: 1,
            ours: "U+00A0 NO-BREAK SPACE in '<U+00A0><U+00A0><U+00A0><U+00A0>lb_kind' is not whitespace to keepalived (it splits words only at ASCII spaces, tabs and line breaks): it is part of the word, and so it is to lvsd",
            theirs: "Unknown keyword '\u{a0}\u{a0}\u{a0}\u{a0}lb_kind'",
            applied: |l| method(l) == LbKind::Nat,
        },
        Fallback {
            text: vs("    lb_kind\u{2003}DR"),
            line: 3,
            col: 12,
            ours: "U+2003 EM SPACE in 'lb_kind<U+2003>DR' is not whitespace",
            theirs: "Unknown keyword 'lb_kind\u{2003}DR'",
            applied: |l| method(l) == LbKind::Nat,
        },
        Fallback {
            text: vs("    lb_kind DR\u{200b}"),
            line: 3,
            col: 15,
            ours: "U+200B ZERO WIDTH SPACE in 'DR<U+200B>' is not whitespace",
            theirs: "unknown [DR\u{200b}] routing method for virtual server",
            applied: |l| method(l) == LbKind::Nat,
        },
    ]
}

/// Each value keepalived logs and falls back on is a warning in lvsd (not an error), at the
/// token, naming it and the fallback, and lvsd applies the same fallback.
#[test]
fn keepalived_fallbacks_are_warnings_and_applied() {
    for (k, case) in fallback_cases().iter().enumerate() {
        let (path, r, _s) = load_text(&case.text);
        let l = match &r {
            Ok(l) => l,
            Err(d) => panic!("case {k}: refused:\n{}\n{}", case.text, d.render()),
        };
        let want = format!("{}:{}:{}", path.display(), case.line, case.col);
        assert!(
            l.warnings
                .iter()
                .any(|w| w.location(&l.sources).as_deref() == Some(want.as_str())
                    && w.message().contains(case.ours)),
            "case {k}: no warning at {want} saying {:?}; got:\n{}",
            case.ours,
            config::render_all(&l.warnings, &l.sources)
        );
        assert!(
            (case.applied)(l),
            "case {k}: keepalived's fallback not applied for:\n{}",
            case.text
        );
    }
}

/// The same cases under keepalived 2.2.7 (`-t` in a network namespace): it logs the
/// problem and carries on (exit status 5, "config errors", not 1, "cannot run").
#[test]
fn fallbacks_are_the_ones_keepalived_makes() {
    let work = Scratch::new();
    for (k, case) in fallback_cases().iter().enumerate() {
        let conf = work.write(&format!("case{k}.conf"), &case.text);
        let (out, said) = keepalived_config_test(&conf);
        assert!(
            said.contains(case.theirs),
            "case {k}: keepalived does not say '{}' for:\n{}\nit says:\n{said}",
            case.theirs,
            case.text
        );
        assert_eq!(
            out.status.code(),
            Some(5),
            "case {k}: keepalived -t should report a config error it runs with:\n{said}"
        );
    }
}

// ---------------------------------------------------------------------------
// check-config = run: every configuration refusal of the run path is check-config's too
// ---------------------------------------------------------------------------

/// What `lvsd run` decides about a configuration before touching the system, reached by
/// the functions its start-up calls one by one (load, VRRP translation, director
/// translation), not through the shared `prepare`, so a check added to one of them is
/// held against check-config here.
fn run_path_accepts(path: &Path) -> Result<(), String> {
    let loaded = load(path, &opts("lvsd-test")).map_err(|d| d.render())?;
    lvsd::vrrp::translate::translate(&loaded.config).map_err(|e| e.to_string())?;
    lvsd::director::translate_owned(loaded.config).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn check_config_refuses_exactly_what_run_refuses() {
    let vi = |body: &str| {
        format!("vrrp_instance VI_1 {{\n    virtual_router_id 4\n{body}\n    virtual_ipaddress {{\n        10.0.0.1/24\n    }}\n}}\n")
    };
    let vs = |key: &str, body: &str| {
        format!("virtual_server {key} {{\n    protocol TCP\n{body}\n    real_server 10.0.0.2 80 {{\n        weight 1\n    }}\n}}\n")
    };
    // (what, configuration, whether it runs)
    let cases: Vec<(&str, String, bool)> = vec![
        ("clean", vi("    interface lo"), true),
        (
            "unicast without interface (keepalived 2.2.7: Unknown interface!, VRRP stops)",
            vi("    unicast_peer {\n        10.0.0.9\n    }"),
            false,
        ),
        (
            "unicast without interface, default_interface set (keepalived stops too)",
            format!(
                "global_defs {{\n    default_interface lo\n}}\n{}",
                vi("    unicast_peer {\n        10.0.0.9\n    }")
            ),
            false,
        ),
        (
            "auth_type AH (keepalived runs it; lvsd cannot)",
            vi("    interface lo\n    authentication {\n        auth_type AH\n        auth_pass x\n    }"),
            false,
        ),
        (
            "auth_type AH dropped by VRRPv3, as keepalived drops it",
            vi("    interface lo\n    version 3\n    authentication {\n        auth_type AH\n        auth_pass x\n    }"),
            true,
        ),
        (
            "virtual_routes of every keepalived route type",
            vi("    interface lo\n    virtual_routes {\n        throw 10.9.0.0/16\n        local 10.9.1.1/32 dev lo\n        broadcast 10.9.2.255/32 dev lo\n        brd 10.9.2.254/32 dev lo\n        anycast 10.9.3.0/32 dev lo\n        multicast 239.1.1.0/24 dev lo\n        nat 10.9.5.0/24 via 10.0.0.9\n        xresolve 10.9.6.0/24\n        blackhole 10.9.7.0/24\n        unreachable 10.9.8.0/24\n        prohibit 10.9.9.0/24\n        unicast 10.9.10.0/24 via 10.0.0.9\n    }"),
            true,
        ),
        (
            "virtual_routes with an unknown table",
            vi("    interface lo\n    virtual_routes {\n        10.9.0.0/16 via 10.0.0.9 table nosuchtable\n    }"),
            false,
        ),
        ("lb_kind dr (fallback)", vs("10.0.0.1 80", "    lb_kind dr"), true),
        (
            "virtual_server group not defined",
            vs("group NOPE", "    lb_kind NAT"),
            false,
        ),
        (
            "the same service twice",
            format!("{}{}", vs("10.0.0.1 80", ""), vs("10.0.0.1 80", "")),
            false,
        ),
    ];
    let work = Scratch::new();
    for (k, (what, text, runs)) in cases.iter().enumerate() {
        let path = work.write(&format!("case{k}.conf"), text);
        let run = run_path_accepts(&path);
        assert_eq!(
            run.is_ok(),
            *runs,
            "case {k} ({what}): the run path says {run:?} for:\n{text}"
        );
        let p = path.to_str().expect("path");
        for args in [vec!["check-config", "-f", p], vec!["run", "-t", "-f", p]] {
            let o = lvsd(&args);
            assert_eq!(
                o.status.code(),
                Some(if *runs { 0 } else { 1 }),
                "case {k} ({what}): {args:?} disagrees with the run path ({run:?}):\n{}",
                stderr(&o)
            );
        }
    }
}

/// `SSL { }` files are read when the configuration is checked: a key the
/// password does not open, or a missing certificate, is an error naming
/// the file, from check-config as from `run -t` (a reload would refuse it
/// and keep the running configuration); the password never shows.
#[test]
fn cli_ssl_files_are_checked_and_the_password_never_shows() {
    let ssl = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl");
    let s = Scratch::new();
    let conf = |cert: &str, key: &str, password: &str| {
        format!(
            "SSL {{\n    certificate {ssl}/{cert}\n    key {ssl}/{key}\n    password {password}\n}}\n\
             virtual_server 10.0.0.1 443 {{\n    protocol TCP\n    real_server 10.0.0.2 443 {{\n\
             SSL_GET {{\n            url {{\n                path /\n            }}\n        }}\n    }}\n}}\n"
        )
    };
    let good = s.write("good.conf", conf("client.pem", "client-enc.key", "s3cret"));
    let o = lvsd(&["check-config", "-f", good.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let wrong = s.write(
        "wrong.conf",
        conf("client.pem", "client-enc.key", "not-the-password"),
    );
    for args in [["check-config", "-f"], ["run", "-t"]] {
        let mut argv = args.to_vec();
        if args[0] == "run" {
            argv.push("-f");
        }
        argv.push(wrong.to_str().expect("path"));
        let o = lvsd(&argv);
        assert_eq!(o.status.code(), Some(1), "{argv:?}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("client key file {ssl}/client-enc.key"))
                && err.contains("wrong password"),
            "{err}"
        );
        assert!(!err.contains("not-the-password"), "{err}");
    }
    let missing = s.write("missing.conf", conf("nope.pem", "client.key", "x"));
    let o = lvsd(&["check-config", "-f", missing.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("client certificate file {ssl}/nope.pem")),
        "{}",
        stderr(&o)
    );
}
