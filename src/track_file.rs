//! Tracked files (`track_file`): the number in a file, watched with inotify. keepalived
//! rereads a file when it is written and closed, moved in, or removed (removed reads
//! as 0). Parsing is pure; the rest only moves bytes.
#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// The number in a tracked file, read as keepalived reads it (C `strtol` with base 0 on
/// the first 127 bytes): leading white space, a sign, then decimal, `0x` hex or `0`
/// octal digits up to the first other character. No digits reads as 0 (so does an empty
/// file); a number outside the 32-bit range is refused (the last value stays).
pub fn parse_track_file(contents: &[u8]) -> Result<i32, TrackFileError> {
    let text = &contents[..contents.len().min(127)];
    let mut rest = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&text[text.len()..], |i| &text[i..]);
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    let (radix, digits) = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, &rest[2..]),
        [b'0', ..] => (8, rest),
        _ => (10, rest),
    };
    let mut value: i64 = 0;
    for d in digits {
        let Some(digit) = char::from(*d).to_digit(radix) else {
            break;
        };
        value = value
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_add(i64::from(digit)))
            .filter(|v| *v <= i64::from(u32::MAX))
            .ok_or_else(|| {
                TrackFileError::OutOfRange(String::from_utf8_lossy(text).trim().to_string())
            })?;
    }
    let value = if negative { -value } else { value };
    i32::try_from(value)
        .map_err(|_| TrackFileError::OutOfRange(String::from_utf8_lossy(text).trim().to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackFileError {
    #[error("number {0:?} is outside -2147483648..2147483647; the last value stays (as keepalived does)")]
    OutOfRange(String),
}

/// The value in `path` now: a missing file reads as 0, as in keepalived.
pub fn read_value(path: &Path) -> Result<i32, String> {
    use std::io::Read;
    let mut buf = [0u8; 127];
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("track file {}: {e}", path.display())),
    };
    let n = f
        .read(&mut buf)
        .map_err(|e| format!("track file {}: {e}", path.display()))?;
    parse_track_file(&buf[..n]).map_err(|e| format!("track file {}: {e}", path.display()))
}

/// `init_file VALUE [overwrite]`: writes `VALUE\n` when the file does not exist, or at
/// start-up with `overwrite` (never over an existing file on a reload). Returns whether
/// it wrote.
pub fn init_file(path: &Path, value: i32, overwrite: bool, starting: bool) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) if !overwrite || !starting => return Ok(false),
        Ok(m) if !m.is_file() => {
            return Err(io::Error::other("it is not a regular file"));
        }
        _ => {}
    }
    std::fs::write(path, format!("{value}\n"))?;
    Ok(true)
}

/// What a daemon does with a tracked file when it (re)loads its config: `init_file`
/// (`Some((value, overwrite))`, see [`init_file`]), then read the number now. Problems
/// are logged, naming the track_file; an unreadable file reads as 0.
pub fn init_and_read(name: &str, path: &Path, init: Option<(i32, bool)>, starting: bool) -> i32 {
    if let Some((value, overwrite)) = init {
        match init_file(path, value, overwrite, starting) {
            Ok(true) => tracing::info!("track_file {name}: wrote {value} to {}", path.display()),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                "track_file {name}: cannot initialise {}: {e}",
                path.display()
            ),
        }
    }
    read_value(path).unwrap_or_else(|e| {
        tracing::warn!("{e}; read as 0");
        0
    })
}

/// Tracked files by (name, path).
pub type WatchedFiles = Vec<(String, PathBuf)>;

/// The inotify descriptor, for tokio's AsyncFd.
struct Watcher(Inotify);

