//! keepalived.conf: source map and diagnostics, lexer, preprocessing, typed model, cross-checks.
