//! MISC_CHECK: run a script; its exit status is the verdict (with `misc_dynamic`, the weight).
//!
//! The script runs in its own process group so a timeout kills everything it started
//! (SIGTERM to the group, then SIGKILL), and the child is always reaped.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::{Group, Pid, User};

use crate::config::MiscCheck;
use crate::verdict::CheckResult;

/// Grace period between SIGTERM and SIGKILL for a timed-out script.
const TERM_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("misc_path is empty")]
    Empty,
    #[error("misc_path {text:?}: unterminated {quote} quote")]
    UnterminatedQuote { text: String, quote: char },
    #[error("script {path}: {reason}")]
    Insecure { path: PathBuf, reason: String },
    #[error("script {path}: {reason}")]
    NotFound { path: PathBuf, reason: String },
    #[error("user {name:?} does not exist")]
    UnknownUser { name: String },
    #[error("group {name:?} does not exist")]
    UnknownGroup { name: String },
}

/// Splits a script line into program and arguments with keepalived's rules: unquoted
/// whitespace separates; '...' and "..." group (quotes removed, adjacent text joins);
/// backslash escapes like the shell's `$'...'` (\n, \t, \xHH, \nnn octal, \cC, \C).
pub fn split_script_args(text: &str) -> Result<Vec<String>, ScriptError> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                in_word = true;
                if let Some(e) = unescape(&mut chars) {
                    current.push(e);
                }
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(ScriptError::UnterminatedQuote {
            text: text.to_string(),
            quote: q,
        });
    }
    if in_word {
        args.push(current);
    }
    if args.is_empty() {
        return Err(ScriptError::Empty);
    }
    Ok(args)
}

fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let c = chars.next()?;
    Some(match c {
        'a' => '\x07',
        'b' => '\x08',
        'E' | 'e' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        'x' => {
            let mut value = 0u32;
            let mut digits = 0;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(16)) {
                value = (value * 16 + d) & 0xff;
                digits += 1;
                chars.next();
            }
            if digits == 0 {
                'x'
            } else {
                char::from(value as u8)
            }
        }
        '0'..='7' => {
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        value = value * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            char::from((value & 0xff) as u8)
        }
        'c' => {
            let target = chars.next()?;
            char::from((target as u32 & 0x1f) as u8)
        }
        other => other,
    })
}

/// Whether the program of `misc_path` can be run: an executable file at its
/// path, or found on PATH when it has no slash. keepalived disables a
/// MISC_CHECK whose script is not found or not accessible ("Disabling misc
/// script ... since not found/accessible") instead of failing the server.
pub fn script_available(misc_path: &str) -> Result<PathBuf, ScriptError> {
    use nix::unistd::{access, AccessFlags};
    let args = split_script_args(misc_path)?;
    let program = args.first().ok_or(ScriptError::Empty)?;
    let runnable = |p: &Path| p.is_file() && access(p, AccessFlags::X_OK).is_ok();
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if runnable(&path) {
            Ok(path)
        } else {
            Err(ScriptError::NotFound {
                path,
                reason: "not found or not executable".into(),
            })
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| runnable(candidate))
        .ok_or_else(|| ScriptError::NotFound {
            path: PathBuf::from(program),
            reason: "not found on PATH".into(),
        })
}

/// Why keepalived would not run this MISC_CHECK at all: its script is not
/// found or not executable, or (`enable_script_security`) it would run as
/// root while a non-root user could modify it. keepalived then drops the
/// checker ("Disabling misc script ..."), so the real server keeps its
/// initial state rather than failing. `None`: the script may run. A script
/// that becomes insecure later is still refused at each run ([`MiscChecker::check`]).
pub fn why_disabled(spec: &MiscCheck) -> Option<ScriptError> {
    let path = match script_available(&spec.misc_path) {
        Ok(path) => path,
        Err(e) => return Some(e),
    };
    if !spec.script_security {
        return None;
    }
    // An unknown user is reported when the checker is prepared.
    let checker = MiscChecker::new(spec.clone()).ok()?;
    if checker.runs_as_root() {
        check_script_security(&path).err()
    } else {
        None
    }
}

