//! `lvsd ctl` overrides in the pure director (drain, maint, weight, ready
//! as inputs of the desired table), the names operators type, the state
//! file, and the control socket's request protocol.

use std::path::Path;
use std::time::Duration;

use ipvs::model::Table;
use lvsd::config::{load_str, ConfigOptions};
use lvsd::daemon::control::{parse_request, Command};
use lvsd::director::admin::{resolve, AdminOverride, AdminState, StateFile, STATE_FILE_SCHEMA};
use lvsd::director::{translate, Action, Director, DirectorSpec, RealServerKey};

const CONF: &str = r#"
virtual_server 10.0.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.4 80 {
        weight 3
        TCP_CHECK { connect_timeout 1 }
    }
    real_server 10.0.0.5 80 {
        weight 2
        TCP_CHECK { connect_timeout 1 }
    }
}
virtual_server 10.0.0.100 53 {
    protocol UDP
    real_server 10.0.0.4 53 { }
}
virtual_server 10.0.0.100 53 {
    protocol TCP
    real_server 10.0.0.4 53 { }
}
virtual_server fwmark 7 {
    protocol TCP
    real_server 10.0.0.6 443 { }
}
"#;

const VS: &str = "virtual_server 10.0.0.100:80 TCP";

fn spec(text: &str) -> DirectorSpec {
    let loaded = load_str(Path::new("test.conf"), text, &ConfigOptions::default())
        .unwrap_or_else(|d| panic!("config does not load:\n{d}"));
    translate(&loaded.config).unwrap_or_else(|e| panic!("translate: {e}"))
}

fn key(addr: &str) -> RealServerKey {
    RealServerKey {
        virtual_server: VS.into(),
        addr: addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}")),
        port: 80,
    }
}

fn admin(state: AdminState) -> Option<AdminOverride> {
    Some(AdminOverride {
        state,
        set_by_uid: 0,
        set_at: 1_700_000_000,
    })
}

/// The destinations of the port-80 service: `(address, weight)`.
fn dests(table: &Table) -> Vec<(String, u32)> {
    let (_, ds) = table
        .services
        .iter()
        .find(|(s, _)| s.key.to_string().ends_with(":80"))
        .unwrap_or_else(|| panic!("no port 80 service in {table:?}"));
    let mut v: Vec<_> = ds.iter().map(|d| (d.addr.to_string(), d.weight)).collect();
    v.sort();
    v
}

fn pair(a: (&str, u32), b: (&str, u32)) -> Vec<(String, u32)> {
    vec![(a.0.into(), a.1), (b.0.into(), b.1)]
}

#[test]
fn each_override_shapes_the_desired_table() {
    let (mut d, _) = Director::new(spec(CONF));
    let four = key("10.0.0.4");
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 3), ("10.0.0.5", 2)));
    d.set_admin(&four, admin(AdminState::Drain))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 0), ("10.0.0.5", 2)));
    d.set_admin(&four, admin(AdminState::Maint))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dests(&d.desired()), vec![("10.0.0.5".into(), 2)]);
    d.set_admin(&four, admin(AdminState::Weight(5)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 5), ("10.0.0.5", 2)));
    assert_eq!(d.effective_weight(&four), Some(5));
    d.set_admin(&four, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 3), ("10.0.0.5", 2)));
    assert!(d.admin(&four).is_none());
}

#[test]
fn drain_holds_weight_zero_while_the_checker_verdict_changes() {
    let (mut d, _) = Director::new(spec(CONF));
    let four = key("10.0.0.4");
    d.set_admin(&four, admin(AdminState::Drain))
        .unwrap_or_else(|e| panic!("{e}"));
    d.on_transition(&four, false, 3, "TCP_CHECK: connection refused");
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 0), ("10.0.0.5", 2)));
    d.on_transition(&four, true, 3, "TCP_CHECK: connected");
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 0), ("10.0.0.5", 2)));
}

#[test]
fn ready_restores_the_checkers_verdict() {
    let (mut d, _) = Director::new(spec(CONF));
    let four = key("10.0.0.4");
    d.set_admin(&four, admin(AdminState::Weight(9)))
        .unwrap_or_else(|e| panic!("{e}"));
    // Down while overridden: out of the table as usual (no inhibit).
    d.on_transition(&four, false, 3, "TCP_CHECK: connection refused");
    assert_eq!(dests(&d.desired()), vec![("10.0.0.5".into(), 2)]);
    d.set_admin(&four, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dests(&d.desired()), vec![("10.0.0.5".into(), 2)]);
    d.on_transition(&four, true, 3, "TCP_CHECK: connected");
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 3), ("10.0.0.5", 2)));
}

