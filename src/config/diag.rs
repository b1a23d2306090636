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
    #[error("block '{keyword}' is never closed; keepalived closes it at the end of the file, and so does lvsd")]
    UnclosedBlock { keyword: String },
    #[error("{character} in '{word}' is not whitespace to keepalived (it splits words only at ASCII spaces, tabs and line breaks): it is part of the word, and so it is to lvsd")]
    LookalikeWhitespace { character: String, word: String },
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
    #[error("'{keyword}' is not implemented by lvsd; it has no effect (keepalived {keepalived})")]
    NotImplemented { keyword: String, keepalived: String },
    #[error("'{keyword}' is only partly implemented by lvsd: {missing}")]
    PartlyImplemented { keyword: String, missing: String },
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
    #[error("{owner}: {what} '{name}' is listed more than once; the repeat is ignored (as keepalived does)")]
    DuplicateEntry {
        owner: String,
        what: String,
        name: String,
    },
    #[error("{what} '{name}' is not defined")]
    UnknownReference { what: String, name: String },
    #[error("{what} '{name}' is not defined; the reference is ignored (as keepalived does)")]
    UnknownReferenceIgnored { what: String, name: String },
    #[error("'{keyword}' is deprecated (keepalived says so too); use '{instead}'")]
    DeprecatedKeyword { keyword: String, instead: String },
    #[error("'{keyword}': '{value}' {what}; keepalived {keepalived}, and so does lvsd{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    KeepalivedFallback {
        keyword: String,
        value: String,
        /// What is wrong with the value, e.g. "is not a forwarding method".
        what: String,
        /// What keepalived 2.2.7 does instead, e.g. "uses NAT" or "ignores the line".
        keepalived: String,
        /// How to write what was probably meant, e.g. "write DR".
        hint: Option<String>,
    },
    #[error("'{keyword}' value {value} is outside the sensible range {min}..{max}; it is used anyway (as keepalived does)")]
    OutsideSensibleRange {
        keyword: String,
        value: String,
        min: i64,
        max: i64,
    },
    #[error("vrrp_sync_group {group} has only {members} vrrp_instance(s); this is probably not what you want (keepalived warns too)")]
    SmallSyncGroup { group: String, members: usize },
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
    #[error("real server {server} is listed more than once in {virtual_server}; the repeat is ignored (as keepalived does)")]
    DuplicateRealServer {
        server: String,
        virtual_server: String,
    },
    #[error("{instance}: virtual_ipaddress {address} is not of the instance's address family; it is ignored (as keepalived does; use virtual_ipaddress_excluded for the other family)")]
    MixedVipFamilies {
        instance: String,
        address: std::net::IpAddr,
    },
    #[error("UDP_CHECK min_reply_length {min} is above max_reply_length {max}: no reply could pass; keepalived runs the check, failing every time, and so does lvsd")]
    ReplyLengthsNeverMatch { min: u16, max: u16 },
    #[error("UDP_CHECK min_reply_length {min} is above max_reply_length {max} (keepalived reports it too; without require_reply data the lengths are not checked)")]
    ReplyLengthsUnused { min: u16, max: u16 },
    #[error("regex_options '{option}' cannot be passed to PCRE2 by lvsd; it is ignored")]
    RegexOptionWithoutEquivalent { option: String },
    #[error("the SMTP_CHECK host block is deprecated (keepalived says so too); lvsd checks each host as keepalived does, as one more SMTP_CHECK")]
    DeprecatedSmtpHost,
    #[error("{instance}: auth_type AH is not implemented by lvsd (keepalived 2.2.7 runs it); without it lvsd would not interoperate with AH peers, so it refuses the configuration (use PASS, or no authentication, on every router)")]
    AuthAhNotImplemented { instance: String },
    #[error("{instance}: {reason}")]
    InstanceConflict { instance: String, reason: String },
    #[error("{virtual_server}: {reason}")]
    VirtualServerConflict {
        virtual_server: String,
        reason: String,
    },
    #[error("vrrp_instance '{instance}' is a member of both sync groups '{first}' and '{second}'; it is left out of '{second}' (as keepalived does)")]
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
        let width = sources
            .file(span.file)
            .and_then(|f| f.text().get(span.start as usize..span.end as usize))
            .map(|t| t.lines().next().unwrap_or("").chars().count())
            .unwrap_or(1)
            .clamp(1, MAX_CARET_WIDTH);
        let (shown, caret_at) = excerpt(&mask_secrets(text), col.saturating_sub(1));
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line} | {shown}");
        let _ = write!(
            out,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(caret_at),
            "^".repeat(width)
        );
        if let Some(e) = &self.expected {
            let _ = write!(out, " expected {e}");
        }
        out
    }
}

