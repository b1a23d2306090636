//! The table as ipvsadm 1.31 prints it with `-Ln` and its column options
//! (`--stats`, `--rate`, `--thresholds`, `--persistent-conn`, `--exact`),
//! plus `--timeout` and `--daemon`. Widths, padding and trailing blanks are
//! ipvsadm's, captured from its real output in UML. Pure.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use ipvs::model::{
    Destination, Info, Protocol, Service, ServiceFlags, ServiceKey, Stats, SyncDaemon, SyncState,
    Timeouts,
};

use super::addr::{ip_text, socket_text};
use super::ServiceEntry;

/// Which columns follow the address. ipvsadm gives precedence in this
/// order when several are asked for: stats, rate, thresholds, persistent-conn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Columns {
    /// Scheduler and flags; forward, weight, active and inactive connections.
    #[default]
    Default,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextFormat {
    pub columns: Columns,
    /// `--exact`: full numbers instead of K/M/G/T scaling.
    pub exact: bool,
}

/// `IP Virtual Server version 1.2.1 (size=4096)`, the column titles and
/// every service (as `ipvsadm -Ln` with no service filter).
pub fn render_table(info: &Info, services: &[ServiceEntry], format: TextFormat) -> String {
    let dests: usize = services.iter().map(|(_, d)| d.len()).sum();
    let mut out = String::with_capacity(200 + 80 * (services.len() + dests));
    write_version(&mut out, info);
    write_title(&mut out, format);
    for entry in services {
        write_service_entry(&mut out, entry, format);
    }
    out
}

/// One service (as `ipvsadm -Ln -t ADDR:PORT`): no version line.
pub fn render_service(entry: &ServiceEntry, format: TextFormat) -> String {
    let mut out = String::with_capacity(200 + 80 * entry.1.len());
    write_title(&mut out, format);
    write_service_entry(&mut out, entry, format);
    out
}

/// `ipvsadm -Ln --timeout`.
pub fn render_timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp, t.tcp_fin, t.udp
    )
}

/// `ipvsadm -Ln --daemon`: the master daemon first, then the backup.
pub fn render_daemons(daemons: &[SyncDaemon]) -> String {
    let mut out = String::new();
    for state in [SyncState::Master, SyncState::Backup] {
        for d in daemons.iter().filter(|d| d.state == state) {
            let name = match state {
                SyncState::Master => "master",
                SyncState::Backup => "backup",
            };
            let _ = write!(
                out,
                "{name} sync daemon (mcast={}, syncid={}",
                d.mcast_ifn, d.sync_id as i32
            );
            if d.maxlen != 0 {
                let _ = write!(out, ", maxlen={}", d.maxlen);
            }
            if let Some(group) = &d.group {
                let _ = write!(out, ", group={}", ip_text(group));
            }
            if d.port != 0 {
                let _ = write!(out, ", port={}", d.port);
            }
            if d.ttl != 0 {
                let _ = write!(out, ", ttl={}", d.ttl);
            }
            out.push_str(")\n");
        }
    }
    out
}

/// The version line ipvsadm prints before a whole-table listing.
pub fn write_version(out: &mut String, info: &Info) {
    let _ = writeln!(
        out,
        "IP Virtual Server version {} (size={})",
        info.version_text(),
        info.conn_table_size
    );
}

/// The two column-title lines.
pub fn write_title(out: &mut String, format: TextFormat) {
    let title = match format.columns {
        Columns::Stats => format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        Columns::Rate => format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        Columns::Thresholds => format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        Columns::PersistentConn => format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
        Columns::Default => "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_owned(),
    };
    out.push_str(&title);
}

/// `TCP  10.0.0.1:80`, `SCTP 10.0.0.5:9`, `FWM  1`, `FWM  2 IPv6`; the
/// fwmark is printed as a C `int`, so 4294967295 shows as -1.
pub fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let label = match protocol {
                Protocol::Tcp => "TCP ",
                Protocol::Udp => "UDP ",
                Protocol::Sctp => "SCTP",
            };
            format!("{label} {}", socket_text(addr, *port))
        }
        ServiceKey::Fwmark { mark, ipv6 } => {
            format!("FWM  {}{}", *mark as i32, if *ipv6 { " IPv6" } else { "" })
        }
    }
}