#[test]
fn reload_keeps_overrides_and_drops_those_of_removed_real_servers() {
    let (mut d, _) = Director::new(spec(CONF));
    d.set_admin(&key("10.0.0.4"), admin(AdminState::Maint))
        .unwrap_or_else(|e| panic!("{e}"));
    d.set_admin(&key("10.0.0.5"), admin(AdminState::Drain))
        .unwrap_or_else(|e| panic!("{e}"));
    // Same config, a changed weight: both kept.
    let actions = d.reload(spec(&CONF.replace("weight 2", "weight 4")), Duration::ZERO);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::AdminDropped { .. })),
        "{actions:?}"
    );
    assert_eq!(dests(&d.desired()), vec![("10.0.0.5".into(), 0)]);
    // 10.0.0.5 removed: its override goes, and says so.
    let without = CONF.replace(
        "    real_server 10.0.0.5 80 {\n        weight 2\n        TCP_CHECK { connect_timeout 1 }\n    }\n",
        "",
    );
    assert_ne!(without, CONF);
    let actions = d.reload(spec(&without), Duration::ZERO);
    let dropped: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::AdminDropped { key, admin } => Some((key.clone(), admin.state)),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, vec![(key("10.0.0.5"), AdminState::Drain)]);
    assert_eq!(d.admin_overrides().count(), 1);
    // Back in the config: no override (it was dropped), checkers decide.
    d.reload(spec(CONF), Duration::ZERO);
    assert!(d.admin(&key("10.0.0.5")).is_none());
    assert_eq!(
        d.admin(&key("10.0.0.4")).map(|a| a.state),
        Some(AdminState::Maint)
    );
}

#[test]
fn start_with_admin_drops_unknown_real_servers() {
    let (mut d, _) = Director::new(spec(CONF));
    let ghost = key("10.0.0.99");
    let a = admin(AdminState::Drain).unwrap_or_else(|| panic!("no override"));
    let dropped = d.start_with_admin([(key("10.0.0.4"), a.clone()), (ghost.clone(), a.clone())]);
    assert_eq!(dropped, vec![(ghost.clone(), a.clone())]);
    assert_eq!(dests(&d.desired()), pair(("10.0.0.4", 0), ("10.0.0.5", 2)));
    assert!(d.set_admin(&ghost, Some(a)).is_err());
}

#[test]
fn draining_every_real_server_loses_quorum() {
    let text = CONF.replace(
        "lb_kind NAT",
        "lb_kind NAT\n    quorum 1\n    quorum_down /bin/true",
    );
    let (mut d, _) = Director::new(spec(&text));
    assert_eq!(d.quorum_up(VS), Some(true));
    d.set_admin(&key("10.0.0.4"), admin(AdminState::Drain))
        .unwrap_or_else(|e| panic!("{e}"));
    let actions = d
        .set_admin(&key("10.0.0.5"), admin(AdminState::Maint))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.quorum_up(VS), Some(false));
    assert!(
        matches!(&actions[..], [Action::RunScript { .. }]),
        "{actions:?}"
    );
}

#[test]
fn names_as_lvsd_status_prints_them_resolve() {
    let s = spec(CONF);
    let ok =
        |vs: &str, rs: &str| resolve(&s, vs, rs).unwrap_or_else(|e| panic!("{vs} / {rs}: {e}"));
    assert_eq!(
        ok("virtual_server 10.0.0.100:80 TCP", "10.0.0.4:80"),
        key("10.0.0.4")
    );
    assert_eq!(ok("10.0.0.100:80 TCP", "10.0.0.4:80"), key("10.0.0.4"));
    assert_eq!(ok("10.0.0.100:80", "10.0.0.4"), key("10.0.0.4"));
    assert_eq!(ok("tcp 10.0.0.100 80", "10.0.0.4:80"), key("10.0.0.4"));
    assert_eq!(
        ok("fwmark 7", "10.0.0.6:443").virtual_server.as_ref(),
        "virtual_server fwmark 7 TCP"
    );
    assert_eq!(
        ok("10.0.0.100:53 UDP", "10.0.0.4:53")
            .virtual_server
            .as_ref(),
        "virtual_server 10.0.0.100:53 UDP"
    );
    let err = |vs: &str, rs: &str| resolve(&s, vs, rs).expect_err(vs);
    let e = err("10.0.0.100:53", "10.0.0.4:53");
    assert!(e.contains("ambiguous"), "{e}");
    let e = err("10.0.0.101:80", "10.0.0.4:80");
    assert!(e.contains("no virtual server") && e.contains(VS), "{e}");
    let e = err(VS, "10.0.0.9:80");
    assert!(
        e.contains("has no real server") && e.contains("10.0.0.4:80"),
        "{e}"
    );
    let e = err(VS, "web1");
    assert!(e.contains("not an address"), "{e}");
}

