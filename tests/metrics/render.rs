//! The renderers on fixed snapshots: goldens (LVSD_BLESS=1 rewrites them),
//! hostile strings, series counts, page size, health routes, and
//! `promtool check metrics` on the output.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use lvsd::daemon::http::{respond, HttpOptions};
use lvsd::daemon::metrics::{
    self, count_series, series_by_name, Format, Options, RealServerDetail,
};
use lvsd::daemon::page;

use crate::fixtures::{pool, small, HOSTILE};

const NOW: f64 = 1_700_000_600.0;

fn full() -> Options {
    Options {
        detail: RealServerDetail::Full,
        process: false,
    }
}

fn minimal() -> Options {
    Options {
        detail: RealServerDetail::Minimal,
        process: false,
    }
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/metrics/golden")
        .join(name);
    if std::env::var_os("LVSD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (LVSD_BLESS=1 writes it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs (LVSD_BLESS=1 rewrites it after review)",
        path.display()
    );
}

#[test]
fn prometheus_text_golden() {
    golden(
        "small.prom",
        &metrics::render(&small(), Format::Prometheus, full()),
    );
}

#[test]
fn openmetrics_text_golden() {
    let text = metrics::render(&small(), Format::OpenMetrics, full());
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    golden("small.om", &text);
}

#[test]
fn status_page_golden() {
    golden("small.html", &page::render(&small(), Some(7), NOW));
}

#[test]
fn free_text_never_becomes_a_label_and_labels_are_escaped() {
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = metrics::render(&small(), format, full());
        assert!(
            !text.contains("alert"),
            "a reason leaked into {format:?}:\n{text}"
        );
        assert!(!text.contains("unknown"), "a reload error leaked:\n{text}");
        // The hostile virtual server name, escaped as the text formats want.
        assert!(
            text.contains(r#"virtual_server="group web\"\\<b>""#),
            "label value not escaped:\n{text}"
        );
        assert!(text.contains(r#"track="chk\"nginx\"""#), "{text}");
        assert!(text.contains(r#"file="weights\\file""#), "{text}");
    }
}

#[test]
fn page_escapes_every_string() {
    let html = page::render(&small(), None, NOW);
    assert!(!html.contains("<script"), "unescaped script tag:\n{html}");
    assert!(!html.contains("<b>"), "unescaped tag from a name");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("group web&quot;\\&lt;b&gt;"));
    assert!(html.contains("&lt;keepalived&gt;.conf"));
    assert!(html.contains("&quot;unknown&quot; &lt;keyword&gt;"));
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "no refresh unless asked"
    );
    let refreshing = page::render(&small(), Some(5), NOW);
    assert!(refreshing.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    // State words are printed, not only colours.
    for word in ["MASTER", "BACKUP", "UP", "DOWN", "SORRY SERVER ACTIVE"] {
        assert!(html.contains(word), "{word} missing");
    }
    assert!(HOSTILE.contains('\n'));
}

#[test]
fn page_is_under_100_kb_at_1000_real_servers() {
    let html = page::render(&pool(10, 100), Some(10), NOW);
    let rows = html.matches("<tr><td>10.2.").count();
    assert_eq!(rows, 1000, "every real server has a row");
    println!("status page at 1000 real servers: {} bytes", html.len());
    assert!(html.len() < 100 * 1024, "{} bytes", html.len());
}

/// Series of a 100 × 100 pool (one VRRP instance, no process metrics), in
/// both modes: the figures the README quotes.
#[test]
fn series_counts_of_a_100_by_100_pool() {
    let _alone = crate::cpu_heavy();
    let s = pool(100, 100);
    let full_text = metrics::render(&s, Format::Prometheus, full());
    let minimal_text = metrics::render(&s, Format::Prometheus, minimal());
    let (nf, nm) = (count_series(&full_text), count_series(&minimal_text));
    println!("100 x 100 pool: {nf} series full, {nm} minimal");
    let by_name = series_by_name(&full_text);
    for name in [
        "lvsd_real_server_up",
        "lvsd_real_server_weight",
        "lvsd_real_server_configured_weight",
        "lvsd_real_server_state_since_timestamp_seconds",
        "lvsd_ipvs_real_server_active_connections",
        "lvsd_ipvs_real_server_inactive_connections",
        "lvsd_real_server_down_transitions_total",
        "lvsd_real_server_downtime_seconds_total",
        "lvsd_ipvs_real_server_connections_total",
    ] {
        assert_eq!(by_name.get(name), Some(&10_000), "{name}");
    }
    for name in [
        "lvsd_ipvs_real_server_packets_total",
        "lvsd_ipvs_real_server_bytes_total",
    ] {
        assert_eq!(by_name.get(name), Some(&20_000), "{name}");
    }
    // Per real server: 14 series in full, 2 minimal; the rest (VRRP, virtual
    // servers, global) is the same in both.
    assert_eq!(nf - nm, 12 * 10_000);
    let fixed = nm - 2 * 10_000;
    // Per virtual server: up, weight, quorum, hysteresis, sorry, 2 state
    // counts, programmed, conns, 2 pkts, 2 bytes.
    let per_vs = 13;
    let global_and_vrrp = fixed - per_vs * 100;
    // The global part: ~60 series, plus 17 per histogram (the two reconcile
    // scopes, the instance's tracked script).
    assert!(
        global_and_vrrp < 120,
        "global + one VRRP instance: {global_and_vrrp}"
    );
    assert_eq!(nf, 140_000 + per_vs * 100 + global_and_vrrp);
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; tests/run.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), msg)
}

pub fn assert_promtool_clean(text: &str) {
    let (ok, msg) = promtool_check(text);
    assert!(ok, "promtool check metrics: {msg}\n--- exposition:\n{text}");
}

#[test]
fn promtool_lints_the_prometheus_text_clean() {
    assert_promtool_clean(&metrics::render(&small(), Format::Prometheus, full()));
    let with_process = Options {
        process: true,
        ..full()
    };
    let mut s = small();
    s.pid = std::process::id();
    let text = metrics::render(&s, Format::Prometheus, with_process);
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
    assert!(text.contains("process_cpu_seconds_total"), "{text}");
    assert_promtool_clean(&text);
    assert_promtool_clean(&metrics::render(&pool(3, 5), Format::Prometheus, minimal()));
}

#[test]
fn content_negotiation() {
    let s = small();
    let opts = HttpOptions {
        detail: RealServerDetail::Full,
    };
    let r = respond(&s, "/metrics", None, Some("*/*"), opts);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let r = respond(
        &s,
        "/metrics",
        None,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
        opts,
    );
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/openmetrics-text"));
}

#[test]
fn health_routes() {
    let opts = HttpOptions {
        detail: RealServerDetail::Full,
    };
    let mut s = small();
    let code = |s: &lvsd::daemon::status::Status, path: &str| {
        respond(s, path, None, None, opts).status().as_u16()
    };
    assert_eq!(code(&s, "/healthz"), 200);
    assert_eq!(code(&s, "/healthz/master/VI_1"), 200);
    assert_eq!(code(&s, "/healthz/master/VI_2"), 503);
    assert_eq!(code(&s, "/healthz/master/VI_9"), 404);
    assert_eq!(code(&s, "/nothing"), 404);
    s.ipvs_programmed = Some(false);
    assert_eq!(code(&s, "/healthz"), 503);
    s.ipvs_programmed = None;
    assert_eq!(code(&s, "/healthz"), 200, "VRRP only: nothing to program");
}

/// Render cost of the 100 × 100 pool (report the figure; not a timed assertion).
/// `cargo test --test metrics -- --ignored --nocapture render_cost` (a benchmark:
/// tests/run.sh skips ignored tests named bench_*).
#[test]
#[ignore = "benchmark"]
fn bench_render_cost_of_a_100_by_100_pool() {
    let s = pool(100, 100);
    for (name, opts) in [("full", full()), ("minimal", minimal())] {
        let rounds = 20;
        let cpu = || {
            nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD)
                .map(|u| {
                    let t = u.user_time();
                    let k = u.system_time();
                    t.tv_sec() as f64
                        + t.tv_usec() as f64 / 1e6
                        + k.tv_sec() as f64
                        + k.tv_usec() as f64 / 1e6
                })
                .unwrap_or(0.0)
        };
        let before = cpu();
        let mut bytes = 0;
        for _ in 0..rounds {
            bytes = metrics::render(&s, Format::Prometheus, opts).len();
        }
        let per = (cpu() - before) / f64::from(rounds) * 1000.0;
        println!("100 x 100 pool, {name}: {per:.1} ms CPU per render, {bytes} bytes");
    }
    let before = std::time::Instant::now();
    let html = page::render(&pool(10, 100), None, NOW);
    println!(
        "status page, 1000 real servers: {:?}, {} bytes",
        before.elapsed(),
        html.len()
    );
}

