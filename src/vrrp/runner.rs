//! The tokio task that drives the pure core: it feeds received adverts,
//! timer expiries and tracking changes into `VrrpSet` and performs the
//! actions it returns (send, VIPs, GARP, notify). No protocol logic here.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use super::config::{
    InstanceConfig, RouteConfig, RouteKind, ScriptConfig, TrackConfig, TrackFileConfig, TrackId,
    VipConfig,
};
use super::fsm::{Action, Instance, State};
use super::garp::{self, GarpSender, NaSender};
use super::notify;
use super::packet::{self, Family, MCAST_V4, MCAST_V6};
use super::process_track::ProcessSpec;
use super::reload::InstancePlan;
use super::socket::{RecvSocket, SendSocket};
use super::sync_group::{InstanceAction, SyncGroupConfig, VrrpSet};
use super::takeover::InProgress;
use super::track::{ScriptOutcome, ScriptTracker};
use super::vip::{Netlink, NetlinkError};
use super::vmac;
use crate::track_file::WatchedFiles;

/// Everything the VRRP runner needs, already translated from keepalived.conf.
#[derive(Debug, Clone, Default)]
pub struct VrrpConfig {
    pub instances: Vec<InstanceConfig>,
    pub sync_groups: Vec<SyncGroupConfig>,
    pub scripts: Vec<ScriptConfig>,
    /// The `track_file`s the instances track.
    pub track_files: Vec<TrackFileConfig>,
    /// `vrrp_startup_delay`: instances start this long after lvsd.
    pub startup_delay: Duration,
    /// `enable_script_security`: how scripts are vetted at (re)load
    /// ([`crate::script_security`]).
    pub script_security: bool,
    /// `static_ipaddress` / `static_routes` / `static_rules`.
    pub statics: super::config::StaticConfig,
    /// `startup_script` / `shutdown_script`: run by whoever runs the daemon (see
    /// [`run_start_stop_script`]), not by the runner.
    pub start_stop: super::config::StartStopScripts,
    /// Where `no_accept` rules go.
    pub firewall: super::firewall::FirewallConfig,
    /// The `vrrp_track_process` specs some instance tracks.
    pub processes: Vec<ProcessSpec>,
    /// `dynamic_interfaces`: an instance whose interface does not exist yet
    /// waits for it (in FAULT) instead of stopping VRRP.
    pub dynamic_interfaces: bool,
}

/// `dynamic_interfaces`: splits off the instances whose interface does not
/// exist now (they wait, reported in FAULT), and takes them out of their
/// sync groups for as long. Without `dynamic_interfaces` nothing is split:
/// a missing interface then stops VRRP, as in keepalived.
async fn split_waiting(nl: &Netlink, mut config: VrrpConfig) -> (VrrpConfig, Vec<InstanceConfig>) {
    if !config.dynamic_interfaces {
        return (config, Vec::new());
    }
    let mut present = Vec::new();
    let mut waiting = Vec::new();
    for inst in std::mem::take(&mut config.instances) {
        if usable(nl, &inst).await {
            present.push(inst);
        } else {
            waiting.push(inst);
        }
    }
    for g in &mut config.sync_groups {
        g.members.retain(|m| present.iter().any(|i| i.name == *m));
    }
    config.sync_groups.retain(|g| !g.members.is_empty());
    config.instances = present;
    (config, waiting)
}

/// Whether an instance's interface exists and has an address to send from
/// (keepalived also waits in FAULT for "no IPv4 address for interface").
async fn usable(nl: &Netlink, inst: &InstanceConfig) -> bool {
    let Ok(link) = nl.link(&inst.interface).await else {
        return false;
    };
    if inst.src_addr.is_some() {
        return true;
    }
    let vips: Vec<IpAddr> = inst.vips.iter().map(|v| v.addr).collect();
    nl.primary_address(
        &inst.interface,
        link.index,
        inst.family == Family::V6,
        &vips,
    )
    .await
    .is_ok_and(|a| a.is_some())
}

/// The interfaces of running instances (their own, or the VMAC's base) that
/// exist again, usable, under a new index: deleted and created again since
/// the instance's sockets were opened (`dynamic_interfaces`).
async fn recreated_interfaces(driver: &Driver, set: &VrrpSet) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (inst, io) in set.instances().iter().zip(&driver.ios) {
        let cfg = inst.config();
        if out.contains(&cfg.interface) {
            continue;
        }
        let Ok(link) = driver.nl.link(&cfg.interface).await else {
            continue;
        };
        if link.index == io.ifindex {
            continue;
        }
        // Not before it has an address to send from again.
        let vips: Vec<IpAddr> = cfg.vips.iter().map(|v| v.addr).collect();
        let v6 = cfg.family == Family::V6;
        if !matches!(
            driver
                .nl
                .primary_address(&cfg.interface, link.index, v6, &vips)
                .await,
            Ok(Some(_))
        ) {
            continue;
        }
        out.insert(cfg.interface.clone());
        // Its VMAC went with it, and the VMAC's sockets too.
        if io.vip_dev != cfg.interface {
            out.insert(io.vip_dev.clone());
        }
    }
    out
}

/// Reports instances waiting for their interface as keepalived does: FAULT,
/// with their notify scripts and events.
fn report_waiting(waiting: &[InstanceConfig]) {
    for inst in waiting {
        tracing::warn!(
            "({}) interface {} does not exist - entering FAULT state until it is created \
             (dynamic_interfaces)",
            inst.name,
            inst.interface
        );
        notify_instance(inst, State::Fault, inst.priority);
    }
}

/// An instance entered `state`: its notify scripts run and the event is published.
fn notify_instance(cfg: &InstanceConfig, state: State, priority: u8) {
    let cmds = notify::commands(&cfg.notify, "INSTANCE", &cfg.name, state, priority);
    notify::spawn_all(&cmds);
    crate::events::publish(crate::events::Event::Instance {
        name: cfg.name.as_str().into(),
        state: crate::events::VrrpState::from_fsm(state),
        priority,
    });
}

/// The takeover phases `perform` stamps after their action.
#[derive(Debug, Clone, Copy)]
enum Phase {
    VipsAdded,
    GarpSent,
    NotifyDone,
}

#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    /// Write a JSON array of instance snapshots here whenever something changes.
    pub state_file: Option<PathBuf>,
    /// `--dont-release-vrrp`: leave VIPs in place on exit.
    pub dont_release_vrrp: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("vrrp_instance {instance}: {what}: {source}")]
    Socket {
        instance: String,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "vrrp_instance {instance}: interface {interface} has no {family} address to send from"
    )]
    NoSourceAddress {
        instance: String,
        interface: String,
        family: &'static str,
    },
    #[error(transparent)]
    SyncGroup(#[from] super::sync_group::SyncGroupError),
    #[error("{what}: {source}")]
    RunAs {
        what: String,
        #[source]
        source: notify::RunAsError,
    },
}

/// Per-instance I/O resources.
struct InstanceIo {
    ifindex: u32,
    src: IpAddr,
    sender: SendSocket,
    destinations: Vec<IpAddr>,
    /// One announcer per interface that holds VIPs: a VIP's gratuitous ARP
    /// or NA leaves from its own interface with that interface's MAC, as in
    /// keepalived (neighbours on another segment must learn it too).
    announcers: BTreeMap<u32, Announcer>,
    /// VIPs with their resolved interface (name, index).
    vips: Vec<(VipConfig, String, u32)>,
    /// Where VIPs without `dev` go: the VMAC, else the instance's interface.
    vip_dev: String,
    vip_ifindex: u32,
    /// `virtual_routes` with their resolved output interface.
    routes: Vec<(RouteConfig, Option<u32>)>,
}

enum Event {
    Packet {
        interface: String,
        bytes: Vec<u8>,
        meta: packet::RxMeta,
    },
    BadPacket {
        interface: String,
        error: packet::PacketError,
    },
    Track {
        id: TrackId,
        up: bool,
    },
    /// A tracked file's number.
    TrackValue {
        id: TrackId,
        value: i32,
    },
    /// Every address on the machine's interfaces, after a change.
    Addresses(BTreeSet<IpAddr>),
    /// The kernel deleted a route or a rule (lvsd's own or not).
    RouteDeleted(super::route_watch::KernelKey),
    /// Every route and rule, listed after the watching socket lost messages.
    RoutesListed(super::route_watch::Present),
    /// A tracked script ran (for its run counts and durations).
    ScriptRan {
        name: String,
        outcome: ScriptOutcome,
        seconds: f64,
    },
}

