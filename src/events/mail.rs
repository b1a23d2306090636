//! Mail alerts as keepalived 2.2.7 sends them (keepalived/core/smtp.c and
//! its callers): one plain SMTP dialogue per alert (`HELO`, `MAIL FROM`,
//! one `RCPT TO` per address, `DATA`, `QUIT`), the subject prefixed with
//! `[router_id]`, a one-line body. Sent from tasks of their own, so a slow
//! or dead mail server never delays anything else. keepalived tries once;
//! lvsd retries a connection or dialogue failure at most [`ATTEMPTS`] times
//! in all (a server's refusal, a 5xx, is not retried), then logs and drops
//! the alert.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Event, VrrpState};

/// Attempts per alert, and the pause between them.
pub const ATTEMPTS: u32 = 3;
pub const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// `global_defs` mail settings, as configured (defaults applied at send time).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailConfig {
    /// `notification_email`.
    pub to: Vec<String>,
    /// `notification_email_from` (default `USER@HOST`, as keepalived).
    pub from: Option<String>,
    /// `smtp_server HOST [PORT]`.
    pub server: Option<(String, u16)>,
    /// `smtp_helo_name` (default the host name).
    pub helo: Option<String>,
    /// `smtp_connect_timeout` (default 30 s).
    pub timeout: Duration,
    /// `router_id` (default the host name).
    pub router_id: Option<String>,
    pub no_email_faults: bool,
    pub no_checker_emails: bool,
}

/// The host name keepalived uses for its defaults (lvsd: uname's nodename;
/// keepalived asks the resolver for the canonical name of that).
pub fn host_name() -> String {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| u.nodename().to_str().map(str::to_string))
        .unwrap_or_else(|| "[unknown]".into())
}

impl MailConfig {
    /// Mail goes out only with addresses and a server, as in keepalived.
    pub fn enabled(&self) -> bool {
        !self.to.is_empty() && self.server.is_some()
    }

    pub fn router_id(&self) -> String {
        self.router_id.clone().unwrap_or_else(host_name)
    }

    pub fn from(&self) -> String {
        self.from.clone().unwrap_or_else(|| {
            let user = nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| "root".into());
            format!("{user}@{}", host_name())
        })
    }

    pub fn helo(&self) -> String {
        self.helo.clone().unwrap_or_else(host_name)
    }
}

/// One alert: subject (without the router id) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub body: String,
}

