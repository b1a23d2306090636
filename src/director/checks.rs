//! Translation of keepalived.conf checkers into the checkers crate's plain
//! descriptions. Pure.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

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

/// The checks of one real server. `id` is left 0: the daemon assigns ids.
pub fn real_server_checks(
    config: &Config,
    vs: &VirtualServer,
    rs: &RealServer,
    port: u16,
) -> Result<RealServerChecks, String> {
    // Exact: a first push reserves room for 4 checkers, ~10k times in a large config.
    let mut out = Vec::with_capacity(rs.checkers.len());
    for c in &rs.checkers {
        let common = c.common();
        let connection = connection(common, SocketAddr::new(rs.address, port));
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
                out.push(checkers::Checker {
                    spec: CheckSpec::Smtp(Box::new(SmtpCheck {
                        connection: self::connection(host, SocketAddr::new(rs.address, port)),
                        helo_name: m.helo_name.clone(),
                    })),
                    schedule: schedule.clone(),
                });
            }
        }
        out.push(checkers::Checker { spec, schedule });
    }
    Ok(RealServerChecks {
        id: 0,
        weight: rs.weight.get(),
        checkers: out,
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
