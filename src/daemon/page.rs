//! The status page (`GET /` on `--metrics-listen`): server-rendered HTML, no
//! JavaScript, in the spirit of HAProxy's stats page. Pure: rendered from one
//! [`Status`]; every string from it is HTML-escaped. Secrets never reach it
//! (they are not in `Status`).

use std::fmt::Write as _;

use super::metrics::VrrpView;
use super::status::Status;

/// `s` with `& < > " '` escaped for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// keepalived's word for a VRRP state as the snapshot names it.
pub fn state_word(state: &str) -> &'static str {
    match state {
        "Master" => "MASTER",
        "Backup" => "BACKUP",
        "Fault" => "FAULT",
        _ => "INIT",
    }
}

/// "3d 4h", "5m 2s": how long since `since` (Unix seconds).
pub fn duration_text(now: f64, since: f64) -> String {
    let s = (now - since).max(0.0) as u64;
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

/// "3d", "4h", "5m", "2s": [`duration_text`] in its largest unit only,
/// for the real-server rows (1,000 of them stay under 100 KB).
pub fn short_duration_text(now: f64, since: f64) -> String {
    duration_text(now, since)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// "950", "18K", "2.8M", "1.1G": a byte count in three or four characters
/// (powers of 1,000).
pub fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1000 {
        return n.to_string();
    }
    let mut v = n as f64;
    let mut unit = "";
    for u in UNITS {
        v /= 1000.0;
        unit = u;
        if v < 1000.0 {
            break;
        }
    }
    if v < 9.95 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

const STYLE: &str = "body{font-family:sans-serif;font-size:13px;margin:12px;color:#000;background:#fff}\
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:14px 0 4px}\
table{border-collapse:collapse;margin-bottom:8px}\
th,td{border:1px solid #999;padding:2px 6px;text-align:left}\
th{background:#d0d0e0}td.n{text-align:right}\
.up,.rs td:nth-child(2){background:#c0ffc0}.down,.rs td.d{background:#ff9090}.master{background:#c0ffc0}\
.backup{background:#a0c8ff}.fault{background:#ff9090}.init{background:#d8d8d8}\
.sorry{background:#c07820}.reason{font-size:12px;color:#333}\
.meta{color:#333}p.down{display:inline-block;padding:2px 6px;margin:6px 0}.rs td:nth-child(n+4){text-align:right}.rs td:last-child{text-align:left;font-size:12px;color:#333}.legend td{padding:2px 10px}";

/// The page. `refresh`: seconds for `<meta http-equiv=refresh>`; `now`: Unix seconds.
pub fn render(s: &Status, refresh: Option<u32>, now: f64) -> String {
    let mut h = String::with_capacity(4096 + 160 * rs_count(s));
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    if let Some(n) = refresh {
        let _ = write!(h, "<meta http-equiv=\"refresh\" content=\"{n}\">");
    }
    let _ = writeln!(
        h,
        "<title>lvsd status</title><style>{STYLE}</style></head><body>"
    );
    let _ = writeln!(
        h,
        "<h1>lvsd {}</h1><div class=\"meta\">pid {} · {} mode · config {} · up {} · reloads {} (refused {}){}</div>",
        escape(&s.version),
        s.pid,
        escape(&s.mode),
        escape(&s.config_file),
        if s.started_at > 0.0 {
            duration_text(now, s.started_at)
        } else {
            "?".into()
        },
        s.reloads,
        s.reload_failures,
        match s.ipvs_programmed {
            // VRRP only: there is no table.
            None => String::new(),
            Some(p) => format!(
                " · IPVS writes {}{}",
                s.ipvs_writes,
                if p { "" } else { " · <b>IPVS table not programmed</b>" }
            ),
        }
    );
    if let Some(e) = &s.last_reload_error {
        let _ = writeln!(
            h,
            "<p class=\"down\">Last reload refused: {}</p>",
            escape(e)
        );
    }
    h.push_str("<div class=\"meta\"><a href=\"metrics\">/metrics</a> · <a href=\"status.json\">/status.json</a> · <a href=\"healthz\">/healthz</a> · <a href=\"?refresh=5\">refresh every 5 s</a></div>\n");
    vrrp_panel(&mut h, s, now);
    for vs in &s.virtual_servers {
        let up = vs.real_servers.iter().filter(|r| r.up).count();
        let _ = writeln!(
            h,
            "<h2>{}</h2><table><tr><th>quorum</th><td class=\"{}\">{}</td><th>weight up / quorum</th><td>{} / {}{}</td><th>real servers up</th><td>{} / {}</td>{}</tr></table>",
            escape(&vs.name),
            if vs.quorum_up { "up" } else { "down" },
            if vs.quorum_up { "UP" } else { "DOWN" },
            vs.weight,
            vs.quorum,
            if vs.hysteresis > 0 {
                format!(" ± {}", vs.hysteresis)
            } else {
                String::new()
            },
            up,
            vs.real_servers.len(),
            if vs.sorry_server_active {
                "<td class=\"sorry\">SORRY SERVER ACTIVE</td>"
            } else {
                ""
            }
        );
        if !vs.services.is_empty() {
            h.push_str("<table><tr><th>service</th><th>scheduler</th><th>in kernel</th><th>conns</th><th>in pkts</th><th>out pkts</th><th>in bytes</th><th>out bytes</th></tr>\n");
            for svc in &vs.services {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    escape(&svc.service),
                    escape(&svc.scheduler),
                    if svc.programmed { "yes" } else { "no" },
                    svc.conns,
                    svc.inpkts,
                    svc.outpkts,
                    svc.inbytes,
                    svc.outbytes
                );
            }
            h.push_str("</table>\n");
        }
        // Real-server rows are the bulk of a large page: optional end tags
        // left out and short classes keep 1,000 of them under 100 KB.
        h.push_str("<table class=rs><tr><th>real server</th><th>state</th><th>in state</th><th>weight</th><th>last check</th><th>conns active/inactive</th><th>bytes in/out</th><th>downtime</th><th>failed checks</th><th>reason</th></tr>\n");
        for rs in &vs.real_servers {
            // The state column is green unless the cell says otherwise.
            let _ = write!(h, "<tr><td>{}<td", escape(&rs.address));
            h.push_str(if rs.up { ">UP" } else { " class=d>DOWN" });
            if rs.since > 0 {
                let _ = write!(h, "<td>{}", short_duration_text(now, rs.since as f64));
            } else {
                h.push_str("<td>?");
            }
            if rs.configured_weight == rs.weight {
                let _ = write!(h, "<td>{}", rs.weight);
            } else {
                let _ = write!(h, "<td>{} → {}", rs.configured_weight, rs.weight);
            }
            if let Some(a) = &rs.admin {
                let _ = write!(h, " <b>admin {}</b>", escape(&a.state.to_string()));
            }
            h.push_str("<td>");
            if rs.last_check > 0 {
                h.push_str(&short_duration_text(now, rs.last_check as f64));
            }
            // Blanks for "never down" and "no failed check": 1,000 rows
            // stay under 100 KB.
            let _ = writeln!(
                h,
                "<td>{}/{}<td>{}/{}<td>{}<td>{}<td>{}",
                rs.active_conns,
                rs.inactive_conns,
                bytes_text(rs.inbytes),
                bytes_text(rs.outbytes),
                if rs.downtime_seconds == 0 {
                    String::new()
                } else {
                    duration_text(rs.downtime_seconds as f64, 0.0)
                },
                if rs.check_failures == 0 {
                    String::new()
                } else {
                    rs.check_failures.to_string()
                },
                escape(&rs.reason)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Legend</h2><table class=\"legend\"><tr><td class=\"up\">UP / MASTER: in service</td><td class=\"backup\">BACKUP</td><td class=\"down\">DOWN / FAULT: out of service</td><td class=\"init\">INIT</td><td class=\"sorry\">sorry server active</td></tr></table>\n");
    h.push_str("<p class=\"meta\">Weights read configured → effective (FILE_CHECK and misc_dynamic change them). The state word is always printed; colour only repeats it.</p>\n</body></html>\n");
    h
}

fn rs_count(s: &Status) -> usize {
    s.virtual_servers.iter().map(|v| v.real_servers.len()).sum()
}

fn vrrp_panel(h: &mut String, s: &Status, now: f64) {
    if s.vrrp.is_empty() {
        return;
    }
    h.push_str("<h2>VRRP</h2><table><tr><th>instance</th><th>VRID</th><th>state</th><th>in state</th><th>priority</th><th>master</th><th>master priority</th><th>adverts rx / tx</th><th>dropped</th><th>tracks</th></tr>\n");
    for v in s.vrrp.iter().map(VrrpView::of) {
        let word = state_word(&v.state);
        let dropped: u64 = v
            .counters
            .iter()
            .filter(|(k, _)| k.starts_with("dropped_"))
            .filter_map(|(_, x)| x.as_u64())
            .sum();
        let mut tracks = String::new();
        for t in &v.tracks_up {
            let _ = write!(
                tracks,
                "{} {} {}; ",
                escape(&t.kind),
                escape(&t.name),
                if t.up { "up" } else { "DOWN" }
            );
        }
        for (f, x) in &v.track_files {
            let _ = write!(tracks, "file {} = {x}; ", escape(f));
        }
        for f in &v.faults {
            let _ = write!(tracks, "FAULT by {}; ", escape(&f.to_string()));
        }
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"n\">{}{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td class=\"reason\">{}</td></tr>",
            escape(&v.name),
            v.vrid,
            word.to_ascii_lowercase(),
            word,
            v.state_since
                .map(|t| duration_text(now, t))
                .unwrap_or_else(|| "?".into()),
            v.priority,
            if v.effective_priority == v.priority && v.priority_changes.is_empty() {
                String::new()
            } else {
                // The breakdown: each tracked object's share, then the result.
                let mut t = String::new();
                for (what, change) in &v.priority_changes {
                    let _ = write!(t, " {change:+} {}", escape(what));
                }
                format!("{t} → {}", v.effective_priority)
            },
            escape(v.master_addr.as_deref().unwrap_or("-")),
            v.master_priority
                .map_or_else(|| "-".to_owned(), |p| p.to_string()),
            v.counter("adverts_rx"),
            v.counter("adverts_tx"),
            dropped,
            tracks
        );
    }
    h.push_str("</table>\n");
    let views: Vec<VrrpView> = s.vrrp.iter().map(VrrpView::of).collect();
    if views.iter().any(|v| !v.takeovers.recent.is_empty()) {
        h.push_str("<h3>Recent takeovers</h3><table><tr><th>instance</th><th>when</th><th>phases (measured by lvsd)</th></tr>\n");
        for v in &views {
            for t in v.takeovers.recent.iter().rev() {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{} ago</td><td>{}</td></tr>",
                    escape(&v.name),
                    duration_text(now, t.at),
                    crate::vrrp::takeover::describe(t)
                );
            }
        }
        h.push_str("</table>\n");
    }
}
