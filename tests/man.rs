//! The man pages and completions `lvsd generate` writes (what the Debian package ships):
//! every page renders without a groff warning, lvsd(8) names every subcommand, and the
//! completion scripts are valid shell.

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

fn generate(what: &str, dir: &Path) {
    let out = Command::new(LVSD)
        .args(["generate", what])
        .arg(dir)
        .output()
        .expect("run lvsd generate");
    assert!(
        out.status.success(),
        "lvsd generate {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Renders a page as man(1) does (preconv for UTF-8 input, then groff -man), with all
/// warnings on; returns the text and groff's complaints.
fn render(page: &Path) -> (String, String) {
    let out = Command::new("groff")
        // -P-cbou: plain text, no escape sequences or overstriking for bold and underline.
        .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run groff (groff-base)");
    assert!(out.status.success(), "groff failed on {}", page.display());
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn man_pages_render_and_name_every_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate("man", dir.path());
    let subcommands: Vec<String> = lvsd::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    assert!(subcommands.len() >= 5, "{subcommands:?}");
    let mut pages = vec!["lvsd.8".to_string(), "lvsd-keepalived.conf.5".to_string()];
    pages.extend(subcommands.iter().map(|s| format!("lvsd-{s}.8")));
    for page in &pages {
        let (text, warnings) = render(&dir.path().join(page));
        assert!(warnings.is_empty(), "{page}: groff warnings:\n{warnings}");
        assert!(text.contains("NAME"), "{page} has no NAME section:\n{text}");
    }
    let (top, _) = render(&dir.path().join("lvsd.8"));
    // groff may hyphenate at a line end; compare without hyphens and line breaks.
    let flat: String = top.replace(['\u{2010}', '-', '\n', ' '], "");
    for s in &subcommands {
        let name = format!("lvsd{}(8)", s.replace('-', ""));
        assert!(
            flat.contains(&name),
            "lvsd(8) does not name lvsd-{s}(8):\n{top}"
        );
    }
    let (run, _) = render(&dir.path().join("lvsd-run.8"));
    for opt in ["--log-facility", "--dump-conf", "--config-test"] {
        assert!(
            run.replace(['\u{2010}', '\n'], "").contains(opt) || run.contains(opt),
            "lvsd-run(8) lacks {opt}"
        );
    }
    let (compat, _) = render(&dir.path().join("lvsd-keepalived.conf.5"));
    for word in [
        "KEYWORDS",
        "DELIBERATE DIFFERENCES",
        "virtual_server",
        "vrrp_instance",
    ] {
        assert!(
            compat.contains(word),
            "lvsd-keepalived.conf(5) lacks {word}"
        );
    }
}

#[test]
fn completions_are_valid_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate("completions", dir.path());
    for f in ["lvsd", "_lvsd", "lvsd.fish"] {
        let text = std::fs::read_to_string(dir.path().join(f)).expect("completion file");
        assert!(
            text.contains("check-config"),
            "{f} does not complete check-config"
        );
    }
    let bash = Command::new("bash")
        .arg("-n")
        .arg(dir.path().join("lvsd"))
        .status()
        .expect("bash");
    assert!(bash.success(), "bash -n rejects the bash completion");
}
