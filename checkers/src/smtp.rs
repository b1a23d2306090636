//! SMTP_CHECK: the dialogue keepalived holds with a mail server. Connect,
//! expect a 220 greeting, send `HELO <helo_name>`, expect 250, send `QUIT`
//! and wait for any reply line. The dialogue is a pure state machine fed
//! reply lines (`Dialogue`); the I/O part only moves lines, each read bounded
//! by `connect_timeout` as keepalived bounds them.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::config::SmtpCheck;
use crate::timeout::within;
use crate::verdict::{AttemptError, CheckResult};

/// RFC 5321's limit for a reply line (text plus CRLF); a longer one is not SMTP.
pub const MAX_REPLY_LINE: usize = 512;
/// Lines one reply may have: each line only has to come within
/// `connect_timeout`, so without a bound a server could hold a check forever.
pub const MAX_REPLY_LINES: usize = 64;

/// A reply line's status code and whether more lines of the same reply follow
/// (`250-...`), or `None` when the line does not start like an SMTP reply.
pub fn reply_code(line: &str) -> Option<(u16, bool)> {
    let line = line.trim_end_matches(['\r', '\n']);
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code = digits.parse().ok()?;
    match line.as_bytes().get(3) {
        None | Some(b' ') => Some((code, false)),
        Some(b'-') => Some((code, true)),
        Some(_) => None,
    }
}

/// Where the dialogue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Greeting,
    Helo,
    Quit,
}

/// What to do after a reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read another line (a multi-line reply goes on).
    Read,
    /// Write these bytes, then read the reply.
    Send(String),
    /// The server passed.
    Done,
    /// The server failed, with the reason.
    Fail(String),
}

/// The SMTP_CHECK dialogue, fed one reply line at a time.
#[derive(Debug, Clone)]
pub struct Dialogue {
    stage: Stage,
    helo: String,
    /// Lines of the current reply so far.
    lines: usize,
}

impl Dialogue {
    pub fn new(helo_name: &str) -> Dialogue {
        Dialogue {
            stage: Stage::Greeting,
            helo: format!("HELO {helo_name}\r\n"),
            lines: 0,
        }
    }

    /// The next step after the server sent `line` (without its line end).
    pub fn on_line(&mut self, line: &str) -> Step {
        let (expected, what) = match self.stage {
            Stage::Greeting => (220, "greeting"),
            Stage::Helo => (250, "HELO reply"),
            // keepalived ends the check on any line after QUIT.
            Stage::Quit => return Step::Done,
        };
        self.lines += 1;
        match reply_code(line) {
            Some((_, true)) if self.lines >= MAX_REPLY_LINES => {
                Step::Fail(format!("{what} of more than {MAX_REPLY_LINES} lines"))
            }
            Some((_, true)) => Step::Read,
            Some((code, false)) if code == expected => {
                self.lines = 0;
                if self.stage == Stage::Greeting {
                    self.stage = Stage::Helo;
                    Step::Send(self.helo.clone())
                } else {
                    self.stage = Stage::Quit;
                    Step::Send("QUIT\r\n".to_string())
                }
            }
            _ => Step::Fail(format!(
                "bad {what} {:?}, expected {expected}",
                shorten(line)
            )),
        }
    }
}

/// A reply line as quoted in a reason: at most 80 characters.
fn shorten(line: &str) -> String {
    let line = line.trim_end_matches(['\r', '\n']);
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

async fn converse(check: &SmtpCheck, started: tokio::time::Instant) -> Result<(), AttemptError> {
    let timeout = check.connection.connect_timeout;
    let stream = crate::tcp::connect_by(&check.connection, started + timeout).await?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader).take(0);
    let mut dialogue = Dialogue::new(&check.helo_name);
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        // One byte more than a reply line may have, to see a longer one.
        reader.set_limit(MAX_REPLY_LINE as u64 + 1);
        let read = within(timeout, reader.read_until(b'\n', &mut line)).await;
        let n = match read {
            Err(_) => return Err(format!("no reply line within {timeout:?}").into()),
            Ok(Err(e)) => return Err(format!("reading: {e}").into()),
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            return Err("connection closed by the server".to_string().into());
        }
        if line.last() != Some(&b'\n') {
            return Err(if line.len() > MAX_REPLY_LINE {
                format!("reply line longer than {MAX_REPLY_LINE} bytes")
            } else {
                "connection closed by the server mid-line".to_string()
            }
            .into());
        }
        let text = String::from_utf8_lossy(&line);
        match dialogue.on_line(&text) {
            Step::Read => {}
            Step::Done => return Ok(()),
            Step::Fail(why) => return Err(why.into()),
            Step::Send(out) => within(timeout, writer.write_all(out.as_bytes()))
                .await
                .map_err(|_| format!("writing took longer than {timeout:?}"))?
                .map_err(|e| format!("writing: {e}"))?,
        }
    }
}

