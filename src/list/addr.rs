//! Addresses as ipvsadm prints them (glibc `inet_ntop`, `addr:port`,
//! IPv6 in brackets). Pure.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

/// glibc's `inet_ntop(AF_INET6)`. Rust's `Display` agrees except for the
/// IPv4-compatible form (`::a.b.c.d`), which glibc still prints dotted.
pub fn ipv6_text(addr: &Ipv6Addr) -> String {
    let words = addr.segments();
    if words[..6].iter().all(|w| *w == 0) && words[6] != 0 {
        let [.., a, b, c, d] = addr.octets();
        return format!("::{a}.{b}.{c}.{d}");
    }
    addr.to_string()
}

/// An address alone, as ipvsadm prints it.
pub fn ip_text(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => ipv6_text(a),
    }
}

/// `addr:port`, or `[addr]:port` for IPv6 (ipvsadm's numeric form).
pub fn socket_text(addr: &IpAddr, port: u16) -> String {
    let mut out = String::with_capacity(24);
    match addr {
        IpAddr::V4(a) => {
            let _ = write!(out, "{a}:{port}");
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "[{}]:{port}", ipv6_text(a));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_forms_match_glibc_inet_ntop() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("::102:304", "::1.2.3.4"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::0.0.1.0", "::100"),
            ("fd00:0:0:1::", "fd00:0:0:1::"),
            (
                "fd00:1234:5678:9abc:def0:1234:5678:9abc",
                "fd00:1234:5678:9abc:def0:1234:5678:9abc",
            ),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ];
        for (input, want) in cases {
            let a: Ipv6Addr = input.parse().expect("test address");
            assert_eq!(ipv6_text(&a), want, "{input}");
        }
    }

    #[test]
    fn socket_text_brackets_ipv6_only() {
        assert_eq!(
            socket_text(&"10.0.0.1".parse().expect("v4"), 80),
            "10.0.0.1:80"
        );
        assert_eq!(
            socket_text(&"fd00::1".parse().expect("v6"), 0),
            "[fd00::1]:0"
        );
    }
}