/// ` (sh-fallback,sh-port)`: SCHED1..3 named after the scheduler. For
/// sh and mh ipvsadm names only the first two bits (a set SCHED3 is not
/// shown); other schedulers get `flag-1`..`flag-3`.
pub fn sched_flag_names(service: &Service) -> Vec<&'static str> {
    let names: [Option<&'static str>; 3] = match service.scheduler.name() {
        "sh" => [Some("sh-fallback"), Some("sh-port"), None],
        "mh" => [Some("mh-fallback"), Some("mh-port"), None],
        _ => [Some("flag-1"), Some("flag-2"), Some("flag-3")],
    };
    [
        ServiceFlags::SCHED1,
        ServiceFlags::SCHED2,
        ServiceFlags::SCHED3,
    ]
    .iter()
    .zip(names)
    .filter(|(bit, _)| service.flags.has(**bit))
    .filter_map(|(_, name)| name)
    .collect()
}

fn sched_flags_text(service: &Service) -> String {
    let set = sched_flag_names(service);
    if set.is_empty() {
        String::new()
    } else {
        format!(" ({})", set.join(","))
    }
}

/// The scheduler and its flags, persistence (`persistent 300 mask
/// 255.255.255.0 pe sip`) and ` ops`, after the service name.
fn service_settings(out: &mut String, service: &Service) {
    out.push(' ');
    out.push_str(service.scheduler.name());
    out.push_str(&sched_flags_text(service));
    if let Some(timeout) = service.persistence {
        let _ = write!(out, " persistent {timeout}");
        if service.key.is_ipv6() {
            if service.netmask != 128 {
                let _ = write!(out, " mask {}", service.netmask as i32);
            }
        } else if service.netmask != u32::MAX {
            let _ = write!(out, " mask {}", service.netmask_v4());
        }
        if let Some(pe) = service.pe_name.as_deref().filter(|p| !p.is_empty()) {
            let _ = write!(out, " pe {pe}");
        }
    }
    if service.flags.has(ServiceFlags::ONEPACKET) {
        out.push_str(" ops");
    }
}

/// ipvsadm's `print_largenum`: 9 columns, scaled to K/M/G/T above 10^8
/// unless `--exact`, which widens the column to fit.
fn large_number(out: &mut String, n: u64, exact: bool) {
    if exact {
        let digits = n.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        let _ = write!(out, "{digits:>width$}");
        return;
    }
    let _ = match n {
        0..=99_999_999 => write!(out, "{n:>9}"),
        100_000_000..=999_999_999 => write!(out, "{:>8}K", n / 1_000),
        1_000_000_000..=99_999_999_999 => write!(out, "{:>8}M", n / 1_000_000),
        100_000_000_000..=99_999_999_999_999 => write!(out, "{:>8}G", n / 1_000_000_000),
        _ => write!(out, "{:>8}T", n / 1_000_000_000_000),
    };
}

fn counters(out: &mut String, s: &Stats, exact: bool) {
    for n in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
        large_number(out, n, exact);
    }
}

fn rates(out: &mut String, s: &Stats, exact: bool) {
    for n in [s.cps, s.inpps, s.outpps, s.inbps, s.outbps] {
        large_number(out, n, exact);
    }
}

/// A service line and its real servers' lines.
pub fn write_service_entry(out: &mut String, entry: &ServiceEntry, format: TextFormat) {
    write_service(out, &entry.0, &entry.1, format);
}

/// [`write_service_entry`] for a service and its destinations held apart.
pub fn write_service(
    out: &mut String,
    service: &Service,
    dests: &[Destination],
    format: TextFormat,
) {
    let name = service_name(&service.key);
    match format.columns {
        Columns::Stats => {
            let _ = write!(out, "{name:<33}");
            counters(out, &service.stats, format.exact);
        }
        Columns::Rate => {
            let _ = write!(out, "{name:<33}");
            rates(out, &service.stats, format.exact);
        }
        Columns::Default | Columns::Thresholds | Columns::PersistentConn => {
            out.push_str(&name);
            service_settings(out, service);
        }
    }
    out.push('\n');
    for dest in dests {
        write_dest(out, dest, format);
    }
}

fn write_dest(out: &mut String, d: &Destination, format: TextFormat) {
    let name = socket_text(&d.addr, d.port);
    let _ = match format.columns {
        Columns::Stats => {
            let _ = write!(out, "  -> {name:<28}");
            counters(out, &d.stats, format.exact);
            writeln!(out)
        }
        Columns::Rate => {
            // ipvsadm prints the first three rates of a real server plainly.
            let s = &d.stats;
            let _ = write!(
                out,
                "  -> {name:<28} {:>8} {:>8} {:>8}",
                s.cps, s.inpps, s.outpps
            );
            large_number(out, s.inbps, format.exact);
            large_number(out, s.outbps, format.exact);
            writeln!(out)
        }
        Columns::Thresholds => writeln!(
            out,
            "  -> {name:<28} {:<10} {:<10} {:<10} {:<10}",
            d.upper_threshold, d.lower_threshold, d.active_conns, d.inactive_conns
        ),
        Columns::PersistentConn => writeln!(
            out,
            "  -> {name:<28} {:<9} {:<11} {:<10} {:<10}",
            d.weight, d.persistent_conns, d.active_conns, d.inactive_conns
        ),
        Columns::Default => writeln!(
            out,
            "  -> {name:<28} {:<7} {:<6} {:<10} {:<10}",
            d.forward.ipvsadm_name(),
            d.weight as i32,
            d.active_conns,
            d.inactive_conns
        ),
    };
}

