//! PING_CHECK against loopback, IPv4 and IPv6.

use std::time::Duration;

use checkers::{CheckResult, Connection, PingCheck};

fn ping_check(ip: &str) -> PingCheck {
    let mut connection = Connection::new(std::net::SocketAddr::new(ip.parse().expect("ip"), 0));
    connection.connect_timeout = Duration::from_secs(5);
    PingCheck { connection }
}

#[tokio::test]
async fn ping_ipv4_loopback() {
    let result = checkers::ping::check(&ping_check("127.0.0.1")).await;
    assert!(
        matches!(&result, CheckResult::Success { detail, .. } if detail.starts_with("PING_CHECK 127.0.0.1: echo reply in")),
        "{result:?}"
    );
}

#[tokio::test]
async fn ping_ipv6_loopback() {
    let result = checkers::ping::check(&ping_check("::1")).await;
    assert!(
        matches!(&result, CheckResult::Success { detail, .. } if detail.starts_with("PING_CHECK ::1: echo reply in")),
        "{result:?}"
    );
}

#[tokio::test]
async fn several_pings_in_parallel_do_not_steal_each_others_replies() {
    let checks: Vec<_> = (0..20)
        .map(|i| {
            tokio::spawn(async move {
                checkers::ping::check(&ping_check(if i % 2 == 0 { "127.0.0.1" } else { "::1" }))
                    .await
            })
        })
        .collect();
    for c in checks {
        let result = c.await.expect("task");
        assert!(matches!(result, CheckResult::Success { .. }), "{result:?}");
    }
}

#[tokio::test]
async fn raw_socket_fallback_works_too() {
    use checkers::ping::{ping, SocketKind};
    for ip in ["127.0.0.1", "::1"] {
        let rtt = ping(
            ip.parse().expect("ip"),
            None,
            Duration::from_secs(5),
            SocketKind::Raw,
        )
        .await;
        assert!(rtt.is_ok(), "{ip}: {rtt:?}");
    }
}

#[tokio::test]
async fn unusable_source_address_is_a_clear_failure() {
    // bindto an address this host does not have (TEST-NET-1; the bind fails locally, nothing
    // is sent): a clear error rather than a hang.
    let mut check = ping_check("127.0.0.1");
    check.connection.set_source(checkers::config::Source {
        bindto: Some("192.0.2.1".parse().expect("ip")),
        ..Default::default()
    });
    let result = checkers::ping::check(&check).await;
    assert!(
        matches!(&result, CheckResult::Failure { reason } if reason.starts_with("PING_CHECK 127.0.0.1: bind to 192.0.2.1:")),
        "{result:?}"
    );
}
