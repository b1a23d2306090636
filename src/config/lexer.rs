//! Lexical layer: one logical line (after preprocessing) into tokens.
//!
//! Tokens are words, quoted strings (quotes removed, escapes applied, may be glued to
//! words: `ab"c d"e` is one token `abc de`), and the braces `{` and `}`, which are
//! tokens of their own even when glued to a word (`virtual_ipaddress{`).
#![forbid(unsafe_code)]

use super::diag::{Diagnostic, Problem};
use super::source::{FileId, Span};

/// Where the bytes of a logical line came from. Text copied from a file keeps exact
/// offsets; text produced by substitution points at the reference that produced it.
#[derive(Debug, Clone, Default)]
pub struct MappedText {
    pub text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Offset in `text` where this segment starts.
    at: usize,
    file: FileId,
    origin: usize,
    /// Whether offsets advance with the text (copied) or all map to `origin` (substituted).
    contiguous: bool,
}

impl MappedText {
    /// Text copied verbatim from `file` at byte offset `origin`.
    pub fn from_source(text: &str, file: FileId, origin: usize) -> MappedText {
        let mut m = MappedText::default();
        m.push_source(text, file, origin);
        m
    }

    pub fn push_source(&mut self, text: &str, file: FileId, origin: usize) {
        if text.is_empty() {
            return;
        }
        self.segments.push(Segment {
            at: self.text.len(),
            file,
            origin,
            contiguous: true,
        });
        self.text.push_str(text);
    }

    /// Text produced by substitution, attributed to `span`'s start.
    pub fn push_generated(&mut self, text: &str, at: Span) {
        if text.is_empty() {
            return;
        }
        self.segments.push(Segment {
            at: self.text.len(),
            file: at.file,
            origin: at.start as usize,
            contiguous: false,
        });
        self.text.push_str(text);
    }

    /// Appends `other[range]` keeping its origins.
    pub fn push_slice(&mut self, other: &MappedText, start: usize, end: usize) {
        let end = end.min(other.text.len());
        let mut pos = start;
        while pos < end {
            let Some(idx) = other.segment_index(pos) else {
                return;
            };
            let seg = other.segments[idx];
            let seg_end = other
                .segments
                .get(idx + 1)
                .map(|s| s.at)
                .unwrap_or(other.text.len())
                .min(end);
            let Some(piece) = other.text.get(pos..seg_end) else {
                return;
            };
            self.segments.push(Segment {
                at: self.text.len(),
                file: seg.file,
                origin: if seg.contiguous {
                    seg.origin + (pos - seg.at)
                } else {
                    seg.origin
                },
                contiguous: seg.contiguous,
            });
            self.text.push_str(piece);
            pos = seg_end.max(pos + 1);
        }
    }

    fn segment_index(&self, offset: usize) -> Option<usize> {
        if self.segments.is_empty() {
            return None;
        }
        Some(
            match self.segments.binary_search_by(|s| s.at.cmp(&offset)) {
                Ok(i) => i,
                Err(i) => i.saturating_sub(1),
            },
        )
    }

    /// The source position of text offset `offset`.
    pub fn origin(&self, offset: usize) -> (FileId, usize) {
        match self.segment_index(offset) {
            Some(i) => {
                let s = self.segments[i];
                if s.contiguous {
                    (s.file, s.origin + offset.saturating_sub(s.at))
                } else {
                    (s.file, s.origin)
                }
            }
            None => (FileId(0), 0),
        }
    }

    /// The source span of text range `start..end` (clipped to one segment's file).
    pub fn span(&self, start: usize, end: usize) -> Span {
        let (file, a) = self.origin(start);
        let (file_b, b) = self.origin(end.saturating_sub(1).max(start));
        if file_b == file && b >= a {
            Span::new(file, a, b + usize::from(end > start))
        } else {
            Span::new(file, a, a + 1)
        }
    }

