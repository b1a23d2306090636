//! Lowering: the generic block tree into the typed model, one block kind per module.
//!
//! Every problem becomes a diagnostic; lowering never stops at the first one. Keywords
//! lvsd does not (fully) implement are warned about as the keyword table
//! ([`keywords`](super::keywords)) says, when their block's statements are read
//! ([`Cx::statements`]); unknown keywords are warnings, as in keepalived.
#![forbid(unsafe_code)]

mod announce;
mod global;
pub use global::online_cpus;
mod lvs;
mod vrrp;

use std::net::IpAddr;
use std::time::Duration;

use super::diag::{Diagnostic, Problem};
use super::keywords::{self, Block, Support};
use super::lexer::Token;
use super::model::{Config, LvsSyncDaemon, ScriptCommand};
use super::source::Span;
use super::tree::Node;

/// Lowers top-level statements one by one as the reader completes them, so the tree of a
/// large configuration never exists whole: each statement's subtree is freed once lowered
/// and the next one reuses its memory (at a 10,000-real-server start-up, page faults are
/// most of the cost where they are dear, as in the UML test bed).
///
/// `global_defs` applies wherever it is in the file: `vrrp_instance` blocks, which inherit
/// from it, wait for the end; nothing else reads it (a checker's `log_all_failures` stays
/// `None` for "global_defs' value"). Diagnostics come out as a whole-tree lowering gives
/// them: global ones first, then the others in file order.
#[derive(Default)]
pub struct Lowerer {
    config: Config,
    global_diags: Vec<Diagnostic>,
    /// Diagnostics of the other statements, by statement index.
    diags: Vec<(usize, Vec<Diagnostic>)>,
    /// `vrrp_instance` statements, lowered at the end, with their statement index.
    deferred: Vec<(usize, Node)>,
    statements: usize,
}

impl Lowerer {
    /// Lowers one complete top-level statement.
    pub fn node(&mut self, node: Node) {
        let index = self.statements;
        self.statements += 1;
        let kw = node.name();
        if keywords::support(Block::TopLevel, kw).is_some_and(|s| s != Support::Implemented) {
            let mut cx = Cx {
                diags: &mut self.global_diags,
            };
            cx.check_support(Block::TopLevel, &node.keyword);
        }
        if kw == "global_defs" {
            let mut cx = Cx {
                diags: &mut self.global_diags,
            };
            global::global_defs(&mut cx, &node, &mut self.config.global);
            return;
        }
        if global::TOP_LEVEL_GLOBALS.contains(&kw) {
            let mut cx = Cx {
                diags: &mut self.global_diags,
            };
            global::global_keyword(&mut cx, &node, &mut self.config.global);
            return;
        }
        if kw == "vrrp_instance" {
            self.deferred.push((index, node));
            return;
        }
        let mut diags = Vec::new();
        let mut cx = Cx { diags: &mut diags };
        let config = &mut self.config;
        let node = &node;
        match kw {
            "vrrp_script" => {
                if let Some(s) = vrrp::vrrp_script(&mut cx, node) {
                    config.vrrp_scripts.push(s);
                }
            }
            "vrrp_track_process" => {
                if let Some(p) = vrrp::vrrp_track_process(&mut cx, node) {
                    config.vrrp_track_processes.push(p);
                }
            }
            "track_file" | "vrrp_track_file" => {
                if let Some(t) = vrrp::track_file(&mut cx, node) {
                    config.track_files.push(t);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = vrrp::vrrp_sync_group(&mut cx, node) {
                    config.vrrp_sync_groups.push(g);
                }
            }
            "track_group" => {
                if let Some(g) = vrrp::track_group(&mut cx, node) {
                    config.track_groups.push(g);
                }
            }
            "static_ipaddress" => {
                for n in cx.block(node) {
                    if let Some(a) = vrrp::ip_address(&mut cx, n) {
                        config.static_ipaddresses.push(a);
                    }
                }
            }
            "static_routes" => {
                for n in cx.block(node) {
                    config.static_routes.push(vrrp::route(&mut cx, n));
                }
            }
            "static_rules" => {
                for n in cx.block(node) {
                    config.static_rules.push(vrrp::rule(&mut cx, n));
                }
            }
            "virtual_server_group" => {
                if let Some(g) = lvs::virtual_server_group(&mut cx, node) {
                    config.virtual_server_groups.push(g);
                }
            }
            "virtual_server" => {
                if let Some(v) = lvs::virtual_server(&mut cx, node) {
                    config.virtual_servers.push(v);
                }
            }
            "SSL" => config.ssl = Some(lvs::ssl(&mut cx, node)),
            "route_announce" => {
                config.route_announce = Some(announce::route_announce(&mut cx, node))
            }
            // Warned above.
            k if keywords::not_implemented(Block::TopLevel, k) => {}
            _ => cx.unknown(node, "the top level"),
        }
        if !diags.is_empty() {
            self.diags.push((index, diags));
        }
    }

    /// Lowers what waited for the whole file and returns the model; diagnostics are
    /// appended to `diags`.
    pub fn finish(mut self, diags: &mut Vec<Diagnostic>) -> Config {
        for (index, owned) in std::mem::take(&mut self.deferred) {
            let mut instance_diags = Vec::new();
            let mut cx = Cx {
                diags: &mut instance_diags,
            };
            let config = &mut self.config;
            if let Some((i, sync_if)) = vrrp::vrrp_instance(&mut cx, &owned, &config.global) {
                if let (Some(interface), None) = (sync_if, &config.global.lvs_sync_daemon) {
                    config.global.lvs_sync_daemon = Some(LvsSyncDaemon {
                        interface,
                        span: i.span,
                        instance: Some(i.name.clone()),
                        sync_id: None,
                        maxlen: None,
                        port: None,
                        ttl: None,
                        group: None,
                    });
                }
                config.vrrp_instances.push(i);
            }
            if !instance_diags.is_empty() {
                self.diags.push((index, instance_diags));
            }
        }
        // Stable: a statement's own diagnostics keep their order.
        self.diags.sort_by_key(|(index, _)| *index);
        diags.append(&mut self.global_diags);
        for (_, mut d) in self.diags {
            diags.append(&mut d);
        }
        self.config
    }
}

/// Lowering context: where diagnostics go, and the small parsers every block uses.
pub(crate) struct Cx<'d> {
    pub diags: &'d mut Vec<Diagnostic>,
}

