//! keepalived's scheduling keywords (`vrrp_rt_priority`, `vrrp_cpu_affinity`,
//! `vrrp_no_swap`, `checker_priority`, ...): keepalived tunes its VRRP
//! process, lvsd the thread its VRRP runs on, and the kernel must show the
//! same policy, priority and CPUs for both; scripts started from them do not
//! inherit the real-time policy; a reload without the keywords undoes them.

use std::time::Duration;

use lvsd::daemon::tuning::read_back;

use crate::harness::*;

fn tasks(pid: u32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            let Some(tid) = e.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            out.push((tid, comm.trim().to_string()));
        }
    }
    out
}

fn locked_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const TUNED: &str =
    "  vrrp_rt_priority 50\n  vrrp_cpu_affinity 0\n  vrrp_no_swap\n  checker_priority -5\n";

fn config(tuning: &str, vrid: u8, script: &std::path::Path) -> String {
    format!(
        "global_defs {{\n  router_id tuning\n  script_user root\n  enable_script_security\n{tuning}}}\n\
         vrrp_script chk {{\n  script \"{}\"\n  interval 1\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority 100\n  advert_int 1\n\
         \x20 track_script {{\n    chk\n  }}\n\
         \x20 virtual_ipaddress {{\n    10.0.0.{}/24\n  }}\n}}\n",
        script.display(),
        100 + vrid
    )
}

/// (policy, rt priority, nice) of the script's own process, as it wrote it.
fn script_saw(out: &std::path::Path) -> Option<(String, String)> {
    let line = std::fs::read_to_string(out).ok()?;
    let rest = line.rsplit_once(") ")?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.get(19 - 3)?.to_string(), f.get(41 - 3)?.to_string()))
}

#[test]
fn scheduling_keywords_tune_lvsd_p_as_keepalived_its_vrrp_process() {
    let topo = Topo::new("tun");
    let dir = tempfile::tempdir().expect("tmp");
    let mut scripts = Vec::new();
    for who in ["lvsd", "keepalived"] {
        let out = dir.path().join(format!("{who}.stat"));
        let script = dir.path().join(format!("{who}.sh"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nread -r l < /proc/$$/stat\necho \"$l\" > {}\n",
                out.display()
            ),
        )
        .expect("script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        scripts.push((script, out));
    }
    let lvsd = Director::start(
        Kind::Lvsd,
        topo.director(0),
        &config(TUNED, 61, &scripts[0].0),
    );
    let keepalived = Director::start(
        Kind::Keepalived,
        topo.director(1),
        &config(TUNED, 62, &scripts[1].0),
    );

    // keepalived's VRRP child: SCHED_RR 50 on CPU 0, memory locked.
    let mut ka_vrrp = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ka_vrrp.is_none() && std::time::Instant::now() < deadline {
        ka_vrrp = children(keepalived.pid())
            .into_iter()
            .find(|c| read_back(*c, *c as i32).is_some_and(|(p, _, _, _)| p == "SCHED_RR"));
        std::thread::sleep(Duration::from_millis(200));
    }
    let ka_vrrp =
        ka_vrrp.unwrap_or_else(|| panic!("no real-time keepalived child\n{}", keepalived.log()));
    let (policy, rt, _, cpus) = read_back(ka_vrrp, ka_vrrp as i32).expect("keepalived child");
    assert_eq!((policy.as_str(), rt, cpus.as_str()), ("SCHED_RR", 50, "0"));
    assert!(
        locked_kb(ka_vrrp) > 0,
        "keepalived's VRRP child is not locked"
    );

    // lvsd -P is keepalived's VRRP process alone: every thread of it the
    // same (the full daemon's VRRP thread and checker threads: the UML test
    // `scheduling_keywords_tune_the_vrrp_thread_and_the_rest`).
    let pid = lvsd.pid();
    let vrrp_thread = pid as i32;
    let tuned = |tid: i32| {
        read_back(pid, tid)
            .is_some_and(|(p, rt, _, cpus)| p == "SCHED_RR" && rt == 50 && cpus == "0")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !tuned(vrrp_thread) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    for (tid, comm) in tasks(pid) {
        assert!(
            tuned(tid),
            "thread {tid} {comm}: {:?}\n{}",
            read_back(pid, tid),
            lvsd.log()
        );
    }
    assert!(locked_kb(pid) > 0, "lvsd is not locked:\n{}", lvsd.log());

    // Scripts from either run SCHED_OTHER at nice 0 (SCHED_RESET_ON_FORK).
    for (who, (_, out)) in ["lvsd", "keepalived"].iter().zip(&scripts) {
        let mut saw = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while saw.is_none() && std::time::Instant::now() < deadline {
            saw = script_saw(out);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            saw,
            Some(("0".to_string(), "0".to_string())),
            "{who}'s vrrp_script: (nice, policy)"
        );
    }

    // A reload without the keywords puts lvsd's threads back: the VRRP
    // thread at lvsd's default lead of 10 nice levels (lvsd's choice, see
    // VRRP_NICE_LEAD), on every CPU, memory unlocked.
    lvsd.reload(&config("", 61, &scripts[0].0));
    let back = || {
        let Some((policy, rt, nice, cpus)) = read_back(pid, vrrp_thread) else {
            return false;
        };
        policy == "SCHED_OTHER"
            && rt == 0
            && nice == -lvsd::daemon::tuning::VRRP_NICE_LEAD
            && cpus != "0"
            && locked_kb(pid) == 0
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !back() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(back(), "{:?}\n{}", read_back(pid, vrrp_thread), lvsd.log());
}
