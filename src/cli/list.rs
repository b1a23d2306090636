//! `lvsd list`: the kernel's IPVS table like `ipvsadm -Ln`, byte for byte,
//! or as JSON. Argument parsing and I/O only; the text lives in
//! [`crate::list`].

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use ipvs::model::{Info, Protocol, ServiceKey, SyncDaemon, Table, Timeouts};
/// The listing's IPVS client: blocking, no runtime.
type Client = ipvs::IpvsClient<ipvs::client::BlockingSocket>;

use crate::list::conn::{render_connections, CONN_PROC_FILE};
use crate::list::{self, json, parse_connections, text, Columns, TextFormat};

/// Exit status when the named service does not exist (as ipvsadm).
const EXIT_NO_SUCH_SERVICE: u8 = 1;

#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("service").args(["tcp_service", "udp_service", "sctp_service", "fwmark_service"])),
    group(ArgGroup::new("columns").args(["stats", "rate", "thresholds", "persistent_conn"]).multiple(true)),
)]
pub struct ListArgs {
    /// Numeric output. Always on: lvsd never resolves names.
    #[arg(short = 'n', long)]
    pub numeric: bool,

    /// List connections (from /proc/net/ip_vs_conn), like `ipvsadm -Lnc`.
    #[arg(short = 'c', long, conflicts_with_all = ["service", "timeout", "daemon"])]
    pub connection: bool,

    /// Counters: connections, packets and bytes in and out.
    #[arg(long)]
    pub stats: bool,

    /// Rates: connections, packets and bytes per second.
    #[arg(long)]
    pub rate: bool,

    /// Upper and lower connection thresholds of each real server.
    #[arg(long)]
    pub thresholds: bool,

    /// Persistent connections of each real server (with -c: persistence
    /// engine data).
    #[arg(long)]
    pub persistent_conn: bool,

    /// Exact numbers instead of K/M/G/T scaling.
    #[arg(short = 'X', long)]
    pub exact: bool,

    /// Sort services and real servers (the default; kept for ipvsadm).
    #[arg(long, conflicts_with = "nosort")]
    pub sort: bool,

    /// Keep the kernel's order.
    #[arg(long)]
    pub nosort: bool,

    /// Connection timeouts (tcp tcpfin udp).
    #[arg(long, conflicts_with_all = ["daemon", "service", "columns"])]
    pub timeout: bool,

    /// Connection synchronisation daemons.
    #[arg(long, conflicts_with_all = ["service", "columns"])]
    pub daemon: bool,

    /// Only this TCP service: ADDR[:PORT], IPv6 as [ADDR]:PORT.
    #[arg(short = 't', long, value_name = "ADDR:PORT")]
    pub tcp_service: Option<String>,

    /// Only this UDP service.
    #[arg(short = 'u', long, value_name = "ADDR:PORT")]
    pub udp_service: Option<String>,

    /// Only this SCTP service.
    #[arg(long, value_name = "ADDR:PORT")]
    pub sctp_service: Option<String>,

    /// Only this firewall-mark service.
    #[arg(short = 'f', long, value_name = "FWMARK")]
    pub fwmark_service: Option<String>,

    /// The firewall-mark service is IPv6 (with -f).
    #[arg(short = '6', long, requires = "fwmark_service")]
    pub ipv6: bool,

    /// JSON instead of ipvsadm's text (schema 1, documented in the README).
    #[arg(long)]
    pub json: bool,
}

/// What to list, decided from the arguments alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRequest {
    Table {
        filter: Option<ServiceKey>,
        format: TextFormat,
        sort: bool,
    },
    Connections {
        persistent: bool,
    },
    Timeouts,
    Daemons,
}

/// A service address on the command line that lvsd cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("illegal virtual server address[:port] specified: {0:?} (numeric addresses and ports only; names are never resolved)")]
    Address(String),
    #[error("illegal fwmark specified: {0:?} (an integer from 1 to 4294967295)")]
    Fwmark(String),
}

