//! The rest of keepalived 2.2.7's command line for `lvsd run` (flattened into
//! [`RunArgs`](super::run::RunArgs)), and lvsd invoked as `keepalived`.
//!
//! Each option means what it means to keepalived where that has a meaning for
//! one lvsd process; the others (BFD, SNMP, child processes, memory checks) are
//! accepted with a one-line notice so that existing units and
//! `/etc/default/keepalived` option files keep working.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, FromArgMatches};

use super::run::RunArgs;
use crate::config::{self, ConfigOptions, Problem};
use crate::daemon::logging::{Facility, LogOptions};

/// keepalived's `-t` exit statuses (lib/scheduler.h, measured with keepalived 2.2.7).
pub mod exit {
    /// The configuration is fine (also keepalived's answer for a missing file).
    pub const CONFIG_OK: u8 = 0;
    /// A bad command-line option.
    pub const BAD_OPTION: u8 = 1;
    /// Errors or warnings in the configuration (KEEPALIVED_CHK_EXIT_CONFIG_TEST).
    pub const CONFIG_TEST: u8 = 5;
    /// Scripts would run but enable_script_security is off (KEEPALIVED_CHK_EXIT_CONFIG_TEST_SECURITY).
    pub const SECURITY: u8 = 6;
}

/// The programs of every script the configuration runs: each `ScriptCommand` in the
/// model (notify scripts, MISC_CHECK, fifo, start-up and shut-down scripts), found
/// through its serialized form (an object of exactly command, user and group), and the
/// `vrrp_script`s some `track_script` uses (keepalived skips unused ones).
fn scripts_run(config: &config::Config) -> Vec<String> {
    fn walk(v: &serde_json::Value, top: bool, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                let is_script = m.len() == 3
                    && m.contains_key("command")
                    && m.contains_key("user")
                    && m.contains_key("group");
                if is_script {
                    if let Some(command) = m.get("command").and_then(|c| c.as_str()) {
                        out.extend(program(command));
                    }
                    return;
                }
                for (k, x) in m {
                    if !(top && k == "vrrp_scripts") {
                        walk(x, false, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, false, out)),
            _ => {}
        }
    }
    fn program(command: &str) -> Option<String> {
        config::ScriptCommand {
            command: command.to_string(),
            user: None,
            group: None,
        }
        .argv()
        .into_iter()
        .next()
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(config) {
        walk(&v, true, &mut out);
    }
    let tracked: Vec<&str> = config
        .vrrp_instances
        .iter()
        .flat_map(|i| i.track_scripts.iter())
        .chain(
            config
                .vrrp_sync_groups
                .iter()
                .flat_map(|g| g.track_scripts.iter()),
        )
        .map(|t| t.name.as_str())
        .collect();
    for s in &config.vrrp_scripts {
        if tracked.contains(&s.name.as_str()) {
            out.extend(program(&s.script.command));
        }
    }
    out
}

/// Whether keepalived would find this program: a path, or a name on PATH.
fn found(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&search).any(|d| d.join(program).is_file())
}