    /// Span of the whole line.
    pub fn whole_span(&self) -> Span {
        self.span(0, self.text.len())
    }
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    Open,
    Close,
}

/// A token with its text (quotes removed) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub span: Span,
    /// Whether any part was quoted.
    pub quoted: bool,
}

/// Splits one logical line into tokens. Comments must already be stripped.
pub fn tokenize(line: &MappedText, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let text = line.text.as_str();
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if is_space(c) {
            chars.next();
            continue;
        }
        if c == '{' || c == '}' {
            chars.next();
            tokens.push(Token {
                kind: if c == '{' {
                    TokenKind::Open
                } else {
                    TokenKind::Close
                },
                text: c.to_string(),
                span: line.span(start, start + 1),
                quoted: false,
            });
            continue;
        }
        let mut word = String::new();
        let mut quoted = false;
        let mut end = start;
        // The first look-alike space outside quotes: where and what.
        let mut lookalike: Option<(usize, char)> = None;
        while let Some(&(i, c)) = chars.peek() {
            if is_space(c) || c == '{' || c == '}' {
                break;
            }
            if lookalike.is_none() && lookalike_space_name(c).is_some() {
                lookalike = Some((i, c));
            }
            if c == '"' || c == '\'' {
                quoted = true;
                chars.next();
                let quote = c;
                let mut closed = false;
                while let Some((j, c)) = chars.next() {
                    end = j + c.len_utf8();
                    if c == quote {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        read_escape(&mut chars, &mut word, &mut end);
                    } else {
                        word.push(c);
                    }
                }
                if !closed {
                    diags.push(
                        Diagnostic::error(line.span(i, i + 1), Problem::UnterminatedQuote)
                            .expected(format!("a closing {quote}")),
                    );
                    end = text.len();
                }
                continue;
            }
            if c == '$' && text.get(i + 1..).is_some_and(|r| r.starts_with('{')) {
                // An unresolved `${NAME}` stays one word (keepalived leaves it as is).
                if let Some(close) = text.get(i..).and_then(|r| r.find('}')) {
                    let piece = text.get(i..i + close + 1).unwrap_or("");
                    word.push_str(piece);
                    while chars.peek().is_some_and(|&(j, _)| j <= i + close) {
                        chars.next();
                    }
                    end = i + close + 1;
                    continue;
                }
            }
            word.push(c);
            chars.next();
            end = i + c.len_utf8();
        }
        if let Some((at, c)) = lookalike {
            diags.push(Diagnostic::warning(
                line.span(at, at + c.len_utf8()),
                Problem::LookalikeWhitespace {
                    character: lookalike_space_name(c).unwrap_or_default(),
                    word: word.chars().map(escape_lookalike).collect(),
                },
            ));
        }
        tokens.push(Token {
            kind: TokenKind::Word,
            text: word,
            span: line.span(start, end),
            quoted,
        });
    }
    tokens
}

/// Whitespace as keepalived 2.2.7 splits words at it (`WHITE_SPACE_STR` in lib/parser.h:
/// space, tab, form feed, line feed, carriage return, vertical tab). Anything else,
/// U+00A0 NO-BREAK SPACE included, is part of a word.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c' | '\n' | '\r' | '\x0b')
}

/// `U+XXXX NAME` of a character that looks like a space (or is invisible) but is not
/// whitespace to keepalived, so it silently becomes part of a word.
pub fn lookalike_space_name(c: char) -> Option<String> {
    let name = match c {
        '\u{0085}' => "NEXT LINE",
        '\u{00A0}' => "NO-BREAK SPACE",
        '\u{1680}' => "OGHAM SPACE MARK",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{2000}' => "EN QUAD",
        '\u{2001}' => "EM QUAD",
        '\u{2002}' => "EN SPACE",
        '\u{2003}' => "EM SPACE",
        '\u{2004}' => "THREE-PER-EM SPACE",
        '\u{2005}' => "FOUR-PER-EM SPACE",
        '\u{2006}' => "SIX-PER-EM SPACE",
        '\u{2007}' => "FIGURE SPACE",
        '\u{2008}' => "PUNCTUATION SPACE",
        '\u{2009}' => "THIN SPACE",
        '\u{200A}' => "HAIR SPACE",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202F}' => "NARROW NO-BREAK SPACE",
        '\u{205F}' => "MEDIUM MATHEMATICAL SPACE",
        '\u{2060}' => "WORD JOINER",
        '\u{3000}' => "IDEOGRAPHIC SPACE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        _ => return None,
    };
    Some(format!("U+{:04X} {name}", u32::from(c)))
}

