//! The generic block tree: statements (`keyword args...`) with optional `{ }` blocks.
//!
//! Built iteratively with an explicit stack and a depth limit, so no input (e.g. 100 000
//! `{`) can overflow the stack. A `{` may follow the keyword on the same line or start
//! the next line; `}` may share a line with a value; several statements may share a line
//! inside braces (`virtual_ipaddress { 10.0.0.1 }`).
#![forbid(unsafe_code)]

use super::diag::{Diagnostic, Problem};
use super::lexer::{Token, TokenKind};
use super::source::Span;

/// Deepest block nesting accepted (keepalived itself never needs more than 5).
pub const MAX_NESTING_DEPTH: usize = 32;

/// One statement: keyword, arguments on the same line, optional block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub keyword: Token,
    pub args: Vec<Token>,
    pub block: Option<Block>,
}

impl Node {
    pub fn name(&self) -> &str {
        &self.keyword.text
    }
    /// Span of the keyword and its arguments.
    pub fn span(&self) -> Span {
        self.args
            .last()
            .map(|a| self.keyword.span.to(a.span))
            .unwrap_or(self.keyword.span)
    }
}

/// The statements between `{` and `}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Block {
    pub open: Span,
    pub nodes: Vec<Node>,
}

struct Frame {
    /// `None` for the root and for blocks opened by a stray `{` (dropped when closed).
    header: Option<(Token, Vec<Token>)>,
    open: Span,
    nodes: Vec<Node>,
}

/// Largest statement list kept for reuse (see [`TreeBuilder::spare`]).
const MAX_SPARE_NODES: usize = 4096;

