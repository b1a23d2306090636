//! keepalived 2.2.7's command line on `lvsd run` and on lvsd invoked as
//! `keepalived`: every option of `keepalived --help` parses, `-S` logs to a
//! syslog socket with the facility asked for (also through a real rsyslogd's
//! `local0.*` rule), and `-t` exits as keepalived does on the same configurations
//! (both programs are run).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use lvsd::cli::Cli;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

/// One option line of `keepalived --help`: short and long names, and whether it takes
/// a value (`=FILE`, `=MASK`, a separate ` id`) or an optional one (`[=LOG_FILE]`).
#[derive(Debug)]
struct HelpOption {
    short: Option<String>,
    long: String,
    value: Value,
}

#[derive(Debug, PartialEq)]
enum Value {
    None,
    Required,
    Optional,
}

fn keepalived_help_options() -> Vec<HelpOption> {
    let out = Command::new("keepalived")
        .arg("--help")
        .output()
        .expect("run keepalived --help (tests/run.sh installs keepalived)");
    // keepalived 2.2.7 prints its usage on stderr.
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let mut options = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        let spec = t.split("  ").next().unwrap_or_default();
        let (short, rest) = match spec.strip_prefix('-') {
            Some(r) if !r.starts_with('-') => {
                let (s, rest) = r.split_once(", ").unwrap_or((r, ""));
                (Some(format!("-{s}")), rest)
            }
            _ => (None, spec),
        };
        let long_end = rest.find(['=', '[', ' ']).unwrap_or(rest.len());
        let long = rest[..long_end].to_string();
        let tail = &rest[long_end..];
        let value = if tail.starts_with("[=") {
            Value::Optional
        } else if tail.starts_with('=') || tail.starts_with(' ') {
            Value::Required
        } else {
            Value::None
        };
        assert!(long.starts_with("--"), "unparsed help line: {line}");
        // The help says `=PATN`, but keepalived's getopt string has "M::": the value is
        // optional (`keepalived -M /tmp/x` answers "Unexpected argument(s): /tmp/x").
        let value = if long == "--core-dump-pattern" {
            Value::Optional
        } else {
            value
        };
        options.push(HelpOption { short, long, value });
    }
    options
}

/// A value each option accepts (facility 0, umask 022, a name elsewhere).
fn sample_value(long: &str) -> &'static str {
    match long {
        "--log-facility" => "0",
        "--umask" => "022",
        "--signum" => "RELOAD",
        _ => "/tmp/x",
    }
}

fn parses(args: &[String]) -> Result<(), String> {
    let mut argv = vec!["lvsd".to_string(), "run".to_string()];
    argv.extend(args.iter().cloned());
    match Cli::try_parse_from(&argv) {
        Ok(_) => Ok(()),
        // --help is an option too: clap answers it with its help, not a parse.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => Ok(()),
        Err(e) => Err(format!("{argv:?}: {e}")),
    }
}

#[test]
fn every_option_of_keepalived_help_parses() {
    let options = keepalived_help_options();
    assert!(
        options.len() >= 30,
        "too few options read from keepalived --help: {options:?}"
    );
    let mut failures = Vec::new();
    for o in &options {
        let mut forms: Vec<Vec<String>> = Vec::new();
        let v = sample_value(&o.long).to_string();
        match o.value {
            Value::None => {
                forms.push(vec![o.long.clone()]);
                if let Some(s) = &o.short {
                    forms.push(vec![s.clone()]);
                }
            }
            Value::Required => {
                forms.push(vec![o.long.clone(), v.clone()]);
                forms.push(vec![format!("{}={v}", o.long)]);
                if let Some(s) = &o.short {
                    forms.push(vec![s.clone(), v.clone()]);
                }
            }
            Value::Optional => {
                forms.push(vec![o.long.clone()]);
                forms.push(vec![format!("{}={v}", o.long)]);
                if let Some(s) = &o.short {
                    forms.push(vec![s.clone()]);
                }
            }
        }
        for f in forms {
            if let Err(e) = parses(&f) {
                failures.push(e);
            }
        }
    }
    // Not in Debian's build's help (it lacks --enable-log-file), but in keepalived's source.
    for extra in [
        &["-g"][..],
        &["--log-file=/tmp/k.log"],
        &["--flush-log-file"],
    ] {
        let f: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if let Err(e) = parses(&f) {
            failures.push(e);
        }
    }
    // A user's KEEPALIVED_OPTIONS, and a repeated -f (the last wins, as with getopt).
    for line in [
        "-D -d -S 0",
        "-D -D -l -S local7 -G",
        "-f /etc/a.conf -f /etc/b.conf",
        "-P -V -I -X -R -n -a -m -M -e",
    ] {
        let f: Vec<String> = line.split(' ').map(str::to_string).collect();
        if let Err(e) = parses(&f) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "options lvsd run rejects:\n{}",
        failures.join("\n")
    );
}

