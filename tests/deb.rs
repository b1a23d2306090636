//! The Debian package (deploy/debian/build-deb.sh, cargo-deb): lintian-clean, installs
//! with dpkg on this machine, works installed, and `dpkg --purge` leaves nothing.
//!
//! Heavy and root-only: it changes the machine's package database. It never starts a
//! service (a policy-rc.d denying every start is in place while the package is on the
//! machine; the package's scripts do not start lvsd anyway), refuses to run if an lvsd
//! package is installed already, and purges the package even when an assertion fails.
//! tests/run.sh builds the .deb once before `cargo test`; this test builds it itself
//! only when it is missing (or LVSD_DEB names another one).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const POLICY_RC: &str = "/usr/sbin/policy-rc.d";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The .deb: LVSD_DEB, else the newest in $CARGO_TARGET_DIR/debian (built when missing).
fn deb() -> PathBuf {
    if let Some(p) = std::env::var_os("LVSD_DEB") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let version = env!("CARGO_PKG_VERSION");
    let found = std::fs::read_dir(target.join("debian"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("lvsd_{version}-")) && n.ends_with(".deb"))
        });
    if let Some(p) = found {
        return p;
    }
    let out = Command::new(repo().join("deploy/debian/build-deb.sh"))
        .output()
        .expect("run build-deb.sh");
    assert!(out.status.success(), "build-deb.sh failed:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("build-deb.sh prints the .deb")
            .trim(),
    )
}

/// While alive: a policy-rc.d that forbids starting services (unless one was there), and
/// the lvsd package purged on drop.
struct Installed {
    added_policy: bool,
}

impl Installed {
    fn new(deb: &Path) -> Installed {
        let added_policy = !Path::new(POLICY_RC).exists();
        if added_policy {
            std::fs::write(
                POLICY_RC,
                "#!/bin/sh\n# tests/deb.rs: no service starts\nexit 101\n",
            )
            .expect("write policy-rc.d");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(POLICY_RC, std::fs::Permissions::from_mode(0o755))
                .expect("chmod policy-rc.d");
        }
        let guard = Installed { added_policy };
        let out = Command::new("dpkg")
            .arg("-i")
            .arg(deb)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("dpkg -i");
        assert!(out.status.success(), "dpkg -i failed:\n{}", text(&out));
        guard
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "lvsd"]);
        if self.added_policy {
            let _ = std::fs::remove_file(POLICY_RC);
        }
    }
}

fn installed() -> bool {
    run("dpkg-query", &["-W", "-f=${Status}", "lvsd"])
        .stdout
        .ends_with(b" installed")
}