impl ListArgs {
    pub fn request(&self) -> Result<ListRequest, FilterError> {
        if self.connection {
            return Ok(ListRequest::Connections {
                persistent: self.persistent_conn,
            });
        }
        if self.timeout {
            return Ok(ListRequest::Timeouts);
        }
        if self.daemon {
            return Ok(ListRequest::Daemons);
        }
        // ipvsadm's precedence when several are given.
        let columns = if self.stats {
            Columns::Stats
        } else if self.rate {
            Columns::Rate
        } else if self.thresholds {
            Columns::Thresholds
        } else if self.persistent_conn {
            Columns::PersistentConn
        } else {
            Columns::Default
        };
        let filter = if let Some(s) = &self.tcp_service {
            Some(parse_service(Protocol::Tcp, s)?)
        } else if let Some(s) = &self.udp_service {
            Some(parse_service(Protocol::Udp, s)?)
        } else if let Some(s) = &self.sctp_service {
            Some(parse_service(Protocol::Sctp, s)?)
        } else if let Some(m) = &self.fwmark_service {
            Some(parse_fwmark(m, self.ipv6)?)
        } else {
            None
        };
        Ok(ListRequest::Table {
            filter,
            format: TextFormat {
                columns,
                exact: self.exact,
            },
            sort: !self.nosort,
        })
    }
}

/// `ADDR[:PORT]` or `[ADDR6][:PORT]`; a missing port is 0, as in ipvsadm.
pub fn parse_service(protocol: Protocol, text: &str) -> Result<ServiceKey, FilterError> {
    let bad = || FilterError::Address(text.to_owned());
    let (addr, port) = if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        let port = match after {
            "" => 0,
            p => p
                .strip_prefix(':')
                .ok_or_else(bad)?
                .parse::<u16>()
                .map_err(|_| bad())?,
        };
        (IpAddr::V6(addr), port)
    } else if text.matches(':').count() > 1 {
        (IpAddr::V6(text.parse().map_err(|_| bad())?), 0)
    } else {
        let (addr, port) = match text.split_once(':') {
            Some((a, p)) => (a, p.parse::<u16>().map_err(|_| bad())?),
            None => (text, 0),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        (IpAddr::V4(addr), port)
    };
    Ok(ServiceKey::Inet {
        protocol,
        addr,
        port,
    })
}

pub fn parse_fwmark(text: &str, ipv6: bool) -> Result<ServiceKey, FilterError> {
    match text.parse::<u32>() {
        Ok(mark) if mark > 0 => Ok(ServiceKey::Fwmark { mark, ipv6 }),
        _ => Err(FilterError::Fwmark(text.to_owned())),
    }
}

/// What a request printed, or why it printed nothing.
#[derive(Debug)]
pub enum ListOutcome {
    Text(String),
    /// Already written to stdout.
    Written,
    NoSuchService,
}

/// The pure step: kernel values in, text (or JSON) out.
pub fn render_table(
    info: &Info,
    table: &Table,
    filter: Option<&ServiceKey>,
    format: TextFormat,
    sort: bool,
    as_json: bool,
) -> ListOutcome {
    match filter {
        Some(key) => match list::find_service(table, key) {
            None => ListOutcome::NoSuchService,
            Some((service, dests)) => {
                let one = Table {
                    services: vec![(service.clone(), dests.clone())],
                };
                let entries = list::listing_order(&one, sort);
                ListOutcome::Text(if as_json {
                    json::render_table(info, &entries)
                } else {
                    // A filter prints no version line (ipvsadm does the same).
                    entries
                        .first()
                        .map(|e| text::render_service(e, format))
                        .unwrap_or_default()
                })
            }
        },
        None => {
            let entries = list::listing_order(table, sort);
            ListOutcome::Text(if as_json {
                json::render_table(info, &entries)
            } else {
                text::render_table(info, &entries, format)
            })
        }
    }
}

pub fn execute(args: ListArgs) -> ExitCode {
    let request = match args.request() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsd list: {e}");
            return ExitCode::from(super::EXIT_ERROR);
        }
    };
    // One dump needs no runtime: the client's socket blocks, so its futures
    // are always ready (issue #19: a runtime is page faults ipvsadm does
    // not pay).
    let outcome = futures::executor::block_on(list(request, args.json));
    match outcome {
        Ok(ListOutcome::Text(text)) => write_stdout(&text),
        Ok(ListOutcome::Written) => ExitCode::SUCCESS,
        Ok(ListOutcome::NoSuchService) => {
            eprintln!("No such service");
            ExitCode::from(EXIT_NO_SUCH_SERVICE)
        }
        Err(e) => {
            eprintln!("lvsd list: {e}");
            ExitCode::from(super::EXIT_ERROR)
        }
    }
}

