//! keepalived's scheduling keywords (`vrrp_priority`, `vrrp_rt_priority`,
//! `vrrp_rlimit_rttime`, `vrrp_no_swap`, `vrrp_cpu_affinity` and the
//! `checker_` ones) applied to lvsd's threads. keepalived tunes its VRRP and
//! checker processes; lvsd has no such processes, but it has their threads:
//! the VRRP thread (its own runtime) stands for keepalived's VRRP process,
//! the main runtime's threads (checkers, IPVS, control socket) for its
//! checker process. Linux schedules threads, so the effect on VRRP is the
//! same. Locking memory and the real-time CPU limit are per process in
//! Linux: lvsd locks when either part asks and takes the smaller limit.
//!
//! Threads register themselves when they start; [`configure`] (start-up and
//! every reload) applies the configuration to every registered thread by its
//! thread id. As keepalived (`SCHED_RESET_ON_FORK`), scripts lvsd starts do
//! not inherit a real-time policy or a raised priority.

use std::collections::BTreeMap;
use std::sync::Mutex;

use nix::libc;

use crate::config::model::ProcessTuning;

/// How long the VRRP thread runs untuned at start (see
/// [`register_current_deferred`]): its sockets are open and its loop runs
/// well before.
pub const VRRP_STARTUP_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How many nice levels the VRRP thread runs above lvsd's other threads by
/// default. Measured in UML under 1,000 HTTP checks a second (BENCHMARKS.md,
/// "VRRP timing"): the largest advert gap was 130-139 ms at equal nice,
/// 104-113 ms with this lead.
pub const VRRP_NICE_LEAD: i32 = 10;

/// The tuning of both parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tuning {
    pub vrrp: ProcessTuning,
    pub checker: ProcessTuning,
}

impl Tuning {
    /// What `role`'s threads get. Without `vrrp_priority` or
    /// `vrrp_rt_priority`, the VRRP thread runs [`VRRP_NICE_LEAD`] nice
    /// levels above the process (lvsd's choice, not keepalived's: keepalived
    /// keeps VRRP and checks in separate processes; in one process the VRRP
    /// thread would share the CPU with the checker threads as their equal).
    fn of(&self, role: Role, original_nice: i32) -> ProcessTuning {
        match role {
            Role::Vrrp => {
                let mut t = self.vrrp.clone();
                if t.nice.is_none() && t.rt_priority.is_none() {
                    t.nice = Some((original_nice - VRRP_NICE_LEAD).max(-20));
                }
                t
            }
            Role::Checker => self.checker.clone(),
        }
    }

    /// The RLIMIT_RTTIME hard limit (µs) while a part runs real-time: the
    /// smaller of the parts' (0: none).
    fn rttime_limit(&self) -> Option<u64> {
        [&self.vrrp, &self.checker]
            .into_iter()
            .filter(|t| t.rt_priority.is_some() && t.rlimit_rttime_us > 0)
            .map(|t| t.rlimit_rttime_us)
            .min()
    }
}

/// Which part a thread does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Vrrp,
    Checker,
}

#[derive(Default)]
struct Registry {
    desired: Tuning,
    /// Registered threads: their role, and whether lvsd changed their
    /// scheduling (so that a reload removing the keywords puts it back).
    threads: BTreeMap<i32, (Role, bool)>,
    /// Registered threads not tuned yet (the VRRP thread during its
    /// start-up, see [`register_current_deferred`]).
    deferred: std::collections::BTreeSet<i32>,
    /// The process's nice value before lvsd changed any.
    original_nice: Option<i32>,
    locked: bool,
    original_rttime: Option<(u64, u64)>,
    sigxcpu_watched: bool,
}

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static REGISTRY: std::sync::OnceLock<Mutex<Registry>> = std::sync::OnceLock::new();
    // A poisoned lock only means a panic while tuning: the data is still usable.
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A tuning that failed: a warning when the configuration asked for it, a
/// debug line for lvsd's own default (without CAP_SYS_NICE, say).
fn report(desired: &Tuning, role: Role, e: &str) {
    let asked = match role {
        Role::Vrrp => &desired.vrrp,
        Role::Checker => &desired.checker,
    };
    if *asked == ProcessTuning::default() {
        tracing::debug!("{}: {e}", role_name(role));
    } else {
        tracing::warn!("{}: {e}", role_name(role));
    }
}

fn gettid() -> i32 {
    nix::unistd::gettid().as_raw()
}

