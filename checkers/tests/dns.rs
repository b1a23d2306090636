//! DNS_CHECK against a real DNS server on loopback (Debian's dnsmasq) and
//! against UDP sockets that stay silent or answer out of turn.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use checkers::{CheckResult, Connection, DnsCheck};
use support::verdicts::{assert_failure, closed_udp_port};
use testbed::process::ProcessGuard;

fn dns(target: SocketAddr, qtype: &str, name: &str) -> DnsCheck {
    let mut connection = Connection::new(target);
    connection.connect_timeout = Duration::from_millis(700);
    DnsCheck {
        connection,
        qtype: checkers::dns::query_type(qtype).expect("a known type"),
        name: name.into(),
    }
}

/// dnsmasq answering `ok.test` (A) and refusing everything else; its output
/// goes to files in `logs`.
fn dnsmasq(logs: &std::path::Path) -> (ProcessGuard, SocketAddr) {
    let addr = closed_udp_port("127.0.0.1:0");
    let mut command = Command::new("dnsmasq");
    command.args([
        "--keep-in-foreground",
        "--no-daemon",
        &format!("--port={}", addr.port()),
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--user=root",
        "--pid-file=",
        "--address=/ok.test/10.1.2.3",
    ]);
    let server = ProcessGuard::spawn_logged(command, logs, "dnsmasq")
        .expect("start dnsmasq (apt-get install dnsmasq-base)");
    (server, addr)
}

#[tokio::test]
async fn a_real_dns_server_answers_and_refuses() {
    let logs = tempfile::tempdir().expect("temp dir");
    let (server, addr) = dnsmasq(logs.path());
    let ok = dns(addr, "A", "ok.test");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match checkers::dns::check(&ok).await {
            CheckResult::Success { detail, .. } => {
                assert!(detail.contains("(A ok.test): answered NOERROR"), "{detail}");
                break;
            }
            other => assert!(
                std::time::Instant::now() < deadline,
                "dnsmasq never answered: {other:?}\n{}",
                server.logs()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (qtype, name) in [("A", "nx.test"), ("SOA", ".")] {
        let result = checkers::dns::check(&dns(addr, qtype, name)).await;
        assert_failure(
            &result,
            &format!("({qtype} {name}): answered REFUSED (rcode 5)"),
        );
    }
}

#[tokio::test]
async fn silence_and_closed_ports_fail() {
    let closed = closed_udp_port("127.0.0.1:0");
    assert_failure(
        &checkers::dns::check(&dns(closed, "SOA", ".")).await,
        "port unreachable (ICMP)",
    );
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let result =
        checkers::dns::check(&dns(silent.local_addr().expect("addr"), "A", "ok.test")).await;
    assert_failure(&result, "no reply within 700ms");
}

#[tokio::test]
async fn datagrams_that_are_not_the_reply_are_ignored() {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = server.recv_from(&mut buf) {
            let mut reply = buf[..n].to_vec();
            reply[2] |= 0x80;
            // Too short, another ID, the query echoed, then the reply.
            let mut other = reply.clone();
            other[0] ^= 0xff;
            for d in [&reply[..5], &other[..], &buf[..n], &reply[..]] {
                let _ = server.send_to(d, peer);
            }
        }
    });
    let result = checkers::dns::check(&dns(addr, "A", "ok.test")).await;
    assert!(matches!(result, CheckResult::Success { .. }), "{result:?}");
}
