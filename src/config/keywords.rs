//! What lvsd does with every keyword keepalived 2.2.7 accepts: the one table that
//! decides which keywords draw a "not implemented" warning, and from which the README's
//! compatibility matrix is generated (`LVSD_UPDATE_README=1 cargo test --test keywords`
//! rewrites it; the test fails while it is stale).
//!
//! The list of (block, keyword) pairs is keepalived's (tests/config/keepalived-2.2.7-keywords.txt,
//! captured from keepalived itself); a test holds this table to that list and checks that
//! every keyword marked implemented changes what lvsd runs.
#![forbid(unsafe_code)]

/// A block (or option list) keywords appear in, named as in the keyword list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Block {
    TopLevel,
    GlobalDefs,
    VrrpScript,
    /// `vrrp_track_process NAME { }`.
    VrrpTrackProcess,
    TrackFile,
    VrrpSyncGroup,
    VrrpInstance,
    Authentication,
    /// Words after a `unicast_peer { }` address.
    UnicastPeerOptions,
    /// Words after a `virtual_ipaddress { }` address.
    VirtualIpaddressOptions,
    /// Words of a `virtual_routes { }` line.
    VirtualRoutesOptions,
    /// Words of a `virtual_rules { }` / `static_rules { }` line.
    VirtualRulesOptions,
    VirtualServer,
    RealServer,
    Ssl,
    HttpGet,
    SslGet,
    Url,
    TcpCheck,
    MiscCheck,
    PingCheck,
    UdpCheck,
    SmtpCheck,
    /// SMTP_CHECK's deprecated `host { }`.
    SmtpHost,
    DnsCheck,
    FileCheck,
}

impl Block {
    pub const ALL: [Block; 26] = [
        Block::TopLevel,
        Block::GlobalDefs,
        Block::VrrpScript,
        Block::VrrpTrackProcess,
        Block::TrackFile,
        Block::VrrpSyncGroup,
        Block::VrrpInstance,
        Block::Authentication,
        Block::UnicastPeerOptions,
        Block::VirtualIpaddressOptions,
        Block::VirtualRoutesOptions,
        Block::VirtualRulesOptions,
        Block::VirtualServer,
        Block::RealServer,
        Block::Ssl,
        Block::HttpGet,
        Block::SslGet,
        Block::Url,
        Block::TcpCheck,
        Block::MiscCheck,
        Block::PingCheck,
        Block::UdpCheck,
        Block::SmtpCheck,
        Block::SmtpHost,
        Block::DnsCheck,
        Block::FileCheck,
    ];

    /// The name the keyword list and the README use.
    pub fn name(self) -> &'static str {
        match self {
            Block::TopLevel => "top_level",
            Block::GlobalDefs => "global_defs",
            Block::VrrpScript => "vrrp_script",
            Block::VrrpTrackProcess => "vrrp_track_process",
            Block::TrackFile => "track_file",
            Block::VrrpSyncGroup => "vrrp_sync_group",
            Block::VrrpInstance => "vrrp_instance",
            Block::Authentication => "authentication",
            Block::UnicastPeerOptions => "unicast_peer options",
            Block::VirtualIpaddressOptions => "virtual_ipaddress options",
            Block::VirtualRoutesOptions => "virtual_routes options",
            Block::VirtualRulesOptions => "virtual_rules options",
            Block::VirtualServer => "virtual_server",
            Block::RealServer => "real_server",
            Block::Ssl => "SSL",
            Block::HttpGet => "HTTP_GET",
            Block::SslGet => "SSL_GET",
            Block::Url => "url",
            Block::TcpCheck => "TCP_CHECK",
            Block::MiscCheck => "MISC_CHECK",
            Block::PingCheck => "PING_CHECK",
            Block::UdpCheck => "UDP_CHECK",
            Block::SmtpCheck => "SMTP_CHECK",
            Block::SmtpHost => "host",
            Block::DnsCheck => "DNS_CHECK",
            Block::FileCheck => "FILE_CHECK",
        }
    }

    pub fn from_name(name: &str) -> Option<Block> {
        Block::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The block a checker keyword opens.
    pub fn of_checker(name: &str) -> Option<Block> {
        Some(match name {
            "HTTP_GET" => Block::HttpGet,
            "SSL_GET" => Block::SslGet,
            "TCP_CHECK" => Block::TcpCheck,
            "MISC_CHECK" => Block::MiscCheck,
            "PING_CHECK" => Block::PingCheck,
            "UDP_CHECK" => Block::UdpCheck,
            "SMTP_CHECK" => Block::SmtpCheck,
            "DNS_CHECK" => Block::DnsCheck,
            "FILE_CHECK" => Block::FileCheck,
            _ => return None,
        })
    }
}

