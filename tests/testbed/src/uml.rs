//! A real Linux kernel with IPVS for tests: User-Mode Linux (`linux.uml`
//! from Debian's `user-mode-linux` package) booted with the host's `/` as
//! its root file system (hostfs).
//!
//! The host kernel of CI machines usually lacks IPVS; UML has it as modules
//! in `/usr/lib/uml/modules`. A boot runs one command as root inside the
//! guest and passes its stdout, stderr and exit status back through files
//! under the host's `/tmp`, which the guest sees read-write.
//!
//! Costs to keep in mind when writing guest tests:
//! - a boot takes about 2.5 s (a few more on a loaded machine), so put
//!   related checks in one test, or run a whole test binary in one boot with
//!   [`Uml::run_test_binary`];
//! - inside the guest a system call costs ~100 µs (UML traps them with
//!   ptrace) and there is one CPU: compare performance there only as ratios
//!   against keepalived/ipvsadm measured in the same boot;
//! - the guest has its own `/run` (tmpfs), `/dev`, `/proc`, `/sys` and
//!   network namespaces, but every other path is the host's: never write
//!   outside `/tmp` or `$TMPDIR` from a guest test.
//!
//! Tests use [`crate::uml_test!`], which re-runs one test of the current
//! test binary inside the guest:
//! ```no_run
//! testbed::uml_test! {
//!     fn ipvs_is_there() {
//!         let out = std::process::Command::new("ipvsadm").arg("-Ln").output().unwrap();
//!         assert!(out.status.success());
//!     }
//! }
//! ```
//!
//! The packaged UML 6.1 panics on hosts whose XSAVE area is larger than its
//! buffer (AVX-512 + AMX: "ptrace set fp regs failed"); the LD_PRELOAD shim
//! in `uml/xstate_shim.c` pads that buffer. It is built with gcc once per
//! source version and cached under `$TMPDIR/lvsd-testbed-<uid>`.

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, Once, OnceLock};
use std::time::Duration;
use std::{env, fs, io};

use crate::process::ProcessGuard;

/// Set to `1` in the guest's environment: tells a test body it runs in UML.
pub const GUEST_ENV: &str = "LVSD_TESTBED_GUEST";
/// Overrides the kernel binary (default: `linux.uml` on `PATH`, then `/usr/bin/linux.uml`).
pub const KERNEL_ENV: &str = "LVSD_UML_KERNEL";
/// Overrides the boot timeout in seconds (default [`DEFAULT_TIMEOUT`]).
pub const TIMEOUT_ENV: &str = "LVSD_UML_TIMEOUT_SECS";
/// How many guests one test process may run at once (default 2).
pub const JOBS_ENV: &str = "LVSD_UML_JOBS";

/// Boot + run deadline unless the caller or [`TIMEOUT_ENV`] says otherwise;
/// generous because CI machines are loaded.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// Guest memory in MiB; UML backs it with a file in its `TMPDIR`.
pub const DEFAULT_MEM_MIB: u64 = 512;

const MODULES_ROOT: &str = "/usr/lib/uml/modules";
const GUEST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where guest run directories live: must be a path the guest sees as the
/// host's (its `/dev/shm` is its own, so `std::env::temp_dir()` won't do).
const HOST_RUN_ROOT: &str = "/tmp";
/// Run directories are `<HOST_RUN_ROOT>/lvsd-uml-<pid>-<random>`.
const RUN_DIR_PREFIX: &str = "lvsd-uml-";
/// In a run directory: the process group id of its UML.
const PGID_FILE: &str = "uml.pgid";
/// Console lines quoted in errors.
const CONSOLE_TAIL_LINES: usize = 40;
/// IPVS modules that are not schedulers (they need extra netfilter pieces).
const IPVS_NON_SCHEDULERS: &[&str] = &["ip_vs_ftp", "ip_vs_pe_sip"];
/// Network modules loaded by default when present.
const DEFAULT_NET_MODULES: &[&str] = &[
    "nf_conntrack",
    "veth",
    "bridge",
    "dummy",
    "ip_tunnel",
    "ipip",
    "ip6_tunnel",
    "tun",
];