/// keepalived's subject and body for a VRRP instance or group entering a
/// state.
pub fn vrrp_alert(group: bool, name: &str, state: VrrpState) -> Alert {
    let (what, body) = match (group, state) {
        (false, VrrpState::Master) => (
            "Entering MASTER state",
            "=> VRRP Instance is now owning VRRP VIPs <=",
        ),
        (false, VrrpState::Backup) => (
            "Entering BACKUP state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (false, VrrpState::Fault) => (
            "Entering FAULT state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (false, VrrpState::Stop) => ("Stopping", "=> VRRP Instance stopping <="),
        (false, VrrpState::Deleted) => ("Deleted", "=> VRRP Deleted at reload <="),
        // Groups are never reported deleted (keepalived has no such mail).
        (true, VrrpState::Deleted) => ("Deleted", "=> VRRP Deleted at reload <="),
        (true, VrrpState::Master) => (
            "Entering MASTER state",
            "=> All VRRP group instances are now in MASTER state <=",
        ),
        (true, VrrpState::Backup) => (
            "Entering BACKUP state",
            "=> All VRRP group instances are now in BACKUP state <=",
        ),
        (true, VrrpState::Fault) => (
            "Entering FAULT state",
            "=> All VRRP group instances are now in FAULT state <=",
        ),
        (true, VrrpState::Stop) => (
            "Stopping",
            "=> All VRRP group instances are now stopping <=",
        ),
    };
    let kind = if group { "VRRP Group" } else { "VRRP Instance" };
    Alert {
        subject: format!("{kind} {name} - {what}"),
        body: body.into(),
    }
}

/// keepalived's alert for a real server's checker verdict: the body names
/// the kind of check (from lvsd's reason, which starts with the checker).
pub fn real_server_alert(vs_text: &str, rs_text: &str, up: bool, reason: &str) -> Alert {
    let kind = reason.split([':', ' ']).next().unwrap_or("");
    let body = match (kind, up) {
        ("TCP_CHECK", true) => "=> TCP CHECK succeed on service <=".to_string(),
        ("TCP_CHECK", false) => "=> TCP CHECK failed on service <=".to_string(),
        ("PING_CHECK", true) => "=> ICMP CHECK succeed on service <=".to_string(),
        ("PING_CHECK", false) => "=> ICMP CHECK failed on service <=".to_string(),
        ("UDP_CHECK", true) => "=> UDP CHECK succeed on service <=".to_string(),
        ("UDP_CHECK", false) => "=> UDP CHECK failed on service <=".to_string(),
        ("DNS_CHECK", true) => "=> DNS_CHECK: succeed on service <=".to_string(),
        ("DNS_CHECK", false) => "=> DNS_CHECK: failed on service <=".to_string(),
        ("MISC_CHECK", true) => "=> MISC CHECK succeed on service <=".to_string(),
        ("MISC_CHECK", false) => "=> MISC CHECK failed on service <=".to_string(),
        ("HTTP_GET" | "SSL_GET", false) => {
            "=> CHECK failed on service : HTTP request failed <=".to_string()
        }
        (_, true) => "=> CHECK succeed on service <=".to_string(),
        (_, false) => "=> CHECK failed on service <=".to_string(),
    };
    Alert {
        subject: format!(
            "Realserver {rs_text} of virtual server {vs_text} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body,
    }
}

/// keepalived's alert for a virtual server's quorum.
pub fn quorum_alert(
    vs_text: &str,
    up: bool,
    init: bool,
    quorum: u32,
    hysteresis: u32,
    weight_sum: u64,
) -> Alert {
    // keepalived's threshold: from down (and at start) quorum + hysteresis,
    // from up quorum - hysteresis.
    let threshold = if up || init {
        u64::from(quorum) + u64::from(hysteresis)
    } else {
        u64::from(quorum.saturating_sub(hysteresis))
    };
    Alert {
        subject: format!(
            "Virtualserver {vs_text} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body: format!(
            "=> {} {quorum}+{hysteresis}={threshold} <= {weight_sum} <=",
            match (init, up) {
                (true, true) => "Starting with quorum up",
                (true, false) => "Starting with quorum down",
                (false, true) => "Gained quorum",
                (false, false) => "Lost quorum",
            }
        ),
    }
}

/// The alert an event calls for under keepalived's rules, if any. `alerts`
/// answers whether an object has `smtp_alert` on (its own setting, else the
/// global defaults).
pub fn alert_for(
    event: &Event,
    cfg: &MailConfig,
    vrrp_alert_on: impl Fn(bool, &str) -> bool,
    vs_alert_on: impl Fn(&str) -> bool,
    rs_alert_on: impl Fn(&str, &str) -> bool,
) -> Option<Alert> {
    match event {
        Event::Instance { name, state, .. } | Event::Group { name, state } => {
            let group = matches!(event, Event::Group { .. });
            if !vrrp_alert_on(group, name) || (cfg.no_email_faults && *state == VrrpState::Fault) {
                return None;
            }
            Some(vrrp_alert(group, name, *state))
        }
        Event::RealServer {
            virtual_server,
            vs_text,
            rs_text,
            up,
            changed,
            reason,
            ..
        } => {
            // keepalived mails each checker's change, so also a second
            // checker failing on a server already down (lvsd: a new reason
            // while down); with no_checker_emails only changes of the
            // server's state. A server reported up while up (lvsd's checkers
            // at start) is no checker change.
            if !rs_alert_on(virtual_server, rs_text) || (!changed && (*up || cfg.no_checker_emails))
            {
                return None;
            }
            Some(real_server_alert(vs_text, rs_text, *up, reason))
        }
        Event::Quorum {
            virtual_server,
            vs_text,
            up,
            init,
            quorum,
            hysteresis,
            weight_sum,
        } => vs_alert_on(virtual_server)
            .then(|| quorum_alert(vs_text, *up, *init, *quorum, *hysteresis, *weight_sum)),
        _ => None,
    }
}

/// The DATA part keepalived sends (headers, blank line, body), without the
/// final dot; lines starting with `.` are doubled.
pub fn message(cfg: &MailConfig, alert: &Alert, date: &str) -> String {
    let body = alert
        .body
        .lines()
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    format!(
        "Date: {date}\r\nFrom: {}\r\nSubject: [{}] {}\r\nX-Mailer: Keepalived (lvsd)\r\nTo: {}\r\n\r\n{body}\r\n",
        cfg.from(),
        cfg.router_id(),
        alert.subject,
        cfg.to.join(", ")
    )
}

/// RFC 2822 date in local time, as keepalived writes it.
fn rfc822_now() -> String {
    // `date -R` is what keepalived's strftime gives; computed here without
    // a time crate: UTC, "+0000".
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc822_utc(secs)
}

fn rfc822_utc(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86400;
    let rem = secs % 86400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("SMTP server {0}: {1}")]
    Io(String, std::io::Error),
    #[error("SMTP server {0}: timeout")]
    Timeout(String),
    #[error("SMTP server {server}: {cmd} answered {reply:?}")]
    Refused {
        server: String,
        cmd: &'static str,
        reply: String,
    },
}

impl SendError {
    fn retry(&self) -> bool {
        match self {
            SendError::Refused { reply, .. } => !reply.starts_with('5'),
            _ => true,
        }
    }
}

/// Sends one alert, retrying failures [`ATTEMPTS`] times in all.
pub async fn send(cfg: &MailConfig, alert: &Alert) {
    for attempt in 1..=ATTEMPTS {
        match send_once(cfg, alert).await {
            Ok(()) => {
                tracing::info!("SMTP alert sent: {}", alert.subject);
                return;
            }
            Err(e) if e.retry() && attempt < ATTEMPTS => {
                tracing::warn!("SMTP alert ({}): {e}; retrying", alert.subject);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => {
                tracing::error!("SMTP alert not sent ({}): {e}", alert.subject);
                return;
            }
        }
    }
}

async fn send_once(cfg: &MailConfig, alert: &Alert) -> Result<(), SendError> {
    let Some((host, port)) = &cfg.server else {
        return Ok(());
    };
    let server = format!("{host}:{port}");
    let timeout = if cfg.timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        cfg.timeout
    };
    let io = |e| SendError::Io(server.clone(), e);
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), *port)))
        .await
        .map_err(|_| SendError::Timeout(server.clone()))?
        .map_err(io)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut dialogue = Dialogue {
        r: &mut r,
        server: &server,
        timeout,
    };
    dialogue.expect("(E)SMTP", 220).await?;
    let steps: Vec<(String, &'static str, u16)> =
        std::iter::once((format!("HELO {}\r\n", cfg.helo()), "HELO", 250))
            .chain(std::iter::once((
                format!("MAIL FROM:<{}>\r\n", cfg.from()),
                "MAIL",
                250,
            )))
            .chain(
                cfg.to
                    .iter()
                    .map(|t| (format!("RCPT TO:<{t}>\r\n"), "RCPT", 250)),
            )
            .chain(std::iter::once(("DATA\r\n".to_string(), "DATA", 354)))
            .chain(std::iter::once((
                format!("{}\r\n.\r\n", message(cfg, alert, &rfc822_now())),
                "BODY",
                250,
            )))
            .collect();
    for (text, cmd, code) in steps {
        w.write_all(text.as_bytes()).await.map_err(io)?;
        dialogue.expect(cmd, code).await?;
    }
    let _ = w.write_all(b"QUIT\r\n").await;
    let _ = dialogue.expect("QUIT", 221).await;
    Ok(())
}