#[derive(Debug, Default, Args)]
pub struct KeepalivedOptions {
    /// Log to syslog (the local socket /dev/log) with facility LOG_LOCAL0-7 (0-7 or
    /// local0-local7), user or daemon, instead of stderr (add -l to keep stderr too).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY")]
    pub log_facility: Option<String>,
    /// Don't log via syslog (undoes -S).
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,
    /// Also append log lines to FILE (default keepalived.log, in the working directory).
    #[arg(short = 'g', long = "log-file", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "keepalived.log")]
    pub log_file: Option<PathBuf>,
    /// Accepted for compatibility: lvsd's log file is written line by line.
    #[arg(long = "flush-log-file", hide = true)]
    pub flush_log_file: bool,
    /// umask for file creation (numeric; 0 prefix for octal, 0x for hex, as strtoll).
    #[arg(short = 'u', long = "umask", value_name = "MASK")]
    pub umask: Option<String>,
    /// Drop VIPs on a transition from a signal (lvsd always removes a MASTER's VIPs when
    /// it leaves MASTER; accepted for compatibility).
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,
    /// Don't respawn child processes (lvsd has none; accepted for compatibility).
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Dump the parsed configuration (lvsd's JSON dump, as `check-config --dump`) to the log at start.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,
    /// Write the pid to FILE too (keepalived's VRRP child; lvsd is one process).
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid: Option<PathBuf>,
    /// Write the pid to FILE too (keepalived's checker child; lvsd is one process).
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid: Option<PathBuf>,
    /// Write the pid to FILE too (keepalived's BFD child; lvsd has no BFD).
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    pub bfd_pid: Option<PathBuf>,
    /// Genhash mode: the following arguments are genhash's (should be the first option).
    #[arg(short = 'T', long = "genhash")]
    pub genhash: bool,
    /// Report all address additions/deletions notified via netlink (not implemented; notice).
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,
    /// Don't run the BFD subsystem (lvsd has none; accepted for compatibility).
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,
    /// Force all child processes to run (lvsd has none; accepted for compatibility).
    #[arg(long = "all")]
    pub all: bool,
    /// Enable SNMP (lvsd has no SNMP agent; accepted for compatibility).
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,
    /// SNMP master agent socket (lvsd has no SNMP agent; accepted for compatibility).
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    pub snmp_agent_socket: Option<PathBuf>,
    /// Run in network namespace NAME (/run/netns/NAME, as `ip netns` makes).
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,
    /// Produce a core dump if lvsd terminates abnormally (unlimited RLIMIT_CORE).
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,
    /// Like -m, and set /proc/sys/kernel/core_pattern to PATN (default 'core') while running.
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN", num_args = 0..=1,
          require_equals = true, default_missing_value = "core")]
    pub core_dump_pattern: Option<String>,
    /// Error if any configuration file is missing (every include behaves as includet).
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,
    /// Print the signal number for STOP, RELOAD or DATA and exit.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,
    /// Display the version number.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// keepalived debug builds' options, accepted for compatibility.
    #[arg(long = "no-mem-check", hide = true)]
    pub no_mem_check: bool,
    #[arg(short = 'L', long = "mem-check-log", hide = true)]
    pub mem_check_log: bool,
    #[arg(long = "perf", hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "run")]
    pub perf: Option<String>,
    #[arg(long = "debug", hide = true, num_args = 0..=1, require_equals = true)]
    pub debug: Option<Option<String>>,
    /// keepalived's internal config-fd for its children, accepted for compatibility.
    #[arg(long = "config-fd", hide = true, value_name = "FD")]
    pub config_fd: Option<String>,
    /// Set when invoked as `keepalived`: `-t` exits with keepalived's statuses.
    #[arg(skip)]
    pub as_keepalived: bool,
}

impl KeepalivedOptions {
    /// One line per accepted option that has no effect in lvsd.
    pub fn notices(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |set: bool, text: &'static str| {
            if set {
                out.push(text);
            }
        };
        note(
            self.release_vips,
            "-X/--release-vips: lvsd always removes the VIPs when an instance leaves MASTER",
        );
        note(
            self.dont_respawn,
            "-R/--dont-respawn: lvsd is one process, there is nothing to respawn",
        );
        note(
            self.address_monitoring,
            "-a/--address-monitoring: not implemented by lvsd, address changes are not logged",
        );
        note(self.no_bfd, "-B/--no_bfd: lvsd has no BFD subsystem");
        note(
            self.bfd_pid.is_some(),
            "-b/--bfd_pid: lvsd has no BFD subsystem; its pid is written there anyway",
        );
        note(
            self.all,
            "--all: lvsd is one process, there are no child processes to force",
        );
        note(
            self.snmp,
            "-x/--snmp: lvsd has no SNMP agent (see `lvsd status --json` and metrics)",
        );
        note(
            self.snmp_agent_socket.is_some(),
            "-A/--snmp-agent-socket: lvsd has no SNMP agent",
        );
        note(
            self.flush_log_file,
            "--flush-log-file: lvsd writes its log file line by line anyway",
        );
        note(
            self.no_mem_check || self.mem_check_log,
            "--no-mem-check/-L: keepalived memory-check options have no meaning for lvsd",
        );
        note(
            self.perf.is_some(),
            "--perf: keepalived's perf option has no meaning for lvsd",
        );
        note(
            self.debug.is_some(),
            "--debug: keepalived's debug options have no meaning for lvsd",
        );
        note(
            self.config_fd.is_some(),
            "--config-fd: keepalived's internal option has no meaning for lvsd",
        );
        out
    }

    /// The logging keepalived's -l, -D, -S, -G, -g ask for (`config_test`: no syslog, as keepalived -t).
    pub fn log_options(
        &self,
        detail: u8,
        console: bool,
        config_test: bool,
    ) -> (LogOptions, Option<String>) {
        let mut problem = None;
        let facility = match &self.log_facility {
            None => None,
            Some(s) => match Facility::parse_keepalived(s) {
                Some(f) => Some(f),
                // keepalived prints this and carries on without the option.
                None => {
                    problem = Some(format!("Invalid log facility '{s}'"));
                    None
                }
            },
        };
        let syslog = facility.filter(|_| !self.no_syslog && !config_test);
        let opts = LogOptions {
            level: match detail {
                0 => "info",
                1 => "debug",
                _ => "trace",
            },
            stderr: syslog.is_none() || console,
            syslog,
            file: self.log_file.clone(),
        };
        (opts, problem)
    }

    /// The extra pid files (-r, -c, -b): lvsd's own pid goes into each.
    pub fn extra_pid_files(&self) -> Vec<&Path> {
        [&self.vrrp_pid, &self.checkers_pid, &self.bfd_pid]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .collect()
    }
}

