//! Notify FIFOs and mail alerts side by side: the same keepalived.conf run by
//! keepalived 2.2.7 and by lvsd (`-P`) in a namespace, with a FIFO script that
//! appends every line it reads to a file and a real SMTP server (Python's
//! aiosmtpd, `Mailbox` handler) in the same namespace. The director goes
//! BACKUP → MASTER, FAULT (a track_file), BACKUP → MASTER, is reloaded
//! (`fifo_write_vrrp_states_on_reload`), then stops; the
//! lines each FIFO got and the mails (subject, from, to, body) must be the
//! same.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::harness::*;

const VIP: &str = "10.0.0.100";
const SMTP_PORT: u16 = 2525;

fn global(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "global_defs {{
  router_id lvsd_events
  script_user root
  enable_script_security
  vrrp_garp_master_delay 1
  fifo_write_vrrp_states_on_reload
  notify_fifo {d}/global.fifo
  notify_fifo_script {d}/global.sh
  vrrp_notify_fifo {d}/vrrp.fifo
  vrrp_notify_fifo_script {d}/vrrp.sh
  notification_email {{
    ops@example.com
    oncall@example.com
  }}
  notification_email_from lb@example.com
  smtp_server 127.0.0.1 {SMTP_PORT}
  smtp_helo_name lb.example.com
  smtp_connect_timeout 5
}}
track_file down {{
  file {d}/down
  weight 0
}}
"
    )
}

/// VI_1 (mails on) tracks `down`; VI_2 stays in FAULT (`down2`).
fn config(dir: &Path) -> String {
    let d = dir.display();
    global(dir)
        + &format!(
            "track_file down2 {{
  file {d}/down2
  weight 0
}}
vrrp_instance VI_2 {{
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority 100
  advert_int 1
  track_file {{
    down2
  }}
  virtual_ipaddress {{
    10.0.0.101/24
  }}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 1
  smtp_alert
  track_file {{
    down
  }}
  virtual_ipaddress {{
    {VIP}/24
  }}
}}
"
        )
}

/// Two instances in a sync group that tracks `down` (group mails on).
fn group_config(dir: &Path) -> String {
    global(dir)
        + &format!(
            "vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 1
  virtual_ipaddress {{
    {VIP}/24
  }}
}}
vrrp_instance VI_3 {{
  state BACKUP
  interface eth0
  virtual_router_id 63
  priority 120
  advert_int 1
  virtual_ipaddress {{
    10.0.0.103/24
  }}
}}
vrrp_sync_group G {{
  group {{
    VI_1
    VI_3
  }}
  track_file {{
    down
  }}
  smtp_alert
}}
"
        )
}

/// One script per FIFO: append each line to `<name>.lines`.
fn write_scripts(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["global", "vrrp"] {
        let path = dir.join(format!("{name}.sh"));
        let out = dir.join(format!("{name}.lines"));
        fs::write(
            &path,
            format!(
                "#!/bin/sh\nwhile read -r line; do echo \"$line\" >> {}; done < \"$1\"\n",
                out.display()
            ),
        )
        .expect("script");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Mail {
    subject: String,
    from: String,
    to: String,
    body: String,
}

/// The mails aiosmtpd's Mailbox handler stored (a maildir), sorted.
fn mails(maildir: &Path) -> Vec<Mail> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let text = fs::read_to_string(e.path()).unwrap_or_default();
            let text = text.replace("\r\n", "\n");
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .unwrap_or("")
                    .to_string()
            };
            out.push(Mail {
                subject: header("Subject"),
                from: header("From"),
                to: header("To"),
                body: body.trim_end().to_string(),
            });
        }
    }
    out.sort();
    out
}

