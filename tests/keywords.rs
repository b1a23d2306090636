//! The keyword table (src/config/keywords.rs) against keepalived's keyword list and
//! against what lvsd runs: every keyword keepalived 2.2.7 accepts either changes the
//! translated runtime configuration (VRRP, director, checkers) or draws a
//! "not implemented" / "partly implemented" warning, and the table says which.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lvsd::config::keywords::{self, Block, Support};
use lvsd::config::{load_str, ConfigOptions, Problem};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config")
}

fn read_list(file: &str) -> Vec<(Block, Vec<String>)> {
    let text = std::fs::read_to_string(fixtures().join(file)).expect("keyword list");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (block, words) = l.split_once(':').expect("BLOCK: WORDS");
            let block = Block::from_name(block).unwrap_or_else(|| panic!("block {block}"));
            (block, words.split_whitespace().map(String::from).collect())
        })
        .collect()
}

/// keepalived 2.2.7's keywords (captured from keepalived itself) and the option words of
/// its address, route and peer lines (from its parsers).
fn keepalived_pairs() -> Vec<(Block, String)> {
    let mut pairs = Vec::new();
    for file in [
        "keepalived-2.2.7-keywords.txt",
        "keepalived-2.2.7-options.txt",
    ] {
        for (block, words) in read_list(file) {
            pairs.extend(words.into_iter().map(|w| (block, w)));
        }
    }
    pairs
}

/// Keywords keepalived accepts only when built with options Debian's build lacks
/// (network namespaces, ipsets, the reload checker), which lvsd still recognises.
const OTHER_BUILDS: &[(Block, &str)] = &[
    (Block::TopLevel, "namespace_with_ipsets"),
    (Block::TopLevel, "net_namespace"),
    (Block::TopLevel, "net_namespace_ipvs"),
    (Block::GlobalDefs, "include_check"),
    (Block::GlobalDefs, "linkbeat_use_polling"),
    (Block::GlobalDefs, "namespace_with_ipsets"),
    (Block::GlobalDefs, "net_namespace"),
    (Block::GlobalDefs, "net_namespace_ipvs"),
    (Block::GlobalDefs, "vrrp_ipsets"),
];

#[test]
fn the_table_holds_exactly_keepalived_keywords() {
    let listed: BTreeSet<(Block, String)> = keepalived_pairs().into_iter().collect();
    let table: BTreeSet<(Block, String)> = Block::ALL
        .into_iter()
        .flat_map(|b| keywords::keywords(b).map(move |(k, _)| (b, k.to_string())))
        .collect();
    let missing: Vec<_> = listed.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "keepalived keywords not in the table: {missing:?}"
    );
    let extra: Vec<_> = table
        .difference(&listed)
        .filter(|(b, k)| !OTHER_BUILDS.contains(&(*b, k.as_str())))
        .collect();
    assert!(
        extra.is_empty(),
        "table keywords keepalived does not accept: {extra:?}"
    );
    assert!(listed.len() >= 450, "{} pairs", listed.len());
}

const PRELUDE: &str = "vrrp_script chk {\n    script /bin/true\n}\ntrack_file tf {\n    file /tmp/lvsd-keyword-test\n}\nvrrp_track_process tp {\n    process sleep\n}\n";
const INSTANCE: &str = "vrrp_instance VI_K {\n    interface lvsdk0\n    virtual_router_id 50\n    virtual_ipaddress {\n        10.9.0.1\n    }\n";
const INSTANCE6: &str = "vrrp_instance VI_6 {\n    interface lvsdk0\n    virtual_router_id 56\n    virtual_ipaddress {\n        fd00::1\n    }\n}\n";
const VS: &str = "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    real_server 10.0.0.2 80 {\n";
/// The checker the virtual and real server wrappers carry, so that what checkers
/// inherit shows.
const HTTP: &str =
    "        HTTP_GET {\n            url {\n                path /\n            }\n        }\n";
const VS_END: &str = "\n    }\n}\n";