/// What `lvsd run` does first: `-v`, `--signum` (both exit), `-t`'s LOG_FILE, logging
/// and the notices. `Some(status)`: exit with it.
pub fn start(args: &RunArgs) -> Option<ExitCode> {
    let k = &args.keepalived;
    if k.version {
        println!(
            "lvsd {} (keepalived 2.2.7 compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return Some(ExitCode::SUCCESS);
    }
    if let Some(func) = &k.signum {
        return Some(match signum(func) {
            Some(n) => {
                println!("{n}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("Unknown sigfunc {func}");
                ExitCode::from(1)
            }
        });
    }
    if let Some(Some(log)) = &args.config_test {
        if let Err(e) = config_test_log(log) {
            eprintln!("{e}");
            return Some(ExitCode::from(1));
        }
    }
    let (log, problem) = k.log_options(
        args.log_detail,
        args.log_console,
        args.config_test.is_some(),
    );
    if let Err(e) = crate::daemon::logging::init(&log) {
        eprintln!("lvsd: error: {e}");
        return Some(ExitCode::from(super::EXIT_ERROR));
    }
    if let Some(problem) = problem {
        eprintln!("{problem}");
    }
    for notice in k.notices() {
        tracing::warn!("{notice}");
    }
    None
}

/// Undoes [`prepare_daemon`]'s process changes when the daemon is done: removes the extra
/// pid files and puts back the core_pattern.
#[derive(Debug)]
pub struct DaemonGuard {
    pid_files: Vec<PathBuf>,
    core_pattern: Option<String>,
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        for pid in &self.pid_files {
            let _ = std::fs::remove_file(pid);
        }
        restore_core_pattern(self.core_pattern.take());
    }
}

/// Before the daemon starts: `-e`, `-u`, `-m`/`-M`, `-s`, `-d`, and the `-r`/`-c`/`-b` pid files.
pub fn prepare_daemon(args: &RunArgs) -> Result<DaemonGuard, ExitCode> {
    let k = &args.keepalived;
    let config_id = args.config_id.as_deref();
    if k.all_config {
        if let Some(problems) = missing_includes(&args.use_file, config_id) {
            eprintln!("{problems}");
            eprintln!("lvsd: error: -e/--all-config: a configuration file is missing");
            return Err(ExitCode::from(super::EXIT_ERROR));
        }
    }
    let mut guard = DaemonGuard {
        pid_files: Vec::new(),
        core_pattern: None,
    };
    guard.core_pattern = apply_process_options(k).map_err(|e| {
        eprintln!("lvsd: error: {e}");
        ExitCode::from(super::EXIT_ERROR)
    })?;
    if k.dump_conf {
        dump_config(&args.use_file, config_id);
    }
    for pid in k.extra_pid_files() {
        if let Err(e) = std::fs::write(pid, format!("{}\n", std::process::id())) {
            eprintln!("lvsd: error: writing pid file {}: {e}", pid.display());
            return Err(ExitCode::from(super::EXIT_ERROR));
        }
        guard.pid_files.push(pid.to_path_buf());
    }
    Ok(guard)
}

/// `--signum=SIGFUNC`: the signal lvsd acts on for each of keepalived's functions.
/// (keepalived 2.2.7 answers STATS 12, STATS_CLEAR and JSON real-time signals; lvsd
/// handles none of those, so, like keepalived for a function it was built without,
/// it reports an unknown function instead of a signal that would kill it.)
pub fn signum(func: &str) -> Option<i32> {
    match func {
        "STOP" => Some(nix::sys::signal::Signal::SIGTERM as i32),
        "RELOAD" => Some(nix::sys::signal::Signal::SIGHUP as i32),
        "DATA" => Some(nix::sys::signal::Signal::SIGUSR1 as i32),
        _ => None,
    }
}

/// Parses `-u`'s argument as keepalived does (strtoll base 0: 022 octal, 0x12 hex, 18 decimal).
pub fn parse_umask(s: &str) -> Option<u32> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    let v = u32::from_str_radix(digits, radix).ok()?;
    (v & !0o777 == 0).then_some(v)
}

