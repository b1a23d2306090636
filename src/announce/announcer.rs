//! The announcer: an event subscriber keeping lvsd's announce table in step
//! with [`super::plan`]. It hears the director's quorum changes and the
//! daemon's start from the event bus, its configuration from
//! [`configure`] (start and every reload), and the stop from [`stop`],
//! which withdraws and waits the drain delay before lvsd removes its
//! services. It reads the table back before every change and every few
//! seconds, so a route deleted by hand comes back and a stale one goes.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::plan::{self, Health, Held};
use super::routes::AnnounceTable;
use super::AnnounceConfig;
use crate::events::{self, Event, Subscriber};

/// How often the table is read back and repaired without an event.
const RECHECK: Duration = Duration::from_secs(5);

enum Control {
    Configure(Option<AnnounceConfig>),
    Stop(oneshot::Sender<()>),
}

fn control() -> &'static Mutex<Option<mpsc::UnboundedSender<Control>>> {
    static CONTROL: OnceLock<Mutex<Option<mpsc::UnboundedSender<Control>>>> = OnceLock::new();
    CONTROL.get_or_init(|| Mutex::new(None))
}

/// Each configured VIP: announced or not, and why not (for `lvsd status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VipAnnounce {
    pub vip: String,
    pub announced: bool,
    /// Empty when announced.
    pub reason: String,
}

fn published() -> &'static Mutex<Vec<VipAnnounce>> {
    static STATE: OnceLock<Mutex<Vec<VipAnnounce>>> = OnceLock::new();
    STATE.get_or_init(|| Mutex::new(Vec::new()))
}

