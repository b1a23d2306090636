//! Administrative overrides of real servers (`lvsd ctl drain|maint|weight|
//! ready`): what an operator asked for, how the names they type find a real
//! server, and the state file that keeps the overrides across restarts.
//! Pure: the director applies overrides in its desired table, the daemon
//! reads and writes the file.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::spec::{DirectorSpec, RealServerKey};

/// An operator's override of a real server's place in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "weight")]
pub enum AdminState {
    /// In the table with weight 0 whatever its checkers say: no new
    /// connections, the existing ones finish.
    Drain,
    /// Out of the table.
    Maint,
    /// This weight while its checkers say up (FILE_CHECK numbers and
    /// misc_dynamic weights are not applied); as usual while down.
    Weight(u32),
}

impl AdminState {
    /// The bounded label value of metrics and the word `lvsd status` prints.
    pub fn name(self) -> &'static str {
        match self {
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
            AdminState::Weight(_) => "weight",
        }
    }
}

impl std::fmt::Display for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminState::Weight(w) => write!(f, "weight {w}"),
            other => f.write_str(other.name()),
        }
    }
}

/// An override with who set it and when (for status and the log only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOverride {
    #[serde(flatten)]
    pub state: AdminState,
    /// The uid of the `lvsd ctl` client that set it.
    pub set_by_uid: u32,
    /// When it was set (Unix seconds).
    pub set_at: u64,
}

/// The version of the state file's layout.
pub const STATE_FILE_SCHEMA: u32 = 1;

/// The admin state file: every override, named as `lvsd status` names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub schema: u32,
    pub overrides: Vec<StoredOverride>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOverride {
    /// As `lvsd status` prints it (`virtual_server 10.0.0.100:80 TCP`).
    pub virtual_server: String,
    /// `10.0.0.4:80`, `[2001:db8::4]:80`.
    pub real_server: String,
    #[serde(flatten)]
    pub admin: AdminOverride,
}

/// The text of a real server's address as `lvsd status` prints it.
pub fn real_server_text(key: &RealServerKey) -> String {
    ipvs::model::SocketText(key.addr, key.port).to_string()
}

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// Splits a virtual server's name or an operator's text for one into the
/// key words (`10.0.0.1:80`, `fwmark 7`, `group web`) and the protocol.
fn vs_words(text: &str) -> (String, Option<String>) {
    let mut proto = None;
    let mut rest = Vec::new();
    for (i, w) in text.split_whitespace().enumerate() {
        if i == 0 && w.eq_ignore_ascii_case("virtual_server") {
            continue;
        }
        if PROTOCOLS.iter().any(|p| w.eq_ignore_ascii_case(p)) {
            proto = Some(w.to_ascii_uppercase());
        } else {
            rest.push(w.to_ascii_lowercase());
        }
    }
    (rest.join(" "), proto)
}

/// Normalises the address words: `10.0.0.1 80` (keepalived.conf's form) is
/// `10.0.0.1:80`; `[::1]:80` and `::1 80` are the same.
fn canonical_address(words: &str) -> String {
    let parts: Vec<&str> = words.split(' ').collect();
    match parts.as_slice() {
        [ip, port] if ip.parse::<IpAddr>().is_ok() && port.parse::<u16>().is_ok() => {
            match ip.parse::<IpAddr>() {
                Ok(IpAddr::V6(a)) => format!("[{a}]:{port}"),
                Ok(a) => format!("{a}:{port}"),
                Err(_) => words.to_owned(),
            }
        }
        [one] => match one.parse::<SocketAddr>() {
            Ok(SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
            Ok(a) => a.to_string(),
            Err(_) => match one.parse::<IpAddr>() {
                Ok(a) => a.to_string(),
                Err(_) => words.to_owned(),
            },
        },
        _ => words.to_owned(),
    }
}

/// Finds the real server `rs` of the virtual server `vs` in `spec`, from
/// the forms `lvsd status` prints (`virtual_server 10.0.0.100:80 TCP`,
/// `10.0.0.100:80 TCP`, `10.0.0.100:80` when only one protocol has it,
/// `fwmark 7`, `group NAME`; `10.0.0.4:80`, or `10.0.0.4` when only one
/// port of it serves that virtual server). The error names what was not
/// found and what exists.
pub fn resolve(spec: &DirectorSpec, vs: &str, rs: &str) -> Result<RealServerKey, String> {
    let (want, want_proto) = vs_words(vs);
    if want.is_empty() {
        return Err(format!("virtual server {vs:?}: empty"));
    }
    let want = canonical_address(&want);
    let candidates: Vec<_> = spec
        .virtual_servers
        .iter()
        .filter(|v| {
            let (have, proto) = vs_words(&v.name);
            canonical_address(&have) == want
                && want_proto
                    .as_ref()
                    .is_none_or(|p| Some(p) == proto.as_ref())
        })
        .collect();
    let names = |it: &mut dyn Iterator<Item = String>| -> String {
        let all: Vec<String> = it.collect();
        if all.is_empty() {
            "none".into()
        } else {
            all.join(", ")
        }
    };
    let v = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "no virtual server {vs:?} (configured: {})",
                names(&mut spec.virtual_servers.iter().map(|v| v.name.to_string()))
            ))
        }
        many => {
            return Err(format!(
                "virtual server {vs:?} is ambiguous: name the protocol ({})",
                names(&mut many.iter().map(|v| v.name.to_string()))
            ))
        }
    };
    let rs_text = rs.trim();
    let by_socket = rs_text
        .parse::<SocketAddr>()
        .ok()
        .map(|a| (a.ip(), Some(a.port())));
    let by_ip = rs_text.parse::<IpAddr>().ok().map(|a| (a, None));
    let Some((addr, port)) = by_socket.or(by_ip) else {
        return Err(format!(
            "real server {rs:?}: not an address (ADDRESS:PORT, [IPv6]:PORT or ADDRESS)"
        ));
    };
    let found: Vec<(IpAddr, u16)> = v
        .real_servers
        .iter()
        .map(|r| r.key())
        .filter(|(a, p)| *a == addr && port.is_none_or(|want| want == *p))
        .collect();
    match found.as_slice() {
        [(addr, port)] => Ok(RealServerKey {
            virtual_server: v.name.clone(),
            addr: *addr,
            port: *port,
        }),
        [] => Err(format!(
            "{} has no real server {rs:?} (configured: {})",
            v.name,
            names(&mut v.real_servers.iter().map(|r| {
                let (a, p) = r.key();
                ipvs::model::SocketText(a, p).to_string()
            }))
        )),
        _ => Err(format!(
            "real server {rs:?} of {} is ambiguous: give the port",
            v.name
        )),
    }
}