/// `lvsd ctl` overrides: one series per overridden real server, `state`
/// drawn from three values; none without overrides; the page and the
/// status text name them; the exposition still lints clean.
#[test]
fn admin_overrides_are_one_bounded_series_each() {
    use lvsd::director::admin::{AdminOverride, AdminState};
    let plain = metrics::render(&small(), Format::Prometheus, full());
    assert!(!plain.contains("lvsd_real_server_admin_state"), "{plain}");
    let mut s = small();
    let states = [AdminState::Drain, AdminState::Maint, AdminState::Weight(5)];
    let mut set = 0;
    for (rs, state) in s.virtual_servers[0].real_servers.iter_mut().zip(states) {
        rs.admin = Some(AdminOverride {
            state,
            set_by_uid: 0,
            set_at: 1_700_000_000,
        });
        set += 1;
    }
    assert!(set > 0);
    let text = metrics::render(&s, Format::Prometheus, full());
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("lvsd_real_server_admin_state{"))
        .collect();
    assert_eq!(lines.len(), set, "{text}");
    assert!(
        lines[0].contains("state=\"drain\"") && lines[0].ends_with(" 1"),
        "{lines:?}"
    );
    assert_promtool_clean(&text);
    let html = page::render(&s, None, NOW);
    assert!(html.contains("<b>admin drain</b>"), "{html}");
    let status = lvsd::daemon::status::render(&s);
    assert!(status.contains(" admin drain (uid 0) weight "), "{status}");
}
