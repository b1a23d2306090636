//! `vrrp_track_process` side by side with keepalived 2.2.7. keepalived hears
//! of forks and exits through the kernel's process connector, which exists
//! only in the initial network namespace (in any other it stays in FAULT:
//! "Failed to set/clear process event listen"), so both directors run
//! there, on a veth pair the test makes and removes (their adverts go
//! nowhere else), one after the other. The tracked process is a copy of
//! `sleep` with a name of the test's own; it is killed and started again:
//! FAULT and back to MASTER, in the same notify sequence.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::Kind;
use crate::process::ProcessGuard;
use crate::wait::wait_until;

/// The veth pair in the initial namespace, removed on drop.
struct Veth(String);

impl Veth {
    fn new(name: &str) -> Veth {
        let ip = |args: &[&str]| {
            let ok = Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?}");
        };
        let peer = format!("{name}p");
        let _ = Command::new("ip").args(["link", "del", name]).status();
        ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
        let v = Veth(name.to_string());
        ip(&["link", "set", name, "up"]);
        ip(&["link", "set", &peer, "up"]);
        ip(&["addr", "add", "10.231.0.1/24", "dev", name]);
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

fn states(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|s| *s != "STOP")
        .map(str::to_string)
        .collect()
}

fn run(kind: Kind, veth: &str, tracked: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let out = d.join("states");
    let script = d.join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$3\" >> {}\n", out.display()),
    )
    .expect("script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let name = tracked.file_name().and_then(|n| n.to_str()).expect("name");
    let conf = format!(
        "global_defs {{\n  router_id track_process_test\n  script_user root\n  enable_script_security\n}}\n\
         vrrp_track_process chk {{\n  process {name}\n  quorum 1\n}}\n\
         vrrp_instance VI_TP {{\n  state MASTER\n  interface {veth}\n  virtual_router_id 231\n  priority 150\n  advert_int 1\n\
           notify {}\n  track_process {{\n    chk\n  }}\n  virtual_ipaddress {{\n    10.231.0.100/24\n  }}\n}}\n",
        script.display()
    );
    let conf_path = d.join("keepalived.conf");
    std::fs::write(&conf_path, conf).expect("conf");
    let start_tracked = || {
        let mut c = Command::new(tracked);
        c.arg("1000").stdout(Stdio::null()).stderr(Stdio::null());
        ProcessGuard::spawn(c).expect("tracked process")
    };
    let mut process = start_tracked();
    let mut director = match kind {
        Kind::Lvsd => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_lvsd"));
            c.args(["run", "-P", "-n", "-l", "-D", "-f"])
                .arg(&conf_path);
            c.arg("--vrrp-state-file").arg(d.join("state.json"));
            ProcessGuard::spawn_logged(c, d, "lvsd").expect("lvsd")
        }
        Kind::Keepalived => {
            let mut c = Command::new("keepalived");
            c.args(["-n", "-l", "-D", "-P", "-f"]).arg(&conf_path);
            c.arg("-p")
                .arg(d.join("k.pid"))
                .arg("-r")
                .arg(d.join("v.pid"));
            ProcessGuard::spawn_logged(c, d, "keepalived").expect("keepalived")
        }
    };
    let long = Duration::from_secs(15);
    let reached = |want: &str| {
        let last = states(&out).last().cloned();
        last.as_deref() == Some(want)
    };
    let logs = |g: &ProcessGuard| g.logs();
    wait_until("MASTER", long, || reached("MASTER"))
        .unwrap_or_else(|_| panic!("{kind:?}: MASTER {:?}\n{}", states(&out), logs(&director)));
    process.kill();
    wait_until("FAULT", long, || reached("FAULT"))
        .unwrap_or_else(|_| panic!("{kind:?}: FAULT {:?}\n{}", states(&out), logs(&director)));
    std::thread::sleep(Duration::from_millis(500));
    let _again = start_tracked();
    wait_until("MASTER again", long, || reached("MASTER")).unwrap_or_else(|_| {
        panic!(
            "{kind:?}: MASTER again {:?}\n{}",
            states(&out),
            logs(&director)
        )
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(director.pid()).unwrap_or(i32::MAX)),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = director.wait_timeout(Duration::from_secs(10));
    states(&out)
}

#[test]
fn track_process_faults_and_recovers_as_keepalived() {
    let veth = Veth::new("lvtp0");
    // A name of our own (comm holds 15 characters at most).
    let dir = tempfile::tempdir().expect("tmp");
    let tracked = dir
        .path()
        .join(format!("lvtp{}", std::process::id() % 100_000));
    std::fs::copy("/bin/sleep", &tracked).expect("copy sleep");
    let theirs = run(Kind::Keepalived, &veth.0, &tracked);
    let ours = run(Kind::Lvsd, &veth.0, &tracked);
    assert_eq!(
        theirs,
        ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"],
        "keepalived"
    );
    assert_eq!(ours, theirs, "lvsd against keepalived");
}
