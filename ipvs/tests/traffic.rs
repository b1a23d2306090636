//! Real traffic through a VIP the crate programs, inside UML: a client
//! namespace reaches two nginx real servers (each answering its own name)
//! through the guest's root namespace acting as director, in NAT, DR and
//! TUN (IP-in-IP, GRE, GUE) modes, and over IPv6 in NAT and DR modes; both
//! real servers answer, and the crate's dump shows the connections in each
//! real server's counters (which zeroing clears).
//!
//! Topology (one guest per test; names carry the pid; IPv6 beside IPv4):
//!   client ns 10.50.0.2 --veth-- director (root ns) 10.50.0.1, VIP 10.50.0.100
//!   director bridge 10.60.0.1 --veth-- rs1 ns 10.60.0.11, rs2 ns 10.60.0.12
//!   (fd50::2, fd50::1, VIP fd50::100; fd60::1, fd60::11, fd60::12)

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use ipvs::model::*;
use ipvs::{IpvsClient, Op};
use testbed::netns::Netns;
use testbed::process::ProcessGuard;

const VIP: &str = "10.50.0.100";
const VIP6: &str = "fd50::100";
/// UDP port the real servers decapsulate GUE on.
const GUE_PORT: u16 = 6080;

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

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// Root-namespace links, deleted on drop (namespaces delete themselves).
struct RootLinks(Vec<String>);
impl Drop for RootLinks {
    fn drop(&mut self) {
        for link in self.0.iter().rev() {
            let _ = Command::new("ip").args(["link", "del", link]).output();
        }
        let _ = Command::new("ipvsadm").arg("-C").output();
    }
}

struct Lab {
    client: Netns,
    real_servers: Vec<Netns>,
    // Field order: nginx dies before its namespace and the work dir go.
    _nginx: Vec<ProcessGuard>,
    _links: RootLinks,
    work: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id() % 100_000;
        let work = tempfile::Builder::new()
            .prefix("lvsd-ipvs-traffic-")
            .tempdir()
            .expect("work dir");
        let bridge = format!("lvb{pid}");
        let to_client = format!("lvc{pid}");
        let mut links = RootLinks(Vec::new());