/// Keywords whose values are secrets: never echoed in a message or a source excerpt.
pub const SECRET_KEYWORDS: &[&str] = &["auth_pass", "password"];

/// `line` with everything after a secret keyword (see [`SECRET_KEYWORDS`]) replaced by
/// '*', character for character, so columns and carets stay where they were.
fn mask_secrets(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut masking = false;
    let mut word = String::new();
    for c in line.chars() {
        if masking {
            out.push(if c.is_whitespace() { c } else { '*' });
            continue;
        }
        out.push(c);
        if c.is_whitespace() || c == '{' || c == '}' {
            // A whole word just ended: is it a secret keyword?
            masking = SECRET_KEYWORDS.contains(&word.as_str());
            word.clear();
        } else {
            word.push(c);
        }
    }
    out
}

/// Longest source line shown whole; longer ones are cut around the problem.
const MAX_SHOWN_LINE: usize = 160;
/// Characters kept before the problem's column when a line is cut.
const CONTEXT_BEFORE: usize = 60;
/// Longest caret underline.
const MAX_CARET_WIDTH: usize = 80;

/// The part of `line` to print (tabs as spaces) and the caret's offset in it for the
/// character at `col0` (0-based). Long lines (a substituted parameter can make megabytes)
/// are cut to a window around the column, marked with "...".
fn excerpt(line: &str, col0: usize) -> (String, usize) {
    let chars: Vec<char> = line
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    if chars.len() <= MAX_SHOWN_LINE {
        return (chars.into_iter().collect(), col0);
    }
    let start = col0.saturating_sub(CONTEXT_BEFORE).min(chars.len());
    let end = (start + MAX_SHOWN_LINE).min(chars.len());
    let mut shown = String::new();
    if start > 0 {
        shown.push_str("...");
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push_str("...");
    }
    let prefix = if start > 0 { 3 } else { 0 };
    (shown, col0 - start + prefix)
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

#[cfg(test)]
mod excerpt_tests {
    use super::{excerpt, mask_secrets};

    #[test]
    fn secret_values_are_masked_in_excerpts() {
        assert_eq!(
            mask_secrets("    auth_pass  s3cret x # c"),
            "    auth_pass  ****** * * *"
        );
        assert_eq!(mask_secrets("{auth_pass 1111}"), "{auth_pass *****");
        assert_eq!(mask_secrets("password \"a b\""), "password ** **");
        assert_eq!(mask_secrets("auth_passive x"), "auth_passive x");
        assert_eq!(
            mask_secrets("notify /bin/password x"),
            "notify /bin/password x"
        );
    }

    #[test]
    fn short_lines_are_shown_whole_with_tabs_as_spaces() {
        assert_eq!(
            excerpt("\tpriority 300", 10),
            (" priority 300".to_string(), 10)
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_column_and_the_caret_follows() {
        let line = format!("{}X{}", "a".repeat(1000), "b".repeat(1000));
        let (shown, at) = excerpt(&line, 1000);
        assert!(
            shown.starts_with("...") && shown.ends_with("..."),
            "{shown}"
        );
        assert!(shown.chars().count() <= 160 + 6);
        assert_eq!(shown.chars().nth(at), Some('X'));
        let (shown, at) = excerpt(&line, 0);
        assert!(!shown.starts_with("...") && shown.ends_with("..."));
        assert_eq!(at, 0);
        let end = line.chars().count() - 1;
        let (shown, at) = excerpt(&line, end);
        assert_eq!(shown.chars().nth(at), Some('b'));
        assert!(!shown.ends_with("..."));
    }
}
