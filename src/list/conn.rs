//! Connections: the kernel lists them only in `/proc/net/ip_vs_conn`.
//! A parser for that file (errors name the line) and `ipvsadm -Lnc`'s
//! text. Pure.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::addr::socket_text;

/// Where the kernel lists IPVS connections.
pub const CONN_PROC_FILE: &str = "/proc/net/ip_vs_conn";

/// One line of `/proc/net/ip_vs_conn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// `TCP`, `UDP`, `SCTP`, ... as the kernel names it.
    pub protocol: String,
    pub client: Endpoint,
    #[serde(rename = "virtual")]
    pub virtual_service: Endpoint,
    pub destination: Endpoint,
    /// Protocol state (`ESTABLISHED`, `TIME_WAIT`, `UDP`, `NONE`, ...).
    pub state: String,
    /// Seconds until the entry expires.
    pub expires: u32,
    /// Persistence engine and its data (e.g. `sip` and the Call-ID).
    pub pe_name: Option<String>,
    pub pe_data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {reason}: {text:?}")]
pub struct ConnectionParseError {
    pub source_name: String,
    pub line: usize,
    pub reason: String,
    pub text: String,
}

/// Parses the file's text (its first line is the column header).
/// `source_name` names the file in errors.
pub fn parse_connections(
    text: &str,
    source_name: &str,
) -> Result<Vec<Connection>, ConnectionParseError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let err = |reason: String| ConnectionParseError {
            source_name: source_name.to_owned(),
            line: index + 1,
            reason,
            text: line.to_owned(),
        };
        out.push(parse_line(line).map_err(err)?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<Connection, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 9 {
        return Err(format!("expected at least 9 fields, got {}", fields.len()));
    }
    let endpoint = |addr: &str, port: &str, what: &str| -> Result<Endpoint, String> {
        Ok(Endpoint {
            address: parse_proc_addr(addr).map_err(|e| format!("{what} address: {e}"))?,
            port: u16::from_str_radix(port, 16)
                .map_err(|e| format!("{what} port {port:?}: {e}"))?,
        })
    };
    let expires = fields[8]
        .parse::<u32>()
        .map_err(|e| format!("expires {:?}: {e}", fields[8]))?;
    Ok(Connection {
        protocol: fields[0].to_owned(),
        client: endpoint(fields[1], fields[2], "client")?,
        virtual_service: endpoint(fields[3], fields[4], "virtual")?,
        destination: endpoint(fields[5], fields[6], "destination")?,
        state: fields[7].to_owned(),
        expires,
        pe_name: fields.get(9).map(|s| (*s).to_owned()),
        pe_data: fields.get(10).map(|s| (*s).to_owned()),
    })
}

/// IPv4 as 8 hex digits (host order of the network value), IPv6 as the
/// kernel's `%pI6` (full, with colons), optionally in brackets.
fn parse_proc_addr(s: &str) -> Result<IpAddr, String> {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let v = u32::from_str_radix(s, 16).map_err(|e| e.to_string())?;
        return Ok(IpAddr::V4(Ipv4Addr::from(v)));
    }
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    inner
        .parse::<Ipv6Addr>()
        .map(IpAddr::V6)
        .map_err(|_| format!("{s:?} is neither 8 hex digits nor an IPv6 address"))
}

