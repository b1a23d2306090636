//! The crate against the real kernel (UML): a matrix of services and real
//! servers programmed by ipvsadm and by the crate must read back
//! identically (`ipvsadm -Ln`, `ipvsadm -S -n`, and the crate's own dump);
//! batch errors are typed and complete.

use std::net::IpAddr;
use std::process::Command;

use ipvs::model::*;
use ipvs::{AckMode, IpvsClient, IpvsError, Op, OwnershipFilter};

fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ipvsadm(args: &[String]) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sh("ipvsadm", &refs);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// One row of the matrix: the ipvsadm command line and the same change as an Op.
struct Case {
    args: Vec<String>,
    op: Op,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// The matrix: every scheduler, TCP/UDP/SCTP/fwmark, IPv4/IPv6,
/// persistence with netmask, one-packet, sh/mh flags, NAT/DR/TUN with every
/// tunnel type, weights 0 and 65535, thresholds, mixed-family real servers.
fn matrix() -> Vec<Case> {
    let mut cases = Vec::new();
    let scheds = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Mh,
    ];
    for (i, sched) in scheds.iter().enumerate() {
        let n = i + 1;
        // TCP IPv4 service, one NAT and one DR real server.
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: ip(&format!("10.1.0.{n}")),
            port: 80,
        };
        cases.push(Case {
            args: words(&format!("-A -t 10.1.0.{n}:80 -s {}", sched.name())),
            op: Op::AddService(Service::new(key, sched.clone())),
        });
        cases.push(Case {
            args: words(&format!("-a -t 10.1.0.{n}:80 -r 10.2.0.{n}:8080 -m -w {n}")),
            op: Op::AddDest(
                key,
                Destination::new(ip(&format!("10.2.0.{n}")), 8080, Forward::Masq, n as u32),
            ),
        });
        // UDP IPv6 service with persistence (prefix length as mask).
        let key6 = ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: ip(&format!("fd00::{n}")),
            port: 53,
        };
        let mut s6 = Service::new(key6, sched.clone());
        s6.persistence = Some(60 * n as u32);
        s6.netmask = 64;
        cases.push(Case {
            args: words(&format!(
                "-A -u [fd00::{n}]:53 -s {} -p {} -M 64",
                sched.name(),
                60 * n
            )),
            op: Op::AddService(s6),
        });
        cases.push(Case {
            args: words(&format!("-a -u [fd00::{n}]:53 -r [fd01::{n}]:53 -g -w 0")),
            op: Op::AddDest(
                key6,
                Destination::new(ip(&format!("fd01::{n}")), 53, Forward::Route, 0),
            ),
        });
    }
    // SCTP with persistence and a v4 netmask; thresholds; weight 65535.
    let sctp = ServiceKey::Inet {
        protocol: Protocol::Sctp,
        addr: ip("10.3.0.1"),
        port: 5000,
    };
    let mut s = Service::new(sctp, Scheduler::Wlc);
    s.persistence = Some(300);
    s.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
    cases.push(Case {
        args: words("-A --sctp-service 10.3.0.1:5000 -s wlc -p 300 -M 255.255.255.0"),
        op: Op::AddService(s),
    });
    let mut d = Destination::new(ip("10.4.0.1"), 5000, Forward::Masq, 65535);
    d.upper_threshold = 1000;
    d.lower_threshold = 100;
    cases.push(Case {
        args: words("-a --sctp-service 10.3.0.1:5000 -r 10.4.0.1:5000 -m -w 65535 -x 1000 -y 100"),
        op: Op::AddDest(sctp, d),
    });
    // UDP one-packet scheduling.
    let ops = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: ip("10.3.0.2"),
        port: 514,
    };
    let mut s = Service::new(ops, Scheduler::Rr);
    s.flags = ServiceFlags(ServiceFlags::ONEPACKET);
    cases.push(Case {
        args: words("-A -u 10.3.0.2:514 -s rr -o"),
        op: Op::AddService(s),
    });
    // A persistence engine (SIP Call-ID; needs ip_vs_pe_sip loaded).
    let sip = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: ip("10.3.0.3"),
        port: 5060,
    };
    let mut s = Service::new(sip, Scheduler::Rr);
    s.persistence = Some(60);
    s.pe_name = Some("sip".into());
    cases.push(Case {
        args: words("-A -u 10.3.0.3:5060 -s rr -p 60 --pe sip"),
        op: Op::AddService(s),
    });
    // Fwmark services, v4 and v6, with sh/mh flags.
    let fwm = ServiceKey::Fwmark {
        mark: 7,
        ipv6: false,
    };
    let mut s = Service::new(fwm, Scheduler::Sh);
    s.flags = ServiceFlags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT);
    cases.push(Case {
        args: words("-A -f 7 -s sh -b sh-fallback,sh-port"),
        op: Op::AddService(s),
    });
    let fwm6 = ServiceKey::Fwmark {
        mark: 8,
        ipv6: true,
    };
    let mut s = Service::new(fwm6, Scheduler::Mh);
    s.flags = ServiceFlags(ServiceFlags::MH_FALLBACK);
    cases.push(Case {
        args: words("-A -f 8 -6 -s mh -b mh-fallback"),
        op: Op::AddService(s),
    });
    cases.push(Case {
        args: words("-a -f 8 -6 -r [fd02::1]:0 -g -w 3"),
        op: Op::AddDest(fwm6, Destination::new(ip("fd02::1"), 0, Forward::Route, 3)),
    });
    // Tunnels: ipip, gue (port, nocsum / remcsum), gre (csum).
    let tun = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: ip("10.5.0.1"),
        port: 443,
    };
    cases.push(Case {
        args: words("-A -t 10.5.0.1:443 -s wrr"),
        op: Op::AddService(Service::new(tun, Scheduler::Wrr)),
    });
    let mut ipip = Destination::new(ip("10.6.0.1"), 443, Forward::Tunnel, 1);
    ipip.tunnel_type = TunnelType::Ipip;
    cases.push(Case {
        args: words("-a -t 10.5.0.1:443 -r 10.6.0.1:443 -i --tun-type ipip"),
        op: Op::AddDest(tun, ipip),
    });
    let mut gue = Destination::new(ip("10.6.0.2"), 443, Forward::Tunnel, 2);
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    gue.tunnel_flags = TUN_FLAG_REMCSUM;
    cases.push(Case {
        args: words("-a -t 10.5.0.1:443 -r 10.6.0.2:443 -i -w 2 --tun-type gue --tun-port 6080 --tun-remcsum"),
        op: Op::AddDest(tun, gue),
    });
    let mut gre = Destination::new(ip("10.6.0.3"), 443, Forward::Tunnel, 3);
    gre.tunnel_type = TunnelType::Gre;
    gre.tunnel_flags = TUN_FLAG_CSUM;
    cases.push(Case {
        args: words("-a -t 10.5.0.1:443 -r 10.6.0.3:443 -i -w 3 --tun-type gre --tun-csum"),
        op: Op::AddDest(tun, gre),
    });
    // An IPv4 service with an IPv6 real server (tunnel only).
    let mut mixed = Destination::new(ip("fd03::1"), 443, Forward::Tunnel, 4);
    mixed.tunnel_type = TunnelType::Ipip;
    cases.push(Case {
        args: words("-a -t 10.5.0.1:443 -r [fd03::1]:443 -i -w 4"),
        op: Op::AddDest(tun, mixed),
    });
    cases
}

