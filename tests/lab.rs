//! The lab (deploy/lab) in the UML test bed: two directors (VRRP + IPVS DR)
//! in front of two real nginx servers, a client, all in network namespaces
//! inside the guest; the master crashes and the backup carries the traffic.

use testbed::uml::{Uml, UmlOutput};

const GUEST_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/lab/guest.sh");

/// Runs `guest.sh demo` with `subject` on both directors and checks what
/// the client saw: round robin over rs1 and rs2 before and after the
/// failover, and a bounded number of failed requests in between.
fn lab_demo(subject: &str) -> UmlOutput {
    lab_demo_pair(subject, subject)
}

/// [`lab_demo`] with `dir1` (the master) and `dir2` (the backup) running
/// different programs.
fn lab_demo_pair(dir1: &str, dir2: &str) -> UmlOutput {
    let out = Uml::new()
        .env("LAB_SUBJECT", dir1)
        .env("LAB_SUBJECT_DIR2", dir2)
        .run(GUEST_SH, &["demo"])
        .expect("guest ran");
    println!("{}", out.stdout);
    out.assert_success();
    let answers: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("lab: answers:"))
        .collect();
    assert_eq!(answers.len(), 2, "{}", out.report());
    for line in answers {
        assert!(line.contains("rs1") && line.contains("rs2"), "{line}");
    }
    let (ok, failed) = failover_counts(&out.stdout).unwrap_or_else(|| panic!("{}", out.report()));
    assert!(ok >= 20, "{}", out.report());
    // One request every 0.1 s with a 1 s deadline; VRRP takes over within
    // 3 adverts + skew (~3.6 s): a few dozen failures at most.
    assert!(failed <= 40, "{failed} failed requests\n{}", out.report());
    assert!(out.stdout.contains("lab: demo passed"), "{}", out.report());
    out
}

/// Parses "lab: requests during the failover: N ok, M failed".
fn failover_counts(stdout: &str) -> Option<(u32, u32)> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("lab: requests during the failover: "))?;
    let (ok, failed) = line.split_once(" ok, ")?;
    Some((
        ok.parse().ok()?,
        failed.strip_suffix(" failed")?.parse().ok()?,
    ))
}

#[test]
fn lab_demo_with_keepalived_in_the_guest() {
    lab_demo("keepalived -n -l -D -G");
}

#[test]
fn lab_demo_with_lvsd_in_the_guest() {
    let lvsd = env!("CARGO_BIN_EXE_lvsd");
    let out = lab_demo(&format!("{lvsd} run -n -l -D"));
    // lvsd's own view of the new master: both real servers up.
    assert!(
        out.stdout.contains("lab: dir2 lvsd status:"),
        "{}",
        out.report()
    );
}

/// A mixed pair: keepalived 2.2.7 is the master, lvsd the backup; lvsd
/// takes over from the crashed keepalived and carries the traffic.
#[test]
fn lab_demo_with_keepalived_master_and_lvsd_backup() {
    let lvsd = env!("CARGO_BIN_EXE_lvsd");
    let out = lab_demo_pair("keepalived -n -l -D -G", &format!("{lvsd} run -n -l -D"));
    assert!(
        out.stdout.contains("lab: dir2 lvsd status:"),
        "{}",
        out.report()
    );
}

#[test]
fn failover_counts_parse() {
    assert_eq!(
        failover_counts("x\nlab: requests during the failover: 57 ok, 12 failed\n"),
        Some((57, 12))
    );
    assert_eq!(failover_counts("lab: demo passed"), None);
}

const SEEDS_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/lab/seeds.sh");
const SEED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/seed-configs");

/// The "seed NAME service: LINE" lines of seeds.sh's output, in order.
fn seed_services(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("seed "))
        .filter_map(|l| l.split_once(" service: "))
        .map(|(name, line)| (name.to_owned(), line.trim_end().to_owned()))
        .collect()
}

/// Every LVS seed config (../shared/seed-configs with a virtual_server)
/// started by keepalived 2.2.7 in a namespace with the seed's interfaces
/// and addresses: the virtual servers it programs, read back with ipvsadm.
/// This pins down what the seeds mean in the kernel, for the lvsd run below.
#[test]
fn seed_configs_run_in_the_lab_with_keepalived() {
    let out = Uml::new()
        .env("LAB_SUBJECT", "keepalived -n -l -D -G")
        .run(SEEDS_SH, &[SEED_DIR])
        .expect("guest ran");
    println!("{}", out.stdout);
    out.assert_success();
    let services = seed_services(&out.stdout);
    let expected = [
        ("lvs-dr-backup", "TCP  192.168.1.200:80 wrr persistent 50"),
        ("lvs-dr-backup", "TCP  192.168.1.200:443 rr"),
        ("lvs-dr-master", "TCP  192.168.1.200:80 wrr persistent 50"),
        ("lvs-dr-master", "TCP  192.168.1.200:443 rr"),
        ("lvs-nat-tomcat", "TCP  10.10.0.100:8080 wlc"),
        ("lvs-tun", "TCP  10.20.0.100:80 mh"),
        ("lvs-tun", "UDP  10.20.0.100:53 sh"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, l)| (n.to_string(), l.to_string()))
        .collect();
    assert_eq!(services, expected, "{}", out.report());
}

