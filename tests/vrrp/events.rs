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