fn snapshot() -> (String, String) {
    (sh("ipvsadm", &["-Ln"]), sh("ipvsadm", &["-S", "-n"]))
}

testbed::uml_test! {
    /// Programmed by ipvsadm vs. programmed by the crate: identical
    /// `ipvsadm -Ln` and `ipvsadm -S -n`; the crate's dump matches too.
    fn matrix_programmed_by_crate_reads_back_like_ipvsadm() {
        let cases = matrix();
        sh("modprobe", &["ip_vs_pe_sip"]);
        sh("ipvsadm", &["-C"]);
        for c in &cases {
            ipvsadm(&c.args);
        }
        let by_ipvsadm = snapshot();
        let rt = rt();
        let dumped_ipvsadm_rules = rt.block_on(async {
            IpvsClient::connect().await.expect("connect").table().await.expect("dump")
        });
        sh("ipvsadm", &["-C"]);

        let ops: Vec<Op> = cases.iter().map(|c| c.op.clone()).collect();
        let table = rt.block_on(async {
            let mut client = IpvsClient::connect().await.expect("connect");
            client.apply(&ops).await.expect("apply matrix");
            client.table().await.expect("dump")
        });
        let by_crate = snapshot();
        assert_eq!(by_crate.0, by_ipvsadm.0, "ipvsadm -Ln differs");
        assert_eq!(by_crate.1, by_ipvsadm.1, "ipvsadm -S -n differs");

        // The crate's dump, of ipvsadm's rules and of its own, has every
        // service and real server, as configured.
        for table in [&dumped_ipvsadm_rules, &table] {
        assert_eq!(table.services.len(), cases.iter().filter(|c| matches!(c.op, Op::AddService(_))).count());
        for c in &cases {
            match &c.op {
                Op::AddService(want) => {
                    let (got, _) = table.services.iter().find(|(s, _)| s.key == want.key)
                        .unwrap_or_else(|| panic!("service {} missing from dump", want.key));
                    assert!(got.same_config(want), "{got:?} != {want:?}");
                }
                Op::AddDest(key, want) => {
                    let (_, dests) = table.services.iter().find(|(s, _)| s.key == *key)
                        .unwrap_or_else(|| panic!("service {key} missing from dump"));
                    let got = dests.iter().find(|d| d.key() == want.key())
                        .unwrap_or_else(|| panic!("dest {:?} of {key} missing", want.key()));
                    assert!(got.same_config(want), "{got:?} != {want:?}");
                }
                _ => unreachable!(),
            }
        }
        }
        sh("ipvsadm", &["-C"]);
    }

    /// A batch with several failures reports each, typed, and still applies
    /// the good operations around them.
    fn batch_reports_every_failure_typed() {
        sh("ipvsadm", &["-C"]);
        let key = ServiceKey::Inet { protocol: Protocol::Tcp, addr: ip("10.9.0.1"), port: 80 };
        let missing = ServiceKey::Inet { protocol: Protocol::Tcp, addr: ip("10.9.0.2"), port: 80 };
        let dest = Destination::new(ip("10.9.1.1"), 80, Forward::Masq, 1);
        let ops = vec![
            Op::AddService(Service::new(key, Scheduler::Rr)),
            Op::AddService(Service::new(key, Scheduler::Rr)),
            Op::AddDest(key, dest.clone()),
            Op::AddDest(key, dest.clone()),
            Op::AddDest(missing, dest.clone()),
            Op::EditDest(key, Destination::new(ip("10.9.1.9"), 80, Forward::Masq, 1)),
            Op::AddService(Service::new(missing, Scheduler::Other("nosuch".into()))),
            Op::DelService(missing),
        ];
        for mode in [AckMode::ErrorsOnly, AckMode::PerRequest] {
        sh("ipvsadm", &["-C"]);
        let err = rt().block_on(async {
            let mut client = IpvsClient::connect().await.expect("connect");
            client.set_ack_mode(mode);
            client.apply(&ops).await.expect_err("must fail")
        });
        let kinds: Vec<(usize, String)> = err.failures.iter().map(|(i, e)| (*i, e.to_string())).collect();
        assert_eq!(err.failures.len(), 6, "{kinds:#?}");
        assert!(matches!(&err.failures[0], (1, IpvsError::ServiceExists { service }) if service == "TCP 10.9.0.1:80"), "{kinds:#?}");
        assert!(matches!(&err.failures[1], (3, IpvsError::DestinationExists { dest, .. }) if dest == "10.9.1.1:80"), "{kinds:#?}");
        assert!(matches!(&err.failures[2], (4, IpvsError::ServiceNotFound { service }) if service == "TCP 10.9.0.2:80"), "{kinds:#?}");
        assert!(matches!(&err.failures[3], (5, IpvsError::DestinationNotFound { .. })), "{kinds:#?}");
        assert!(matches!(&err.failures[4], (6, IpvsError::SchedulerNotFound { .. })), "{kinds:#?}");
        assert!(
            kinds[4].1.contains("no scheduler nosuch (module ip_vs_nosuch not loaded and not loadable)"),
            "the error names the scheduler and its module: {kinds:#?}"
        );
        assert!(matches!(&err.failures[5], (7, IpvsError::ServiceNotFound { .. })), "{kinds:#?}");
        // The good ones went through.
        let listing = sh("ipvsadm", &["-Ln"]);
        assert!(listing.contains("TCP  10.9.0.1:80 rr"), "{listing}");
        assert!(listing.contains("-> 10.9.1.1:80"), "{listing}");
        }
        // FLUSH through the crate empties the table.
        rt().block_on(async {
            let mut client = IpvsClient::connect().await.expect("connect");
            client.apply_one(&Op::Flush).await.expect("flush");
            assert!(client.services().await.expect("dump").is_empty());
            // The kernel answers a dump of a missing service's real servers
            // with an empty dump, not an error.
            assert!(client.dests(&missing).await.expect("dump").is_empty());
        });
        assert_eq!(sh("ipvsadm", &["-S", "-n"]), "");
    }

    /// A batch far larger than the window, every other request refused:
    /// each failure is reported (none lost to a full socket buffer), each
    /// success applied, in both ack modes.
    fn large_batch_with_many_failures_reports_them_all() {
        let key = ServiceKey::Inet { protocol: Protocol::Tcp, addr: ip("10.30.0.1"), port: 80 };
        let missing = ServiceKey::Inet { protocol: Protocol::Tcp, addr: ip("10.30.0.2"), port: 80 };
        let mut ops = vec![Op::AddService(Service::new(key, Scheduler::Wrr))];
        for i in 0..1500u32 {
            let d = Destination::new(ip(&format!("10.31.{}.{}", i / 250, i % 250 + 1)), 80, Forward::Route, 1);
            ops.push(Op::AddDest(key, d.clone()));
            ops.push(Op::AddDest(missing, d));
        }
        for mode in [AckMode::ErrorsOnly, AckMode::PerRequest] {
            sh("ipvsadm", &["-C"]);
            let err = rt().block_on(async {
                let mut client = IpvsClient::connect().await.expect("connect");
                client.set_ack_mode(mode);
                client.apply(&ops).await.expect_err("half must fail")
            });
            assert_eq!(err.total, ops.len());
            assert_eq!(err.failures.len(), 1500, "{mode:?}");
            for (n, (index, e)) in err.failures.iter().enumerate() {
                assert_eq!(*index, 2 * n + 2, "{mode:?}");
                assert!(matches!(e, IpvsError::ServiceNotFound { service } if service == "TCP 10.30.0.2:80"), "{mode:?}: {e}");
            }
            let rules = sh("ipvsadm", &["-S", "-n"]);
            assert_eq!(rules.lines().filter(|l| l.starts_with("-a -t 10.30.0.1:80")).count(), 1500, "{mode:?}");
        }
        sh("ipvsadm", &["-C"]);
    }

    /// Info and timeouts read back as set.
    fn info_and_timeouts() {
        rt().block_on(async {
            let mut client = IpvsClient::connect().await.expect("connect");
            let info = client.info().await.expect("info");
            assert_eq!(info.version_text(), "1.2.1");
            assert_eq!(info.conn_table_size, 4096);
            let set = Timeouts { tcp: 901, tcp_fin: 121, udp: 301 };
            client.apply_one(&Op::SetTimeouts(set)).await.expect("set");
            assert_eq!(client.timeouts().await.expect("get"), set);
            let t = sh("ipvsadm", &["-Ln", "--timeout"]);
            assert_eq!(t, "Timeout (tcp tcpfin udp): 901 121 301\n");
        });
    }

    /// A sync daemon started by the crate is listed by the crate and by
    /// ipvsadm with its settings.
    fn sync_daemon_start_and_read_back() {
        rt().block_on(async {
            let mut client = IpvsClient::connect().await.expect("connect");
            let mut d = SyncDaemon::new(SyncState::Master, "lo", 9);
            d.port = 8849;
            d.ttl = 2;
            client.apply_one(&Op::StartDaemon(d)).await.expect("start daemon");
            let daemons = client.daemons().await.expect("daemons");
            assert_eq!(daemons.len(), 1, "{daemons:?}");
            let got = &daemons[0];
            assert_eq!(
                (got.state, got.mcast_ifn.as_str(), got.sync_id, got.port, got.ttl),
                (SyncState::Master, "lo", 9, 8849, 2)
            );
            let listing = sh("ipvsadm", &["-Ln", "--daemon"]);
            assert!(listing.contains("master sync daemon (mcast=lo, syncid=9"), "{listing}");
        });
    }

    /// Stopping sync daemons, master and backup (IPv4 group, port, maxlen).
    /// The pause after the start is deliberate: in UML 6.1 a stop sent a
    /// few microseconds after the start hung in kthread_stop (ipvsadm, a
    /// separate process, never gets there that fast).
    fn sync_daemons_start_and_stop() {
        rt().block_on(async {
            let mut client = IpvsClient::connect().await.expect("connect");
            let mut backup = SyncDaemon::new(SyncState::Backup, "lo", 11);
            backup.group = Some(ip("239.1.2.3"));
            backup.port = 8850;
            backup.maxlen = 1400;
            for d in [SyncDaemon::new(SyncState::Master, "lo", 9), backup] {
                client.apply_one(&Op::StartDaemon(d.clone())).await.expect("start daemon");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let got = client.daemons().await.expect("daemons");
                let found = got.iter().find(|x| x.state == d.state).unwrap_or_else(|| panic!("{got:?}"));
                assert_eq!((found.sync_id, &found.mcast_ifn), (d.sync_id, &d.mcast_ifn), "{got:?}");
                if d.state == SyncState::Backup {
                    assert_eq!((found.group, found.port, found.maxlen), (d.group, 8850, 1400), "{got:?}");
                }
                client.apply_one(&Op::StopDaemon(d.state)).await.expect("stop daemon");
                assert!(client.daemons().await.expect("daemons").is_empty());
            }
        });
    }
}