/// Statements a keyword needs beside it to have any effect (in both configurations
/// compared), e.g. `persistence_granularity` needs `persistence_timeout`.
fn context(block: Block, keyword: &str) -> &'static str {
    match (block, keyword) {
        (Block::VrrpInstance, "old_unicast_checksum") => {
            "    unicast_peer {\n        10.9.0.2\n    }\n"
        }
        (Block::VrrpInstance, "preempt") => "    nopreempt\n",
        // The SSL block is for SSL_GET checkers.
        (Block::TopLevel, "SSL") => "virtual_server 10.0.0.9 80 {\n    protocol TCP\n    real_server 10.0.0.8 80 {\n        SSL_GET {\n            url {\n                path /\n            }\n        }\n    }\n}\n",
        (Block::Ssl, "certificate") => concat!(
            "    key ",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/config/ssl/client.key\n"
        ),
        (Block::Ssl, "key") => concat!(
            "    certificate ",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/config/ssl/client.pem\n"
        ),
        (Block::Ssl, "password") => concat!(
            "    certificate ",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/config/ssl/client.pem\n",
            "    key ",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/config/ssl/client.key\n"
        ),
        // `accept` is the default but under strict mode (which clears it for VRRPv2).
        (Block::VrrpInstance, "accept") => "    strict_mode\n    version 3\n",
        (Block::VrrpInstance, "vmac_xmit_base") => "    use_vmac\n",
        // A static address names the group the judged block defines.
        (Block::TopLevel, "track_group") => {
            "static_ipaddress {\n    10.9.0.6/32 dev eth7 track_group tg2\n}\n"
        }
        // Periodic announcements go to interfaces other than the instance's.
        (Block::VrrpInstance, "garp_extra_if" | "vmac_garp_intvl" | "use_vmac_addr") => {
            "    virtual_ipaddress_excluded {\n        10.9.7.1/24 dev eth7\n    }\n"
        }
        (Block::VrrpSyncGroup, "sync_group_tracking_weight" | "global_tracking") => {
            "    track_script {\n        chk weight 5\n    }\n"
        }
        (Block::GlobalDefs, "startup_script_timeout") => "    startup_script /bin/true\n",
        (Block::GlobalDefs, "shutdown_script_timeout") => "    shutdown_script /bin/true\n",
        // The wrapper's rule has no action (keepalived drops it): an action word gives
        // it one, every other word is judged beside `table 100`.
        (
            Block::VirtualRulesOptions,
            "table" | "lookup" | "goto" | "nop" | "blackhole" | "unreachable" | "prohibit" | "type"
            | "l3mdev",
        ) => "",
        // keepalived resets a tracked rule's protocol to its own.
        (Block::VirtualRulesOptions, "protocol") => "table 100 no_track ",
        (Block::VirtualRulesOptions, _) => "table 100 ",
        (Block::VirtualServer, "hysteresis") => "    quorum 5\n",
        // A FIFO script runs only with its FIFO (as in keepalived).
        (Block::GlobalDefs, "notify_fifo_script") => "    notify_fifo /tmp/lvsd-kw-fifo\n",
        (Block::GlobalDefs, "vrrp_notify_fifo_script") => {
            "    vrrp_notify_fifo /tmp/lvsd-kw-fifo\n"
        }
        (Block::GlobalDefs, "lvs_notify_fifo_script") => "    lvs_notify_fifo /tmp/lvsd-kw-fifo\n",
        (Block::VirtualServer, "ops") => "    protocol UDP\n",
        (Block::VirtualServer, "persistence_granularity") => "    persistence_timeout 60\n",
        (Block::VirtualServer, "sorry_server_inhibit" | "sorry_server_lvs_method") => {
            "    sorry_server 10.0.0.9 80\n"
        }
        (Block::HttpGet | Block::SslGet, "enable_sni") => "            virtualhost example.com\n",
        (
            Block::Url,
            "regex_max_offset" | "regex_min_offset" | "regex_no_match" | "regex_options",
        ) => "                regex up\n",
        (Block::UdpCheck, "max_reply_length" | "min_reply_length") => {
            "            require_reply 00ff\n"
        }
        _ => "",
    }
}

