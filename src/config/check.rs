//! Cross-checks over the whole model: references, duplicates, conflicts.
#![forbid(unsafe_code)]

use super::diag::Diagnostic;
use super::model::Config;
use super::ConfigOptions;

pub fn check(_config: &mut Config, _opts: &ConfigOptions, _diags: &mut Vec<Diagnostic>) {}
