//! Translation of keepalived.conf checkers into the checkers crate's plain
//! descriptions. Pure.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use checkers::{
    CheckKind, CheckSchedule, CheckSpec, Connection, DnsCheck, HttpCheck, HttpProtocol, MiscCheck,
    PingCheck, RealServerChecks, ReplyPattern, SmtpCheck, StatusCodes, TcpCheck, TlsOptions,
    UdpCheck, UdpReply, UrlCheck, DEFAULT_MAX_BODY_BYTES,
};

use crate::config::model::{self, Checker, CheckerCommon, Config, RealServer, VirtualServer};

/// `SSL { certificate key password }`: the client certificate every SSL_GET
/// presents (keepalived loads both into its one TLS context; with one
/// without the other it presents none, as here).
pub fn client_cert(ssl: &model::SslSettings) -> Option<checkers::ClientCertFiles> {
    match (&ssl.certificate, &ssl.key) {
        (Some(c), Some(k)) => Some(checkers::ClientCertFiles {
            certificate: c.into(),
            key: k.into(),
            password: ssl.password.as_ref().map(|p| p.expose().to_string()),
        }),
        _ => None,
    }
}

/// `SSL { ca }`, used to verify real servers' certificates only under
/// `lvsd run --ssl-verify-ca` (keepalived loads it and verifies nothing).
pub fn verify_ca_file(ssl: &model::SslSettings) -> Option<std::path::PathBuf> {
    ssl.ca.as_ref().filter(|_| ssl.verify).map(Into::into)
}

/// Which parts of a checker's target are the real server's own (its address,
/// its port) rather than configured (`connect_ip`, `connect_port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FromServer {
    ip: bool,
    port: bool,
}

impl FromServer {
    fn of(c: &CheckerCommon) -> FromServer {
        FromServer {
            ip: c.connect_ip.is_none(),
            port: c.connect_port.is_none(),
        }
    }
}

/// A real server's checks with its own address and port left out, so that
/// real servers that check alike (usually all of a virtual server's) share
/// one: 10,000 copies differing only by their target were half of the
/// director's spec, and every page a big start-up touches is a trap in UML
/// (issue #19). The checks that run are made from it when they start
/// ([`CheckTemplate::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckTemplate {
    /// A target that comes from the real server is left unspecified here.
    checks: RealServerChecks,
    /// One per checker.
    from_server: Vec<FromServer>,
}

impl CheckTemplate {
    /// Whether the real server has no checker (it is always up).
    pub fn is_empty(&self) -> bool {
        self.checks.checkers.is_empty()
    }

    /// The checkers without the real server's target: their kinds,
    /// schedules and policies, which do not depend on it.
    pub fn checkers(&self) -> &[checkers::Checker] {
        &self.checks.checkers
    }

    /// The checks as configured, for everything but the targets (the
    /// verdict's policies, the configured weight).
    pub fn untargeted(&self) -> &RealServerChecks {
        &self.checks
    }

    /// Whether two real servers' checkers are the same (the configured weight
    /// aside: a weight change alone does not restart them).
    pub fn same_checkers(&self, other: &CheckTemplate) -> bool {
        self.checks.checkers == other.checks.checkers && self.from_server == other.from_server
    }

    /// The checks of the real server at `addr`:`port`.
    pub fn resolve(&self, addr: IpAddr, port: u16) -> RealServerChecks {
        let mut checks = self.checks.clone();
        for (c, from) in checks.checkers.iter_mut().zip(&self.from_server) {
            if let Some(conn) = c.spec.connection_mut() {
                if from.ip {
                    conn.connect_ip = addr;
                }
                if from.port {
                    conn.connect_port = port;
                }
            }
        }
        checks
    }
}