        // GRE and GUE decapsulation on the real servers.
        sh("modprobe", &["-a", "ip_gre", "fou"]);
        sh("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        // DR and TUN replies come back through the director with the VIP,
        // a local address, as source: accept them instead of calling them
        // martians.
        sh("sysctl", &["-qw", "net.ipv4.conf.all.accept_local=1"]);
        sh("sysctl", &["-qw", "net.ipv4.conf.all.rp_filter=0"]);

        let client = Netns::new("ipvs-client").expect("client ns");
        sh(
            "ip",
            &[
                "link",
                "add",
                &to_client,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                client.name(),
            ],
        );
        links.0.push(to_client.clone());
        sh("ip", &["addr", "add", "10.50.0.1/24", "dev", &to_client]);
        sh(
            "ip",
            &["addr", "add", &format!("{VIP}/32"), "dev", &to_client],
        );
        sh("ip", &["link", "set", &to_client, "up"]);
        // IPv6 beside IPv4 (nodad: usable at once).
        sh(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                "fd50::1/64",
                "dev",
                &to_client,
                "nodad",
            ],
        );
        sh(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                &format!("{VIP6}/128"),
                "dev",
                &to_client,
                "nodad",
            ],
        );
        client
            .ip(&["-6", "addr", "add", "fd50::2/64", "dev", "eth0", "nodad"])
            .expect("client addr6");
        client
            .ip(&["addr", "add", "10.50.0.2/24", "dev", "eth0"])
            .expect("client addr");
        client
            .ip(&["link", "set", "eth0", "up"])
            .expect("client up");
        client
            .ip(&["route", "add", "default", "via", "10.50.0.1"])
            .expect("client route");
        client
            .ip(&["-6", "route", "add", "default", "via", "fd50::1"])
            .expect("client route6");

        sh("ip", &["link", "add", &bridge, "type", "bridge"]);
        links.0.push(bridge.clone());
        sh("ip", &["addr", "add", "10.60.0.1/24", "dev", &bridge]);
        sh("ip", &["link", "set", &bridge, "up"]);
        sh(
            "ip",
            &["-6", "addr", "add", "fd60::1/64", "dev", &bridge, "nodad"],
        );
        sh("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"]);
        sh(
            "sysctl",
            &["-qw", &format!("net.ipv4.conf.{bridge}.accept_local=1")],
        );
        sh(
            "sysctl",
            &["-qw", &format!("net.ipv4.conf.{bridge}.rp_filter=0")],
        );

        let mut real_servers = Vec::new();
        let mut nginx = Vec::new();
        for i in 1..=2 {
            let name = format!("rs{i}");
            let ns = Netns::new(&format!("ipvs-{name}")).expect("rs ns");
            let port = format!("lvr{i}{pid}");
            sh(
                "ip",
                &[
                    "link",
                    "add",
                    &port,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    ns.name(),
                ],
            );
            links.0.push(port.clone());
            sh("ip", &["link", "set", &port, "master", &bridge, "up"]);
            ns.ip(&["addr", "add", &format!("10.60.0.1{i}/24"), "dev", "eth0"])
                .expect("rs addr");
            ns.ip(&["link", "set", "eth0", "up"]).expect("rs up");
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("fd60::1{i}/64"),
                "dev",
                "eth0",
                "nodad",
            ])
            .expect("rs addr6");
            ns.ip(&["-6", "route", "add", "default", "via", "fd60::1"])
                .expect("rs route6");
            ns.ip(&["-6", "addr", "add", &format!("{VIP6}/128"), "dev", "lo"])
                .expect("vip6 on lo");
            ns.ip(&["route", "add", "default", "via", "10.60.0.1"])
                .expect("rs route");
            // DR/TUN: accept the VIP without answering ARP for it; TUN:
            // decapsulate IP-in-IP on tunl0 without reverse-path checks.
            ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"])
                .expect("vip on lo");
            ns.ip(&["link", "set", "tunl0", "up"]).expect("tunl0 up");
            ns.ip(&["link", "set", "gre0", "up"]).expect("gre0 up");
            ns.ip(&["fou", "add", "port", &GUE_PORT.to_string(), "gue"])
                .expect("fou port");
            for (k, v) in [
                ("net.ipv4.conf.all.arp_ignore", "1"),
                ("net.ipv4.conf.all.arp_announce", "2"),
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.tunl0.rp_filter", "0"),
                ("net.ipv4.conf.gre0.rp_filter", "0"),
                ("net.ipv4.conf.eth0.rp_filter", "0"),
            ] {
                ns.sysctl(k, v).expect("sysctl");
            }
            let dir = work.path().join(&name);
            std::fs::create_dir_all(&dir).expect("nginx dir");
            let d = dir.display();
            let conf = format!(
                "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                 \x20 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 \x20 server {{ listen 80; listen [::]:80; location / {{ return 200 \"{name}\\n\"; }} }}\n}}\n"
            );
            let conf_path = dir.join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("nginx.conf");
            let guard = ns
                .spawn_logged(
                    &[
                        "nginx",
                        "-p",
                        &d.to_string(),
                        "-e",
                        &format!("{d}/error.log"),
                        "-c",
                        &conf_path.display().to_string(),
                    ],
                    &dir,
                    "nginx",
                )
                .expect("nginx");
            nginx.push(guard);
            real_servers.push(ns);
        }
        for ns in &real_servers {
            ns.wait_for_tcp_listener(80, Duration::from_secs(30))
                .expect("nginx listening");
        }
        Lab {
            client,
            real_servers,
            _nginx: nginx,
            _links: links,
            work,
        }
    }

    /// GETs the VIP from the client until both names were seen (or a
    /// deadline passes); returns what answered, in order.
    fn fetch_until_both(&self, vip: IpAddr) -> Vec<String> {
        let url = format!("http://{}/", SocketText(vip, 80));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut answers = Vec::new();
        while Instant::now() < deadline {
            let out = self
                .client
                .exec(&["curl", "-s", "-g", "--max-time", "5", &url])
                .expect("curl");
            let body = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            answers.push(if body.is_empty() {
                format!("<curl exit {:?}>", out.status.code())
            } else {
                body
            });
            if answers.iter().any(|a| a == "rs1") && answers.iter().any(|a| a == "rs2") {
                break;
            }
        }
        answers
    }
}

