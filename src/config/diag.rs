//! Diagnostics: every problem found while loading a configuration, with where it is.
//!
//! Rendered like rustc: `file:line:col: error: message`, then the source line and a caret.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use super::source::{SourceMap, Span};

/// How bad a problem is: errors make a configuration unusable, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// What is wrong. Each variant names the object it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read '{path}': {reason}")]
    Unreadable { path: String, reason: String },
    #[error("'{path}' is not valid UTF-8 (invalid byte {byte:#04x})")]
    InvalidUtf8 { path: String, byte: u8 },
    #[error("include cycle: '{path}' is already being read")]
    IncludeCycle { path: String },
    #[error("includes nested more than {limit} files deep at '{path}'")]
    IncludeTooDeep { path: String, limit: usize },
    #[error("no file matches include pattern '{pattern}'")]
    IncludeNoMatch { pattern: String },
    #[error("invalid include pattern '{pattern}': {reason}")]
    IncludeBadPattern { pattern: String, reason: String },
    #[error("'{keyword}' needs a file name")]
    IncludeMissingFile { keyword: String },
    #[error("blocks nested more than {limit} levels deep")]
    NestingTooDeep { limit: usize },
    #[error("unmatched '}}'")]
    UnmatchedClose,
    #[error("'{{' without a keyword before it")]
    StrayOpen,
    #[error("block '{keyword}' is never closed")]
    UnclosedBlock { keyword: String },
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("configuration expands to more than {limit} lines")]
    ExpansionTooLarge { limit: usize },
    #[error("parameter substitution makes a line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("parameter substitution nested more than {limit} levels deep (does a parameter refer to itself?)")]
    SubstitutionTooDeep { limit: usize },
    #[error("malformed {directive}: {reason}")]
    BadDirective { directive: String, reason: String },
    #[error("unknown keyword '{keyword}' in {context}")]
    UnknownKeyword { keyword: String, context: String },
    #[error("'{keyword}' is not supported by lvsd; it is ignored")]
    Unsupported { keyword: String },
    #[error("'{keyword}' needs a value")]
    MissingValue { keyword: String },
    #[error("'{keyword}': invalid value '{value}'")]
    InvalidValue { keyword: String, value: String },
    #[error("'{keyword}': {value} is out of range {min}..{max}")]
    OutOfRange {
        keyword: String,
        value: String,
        min: i64,
        max: i64,
    },
    #[error("'{keyword}': unexpected argument '{value}'")]
    ExtraArgument { keyword: String, value: String },
    #[error("'{keyword}' does not take a block")]
    UnexpectedBlock { keyword: String },
    #[error("'{keyword}' needs a block {{ ... }}")]
    MissingBlock { keyword: String },
    #[error("{what} '{name}' is defined more than once")]
    Duplicate { what: String, name: String },
    #[error("{what} '{name}' is not defined")]
    UnknownReference { what: String, name: String },
    #[error("{object} has no {what}")]
    MissingRequired { object: String, what: String },
    #[error("auth_pass of {instance} is longer than 8 characters; only the first 8 are used")]
    AuthPassTruncated { instance: String },
    #[error("{instance}: nopreempt does not work with state MASTER; nopreempt is cleared (as keepalived does)")]
    NopreemptWithMaster { instance: String },
    #[error(
        "virtual_router_id {vrid} is used by both {first} and {second} on interface {interface}"
    )]
    DuplicateVrid {
        vrid: u8,
        interface: String,
        first: String,
        second: String,
    },
    #[error("real server {server} is listed more than once in {virtual_server}")]
    DuplicateRealServer {
        server: String,
        virtual_server: String,
    },
    #[error("{instance}: virtual_ipaddress mixes IPv4 and IPv6 addresses (use virtual_ipaddress_excluded for the other family)")]
    MixedVipFamilies { instance: String },
    #[error("{instance}: {reason}")]
    InstanceConflict { instance: String, reason: String },
    #[error("{virtual_server}: {reason}")]
    VirtualServerConflict {
        virtual_server: String,
        reason: String,
    },
    #[error("vrrp_instance '{instance}' is a member of both sync groups '{first}' and '{second}'")]
    InstanceInTwoSyncGroups {
        instance: String,
        first: String,
        second: String,
    },
    #[error("interface '{interface}' does not exist on this machine")]
    NoSuchInterface { interface: String },
    #[error("too many problems; stopped after {limit}")]
    TooManyProblems { limit: usize },
}

/// One problem at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Where; `None` for problems with no place (e.g. the top file cannot be read).
    pub span: Option<Span>,
    pub problem: Problem,
    /// What would have been accepted, e.g. "an integer 1..255".
    pub expected: Option<String>,
}

impl Diagnostic {
    pub fn error(span: impl Into<Option<Span>>, problem: Problem) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span: span.into(),
            problem,
            expected: None,
        }
    }

    pub fn warning(span: impl Into<Option<Span>>, problem: Problem) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            span: span.into(),
            problem,
            expected: None,
        }
    }

    pub fn expected(mut self, what: impl Into<String>) -> Diagnostic {
        self.expected = Some(what.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The one-line message, without location.
    pub fn message(&self) -> String {
        match &self.expected {
            Some(e) => format!("{} (expected {e})", self.problem),
            None => self.problem.to_string(),
        }
    }

    /// `file:line:col` of the problem, or `None` if it has no place.
    pub fn location(&self, sources: &SourceMap) -> Option<String> {
        let span = self.span?;
        let (path, line, col) = sources.locate(span);
        Some(format!("{}:{line}:{col}", path.display()))
    }

    /// `file:line:col: severity: message`, the source line and a caret under the token.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let Some(span) = self.span else {
            let _ = write!(out, "{}: {}", self.severity, self.message());
            return out;
        };
        let (path, line, col) = sources.locate(span);
        let _ = writeln!(
            out,
            "{}:{line}:{col}: {}: {}",
            path.display(),
            self.severity,
            self.problem
        );
        let text = sources
            .file(span.file)
            .map(|f| f.line_text(line))
            .unwrap_or("");
        let gutter = line.to_string().len();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line} | {}", text.replace('\t', " "));
        let width = sources
            .file(span.file)
            .and_then(|f| f.text.get(span.start as usize..span.end as usize))
            .map(|t| t.lines().next().unwrap_or("").chars().count())
            .unwrap_or(1)
            .max(1);
        let _ = write!(
            out,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(col.saturating_sub(1)),
            "^".repeat(width)
        );
        if let Some(e) = &self.expected {
            let _ = write!(out, " expected {e}");
        }
        out
    }
}

/// All problems of a configuration that could not be used, with the sources to render them.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    pub sources: SourceMap,
}

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    /// Every problem rendered, separated by blank lines, with a count at the end.
    pub fn render(&self) -> String {
        render_all(&self.items, &self.sources)
    }
}

/// Renders problems one after another, followed by a summary line.
pub fn render_all(items: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in items {
        out.push_str(&d.render(sources));
        out.push_str("\n\n");
    }
    let errors = items.iter().filter(|d| d.is_error()).count();
    let warnings = items.len() - errors;
    let _ = write!(
        out,
        "{errors} error{}, {warnings} warning{}",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    );
    out
}
