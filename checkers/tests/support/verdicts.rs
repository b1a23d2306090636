//! Assertions on check results and free loopback ports, shared by the
//! checker tests.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, UdpSocket};

use checkers::CheckResult;

/// `result` is a failure whose reason contains `expected`.
#[track_caller]
pub fn assert_failure(result: &CheckResult, expected: &str) {
    match result {
        CheckResult::Failure { reason } => {
            assert!(reason.contains(expected), "{reason:?} lacks {expected:?}")
        }
        other => panic!("expected a failure with {expected:?}, got {other:?}"),
    }
}

/// `result` is a success whose detail contains `expected`.
#[track_caller]
pub fn assert_success(result: &CheckResult, expected: &str) {
    match result {
        CheckResult::Success { detail, .. } => {
            assert!(detail.contains(expected), "{detail:?} lacks {expected:?}")
        }
        other => panic!("expected a success with {expected:?}, got {other:?}"),
    }
}

/// A UDP port on `bind` (e.g. "127.0.0.1:0") that nothing listens on: bound, then closed.
pub fn closed_udp_port(bind: &str) -> SocketAddr {
    UdpSocket::bind(bind)
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
}

/// A TCP port on 127.0.0.1 that nothing listens on: bound, then closed.
pub fn closed_tcp_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
}
