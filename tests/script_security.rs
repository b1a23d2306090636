//! Load-time vetting of the scripts lvsd runs (src/script_security.rs), with
//! keepalived 2.2.7's rules: missing or non-executable scripts are disabled;
//! scripts run as root that a non-root user can modify are disabled under
//! enable_script_security, else they run with a warning. Needs root (CI runs
//! as root): the scripts run as root only then.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use lvsd::config::{load_str, ConfigOptions};
use lvsd::script_security::Vetting;

fn translated(text: &str) -> lvsd::daemon::prepare::Prepared {
    let opts = ConfigOptions {
        config_id: Some("t".into()),
        check_interfaces: false,
        follow_includes: false,
    };
    let loaded =
        load_str(Path::new("/t.conf"), text, &opts).unwrap_or_else(|d| panic!("{}", d.render()));
    lvsd::daemon::prepare::prepare(loaded.config).expect("translates")
}

fn script(dir: &Path, name: &str, mode: u32) -> String {
    let p = dir.join(name);
    std::fs::write(&p, "#!/bin/sh\nexit 0\n").expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    p.display().to_string()
}

fn config(security: bool, good: &str, insecure: &str, missing: &str) -> String {
    format!(
        "global_defs {{\n    script_user root\n{}}}\n\
         vrrp_script ok {{\n    script \"{good}\"\n}}\n\
         vrrp_script bad {{\n    script \"{insecure}\"\n}}\n\
         vrrp_instance VI_1 {{\n    interface lo\n    virtual_router_id 9\n    virtual_ipaddress {{\n        10.9.9.9\n    }}\n\
         track_script {{\n        ok\n        bad\n    }}\n    notify_master \"{insecure} master\"\n    notify_backup \"{missing}\"\n    notify_fault \"{good} fault\"\n}}\n\
         virtual_server 10.0.0.1 80 {{\n    protocol TCP\n    quorum_up \"{missing}\"\n    quorum_down \"{good}\"\n\
         real_server 10.0.0.2 80 {{\n        notify_up \"{insecure} up\"\n        notify_down \"{good} down\"\n    }}\n}}\n",
        if security { "    enable_script_security\n" } else { "" }
    )
}

#[test]
fn scripts_are_vetted_as_keepalived_vets_them() {
    if !nix::unistd::geteuid().is_root() {
        panic!("this test needs root (scripts are checked as the root they would run as)");
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    let good = script(dir.path(), "good.sh", 0o755);
    let insecure = script(dir.path(), "insecure.sh", 0o777);
    let missing = dir.path().join("missing.sh").display().to_string();

    // enable_script_security: the insecure and the missing scripts are disabled.
    let mut t = translated(&config(true, &good, &insecure, &missing));
    let mut v = Vetting::new(t.vrrp.script_security);
    v.vrrp(&mut t.vrrp);
    v.director(&mut t.director, t.script_user.as_ref());
    let names: Vec<&str> = t.vrrp.scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ok"], "{:?}", v.notes);
    let i = &t.vrrp.instances[0];
    assert_eq!(
        i.tracks.len(),
        1,
        "the insecure script is untracked: {:?}",
        i.tracks
    );
    assert!(
        i.notify.master.is_none() && i.notify.backup.is_none(),
        "{:?}",
        i.notify
    );
    assert!(i.notify.fault.is_some());
    let vs = &t.director.virtual_servers[0];
    assert!(vs.quorum_up.is_none() && vs.quorum_down.is_some());
    let rs = &vs.real_servers[0];
    assert!(rs.notify_up.is_none() && rs.notify_down.is_some());
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("disabling vrrp_script bad") && n.contains("writable by everyone")),
        "{:?}",
        v.notes
    );
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("quorum_up") && n.contains("not found")),
        "{:?}",
        v.notes
    );
    assert_eq!(v.closing_warning(), None);

    // Without it: only the missing scripts are disabled; the insecure ones run,
    // and the closing warning says so.
    let mut t = translated(&config(false, &good, &insecure, &missing));
    let mut v = Vetting::new(t.vrrp.script_security);
    v.vrrp(&mut t.vrrp);
    v.director(&mut t.director, t.script_user.as_ref());
    assert_eq!(t.vrrp.scripts.len(), 2);
    let i = &t.vrrp.instances[0];
    assert!(i.notify.master.is_some() && i.notify.backup.is_none());
    assert!(t.director.virtual_servers[0].real_servers[0]
        .notify_up
        .is_some());
    let w = v.closing_warning().expect("a security warning");
    assert!(
        w.contains("enable_script_security is off") && w.contains("other than root"),
        "{w}"
    );
}

/// keepalived vets the notify FIFO scripts too: a missing one is not
/// started (its FIFO is still made); an insecure one only under
/// enable_script_security.
#[test]
fn notify_fifo_scripts_are_vetted() {
    if !nix::unistd::geteuid().is_root() {
        panic!("this test needs root (scripts are checked as the root they would run as)");
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    let good = script(dir.path(), "good.sh", 0o755);
    let insecure = script(dir.path(), "insecure.sh", 0o777);
    let missing = dir.path().join("missing.sh").display().to_string();
    let conf = |security: bool| {
        format!(
            "global_defs {{\n    script_user root\n{}    notify_fifo /tmp/g.fifo\n    notify_fifo_script {good}\n\
             vrrp_notify_fifo /tmp/v.fifo\n    vrrp_notify_fifo_script {insecure}\n\
             lvs_notify_fifo /tmp/l.fifo\n    lvs_notify_fifo_script {missing}\n}}\n",
            if security { "    enable_script_security\n" } else { "" }
        )
    };
    for security in [true, false] {
        let mut t = translated(&conf(security));
        let mut v = Vetting::new(security);
        v.events(&mut t.events);
        let e = &t.events;
        assert!(e.notify_fifo.as_ref().is_some_and(|f| f.script.is_some()));
        assert_eq!(
            e.vrrp_notify_fifo
                .as_ref()
                .is_some_and(|f| f.script.is_some()),
            !security,
            "insecure script, enable_script_security {security}"
        );
        assert!(e
            .lvs_notify_fifo
            .as_ref()
            .is_some_and(|f| f.script.is_none()));
    }
}