/// A configuration with `body` as the last statement of `block` (for option lists: the
/// words after an address), with what that block needs around it.
fn config_with(block: Block, keyword: &str, body: &str) -> String {
    let body = format!("{}{body}", context(block, keyword));
    let body = body.as_str();
    let checker = |name: &str, head: &str| {
        format!("{VS}        TCP_CHECK {{\n        }}\n        {name} {{\n{head}{body}\n        }}{VS_END}")
    };
    let text = match block {
        // track_group: the instances of a group track a static entry's interface.
        Block::VirtualIpaddressOptions | Block::VirtualRoutesOptions | Block::VirtualRulesOptions
            if keyword == "track_group" =>
        {
            let entry = match block {
                Block::VirtualIpaddressOptions => format!("static_ipaddress {{\n    10.9.0.5/32 dev eth7 {body}\n}}\n"),
                Block::VirtualRoutesOptions => format!("static_routes {{\n    10.8.0.0/16 dev eth7 {body}\n}}\n"),
                _ => format!("static_rules {{\n    from 10.9.0.0/24 iif eth7 preference 100 table 100 {body}\n}}\n"),
            };
            format!("track_group x7 {{\n    group {{\n        VI_K\n    }}\n}}\n{entry}{INSTANCE}}}\n")
        }
        // The instance tracks a file only a top-level track_file block can define.
        Block::TopLevel => format!(
            "{INSTANCE}    track_file {{\n        tf3\n    }}\n}}\n{VS}        weight 10\n{HTTP}{VS_END}{body}\n"
        ),
        // Periodic announcements go to interfaces other than the instance's.
        Block::GlobalDefs if keyword.contains("garp_extra_if") || keyword.contains("garp_intvl") => {
            format!(
                "global_defs {{\n{body}\n}}\n{INSTANCE}    virtual_ipaddress_excluded {{\n        10.9.7.1/24 dev eth7\n    }}\n}}\n"
            )
        }
        // The VIPs' own VMACs' prefix shows where a VIP has one.
        Block::GlobalDefs if keyword == "vmac_addr_prefix" => format!(
            "global_defs {{\n{body}\n}}\n{INSTANCE}    use_vmac_addr\n    virtual_ipaddress_excluded {{\n        10.9.7.1/24 dev eth7\n    }}\n}}\n"
        ),
        // The VMAC name prefix shows on an instance with a VMAC.
        Block::GlobalDefs if keyword == "vmac_prefix" => {
            format!("global_defs {{\n{body}\n}}\n{INSTANCE}    use_vmac\n}}\n")
        }
        // An IPv6 instance too, for the IPv6 defaults (vrrp_mcast_group6).
        // default_interface is where a static address without `dev` goes.
        Block::GlobalDefs if keyword == "default_interface" => format!(
            "global_defs {{\n{body}\n}}\nstatic_ipaddress {{\n    10.9.0.6/32\n}}\n{INSTANCE}}}\n"
        ),
        Block::GlobalDefs => format!(
            "global_defs {{\n{body}\n}}\n{INSTANCE}}}\n{INSTANCE6}{VS}        weight 10\n{HTTP}{VS_END}"
        ),
        Block::VrrpInstance => format!("{INSTANCE}{body}\n}}\n"),
        // Without auth_type there is no authentication: auth_type itself is judged so.
        Block::Authentication if keyword == "auth_type" => {
            format!("{INSTANCE}    authentication {{\n        auth_pass secret\n{body}\n    }}\n}}\n")
        }
        Block::Authentication => format!(
            "{INSTANCE}    authentication {{\n        auth_type PASS\n        auth_pass secret\n{body}\n    }}\n}}\n"
        ),
        Block::UnicastPeerOptions => {
            format!("{INSTANCE}    unicast_peer {{\n        10.9.0.2 {body}\n    }}\n}}\n")
        }
        Block::VirtualIpaddressOptions => format!(
            "vrrp_instance VI_K {{\n    interface lvsdk0\n    virtual_router_id 50\n    virtual_ipaddress {{\n        10.9.0.1/24 {body}\n    }}\n}}\n"
        ),
        Block::VirtualRoutesOptions => format!(
            "{INSTANCE}    virtual_routes {{\n        10.8.0.0/16 {body}\n    }}\n}}\n"
        ),
        Block::VirtualRulesOptions => format!(
            "{INSTANCE}    virtual_rules {{\n        from 10.9.0.0/24 preference 100 {body}\n    }}\n}}\n"
        ),
        Block::VrrpSyncGroup => format!(
            "{INSTANCE}}}\nvrrp_instance VI_L {{\n    interface lvsdk0\n    virtual_router_id 51\n    virtual_ipaddress {{\n        10.9.0.2\n    }}\n}}\n\
             vrrp_sync_group G {{\n{}{body}\n}}\n",
            // `group` itself is judged against a group that has none (which is ignored).
            if keyword == "group" { "" } else { "    group {\n        VI_K\n        VI_L\n    }\n" }
        ),
        Block::VrrpTrackProcess => format!(
            "vrrp_track_process tpw {{\n    process sleep\n{body}\n}}\n{INSTANCE}    track_process {{\n        tpw\n    }}\n}}\n"
        ),
        Block::VrrpScript => format!(
            "vrrp_script chk2 {{\n    script /bin/true\n{body}\n}}\n{INSTANCE}    track_script {{\n        chk2\n    }}\n}}\n"
        ),
        Block::TrackFile => format!(
            "track_file tf2 {{\n    file /tmp/lvsd-keyword-test2\n{body}\n}}\n{INSTANCE}    track_file {{\n        tf2\n    }}\n}}\n"
        ),
        // ip_family matters to fwmark services only.
        Block::VirtualServer if keyword == "ip_family" => format!(
            "virtual_server fwmark 7 {{\n    real_server 10.0.0.2 80 {{\n{HTTP}    }}\n{body}\n}}\n"
        ),
        Block::VirtualServer => format!(
            "virtual_server 10.0.0.1 80 {{\n    protocol TCP\n    real_server 10.0.0.2 80 {{\n{HTTP}    }}\n    real_server 10.0.0.3 80 {{\n        weight 9\n{HTTP}    }}\n{body}\n}}\n"
        ),
        Block::RealServer => format!("{VS}{HTTP}{body}{VS_END}"),
        Block::Ssl => format!(
            "SSL {{\n{body}\n}}\n{VS}        SSL_GET {{\n            url {{\n                path /\n            }}\n        }}{VS_END}"
        ),
        Block::HttpGet => checker("HTTP_GET", "            url {\n                path /\n            }\n"),
        Block::SslGet => checker("SSL_GET", "            url {\n                path /\n            }\n"),
        Block::Url => format!(
            "{VS}        HTTP_GET {{\n            url {{\n                path /\n{body}\n            }}\n        }}{VS_END}"
        ),
        Block::TcpCheck => checker("TCP_CHECK", ""),
        Block::PingCheck => checker("PING_CHECK", ""),
        Block::MiscCheck => checker("MISC_CHECK", "            misc_path /bin/true\n"),
        Block::UdpCheck => checker("UDP_CHECK", ""),
        Block::DnsCheck => checker("DNS_CHECK", ""),
        Block::SmtpCheck => checker("SMTP_CHECK", ""),
        Block::SmtpHost => format!(
            "{VS}        SMTP_CHECK {{\n            host {{\n{body}\n            }}\n        }}{VS_END}"
        ),
        Block::FileCheck => checker("FILE_CHECK", "            track_file tf\n"),
    };
    format!("{PRELUDE}{text}")
}