/// What lvsd does with a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// It changes what lvsd does, as in keepalived.
    Implemented,
    /// Part of it is done; the text says what is not. Warned.
    Partly(&'static str),
    /// Accepted and without effect; the text says what keepalived would do. Warned.
    NotImplemented(&'static str),
}

const YES: Support = Support::Implemented;
const fn part(what_is_missing: &'static str) -> Support {
    Support::Partly(what_is_missing)
}
const fn no(keepalived_does: &'static str) -> Support {
    Support::NotImplemented(keepalived_does)
}

const BFD_TUNING: Support = no("tunes its BFD process (lvsd has no BFD)");
const PROCESS_NAMES: Support =
    no("names its child processes (lvsd is one process; its VRRP thread is called lvsd-vrrp)");
const AUTO_PRIORITY: Support = no(
    "raises its real-time priority by itself when its timers run late (lvsd: set vrrp_rt_priority)",
);
const SNMP: Support = no("serves SNMP through an AgentX socket");
const DBUS: Support = no("offers a D-Bus interface");
const FIREWALL: Support = no(
    "tunes its firewall rules (counters, interface match, IPVS fwmark tables, iptables/ipsets instead of nftables); lvsd's no_accept rules use plain nftables",
);
const NETLINK_BUFS: Support =
    no("sizes its netlink socket buffers; lvsd uses the kernel's defaults");
const RELOAD_MACHINERY: Support = no("controls keepalived's reload and config-saving machinery");
const ROUTE_ATTR: Support = no("passes this attribute on with the route");
const NETNS: Support = no("runs itself (or IPVS) in this network namespace");
const BFD: Support = no("tracks a BFD session through its bfd process");
const SNMP_NAME: Support = no("names the object in SNMP");
/// The keywords every connecting checker has (keepalived's
/// install_checker_common_keywords).
const COMMON_CHECK: &[(&str, Support)] = &[
    ("alpha", YES),
    ("bind_if", YES),
    ("bind_port", YES),
    ("bindto", YES),
    ("connect_ip", YES),
    ("connect_port", YES),
    ("connect_timeout", YES),
    ("delay_before_retry", YES),
    ("delay_loop", YES),
    ("fwmark", YES),
    ("log_all_failures", YES),
    ("retry", YES),
    ("warmup", YES),
];

/// Every keyword keepalived 2.2.7 accepts, per block, and what lvsd does with it.
/// Keywords with what lvsd does with each.
pub type KeywordList = &'static [(&'static str, Support)];