/// Receives datagrams on a socket of the test's own, standing in for /dev/log.
struct FakeSyslog {
    _dir: tempfile::TempDir,
    path: PathBuf,
    socket: UnixDatagram,
}

impl FakeSyslog {
    fn new() -> FakeSyslog {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let socket = UnixDatagram::bind(&path).expect("bind the syslog socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        FakeSyslog {
            _dir: dir,
            path,
            socket,
        }
    }

    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

/// `lvsd run ARGS -B -P -f MISSING`: -B draws a warning notice, then the VRRP core fails to
/// load the missing file and lvsd exits; nothing is started. Returns syslog lines and stderr.
fn run_logging(args: &[&str]) -> (Vec<String>, String) {
    let syslog = FakeSyslog::new();
    let out = Command::new(LVSD)
        .arg("run")
        .args(args)
        .args(["-B", "-P", "-f", "/nonexistent/lvsd-test.conf"])
        .env("LVSD_SYSLOG_SOCKET", &syslog.path)
        .env_remove("RUST_LOG")
        .output()
        .expect("run lvsd");
    assert!(
        !out.status.success(),
        "lvsd run on a missing file succeeded"
    );
    (
        syslog.lines(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn syslog_lines_carry_the_facility() {
    // -S facility -> facility code (local0 = 16, daemon = 3, user = 1); the notice is a
    // warning (severity 4), so PRI = facility * 8 + 4.
    for (arg, pri) in [
        ("0", 132),
        ("local3", 156),
        ("7", 188),
        ("daemon", 28),
        ("user", 12),
    ] {
        let (lines, stderr) = run_logging(&["-S", arg]);
        let notice = lines
            .iter()
            .find(|l| l.contains("no_bfd"))
            .unwrap_or_else(|| panic!("-S {arg}: no notice in syslog: {lines:?}"));
        let expected = format!("<{pri}>lvsd[");
        assert!(
            notice.starts_with(&expected),
            "-S {arg}: {notice:?} does not start with {expected}"
        );
        // Without -l, the log goes to syslog only.
        assert!(
            !stderr.contains("no_bfd"),
            "-S {arg} also logged to stderr: {stderr}"
        );
    }
}

#[test]
fn syslog_is_off_by_default_and_with_g_and_console_with_l() {
    let (lines, stderr) = run_logging(&[]);
    assert!(lines.is_empty(), "logged to syslog without -S: {lines:?}");
    assert!(stderr.contains("no_bfd"), "no notice on stderr: {stderr}");

    let (lines, stderr) = run_logging(&["-S", "0", "-G"]);
    assert!(lines.is_empty(), "-G still logged to syslog: {lines:?}");
    assert!(
        stderr.contains("no_bfd"),
        "-G: no notice on stderr: {stderr}"
    );

    let (lines, stderr) = run_logging(&["-S", "0", "-l"]);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<132>") && l.contains("no_bfd")),
        "{lines:?}"
    );
    assert!(
        stderr.contains("no_bfd"),
        "-l: no notice on stderr: {stderr}"
    );
}

/// Configurations keepalived 2.2.7 and lvsd must judge alike with `-t`.
const CONFIGS: &[(&str, &str)] = &[
    (
        "good",
        "virtual_server 192.0.2.10 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n \
         real_server 192.0.2.21 80 {\n  TCP_CHECK {\n   connect_timeout 3\n  }\n }\n}\n",
    ),
    ("unknown_keyword", "global_defs {\n    bogus_keyword 1\n}\n"),
    (
        "unclosed_block",
        "virtual_server 192.0.2.10 80 {\n lb_algo rr\n real_server 192.0.2.21 80 {\n",
    ),
    (
        "vrid_out_of_range",
        "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 300\n priority 100\n}\n",
    ),
    (
        "no_such_interface",
        "vrrp_instance VI_1 {\n interface nosuchif0\n virtual_router_id 5\n priority 100\n \
         virtual_ipaddress {\n  192.0.2.10\n }\n}\n",
    ),
];

fn exit_code(program: &Path, conf: &Path) -> Option<i32> {
    Command::new(program)
        .args(["-t", "-f"])
        .arg(conf)
        .output()
        .expect("run -t")
        .status
        .code()
}

#[test]
fn config_test_exit_codes_equal_keepalived() {
    let dir = tempfile::tempdir().expect("tempdir");
    // lvsd invoked as `keepalived`, through a symlink of that name.
    let as_keepalived = dir.path().join("keepalived");
    std::os::unix::fs::symlink(LVSD, &as_keepalived).expect("symlink");
    let keepalived = PathBuf::from("keepalived");
    let mut cases: Vec<(String, PathBuf)> = CONFIGS
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(format!("{name}.conf"));
            std::fs::write(&path, text).expect("write config");
            (name.to_string(), path)
        })
        .collect();
    cases.push(("missing_file".into(), dir.path().join("missing.conf")));
    let mut report = Vec::new();
    for (name, path) in &cases {
        let theirs = exit_code(&keepalived, path);
        let ours = exit_code(&as_keepalived, path);
        report.push(format!("{name}: keepalived {theirs:?}, lvsd {ours:?}"));
        assert_eq!(ours, theirs, "{}", report.join("\n"));
    }
    // The statuses this compares are really different ones.
    assert!(
        report.iter().any(|r| r.contains("keepalived Some(0)")),
        "{report:?}"
    );
    assert!(
        report.iter().any(|r| r.contains("keepalived Some(5)")),
        "{report:?}"
    );

    // A bad option: keepalived exits 1.
    let bad = |p: &Path| {
        Command::new(p)
            .arg("--no-such-option")
            .output()
            .expect("run")
            .status
            .code()
    };
    assert_eq!(bad(&as_keepalived), bad(&keepalived));
}

#[test]
fn signum_prints_keepalived_numbers() {
    for (func, n) in [("STOP", "15"), ("RELOAD", "1"), ("DATA", "10")] {
        let theirs = Command::new("keepalived")
            .arg(format!("--signum={func}"))
            .output()
            .expect("keepalived");
        let ours = Command::new(LVSD)
            .args(["run", "--signum", func])
            .output()
            .expect("lvsd");
        assert_eq!(String::from_utf8_lossy(&theirs.stdout).trim(), n);
        assert_eq!(String::from_utf8_lossy(&ours.stdout).trim(), n);
    }
}

#[test]
fn repeated_options_as_getopt_last_f_wins_and_d_counts() {
    let cli = Cli::try_parse_from(["lvsd", "run", "-f", "/a.conf", "-D", "-D", "-f", "/b.conf"])
        .expect("parses");
    let lvsd::cli::Command::Run(run) = cli.command else {
        panic!("not run")
    };
    assert_eq!(run.use_file, PathBuf::from("/b.conf"));
    assert_eq!(run.log_detail, 2);
}

/// keepalived 2.2.7 -t exits 6 (CONFIG_SECURITY_ERROR, the worst status wins) when the
/// configuration runs a script and enable_script_security is off, whether or not the
/// script is insecure ("SECURITY VIOLATION - check scripts are being executed but
/// script_security not enabled."); an unused vrrp_script, or a script that is not
/// there, does not count.
#[test]
fn config_test_security_status_equals_keepalived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let as_keepalived = dir.path().join("keepalived");
    std::os::unix::fs::symlink(LVSD, &as_keepalived).expect("symlink");
    let misc = |path: &str| {
        format!(
            "virtual_server 192.0.2.10 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n \
             real_server 192.0.2.21 80 {{\n  MISC_CHECK {{\n   misc_path \"{path}\"\n  }}\n }}\n}}\n"
        )
    };
    let cases = [
        ("misc_check", misc("/bin/true"), Some(6)),
        (
            "misc_check_missing_script",
            misc("/nonexistent/check.sh"),
            None,
        ),
        (
            "unused_vrrp_script",
            "vrrp_script chk {\n    script \"/bin/true\"\n}\n".to_string(),
            Some(0),
        ),
    ];
    for (name, text, expected) in cases {
        let conf = dir.path().join(format!("{name}.conf"));
        std::fs::write(&conf, text).expect("write config");
        let theirs = exit_code(Path::new("keepalived"), &conf);
        if let Some(e) = expected {
            assert_eq!(theirs, Some(e), "{name}: keepalived");
        }
        assert_eq!(exit_code(&as_keepalived, &conf), theirs, "{name}");
    }
}