/// A look-alike space shown as `<U+00A0>` so a message makes it visible.
fn escape_lookalike(c: char) -> String {
    if lookalike_space_name(c).is_some() {
        format!("<U+{:04X}>", u32::from(c))
    } else {
        c.to_string()
    }
}

/// Shell-like escapes inside quotes: \a \b \E \f \n \r \t \v \nnn \xHH \cC, \C = C.
fn read_escape(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    out: &mut String,
    end: &mut usize,
) {
    let Some((j, c)) = chars.next() else {
        out.push('\\');
        return;
    };
    *end = j + c.len_utf8();
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return;
    }
    match c {
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek() {
                    Some(&(k, d @ '0'..='7')) => {
                        v = v * 8 + d.to_digit(8).unwrap_or(0);
                        *end = k + 1;
                        chars.next();
                    }
                    _ => break,
                }
            }
            out.push(char::from_u32(v & 0xff).unwrap_or('?'));
        }
        'x' => {
            let mut v: u32 = 0;
            let mut any = false;
            while let Some(&(k, d)) = chars.peek() {
                let Some(h) = d.to_digit(16) else { break };
                v = (v.wrapping_mul(16) + h) & 0xff;
                any = true;
                *end = k + 1;
                chars.next();
            }
            if any {
                out.push(char::from_u32(v).unwrap_or('?'));
            } else {
                out.push('x');
            }
        }
        'c' => match chars.next() {
            Some((k, d)) => {
                *end = k + d.len_utf8();
                out.push(char::from_u32((d.to_ascii_uppercase() as u32) ^ 0x40).unwrap_or('?'));
            }
            None => out.push('c'),
        },
        other => out.push(other),
    }
}

/// Removes a `#` or `!` comment (outside quotes) from a physical line; returns the kept part.
pub fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#' | '!') => return line.get(..i).unwrap_or(""),
            (None, _) => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let mut d = Vec::new();
        tokenize(&MappedText::from_source(s, FileId(0), 0), &mut d)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn braces_are_tokens_even_when_glued() {
        assert_eq!(words("vrrp_instance VI_1{"), ["vrrp_instance", "VI_1", "{"]);
        assert_eq!(words("1.2.3.4}"), ["1.2.3.4", "}"]);
    }

    #[test]
    fn quotes_join_and_escape() {
        assert_eq!(words(r#"abcd" efg h jkl "mnop"#), ["abcd efg h jkl mnop"]);
        assert_eq!(
            words(r#"abcd "efg h jkl" mnop"#),
            ["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(words(r#""a\tb\x41\101\"""#), ["a\tbAA\""]);
    }

    #[test]
    fn comments_respect_quotes_and_utf8() {
        assert_eq!(strip_comment("a # b"), "a ");
        assert_eq!(strip_comment("a ! b"), "a ");
        assert_eq!(strip_comment(r#"script "x # y" # z"#), r#"script "x # y" "#);
        assert_eq!(
            strip_comment("router_id x   #运行 keepalived"),
            "router_id x   "
        );
    }

    #[test]
    fn unterminated_quote_is_reported() {
        let mut d = Vec::new();
        let t = tokenize(
            &MappedText::from_source("script \"abc", FileId(0), 10),
            &mut d,
        );
        assert_eq!(t.len(), 2);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].span.map(|s| s.start), Some(17));
    }
}