impl AsRawFd for Watcher {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Watches `files` ((name, path) pairs) and sends `event(name, value)` whenever a file's
/// value may have changed: written and closed, moved in, or removed (0). Every file is
/// read once after the watches are in place, so no change between the caller's first
/// read and the watch is missed. A file whose directory cannot be watched is logged and
/// left out. Returns when the receiver is gone; an error if inotify cannot be set up.
pub async fn watch<T>(
    files: WatchedFiles,
    tx: mpsc::Sender<T>,
    event: fn(String, i32) -> T,
) -> io::Result<()> {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    let mask = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO;
    // (directory watch, file name) → the tracked files there.
    let mut watched: BTreeMap<(WatchDescriptor, OsString), Vec<(String, PathBuf)>> =
        BTreeMap::new();
    for (name, path) in files {
        let (Some(dir), Some(file)) = (path.parent(), path.file_name()) else {
            tracing::error!("track_file {name}: {} is not a file path", path.display());
            continue;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let wd = match inotify.add_watch(dir, mask) {
            Ok(wd) => wd,
            Err(e) => {
                // As keepalived: this file is not tracked (its value stays 0), the others are.
                tracing::error!(
                    "track_file {name}: cannot watch {}: {e}; its value stays as read at start",
                    dir.display()
                );
                continue;
            }
        };
        watched
            .entry((wd, file.to_owned()))
            .or_default()
            .push((name, path));
    }
    for (name, path) in watched.values().flatten() {
        match read_value(path) {
            Ok(v) => {
                if tx.send(event(name.clone(), v)).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
    // SAFETY: `Watcher` owns the inotify descriptor and always returns the same one from
    // `as_raw_fd`; the AsyncFd owns the Watcher for its whole life.
    #[allow(unsafe_code)]
    let fd = unsafe { AsyncFd::register(Watcher(inotify)) }.map_err(|e| e.into_parts().1)?;
    loop {
        let mut guard = fd.readable().await?;
        let events = match guard.get_inner().0.read_events() {
            Ok(events) => events,
            Err(nix::errno::Errno::EAGAIN) => {
                guard.clear_ready();
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for ev in events {
            let Some(file) = ev.name else { continue };
            let Some(tracked) = watched.get(&(ev.wd, file)) else {
                continue;
            };
            let gone = ev
                .mask
                .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM);
            for (name, path) in tracked {
                let value = if gone { Ok(0) } else { read_value(path) };
                match value {
                    Ok(v) => {
                        if tx.send(event(name.clone(), v)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_file_contents_are_read_as_strtol_reads_them() {
        for (text, value) in [
            ("", 0),
            ("0\n", 0),
            ("  42\n", 42),
            ("-7", -7),
            ("+5", 5),
            ("0x1f", 31),
            ("0X10", 16),
            ("010", 8),
            ("12abc", 12),
            ("abc", 0),
            ("0x", 0),
            ("09", 0),
            ("2147483647", i32::MAX),
            ("-2147483648", i32::MIN),
        ] {
            assert_eq!(parse_track_file(text.as_bytes()), Ok(value), "{text:?}");
        }
        for text in ["2147483648", "-2147483649", "99999999999999999999999"] {
            assert!(parse_track_file(text.as_bytes()).is_err(), "{text:?}");
        }
        // Only the first 127 bytes count, as in keepalived.
        let long = format!("{}1", " ".repeat(127));
        assert_eq!(parse_track_file(long.as_bytes()), Ok(0));
    }

    #[test]
    fn init_file_writes_only_where_keepalived_does() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("state");
        assert!(init_file(&f, 5, false, true).expect("create"));
        assert_eq!(read_value(&f), Ok(5));
        assert!(!init_file(&f, 7, false, true).expect("exists"));
        assert!(!init_file(&f, 7, true, false).expect("reload keeps it"));
        assert_eq!(read_value(&f), Ok(5));
        assert!(init_file(&f, 7, true, true).expect("overwrite"));
        assert_eq!(read_value(&f), Ok(7));
        assert_eq!(read_value(&dir.path().join("none")), Ok(0));
        assert!(init_file(dir.path(), 1, true, true).is_err(), "a directory");
    }

    #[tokio::test]
    async fn writes_moves_and_removals_are_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("prio");
        std::fs::write(&f, "3\n").expect("write");
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(watch(vec![("p".into(), f.clone())], tx, |n, v| (n, v)));
        let mut next = async || {
            tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
                .await
                .expect("an event in time")
                .expect("watcher alive")
        };
        assert_eq!(next().await, ("p".into(), 3), "read once at start");
        std::fs::write(&f, "-20\n").expect("write");
        assert_eq!(next().await, ("p".into(), -20));
        std::fs::remove_file(&f).expect("rm");
        assert_eq!(next().await, ("p".into(), 0));
        let tmp = dir.path().join("prio.new");
        std::fs::write(&tmp, "0x10").expect("write");
        std::fs::rename(&tmp, &f).expect("mv");
        assert_eq!(next().await, ("p".into(), 16));
        // Other files in the directory are not reported.
        std::fs::write(dir.path().join("other"), "9").expect("write");
        std::fs::write(&f, "1").expect("write");
        assert_eq!(next().await, ("p".into(), 1));
        task.abort();
    }

    #[tokio::test]
    async fn a_file_in_a_missing_directory_does_not_stop_the_others() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("ok");
        let (tx, mut rx) = mpsc::channel(16);
        let files = vec![
            ("gone".into(), dir.path().join("no/such/dir/f")),
            ("ok".into(), f.clone()),
        ];
        let task = tokio::spawn(watch(files, tx, |n, v| (n, v)));
        let mut next = async || {
            tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
                .await
                .expect("an event in time")
                .expect("watcher alive")
        };
        assert_eq!(next().await, ("ok".into(), 0));
        std::fs::write(&f, "4").expect("write");
        assert_eq!(next().await, ("ok".into(), 4));
        task.abort();
    }
}