#[test]
fn debian_package_installs_works_and_purges_clean() {
    assert!(nix::unistd::geteuid().is_root(), "needs root (dpkg)");
    assert!(
        !installed(),
        "an lvsd package is installed on this machine already; this test will not touch it"
    );
    let deb = deb();

    // Lintian: clean; every remaining tag is overridden in deploy/debian/lintian-overrides.
    let lint = run(
        "lintian",
        &[
            "--fail-on",
            "error,warning",
            "--no-tag-display-limit",
            deb.to_str().expect("utf-8 path"),
        ],
    );
    assert!(lint.status.success(), "lintian:\n{}", text(&lint));

    let contents = text(&run("dpkg-deb", &["-c", deb.to_str().expect("utf-8 path")]));
    // No debug info in the shipped binary.
    let info = text(&run("dpkg-deb", &["-I", deb.to_str().expect("utf-8 path")]));
    assert!(info.contains("Package: lvsd"), "{info}");

    let files: Vec<PathBuf>;
    {
        let _guard = Installed::new(&deb);
        files = String::from_utf8_lossy(&run("dpkg", &["-L", "lvsd"]).stdout)
            .lines()
            .map(PathBuf::from)
            .collect();

        let version = run("/usr/sbin/lvsd", &["--version"]);
        assert!(version.status.success() && text(&version).contains(env!("CARGO_PKG_VERSION")));
        let file = run("file", &["-L", "/usr/sbin/lvsd"]);
        if file.status.success() {
            let f = text(&file);
            assert!(f.contains("stripped") && !f.contains("not stripped"), "{f}");
            assert!(!f.contains("with debug_info"), "{f}");
        }

        for example in [
            "dr-master.conf",
            "dr-backup.conf",
            "nat-master.conf",
            "nat-backup.conf",
        ] {
            let path = format!("/usr/share/doc/lvsd/examples/{example}");
            let check = run("/usr/sbin/lvsd", &["check-config", "-f", &path]);
            assert!(
                check.status.success(),
                "check-config {path}:\n{}",
                text(&check)
            );
            // And through the keepalived name: keepalived's own -t status on the same
            // file (5 where the example's interfaces are missing on this machine).
            let ours = run("/usr/lib/lvsd/keepalived", &["-t", "-f", &path]);
            let theirs = run("keepalived", &["-t", "-f", &path]);
            assert_eq!(
                ours.status.code(),
                theirs.status.code(),
                "keepalived -t {path}: lvsd:\n{}\nkeepalived:\n{}",
                text(&ours),
                text(&theirs)
            );
        }

        let verify = run(
            "systemd-analyze",
            &["verify", "/lib/systemd/system/lvsd.service"],
        );
        assert!(
            verify.status.success() && text(&verify).trim().is_empty(),
            "systemd-analyze verify:\n{}",
            text(&verify)
        );

        for page in ["lvsd", "lvsd-run", "lvsd-check-config"] {
            let w = run("man", &["-w", page]);
            assert!(w.status.success(), "man -w {page}: {}", text(&w));
        }
        let w = run("man", &["-w", "5", "lvsd-keepalived.conf"]);
        assert!(
            w.status.success(),
            "man -w 5 lvsd-keepalived.conf: {}",
            text(&w)
        );

        for f in [
            "/usr/share/bash-completion/completions/lvsd",
            "/usr/share/zsh/vendor-completions/_lvsd",
            "/usr/share/fish/vendor_completions.d/lvsd.fish",
            "/lib/systemd/system/lvsd.service",
        ] {
            assert!(Path::new(f).is_file(), "{f} not installed");
        }
        // genhash under its own name, beside keepalived's /usr/bin/genhash.
        let genhash = run("/usr/lib/lvsd/genhash", &["--help"]);
        assert!(text(&genhash).contains("Usage:"), "{}", text(&genhash));
        if Path::new("/usr/bin/genhash").exists() {
            let owner = text(&run("dpkg", &["-S", "/usr/bin/genhash"]));
            assert!(!owner.contains("lvsd"), "{owner}");
        }
        // Not enabled, not started.
        assert!(!Path::new("/etc/systemd/system/multi-user.target.wants/lvsd.service").exists());
    }

    // Purged: not installed, every file it shipped gone, nothing in /etc.
    assert!(!installed(), "lvsd still installed after purge");
    let left: Vec<&PathBuf> = files
        .iter()
        // Directories (and /lib, a symlink to one on merged-/usr systems) are shared.
        .filter(|p| p.symlink_metadata().is_ok() && !p.metadata().is_ok_and(|m| m.is_dir()))
        .collect();
    assert!(left.is_empty(), "left behind after purge: {left:?}");
    for dir in ["/usr/lib/lvsd", "/usr/share/doc/lvsd", "/etc/lvsd"] {
        assert!(!Path::new(dir).exists(), "{dir} left behind after purge");
    }
    let etc = run("find", &["/etc", "-name", "*lvsd*"]);
    assert!(
        String::from_utf8_lossy(&etc.stdout).trim().is_empty(),
        "in /etc after purge:\n{}",
        text(&etc)
    );
    assert!(contents.contains("./usr/sbin/lvsd"), "{contents}");
}