/// A VRRP-only configuration for the namespace of
/// [`rsyslog_local0_rule_gets_lvsd_lines_with_keepalived_options`]: a backup on `v0`
/// that logs `(VI_1) Entering BACKUP STATE` at once and needs no IPVS.
const VRRP_ONLY_CONF: &str = "vrrp_instance VI_1 {\n  state BACKUP\n  interface v0\n  \
    virtual_router_id 51\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    \
    192.0.2.10/24\n  }\n}\n";

/// The real rsyslogd, with its own configuration, pid file, work directory and socket
/// (never /dev/log; the system's rsyslog, if any, is not touched).
struct Rsyslogd {
    _guard: testbed::process::ProcessGuard,
    socket: PathBuf,
    local0_file: PathBuf,
    all_file: PathBuf,
}

impl Rsyslogd {
    fn start(dir: &Path) -> Rsyslogd {
        let socket = dir.join("log.sock");
        let local0_file = dir.join("keepalived.log");
        let all_file = dir.join("all.log");
        let work = dir.join("rsyslog-work");
        std::fs::create_dir(&work).expect("rsyslog work directory");
        // The user's rule first: rsyslog evaluates the rules in order for each message.
        let conf = format!(
            "global(workDirectory=\"{work}\")\n\
             module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{socket}\" CreatePath=\"on\")\n\
             local0.* {local0}\n\
             *.* {all}\n",
            work = work.display(),
            socket = socket.display(),
            local0 = local0_file.display(),
            all = all_file.display(),
        );
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).expect("write rsyslog.conf");
        let mut cmd = Command::new("rsyslogd");
        cmd.arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"));
        let mut guard = testbed::process::ProcessGuard::spawn_logged(cmd, dir, "rsyslogd")
            .expect("start rsyslogd (tests/run.sh installs rsyslog)");
        let s = socket.clone();
        guard
            .wait_ready("rsyslogd's socket", Duration::from_secs(20), |_| s.exists())
            .unwrap_or_else(|e| panic!("{e}"));
        Rsyslogd {
            _guard: guard,
            socket,
            local0_file,
            all_file,
        }
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Issue #18: a keepalived host runs `keepalived -D -d -S 0` (KEEPALIVED_OPTIONS) with
/// the rsyslog rule `local0.* /var/log/keepalived.log`; lvsd with the same options, as
/// `lvsd run` and through a `keepalived` symlink, must land its lines in that rule's
/// file, and `-S 1` (local1) lines must not. The real rsyslogd receives them.
#[test]
fn rsyslog_local0_rule_gets_lvsd_lines_with_keepalived_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsyslog = Rsyslogd::start(dir.path());
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, VRRP_ONLY_CONF).expect("write config");
    let as_keepalived = dir.path().join("keepalived");
    std::os::unix::fs::symlink(LVSD, &as_keepalived).expect("symlink");
    let lvsd = PathBuf::from(LVSD);

    // A namespace of the test's own, with an interface and an address for VI_1.
    let ns = testbed::netns::Netns::new("rsyslog").expect("netns");
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"])
        .expect("veth");
    ns.ip(&["addr", "add", "10.99.0.1/24", "dev", "v0"])
        .expect("address");
    for link in ["v0", "v1"] {
        ns.ip(&["link", "set", link, "up"]).expect("link up");
    }

    // Runs PROGRAM ARGS -f CONF in the namespace until `line` from its pid is in `file`.
    let run_until_logged = |name: &str, program: &Path, args: &[&str], file: &Path, line: &str| {
        let mut argv = vec![program.to_string_lossy().into_owned()];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv.extend(["-f".to_string(), conf.to_string_lossy().into_owned()]);
        let mut cmd = ns.command(&argv[0]);
        cmd.args(&argv[1..])
            .env("LVSD_SYSLOG_SOCKET", &rsyslog.socket)
            .env_remove("RUST_LOG");
        let mut guard = testbed::process::ProcessGuard::spawn_logged(cmd, dir.path(), name)
            .expect("spawn lvsd");
        let tag = format!("lvsd[{}]:", guard.pid());
        let waited = guard.wait_ready(
            &format!("{line:?} from {tag} in {}", file.display()),
            Duration::from_secs(30),
            |_| {
                read_log(file)
                    .lines()
                    .any(|l| l.contains(&tag) && l.contains(line))
            },
        );
        if let Err(e) = waited {
            panic!(
                "{e}\n--- {} ---\n{}\n--- {} ---\n{}",
                rsyslog.local0_file.display(),
                read_log(&rsyslog.local0_file),
                rsyslog.all_file.display(),
                read_log(&rsyslog.all_file)
            );
        }
        guard.kill();
        tag
    };

    // -S 1 first: everything after it in the local0 file was processed after its lines.
    let local1 = run_until_logged(
        "lvsd-S1",
        &lvsd,
        &["run", "-D", "-d", "-S", "1", "-P"],
        &rsyslog.all_file,
        "(VI_1) Entering BACKUP STATE",
    );
    // The user's options, on `lvsd run` and on lvsd as `keepalived`. -P: this machine's
    // kernel may have no IPVS, which the checker side needs.
    let run = run_until_logged(
        "lvsd-run",
        &lvsd,
        &["run", "-D", "-d", "-S", "0", "-P"],
        &rsyslog.local0_file,
        "(VI_1) Entering BACKUP STATE",
    );
    let symlink = run_until_logged(
        "keepalived-symlink",
        &as_keepalived,
        &["-D", "-d", "-S", "0", "-P"],
        &rsyslog.local0_file,
        "(VI_1) Entering BACKUP STATE",
    );
    // Exactly KEEPALIVED_OPTIONS, without -P: the startup lines, logged before IPVS is
    // needed (here lvsd may then exit for want of IPVS; on a director it runs on).
    let exact = run_until_logged(
        "keepalived-exact",
        &as_keepalived,
        &["-D", "-d", "-S", "0"],
        &rsyslog.local0_file,
        "configuration loaded",
    );

    let local0_log = read_log(&rsyslog.local0_file);
    for tag in [&run, &symlink, &exact] {
        // -d: the configuration dump goes the same way.
        assert!(
            local0_log
                .lines()
                .any(|l| l.contains(tag.as_str()) && l.contains("------< configuration")),
            "no -d dump from {tag} in the local0 file:\n{local0_log}"
        );
    }
    assert!(
        !local0_log.contains(local1.as_str()),
        "-S 1 lines ({local1}) in the local0 file:\n{local0_log}"
    );
    assert!(
        read_log(&rsyslog.all_file).contains(run.as_str()),
        "local0 lines are missing from *.*"
    );
}