/// Why a guest run gave no result.
#[derive(Debug, thiserror::Error)]
pub enum UmlError {
    /// No `linux.uml` binary.
    #[error(
        "UML kernel not found (looked at {searched}); install user-mode-linux or set {KERNEL_ENV}"
    )]
    KernelNotFound { searched: String },
    /// The xstate shim did not compile.
    #[error("building the UML xstate shim {source_path} with gcc failed: {detail}")]
    ShimBuild {
        source_path: PathBuf,
        detail: String,
    },
    /// A host-side file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The guest did not halt in time; UML was killed.
    #[error("UML guest running {command} did not finish within {timeout:?}; console tail:\n{console_tail}")]
    Timeout {
        command: String,
        timeout: Duration,
        console_tail: String,
    },
    /// The guest halted without writing an exit status (kernel panic, init died).
    #[error("UML guest running {command} exited ({uml_status}) without reporting an exit status; console tail:\n{console_tail}")]
    NoExitStatus {
        command: String,
        uml_status: String,
        console_tail: String,
    },
    /// The guest wrote something that is not an exit status.
    #[error("UML guest running {command} wrote an unreadable exit status {text:?}")]
    BadExitStatus { command: String, text: String },
    /// A re-run test did not run in the guest (name mismatch, filtered out).
    #[error("test {test} did not run in the UML guest (no \"1 passed\" summary); guest output:\n{output}")]
    TestNotRun { test: String, output: String },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> UmlError {
    let what = what.into();
    move |source| UmlError::Io { what, source }
}

/// What a guest command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UmlOutput {
    /// The command's exit status as the guest shell saw it (128+n for signal n).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// The UML console: kernel messages, init script diagnostics.
    pub console: String,
}

impl UmlOutput {
    /// Panics with everything the guest said unless the command exited 0.
    #[track_caller]
    pub fn assert_success(&self) {
        if self.status != 0 {
            panic!(
                "UML guest command failed with status {}\n{}",
                self.status,
                self.report()
            );
        }
    }

    /// stdout, stderr and the console tail, labelled, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "--- guest stdout ---\n{}\n--- guest stderr ---\n{}\n--- console tail ---\n{}",
            self.stdout,
            self.stderr,
            tail(&self.console, CONSOLE_TAIL_LINES)
        )
    }
}

/// True inside a guest started by this module.
pub fn in_guest() -> bool {
    env::var_os(GUEST_ENV).is_some_and(|v| v == "1")
}

/// A guest configuration: kernel modules, environment, timeout, memory.
#[derive(Debug, Clone)]
pub struct Uml {
    modules: Vec<String>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    mem_mib: u64,
    cwd: Option<PathBuf>,
}

impl Default for Uml {
    fn default() -> Self {
        Self::new()
    }
}

