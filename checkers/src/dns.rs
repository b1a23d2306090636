//! DNS_CHECK: one query over UDP; the real server passes when its reply
//! (same ID, QR set) carries RCODE 0. As in keepalived, datagrams that are
//! not the reply (too short, another ID, a query) are ignored until the
//! timeout. Query encoding and reply judgement are pure; the socket part is
//! UDP_CHECK's.

use crate::config::DnsCheck;
use crate::udp::{icmp_error, open_socket, UdpError};
use crate::verdict::{AttemptError, CheckResult};

/// Query types keepalived accepts (`type`), with their numbers.
pub const QUERY_TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
];

/// The number of a query type name (any case), as `type` takes it.
pub fn query_type(name: &str) -> Option<u16> {
    QUERY_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, t)| t)
}

/// The name of a query type number.
pub fn query_type_name(qtype: u16) -> &'static str {
    QUERY_TYPES
        .iter()
        .find(|&&(_, t)| t == qtype)
        .map_or("?", |&(n, _)| n)
}

/// Why a name cannot be put in a query.
pub fn name_problem(name: &str) -> Option<String> {
    let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    if name.contains("..") {
        return Some("empty label".into());
    }
    if let Some(l) = labels.iter().find(|l| l.len() > 63) {
        return Some(format!("label {l:?} is longer than 63 bytes"));
    }
    // Wire length: a length byte per label, the labels, the root byte.
    if labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1 > 255 {
        return Some("longer than 255 bytes".into());
    }
    None
}

/// The query datagram: header (ID, RD set, one question) and the question
/// (`name` as labels, `qtype`, class IN). `name` must have passed `name_problem`.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD 1, AN/NS/AR 0
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    q
}

/// What a datagram from the server says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Not the reply to our query: keep waiting.
    NotOurs,
    /// The reply, with its RCODE.
    Rcode(u8),
}

/// Judges a datagram against the query's `id`.
pub fn judge(datagram: &[u8], id: u16) -> Reply {
    let [id_hi, id_lo, flags_hi, flags_lo, ..] = *datagram else {
        return Reply::NotOurs;
    };
    let is_reply = flags_hi & 0x80 != 0;
    if datagram.len() < 12 || u16::from_be_bytes([id_hi, id_lo]) != id || !is_reply {
        return Reply::NotOurs;
    }
    Reply::Rcode(flags_lo & 0x0f)
}

/// RCODE names for reasons (RFC 1035, 2136).
fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "error",
    }
}

async fn exchange(check: &DnsCheck, deadline: tokio::time::Instant) -> Result<(), UdpError> {
    let socket = open_socket(&check.connection)?;
    let id: u16 = rand::random();
    socket
        .send(&query(id, &check.name, check.qtype))
        .await
        .map_err(icmp_error)?;
    let timeout = check.connection.connect_timeout;
    let mut buffer = [0u8; 512];
    loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await {
            Err(_) => return Err(UdpError::NoReply(timeout)),
            Ok(Err(e)) => return Err(icmp_error(e)),
            Ok(Ok(n)) => n,
        };
        match judge(&buffer[..n], id) {
            Reply::NotOurs => continue,
            Reply::Rcode(0) => return Ok(()),
            Reply::Rcode(r) => {
                return Err(UdpError::BadReply(format!(
                    "answered {} (rcode {r})",
                    rcode_name(r)
                )))
            }
        }
    }
}

/// One DNS_CHECK attempt.
pub async fn check(check: &DnsCheck) -> CheckResult {
    check_started_at(check, tokio::time::Instant::now()).await
}

/// `check` for a caller that already knows when the check started (the runner).
pub async fn check_started_at(check: &DnsCheck, started: tokio::time::Instant) -> CheckResult {
    let answered = exchange(check, started + check.connection.connect_timeout)
        .await
        .map(|()| "answered NOERROR".to_string())
        .map_err(AttemptError::from);
    let what = format!(
        "DNS_CHECK {} ({} {})",
        check.connection.target(),
        query_type_name(check.qtype),
        check.name
    );
    CheckResult::of_attempt(&what, answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_as_rfc_1035_says() {
        assert_eq!(
            query(0x1234, "ok.test", 1),
            [
                0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, // header
                2, b'o', b'k', 4, b't', b'e', b's', b't', 0, // name
                0, 1, 0, 1, // A, IN
            ]
        );
        // keepalived's default: SOA of the root; a trailing dot changes nothing.
        let root = query(7, ".", 6);
        assert_eq!(&root[12..], &[0, 0, 6, 0, 1]);
        assert_eq!(query(7, "ok.test.", 1)[12..], query(7, "ok.test", 1)[12..]);
    }

    #[test]
    fn names_that_do_not_fit_a_query_are_named() {
        assert_eq!(name_problem("."), None);
        assert_eq!(name_problem("www.example.org"), None);
        assert_eq!(name_problem("a..b").as_deref(), Some("empty label"));
        assert!(name_problem(&"x".repeat(64)).is_some_and(|p| p.contains("longer than 63")));
        let long = vec!["x".repeat(60); 5].join(".");
        assert_eq!(
            name_problem(&long).as_deref(),
            Some("longer than 255 bytes")
        );
    }

    #[test]
    fn only_the_reply_to_our_query_counts() {
        let mut reply = query(0xbeef, "ok.test", 1);
        reply[2] |= 0x80; // QR
        assert_eq!(judge(&reply, 0xbeef), Reply::Rcode(0));
        reply[3] |= 5; // REFUSED
        assert_eq!(judge(&reply, 0xbeef), Reply::Rcode(5));
        assert_eq!(judge(&reply, 0xbeee), Reply::NotOurs, "another ID");
        assert_eq!(judge(&reply[..11], 0xbeef), Reply::NotOurs, "short");
        assert_eq!(judge(&[], 0xbeef), Reply::NotOurs);
        let question = query(0xbeef, "ok.test", 1);
        assert_eq!(
            judge(&question, 0xbeef),
            Reply::NotOurs,
            "a query, not a reply"
        );
    }

    #[test]
    fn query_types_are_keepalived_s() {
        assert_eq!(query_type("soa"), Some(6));
        assert_eq!(query_type("AAAA"), Some(28));
        assert_eq!(query_type("SRV"), None);
        assert_eq!(query_type_name(15), "MX");
    }
}