fn through_vip(forward: Forward, tunnel: TunnelType) {
    through(ip(VIP), ["10.60.0.11", "10.60.0.12"], forward, tunnel);
}

fn through_vip6(forward: Forward) {
    through(
        ip(VIP6),
        ["fd60::11", "fd60::12"],
        forward,
        TunnelType::Ipip,
    );
}

fn through(vip: IpAddr, real_servers: [&str; 2], forward: Forward, tunnel: TunnelType) {
    let lab = Lab::new();
    assert_eq!(lab.real_servers.len(), 2);
    let key = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: vip,
        port: 80,
    };
    let dest = |a: &str| {
        let mut d = Destination::new(ip(a), 80, forward, 1);
        d.tunnel_type = tunnel;
        if tunnel == TunnelType::Gue {
            d.tunnel_port = GUE_PORT;
        }
        d
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut client = rt.block_on(IpvsClient::connect()).expect("connect");
    rt.block_on(client.apply(&[
        Op::AddService(Service::new(key, Scheduler::Rr)),
        Op::AddDest(key, dest(real_servers[0])),
        Op::AddDest(key, dest(real_servers[1])),
    ]))
    .expect("program the VIP");

    let answers = lab.fetch_until_both(vip);
    let rules = sh("ipvsadm", &["-Ln"]);
    assert!(
        answers.iter().any(|a| a == "rs1") && answers.iter().any(|a| a == "rs2"),
        "{forward:?} {tunnel:?}: answers {answers:?}\n{rules}\nwork dir {}",
        lab.work.path().display()
    );

    // The counters the crate reads show traffic on both real servers
    // (kernel stats may lag by a couple of seconds).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let dests = rt.block_on(client.dests(&key)).expect("dump dests");
        let busy = dests
            .iter()
            .filter(|d| d.stats.conns >= 1 && d.stats.inpkts >= 1)
            .count();
        if busy == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{forward:?}: counters never showed both: {dests:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Zeroing the service's counters clears its real servers' too.
    rt.block_on(client.apply_one(&Op::Zero(Some(key))))
        .expect("zero");
    let dests = rt.block_on(client.dests(&key)).expect("dump dests");
    assert!(
        dests
            .iter()
            .all(|d| d.stats.conns == 0 && d.stats.inpkts == 0),
        "{dests:#?}"
    );
}

testbed::uml_test! {
    /// NAT (masquerading): both real servers answer through the VIP.
    fn nat_both_real_servers_answer_through_the_vip() {
        through_vip(Forward::Masq, TunnelType::Ipip);
    }

    /// Direct routing: both real servers answer through the VIP.
    fn dr_both_real_servers_answer_through_the_vip() {
        through_vip(Forward::Route, TunnelType::Ipip);
    }

    /// IP-in-IP tunnelling: both real servers answer through the VIP.
    fn tun_both_real_servers_answer_through_the_vip() {
        through_vip(Forward::Tunnel, TunnelType::Ipip);
    }

    /// IPv6 NAT: both real servers answer through an IPv6 VIP.
    fn nat6_both_real_servers_answer_through_the_vip() {
        through_vip6(Forward::Masq);
    }

    /// IPv6 direct routing: both real servers answer through an IPv6 VIP.
    fn dr6_both_real_servers_answer_through_the_vip() {
        through_vip6(Forward::Route);
    }

    /// GRE tunnelling (`--tun-type gre`): both real servers answer.
    fn tun_gre_both_real_servers_answer_through_the_vip() {
        through_vip(Forward::Tunnel, TunnelType::Gre);
    }

    /// GUE tunnelling (`--tun-type gue --tun-port 6080`): both answer.
    fn tun_gue_both_real_servers_answer_through_the_vip() {
        through_vip(Forward::Tunnel, TunnelType::Gue);
    }
}