/// Registers the calling thread as doing `role`, and tunes it as the
/// configuration says. Called by each thread as it starts.
pub fn register_current(role: Role) {
    let tid = gettid();
    let mut r = registry();
    let original = *r
        .original_nice
        .get_or_insert_with(|| nice_of(0).unwrap_or(0));
    let t = r.desired.of(role, original);
    let tuned = t.nice.is_some() || t.rt_priority.is_some() || !t.cpu_affinity.is_empty();
    if tuned {
        for e in apply(tid, &t, original) {
            report(&r.desired, role, &e);
        }
    }
    r.threads.insert(tid, (role, tuned));
}

/// Registers the calling thread without tuning it until it calls
/// [`activate_current`]. The VRRP thread's start-up (sockets, netlink,
/// sysctls) makes many system calls without sleeping; real-time from its
/// first instruction, a slow machine (UML: ~100 µs a call) ran past the
/// default 10 ms `vrrp_rlimit_rttime` and the kernel ended lvsd.
pub fn register_current_deferred(role: Role) {
    let tid = gettid();
    let mut r = registry();
    r.original_nice
        .get_or_insert_with(|| nice_of(0).unwrap_or(0));
    r.threads.insert(tid, (role, false));
    r.deferred.insert(tid);
}

/// Tunes the calling thread, registered by [`register_current_deferred`].
pub fn activate_current() {
    let tid = gettid();
    let role = {
        let mut r = registry();
        r.deferred.remove(&tid);
        match r.threads.get(&tid) {
            Some((role, _)) => *role,
            None => return,
        }
    };
    register_current(role);
}

/// The calling thread is ending.
pub fn unregister_current() {
    let tid = gettid();
    let mut r = registry();
    r.threads.remove(&tid);
    r.deferred.remove(&tid);
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Vrrp => "vrrp scheduling (vrrp_priority, vrrp_rt_priority, vrrp_cpu_affinity)",
        Role::Checker => {
            "checker scheduling (checker_priority, checker_rt_priority, checker_cpu_affinity)"
        }
    }
}

/// Applies `tuning` to every registered thread and to the process (memory
/// lock, real-time limit). Logs what it could not do, as keepalived does,
/// and carries on. Call inside the main runtime (the SIGXCPU watch is a
/// task of it).
pub fn configure(tuning: &Tuning) {
    let mut r = registry();
    let original = *r
        .original_nice
        .get_or_insert_with(|| nice_of(0).unwrap_or(0));
    r.desired = tuning.clone();
    let threads: Vec<(i32, Role, bool)> = r
        .threads
        .iter()
        .filter(|(tid, _)| !r.deferred.contains(tid))
        .map(|(tid, (role, touched))| (*tid, *role, *touched))
        .collect();
    for (tid, role, touched) in threads {
        let t = &tuning.of(role, original);
        let wanted = t.nice.is_some() || t.rt_priority.is_some() || !t.cpu_affinity.is_empty();
        if !wanted && !touched {
            continue;
        }
        for e in apply(tid, t, original) {
            report(&r.desired, role, &e);
        }
        r.threads.insert(tid, (role, wanted));
    }

    let lock = tuning.vrrp.no_swap || tuning.checker.no_swap;
    if lock && !r.locked {
        // SAFETY: mlockall takes flags only and touches no Rust memory.
        let rc =
            unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
        if rc == 0 {
            r.locked = true;
            tracing::info!("vrrp_no_swap / checker_no_swap: lvsd's memory is locked");
        } else {
            tracing::warn!(
                "vrrp_no_swap / checker_no_swap: locking lvsd's memory: {}",
                std::io::Error::last_os_error()
            );
        }
    } else if !lock && r.locked {
        // SAFETY: as above.
        unsafe { libc::munlockall() };
        r.locked = false;
    }

    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match tuning.rttime_limit() {
        Some(hard) => {
            if r.original_rttime.is_none() {
                r.original_rttime = getrlimit(Resource::RLIMIT_RTTIME).ok();
            }
            // As keepalived: the soft limit, which only warns (SIGXCPU), at half.
            match setrlimit(Resource::RLIMIT_RTTIME, hard / 2, hard) {
                Ok(()) => {
                    if !r.sigxcpu_watched {
                        r.sigxcpu_watched = watch_sigxcpu(hard);
                    }
                }
                Err(e) => {
                    tracing::warn!("*_rlimit_rttime: setting RLIMIT_RTTIME to {hard} µs: {e}")
                }
            }
        }
        None => {
            if let Some((soft, hard)) = r.original_rttime.take() {
                if let Err(e) = setrlimit(Resource::RLIMIT_RTTIME, soft, hard) {
                    tracing::warn!("restoring RLIMIT_RTTIME: {e}");
                }
            }
        }
    }
}

