//! The runner end to end on loopback: transitions with reasons arrive on the channel.

use testbed::nginx;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use checkers::runner::{InitialState, Runner, ServerTransition};
use checkers::{
    CheckKind, CheckSchedule, CheckSpec, Checker, Connection, HttpCheck, HttpProtocol, MiscCheck,
    RealServerChecks, StatusCodes, TcpCheck, UrlCheck,
};
use nginx::Nginx;
use tokio::sync::mpsc;

fn schedule(_kind: CheckKind, alpha: bool) -> CheckSchedule {
    CheckSchedule {
        delay_loop: Duration::from_millis(300),
        retry: 1,
        delay_before_retry: Duration::from_millis(100),
        warmup: Some(Duration::from_millis(100)),
        alpha,
        log_all_failures: false,
    }
}

fn http(target: SocketAddr, path: &str, alpha: bool) -> Checker {
    let mut connection = Connection::new(target);
    connection.connect_timeout = Duration::from_secs(2);
    Checker {
        spec: CheckSpec::Http(Box::new(HttpCheck {
            urls: vec![UrlCheck {
                path: path.into(),
                digest: None,
                status_codes: StatusCodes {
                    ranges: vec![(200, 200)],
                },
                virtualhost: None,
                regex: None,
            }],
            virtualhost: None,
            connection,
            http_protocol: HttpProtocol::Http10,
            tls: None,
            fast_recovery: false,
            max_body_bytes: 1 << 20,
        })),
        schedule: schedule(CheckKind::Http, alpha),
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<ServerTransition>) -> ServerTransition {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a transition within 20 s")
        .expect("channel open")
}

/// No transition arrives for 1.5 s (several delay_loops of these checkers).
async fn assert_quiet(rx: &mut mpsc::UnboundedReceiver<ServerTransition>, why: &str) {
    let got = tokio::time::timeout(Duration::from_millis(1500), rx.recv()).await;
    assert!(got.is_err(), "{why}: {got:?}");
}

#[tokio::test]
async fn transitions_with_reasons() {
    let nginx = Nginx::builder()
        .file("health", b"OK\n")
        .location("location = /down { return 503; }")
        .start()
        .expect("nginx");
    let target = SocketAddr::from(([127, 0, 0, 1], nginx.http_port()));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let servers = vec![
        // Healthy, alpha: starts down, comes up.
        RealServerChecks {
            id: 1,
            weight: 1,
            checkers: vec![http(target, "/health", true)],
        },
        // Unhealthy, not alpha: starts up, goes down after one retry.
        RealServerChecks {
            id: 2,
            weight: 1,
            checkers: vec![http(target, "/down", false)],
        },
        // TCP_CHECK and a misc_dynamic MISC_CHECK, both passing: the weight follows the script.
        RealServerChecks {
            id: 3,
            weight: 1,
            checkers: vec![
                Checker {
                    spec: CheckSpec::Tcp(TcpCheck {
                        connection: Connection::new(target),
                    }),
                    schedule: schedule(CheckKind::Tcp, false),
                },
                Checker {
                    spec: CheckSpec::Misc(Box::new(MiscCheck {
                        misc_path: "/bin/sh -c 'exit 12'".into(),
                        misc_timeout: None,
                        misc_dynamic: true,
                        user: None,
                        script_security: false,
                    })),
                    schedule: schedule(CheckKind::Misc, false),
                },
            ],
        },
    ];
    let runner = Runner::start(servers, tx).expect("runner");
    assert_eq!(
        runner.initial_states(),
        &[
            InitialState {
                server: 1,
                up: false,
                weight: 1
            },
            InitialState {
                server: 2,
                up: true,
                weight: 1
            },
            InitialState {
                server: 3,
                up: true,
                weight: 1
            },
        ]
    );
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(next(&mut rx).await);
    }
    seen.sort_by_key(|t| t.server);
    assert_eq!(
        seen[0],
        ServerTransition {
            server: 1,
            up: true,
            weight: 1,
            reason: format!("HTTP_GET http://{target}/health: status 200")
        }
    );
    assert_eq!(
        seen[1],
        ServerTransition {
            server: 2,
            up: false,
            weight: 1,
            reason: format!("HTTP_GET http://{target}/down: status 503, expected 200")
        }
    );
    assert_eq!(
        seen[2],
        ServerTransition {
            server: 3,
            up: true,
            weight: 10,
            reason: "MISC_CHECK /bin/sh -c 'exit 12': exit status 12: weight 1 -> 10".into()
        }
    );
    // Nginx goes away: servers 1 and 3 go down with a connection reason, and server 2,
    // down already, now tells that reason instead of the 503.
    drop(nginx);
    let mut last = std::collections::BTreeMap::new();
    while last.len() < 3 {
        let t = next(&mut rx).await;
        last.insert(t.server, (t.up, t.reason));
    }
    let refused = |path: &str| format!("HTTP_GET http://{target}{path}: connection refused");
    assert_eq!(last[&1], (false, refused("/health")));
    assert_eq!(last[&2], (false, refused("/down")));
    assert_eq!(
        last[&3],
        (false, format!("TCP_CHECK {target}: connection refused"))
    );
    let stats = runner.stats();
    assert!(stats.checks_started() > 3);
}