pub static TABLE: &[(Block, &[KeywordList])] = &[
    (
        Block::TopLevel,
        &[&[
            ("SSL", YES),
            ("bfd_instance", BFD),
            (
                "child_wait_time",
                no("waits this long for its child processes at stop"),
            ),
            (
                "garp_group",
                no("sends gratuitous ARP/NA on a group of interfaces at an interval"),
            ),
            ("global_defs", YES),
            (
                "interface_up_down_delays",
                no("delays reacting to interface up/down events"),
            ),
            (
                "linkbeat_interfaces",
                no("polls these interfaces' link state with ioctls"),
            ),
            (
                "linkbeat_use_polling",
                no("polls interfaces' link state with ioctls"),
            ),
            ("namespace_with_ipsets", NETNS),
            ("net_namespace", NETNS),
            ("net_namespace_ipvs", NETNS),
            ("static_ipaddress", YES),
            ("static_routes", YES),
            ("static_rules", YES),
            ("track_file", YES),
            ("track_group", YES),
            (
                "use_pid_dir",
                no("writes its pid files under /run/keepalived/"),
            ),
            ("virtual_server", YES),
            ("virtual_server_group", YES),
            ("vrrp_instance", YES),
            ("vrrp_script", YES),
            ("vrrp_sync_group", YES),
            ("vrrp_track_file", YES),
            ("vrrp_track_process", YES),
        ]],
    ),
    (
        Block::GlobalDefs,
        &[&[
            ("bfd_cpu_affinity", BFD_TUNING),
            ("bfd_no_swap", BFD_TUNING),
            ("bfd_priority", BFD_TUNING),
            ("bfd_process_name", PROCESS_NAMES),
            ("bfd_rlimit_rtime", BFD_TUNING),
            ("bfd_rlimit_rttime", BFD_TUNING),
            ("bfd_rt_priority", BFD_TUNING),
            ("checker_cpu_affinity", YES),
            ("checker_log_all_failures", YES),
            ("checker_no_swap", YES),
            ("checker_priority", YES),
            ("checker_process_name", PROCESS_NAMES),
            ("checker_rlimit_rtime", YES),
            ("checker_rlimit_rttime", YES),
            ("checker_rt_priority", YES),
            ("config_save_dir", RELOAD_MACHINERY),
            ("data_use_instance", RELOAD_MACHINERY),
            ("dbus_service_name", DBUS),
            ("default_interface", YES),
            (
                "disable_local_igmp",
                no("stops IGMP reports on VRRP interfaces"),
            ),
            ("dynamic_interfaces", YES),
            ("enable_dbus", DBUS),
            ("enable_script_security", YES),
            ("enable_snmp_checker", SNMP),
            ("enable_snmp_keepalived", SNMP),
            ("enable_snmp_rfc", SNMP),
            ("enable_snmp_rfcv2", SNMP),
            ("enable_snmp_rfcv3", SNMP),
            ("enable_snmp_vrrp", SNMP),
            ("enable_traps", SNMP),
            ("fifo_write_vrrp_states_on_reload", YES),
            ("include_check", RELOAD_MACHINERY),
            (
                "linkbeat_use_polling",
                no("polls interfaces' link state with ioctls"),
            ),
            (
                "log_unknown_vrids",
                no("logs adverts for VRIDs no instance has"),
            ),
            ("lvs_flush", YES),
            ("lvs_flush_on_stop", YES),
            ("lvs_flush_onstop", YES),
            ("lvs_netlink_cmd_rcv_bufs", NETLINK_BUFS),
            ("lvs_netlink_cmd_rcv_bufs_force", NETLINK_BUFS),
            ("lvs_netlink_monitor_rcv_bufs", NETLINK_BUFS),
            ("lvs_netlink_monitor_rcv_bufs_force", NETLINK_BUFS),
            ("lvs_notify_fifo", YES),
            ("lvs_notify_fifo_script", YES),
            ("lvs_process_name", PROCESS_NAMES),
            ("lvs_sync_daemon", YES),
            ("lvs_timeouts", YES),
            ("max_auto_priority", AUTO_PRIORITY),
            ("min_auto_priority_delay", AUTO_PRIORITY),
            ("namespace_with_ipsets", NETNS),
            ("net_namespace", NETNS),
            ("net_namespace_ipvs", NETNS),
            ("nftables", YES),
            ("nftables_counters", FIREWALL),
            ("nftables_ifindex", FIREWALL),
            ("nftables_ipvs", FIREWALL),
            ("nftables_ipvs_priority", FIREWALL),
            ("nftables_ipvs_start_fwmark", FIREWALL),
            ("nftables_priority", YES),
            ("no_checker_emails", YES),
            ("no_email_faults", YES),
            ("notification_email", YES),
            ("notification_email_from", YES),
            ("notify_fifo", YES),
            ("notify_fifo_script", YES),
            ("process_monitor_rcv_bufs", NETLINK_BUFS),
            ("process_monitor_rcv_bufs_force", NETLINK_BUFS),
            ("process_name", PROCESS_NAMES),
            ("process_names", PROCESS_NAMES),
            (
                "random_seed",
                no("seeds its random numbers (lvsd needs no seed)"),
            ),
            ("reload_check_config", RELOAD_MACHINERY),
            ("reload_file", RELOAD_MACHINERY),
            ("reload_repeat", RELOAD_MACHINERY),
            ("reload_time_file", RELOAD_MACHINERY),
            ("router_id", YES),
            ("rs_init_notifies", YES),
            ("script_user", YES),
            ("shutdown_script", YES),
            ("shutdown_script_timeout", YES),
            ("smtp_alert", YES),
            ("smtp_alert_checker", YES),
            ("smtp_alert_vrrp", YES),
            ("smtp_connect_timeout", YES),
            ("smtp_helo_name", YES),
            ("smtp_server", YES),
            ("snmp_socket", SNMP),
            ("startup_script", YES),
            ("startup_script_timeout", YES),
            ("tmp_config_directory", RELOAD_MACHINERY),
            ("umask", no("sets its umask for the files it creates")),
            ("vmac_addr_prefix", YES),
            ("vmac_prefix", YES),
            ("vrrp_check_unicast_src", YES),
            ("vrrp_cpu_affinity", YES),
            ("vrrp_down_timer_adverts", YES),
            ("vrrp_garp_extra_if", YES),
            ("vrrp_garp_interval", YES),
            ("vrrp_garp_lower_prio_delay", YES),
            ("vrrp_garp_lower_prio_repeat", YES),
            ("vrrp_garp_master_delay", YES),
            ("vrrp_garp_master_refresh", YES),
            ("vrrp_garp_master_refresh_repeat", YES),
            ("vrrp_garp_master_repeat", YES),
            ("vrrp_gna_interval", YES),
            ("vrrp_higher_prio_send_advert", YES),
            ("vrrp_ipsets", FIREWALL),
            ("vrrp_iptables", FIREWALL),
            ("vrrp_lower_prio_no_advert", YES),
            ("vrrp_mcast_group4", YES),
            ("vrrp_mcast_group6", YES),
            ("vrrp_min_garp", YES),
            ("vrrp_netlink_cmd_rcv_bufs", NETLINK_BUFS),
            ("vrrp_netlink_cmd_rcv_bufs_force", NETLINK_BUFS),
            ("vrrp_netlink_monitor_rcv_bufs", NETLINK_BUFS),
            ("vrrp_netlink_monitor_rcv_bufs_force", NETLINK_BUFS),
            ("vrrp_no_swap", YES),
            ("vrrp_notify_fifo", YES),
            ("vrrp_notify_fifo_script", YES),
            ("vrrp_notify_priority_changes", YES),
            ("vrrp_priority", YES),
            ("vrrp_process_name", PROCESS_NAMES),
            ("vrrp_rlimit_rtime", YES),
            ("vrrp_rlimit_rttime", YES),
            ("vrrp_rt_priority", YES),
            ("vrrp_rx_bufs_multiplier", NETLINK_BUFS),
            ("vrrp_rx_bufs_policy", NETLINK_BUFS),
            ("vrrp_skip_check_adv_addr", YES),
            ("vrrp_startup_delay", YES),
            ("vrrp_strict", YES),
            ("vrrp_version", YES),
            ("vrrp_vmac_garp_intvl", YES),
        ]],
    ),
    (
        Block::VrrpScript,
        &[&[
            ("fall", YES),
            ("init_fail", YES),
            ("interval", YES),
            ("rise", YES),
            ("script", YES),
            ("timeout", YES),
            ("user", YES),
            ("weight", YES),
        ]],
    ),
    (
        Block::VrrpTrackProcess,
        &[&[
            ("delay", YES),
            ("fork_delay", YES),
            ("full_command", YES),
            ("param_match", YES),
            ("process", YES),
            ("quorum", YES),
            ("quorum_max", YES),
            ("terminate_delay", YES),
            ("weight", YES),
        ]],
    ),
    (
        Block::TrackFile,
        &[&[("file", YES), ("init_file", YES), ("weight", YES)]],
    ),
    (
        Block::VrrpSyncGroup,
        &[&[
            ("global_tracking", YES),
            ("group", YES),
            ("notify", YES),
            ("notify_backup", YES),
            ("notify_fault", YES),
            ("notify_master", YES),
            ("notify_priority_changes", YES),
            ("notify_stop", YES),
            ("smtp_alert", YES),
            ("sync_group_tracking_weight", YES),
            ("track_bfd", BFD),
            ("track_file", YES),
            ("track_interface", YES),
            ("track_process", YES),
            ("track_script", YES),
        ]],
    ),
    (
        Block::VrrpInstance,
        &[&[
            ("accept", YES),
            ("advert_int", YES),
            ("authentication", YES),
            ("check_unicast_src", YES),
            ("debug", no("sets a per-instance debug level")),
            ("dont_track_primary", YES),
            ("down_timer_adverts", YES),
            ("garp_extra_if", YES),
            ("garp_lower_prio_delay", YES),
            ("garp_lower_prio_repeat", YES),
            ("garp_master_delay", YES),
            ("garp_master_refresh", YES),
            ("garp_master_refresh_repeat", YES),
            ("garp_master_repeat", YES),
            ("higher_prio_send_advert", YES),
            ("interface", YES),
            ("kernel_rx_buf_size", NETLINK_BUFS),
            (
                "linkbeat_use_polling",
                no("polls the interface's link state with ioctls"),
            ),
            ("lower_prio_no_advert", YES),
            ("lvs_sync_daemon_interface", YES),
            ("mcast_dst_ip", YES),
            ("mcast_src_ip", YES),
            ("native_ipv6", YES),
            ("no_accept", YES),
            ("nopreempt", YES),
            ("notify", YES),
            ("notify_backup", YES),
            ("notify_deleted", YES),
            ("notify_fault", YES),
            ("notify_master", YES),
            ("notify_master_rx_lower_pri", YES),
            ("notify_priority_changes", YES),
            ("notify_stop", YES),
            ("old_unicast_checksum", YES),
            ("preempt", YES),
            ("preempt_delay", YES),
            ("priority", YES),
            ("promote_secondaries", YES),
            ("skip_check_adv_addr", YES),
            ("smtp_alert", YES),
            ("state", YES),
            ("strict_mode", YES),
            ("track_bfd", BFD),
            ("track_file", YES),
            ("track_interface", YES),
            ("track_process", YES),
            ("track_script", YES),
            ("track_src_ip", YES),
            ("unicast_fault_no_peer", YES),
            ("unicast_peer", YES),
            ("unicast_src_ip", YES),
            ("unicast_ttl", YES),
            (
                "use_ipvlan",
                no("creates an ipvlan interface for the instance"),
            ),
            ("use_vmac", YES),
            ("use_vmac_addr", YES),
            ("version", YES),
            ("virtual_ipaddress", YES),
            ("virtual_ipaddress_excluded", YES),
            ("virtual_router_id", YES),
            ("virtual_routes", YES),
            ("virtual_rules", YES),
            ("vmac_garp_intvl", YES),
            ("vmac_xmit_base", YES),
            (
                "vrf",
                no("names the VRF of an instance without interface, and keepalived 2.2.7 starts no instance without one (\"Unknown interface!\"), nor does lvsd"),
            ),
        ]],
    ),
    (
        Block::Authentication,
        &[&[("auth_pass", YES), ("auth_type", YES)]],
    ),
    (
        Block::UnicastPeerOptions,
        &[&[("max_ttl", YES), ("min_ttl", YES)]],
    ),
    (
        Block::VirtualIpaddressOptions,
        &[&[
            ("-nodad", YES),
            ("autojoin", YES),
            ("brd", YES),
            ("broadcast", YES),
            ("dev", YES),
            ("home", YES),
            ("label", YES),
            ("mngtmpaddr", YES),
            ("no_track", YES),
            ("noprefixroute", YES),
            ("peer", YES),
            ("preferred_lft", YES),
            ("scope", YES),
            ("track_group", YES),
            ("use_vmac", YES),
        ]],
    ),
    (
        Block::VirtualRoutesOptions,
        &[&[
            ("add", ROUTE_ATTR),
            ("advmss", ROUTE_ATTR),
            ("append", ROUTE_ATTR),
            ("as", ROUTE_ATTR),
            ("congctl", ROUTE_ATTR),
            ("cwnd", ROUTE_ATTR),
            ("dev", YES),
            ("dsfield", ROUTE_ATTR),
            ("encap", ROUTE_ATTR),
            ("expires", ROUTE_ATTR),
            ("fastopen_no_cookie", ROUTE_ATTR),
            ("features", ROUTE_ATTR),
            ("from", ROUTE_ATTR),
            ("gw", YES),
            ("hoplimit", ROUTE_ATTR),
            ("initcwnd", ROUTE_ATTR),
            ("initrwnd", ROUTE_ATTR),
            ("metric", YES),
            ("mtu", ROUTE_ATTR),
            ("nexthop", no("adds a multipath route")),
            ("no_track", YES),
            ("oif", YES),
            ("onlink", ROUTE_ATTR),
            ("or", part("only the first next hop is used")),
            ("pref", ROUTE_ATTR),
            ("prepend", ROUTE_ATTR),
            ("preference", YES),
            ("priority", YES),
            ("protocol", no("sets the route's protocol")),
            ("quickack", ROUTE_ATTR),
            ("realms", ROUTE_ATTR),
            ("reordering", ROUTE_ATTR),
            ("rto_min", ROUTE_ATTR),
            ("rtt", ROUTE_ATTR),
            ("rttvar", ROUTE_ATTR),
            ("scope", YES),
            ("src", YES),
            ("ssthresh", ROUTE_ATTR),
            ("table", YES),
            ("tos", ROUTE_ATTR),
            ("track_group", YES),
            ("ttl-propagate", ROUTE_ATTR),
            ("via", YES),
            ("vrf", no("adds the route in this VRF's table (write `table N` with the VRF's table instead)")),
            ("window", ROUTE_ATTR),
        ]],
    ),
    (
        Block::VirtualRulesOptions,
        &[&[
            ("blackhole", YES),
            ("dev", YES),
            ("dport", YES),
            ("dsfield", YES),
            ("from", YES),
            ("fwmark", YES),
            ("goto", YES),
            ("iif", YES),
            ("inet", YES),
            ("inet6", YES),
            ("ipproto", YES),
            ("l3mdev", YES),
            ("lookup", YES),
            ("no_track", YES),
            ("nop", YES),
            ("not", YES),
            ("oif", YES),
            ("order", YES),
            ("preference", YES),
            ("priority", YES),
            ("prohibit", YES),
            ("protocol", YES),
            ("realms", no("passes this realm on with the rule")),
            ("sport", YES),
            ("sup_group", YES),
            ("sup_pl", YES),
            ("suppress_ifgroup", YES),
            ("suppress_prefixlength", YES),
            ("table", YES),
            ("to", YES),
            ("tos", YES),
            ("track_group", YES),
            ("tunnel-id", no("matches the rule on this tunnel id")),
            ("type", YES),
            ("uidrange", YES),
            ("unreachable", YES),
        ]],
    ),
    (
        Block::VirtualServer,
        &[&[
            ("alpha", YES),
            ("connect_timeout", YES),
            ("delay_before_retry", YES),
            ("delay_loop", YES),
            ("flag-1", YES),
            ("flag-2", YES),
            ("flag-3", YES),
            ("ha_suspend", YES),
            ("hashed", YES),
            ("hysteresis", YES),
            ("inhibit_on_failure", YES),
            ("ip_family", YES),
            ("lb_algo", YES),
            ("lb_kind", YES),
            ("lvs_method", YES),
            ("lvs_sched", YES),
            ("mh-fallback", YES),
            ("mh-port", YES),
            ("omega", YES),
            ("ops", YES),
            ("persistence_engine", YES),
            ("persistence_granularity", YES),
            ("persistence_timeout", YES),
            ("protocol", YES),
            ("quorum", YES),
            ("quorum_down", YES),
            ("quorum_up", YES),
            ("retry", YES),
            ("sh-fallback", YES),
            ("sh-port", YES),
            ("smtp_alert", YES),
            ("snmp_name", SNMP_NAME),
            ("sorry_server", YES),
            ("sorry_server_inhibit", YES),
            ("sorry_server_lvs_method", YES),
            ("virtualhost", YES),
            ("warmup", YES),
            ("weight", YES),
        ]],
    ),
    (
        Block::RealServer,
        &[&[
            ("BFD_CHECK", BFD),
            ("DNS_CHECK", YES),
            ("FILE_CHECK", YES),
            ("HTTP_GET", YES),
            ("MISC_CHECK", YES),
            ("PING_CHECK", YES),
            ("SMTP_CHECK", YES),
            ("SSL_GET", YES),
            ("TCP_CHECK", YES),
            ("UDP_CHECK", YES),
            ("alpha", YES),
            ("connect_timeout", YES),
            ("delay_before_retry", YES),
            ("delay_loop", YES),
            ("inhibit_on_failure", YES),
            ("lthreshold", YES),
            ("lvs_method", YES),
            ("notify_down", YES),
            ("notify_up", YES),
            ("retry", YES),
            ("smtp_alert", YES),
            ("snmp_name", SNMP_NAME),
            ("uthreshold", YES),
            ("virtualhost", YES),
            ("warmup", YES),
            ("weight", YES),
        ]],
    ),
    (
        Block::Ssl,
        &[&[
            ("ca", YES),
            ("certificate", YES),
            ("key", YES),
            ("password", YES),
        ]],
    ),
    (Block::HttpGet, &[COMMON_CHECK, HTTP_CHECK]),
    (Block::SslGet, &[COMMON_CHECK, HTTP_CHECK]),
    (
        Block::Url,
        &[&[
            ("digest", YES),
            ("path", YES),
            ("regex", YES),
            ("regex_max_offset", YES),
            ("regex_min_offset", YES),
            ("regex_no_match", YES),
            // The PCRE2 options lvsd cannot pass on are warned about one by one.
            ("regex_options", YES),
            (
                "regex_stack",
                no("sizes PCRE2's JIT stack (lvsd uses PCRE2's default)"),
            ),
            ("status_code", YES),
            ("virtualhost", YES),
        ]],
    ),
    (Block::TcpCheck, &[COMMON_CHECK]),
    (
        Block::MiscCheck,
        &[&[
            ("alpha", YES),
            ("delay_before_retry", YES),
            ("delay_loop", YES),
            ("log_all_failures", YES),
            ("misc_dynamic", YES),
            ("misc_path", YES),
            ("misc_timeout", YES),
            ("retry", YES),
            ("user", YES),
            ("warmup", YES),
        ]],
    ),
    (Block::PingCheck, &[COMMON_CHECK]),
    (Block::UdpCheck, &[COMMON_CHECK, UDP_CHECK]),
    (Block::SmtpCheck, &[COMMON_CHECK, SMTP_CHECK]),
    (Block::SmtpHost, &[COMMON_CHECK]),
    (Block::DnsCheck, &[COMMON_CHECK, DNS_CHECK]),
    (Block::FileCheck, &[&[("track_file", YES), ("weight", YES)]]),
];