/// The soft real-time limit sends SIGXCPU, whose default action would end
/// lvsd: it is logged instead (keepalived does the same).
fn watch_sigxcpu(hard: u64) -> bool {
    use tokio::signal::unix::{signal, SignalKind};
    if tokio::runtime::Handle::try_current().is_err() {
        return false;
    }
    match signal(SignalKind::from_raw(libc::SIGXCPU)) {
        Ok(mut s) => {
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    tracing::warn!(
                        "a real-time lvsd thread ran {} µs without sleeping (half its \
                         *_rlimit_rttime): at {hard} µs the kernel ends lvsd",
                        hard / 2
                    );
                }
            });
            true
        }
        Err(e) => {
            tracing::warn!("*_rlimit_rttime: cannot catch SIGXCPU: {e}");
            false
        }
    }
}

/// The nice value of thread `tid` (0: the calling one).
fn nice_of(tid: i32) -> Option<i32> {
    // getpriority may return -1 legitimately: errno tells.
    nix::errno::Errno::clear();
    // SAFETY: getpriority takes plain integers.
    let v = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
    (v != -1 || nix::errno::Errno::last_raw() == 0).then_some(v)
}

/// Tunes thread `tid`; returns what failed. Without a real-time priority
/// the thread runs SCHED_OTHER at `t.nice` (or the process's original nice
/// value); without CPUs it may run on any.
fn apply(tid: i32, t: &ProcessTuning, original_nice: i32) -> Vec<String> {
    let mut errors = Vec::new();
    let (policy, priority) = match t.rt_priority {
        Some(p) => (libc::SCHED_RR, p as i32),
        None => (libc::SCHED_OTHER, 0),
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` lives across the call; the call reads it only.
    let rc = unsafe { libc::sched_setscheduler(tid, policy | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 {
        errors.push(format!(
            "setting the scheduling policy of thread {tid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    if t.rt_priority.is_none() {
        let nice = t.nice.unwrap_or(original_nice);
        // SAFETY: plain integers.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
        if rc != 0 {
            errors.push(format!(
                "setting the nice value of thread {tid} to {nice}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let mut set = nix::sched::CpuSet::new();
    let cpus: Vec<usize> = if t.cpu_affinity.is_empty() {
        (0..crate::config::lower::online_cpus()).collect()
    } else {
        t.cpu_affinity.clone()
    };
    for c in cpus {
        if let Err(e) = set.set(c) {
            errors.push(format!("CPU {c}: {e}"));
        }
    }
    if let Err(e) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(tid), &set) {
        errors.push(format!("setting the CPUs of thread {tid}: {e}"));
    }
    errors
}

/// How a thread is scheduled now, read back from /proc (for tests and
/// `lvsd status`): (policy, real-time priority, nice, allowed CPUs).
pub fn read_back(pid: u32, tid: i32) -> Option<(String, u32, i32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // proc(5) numbers the fields from 1 (pid 1, comm 2; `rest` starts at 3):
    // nice is 19, rt_priority 40, policy 41.
    let nice: i32 = f.get(19 - 3)?.parse().ok()?;
    let rt: u32 = f.get(40 - 3)?.parse().ok()?;
    let policy = match f.get(41 - 3)?.parse::<i32>().ok()? {
        libc::SCHED_OTHER => "SCHED_OTHER".to_string(),
        libc::SCHED_RR => "SCHED_RR".to_string(),
        libc::SCHED_FIFO => "SCHED_FIFO".to_string(),
        p => p.to_string(),
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Some((policy, rt, nice, cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smaller_real_time_limit_of_the_real_time_parts_counts() {
        let mut t = Tuning::default();
        assert_eq!(t.rttime_limit(), None, "nothing real-time");
        t.checker.rlimit_rttime_us = 500;
        assert_eq!(t.rttime_limit(), None, "a limit without a priority");
        t.vrrp.rt_priority = Some(50);
        assert_eq!(t.rttime_limit(), Some(10_000));
        t.checker.rt_priority = Some(10);
        assert_eq!(t.rttime_limit(), Some(500));
        t.checker.rlimit_rttime_us = 0;
        assert_eq!(t.rttime_limit(), Some(10_000), "0: that part sets none");
    }

    #[test]
    fn this_thread_reads_back_as_the_kernel_has_it() {
        let (policy, rt, _nice, cpus) =
            read_back(std::process::id(), gettid()).expect("/proc readable");
        assert_eq!((policy.as_str(), rt), ("SCHED_OTHER", 0));
        assert!(!cpus.is_empty());
    }
}