/// Process-wide settings done before anything starts: umask, core dumps, namespace.
/// Returns the core_pattern to restore at exit, if -M changed it.
pub fn apply_process_options(k: &KeepalivedOptions) -> Result<Option<String>, String> {
    if let Some(u) = &k.umask {
        match parse_umask(u) {
            Some(bits) => {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(bits));
            }
            // keepalived prints this and keeps the process umask.
            None => eprintln!("Invalid --umask option {u}"),
        }
    }
    let mut restore = None;
    if k.core_dump || k.core_dump_pattern.is_some() {
        use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
        if let Err(e) = setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY) {
            tracing::warn!("-m: cannot lift the core file size limit: {e}");
        }
    }
    if let Some(pattern) = &k.core_dump_pattern {
        const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";
        match std::fs::read_to_string(CORE_PATTERN) {
            Ok(old) => match std::fs::write(CORE_PATTERN, pattern) {
                Ok(()) => restore = Some(old.trim_end().to_string()),
                Err(e) => tracing::warn!("-M: cannot set {CORE_PATTERN}: {e}"),
            },
            Err(e) => tracing::warn!("-M: cannot read {CORE_PATTERN}: {e}"),
        }
    }
    if let Some(ns) = &k.namespace {
        let path = Path::new("/run/netns").join(ns);
        let f = std::fs::File::open(&path)
            .map_err(|e| format!("network namespace {ns}: {}: {e}", path.display()))?;
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("entering network namespace {ns}: {e}"))?;
        tracing::info!("running in network namespace {ns}");
    }
    Ok(restore)
}

/// Puts back the core_pattern -M replaced.
pub fn restore_core_pattern(old: Option<String>) {
    if let Some(old) = old {
        let _ = std::fs::write("/proc/sys/kernel/core_pattern", old);
    }
}

/// `-e`: a plain `include` that matches no file is an error, not a warning.
/// Returns the rendered problems if there are such includes.
pub fn missing_includes(file: &Path, config_id: Option<&str>) -> Option<String> {
    let opts = ConfigOptions {
        config_id: config_id.map(str::to_string),
        ..ConfigOptions::default()
    };
    let loaded = config::load(file, &opts).ok()?;
    let missing: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|d| matches!(d.problem, Problem::IncludeNoMatch { .. }))
        .cloned()
        .collect();
    (!missing.is_empty()).then(|| config::render_all(&missing, &loaded.sources))
}

/// `-d`: the parsed configuration, logged line by line in lvsd's dump format
/// (the JSON `lvsd check-config --dump` prints; secrets redacted).
pub fn dump_config(file: &Path, config_id: Option<&str>) {
    let opts = ConfigOptions {
        config_id: config_id.map(str::to_string),
        ..ConfigOptions::default()
    };
    match config::load(file, &opts) {
        Ok(loaded) => match serde_json::to_string_pretty(&loaded.config) {
            Ok(json) => {
                tracing::info!("------< configuration {} >------", file.display());
                for line in json.lines() {
                    tracing::info!("{line}");
                }
            }
            Err(e) => tracing::error!("-d: cannot serialize the configuration: {e}"),
        },
        Err(_) => tracing::error!("-d: the configuration does not load; nothing to dump"),
    }
}

