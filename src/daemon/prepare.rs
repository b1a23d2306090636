//! What `lvsd run` derives from a configuration before it touches the system, shared
//! with `lvsd check-config` and `lvsd run -t`: a configuration they pass never fails
//! at start for a configuration reason, because they make the same decisions.

use std::path::Path;

use crate::config::model::LvsSyncDaemon;
use crate::config::{self, Config, ConfigOptions, Diagnostics, Loaded};
use crate::director::{translate_owned, DirectorSpec};
use crate::vrrp::config::RunAs;
use crate::vrrp::runner::VrrpConfig;

/// One loaded configuration, translated for each part: everything `lvsd run` takes
/// from the model (the keyword test compares these to find keywords without effect).
#[derive(Debug)]
pub struct Prepared {
    pub director: DirectorSpec,
    pub vrrp: VrrpConfig,
    pub sync: Option<LvsSyncDaemon>,
    /// `global_defs { script_user }`: who runs notify/quorum scripts.
    pub script_user: Option<RunAs>,
    /// `lvs_timeouts`.
    pub timeouts: crate::config::LvsTimeouts,
    /// Notify FIFOs and mail alerts.
    pub events: crate::events::sinks::EventsConfig,
    /// `lvs_flush` and `lvs_flush_on_stop`.
    pub flush: Flush,
    /// `route_announce` (lvsd's own): healthy VIPs as routes.
    pub announce: Option<crate::announce::AnnounceConfig>,
    /// `vrrp_priority`, `checker_rt_priority`, ...: how the VRRP thread and
    /// the main runtime's threads are scheduled.
    pub tuning: super::tuning::Tuning,
    /// Some script of it can run (a MISC_CHECK, or a script the daemon's
    /// vetting let through): the spawn helper is started for it.
    pub runs_scripts: bool,
}

/// What lvsd clears besides its own services (keepalived's `lvs_flush`,
/// `lvs_flush_on_stop [VS]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flush {
    /// `lvs_flush`: empty the whole IPVS table (other programs' services
    /// too) before the first table, instead of adopting it.
    pub at_start: bool,
    /// `lvs_flush_on_stop` without `VS`: empty the whole table at stop.
    /// (With `VS`, as by default, only lvsd's own services go: keepalived
    /// then skips deleting their real servers one by one first, which
    /// leaves the same table.)
    pub whole_table_at_stop: bool,
}

/// Reads `file` as `lvsd run` does. With `strict` (`--strict`), every warning is an
/// error and the configuration is refused.
pub fn load(file: &Path, opts: &ConfigOptions, strict: bool) -> Result<Loaded, Diagnostics> {
    let loaded = config::load(file, opts)?;
    if strict {
        return config::strict(loaded);
    }
    Ok(loaded)
}

/// Translates a loaded model into what the VRRP core and the director run: every check
/// `lvsd run` makes before starting. Consumes the model (its memory is reused as the
/// director's spec grows).
pub fn prepare(config: Config) -> Result<Prepared, String> {
    check_ssl_files(&config)?;
    let vrrp = crate::vrrp::translate::translate(&config).map_err(|e| e.to_string())?;
    let sync = config.global.lvs_sync_daemon.clone();
    let timeouts = config.global.lvs_timeouts;
    let flush = Flush {
        at_start: config.global.lvs_flush,
        whole_table_at_stop: config.global.lvs_flush_on_stop == Some(false),
    };
    let events = crate::events::sinks::translate(&config);
    let announce = crate::announce::translate(&config);
    let tuning = super::tuning::Tuning {
        vrrp: config.global.vrrp_tuning.clone(),
        checker: config.global.checker_tuning.clone(),
    };
    let script_user = config.global.script_user.as_ref().map(|r| RunAs {
        user: r.user.clone(),
        group: r.group.clone(),
    });
    let director = translate_owned(config).map_err(|e| e.to_string())?;
    Ok(Prepared {
        director,
        vrrp,
        sync,
        script_user,
        timeouts,
        events,
        flush,
        announce,
        tuning,
        runs_scripts: false,
    })
}

/// `SSL { }` with an SSL_GET to use it: its files are read now, so a missing
/// file, a certificate that is not one or a key the password does not open
/// is a configuration error (check-config says so; a reload keeps the old
/// configuration), not a checker that fails at run time. keepalived also
/// stops on files it cannot load, the CA included.
fn check_ssl_files(config: &Config) -> Result<(), String> {
    let Some(ssl) = &config.ssl else {
        return Ok(());
    };
    let has_ssl_get = config.virtual_servers.iter().any(|vs| {
        vs.real_servers.iter().any(|rs| {
            rs.checkers
                .iter()
                .any(|c| matches!(c, config::model::Checker::Ssl(_)))
        })
    });
    if !has_ssl_get {
        return Ok(());
    }
    if ssl.certificate.is_some() != ssl.key.is_some() {
        tracing::warn!(
            "SSL {{ }}: {} without {}: SSL_GET presents no client certificate",
            if ssl.certificate.is_some() {
                "certificate"
            } else {
                "key"
            },
            if ssl.certificate.is_some() {
                "key"
            } else {
                "certificate"
            },
        );
    }
    let options = checkers::TlsOptions {
        sni: None,
        verify_ca_file: ssl.ca.as_ref().map(Into::into),
        client_cert: crate::director::checks::client_cert(ssl),
    };
    checkers::tls::client_config(&options)
        .map(|_| ())
        .map_err(|e| format!("SSL {{ }}: {e}"))
}