/// One runner serves a pool: servers are added and removed one by one, a removed server's
/// checkers stop, and a server whose checkers cannot all be prepared starts none of them.
#[tokio::test]
async fn servers_are_added_and_removed_one_by_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let target = listener.local_addr().expect("addr");
    let accept = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let tcp = |alpha| Checker {
        spec: CheckSpec::Tcp(TcpCheck {
            connection: Connection::new(target),
        }),
        schedule: schedule(CheckKind::Tcp, alpha),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(tx);
    let now = tokio::time::Instant::now();
    for id in [1, 2] {
        let initial = runner
            .add(
                id,
                &RealServerChecks {
                    id: 0,
                    weight: 3,
                    checkers: vec![tcp(true)],
                },
                now,
            )
            .expect("add");
        assert_eq!(
            initial,
            InitialState {
                server: id,
                up: false,
                weight: 3
            }
        );
    }
    assert_eq!(runner.len(), 2);
    let mut up = vec![next(&mut rx).await.server, next(&mut rx).await.server];
    up.sort();
    assert_eq!(up, [1, 2]);

    // An SSL_GET whose CA file does not exist: an error naming the server, nothing started,
    // and the server's running checkers (none here) untouched.
    let mut broken = http(target, "/", false);
    if let CheckSpec::Http(h) = &mut broken.spec {
        h.tls = Some(checkers::TlsOptions {
            sni: None,
            verify_ca_file: Some("/nonexistent/ca.pem".into()),
            client_cert: None,
        });
    }
    let error = runner
        .add(
            7,
            &RealServerChecks {
                id: 7,
                weight: 1,
                checkers: vec![tcp(false), broken],
            },
            tokio::time::Instant::now(),
        )
        .expect_err("a missing CA file");
    assert!(error.to_string().contains("real server 7"), "{error}");
    assert_eq!(runner.len(), 2);

    // Removing server 1 stops its checkers: when the port closes, only server 2 goes down.
    assert!(runner.remove(1));
    assert!(!runner.remove(1));
    assert_eq!(runner.len(), 1);
    accept.abort();
    let _ = accept.await;
    let down = next(&mut rx).await;
    assert_eq!((down.server, down.up), (2, false), "{down:?}");
    assert_quiet(&mut rx, "no transition from the removed server").await;
}

/// As keepalived: a MISC_CHECK whose script is missing, or that
/// enable_script_security refuses (root runs it, anyone may write it), is
/// disabled: never run, the real server keeps its initial state.
#[tokio::test]
async fn misc_scripts_keepalived_would_not_run_are_disabled() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(&format!("runner-misc-{}-", std::process::id()))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let failing = dir.path().join("fails.sh");
    std::fs::write(&failing, "#!/bin/sh\nexit 1\n").expect("write script");
    // Group- and world-writable: refused when it would run as root.
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let misc = |path: String, script_security: bool| Checker {
        spec: CheckSpec::Misc(Box::new(MiscCheck {
            misc_path: path,
            misc_timeout: None,
            misc_dynamic: false,
            user: None,
            script_security,
        })),
        schedule: schedule(CheckKind::Misc, false),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(tx);
    let now = tokio::time::Instant::now();
    let mut servers = vec![(
        1,
        misc(dir.path().join("missing.sh").display().to_string(), false),
    )];
    let as_root = nix::unistd::geteuid().is_root();
    if as_root {
        servers.push((2, misc(failing.display().to_string(), true)));
    }
    for (id, checker) in servers {
        let initial = runner
            .add(
                id,
                &RealServerChecks {
                    id,
                    weight: 1,
                    checkers: vec![checker],
                },
                now,
            )
            .expect("add");
        assert!(initial.up, "{initial:?}");
    }
    // The same script without enable_script_security runs, and fails.
    runner
        .add(
            3,
            &RealServerChecks {
                id: 3,
                weight: 1,
                checkers: vec![misc(failing.display().to_string(), false)],
            },
            now,
        )
        .expect("add");
    let down = next(&mut rx).await;
    assert_eq!((down.server, down.up), (3, false), "{down:?}");
    assert_quiet(&mut rx, "no transition from the disabled checkers").await;
}

/// A lone checker wakes the runner for its start and for its reply one slot later, not
/// for slots after its check ended (the slot tickers go idle with it).
#[tokio::test(flavor = "current_thread")]
async fn slot_tickers_go_idle_between_checks() {
    let nginx = Nginx::builder()
        .file("health", b"OK\n")
        .start()
        .expect("nginx");
    let target = SocketAddr::from(([127, 0, 0, 1], nginx.http_port()));
    let mut checker = http(target, "/health", false);
    checker.schedule.delay_loop = Duration::from_secs(1);
    checker.schedule.warmup = Some(Duration::ZERO);
    let server = RealServerChecks {
        id: 1,
        weight: 1,
        checkers: vec![checker],
    };
    let (tx, _rx) = mpsc::unbounded_channel();
    let runner = Runner::start(vec![server], tx).expect("runner");
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let checks = runner.stats().checks_started();
    let ticks = runner.slot_ticks();
    assert!((3..=5).contains(&checks), "{checks} checks in 3.5 s");
    // One tick per check reaps its reply; a slow reply may take another. Tickers that kept
    // ticking after the check would have woken twice more per check.
    assert!(
        ticks <= 2 * checks,
        "{ticks} slot ticks for {checks} checks"
    );
}