/// The "seed NAME table: LINE" lines of seeds.sh's output, trailing blanks cut.
fn seed_tables(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("seed ") && l.contains(" table: "))
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// Every LVS seed config run by `lvsd run` in the lab programs the same
/// table (services, flags, real servers, forwarding, weights) as keepalived
/// 2.2.7 does with the same seed, in the same boot.
#[test]
fn seed_configs_run_in_the_lab_with_lvsd_as_with_keepalived() {
    let (keepalived, lvsd, report) = under_keepalived_and_lvsd(SEED_DIR);
    let want = seed_tables(&keepalived);
    assert!(!want.is_empty(), "{report}");
    assert_eq!(seed_tables(&lvsd), want, "{report}");
}

/// Starts every config of `dir` under keepalived 2.2.7, then under `lvsd run`,
/// in one UML boot (deploy/lab/seeds.sh): keepalived's output, lvsd's, and
/// the guest's report for assertion messages.
fn under_keepalived_and_lvsd(dir: &str) -> (String, String, String) {
    let lvsd = env!("CARGO_BIN_EXE_lvsd");
    let script = format!(
        "LAB_SUBJECT='keepalived -n -l -D -G' {seeds} {dir} || echo 'keepalived run failed'\n\
         echo '=== lvsd'\n\
         LAB_SUBJECT='{lvsd} run -n -l -D' {seeds} {dir}\n",
        seeds = testbed::uml::sh_quote(SEEDS_SH),
        dir = testbed::uml::sh_quote(dir),
    );
    let out = Uml::new().run_script(&script).expect("guest ran");
    println!("{}", out.stdout);
    out.assert_success();
    let report = out.report();
    let (keepalived, lvsd) = out
        .stdout
        .split_once("=== lvsd\n")
        .unwrap_or_else(|| panic!("{report}"));
    assert!(!keepalived.contains("keepalived run failed"), "{report}");
    (keepalived.to_owned(), lvsd.to_owned(), report)
}

const FALLBACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config/fallbacks");

/// The configurations lvsd used to refuse (or, for the no-break-space one, read
/// differently) that keepalived 2.2.7 runs with a logged fallback: `lb_kind dr`,
/// `lb_algo loadbalance`, `persistence_timeout 0`, a block left open at the end of the
/// file, lines indented with U+00A0. Each is started under keepalived and under
/// `lvsd run` in one boot; both program the same IPVS table, line for line, and that
/// table is keepalived's fallback (pinned below, so a change on either side shows).
#[test]
fn fallback_configs_program_the_same_table_under_keepalived_and_lvsd() {
    let (keepalived, lvsd, report) = under_keepalived_and_lvsd(FALLBACK_DIR);
    let want = seed_tables(&keepalived);
    assert_eq!(seed_tables(&lvsd), want, "{report}");
    let services = seed_services(&keepalived);
    let expected = [
        ("lb_algo_unknown", "TCP  10.32.0.100:80 wlc"),
        ("lb_kind_lower_case", "TCP  10.31.0.100:80 rr"),
        ("nbsp_indented", "TCP  10.35.0.100:80 wlc"),
        ("persistence_timeout_zero", "TCP  10.33.0.100:443 sh"),
        ("real_server_weights", "TCP  10.36.0.100:80 wrr"),
        ("unclosed_at_eof", "TCP  10.34.0.100:80 wrr"),
        ("unclosed_at_eof", "UDP  10.34.0.101:80 rr"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, l)| (n.to_string(), l.to_string()))
        .collect();
    assert_eq!(services, expected, "{report}");
    // The forwarding methods keepalived falls back on: NAT (Masq) for `dr` and for the
    // no-break-space line; the DR, TUN and NAT of the others as written.
    for (name, method) in [
        ("lb_kind_lower_case", "Masq"),
        ("nbsp_indented", "Masq"),
        ("lb_algo_unknown", "Route"),
        ("persistence_timeout_zero", "Route"),
        ("unclosed_at_eof", "Tunnel"),
    ] {
        assert!(
            want.iter()
                .any(|l| l.starts_with(&format!("seed {name} table:")) && l.contains(method)),
            "{name}: no {method} real server in keepalived's table\n{}",
            report
        );
    }
    // keepalived's weights: 70000 as written, 5 for "5x", 1 (the default) for an
    // out-of-range one.
    for (server, weight) in [
        ("10.36.0.11:80", "70000"),
        ("10.36.0.12:80", "5"),
        ("10.36.0.13:80", "1"),
    ] {
        assert!(
            want.iter()
                .any(|l| l.contains(server) && l.split_whitespace().nth(6) == Some(weight)),
            "{server}: not weight {weight} in keepalived's table\n{}",
            report
        );
    }
}