fn list_connections(persistent: bool, as_json: bool) -> Result<ListOutcome, String> {
    let read = || std::fs::read_to_string(CONN_PROC_FILE);
    let text = match read() {
        // The file appears with the module; load it as ipvsadm would.
        Err(e) if e.kind() == io::ErrorKind::NotFound && modprobe_ip_vs() => read(),
        other => other,
    }
    .map_err(|e| format!("cannot read {CONN_PROC_FILE}: {e} (is the ip_vs module loaded?)"))?;
    let conns = parse_connections(&text, CONN_PROC_FILE).map_err(|e| e.to_string())?;
    Ok(ListOutcome::Text(if as_json {
        json::render_connections(&conns)
    } else {
        render_connections(&conns, persistent)
    }))
}

/// Opens the IPVS family; like ipvsadm, loads the ip_vs module once when
/// the kernel does not know the family yet.
async fn connect() -> Result<Client, String> {
    let first = Client::connect_blocking().await;
    let result = match first {
        Err(ipvs::IpvsError::FamilyNotFound) if modprobe_ip_vs() => {
            Client::connect_blocking().await
        }
        other => other,
    };
    result.map_err(|e| format!("cannot reach IPVS: {e}"))
}

fn modprobe_ip_vs() -> bool {
    std::process::Command::new("modprobe")
        .args(["-q", "--", "ip_vs"])
        .stdin(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn list(request: ListRequest, as_json: bool) -> Result<ListOutcome, String> {
    let k = |e: ipvs::IpvsError| e.to_string();
    match request {
        // Connections come from /proc: no netlink socket needed.
        ListRequest::Connections { persistent } => list_connections(persistent, as_json),
        ListRequest::Timeouts => {
            let t: Timeouts = connect().await?.timeouts().await.map_err(k)?;
            Ok(ListOutcome::Text(if as_json {
                json::render_timeouts(&t)
            } else {
                text::render_timeouts(&t)
            }))
        }
        ListRequest::Daemons => {
            let d: Vec<SyncDaemon> = connect().await?.daemons().await.map_err(k)?;
            Ok(ListOutcome::Text(if as_json {
                json::render_daemons(&d)
            } else {
                text::render_daemons(&d)
            }))
        }
        ListRequest::Table {
            filter,
            format,
            sort,
        } => {
            let mut client = connect().await?;
            let info = client.info().await.map_err(k)?;
            let mut services = client.services().await.map_err(k)?;
            if let Some(key) = &filter {
                services.retain(|s| s.key == *key);
                if services.is_empty() {
                    return Ok(ListOutcome::NoSuchService);
                }
            }
            if as_json {
                let mut table = Table::default();
                for s in services {
                    let dests = client.dests(&s.key).await.map_err(k)?;
                    table.services.push((s, dests));
                }
                return Ok(render_table(
                    &info,
                    &table,
                    filter.as_ref(),
                    format,
                    sort,
                    as_json,
                ));
            }
            stream_text(&mut client, &info, services, filter.is_none(), format, sort).await
        }
    }
}

/// Prints the table one service at a time, as ipvsadm does: only one
/// service's real servers are held in memory, and output starts before the
/// last dump is read (in UML every touched page costs a trap).
async fn stream_text(
    client: &mut Client,
    info: &Info,
    mut services: Vec<ipvs::model::Service>,
    with_version: bool,
    format: TextFormat,
    sort: bool,
) -> Result<ListOutcome, String> {
    const FLUSH_AT: usize = 32 * 1024;
    if sort {
        list::sort::sort_service_list(&mut services);
    }
    let mut out = io::stdout().lock();
    let mut buf = String::with_capacity(FLUSH_AT + 16 * 1024);
    if with_version {
        text::write_version(&mut buf, info);
    }
    text::write_title(&mut buf, format);
    for service in &services {
        let mut dests = client
            .dests(&service.key)
            .await
            .map_err(|e| e.to_string())?;
        if sort {
            list::sort::sort_dests(&mut dests);
        }
        text::write_service(&mut buf, service, &dests, format);
        if buf.len() >= FLUSH_AT {
            if let Err(e) = out.write_all(buf.as_bytes()) {
                return write_failed(e);
            }
            buf.clear();
        }
    }
    match out.write_all(buf.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(ListOutcome::Written),
        Err(e) => write_failed(e),
    }
}

fn write_failed(e: io::Error) -> Result<ListOutcome, String> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        // `lvsd list | head`: the reader has all it wanted.
        Ok(ListOutcome::Written)
    } else {
        Err(format!("writing the listing: {e}"))
    }
}

