//! `vrrp_track_process`: how many running processes match a spec, and
//! whether that number is within its quorum, reported with keepalived's
//! fork and terminate delays. The matching and the delays are pure; the
//! scan of /proc is a thin function the runner calls off the VRRP thread.
//!
//! keepalived learns of forks and exits from the kernel's process connector;
//! that netlink socket exists only in the initial network namespace, so
//! lvsd scans /proc every [`SCAN_INTERVAL`] instead, in every namespace (as
//! keepalived's own start-up does). A process that lives shorter than the
//! interval may go unseen.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

/// How often /proc is read.
pub const SCAN_INTERVAL: Duration = Duration::from_millis(200);

/// How a spec's parameters must match a process's arguments (keepalived's
/// `param_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamMatch {
    None,
    Exact,
    Partial,
    Initial,
}

/// One `vrrp_track_process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub name: String,
    /// The process name (`comm`) or, with `full_command`, argv\[0\].
    pub process: String,
    pub params: Vec<String>,
    pub param_match: ParamMatch,
    pub full_command: bool,
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
}

impl ProcessSpec {
    /// Whether a process with this `comm` and NUL-separated `cmdline` counts.
    pub fn matches(&self, comm: &str, cmdline: &[u8]) -> bool {
        if !self.full_command {
            return comm == self.process;
        }
        let mut args = cmdline.split(|b| *b == 0);
        if args.next() != Some(self.process.as_bytes()) {
            return false;
        }
        if self.param_match == ParamMatch::None {
            return true;
        }
        // The arguments as keepalived compares them: each followed by a NUL.
        let start = self.process.len() + 1;
        let given = cmdline.get(start..).unwrap_or_default();
        let mut wanted = Vec::new();
        for p in &self.params {
            wanted.extend_from_slice(p.as_bytes());
            wanted.push(0);
        }
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => given == wanted.as_slice(),
            _ if wanted.is_empty() => true,
            ParamMatch::Partial => given.starts_with(&wanted),
            // The last parameter may be the start of its argument.
            ParamMatch::Initial => given.starts_with(&wanted[..wanted.len() - 1]),
        }
    }

    /// Whether `count` matching processes is within the quorum.
    pub fn up(&self, count: u32) -> bool {
        count >= self.quorum && count <= self.quorum_max
    }
}

/// What is reported for one spec, with its fork / terminate delay: a
/// change waits out its delay and is dropped if the state flips back first.
#[derive(Debug, Clone, Default)]
pub struct Reporter {
    reported: Option<bool>,
    pending: Option<Instant>,
}

impl Reporter {
    /// The state now seen is `up`: the change to report, if due.
    pub fn observe(&mut self, spec: &ProcessSpec, now: Instant, up: bool) -> Option<bool> {
        if self.reported == Some(up) {
            self.pending = None;
            return None;
        }
        let delay = if up {
            spec.fork_delay
        } else {
            spec.terminate_delay
        };
        // The first scan is reported at once, as keepalived's start-up scan.
        if self.reported.is_none() || delay.is_zero() {
            self.reported = Some(up);
            self.pending = None;
            return Some(up);
        }
        let due = *self.pending.get_or_insert(now + delay);
        if now >= due {
            self.reported = Some(up);
            self.pending = None;
            return Some(up);
        }
        None
    }
}

/// Counts, for each spec, the running (not zombie) processes it matches,
/// from /proc. Blocking: call it off the VRRP thread.
pub fn scan(specs: &[ProcessSpec]) -> Vec<u32> {
    let mut counts = vec![0u32; specs.len()];
    let need_cmdline = specs.iter().any(|s| s.full_command);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return counts;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, zombie)) = comm_of_stat(&stat) else {
            continue;
        };
        if zombie {
            continue;
        }
        let cmdline = if need_cmdline {
            std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
        } else {
            Vec::new()
        };
        for (i, spec) in specs.iter().enumerate() {
            if spec.matches(comm, &cmdline) {
                counts[i] += 1;
            }
        }
    }
    counts
}

/// `comm` and whether the process is a zombie, from a /proc/PID/stat line
/// (`PID (COMM) STATE ...`; COMM may hold spaces and parentheses).
pub fn comm_of_stat(stat: &str) -> Option<(&str, bool)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, state == 'Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: &str, params: &[&str], m: ParamMatch) -> ProcessSpec {
        ProcessSpec {
            name: "t".into(),
            process: process.into(),
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: m,
            full_command: m != ParamMatch::None || !params.is_empty(),
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    #[test]
    fn matching_follows_keepalived() {
        let cmd = b"/usr/sbin/nginx\0-g\0daemon off;\0";
        assert!(spec("nginx", &[], ParamMatch::None).matches("nginx", cmd));
        assert!(!spec("nginx", &[], ParamMatch::None).matches("nginx: worker", cmd));
        let mut full = spec("/usr/sbin/nginx", &[], ParamMatch::None);
        full.full_command = true;
        assert!(full.matches("nginx", cmd));
        assert!(
            spec("/usr/sbin/nginx", &["-g", "daemon off;"], ParamMatch::Exact).matches("x", cmd)
        );
        assert!(!spec("/usr/sbin/nginx", &["-g"], ParamMatch::Exact).matches("x", cmd));
        assert!(spec("/usr/sbin/nginx", &["-g"], ParamMatch::Partial).matches("x", cmd));
        assert!(!spec("/usr/sbin/nginx", &["-g", "daemon"], ParamMatch::Partial).matches("x", cmd));
        assert!(spec("/usr/sbin/nginx", &["-g", "daemon"], ParamMatch::Initial).matches("x", cmd));
        // Exact with no parameters: a process without arguments only.
        assert!(spec("/bin/x", &[], ParamMatch::Exact).matches("x", b"/bin/x\0"));
        assert!(!spec("/bin/x", &[], ParamMatch::Exact).matches("x", b"/bin/x\0-v\0"));
    }

    #[test]
    fn quorum_bounds_count() {
        let mut s = spec("x", &[], ParamMatch::None);
        s.quorum = 2;
        s.quorum_max = 3;
        assert_eq!(
            (0..5).map(|n| s.up(n)).collect::<Vec<_>>(),
            [false, false, true, true, false]
        );
    }

    #[test]
    fn delays_hold_changes_and_a_flip_back_cancels_them() {
        let t0 = Instant::now();
        let mut s = spec("x", &[], ParamMatch::None);
        s.terminate_delay = Duration::from_secs(2);
        s.fork_delay = Duration::from_secs(1);
        let mut r = Reporter::default();
        assert_eq!(
            r.observe(&s, t0, true),
            Some(true),
            "the first scan at once"
        );
        let t = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(r.observe(&s, t(100), false), None);
        assert_eq!(
            r.observe(&s, t(1500), true),
            None,
            "back before the delay: nothing"
        );
        assert_eq!(r.observe(&s, t(1600), false), None);
        assert_eq!(r.observe(&s, t(3500), false), None);
        assert_eq!(r.observe(&s, t(3600), false), Some(false));
        assert_eq!(r.observe(&s, t(3700), true), None);
        assert_eq!(r.observe(&s, t(4700), true), Some(true));
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        assert_eq!(comm_of_stat("42 (nginx) S 1 2"), Some(("nginx", false)));
        assert_eq!(comm_of_stat("42 (a (b) c) Z 1"), Some(("a (b) c", true)));
        assert_eq!(comm_of_stat("garbage"), None);
        assert_eq!(comm_of_stat("1 (x"), None);
    }
}
