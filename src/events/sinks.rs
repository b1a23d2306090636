//! The FIFO and mail subscribers: their settings, translated from the
//! model, and the task that owns the open FIFOs and starts mail tasks.
//! (Re)configured at start and at each reload, drained and closed at stop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::fifo::{self, FifoConfig, OpenFifo};
use super::mail::{self, MailConfig};
use super::{Event, Subscriber, VrrpState};
use crate::config::model::{self, Config, Protocol, VirtualServerKey};
use crate::vrrp::config::RunAs;

/// What the FIFO and mail subscribers do, from `global_defs` and the
/// `smtp_alert` of each object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsConfig {
    pub notify_fifo: Option<FifoConfig>,
    pub vrrp_notify_fifo: Option<FifoConfig>,
    pub lvs_notify_fifo: Option<FifoConfig>,
    pub fifo_write_vrrp_states_on_reload: bool,
    pub mail: MailConfig,
    /// VRRP instances (`false`) and sync groups (`true`) that mail.
    pub vrrp_alerts: BTreeSet<(bool, String)>,
    /// Virtual servers (lvsd names) that mail quorum changes.
    pub vs_alerts: BTreeSet<String>,
    /// Whether a real server mails when it says nothing itself
    /// (`smtp_alert_checker`, else `smtp_alert`, else on).
    pub rs_alert_default: bool,
    /// Real servers (virtual server name, keepalived text) whose own
    /// `smtp_alert` differs from that default. Only the exceptions: a set
    /// of every real server was 1.3 MB at 10,000 (page faults at start-up).
    pub rs_alert_exceptions: BTreeSet<(String, String)>,
    /// Per virtual server name: keepalived's text for it and its protocol word.
    pub vs_texts: BTreeMap<String, (String, &'static str)>,
}

impl EventsConfig {
    /// Whether real server `rs` (keepalived's text) of virtual server `vs`
    /// mails its transitions.
    pub fn rs_alert(&self, vs: &str, rs: &str) -> bool {
        self.rs_alert_default
            != self
                .rs_alert_exceptions
                .contains(&(vs.to_string(), rs.to_string()))
    }
}

/// keepalived's `[addr]:proto:port`.
pub fn trio(addr: IpAddr, proto: &str, port: u16) -> String {
    format!("[{addr}]:{proto}:{port}")
}

fn proto_word(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

fn vs_text(vs: &model::VirtualServer) -> String {
    match &vs.key {
        VirtualServerKey::Address { ip, port } => {
            trio(*ip, proto_word(vs.protocol), port.unwrap_or(0))
        }
        VirtualServerKey::Fwmark(m) => format!("FWM {m}"),
        // keepalived prints the group's name and the (unset) port 0.
        VirtualServerKey::Group(g) => format!("[{g}]:0"),
    }
}

fn run_as(
    user: &Option<String>,
    group: &Option<String>,
    default: Option<&model::RunAs>,
) -> Option<RunAs> {
    match user {
        Some(u) => Some(RunAs {
            user: u.clone(),
            group: group.clone(),
        }),
        None => default.map(|d| RunAs {
            user: d.user.clone(),
            group: d.group.clone(),
        }),
    }
}

fn fifo_config(
    f: &Option<model::NotifyFifo>,
    script: &Option<model::ScriptCommand>,
    script_user: Option<&model::RunAs>,
) -> Option<FifoConfig> {
    let f = f.as_ref()?;
    Some(FifoConfig {
        path: f.path.clone().into(),
        owner: run_as(&f.user, &f.group, script_user),
        script: script
            .as_ref()
            .map(|s| (s.argv(), run_as(&s.user, &s.group, script_user)))
            .filter(|(argv, _)| !argv.is_empty()),
    })
}

/// The events settings of a configuration, with keepalived's defaults for
/// `smtp_alert`: VRRP objects and virtual servers take `smtp_alert_vrrp` /
/// `smtp_alert_checker`, else `smtp_alert`, else off; real servers the same
/// but on by default (keepalived's own inconsistency, kept).
pub fn translate(cfg: &Config) -> EventsConfig {
    let g = &cfg.global;
    let su = g.script_user.as_ref();
    let vrrp_default = g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false);
    let checker_default = g.smtp_alert_checker.or(g.smtp_alert);
    let mut out = EventsConfig {
        notify_fifo: fifo_config(&g.notify_fifo, &g.notify_fifo_script, su),
        vrrp_notify_fifo: fifo_config(&g.vrrp_notify_fifo, &g.vrrp_notify_fifo_script, su),
        lvs_notify_fifo: fifo_config(&g.lvs_notify_fifo, &g.lvs_notify_fifo_script, su),
        fifo_write_vrrp_states_on_reload: g.fifo_write_vrrp_states_on_reload,
        mail: MailConfig {
            to: g.notification_email.clone(),
            from: g.notification_email_from.clone(),
            server: g.smtp_server.as_ref().map(|s| (s.host.clone(), s.port)),
            helo: g.smtp_helo_name.clone(),
            timeout: g.smtp_connect_timeout,
            router_id: g.router_id.clone(),
            no_email_faults: g.no_email_faults,
            no_checker_emails: g.no_checker_emails,
        },
        ..EventsConfig::default()
    };
    out.rs_alert_default = checker_default.unwrap_or(true);
    for i in &cfg.vrrp_instances {
        if i.smtp_alert.unwrap_or(vrrp_default) {
            out.vrrp_alerts.insert((false, i.name.clone()));
        }
    }
    for s in &cfg.vrrp_sync_groups {
        if s.smtp_alert.unwrap_or(vrrp_default) {
            out.vrrp_alerts.insert((true, s.name.clone()));
        }
    }
    for vs in &cfg.virtual_servers {
        let name = crate::director::spec::virtual_server_name(vs);
        let proto = proto_word(vs.protocol);
        if vs.smtp_alert.or(checker_default).unwrap_or(false) {
            out.vs_alerts.insert(name.clone());
        }
        for rs in &vs.real_servers {
            if rs.smtp_alert.is_some_and(|own| own != out.rs_alert_default) {
                let port = rs.port.unwrap_or(0);
                out.rs_alert_exceptions
                    .insert((name.clone(), trio(rs.address, proto, port)));
            }
        }
        out.vs_texts.insert(name, (vs_text(vs), proto));
    }
    out
}