/// Every shell script under deploy/ parses with the shell its first line
/// names (the benchmarks are not run by the tests, so this is their check).
#[test]
fn deploy_scripts_parse() {
    let mut checked = 0;
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read deploy/") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("sh") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read script");
            let first = text.lines().next().unwrap_or_default();
            let shell = if first.contains("bash") {
                "bash"
            } else if first == "#!/bin/sh" {
                "sh"
            } else {
                panic!("{}: no #!/bin/sh or bash first line", path.display());
            };
            let status = std::process::Command::new(shell)
                .arg("-n")
                .arg(&path)
                .status()
                .expect("run the shell");
            assert!(
                status.success(),
                "{} does not parse with {shell}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} scripts found");
}

/// `lab.sh --mixed` (guest.sh migrate): the README's upgrade from keepalived to lvsd,
/// one director at a time, and the rollback, under a client's traffic: each step
/// leaves the VIP where the README says, and few requests fail over the whole run.
#[test]
fn lab_migration_and_rollback_one_director_at_a_time() {
    let lvsd = env!("CARGO_BIN_EXE_lvsd");
    let out = Uml::new()
        .env("LAB_LVSD", format!("{lvsd} run -n -l -D"))
        .run(GUEST_SH, &["migrate"])
        .expect("guest ran");
    println!("{}", out.stdout);
    out.assert_success();
    for step in [
        "lab: step 1:",
        "lab: step 2:",
        "lab: step 3:",
        "lab: rollback 1:",
        "lab: rollback 2:",
        "lab: rollback 3:",
        "lab: dir2 lvsd status:",
        "lab: dir1 lvsd status:",
        "lab: migration passed",
    ] {
        assert!(out.stdout.contains(step), "no '{step}'\n{}", out.report());
    }
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("lab: requests during the migration and rollback: "))
        .unwrap_or_else(|| panic!("{}", out.report()));
    let failed: u32 = line
        .split_once(" ok, ")
        .and_then(|(_, f)| f.strip_suffix(" failed")?.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    // Two graceful hand-overs (priority 0: the backup takes over at once) and two
    // preemptions: a few failed requests each at most.
    assert!(failed <= 40, "{failed} failed requests\n{}", out.report());
}

const BGP_GUEST_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/lab/bgp-guest.sh");

/// `lab.sh --bgp` (bgp-guest.sh demo, issue #17): three lvsd directors
/// announce the VIP through BIRD to a router's ECMP; connections spread
/// over all three; a crashed director's route leaves the router within the
/// BFD time and no flow of the others breaks; a graceful stop fails no
/// request; both rejoin and carry connections again.
#[test]
fn bgp_lab_spreads_survives_a_crash_and_a_graceful_stop_and_rejoins() {
    let lvsd = env!("CARGO_BIN_EXE_lvsd");
    let out = Uml::new()
        .env("LAB_SUBJECT", format!("{lvsd} run -n -l -D"))
        .mem_mib(768)
        .timeout(std::time::Duration::from_secs(600))
        .run(BGP_GUEST_SH, &["demo"])
        .expect("guest ran");
    println!("{}", out.stdout);
    out.assert_success();
    assert!(
        out.stdout.contains("lab: BGP demo passed"),
        "{}",
        out.report()
    );
    let figure = |name: &str| -> String {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("figure: {name} ")))
            .unwrap_or_else(|| panic!("no figure {name}\n{}", out.report()))
            .to_owned()
    };
    let withdraw: f64 = figure("crash-withdraw-seconds")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(withdraw <= 2.0, "crash withdraw {withdraw} s");
    assert_eq!(figure("graceful-stop-failed-requests"), "0");
    // "dir1=b/t dir2=b/t ...": no flow of a surviving director broke.
    let broken = figure("flows-broken-by-director");
    for entry in broken.split_whitespace() {
        let Some((name, counts)) = entry.split_once('=') else {
            panic!("{broken}")
        };
        if name == "dir1" || name == "dir2" {
            assert!(counts.starts_with("0/"), "{broken}");
        }
    }
}
