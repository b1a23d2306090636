//! lvsd end to end in a UML kernel with IPVS: two directors in DR mode in
//! front of two real nginx servers, traffic from a client namespace.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::site::{dr_config, Site, CLIENT, DIR1, DIR2, SLOW};

const RS1: &str = "10.0.0.4:80";
const RS2: &str = "10.0.0.5:80";

fn signal(p: &testbed::process::ProcessGuard, s: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid() as i32), s)
        .unwrap_or_else(|e| panic!("signal {s}: {e}"));
}

fn json_u64(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(|x| x.as_u64()).unwrap_or(u64::MAX)
}

testbed::uml_test! {
    /// Two lvsd directors (VRRP + checkers + IPVS): round robin over both
    /// real servers; a stopped nginx leaves the table within
    /// delay_loop + retry x delay_before_retry (+ slack) and comes back when
    /// started; status and SIGUSR1 show it, without secrets; the backup
    /// carries the traffic when the master dies, with bounded failures.
    #[ignore = "needs the ipvs crate's client, not merged into this branch yet"]
    fn dr_pair_balances_fails_over_and_recovers() {
        let mut site = Site::new("dr");
        let c1 = site.write_config("dir1.conf", &dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]));
        let c2 = site.write_config("dir2.conf", &dr_config("BACKUP", 100, &["10.0.0.4", "10.0.0.5"]));
        let mut d1 = site.lvsd(DIR1, "dir1", &c1, &[]);
        let d2 = site.lvsd(DIR2, "dir2", &c2, &[]);
        site.wait("dir1 to hold the VIP", SLOW, || site.has_vip(DIR1));
        site.wait("both real servers in dir1's table", SLOW, || site.active_reals(DIR1).len() == 2);
        site.wait("both real servers in dir2's table", SLOW, || site.active_reals(DIR2).len() == 2);
        assert!(!site.has_vip(DIR2));

        let answers: Vec<String> = (0..8)
            .map(|_| site.get("/").unwrap_or_else(|e| panic!("{e}\n{}", d1.logs())))
            .collect();
        assert!(answers.iter().any(|a| a == "rs1") && answers.iter().any(|a| a == "rs2"), "{answers:?}");

        // Stop rs2: out within delay_loop 2 + retry 1 x delay_before_retry 1 + connect 2, plus slack.
        site.stop_nginx(1);
        let t0 = Instant::now();
        site.wait("rs2 to leave dir1's table", SLOW, || site.active_reals(DIR1) == [RS1]);
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(15), "rs2 left after {took:?}");
        for _ in 0..10 {
            assert_eq!(site.get("/").as_deref(), Ok("rs1"));
        }

        // Status: the verdict with its reason; no secret anywhere.
        let mut status = None;
        site.wait("lvsd status", SLOW, || { status = site.status("dir1"); status.is_some() });
        let status = status.unwrap_or_default();
        let text = status.to_string();
        assert!(!text.contains("Zs3cr3t"), "{text}");
        let reals = &status["virtual_servers"][0]["real_servers"];
        let rs2 = reals.as_array().and_then(|a| a.iter().find(|r| r["address"] == RS2)).cloned().unwrap_or_default();
        assert_eq!(rs2["up"], false, "{text}");
        assert!(!rs2["reason"].as_str().unwrap_or("").is_empty(), "{text}");
        assert_eq!(status["vrrp"][0]["state"], "Master", "{text}");
        // SIGUSR1: the human dump.
        signal(&d1, Signal::SIGUSR1);
        let data = site.path("dir1.data");
        site.wait("the SIGUSR1 dump", SLOW, || std::fs::read_to_string(&data).is_ok_and(|t| t.contains("real_server 10.0.0.5:80 DOWN")));
        assert!(!std::fs::read_to_string(&data).unwrap_or_default().contains("Zs3cr3t"));

        site.start_nginx(1);
        site.wait("rs2 back in dir1's table", SLOW, || site.active_reals(DIR1).len() == 2);
        site.wait("rs2 back in dir2's table", SLOW, || site.active_reals(DIR2).len() == 2);

        // The master dies: lvsd SIGKILLed and the machine off the LAN.
        d1.kill();
        site.lan.switch().ip(&["link", "set", "p1", "down"]).unwrap_or_else(|e| panic!("{e}"));
        let t0 = Instant::now();
        let mut failed = 0;
        let mut ok_in_a_row = 0;
        while ok_in_a_row < 10 {
            assert!(t0.elapsed() < SLOW, "no takeover within {SLOW:?}\n{}", d2.logs());
            match site.get("/") {
                Ok(_) => ok_in_a_row += 1,
                Err(_) => {
                    failed += 1;
                    ok_in_a_row = 0;
                    let _ = site.ns(CLIENT).ip(&["neigh", "flush", "all"]);
                }
            }
        }
        assert!(site.has_vip(DIR2));
        eprintln!("takeover: {failed} failed requests, {:?} until 10 in a row succeeded", t0.elapsed());
        assert!(failed <= 10, "{failed} requests failed during the takeover");
    }

    /// One lvsd in checkers-only mode (-C, VIP set by hand): SIGHUP adding a
    /// real server is one IPVS write and keeps a long-lived connection; a
    /// broken config on reload keeps the old one; a restart with the same
    /// config adopts the table with zero IPVS writes and the connection
    /// survives it too; SIGTERM removes our service.
    #[ignore = "needs the ipvs crate's client, not merged into this branch yet"]
    fn reload_restart_and_broken_config_drop_nothing() {
        let site = Site::new("rl");
        site.ns(DIR1).ip(&["addr", "add", "10.0.0.100/24", "dev", "eth0"]).unwrap_or_else(|e| panic!("{e}"));
        let one = dr_config("MASTER", 150, &["10.0.0.4"]);
        let two = dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]);
        let conf = site.write_config("d.conf", &one);
        let mut d = site.lvsd(DIR1, "d", &conf, &["-C", "--dont-release-ipvs"]);
        site.wait("rs1 in the table", SLOW, || site.active_reals(DIR1) == [RS1]);
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
}