fn reconcile_desired() -> Table {
    let web = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: ip("10.20.0.1"),
        port: 80,
    };
    let mut dr = Destination::new(ip("10.21.0.3"), 80, Forward::Route, 2);
    dr.upper_threshold = 50;
    let dns = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: ip("fd20::1"),
        port: 53,
    };
    let mut dns_svc = Service::new(dns, Scheduler::Sh);
    dns_svc.persistence = Some(120);
    dns_svc.netmask = 64;
    dns_svc.flags = ServiceFlags(ServiceFlags::SH_PORT);
    let fwm = ServiceKey::Fwmark {
        mark: 42,
        ipv6: false,
    };
    let mut gue = Destination::new(ip("10.22.0.1"), 0, Forward::Tunnel, 1);
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    Table {
        services: vec![
            (
                Service::new(web, Scheduler::Wlc),
                vec![
                    Destination::new(ip("10.21.0.1"), 8080, Forward::Masq, 1),
                    Destination::new(ip("10.21.0.2"), 8080, Forward::Masq, 65535),
                    dr,
                ],
            ),
            (
                dns_svc,
                vec![Destination::new(ip("fd21::1"), 53, Forward::Route, 0)],
            ),
            (Service::new(fwm, Scheduler::Rr), vec![gue]),
        ],
    }
}