/// A dotted IPv4 netmask from the kernel's network-order u32 (for JSON).
pub fn netmask_text(service: &Service) -> String {
    if service.key.is_ipv6() {
        service.netmask.to_string()
    } else {
        Ipv4Addr::from(service.netmask.to_ne_bytes()).to_string()
    }
}

/// Whether an address is IPv6 (for JSON's family field).
pub fn family_name(addr: &IpAddr) -> &'static str {
    if addr.is_ipv6() {
        "inet6"
    } else {
        "inet"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::model::{Forward, Scheduler};

    fn scaled(n: u64, exact: bool) -> String {
        let mut s = String::new();
        large_number(&mut s, n, exact);
        s
    }

    #[test]
    fn large_numbers_scale_like_print_largenum() {
        assert_eq!(scaled(0, false), "        0");
        assert_eq!(scaled(99_999_999, false), " 99999999");
        assert_eq!(scaled(100_000_000, false), "  100000K");
        assert_eq!(scaled(999_999_999, false), "  999999K");
        assert_eq!(scaled(1_000_000_000, false), "    1000M");
        assert_eq!(scaled(99_999_999_999, false), "   99999M");
        assert_eq!(scaled(100_000_000_000, false), "     100G");
        assert_eq!(scaled(100_000_000_000_000, false), "     100T");
        assert_eq!(scaled(u64::MAX, false), "18446744T");
        // --exact: at least 9 columns, else the digits plus one blank.
        assert_eq!(scaled(12_345_678, true), " 12345678");
        assert_eq!(scaled(123_456_789, true), " 123456789");
        assert_eq!(scaled(u64::MAX, true), " 18446744073709551615");
    }

    fn entry() -> ServiceEntry {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().expect("addr"),
            port: 80,
        };
        let mut service = Service::new(key, Scheduler::Wrr);
        service.stats = Stats {
            conns: 123_456_789_012,
            inpkts: 5,
            ..Stats::default()
        }
        .into();
        let mut dest = Destination::new("10.0.1.1".parse().expect("addr"), 8080, Forward::Masq, 3);
        dest.stats = Stats {
            cps: 123_456_789,
            inbps: 987_654_321,
            ..Stats::default()
        }
        .into();
        (service, vec![dest])
    }

    #[test]
    fn stats_and_rate_lines_scale_except_a_real_servers_first_rates() {
        let stats = render_service(
            &entry(),
            TextFormat {
                columns: Columns::Stats,
                exact: false,
            },
        );
        assert_eq!(
            stats.lines().nth(2),
            Some("TCP  10.0.0.1:80                      123G        5        0        0        0")
        );
        let rate = render_service(
            &entry(),
            TextFormat {
                columns: Columns::Rate,
                exact: false,
            },
        );
        // cps is printed plainly ("%8llu"), bps scaled.
        assert_eq!(
            rate.lines().nth(3),
            Some("  -> 10.0.1.1:8080                123456789        0        0  987654K        0")
        );
    }

    #[test]
    fn ipv6_persistence_and_pe_and_ops() {
        let key = ServiceKey::Fwmark {
            mark: 7,
            ipv6: true,
        };
        let mut service = Service::new(key, Scheduler::Other("xyz".into()));
        service.persistence = Some(0);
        service.netmask = 56;
        service.pe_name = Some("sip".into());
        service.flags =
            ServiceFlags(ServiceFlags::ONEPACKET | ServiceFlags::SCHED2 | ServiceFlags::HASHED);
        let text = render_service(&(service, vec![]), TextFormat::default());
        assert_eq!(
            text.lines().nth(2),
            Some("FWM  7 IPv6 xyz (flag-2) persistent 0 mask 56 pe sip ops")
        );
    }

    #[test]
    fn daemons_list_master_first_and_skip_unset_fields() {
        let mut backup = SyncDaemon::new(SyncState::Backup, "eth1", 9);
        backup.maxlen = 1024;
        let master = SyncDaemon::new(SyncState::Master, "eth0", 4_294_967_295);
        assert_eq!(
            render_daemons(&[backup, master]),
            "master sync daemon (mcast=eth0, syncid=-1)\nbackup sync daemon (mcast=eth1, syncid=9, maxlen=1024)\n"
        );
        assert_eq!(render_daemons(&[]), "");
    }
}