/// What the announcer did last, for the status snapshot.
pub fn snapshot() -> Vec<VipAnnounce> {
    match published().lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

/// Starts the announcer (first call) or hands it a reloaded configuration
/// (`None`: the config has no `route_announce`: everything is withdrawn).
/// Must be called inside the tokio runtime, before the first table, so it
/// hears the daemon's start.
pub fn configure(cfg: Option<AnnounceConfig>) {
    let mut guard = match control().lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(tx) = guard.as_ref() {
        if tx.send(Control::Configure(cfg.clone())).is_ok() {
            return;
        }
    }
    if cfg.is_none() {
        return;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(Control::Configure(cfg));
    let events = events::subscribe().named("route announcer");
    tokio::spawn(run(events, rx));
    *guard = Some(tx);
}

/// lvsd is stopping: withdraw (unless `withdraw_on_exit no`), wait the
/// drain delay so the routers move the flows, then return.
pub async fn stop() {
    let tx = match control().lock() {
        Ok(mut g) => g.take(),
        Err(p) => p.into_inner().take(),
    };
    if let Some(tx) = tx {
        let (done, wait) = oneshot::channel();
        if tx.send(Control::Stop(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

fn held_text(h: &Held) -> String {
    match h {
        Held::NotRunning => "lvsd has not programmed its first table".into(),
        Held::Draining => "lvsd is stopping".into(),
        Held::StartingUp => "start-up delay: the real servers' first checks".into(),
        Held::QuorumDown(vs) => format!(
            "quorum down: {}",
            vs.iter().map(|v| &**v).collect::<Vec<_>>().join(", ")
        ),
    }
}

struct Announcer {
    cfg: Option<AnnounceConfig>,
    table: Option<AnnounceTable>,
    health: Health,
}

impl Announcer {
    async fn open(&mut self) {
        let Some(cfg) = &self.cfg else {
            // A reload removed the block: nothing announces these VIPs any
            // more, so their routes go with it (left, the routers would keep
            // sending traffic by a route nobody maintains).
            if let Some(old) = self.table.take() {
                if let Err(e) = old.withdraw_all().await {
                    tracing::error!("route_announce: {e}");
                }
                tracing::info!("route_announce: removed from the configuration; routes withdrawn");
            }
            match published().lock() {
                Ok(mut g) => g.clear(),
                Err(p) => p.into_inner().clear(),
            }
            return;
        };
        if self
            .table
            .as_ref()
            .is_some_and(|t| (t.table(), t.protocol()) == (cfg.table, cfg.protocol))
        {
            return;
        }
        // A changed table or protocol: the old table's routes go first.
        if let Some(old) = self.table.take() {
            if let Err(e) = old.withdraw_all().await {
                tracing::error!("route_announce: {e}");
            }
        }
        if cfg.sloppy_tcp {
            for key in ["sloppy_tcp", "sloppy_sctp"] {
                let path = format!("/proc/sys/net/ipv4/vs/{key}");
                if let Err(e) = std::fs::write(&path, "1") {
                    tracing::error!("route_announce: sloppy_tcp: writing {path}: {e}");
                }
            }
        }
        match AnnounceTable::open(cfg.table, cfg.protocol).await {
            Ok(t) => self.table = Some(t),
            Err(e) => tracing::error!("route_announce: {e}"),
        }
    }

    /// Brings the table to what the plan says. Before the plan can say
    /// anything (not yet running, start-up delay), the table is left as it
    /// is: a restarted lvsd adopts the routes it finds, as it adopts the
    /// IPVS table, until its checks have spoken.
    async fn reconcile(&mut self) {
        let (Some(cfg), Some(table)) = (&self.cfg, &self.table) else {
            return;
        };
        let now = Instant::now();
        let verdicts = plan::verdicts(cfg, &self.health, now);
        let mut shown = Vec::new();
        for (vip, v) in &verdicts {
            shown.push(VipAnnounce {
                vip: vip.to_string(),
                announced: v.is_ok(),
                reason: v.as_ref().err().map(held_text).unwrap_or_default(),
            });
        }
        match published().lock() {
            Ok(mut g) => *g = shown,
            Err(p) => *p.into_inner() = shown,
        }
        let settled = self.health.draining
            || (self.health.running_since.is_some()
                && plan::startup_ends(cfg, &self.health, now).is_none());
        if !settled {
            return;
        }
        let wanted = plan::desired(cfg, &self.health, now);
        let present = match table.present().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("route_announce: {e}");
                return;
            }
        };
        let (add, del) = plan::diff(&present, &wanted);
        for vip in add {
            match table.announce(vip).await {
                Ok(()) => tracing::info!("route_announce: {vip} announced (table {})", cfg.table),
                Err(e) => tracing::error!("route_announce: {e}"),
            }
        }
        for vip in del {
            let why = verdicts
                .get(&vip)
                .and_then(|v| v.as_ref().err())
                .map_or_else(|| "not configured".to_string(), held_text);
            match table.withdraw(vip).await {
                Ok(()) => tracing::info!("route_announce: {vip} withdrawn: {why}"),
                Err(e) => tracing::error!("route_announce: {e}"),
            }
        }
    }

    fn on_event(&mut self, e: &Event) -> bool {
        match e {
            Event::Quorum {
                virtual_server, up, ..
            } => {
                self.health.quorum.insert(virtual_server.clone(), *up);
                true
            }
            Event::Daemon { running: true } => {
                self.health.running_since = Some(Instant::now());
                true
            }
            _ => false,
        }
    }
}

async fn run(mut events: Subscriber, mut control: mpsc::UnboundedReceiver<Control>) {
    let mut a = Announcer {
        cfg: None,
        table: None,
        health: Health::default(),
    };
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = a
            .cfg
            .as_ref()
            .and_then(|c| plan::startup_ends(c, &a.health, Instant::now()));
        let startup = async {
            match wake {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            c = control.recv() => match c {
                Some(Control::Configure(cfg)) => {
                    a.cfg = cfg;
                    a.open().await;
                    a.reconcile().await;
                }
                Some(Control::Stop(done)) => {
                    // Quorum events published before the stop still count.
                    while let Some(e) = events.try_recv() {
                        a.on_event(&e);
                    }
                    if let Some(cfg) = a.cfg.clone() {
                        if cfg.withdraw_on_exit {
                            a.health.draining = true;
                            a.reconcile().await;
                            if !cfg.drain_delay.is_zero() {
                                tracing::info!(
                                    "route_announce: withdrawn; draining for {:?} before the services go",
                                    cfg.drain_delay
                                );
                                tokio::time::sleep(cfg.drain_delay).await;
                            }
                        } else {
                            tracing::info!("route_announce: withdraw_on_exit no: the routes stay");
                        }
                    }
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
            e = events.recv() => match e {
                Some(e) => {
                    if a.on_event(&e) {
                        a.reconcile().await;
                    }
                }
                None => return,
            },
            () = startup => a.reconcile().await,
            _ = recheck.tick() => a.reconcile().await,
        }
    }
}
