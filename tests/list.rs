//! `lvsd list` against the real `ipvsadm -Ln` (1.31) in a real kernel
//! (UML): the same table, every listing option, compared byte for byte.
//! One boot runs the whole matrix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use testbed::netns::Netns;
use testbed::process::ProcessGuard;
use testbed::wait_until;

const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ipvsadm -Ln ARGS` and `lvsd list -n ARGS`.
fn both(args: &[&str]) -> (Output, Output) {
    let mut ipvsadm_args = vec!["-Ln"];
    ipvsadm_args.extend_from_slice(args);
    let mut lvsd_args = vec!["list", "-n"];
    lvsd_args.extend_from_slice(args);
    (run("ipvsadm", &ipvsadm_args), run(LVSD, &lvsd_args))
}

fn same(a: &Output, b: &Output) -> bool {
    a.stdout == b.stdout && a.status.code() == b.status.code()
}

fn mismatch(args: &[&str], ipvsadm: &Output, lvsd: &Output) -> String {
    format!(
        "options {args:?}\n--- ipvsadm (status {:?}) ---\n{}{}\n--- lvsd list (status {:?}) ---\n{}{}",
        ipvsadm.status.code(),
        String::from_utf8_lossy(&ipvsadm.stdout),
        String::from_utf8_lossy(&ipvsadm.stderr),
        lvsd.status.code(),
        String::from_utf8_lossy(&lvsd.stdout),
        String::from_utf8_lossy(&lvsd.stderr),
    )
}

/// Same stdout bytes and exit status.
fn assert_same(args: &[&str]) {
    let (ipvsadm, lvsd) = both(args);
    assert!(same(&ipvsadm, &lvsd), "{}", mismatch(args, &ipvsadm, &lvsd));
}

/// For listings that move with time (rates every 2 s, connection expiry
/// every second): equal in at least one back-to-back pair of runs before
/// a generous deadline (a loaded machine can stretch one pair over a tick).
fn assert_same_within_a_tick(args: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut tries = 0;
    loop {
        tries += 1;
        let (ipvsadm, lvsd) = both(args);
        if same(&ipvsadm, &lvsd) {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "never equal in {tries} tries: {}",
                mismatch(args, &ipvsadm, &lvsd)
            );
        }
    }
}

/// Waits until the kernel's counters hold all the traffic sent so far.
/// On kernel 6.1 the listed counters are a copy the rate estimator takes
/// from the per-CPU counters every 2 s, so they lag traffic by up to one
/// tick, and `ipvsadm -Z` takes that lagging copy as its zero point: traffic
/// not yet copied would show up after the zeroing. Two equal readings more
/// than one tick apart mean the copy has caught up.
fn wait_for_counters_to_settle() {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut before = ok("ipvsadm", &["-Ln", "--stats", "--exact"]);
    loop {
        std::thread::sleep(Duration::from_millis(2500));
        let now = ok("ipvsadm", &["-Ln", "--stats", "--exact"]);
        if now == before {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "counters still moving after 60 s:\n{before}\n{now}"
        );
        before = now;
    }
}

/// Every option of `ipvsadm -Ln` that lists the table.
const TABLE_OPTIONS: &[&[&str]] = &[
    &[],
    &["--stats"],
    &["--rate"],
    &["--thresholds"],
    &["--persistent-conn"],
    &["--exact"],
    &["--stats", "--exact"],
    &["--rate", "--exact"],
    &["--sort"],
    &["--nosort"],
    &["--stats", "--rate"],
    &["--thresholds", "--persistent-conn"],
    &["--timeout"],
    &["--daemon"],
];

/// A table covering what ipvsadm can show: TCP/UDP/SCTP/fwmark, IPv4 and
/// IPv6, every scheduler, NAT/DR/TUN with every tunnel type and checksum
/// option, persistence with netmasks and the sip engine, one-packet
/// scheduling, scheduler flags, weights 0 and 65535, thresholds, and
/// addresses whose unsigned differences wrap (ipvsadm's sort quirk).
#[rustfmt::skip]
const MATRIX: &[&[&str]] = &[
    &["-A", "-t", "10.0.0.1:80", "-s", "rr"],
    &["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.1:80", "-m", "-w", "0"],
    &["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.2:8080", "-m", "-w", "65535", "-x", "100", "-y", "50"],
    &["-a", "-t", "10.0.0.1:80", "-r", "192.168.1.2:8080", "-m", "-w", "7"],
    &["-A", "-t", "10.0.0.2:443", "-s", "wlc", "-p", "300", "-M", "255.255.255.0"],
    &["-a", "-t", "10.0.0.2:443", "-r", "10.0.1.3", "-g"],
    &["-a", "-t", "10.0.0.2:443", "-r", "10.0.1.4", "-i"],
    &["-a", "-t", "10.0.0.2:443", "-r", "10.0.1.5", "-i", "--tun-type", "gue", "--tun-port", "6080", "--tun-nocsum"],
    &["-a", "-t", "10.0.0.2:443", "-r", "10.0.1.6", "-i", "--tun-type", "gue", "--tun-port", "6081", "--tun-csum"],
    &["-a", "-t", "10.0.0.2:443", "-r", "10.0.1.7", "-i", "--tun-type", "gue", "--tun-port", "6082", "--tun-remcsum"],
    &["-a", "-t", "10.0.0.2:443", "-r", "10.0.1.8", "-i", "--tun-type", "gre", "--tun-csum"],
    &["-A", "-u", "10.0.0.3:53", "-s", "sh", "-b", "sh-fallback,sh-port", "-o"],
    &["-a", "-u", "10.0.0.3:53", "-r", "10.0.1.9:53", "-m", "-x", "4000000", "-y", "1"],
    &["-A", "-u", "10.0.0.4:53", "-s", "mh", "-b", "mh-fallback,mh-port", "-p"],
    &["-A", "-u", "10.0.0.5:5060", "-s", "rr", "-p", "30", "-M", "255.0.0.0", "--pe", "sip", "-o"],
    &["-A", "--sctp-service", "10.0.0.5:9", "-s", "lblc"],
    &["-a", "--sctp-service", "10.0.0.5:9", "-r", "10.0.1.11:9", "-g", "-w", "2"],
    &["-A", "-f", "1", "-s", "lblcr"],
    &["-a", "-f", "1", "-r", "10.0.1.10", "-g", "-w", "5"],
    &["-A", "-f", "2", "-6", "-s", "dh"],
    &["-a", "-f", "2", "-6", "-r", "fd00::10", "-g"],
    &["-A", "-f", "4294967295", "-s", "rr", "-p", "20", "-M", "255.255.0.0"],
    &["-A", "-f", "5", "-6", "-s", "rr", "-p", "20", "-M", "48"],
    &["-a", "-f", "5", "-6", "-r", "10.9.9.9", "-i", "-w", "3"],
    &["-a", "-f", "5", "-6", "-r", "fd00::9", "-i", "-w", "3"],
    &["-a", "-f", "5", "-6", "-r", "255.9.9.8", "-i", "-w", "3"],
    &["-a", "-f", "5", "-6", "-r", "0.0.0.1", "-i", "-w", "3"],
    &["-A", "-t", "[fd00::1]:80", "-s", "sed", "-p", "60", "-M", "64"],
    &["-a", "-t", "[fd00::1]:80", "-r", "[fd00::2]:8080", "-m"],
    &["-a", "-t", "[fd00::1]:80", "-r", "[fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535", "-m"],
    &["-a", "-t", "[fd00::1]:80", "-r", "[::102:304]:1", "-m"],
    &["-A", "-u", "[fd00::1]:53", "-s", "nq", "-o"],
    &["-A", "-t", "[fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535", "-s", "rr"],
    &["-a", "-t", "[fd00:1234:5678:9abc:def0:1234:5678:9abc]:65535", "-r", "[fd00:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535", "-m"],
    &["-A", "-t", "10.0.0.6:1", "-s", "fo"],
    &["-A", "-t", "10.0.0.7:2", "-s", "ovf", "-b", "flag-1,flag-2,flag-3"],
    &["-A", "-t", "10.0.0.8:0", "-s", "sh", "-b", "flag-3,sh-port", "-p", "600"],
    &["-A", "-t", "10.0.0.9:0", "-s", "mh", "-b", "flag-3,mh-fallback", "-p", "600"],
    &["-A", "-t", "255.255.255.255:65535", "-s", "wrr", "--pe", "sip"],
    &["-a", "-t", "255.255.255.255:65535", "-r", "255.255.255.254:65534", "-m"],
    &["-A", "-t", "192.168.0.1:80", "-s", "wrr"],
    &["-A", "-t", "128.0.0.1:80", "-s", "wrr"],
];

/// Service filters, including ones that name no service.
const FILTERS: &[&[&str]] = &[
    &["-t", "10.0.0.1:80"],
    &["-t", "10.0.0.2:443", "--stats"],
    &["-t", "10.0.0.2:443", "--thresholds"],
    &["-u", "10.0.0.3:53", "--rate"],
    &["-u", "10.0.0.5:5060", "--persistent-conn"],
    &["--sctp-service", "10.0.0.5:9"],
    &["-f", "1"],
    &["-f", "2", "-6"],
    &["-f", "5", "-6", "--nosort"],
    &["-t", "[fd00::1]:80", "--exact"],
    &["-t", "10.0.0.8"],
    &["-f", "2"],
    &["-t", "1.2.3.4:5"],
    &["-u", "10.0.0.1:80"],
];

/// Services with every field the crate sets, programmed through
/// `ipvs::IpvsClient` instead of ipvsadm.
fn program_through_the_crate() {
    use ipvs::model::{ServiceFlags, TunnelType, TUN_FLAG_REMCSUM};
    use ipvs::{Destination, Forward, Op, Protocol, Scheduler, Service, ServiceKey};

    let web = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "10.3.0.1".parse().expect("addr"),
        port: 443,
    };
    let mut web_svc = Service::new(web, Scheduler::Mh);
    web_svc.flags = ServiceFlags(ServiceFlags::MH_FALLBACK | ServiceFlags::MH_PORT);
    web_svc.persistence = Some(120);
    web_svc.netmask = u32::from_ne_bytes([255, 255, 0, 0]);
    let mut nat = Destination::new(
        "10.3.1.1".parse().expect("addr"),
        8443,
        Forward::Masq,
        65535,
    );
    nat.upper_threshold = 1000;
    nat.lower_threshold = 900;
    let mut tun = Destination::new("10.3.1.2".parse().expect("addr"), 443, Forward::Tunnel, 0);
    tun.tunnel_type = TunnelType::Gue;
    tun.tunnel_port = 5555;
    tun.tunnel_flags = TUN_FLAG_REMCSUM;
    let dr = Destination::new("10.3.1.3".parse().expect("addr"), 443, Forward::Route, 9);
    let mark = ServiceKey::Fwmark {
        mark: 77,
        ipv6: true,
    };
    let mut mark_svc = Service::new(mark, Scheduler::Sh);
    mark_svc.persistence = Some(30);
    mark_svc.netmask = 64;
    let dns = ServiceKey::Inet {
        protocol: Protocol::Udp,
        addr: "fd03::53".parse().expect("addr"),
        port: 53,
    };
    let mut dns_svc = Service::new(dns, Scheduler::Rr);
    dns_svc.flags = ServiceFlags(ServiceFlags::ONEPACKET);
    let ops = vec![
        Op::AddService(web_svc),
        Op::AddDest(web, nat),
        Op::AddDest(web, tun),
        Op::AddDest(web, dr),
        Op::AddService(mark_svc),
        Op::AddDest(
            mark,
            Destination::new("fd03::1".parse().expect("addr"), 0, Forward::Route, 4),
        ),
        Op::AddService(dns_svc),
        Op::AddDest(
            dns,
            Destination::new("fd03::2".parse().expect("addr"), 5353, Forward::Masq, 1),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut client = ipvs::IpvsClient::connect().await.expect("IPVS reachable");
        client.apply(&ops).await.expect("the kernel takes every op");
    });
}

fn program_matrix() {
    ok("ipvsadm", &["-C"]);
    for argv in MATRIX {
        ok("ipvsadm", argv);
    }
}

/// Generous: a namespace and curl on a loaded machine.
const NET_TIMEOUT: Duration = Duration::from_secs(30);

/// A client namespace wired to the guest's root namespace, which directs
/// to a real server on its own address (forwarding "Local" / "Masq").
struct Traffic {
    client: Netns,
    _server: ProcessGuard,
}

const HOST_V4: Ipv4Addr = Ipv4Addr::new(192, 168, 60, 1);
const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 168, 60, 2);
const HOST_V6: Ipv6Addr = Ipv6Addr::new(0xfd60, 0, 0, 0, 0, 0, 0, 1);
const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd60, 0, 0, 0, 0, 0, 0, 2);

impl Traffic {
    fn new() -> Traffic {
        let client = Netns::new("lvsdlist").expect("client namespace");
        let host_if = format!("lh{}", std::process::id());
        ok(
            "ip",
            &[
                "link",
                "add",
                &host_if,
                "type",
                "veth",
                "peer",
                "name",
                "lc",
                "netns",
                client.name(),
            ],
        );
        ok(
            "ip",
            &["addr", "add", &format!("{HOST_V4}/24"), "dev", &host_if],
        );
        ok(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                &format!("{HOST_V6}/64"),
                "dev",
                &host_if,
                "nodad",
            ],
        );
        ok("ip", &["link", "set", &host_if, "up"]);
        client.ip(&["link", "set", "lo", "up"]).expect("client lo");
        client
            .ip(&["addr", "add", &format!("{CLIENT_V4}/24"), "dev", "lc"])
            .expect("client v4");
        client
            .ip(&[
                "-6",
                "addr",
                "add",
                &format!("{CLIENT_V6}/64"),
                "dev",
                "lc",
                "nodad",
            ])
            .expect("client v6");
        client
            .ip(&["link", "set", "lc", "up"])
            .expect("client link");
        let mut server = Command::new("python3");
        server
            .args(["-m", "http.server", "--bind", "::", "8080"])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let server = ProcessGuard::spawn(server).expect("python3 http.server");
        wait_until("the real server to listen on :8080", NET_TIMEOUT, || {
            std::net::TcpStream::connect((IpAddr::V4(HOST_V4), 8080)).is_ok()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        Traffic {
            client,
            _server: server,
        }
    }

    fn curl(&self, url: &str) {
        let out = self
            .client
            .exec(&[
                "curl",
                "-s",
                "-m",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                url,
            ])
            .expect("curl runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "curl {url}");
    }

    fn udp(&self, to: &str, port: u16, payload: &str) {
        let script = format!(
            "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto({payload:?}.encode(), ({to:?}, {port}))"
        );
        let out = self
            .client
            .exec(&["python3", "-c", &script])
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

testbed::uml_test! {
    /// The whole matrix in one boot: the table programmed with ipvsadm,
    /// then `lvsd list` with every option and filter against `ipvsadm -Ln`.
    fn list_matches_ipvsadm_byte_for_byte() {
        // An empty table first.
        ok("ipvsadm", &["-C"]);
        for opts in TABLE_OPTIONS {
            assert_same(opts);
        }

        program_matrix();
        for opts in TABLE_OPTIONS {
            assert_same(opts);
        }
        for opts in FILTERS {
            assert_same(opts);
        }
        let (_, missing) = both(&["-t", "1.2.3.4:5"]);
        assert_eq!(String::from_utf8_lossy(&missing.stderr), "No such service\n");

        // The same listing when lvsd's own crate programmed the table.
        ok("ipvsadm", &["-C"]);
        program_through_the_crate();
        for opts in TABLE_OPTIONS {
            assert_same(opts);
        }
        let listing = ok(LVSD, &["list", "-n"]);
        assert!(
            listing.contains("TCP  10.3.0.1:443 mh (mh-fallback,mh-port) persistent 120 mask 255.255.0.0\n")
                && listing.contains("  -> 10.3.1.2:443                 Tunnel  0 ")
                && listing.contains("FWM  77 IPv6 sh persistent 30 mask 64\n")
                && listing.lines().count() == 3 + 3 + 5,
            "{listing}"
        );

        // Timeouts and sync daemons (the kernel refuses sync daemons while
        // real servers of another address family exist, so clear first).
        ok("ipvsadm", &["-C"]);
        ok("ipvsadm", &["--set", "10", "20", "30"]);
        assert_same(&["--timeout"]);
        let dummy = format!("ld{}", std::process::id());
        ok("ip", &["link", "add", &dummy, "type", "dummy"]);
        ok("ip", &["link", "set", &dummy, "up", "multicast", "on"]);
    // The master daemon sends from the interface's address.
    ok("ip", &["addr", "add", "192.168.77.1/24", "dev", &dummy]);
        ok("ipvsadm", &["--start-daemon", "master", "--mcast-interface", &dummy, "--syncid", "7"]);
        assert_same(&["--daemon"]);
        ok(
            "ipvsadm",
            &[
                "--start-daemon", "backup", "--mcast-interface", &dummy, "--syncid", "9",
                "--sync-maxlen", "1000", "--mcast-group", "239.1.2.3", "--mcast-port", "9000",
                "--mcast-ttl", "3",
            ],
        );
        assert_same(&["--daemon"]);
        ok("ipvsadm", &["--stop-daemon", "master"]);
        assert_same(&["--daemon"]);
        ok("ipvsadm", &["--stop-daemon", "backup"]);
        ok("ipvsadm", &["--start-daemon", "master", "--mcast-interface", &dummy, "--mcast-group", "ff02::1:2"]);
        assert_same(&["--daemon"]);
        ok("ipvsadm", &["--stop-daemon", "master"]);
        assert_same(&["--daemon"]);
        ok("ip", &["link", "del", &dummy]);

        // Like ipvsadm, lvsd list loads ip_vs when the kernel lacks it.
        let modules = std::fs::read_to_string("/proc/modules").expect("/proc/modules");
        for m in modules.lines().filter_map(|l| l.split(' ').next()) {
            if m.starts_with("ip_vs_") {
                ok("rmmod", &[m]);
            }
        }
        ok("rmmod", &["ip_vs"]);
        assert!(!std::path::Path::new("/proc/net/ip_vs").exists(), "ip_vs still loaded");
        let listing = ok(LVSD, &["list"]);
        assert!(listing.starts_with("IP Virtual Server version 1.2.1"), "{listing}");
        assert_same(&[]);
        ok("rmmod", &["ip_vs"]);
        assert_eq!(
            ok(LVSD, &["list", "-c"]),
            "IPVS connection entries\npro expire state       source             virtual            destination\n"
        );
    }

    /// Counters, rates and connections after real traffic through the
    /// director (NAT to a local real server, IPv4 and IPv6, TCP and UDP,
    /// persistence templates and the sip engine's Call-ID).
    fn list_with_traffic_matches_ipvsadm() {
        ok("ipvsadm", &["-C"]);
        let traffic = Traffic::new();
        let v4 = HOST_V4.to_string();
        let v6 = format!("[{HOST_V6}]");
        for argv in [
            vec!["-A", "-t", &format!("{v4}:80"), "-s", "rr"],
            vec!["-a", "-t", &format!("{v4}:80"), "-r", &format!("{v4}:8080"), "-m"],
            vec!["-A", "-t", &format!("{v6}:80"), "-s", "rr", "-p", "100"],
            vec!["-a", "-t", &format!("{v6}:80"), "-r", &format!("{v6}:8080"), "-m"],
            vec!["-A", "-u", &format!("{v4}:53"), "-s", "rr", "-p", "50", "--pe", "sip"],
            vec!["-a", "-u", &format!("{v4}:53"), "-r", &format!("{v4}:5353"), "-m"],
            vec!["-A", "-u", &format!("{v4}:54"), "-s", "rr", "-o"],
            vec!["-a", "-u", &format!("{v4}:54"), "-r", &format!("{v4}:5354"), "-m"],
        ] {
            ok("ipvsadm", &argv);
        }
        for _ in 0..3 {
            traffic.curl(&format!("http://{v4}:80/"));
        }
        traffic.curl(&format!("http://{v6}:80/"));
        // 130 MB through the director: byte counters past 10^8, where
        // ipvsadm switches to K units (and --exact widens the column).
        let www = tempfile::Builder::new()
            .prefix("lvsd-list-")
            .tempdir_in(std::env::temp_dir())
            .expect("temp dir");
        let big = www.path().join("big");
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(130 << 20))
            .expect("sparse file");
        let dir = www.path().file_name().and_then(|n| n.to_str()).expect("dir name");
        traffic.curl(&format!("http://{v4}:80/{dir}/big"));
        traffic.udp(&v4, 53, "INVITE sip:x@y SIP/2.0\r\nCall-ID: abc123@host\r\n\r\n");
        traffic.udp(&v4, 54, "hello");

        // Counters stop moving once the exchanges are over.
        wait_for_counters_to_settle();
        for opts in [&["--stats"][..], &["--stats", "--exact"], &[], &["--persistent-conn"], &["--thresholds"]] {
            assert_same_within_a_tick(opts);
        }
        for opts in [&["--rate"][..], &["--rate", "--exact"]] {
            assert_same_within_a_tick(opts);
        }
        for opts in [&["-c"][..], &["-c", "--persistent-conn"], &["-c", "--exact"]] {
            assert_same_within_a_tick(opts);
        }
        let stats = ok(LVSD, &["list", "--stats"]);
        assert!(stats.contains("K\n"), "no K-scaled counter:\n{stats}");
        let conns = ok(LVSD, &["list", "-c"]);
        assert!(!conns.contains("abc123@host") && conns.lines().count() >= 7, "{conns}");
        let pe = ok(LVSD, &["list", "-c", "--persistent-conn"]);
        assert!(pe.contains("sip                abc123@host"), "{pe}");

        // -Z's zero point is the estimator's copy: let it catch up first
        // (the listings above ran for a while, but a late packet, such as
        // a connection's last ACK, may still be uncopied).
        wait_for_counters_to_settle();
        ok("ipvsadm", &["-Z"]);
        let zeroed = ok("ipvsadm", &["-Ln", "--stats", "--exact"]);
        assert!(
            zeroed.lines().skip(3).all(|l| l.split_whitespace().skip(2).all(|n| n == "0")),
            "counters not zero after -Z:\n{zeroed}"
        );
        assert_same(&["--stats"]);
        assert_same_within_a_tick(&["--rate"]);

        // JSON tells the same story as the text.
        let doc: serde_json::Value =
            serde_json::from_str(&ok(LVSD, &["list", "--json"])).expect("JSON");
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["ipvs_version"], "1.2.1");
        let services = doc["services"].as_array().expect("services array");
        assert_eq!(services.len(), 4);
        assert_eq!(services[0]["protocol"], "tcp");
        assert_eq!(services[0]["address"], v4);
        assert_eq!(services[0]["destinations"][0]["forward"], "masq");
        assert_eq!(services[0]["destinations"][0]["inactive_connections"], 4);
        let conns: serde_json::Value =
            serde_json::from_str(&ok(LVSD, &["list", "-c", "--json"])).expect("JSON");
        let sip = conns["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .find(|c| c["pe_name"] == "sip")
            .expect("the sip template");
        assert_eq!(sip["pe_data"], "abc123@host");
        assert_eq!(sip["client"]["address"], CLIENT_V4.to_string());
        drop(traffic);
        ok("ipvsadm", &["-C"]);
    }
}

/// Usage errors need no kernel: they are refused before any socket opens.
#[test]
fn bad_arguments_are_usage_errors_with_status_2() {
    for (args, says) in [
        (
            &["list", "-t", "lo:80"][..],
            "illegal virtual server address",
        ),
        (&["list", "-u", "10.0.0.1:http"], "names are never resolved"),
        (&["list", "-f", "0"], "illegal fwmark"),
        (&["list", "--timeout", "--daemon"], "cannot be used with"),
        (&["list", "-c", "-t", "10.0.0.1:80"], "cannot be used with"),
    ] {
        let out = run(LVSD, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
