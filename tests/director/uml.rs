//! lvsd end to end in a UML kernel with IPVS: two directors in DR mode in
//! front of two real nginx servers, traffic from a client namespace.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::site::{
    director_config, dr_config, Kind, Site, CLIENT, DIR1, DIR2, RS1 as RS1_NS, RS2 as RS2_NS, SLOW,
};

const RS1: &str = "10.0.0.4:80";
const RS2: &str = "10.0.0.5:80";

fn signal(p: &testbed::process::ProcessGuard, s: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid() as i32), s)
        .unwrap_or_else(|e| panic!("signal {s}: {e}"));
}

fn json_u64(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(|x| x.as_u64()).unwrap_or(u64::MAX)
}

/// Appends a measured figure to the file `$LVSD_DIRECTOR_REPORT` names (if
/// set; the host's filesystem is the guest's) and to stderr.
fn report(line: &str) {
    eprintln!("{line}");
    if let Some(path) = std::env::var_os("LVSD_DIRECTOR_REPORT") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// The receiving end of `NOTIFY_SOCKET`, as systemd holds it for a
/// `Type=notify` service.
struct NotifySocket {
    sock: std::os::unix::net::UnixDatagram,
    path: std::path::PathBuf,
}

impl NotifySocket {
    fn bind(path: &std::path::Path) -> NotifySocket {
        let sock = std::os::unix::net::UnixDatagram::bind(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        sock.set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap_or_else(|e| panic!("{e}"));
        NotifySocket {
            sock,
            path: path.to_owned(),
        }
    }

    fn env(&self) -> String {
        format!("NOTIFY_SOCKET={}", self.path.display())
    }

    /// Waits for the next notification holding `what` (earlier ones skipped).
    fn expect(&self, what: &str) {
        let t0 = Instant::now();
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while t0.elapsed() < SLOW {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.lines().any(|l| l == what) {
                    return;
                }
                seen.push(msg);
            }
        }
        panic!("no {what} on NOTIFY_SOCKET within {SLOW:?}; seen {seen:?}");
    }
}

/// Requests through the VIP until ten in a row succeed; the failures on
/// the way (the client's ARP cache is flushed after each, as a real client's
/// would age). Panics (with `logs_of`'s log) if that takes longer than SLOW.
fn requests_until_ten_in_a_row(site: &Site, logs_of: &testbed::process::ProcessGuard) -> u32 {
    let t0 = Instant::now();
    let mut failed = 0;
    let mut ok_in_a_row = 0;
    while ok_in_a_row < 10 {
        assert!(
            t0.elapsed() < SLOW,
            "no takeover within {SLOW:?}\n{}",
            logs_of.logs()
        );
        match site.get("/") {
            Ok(_) => ok_in_a_row += 1,
            Err(_) => {
                failed += 1;
                ok_in_a_row = 0;
                let _ = site.ns(CLIENT).ip(&["neigh", "flush", "all"]);
            }
        }
    }
    failed
}

/// Two lvsd directors of `kind` (VRRP + checkers + IPVS): round robin over
/// both real servers; a stopped nginx leaves the table within
/// delay_loop + retry x delay_before_retry (+ slack) and comes back when
/// started; status and SIGUSR1 show it, without secrets; the backup
/// carries the traffic when the master dies, with bounded failures.
fn pair_balances_fails_over_and_recovers(prefix: &str, kind: Kind) {
    let mut site = Site::with_kind(prefix, kind);
    // The kernel's connection sync follows VRRP: master sends, backup receives.
    // Also a notify_down script on each real server of director 1.
    let down_mark = site.path("notify-down");
    let with_sync = |c: String| {
        c.replace(
            "router_id lvsd_test",
            "router_id lvsd_test\n    lvs_sync_daemon eth0 VI_1",
        )
    };
    let with_notify = |c: String| {
        c.replace(
            "        weight 1\n",
            &format!(
                "        weight 1\n        notify_down \"/usr/bin/touch {}\"\n",
                down_mark.display()
            ),
        )
    };
    let c1 = site.write_config(
        "dir1.conf",
        &with_notify(with_sync(director_config(
            kind,
            "MASTER",
            150,
            &["10.0.0.4", "10.0.0.5"],
        ))),
    );
    assert!(!down_mark.exists());
    let c2 = site.write_config(
        "dir2.conf",
        &with_sync(director_config(
            kind,
            "BACKUP",
            100,
            &["10.0.0.4", "10.0.0.5"],
        )),
    );
    let mut d1 = site.lvsd(DIR1, "dir1", &c1, &[]);
    let mut d2 = site.lvsd(DIR2, "dir2", &c2, &[]);
    site.wait("dir1 to hold the VIP", SLOW, || site.has_vip(DIR1));
    site.wait("both real servers in dir1's table", SLOW, || {
        site.active_reals(DIR1).len() == 2
    });
    site.wait("both real servers in dir2's table", SLOW, || {
        site.active_reals(DIR2).len() == 2
    });
    assert!(!site.has_vip(DIR2));
    site.wait("dir1's master sync daemon", SLOW, || {
        sync_daemons(&site, DIR1) == ["master"]
    });
    site.wait("dir2's backup sync daemon", SLOW, || {
        sync_daemons(&site, DIR2) == ["backup"]
    });

    let answers: Vec<String> = (0..8)
        .map(|_| {
            site.get("/")
                .unwrap_or_else(|e| panic!("{e}\n{}", d1.logs()))
        })
        .collect();
    assert!(
        answers.iter().any(|a| a == "rs1") && answers.iter().any(|a| a == "rs2"),
        "{answers:?}"
    );

    // Stop rs2: out within delay_loop 2 + retry 1 x delay_before_retry 1 + connect 2, plus slack.
    site.stop_nginx(1);
    let t0 = Instant::now();
    site.wait("rs2 to leave dir1's table", SLOW, || {
        site.active_reals(DIR1) == [RS1]
    });
    site.wait("dir1's notify_down script", SLOW, || down_mark.exists());
    let took = t0.elapsed();
    report(&format!(
        "{kind:?}: stopped nginx left the table after {took:?} (bound 5 s)"
    ));
    assert!(took < Duration::from_secs(15), "rs2 left after {took:?}");
    for _ in 0..10 {
        assert_eq!(site.get("/").as_deref(), Ok("rs1"));
    }

    // Status: the verdict with its reason; no secret anywhere.
    let mut status = None;
    site.wait("lvsd status", SLOW, || {
        status = site.status("dir1");
        status.is_some()
    });
    let status = status.unwrap_or_default();
    let text = status.to_string();
    assert!(!text.contains("Zs3cr3t"), "{text}");
    let reals = &status["virtual_servers"][0]["real_servers"];
    let rs2 = reals
        .as_array()
        .and_then(|a| a.iter().find(|r| r["address"] == RS2))
        .cloned()
        .unwrap_or_default();
    assert_eq!(rs2["up"], false, "{text}");
    assert!(!rs2["reason"].as_str().unwrap_or("").is_empty(), "{text}");
    assert_eq!(status["vrrp"][0]["state"], "Master", "{text}");
    // SIGUSR1: the human dump.
    signal(&d1, Signal::SIGUSR1);
    let data = site.path("dir1.data");
    site.wait("the SIGUSR1 dump", SLOW, || {
        std::fs::read_to_string(&data).is_ok_and(|t| t.contains("real_server 10.0.0.5:80 DOWN"))
    });
    assert!(!std::fs::read_to_string(&data)
        .unwrap_or_default()
        .contains("Zs3cr3t"));

    site.start_nginx(1);
    site.wait("rs2 back in dir1's table", SLOW, || {
        site.active_reals(DIR1).len() == 2
    });
    site.wait("rs2 back in dir2's table", SLOW, || {
        site.active_reals(DIR2).len() == 2
    });

    // A full-mode reload with an unchanged VRRP section and table: no IPVS
    // write, the VRRP instance keeps running (still master, never re-elected).
    let before = site.status("dir1").unwrap_or_default();
    signal(&d1, Signal::SIGHUP);
    site.wait("dir1's reload", SLOW, || {
        site.status("dir1")
            .is_some_and(|s| json_u64(&s, "reloads") == 1)
    });
    std::thread::sleep(Duration::from_secs(3));
    let after = site.status("dir1").unwrap_or_default();
    assert_eq!(
        json_u64(&after, "ipvs_writes"),
        json_u64(&before, "ipvs_writes"),
        "{after}"
    );
    assert_eq!(after["vrrp"][0]["state"], "Master", "{after}");
    assert_eq!(
        after["vrrp"][0]["counters"]["became_master"],
        1,
        "{after}\n{}",
        d1.logs()
    );
    assert!(site.has_vip(DIR1) && !site.has_vip(DIR2));

    // The master dies: lvsd SIGKILLed and the machine off the LAN.
    d1.kill();
    site.lan
        .switch()
        .ip(&["link", "set", &format!("p{DIR1}"), "down"])
        .unwrap_or_else(|e| panic!("{e}"));
    let t0 = Instant::now();
    let failed = requests_until_ten_in_a_row(&site, &d2);
    assert!(site.has_vip(DIR2));
    report(&format!(
        "{kind:?} lvsd->lvsd takeover: {failed} failed requests, {:?} until 10 in a row succeeded",
        t0.elapsed()
    ));
    assert!(failed <= 10, "{failed} requests failed during the takeover");
    site.wait("dir2's sync daemon to become master", SLOW, || {
        sync_daemons(&site, DIR2) == ["master"]
    });

    // SIGTERM: VIPs, table and sync daemon released, exit 0.
    signal(&d2, Signal::SIGTERM);
    let st = d2
        .wait_timeout(SLOW)
        .unwrap_or_else(|e| panic!("{e}\n{}", d2.logs()));
    assert!(st.success(), "{st}\n{}", d2.logs());
    assert!(!site.has_vip(DIR2));
    assert!(site.dests(DIR2).is_empty(), "{}", site.ipvsadm(DIR2));
    assert!(sync_daemons(&site, DIR2).is_empty());
}

/// The roles of the sync daemons director `i`'s kernel runs.
fn sync_daemons(site: &Site, i: usize) -> Vec<String> {
    site.ns(i)
        .run(&["ipvsadm", "-Ln", "--daemon"])
        .unwrap_or_else(|e| panic!("ipvsadm --daemon: {e}"))
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Starts each (name, argv) server on both real servers (logs `<name><ns>.*`)
/// and waits until both listen on each of `ports` (`protocol` TCP or UDP).
fn serve_on_both_reals(
    site: &Site,
    servers: &[(&str, &[&str])],
    protocol: &str,
    ports: &[u16],
) -> Vec<testbed::process::ProcessGuard> {
    let mut started = Vec::new();
    for i in [RS1_NS, RS2_NS] {
        for (name, argv) in servers {
            let guard = site
                .ns(i)
                .spawn_logged(argv, site.dir.path(), &format!("{name}{i}"))
                .unwrap_or_else(|e| panic!("{name} on real server {i}: {e}"));
            started.push(guard);
        }
    }
    // Listening before the directors start, so that no check sees a server
    // still starting (Python takes seconds to start under UML).
    for i in [RS1_NS, RS2_NS] {
        for port in ports {
            site.ns(i)
                .wait_for_listener(protocol, *port, SLOW)
                .unwrap_or_else(|e| panic!("real server {i}: {e}"));
        }
    }
    started
}

/// A checker block with `retry 1` and `delay_before_retry 1`, then `options`
/// and `body`.
fn checker_block(kind: &str, options: &str, body: &str) -> String {
    format!("        {kind} {{\n            retry 1\n            delay_before_retry 1\n{options}{body}        }}\n")
}

/// A config with one NAT virtual server (`delay_loop 2`, rr) and no VRRP:
/// `reals` are ("ADDR PORT", checker blocks).
fn checkers_only_config(vs: &str, protocol: &str, reals: &[(&str, String)]) -> String {
    let mut conf = format!("global_defs {{\n    router_id checkers_test\n}}\nvirtual_server {vs} {{\n    delay_loop 2\n    lb_algo rr\n    lb_kind NAT\n    protocol {protocol}\n");
    for (addr, checkers) in reals {
        conf.push_str(&format!(
            "    real_server {addr} {{\n        weight 1\n{checkers}    }}\n"
        ));
    }
    conf.push_str("}\n");
    conf
}

/// Runs `conf` (checkers and IPVS only, no VRRP) with keepalived on DIR1
/// and lvsd on DIR2, waits until each table holds exactly the expected real
/// servers (`both` plus, for lvsd only, `lvsd_only`: deliberate
/// differences), checks they stay so over several check rounds, and that
/// lvsd's status gives each real server that is out the expected reason.
fn side_by_side_with_keepalived(
    site: &Site,
    conf: &str,
    both: &[&str],
    lvsd_only: &[&str],
    out: &[(&str, &str)],
) {
    let path = site.write_config("side.conf", conf);
    let k = site.keepalived(DIR1, "ka", &path);
    let l = site.lvsd(DIR2, "l", &path, &[]);
    let sorted = |v: Vec<String>| {
        let mut v = v;
        v.sort();
        v
    };
    let for_keepalived = sorted(both.iter().map(|s| s.to_string()).collect());
    let for_lvsd = sorted(
        both.iter()
            .chain(lvsd_only)
            .map(|s| s.to_string())
            .collect(),
    );
    let active = |i| sorted(site.active_reals(i));
    for (i, who, expected) in [(DIR1, &k, &for_keepalived), (DIR2, &l, &for_lvsd)] {
        let deadline = Instant::now() + SLOW;
        while active(i) != *expected {
            assert!(
                Instant::now() < deadline,
                "director {i}: {:?}, expected {expected:?}\n{}",
                active(i),
                who.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // Several check rounds later both still hold the same.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(active(DIR1), for_keepalived, "keepalived\n{}", k.logs());
    assert_eq!(active(DIR2), for_lvsd, "lvsd\n{}", l.logs());
    let s = site.status("l").unwrap_or_default();
    let reasons: Vec<(String, String)> = s["virtual_servers"][0]["real_servers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["up"] == false)
                .map(|r| {
                    (
                        r["address"].as_str().unwrap_or("").to_owned(),
                        r["reason"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (addr, why) in out {
        assert!(
            reasons.iter().any(|(a, r)| a == addr && r.contains(why)),
            "{addr}: {why:?} not in {reasons:?}"
        );
    }
    assert_eq!(reasons.len(), out.len(), "{reasons:?}");
}

/// The route_announce tests' configuration: VIP 10.0.0.100 (mh, DR,
/// quorum 1) over `reals`, announced in table 201 with protocol 201.
fn announce_config(router_id: &str, drain_delay: u32, reals: &[&str]) -> String {
    let mut text = format!(
        "global_defs {{\n    router_id {router_id}\n}}\n\
         route_announce {{\n    table 201\n    protocol 201\n    startup_delay 1\n    drain_delay {drain_delay}\n    sloppy_tcp yes\n}}\n\
         virtual_server 10.0.0.100 80 {{\n    delay_loop 1\n    lb_algo mh\n    lb_kind DR\n    protocol TCP\n    quorum 1\n"
    );
    for r in reals {
        text.push_str(&format!(
            "    real_server {r} 80 {{\n        weight 1\n        inhibit_on_failure\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n"
        ));
    }
    text.push_str("}\n");
    text
}

/// dir1's table 201, where route_announce keeps its routes.
fn announce_table(site: &Site) -> String {
    site.ns(DIR1)
        .run(&["ip", "route", "show", "table", "201"])
        .unwrap_or_default()
}

/// Whether lvsd on dir1 announces the VIP (its route in table 201).
fn vip_announced(site: &Site) -> bool {
    announce_table(site).contains("10.0.0.100 dev lo proto 201")
}

/// Whether the router (BIRD in the client's namespace) routes the VIP to dir1.
fn vip_at_router(site: &Site) -> bool {
    site.ns(CLIENT)
        .run(&["ip", "route", "show", "10.0.0.100/32"])
        .unwrap_or_default()
        .contains("via 10.0.0.2")
}

/// BIRD in namespace `ns` with deploy/bgp/`name`.conf, its control socket
/// `name`.ctl in the site's directory.
fn spawn_bird(site: &Site, ns: usize, name: &str) -> testbed::process::ProcessGuard {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let argv = [
        "bird".to_string(),
        "-f".into(),
        "-c".into(),
        root.join(format!("deploy/bgp/{name}.conf"))
            .display()
            .to_string(),
        "-s".into(),
        site.path(&format!("{name}.ctl")).display().to_string(),
        "-P".into(),
        site.path(&format!("{name}.pid")).display().to_string(),
    ];
    site.ns(ns)
        .spawn_logged(&argv, &site.path(""), &format!("bird-{name}"))
        .unwrap_or_else(|e| panic!("bird (Debian package bird2): {e}"))
}

/// `birdc show ARGS...` on the router's BIRD (spawn_bird(.., "router")).
fn router_birdc(site: &Site, args: &[&str]) -> String {
    let ctl = site.path("router.ctl").display().to_string();
    let mut argv = vec!["birdc", "-s", &ctl, "show"];
    argv.extend_from_slice(args);
    site.ns(CLIENT).run(&argv).unwrap_or_else(|e| e.to_string())
}

testbed::uml_test! {

    /// Fault injection (issue #16): the wall clock jumping an hour forward
    /// and two back under a running pair. Timers run on the monotonic
    /// clock, so nothing happens: the master keeps the VIP, the backup
    /// never takes over, both real servers stay in the table, and neither
    /// director counts a transition.
    fn a_wall_clock_jump_changes_nothing() {
        let site = Site::new("clk");
        let c1 = site.write_config("dir1.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let c2 = site.write_config("dir2.conf", &dr_config("BACKUP", 100, &["10.0.0.4", "10.0.0.5"]));
        let _d1 = site.lvsd(DIR1, "dir1", &c1, &[]);
        let _d2 = site.lvsd(DIR2, "dir2", &c2, &[]);
        site.wait("dir1 to hold the VIP", SLOW, || site.has_vip(DIR1));
        site.wait("both real servers in dir1's table", SLOW, || site.active_reals(DIR1).len() == 2);
        let became = |name: &str| {
            site.status(name).and_then(|s| s["vrrp"][0]["counters"]["became_master"].as_u64()).unwrap_or(u64::MAX)
        };
        let (b1, b2) = (became("dir1"), became("dir2"));
        let jump = |secs: i64| {
            let out = std::process::Command::new("date")
                .args(["-s", &format!("{secs:+} seconds")])
                .output()
                .unwrap_or_else(|e| panic!("date: {e}"));
            assert!(out.status.success(), "date -s: {}", String::from_utf8_lossy(&out.stderr));
        };
        for secs in [3600, -7200, 3600] {
            jump(secs);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(6) {
                assert!(site.has_vip(DIR1) && !site.has_vip(DIR2), "after a {secs:+} s jump: the VIP moved");
                std::thread::sleep(Duration::from_millis(250));
            }
            assert_eq!(site.active_reals(DIR1).len(), 2, "after a {secs:+} s jump: {}", site.ipvsadm(DIR1));
        }
        assert_eq!((became("dir1"), became("dir2")), (b1, b2), "a transition was counted");
    }

    /// Crash consistency (issue #16): lvsd SIGKILLed at seeded points
    /// during start-up, reload, drain and shutdown, then started again with
    /// the config as it then is. Every time the table converges to that
    /// config, the VIP is back, and what lvsd owns (the VMAC, a virtual
    /// route and rule, the notify FIFO, the pid file; the UML kernel has no
    /// nftables, tests/vrrp/host_side.rs covers that table) is
    /// there exactly once, adopted or cleaned; a download through the VIP
    /// started before the first kill completes; after the last round a
    /// graceful stop leaves nothing behind. `LVSD_CRASH_ROUNDS` (default 24)
    /// and `LVSD_CRASH_SEED` (default 16) pick the points.
    fn sigkill_at_seeded_points_leaves_nothing_unadopted() {
        let site = Site::new("ck");
        let rounds: u64 = std::env::var("LVSD_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
        let mut seed: u64 = std::env::var("LVSD_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
        // A small LCG: reproducible points from the seed.
        let mut next = move |span: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % span.max(1)
        };
        let fifo = site.path("notify.fifo");
        let pid_file = site.path("d.pid");
        let config = |reals: &[&str], weight: u32| {
            // Priority 255 (address owner): MASTER at once after each
            // start, no down timer to wait for in every round.
            dr_config("MASTER", 255, reals)
                .replace("        weight 1\n", &format!("        weight {weight}\n"))
                .replace(
                    "    vrrp_garp_master_delay 1\n",
                    &format!("    vrrp_garp_master_delay 1\n    notify_fifo {}\n", fifo.display()),
                )
                .replace(
                    "    virtual_ipaddress {\n        10.0.0.100/24 dev eth0\n",
                    "    virtual_routes {\n        10.77.0.0/16 dev eth0\n    }\n    virtual_rules {\n        from 10.0.0.0/24 table 100 preference 300\n    }\n    virtual_ipaddress {\n        10.0.0.100/24 dev eth0\n",
                )
                + "vrrp_instance VI_2 {\n    state MASTER\n    interface eth0\n    virtual_router_id 62\n    priority 255\n    advert_int 1\n    use_vmac\n    virtual_ipaddress {\n        10.0.0.101/24\n    }\n}\n"
        };
        let configs = [
            (config(&["10.0.0.4", "10.0.0.5"], 1), vec![(RS1, 1), (RS2, 1)]),
            (config(&["10.0.0.4"], 2), vec![(RS1, 2)]),
        ];
        let conf = site.write_config("d.conf", &configs[0].0);
        let pid_arg = pid_file.display().to_string();
        let start = |name: &str| site.lvsd(DIR1, name, &conf, &["-p", &pid_arg]);
        let dests = |site: &Site| -> Vec<(String, u32)> {
            let mut d: Vec<(String, u32)> = site.dests(DIR1).into_iter().map(|(a, w, _)| (a, w)).collect();
            d.sort();
            d
        };
        let count = |argv: &[&str], needle: &str| -> usize {
            site.ns(DIR1).run(argv).unwrap_or_default().lines().filter(|l| l.contains(needle)).count()
        };
        // What a running master owns, each exactly once.
        let owned = || -> Vec<(&'static str, usize)> {
            vec![
                ("VIP", count(&["ip", "-o", "addr", "show", "dev", "eth0"], "inet 10.0.0.100/")),
                ("VMAC", count(&["ip", "-o", "link", "show"], "vrrp.62@eth0")),
                ("VMAC VIP", count(&["ip", "-o", "addr", "show"], "inet 10.0.0.101/")),
                ("route", count(&["ip", "route", "show"], "10.77.0.0/16")),
                ("rule", count(&["ip", "rule", "show"], "300:")),
                ("FIFO", usize::from(fifo.exists())),
            ]
        };
        let all_once = || owned().iter().all(|(_, n)| *n == 1);
        let mut current = 0usize;
        let mut name = "d0".to_string();
        let mut d = start(&name);
        // Both instances MASTER in the running lvsd's own status (a VIP the
        // killed one left is there until the new one clears it at start).
        let masters = |name: &str| {
            site.status(name).is_some_and(|s| {
                s["vrrp"].as_array().is_some_and(|v| v.len() == 2 && v.iter().all(|i| i["state"] == "Master"))
            })
        };
        let converge = |what: &str, want: &[(&str, u32)], d: &testbed::process::ProcessGuard, name: &str| {
            let want: Vec<(String, u32)> = want.iter().map(|(a, w)| (a.to_string(), *w)).collect();
            if testbed::wait_until(what, SLOW, || masters(name) && dests(&site) == want && all_once()).is_err() {
                panic!(
                    "{what}: table {:?} (want {want:?}), owned {:?}\n{}",
                    dests(&site),
                    owned(),
                    d.logs()
                );
            }
        };
        converge("the first start", &configs[current].1, &d, &name);
        // A long download through the VIP (120 KB at 4 KB/s: ~30 s).
        let out = site.path("slow.out");
        let mut curl = site.ns(CLIENT)
            .spawn_logged(&["curl", "-s", "-o", &out.display().to_string(), "--max-time", "600", "http://10.0.0.100/slow"], site.dir.path(), "curl")
            .unwrap_or_else(|e| panic!("{e}"));
        site.wait("the download to start", SLOW, || std::fs::metadata(&out).is_ok_and(|m| m.len() > 0));
        for round in 0..rounds {
            let phase = ["start-up", "reload", "drain", "shutdown"][(round % 4) as usize];
            let delay = Duration::from_millis(match phase {
                "start-up" => next(3000),
                _ => next(1500),
            });
            match phase {
                "start-up" => {
                    d.kill();
                    name = format!("d{round}s");
                    d = start(&name);
                }
                "reload" => {
                    current = 1 - current;
                    std::fs::write(&conf, &configs[current].0).unwrap_or_else(|e| panic!("{e}"));
                    signal(&d, Signal::SIGHUP);
                }
                "drain" => {
                    let _ = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
                        .args(["ctl", "-s"])
                        .arg(site.path(&format!("{name}.sock")))
                        .args(["drain", "10.0.0.100:80 TCP", RS1])
                        .output();
                }
                _ => signal(&d, Signal::SIGTERM),
            }
            std::thread::sleep(delay);
            d.kill();
            report(&format!("crash round {round}: SIGKILL {:?} into {phase}", delay));
            name = format!("d{round}");
            d = start(&name);
            // A drain that was answered is kept across the crash (the
            // admin state file); it is undone for the next rounds.
            let drained: Vec<(&str, u32)> = configs[current].1.iter().map(|(a, w)| (*a, if phase == "drain" && *a == RS1 { 0 } else { *w })).collect();
            converge(&format!("round {round} ({phase}, +{delay:?})"), &drained, &d, &name);
            if phase == "drain" {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
                    .args(["ctl", "-s"])
                    .arg(site.path(&format!("{name}.sock")))
                    .args(["ready", "10.0.0.100:80 TCP", RS1])
                    .output()
                    .unwrap_or_else(|e| panic!("lvsd ctl ready: {e}"));
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                converge(&format!("round {round}: ready again"), &configs[current].1, &d, &name);
            }
            assert!(site.has_vip(DIR1), "round {round}");
            let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
            assert_eq!(pid.trim(), d.pid().to_string(), "round {round}: the pid file");
        }
        let st = curl.wait_timeout(Duration::from_secs(300)).unwrap_or_else(|e| panic!("{e}"));
        assert!(st.success(), "the download through the VIP: {st}\n{}", curl.logs());
        assert_eq!(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0), 120 * 1024);
        // A graceful stop: nothing left.
        signal(&d, Signal::SIGTERM);
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}\n{}", d.logs()));
        assert!(st.success(), "{st}\n{}", d.logs());
        // The FIFO a killed run made is adopted by the next start and, not
        // being that start's own, left at its stop: keepalived 2.2.7 removes
        // only a FIFO it created too (lib/notify.c).
        let left: Vec<_> = owned().into_iter().filter(|(what, n)| *n != 0 && *what != "FIFO").collect();
        assert!(left.is_empty(), "left after the stop: {left:?}");
        assert!(!pid_file.exists(), "the pid file");
        assert!(!site.ipvsadm(DIR1).contains("10.0.0.100:80"), "{}", site.ipvsadm(DIR1));
    }

    /// The full daemon's `--metrics-listen` (issue #15) with a real IPVS
    /// table: `/metrics` lints clean with promtool and shows both real
    /// servers, one down once its nginx stops; `/healthz` is 200 once the
    /// table is programmed; the page names the down server's reason.
    fn metrics_listener_of_the_full_daemon() {
        let mut site = Site::new("mx");
        let conf = site.write_config("m.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let d = site.lvsd(DIR1, "m", &conf, &["--metrics-listen", "127.0.0.1:9662"]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);
        fn get(site: &Site, path: &str) -> (String, String) {
            let out = site
                .ns(DIR1)
                .exec(&["curl", "-s", "-w", "\\n%{http_code}", &format!("http://127.0.0.1:9662{path}")])
                .unwrap_or_else(|e| panic!("curl: {e}"));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
            (code.to_owned(), body.to_owned())
        }
        assert_eq!(get(&site, "/healthz").0, "200", "{}", d.logs());
        site.stop_nginx(1);
        site.wait("rs2 out of the table", SLOW, || site.active_reals(DIR1) == [RS1]);
        let (code, metrics) = get(&site, "/metrics");
        assert_eq!(code, "200");
        let mut promtool = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("promtool: {e}"));
        {
            use std::io::Write;
            promtool.stdin.take().map(|mut i| i.write_all(metrics.as_bytes()));
        }
        let out = promtool.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "promtool: {}\n{metrics}", String::from_utf8_lossy(&out.stderr));
        let up_of = |rs: &str| {
            metrics
                .lines()
                .find(|l| l.starts_with("lvsd_real_server_up{") && l.contains(&format!("real_server=\"{rs}\"")))
                .map(|l| l.ends_with(" 1"))
        };
        assert_eq!(up_of(RS1), Some(true), "{metrics}");
        assert_eq!(up_of(RS2), Some(false), "{metrics}");
        assert!(metrics.contains("lvsd_ipvs_programmed 1"), "{metrics}");
        // The checks by type and result, and their durations.
        let value = |prefix: &str| -> f64 {
            metrics
                .lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        assert!(value(r#"lvsd_checks_total{type="TCP_CHECK",result="success"}"#) >= 1.0, "{metrics}");
        assert!(value(r#"lvsd_checks_total{type="TCP_CHECK",result="failure"}"#) >= 1.0, "{metrics}");
        assert!(value("lvsd_check_duration_seconds_count") >= 3.0, "{metrics}");
        assert!(value(r#"lvsd_ipvs_operations_total{operation="add_dest",result="ok"}"#) >= 2.0, "{metrics}");
        assert!(value(r#"lvsd_ipvs_operations_total{operation="del_dest",result="ok"}"#) >= 1.0, "{metrics}");
        let (code, page) = get(&site, "/");
        assert_eq!(code, "200");
        assert!(page.contains(RS2) && page.contains("DOWN"), "{page}");
        assert_eq!(get(&site, "/healthz").0, "200");
    }

    /// A real Prometheus (issue #15), in the client's namespace, scrapes
    /// both directors of the pair every second: one master, the master's
    /// kernel connection counter rising under the client's requests; a
    /// reload that removes a real server leaves no series of it and resets
    /// no counter; after the master's crash the backup is the one master,
    /// counted as a "timeout" takeover; never two masters in what it stored.
    fn prometheus_scrapes_the_pair_through_load_reload_and_a_crash() {
        let site = Site::new("pm");
        let (t1, t2) = ("10.0.0.2:9662", "10.0.0.3:9662");
        let c1 = site.write_config("dir1.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let c2 = site.write_config("dir2.conf", &dr_config("BACKUP", 100, &["10.0.0.4", "10.0.0.5"]));
        let mut d1 = site.lvsd(DIR1, "dir1", &c1, &["--metrics-listen", t1]);
        let d2 = site.lvsd(DIR2, "dir2", &c2, &["--metrics-listen", t2]);
        site.wait("dir1 to hold the VIP", SLOW, || site.has_vip(DIR1));
        site.wait("both real servers in dir1's table", SLOW, || site.active_reals(DIR1).len() == 2);
        let dir = site.path("prometheus");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let prom = testbed::prometheus::Prometheus::start(site.ns(CLIENT), &dir, &[t1.into(), t2.into()], "1s");
        let logs = || format!("{}\n{}\n{}", d1.logs(), d2.logs(), prom.process.logs());
        site.wait("Prometheus to see dir1 as the one master", SLOW, || prom.masters() == [t1]);

        // Load: the master's service connection counter rises.
        let conns = "lvsd_ipvs_service_connections_total";
        let before = prom.value(t1, conns);
        for _ in 0..20 {
            site.get("/").unwrap_or_else(|e| panic!("{e}\n{}", logs()));
        }
        site.wait("the connection counter to rise by 20", SLOW, || prom.value(t1, conns) >= before + 20.0);
        let loaded = prom.value(t1, conns);

        // Reload without rs2: its series go, the counters go on.
        let rs2 = r#"lvsd_real_server_up{real_server="10.0.0.5:80"}"#;
        assert_eq!(prom.series(t1, rs2), 1, "{}", logs());
        site.write_config("dir1.conf", &dr_config("MASTER", 150, &["10.0.0.4"]));
        signal(&d1, Signal::SIGHUP);
        site.wait("rs2's series to leave Prometheus", SLOW, || prom.series(t1, rs2) == 0);
        assert_eq!(prom.series(t1, "lvsd_real_server_up"), 1, "{}", logs());
        assert!(prom.value(t1, conns) >= loaded, "the connection counter went back after the reload");
        assert_eq!(prom.value(t1, r#"lvsd_config_reloads_total{result="success"}"#), 1.0);

        // Crash of the master: dir2 is the one master, by timeout.
        let timeout = r#"lvsd_vrrp_became_master_total{reason="timeout"}"#;
        let timeouts = prom.value(t2, timeout);
        d1.kill();
        site.lan
            .switch()
            .ip(&["link", "set", &format!("p{DIR1}"), "down"])
            .unwrap_or_else(|e| panic!("{e}"));
        site.wait("Prometheus to see dir2 as the one master", SLOW, || prom.masters() == [t2]);
        site.wait("dir2's takeover counted as timeout", SLOW, || {
            prom.value(t2, timeout) == timeouts + 1.0
        });
        // A few scrapes of dir2 as master for the claims check.
        std::thread::sleep(Duration::from_secs(3));
        let claims = prom.assert_never_two_masters(&[t1, t2], 0.0);
        assert!(claims.iter().all(|&n| n >= 2), "too few master samples: {claims:?}");
        report(&format!("Prometheus master samples per director: {claims:?}"));
    }

    /// route_announce (issue #17) with BIRD: lvsd keeps a host route for
    /// its healthy VIP in table 201 (protocol 201); BIRD on the director
    /// (deploy/bgp/director.conf) learns it and announces it over BGP to
    /// BIRD on the router (deploy/bgp/router.conf, in the client's
    /// namespace), which installs it. Quorum lost: withdrawn everywhere, and
    /// back with the quorum; SIGTERM: withdrawn before lvsd exits after the
    /// drain delay; a crash leaves it, `lvsd withdraw` removes it.
    fn route_announce_through_bird() {
        let mut site = Site::new("ra");
        let conf = site.write_config(
            "announce.conf",
            &announce_config("lvsd_bgp", 2, &["10.0.0.4", "10.0.0.5"]),
        );
        let table = announce_table;
        let announced = vip_announced;
        let at_router = vip_at_router;
        let mut d = site.lvsd(DIR1, "ann", &conf, &[]);
        site.wait("the VIP's route in table 201", SLOW, || announced(&site));
        assert_eq!(
            site.ns(DIR1).run(&["cat", "/proc/sys/net/ipv4/vs/sloppy_tcp"]).unwrap_or_default().trim(),
            "1"
        );
        let status = site.status_text("ann");
        assert!(status.contains("10.0.0.100 announced"), "{status}");

        let router = spawn_bird(&site, CLIENT, "router");
        let director = spawn_bird(&site, DIR1, "director");
        let birds = || format!("{}\n{}", router.logs(), director.logs());
        site.wait("the router to learn the VIP over BGP", SLOW, || at_router(&site));

        // Quorum lost: both real servers down.
        site.stop_nginx(0);
        site.stop_nginx(1);
        site.wait("the route withdrawn from table 201", SLOW, || !announced(&site));
        site.wait("the route gone from the router", SLOW, || !at_router(&site));
        let status = site.status_text("ann");
        assert!(status.contains("10.0.0.100 withdrawn: quorum down"), "{status}");
        site.start_nginx(0);
        site.wait("the route back in table 201", SLOW, || announced(&site));
        site.wait("the route back at the router", SLOW, || at_router(&site));

        // A route deleted by hand is put back at the next read-back (5 s).
        site.ns(DIR1)
            .run(&["ip", "route", "del", "10.0.0.100", "table", "201", "proto", "201"])
            .unwrap_or_else(|e| panic!("ip route del: {e}"));
        // `ip route del` succeeded, so the route was gone; it is not checked
        // again here because the read-back may already have put it back
        // (CI once caught exactly that).
        let t0 = Instant::now();
        site.wait("the hand-deleted route back", SLOW, || announced(&site));
        let repaired = t0.elapsed();
        assert!(repaired < Duration::from_secs(7), "put back after {repaired:?}");

        // A reload without the block withdraws; one with it announces again.
        let text = std::fs::read_to_string(&conf).expect("config");
        let start = text.find("route_announce").expect("block");
        let end = start + text[start..].find("}\n").expect("block end") + 2;
        std::fs::write(&conf, format!("{}{}", &text[..start], &text[end..])).expect("write");
        signal(&d, Signal::SIGHUP);
        site.wait("the route withdrawn when a reload removes route_announce", SLOW, || {
            !announced(&site)
        });
        site.wait("the route gone from the router after that reload", SLOW, || !at_router(&site));
        std::fs::write(&conf, &text).expect("write");
        signal(&d, Signal::SIGHUP);
        site.wait("announced again after the block came back", SLOW, || announced(&site));
        site.wait("back at the router", SLOW, || at_router(&site));

        // SIGTERM: withdrawn at once, lvsd exits after the drain delay.
        let t0 = Instant::now();
        signal(&d, Signal::SIGTERM);
        site.wait("the route withdrawn at SIGTERM", SLOW, || !announced(&site));
        let withdrawn = t0.elapsed();
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}\n{}", birds()));
        assert!(st.success(), "{st}\n{}\n{}", d.logs(), birds());
        assert!(t0.elapsed() >= Duration::from_secs(2), "no drain delay: {:?}", t0.elapsed());
        assert!(withdrawn < Duration::from_secs(2), "withdrawn after {withdrawn:?}");
        site.wait("the route gone from the router after the stop", SLOW, || !at_router(&site));

        // A crash leaves the route; `lvsd withdraw` (ExecStopPost=) removes it.
        let mut d = site.lvsd(DIR1, "ann2", &conf, &[]);
        site.wait("announced again", SLOW, || announced(&site));
        d.kill();
        std::thread::sleep(Duration::from_secs(1));
        assert!(announced(&site), "the crash removed the route?\n{}", table(&site));
        let out = site
            .ns(DIR1)
            .run(&[env!("CARGO_BIN_EXE_lvsd"), "withdraw", "-f", &conf.display().to_string()])
            .unwrap_or_else(|e| panic!("lvsd withdraw: {e}"));
        assert!(out.contains("1 route(s) deleted from table 201"), "{out}");
        assert!(!announced(&site), "{}", table(&site));
        report(&format!(
            "route_announce: withdrawn {withdrawn:?} after SIGTERM; a hand-deleted route put back after {repaired:?}"
        ));
    }

    /// route_announce (issue #17) with FRR 8.4 on the director
    /// (deploy/bgp/frr-director.conf: zebra imports table 201, bgpd
    /// redistributes it, with BFD) and BIRD on the router: the route that
    /// lvsd put in table 201 before FRR started is announced; quorum lost
    /// withdraws it at the router and the quorum back announces it; a crash
    /// of the speaker (port cut, FRR SIGKILLed) takes it from the router by
    /// BFD, and FRR restarted under the running lvsd announces it again
    /// within seconds (where an earlier attempt announced nothing); SIGTERM
    /// withdraws it.
    fn route_announce_through_frr() {
        let mut site = Site::new("rf");
        let conf = site.write_config("announce.conf", &announce_config("lvsd_frr", 1, &["10.0.0.4"]));
        let announced = vip_announced;
        let at_router = vip_at_router;
        let mut d = site.lvsd(DIR1, "annf", &conf, &[]);
        site.wait("the VIP's route in table 201", SLOW, || announced(&site));

        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let router = spawn_bird(&site, CLIENT, "router");
        // FRR's sockets under /run/frr/<pathspace> (the guest's /run is its
        // own tmpfs), owned by the user its daemons run as.
        let space = "lvsdtest";
        let run_dir = format!("/run/frr/{space}");
        let start_frr = |site: &Site| -> Vec<testbed::process::ProcessGuard> {
            let _ = std::fs::remove_dir_all(&run_dir);
            let out = std::process::Command::new("install")
                .args(["-d", "-o", "frr", "-g", "frr", "-m", "755", "/run/frr", &run_dir])
                .output()
                .unwrap_or_else(|e| panic!("install -d: {e}"));
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let guards: Vec<_> = ["zebra", "bfdd", "bgpd"]
                .iter()
                .map(|daemon| {
                    let argv = [format!("/usr/lib/frr/{daemon}"), "-N".into(), space.into(), "--log".into(), "stdout".into()];
                    site.ns(DIR1)
                        .spawn_logged(&argv, &site.path(""), &format!("frr-{daemon}"))
                        .unwrap_or_else(|e| panic!("{daemon} (Debian package frr): {e}"))
                })
                .collect();
            site.wait("FRR's vty sockets", SLOW, || {
                ["zebra", "bfdd", "bgpd"]
                    .iter()
                    .all(|d| std::path::Path::new(&format!("{run_dir}/{d}.vty")).exists())
            });
            let file = root.join("deploy/bgp/frr-director.conf").display().to_string();
            let applied = site.ns(DIR1).run(&["vtysh", "-N", space, "-f", &file]);
            assert!(applied.is_ok(), "vtysh -f: {applied:?}");
            guards
        };
        let frr_logs = |guards: &[testbed::process::ProcessGuard]| {
            guards.iter().map(|g| g.logs()).collect::<Vec<_>>().join("\n")
        };
        let mut frr = start_frr(&site);
        let t0 = Instant::now();
        site.wait("the router to learn the VIP from FRR", SLOW, || at_router(&site));
        let learnt = t0.elapsed();

        // Quorum lost (the one real server down): withdrawn; back with it.
        site.stop_nginx(0);
        site.wait("the route withdrawn from table 201", SLOW, || !announced(&site));
        let t0 = Instant::now();
        site.wait("the route gone from the router", SLOW, || !at_router(&site));
        let withdrawn = t0.elapsed();
        site.start_nginx(0);
        site.wait("the route back in table 201", SLOW, || announced(&site));
        site.wait("the route back at the router", SLOW, || at_router(&site));

        // The director's speaker crashes (its port cut, FRR SIGKILLed): BFD
        // takes the route from the router; then FRR starts again under the
        // running lvsd, and the router must learn the route again within
        // seconds, although it may refuse the first attempt (BIRD's error
        // wait after a BFD failure).
        let bfd_up = || {
            router_birdc(&site, &["bfd", "sessions"])
                .lines()
                .any(|l| l.starts_with("10.0.0.2 ") && l.contains(" Up "))
        };
        let t0 = Instant::now();
        while !bfd_up() && t0.elapsed() < SLOW {
            std::thread::sleep(Duration::from_millis(200));
        }
        if !bfd_up() {
            let frr_bfd = site.ns(DIR1).run(&["vtysh", "-N", space, "-c", "show bfd peers"]);
            let bird = router_birdc(&site, &["bfd", "sessions"]);
            panic!("no BFD session up at the router\n{bird}\n{frr_bfd:?}\n{}", frr_logs(&frr));
        }
        let port = format!("p{DIR1}");
        site.lan
            .switch()
            .ip(&["link", "set", &port, "down"])
            .unwrap_or_else(|e| panic!("{e}"));
        for g in &mut frr {
            g.kill();
        }
        let t0 = Instant::now();
        while at_router(&site) && t0.elapsed() < SLOW {
            std::thread::sleep(Duration::from_millis(50));
        }
        let crash_withdraw = t0.elapsed();
        if at_router(&site) {
            let bird = router_birdc(&site, &["protocols", "all"]);
            panic!(
                "the route stayed at the router {SLOW:?} after FRR's crash\n{bird}\n{}\n{}",
                router.logs(),
                frr_logs(&frr)
            );
        }
        assert!(crash_withdraw < Duration::from_secs(3), "BFD took {crash_withdraw:?}");
        site.lan
            .switch()
            .ip(&["link", "set", &port, "up"])
            .unwrap_or_else(|e| panic!("{e}"));
        // FRR starts again at once (as systemd's Restart= would), while the
        // router may still refuse the peer whose BFD session just failed.
        let mut frr = start_frr(&site);
        let t0 = Instant::now();
        site.wait("the router to learn the VIP from the restarted FRR", SLOW, || {
            at_router(&site)
        });
        let relearnt = t0.elapsed();

        // SIGTERM: lvsd withdraws, FRR follows.
        signal(&d, Signal::SIGTERM);
        site.wait("the route gone from the router after the stop", SLOW, || !at_router(&site));
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(st.success(), "{st}\n{}\n{}\n{}", d.logs(), router.logs(), frr_logs(&frr));
        for g in &mut frr {
            g.kill();
        }
        report(&format!(
            "route_announce through FRR: learnt {learnt:?} after FRR started, gone {withdrawn:?} after the quorum loss, {crash_withdraw:?} after a crash (BFD), learnt {relearnt:?} after FRR restarted"
        ));
    }

    /// Maglev consistency (issue #17): two directors whose configs list the
    /// real servers of an `mh` service in opposite orders program them in
    /// one canonical order, so `lvsd status` shows the same fingerprint and
    /// `ipvsadm -Ln` the same list on both; a real server that fails and
    /// returns (inhibit_on_failure: weight 0, same place) leaves the same
    /// fingerprint on both.
    fn mh_services_get_the_same_real_server_order_on_every_director() {
        let mut site = Site::new("mh");
        let conf = |order: [&str; 2]| {
            let mut rs = String::new();
            for r in order {
                rs.push_str(&format!(
                    "    real_server {r} 80 {{\n        weight 1\n        inhibit_on_failure\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n"
                ));
            }
            format!("virtual_server 10.0.0.100 80 {{\n    delay_loop 1\n    lb_algo mh\n    lb_kind DR\n    protocol TCP\n{rs}}}\n")
        };
        let c1 = site.write_config("mh1.conf", &conf(["10.0.0.5", "10.0.0.4"]));
        let c2 = site.write_config("mh2.conf", &conf(["10.0.0.4", "10.0.0.5"]));
        let _d1 = site.lvsd(DIR1, "mh1", &c1, &[]);
        let _d2 = site.lvsd(DIR2, "mh2", &c2, &[]);
        fn fingerprint_of(site: &Site, name: &str) -> String {
            site.status(name)
                .map(|s| s["virtual_servers"][0]["services"][0]["fingerprint"].as_str().unwrap_or("").to_string())
                .unwrap_or_default()
        }
        fn order_of(site: &Site, i: usize) -> Vec<String> {
            site.dests(i).into_iter().map(|(a, _, _)| a).collect()
        }
        site.wait("both tables", SLOW, || order_of(&site, DIR1).len() == 2 && order_of(&site, DIR2).len() == 2);
        assert_eq!(order_of(&site, DIR1), order_of(&site, DIR2), "{}\n{}", site.ipvsadm(DIR1), site.ipvsadm(DIR2));
        site.wait("both fingerprints", SLOW, || !fingerprint_of(&site, "mh1").is_empty());
        let before = fingerprint_of(&site, "mh1");
        assert_eq!(before, fingerprint_of(&site, "mh2"));
        assert!(site.status_text("mh1").contains(&format!("(real servers {before})")));
        // rs2 fails (weight 0 in place) and returns.
        site.stop_nginx(1);
        site.wait("rs2 at weight 0 on both", SLOW, || {
            [DIR1, DIR2].iter().all(|&i| site.dests(i).iter().any(|(a, w, _)| a == RS2 && *w == 0))
        });
        assert_eq!(fingerprint_of(&site, "mh1"), fingerprint_of(&site, "mh2"));
        assert_ne!(fingerprint_of(&site, "mh1"), before);
        site.start_nginx(1);
        site.wait("rs2 back on both", SLOW, || fingerprint_of(&site, "mh1") == before && fingerprint_of(&site, "mh2") == before);
        assert_eq!(order_of(&site, DIR1), order_of(&site, DIR2));
    }

    /// `lvs_sync_daemon` without a VRRP instance (N active directors, issue
    /// #17), side by side with keepalived 2.2.7: both run the master and the
    /// backup connection-sync daemon; lvsd stops both at SIGTERM.
    fn sync_daemon_without_vrrp_runs_master_and_backup_as_keepalived() {
        let site = Site::new("sb");
        let conf = site.write_config(
            "sync.conf",
            "global_defs {\n    lvs_sync_daemon eth0 id 7\n}\n\
             virtual_server 10.0.0.100 80 {\n    delay_loop 2\n    lb_algo mh\n    lb_kind DR\n    protocol TCP\n\
             \x20   real_server 10.0.0.4 80 {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n}\n",
        );
        let daemons = |i: usize| -> String {
            let mut lines: Vec<String> = site
                .ns(i)
                .run(&["ipvsadm", "-Ln", "--daemon"])
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines.join("\n")
        };
        let l = site.lvsd(DIR1, "sb", &conf, &[]);
        let k = site.keepalived(DIR2, "sbk", &conf);
        site.wait("both daemons under both", SLOW, || {
            sync_daemons(&site, DIR1).len() == 2 && sync_daemons(&site, DIR2).len() == 2
        });
        assert_eq!(daemons(DIR1), daemons(DIR2), "lvsd left, keepalived right\n{}\n{}", l.logs(), k.logs());
        assert!(daemons(DIR1).contains("syncid=7"), "{}", daemons(DIR1));
        let status = site.status("sb").unwrap_or_default();
        assert_eq!(status["sync_daemons"], serde_json::json!(["master", "backup"]), "{status}");
        signal(&l, Signal::SIGTERM);
        site.wait("lvsd's daemons stopped", SLOW, || sync_daemons(&site, DIR1).is_empty());
    }

    /// Drift (issue #15): a real server deleted with `ipvsadm -d`, then the
    /// whole table cleared with `ipvsadm -C` behind lvsd's back, are put
    /// back within the 10 s check, logged and counted
    /// (`lvsd_ipvs_drift_repairs_total`).
    /// keepalived's scheduling keywords in the full daemon: the VRRP thread
    /// gets the `vrrp_` ones (keepalived's VRRP process), every other
    /// thread the `checker_` ones (its checker process), as the kernel
    /// shows them.
    /// With keepalived's default 10 ms real-time limit: the VRRP thread
    /// turns real-time after its start-up (in UML, where a system call costs
    /// ~100 µs, its start-up ran past the limit and the kernel ended lvsd).
    fn scheduling_keywords_tune_the_vrrp_thread_and_the_rest() {
        let site = Site::new("tn");
        let conf = dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]).replacen(
            "router_id lvsd_test",
            "router_id lvsd_test\n    vrrp_rt_priority 40\n    checker_priority -5",
            1,
        );
        let conf = site.write_config("t.conf", &conf);
        let d = site.lvsd(DIR1, "t", &conf, &[]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);
        let pid = d.pid();
        let threads = || -> Vec<(i32, String)> {
            std::fs::read_dir(format!("/proc/{pid}/task"))
                .map(|dir| {
                    dir.flatten()
                        .filter_map(|e| {
                            let tid = e.file_name().to_str()?.parse().ok()?;
                            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
                            Some((tid, comm.trim().to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let tuned = || {
            threads().iter().any(|(t, c)| {
                c == "lvsd-vrrp"
                    && lvsd::daemon::tuning::read_back(pid, *t)
                        .is_some_and(|(p, rt, _, _)| p == "SCHED_RR" && rt == 40)
            })
        };
        let t0 = Instant::now();
        while !tuned() && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            tuned(),
            "{:?}\n{}",
            threads()
                .iter()
                .map(|(t, c)| (c.clone(), lvsd::daemon::tuning::read_back(pid, *t)))
                .collect::<Vec<_>>(),
            d.logs()
        );
        let mut others = 0;
        for (tid, comm) in threads() {
            let Some((policy, rt, nice, _)) = lvsd::daemon::tuning::read_back(pid, tid) else {
                continue;
            };
            if comm == "lvsd-vrrp" {
                assert_eq!((policy.as_str(), rt), ("SCHED_RR", 40), "{comm}");
            } else {
                others += 1;
                assert_eq!((policy.as_str(), nice), ("SCHED_OTHER", -5), "{tid} {comm}\n{}", d.logs());
            }
        }
        assert!(others >= 3, "the main thread and two workers: {:?}", threads());
    }

    /// Reliability (issue #16): MISC_CHECK scripts due faster than UML can
    /// start processes (~50 a second on its one CPU; 150 are due a second
    /// here) are started by lvsd's spawn helper, which reports each
    /// script's end before it starts the next: checks run late but none
    /// fails, so every real server stays in the table, as with keepalived.
    /// (The helper's first version served its backlog first, so ends were
    /// reported seconds late and misc_timeout failed most real servers.)
    fn misc_checks_due_faster_than_uml_can_spawn_keep_every_real_server_up() {
        let site = Site::new("msc");
        let reals = 150;
        let mut rs = String::new();
        for j in 0..reals {
            rs.push_str(&format!(
                "    real_server 10.3.{}.{} 80 {{\n        MISC_CHECK {{\n            misc_path /bin/true\n            misc_timeout 2\n        }}\n    }}\n",
                j / 200,
                j % 200 + 1
            ));
        }
        let conf = site.write_config(
            "d.conf",
            &format!(
                "global_defs {{\n    script_user root\n}}\nvirtual_server 10.0.0.100 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n{rs}}}\n"
            ),
        );
        let d = site.lvsd(DIR1, "d", &conf, &[]);
        site.wait("every real server in the table", SLOW, || site.active_reals(DIR1).len() == reals);
        // The helper starts just after the first table is written, so it
        // may not be there yet when the table is.
        site.wait("lvsd's spawn helper", SLOW, || testbed::process::spawn_helper_of(d.pid()).is_some());
        let results = |s: &serde_json::Value, result: &str| -> u64 {
            s["checks"]["results"]
                .as_array()
                .map(|a| a.iter().filter(|c| c["result"] == result).filter_map(|c| c["count"].as_u64()).sum())
                .unwrap_or(0)
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_secs(2));
            assert_eq!(site.active_reals(DIR1).len(), reals, "after {:?}\n{}", t0.elapsed(), d.logs());
        }
        let s = site.status("d").expect("status");
        let (ok, failed) = (results(&s, "success"), results(&s, "failure"));
        report(&format!(
            "misc checks: {ok} succeeded, {failed} failed in {:?}; {} of {} started over 50 ms late",
            t0.elapsed(),
            s["checks"]["late_over_50ms"],
            s["checks"]["started"]
        ));
        assert!(ok >= reals as u64 * 2, "every script ran at least twice: {s}");
        assert_eq!(failed, 0, "{s}\n{}", d.logs());
    }

    /// A first table bigger than one plan piece (3 virtual servers of 700
    /// real servers, 2,103 operations; `PLAN_PIECE` is 1,024) is written
    /// whole, piece by piece, and its plan logged as one summary. A
    /// configuration that runs no script starts no spawn helper; a reload
    /// that brings a MISC_CHECK starts it, and the script runs.
    fn a_big_first_table_in_pieces_and_the_helper_only_for_scripts() {
        let site = Site::new("pcs");
        let reals = 700;
        let mut text = String::from("global_defs {\n    script_user root\n}\n");
        for v in 1..=3 {
            text.push_str(&format!(
                "virtual_server 10.0.0.{} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n",
                100 + v
            ));
            for j in 0..reals {
                text.push_str(&format!("    real_server 10.3.{}.{} 80 {{\n    }}\n", j / 200, j % 200 + 1));
            }
            text.push_str("}\n");
        }
        let conf = site.write_config("d.conf", &text);
        let d = site.lvsd(DIR1, "d", &conf, &[]);
        site.wait("every real server in the table", SLOW, || site.active_reals(DIR1).len() == 3 * reals);
        site.wait("lvsd status", SLOW, || site.status("d").is_some());
        let s = site.status("d").expect("status");
        assert_eq!(json_u64(&s, "ipvs_writes"), 3 + 3 * reals as u64, "{s}");
        let logs = d.logs();
        let pieces = logs.find("IPVS: more than 1024 operations: planned and written in pieces");
        let summary = logs.find(
            "IPVS: PlanSummary { add_services: 3, edit_services: 0, del_services: 0, \
             add_dests: 2100, edit_dests: 0, del_dests: 0 }",
        );
        assert!(pieces.is_some() && pieces < summary, "{logs}");
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(testbed::process::spawn_helper_of(d.pid()), None, "a helper without scripts");
        // The reload brings a script: the helper starts, the script runs.
        text.push_str(
            "virtual_server 10.0.0.104 80 {\n    delay_loop 1\n    \
             lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server 10.3.9.1 80 {\n        \
             MISC_CHECK {\n            misc_path /bin/true\n        }\n    }\n}\n",
        );
        site.write_config("d.conf", &text);
        signal(&d, Signal::SIGHUP);
        let t0 = Instant::now();
        while testbed::process::spawn_helper_of(d.pid()).is_none() {
            assert!(t0.elapsed() < SLOW, "no spawn helper {SLOW:?} after the reload:\n{}", d.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
        let succeeded = || {
            site.status("d").map_or(0, |s| {
                s["checks"]["results"]
                    .as_array()
                    .map(|a| a.iter().filter(|c| c["result"] == "success").filter_map(|c| c["count"].as_u64()).sum())
                    .unwrap_or(0)
            })
        };
        site.wait("the MISC_CHECK's script to run", SLOW, || succeeded() >= 1);
        site.wait("its real server in the table", SLOW, || site.active_reals(DIR1).len() == 3 * reals + 1);
    }

    fn a_table_changed_behind_lvsds_back_is_repaired() {
        let site = Site::new("dr");
        let conf = site.write_config("d.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let d = site.lvsd(DIR1, "d", &conf, &[]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);
        let repairs = || site.status("d").map_or(0, |s| json_u64(&s, "drift_repairs"));
        assert_eq!(repairs(), 0);
        site.ns(DIR1)
            .run(&["ipvsadm", "-d", "-t", "10.0.0.100:80", "-r", "10.0.0.5:80"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(site.active_reals(DIR1).len(), 1);
        let t0 = Instant::now();
        site.wait("rs2 put back", Duration::from_secs(30), || site.active_reals(DIR1).len() == 2);
        report(&format!("drift: a deleted real server was back after {:?}", t0.elapsed()));
        assert_eq!(repairs(), 1);
        site.ns(DIR1).run(&["ipvsadm", "-C"]).unwrap_or_else(|e| panic!("{e}"));
        site.wait("the table put back", Duration::from_secs(30), || site.active_reals(DIR1).len() == 2);
        assert_eq!(repairs(), 2);
        assert!(d.logs().contains("changed behind lvsd's back"), "{}", d.logs());
    }

    /// Fault injection (issue #16): a scheduler module the kernel does not
    /// have (ip_vs_mh unloaded, module autoloading turned off). The `mh`
    /// virtual server's add is refused with an error naming the scheduler
    /// and its module; the `rr` one beside it is programmed and never
    /// touched again; the refused part is retried with a growing delay (not
    /// every second); `lvsd status` says the service is not programmed and
    /// /healthz answers 503. Once the module is loaded the next retry
    /// programs the service with its real server. keepalived 2.2.7 logs the
    /// refusal and never retries.
    fn a_missing_scheduler_module_fails_only_its_service_until_it_is_loaded() {
        let site = Site::new("sched");
        let run = |args: &[&str]| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .output()
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let original_modprobe = std::fs::read_to_string("/proc/sys/kernel/modprobe")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write("/proc/sys/kernel/modprobe", "/bin/false\n").unwrap_or_else(|e| panic!("{e}"));
        let _ = std::process::Command::new("rmmod").arg("ip_vs_mh").status();
        let vs = |vip: &str, sched: &str, rs: &str| {
            format!("virtual_server {vip} 80 {{\n    lvs_sched {sched}\n    lvs_method NAT\n    protocol TCP\n    real_server {rs} 80 {{\n        weight 1\n    }}\n}}\n")
        };
        let conf = site.write_config(
            "sched.conf",
            &format!(
                "global_defs {{\n    router_id sched\n}}\n{}{}",
                vs("10.0.0.101", "mh", "10.0.0.4"),
                vs("10.0.0.102", "rr", "10.0.0.5")
            ),
        );
        let d = site.lvsd(DIR1, "sched", &conf, &["--metrics-listen", "127.0.0.1:9662"]);
        site.wait("the rr service programmed", SLOW, || site.ipvsadm(DIR1).contains("10.0.0.102:80 rr"));
        site.wait("the refusal logged", SLOW, || d.logs().contains("add service TCP 10.0.0.101:80"));
        std::thread::sleep(Duration::from_secs(8));
        let table = site.ipvsadm(DIR1);
        assert!(!table.contains("10.0.0.101"), "{table}");
        assert!(table.contains("-> 10.0.0.5:80"), "{table}");
        let logs = d.logs();
        assert!(
            logs.contains("add service TCP 10.0.0.101:80: the kernel has no scheduler mh (module ip_vs_mh not loaded and not loadable)"),
            "{logs}"
        );
        let refusals = logs.matches("the kernel has no scheduler mh").count();
        assert!((2..=12).contains(&refusals), "retried with a growing delay, not every second: {refusals} lines\n{logs}");
        assert!(logs.contains("IPVS table not fully programmed"), "{logs}");
        let status = site.status_text("sched");
        assert!(status.contains("service TCP 10.0.0.101:80 mh (not programmed)"), "{status}");
        let healthz = site
            .ns(DIR1)
            .run(&["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:9662/healthz"])
            .unwrap_or_else(|e| panic!("curl: {e}"));
        assert_eq!(healthz.trim(), "503");
        run(&["modprobe", "ip_vs_mh"]);
        let t0 = Instant::now();
        site.wait("the mh service programmed once its module is there", SLOW, || {
            site.ipvsadm(DIR1).contains("10.0.0.101:80 mh")
        });
        report(&format!("missing scheduler: programmed {:?} after the module was loaded", t0.elapsed()));
        site.wait("its real server too", SLOW, || site.active_reals(DIR1).len() == 2);
        let logs = d.logs();
        assert_eq!(
            logs.matches("IPVS: add service TCP 10.0.0.102:80").count(),
            1,
            "the rr service is never re-added\n{logs}"
        );
        let status = site.status_text("sched");
        assert!(!status.contains("not programmed"), "{status}");
        let _ = std::fs::write("/proc/sys/kernel/modprobe", original_modprobe);
    }

    /// Secrets stay secret (issue #16): a director whose config holds a VRRP
    /// `auth_pass` and an `SSL { password }` is run with a notify script and
    /// the metrics listener; neither secret appears in `lvsd status` (text
    /// and JSON), `lvsd metrics`, `/metrics`, the status page,
    /// `/status.json`, the SIGUSR1 dump, the VRRP state file, the notify
    /// script's arguments or the log.
    fn no_output_shows_a_secret() {
        let site = Site::new("sec");
        let ssl = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl");
        let notify = site.path("notify.sh");
        let args = site.path("notify.args");
        std::fs::write(&notify, format!("#!/bin/sh\necho \"$@\" >> {}\n", args.display()))
            .unwrap_or_else(|e| panic!("{e}"));
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let conf = dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"])
            .replace("    advert_int 1\n", &format!("    advert_int 1\n    notify {}\n", notify.display()))
            .replace(
                "global_defs {\n",
                &format!(
                    "SSL {{\n    certificate {ssl}/client.pem\n    key {ssl}/client-enc.key\n    password s3cret\n}}\nglobal_defs {{\n    script_user root\n"
                ),
            )
            .replace(
                "    real_server 10.0.0.5 80 {",
                "    real_server 10.0.0.6 80 {\n        SSL_GET {\n            url {\n                path /\n            }\n            connect_port 443\n            connect_timeout 1\n        }\n    }\n    real_server 10.0.0.5 80 {",
            );
        assert!(conf.contains("auth_pass Zs3cr3t") && conf.contains("password s3cret"), "{conf}");
        let path = site.write_config("sec.conf", &conf);
        let d = site.lvsd(DIR1, "sec", &path, &["--metrics-listen", "127.0.0.1:9662"]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() >= 2);
        site.wait("the notify script ran", SLOW, || std::fs::read_to_string(&args).is_ok_and(|a| a.contains("MASTER")));
        let get = |p: &str| {
            let out = site
                .ns(DIR1)
                .exec(&["curl", "-s", &format!("http://127.0.0.1:9662{p}")])
                .unwrap_or_else(|e| panic!("curl: {e}"));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let lvsd = |args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
                .args(args)
                .arg("-s")
                .arg(site.path("sec.sock"))
                .output()
                .unwrap_or_else(|e| panic!("lvsd: {e}"));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        signal(&d, Signal::SIGUSR1);
        std::thread::sleep(Duration::from_secs(1));
        let outputs = [
            ("lvsd status", lvsd(&["status"])),
            ("lvsd status --json", lvsd(&["status", "--json"])),
            ("lvsd metrics", lvsd(&["metrics"])),
            ("/metrics", get("/metrics")),
            ("/", get("/")),
            ("/status.json", get("/status.json")),
            ("SIGUSR1 dump", std::fs::read_to_string(site.path("sec.data")).unwrap_or_default()),
            ("VRRP state file", std::fs::read_to_string(site.path("sec.vrrp.json")).unwrap_or_default()),
            ("notify arguments", std::fs::read_to_string(&args).unwrap_or_default()),
            ("log", d.logs()),
        ];
        for (what, text) in &outputs {
            assert!(!text.is_empty() || *what == "SIGUSR1 dump", "{what} is empty: the test checks nothing");
            for secret in ["Zs3cr3t", "s3cret"] {
                assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
            }
        }
        // The SSL_GET server (nothing answers there) is in the status: its
        // checker ran with the SSL block loaded.
        assert!(outputs[0].1.contains("10.0.0.6:80"), "{}", outputs[0].1);
    }

    /// The DR pair scenario (see `pair_balances_fails_over_and_recovers`).
    fn dr_pair_balances_fails_over_and_recovers() {
        pair_balances_fails_over_and_recovers("dr", Kind::Dr);
    }

    /// The NAT pair scenario: the directors also float the real servers' gateway.
    fn nat_pair_balances_fails_over_and_recovers() {
        pair_balances_fails_over_and_recovers("nat", Kind::Nat);
    }

    /// A mixed pair: lvsd master, keepalived 2.2.7 backup (VRRP, checkers
    /// and IPVS). Both program the same table; keepalived takes over when
    /// lvsd dies; the restarted lvsd adopts the table it left (zero IPVS
    /// writes) and preempts back.
    fn mixed_pair_lvsd_master_keepalived_backup() {
        let site = Site::new("mx");
        let reals = ["10.0.0.4", "10.0.0.5"];
        let c1 = site.write_config("lvsd.conf", &dr_config("MASTER", 150, &reals));
        let c2 = site.write_config("keepalived.conf", &dr_config("BACKUP", 100, &reals));
        let mut d1 = site.lvsd(DIR1, "dir1", &c1, &[]);
        let k = site.keepalived(DIR2, "ka", &c2);
        site.wait("lvsd to hold the VIP", SLOW, || site.has_vip(DIR1));
        site.wait("both real servers in lvsd's table", SLOW, || site.active_reals(DIR1).len() == 2);
        site.wait("both real servers in keepalived's table", SLOW, || site.active_reals(DIR2).len() == 2);
        // Several adverts later keepalived is still backup: it accepts ours.
        std::thread::sleep(Duration::from_secs(4));
        assert!(!site.has_vip(DIR2), "keepalived took the VIP\n{}", k.logs());
        let answers: Vec<String> = (0..8)
            .map(|_| site.get("/").unwrap_or_else(|e| panic!("{e}\n{}", d1.logs())))
            .collect();
        assert!(answers.iter().any(|a| a == "rs1") && answers.iter().any(|a| a == "rs2"), "{answers:?}");

        // lvsd crashes: keepalived carries the traffic.
        d1.kill();
        let port = format!("p{DIR1}");
        site.lan.switch().ip(&["link", "set", &port, "down"]).unwrap_or_else(|e| panic!("{e}"));
        let failed = requests_until_ten_in_a_row(&site, &k);
        assert!(site.has_vip(DIR2), "{}", k.logs());
        report(&format!("lvsd->keepalived takeover: {failed} failed requests"));
        assert!(failed <= 10, "{failed} requests failed during the takeover");

        // lvsd comes back: adopts its old table without a write, preempts.
        site.lan.switch().ip(&["link", "set", &port, "up"]).unwrap_or_else(|e| panic!("{e}"));
        let d1 = site.lvsd(DIR1, "dir1b", &c1, &[]);
        site.wait("lvsd to preempt", SLOW, || site.has_vip(DIR1) && !site.has_vip(DIR2));
        let mut status = serde_json::Value::Null;
        site.wait("lvsd's status", SLOW, || { status = site.status("dir1b").unwrap_or_default(); !status.is_null() });
        assert_eq!(json_u64(&status, "ipvs_writes"), 0, "{status}\n{}", d1.logs());
        let failed = requests_until_ten_in_a_row(&site, &d1);
        assert!(failed <= 10, "{failed} requests failed after lvsd preempted");
    }

    /// The other mixed pair: keepalived 2.2.7 master, lvsd backup. lvsd
    /// keeps its table programmed as backup and carries the traffic when
    /// keepalived dies.
    fn mixed_pair_keepalived_master_lvsd_backup() {
        let site = Site::new("mk");
        let reals = ["10.0.0.4", "10.0.0.5"];
        let c1 = site.write_config("keepalived.conf", &dr_config("MASTER", 150, &reals));
        let c2 = site.write_config("lvsd.conf", &dr_config("BACKUP", 100, &reals));
        let mut k = site.keepalived(DIR1, "ka", &c1);
        let d2 = site.lvsd(DIR2, "dir2", &c2, &[]);
        site.wait("keepalived to hold the VIP", SLOW, || site.has_vip(DIR1));
        site.wait("both real servers in keepalived's table", SLOW, || site.active_reals(DIR1).len() == 2);
        site.wait("both real servers in lvsd's table", SLOW, || site.active_reals(DIR2).len() == 2);
        std::thread::sleep(Duration::from_secs(4));
        assert!(!site.has_vip(DIR2), "lvsd took the VIP\n{}", d2.logs());
        let mut status = serde_json::Value::Null;
        site.wait("lvsd's status", SLOW, || { status = site.status("dir2").unwrap_or_default(); !status.is_null() });
        assert_eq!(status["vrrp"][0]["state"], "Backup", "{status}");
        for _ in 0..6 {
            site.get("/").unwrap_or_else(|e| panic!("{e}\n{}", k.logs()));
        }

        // keepalived crashes (its whole process group): lvsd takes over.
        k.kill();
        site.lan.switch().ip(&["link", "set", &format!("p{DIR1}"), "down"]).unwrap_or_else(|e| panic!("{e}"));
        let failed = requests_until_ten_in_a_row(&site, &d2);
        assert!(site.has_vip(DIR2), "{}", d2.logs());
        report(&format!("keepalived->lvsd takeover: {failed} failed requests"));
        assert!(failed <= 10, "{failed} requests failed during the takeover");
        let answers: Vec<String> = (0..8).map(|_| site.get("/").unwrap_or_else(|e| panic!("{e}"))).collect();
        assert!(answers.iter().any(|a| a == "rs1") && answers.iter().any(|a| a == "rs2"), "{answers:?}");
    }

    /// A restart adopts each real server's state from the table: one that
    /// was down stays out with zero IPVS writes while it keeps failing, and
    /// comes back with one write when its nginx returns.
    fn restart_adopts_a_down_real_server_without_writes() {
        let mut site = Site::new("ad");
        site.ns(DIR1).ip(&["addr", "add", "10.0.0.100/24", "dev", "eth0"]).unwrap_or_else(|e| panic!("{e}"));
        let conf = site.write_config("d.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let mut d = site.lvsd(DIR1, "d", &conf, &["-C", "--dont-release-ipvs"]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);
        site.stop_nginx(1);
        site.wait("rs2 out of the table", SLOW, || site.active_reals(DIR1) == [RS1]);
        signal(&d, Signal::SIGTERM);
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}\n{}", d.logs()));
        assert!(st.success(), "{st}\n{}", d.logs());

        let d = site.lvsd(DIR1, "d2", &conf, &["-C"]);
        site.wait("the new lvsd's status", SLOW, || site.status("d2").is_some());
        // Several check rounds (delay_loop 2) of rs2 failing: nothing written.
        std::thread::sleep(Duration::from_secs(6));
        let s = site.status("d2").unwrap_or_default();
        assert_eq!(json_u64(&s, "ipvs_writes"), 0, "{s}\n{}", d.logs());
        assert_eq!(site.active_reals(DIR1), [RS1]);
        let rs2 = s["virtual_servers"][0]["real_servers"].as_array().and_then(|a| a.iter().find(|r| r["address"] == RS2)).cloned().unwrap_or_default();
        assert_eq!(rs2["up"], false, "{s}");

        site.start_nginx(1);
        site.wait("rs2 back", SLOW, || site.active_reals(DIR1).len() == 2);
        let s = site.status("d2").unwrap_or_default();
        assert_eq!(json_u64(&s, "ipvs_writes"), 1, "{s}");
    }

    /// A reload that changes the VRRP section (a second VIP) applies it in
    /// place (the master keeps its state and its first VIP); the IPVS table
    /// is not touched.
    fn reload_changing_vrrp_applies_the_new_vip() {
        let site = Site::new("rv");
        let conf_text = dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]);
        let conf = site.write_config("d.conf", &conf_text);
        let d = site.lvsd(DIR1, "d", &conf, &[]);
        site.wait("the VIP", SLOW, || site.has_vip(DIR1));
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);
        let before = json_u64(&site.status("d").unwrap_or_default(), "ipvs_writes");
        let more = conf_text.replace(
            "        10.0.0.100/24 dev eth0\n",
            "        10.0.0.100/24 dev eth0\n        10.0.0.101/24 dev eth0\n",
        );
        assert_ne!(more, conf_text);
        std::fs::write(&conf, more).unwrap_or_else(|e| panic!("{e}"));
        signal(&d, Signal::SIGHUP);
        let has = |a: &str| {
            site.ns(DIR1)
                .ip(&["-o", "addr", "show", "dev", "eth0"])
                .is_ok_and(|o| o.contains(&format!("inet {a}/")))
        };
        site.wait("the new VIP", SLOW, || has("10.0.0.101") && has("10.0.0.100"));
        assert!(d.logs().contains("VI_1 kept in place"), "{}", d.logs());
        let s = site.status("d").unwrap_or_default();
        assert_eq!(json_u64(&s, "reloads"), 1, "{s}");
        assert_eq!(json_u64(&s, "ipvs_writes"), before, "{s}\n{}", d.logs());
        assert!(site.get("/").is_ok());
    }

    /// A real server removed by a reload is drained: it stays at weight 0
    /// while its long-lived connection runs (which completes), new requests
    /// go elsewhere, and it is deleted once the kernel holds no connection
    /// to it (well before the 60 s bound).
    fn reload_removing_a_real_server_drains_it() {
        let mut site = Site::new("dn");
        site.ns(DIR1).ip(&["addr", "add", "10.0.0.100/24", "dev", "eth0"]).unwrap_or_else(|e| panic!("{e}"));
        // A short FIN_WAIT: the finished connection leaves the kernel soon.
        site.ns(DIR1).run(&["ipvsadm", "--set", "900", "5", "300"]).unwrap_or_else(|e| panic!("{e}"));
        let conf = site.write_config("d.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let d = site.lvsd(DIR1, "d", &conf, &["-C"]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);

        let out = site.path("slow.out");
        let mut curl = site.ns(CLIENT)
            .spawn_logged(&["curl", "-s", "-o", &out.display().to_string(), "--max-time", "120", "http://10.0.0.100/slow"], site.dir.path(), "curl")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut busy = String::new();
        site.wait("the download's real server", SLOW, || {
            busy = site.dests(DIR1).into_iter().find(|d| d.2 > 0).map(|d| d.0).unwrap_or_default();
            !busy.is_empty()
        });
        let (keep, keep_name, busy_n) = if busy == RS1 { ("10.0.0.5", "rs2", 0) } else { ("10.0.0.4", "rs1", 1) };

        // Reload without the busy real server.
        std::fs::write(&conf, dr_config("MASTER", 150, &[keep])).unwrap_or_else(|e| panic!("{e}"));
        signal(&d, Signal::SIGHUP);
        let reloaded = Instant::now();
        site.wait("the removed real server at weight 0", SLOW, || site.dests(DIR1).iter().any(|x| x.0 == busy && x.1 == 0));
        for _ in 0..4 {
            assert_eq!(site.get("/").as_deref(), Ok(keep_name));
        }
        // Its nginx keeps serving the download; the table keeps the server.
        while curl.try_wait().ok().flatten().is_none() {
            assert!(site.dests(DIR1).iter().any(|x| x.0 == busy), "deleted while its connection runs\n{}", d.logs());
            assert!(reloaded.elapsed() < Duration::from_secs(100), "download stalled");
            std::thread::sleep(Duration::from_millis(500));
        }
        let st = curl.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}"));
        assert!(st.success(), "curl: {st}\n{}", curl.logs());
        assert_eq!(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0), 120 * 1024);
        site.wait("the drained real server deleted", SLOW, || !site.ipvsadm(DIR1).contains(&busy));
        let took = reloaded.elapsed();
        assert!(took < Duration::from_secs(55), "deleted after {took:?}: the bound, not the connections");
        site.stop_nginx(busy_n);
    }

    /// One lvsd in checkers-only mode (-C, VIP set by hand): SIGHUP adding a
    /// real server is one IPVS write and keeps a long-lived connection; a
    /// broken config on reload keeps the old one; a restart with the same
    /// config adopts the table with zero IPVS writes and the connection
    /// survives it too; SIGTERM removes our service.
    fn reload_restart_and_broken_config_drop_nothing() {
        let site = Site::new("rl");
        site.ns(DIR1).ip(&["addr", "add", "10.0.0.100/24", "dev", "eth0"]).unwrap_or_else(|e| panic!("{e}"));
        let one = dr_config("MASTER", 150, &["10.0.0.4"]);
        let two = dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]);
        let conf = site.write_config("d.conf", &one);
        let notify = NotifySocket::bind(&site.path("notify.sock"));
        let pid_file = site.path("d.pid");
        let pid_arg = pid_file.display().to_string();
        let mut d = site.lvsd_with_env(DIR1, "d", &conf, &["-C", "--dont-release-ipvs", "-p", &pid_arg], &[notify.env()]);
        site.wait("rs1 in the table", SLOW, || site.active_reals(DIR1) == [RS1]);
        notify.expect("READY=1");
        assert_eq!(std::fs::read_to_string(&pid_file).unwrap_or_default().trim(), d.pid().to_string());
        let mut status = serde_json::Value::Null;
        site.wait("status", SLOW, || { status = site.status("d").unwrap_or_default(); !status.is_null() });
        assert_eq!(status["mode"], "checkers-only");
        let writes_at_start = json_u64(&status, "ipvs_writes");
        assert_eq!(writes_at_start, 2, "one service + one real server: {status}");

        // A long-lived download through the VIP (120 KB at 4 KB/s).
        let out = site.path("slow.out");
        let mut curl = site.ns(CLIENT)
            .spawn_logged(&["curl", "-s", "-o", &out.display().to_string(), "--max-time", "120", "http://10.0.0.100/slow"], site.dir.path(), "curl")
            .unwrap_or_else(|e| panic!("{e}"));
        site.wait("the download to start", SLOW, || std::fs::metadata(&out).is_ok_and(|m| m.len() > 0));

        // Reload adding rs2: exactly one write, the download continues.
        std::fs::write(&conf, &two).unwrap_or_else(|e| panic!("{e}"));
        signal(&d, Signal::SIGHUP);
        site.wait("rs2 added by the reload", SLOW, || site.active_reals(DIR1).len() == 2);
        site.wait("the reload counted", SLOW, || site.status("d").is_some_and(|s| json_u64(&s, "reloads") == 1));
        notify.expect("RELOADING=1");
        notify.expect("READY=1");
        let text = site.status_text("d");
        assert!(text.contains("checkers-only") && text.contains("real_server 10.0.0.5:80 UP"), "{text}");
        assert!(!text.contains("Zs3cr3t"), "{text}");
        let s = site.status("d").unwrap_or_default();
        assert_eq!(json_u64(&s, "ipvs_writes"), writes_at_start + 1, "{s}");

        // A broken config: refused, the running one stays.
        std::fs::write(&conf, "virtual_server 10.0.0.100 80 {\n  lb_algo nosuch\n  real_server {\n").unwrap_or_else(|e| panic!("{e}"));
        signal(&d, Signal::SIGHUP);
        site.wait("the broken reload refused", SLOW, || site.status("d").is_some_and(|s| s["last_reload_error"].is_string()));
        assert_eq!(site.active_reals(DIR1).len(), 2);
        assert!(site.get("/").is_ok());

        // Restart with the same config: zero IPVS writes.
        std::fs::write(&conf, &two).unwrap_or_else(|e| panic!("{e}"));
        signal(&d, Signal::SIGTERM);
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}\n{}", d.logs()));
        assert!(st.success(), "{st}\n{}", d.logs());
        notify.expect("STOPPING=1");
        assert!(!pid_file.exists(), "the pid file is removed on exit");
        assert_eq!(site.active_reals(DIR1).len(), 2, "--dont-release-ipvs kept the table");
        let mut d = site.lvsd(DIR1, "d2", &conf, &["-C"]);
        site.wait("the new lvsd's status", SLOW, || site.status("d2").is_some());
        // Several check rounds (delay_loop 2): still nothing written.
        std::thread::sleep(Duration::from_secs(6));
        let s = site.status("d2").unwrap_or_default();
        assert_eq!(json_u64(&s, "ipvs_writes"), 0, "{s}\n{}", d.logs());
        assert!(s["virtual_servers"][0]["real_servers"].as_array().is_some_and(|a| a.iter().all(|r| r["up"] == true)), "{s}");

        // The download survived reload, broken reload and restart.
        let st = curl.wait_timeout(Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
        assert!(st.success(), "curl: {st}\n{}", curl.logs());
        assert_eq!(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0), 120 * 1024);

        // SIGTERM without --dont-release-ipvs: our service is gone.
        signal(&d, Signal::SIGTERM);
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}\n{}", d.logs()));
        assert!(st.success(), "{st}");
        assert!(!site.ipvsadm(DIR1).contains("10.0.0.100:80"), "{}", site.ipvsadm(DIR1));
    }

    /// UDP_CHECK side by side with keepalived 2.2.7: the same config (one
    /// UDP service, real servers behind every kind of reply) on two
    /// directors, keepalived on one and lvsd on the other; both tables end
    /// with the same real servers, and stay so.
    fn udp_check_verdicts_match_keepalived() {
        let site = Site::new("udp");
        // On both real servers: 5300 answers "PONG", 5301 "PANG", 5302 reads
        // and stays silent; nothing listens on 5303 (ICMP port unreachable).
        let responder = "import socket, selectors\n\
            sel = selectors.DefaultSelector()\n\
            for port, reply in ((5300, b'PONG'), (5301, b'PANG'), (5302, None)):\n    \
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    \
                s.bind(('0.0.0.0', port))\n    \
                sel.register(s, selectors.EVENT_READ, reply)\n\
            while True:\n    \
                for key, _ in sel.select():\n        \
                    data, peer = key.fileobj.recvfrom(2048)\n        \
                    if key.data is not None:\n            \
                        key.fileobj.sendto(key.data, peer)\n";
        let _responders = serve_on_both_reals(
            &site,
            &[("udp", &["python3", "-c", responder])],
            "UDP",
            &[5300, 5301, 5302],
        );
        let check = |body: &str| checker_block("UDP_CHECK", "            connect_timeout 1\n", body);
        let conf = checkers_only_config(
            "10.0.0.100 53",
            "UDP",
            &[
                ("10.0.0.4 5300", check("            require_reply 504f4e4x\n")),
                ("10.0.0.4 5301", check("            require_reply 504f4e47\n")),
                ("10.0.0.4 5302", check("")),
                ("10.0.0.4 5303", check("")),
                ("10.0.0.5 5300", check("            payload 01 02 03\n            require_reply\n")),
                ("10.0.0.5 5301", check("            require_reply 50 41\n            max_reply_length 3\n")),
                ("10.0.0.5 5302", check("            require_reply\n")),
            ],
        );
        side_by_side_with_keepalived(
            &site,
            &conf,
            &["10.0.0.4:5300", "10.0.0.4:5302", "10.0.0.5:5300"],
            &[],
            &[
                ("10.0.0.4:5301", "reply byte 1 is 41, expected 4f"),
                ("10.0.0.4:5303", "port unreachable (ICMP)"),
                ("10.0.0.5:5301", "reply longer than max_reply_length 3"),
                ("10.0.0.5:5302", "no reply within 1s"),
            ],
        );
    }

    /// SMTP_CHECK side by side with keepalived 2.2.7: a real SMTP server
    /// (aiosmtpd), servers that refuse the greeting or HELO, a closed port
    /// (directly and through a deprecated `host { }` block). Both tables
    /// agree, except on a multi-line greeting, which keepalived fails and
    /// lvsd accepts (a deliberate difference, README).
    fn smtp_check_verdicts_match_keepalived() {
        let site = Site::new("smtp");
        let fake = "import socketserver, threading\n\
            class H(socketserver.StreamRequestHandler):\n    \
                def handle(self):\n        \
                    port, w = self.server.server_address[1], self.wfile.write\n        \
                    if port == 2526:\n            \
                        return w(b'554 no SMTP service here\\r\\n')\n        \
                    w(b'220-mx.test welcome\\r\\n220 mx.test\\r\\n' if port == 2528 else b'220 mx.test\\r\\n')\n        \
                    self.rfile.readline()\n        \
                    if port == 2529:\n            \
                        return w(b'502 HELO not accepted\\r\\n')\n        \
                    w(b'250 mx.test\\r\\n')\n        \
                    self.rfile.readline()\n        \
                    w(b'221 bye\\r\\n')\n\
            socketserver.ThreadingTCPServer.allow_reuse_address = True\n\
            servers = [socketserver.ThreadingTCPServer(('0.0.0.0', p), H) for p in (2526, 2528, 2529)]\n\
            for s in servers[1:]:\n    \
                threading.Thread(target=s.serve_forever, daemon=True).start()\n\
            servers[0].serve_forever()\n";
        let _servers = serve_on_both_reals(
            &site,
            &[
                ("smtpd", &["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "0.0.0.0:2525"]),
                ("fake", &["python3", "-c", fake]),
            ],
            "TCP",
            &[2525, 2526, 2528, 2529],
        );
        let check = |body: &str| {
            checker_block("SMTP_CHECK", "            connect_timeout 2\n            helo_name lvsd.test\n", body)
        };
        let conf = checkers_only_config(
            "10.0.0.100 25",
            "TCP",
            &[
                ("10.0.0.4 2525", check("")),
                ("10.0.0.4 2526", check("")),
                ("10.0.0.4 2527", check("")),
                ("10.0.0.5 2525", check("            host {\n                connect_port 2527\n            }\n")),
                ("10.0.0.5 2529", check("")),
                ("10.0.0.5 2528", check("")),
            ],
        );
        side_by_side_with_keepalived(
            &site,
            &conf,
            &["10.0.0.4:2525"],
            &["10.0.0.5:2528"],
            &[
                ("10.0.0.4:2526", "bad greeting \"554 no SMTP service here\", expected 220"),
                ("10.0.0.4:2527", "10.0.0.4:2527: connection refused"),
                ("10.0.0.5:2525", "10.0.0.5:2527: connection refused"),
                ("10.0.0.5:2529", "bad HELO reply \"502 HELO not accepted\", expected 250"),
            ],
        );
    }

    /// DNS_CHECK side by side with keepalived 2.2.7: dnsmasq answering one
    /// name and refusing others, a silent UDP port and a closed one.
    fn dns_check_verdicts_match_keepalived() {
        let site = Site::new("dns");
        let _servers = serve_on_both_reals(
            &site,
            &[
                (
                    "dnsmasq",
                    &[
                        "dnsmasq", "--keep-in-foreground", "--no-daemon", "--port=5353", "--no-resolv", "--no-hosts",
                        "--user=root", "--pid-file=", "--address=/ok.test/10.1.2.3",
                    ],
                ),
                (
                    "silent",
                    &["python3", "-c", "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5354))\ntime.sleep(3600)\n"],
                ),
            ],
            "UDP",
            &[5353, 5354],
        );
        let check = |body: &str| checker_block("DNS_CHECK", "            connect_timeout 1\n", body);
        let conf = checkers_only_config(
            "10.0.0.100 53",
            "UDP",
            &[
                ("10.0.0.4 5353", check("            type A\n            name ok.test\n")),
                // Two checkers, one asking a refused name.
                ("10.0.0.5 5353", check("            type a\n            name ok.test.\n") + &check("            name nx.test\n")),
                ("10.0.0.4 5354", check("            type A\n            name ok.test\n")),
                ("10.0.0.4 5355", check("            type A\n            name ok.test\n")),
                ("10.0.0.5 5354", check("")),
                ("10.0.0.5 5355", check("")),
            ],
        );
        side_by_side_with_keepalived(
            &site,
            &conf,
            &["10.0.0.4:5353"],
            &[],
            &[
                ("10.0.0.5:5353", "(SOA nx.test): answered REFUSED (rcode 5)"),
                ("10.0.0.4:5354", "(A ok.test): no reply within 1s"),
                ("10.0.0.4:5355", "port unreachable (ICMP)"),
                ("10.0.0.5:5354", "(SOA .): no reply within 1s"),
                ("10.0.0.5:5355", "(SOA .): port unreachable (ICMP)"),
            ],
        );
    }

    /// HTTP_GET `regex` side by side with keepalived 2.2.7 (both PCRE2):
    /// the nginx real servers answer "rs1\n" and "rs2\n". The subject is the
    /// whole reply, head first, and offsets count from the status line, as
    /// in keepalived; options, look-behind, regex_no_match and offsets decide
    /// the same way.
    fn http_regex_verdicts_match_keepalived() {
        let site = Site::new("re");
        let check = |body: &str| {
            checker_block("HTTP_GET", "            connect_timeout 2\n            connect_port 80\n", &format!("            url {{\n                path /\n{body}            }}\n"))
        };
        let conf = checkers_only_config(
            "10.0.0.100 80",
            "TCP",
            &[
                ("10.0.0.4 80", check("                regex \"^HTTP/1.1 200 \"\n")),
                ("10.0.0.4 81", check("                regex RS1\n                regex_options caseless\n")),
                ("10.0.0.4 82", check("                regex rs2\n")),
                ("10.0.0.4 83", check("                regex rs1\n                regex_no_match\n")),
                ("10.0.0.4 84", check("                regex \"^rs1\"\n")),
                ("10.0.0.5 80", check("                regex \"(?<=rs)2\"\n")),
                ("10.0.0.5 81", check("                regex rs2\n                regex_min_offset 1\n")),
                ("10.0.0.5 82", check("                regex rs2\n                regex_max_offset 10\n")),
            ],
        );
        side_by_side_with_keepalived(
            &site,
            &conf,
            &["10.0.0.4:80", "10.0.0.4:81", "10.0.0.5:80", "10.0.0.5:81"],
            &[],
            &[
                ("10.0.0.4:82", "regex \"rs2\" does not match"),
                ("10.0.0.4:83", "(regex_no_match)"),
                ("10.0.0.4:84", "regex \"^rs1\" does not match"),
                ("10.0.0.5:82", "regex \"rs2\" does not match"),
            ],
        );
    }

    /// FILE_CHECK side by side with keepalived 2.2.7: both directors read
    /// the same track files, and after every change both tables hold the
    /// same real servers with the same weights: number × weight (negated by
    /// reverse) added to the configured weight, at least 0; with weight 0 a
    /// non-zero number takes the server out; an inhibited server whose
    /// checker fails stays at weight 0.
    fn file_check_weights_match_keepalived() {
        let site = Site::new("fc");
        let maint = site.path("maint");
        let boost = site.path("boost");
        std::fs::write(&maint, "5\n").unwrap_or_else(|e| panic!("{e}"));
        let file_check = |name: &str, extra: &str| {
            format!("        FILE_CHECK {{\n            track_file {name}\n{extra}        }}\n")
        };
        let real = |addr: &str, body: String| format!("    real_server {addr} {{\n        weight 10\n{body}    }}\n");
        let conf = [
            "global_defs {\n    router_id files_test\n}\n".to_owned(),
            format!("track_file maint {{\n    file {}\n    weight 0\n}}\n", maint.display()),
            format!("track_file boost {{\n    file {}\n    init_file 3\n}}\n", boost.display()),
            "virtual_server 10.0.0.100 80 {\n    delay_loop 2\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n".to_owned(),
            real("10.0.0.4 80", file_check("maint", "")),
            real("10.0.0.5 80", file_check("boost", "            weight 2\n") + &file_check("maint", "")),
            real("10.0.0.5 81", file_check("boost", "            weight 1 reverse\n")),
            real(
                "10.0.0.4 81",
                "        inhibit_on_failure\n".to_owned()
                    + &checker_block("TCP_CHECK", "            connect_timeout 1\n", "")
                    + &file_check("boost", ""),
            ),
            "}\n".to_owned(),
        ]
        .concat();
        let path = site.write_config("files.conf", &conf);
        let k = site.keepalived(DIR1, "ka", &path);
        let l = site.lvsd(DIR2, "l", &path, &[]);
        let weights = |i| {
            let mut d: Vec<(String, u32)> = site.dests(i).into_iter().map(|(a, w, _)| (a, w)).collect();
            d.sort();
            d
        };
        let expect = |step: &str, want: &[(&str, u32)]| {
            let want: Vec<(String, u32)> = want.iter().map(|(a, w)| (a.to_string(), *w)).collect();
            for (i, who) in [(DIR1, &k), (DIR2, &l)] {
                let deadline = Instant::now() + SLOW;
                while weights(i) != want {
                    assert!(
                        Instant::now() < deadline,
                        "{step}: director {i} has {:?}, expected {want:?}\n{}",
                        weights(i),
                        who.logs()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        let write = |f: &std::path::Path, v: &str| std::fs::write(f, v).unwrap_or_else(|e| panic!("{e}"));
        // boost is created by init_file (3); maint 5 takes out both servers
        // that check it; nothing listens on 10.0.0.4:81.
        expect("start", &[("10.0.0.4:81", 0), ("10.0.0.5:81", 7)]);
        assert_eq!(std::fs::read_to_string(&boost).unwrap_or_default(), "3\n");
        write(&maint, "0\n");
        expect("maint 0", &[("10.0.0.4:80", 10), ("10.0.0.4:81", 0), ("10.0.0.5:80", 16), ("10.0.0.5:81", 7)]);
        write(&boost, "-100");
        expect("boost -100", &[("10.0.0.4:80", 10), ("10.0.0.4:81", 0), ("10.0.0.5:80", 0), ("10.0.0.5:81", 110)]);
        write(&boost, "0x20");
        expect("boost 0x20", &[("10.0.0.4:80", 10), ("10.0.0.4:81", 0), ("10.0.0.5:80", 74), ("10.0.0.5:81", 0)]);
        let new = site.path("maint.new");
        write(&new, "-1\n");
        std::fs::rename(&new, &maint).unwrap_or_else(|e| panic!("{e}"));
        expect("maint -1 moved in", &[("10.0.0.4:81", 0), ("10.0.0.5:81", 0)]);
        let text = site.status_text("l");
        assert!(text.contains("real_server 10.0.0.4:80 DOWN weight 10 active 0 inactive 0 (FILE_CHECK: track_file maint reads -1 (weight 0))"), "{text}");
        std::fs::remove_file(&maint).unwrap_or_else(|e| panic!("{e}"));
        expect("maint removed", &[("10.0.0.4:80", 10), ("10.0.0.4:81", 0), ("10.0.0.5:80", 74), ("10.0.0.5:81", 0)]);
        let text = site.status_text("l");
        assert!(text.contains("real_server 10.0.0.5:80 UP weight 74 (FILE_CHECK +64)"), "{text}");
    }

    /// A virtual server's `weight` is the weight of its real servers that
    /// give none (keepalived 2.2.7, check_data.c); both tables agree.
    fn virtual_server_weight_is_the_real_servers_default_as_in_keepalived() {
        let site = Site::new("vsw");
        let conf = "global_defs {\n    router_id vs_weight_test\n}\n\
            virtual_server 10.0.0.100 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    weight 7\n\
            real_server 10.0.0.4 80 {\n    }\n\
            real_server 10.0.0.5 80 {\n        weight 3\n    }\n}\n";
        let path = site.write_config("vsw.conf", conf);
        let k = site.keepalived(DIR1, "ka", &path);
        let l = site.lvsd(DIR2, "l", &path, &[]);
        let want = vec![("10.0.0.4:80".to_string(), 7), ("10.0.0.5:80".to_string(), 3)];
        for (i, who) in [(DIR1, &k), (DIR2, &l)] {
            let weights = || {
                let mut d: Vec<(String, u32)> = site.dests(i).into_iter().map(|(a, w, _)| (a, w)).collect();
                d.sort();
                d
            };
            let deadline = Instant::now() + SLOW;
            while weights() != want {
                assert!(Instant::now() < deadline, "director {i}: {:?}, expected {want:?}\n{}", weights(), who.logs());
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// `lvs_timeouts` side by side with keepalived 2.2.7: both set the
    /// configured timeouts (the unset one keeps the kernel's value) and put
    /// the kernel's own back when they stop.
    fn lvs_timeouts_are_set_and_restored_as_in_keepalived() {
        let site = Site::new("lto");
        let conf = "global_defs {\n    router_id timeouts_test\n    lvs_timeouts tcp 7200 udp 60\n}\n\
            virtual_server 10.0.0.100 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n\
            real_server 10.0.0.4 80 {\n    }\n}\n";
        let path = site.write_config("lto.conf", conf);
        let timeouts = |i: usize| {
            site.ns(i)
                .run(&["ipvsadm", "-L", "--timeout"])
                .unwrap_or_else(|e| panic!("ipvsadm: {e}"))
                .trim()
                .to_owned()
        };
        let kernel = "Timeout (tcp tcpfin udp): 900 120 300";
        assert_eq!(timeouts(DIR1), kernel);
        assert_eq!(timeouts(DIR2), kernel);
        let mut k = site.keepalived(DIR1, "ka", &path);
        let mut l = site.lvsd(DIR2, "l", &path, &[]);
        for (i, who) in [(DIR1, &k), (DIR2, &l)] {
            let deadline = Instant::now() + SLOW;
            while timeouts(i) != "Timeout (tcp tcpfin udp): 7200 120 60" {
                assert!(Instant::now() < deadline, "director {i}: {}\n{}", timeouts(i), who.logs());
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        for (i, who) in [(DIR1, &mut k), (DIR2, &mut l)] {
            signal(who, Signal::SIGTERM);
            let deadline = Instant::now() + SLOW;
            while who.try_wait().ok().flatten().is_none() {
                assert!(Instant::now() < deadline, "director {i} did not stop\n{}", who.logs());
                std::thread::sleep(Duration::from_millis(100));
            }
            assert_eq!(timeouts(i), kernel, "director {i} after stop\n{}", who.logs());
        }
    }

    /// SSL_GET against a real server that demands a client certificate
    /// (nginx `ssl_verify_client on`), side by side with keepalived 2.2.7:
    /// without an `SSL { }` block both take it out (nginx answers 400); with
    /// the certificate and its encrypted PKCS#8 key and password both keep it.
    fn ssl_client_certificates_match_keepalived() {
        let site = Site::new("mtl");
        let d = site.path("tls");
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(&d)
                .output()
                .unwrap_or_else(|e| panic!("openssl: {e}"));
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem"];
        ca.extend(ec);
        openssl(&ca);
        for name in ["server", "client"] {
            let (key, csr, subj) = (format!("{name}.key"), format!("{name}.csr"), format!("/CN={name}"));
            let mut req = vec!["req", "-subj", &subj, "-keyout", &key, "-out", &csr];
            req.extend(ec);
            openssl(&req);
            let pem = format!("{name}.pem");
            openssl(&["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", &pem]);
        }
        openssl(&["pkcs8", "-topk8", "-in", "client.key", "-out", "client-enc.key", "-passout", "pass:s3cret"]);
        let p = d.display();
        let conf = format!(
            "daemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n access_log {p}/access.log;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
             server {{ listen 443 ssl; ssl_certificate {p}/server.pem; ssl_certificate_key {p}/server.key;\n\
               ssl_client_certificate {p}/ca.pem; ssl_verify_client on;\n\
               location / {{ return 200 \"mtls ok\\n\"; }} }}\n}}\n"
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap_or_else(|e| panic!("{e}"));
        let ns = site.ns(RS1_NS);
        let _tls = ns
            .spawn_logged(&["nginx", "-p", &p.to_string(), "-e", &format!("{p}/error.log"), "-c", &format!("{p}/nginx.conf")], &d, "nginx-tls")
            .unwrap_or_else(|e| panic!("nginx: {e}"));
        ns.wait_for_tcp_listener(443, SLOW).unwrap_or_else(|e| panic!("{e}"));
        let check = checker_block(
            "SSL_GET",
            "            connect_timeout 2\n",
            "            url {\n                path /\n                status_code 200\n            }\n",
        );
        let vs = checkers_only_config("10.0.0.100 443", "TCP", &[("10.0.0.4 443", check)]);
        // No client certificate: out on both.
        side_by_side_with_keepalived(&site, &vs, &[], &[], &[("10.0.0.4:443", "status 400")]);
        let with_cert = format!(
            "SSL {{\n    certificate {p}/client.pem\n    key {p}/client-enc.key\n    password s3cret\n}}\n{vs}"
        );
        side_by_side_with_keepalived(&site, &with_cert, &["10.0.0.4:443"], &[], &[]);
    }

    /// `ha_suspend` side by side with keepalived 2.2.7 (keepalived on DIR1,
    /// lvsd on DIR2): a real server whose check fails (nothing on port 81)
    /// stays in the table while the virtual server's address is not on the
    /// director (checkers suspended), leaves once the address is added (the
    /// VRRP master's view), and stays out when the address goes again.
    fn ha_suspend_checks_only_while_the_vip_is_here_as_in_keepalived() {
        let site = Site::new("has");
        let conf = "global_defs {\n    router_id ha_suspend_test\n}\n\
            virtual_server 10.0.0.100 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    ha_suspend\n\
            real_server 10.0.0.4 80 {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n\
            real_server 10.0.0.5 80 {\n        TCP_CHECK {\n            connect_port 81\n            connect_timeout 1\n        }\n    }\n}\n";
        let path = site.write_config("has.conf", conf);
        let k = site.keepalived(DIR1, "ka", &path);
        let l = site.lvsd(DIR2, "l", &path, &[]);
        let active = |i: usize| {
            let mut v = site.active_reals(i);
            v.sort();
            v
        };
        let both = vec!["10.0.0.4:80".to_string(), "10.0.0.5:80".to_string()];
        let one = vec!["10.0.0.4:80".to_string()];
        let holds = |want: &Vec<String>, what: &str| {
            for (i, who) in [(DIR1, &k), (DIR2, &l)] {
                let deadline = Instant::now() + SLOW;
                while active(i) != *want {
                    assert!(Instant::now() < deadline, "{what}: director {i}: {:?}\n{}", active(i), who.logs());
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            // Several check rounds later, still so.
            std::thread::sleep(Duration::from_secs(4));
            assert_eq!(active(DIR1), *want, "{what}: keepalived\n{}", k.logs());
            assert_eq!(active(DIR2), *want, "{what}: lvsd\n{}", l.logs());
        };
        holds(&both, "suspended: nothing is checked");
        for i in [DIR1, DIR2] {
            site.ns(i)
                .ip(&["addr", "add", "10.0.0.100/32", "dev", "lo"])
                .unwrap_or_else(|e| panic!("ip addr add: {e}"));
        }
        holds(&one, "the address is here: checked");
        for i in [DIR1, DIR2] {
            site.ns(i)
                .ip(&["addr", "del", "10.0.0.100/32", "dev", "lo"])
                .unwrap_or_else(|e| panic!("ip addr del: {e}"));
        }
        holds(&one, "suspended again: verdicts kept");
    }

    /// `lvs_flush` and `lvs_flush_on_stop [VS]` side by side with keepalived
    /// 2.2.7 (keepalived on DIR1, lvsd on DIR2), each with a service of
    /// another program (`ipvsadm -A`) in its table: `lvs_flush` removes it
    /// at start, `lvs_flush_on_stop` empties the whole table at stop, and
    /// with `VS` only the director's own services go.
    fn lvs_flush_at_start_and_stop_match_keepalived() {
        let site = Site::new("lfl");
        let vs = "virtual_server 10.0.0.100 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n\
            real_server 10.0.0.4 80 {\n    }\n}\n";
        let foreign = "TCP  10.9.9.9:81 rr";
        let services = |i: usize| -> Vec<String> {
            site.ns(i)
                .run(&["ipvsadm", "-Ln"])
                .unwrap_or_else(|e| panic!("ipvsadm: {e}"))
                .lines()
                .filter(|l| l.starts_with("TCP") || l.starts_with("UDP"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .map(|l| l.replace("TCP ", "TCP  "))
                .collect()
        };
        let add_foreign = |i: usize| {
            site.ns(i)
                .run(&["ipvsadm", "-A", "-t", "10.9.9.9:81", "-s", "rr"])
                .unwrap_or_else(|e| panic!("ipvsadm -A: {e}"));
        };
        let ours = "TCP  10.0.0.100:80 rr";
        for (round, global, foreign_after_stop) in [
            ("full", "    lvs_flush\n    lvs_flush_on_stop\n", false),
            ("vs", "    lvs_flush_on_stop VS\n", true),
        ] {
            let conf = format!("global_defs {{\n    router_id flush_{round}\n{global}}}\n{vs}");
            let path = site.write_config(&format!("flush-{round}.conf"), &conf);
            for i in [DIR1, DIR2] {
                if !services(i).iter().any(|l| l == foreign) {
                    add_foreign(i);
                }
            }
            let mut k = site.keepalived(DIR1, &format!("ka-{round}"), &path);
            let mut l = site.lvsd(DIR2, &format!("l-{round}"), &path, &[]);
            // Only `lvs_flush` takes the other program's service away at start.
            let at_start: Vec<String> = if round == "full" {
                vec![ours.into()]
            } else {
                vec![ours.into(), foreign.into()]
            };
            for (i, who) in [(DIR1, &k), (DIR2, &l)] {
                let deadline = Instant::now() + SLOW;
                let mut sorted = at_start.clone();
                sorted.sort();
                loop {
                    let mut now = services(i);
                    now.sort();
                    if now == sorted {
                        break;
                    }
                    assert!(Instant::now() < deadline, "{round}: director {i}: {now:?}\n{}", who.logs());
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            // Another program adds its service while the directors run.
            for i in [DIR1, DIR2] {
                if !services(i).iter().any(|l| l == foreign) {
                    add_foreign(i);
                }
            }
            for (i, who) in [(DIR1, &mut k), (DIR2, &mut l)] {
                signal(who, Signal::SIGTERM);
                let deadline = Instant::now() + SLOW;
                while who.try_wait().ok().flatten().is_none() {
                    assert!(Instant::now() < deadline, "director {i} did not stop\n{}", who.logs());
                    std::thread::sleep(Duration::from_millis(100));
                }
                let expected: Vec<String> = if foreign_after_stop {
                    vec![foreign.into()]
                } else {
                    Vec::new()
                };
                assert_eq!(services(i), expected, "{round}: director {i} after stop\n{}", who.logs());
            }
        }
    }

    /// The LVS notify FIFO and checker/quorum mails side by side with
    /// keepalived 2.2.7 (keepalived on DIR1, lvsd on DIR2, each with its own
    /// FIFO script and aiosmtpd in its namespace): nginx on 10.0.0.5 stops
    /// (the real server goes down, the virtual server loses its quorum of
    /// 2), then starts again. The lines and the mails (subject, from, to,
    /// body) must be the same; compared before the directors stop.
    fn lvs_notify_fifo_and_mails_match_keepalived() {
        let mut site = Site::new("evt");
        let mut smtpds = Vec::new();
        let mut directors = Vec::new();
        for (i, name) in [(DIR1, "ka"), (DIR2, "l")] {
            let mail = site.path(&format!("mail{i}"));
            smtpds.push(
                site.ns(i)
                    .spawn_logged(
                        &["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:2525", "-c",
                          "aiosmtpd.handlers.Mailbox", &mail.to_string_lossy()],
                        site.dir.path(),
                        &format!("smtpd{i}"),
                    )
                    .unwrap_or_else(|e| panic!("aiosmtpd: {e}")),
            );
            site.ns(i).wait_for_tcp_listener(2525, SLOW).unwrap_or_else(|e| panic!("{e}"));
            let script = site.path(&format!("fifo{i}.sh"));
            std::fs::write(
                &script,
                format!("#!/bin/sh\nwhile read -r l; do echo \"$l\" >> {}; done < \"$1\"\n",
                        site.path(&format!("lines{i}")).display()),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
            let check = checker_block("TCP_CHECK", "            connect_timeout 2\n", "");
            let conf = format!(
                "global_defs {{\n    router_id lvs_events\n    script_user root\n    lvs_notify_fifo {}\n    lvs_notify_fifo_script {}\n    \
                 notification_email {{\n        ops@example.com\n    }}\n    notification_email_from lb@example.com\n    \
                 smtp_server 127.0.0.1 2525\n    smtp_connect_timeout 5\n}}\n\
                 virtual_server 10.0.0.100 80 {{\n    delay_loop 2\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    quorum 2\n    smtp_alert\n\
                     real_server 10.0.0.4 80 {{\n        weight 1\n{check}    }}\n\
                     real_server 10.0.0.5 80 {{\n        weight 1\n{check}    }}\n}}\n",
                site.path(&format!("lvs{i}.fifo")).display(),
                script.display(),
            );
            let path = site.write_config(&format!("events{i}.conf"), &conf);
            directors.push(if i == DIR1 { site.keepalived(i, name, &path) } else { site.lvsd(i, name, &path, &[]) });
        }
        let both = |n: usize| {
            move |site: &Site| site.active_reals(DIR1).len() == n && site.active_reals(DIR2).len() == n
        };
        let wait = |site: &Site, what: &str, n: usize, directors: &[testbed::process::ProcessGuard]| {
            let deadline = Instant::now() + SLOW;
            while !both(n)(site) {
                assert!(Instant::now() < deadline, "{what}\n{}\n{}", directors[0].logs(), directors[1].logs());
                std::thread::sleep(Duration::from_millis(200));
            }
        };
        wait(&site, "both real servers in both tables", 2, &directors);
        std::thread::sleep(Duration::from_secs(3));
        site.stop_nginx(1);
        wait(&site, "10.0.0.5 out of both tables", 1, &directors);
        std::thread::sleep(Duration::from_secs(3));
        site.start_nginx(1);
        wait(&site, "10.0.0.5 back in both tables", 2, &directors);
        // Mails take their time under UML.
        std::thread::sleep(Duration::from_secs(5));
        let lines = |i: usize| std::fs::read_to_string(site.path(&format!("lines{i}"))).unwrap_or_default();
        let mails = |i: usize| {
            let mut out = Vec::new();
            for sub in ["new", "cur"] {
                for e in std::fs::read_dir(site.path(&format!("mail{i}/{sub}"))).into_iter().flatten().flatten() {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default().replace("\r\n", "\n");
                    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
                    let h = |n: &str| head.lines().find_map(|l| l.strip_prefix(&format!("{n}: "))).unwrap_or("").to_owned();
                    out.push(format!("Subject: {}\nFrom: {}\nTo: {}\n\n{}", h("Subject"), h("From"), h("To"), body.trim_end()));
                }
            }
            out.sort();
            out
        };
        let (theirs, ours) = ((lines(DIR1), mails(DIR1)), (lines(DIR2), mails(DIR2)));
        eprintln!("keepalived: {theirs:#?}\nlvsd: {ours:#?}");
        assert!(!theirs.0.is_empty() && !theirs.1.is_empty(), "keepalived wrote nothing\n{}", directors[0].logs());
        assert_eq!(ours.0, theirs.0, "lvs_notify_fifo lines\n{}", directors[1].logs());
        assert_eq!(ours.1, theirs.1, "mails\n{}", directors[1].logs());
        for mut d in directors {
            signal(&d, Signal::SIGTERM);
            let deadline = Instant::now() + SLOW;
            while d.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        drop(smtpds);
    }

    /// log_all_failures logs every failed check, not only the transition
    /// (keepalived 2.2.7 logs each failure then); without it, only the
    /// transition is logged.
    fn log_all_failures_logs_every_failed_check() {
        let site = Site::new("laf");
        let conf = |extra: &str| {
            checkers_only_config(
                "10.0.0.100 80",
                "TCP",
                &[("10.0.0.4 8999", checker_block("TCP_CHECK", "            connect_timeout 1\n", extra))],
            )
            .replace("delay_loop 2", "delay_loop 1")
        };
        let with = site.write_config("with.conf", &conf("            log_all_failures\n"));
        let without = site.write_config("without.conf", &conf(""));
        let a = site.lvsd(DIR1, "with", &with, &[]);
        let b = site.lvsd(DIR2, "without", &without, &[]);
        std::thread::sleep(Duration::from_secs(6));
        let count = |p: &testbed::process::ProcessGuard| p.logs().matches("check failed: TCP_CHECK").count();
        assert!(count(&a) >= 3, "{}", a.logs());
        assert_eq!(count(&b), 0, "{}", b.logs());
    }

    /// `lvsd ctl` against the daemon (issue #15 item 6): drain keeps the
    /// real server at weight 0, maint takes it out, weight 5 sets 5, a
    /// restart keeps the override (the state file), ready gives it back to
    /// its checkers (the configured weight); `lvsd status` shows each; an
    /// unknown real server is refused naming it.
    fn ctl_overrides_apply_and_survive_a_restart() {
        let site = Site::new("ctl");
        site.ns(DIR1).ip(&["addr", "add", "10.0.0.100/24", "dev", "eth0"]).unwrap_or_else(|e| panic!("{e}"));
        let conf = site.write_config("d.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let state = site.path("admin.json");
        let state_arg = state.display().to_string();
        let mut d = site.lvsd(DIR1, "d", &conf, &["-C", "--admin-state-file", &state_arg]);
        site.wait("both real servers in the table", SLOW, || site.active_reals(DIR1).len() == 2);
        let ctl = |name: &str, args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
                .args(["ctl", "-s"])
                .arg(site.path(&format!("{name}.sock")))
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("lvsd ctl: {e}"));
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            (out.status.success(), text)
        };
        let weight_of = |addr: &str| site.dests(DIR1).into_iter().find(|x| x.0 == addr).map(|x| x.1);
        let admin_of = |name: &str| {
            let s = site.status(name).unwrap_or_default();
            s["virtual_servers"][0]["real_servers"].as_array()
                .and_then(|a| a.iter().find(|r| r["address"] == RS1))
                .map(|r| r["admin"].clone())
                .unwrap_or_default()
        };

        let (ok, text) = ctl("d", &["drain", "10.0.0.100:80 TCP", RS1]);
        assert!(ok, "{text}\n{}", d.logs());
        site.wait("rs1 at weight 0, still in the table", SLOW, || weight_of(RS1) == Some(0));
        assert_eq!(weight_of(RS2), Some(1));
        assert_eq!(admin_of("d")["state"], "drain");
        let status = site.status_text("d");
        assert!(status.contains("real_server 10.0.0.4:80 UP admin drain (uid 0) weight 0"), "{status}");
        assert!(d.logs().contains("drain (was ready), asked by uid 0 (root)"), "{}", d.logs());

        let (ok, text) = ctl("d", &["maint", "virtual_server 10.0.0.100:80 TCP", RS1]);
        assert!(ok, "{text}");
        site.wait("rs1 out of the table", SLOW, || weight_of(RS1).is_none());
        assert_eq!(site.active_reals(DIR1), [RS2]);

        let (ok, text) = ctl("d", &["weight", "10.0.0.100:80", "10.0.0.4", "5"]);
        assert!(ok, "{text}");
        site.wait("rs1 at weight 5", SLOW, || weight_of(RS1) == Some(5));
        // A reload keeps it.
        signal(&d, Signal::SIGHUP);
        site.wait("the reload", SLOW, || site.status("d").is_some_and(|s| json_u64(&s, "reloads") == 1));
        assert_eq!(weight_of(RS1), Some(5));
        assert_eq!(admin_of("d")["state"], "weight");

        let (ok, text) = ctl("d", &["drain", "10.0.0.100:80 TCP", "10.0.0.9:80"]);
        assert!(!ok && text.contains("has no real server \"10.0.0.9:80\""), "{text}");
        let (ok, text) = ctl("d", &["drain", "10.0.0.101:80", RS1]);
        assert!(!ok && text.contains("no virtual server"), "{text}");

        // Restart (the table removed on stop): the override is applied again.
        signal(&d, Signal::SIGTERM);
        let st = d.wait_timeout(SLOW).unwrap_or_else(|e| panic!("{e}\n{}", d.logs()));
        assert!(st.success(), "{st}\n{}", d.logs());
        assert!(std::fs::read_to_string(&state).unwrap_or_default().contains("\"weight\": 5"));
        let d2 = site.lvsd(DIR1, "d2", &conf, &["-C", "--admin-state-file", &state_arg]);
        site.wait("rs1 at weight 5 after the restart", SLOW, || weight_of(RS1) == Some(5) && weight_of(RS2) == Some(1));
        assert_eq!(admin_of("d2")["state"], "weight");
        assert!(d2.logs().contains("admin override weight 5 kept from the last run"), "{}", d2.logs());

        let (ok, text) = ctl("d2", &["ready", "10.0.0.100:80 TCP", RS1]);
        assert!(ok, "{text}");
        site.wait("rs1 back at its configured weight", SLOW, || weight_of(RS1) == Some(1));
        assert!(admin_of("d2").is_null());
        assert!(!site.status_text("d2").contains("admin"));
        assert!(std::fs::read_to_string(&state).unwrap_or_default().contains("\"overrides\": []"));
    }

    /// Start and stop scripts side by side with keepalived 2.2.7, without and
    /// with rs_init_notifies and omega: the same scripts run at start and at
    /// stop.
    fn start_and_stop_scripts_match_keepalived() {
        scripts_side_by_side("sc0", "", "");
        scripts_side_by_side("sc1", "    rs_init_notifies\n", "    omega\n");
    }
}

/// Runs one virtual server whose quorum and real-server scripts append a word
/// to a log, under keepalived on DIR1 and lvsd on DIR2; both logs must hold
/// the same lines after start and after SIGTERM.
fn scripts_side_by_side(prefix: &str, global: &str, vs_extra: &str) {
    let site = Site::new(prefix);
    let conf = |log: &std::path::Path| {
        let run = |word: &str| format!("\"/bin/sh -c 'echo {word} >> {}'\"", log.display());
        format!(
            "global_defs {{\n    router_id scripts_test\n{global}}}\n\
             virtual_server 10.0.0.100 80 {{\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n{vs_extra}\
             quorum_up {}\n    quorum_down {}\n\
             real_server 10.0.0.4 80 {{\n        notify_up {}\n        notify_down {}\n    }}\n}}\n",
            run("quorum_up"),
            run("quorum_down"),
            run("up"),
            run("down")
        )
    };
    let (klog, llog) = (site.path("k.log"), site.path("l.log"));
    let k_path = site.write_config("k.conf", &conf(&klog));
    let l_path = site.write_config("l.conf", &conf(&llog));
    let mut k = site.keepalived(DIR1, "ka", &k_path);
    let mut l = site.lvsd(DIR2, "l", &l_path, &[]);
    // Sorted: the scripts run concurrently, so their lines interleave.
    let lines = |p: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    for (i, who) in [(DIR1, &k), (DIR2, &l)] {
        let deadline = Instant::now() + SLOW;
        while site.active_reals(i).is_empty() {
            assert!(
                Instant::now() < deadline,
                "director {i} programmed nothing\n{}",
                who.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let at_start = lines(&klog);
    assert_eq!(lines(&llog), at_start, "{prefix}: at start\n{}", l.logs());
    for (i, who) in [(DIR1, &mut k), (DIR2, &mut l)] {
        signal(who, Signal::SIGTERM);
        let deadline = Instant::now() + SLOW;
        while who.try_wait().ok().flatten().is_none() {
            assert!(
                Instant::now() < deadline,
                "director {i} did not stop\n{}",
                who.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        lines(&llog),
        lines(&klog),
        "{prefix}: after stop\n{}",
        l.logs()
    );
}

/// The status page in three lab states (issue #15): the pages are fetched
/// inside the test bed and checked as HTML: steady (dir1 master, both real
/// servers up), one real server down (its reason on the page), and just
/// after a failover (dir2 master, its takeover in "Recent takeovers"). They
/// are saved to target/lvsd-screens/lab-*.html, and headless Chromium on the
/// host renders each to lab-*.png (Chromium inside UML takes minutes per
/// page: every system call costs ~100 µs there).
#[test]
fn status_page_in_three_lab_states() {
    let out_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lvsd-screens");
    let states = ["steady", "real-server-down", "after-failover"];
    if !testbed::uml::in_guest() {
        for name in states {
            let _ = std::fs::remove_file(out_dir.join(format!("lab-{name}.html")));
        }
        match testbed::uml::rerun_in_guest(module_path!(), "status_page_in_three_lab_states") {
            Ok(out) if out.status == 0 => {}
            Ok(out) => panic!(
                "failed inside the UML guest (status {})\n{}",
                out.status,
                out.report()
            ),
            Err(err) => panic!("{err}"),
        }
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for name in states {
            let html = out_dir.join(format!("lab-{name}.html"));
            assert!(html.exists(), "the guest saved no {}", html.display());
            let png = out_dir.join(format!("lab-{name}.png"));
            let _ = std::fs::remove_file(&png);
            let out = std::process::Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--window-size=1280,900",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg(format!("--screenshot={}", png.display()))
                .arg(format!("file://{}", html.display()))
                .output()
                .unwrap_or_else(|e| panic!("chromium (Debian package chromium): {e}"));
            assert!(
                out.status.success(),
                "chromium: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let bytes = std::fs::read(&png).unwrap_or_default();
            assert!(
                bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
                "{name}: no screenshot"
            );
        }
        return;
    }
    let mut site = Site::new("pg");
    let (t1, t2) = ("10.0.0.2:9662", "10.0.0.3:9662");
    let c1 = site.write_config(
        "dir1.conf",
        &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]),
    );
    let c2 = site.write_config(
        "dir2.conf",
        &dr_config("BACKUP", 100, &["10.0.0.4", "10.0.0.5"]),
    );
    let mut d1 = site.lvsd(DIR1, "dir1", &c1, &["--metrics-listen", t1]);
    let d2 = site.lvsd(DIR2, "dir2", &c2, &["--metrics-listen", t2]);
    site.wait("dir1 to hold the VIP", SLOW, || site.has_vip(DIR1));
    site.wait("both real servers in dir1's table", SLOW, || {
        site.active_reals(DIR1).len() == 2
    });
    std::fs::create_dir_all(&out_dir).unwrap_or_else(|e| panic!("{e}"));
    let save = |site: &Site, target: &str, name: &str| -> String {
        let page = site
            .ns(CLIENT)
            .run(&["curl", "-s", &format!("http://{target}/")])
            .unwrap_or_else(|e| panic!("curl: {e}"));
        std::fs::write(out_dir.join(format!("lab-{name}.html")), &page)
            .unwrap_or_else(|e| panic!("{e}"));
        page
    };
    let steady = save(&site, t1, "steady");
    assert!(
        steady.contains("MASTER") && !steady.contains("class=d>DOWN"),
        "{steady}"
    );
    // Each real server's row: address, state, in state, weight, last check,
    // connections, bytes, downtime, failed checks, reason.
    let cells = |page: &str, rs: &str| -> Vec<String> {
        let start = page
            .find(&format!("<tr><td>{rs}"))
            .unwrap_or_else(|| panic!("no row for {rs}:\n{page}"));
        let row = page[start..].lines().next().unwrap_or_default();
        row.split("<td")
            .skip(1)
            .map(|c| c.split_once('>').map_or("", |(_, t)| t).to_string())
            .collect()
    };
    for rs in [RS1, RS2] {
        let c = cells(&steady, rs);
        assert_eq!(c.len(), 10, "{c:?}");
        assert!(c[4].ends_with('s'), "last check of {rs}: {c:?}");
        assert!(c[6].contains('/'), "bytes in/out of {rs}: {c:?}");
    }

    site.stop_nginx(1);
    site.wait("rs2 out of dir1's table", SLOW, || {
        site.active_reals(DIR1) == [RS1]
    });
    let down = save(&site, t1, "real-server-down");
    assert!(
        down.contains(RS2) && down.contains("class=d>DOWN"),
        "{down}"
    );
    assert!(
        down.contains("<th>weight up / quorum</th><td>1 / 1</td>"),
        "{down}"
    );
    // The failed checks are counted per real server; the pool's weight
    // against its quorum is exported.
    let metrics = site
        .ns(CLIENT)
        .run(&["curl", "-s", &format!("http://{t1}/metrics")])
        .unwrap_or_else(|e| panic!("curl: {e}"));
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in:\n{metrics}"))
    };
    let failed = |rs: &str| {
        value(&format!(
            "lvsd_real_server_check_failures_total{{virtual_server=\"virtual_server 10.0.0.100:80 TCP\",real_server=\"{rs}\"}}"
        ))
    };
    assert!(failed(RS2) >= 1.0, "{metrics}");
    assert_eq!(failed(RS1), 0.0, "{metrics}");
    assert_eq!(value("lvsd_virtual_server_weight{"), 1.0, "{metrics}");
    assert_eq!(value("lvsd_virtual_server_quorum{"), 1.0, "{metrics}");

    d1.kill();
    site.lan
        .switch()
        .ip(&["link", "set", &format!("p{DIR1}"), "down"])
        .unwrap_or_else(|e| panic!("{e}"));
    site.wait("dir2 to hold the VIP", SLOW, || site.has_vip(DIR2));
    site.wait("dir2's takeover on its page", SLOW, || {
        site.ns(CLIENT)
            .run(&["curl", "-s", &format!("http://{t2}/")])
            .is_ok_and(|p| p.contains("Recent takeovers") && p.contains("detection 3"))
    });
    let after = save(&site, t2, "after-failover");
    assert!(
        after.contains("MASTER") && after.contains("detection"),
        "{after}\n{}",
        d2.logs()
    );
}