/// One SMTP_CHECK attempt.
pub async fn check(check: &SmtpCheck) -> CheckResult {
    check_started_at(check, tokio::time::Instant::now()).await
}

/// `check` for a caller that already knows when the check started (the runner).
pub async fn check_started_at(check: &SmtpCheck, started: tokio::time::Instant) -> CheckResult {
    let conversed = converse(check, started)
        .await
        .map(|()| "greeting, HELO and QUIT answered".to_string());
    CheckResult::of_attempt(
        &format!("SMTP_CHECK {}", check.connection.target()),
        conversed,
    )
}

/// keepalived's `helo_name` when none is configured.
pub const DEFAULT_HELO_NAME: &str = "smtpchecker.keepalived.org";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_and_continuation_lines() {
        assert_eq!(
            reply_code("220 mx.example.org ESMTP\r\n"),
            Some((220, false))
        );
        assert_eq!(reply_code("220\r\n"), Some((220, false)));
        assert_eq!(reply_code("250-PIPELINING"), Some((250, true)));
        assert_eq!(reply_code("22 short"), None);
        assert_eq!(reply_code("2200 long"), None);
        assert_eq!(reply_code("abc def"), None);
        assert_eq!(reply_code(""), None);
        assert_eq!(reply_code("标识标识"), None);
    }

    #[test]
    fn a_good_server_walks_the_whole_dialogue() {
        let mut d = Dialogue::new("lvsd.example");
        assert_eq!(d.on_line("220-mx.example.org welcome"), Step::Read);
        assert_eq!(
            d.on_line("220 mx.example.org ESMTP\r\n"),
            Step::Send("HELO lvsd.example\r\n".into())
        );
        assert_eq!(
            d.on_line("250 mx.example.org"),
            Step::Send("QUIT\r\n".into())
        );
        // Whatever the server says to QUIT ends the check well (as keepalived).
        assert_eq!(d.on_line("421 closing"), Step::Done);
    }

    #[test]
    fn an_endless_reply_fails() {
        let mut d = Dialogue::new("h");
        for _ in 1..MAX_REPLY_LINES {
            assert_eq!(d.on_line("220-more"), Step::Read);
        }
        assert_eq!(
            d.on_line("220-more"),
            Step::Fail(format!("greeting of more than {MAX_REPLY_LINES} lines"))
        );
        // The count is per reply.
        let mut d = Dialogue::new("h");
        for _ in 1..MAX_REPLY_LINES {
            d.on_line("220-more");
        }
        assert!(matches!(d.on_line("220 ok"), Step::Send(_)));
        assert_eq!(d.on_line("250-more"), Step::Read);
    }

    #[test]
    fn wrong_codes_fail_with_the_line() {
        let mut d = Dialogue::new("h");
        assert_eq!(
            d.on_line("554 no SMTP service here\r\n"),
            Step::Fail("bad greeting \"554 no SMTP service here\", expected 220".into())
        );
        let mut d = Dialogue::new("h");
        d.on_line("220 ok");
        assert_eq!(
            d.on_line("HTTP/1.1 400 Bad Request"),
            Step::Fail("bad HELO reply \"HTTP/1.1 400 Bad Request\", expected 250".into())
        );
        let long = "5".repeat(200);
        let mut d = Dialogue::new("h");
        assert!(matches!(d.on_line(&long), Step::Fail(why) if why.contains("...\", expected 220")));
    }
}