/// keepalived's `enable_script_security` rule for scripts run as root: neither the script
/// nor any directory above it may be writable by a non-root user (owned by a non-root user,
/// group-writable with a non-root group, or world-writable). A sticky world-writable
/// directory (like /tmp) is accepted when the entry below it is owned by root, since others
/// cannot rename or replace it there.
pub fn check_script_security(script: &Path) -> Result<(), ScriptError> {
    let insecure = |path: &Path, reason: String| ScriptError::Insecure {
        path: path.to_path_buf(),
        reason,
    };
    let resolved = std::fs::canonicalize(script).map_err(|e| ScriptError::NotFound {
        path: script.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut below_owner: Option<u32> = None;
    let mut current = Some(resolved.as_path());
    while let Some(path) = current {
        let meta = std::fs::metadata(path).map_err(|e| ScriptError::NotFound {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mode = meta.mode();
        let sticky_ok = mode & 0o1000 != 0 && below_owner == Some(0);
        if meta.uid() != 0 {
            return Err(insecure(
                path,
                format!(
                    "owned by uid {}, not root (enable_script_security)",
                    meta.uid()
                ),
            ));
        }
        if mode & 0o020 != 0 && meta.gid() != 0 && !sticky_ok {
            return Err(insecure(
                path,
                format!("writable by group {} (enable_script_security)", meta.gid()),
            ));
        }
        if mode & 0o002 != 0 && !sticky_ok {
            return Err(insecure(
                path,
                "writable by everyone (enable_script_security)".to_string(),
            ));
        }
        below_owner = Some(meta.uid());
        current = path.parent();
    }
    Ok(())
}

/// A MISC_CHECK ready to run: arguments split and user resolved once.
#[derive(Debug, Clone)]
pub struct MiscChecker {
    spec: MiscCheck,
    args: Vec<String>,
    /// uid/gid to run as; `None`: as ourselves (root for the daemon).
    ids: Option<(u32, u32)>,
}

impl MiscChecker {
    pub fn new(spec: MiscCheck) -> Result<Self, ScriptError> {
        let args = split_script_args(&spec.misc_path)?;
        let ids = match &spec.user {
            None => None,
            Some((user, group)) => {
                let u = User::from_name(user)
                    .ok()
                    .flatten()
                    .ok_or_else(|| ScriptError::UnknownUser { name: user.clone() })?;
                let gid = match group {
                    None => u.gid.as_raw(),
                    Some(g) => Group::from_name(g)
                        .ok()
                        .flatten()
                        .ok_or_else(|| ScriptError::UnknownGroup { name: g.clone() })?
                        .gid
                        .as_raw(),
                };
                Some((u.uid.as_raw(), gid))
            }
        };
        Ok(MiscChecker { spec, args, ids })
    }

    fn runs_as_root(&self) -> bool {
        match self.ids {
            Some((uid, _)) => uid == 0,
            None => nix::unistd::geteuid().is_root(),
        }
    }

    fn label(&self) -> String {
        format!("MISC_CHECK {}", self.spec.misc_path)
    }

    /// One run of the script, bounded by `misc_timeout` (or `default_timeout`, the
    /// checker's delay_loop, as keepalived does when misc_timeout is unset).
    pub async fn check(&self, default_timeout: Duration) -> CheckResult {
        let label = self.label();
        let fail = |why: String| CheckResult::Failure {
            reason: format!("{label}: {why}"),
        };
        if self.spec.script_security && self.runs_as_root() {
            if let Err(e) = check_script_security(Path::new(&self.args[0])) {
                return fail(format!("refused: {e}"));
            }
        }
        let script = crate::spawner::Script {
            program: self.args[0].clone(),
            args: self.args[1..].to_vec(),
            ids: self.ids,
            output: crate::spawner::Output::Null,
            own_group: true,
        };
        // ETXTBSY: the script is still open for writing somewhere (being
        // deployed, or inherited by a process another thread just forked);
        // that lasts moments, so try again briefly before failing the check.
        let mut busy_retries = 5;
        let mut child = loop {
            match crate::spawner::spawn(&script).await {
                Ok(c) => break c,
                Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) && busy_retries > 0 => {
                    busy_retries -= 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return fail(format!("cannot run {}: {e}", self.args[0])),
            }
        };
        let pgid = child.id();
        let timeout = self.spec.misc_timeout.unwrap_or(default_timeout);
        let status = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return fail(format!("waiting for the script: {e}")),
            Err(_) => {
                end_script_group(&mut child, pgid).await;
                return fail(format!("timed out after {timeout:?}, process group killed"));
            }
        };
        let Some(code) = status.code() else {
            return fail(format!("script killed by {status}"));
        };
        match (code, self.spec.misc_dynamic) {
            (0, dynamic) => CheckResult::Success {
                weight_code: dynamic.then_some(0),
                detail: format!("{label}: exit status 0"),
            },
            (2..=255, true) => CheckResult::Success {
                weight_code: Some(code as u8),
                detail: format!("{label}: exit status {code}"),
            },
            (code, _) => fail(format!("exit status {code}")),
        }
    }
}

/// Ends a timed-out script that was started as the leader of its own
/// process group (`pgid`: its pid), as keepalived ends one: SIGTERM to the
/// group, SIGKILL to the script if it is still running after a grace of
/// 2 s, the script reaped, then SIGKILL to whatever it started and left in
/// the group.
pub async fn end_script_group(child: &mut crate::spawner::Child, pgid: Option<u32>) {
    let group = pgid.map(|id| Pid::from_raw(id as i32));
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGTERM);
    }
    if tokio::time::timeout(TERM_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_found_by_path_or_on_path_like_keepalived() {
        assert_eq!(
            script_available("/bin/sh -c 'exit 0'").expect("sh"),
            PathBuf::from("/bin/sh")
        );
        assert!(script_available("true --flag").is_ok(), "found on PATH");
        assert!(matches!(
            script_available("/etc/keepalived/no-such-check.sh 10.0.0.1"),
            Err(ScriptError::NotFound { .. })
        ));
        assert!(matches!(
            script_available("no-such-check-lvsd-test"),
            Err(ScriptError::NotFound { .. })
        ));
        // A file that is not executable is not runnable either.
        let plain = std::env::temp_dir().join(format!("lvsd-plain-{}.sh", std::process::id()));
        std::fs::write(&plain, "#!/bin/sh\n").expect("write");
        let verdict = script_available(&plain.display().to_string());
        let _ = std::fs::remove_file(&plain);
        assert!(
            matches!(verdict, Err(ScriptError::NotFound { .. })),
            "{verdict:?}"
        );
    }

    #[test]
    fn splits_like_keepalived() {
        let s = |t: &str| split_script_args(t).expect("parse");
        assert_eq!(s("/bin/check  a b"), vec!["/bin/check", "a", "b"]);
        assert_eq!(
            s("/bin/check 'two words' x"),
            vec!["/bin/check", "two words", "x"]
        );
        // The keepalived.conf(5) examples.
        assert_eq!(s("abcd\" efg h jkl \"mnop"), vec!["abcd efg h jkl mnop"]);
        assert_eq!(
            s("abcd \"efg h jkl\" mnop"),
            vec!["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(s(r#"a\"b c\\d"#), vec!["a\"b", "c\\d"]);
        assert_eq!(s(r"a\tb \x41\101\cA"), vec!["a\tb", "AA\x01"]);
        assert_eq!(s("x ''"), vec!["x", ""]);
        assert_eq!(split_script_args("   "), Err(ScriptError::Empty));
        assert!(matches!(
            split_script_args("x 'open"),
            Err(ScriptError::UnterminatedQuote { quote: '\'', .. })
        ));
    }
}
