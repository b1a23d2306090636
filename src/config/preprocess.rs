//! Preprocessing, line by line, as keepalived does it: `include` (with globs, relative
//! to the including file), `@id` / `@^id` conditional lines, `$NAME=value` parameters
//! (multi-line with `\`), `$NAME` / `${NAME}` substitution, `~SEQ` / `~SEQx` / `~LST`
//! expansion. Everything is iterative with explicit limits, so no input can recurse
//! without bound or expand forever.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Problem};
use super::lexer::{is_space, strip_comment, MappedText};
use super::source::{lossy, read_text, FileId, SourceMap, Span};

/// Deepest chain of nested includes.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Most logical lines a configuration may expand to (~SEQ, ~LST, parameters).
/// (Half a million lines is far beyond any real configuration, and keeps a runaway
/// expansion to seconds even under the fuzzer's sanitizers.)
pub const MAX_EXPANDED_LINES: usize = 500_000;
/// Deepest chain of parameter substitutions (a parameter whose value names a parameter ...).
pub const MAX_SUBSTITUTION_DEPTH: usize = 32;
/// Largest configuration file read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest line produced by substitution.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// A file is read this much at a time (a system call each; ~100 µs in UML).
const READ_BUFFER_BYTES: usize = 64 * 1024;

const INCLUDE_KEYWORDS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];

enum Pending {
    Line { text: MappedText, depth: usize },
    Define { name: String, value: MappedText },
    OpenFile { path: PathBuf, from: Span },
}

struct FileCursor {
    file: FileId,
    /// Offset of its next line in the file's text (as read: invalid UTF-8
    /// replaced, which is how spans count).
    pos: usize,
    canonical: PathBuf,
    /// A file is read a line at a time, not held whole: a 10,000-real-server
    /// configuration's megabyte of text stayed while its model was built, a
    /// fifth of the pages its load touched (issue #19). `None`: the text was
    /// given in memory.
    reader: Option<FileReader>,
    /// The include line that opened it (where a read error is reported).
    from: Option<Span>,
    /// Invalid UTF-8 is reported once per file, at its first byte.
    invalid_utf8_seen: bool,
}

type FileReader = std::io::BufReader<std::io::Take<std::fs::File>>;

/// The next line of a file being read, without its `\n`, and whether it had
/// one; `None` at the end.
fn read_line(reader: &mut FileReader) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut bytes = Vec::new();
    if reader.read_until(b'\n', &mut bytes)? == 0 {
        return Ok(None);
    }
    let newline = bytes.last() == Some(&b'\n');
    if newline {
        bytes.pop();
    }
    Ok(Some((bytes, newline)))
}

/// Feeds every logical line of a configuration, in order, to a sink.
pub struct Preprocessor<'a> {
    config_id: &'a str,
    sources: &'a mut SourceMap,
    diags: &'a mut Vec<Diagnostic>,
    params: HashMap<String, MappedText>,
    files: Vec<FileCursor>,
    pending: Vec<Pending>,
    lines: usize,
    /// Errors reported so far (the run stops past [`super::MAX_DIAGNOSTICS`]).
    errors: usize,
    stopped: bool,
    follow_includes: bool,
}