/// HTTP_CHECK's own keywords, beside [`COMMON_CHECK`].
const HTTP_CHECK: &[(&str, Support)] = &[
    ("enable_sni", YES),
    ("fast_recovery", YES),
    ("http_protocol", YES),
    ("nb_get_retry", YES),
    ("url", YES),
    ("virtualhost", YES),
];

/// UDP_CHECK's own keywords, beside [`COMMON_CHECK`].
const UDP_CHECK: &[(&str, Support)] = &[
    ("max_reply_length", YES),
    ("min_reply_length", YES),
    ("payload", YES),
    ("require_reply", YES),
];

/// SMTP_CHECK's own keywords, beside [`COMMON_CHECK`].
const SMTP_CHECK: &[(&str, Support)] = &[("helo_name", YES), ("host", YES)];

/// DNS_CHECK's own keywords, beside [`COMMON_CHECK`].
const DNS_CHECK: &[(&str, Support)] = &[("name", YES), ("type", YES)];

/// The keywords of `block`, in the table's order.
pub fn keywords(block: Block) -> impl Iterator<Item = (&'static str, Support)> {
    TABLE
        .iter()
        .filter(move |(b, _)| *b == block)
        .flat_map(|(_, parts)| parts.iter().flat_map(|part| part.iter().copied()))
}