impl Uml {
    /// The default guest: ip_vs with every scheduler, veth, bridge, dummy,
    /// tunnels and conntrack; the caller's cwd; `CARGO_*`, `RUST_*` and
    /// `LVSD_*` variables passed through.
    pub fn new() -> Self {
        let timeout = env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TIMEOUT);
        let passed_through = env::vars_os().filter(|(k, _)| {
            let k = k.to_string_lossy();
            (k.starts_with("CARGO_") || k.starts_with("RUST_") || k.starts_with("LVSD_"))
                && k != GUEST_ENV
        });
        Uml {
            modules: default_modules(),
            env: passed_through.collect(),
            timeout,
            mem_mib: DEFAULT_MEM_MIB,
            cwd: env::current_dir().ok(),
        }
    }

    /// Replaces the module list (loaded with modprobe, in order; missing
    /// ones are reported on the console, not fatal).
    pub fn modules<I, S>(mut self, modules: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.modules = modules.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one module to load.
    pub fn module(mut self, module: impl Into<String>) -> Self {
        self.modules.push(module.into());
        self
    }

    /// Sets an environment variable for the guest command.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the deadline for boot + command + halt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets guest memory in MiB.
    pub fn mem_mib(mut self, mem_mib: u64) -> Self {
        self.mem_mib = mem_mib;
        self
    }

    /// Sets the guest command's working directory (a host path).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The module list this guest loads.
    pub fn module_list(&self) -> &[String] {
        &self.modules
    }

    /// Boots, runs `program args..` as root in the guest, halts.
    pub fn run<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Result<UmlOutput, UmlError> {
        let mut argv = vec![program.to_owned()];
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self.run_argv(&argv)
    }

    /// Boots, runs a `/bin/sh -ec` script in the guest, halts.
    pub fn run_script(&self, script: &str) -> Result<UmlOutput, UmlError> {
        self.run_argv(&["/bin/sh".to_owned(), "-ec".to_owned(), script.to_owned()])
    }

    /// Runs a libtest test binary in ONE boot with `--test-threads=1` and
    /// `args` (filters, `--exact`, `--include-ignored`, ...). Every test in
    /// it sees [`in_guest`] true. Kernel state (IPVS table, links) carries
    /// over from test to test, so such tests must clean up after themselves.
    pub fn run_test_binary<S: AsRef<str>>(
        &self,
        test_binary: &Path,
        args: &[S],
    ) -> Result<UmlOutput, UmlError> {
        let mut argv = vec![test_binary.to_string_lossy().into_owned()];
        argv.push("--test-threads=1".to_owned());
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self.run_argv(&argv)
    }

    fn run_argv(&self, argv: &[String]) -> Result<UmlOutput, UmlError> {
        let command = argv.join(" ");
        let kernel = find_kernel()?;
        let shim = shim_library()?;
        let uml_tmp = uml_tmpdir(self.mem_mib);
        static SWEEP: Once = Once::new();
        SWEEP.call_once(sweep_stale_runs);
        let _slot = BootSlot::acquire();

        let run_dir = tempfile::Builder::new()
            .prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(HOST_RUN_ROOT)
            .map_err(io_err(format!(
                "creating a run directory in {HOST_RUN_ROOT}"
            )))?;
        let dir = run_dir.path();
        let guest_tmp = dir.join("tmp");
        let guest_home = dir.join("home");
        let uml_dir = dir.join("uml");
        for d in [&guest_tmp, &guest_home, &uml_dir] {
            fs::create_dir(d).map_err(io_err(format!("creating {}", d.display())))?;
        }
        let init = dir.join("init");
        let script = self.init_script(dir, argv);
        write_executable(&init, &script)?;

        let console_path = dir.join("console");
        let console = fs::File::create(&console_path)
            .map_err(io_err(format!("creating {}", console_path.display())))?;
        let console2 = console
            .try_clone()
            .map_err(io_err("duplicating the console file"))?;
        let mut cmd = Command::new(&kernel);
        cmd.env("LD_PRELOAD", &shim)
            .env("TMPDIR", &uml_tmp)
            .arg(format!("mem={}M", self.mem_mib))
            .arg("rootfstype=hostfs")
            .arg("rootflags=/")
            .arg("rw")
            .arg(format!("umid=lvsd-{}", unique_suffix()))
            .arg(format!("uml_dir={}", uml_dir.display()))
            .arg(format!("init={}", init.display()))
            .arg("con=null")
            .arg("con0=fd:0,fd:1")
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console2);
        // If this test process dies without unwinding (SIGKILL from a CI
        // timeout), the guest dies too; the orphaned helper processes are
        // swept by the next run (see `sweep_stale_runs`).
        // SAFETY: the closure runs between fork and exec and only makes one
        // prctl system call, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(io::Error::from)
            });
        }
        let mut uml = ProcessGuard::spawn(cmd).map_err(io_err(format!(
            "starting {} (LD_PRELOAD={})",
            kernel.display(),
            shim.display()
        )))?;
        let pgid_file = dir.join(PGID_FILE);
        fs::write(&pgid_file, uml.pid().to_string())
            .map_err(io_err(format!("writing {}", pgid_file.display())))?;
        let exited = uml.wait_timeout(self.timeout);
        uml.kill();
        let console_text = read_lossy(&console_path);
        let uml_status = match exited {
            Ok(status) => status,
            Err(_) => {
                return Err(UmlError::Timeout {
                    command,
                    timeout: self.timeout,
                    console_tail: tail(&console_text, CONSOLE_TAIL_LINES),
                })
            }
        };
        let status_text = match fs::read_to_string(dir.join("status")) {
            Ok(text) => text,
            Err(_) => {
                return Err(UmlError::NoExitStatus {
                    command,
                    uml_status: uml_status.to_string(),
                    console_tail: tail(&console_text, CONSOLE_TAIL_LINES),
                })
            }
        };
        let status = status_text
            .trim()
            .parse()
            .map_err(|_| UmlError::BadExitStatus {
                command: command.clone(),
                text: status_text.clone(),
            })?;
        Ok(UmlOutput {
            status,
            stdout: read_lossy(&dir.join("stdout")),
            stderr: read_lossy(&dir.join("stderr")),
            console: console_text,
        })
    }

    /// The guest's PID 1: a shell script, so every step is visible in the
    /// console when something goes wrong.
    fn init_script(&self, dir: &Path, argv: &[String]) -> String {
        let d = |name: &str| sh_quote(&dir.join(name).to_string_lossy());
        let mut s = String::from("#!/bin/sh\n# PID 1 of a testbed::uml guest\n");
        let _ = writeln!(s, "export PATH={GUEST_PATH}");
        // Private /run (keepalived pid files, `ip netns`) and /dev/shm; /tmp
        // stays the host's so results come back.
        s.push_str(
            "mount -t proc proc /proc\n\
             mount -t sysfs sys /sys\n\
             mount -t tmpfs -o mode=0755 tmpfs /run\n\
             mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm\n\
             mkdir -p /lib/modules && mount --bind /usr/lib/uml/modules /lib/modules\n\
             ip link set lo up\n",
        );
        for module in &self.modules {
            let m = sh_quote(module);
            let _ = writeln!(
                s,
                "modprobe {m} || echo \"testbed: modprobe {module} failed\" >&2"
            );
        }
        let _ = writeln!(s, "export HOME={}", d("home"));
        let _ = writeln!(s, "export TMPDIR={}", d("tmp"));
        s.push_str("export RUST_BACKTRACE=${RUST_BACKTRACE:-1}\n");
        for (key, value) in &self.env {
            let key = key.to_string_lossy();
            if !is_shell_name(&key) {
                let _ = writeln!(
                    s,
                    "echo {} >&2",
                    sh_quote(&format!(
                        "testbed: skipped environment variable {key:?}: not a shell name"
                    ))
                );
                continue;
            }
            let _ = writeln!(s, "export {key}={}", sh_quote(&value.to_string_lossy()));
        }
        let _ = writeln!(s, "export {GUEST_ENV}=1");
        if let Some(cwd) = &self.cwd {
            let _ = writeln!(s, "cd {} || exit 1", sh_quote(&cwd.to_string_lossy()));
        }
        let cmd: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
        let _ = writeln!(
            s,
            "{} >{} 2>{} </dev/null",
            cmd.join(" "),
            d("stdout"),
            d("stderr")
        );
        let _ = writeln!(
            s,
            "echo $? >{tmp} && mv {tmp} {status}",
            tmp = d("status.tmp"),
            status = d("status")
        );
        s.push_str("halt -f\n");
        s
    }
}

