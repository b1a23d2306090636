//! UDP_CHECK against real UDP servers on loopback: replies, wrong replies,
//! silence, and the kernel's ICMP port unreachable for a closed port.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use checkers::runner::{Runner, ServerTransition};
use checkers::{
    CheckKind, CheckSchedule, CheckSpec, Checker, Connection, HexBytes, RealServerChecks,
    ReplyPattern, UdpCheck, UdpReply, UDP_FILLER_LEN,
};
use support::verdicts::{assert_failure, assert_success, closed_udp_port};

/// A UDP server on `bind` that answers every datagram with `reply` (or
/// stays silent with `None`) and reports what it received.
struct Server {
    addr: SocketAddr,
    received: mpsc::Receiver<Vec<u8>>,
}

fn server(bind: &str, reply: Option<&'static [u8]>) -> Server {
    let socket = UdpSocket::bind(bind).expect("bind a UDP server");
    let addr = socket.local_addr().expect("addr");
    let (tx, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
            if let Some(r) = reply {
                let _ = socket.send_to(r, from);
            }
        }
    });
    Server { addr, received }
}

fn udp(target: SocketAddr, payload: Option<&[u8]>, reply: UdpReply) -> UdpCheck {
    let mut connection = Connection::new(target);
    connection.connect_timeout = Duration::from_millis(500);
    UdpCheck {
        connection,
        payload: payload.map(<[u8]>::to_vec),
        reply,
    }
}

/// "PONG" with the second nibble of the last byte a wildcard: `504f4e4x`.
fn pong_pattern() -> UdpReply {
    UdpReply::Matching(ReplyPattern {
        data: HexBytes {
            bytes: b"PONG".to_vec(),
            wildcard: vec![0, 0, 0, 0x0f],
        },
        min_len: 4,
        max_len: 16,
    })
}

#[tokio::test]
async fn a_matching_reply_passes_and_the_payload_is_sent() {
    let s = server("127.0.0.1:0", Some(b"PONG!"));
    let check = udp(s.addr, Some(b"\x01PING"), pong_pattern());
    let result = checkers::udp::check(&check).await;
    assert_success(&result, "matching reply of 5 bytes");
    assert_eq!(s.received.try_recv().ok(), Some(b"\x01PING".to_vec()));

    // Without a payload, a filler goes out; any reply satisfies `require_reply`.
    let check = udp(s.addr, None, UdpReply::Any);
    assert_success(&checkers::udp::check(&check).await, "reply received");
    assert_eq!(
        s.received.try_recv().map(|d| d.len()).ok(),
        Some(UDP_FILLER_LEN)
    );
}

#[tokio::test]
async fn a_wrong_or_missing_reply_fails_when_a_reply_is_required() {
    let wrong = server("127.0.0.1:0", Some(b"PANG"));
    let result = checkers::udp::check(&udp(wrong.addr, None, pong_pattern())).await;
    assert_failure(&result, "reply byte 1 is 41, expected 4f");

    let long = server(
        "127.0.0.1:0",
        Some(b"PONG and much more than sixteen bytes"),
    );
    let result = checkers::udp::check(&udp(long.addr, None, pong_pattern())).await;
    assert_failure(&result, "reply longer than max_reply_length 16");

    let silent = server("127.0.0.1:0", None);
    for reply in [UdpReply::Any, pong_pattern()] {
        let result = checkers::udp::check(&udp(silent.addr, None, reply)).await;
        assert_failure(&result, "no reply within 500ms");
    }
}

#[tokio::test]
async fn silence_passes_when_no_reply_is_required() {
    let silent = server("127.0.0.1:0", None);
    let result = checkers::udp::check(&udp(silent.addr, None, UdpReply::NotRequired)).await;
    assert_success(&result, "no ICMP error within 500ms");
    assert!(silent.received.try_recv().is_ok(), "the datagram arrived");
}

#[tokio::test]
async fn a_closed_port_fails_on_the_kernels_port_unreachable() {
    for bind in ["127.0.0.1:0", "[::1]:0"] {
        if bind.starts_with('[') && UdpSocket::bind(bind).is_err() {
            eprintln!("no IPv6 loopback here: IPv6 case skipped");
            continue;
        }
        let target = closed_udp_port(bind);
        // Without the ICMP error, silence would pass the first check and
        // fail the second as "no reply".
        for reply in [UdpReply::NotRequired, UdpReply::Any] {
            let result = checkers::udp::check(&udp(target, None, reply)).await;
            assert_failure(
                &result,
                &format!("UDP_CHECK {target}: port unreachable (ICMP)"),
            );
        }
    }
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<ServerTransition>) -> ServerTransition {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a transition within 20 s")
        .expect("channel open")
}

#[tokio::test]
async fn a_udp_server_comes_up_then_leaves_through_the_runner() {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let target = socket.local_addr().expect("addr");
    drop(socket);
    let checker = Checker {
        spec: CheckSpec::Udp(Box::new(udp(target, Some(b"hi"), pong_pattern()))),
        schedule: CheckSchedule {
            delay_loop: Duration::from_millis(300),
            retry: 1,
            delay_before_retry: Duration::from_millis(100),
            warmup: Some(Duration::from_millis(100)),
            alpha: true,
            log_all_failures: false,
        },
    };
    assert_eq!(checker.spec.kind(), CheckKind::Udp);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = Runner::new(tx);
    let checks = RealServerChecks {
        id: 1,
        weight: 1,
        checkers: vec![checker],
    };
    runner
        .add(1, &checks, tokio::time::Instant::now())
        .expect("add");
    // Nothing listens yet: alpha keeps it down (a check that runs before the
    // server starts only tells why). Then a server answers on that port: up.
    let s = server(&target.to_string(), Some(b"PONG"));
    let mut up = next(&mut rx).await;
    while !up.up {
        assert!(up.reason.contains("port unreachable"), "{up:?}");
        up = next(&mut rx).await;
    }
    assert!(up.reason.contains("matching reply"), "{up:?}");
    // The server stops (its thread ends at the next datagram, unanswered):
    // down after the retry.
    drop(s);
    let down = next(&mut rx).await;
    assert!(!down.up, "{down:?}");
    assert!(
        down.reason.contains(&format!("UDP_CHECK {target}")),
        "{down:?}"
    );
}