/// `ipvsadm -Lnc` (and with `--persistent-conn`, the persistence engine
/// columns for entries that have one).
pub fn render_connections(conns: &[Connection], persistent: bool) -> String {
    let mut out = String::with_capacity(120 + 100 * conns.len());
    out.push_str("IPVS connection entries\n");
    // ipvsadm pads the titles "%-11s %-18s %-18s" (and "%-18s %-16s").
    out.push_str(if persistent {
        "pro expire state       source             virtual            destination        pe name          pe_data\n"
    } else {
        "pro expire state       source             virtual            destination\n"
    });
    for c in conns {
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        let client = socket_text(&c.client.address, c.client.port);
        let virt = socket_text(&c.virtual_service.address, c.virtual_service.port);
        let dest = socket_text(&c.destination.address, c.destination.port);
        match (&c.pe_name, persistent) {
            (Some(pe), true) => {
                let _ = writeln!(
                    out,
                    "{:<3} {:<6} {:<11} {:<18} {:<18} {:<16} {:<18} {}",
                    c.protocol,
                    expire,
                    c.state,
                    client,
                    virt,
                    dest,
                    pe,
                    c.pe_data.as_deref().unwrap_or("")
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{:<3} {:<6} {:<11} {:<18} {:<18} {}",
                    c.protocol, expire, c.state, client, virt, dest
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured in UML (kernel 6.1): `cat /proc/net/ip_vs_conn` after curl
    /// through a NAT service, a persistent IPv6 service and a UDP service
    /// with the sip persistence engine.
    const PROC: &str = "\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C0A83C02 8A56 C0A83C01 0050 C0A83C01 1F90 TIME_WAIT       116
UDP C0A83C02 ACAD C0A83C01 0035 C0A83C01 14E9 UDP             296
TCP fd60:0000:0000:0000:0000:0000:0000:0002 0000 fd60:0000:0000:0000:0000:0000:0000:0001 0050 fd60:0000:0000:0000:0000:0000:0000:0001 1F90 ASSURED          96
UDP C0A83C02 0000 C0A83C01 0035 C0A83C01 14E9 NONE             46 sip abc123@host
";

    /// `ipvsadm -Lnc` and `ipvsadm -Lnc --persistent-conn` on that table.
    const PLAIN: &str = "\
IPVS connection entries
pro expire state       source             virtual            destination
TCP 01:56  TIME_WAIT   192.168.60.2:35414 192.168.60.1:80    192.168.60.1:8080
UDP 04:56  UDP         192.168.60.2:44205 192.168.60.1:53    192.168.60.1:5353
TCP 01:36  ASSURED     [fd60::2]:0        [fd60::1]:80       [fd60::1]:8080
UDP 00:46  NONE        192.168.60.2:0     192.168.60.1:53    192.168.60.1:5353
";
    const PERSISTENT: &str = "\
IPVS connection entries
pro expire state       source             virtual            destination        pe name          pe_data
TCP 01:56  TIME_WAIT   192.168.60.2:35414 192.168.60.1:80    192.168.60.1:8080
UDP 04:56  UDP         192.168.60.2:44205 192.168.60.1:53    192.168.60.1:5353
TCP 01:36  ASSURED     [fd60::2]:0        [fd60::1]:80       [fd60::1]:8080
UDP 00:46  NONE        192.168.60.2:0     192.168.60.1:53    192.168.60.1:5353 sip                abc123@host
";

    #[test]
    fn proc_file_formats_like_ipvsadm_lnc() {
        let conns = parse_connections(PROC, CONN_PROC_FILE).expect("captured file parses");
        assert_eq!(conns.len(), 4);
        assert_eq!(conns[3].pe_name.as_deref(), Some("sip"));
        assert_eq!(render_connections(&conns, false), PLAIN);
        assert_eq!(render_connections(&conns, true), PERSISTENT);
    }

    #[test]
    fn empty_file_prints_only_the_titles() {
        let conns = parse_connections(PROC.lines().next().unwrap_or(""), CONN_PROC_FILE)
            .expect("header only");
        assert!(conns.is_empty());
        assert_eq!(render_connections(&conns, false).lines().count(), 2);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let text = "header\nTCP C0A83C02 8A56 C0A83C01 0050 C0A83C01 1F90 TIME_WAIT 116\nTCP zz 0 0 0 0 0 X 1\n";
        let err = parse_connections(text, "conn-file").expect_err("bad address");
        assert_eq!(err.line, 3);
        assert!(
            err.to_string()
                .starts_with("conn-file line 3: client address"),
            "{err}"
        );
        let err = parse_connections("h\nTCP C0A83C02 8A56\n", "f").expect_err("short line");
        assert!(err.reason.contains("at least 9 fields"), "{err}");
        let err = parse_connections(
            "h\nTCP C0A83C02 XYZW C0A83C01 0050 C0A83C01 1F90 S 1\n",
            "f",
        )
        .expect_err("bad port");
        assert!(err.reason.starts_with("client port"), "{err}");
        let err = parse_connections(
            "h\nTCP C0A83C02 0001 C0A83C01 0050 C0A83C01 1F90 S -1\n",
            "f",
        )
        .expect_err("bad expiry");
        assert!(err.reason.starts_with("expires"), "{err}");
    }

    proptest::proptest! {
        /// Any text: a list or an error naming a line, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
            if let Err(e) = parse_connections(&text, "f") {
                proptest::prop_assert!(e.line >= 2);
            }
        }

        /// Lines made of plausible fields (hex, addresses, names).
        #[test]
        fn plausible_fields_never_panic(fields in proptest::collection::vec(
            "[0-9A-Fa-f:\\[\\]]{0,12}|TCP|UDP|sip|-?[0-9]{1,12}", 0..14)) {
            let text = format!("header\n{}\n", fields.join(" "));
            if let Ok(conns) = parse_connections(&text, "f") {
                let _ = render_connections(&conns, true);
            }
        }
    }

    #[test]
    fn long_expiry_keeps_minutes() {
        let text = "h\nTCP 0A000001 0001 0A000002 0050 0A000003 0050 ESTABLISHED     900\n";
        let conns = parse_connections(text, "f").expect("parses");
        assert!(render_connections(&conns, false).contains("TCP 15:00  ESTABLISHED 10.0.0.1:1"));
    }
}