/// Re-runs test `name` (as `fn` name) of module `module_path` (pass
/// `module_path!()`) of the current test binary inside a guest. Errs unless
/// the guest reports the test as run; a failing test gives `Ok` with a
/// non-zero status (see [`UmlOutput::assert_success`]).
pub fn rerun_in_guest(module_path: &str, name: &str) -> Result<UmlOutput, UmlError> {
    rerun_in_guest_with(Uml::new(), module_path, name)
}

/// [`rerun_in_guest`] with a custom guest configuration.
pub fn rerun_in_guest_with(uml: Uml, module_path: &str, name: &str) -> Result<UmlOutput, UmlError> {
    let test = libtest_name(module_path, name);
    let exe = env::current_exe().map_err(io_err("finding the current test binary"))?;
    let out = uml.run_test_binary(
        &exe,
        &[test.as_str(), "--exact", "--nocapture", "--include-ignored"],
    )?;
    let ran = out.stdout.contains("test result: ok. 1 passed")
        || out
            .stdout
            .contains("test result: FAILED. 0 passed; 1 failed");
    if !ran {
        return Err(UmlError::TestNotRun {
            test,
            output: out.report(),
        });
    }
    Ok(out)
}

/// libtest's name for a test: the module path without the crate name.
pub fn libtest_name(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_crate, rest)) => format!("{rest}::{name}"),
        None => name.to_owned(),
    }
}