/// Stands for the real server's address and port in a [`CheckTemplate`].
const SERVER_TARGET: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// The checks of one real server, as a template (see [`CheckTemplate`]).
/// `id` is left 0: the daemon assigns ids.
pub fn real_server_checks(
    config: &Config,
    vs: &VirtualServer,
    rs: &RealServer,
) -> Result<CheckTemplate, String> {
    // Exact: a first push reserves room for 4 checkers, ~10k times in a large config.
    let mut out = Vec::with_capacity(rs.checkers.len());
    let mut from_server = Vec::with_capacity(rs.checkers.len());
    for c in &rs.checkers {
        let common = c.common();
        let connection = connection(common, SERVER_TARGET);
        let spec = match c {
            Checker::Tcp(_) => CheckSpec::Tcp(TcpCheck { connection }),
            Checker::Ping(_) => CheckSpec::Ping(PingCheck { connection }),
            Checker::Http(h) | Checker::Ssl(h) => {
                let tls = matches!(c, Checker::Ssl(_)).then(|| TlsOptions {
                    sni: if h.enable_sni {
                        h.virtualhost
                            .clone()
                            .or_else(|| rs.virtualhost.clone())
                            .or_else(|| vs.virtualhost.clone())
                    } else {
                        None
                    },
                    verify_ca_file: config.ssl.as_ref().and_then(verify_ca_file),
                    client_cert: config.ssl.as_ref().and_then(client_cert),
                });
                CheckSpec::Http(Box::new(HttpCheck {
                    urls: h.urls.iter().map(url).collect(),
                    virtualhost: h
                        .virtualhost
                        .clone()
                        .or_else(|| rs.virtualhost.clone())
                        .or_else(|| vs.virtualhost.clone()),
                    connection,
                    http_protocol: match h.http_protocol {
                        model::HttpProtocol::Http10 => HttpProtocol::Http10,
                        model::HttpProtocol::Http10Close => HttpProtocol::Http10Close,
                        model::HttpProtocol::Http11 => HttpProtocol::Http11,
                    },
                    tls,
                    fast_recovery: h.fast_recovery,
                    max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                }))
            }
            Checker::Dns(d) => CheckSpec::Dns(Box::new(DnsCheck {
                connection,
                qtype: d.qtype,
                name: d.name.clone(),
            })),
            Checker::Smtp(m) => CheckSpec::Smtp(Box::new(SmtpCheck {
                connection,
                helo_name: m.helo_name.clone(),
            })),
            Checker::Udp(u) => CheckSpec::Udp(Box::new(UdpCheck {
                connection,
                payload: u.payload.as_ref().map(|p| p.bytes.clone()),
                reply: match (&u.reply, u.require_reply) {
                    (Some(r), _) => UdpReply::Matching(ReplyPattern {
                        data: r.clone(),
                        min_len: u.min_reply_length,
                        max_len: u.max_reply_length,
                    }),
                    (None, true) => UdpReply::Any,
                    (None, false) => UdpReply::NotRequired,
                },
            })),
            Checker::Misc(m) => CheckSpec::Misc(Box::new(MiscCheck {
                misc_path: m.misc_path.command.clone(),
                misc_timeout: m.misc_timeout,
                misc_dynamic: m.misc_dynamic,
                user: m
                    .misc_path
                    .user
                    .clone()
                    .map(|u| (u, m.misc_path.group.clone()))
                    .or_else(|| {
                        config
                            .global
                            .script_user
                            .as_ref()
                            .map(|r| (r.user.clone(), r.group.clone()))
                    }),
                script_security: config.global.enable_script_security,
            })),
        };
        let kind: CheckKind = spec.kind();
        let mut schedule = CheckSchedule::keepalived_default(kind);
        schedule.delay_loop = common.delay_loop;
        schedule.retry = common.retry;
        schedule.delay_before_retry = common.delay_before_retry;
        schedule.warmup = common.warmup;
        schedule.alpha = common.alpha || rs.alpha || vs.alpha;
        schedule.log_all_failures = common
            .log_all_failures
            .unwrap_or(config.global.checker_log_all_failures);
        // SMTP_CHECK `host { }` blocks: one more checker each, same schedule.
        if let Checker::Smtp(m) = c {
            for host in &m.hosts {
                from_server.push(FromServer::of(host));
                out.push(checkers::Checker {
                    spec: CheckSpec::Smtp(Box::new(SmtpCheck {
                        connection: self::connection(host, SERVER_TARGET),
                        helo_name: m.helo_name.clone(),
                    })),
                    schedule: schedule.clone(),
                });
            }
        }
        from_server.push(FromServer::of(common));
        out.push(checkers::Checker { spec, schedule });
    }
    Ok(CheckTemplate {
        checks: RealServerChecks {
            id: 0,
            weight: rs.weight.get(),
            checkers: out,
        },
        from_server,
    })
}

fn connection(c: &CheckerCommon, target: SocketAddr) -> Connection {
    let mut conn = Connection::new(target);
    if let Some(ip) = c.connect_ip {
        conn.connect_ip = ip;
    }
    if let Some(p) = c.connect_port {
        conn.connect_port = p;
    }
    conn.set_source(checkers::config::Source {
        bindto: c.bindto,
        bind_port: c.bind_port,
        bind_if: c.bind_if.clone(),
    });
    conn.connect_timeout = c.connect_timeout;
    conn.fwmark = c.fwmark.unwrap_or(0);
    conn
}

fn url(u: &model::UrlCheck) -> UrlCheck {
    UrlCheck {
        path: u.path.clone(),
        digest: u.digest.map(|d| d.to_hex()),
        status_codes: StatusCodes {
            ranges: u.status_codes.iter().map(|r| (r.first, r.last)).collect(),
        },
        virtualhost: u.virtualhost.clone(),
        regex: u.compiled_regex.clone().map(Box::new),
    }
}