/// Run VRRP until `shutdown` resolves; then hand over (priority 0), drop VIPs and return.
pub async fn run(
    config: VrrpConfig,
    options: RunnerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunnerError> {
    let (_keep, reloads) = mpsc::channel(1);
    run_reloadable(config, options, reloads, shutdown).await
}

/// Check that every notify script's user exists (as keepalived does at start).
fn check_notify_users(config: &VrrpConfig) -> Result<(), RunnerError> {
    let notifies = config
        .instances
        .iter()
        .map(|i| (format!("vrrp_instance {}", i.name), &i.notify))
        .chain(
            config
                .sync_groups
                .iter()
                .map(|g| (format!("vrrp_sync_group {}", g.name), &g.notify)),
        );
    for (what, n) in notifies {
        for c in n.all() {
            notify::resolve(c.run_as.as_ref()).map_err(|source| RunnerError::RunAs {
                what: what.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

/// Fill in what the translation cannot know: the tracked primary interface,
/// initial link states, scripts' last known state (on reload), source
/// addresses; and open each instance's I/O.
async fn prepare(
    nl: &Netlink,
    config: &mut VrrpConfig,
    known: &BTreeMap<TrackId, bool>,
    starting: bool,
    vmacs: &mut VmacHost,
) -> Result<Vec<InstanceIo>, RunnerError> {
    check_notify_users(config)?;
    // The VMACs first, so that tracking a VMAC by name sees it.
    vmacs.setup(nl, config).await?;
    // init_file, then each tracked file's value now.
    let mut values: BTreeMap<String, i32> = BTreeMap::new();
    for f in &config.track_files {
        let value = crate::track_file::init_and_read(&f.name, &f.path, f.init, starting);
        values.insert(f.name.clone(), value);
    }
    // A tracked script's user must exist too (unused scripts never run).
    let tracked = |name: &str| {
        config.instances.iter().any(|i| {
            i.tracks
                .iter()
                .any(|t| matches!(&t.id, TrackId::Script(n) if n == name))
        })
    };
    for script in config.scripts.iter().filter(|s| tracked(&s.name)) {
        notify::resolve(script.run_as.as_ref()).map_err(|source| RunnerError::RunAs {
            what: format!("vrrp_script {}", script.name),
            source,
        })?;
    }
    // The instance's own interface is tracked unless `dont_track_primary`.
    for inst in &mut config.instances {
        if !inst.dont_track_primary {
            let id = TrackId::Interface(inst.interface.clone());
            if !inst.tracks.iter().any(|t| t.id == id) {
                inst.tracks.push(TrackConfig {
                    id,
                    weight: 0,
                    reverse: false,
                    initially_up: true,
                    initial_value: 0,
                });
            }
        }
    }
    // Initial link states, so an instance on a down link starts in FAULT.
    for inst in &mut config.instances {
        for t in &mut inst.tracks {
            match &t.id {
                TrackId::Interface(name) => {
                    t.initially_up = nl.link(name).await.map(|l| l.up).unwrap_or(false);
                }
                TrackId::Script(_) => {
                    if let Some(up) = known.get(&t.id) {
                        t.initially_up = *up;
                    }
                }
                TrackId::File(name) => t.initial_value = values.get(name).copied().unwrap_or(0),
                // Reported by the address watcher and the process scan as
                // soon as they start (a process has known state from before
                // a reload).
                TrackId::Address(_) => {}
                TrackId::Process(_) => {
                    if let Some(up) = known.get(&t.id) {
                        t.initially_up = *up;
                    }
                }
            }
        }
    }
    let mut ios = Vec::new();
    for inst in &mut config.instances {
        ios.push(open_instance(nl, inst).await?);
    }
    Ok(ios)
}

/// `promote_secondaries`: sets the sysctl on each such instance's interface
/// that does not have it yet (so deleting one VIP does not take the others
/// with it), and returns those interfaces, to reset at stop as keepalived
/// does. Interfaces that already had it are left alone.
fn promote_secondaries(config: &VrrpConfig) -> Vec<String> {
    let mut changed: Vec<String> = Vec::new();
    for inst in config.instances.iter().filter(|i| i.promote_secondaries) {
        let path = promote_path(&inst.interface);
        let on = std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1");
        if on || changed.contains(&inst.interface) {
            continue;
        }
        if set_promote_secondaries(&inst.interface, true) {
            changed.push(inst.interface.clone());
        }
    }
    changed
}

fn promote_path(interface: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{interface}/promote_secondaries")
}

fn set_promote_secondaries(interface: &str, on: bool) -> bool {
    match std::fs::write(promote_path(interface), if on { "1\n" } else { "0\n" }) {
        Ok(()) => {
            tracing::info!("{interface}: promote_secondaries set to {}", u8::from(on));
            true
        }
        Err(e) => {
            tracing::error!("{interface}: setting promote_secondaries: {e}");
            false
        }
    }
}

/// The RFC's multicast group for a family.
fn default_group(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(MCAST_V4),
        Family::V6 => IpAddr::V6(MCAST_V6),
    }
}

/// Background tasks feeding the event channel; reloads add to them.
struct Feeds {
    tx: mpsc::Sender<Event>,
    /// The receive socket of each (interface, IPv6?) pair, and the multicast
    /// groups it has joined.
    receivers: BTreeMap<(String, bool), (Arc<RecvSocket>, BTreeSet<IpAddr>)>,
    /// The task reading each receive socket, by the same key.
    receiver_tasks: BTreeMap<(String, bool), tokio::task::JoinHandle<()>>,
    link_poller: Option<tokio::task::JoinHandle<()>>,
    /// `track_src_ip`: the addresses watched, and the watching task.
    address_watcher: Option<(BTreeSet<IpAddr>, tokio::task::JoinHandle<()>)>,
    /// Every address change, to notice VIPs deleted behind lvsd's back.
    vip_watcher: tokio::task::JoinHandle<()>,
    /// Every route and rule deletion, likewise for routes and rules.
    route_watcher: tokio::task::JoinHandle<()>,
    /// `vrrp_track_process`: the specs scanned for, and the scanning task.
    process_scanner: Option<(Vec<ProcessSpec>, tokio::task::JoinHandle<()>)>,
    /// The tracked files being watched, and the watching task.
    file_watcher: Option<(WatchedFiles, tokio::task::JoinHandle<()>)>,
    /// Running tracked scripts (a reload keeps an unchanged one, and its fall/rise state).
    scripts: BTreeMap<String, (ScriptConfig, tokio::task::JoinHandle<()>)>,
}

impl Feeds {
    fn abort_all(self) {
        for (_, t) in self.receiver_tasks {
            t.abort();
        }
        if let Some(t) = self.link_poller {
            t.abort();
        }
        if let Some((_, t)) = self.address_watcher {
            t.abort();
        }
        self.vip_watcher.abort();
        self.route_watcher.abort();
        if let Some((_, t)) = self.process_scanner {
            t.abort();
        }
        if let Some((_, t)) = self.file_watcher {
            t.abort();
        }
        for (_, (_, t)) in self.scripts {
            t.abort();
        }
    }

    /// Open the receive sockets `config` needs and does not have yet (extra
    /// ones are harmless: adverts no instance matches are ignored).
    fn open_receivers(
        &mut self,
        config: &VrrpConfig,
        ios: &[InstanceIo],
    ) -> Result<(), RunnerError> {
        // One receive socket per (interface, family), joined to the groups of
        // the multicast instances on it.
        for (inst, io) in config.instances.iter().zip(ios) {
            // The VMAC's own socket for an instance sending from it: frames from a
            // peer with the same virtual MAC reach only the local VMAC.
            let dev = inst.advert_interface().to_string();
            let ifindex = if dev == inst.interface {
                io.ifindex
            } else {
                io.vip_ifindex
            };
            let key = (dev.clone(), inst.family == Family::V6);
            if let Some((sock, joined)) = self.receivers.get_mut(&key) {
                if inst.unicast_peers.is_empty() && joined.insert(inst.group()) {
                    sock.join(inst.group(), ifindex)
                        .map_err(|source| RunnerError::Socket {
                            instance: inst.name.clone(),
                            what: format!("joining {} on {dev}", inst.group()),
                            source,
                        })?;
                }
                continue;
            }
            let socket_error = |what: String, source| RunnerError::Socket {
                instance: inst.name.clone(),
                what,
                source,
            };
            let sock = RecvSocket::open(inst.family, &dev)
                .map_err(|e| socket_error(format!("opening VRRP receive socket on {dev}"), e))?;
            let mut joined = BTreeSet::new();
            // The RFC's group always, as before (a unicast instance's socket
            // joined it too); the instance's own when it differs.
            for group in [default_group(inst.family), inst.group()] {
                if joined.insert(group) {
                    sock.join(group, ifindex)
                        .map_err(|e| socket_error(format!("joining {group} on {dev}"), e))?;
                }
            }
            let sock = Arc::new(sock);
            self.receivers.insert(key.clone(), (sock.clone(), joined));
            let tx = self.tx.clone();
            let interface = dev;
            let task = tokio::spawn(async move {
                loop {
                    let ev = match sock.recv().await {
                        Ok(Ok((bytes, meta))) => Event::Packet {
                            interface: interface.clone(),
                            bytes,
                            meta,
                        },
                        Ok(Err(error)) => Event::BadPacket {
                            interface: interface.clone(),
                            error,
                        },
                        Err(e) => {
                            tracing::warn!("receiving on {interface}: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
            });
            self.receiver_tasks.insert(key, task);
        }

        Ok(())
    }

    /// Closes the receive sockets bound to interface `dev` (it was deleted;
    /// the next `open_receivers` binds new ones to the interface now of
    /// that name).
    fn close_receivers(&mut self, dev: &str) {
        self.receivers.retain(|(d, _), _| d != dev);
        self.receiver_tasks.retain(|(d, _), t| {
            if d == dev {
                t.abort();
            }
            d != dev
        });
    }

    /// Poll the links `config` tracks; run the scripts it tracks, keeping
    /// unchanged running ones (and their fall/rise state), stopping unused ones.
    /// A restarted script (changed settings) starts from its last known state.
    fn sync_tasks(
        &mut self,
        nl: &Netlink,
        config: &VrrpConfig,
        known: &BTreeMap<TrackId, bool>,
    ) -> Result<(), RunnerError> {
        // Tracked interfaces: poll link state (the first poll reports every
        // link; unchanged states are ignored by the state machine).
        if let Some(t) = self.link_poller.take() {
            t.abort();
        }
        let mut links: BTreeMap<String, Option<bool>> = BTreeMap::new();
        for inst in &config.instances {
            for t in &inst.tracks {
                if let TrackId::Interface(name) = &t.id {
                    links.insert(name.clone(), None);
                }
            }
        }
        // The interfaces of static addresses and routes too: they are put
        // back when their interface comes back up (no instance need track it).
        for dev in static_interfaces(&config.statics) {
            links.insert(dev, None);
        }
        if !links.is_empty() {
            let tx = self.tx.clone();
            let nl = nl.clone();
            self.link_poller = Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    for (name, was) in links.iter_mut() {
                        let up = nl.link(name).await.map(|l| l.up).unwrap_or(false);
                        if Some(up) != *was {
                            *was = Some(up);
                            let id = TrackId::Interface(name.clone());
                            if tx.send(Event::Track { id, up }).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }

        // track_src_ip: one watcher of the machine's addresses, replaced when
        // the set of tracked addresses changes.
        let addrs: BTreeSet<IpAddr> = config
            .instances
            .iter()
            .flat_map(|i| i.tracks.iter())
            .filter_map(|t| match t.id {
                TrackId::Address(a) => Some(a),
                _ => None,
            })
            .collect();
        if self.address_watcher.as_ref().map(|(a, _)| a) != Some(&addrs) {
            if let Some((_, t)) = self.address_watcher.take() {
                t.abort();
            }
            if !addrs.is_empty() {
                let tx = self.tx.clone();
                let watched = addrs.clone();
                let task = tokio::spawn(async move {
                    let (local_tx, mut local) = mpsc::channel::<BTreeSet<IpAddr>>(4);
                    let report = async {
                        let mut was: BTreeMap<IpAddr, bool> = BTreeMap::new();
                        while let Some(here) = local.recv().await {
                            for a in &watched {
                                let up = here.contains(a);
                                if was.insert(*a, up) != Some(up) {
                                    let id = TrackId::Address(*a);
                                    if tx.send(Event::Track { id, up }).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    };
                    tokio::select! {
                        () = crate::local_addrs::watch(local_tx) => {}
                        () = report => {}
                    }
                });
                self.address_watcher = Some((addrs, task));
            }
        }

        // vrrp_track_process: one /proc scan for every tracked spec, replaced
        // when the specs change (the scan reports each state again).
        if self.process_scanner.as_ref().map(|(p, _)| p) != Some(&config.processes) {
            if let Some((_, t)) = self.process_scanner.take() {
                t.abort();
            }
            if !config.processes.is_empty() {
                let specs = config.processes.clone();
                let tx = self.tx.clone();
                let task = tokio::spawn(async move {
                    let mut reporters =
                        vec![super::process_track::Reporter::default(); specs.len()];
                    let mut tick = tokio::time::interval(super::process_track::SCAN_INTERVAL);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let scanned = specs.clone();
                        // Hundreds of small reads: off the VRRP thread.
                        let Ok(counts) = tokio::task::spawn_blocking(move || {
                            super::process_track::scan(&scanned)
                        })
                        .await
                        else {
                            return;
                        };
                        let now = std::time::Instant::now();
                        for ((spec, r), n) in specs.iter().zip(&mut reporters).zip(counts) {
                            if let Some(up) = r.observe(spec, now, spec.up(n)) {
                                tracing::info!(
                                    "vrrp_track_process {}: {n} matching, {}",
                                    spec.name,
                                    if up { "up" } else { "down" }
                                );
                                let id = TrackId::Process(spec.name.clone());
                                if tx.send(Event::Track { id, up }).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                self.process_scanner = Some((config.processes.clone(), task));
            }
        }

        // Tracked files: one watcher for them all, replaced when the set changes.
        let files: WatchedFiles = config
            .track_files
            .iter()
            .map(|f| (f.name.clone(), f.path.clone()))
            .collect();
        if self.file_watcher.as_ref().map(|(f, _)| f) != Some(&files) {
            if let Some((_, t)) = self.file_watcher.take() {
                t.abort();
            }
            if !files.is_empty() {
                let watched = files.clone();
                let tx = self.tx.clone();
                let task = tokio::spawn(async move {
                    let event = |name, value| Event::TrackValue {
                        id: TrackId::File(name),
                        value,
                    };
                    if let Err(e) = crate::track_file::watch(watched, tx, event).await {
                        tracing::error!("track_file: cannot watch the tracked files: {e}");
                    }
                });
                self.file_watcher = Some((files, task));
            }
        }

        // Tracked scripts.
        let used: BTreeSet<String> = config
            .instances
            .iter()
            .flat_map(|i| i.tracks.iter())
            .filter_map(|t| match &t.id {
                TrackId::Script(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let wanted: Vec<&ScriptConfig> = config
            .scripts
            .iter()
            .filter(|s| used.contains(&s.name))
            .collect();
        let stale: Vec<String> = self
            .scripts
            .iter()
            .filter(|(name, (cfg, _))| !wanted.iter().any(|w| w.name == **name && *w == cfg))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some((_, t)) = self.scripts.remove(&name) {
                t.abort();
            }
        }
        for script in wanted {
            if self.scripts.contains_key(&script.name) {
                continue;
            }
            let creds =
                notify::resolve(script.run_as.as_ref()).map_err(|source| RunnerError::RunAs {
                    what: format!("vrrp_script {}", script.name),
                    source,
                })?;
            let script = script.clone();
            let tx = self.tx.clone();
            let task_script = script.clone();
            let initially_up = known
                .get(&TrackId::Script(script.name.clone()))
                .copied()
                .unwrap_or(!script.init_fail);
            let handle = tokio::spawn(async move {
                let script = task_script;
                let mut tracker = ScriptTracker::new(script.fall, script.rise, initially_up);
                let mut tick =
                    tokio::time::interval(script.interval.max(Duration::from_millis(10)));
                // A run that overran its interval is not followed by a burst of catch-up runs.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let started = std::time::Instant::now();
                    let outcome = run_script(&script, creds).await;
                    let ran = Event::ScriptRan {
                        name: script.name.clone(),
                        outcome,
                        seconds: started.elapsed().as_secs_f64(),
                    };
                    if tx.send(ran).await.is_err() {
                        return;
                    }
                    if let Some(up) = tracker.record(outcome) {
                        tracing::info!(
                            "VRRP script {} is now {}",
                            script.name,
                            if up { "up" } else { "down" }
                        );
                        let id = TrackId::Script(script.name.clone());
                        if tx.send(Event::Track { id, up }).await.is_err() {
                            return;
                        }
                    }
                }
            });
            self.scripts.insert(script.name.clone(), (script, handle));
        }
        Ok(())
    }
}

/// Like `run`, and each configuration received on `reloads` is applied in
/// place (`VrrpSet::reload`): kept instances keep their state, a kept
/// master changes only the VIPs that differ. A reload that cannot be
/// prepared (missing interface, socket error) is refused and logged; the
/// running configuration stays.
pub async fn run_reloadable(
    mut config: VrrpConfig,
    options: RunnerOptions,
    mut reloads: mpsc::Receiver<VrrpConfig>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunnerError> {
    let nl = Netlink::connect()?;
    let mut known: BTreeMap<TrackId, bool> = BTreeMap::new();
    let mut unreadable = super::drop_report::DropReporter::default();
    // dynamic_interfaces: the full configuration, and the instances waiting.
    let mut full_config = config.clone();
    let (present, mut waiting) = split_waiting(&nl, config).await;
    config = present;
    report_waiting(&waiting);
    let mut vmacs = VmacHost::default();
    let ios = match prepare(&nl, &mut config, &known, true, &mut vmacs).await {
        Ok(ios) => ios,
        Err(e) => {
            vmacs.teardown(&nl).await;
            return Err(e);
        }
    };
    let promoted = promote_secondaries(&config);

    // A crashed previous run may have left our VIPs behind: clear them.
    for (inst, io) in config.instances.iter().zip(&ios) {
        for (vip, dev, idx) in &io.vips {
            match nl.remove_vip(dev, *idx, vip).await {
                Ok(true) => tracing::info!(
                    "{}: removed stale VIP {}/{} from {dev}",
                    inst.name,
                    vip.addr,
                    vip.prefix_len
                ),
                Ok(false) => {}
                Err(e) => tracing::warn!("{}: {e}", inst.name),
            }
        }
    }

    // keepalived adds the static addresses, routes and rules at start, whatever the
    // VRRP state, and removes them at stop (vrrp_daemon.c).
    apply_statics(&nl, &Default::default(), &config.statics).await;

    let (tx, mut rx) = mpsc::channel::<Event>(1024);
    let vip_watcher = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let (local_tx, mut local) = mpsc::channel::<BTreeSet<IpAddr>>(4);
            let forward = async {
                while let Some(here) = local.recv().await {
                    if tx.send(Event::Addresses(here)).await.is_err() {
                        return;
                    }
                }
            };
            tokio::select! {
                () = crate::local_addrs::watch(local_tx) => {}
                () = forward => {}
            }
        })
    };
    let route_watcher = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let (local_tx, mut local) = mpsc::channel(64);
            let forward = async {
                while let Some(w) = local.recv().await {
                    let event = match w {
                        super::route_watch::Watched::Deleted(d) => Event::RouteDeleted(d),
                        super::route_watch::Watched::Resync(p) => Event::RoutesListed(p),
                    };
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            };
            tokio::select! {
                () = super::route_watch::watch(local_tx) => {}
                () = forward => {}
            }
        })
    };
    let mut feeds = Feeds {
        tx,
        vip_watcher,
        route_watcher,
        receivers: BTreeMap::new(),
        receiver_tasks: BTreeMap::new(),
        link_poller: None,
        address_watcher: None,
        process_scanner: None,
        file_watcher: None,
        scripts: BTreeMap::new(),
    };
    if let Err(e) = feeds
        .open_receivers(&config, &ios)
        .and_then(|()| feeds.sync_tasks(&nl, &config, &known))
    {
        feeds.abort_all();
        vmacs.teardown(&nl).await;
        return Err(e);
    }

    let instances = config
        .instances
        .iter()
        .cloned()
        .map(Instance::new)
        .collect();
    let mut set = match VrrpSet::new(instances, &config.sync_groups) {
        Ok(s) => s,
        Err(e) => {
            feeds.abort_all();
            vmacs.teardown(&nl).await;
            return Err(e.into());
        }
    };
    let mut driver = Driver {
        nl,
        ios,
        vmacs,
        statics: config.statics.clone(),
        firewall: config.firewall.clone(),
        blocked: Default::default(),
        held_vips: Default::default(),
        options,
        last_state: String::new(),
        last_state_key: Vec::new(),
        next_counter_write: std::time::Instant::now(),
        counters_pending: false,
        state_write_failing: false,
        takeovers: Default::default(),
        in_progress: Default::default(),
        state_since: std::collections::HashMap::new(),
        script_runs: BTreeMap::new(),
    };

    tokio::pin!(shutdown);
    if !config.startup_delay.is_zero() {
        tracing::info!(
            "vrrp_startup_delay: starting instances in {:?}",
            config.startup_delay
        );
        tokio::select! {
            _ = &mut shutdown => {
                feeds.abort_all();
                driver.vmacs.teardown(&driver.nl).await;
                return Ok(());
            }
            _ = tokio::time::sleep(config.startup_delay) => {}
        }
    }
    let acts = set.on_start(std::time::Instant::now());
    driver.perform(&set, acts).await;

    let mut reloads_open = true;
    let mut waiting_tick = tokio::time::interval(Duration::from_millis(500));
    waiting_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = set.deadline();
        let sleep = async {
            match deadline {
                Some(d) => {
                    let now = std::time::Instant::now();
                    tokio::time::sleep_until(TokioInstant::now() + d.saturating_duration_since(now))
                        .await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = sleep => {
                let acts = set.on_timer(std::time::Instant::now());
                driver.perform(&set, acts).await;
            }
            new = reloads.recv(), if reloads_open => {
                match new {
                    Some(new) => {
                        full_config = new.clone();
                        let (present, now_waiting) = split_waiting(&driver.nl, new).await;
                        let newly: Vec<InstanceConfig> = now_waiting
                            .iter()
                            .filter(|w| !waiting.iter().any(|o| o.name == w.name))
                            .cloned()
                            .collect();
                        report_waiting(&newly);
                        waiting = now_waiting;
                        reload(&mut set, &mut driver, &mut feeds, &known, present).await
                    }
                    None => reloads_open = false,
                }
            }
            _ = tokio::time::sleep_until(TokioInstant::from_std(driver.next_counter_write)),
                if driver.counters_pending => {
                driver.write_state(&set);
            }
            _ = waiting_tick.tick(), if !waiting.is_empty() || full_config.dynamic_interfaces => {
                let mut appeared = false;
                for w in &waiting {
                    if usable(&driver.nl, w).await {
                        tracing::info!("({}) interface {} created: starting", w.name, w.interface);
                        appeared = true;
                    }
                }
                // An interface deleted and created again (a new index): the
                // sockets bound to the old one are dead; open them again.
                let recreated = recreated_interfaces(&driver, &set).await;
                for dev in &recreated {
                    tracing::warn!("interface {dev} was created again: opening its VRRP sockets again");
                    feeds.close_receivers(dev);
                    appeared = true;
                }
                if appeared {
                    // Applied as a reload: the running instances stay as they are.
                    let (present, still) = split_waiting(&driver.nl, full_config.clone()).await;
                    waiting = still;
                    reload(&mut set, &mut driver, &mut feeds, &known, present).await;
                }
            }
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                let now = std::time::Instant::now();
                let acts = match ev {
                    Event::Packet { interface, bytes, meta } => {
                        set.on_packet(now, &interface, &bytes, &meta)
                    }
                    Event::BadPacket { interface, error } => {
                        if let Some(dropped) = unreadable.on_drop(now, &interface, &error) {
                            tracing::warn!(
                                "{interface}: {dropped} VRRP packet(s) dropped before reaching \
                                 an instance, the last: {error} (reported at most every {} s)",
                                super::fsm::DROP_REPORT_INTERVAL.as_secs()
                            );
                        }
                        Vec::new()
                    }
                    Event::Track { id, up } => {
                        let was = known.insert(id.clone(), up);
                        if let (TrackId::Interface(dev), true, Some(false)) = (&id, up, was) {
                            reinstate_statics(&driver.nl, &driver.statics, dev).await;
                        }
                        set.on_track(now, &id, up)
                    }
                    Event::TrackValue { id, value } => set.on_track_value(now, &id, value),
                    Event::ScriptRan { name, outcome, seconds } => {
                        // Written with the state (perform below, rate-limited).
                        driver.script_runs.entry(name).or_default().record(outcome, seconds);
                        Vec::new()
                    }
                    Event::RouteDeleted(d) => {
                        let gone = driver.deleted_routes(&set, &d).await;
                        let mut acts = Vec::new();
                        for i in gone {
                            acts.extend(set.on_vip_deleted(now, i));
                        }
                        acts
                    }
                    Event::RoutesListed(present) => {
                        let mut gone = std::collections::BTreeSet::new();
                        for d in driver.missing_routes(&set, &present) {
                            gone.extend(driver.deleted_routes(&set, &d).await);
                        }
                        let mut acts = Vec::new();
                        for i in gone {
                            acts.extend(set.on_vip_deleted(now, i));
                        }
                        acts
                    }
                    Event::Addresses(here) => {
                        reinstate_deleted_static_addresses(&driver.nl, &driver.statics, &here).await;
                        let gone = driver.deleted_vips(&set, &here).await;
                        let mut acts = Vec::new();
                        for i in gone {
                            acts.extend(set.on_vip_deleted(now, i));
                        }
                        acts
                    }
                };
                driver.perform(&set, acts).await;
            }
        }
    }

    let acts = set.on_shutdown(std::time::Instant::now());
    driver.perform(&set, acts).await;
    for interface in promoted {
        // As keepalived: put back what we changed.
        set_promote_secondaries(&interface, false);
    }
    if !driver.options.dont_release_vrrp {
        // As the VIPs, the rules go (--dont-release-vrrp leaves both).
        driver.clear_firewall().await;
    }
    feeds.abort_all();
    // keepalived removes its VMACs at stop (even with --dont-release-vrrp).
    driver.vmacs.teardown(&driver.nl).await;
    apply_statics(&driver.nl, &driver.statics, &Default::default()).await;
    Ok(())
}

/// Moves the static addresses, routes and rules from `old` to `new`: removes what is
/// only in `old` (rules, then routes, then addresses, as keepalived clears them), adds
/// what is only in `new` (addresses, routes, rules).
async fn apply_statics(
    nl: &Netlink,
    old: &super::config::StaticConfig,
    new: &super::config::StaticConfig,
) {
    use super::reload::diff;
    let rules = diff(&old.rules, &new.rules);
    let routes = diff(&old.routes, &new.routes);
    let addrs = diff(&old.addresses, &new.addresses);
    for rule in &rules.removed {
        match nl.remove_rule(rule).await {
            Ok(()) => tracing::info!("static_rules: removed {}", super::vip::rule_name(rule)),
            Err(e) => tracing::warn!("static_rules: {e}"),
        }
    }
    for route in &routes.removed {
        let idx = static_route_index(nl, route).await;
        if let Err(e) = nl.remove_route(route, idx).await {
            tracing::warn!("static_routes: {e}");
        }
    }
    for (addr, dev) in &addrs.removed {
        let Ok(link) = nl.link(dev).await else {
            continue;
        };
        match nl.remove_vip(dev, link.index, addr).await {
            Ok(_) => tracing::info!("static_ipaddress: removed {} from {dev}", addr.addr),
            Err(e) => tracing::warn!("static_ipaddress: {e}"),
        }
    }
    for (addr, dev) in &addrs.added {
        let link = match nl.link(dev).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("static_ipaddress {}: {e}", addr.addr);
                continue;
            }
        };
        match nl.add_vip(dev, link.index, addr).await {
            Ok(()) => tracing::info!("static_ipaddress: added {} on {dev}", addr.addr),
            Err(e) => tracing::error!("static_ipaddress: {e}"),
        }
    }
    for route in &routes.added {
        let idx = static_route_index(nl, route).await;
        if let Err(e) = nl.add_route(route, idx).await {
            tracing::error!("static_routes: {e}");
        }
    }
    for rule in &rules.added {
        match nl.add_rule(rule).await {
            Ok(()) => tracing::info!("static_rules: added {}", super::vip::rule_name(rule)),
            Err(e) => tracing::error!("static_rules: {e}"),
        }
    }
}

/// The interfaces static addresses (not `no_track`) and routes (`dev`) are on.
fn static_interfaces(statics: &super::config::StaticConfig) -> BTreeSet<String> {
    let addrs = statics
        .addresses
        .iter()
        .filter(|(a, _)| !a.options.no_track)
        .map(|(_, dev)| dev.clone());
    let routes = statics.routes.iter().filter_map(|r| r.dev.clone());
    addrs.chain(routes).collect()
}

/// An interface came back up: the static addresses on it that are gone
/// (deleted with the interface) and the static routes through it (the
/// kernel drops them when it goes down) are put back, as keepalived 2.2.7
/// does (static_track_group_reinstate_config).
async fn reinstate_statics(nl: &Netlink, statics: &super::config::StaticConfig, dev: &str) {
    let Ok(link) = nl.link(dev).await else {
        return;
    };
    for (addr, _) in statics
        .addresses
        .iter()
        .filter(|(a, d)| d == dev && !a.options.no_track)
    {
        if matches!(nl.has_address(dev, link.index, addr.addr).await, Ok(false)) {
            match nl.add_vip(dev, link.index, addr).await {
                Ok(()) => tracing::info!("static_ipaddress: {} put back on {dev}", addr.addr),
                Err(e) => tracing::warn!("static_ipaddress: {e}"),
            }
        }
    }
    for route in statics
        .routes
        .iter()
        .filter(|r| r.dev.as_deref() == Some(dev))
    {
        // Already there (the interface went down without losing it): refused, fine.
        match nl.add_route(route, Some(link.index)).await {
            Ok(()) => tracing::info!("static_routes: a route through {dev} put back"),
            Err(e) => tracing::debug!("static_routes: {e}"),
        }
    }
}

/// Static addresses (not `no_track`) deleted by someone else while their
/// interface is up are put back, as keepalived 2.2.7 does.
async fn reinstate_deleted_static_addresses(
    nl: &Netlink,
    statics: &super::config::StaticConfig,
    here: &BTreeSet<IpAddr>,
) {
    for (addr, dev) in &statics.addresses {
        if addr.options.no_track || here.contains(&addr.addr) {
            continue;
        }
        let Ok(link) = nl.link(dev).await else {
            continue;
        };
        if !link.up {
            continue;
        }
        match nl.add_vip(dev, link.index, addr).await {
            Ok(()) => tracing::info!(
                "static_ipaddress: {} deleted from {dev} by someone else, put back",
                addr.addr
            ),
            Err(e) => tracing::debug!("static_ipaddress: {e}"),
        }
    }
}

/// A static route's output interface: its `dev`, if any.
async fn static_route_index(nl: &Netlink, r: &RouteConfig) -> Option<u32> {
    let dev = r.dev.as_ref()?;
    match nl.link(dev).await {
        Ok(l) => Some(l.index),
        Err(e) => {
            tracing::error!("static_routes: {e}");
            None
        }
    }
}

/// Apply a new configuration in place; on any error before the state
/// machines change, log it and keep the running configuration.
async fn reload(
    set: &mut VrrpSet,
    driver: &mut Driver,
    feeds: &mut Feeds,
    known: &BTreeMap<TrackId, bool>,
    mut config: VrrpConfig,
) {
    let before: BTreeSet<String> = driver.vmacs.active.keys().cloned().collect();
    let ios = match prepare(&driver.nl, &mut config, known, false, &mut driver.vmacs).await {
        Ok(ios) => ios,
        Err(e) => {
            tracing::error!("VRRP reload refused, the running configuration stays: {e}");
            return;
        }
    };
    if let Err(e) = feeds.open_receivers(&config, &ios) {
        tracing::error!("VRRP reload refused, the running configuration stays: {e}");
        return;
    }
    let now = std::time::Instant::now();
    let reloaded = match set.reload(now, config.instances.clone(), &config.sync_groups) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("VRRP reload refused, the running configuration stays: {e}");
            return;
        }
    };
    for p in &reloaded.plan {
        match *p {
            InstancePlan::Keep { new, .. } => tracing::info!(
                "VRRP reload: {} kept in place ({:?})",
                config.instances[new].name,
                set.instances()[new].state()
            ),
            InstancePlan::Restart { new, reason, .. } => tracing::warn!(
                "VRRP reload: {} restarted: its {reason} changed and cannot be applied in place",
                config.instances[new].name
            ),
            InstancePlan::Add { new } => {
                tracing::info!("VRRP reload: {} added", config.instances[new].name)
            }
            InstancePlan::Remove { .. } => {}
        }
    }
    let old_ios = std::mem::replace(&mut driver.ios, ios);
    for stopped in reloaded.stopped {
        tracing::info!("VRRP reload: {} stopped", stopped.instance.config().name);
        if let Some(io) = old_ios.get(stopped.old_index) {
            let cfg = stopped.instance.config();
            for action in stopped.actions {
                // Released even under --dont-release-vrrp (which is about
                // the daemon stopping, not a reload dropping the instance).
                let action = match action {
                    Action::RemoveVips => Action::ChangeVips {
                        removed: cfg.vips.iter().chain(&cfg.excluded_vips).cloned().collect(),
                        added: Vec::new(),
                        removed_routes: cfg.routes.clone(),
                        added_routes: Vec::new(),
                        removed_rules: cfg.rules.clone(),
                        added_rules: Vec::new(),
                    },
                    other => other,
                };
                driver.act(&stopped.instance, io, None, action).await;
            }
        }
    }
    drop(old_ios);
    // The VMACs of instances that are gone (or whose VMAC changed name) go too.
    let wanted: BTreeSet<String> = config
        .instances
        .iter()
        .flat_map(|i| {
            let own = i
                .vips
                .iter()
                .chain(&i.excluded_vips)
                .filter(|v| v.options.own_vmac.is_some())
                .filter_map(|v| v.dev.clone());
            i.vmac
                .as_ref()
                .and_then(|v| v.name.clone())
                .into_iter()
                .chain(own)
        })
        .collect();
    for name in before.iter().filter(|n| !wanted.contains(*n)) {
        driver.vmacs.remove(&driver.nl, name).await;
    }
    apply_statics(&driver.nl, &driver.statics, &config.statics).await;
    driver.statics = config.statics.clone();
    if driver.firewall != config.firewall {
        // The rules move: out of the old table, into the new one.
        let blocked = driver
            .blocked
            .lock()
            .map(|b| b.iter().copied().collect::<Vec<_>>())
            .unwrap_or_default();
        driver.clear_firewall().await;
        driver.firewall = config.firewall.clone();
        if !blocked.is_empty() {
            driver.block("reload", &blocked, &[]).await;
        }
    }
    if let Err(e) = feeds.sync_tasks(&driver.nl, &config, known) {
        tracing::error!("VRRP reload: {e}");
    }
    driver.perform(set, reloaded.actions).await;
}

/// Sends a VIP's gratuitous ARP / unsolicited NA on one interface.
struct Announcer {
    garp: Option<std::sync::Arc<GarpSender>>,
    na: Option<std::sync::Arc<NaSender>>,
    mac: [u8; 6],
    /// The interface whose announcements are spaced together (a VMAC's
    /// base interface, as keepalived paces them).
    pace_ifindex: u32,
}

impl InstanceIo {
    /// The announcer of the interface `addr` is on (the VIP interface for
    /// an address the instance does not hold, which cannot happen).
    fn announcer(&self, addr: IpAddr) -> Option<&Announcer> {
        let idx = self
            .vips
            .iter()
            .find(|(v, _, _)| v.addr == addr)
            .map_or(self.vip_ifindex, |(_, _, idx)| *idx);
        self.announcers.get(&idx)
    }
}

/// `repeat` rounds of gratuitous ARP / unsolicited NA for `addrs`, each on
/// its own interface: at once, or, with `vrrp_garp_interval` /
/// `vrrp_gna_interval`, spaced by a task of their own so no advert waits for
/// them (and, as in keepalived, an address already waiting for its slot is
/// sent once, not once per round).
fn announce(io: &InstanceIo, cfg: &InstanceConfig, addrs: Vec<IpAddr>, repeat: u32) {
    let spacing = garp::Spacing {
        arp: cfg.garp.interval,
        na: cfg.garp.na_interval,
    };
    for _ in 0..repeat {
        for addr in &addrs {
            let Some(a) = io.announcer(*addr) else {
                continue;
            };
            if spacing.is_zero() {
                if let Err(e) = garp::announce(a.garp.as_deref(), a.na.as_deref(), a.mac, *addr) {
                    tracing::debug!("{}: announcing {addr}: {e}", cfg.name);
                }
            } else {
                garp::announce_spaced(
                    a.garp.clone(),
                    a.na.clone(),
                    a.mac,
                    a.pace_ifindex,
                    *addr,
                    spacing,
                );
            }
        }
    }
}

/// `garp_extra_if`: one announcement on each interface other than the
/// instance's own that holds a VIP (its first VIP there), and on the VMAC
/// too when adverts leave from the base interface (keepalived 2.2.7's
/// vrrp_send_vmac_update; translate enables it only where keepalived does).
fn announce_extra_interfaces(io: &InstanceIo, cfg: &InstanceConfig) {
    let xmit_base = cfg.vmac.as_ref().is_some_and(|v| v.xmit_base);
    let mut done = BTreeSet::new();
    for (vip, _, idx) in &io.vips {
        let own_interface = *idx == io.vip_ifindex;
        // Without `all`, VMACs only (the VIPs' own, or the instance's).
        let vmac = vip.options.own_vmac.is_some() || (own_interface && cfg.vmac.is_some());
        if !vmac && !cfg.garp.extra_if_all {
            continue;
        }
        if own_interface && !xmit_base {
            continue;
        }
        if done.insert(*idx) {
            announce(io, cfg, vec![vip.addr], 1);
        }
    }
}

async fn open_instance(nl: &Netlink, inst: &mut InstanceConfig) -> Result<InstanceIo, RunnerError> {
    let link = nl.link(&inst.interface).await?;
    let vip_addrs: Vec<IpAddr> = inst.vips.iter().map(|v| v.addr).collect();
    // `track_src_ip`: FAULT while the source address is gone (see README:
    // keepalived 2.2.7 documents this but stayed MASTER when tested).
    let track_src = inst.track_src_ip;
    let src = match inst.src_addr {
        Some(a) => a,
        None => nl
            .primary_address(
                &inst.interface,
                link.index,
                inst.family == Family::V6,
                &vip_addrs,
            )
            .await?
            .ok_or_else(|| RunnerError::NoSourceAddress {
                instance: inst.name.clone(),
                interface: inst.interface.clone(),
                family: if inst.family == Family::V6 {
                    "IPv6"
                } else {
                    "IPv4"
                },
            })?,
    };
    inst.src_addr = Some(src);
    if track_src {
        let id = TrackId::Address(src);
        if !inst.tracks.iter().any(|t| t.id == id) {
            inst.tracks.push(TrackConfig {
                id,
                weight: 0,
                reverse: false,
                initially_up: true,
                initial_value: 0,
            });
        }
    }
    // With a VMAC, VIPs go on it and adverts leave from it (unless `vmac_xmit_base`).
    let vmac = inst
        .vmac
        .as_ref()
        .and_then(|v| Some((v.name.clone()?, v.xmit_base)));
    let (vip_dev, vip_link) = match &vmac {
        Some((name, _)) => (name.clone(), nl.link(name).await?),
        None => (inst.interface.clone(), link.clone()),
    };
    let (send_dev, send_index) = match &vmac {
        Some((name, false)) => (name.clone(), vip_link.index),
        _ => (inst.interface.clone(), link.index),
    };
    if let (Some((name, false)), IpAddr::V6(_)) = (&vmac, src) {
        // keepalived puts the source link-local address on the VMAC to send from it.
        let ll = VipConfig {
            addr: src,
            prefix_len: 64,
            dev: None,
            label: None,
            scope: Some(253),
            brd: None,
            options: Default::default(),
        };
        if !nl
            .has_address(name, vip_link.index, src)
            .await
            .unwrap_or(false)
        {
            if let Err(e) = nl.add_vip(name, vip_link.index, &ll).await {
                tracing::warn!("{}: {e}", inst.name);
            }
        }
    }
    let sender =
        SendSocket::open(&send_dev, send_index, src, inst.unicast_ttl).map_err(|source| {
            RunnerError::Socket {
                instance: inst.name.clone(),
                what: format!("opening VRRP send socket from {src}"),
                source,
            }
        })?;
    let destinations = if inst.unicast_peers.is_empty() {
        vec![inst.group()]
    } else {
        inst.unicast_peers.iter().map(|p| p.addr).collect()
    };
    let mut vips = Vec::new();
    for v in inst.vips.iter().chain(&inst.excluded_vips) {
        let dev = vip_device(inst, &vip_dev, v);
        let idx = if dev == vip_dev {
            vip_link.index
        } else if dev == inst.interface {
            link.index
        } else {
            nl.link(&dev).await?.index
        };
        vips.push((v.clone(), dev, idx));
    }
    let mut routes = Vec::new();
    for r in &inst.routes {
        let idx = match (&r.dev, r.via, r.kind) {
            (Some(dev), _, _) => Some(nl.link(dev).await?.index),
            (None, None, RouteKind::Unicast) => Some(vip_link.index),
            _ => None,
        };
        routes.push((r.clone(), idx));
    }
    let mut announcers = BTreeMap::new();
    for (_, dev, idx) in &vips {
        if announcers.contains_key(idx) {
            continue;
        }
        let (mac, pace_ifindex) = if *idx == vip_link.index {
            (vip_link.mac, link.index)
        } else if *idx == link.index {
            (link.mac, link.index)
        } else {
            (nl.link(dev).await?.mac, *idx)
        };
        announcers.insert(
            *idx,
            Announcer {
                garp: GarpSender::open(*idx).ok().map(std::sync::Arc::new),
                na: Some(std::sync::Arc::new(NaSender::new(dev, *idx))),
                mac: mac.unwrap_or([0; 6]),
                pace_ifindex,
            },
        );
    }
    Ok(InstanceIo {
        ifindex: link.index,
        src,
        sender,
        destinations,
        announcers,
        vips,
        routes,
        vip_dev,
        vip_ifindex: vip_link.index,
    })
}

/// The interface a VIP goes on: its `dev`; without one (or naming the instance's
/// interface), the VMAC when the VIP is of the instance's family (keepalived
/// 2.2.7), else the instance's interface.
fn vip_device(inst: &InstanceConfig, vip_dev: &str, vip: &VipConfig) -> String {
    let on_own = vip.dev.as_ref().is_none_or(|d| *d == inst.interface);
    if on_own && Family::of(&vip.addr) == inst.family {
        vip_dev.to_string()
    } else {
        vip.dev.clone().unwrap_or_else(|| inst.interface.clone())
    }
}

/// The VMACs lvsd has in place, and the base interfaces' settings to put back.
#[derive(Default)]
struct VmacHost {
    /// VMAC name -> (its index, its base interface).
    active: BTreeMap<String, (u32, String)>,
    /// Base interface -> its values of [`vmac::BASE_SYSCTLS`] before its first VMAC.
    saved: BTreeMap<String, Vec<(&'static str, String)>>,
    /// `all.rp_filter` moved to `default` and the interfaces (put back at stop).
    rp_filter: Option<vmac::RpFilterPlan>,
    rp_filter_checked: bool,
}

/// `net.ipv4.conf.*.rp_filter` of `default` and every interface.
fn rp_filters() -> Vec<(String, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc/sys/net/ipv4/conf") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "all" {
                return None;
            }
            Some((name.clone(), read_sysctl(&name, "rp_filter")?))
        })
        .collect()
}

fn read_sysctl(interface: &str, name: &str) -> Option<u32> {
    let path = vmac::sysctl_path(false, interface, name);
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn write_sysctl(v6: bool, interface: &str, name: &str, value: &str) {
    let path = vmac::sysctl_path(v6, interface, name);
    if let Err(e) = std::fs::write(&path, value) {
        tracing::warn!("setting {}: {e}", path.display());
    }
}

impl VmacHost {
    /// Creates, adopts or fixes each instance's VMAC (keepalived's rules, see
    /// [`vmac::plan`]), sets the kernel settings keepalived sets and brings it up;
    /// the chosen name is written back into the instance's configuration.
    async fn setup(&mut self, nl: &Netlink, config: &mut VrrpConfig) -> Result<(), RunnerError> {
        let mut reserved: Vec<String> = Vec::new();
        for inst in &mut config.instances {
            let Some(cfg) = inst.vmac.as_mut() else {
                continue;
            };
            let base = nl.link(&inst.interface).await?;
            let links = nl.vmac_links().await?;
            // Our own VMAC from before a reload is the same instance's: adopt it.
            let plan = vmac::plan(cfg, inst.vrid, inst.family, base.index, &links, &reserved);
            // keepalived leaves the settings of an interface it adopts as they are (a
            // VMAC left by an earlier run has them already).
            let adopted = matches!(plan, vmac::VmacPlan::Adopt(_));
            let name = match plan {
                vmac::VmacPlan::Adopt(name) => {
                    if !self.active.contains_key(&name) {
                        tracing::info!("({}) Found matching interface {name}", inst.name);
                    }
                    name
                }
                vmac::VmacPlan::Update(name) => {
                    tracing::info!("({}) updating the MAC/mode of VMAC {name}", inst.name);
                    let idx = links.iter().find(|l| l.name == name).map_or(0, |l| l.index);
                    nl.update_vmac(&name, idx, cfg.mac).await?;
                    name
                }
                vmac::VmacPlan::Replace(name) => {
                    tracing::info!(
                        "({}) removing VMAC {name}: it is on another interface",
                        inst.name
                    );
                    if let Some(l) = links.iter().find(|l| l.name == name) {
                        nl.delete_link(&name, l.index).await?;
                    }
                    nl.create_vmac(&name, base.index, cfg.mac).await?;
                    name
                }
                vmac::VmacPlan::Create(name) => {
                    nl.create_vmac(&name, base.index, cfg.mac).await?;
                    tracing::info!("({}) created VMAC interface {name}", inst.name);
                    name
                }
            };
            let link = nl.link(&name).await?;
            self.active
                .insert(name.clone(), (link.index, inst.interface.clone()));
            // No IPv6 on an IPv4 instance's VMAC unless it holds IPv6 VIPs.
            let v6_vips = inst
                .vips
                .iter()
                .chain(&inst.excluded_vips)
                .any(|v| v.addr.is_ipv6() && v.options.own_vmac.is_none());
            if !adopted {
                self.configure(&name, &inst.interface, inst.family, v6_vips);
            }
            nl.set_link_up(&name, link.index).await?;
            reserved.push(name.clone());
            cfg.name = Some(name);
        }
        self.setup_own_vmacs(nl, config, &mut reserved).await
    }

    /// The VIPs' own VMACs (`use_vmac_addr`, a VIP's `use_vmac`): one per
    /// (interface, MAC), shared by the VIPs that want the same, named
    /// `PREFIX.VRID` as keepalived names them; each VIP's `dev` becomes its
    /// VMAC.
    async fn setup_own_vmacs(
        &mut self,
        nl: &Netlink,
        config: &mut VrrpConfig,
        reserved: &mut Vec<String>,
    ) -> Result<(), RunnerError> {
        for inst in &mut config.instances {
            let (interface, vrid, prefix) = (
                inst.interface.clone(),
                inst.vrid,
                inst.own_vmac_prefix.clone(),
            );
            for vip in inst.vips.iter_mut().chain(inst.excluded_vips.iter_mut()) {
                let Some(mac) = vip.options.own_vmac else {
                    continue;
                };
                let base_name = vip.dev.clone().unwrap_or_else(|| interface.clone());
                let base = nl.link(&base_name).await?;
                let links = nl.vmac_links().await?;
                let family = packet::Family::of(&vip.addr);
                // One of ours (or one left by an earlier run) with this MAC on
                // this interface: shared.
                let existing = links.iter().find(|l| {
                    l.macvlan == Some((base.index, true))
                        && l.mac == Some(mac)
                        && (self.active.contains_key(&l.name) || !reserved.contains(&l.name))
                });
                let name = match existing {
                    Some(l) => l.name.clone(),
                    None => {
                        let name = vmac::choose_name(&prefix, vrid, family, |n| {
                            links.iter().any(|l| l.name == n) || reserved.iter().any(|r| r == n)
                        });
                        nl.create_vmac(&name, base.index, mac).await?;
                        tracing::info!(
                            "({}) created VMAC interface {name} on {base_name} for {}",
                            inst.name,
                            vip.addr
                        );
                        name
                    }
                };
                if !self.active.contains_key(&name) {
                    let link = nl.link(&name).await?;
                    self.active
                        .insert(name.clone(), (link.index, base_name.clone()));
                    if existing.is_none() {
                        self.configure(&name, &base_name, family, family == packet::Family::V6);
                    }
                    nl.set_link_up(&name, link.index).await?;
                }
                if !reserved.contains(&name) {
                    reserved.push(name.clone());
                }
                vip.dev = Some(name);
            }
        }
        Ok(())
    }

    /// The kernel settings keepalived gives a VMAC it creates (and its base
    /// interface, put back when its last VMAC goes).
    fn configure(&mut self, name: &str, base: &str, family: packet::Family, v6_vips: bool) {
        match family {
            packet::Family::V4 => {
                if !self.rp_filter_checked {
                    self.rp_filter_checked = true;
                    let all = read_sysctl("all", "rp_filter").unwrap_or(0);
                    self.rp_filter = vmac::rp_filter_plan(all, &rp_filters());
                    if let Some(plan) = &self.rp_filter {
                        for (name, _) in &plan.raised {
                            write_sysctl(false, name, "rp_filter", &plan.all.to_string());
                        }
                        tracing::info!(
                            "setting net.ipv4.conf.all.rp_filter from {} to 0 (for the VMACs)",
                            plan.all
                        );
                        write_sysctl(false, "all", "rp_filter", "0");
                    }
                }
                for (key, value) in vmac::VMAC_SYSCTLS {
                    write_sysctl(false, name, key, &value.to_string());
                }
                if !self.saved.contains_key(base) {
                    let before = vmac::BASE_SYSCTLS
                        .iter()
                        .filter_map(|(key, _)| {
                            let path = vmac::sysctl_path(false, base, key);
                            let v = std::fs::read_to_string(path).ok()?;
                            Some((*key, v.trim().to_string()))
                        })
                        .collect();
                    for (key, value) in vmac::BASE_SYSCTLS {
                        write_sysctl(false, base, key, &value.to_string());
                    }
                    self.saved.insert(base.to_string(), before);
                }
                write_sysctl(true, name, "disable_ipv6", if v6_vips { "0" } else { "1" });
            }
            packet::Family::V6 => {
                // No link-local address made from the virtual MAC (RFC 5798 7.4).
                write_sysctl(true, name, "addr_gen_mode", "1");
                write_sysctl(true, name, "disable_ipv6", "0");
            }
        }
    }

    /// Deletes one VMAC; the last one on a base interface puts its settings back.
    async fn remove(&mut self, nl: &Netlink, name: &str) {
        let Some((index, base)) = self.active.remove(name) else {
            return;
        };
        match nl.delete_link(name, index).await {
            Ok(()) => tracing::info!("removed VMAC interface {name}"),
            Err(e) => tracing::warn!("{e}"),
        }
        if self.active.values().any(|(_, b)| *b == base) {
            return;
        }
        if let Some(before) = self.saved.remove(&base) {
            for (key, value) in before {
                write_sysctl(false, &base, key, &value);
            }
        }
    }

    async fn teardown(&mut self, nl: &Netlink) {
        let names: Vec<String> = self.active.keys().cloned().collect();
        for name in names {
            self.remove(nl, &name).await;
        }
        if let Some(plan) = self.rp_filter.take() {
            let all_now = read_sysctl("all", "rp_filter").unwrap_or(0);
            for (name, value) in plan.restore(all_now, &rp_filters()) {
                write_sysctl(false, &name, "rp_filter", &value.to_string());
            }
        }
        self.rp_filter_checked = false;
    }
}

async fn run_script(script: &ScriptConfig, creds: Option<notify::Credentials>) -> ScriptOutcome {
    // Its own process group, so a timeout also ends what the shell started.
    let spec = checkers::spawner::Script::shell(
        &script.command,
        notify::Credentials::ids(creds),
        checkers::spawner::Output::NoStdout,
        true,
    );
    let Ok(mut child) = checkers::spawner::spawn(&spec).await else {
        return ScriptOutcome::Failure;
    };
    let pgid = child.id();
    match tokio::time::timeout(script.timeout.max(Duration::from_millis(10)), child.wait()).await {
        Ok(Ok(st)) if st.success() => ScriptOutcome::Success,
        Ok(_) => ScriptOutcome::Failure,
        Err(_) => {
            checkers::misc::end_script_group(&mut child, pgid).await;
            ScriptOutcome::TimedOut
        }
    }
}

struct Driver {
    nl: Netlink,
    ios: Vec<InstanceIo>,
    /// `no_accept`: where the drop rules go, and the addresses they hold.
    firewall: super::firewall::FirewallConfig,
    blocked: std::sync::Mutex<std::collections::BTreeSet<IpAddr>>,
    /// The VIPs lvsd added and has not removed, by instance name: the ones
    /// whose deletion by someone else makes a master step back.
    held_vips: std::sync::Mutex<BTreeSet<(String, IpAddr)>>,
    vmacs: VmacHost,
    /// The static addresses, routes and rules in place.
    statics: super::config::StaticConfig,
    options: RunnerOptions,
    last_state: String,
    /// What the last write held of each instance's state and priority, and
    /// when counters alone may be written again.
    last_state_key: Vec<(super::fsm::State, u8)>,
    next_counter_write: std::time::Instant,
    /// A counters-only write was skipped: the loop writes it at
    /// `next_counter_write`, so status never lags by more than a second.
    counters_pending: bool,
    /// The last state write failed (a full disk): said once, not every second.
    state_write_failing: bool,
    /// Per instance name: its takeovers' phase times, and the one being
    /// performed.
    takeovers: std::collections::HashMap<String, super::takeover::TakeoverLog>,
    /// Per tracked script: its runs by result and their durations.
    script_runs: BTreeMap<String, super::track::ScriptRuns>,
    in_progress: std::collections::HashMap<String, InProgress>,
    /// Per instance name: the state last written and when it was entered
    /// (Unix seconds, with fractions), for `state_since` in the snapshots.
    state_since: std::collections::HashMap<String, (super::fsm::State, f64)>,
}

impl Driver {
    /// Adds `add` to and takes `remove` from the addresses `no_accept` drops
    /// traffic for, and loads the result.
    async fn block(&self, name: &str, add: &[IpAddr], remove: &[IpAddr]) {
        let ruleset = {
            let mut blocked = self
                .blocked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for a in remove {
                blocked.remove(a);
            }
            blocked.extend(add.iter().copied());
            super::firewall::ruleset(&self.firewall, &blocked)
        };
        let list = |a: &[IpAddr]| {
            a.iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match super::firewall::apply(&ruleset).await {
            Ok(()) if !add.is_empty() => tracing::info!(
                "({name}) no_accept: dropping traffic to and from {} (master, not the address owner)",
                list(add)
            ),
            Ok(()) => tracing::info!(
                "({name}) no_accept: no longer dropping traffic to and from {}",
                list(remove)
            ),
            Err(e) => tracing::error!("({name}) {e}"),
        }
    }

    /// Removes every `no_accept` rule (at stop, or when a reload moves the table).
    async fn clear_firewall(&self) {
        let had = {
            let mut blocked = self
                .blocked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let had = !blocked.is_empty();
            blocked.clear();
            had
        };
        if had {
            let ruleset = super::firewall::ruleset(&self.firewall, &Default::default());
            if let Err(e) = super::firewall::apply(&ruleset).await {
                tracing::error!("no_accept: removing the rules: {e}");
            }
        }
    }

    async fn perform(&mut self, set: &VrrpSet, actions: Vec<InstanceAction>) {
        for InstanceAction { instance, action } in actions {
            let Some(io) = self.ios.get(instance) else {
                continue;
            };
            let inst = &set.instances()[instance];
            let group_notify = match &action {
                Action::GroupNotify { group, .. } => set.group_notify(group),
                _ => None,
            };
            let phase = match &action {
                Action::Takeover { detection } => {
                    let at = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    let started = InProgress::start(std::time::Instant::now(), at, *detection);
                    self.in_progress.insert(inst.name().to_string(), started);
                    continue;
                }
                Action::AddVips => Some(Phase::VipsAdded),
                Action::Garp { .. } => Some(Phase::GarpSent),
                Action::Notify {
                    state: State::Master,
                    ..
                } => Some(Phase::NotifyDone),
                _ => None,
            };
            self.act(inst, io, group_notify, action).await;
            if let Some(phase) = phase {
                self.stamp(inst.name(), phase);
            }
        }
        self.write_state(set);
    }

    /// A phase of a takeover in progress is done (see [`super::takeover`]).
    fn stamp(&mut self, name: &str, phase: Phase) {
        let now = std::time::Instant::now();
        match phase {
            Phase::VipsAdded => {
                if let Some(p) = self.in_progress.get_mut(name) {
                    p.vips_added(now);
                }
            }
            Phase::GarpSent => {
                if let Some(p) = self.in_progress.get_mut(name) {
                    p.garp_sent(now);
                }
            }
            Phase::NotifyDone => {
                if let Some(p) = self.in_progress.remove(name) {
                    let done = p.notify_done(now);
                    self.takeovers
                        .entry(name.to_string())
                        .or_default()
                        .record(done);
                }
            }
        }
    }

    /// Notes a VIP lvsd added (`true`) or removed (`false`) for `name`.
    fn hold(&self, name: &str, addr: IpAddr, held: bool) {
        let mut h = match self.held_vips.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if held {
            h.insert((name.to_string(), addr));
        } else {
            h.remove(&(name.to_string(), addr));
        }
    }

    /// The masters that lost a tracked (not `no_track`) VIP to someone else:
    /// one lvsd added (and has not removed) that the machine's addresses
    /// lack, confirmed gone by a fresh look at its interface. A VIP lvsd
    /// failed to add is not held, so it is not "deleted" over and over.
    async fn deleted_vips(&self, set: &VrrpSet, here: &BTreeSet<IpAddr>) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, inst) in set.instances().iter().enumerate() {
            if inst.state() != State::Master {
                continue;
            }
            let Some(io) = self.ios.get(i) else { continue };
            let name = &inst.config().name;
            for (vip, dev, idx) in &io.vips {
                let held = match self.held_vips.lock() {
                    Ok(g) => g.contains(&(name.clone(), vip.addr)),
                    Err(p) => p.into_inner().contains(&(name.clone(), vip.addr)),
                };
                if vip.options.no_track || !held || here.contains(&vip.addr) {
                    continue;
                }
                // Gone with its interface (deleted, or down on the way out):
                // the interface's tracking decides (FAULT), as in keepalived.
                if !matches!(self.nl.link(dev).await, Ok(l) if l.index == *idx && l.up) {
                    continue;
                }
                if let Ok(false) = self.nl.has_address(dev, *idx, vip.addr).await {
                    tracing::warn!(
                        "({name}) VIP {} was deleted from {dev} by someone else: leaving MASTER \
                         to take over again and put it back (as keepalived; `no_track` on \
                         the VIP ignores this)",
                        vip.addr
                    );
                    self.hold(name, vip.addr, false);
                    out.push(i);
                    break;
                }
            }
        }
        out
    }

    /// A route or rule deletion: the masters that lost a tracked (not
    /// `no_track`) virtual route or rule, as keepalived 2.2.7 reacts
    /// (leave MASTER, take over again after Skew_Time, which puts it back);
    /// a static route or rule is put back at once. A route that went with
    /// its interface (down) is the interface tracking's business (FAULT).
    async fn deleted_routes(&self, set: &VrrpSet, d: &super::route_watch::KernelKey) -> Vec<usize> {
        for route in self
            .statics
            .routes
            .iter()
            .filter(|r| !r.no_track && d.is_route(r))
        {
            let idx = static_route_index(&self.nl, route).await;
            if idx.is_some() || route.dev.is_none() {
                match self.nl.add_route(route, idx).await {
                    Ok(()) => {
                        tracing::info!("static_routes: a route deleted by someone else put back")
                    }
                    Err(e) => tracing::debug!("static_routes: {e}"),
                }
            }
        }
        for rule in self.statics.rules.iter().filter(|r| d.is_rule(r)) {
            match self.nl.add_rule(rule).await {
                Ok(()) => tracing::info!(
                    "static_rules: {} deleted by someone else, put back",
                    super::vip::rule_name(rule)
                ),
                Err(e) => tracing::debug!("static_rules: {e}"),
            }
        }
        let mut out = Vec::new();
        for (i, inst) in set.instances().iter().enumerate() {
            if inst.state() != State::Master {
                continue;
            }
            let Some(io) = self.ios.get(i) else { continue };
            let cfg = inst.config();
            let mut lost = None;
            for (route, idx) in &io.routes {
                if route.no_track || !d.is_route(route) {
                    continue;
                }
                if let Some(idx) = idx {
                    let dev = self.nl.link_up_by_index(*idx).await;
                    if !matches!(dev, Ok(Some(up)) if up) {
                        continue;
                    }
                }
                lost = Some(format!("route to {}/{}", route.dst, route.prefix_len));
            }
            if let Some(rule) = cfg.rules.iter().find(|r| d.is_rule(r)) {
                lost = Some(super::vip::rule_name(rule));
            }
            if let Some(what) = lost {
                tracing::warn!(
                    "({}) {what} was deleted by someone else: leaving MASTER to take over \
                     again and put it back (as keepalived; `no_track` ignores this)",
                    cfg.name
                );
                out.push(i);
            }
        }
        out
    }

    /// After lost route messages: a deletion for each route and rule lvsd
    /// keeps (static ones, and the tracked virtual ones of its masters)
    /// that the kernel's listing lacks, each once; [`Self::deleted_routes`]
    /// then treats them as announced deletions.
    fn missing_routes(
        &self,
        set: &VrrpSet,
        present: &super::route_watch::Present,
    ) -> Vec<super::route_watch::KernelKey> {
        let mut out: Vec<super::route_watch::KernelKey> = Vec::new();
        let mut push = |d: Option<super::route_watch::KernelKey>| {
            if let Some(d) = d.filter(|d| !out.contains(d)) {
                out.push(d);
            }
        };
        for route in self.statics.routes.iter().filter(|r| !r.no_track) {
            push(present.missing_route(route));
        }
        for rule in &self.statics.rules {
            push(present.missing_rule(rule));
        }
        for (i, inst) in set.instances().iter().enumerate() {
            if inst.state() != State::Master {
                continue;
            }
            if let Some(io) = self.ios.get(i) {
                for (route, _) in io.routes.iter().filter(|(r, _)| !r.no_track) {
                    push(present.missing_route(route));
                }
            }
            for rule in &inst.config().rules {
                push(present.missing_rule(rule));
            }
        }
        out
    }

    /// The interface index of `dev` (the instance's own one without a lookup).
    async fn device_index(&self, io: &InstanceIo, cfg: &InstanceConfig, dev: &str) -> Option<u32> {
        if dev == io.vip_dev {
            return Some(io.vip_ifindex);
        }
        if dev == cfg.interface {
            return Some(io.ifindex);
        }
        match self.nl.link(dev).await {
            Ok(l) => Some(l.index),
            Err(e) => {
                tracing::error!("{}: {e}", cfg.name);
                None
            }
        }
    }

    async fn route_index(
        &self,
        io: &InstanceIo,
        cfg: &InstanceConfig,
        r: &RouteConfig,
    ) -> Option<u32> {
        match (&r.dev, r.via, r.kind) {
            (Some(dev), _, _) => self.device_index(io, cfg, dev).await,
            (None, None, RouteKind::Unicast) => Some(io.vip_ifindex),
            _ => None,
        }
    }

    async fn act(
        &self,
        inst: &Instance,
        io: &InstanceIo,
        group_notify: Option<&super::config::NotifyConfig>,
        action: Action,
    ) {
        let cfg = inst.config();
        match action {
            Action::Send(advert) => {
                for dst in &io.destinations {
                    let bytes = advert.to_bytes(inst.send_checksum(io.src, *dst));
                    if let Err(e) = io.sender.send_to(&bytes, *dst) {
                        tracing::warn!("{}: sending advert to {dst}: {e}", cfg.name);
                    }
                }
            }
            Action::SetTimer(_) => {} // the loop asks `set.deadline()` instead
            Action::Takeover { .. } => {} // timed by `perform`
            Action::AddVips => {
                if cfg.no_accept {
                    // The drop rules first: not one packet is accepted.
                    let addrs: Vec<IpAddr> = io.vips.iter().map(|(v, _, _)| v.addr).collect();
                    self.block(&cfg.name, &addrs, &[]).await;
                }
                for (vip, dev, idx) in &io.vips {
                    match self.nl.add_vip(dev, *idx, vip).await {
                        Ok(()) => {
                            self.hold(&cfg.name, vip.addr, true);
                            tracing::info!("{}: added VIP {} on {dev}", cfg.name, vip.addr)
                        }
                        Err(e) => tracing::error!("{}: {e}", cfg.name),
                    }
                }
                for (route, idx) in &io.routes {
                    if let Err(e) = self.nl.add_route(route, *idx).await {
                        tracing::error!("{}: {e}", cfg.name);
                    }
                }
                for rule in &cfg.rules {
                    if let Err(e) = self.nl.add_rule(rule).await {
                        tracing::error!("{}: {e}", cfg.name);
                    }
                }
            }
            Action::RemoveVips => {
                let addrs: Vec<IpAddr> = io.vips.iter().map(|(v, _, _)| v.addr).collect();
                garp::cancel_spaced(&addrs);
                for a in &addrs {
                    self.hold(&cfg.name, *a, false);
                }
                if self.options.dont_release_vrrp && inst.state() == State::Initialize {
                    return;
                }
                for rule in &cfg.rules {
                    if let Err(e) = self.nl.remove_rule(rule).await {
                        tracing::debug!("{}: {e}", cfg.name);
                    }
                }
                for (route, idx) in &io.routes {
                    if let Err(e) = self.nl.remove_route(route, *idx).await {
                        tracing::debug!("{}: {e}", cfg.name);
                    }
                }
                for (vip, dev, idx) in &io.vips {
                    match self.nl.remove_vip(dev, *idx, vip).await {
                        Ok(_) => {
                            tracing::info!("{}: removed VIP {} from {dev}", cfg.name, vip.addr)
                        }
                        Err(e) => tracing::error!("{}: {e}", cfg.name),
                    }
                }
                if cfg.no_accept {
                    let addrs: Vec<IpAddr> = io.vips.iter().map(|(v, _, _)| v.addr).collect();
                    self.block(&cfg.name, &[], &addrs).await;
                }
            }
            Action::Garp { repeat } => {
                let addrs = io.vips.iter().map(|(vip, _, _)| vip.addr).collect();
                announce(io, cfg, addrs, repeat);
            }
            Action::Notify { state, priority } => {
                tracing::info!("({}) Entering {} STATE", cfg.name, state.notify_word());
                notify_instance(cfg, state, priority);
            }
            Action::NotifyDeleted { priority } => {
                tracing::info!("({}) Deleted by the reload (notify_deleted)", cfg.name);
                notify::spawn_all(&notify::deleted_commands(&cfg.notify, &cfg.name, priority));
                crate::events::publish(crate::events::Event::Instance {
                    name: cfg.name.as_str().into(),
                    state: crate::events::VrrpState::Deleted,
                    priority,
                });
            }
            Action::MasterRxLowerPri { peer, priority } => {
                tracing::info!(
                    "({}) Received advert from {peer} with lower priority {priority}, ours {}",
                    cfg.name,
                    inst.effective_priority()
                );
                if let Some(script) = &cfg.notify.master_rx_lower_pri {
                    notify::spawn_all(std::slice::from_ref(script));
                }
                crate::events::publish(crate::events::Event::InstanceNote {
                    name: cfg.name.as_str().into(),
                    note: crate::events::InstanceNote::MasterRxLowerPri,
                    priority: inst.effective_priority(),
                });
            }
            Action::PriorityChanged { state, priority } => {
                tracing::info!("({}) Changing effective priority to {priority}", cfg.name);
                crate::events::publish(crate::events::Event::InstanceNote {
                    name: cfg.name.as_str().into(),
                    note: crate::events::InstanceNote::PriorityChanged {
                        master: state == State::Master,
                    },
                    priority,
                });
            }
            Action::GroupNotify { group, state } => {
                tracing::info!("(group {group}) Entering {} STATE", state.notify_word());
                if let Some(n) = group_notify {
                    // keepalived passes no meaningful priority for groups: 0.
                    notify::spawn_all(&notify::commands(n, "GROUP", &group, state, 0));
                }
                crate::events::publish(crate::events::Event::Group {
                    name: group.as_str().into(),
                    state: crate::events::VrrpState::from_fsm(state),
                });
            }
            Action::ConflictDetected {
                peer,
                conflict,
                dropped,
                first,
            } => {
                if first {
                    tracing::warn!(
                        "({}) advert from {peer} dropped: {conflict:?} (more of these are \
                         reported at most every {} s)",
                        cfg.name,
                        super::fsm::DROP_REPORT_INTERVAL.as_secs()
                    );
                } else {
                    tracing::warn!(
                        "({}) {dropped} adverts from {peer} dropped since the last report: {conflict:?}",
                        cfg.name
                    );
                }
            }
            Action::OldUnicastChecksumDetected { peer } => {
                tracing::info!(
                    "({}) {peer} uses the old unicast VRRPv3 checksum: sending it too",
                    cfg.name
                );
            }
            Action::ChangeVips {
                removed,
                added,
                removed_routes,
                added_routes,
                removed_rules,
                added_rules,
            } => {
                let gone: Vec<IpAddr> = removed.iter().map(|v| v.addr).collect();
                garp::cancel_spaced(&gone);
                if cfg.no_accept {
                    // A removed instance (not master any more) only unblocks.
                    let new: Vec<IpAddr> = if inst.state() == State::Master {
                        added.iter().map(|v| v.addr).collect()
                    } else {
                        Vec::new()
                    };
                    self.block(&cfg.name, &new, &gone).await;
                }
                for rule in &removed_rules {
                    if let Err(e) = self.nl.remove_rule(rule).await {
                        tracing::debug!("{}: {e}", cfg.name);
                    }
                }
                for route in &removed_routes {
                    let idx = self.route_index(io, cfg, route).await;
                    if let Err(e) = self.nl.remove_route(route, idx).await {
                        tracing::debug!("{}: {e}", cfg.name);
                    }
                }
                for vip in &removed {
                    self.hold(&cfg.name, vip.addr, false);
                    let dev = vip_device(cfg, &io.vip_dev, vip);
                    let Some(idx) = self.device_index(io, cfg, &dev).await else {
                        continue;
                    };
                    match self.nl.remove_vip(&dev, idx, vip).await {
                        Ok(_) => {
                            tracing::info!("{}: removed VIP {} from {dev}", cfg.name, vip.addr)
                        }
                        Err(e) => tracing::error!("{}: {e}", cfg.name),
                    }
                }
                for vip in &added {
                    let dev = vip_device(cfg, &io.vip_dev, vip);
                    let Some(idx) = self.device_index(io, cfg, &dev).await else {
                        continue;
                    };
                    match self.nl.add_vip(&dev, idx, vip).await {
                        Ok(()) => {
                            self.hold(&cfg.name, vip.addr, true);
                            tracing::info!("{}: added VIP {} on {dev}", cfg.name, vip.addr)
                        }
                        Err(e) => tracing::error!("{}: {e}", cfg.name),
                    }
                }
                for route in &added_routes {
                    let idx = self.route_index(io, cfg, route).await;
                    if let Err(e) = self.nl.add_route(route, idx).await {
                        tracing::error!("{}: {e}", cfg.name);
                    }
                }
                for rule in &added_rules {
                    if let Err(e) = self.nl.add_rule(rule).await {
                        tracing::error!("{}: {e}", cfg.name);
                    }
                }
            }
            Action::GarpAddrs { addrs, repeat } => announce(io, cfg, addrs, repeat),
            Action::GarpExtraInterfaces => announce_extra_interfaces(io, cfg),
        }
    }

    /// Writes the instances' snapshots for `lvsd status` and the metrics: at
    /// once when a state or priority changed, else (counters only) at most
    /// once a second, so a flood of adverts is not a flood of file writes.
    fn write_state(&mut self, set: &VrrpSet) {
        let Some(path) = &self.options.state_file else {
            return;
        };
        let key: Vec<(super::fsm::State, u8)> = set
            .instances()
            .iter()
            .map(|i| (i.state(), i.effective_priority()))
            .collect();
        let now_instant = std::time::Instant::now();
        if key == self.last_state_key && now_instant < self.next_counter_write {
            self.counters_pending = true;
            return;
        }
        self.counters_pending = false;
        self.last_state_key = key;
        self.next_counter_write = now_instant + Duration::from_secs(1);
        let mut snapshots = set.snapshots();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        for s in &mut snapshots {
            let entry = self
                .state_since
                .entry(s.name.clone())
                .or_insert((s.state, now));
            if entry.0 != s.state {
                *entry = (s.state, now);
            }
            s.state_since = Some(entry.1);
            if let Some(t) = self.takeovers.get(&s.name) {
                s.takeovers = t.clone();
            }
            for t in &mut s.tracks_up {
                if t.kind == "script" {
                    t.runs = self.script_runs.get(&t.name).cloned();
                }
            }
        }
        // A script no instance tracks any more leaves no counts behind.
        let tracked: BTreeSet<&str> = snapshots
            .iter()
            .flat_map(|s| s.tracks_up.iter())
            .filter(|t| t.kind == "script")
            .map(|t| t.name.as_str())
            .collect();
        self.script_runs
            .retain(|name, _| tracked.contains(name.as_str()));
        let json = match serde_json::to_string_pretty(&snapshots) {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!("serialising VRRP state: {e}");
                return;
            }
        };
        if json == self.last_state {
            return;
        }
        let tmp = path.with_extension("tmp");
        let res = std::fs::write(&tmp, &json).and_then(|_| std::fs::rename(&tmp, path));
        match res {
            Ok(()) => {
                self.last_state = json;
                if std::mem::take(&mut self.state_write_failing) {
                    tracing::info!("writing {} works again", path.display());
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                if !std::mem::replace(&mut self.state_write_failing, true) {
                    tracing::warn!(
                        "writing {}: {e} (lvsd status shows the last state written until \
                         this works again; VRRP is not affected)",
                        path.display()
                    );
                }
            }
        }
    }
}

/// Runs a `startup_script` or `shutdown_script` and waits for it, as keepalived 2.2.7
/// does: a failure is logged only; past `timeout` the script's process group gets
/// SIGTERM, then SIGKILL, and lvsd carries on.
pub async fn run_start_stop_script(
    what: &str,
    cmd: &super::config::NotifyCommand,
    timeout: Duration,
) {
    tracing::info!("running {what} {}", cmd.command);
    let creds = match notify::resolve(cmd.run_as.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{what}: {e}");
            return;
        }
    };
    let argv = crate::config::ScriptCommand {
        command: cmd.command.clone(),
        user: None,
        group: None,
    }
    .argv();
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let spec = checkers::spawner::Script {
        program: program.clone(),
        args: args.to_vec(),
        ids: notify::Credentials::ids(creds),
        output: checkers::spawner::Output::Inherit,
        own_group: true,
    };
    let mut child = match checkers::spawner::spawn(&spec).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{what} {}: {e}", cmd.command);
            return;
        }
    };
    let pgid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(st)) if st.success() => tracing::info!("{what} succeeded"),
        Ok(Ok(st)) => tracing::warn!("{what} failed: {st}"),
        Ok(Err(e)) => tracing::warn!("{what}: {e}"),
        Err(_) => {
            tracing::warn!("{what} timed out after {timeout:?}; ending it");
            checkers::misc::end_script_group(&mut child, pgid).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(command: String, timeout: Duration) -> ScriptConfig {
        ScriptConfig {
            name: "chk".into(),
            command,
            interval: Duration::from_secs(1),
            timeout,
            fall: 1,
            rise: 1,
            weight: 0,
            init_fail: false,
            run_as: None,
        }
    }

    #[tokio::test]
    async fn track_script_outcomes_and_timeout_ends_the_whole_group() {
        let ok = script("exit 0".into(), Duration::from_secs(5));
        assert!(matches!(
            run_script(&ok, None).await,
            ScriptOutcome::Success
        ));
        let bad = script("exit 3".into(), Duration::from_secs(5));
        assert!(matches!(
            run_script(&bad, None).await,
            ScriptOutcome::Failure
        ));

        // The shell starts a long sleep and waits for it: the timeout must
        // end the sleep too, not only the shell.
        let dir = tempfile::tempdir().expect("temp dir");
        let pid_file = dir.path().join("grandchild.pid");
        let slow = script(
            format!("sleep 30 & echo $! > {}; wait", pid_file.display()),
            Duration::from_millis(300),
        );
        assert!(matches!(
            run_script(&slow, None).await,
            ScriptOutcome::TimedOut
        ));
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid");
        // Killed and, as our own grandchild reparented to init or a
        // subreaper, gone or a zombie within moments.
        let mut alive = true;
        for _ in 0..50 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let running = state
                .rsplit(") ")
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                .is_some_and(|s| s != "Z" && s != "X");
            if !running {
                alive = false;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !alive,
            "the script's sleep (pid {pid}) survived the timeout"
        );
    }
}