/// Declares tests whose bodies run as root inside a UML guest. On the host
/// each test boots a guest that re-runs exactly this test and fails with
/// the guest's output if the body fails there. Attributes (`#[ignore =
/// "..."]`, doc comments) pass through.
///
/// ```no_run
/// testbed::uml_test! {
///     /// ip_vs loads and answers.
///     fn ipvs_answers() {
///         let out = std::process::Command::new("ipvsadm").arg("-Ln").output().unwrap();
///         assert!(out.status.success());
///     }
/// }
/// ```
#[macro_export]
macro_rules! uml_test {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)+) => {
        $(
            $(#[$meta])*
            #[test]
            fn $name() {
                if !$crate::uml::in_guest() {
                    match $crate::uml::rerun_in_guest(module_path!(), stringify!($name)) {
                        Ok(out) if out.status == 0 => {}
                        Ok(out) => panic!(
                            "{} failed inside the UML guest (status {})\n{}",
                            stringify!($name),
                            out.status,
                            out.report()
                        ),
                        Err(err) => panic!("{err}"),
                    }
                    return;
                }
                $body
            }
        )+
    };
}

/// Default module list: ip_vs, every IPVS scheduler present, then
/// [`DEFAULT_NET_MODULES`] that exist.
pub fn default_modules() -> Vec<String> {
    let mut modules = vec!["ip_vs".to_owned()];
    let mut present: Vec<String> = Vec::new();
    if let Ok(versions) = fs::read_dir(MODULES_ROOT) {
        for version in versions.flatten() {
            let kernel = version.path().join("kernel");
            let ipvs_dir = kernel.join("net/netfilter/ipvs");
            if let Ok(entries) = fs::read_dir(&ipvs_dir) {
                for e in entries.flatten() {
                    let file = e.file_name().to_string_lossy().into_owned();
                    if let Some(m) = file.strip_suffix(".ko") {
                        if m.starts_with("ip_vs_") && !IPVS_NON_SCHEDULERS.contains(&m) {
                            present.push(m.to_owned());
                        }
                    }
                }
            }
            collect_module_names(&kernel, &mut present, 0);
        }
    }
    present.sort();
    present.dedup();
    let mut schedulers: Vec<String> = present
        .iter()
        .filter(|m| m.starts_with("ip_vs_") && !IPVS_NON_SCHEDULERS.contains(&m.as_str()))
        .cloned()
        .collect();
    schedulers.sort();
    modules.extend(schedulers);
    for m in DEFAULT_NET_MODULES {
        if present.iter().any(|p| p == m) {
            modules.push((*m).to_owned());
        }
    }
    modules
}

/// Module names (file stems, `-` as `_`) under a modules tree.
fn collect_module_names(dir: &Path, out: &mut Vec<String>, depth: u32) {
    const MAX_DEPTH: u32 = 8;
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() && depth < MAX_DEPTH {
            collect_module_names(&path, out, depth + 1);
        } else if let Some(stem) = e.file_name().to_string_lossy().strip_suffix(".ko") {
            out.push(stem.replace('-', "_"));
        }
    }
}