struct Seen {
    global: Vec<String>,
    vrrp: Vec<String>,
    mails: Vec<Mail>,
    fifos_left: bool,
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn run(kind: Kind, name: &str, config: fn(&Path) -> String) -> Seen {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-events-{}-", std::process::id()))
        .tempdir()
        .expect("temp dir");
    let d = dir.path();
    write_scripts(d);
    fs::write(d.join("down"), "0\n").expect("track file");
    // VI_2 is in FAULT throughout: what a reload writes for it.
    fs::write(d.join("down2"), "1\n").expect("track file");
    let maildir = d.join("mail");
    let smtpd = ns
        .spawn_logged(
            &[
                // Debian's python3 (python3-aiosmtpd), whatever else is on PATH.
                "/usr/bin/python3",
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{SMTP_PORT}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
                &maildir.to_string_lossy(),
            ],
            d,
            "smtpd",
        )
        .expect("aiosmtpd");
    ns.wait_for_tcp_listener(SMTP_PORT, Duration::from_secs(10))
        .expect("aiosmtpd listens");
    let mut director = Director::start(kind, ns, &config(d));
    let long = Duration::from_secs(10);
    wait_for("MASTER", long, &[&director], || topo.holds(0, VIP));
    fs::write(d.join("down"), "1\n").expect("track file");
    wait_for("FAULT", long, &[&director], || !topo.holds(0, VIP));
    std::thread::sleep(Duration::from_millis(500));
    fs::write(d.join("down"), "0\n").expect("track file");
    wait_for("MASTER again", long, &[&director], || topo.holds(0, VIP));
    std::thread::sleep(Duration::from_millis(500));
    // A reload with the same file: the FIFOs are made again, their scripts
    // started again, and (fifo_write_vrrp_states_on_reload) the states written.
    let before = lines(&d.join("vrrp.lines")).len();
    director.signal(nix::sys::signal::Signal::SIGHUP);
    let reread = || lines(&d.join("vrrp.lines")).len() > before;
    wait_for(
        "the state written after the reload",
        long,
        &[&director],
        reread,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        director.stop(),
        "{kind:?} did not stop cleanly\n{}",
        director.log()
    );
    // The scripts append what is left; the mails arrive.
    std::thread::sleep(Duration::from_secs(2));
    let seen = Seen {
        global: lines(&d.join("global.lines")),
        vrrp: lines(&d.join("vrrp.lines")),
        mails: mails(&maildir),
        fifos_left: d.join("global.fifo").exists() || d.join("vrrp.fifo").exists(),
    };
    eprintln!(
        "{kind:?}: global FIFO {:?}\n vrrp FIFO {:?}\n mails {:#?}\n FIFOs left: {}",
        seen.global, seen.vrrp, seen.mails, seen.fifos_left
    );
    if seen.mails.is_empty() {
        let log = director.log();
        let smtp: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("SMTP") || l.contains("smtp"))
            .collect();
        eprintln!(
            "{kind:?}: no mail; its SMTP log lines: {smtp:#?}\naiosmtpd: {}",
            smtpd.logs()
        );
    }
    drop(smtpd);
    seen
}

/// One deliberate difference: at stop keepalived 2.2.7 first SIGTERMs its
/// scripts, the FIFO script too (vrrp_terminate_phase1: script_killall), and
/// then writes `STOP` to a FIFO nobody reads any more; its "Stopping" mail
/// is queued on the event loop it is tearing down and never sent. lvsd
/// writes the STOP line before closing the FIFO (the script reads it, then
/// EOF) and sends the mail, giving it a few seconds.
#[test]
fn notify_fifo_lines_and_mails_match_keepalived() {
    let theirs = run(Kind::Keepalived, "vek", config);
    let ours = run(Kind::Lvsd, "vel", config);
    assert!(
        !theirs.vrrp.is_empty() && !theirs.mails.is_empty(),
        "keepalived wrote nothing: the test is broken"
    );
    // Ours, without the STOP lines keepalived never delivers.
    let stops = |l: &[String]| {
        l.iter()
            .filter(|l| l.contains(" STOP "))
            .cloned()
            .collect::<Vec<_>>()
    };
    let without_stops = |l: &[String]| {
        l.iter()
            .filter(|l| !l.contains(" STOP "))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        without_stops(&ours.global),
        theirs.global,
        "global notify_fifo lines"
    );
    assert_eq!(
        without_stops(&ours.vrrp),
        theirs.vrrp,
        "vrrp_notify_fifo lines"
    );
    assert!(stops(&theirs.vrrp).is_empty());
    assert_eq!(
        stops(&ours.vrrp),
        ["INSTANCE \"VI_2\" STOP 100", "INSTANCE \"VI_1\" STOP 150"],
        "lvsd delivers the STOP lines"
    );
    let stopping = Mail {
        subject: "[lvsd_events] VRRP Instance VI_1 - Stopping".into(),
        from: "lb@example.com".into(),
        to: "ops@example.com, oncall@example.com".into(),
        body: "=> VRRP Instance stopping <=".into(),
    };
    let mut expected: Vec<Mail> = theirs.mails;
    expected.push(stopping);
    expected.sort();
    assert_eq!(ours.mails, expected, "mails");
    assert!(
        !ours.fifos_left && !theirs.fifos_left,
        "FIFOs made by the director are removed at stop"
    );
}