/// The keywords of `block`, sorted by name (for the matrices).
fn sorted_keywords(block: Block) -> Vec<(&'static str, Support)> {
    let mut all: Vec<_> = keywords(block).collect();
    all.sort_by_key(|(k, _)| *k);
    all
}

/// What lvsd does with `keyword` in `block`; `None` for a keyword keepalived does not
/// accept there.
pub fn support(block: Block, keyword: &str) -> Option<Support> {
    keywords(block).find(|(k, _)| *k == keyword).map(|(_, s)| s)
}

/// Whether a keyword is accepted only to be warned about: lowering skips its block.
pub fn not_implemented(block: Block, keyword: &str) -> bool {
    matches!(support(block, keyword), Some(Support::NotImplemented(_)))
}

/// The README's compatibility matrix, generated from [`TABLE`].
pub fn markdown_matrix() -> String {
    let mut out = String::new();
    out.push_str(
        "| block | implemented | partly (warned) | not implemented (warned, no effect) |\n\
         |---|---:|---:|---:|\n",
    );
    for block in Block::ALL {
        let kws = sorted_keywords(block);
        let count = |f: fn(&Support) -> bool| kws.iter().filter(|(_, s)| f(s)).count();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            block.name(),
            count(|s| matches!(s, Support::Implemented)),
            count(|s| matches!(s, Support::Partly(_))),
            count(|s| matches!(s, Support::NotImplemented(_))),
        ));
    }
    for block in Block::ALL {
        let kws = sorted_keywords(block);
        out.push_str(&format!("\n**`{}`**\n\n", block.name()));
        let implemented: Vec<String> = kws
            .iter()
            .filter(|(_, s)| matches!(s, Support::Implemented))
            .map(|(k, _)| format!("`{k}`"))
            .collect();
        if !implemented.is_empty() {
            out.push_str(&format!("- implemented: {}\n", implemented.join(", ")));
        }
        for (k, s) in kws.iter() {
            match s {
                Support::Implemented => {}
                Support::Partly(what) => out.push_str(&format!("- `{k}`: partly: {what}\n")),
                Support::NotImplemented(what) => {
                    out.push_str(&format!("- `{k}`: not implemented (keepalived {what})\n"))
                }
            }
        }
    }
    out
}

/// The same facts as [`markdown_matrix`], as roff for the `lvsd-keepalived.conf(5)` man
/// page: per block, the implemented keywords in one paragraph and each other keyword
/// with what lvsd does not do (and keepalived would).
pub fn roff_matrix(page: &mut roff::Roff) {
    use roff::{bold, roman};
    for block in Block::ALL {
        let kws = sorted_keywords(block);
        page.control("SS", [block.name()]);
        let implemented: Vec<&str> = kws
            .iter()
            .filter(|(_, s)| matches!(s, Support::Implemented))
            .map(|(k, _)| *k)
            .collect();
        if !implemented.is_empty() {
            page.control("PP", [])
                .text([roman("Implemented: "), bold(implemented.join(", "))]);
        }
        for (k, s) in kws.iter() {
            let text = match s {
                Support::Implemented => continue,
                Support::Partly(what) => format!("partly: {what}"),
                Support::NotImplemented(what) => {
                    format!("not implemented, no effect (keepalived {what})")
                }
            };
            page.control("TP", []).text([bold(*k)]).text([roman(text)]);
        }
    }
}