fn find_kernel() -> Result<PathBuf, UmlError> {
    let mut searched = Vec::new();
    if let Some(p) = env::var_os(KERNEL_ENV) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        searched.push(format!("{KERNEL_ENV}={}", p.display()));
    }
    let path_dirs = env::var_os("PATH").unwrap_or_default();
    for dir in env::split_paths(&path_dirs).chain([PathBuf::from("/usr/bin")]) {
        let p = dir.join("linux.uml");
        if p.is_file() {
            return Ok(p);
        }
        searched.push(p.display().to_string());
    }
    Err(UmlError::KernelNotFound {
        searched: searched.join(", "),
    })
}

const SHIM_SOURCE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/uml/xstate_shim.c"));

/// The shim, compiled once per process; concurrent processes each compile
/// to a temporary name and rename, so a reader never sees a partial file.
fn shim_library() -> Result<PathBuf, UmlError> {
    static SHIM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    SHIM.get_or_init(|| build_shim().map_err(|e| e.to_string()))
        .clone()
        .map_err(|detail| UmlError::ShimBuild {
            source_path: shim_source_path(),
            detail,
        })
}

fn shim_source_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("uml/xstate_shim.c")
}

fn build_shim() -> Result<PathBuf, UmlError> {
    let mut hasher = DefaultHasher::new();
    SHIM_SOURCE.hash(&mut hasher);
    let key = hasher.finish();
    let cache = env::temp_dir().join(format!("lvsd-testbed-{}", nix::unistd::getuid()));
    fs::create_dir_all(&cache).map_err(io_err(format!("creating {}", cache.display())))?;
    let lib = cache.join(format!("xstate-shim-{key:016x}.so"));
    if lib.is_file() {
        return Ok(lib);
    }
    let src = cache.join(format!("xstate-shim-{key:016x}-{}.c", unique_suffix()));
    let tmp_lib = cache.join(format!("xstate-shim-{key:016x}-{}.so.tmp", unique_suffix()));
    fs::write(&src, SHIM_SOURCE).map_err(io_err(format!("writing {}", src.display())))?;
    let out = Command::new("gcc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&tmp_lib)
        .arg(&src)
        .arg("-ldl")
        .output();
    let _ = fs::remove_file(&src);
    let out = out.map_err(|e| UmlError::ShimBuild {
        source_path: shim_source_path(),
        detail: format!("running gcc: {e}"),
    })?;
    if !out.status.success() {
        let _ = fs::remove_file(&tmp_lib);
        return Err(UmlError::ShimBuild {
            source_path: shim_source_path(),
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    fs::rename(&tmp_lib, &lib).map_err(io_err(format!("renaming to {}", lib.display())))?;
    Ok(lib)
}

/// UML's memory file lives in `TMPDIR`: prefer /dev/shm when it is a
/// writable, exec-allowed tmpfs with room for the guest, else /tmp.
fn uml_tmpdir(mem_mib: u64) -> PathBuf {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let shm = Path::new("/dev/shm");
    let usable = statvfs(shm).is_ok_and(|st| {
        let free = st.blocks_available().saturating_mul(st.fragment_size());
        !st.flags().contains(FsFlags::ST_NOEXEC)
            && !st.flags().contains(FsFlags::ST_RDONLY)
            && free >= (mem_mib + 64) * 1024 * 1024
    }) && nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok();
    if usable {
        shm.to_path_buf()
    } else {
        PathBuf::from("/tmp")
    }
}

/// Removes run directories of test processes that died without cleaning up
/// (killed by a CI timeout), killing their UML process groups first.
fn sweep_stale_runs() {
    let Ok(entries) = fs::read_dir(HOST_RUN_ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = run_dir_owner(&name) else {
            continue;
        };
        if Path::new("/proc").join(owner.to_string()).exists() {
            continue;
        }
        let dir = entry.path();
        if let Some(pgid) = fs::read_to_string(dir.join(PGID_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            if uml_group_alive(pgid) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// The creating pid in a run directory name `lvsd-uml-<pid>-<random>`.
fn run_dir_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(RUN_DIR_PREFIX)?;
    let (pid, _random) = rest.split_once('-')?;
    pid.parse().ok()
}

/// Whether some `linux.uml` process still belongs to process group `pgid`
/// (so a recycled group id of an unrelated program is never signalled).
fn uml_group_alive(pgid: i32) -> bool {
    let Ok(procs) = fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        let Ok(stat) = fs::read_to_string(p.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": comm may contain spaces.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            return false;
        };
        let comm_is_uml = head.ends_with("(linux.uml");
        let pgrp = rest
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse::<i32>().ok());
        comm_is_uml && pgrp == Some(pgid)
    })
}

/// Caps concurrent guests per process: each takes memory and a CPU.
struct BootSlot;

static BOOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl BootSlot {
    fn acquire() -> BootSlot {
        let max = env::var(JOBS_ENV)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(2);
        let (lock, cvar) = &BOOTS;
        let mut running = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= max {
            running = cvar.wait(running).unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        BootSlot
    }
}

impl Drop for BootSlot {
    fn drop(&mut self) {
        let (lock, cvar) = &BOOTS;
        let mut running = lock.lock().unwrap_or_else(|p| p.into_inner());
        *running = running.saturating_sub(1);
        cvar.notify_one();
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn write_executable(path: &Path, text: &str) -> Result<(), UmlError> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).map_err(io_err(format!("writing {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(io_err(format!("chmod {}", path.display())))
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Whether `name` can be `export`ed by /bin/sh.
fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Single-quotes `s` for /bin/sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_name_drops_the_crate() {
        assert_eq!(libtest_name("kernel", "ipvs_roundtrip"), "ipvs_roundtrip");
        assert_eq!(
            libtest_name("kernel::guest::ipvs", "roundtrip"),
            "guest::ipvs::roundtrip"
        );
    }

    #[test]
    fn run_dir_owner_parses_our_names_only() {
        assert_eq!(run_dir_owner("lvsd-uml-1234-AbC9x"), Some(1234));
        assert_eq!(run_dir_owner("lvsd-uml-x-1"), None);
        assert_eq!(run_dir_owner("lvsd-testbed-0"), None);
    }

    #[test]
    fn only_shell_names_are_exported() {
        assert!(is_shell_name("LVSD_UNDER_TEST"));
        assert!(is_shell_name("_x1"));
        assert!(!is_shell_name("1X"));
        assert!(!is_shell_name("A-B"));
        assert!(!is_shell_name(""));
        let script = Uml::new()
            .modules(Vec::<String>::new())
            .env("BAD;rm", "x")
            .env("GOOD", "it's")
            .init_script(Path::new("/tmp/d"), &["true".to_owned()]);
        assert!(script.contains("export GOOD='it'\\''s'\n"), "{script}");
        assert!(!script.contains("export BAD"), "{script}");
    }

    #[test]
    fn sh_quote_survives_single_quotes() {
        assert_eq!(sh_quote("a'b c"), r"'a'\''b c'");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("1\n2\n3\n", 2), "2\n3");
        assert_eq!(tail("1", 5), "1");
    }

    #[test]
    fn default_modules_start_with_ip_vs_and_skip_helpers() {
        let modules = default_modules();
        assert_eq!(modules[0], "ip_vs");
        assert!(!modules
            .iter()
            .any(|m| m == "ip_vs_ftp" || m == "ip_vs_pe_sip"));
        // On a machine with user-mode-linux installed the schedulers are found.
        if Path::new(MODULES_ROOT).is_dir() {
            for m in ["ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "veth", "bridge"] {
                assert!(
                    modules.iter().any(|x| x == m),
                    "{m} missing from {modules:?}"
                );
            }
        }
    }
}