enum Control {
    Configure(Arc<EventsConfig>, bool),
    Stop(oneshot::Sender<()>),
}

fn control() -> &'static Mutex<Option<mpsc::UnboundedSender<Control>>> {
    static CONTROL: OnceLock<Mutex<Option<mpsc::UnboundedSender<Control>>>> = OnceLock::new();
    CONTROL.get_or_init(|| Mutex::new(None))
}

/// Starts the subscribers (first call) or hands them a reloaded
/// configuration. `vrrp_only`: `lvsd run -P` (no LVS FIFO). Must be called
/// inside the tokio runtime.
pub fn configure(cfg: EventsConfig, vrrp_only: bool) {
    let mut guard = match control().lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let cfg = Arc::new(cfg);
    if let Some(tx) = guard.as_ref() {
        if tx.send(Control::Configure(cfg.clone(), vrrp_only)).is_ok() {
            return;
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(Control::Configure(cfg, vrrp_only));
    let events = super::subscribe().named("notify FIFO / mail subscriber");
    tokio::spawn(run(events, rx));
    *guard = Some(tx);
}

/// Writes what is pending, closes the FIFOs (removing those lvsd made) and
/// gives mails in flight a moment; returns when done.
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

/// How long stop waits for mails still being sent.
const MAIL_GRACE: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Sinks {
    cfg: Arc<EventsConfig>,
    fifos: Vec<OpenFifo>,
    /// Last known state of each instance and group (for
    /// fifo_write_vrrp_states_on_reload) and last mailed state.
    instances: BTreeMap<String, (VrrpState, u8)>,
    groups: BTreeMap<String, VrrpState>,
    mailed: BTreeMap<(bool, String), VrrpState>,
    mails: tokio::task::JoinSet<()>,
}

impl Sinks {
    fn open(&mut self, cfg: Arc<EventsConfig>, vrrp_only: bool, reload: bool) {
        for f in self.fifos.drain(..) {
            f.close();
        }
        let plan = fifo::plan(
            cfg.notify_fifo.clone(),
            cfg.vrrp_notify_fifo.clone(),
            cfg.lvs_notify_fifo.clone(),
            vrrp_only,
        );
        self.fifos = plan
            .into_iter()
            .filter_map(|(c, carries, what)| OpenFifo::open(c, carries, true, what))
            .collect();
        if reload && cfg.fifo_write_vrrp_states_on_reload {
            for e in fifo::states_on_reload(&self.groups, &self.instances) {
                for f in &mut self.fifos {
                    f.write(&e);
                }
            }
        }
        self.cfg = cfg;
    }

    fn on_event(&mut self, e: &Event) {
        match e {
            Event::Instance {
                name,
                state,
                priority,
            } => {
                if matches!(*state, VrrpState::Stop | VrrpState::Deleted) {
                    self.instances.remove(&**name);
                } else {
                    self.instances.insert(name.to_string(), (*state, *priority));
                }
            }
            Event::Group { name, state } => {
                if *state == VrrpState::Stop {
                    self.groups.remove(&**name);
                } else {
                    self.groups.insert(name.to_string(), *state);
                }
            }
            _ => {}
        }
        for f in &mut self.fifos {
            f.write(e);
        }
        self.mail(e);
    }

    fn mail(&mut self, e: &Event) {
        let cfg = &self.cfg;
        if !cfg.mail.enabled() {
            return;
        }
        let alert = mail::alert_for(
            e,
            &cfg.mail,
            |group, name| cfg.vrrp_alerts.contains(&(group, name.to_string())),
            |vs| cfg.vs_alerts.contains(vs),
            |vs, rs| cfg.rs_alert(vs, rs),
        );
        let Some(alert) = alert else {
            return;
        };
        // keepalived mails a VRRP object only when its state differs from
        // the last one mailed.
        if let Event::Instance { name, state, .. } | Event::Group { name, state } = e {
            let key = (matches!(e, Event::Group { .. }), name.to_string());
            if self.mailed.get(&key) == Some(state) {
                return;
            }
            self.mailed.insert(key, *state);
        }
        let mail_cfg = cfg.mail.clone();
        self.mails
            .spawn(async move { mail::send(&mail_cfg, &alert).await });
        // Reap finished mail tasks.
        while self.mails.try_join_next().is_some() {}
    }
}

async fn run(mut events: Subscriber, mut control: mpsc::UnboundedReceiver<Control>) {
    let mut sinks = Sinks::default();
    let mut configured = false;
    loop {
        tokio::select! {
            biased;
            c = control.recv() => {
                // Events published before this message belong to the old
                // settings. The first one has none: events waiting then (the
                // director's first quorum, published before this task first
                // ran) are for the settings it brings.
                if configured {
                    while let Some(e) = events.try_recv() {
                        sinks.on_event(&e);
                    }
                }
                match c {
                    Some(Control::Configure(cfg, vrrp_only)) => {
                        // As keepalived: every reload closes and reopens
                        // the FIFOs (and starts their scripts again).
                        sinks.open(cfg, vrrp_only, configured);
                        configured = true;
                    }
                    Some(Control::Stop(done)) => {
                        for f in sinks.fifos.drain(..) {
                            f.close();
                        }
                        let _ = tokio::time::timeout(MAIL_GRACE, async {
                            while sinks.mails.join_next().await.is_some() {}
                        })
                        .await;
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                }
            }
            e = events.recv() => match e {
                Some(e) => sinks.on_event(&e),
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> EventsConfig {
        let opts = crate::config::ConfigOptions {
            config_id: Some("test".into()),
            check_interfaces: false,
            follow_includes: false,
        };
        let loaded =
            crate::config::load_str(std::path::Path::new("/nonexistent/t.conf"), text, &opts)
                .unwrap_or_else(|_| panic!("the test config loads"));
        translate(&loaded.config)
    }

    const VS: &str = "virtual_server 10.0.0.100:80 TCP";

    /// Real servers mail by default (keepalived's default for them), a
    /// global `smtp_alert_checker off` turns that off, and a real server's
    /// own `smtp_alert` wins either way; only those that differ are stored.
    #[test]
    fn a_real_servers_own_smtp_alert_wins_over_the_default() {
        let servers = "virtual_server 10.0.0.100 80 {\n protocol TCP\n\
                       real_server 10.0.0.4 80 {\n }\n\
                       real_server 10.0.0.5 80 {\n smtp_alert on\n }\n\
                       real_server 10.0.0.6 80 {\n smtp_alert off\n }\n}\n";
        let on = events(servers);
        assert!(on.rs_alert(VS, "[10.0.0.4]:tcp:80"));
        assert!(on.rs_alert(VS, "[10.0.0.5]:tcp:80"));
        assert!(!on.rs_alert(VS, "[10.0.0.6]:tcp:80"));
        assert_eq!(on.rs_alert_exceptions.len(), 1);

        let off = events(&format!(
            "global_defs {{\n smtp_alert_checker off\n}}\n{servers}"
        ));
        assert!(!off.rs_alert(VS, "[10.0.0.4]:tcp:80"));
        assert!(off.rs_alert(VS, "[10.0.0.5]:tcp:80"));
        assert!(!off.rs_alert(VS, "[10.0.0.6]:tcp:80"));
        assert_eq!(off.rs_alert_exceptions.len(), 1);
    }
}