#[test]
fn state_file_round_trips() {
    let text = format!(
        r#"{{"schema":{STATE_FILE_SCHEMA},"overrides":[
        {{"virtual_server":"{VS}","real_server":"10.0.0.4:80","state":"weight","weight":5,"set_by_uid":0,"set_at":1}},
        {{"virtual_server":"{VS}","real_server":"10.0.0.5:80","state":"drain","set_by_uid":1000,"set_at":2}}]}}"#
    );
    let file: StateFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.overrides[0].admin.state, AdminState::Weight(5));
    assert_eq!(file.overrides[1].admin.state, AdminState::Drain);
    assert_eq!(file.overrides[1].admin.set_by_uid, 1000);
    let again: StateFile =
        serde_json::from_str(&serde_json::to_string(&file).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, file);
}

#[test]
fn requests_parse_and_bad_ones_say_what_is_wrong() {
    assert_eq!(parse_request(b""), Ok(Command::Status));
    assert_eq!(
        parse_request(br#"{"command":"status"}"#),
        Ok(Command::Status)
    );
    assert_eq!(
        parse_request(br#"{"command":"weight","virtual_server":"fwmark 7","real_server":"10.0.0.6:443","weight":5}"#),
        Ok(Command::Admin {
            virtual_server: "fwmark 7".into(),
            real_server: "10.0.0.6:443".into(),
            admin: Some(AdminState::Weight(5)),
        })
    );
    let err = |line: &str| parse_request(line.as_bytes()).expect_err(line);
    assert!(err("drain 10.0.0.4").contains("not valid JSON"));
    assert!(err(r#"{"command":"reboot"}"#).contains("unknown command \"reboot\""));
    assert!(err(r#"{"command":"drain","real_server":"10.0.0.4"}"#).contains("\"virtual_server\""));
    assert!(
        err(r#"{"command":"weight","virtual_server":"a","real_server":"b"}"#)
            .contains("needs a \"weight\"")
    );
    assert!(
        err(r#"{"command":"weight","virtual_server":"a","real_server":"b","weight":-1}"#)
            .contains("out of range")
    );
    assert!(
        err(r#"{"command":"drain","virtual_server":"a","real_server":"b","weight":3}"#)
            .contains("takes no \"weight\"")
    );
    assert!(err(r#"{"command":"drain","vs":"a"}"#).contains("unknown field `vs`"));
    assert!(err("\u{ff}").contains("not valid JSON") || !err("\u{ff}").is_empty());
    assert!(parse_request(&[0xff, 0xfe]).is_err());
}

mod socket {
    //! The control socket itself: bad requests get clear errors, and only
    //! root (or `--control-group`) may change state, tested with the real
    //! `lvsd ctl` client run as `nobody` (uid 65534) by setpriv.

    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use lvsd::daemon::control::{self, AdminRequest, ControlOptions, Reply, StatusRequest};
    use lvsd::daemon::status::Status;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;
    use tokio::sync::mpsc;

    /// A control socket in a fresh directory everyone may enter, answered
    /// by a stand-in for the daemon loop.
    fn serve(dir: &Path, group: Option<u32>) -> PathBuf {
        let path = dir.join("lvsd.sock");
        let (status_tx, mut status_rx) = mpsc::channel::<StatusRequest>(4);
        let (admin_tx, mut admin_rx) = mpsc::channel::<AdminRequest>(4);
        let options = ControlOptions {
            admin: Some(admin_tx),
            group,
        };
        control::serve(&path, status_tx, options).unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(req) = status_rx.recv() => {
                        let _ = req.send(Status { pid: 42, ..Status::default() });
                    }
                    Some(req) = admin_rx.recv() => {
                        let _ = req.reply.send(Reply::ok(format!(
                            "{:?} {} {} by uid {}",
                            req.admin, req.virtual_server, req.real_server, req.peer.uid
                        )));
                    }
                    else => return,
                }
            }
        });
        // Who may connect is the file mode's business; open it up so the
        // daemon's own check is what is tested.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("{e}"));
        path
    }

    async fn raw(path: &Path, bytes: &[u8]) -> Reply {
        let mut s = UnixStream::connect(path)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = s.write_all(bytes).await;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&buf)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&buf)))
    }

    fn tempdir() -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix("lvsd-ctl-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    #[tokio::test]
    async fn bad_requests_get_errors_naming_the_problem() {
        let dir = tempdir();
        let path = serve(dir.path(), None);
        let r = raw(&path, b"drain please\n").await;
        assert!(
            !r.ok
                && r.error
                    .as_deref()
                    .is_some_and(|e| e.contains("not valid JSON")),
            "{r:?}"
        );
        let r = raw(&path, b"{\"command\":\"shutdown\"}\n").await;
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("unknown command \"shutdown\"")),
            "{r:?}"
        );
        let long = vec![b'x'; control::MAX_REQUEST + 100];
        let r = raw(&path, &long).await;
        assert!(
            r.error.as_deref().is_some_and(|e| e.contains("too long")),
            "{r:?}"
        );
        let r = raw(
            &path,
            b"{\"command\":\"drain\",\"virtual_server\":\"10.0.0.100:80\",\"real_server\":\"10.0.0.4:80\"}\n",
        )
        .await;
        assert!(r.ok, "{r:?}");
        // Status: with a request line, and from a client that sends nothing.
        let s = control::fetch(&path)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.pid, 42);
        let mut c = UnixStream::connect(&path)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.shutdown().await.unwrap_or_else(|e| panic!("{e}"));
        let mut buf = Vec::new();
        c.read_to_end(&mut buf)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let s: Status = serde_json::from_slice(&buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.pid, 42);
    }

    /// `lvsd ctl ARGS` as uid/gid 65534 with no supplementary groups.
    fn ctl_as_nobody(dir: &Path, args: &[&str]) -> std::process::Output {
        // A copy nobody can surely execute (the build tree may be private).
        let bin = dir.join("lvsd");
        if !bin.exists() {
            std::fs::copy(env!("CARGO_BIN_EXE_lvsd"), &bin).unwrap_or_else(|e| panic!("{e}"));
        }
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("setpriv: {e}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_root_or_the_control_group_may_change_state() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (setpriv)");
            return;
        }
        let dir = tempdir();
        let path = serve(dir.path(), None);
        let sock = path.display().to_string();
        let out = tokio::task::block_in_place(|| {
            ctl_as_nobody(
                dir.path(),
                &["ctl", "-s", &sock, "drain", "10.0.0.100:80", "10.0.0.4:80"],
            )
        });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("permission denied: uid 65534 may not change state (root only)"),
            "{stderr}"
        );
        // Status stays readable.
        let out = tokio::task::block_in_place(|| {
            ctl_as_nobody(dir.path(), &["status", "-s", &sock, "--json"])
        });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // With --control-group 65534, nobody's group may.
        let dir2 = tempdir();
        let path = serve(dir2.path(), Some(65534));
        let sock = path.display().to_string();
        let out = tokio::task::block_in_place(|| {
            ctl_as_nobody(
                dir2.path(),
                &[
                    "ctl",
                    "-s",
                    &sock,
                    "weight",
                    "fwmark 7",
                    "10.0.0.6:443",
                    "5",
                ],
            )
        });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("Some(Weight(5)) fwmark 7 10.0.0.6:443 by uid 65534"),
            "{stdout}"
        );
    }
}