/// Writes everything at once; a closed pipe (`lvsd list | head`) is not an
/// error.
fn write_stdout(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvsd list: writing the listing: {e}");
            ExitCode::from(super::EXIT_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ListArgs,
    }

    fn parse(argv: &[&str]) -> Result<ListArgs, clap::Error> {
        let mut full = vec!["list"];
        full.extend_from_slice(argv);
        Wrapper::try_parse_from(full).map(|w| w.args)
    }

    #[test]
    fn service_addresses_parse_like_ipvsadm() {
        let key = |p, a: &str, port| ServiceKey::Inet {
            protocol: p,
            addr: a.parse().expect("addr"),
            port,
        };
        assert_eq!(
            parse_service(Protocol::Tcp, "10.0.0.1:80"),
            Ok(key(Protocol::Tcp, "10.0.0.1", 80))
        );
        assert_eq!(
            parse_service(Protocol::Udp, "10.0.0.7"),
            Ok(key(Protocol::Udp, "10.0.0.7", 0))
        );
        assert_eq!(
            parse_service(Protocol::Sctp, "[fd00::1]:9"),
            Ok(key(Protocol::Sctp, "fd00::1", 9))
        );
        assert_eq!(
            parse_service(Protocol::Tcp, "[fd00::1]"),
            Ok(key(Protocol::Tcp, "fd00::1", 0))
        );
        for bad in [
            "lo:80",
            "10.0.0.1:http",
            "10.0.0.1:70000",
            "[fd00::1:80",
            "[x]:1",
            "",
        ] {
            assert!(parse_service(Protocol::Tcp, bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_fwmark("4294967295", true),
            Ok(ServiceKey::Fwmark {
                mark: u32::MAX,
                ipv6: true
            })
        );
        assert!(parse_fwmark("0", false).is_err());
        assert!(parse_fwmark("-1", false).is_err());
    }

    #[test]
    fn options_pick_columns_with_ipvsadms_precedence() {
        let req = parse(&["-n", "--rate", "--stats", "--exact"])
            .expect("valid")
            .request()
            .expect("request");
        assert_eq!(
            req,
            ListRequest::Table {
                filter: None,
                format: TextFormat {
                    columns: Columns::Stats,
                    exact: true
                },
                sort: true
            }
        );
        let req = parse(&[
            "--thresholds",
            "--persistent-conn",
            "--nosort",
            "-f",
            "2",
            "-6",
        ])
        .expect("valid")
        .request()
        .expect("request");
        assert_eq!(
            req,
            ListRequest::Table {
                filter: Some(ServiceKey::Fwmark {
                    mark: 2,
                    ipv6: true
                }),
                format: TextFormat {
                    columns: Columns::Thresholds,
                    exact: false
                },
                sort: false
            }
        );
        assert_eq!(
            parse(&["-c", "--persistent-conn"])
                .expect("valid")
                .request(),
            Ok(ListRequest::Connections { persistent: true })
        );
        assert_eq!(
            parse(&["--timeout"]).expect("valid").request(),
            Ok(ListRequest::Timeouts)
        );
        assert_eq!(
            parse(&["--daemon"]).expect("valid").request(),
            Ok(ListRequest::Daemons)
        );
    }

    #[test]
    fn conflicting_options_are_usage_errors() {
        for argv in [
            &["-c", "-t", "10.0.0.1:80"][..],
            &["--timeout", "--daemon"],
            &["--timeout", "--stats"],
            &["--daemon", "-u", "10.0.0.1:53"],
            &["-t", "10.0.0.1:80", "-u", "10.0.0.1:53"],
            &["--sort", "--nosort"],
            &["-6"],
        ] {
            assert!(parse(argv).is_err(), "{argv:?} accepted");
        }
    }
}