/// A sync group: `GROUP "G" ...` lines beside the instances' and the group's
/// mails. Each object's sequence of lines is keepalived's; the interleaving
/// differs where it is an artefact of keepalived's loops (at start it
/// notifies groups before instances; within one group transition it walks
/// the members in its own list order), and lvsd's STOP lines aside, as above
/// (instances, then the group, as keepalived's notify_shutdown writes them).
#[test]
fn sync_group_fifo_lines_and_mails_match_keepalived() {
    let theirs = run(Kind::Keepalived, "vgk", group_config);
    let ours = run(Kind::Lvsd, "vgl", group_config);
    assert!(
        theirs.vrrp.iter().any(|l| l.starts_with("GROUP")) && !theirs.mails.is_empty(),
        "keepalived wrote no group line: the test is broken"
    );
    // Per object (`GROUP "G"`, `INSTANCE "VI_1"`, ...): its lines in order.
    let per_object = |l: &[String]| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for line in l.iter().filter(|l| !l.contains(" STOP ")) {
            let object = line.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" ");
            m.entry(object).or_default().push(line.clone());
        }
        m
    };
    assert_eq!(
        per_object(&ours.vrrp),
        per_object(&theirs.vrrp),
        "vrrp_notify_fifo lines"
    );
    assert_eq!(
        per_object(&ours.global),
        per_object(&theirs.global),
        "global notify_fifo lines"
    );
    let stops: Vec<&String> = ours.vrrp.iter().filter(|l| l.contains(" STOP ")).collect();
    assert_eq!(
        stops,
        ["INSTANCE \"VI_1\" STOP 150", "INSTANCE \"VI_3\" STOP 120", "GROUP \"G\" STOP 0"],
        "lvsd delivers the STOP lines, instances then the group (keepalived's notify_shutdown order)"
    );
    assert_eq!(ours.vrrp.len(), theirs.vrrp.len() + 3);
    let ours_mails: Vec<&Mail> = ours
        .mails
        .iter()
        .filter(|m| !m.subject.ends_with(" - Stopping"))
        .collect();
    let theirs_mails: Vec<&Mail> = theirs.mails.iter().collect();
    assert_eq!(ours_mails, theirs_mails, "mails");
}

/// `notify_master_rx_lower_pri`, `notify_priority_changes` and
/// `notify_deleted`, side by side: VI_1 is master and hears a lower priority
/// master (a peer that cannot hear it: VI_1 sends its unicast adverts to an
/// address nobody has), its priority moves with a track_file, and a reload
/// removes VI_2 (notify_deleted with a script) and VI_3 (without: FAULT).
fn notes_config(dir: &Path, with_removed: bool) -> String {
    let d = dir.display();
    let removed = format!(
        "vrrp_instance VI_2 {{
  state BACKUP
  interface eth0
  virtual_router_id 72
  priority 100
  advert_int 1
  notify_deleted {d}/deleted.sh
  notify {d}/notify.sh
  virtual_ipaddress {{
    10.0.0.102/24
  }}
}}
vrrp_instance VI_3 {{
  state BACKUP
  interface eth0
  virtual_router_id 73
  priority 100
  advert_int 1
  notify {d}/notify.sh
  virtual_ipaddress {{
    10.0.0.103/24
  }}
}}
"
    );
    format!(
        "global_defs {{
  router_id lvsd_notes
  script_user root
  enable_script_security
  vrrp_notify_fifo {d}/vrrp.fifo
  vrrp_notify_fifo_script {d}/vrrp.sh
}}
track_file prio {{
  file {d}/prio
  weight -2
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 71
  priority 150
  advert_int 1
  unicast_src_ip 10.0.0.1
  unicast_peer {{
    10.0.0.250
  }}
  notify_priority_changes
  notify_master_rx_lower_pri {d}/lower.sh
  track_file {{
    prio
  }}
  virtual_ipaddress {{
    {VIP}/24
  }}
}}
{}",
        if with_removed { removed } else { String::new() }
    )
}