impl<'a> Preprocessor<'a> {
    pub fn new(
        config_id: &'a str,
        sources: &'a mut SourceMap,
        diags: &'a mut Vec<Diagnostic>,
    ) -> Preprocessor<'a> {
        Preprocessor {
            config_id,
            sources,
            diags,
            params: HashMap::new(),
            files: Vec::new(),
            pending: Vec::new(),
            lines: 0,
            errors: 0,
            stopped: false,
            follow_includes: true,
        }
    }

    /// Whether `include` lines are followed (otherwise they are reported and skipped).
    pub fn follow_includes(mut self, yes: bool) -> Self {
        self.follow_includes = yes;
        self
    }

    /// Like [`run`](Self::run) with the top file's text given instead of read.
    pub fn run_text(mut self, path: &Path, text: &str, sink: &mut dyn FnMut(MappedText)) {
        let file = self.sources.add(path.to_path_buf(), text.to_string());
        self.files.push(FileCursor {
            file,
            pos: 0,
            canonical: path.to_path_buf(),
            reader: None,
            from: None,
            invalid_utf8_seen: false,
        });
        self.drive(sink);
    }

    /// Reads `path` (and everything it includes), calling `sink` with each logical line.
    pub fn run(mut self, path: &Path, sink: &mut dyn FnMut(MappedText)) {
        self.open(path, None);
        self.drive(sink);
    }

    fn drive(&mut self, sink: &mut dyn FnMut(MappedText)) {
        while !self.stopped {
            if let Some(item) = self.pending.pop() {
                match item {
                    Pending::Line { text, depth } => {
                        // Expanded lines count against the same budget as file lines.
                        if self.count_line(text.whole_span()) {
                            self.line(text, depth, sink)
                        }
                    }
                    Pending::Define { name, value } => {
                        self.params.insert(name, value);
                    }
                    Pending::OpenFile { path, from } => self.open(&path, Some(from)),
                }
                continue;
            }
            let Some((file, start, raw)) = self.next_physical_line() else {
                break;
            };
            self.physical_line(file, start, &raw, sink);
        }
    }

    fn error(&mut self, span: impl Into<Option<Span>>, problem: Problem) {
        self.diags.push(Diagnostic::error(span, problem));
        // Past the cap nothing more is shown and the configuration is refused anyway:
        // stop, so runaway expansions (a parameter referring to itself through several
        // multi-line parameters) cannot keep producing errors.
        self.errors += 1;
        if self.errors > super::MAX_DIAGNOSTICS {
            self.stopped = true;
        }
    }

    fn count_line(&mut self, span: Span) -> bool {
        self.lines += 1;
        if self.lines > MAX_EXPANDED_LINES {
            self.error(
                span,
                Problem::ExpansionTooLarge {
                    limit: MAX_EXPANDED_LINES,
                },
            );
            self.stopped = true;
            self.pending.clear();
            return false;
        }
        true
    }

    fn open(&mut self, path: &Path, from: Option<Span>) {
        let shown = path.display().to_string();
        if self.files.len() >= MAX_INCLUDE_DEPTH {
            self.error(
                from,
                Problem::IncludeTooDeep {
                    path: shown,
                    limit: MAX_INCLUDE_DEPTH,
                },
            );
            return;
        }
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.files.iter().any(|f| f.canonical == canonical) {
            self.error(from, Problem::IncludeCycle { path: shown });
            return;
        }
        let unreadable = |reason: String| Problem::Unreadable {
            path: shown.clone(),
            reason,
        };
        let meta = std::fs::metadata(path);
        // Only a regular file can be read again for a diagnostic's line; a
        // pipe or a device (`-f /dev/stdin`, a FIFO) is read whole and kept.
        let regular = matches!(&meta, Ok(m) if m.is_file());
        match meta {
            Ok(m) if m.is_dir() => {
                let p = unreadable("is a directory".into());
                self.error(from, p);
                return;
            }
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                let p = unreadable(format!("larger than {MAX_FILE_BYTES} bytes"));
                self.error(from, p);
                return;
            }
            _ => {}
        }
        if !regular {
            let (text, invalid) = match read_text(path) {
                Ok(read) => read,
                Err(e) => {
                    let p = unreadable(e.to_string());
                    self.error(from, p);
                    return;
                }
            };
            let file = self.sources.add(path.to_path_buf(), text);
            if let Some((at, byte)) = invalid {
                self.error(
                    Span::new(file, at, at + 1),
                    Problem::InvalidUtf8 { path: shown, byte },
                );
            }
            self.files.push(FileCursor {
                file,
                pos: 0,
                canonical,
                reader: None,
                from,
                invalid_utf8_seen: true,
            });
            return;
        }
        let reader = match std::fs::File::open(path) {
            Ok(f) => std::io::BufReader::with_capacity(READ_BUFFER_BYTES, f.take(MAX_FILE_BYTES)),
            Err(e) => {
                let p = unreadable(e.to_string());
                self.error(from, p);
                return;
            }
        };
        let file = self.sources.add_on_disk(path.to_path_buf());
        self.files.push(FileCursor {
            file,
            pos: 0,
            canonical,
            reader: Some(reader),
            from,
            invalid_utf8_seen: false,
        });
    }

    /// Next physical line of the innermost open file: `(file, start, text)`,
    /// the text without its line end.
    fn next_physical_line(&mut self) -> Option<(FileId, usize, String)> {
        loop {
            let cursor = self.files.last_mut()?;
            let (file, start) = (cursor.file, cursor.pos);
            let mut line = match &mut cursor.reader {
                None => {
                    let text = self.sources.file(file)?.text();
                    if start >= text.len() {
                        self.files.pop();
                        continue;
                    }
                    let end = text
                        .get(start..)
                        .and_then(|r| r.find('\n'))
                        .map(|i| start + i)
                        .unwrap_or(text.len());
                    cursor.pos = end + 1;
                    text.get(start..end).unwrap_or("").to_string()
                }
                Some(reader) => {
                    let (bytes, newline) = match read_line(reader) {
                        Ok(Some(read)) => read,
                        Ok(None) => {
                            self.files.pop();
                            continue;
                        }
                        Err(e) => {
                            let from = cursor.from;
                            self.files.pop();
                            let path = self.sources.path(file).display().to_string();
                            let reason = e.to_string();
                            self.error(from, Problem::Unreadable { path, reason });
                            continue;
                        }
                    };
                    let (line, invalid) = lossy(bytes);
                    // Once per file, at its first invalid byte.
                    let invalid = invalid
                        .filter(|_| !std::mem::replace(&mut cursor.invalid_utf8_seen, true))
                        .map(|(at, byte)| (start + at, byte));
                    cursor.pos = start + line.len() + usize::from(newline);
                    if let Some((at, byte)) = invalid {
                        let path = self.sources.path(file).display().to_string();
                        self.error(
                            Span::new(file, at, at + 1),
                            Problem::InvalidUtf8 { path, byte },
                        );
                    }
                    line
                }
            };
            if line.ends_with('\r') {
                line.pop();
            }
            return Some((file, start, line));
        }
    }

    fn physical_line(
        &mut self,
        file: FileId,
        start: usize,
        raw: &str,
        sink: &mut dyn FnMut(MappedText),
    ) {
        let kept = strip_comment(raw).trim_end_matches(is_space);
        let lead = kept.len() - kept.trim_start_matches(is_space).len();
        let body = &kept[lead..];
        if body.is_empty() {
            return;
        }
        let body_start = start + lead;
        if !self.count_line(Span::new(file, body_start, start + kept.len())) {
            return;
        }
        let first = body.split(is_space).find(|w| !w.is_empty()).unwrap_or("");
        if INCLUDE_KEYWORDS.contains(&first) {
            if !self.follow_includes {
                let span = Span::new(file, body_start, body_start + first.len());
                self.diags.push(Diagnostic::warning(
                    span,
                    Problem::Unsupported {
                        keyword: first.to_string(),
                    },
                ));
                return;
            }
            self.include(file, body_start, body, first);
            return;
        }
        if let Some((name, value_at)) = parse_definition(body) {
            let value = body[value_at..].trim_matches(is_space);
            if let Some(first_part) = value.strip_suffix('\\') {
                self.multiline_definition(file, body_start, body, name, value_at, first_part);
                return;
            }
        }
        let line = MappedText::from_source(body, file, body_start);
        self.line(line, 0, sink);
    }

    fn multiline_definition(
        &mut self,
        file: FileId,
        body_start: usize,
        body: &str,
        name: String,
        value_at: usize,
        first_part: &str,
    ) {
        let mut value = MappedText::default();
        let first = first_part.trim_matches(is_space);
        if !first.is_empty() {
            let off = body_start
                + value_at
                + (body[value_at..].len() - body[value_at..].trim_start_matches(is_space).len());
            value.push_source(first, file, off);
        }
        let nl = Span::new(file, body_start, body_start + 1);
        while let Some((f, s, raw)) = self.next_physical_line_in(file) {
            let kept = strip_comment(&raw).trim_end_matches(is_space);
            let lead = kept.len() - kept.trim_start_matches(is_space).len();
            let part = &kept[lead..];
            if part.is_empty() {
                continue;
            }
            if !self.count_line(Span::new(f, s + lead, s + kept.len())) {
                return;
            }
            let (piece, more) = match part.strip_suffix('\\') {
                Some(p) => (p.trim_end_matches(is_space), true),
                None => (part, false),
            };
            if !value.text.is_empty() {
                value.push_generated("\n", nl);
            }
            value.push_source(piece, f, s + lead);
            if !more {
                break;
            }
        }
        self.params.insert(name, value);
    }

    /// Like `next_physical_line`, but never leaves `file` (a definition ends with its file).
    fn next_physical_line_in(&mut self, file: FileId) -> Option<(FileId, usize, String)> {
        let cursor = self.files.last_mut()?;
        if cursor.file != file {
            return None;
        }
        let at_end = match &mut cursor.reader {
            None => cursor.pos >= self.sources.file(file)?.text().len(),
            // A read error is reported by next_physical_line when it meets it.
            Some(reader) => reader.fill_buf().map_or(true, <[u8]>::is_empty),
        };
        if at_end {
            return None;
        }
        self.next_physical_line()
    }

    fn include(&mut self, file: FileId, body_start: usize, body: &str, keyword: &str) {
        let span = Span::new(file, body_start, body_start + body.len());
        let pattern = body[keyword.len()..]
            .trim_matches(is_space)
            .trim_matches(|c| c == '"' || c == '\'');
        if pattern.is_empty() {
            self.error(
                span,
                Problem::IncludeMissingFile {
                    keyword: keyword.into(),
                },
            );
            return;
        }
        let base = self
            .sources
            .path(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let full_text = full.to_string_lossy().into_owned();
        let mut matches: Vec<PathBuf> = Vec::new();
        if pattern.contains(['*', '?', '[']) {
            match glob::glob(&full_text) {
                Ok(paths) => matches.extend(paths.filter_map(Result::ok).filter(|p| p.is_file())),
                Err(e) => {
                    self.error(
                        span,
                        Problem::IncludeBadPattern {
                            pattern: pattern.into(),
                            reason: e.msg.to_string(),
                        },
                    );
                    return;
                }
            }
            matches.sort();
        } else if full.exists() {
            matches.push(full);
        }
        if matches.is_empty() {
            let problem = Problem::IncludeNoMatch {
                pattern: pattern.into(),
            };
            // Plain `include` never fails in keepalived; the checked variants do.
            if keyword == "include" {
                self.diags.push(Diagnostic::warning(span, problem));
            } else {
                self.error(span, problem);
            }
            return;
        }
        for path in matches.into_iter().rev() {
            self.pending.push(Pending::OpenFile { path, from: span });
        }
    }

    /// A logical line: conditionals, definitions, sequences, substitution, then out.
    fn line(&mut self, mut text: MappedText, depth: usize, sink: &mut dyn FnMut(MappedText)) {
        loop {
            let lead = text.text.len() - text.text.trim_start_matches(is_space).len();
            if lead > 0 {
                let mut t = MappedText::default();
                t.push_slice(&text, lead, text.text.len());
                text = t;
            }
            if !text.text.starts_with('@') {
                break;
            }
            let word_end = text.text.find(is_space).unwrap_or(text.text.len());
            let cond = &text.text[1..word_end];
            let (negated, id) = match cond.strip_prefix('^') {
                Some(id) => (true, id),
                None => (false, cond),
            };
            if (id == self.config_id) == negated {
                return;
            }
            let mut t = MappedText::default();
            t.push_slice(&text, word_end, text.text.len());
            text = t;
        }
        if text.text.trim_matches(is_space).is_empty() {
            return;
        }
        if let Some((name, value_at)) = parse_definition(&text.text) {
            let trimmed_start = value_at
                + (text.text[value_at..].len()
                    - text.text[value_at..].trim_start_matches(is_space).len());
            let trimmed_end = text
                .text
                .trim_end_matches(is_space)
                .len()
                .max(trimmed_start);
            let mut value = MappedText::default();
            value.push_slice(&text, trimmed_start, trimmed_end);
            self.params.insert(name, value);
            return;
        }
        if ["~SEQ(", "~SEQx(", "~LST("]
            .iter()
            .any(|d| text.text.starts_with(d))
        {
            self.sequence(text, depth);
            return;
        }
        if depth > MAX_SUBSTITUTION_DEPTH {
            self.error(
                text.whole_span(),
                Problem::SubstitutionTooDeep {
                    limit: MAX_SUBSTITUTION_DEPTH,
                },
            );
            return;
        }
        match self.substitute(&text) {
            None => sink(text),
            Some(new) => {
                if new.text.len() > MAX_LINE_BYTES {
                    self.error(
                        text.whole_span(),
                        Problem::LineTooLong {
                            limit: MAX_LINE_BYTES,
                        },
                    );
                    return;
                }
                let mut parts = Vec::new();
                let mut start = 0;
                for (i, _) in new.text.match_indices('\n') {
                    let mut p = MappedText::default();
                    p.push_slice(&new, start, i);
                    parts.push(p);
                    start = i + 1;
                }
                let mut last = MappedText::default();
                last.push_slice(&new, start, new.text.len());
                parts.push(last);
                for p in parts.into_iter().rev() {
                    self.pending.push(Pending::Line {
                        text: p,
                        depth: depth + 1,
                    });
                }
            }
        }
    }

    /// One pass of `$NAME` / `${NAME}` replacement; `None` if nothing was replaced.
    fn substitute(&self, line: &MappedText) -> Option<MappedText> {
        let text = line.text.as_str();
        let mut out = MappedText::default();
        let mut copied = 0;
        let mut changed = false;
        let mut i = 0;
        while let Some(rel) = text.get(i..).and_then(|r| r.find('$')) {
            let at = i + rel;
            let rest = &text[at + 1..];
            let (name, end) = if let Some(inner) = rest.strip_prefix('{') {
                match inner.find('}') {
                    Some(close) => (&inner[..close], at + 2 + close + 1),
                    None => {
                        i = at + 1;
                        continue;
                    }
                }
            } else {
                let n = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let followed_ok = rest[n..].chars().next().is_none_or(is_space);
                if n == 0 || !followed_ok {
                    i = at + 1;
                    continue;
                }
                (&rest[..n], at + 1 + n)
            };
            let span = line.span(at, end);
            if let Some(value) = self.value_of(name, line, at) {
                out.push_slice(line, copied, at);
                match value {
                    // Multi-line values keep their definition's positions; single-line
                    // ones are attributed to the reference, so errors point at the use.
                    Value::Param(v) if v.text.contains('\n') => out.push_slice(&v, 0, v.text.len()),
                    Value::Param(v) => out.push_generated(&v.text, span),
                    Value::Builtin(s) => out.push_generated(&s, span),
                }
                copied = end;
                changed = true;
                if out.text.len() > MAX_LINE_BYTES {
                    // The caller reports it; stop growing now.
                    return Some(out);
                }
            }
            i = end.max(at + 1);
        }
        if !changed {
            return None;
        }
        out.push_slice(line, copied, text.len());
        Some(out)
    }

    fn value_of(&self, name: &str, line: &MappedText, at: usize) -> Option<Value> {
        if let Some(v) = self.params.get(name) {
            return Some(Value::Param(v.clone()));
        }
        let mut words = name.split(is_space).filter(|w| !w.is_empty());
        match words.next()? {
            "_PWD" => {
                let (file, _) = line.origin(at);
                let dir = self
                    .sources
                    .path(file)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                Some(Value::Builtin(dir))
            }
            "_INSTANCE" => Some(Value::Builtin(self.config_id.to_string())),
            "_HASH" => Some(Value::Builtin("#".into())),
            "_BANG" => Some(Value::Builtin("!".into())),
            "_RANDOM" => {
                let min: u32 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let max: u32 = words.next().and_then(|w| w.parse().ok()).unwrap_or(32767);
                let v = if max > min {
                    rand::random_range(min..=max)
                } else {
                    min
                };
                Some(Value::Builtin(v.to_string()))
            }
            _ => None,
        }
    }

    /// `~SEQ(var, [start,] [step,] end) rest`, `~SEQx(...)`, `~LST(var|{vars}, values...) rest`.
    fn sequence(&mut self, text: MappedText, depth: usize) {
        let t = text.text.as_str();
        let (directive, hex) = if t.starts_with("~SEQx(") {
            ("~SEQx", true)
        } else if t.starts_with("~SEQ(") {
            ("~SEQ", false)
        } else if t.starts_with("~LST(") {
            ("~LST", false)
        } else {
            return;
        };
        let span = text.span(0, directive.len());
        let bad = |reason: &str| Problem::BadDirective {
            directive: directive.to_string(),
            reason: reason.to_string(),
        };
        let open = directive.len();
        let Some(close) = t.find(')') else {
            self.error(span, bad("missing ')'"));
            return;
        };
        // Substitute inside the arguments, so `~SEQ(X, 1, $N)` works.
        let inner_text = t[open + 1..close].to_string();
        let mut inner_m = MappedText::default();
        inner_m.push_slice(&text, open + 1, close);
        let inner = match self.substitute(&inner_m) {
            Some(s) => s.text,
            None => inner_text,
        };
        let mut rest = MappedText::default();
        rest.push_slice(&text, close + 1, text.text.len());
        let mut assignments: Vec<Vec<(String, String)>> = Vec::new();
        if directive == "~LST" {
            let items = split_top_level(&inner);
            let Some((vars, values)) = items.split_first() else {
                self.error(span, bad("no variable"));
                return;
            };
            let vars = unbrace(vars);
            if vars.is_empty() || vars.iter().any(|v| !is_param_name(v)) {
                self.error(span, bad("invalid variable name"));
                return;
            }
            if values.is_empty() {
                self.error(span, bad("no values"));
                return;
            }
            for v in values {
                let vals = unbrace(v);
                if vals.len() != vars.len() {
                    self.error(
                        span,
                        bad(&format!(
                            "{} values for {} variables in '{v}'",
                            vals.len(),
                            vars.len()
                        )),
                    );
                    return;
                }
                assignments.push(vars.iter().cloned().zip(vals).collect());
            }
        } else {
            let args: Vec<&str> = inner.split(',').map(|a| a.trim_matches(is_space)).collect();
            let Some((var, nums)) = args.split_first() else {
                self.error(span, bad("no variable"));
                return;
            };
            if !is_param_name(var) {
                self.error(span, bad("invalid variable name"));
                return;
            }
            let mut parsed = Vec::new();
            for n in nums {
                match parse_int(n) {
                    Some(v) => parsed.push(v),
                    None => {
                        self.error(span, bad(&format!("'{n}' is not an integer")));
                        return;
                    }
                }
            }
            let (start, step, end) = match parsed.as_slice() {
                [end] => (if *end < 0 { -1 } else { 1 }, None, *end),
                [start, end] => (*start, None, *end),
                [start, step, end] => (*start, Some(*step), *end),
                _ => {
                    self.error(span, bad("expected (var, [start,] [step,] end)"));
                    return;
                }
            };
            let step = step.unwrap_or(if end >= start { 1 } else { -1 });
            if step == 0 {
                self.error(span, bad("step is 0"));
                return;
            }
            let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
                (end.abs_diff(start) / step.unsigned_abs()) + 1
            } else {
                0
            };
            if count.saturating_add(self.lines as u64) > MAX_EXPANDED_LINES as u64 {
                self.error(
                    span,
                    Problem::ExpansionTooLarge {
                        limit: MAX_EXPANDED_LINES,
                    },
                );
                self.stopped = true;
                self.pending.clear();
                return;
            }
            let mut v = start;
            for _ in 0..count {
                let s = if hex { format!("{v:x}") } else { v.to_string() };
                assignments.push(vec![(var.to_string(), s)]);
                v = v.saturating_add(step);
            }
        }
        for set in assignments.into_iter().rev() {
            self.pending.push(Pending::Line {
                text: rest.clone(),
                depth: depth + 1,
            });
            for (name, value) in set.into_iter().rev() {
                let mut m = MappedText::default();
                m.push_generated(&value, span);
                self.pending.push(Pending::Define { name, value: m });
            }
        }
    }
}

enum Value {
    Param(MappedText),
    Builtin(String),
}

fn is_param_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME=...` at the start of `body`: the name and the offset of the value.
fn parse_definition(body: &str) -> Option<(String, usize)> {
    let rest = body.strip_prefix('$')?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    is_param_name(name).then(|| (name.to_string(), 1 + eq + 1))
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => digits.parse::<i64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// Splits `a, {b, c}, d` at top-level commas.
fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim_matches(is_space).to_string())
            }
            c => cur.push(c),
        }
    }
    out.push(cur.trim_matches(is_space).to_string());
    out
}

/// `{a, b}` → `[a, b]`; `a` → `[a]`.
fn unbrace(s: &str) -> Vec<String> {
    match s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        Some(inner) => inner
            .split(',')
            .map(|p| p.trim_matches(is_space).to_string())
            .collect(),
        None => vec![s.trim_matches(is_space).to_string()],
    }
}