/// Values to try for a keyword, in order; the first that loads without error and
/// translates is used to judge it (see `judge`).
fn candidates(block: Block, keyword: &str) -> Vec<String> {
    // A rule line with a word keepalived does not read is dropped whole, which would
    // count as an effect of any word: rule words get only values keepalived reads.
    if block == Block::VirtualRulesOptions {
        let value = match keyword {
            "inet" | "inet6" | "not" | "no_track" | "nop" | "blackhole" | "unreachable"
            | "prohibit" | "l3mdev" => return vec![keyword.to_string()],
            "from" | "to" => "10.7.0.0/16",
            "goto" => "200",
            "type" => "blackhole",
            "uidrange" | "sport" | "dport" => "1-2",
            "ipproto" => "tcp",
            "dev" | "iif" | "oif" => "eth7",
            "track_group" => "x7",
            _ => "7",
        };
        return vec![format!("{keyword} {value}")];
    }
    let specific: &[&str] = match (block, keyword) {
        (_, "lb_kind" | "lvs_method" | "sorry_server_lvs_method") => &["DR", "TUN"],
        (_, "lb_algo" | "lvs_sched") => &["rr"],
        (_, "vrrp_mcast_group4" | "mcast_dst_ip") => &["224.0.0.19"],
        (_, "vrrp_mcast_group6") => &["ff02::13"],
        (_, "persistence_granularity") => &["255.255.255.0"],
        (_, "virtualhost") => &["example.com"],
        (Block::Authentication, "auth_type") => &["PASS"],
        (Block::Authentication, "auth_pass") => &["other"],
        (_, "protocol") => &["UDP", "SCTP"],
        (_, "ip_family") => &["inet6"],
        (_, "persistence_engine") => &["sip"],
        (_, "sorry_server") => &["10.0.0.9 80"],
        (_, "http_protocol") => &["1.1"],
        (_, "digest") => &["0123456789abcdef0123456789abcdef"],
        (_, "status_code") => &["404"],
        (_, "regex") => &["up"],
        (_, "regex_options") => &["caseless"],
        (_, "regex_min_offset" | "regex_max_offset") => &["3"],
        (_, "type") => &["A"],
        (_, "name") => &["example.com"],
        (_, "payload" | "require_reply") => &["00ff"],
        (_, "url") => &["{\n path /x\n }"],
        (Block::VrrpInstance, "state") => &["MASTER"],
        (Block::VrrpInstance, "interface" | "lvs_sync_daemon_interface") => &["eth7"],
        (Block::VrrpInstance, "unicast_src_ip" | "mcast_src_ip") => &["10.9.0.7"],
        (Block::VrrpInstance, "unicast_peer") => &["{\n 10.9.0.2\n }"],
        (Block::VrrpInstance, "authentication") => &["{\n auth_type PASS\n auth_pass pw\n }"],
        (_, "virtual_ipaddress" | "virtual_ipaddress_excluded") => &["{\n 10.9.0.8\n }"],
        (_, "virtual_routes") => &["{\n 10.8.0.0/16 via 10.9.0.254\n }"],
        (_, "static_routes") => &["{\n 10.6.0.0/16 via 10.9.0.254\n }"],
        (_, "virtual_rules" | "static_rules") => {
            &["{\n from 10.9.0.0/24 table 100 preference 100\n }"]
        }
        (_, "static_ipaddress") => &["{\n 10.9.0.5/32 dev lvsdk0\n }"],
        (_, "track_interface") => &["{\n eth7\n }"],
        (_, "track_script") => &["{\n chk\n }"],
        (_, "track_process") => &["{\n tp\n }"],
        // A process block takes effect through the instance that tracks it.
        (Block::TopLevel, "vrrp_track_process") => &[
            "tp2 {\n process sleep\n}\nvrrp_instance VI_T {\n interface lvsdk0\n virtual_router_id 70\n track_process {\n tp2\n }\n virtual_ipaddress {\n 10.9.0.70\n }\n}",
        ],
        (_, "track_file") if block != Block::FileCheck && block != Block::TopLevel => {
            &["{\n tf\n }"]
        }
        (Block::FileCheck, "track_file") => &["tf2"],
        (Block::TopLevel, "track_group") => &["tg2 {\n group {\n VI_K\n }\n}"],
        (Block::VirtualIpaddressOptions | Block::VirtualRoutesOptions, "track_group") => &["x7"],
        (_, "group") => &["{\n VI_K\n }"],
        (Block::VrrpSyncGroup, "sync_group_tracking_weight") => &[""],
        (Block::GlobalDefs, "vrrp_version") => &["3"],
        (Block::GlobalDefs, "lvs_sync_daemon") => &["eth7 VI_K"],
        (Block::GlobalDefs, "script_user") => &["nobody"],
        // CPU 0 exists on every machine.
        (Block::GlobalDefs, "vrrp_cpu_affinity" | "checker_cpu_affinity") => &["0"],
        // Without `all` they concern VMACs of the VIPs' own (lvsd makes none).
        (_, "garp_extra_if" | "vmac_garp_intvl" | "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl") => {
            &["all 2"]
        }
        // On by default for real servers (keepalived), so judged by turning it off.
        (Block::RealServer, "smtp_alert") => &["false"],
        (Block::GlobalDefs, "notification_email") => &["{\n admin@example.com\n}"],
        (Block::GlobalDefs, "smtp_server") => &["10.9.0.7 2525"],
        (Block::TopLevel, "global_defs") => &["{\n vrrp_startup_delay 3\n}"],
        (Block::TopLevel, "vrrp_instance") => &[
            "VI_X {\n interface lvsdk0\n virtual_router_id 60\n virtual_ipaddress {\n 10.9.0.9\n }\n}",
        ],
        (Block::TopLevel, "vrrp_script") => &["chk3 {\n script /bin/false\n}"],
        (Block::TopLevel, "vrrp_sync_group") => &["G2 {\n group {\n VI_K\n }\n}"],
        (Block::TopLevel, "track_file" | "vrrp_track_file") => &["tf3 {\n file /tmp/lvsd-kw3\n}"],
        (Block::TopLevel, "virtual_server") => {
            &["10.0.0.7 80 {\n protocol TCP\n real_server 10.0.0.8 80 {\n }\n}"]
        }
        // A group takes effect through the virtual server that names it.
        (Block::TopLevel, "virtual_server_group") => &[
            "G {\n 10.0.0.5 80\n}\nvirtual_server group G {\n protocol TCP\n real_server 10.0.0.8 80 {\n }\n}",
        ],
        (Block::TopLevel, "SSL") => &[concat!(
            "{\n certificate ", env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl/client.pem\n",
            " key ", env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl/client-enc.key\n",
            " password s3cret\n}"
        )],
        (Block::Ssl, "ca") => &[concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl/ca.pem")],
        (Block::Ssl, "certificate") => &[concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl/client.pem")],
        (Block::Ssl, "key") => &[concat!(env!("CARGO_MANIFEST_DIR"), "/tests/config/ssl/client.key")],
        (Block::RealServer, "FILE_CHECK") => &["{\n track_file tf\n }"],
        (Block::RealServer, "MISC_CHECK") => &["{\n misc_path /bin/false\n }"],
        (Block::RealServer, "HTTP_GET" | "SSL_GET") => &["{\n url {\n path /\n }\n }"],
        (Block::SmtpCheck, "host") => &["{\n connect_ip 10.0.0.3\n }"],
        (Block::VirtualRoutesOptions, "to") => &["10.7.0.0/16"],
        (Block::VirtualRoutesOptions, "via" | "gw" | "or" | "src") => &["10.9.0.7"],
        (Block::VirtualRoutesOptions, "scope") => &["link"],
        (Block::VirtualIpaddressOptions, "brd" | "broadcast") => &["10.9.0.255"],
        (Block::VirtualIpaddressOptions, "scope") => &["link"],
        (Block::VirtualIpaddressOptions, "peer") => &["10.9.0.77"],
        _ => &[],
    };
    const GENERIC: &[&str] = &[
        "7",
        "",
        "3",
        "2",
        "10.9.0.7",
        "eth7",
        "/bin/false",
        "x7",
        "{\n}",
        "x7 {\n}",
        "tcp 7",
    ];
    specific
        .iter()
        .chain(GENERIC)
        .map(|v| {
            if v.is_empty() {
                keyword.to_string()
            } else {
                format!("{keyword} {v}")
            }
        })
        .collect()
}

/// What lvsd runs from `text`, or `None` when it does not load or translate.
fn runtime_view(text: &str) -> Option<(String, Vec<Problem>)> {
    let opts = ConfigOptions {
        config_id: Some("lvsd-test".into()),
        check_interfaces: false,
        follow_includes: false,
    };
    let loaded = load_str(Path::new("/keywords.conf"), text, &opts).ok()?;
    let problems = loaded.warnings.iter().map(|w| w.problem.clone()).collect();
    let runtime = lvsd::daemon::prepare::prepare(loaded.config).ok()?;
    Some((format!("{runtime:#?}"), problems))
}

/// Keywords keepalived accepts that change nothing in keepalived either, so lvsd is
/// right to do nothing with them, and to say nothing.
const NO_EFFECT_IN_KEEPALIVED_EITHER: &[(Block, &str, &str)] = &[
    (
        Block::VirtualServer,
        "hashed",
        "sets IP_VS_SVC_F_HASHED, which the kernel sets on every service itself",
    ),
    (
        Block::VirtualRulesOptions,
        "inet",
        "IPv4 is already a rule's default family",
    ),
    (
        Block::HttpGet,
        "enable_sni",
        "SNI is a TLS extension; HTTP_GET has no TLS",
    ),
    (
        Block::Ssl,
        "ca",
        "loaded into the TLS context, which verifies nothing (lvsd reads and checks it the same way, and verifies with it only under `lvsd run --ssl-verify-ca`)",
    ),
];

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// The keyword changed what lvsd runs.
    Effect,
    /// No effect, and the warning the table asks for.
    Warned,
    /// No effect and no warning: a silent keyword.
    Silent,
    /// No candidate value loaded.
    Unusable,
}

fn warned_about(problems: &[Problem], keyword: &str) -> bool {
    problems.iter().any(|p| match p {
        Problem::NotImplemented { keyword: k, .. }
        | Problem::PartlyImplemented { keyword: k, .. } => k == keyword,
        _ => false,
    })
}

fn judge(block: Block, keyword: &str) -> (Seen, String) {
    let (base, _) = runtime_view(&config_with(block, keyword, ""))
        .unwrap_or_else(|| panic!("{}: the wrapper itself does not load", block.name()));
    let mut outcome = (Seen::Unusable, String::new());
    for line in candidates(block, keyword) {
        let Some((view, problems)) = runtime_view(&config_with(block, keyword, &line)) else {
            continue;
        };
        if view != base {
            return (Seen::Effect, line);
        }
        let seen = if warned_about(&problems, keyword) {
            Seen::Warned
        } else {
            Seen::Silent
        };
        if outcome.0 != Seen::Warned {
            outcome = (seen, line);
        }
    }
    outcome
}

/// The rule of the keyword table, checked keyword by keyword: an implemented keyword
/// changes what lvsd runs; a keyword that does not is warned about; a keyword the table
/// calls not implemented changes nothing.
#[test]
fn every_keyword_is_implemented_or_warned() {
    let mut wrong = Vec::new();
    for (block, keyword) in keepalived_pairs() {
        let Some(support) = keywords::support(block, &keyword) else {
            continue; // the_table_holds_exactly_keepalived_keywords reports it
        };
        let (seen, line) = judge(block, &keyword);
        let inert_in_keepalived = NO_EFFECT_IN_KEEPALIVED_EITHER
            .iter()
            .any(|(b, k, _)| *b == block && *k == keyword);
        let ok = match support {
            Support::Implemented if inert_in_keepalived => seen == Seen::Silent,
            Support::Implemented => seen == Seen::Effect,
            Support::Partly(_) => seen == Seen::Effect || seen == Seen::Warned,
            Support::NotImplemented(_) => seen == Seen::Warned,
        };
        if !ok {
            wrong.push(format!(
                "{} {keyword}: table says {support:?}, lvsd shows {seen:?} (with `{}`)",
                block.name(),
                line.replace('\n', " ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} keywords:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The README's compatibility matrix is the one generated from the table.
#[test]
fn readme_matrix_is_generated_from_the_table() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    const START: &str = "<!-- keyword-matrix:start (generated from src/config/keywords.rs) -->\n";
    const END: &str = "<!-- keyword-matrix:end -->";
    let generated = keywords::markdown_matrix();
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md has no keyword matrix markers");
    };
    let current = &readme[a + START.len()..b];
    if current != generated && std::env::var_os("LVSD_UPDATE_README").is_some() {
        let updated = format!("{}{START}{generated}{}", &readme[..a], &readme[b..]);
        std::fs::write(&readme_path, updated).expect("write README.md");
        return;
    }
    assert!(
        current == generated,
        "README.md's keyword matrix is stale: run LVSD_UPDATE_README=1 cargo test --test keywords"
    );
}