pub(crate) const BOOL_EXPECTED: &str = "on|off|true|false|yes|no";

impl Cx<'_> {
    /// Keeps at most a bit more than [`MAX_DIAGNOSTICS`](super::MAX_DIAGNOSTICS); the
    /// loader reports the cut.
    fn push(&mut self, d: Diagnostic) {
        // Past the cap, keep only a first error, so a refused configuration stays refused.
        if self.diags.len() <= super::MAX_DIAGNOSTICS
            || (d.is_error() && !self.diags.iter().any(Diagnostic::is_error))
        {
            self.diags.push(d);
        }
    }

    pub fn error(&mut self, span: Span, problem: Problem) {
        self.push(Diagnostic::error(span, problem));
    }

    pub fn error_expected(&mut self, span: Span, problem: Problem, expected: &str) {
        self.push(Diagnostic::error(span, problem).expected(expected));
    }

    pub fn warning(&mut self, span: Span, problem: Problem) {
        self.push(Diagnostic::warning(span, problem));
    }

    pub fn unknown(&mut self, node: &Node, context: &str) {
        self.warning(
            node.keyword.span,
            Problem::UnknownKeyword {
                keyword: node.name().to_string(),
                context: context.to_string(),
            },
        );
    }

    /// A warning for `keyword` in `block` if the keyword table says lvsd does not
    /// implement it, or only in part.
    pub fn check_support(&mut self, block: Block, keyword: &Token) {
        let problem = match keywords::support(block, &keyword.text) {
            Some(Support::NotImplemented(what)) => Problem::NotImplemented {
                keyword: keyword.text.clone(),
                keepalived: what.to_string(),
            },
            Some(Support::Partly(what)) => Problem::PartlyImplemented {
                keyword: keyword.text.clone(),
                missing: what.to_string(),
            },
            Some(Support::Implemented) | None => return,
        };
        self.warning(keyword.span, problem);
    }

    /// The statements of `node`'s block (an error if it has none), each checked
    /// against the keyword table for `block`.
    pub fn statements<'n>(&mut self, node: &'n Node, block: Block) -> &'n [Node] {
        let nodes = self.block(node);
        for n in nodes {
            self.check_support(block, &n.keyword);
        }
        nodes
    }

    /// The statements of `node`'s block; an error if it has none.
    pub fn block<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        match &node.block {
            Some(b) => &b.nodes,
            None => {
                self.error(
                    node.span(),
                    Problem::MissingBlock {
                        keyword: node.name().to_string(),
                    },
                );
                &[]
            }
        }
    }

    /// An error if a scalar keyword has a block (the block is ignored).
    pub fn no_block(&mut self, node: &Node) -> bool {
        if let Some(b) = &node.block {
            self.error(
                b.open,
                Problem::UnexpectedBlock {
                    keyword: node.name().to_string(),
                },
            );
            return false;
        }
        true
    }

    fn missing(&mut self, node: &Node, expected: &str) {
        self.error_expected(
            node.keyword.span,
            Problem::MissingValue {
                keyword: node.name().to_string(),
            },
            expected,
        );
    }

    fn extra(&mut self, node: &Node, from: usize) {
        if let Some(t) = node.args.get(from) {
            // After a password, an extra word is likely part of it: never echo it.
            let value = if super::diag::SECRET_KEYWORDS.contains(&node.name()) {
                super::model::Secret::REDACTED.to_string()
            } else {
                t.text.clone()
            };
            self.warning(
                t.span,
                Problem::ExtraArgument {
                    keyword: node.name().to_string(),
                    value,
                },
            );
        }
    }

    pub fn invalid(&mut self, node: &Node, tok: &Token, expected: &str) {
        self.error_expected(
            tok.span,
            Problem::InvalidValue {
                keyword: node.name().to_string(),
                value: tok.text.clone(),
            },
            expected,
        );
    }

    /// A value keepalived 2.2.7 logs and carries on after: a warning naming the token, what
    /// is wrong with it (`what`, e.g. "is not a forwarding method"), what keepalived does
    /// instead (`keepalived`, e.g. "uses NAT"), which lvsd does too, and how to write what
    /// was probably meant.
    pub fn fallback(
        &mut self,
        node: &Node,
        tok: &Token,
        what: &str,
        keepalived: &str,
        hint: Option<String>,
    ) {
        self.warning(
            tok.span,
            Problem::KeepalivedFallback {
                keyword: node.name().to_string(),
                value: tok.text.clone(),
                what: what.to_string(),
                keepalived: keepalived.to_string(),
                hint,
            },
        );
    }

    /// A number as keepalived 2.2.7 reads it with `read_unsigned_strvec(.., ignore_error =
    /// true)` when it runs (not under `-t`): the leading decimal number, 0 if there is
    /// none (strtoul); junk after it is logged and the number used if it is in
    /// `min..=max`; a number out of range (or negative) makes keepalived ignore the line.
    /// Each case but the plain number in range warns; `otherwise` says what keepalived
    /// does then (its handler's own fallback, e.g. "ignores the line").
    pub fn keepalived_run_unsigned(
        &mut self,
        node: &Node,
        tok: &Token,
        (min, max): (u64, u64),
        otherwise: &str,
    ) -> Option<u64> {
        let text = tok.text.trim_start_matches(super::lexer::is_space);
        let unsigned = text.strip_prefix('+').unwrap_or(text);
        let digits_end = unsigned
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(unsigned.len());
        let (digits, junk) = unsigned.split_at(digits_end);
        let value = if digits.is_empty() {
            Some(0)
        } else {
            digits.parse::<u64>().ok()
        };
        let in_range = value.filter(|v| (min..=max).contains(v) && !text.starts_with('-'));
        match (in_range, junk.is_empty() && !digits.is_empty()) {
            (Some(v), true) => Some(v),
            (Some(v), false) => {
                self.fallback(
                    node,
                    tok,
                    "is not a plain number",
                    &format!(
                        "runs with {v}, the number it starts with (keepalived -t reports the \
                         value as invalid)"
                    ),
                    None,
                );
                Some(v)
            }
            (None, _) => {
                self.fallback(
                    node,
                    tok,
                    &format!("is not a number {min}..{max}"),
                    otherwise,
                    None,
                );
                None
            }
        }
    }

    /// The single argument of `node`.
    pub fn one<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n Token> {
        self.no_block(node);
        let Some(t) = node.args.first() else {
            self.missing(node, expected);
            return None;
        };
        self.extra(node, 1);
        Some(t)
    }

    /// The single argument of `node` as a string.
    pub fn string(&mut self, node: &Node) -> Option<String> {
        self.one(node, "a value").map(|t| t.text.clone())
    }

    /// All arguments joined by spaces (e.g. `script /bin/x arg`), at least one.
    pub fn rest(&mut self, node: &Node, expected: &str) -> Option<String> {
        self.no_block(node);
        if node.args.is_empty() {
            self.missing(node, expected);
            return None;
        }
        Some(
            node.args
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// A keyword that is a flag, optionally followed by <BOOL>.
    pub fn flag(&mut self, node: &Node) -> bool {
        self.no_block(node);
        let Some(t) = node.args.first() else {
            return true;
        };
        self.extra(node, 1);
        match parse_bool(&t.text) {
            Some(b) => b,
            None => {
                self.invalid(node, t, BOOL_EXPECTED);
                true
            }
        }
    }

    /// An integer token in `min..=max`.
    pub fn int_token(&mut self, node: &Node, tok: &Token, min: i64, max: i64) -> Option<i64> {
        let Some(v) = parse_integer(&tok.text) else {
            self.invalid(node, tok, &format!("an integer {min}..{max}"));
            return None;
        };
        if v < min || v > max {
            self.error(
                tok.span,
                Problem::OutOfRange {
                    keyword: node.name().to_string(),
                    value: tok.text.clone(),
                    min,
                    max,
                },
            );
            return None;
        }
        Some(v)
    }

    /// The single integer argument, in `min..=max`.
    pub fn int(&mut self, node: &Node, min: i64, max: i64) -> Option<i64> {
        let t = self.one(node, &format!("an integer {min}..{max}"))?;
        self.int_token(node, t, min, max)
    }

    /// `weight W [reverse]` in a block (vrrp_script, track_file, FILE_CHECK), W in
    /// -limit..=limit, and with `noreverse` its opposite too (keepalived takes it in
    /// FILE_CHECK only). Returns W (`None` when missing or bad: reported) and the
    /// reverse word given (`None` without one).
    pub fn weight_and_reverse(
        &mut self,
        n: &Node,
        limit: i64,
        noreverse: bool,
    ) -> (Option<i64>, Option<bool>) {
        self.no_block(n);
        let Some(w) = n.args.first() else {
            self.missing(n, &format!("an integer -{limit}..{limit}"));
            return (None, None);
        };
        let weight = self.int_token(n, w, -limit, limit);
        let reverse = match n.args.get(1).map(|a| a.text.as_str()) {
            None => None,
            Some("reverse") => Some(true),
            Some("noreverse") if noreverse => Some(false),
            Some(_) => {
                self.extra(n, 1);
                None
            }
        };
        self.extra(n, 2);
        (weight, reverse)
    }

    pub fn u32(&mut self, node: &Node) -> Option<u32> {
        self.int(node, 0, i64::from(u32::MAX))
            .and_then(|v| u32::try_from(v).ok())
    }

    pub fn u8_range(&mut self, node: &Node, min: u8, max: u8) -> Option<u8> {
        self.int(node, i64::from(min), i64::from(max))
            .and_then(|v| u8::try_from(v).ok())
    }

    /// A <TIMER> token: seconds, fractions allowed (microsecond resolution).
    pub fn timer_token(&mut self, node: &Node, tok: &Token) -> Option<Duration> {
        match parse_timer(&tok.text) {
            Some(d) => Some(d),
            None => {
                self.invalid(node, tok, "a time in seconds, e.g. 3 or 0.5");
                None
            }
        }
    }

    pub fn timer(&mut self, node: &Node) -> Option<Duration> {
        let t = self.one(node, "a time in seconds")?;
        self.timer_token(node, t)
    }

    /// An address where keepalived 2.2.7 reads a plain one with `inet_stosockaddr`, which
    /// drops a `/prefix` or `-range` after it without a word: lvsd drops it too, with a
    /// warning.
    pub fn plain_ip_token(&mut self, node: &Node, tok: &Token) -> Option<IpAddr> {
        let Some(cut) = tok.text.find(['/', '-']) else {
            return self.ip_token(node, tok);
        };
        let address = tok.text.get(..cut).unwrap_or("");
        let Ok(ip) = address.parse::<IpAddr>() else {
            self.invalid(node, tok, "an IPv4 or IPv6 address");
            return None;
        };
        self.fallback(
            node,
            tok,
            "is not a plain address",
            &format!(
                "drops '{}' and uses {ip}",
                tok.text.get(cut..).unwrap_or("")
            ),
            Some(format!("write {ip}")),
        );
        Some(ip)
    }

    pub fn plain_ip(&mut self, node: &Node) -> Option<IpAddr> {
        let t = self.one(node, "an IP address")?;
        self.plain_ip_token(node, t)
    }

    pub fn ip_token(&mut self, node: &Node, tok: &Token) -> Option<IpAddr> {
        match tok.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.invalid(node, tok, "an IPv4 or IPv6 address");
                None
            }
        }
    }

    pub fn port_token(&mut self, node: &Node, tok: &Token) -> Option<u16> {
        match parse_integer(&tok.text).and_then(|v| u16::try_from(v).ok()) {
            Some(p) => Some(p),
            None => {
                self.invalid(node, tok, "a port 0..65535");
                None
            }
        }
    }

    pub fn port(&mut self, node: &Node) -> Option<u16> {
        let t = self.one(node, "a port")?;
        self.port_token(node, t)
    }

    /// `KEYWORD SCRIPT [USER [GROUP]]`.
    pub fn script(&mut self, node: &Node) -> Option<ScriptCommand> {
        self.no_block(node);
        let Some(cmd) = node.args.first() else {
            self.missing(node, "a script path or quoted command line");
            return None;
        };
        self.extra(node, 3);
        Some(ScriptCommand {
            command: cmd.text.clone(),
            user: node.args.get(1).map(|t| t.text.clone()),
            group: node.args.get(2).map(|t| t.text.clone()),
        })
    }

    /// The words of a list block (`notification_email { a b }`): every keyword and argument.
    pub fn words(&mut self, node: &Node) -> Vec<Token> {
        let mut out = Vec::new();
        for n in self.block(node) {
            if let Some(b) = &n.block {
                self.error(
                    b.open,
                    Problem::UnexpectedBlock {
                        keyword: n.name().to_string(),
                    },
                );
            }
            out.push(n.keyword.clone());
            out.extend(n.args.iter().cloned());
        }
        out
    }
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Decimal, or hex with 0x, optionally negative.
pub(crate) fn parse_integer(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() {
        return None;
    }
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => {
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<i64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Seconds with up to 6 decimals (more are truncated): `3`, `0.5`, `2.71828`.
pub(crate) fn parse_timer(s: &str) -> Option<Duration> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    if secs > 1_000_000_000 {
        return None;
    }
    let mut micros: u32 = 0;
    for (i, d) in frac.bytes().take(6).enumerate() {
        micros += u32::from(d - b'0') * 10u32.pow(5 - i as u32);
    }
    Some(Duration::from_secs(secs) + Duration::from_micros(u64::from(micros)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_parse_fractions() {
        assert_eq!(parse_timer("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_timer("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_timer("2.71828"),
            Some(Duration::from_micros(2_718_280))
        );
        assert_eq!(parse_timer(".000001"), Some(Duration::from_micros(1)));
        assert_eq!(parse_timer("-1"), None);
        assert_eq!(parse_timer("1e3"), None);
        assert_eq!(parse_timer(""), None);
    }

    #[test]
    fn integers_and_bools() {
        assert_eq!(parse_integer("-20"), Some(-20));
        assert_eq!(parse_integer("0x10"), Some(16));
        assert_eq!(parse_integer("1.5"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}