testbed::uml_test! {
    /// The reconciler in the real kernel: programs from empty, leaves a
    /// foreign service alone, is idempotent, restores the table after
    /// `ipvsadm -C` and after hand edits, each time with the minimal count
    /// of operations.
    fn reconciler_converges_idempotently_in_kernel() {
        sh("ipvsadm", &["-C"]);
        sh("ipvsadm", &["-A", "-t", "10.99.0.1:80", "-s", "rr"]);
        let desired = reconcile_desired();
        let owned = OwnershipFilter::from_table(&desired);
        let rt = rt();
        let mut client = rt.block_on(IpvsClient::connect()).expect("connect");
        let mut pass = || rt.block_on(client.reconcile(&desired, &owned)).expect("reconcile");

        let first = pass();
        assert_eq!((first.add_services, first.add_dests, first.total()), (3, 5, 8), "{first:?}");
        let programmed = sh("ipvsadm", &["-S", "-n"]);
        assert!(programmed.contains("-A -t 10.99.0.1:80 -s rr"), "foreign service kept:\n{programmed}");
        assert_eq!(pass().total(), 0, "second pass must be a no-op");

        // Someone flushes the table: one pass restores our part.
        sh("ipvsadm", &["-C"]);
        let restore = pass();
        assert_eq!((restore.add_services, restore.add_dests, restore.total()), (3, 5, 8), "{restore:?}");
        let without_foreign: String = programmed
            .lines()
            .filter(|l| !l.contains("10.99.0.1"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(sh("ipvsadm", &["-S", "-n"]), without_foreign);
        assert_eq!(pass().total(), 0);

        // Hand edits: scheduler, a weight, a removed and an extra real server.
        sh("ipvsadm", &["-E", "-t", "10.20.0.1:80", "-s", "rr"]);
        sh("ipvsadm", &["-e", "-t", "10.20.0.1:80", "-r", "10.21.0.1:8080", "-m", "-w", "9"]);
        sh("ipvsadm", &["-d", "-f", "42", "-r", "10.22.0.1"]);
        sh("ipvsadm", &["-a", "-u", "[fd20::1]:53", "-r", "[fd21::9]:53", "-g"]);
        let repair = pass();
        assert_eq!(
            (repair.edit_services, repair.edit_dests, repair.add_dests, repair.del_dests, repair.total()),
            (1, 1, 1, 1, 4),
            "{repair:?}"
        );
        assert_eq!(sh("ipvsadm", &["-S", "-n"]), without_foreign);
        assert_eq!(pass().total(), 0);

        // A changed weight in the configuration is exactly one SET_DEST.
        let mut heavier = desired.clone();
        heavier.services[0].1[0].weight = 7;
        let change = rt.block_on(client.reconcile(&heavier, &owned)).expect("reconcile");
        assert_eq!((change.edit_dests, change.total()), (1, 1), "{change:?}");
        let listing = sh("ipvsadm", &["-Ln"]);
        let row = listing.lines().find(|l| l.contains("10.21.0.1:8080")).unwrap_or_default();
        assert_eq!(row.split_whitespace().take(4).collect::<Vec<_>>(), ["->", "10.21.0.1:8080", "Masq", "7"], "{listing}");

        // A service removed from the configuration goes when owned.
        let mut fewer = desired.clone();
        fewer.services.pop();
        let removal = rt.block_on(client.reconcile(&fewer, &owned)).expect("reconcile");
        assert_eq!((removal.del_services, removal.total()), (1, 2), "{removal:?}");
        assert!(!sh("ipvsadm", &["-Ln"]).contains("FWM  42"));
        sh("ipvsadm", &["-C"]);
    }
}