/// `-t` with keepalived's exit statuses (invoked as `keepalived`): 0 when the
/// configuration has no problem, and for a missing file (keepalived 2.2.7 says
/// "Config files missing" and exits 0); 6 when scripts would run without
/// enable_script_security; 5 when there is any error or warning keepalived would also
/// report.
pub fn config_test(file: &Path, dump: bool, config_id: Option<&str>) -> ExitCode {
    if !file.exists() {
        eprintln!("Config files missing '{}'.", file.display());
        return ExitCode::from(exit::CONFIG_OK);
    }
    let opts = ConfigOptions {
        config_id: config_id.map(str::to_string),
        check_interfaces: true,
        ..ConfigOptions::default()
    };
    match config::load(file, &opts) {
        Err(problems) => {
            eprintln!("{}", problems.render());
            ExitCode::from(exit::CONFIG_TEST)
        }
        Ok(loaded) => {
            if dump {
                if let Ok(json) = serde_json::to_string_pretty(&loaded.config) {
                    println!("{json}");
                }
            }
            // keepalived reports the worst problem; a script security error is the worst.
            if !loaded.config.global.enable_script_security {
                if let Some(script) = scripts_run(&loaded.config).into_iter().find(|p| found(p)) {
                    eprintln!(
                        "SECURITY VIOLATION - scripts are being executed but script_security \
                         not enabled (for example {script})."
                    );
                    return ExitCode::from(exit::SECURITY);
                }
            }
            if loaded.warnings.is_empty() {
                return ExitCode::from(exit::CONFIG_OK);
            }
            eprintln!("{}", config::render_all(&loaded.warnings, &loaded.sources));
            // What keepalived accepts but lvsd does not implement is reported, but
            // keepalived itself has nothing to say about it: its status stays 0.
            let lvsd_only = |d: &config::Diagnostic| {
                matches!(
                    d.problem,
                    Problem::NotImplemented { .. }
                        | Problem::PartlyImplemented { .. }
                        | Problem::Unsupported { .. }
                )
            };
            if loaded.warnings.iter().all(lvsd_only) {
                ExitCode::from(exit::CONFIG_OK)
            } else {
                ExitCode::from(exit::CONFIG_TEST)
            }
        }
    }
}

/// Redirects stderr to `-t`'s LOG_FILE (appending), as keepalived does.
pub fn config_test_log(path: &Path) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            format!(
                "Unable to open config-test log file {}: {e}",
                path.display()
            )
        })?;
    nix::unistd::dup2_stderr(f).map_err(|e| format!("redirecting stderr: {e}"))?;
    Ok(())
}

/// `-T` anywhere in `args` (after the program name): genhash gets what follows it.
pub fn genhash_args(args: &[OsString]) -> Option<Vec<OsString>> {
    let at = args
        .iter()
        .skip(1)
        .position(|a| a == "-T" || a == "--genhash")?
        + 1;
    if at != 1 {
        eprintln!(
            "Warning -- `{}` not used as first option, previous options ignored",
            args[at].to_string_lossy()
        );
    }
    let mut out = vec![OsString::from("genhash")];
    out.extend(args[at + 1..].iter().cloned());
    Some(out)
}

/// lvsd invoked as `keepalived`: `lvsd run` with keepalived's usage and exit statuses.
pub fn main_compat() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(g) = genhash_args(&args) {
        return super::genhash::main_compat_from(g);
    }
    let cmd = super::run::RunArgs::augment_args(clap::Command::new("keepalived"))
        .version(env!("CARGO_PKG_VERSION"))
        .disable_version_flag(true);
    let matches = match cmd.try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::BAD_OPTION } else { 0 });
        }
    };
    match super::run::RunArgs::from_arg_matches(&matches) {
        Ok(mut run) => {
            run.keepalived.as_keepalived = true;
            super::run::execute(run)
        }
        Err(e) => {
            let _ = e.print();
            ExitCode::from(exit::BAD_OPTION)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_like_strtoll_base_0() {
        assert_eq!(parse_umask("022"), Some(0o22));
        assert_eq!(parse_umask("18"), Some(18));
        assert_eq!(parse_umask("0x12"), Some(0x12));
        assert_eq!(parse_umask("0"), Some(0));
        assert_eq!(parse_umask("01000"), None);
        assert_eq!(parse_umask("abc"), None);
    }

    #[test]
    fn signum_as_keepalived_for_what_lvsd_handles() {
        // keepalived 2.2.7 --signum: STOP 15, RELOAD 1, DATA 10.
        assert_eq!(signum("STOP"), Some(15));
        assert_eq!(signum("RELOAD"), Some(1));
        assert_eq!(signum("DATA"), Some(10));
        assert_eq!(signum("JSON"), None);
        assert_eq!(signum("FOO"), None);
    }

    #[test]
    fn genhash_mode_takes_what_follows_t() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            genhash_args(&a(&["keepalived", "-T", "-s", "h", "-u", "/"])),
            Some(a(&["genhash", "-s", "h", "-u", "/"]))
        );
        assert_eq!(genhash_args(&a(&["keepalived", "-D"])), None);
    }
}