struct Dialogue<'a, R> {
    r: &'a mut R,
    server: &'a str,
    timeout: Duration,
}

impl<R: tokio::io::AsyncBufRead + Unpin> Dialogue<'_, R> {
    /// Reads one reply (all its lines) and checks its code.
    async fn expect(&mut self, cmd: &'static str, code: u16) -> Result<(), SendError> {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.r.read_line(&mut line))
                .await
                .map_err(|_| SendError::Timeout(self.server.to_string()))?
                .map_err(|e| SendError::Io(self.server.to_string(), e))?;
            if n == 0 {
                return Err(SendError::Io(
                    self.server.to_string(),
                    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"),
                ));
            }
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            let got = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            if got == Some(code) {
                return Ok(());
            }
            return Err(SendError::Refused {
                server: self.server.to_string(),
                cmd,
                reply: line.trim_end().to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_keepalived_s() {
        let a = vrrp_alert(false, "VI_1", VrrpState::Master);
        assert_eq!(a.subject, "VRRP Instance VI_1 - Entering MASTER state");
        assert_eq!(a.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        let a = vrrp_alert(true, "G", VrrpState::Stop);
        assert_eq!(a.subject, "VRRP Group G - Stopping");
        let a = real_server_alert(
            "[10.0.0.1]:tcp:80",
            "[10.0.0.2]:tcp:80",
            false,
            "TCP_CHECK: connection refused",
        );
        assert_eq!(
            a.subject,
            "Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN"
        );
        assert_eq!(a.body, "=> TCP CHECK failed on service <=");
        let a = quorum_alert("FWM 7", false, false, 3, 1, 1);
        assert_eq!(a.body, "=> Lost quorum 3+1=2 <= 1 <=");
        let a = quorum_alert("FWM 7", true, true, 2, 0, 2);
        assert_eq!(a.body, "=> Starting with quorum up 2+0=2 <= 2 <=");
    }

    #[test]
    fn the_message_has_keepalived_s_headers() {
        let cfg = MailConfig {
            to: vec!["a@x".into(), "b@x".into()],
            from: Some("lb@x".into()),
            router_id: Some("LB1".into()),
            ..MailConfig::default()
        };
        let m = message(&cfg, &vrrp_alert(false, "VI_1", VrrpState::Backup), "D");
        assert_eq!(
            m,
            "Date: D\r\nFrom: lb@x\r\nSubject: [LB1] VRRP Instance VI_1 - Entering BACKUP state\r\n\
             X-Mailer: Keepalived (lvsd)\r\nTo: a@x, b@x\r\n\r\n=> VRRP Instance is no longer owning VRRP VIPs <=\r\n"
        );
    }

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A scripted SMTP server on loopback: greets with `greeting`, answers
    /// each command as a happy server does, and returns what it was sent.
    async fn fake_server(greeting: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let (s, _) = l.accept().await.expect("accept");
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            let mut seen = String::new();
            w.write_all(greeting.as_bytes()).await.expect("greet");
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return seen;
                }
                seen.push_str(&line);
                let reply: &[u8] = if in_data {
                    if line != ".\r\n" {
                        continue;
                    }
                    in_data = false;
                    b"250 queued\r\n"
                } else if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go on\r\n"
                } else if line.starts_with("QUIT") {
                    w.write_all(b"221 bye\r\n").await.ok();
                    return seen;
                } else {
                    b"250-ok\r\n250 ok\r\n"
                };
                w.write_all(reply).await.expect("reply");
            }
        });
        (port, task)
    }

    fn to_port(port: u16) -> MailConfig {
        MailConfig {
            to: vec!["a@x".into(), "b@x".into()],
            from: Some("lb@x".into()),
            server: Some(("127.0.0.1".into(), port)),
            helo: Some("lb.x".into()),
            timeout: Duration::from_secs(2),
            router_id: Some("LB1".into()),
            ..MailConfig::default()
        }
    }

    #[tokio::test]
    async fn the_dialogue_is_keepalived_s() {
        let (port, server) = fake_server("220-mx\r\n220 mx ready\r\n").await;
        send(
            &to_port(port),
            &vrrp_alert(false, "VI_1", VrrpState::Master),
        )
        .await;
        let seen = server.await.expect("server");
        let commands: Vec<&str> = seen
            .lines()
            .filter(|l| !l.contains(':') || l.starts_with("MAIL") || l.starts_with("RCPT"))
            .collect();
        assert_eq!(
            commands,
            [
                "HELO lb.x",
                "MAIL FROM:<lb@x>",
                "RCPT TO:<a@x>",
                "RCPT TO:<b@x>",
                "DATA",
                "",
                "=> VRRP Instance is now owning VRRP VIPs <=",
                "",
                ".",
                "QUIT"
            ]
        );
        assert!(
            seen.contains("\r\nSubject: [LB1] VRRP Instance VI_1 - Entering MASTER state\r\n"),
            "{seen}"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried_and_a_dead_server_is_retried_a_bounded_number_of_times() {
        let alert = vrrp_alert(false, "VI_1", VrrpState::Backup);
        let (port, server) = fake_server("554 go away\r\n").await;
        send(&to_port(port), &alert).await;
        // The server saw the connection end without a command: one attempt.
        assert_eq!(server.await.expect("server"), "");
        // Nothing listens: ATTEMPTS tries, RETRY_PAUSE apart, then given up.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let t = std::time::Instant::now();
        send(&to_port(port), &alert).await;
        let took = t.elapsed();
        let pauses = RETRY_PAUSE * (ATTEMPTS - 1);
        assert!(
            took >= pauses && took < pauses + Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[test]
    fn rfc822_dates() {
        assert_eq!(rfc822_utc(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc822_utc(1_614_591_848), "Mon, 01 Mar 2021 09:44:08 +0000");
    }

    #[test]
    fn faults_and_checker_mails_follow_the_switches() {
        let mut cfg = MailConfig::default();
        let fault = Event::Instance {
            name: "VI".into(),
            state: VrrpState::Fault,
            priority: 0,
        };
        assert!(alert_for(&fault, &cfg, |_, _| true, |_| true, |_, _| true).is_some());
        assert!(alert_for(&fault, &cfg, |_, _| false, |_| true, |_, _| true).is_none());
        cfg.no_email_faults = true;
        assert!(alert_for(&fault, &cfg, |_, _| true, |_| true, |_, _| true).is_none());
        let still_down = Event::RealServer {
            virtual_server: "v".into(),
            vs_text: "V".into(),
            rs_text: "R".into(),
            up: false,
            changed: false,
            weight: 1,
            reason: "HTTP_GET: status 500".into(),
        };
        assert!(alert_for(&still_down, &cfg, |_, _| true, |_| true, |_, _| true).is_some());
        let still_up = Event::RealServer {
            virtual_server: "v".into(),
            vs_text: "V".into(),
            rs_text: "R".into(),
            up: true,
            changed: false,
            weight: 1,
            reason: "HTTP_GET: ok".into(),
        };
        assert!(alert_for(&still_up, &cfg, |_, _| true, |_| true, |_, _| true).is_none());
        cfg.no_checker_emails = true;
        assert!(alert_for(&still_down, &cfg, |_, _| true, |_| true, |_, _| true).is_none());
    }
}