/// Builds the tree from lines of tokens.
pub struct TreeBuilder {
    stack: Vec<Frame>,
    /// Emptied statement lists of closed blocks, kept for the next blocks
    /// to fill. A block's list grows by doubling while it is read; freed
    /// each time, the outgrown buffers were taken by the model's small
    /// allocations and the next block grew into fresh memory: about a
    /// megabyte of holes for a 100 x 100 configuration, every page of it a
    /// trap in UML (issue #19).
    spare: Vec<Vec<Node>>,
    /// Depth of blocks being skipped past [`MAX_NESTING_DEPTH`].
    skipping: usize,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder::new()
    }
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder {
            stack: vec![Frame {
                header: None,
                open: Span::default(),
                nodes: Vec::new(),
            }],
            spare: Vec::new(),
            skipping: 0,
        }
    }

    fn top(&mut self) -> &mut Frame {
        if self.stack.is_empty() {
            self.stack.push(Frame {
                header: None,
                open: Span::default(),
                nodes: Vec::new(),
            });
        }
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn push_statement(&mut self, stmt: (Token, Vec<Token>)) {
        let (keyword, mut args) = stmt;
        // The tree lives until lowering ends: a first push reserves room for 4
        // arguments, most statements have 1 or 2 (60k statements in a 100x100 config).
        args.shrink_to_fit();
        self.top().nodes.push(Node {
            keyword,
            args,
            block: None,
        });
    }

    fn open(&mut self, header: Option<(Token, Vec<Token>)>, at: Span, diags: &mut Vec<Diagnostic>) {
        if self.stack.len() > MAX_NESTING_DEPTH {
            diags.push(Diagnostic::error(
                at,
                Problem::NestingTooDeep {
                    limit: MAX_NESTING_DEPTH,
                },
            ));
            self.skipping = 1;
            return;
        }
        let nodes = self.spare.pop().unwrap_or_default();
        self.stack.push(Frame {
            header,
            open: at,
            nodes,
        });
    }

    fn close(&mut self, at: Span, diags: &mut Vec<Diagnostic>) {
        if self.stack.len() <= 1 {
            diags.push(Diagnostic::error(at, Problem::UnmatchedClose));
            return;
        }
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let mut read = frame.nodes;
        if let Some((keyword, mut args)) = frame.header {
            // As in push_statement: keep only what the finished block holds
            // (copied out: the list it was read into is kept for the next).
            args.shrink_to_fit();
            let mut nodes = Vec::with_capacity(read.len());
            nodes.append(&mut read);
            self.top().nodes.push(Node {
                keyword,
                args,
                block: Some(Block {
                    open: frame.open,
                    nodes,
                }),
            });
        }
        read.clear();
        // A list that held a very large block is not kept: it would stay
        // for the rest of the read.
        if read.capacity() <= MAX_SPARE_NODES {
            self.spare.push(read);
        }
    }

    /// Adds one logical line of tokens.
    pub fn line(&mut self, tokens: Vec<Token>, diags: &mut Vec<Diagnostic>) {
        let mut current: Option<(Token, Vec<Token>)> = None;
        for tok in tokens {
            if self.skipping > 0 {
                match tok.kind {
                    TokenKind::Open => self.skipping += 1,
                    TokenKind::Close => self.skipping -= 1,
                    TokenKind::Word => {}
                }
                continue;
            }
            match tok.kind {
                TokenKind::Word => match &mut current {
                    Some((_, args)) => args.push(tok),
                    None => current = Some((tok, Vec::new())),
                },
                TokenKind::Open => {
                    if let Some(stmt) = current.take() {
                        self.open(Some(stmt), tok.span, diags);
                        continue;
                    }
                    // `{` starting a line: it opens the block of the previous statement.
                    let previous = self.top().nodes.last().is_some_and(|n| n.block.is_none());
                    if previous {
                        if let Some(node) = self.top().nodes.pop() {
                            self.open(Some((node.keyword, node.args)), tok.span, diags);
                        }
                    } else {
                        diags.push(
                            Diagnostic::error(tok.span, Problem::StrayOpen)
                                .expected("a keyword before '{'"),
                        );
                        self.open(None, tok.span, diags);
                    }
                }
                TokenKind::Close => {
                    if let Some(stmt) = current.take() {
                        self.push_statement(stmt);
                    }
                    self.close(tok.span, diags);
                }
            }
        }
        if let Some(stmt) = current {
            self.push_statement(stmt);
        }
    }

    /// Takes the top-level statements that can no longer change, so they can be lowered
    /// (and their memory reused) while the rest is read: all of them while a block is open;
    /// otherwise all but a last one without a block (a `{` on the next line may open it).
    pub fn take_complete(&mut self) -> Vec<Node> {
        let open_block = self.stack.len() > 1;
        let Some(top) = self.stack.first_mut() else {
            return Vec::new();
        };
        let keep = usize::from(!open_block && top.nodes.last().is_some_and(|n| n.block.is_none()));
        let complete = top.nodes.len().saturating_sub(keep);
        if complete == 0 {
            return Vec::new();
        }
        top.nodes.drain(..complete).collect()
    }

    /// Closes whatever is still open (reporting it) and returns the top-level statements
    /// not taken yet.
    pub fn finish(mut self, diags: &mut Vec<Diagnostic>) -> Vec<Node> {
        while self.stack.len() > 1 {
            let (keyword, open) = match self.stack.last() {
                Some(f) => (
                    f.header
                        .as_ref()
                        .map(|h| h.0.text.clone())
                        .unwrap_or_else(|| "{".into()),
                    f.open,
                ),
                None => break,
            };
            // keepalived 2.2.7 logs "There are N missing '}'s" and reads the block as
            // if closed at the end of the file.
            diags.push(
                Diagnostic::warning(open, Problem::UnclosedBlock { keyword }).expected("a '}'"),
            );
            self.close(open, diags);
        }
        self.stack.pop().map(|f| f.nodes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::{tokenize, MappedText};
    use super::super::source::FileId;
    use super::*;

    fn build(lines: &[&str]) -> (Vec<Node>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let mut b = TreeBuilder::new();
        for l in lines {
            let t = tokenize(&MappedText::from_source(l, FileId(0), 0), &mut d);
            b.line(t, &mut d);
        }
        (b.finish(&mut d), d)
    }

    #[test]
    fn brace_on_next_line_and_shared_close() {
        let (nodes, d) = build(&[
            "vrrp_instance VI_1",
            "{",
            "  virtual_ipaddress { 10.0.0.1 }",
            "priority 5 }",
        ]);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(nodes.len(), 1);
        let inner = &nodes[0]
            .block
            .as_ref()
            .map(|b| b.nodes.clone())
            .unwrap_or_default();
        assert_eq!(inner.len(), 2);
        assert_eq!(inner[0].name(), "virtual_ipaddress");
        assert_eq!(inner[1].args[0].text, "5");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let many = "a {".repeat(100_000);
        let (_, d) = build(&[&many]);
        assert!(d
            .iter()
            .any(|d| matches!(d.problem, Problem::NestingTooDeep { .. })));
        let braces = "{".repeat(100_000);
        let (_, d) = build(&[&braces]);
        assert!(!d.is_empty());
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        let (_, d) = build(&["}", "a {"]);
        assert!(matches!(d[0].problem, Problem::UnmatchedClose));
        assert!(matches!(d[1].problem, Problem::UnclosedBlock { .. }));
    }

    /// Blocks read into reused lists hold exactly their own statements, and
    /// each finished block's list is exactly its size.
    #[test]
    fn reused_statement_lists_leave_nothing_behind() {
        let mut lines = Vec::new();
        for i in 0..3 {
            lines.push(format!("outer{i} {{"));
            for j in 0..(5 - i) {
                lines.push(format!("  inner{j} {{ k{j} v }}"));
            }
            lines.push("  { stray }".to_string());
            lines.push("}".to_string());
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (nodes, d) = build(&refs);
        assert_eq!(d.len(), 3, "one stray '{{' a block: {d:?}");
        let shape: Vec<(String, Vec<String>)> = nodes
            .iter()
            .map(|n| {
                let block = n.block.as_ref().map(|b| b.nodes.as_slice()).unwrap_or(&[]);
                assert_eq!(
                    n.block.as_ref().map(|b| b.nodes.capacity()),
                    Some(block.len())
                );
                let inner = block
                    .iter()
                    .map(|c| {
                        let kids = c.block.as_ref().map(|b| b.nodes.as_slice()).unwrap_or(&[]);
                        let kids: Vec<&str> = kids.iter().map(|k| k.name()).collect();
                        format!("{}[{}]", c.name(), kids.join(","))
                    })
                    .collect();
                (n.name().to_string(), inner)
            })
            .collect();
        let want = |i: usize, n: usize| {
            (
                format!("outer{i}"),
                (0..n)
                    .map(|j| format!("inner{j}[k{j}]"))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(shape, vec![want(0, 5), want(1, 4), want(2, 3)]);
    }

    #[test]
    fn a_very_large_block_s_list_is_not_kept() {
        let mut d = Vec::new();
        let mut b = TreeBuilder::new();
        let mut line = |text: &str, b: &mut TreeBuilder| {
            let t = tokenize(&MappedText::from_source(text, FileId(0), 0), &mut d);
            b.line(t, &mut d);
        };
        line("big {", &mut b);
        for _ in 0..=MAX_SPARE_NODES {
            line("x", &mut b);
        }
        line("}", &mut b);
        assert!(b.spare.is_empty());
        line("small { x }", &mut b);
        assert_eq!(b.spare.len(), 1);
    }
}
