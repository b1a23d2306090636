//! The admin state file: `lvsd ctl` overrides kept across restarts, written
//! atomically (a temporary file renamed over it) whenever they change.

use std::path::Path;

use crate::director::admin::{
    real_server_text, resolve, StateFile, StoredOverride, STATE_FILE_SCHEMA,
};
use crate::director::Director;

/// Default file name, next to the control socket.
pub const DEFAULT_FILE_NAME: &str = "lvsd.admin.json";

/// Reads `path` into `director` before its first table. A missing file is
/// no override; an unreadable or malformed one is logged and ignored; an
/// override for a real server no longer configured is dropped (logged).
/// Returns whether the file should be rewritten.
pub fn load_into(path: &Path, director: &mut Director) -> bool {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(e) => {
            tracing::error!(
                "admin state file {}: {e}; starting without overrides",
                path.display()
            );
            return false;
        }
    };
    let file: StateFile = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(
                "admin state file {}: not readable ({e}); starting without overrides",
                path.display()
            );
            return false;
        }
    };
    if file.schema != STATE_FILE_SCHEMA {
        tracing::error!(
            "admin state file {}: schema {} (this lvsd reads {STATE_FILE_SCHEMA}); starting without overrides",
            path.display(),
            file.schema
        );
        return false;
    }
    let mut dirty = false;
    let mut found = Vec::new();
    for o in file.overrides {
        match resolve(director.spec(), &o.virtual_server, &o.real_server) {
            Ok(key) => {
                tracing::info!(
                    "{key}: admin override {} kept from the last run",
                    o.admin.state
                );
                found.push((key, o.admin));
            }
            Err(e) => {
                tracing::warn!(
                    "admin override {} of {} real_server {} dropped: {e}",
                    o.admin.state,
                    o.virtual_server,
                    o.real_server
                );
                dirty = true;
            }
        }
    }
    for (key, a) in director.start_with_admin(found) {
        tracing::warn!("{key}: admin override {} dropped: not configured", a.state);
        dirty = true;
    }
    dirty
}

/// The file's content for `director`'s overrides.
pub fn render(director: &Director) -> StateFile {
    StateFile {
        schema: STATE_FILE_SCHEMA,
        overrides: director
            .admin_overrides()
            .map(|(key, a)| StoredOverride {
                virtual_server: key.virtual_server.to_string(),
                real_server: real_server_text(key),
                admin: a.clone(),
            })
            .collect(),
    }
}

/// Writes the overrides of `director` to `path` atomically.
pub fn save(path: &Path, director: &Director) -> Result<(), String> {
    let err = |e: std::io::Error| format!("admin state file {}: {e}", path.display());
    let mut text = serde_json::to_string_pretty(&render(director))
        .map_err(|e| format!("admin state file {}: {e}", path.display()))?;
    text.push('\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(err)?;
    if let Ok(f) = std::fs::File::open(&tmp) {
        let _ = f.sync_all();
    }
    std::fs::rename(&tmp, path).map_err(err)
}
