//! SMTP_CHECK against a real SMTP server on loopback (Python's aiosmtpd,
//! Debian's python3-aiosmtpd) and against scripted servers that misbehave in
//! the ways a check must notice.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use checkers::{CheckResult, Connection, SmtpCheck};
use support::verdicts::{assert_failure, closed_tcp_port};
use testbed::process::{wait_for_tcp_port, ProcessGuard};

fn smtp(target: SocketAddr, helo_name: &str) -> SmtpCheck {
    let mut connection = Connection::new(target);
    connection.connect_timeout = Duration::from_millis(700);
    SmtpCheck {
        connection,
        helo_name: helo_name.into(),
    }
}

/// One step of a scripted server.
#[derive(Clone)]
enum Say {
    /// Send these bytes.
    Send(&'static str),
    /// Read one line from the client (reported on the channel).
    Read,
    /// Stay silent for this long.
    Wait(Duration),
}

/// A server that plays `script` to each connection, then closes it, and
/// reports every line the client sent.
fn scripted(script: Vec<Say>) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok((conn, _)) = listener.accept() {
            let Ok(mut out) = conn.try_clone() else {
                return;
            };
            let mut lines = BufReader::new(conn);
            for step in &script {
                let ok = match step {
                    Say::Send(s) => out.write_all(s.as_bytes()).is_ok(),
                    Say::Read => {
                        let mut line = String::new();
                        lines.read_line(&mut line).is_ok_and(|n| n > 0) && tx.send(line).is_ok()
                    }
                    Say::Wait(d) => {
                        std::thread::sleep(*d);
                        true
                    }
                };
                if !ok {
                    break;
                }
            }
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_real_smtp_server_passes() {
    let addr = closed_tcp_port();
    let mut command = Command::new("/usr/bin/python3");
    command.args(["-m", "aiosmtpd", "-n", "-l", &addr.to_string()]);
    let logs = tempfile::tempdir().expect("temp dir");
    let mut server = ProcessGuard::spawn_logged(command, logs.path(), "aiosmtpd")
        .expect("start aiosmtpd (apt-get install python3-aiosmtpd)");
    if let Err(e) = wait_for_tcp_port(addr, Duration::from_secs(20)) {
        server.kill();
        panic!("aiosmtpd: {e}\n{}", server.logs());
    }
    let result = checkers::smtp::check(&smtp(addr, "lvsd.test")).await;
    assert!(
        matches!(result, CheckResult::Success { .. }),
        "{result:?}\n{}",
        server.logs()
    );
}

#[tokio::test]
async fn helo_and_quit_are_sent_and_multi_line_replies_pass() {
    let (addr, lines) = scripted(vec![
        Say::Send("220-mx.test first line\r\n220 mx.test ESMTP\r\n"),
        Say::Read,
        Say::Send("250 mx.test\r\n"),
        Say::Read,
        Say::Send("221 bye\r\n"),
    ]);
    let result = checkers::smtp::check(&smtp(addr, "lvsd.test")).await;
    assert!(matches!(result, CheckResult::Success { .. }), "{result:?}");
    let sent: Vec<String> = lines.try_iter().collect();
    assert_eq!(sent, ["HELO lvsd.test\r\n", "QUIT\r\n"]);
}

#[tokio::test]
async fn misbehaving_servers_fail_with_a_reason() {
    let refused = closed_tcp_port();
    assert_failure(
        &checkers::smtp::check(&smtp(refused, "h")).await,
        &format!("SMTP_CHECK {refused}: connection refused"),
    );

    let cases: Vec<(Vec<Say>, &str)> = vec![
        (
            vec![Say::Send("554 no mail here\r\n")],
            "bad greeting \"554 no mail here\", expected 220",
        ),
        (
            vec![
                Say::Send("220 ok\r\n"),
                Say::Read,
                Say::Send("502 no HELO\r\n"),
            ],
            "bad HELO reply \"502 no HELO\", expected 250",
        ),
        (
            vec![Say::Wait(Duration::from_secs(2))],
            "no reply line within 700ms",
        ),
        (
            vec![Say::Send("220 ok\r\n"), Say::Read],
            "connection closed by the server",
        ),
        (
            vec![
                Say::Send("220 ok\r\n"),
                Say::Read,
                Say::Send("250 ok\r\n"),
                Say::Read,
            ],
            "connection closed by the server",
        ),
        (
            vec![Say::Send("220 half a line")],
            "connection closed by the server mid-line",
        ),
    ];
    for (script, expected) in cases {
        let (addr, _lines) = scripted(script);
        assert_failure(&checkers::smtp::check(&smtp(addr, "h")).await, expected);
    }
    let long: &'static str = Box::leak(format!("220 {}\r\n", "x".repeat(600)).into_boxed_str());
    let (addr, _lines) = scripted(vec![Say::Send(long)]);
    assert_failure(
        &checkers::smtp::check(&smtp(addr, "h")).await,
        "reply line longer than 512 bytes",
    );
}