/// The lower priority master in the other namespace (lvsd in both runs).
const LOWER_PEER: &str = "global_defs {
  router_id lower_peer
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 71
  priority 50
  advert_int 1
  unicast_src_ip 10.0.0.2
  unicast_peer {
    10.0.0.1
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
}
";

struct Notes {
    fifo: Vec<String>,
    lower_runs: usize,
    deleted: Vec<String>,
    notify: Vec<String>,
}

fn run_notes(kind: Kind, name: &str) -> Notes {
    use std::os::unix::fs::PermissionsExt;
    let topo = Topo::new(name);
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-notes-{}-", std::process::id()))
        .tempdir()
        .expect("temp dir");
    let d = dir.path();
    write_scripts(d);
    for (script, out) in [
        ("lower.sh", "lower.lines"),
        ("deleted.sh", "deleted.lines"),
        ("notify.sh", "notify.lines"),
    ] {
        let path = d.join(script);
        fs::write(
            &path,
            format!("#!/bin/sh\necho \"$*\" >> {}\n", d.join(out).display()),
        )
        .expect("script");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    fs::write(d.join("prio"), "0\n").expect("track file");
    let mut peer = Director::start(Kind::Lvsd, topo.director(1), LOWER_PEER);
    let mut director = Director::start(kind, topo.director(0), &notes_config(d, true));
    let long = Duration::from_secs(10);
    wait_for("MASTER", long, &[&director, &peer], || topo.holds(0, VIP));
    wait_for(
        "notify_master_rx_lower_pri run",
        long,
        &[&director, &peer],
        || !lines(&d.join("lower.lines")).is_empty(),
    );
    let fifo_has = |what: &str| {
        lines(&d.join("vrrp.lines"))
            .iter()
            .any(|l| l.contains(what))
    };
    // 5 × -2: the effective priority goes from 150 to 140.
    fs::write(d.join("prio"), "5\n").expect("track file");
    wait_for("MASTER_PRIORITY", long, &[&director], || {
        fifo_has("MASTER_PRIORITY")
    });
    wait_for("VI_2 and VI_3 master", long, &[&director], || {
        topo.holds(0, "10.0.0.102") && topo.holds(0, "10.0.0.103")
    });
    director.reload(&notes_config(d, false));
    wait_for("VI_2 and VI_3 removed", long, &[&director], || {
        !topo.holds(0, "10.0.0.102") && !topo.holds(0, "10.0.0.103")
    });
    wait_for("the deleted script", long, &[&director], || {
        !lines(&d.join("deleted.lines")).is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    // The reload made the FIFO again; its script appends from then on.
    assert!(
        director.stop(),
        "{kind:?} did not stop cleanly\n{}",
        director.log()
    );
    assert!(peer.stop());
    std::thread::sleep(Duration::from_secs(1));
    let notes = Notes {
        fifo: lines(&d.join("vrrp.lines")),
        lower_runs: lines(&d.join("lower.lines")).len(),
        deleted: lines(&d.join("deleted.lines")),
        notify: lines(&d.join("notify.lines")),
    };
    eprintln!(
        "{kind:?}: FIFO {:?}\n lower script runs {}\n deleted script {:?}\n notify {:?}",
        notes.fifo, notes.lower_runs, notes.deleted, notes.notify
    );
    notes
}

#[test]
fn lower_priority_priority_change_and_deleted_notifies_match_keepalived() {
    let theirs = run_notes(Kind::Keepalived, "vnk");
    let ours = run_notes(Kind::Lvsd, "vnl");
    // Timing decides how many lower priority adverts each heard, so each
    // object's lines are compared with repeats of MASTER_RX_LOWER_PRI folded.
    let folded = |l: &[String]| {
        let mut out: Vec<String> = Vec::new();
        for line in l.iter().filter(|l| !l.contains(" STOP ")) {
            if line.contains("MASTER_RX_LOWER_PRI") && out.last() == Some(line) {
                continue;
            }
            out.push(line.clone());
        }
        out
    };
    assert!(
        theirs
            .fifo
            .iter()
            .any(|l| l.contains("MASTER_RX_LOWER_PRI")),
        "keepalived wrote no MASTER_RX_LOWER_PRI line: the test is broken"
    );
    let per_object = |l: &[String]| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for line in folded(l) {
            let object = line.splitn(3, ' ').take(2).collect::<Vec<_>>().join(" ");
            m.entry(object).or_default().push(line);
        }
        m
    };
    // One deliberate difference: keepalived 2.2.7's reload rebuilds VI_1,
    // re-applies its track_file to the new copy before the copy takes the
    // old state, and so reports an unchanged priority as changed, with the
    // wrong state word (BACKUP_PRIORITY while MASTER). lvsd keeps the
    // instance and reports real changes only.
    let artefact = "INSTANCE \"VI_1\" BACKUP_PRIORITY 140".to_string();
    assert!(
        theirs.fifo.contains(&artefact),
        "keepalived changed: {:?}",
        theirs.fifo
    );
    let theirs_fifo: Vec<String> = theirs
        .fifo
        .iter()
        .filter(|l| **l != artefact)
        .cloned()
        .collect();
    assert_eq!(
        per_object(&ours.fifo),
        per_object(&theirs_fifo),
        "FIFO lines"
    );
    assert!(ours.lower_runs >= 1 && theirs.lower_runs >= 1);
    assert_eq!(
        ours.deleted, theirs.deleted,
        "notify_deleted script arguments"
    );
    let sorted = |l: &[String]| {
        let mut v: Vec<String> = l
            .iter()
            .filter(|l| !l.contains(" STOP "))
            .cloned()
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&ours.notify),
        sorted(&theirs.notify),
        "notify script calls"
    );
}

/// Gratuitous ARPs while master after adverts of lower priority
/// (`vrrp_garp_lower_prio_repeat`, `vrrp_garp_lower_prio_delay`), spaced by
/// `vrrp_garp_interval`, side by side: the same lower priority peer as above,
/// the director's outgoing ARPs captured for a few seconds.
fn garp_config(dir: &Path) -> String {
    notes_config(dir, false).replace(
        "global_defs {\n",
        "global_defs {
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
  vrrp_garp_interval 0.2
  vrrp_garp_lower_prio_repeat 2
  vrrp_garp_lower_prio_delay 3
",
    )
}

/// Epoch times of the director's gratuitous ARPs for the VIP.
fn garps(dump: &str) -> Vec<f64> {
    dump.lines()
        // `who-has VIP (ff:ff:ff:ff:ff:ff) tell VIP, length 28`
        .filter(|l| l.contains(&format!("who-has {VIP} ")) && l.contains(&format!("tell {VIP},")))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn run_garps(kind: Kind, name: &str) -> Vec<f64> {
    let topo = Topo::new(name);
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-garp-{}-", std::process::id()))
        .tempdir()
        .expect("temp dir");
    let d = dir.path();
    write_scripts(d);
    fs::write(d.join("lower.sh"), "#!/bin/sh\n").expect("script");
    fs::write(d.join("prio"), "0\n").expect("track file");
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(d.join("lower.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let dump = Recorder::start(
        topo.director(0),
        &[
            "tcpdump", "-tt", "-n", "-l", "-Q", "out", "-i", "eth0", "arp",
        ],
        d.join("dump"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut director = Director::start(kind, topo.director(0), &garp_config(d));
    wait_for("MASTER", Duration::from_secs(10), &[&director], || {
        topo.holds(0, VIP)
    });
    let mut peer = Director::start(Kind::Lvsd, topo.director(1), LOWER_PEER);
    // The peer is master after its down timer (~3.8 s), then advertises
    // every second: some of its adverts and the bursts 3 s after them.
    std::thread::sleep(Duration::from_secs(10));
    assert!(peer.stop());
    assert!(director.stop(), "{kind:?}\n{}", director.log());
    let times = garps(&dump.finish());
    eprintln!("{kind:?}: {} gratuitous ARPs at {times:?}", times.len());
    times
}

#[test]
fn lower_priority_garps_and_their_spacing_match_keepalived() {
    let theirs = run_garps(Kind::Keepalived, "vak");
    let ours = run_garps(Kind::Lvsd, "val");
    let min_gap = |t: &[f64]| {
        t.windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min)
    };
    // Without lower priority adverts there would be one (garp_master_repeat 1).
    assert!(
        theirs.len() >= 8,
        "keepalived sent {} GARPs: the test is broken",
        theirs.len()
    );
    // The same schedule, give or take the peer's timing (an advert more or less).
    let (a, b) = (ours.len() as f64, theirs.len() as f64);
    assert!(
        (a - b).abs() <= 0.25 * b + 2.0,
        "lvsd {a} GARPs, keepalived {b}"
    );
    // vrrp_garp_interval 0.2: never closer (tcpdump's clock: a little slack).
    assert!(min_gap(&theirs) >= 0.18, "keepalived: {theirs:?}");
    assert!(min_gap(&ours) >= 0.18, "lvsd: {ours:?}");
}

/// A VIP on a second interface (`dev eth1`) with `garp_extra_if all 1`:
/// its gratuitous ARPs must leave from eth1 with eth1's MAC (lvsd used to
/// send every VIP's from the instance's interface, so neighbours on the
/// other segment kept the old master's MAC), at the takeover and then once
/// a second, as keepalived 2.2.7 sends them.
fn extra_if_config(all: bool) -> String {
    format!(
        "global_defs {{
  router_id lvsd_extra_if
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 74
  priority 150
  advert_int 1
  garp_extra_if {}1
  virtual_ipaddress {{
    {VIP}/24
    10.1.0.100/24 dev eth1
  }}
}}
",
        if all { "all " } else { "" }
    )
}

/// (epoch time, source MAC) of each ARP the director sent on eth1 for
/// 10.1.0.100, and eth1's own MAC.
fn run_extra_if(kind: Kind, name: &str, all: bool) -> (Vec<(f64, String)>, String) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    for argv in [
        &[
            "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ][..],
        &["ip", "addr", "add", "10.1.0.1/24", "dev", "eth1"],
        &["ip", "link", "set", "eth1p", "up"],
        &["ip", "link", "set", "eth1", "up"],
    ] {
        ns.run(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    }
    let mac = ns
        .run(&["cat", "/sys/class/net/eth1/address"])
        .expect("eth1's MAC")
        .trim()
        .to_string();
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-extra-if-{}-", std::process::id()))
        .tempdir()
        .expect("temp dir");
    let dump = Recorder::start(
        ns,
        &[
            "tcpdump", "-tt", "-n", "-e", "-l", "-Q", "out", "-i", "eth1", "arp",
        ],
        dir.path().join("dump"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut director = Director::start(kind, ns, &extra_if_config(all));
    wait_for("MASTER", Duration::from_secs(10), &[&director], || {
        topo.holds(0, "10.1.0.100")
    });
    std::thread::sleep(Duration::from_millis(5_500));
    assert!(director.stop(), "{kind:?}\n{}", director.log());
    let sent = dump
        .finish()
        .lines()
        // `T SRC > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42:
        //  Request who-has 10.1.0.100 (ff:ff:ff:ff:ff:ff) tell 10.1.0.100, length 28`
        .filter(|l| l.contains("who-has 10.1.0.100 ") && l.contains("tell 10.1.0.100,"))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.to_string()))
        })
        .collect::<Vec<_>>();
    eprintln!("{kind:?} (all: {all}): eth1 is {mac}, sent {sent:?}");
    (sent, mac)
}

#[test]
fn garps_of_a_vip_on_another_interface_and_garp_extra_if_match_keepalived() {
    for all in [true, false] {
        let (theirs, their_mac) =
            run_extra_if(Kind::Keepalived, if all { "xak" } else { "xbk" }, all);
        let (ours, our_mac) = run_extra_if(Kind::Lvsd, if all { "xal" } else { "xbl" }, all);
        // Every one from eth1's own MAC.
        assert!(
            theirs.iter().all(|(_, m)| *m == their_mac),
            "keepalived: {theirs:?}"
        );
        assert!(ours.iter().all(|(_, m)| *m == our_mac), "lvsd: {ours:?}");
        if all {
            // The takeover's one, then one a second for 5.5 s.
            assert!(
                theirs.len() >= 5,
                "keepalived sent {theirs:?}: the test is broken"
            );
            let (a, b) = (ours.len() as i64, theirs.len() as i64);
            assert!((a - b).abs() <= 1, "lvsd {ours:?}, keepalived {theirs:?}");
        } else {
            // Without `all` only VMACs get the periodic ones: the takeover's only.
            assert_eq!(theirs.len(), 1, "keepalived: {theirs:?}");
            assert_eq!(ours.len(), 1, "lvsd: {ours:?}");
        }
    }
}
