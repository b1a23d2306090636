//! keepalived.conf: source map and diagnostics, lexer, preprocessing, block tree,
//! typed model, lowering and cross-checks.
//!
//! ```no_run
//! use lvsd::config::{load, ConfigOptions};
//! match load("/etc/keepalived/keepalived.conf".as_ref(), &ConfigOptions::default()) {
//!     Ok(loaded) => {
//!         for w in &loaded.warnings {
//!             eprintln!("{}", w.render(&loaded.sources));
//!         }
//!         println!("{} vrrp instances", loaded.config.vrrp_instances.len());
//!     }
//!     Err(problems) => eprintln!("{problems}"),
//! }
//! ```
#![forbid(unsafe_code)]

pub mod check;
pub mod diag;
pub mod keywords;
pub mod lexer;
pub mod lower;
pub mod model;
pub mod preprocess;
pub mod source;
pub mod tree;

use std::path::Path;

pub use diag::{render_all, Diagnostic, Diagnostics, Problem, Severity};
pub use model::*;
pub use source::{FileId, SourceMap, Span};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/keepalived/keepalived.conf";

/// Most problems collected before giving up (a binary file would otherwise yield millions).
pub const MAX_DIAGNOSTICS: usize = 1000;

/// How to read a configuration.
#[derive(Debug, Clone)]
pub struct ConfigOptions {
    /// The config id matched by `@id` / `@^id` lines (`-i`). `None` = keepalived's
    /// default: the host name up to the first '.'.
    pub config_id: Option<String>,
    /// Warn about interfaces that do not exist on this machine.
    pub check_interfaces: bool,
    /// Follow `include` lines (fuzzing turns this off so inputs cannot walk the disk).
    pub follow_includes: bool,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions {
            config_id: None,
            check_interfaces: false,
            follow_includes: true,
        }
    }
}

impl ConfigOptions {
    /// The config id in effect: the configured one or the short host name.
    pub fn effective_config_id(&self) -> String {
        if let Some(id) = &self.config_id {
            return id.clone();
        }
        short_hostname()
    }
}

/// The host name up to the first '.', as keepalived's default config id.
pub fn short_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    name.trim().split('.').next().unwrap_or("").to_string()
}

/// A configuration that can be used, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
    /// The files read, to render diagnostics.
    pub sources: SourceMap,
}

/// Reads, preprocesses, parses and checks the configuration at `path` (and its includes).
/// Returns every problem found if any of them is an error.
pub fn load(path: &Path, opts: &ConfigOptions) -> Result<Loaded, Diagnostics> {
    run(opts, |pre, sink| pre.run(path, sink))
}

/// Like [`load`] for text already in memory, named `path` in diagnostics (includes are
/// resolved relative to `path`'s directory).
pub fn load_str(path: &Path, text: &str, opts: &ConfigOptions) -> Result<Loaded, Diagnostics> {
    run(opts, |pre, sink| pre.run_text(path, text, sink))
}

/// `--strict`: a configuration with warnings is not usable; its warnings become errors.
pub fn strict(loaded: Loaded) -> Result<Loaded, Diagnostics> {
    if loaded.warnings.is_empty() {
        return Ok(loaded);
    }
    let items = loaded
        .warnings
        .into_iter()
        .map(|mut d| {
            d.severity = Severity::Error;
            d
        })
        .collect();
    Err(Diagnostics {
        items,
        sources: loaded.sources,
    })
}

fn run(
    opts: &ConfigOptions,
    read: impl FnOnce(preprocess::Preprocessor<'_>, &mut dyn FnMut(lexer::MappedText)),
) -> Result<Loaded, Diagnostics> {
    let config_id = opts.effective_config_id();
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let mut line_diags = Vec::new();
    let mut builder = tree::TreeBuilder::new();
    let mut lowerer = lower::Lowerer::default();
    {
        let pre = preprocess::Preprocessor::new(&config_id, &mut sources, &mut diags)
            .follow_includes(opts.follow_includes);
        let mut sink = |line: lexer::MappedText| {
            if line_diags.len() > MAX_DIAGNOSTICS {
                return;
            }
            let tokens = lexer::tokenize(&line, &mut line_diags);
            builder.line(tokens, &mut line_diags);
            for node in builder.take_complete() {
                lowerer.node(node);
            }
        };
        read(pre, &mut sink);
    }
    diags.append(&mut line_diags);
    for node in builder.finish(&mut diags) {
        lowerer.node(node);
    }
    let mut config = lowerer.finish(&mut diags);
    check::check(&mut config, opts, &mut diags);
    if diags.len() > MAX_DIAGNOSTICS {
        let any_error = diags.iter().any(Diagnostic::is_error);
        diags.truncate(MAX_DIAGNOSTICS);
        let cut = Problem::TooManyProblems {
            limit: MAX_DIAGNOSTICS,
        };
        diags.push(if any_error {
            Diagnostic::error(None, cut)
        } else {
            Diagnostic::warning(None, cut)
        });
    }
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Diagnostics {
            items: diags,
            sources,
        });
    }
    Ok(Loaded {
        config,
        warnings: diags,
        sources,
    })
}