#[test]
fn a_restart_finding_the_overridden_table_plans_nothing() {
    let (mut d, _) = Director::new(spec(CONF));
    let six = RealServerKey {
        virtual_server: "virtual_server fwmark 7 TCP".into(),
        addr: "10.0.0.6".parse().unwrap_or_else(|e| panic!("{e}")),
        port: 443,
    };
    let overrides = [
        (key("10.0.0.4"), AdminState::Drain),
        (key("10.0.0.5"), AdminState::Weight(7)),
        (six, AdminState::Maint),
    ];
    for (k, state) in &overrides {
        d.set_admin(k, admin(*state))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut kernel = d.desired();
    for (s, _) in &mut kernel.services {
        s.flags.0 |= ipvs::model::ServiceFlags::HASHED;
    }
    let (mut again, _) = Director::adopting(spec(CONF), &kernel);
    let dropped = again.start_with_admin(
        overrides
            .iter()
            .filter_map(|(k, s)| Some((k.clone(), admin(*s)?))),
    );
    assert!(dropped.is_empty());
    let ops = lvsd::director::plan::plan(&again.desired(), &kernel);
    assert!(ops.is_empty(), "{ops:?}");
}

#[test]
fn ipv6_names_resolve_in_either_form() {
    let s = spec(
        "virtual_server 2001:db8::100 80 {\n protocol TCP\n real_server 2001:db8::4 8080 { }\n}\n",
    );
    for vs in [
        "virtual_server [2001:db8::100]:80 TCP",
        "[2001:db8::100]:80",
        "2001:db8::100 80 tcp",
    ] {
        for rs in ["[2001:db8::4]:8080", "2001:db8::4"] {
            let k = resolve(&s, vs, rs).unwrap_or_else(|e| panic!("{vs} / {rs}: {e}"));
            assert_eq!(k.port, 8080);
            assert_eq!(&*k.virtual_server, "virtual_server [2001:db8::100]:80 TCP");
        }
    }
}
