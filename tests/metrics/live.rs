//! A running `lvsd run -P --metrics-listen` in a network namespace (VRRP
//! only: no IPVS needed), read by real consumers: curl, promtool, `lvsd
//! status`/`lvsd metrics` over the control socket, a Prometheus server that
//! scrapes it and answers every expression of the shipped Grafana dashboard
//! and alert rules, and headless Chromium taking screenshots of the page.
//! Everything (processes, namespaces) is killed on drop. Needs root.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::netns::Lan;
use crate::process::ProcessGuard;
use crate::render::assert_promtool_clean;
use crate::wait::wait_until;

/// Inside the test's own namespace, so any fixed port is free.
const METRICS_PORT: u16 = 9662;
const PROMETHEUS_PORT: u16 = 19090;
/// The VRRP password, which must never be shown.
const SECRET: &str = "s3cr3tpw";

fn conf() -> String {
    format!(
        "global_defs {{\n  router_id metrics_test\n  script_user root\n  enable_script_security\n}}\n\
         vrrp_script chk_ok {{\n  script \"/bin/true\"\n  interval 1\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  priority 150\n  advert_int 1\n\
         \x20 authentication {{\n    auth_type PASS\n    auth_pass {SECRET}\n  }}\n\
         \x20 track_interface {{\n    eth0\n  }}\n  track_script {{\n    chk_ok\n  }}\n\
         \x20 virtual_ipaddress {{\n    10.0.0.100/24\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 62\n  priority 100\n  advert_int 1\n\
         \x20 virtual_ipaddress {{\n    10.0.0.101/24\n  }}\n}}\n"
    )
}

/// lvsd -P with the HTTP listener and a control socket, in host 0 of a LAN.
pub struct Running {
    pub lan: Lan,
    pub lvsd: ProcessGuard,
    pub dir: tempfile::TempDir,
    socket: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.lvsd.kill();
        if !self.socket {
            // lvsd's default snapshot file without a control socket.
            let _ = fs::remove_file("/run/lvsd/lvsd-vrrp-only.json");
        }
    }
}

impl Running {
    /// With a control socket in the test's directory, or (`socket` false)
    /// with the listener alone.
    pub fn start(prefix: &str, socket: bool) -> Running {
        let lan = Lan::new(prefix, 1).expect("namespaces (needs root)");
        let dir = tempfile::Builder::new()
            .prefix("lvsd-metrics-")
            .tempdir()
            .expect("temp dir");
        let conf_path = dir.path().join("keepalived.conf");
        fs::write(&conf_path, conf()).expect("conf");
        let mut argv = vec![
            env!("CARGO_BIN_EXE_lvsd").to_string(),
            "run".into(),
            "-P".into(),
            "-f".into(),
            conf_path.display().to_string(),
            "--metrics-listen".into(),
            format!("127.0.0.1:{METRICS_PORT}"),
        ];
        if socket {
            argv.push("--control-socket".into());
            argv.push(dir.path().join("lvsd.sock").display().to_string());
        }
        let mut lvsd = lan
            .host(0)
            .spawn_logged(&argv, dir.path(), "lvsd")
            .expect("spawn lvsd");
        lvsd.wait_for_output("metrics and status page on", Duration::from_secs(20))
            .expect("listener up");
        let r = Running {
            lan,
            lvsd,
            dir,
            socket,
        };
        // One lone router: MASTER after the master down interval.
        wait_until("VI_1 MASTER", Duration::from_secs(20), || {
            r.get("/healthz/master/VI_1", None).0 == 200
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", r.lvsd.logs()));
        r
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("lvsd.sock")
    }

    /// (status code, content type, body) of GET `path` on the listener.
    pub fn get(&self, path: &str, accept: Option<&str>) -> (u16, String, String) {
        let body = self.dir.path().join("body");
        let mut argv = vec![
            "curl".to_string(),
            "-s".into(),
            "-o".into(),
            body.display().to_string(),
            "-w".into(),
            "%{http_code} %{content_type}".into(),
        ];
        if let Some(a) = accept {
            argv.push("-H".into());
            argv.push(format!("Accept: {a}"));
        }
        argv.push(format!("http://127.0.0.1:{METRICS_PORT}{path}"));
        let out = self.lan.host(0).exec(&argv).expect("curl");
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        let (code, ctype) = head.split_once(' ').unwrap_or((&head, ""));
        (
            code.parse().unwrap_or(0),
            ctype.to_owned(),
            fs::read_to_string(&body).unwrap_or_default(),
        )
    }
}

fn lvsd_cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .output()
        .expect("lvsd");
    assert!(
        out.status.success(),
        "lvsd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_running_lvsd_serves_metrics_page_json_and_health() {
    let r = Running::start("metrics", true);
    let (code, ctype, text) = r.get("/metrics", None);
    assert_eq!(code, 200);
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_promtool_clean(&text);
    for needle in [
        r#"lvsd_vrrp_state{vrrp_instance="VI_1",vrid="61",state="master"} 1"#,
        r#"lvsd_vrrp_track_up{vrrp_instance="VI_1",vrid="61",type="interface",track="eth0"} 1"#,
        "lvsd_vrrp_adverts_sent_total{",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "lvsd_build_info{",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // The script's runs arrive with its first results (state writes are
    // at most one a second when only counters move).
    let runs = r#"lvsd_vrrp_track_script_runs_total{track="chk_ok",result="success"} "#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = text;
    while !text.contains(runs) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        text = r.get("/metrics", None).2;
    }
    assert!(text.contains(runs), "{runs} missing:\n{text}");
    assert!(
        text.contains(r#"lvsd_vrrp_track_script_duration_seconds_count{track="chk_ok"} "#),
        "{text}"
    );
    let (code, ctype, om) = r.get(
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    );
    assert_eq!(code, 200);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(om.ends_with("# EOF\n"));

    // The same exposition from the control socket.
    let socket = r.socket().display().to_string();
    let from_cli = lvsd_cli(&["metrics", "-s", &socket]);
    assert_promtool_clean(&from_cli);
    assert!(from_cli.contains(r#"state="master"} 1"#));

    // /status.json is lvsd status --json's body (only the advert counters
    // move between the two reads: compare after a stop of the clock is not
    // possible, so compare the fields that do not tick).
    // An instance may change state between the two reads (VI_2 becomes
    // master about 3 s after start): read both again until they agree.
    let strip = |t: &str| {
        let mut v: serde_json::Value = serde_json::from_str(t).expect("json");
        for i in v["vrrp"].as_array_mut().expect("vrrp") {
            i["counters"] = serde_json::Value::Null;
            if let Some(tracks) = i["tracks_up"].as_array_mut() {
                for t in tracks {
                    t["runs"] = serde_json::Value::Null;
                }
            }
        }
        v
    };
    let mut attempts = 0;
    let json = loop {
        let (code, ctype, json) = r.get("/status.json", None);
        assert_eq!((code, ctype.as_str()), (200, "application/json"));
        let cli_json = lvsd_cli(&["status", "--json", "-s", &socket]);
        attempts += 1;
        if strip(&json) == strip(&cli_json) || attempts == 20 {
            assert_eq!(strip(&json), strip(&cli_json));
            break json;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };

    let (code, ctype, html) = r.get("/?refresh=3", None);
    assert_eq!(code, 200);
    assert!(ctype.starts_with("text/html"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"3\">"));
    assert!(html.contains("VI_1") && html.contains("MASTER"));

    for body in [&text, &json, &html, &om] {
        assert!(!body.contains(SECRET), "the VRRP password is shown");
    }
    assert_eq!(r.get("/healthz", None).0, 200);
    assert_eq!(r.get("/healthz/master/VI_9", None).0, 404);
    assert_eq!(r.get("/no/such/page", None).0, 404);
}

/// Headless Chromium screenshots of the page (kept under
/// target/lvsd-screens/ for people to look at) and its DOM as Chromium
/// parsed it.
#[test]
fn chromium_renders_the_status_page() {
    let _alone = crate::cpu_heavy();
    // Without a control socket: the listener alone.
    let r = Running::start("mshot", false);
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/lvsd-screens");
    fs::create_dir_all(&out_dir).expect("screens dir");
    let profile = r.dir.path().join("chromium-profile");
    let chromium = |extra: &[String], url: &str| {
        let mut argv: Vec<String> = [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push(format!("--user-data-dir={}", profile.display()));
        argv.extend(extra.iter().cloned());
        argv.push(url.to_owned());
        let out = r
            .lan
            .host(0)
            .exec(&argv)
            .expect("chromium (Debian package chromium; tests/run.sh installs it)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = format!("http://127.0.0.1:{METRICS_PORT}/");
    let png = out_dir.join("status.png");
    let _ = fs::remove_file(&png);
    let (ok, _, err) = chromium(
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,900".into(),
        ],
        &url,
    );
    assert!(ok, "chromium --screenshot failed: {err}");
    let bytes = fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(bytes.len() > 5_000, "suspiciously small screenshot");
    // The page of a full director (virtual servers, a down real server
    // with a hostile reason, a sorry server), from the fixture.
    let fixture = r.dir.path().join("fixture.html");
    fs::write(
        &fixture,
        lvsd::daemon::page::render(&crate::fixtures::small(), None, 1_700_000_600.0),
    )
    .expect("fixture page");
    let fixture_png = out_dir.join("fixture.png");
    let _ = fs::remove_file(&fixture_png);
    let (ok, _, err) = chromium(
        &[
            format!("--screenshot={}", fixture_png.display()),
            "--window-size=1280,900".into(),
        ],
        &format!("file://{}", fixture.display()),
    );
    assert!(ok, "chromium --screenshot of the fixture failed: {err}");
    assert!(fs::read(&fixture_png)
        .expect("fixture screenshot")
        .starts_with(b"\x89PNG"));
    let (ok, dom, err) = chromium(&["--dump-dom".into()], &url);
    assert!(ok, "chromium --dump-dom failed: {err}");
    assert!(dom.contains("<h2>VRRP</h2>"), "{dom}");
    assert!(dom.contains("VI_2"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
}

fn prometheus_config(dir: &Path, rules: &Path) -> PathBuf {
    let path = dir.join("prometheus.yml");
    fs::write(
        &path,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: lvsd\n    static_configs:\n      - targets: ['127.0.0.1:{METRICS_PORT}']\n",
            rules.display()
        ),
    )
    .expect("prometheus.yml");
    path
}

/// Every PromQL expression in a Grafana dashboard's JSON, with the
/// dashboard's variables substituted as Grafana would.
pub fn dashboard_expressions(json: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr" | "query", serde_json::Value::String(e)) if !e.is_empty() => {
                            out.push(e.clone())
                        }
                        ("query", serde_json::Value::Object(q)) => {
                            if let Some(serde_json::Value::String(e)) = q.get("query") {
                                out.push(e.clone());
                            }
                        }
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(json, &mut out);
    out.into_iter()
        .map(|e| {
            // Variable queries: label_values(EXPR, LABEL) asks for EXPR's LABEL values.
            let e = match e
                .strip_prefix("label_values(")
                .and_then(|x| x.strip_suffix(')'))
            {
                Some(args) => match args.rsplit_once(',') {
                    Some((expr, label)) => format!("count by ({}) ({expr})", label.trim()),
                    None => args.to_owned(),
                },
                None => e,
            };
            let e = e
                .replace("$__rate_interval", "1m")
                .replace("$__interval", "15s")
                .replace("$__range", "1h");
            // Template variables (job, instance, vrrp_instance, virtual_server): any value.
            let mut s = String::new();
            let mut rest = e.as_str();
            while let Some(i) = rest.find('$') {
                s.push_str(&rest[..i]);
                let tail = &rest[i + 1..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                s.push_str(".*");
                rest = &tail[end..];
            }
            s.push_str(rest);
            s
        })
        .collect()
}

/// A real Prometheus scrapes the running lvsd (OpenMetrics negotiated),
/// loads the shipped alert rules, and answers every expression of the
/// shipped Grafana dashboard.
#[test]
fn prometheus_scrapes_lvsd_and_answers_the_dashboard_and_rules() {
    let r = Running::start("mprom", true);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rules = root.join("deploy/prometheus/lvsd.rules.yml");
    let config = prometheus_config(r.dir.path(), &rules);
    let data = r.dir.path().join("prometheus-data");
    let argv = [
        "prometheus".to_string(),
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"),
    ];
    let mut prom = r
        .lan
        .host(0)
        .spawn_logged(&argv, r.dir.path(), "prometheus")
        .expect("prometheus (Debian package prometheus; tests/run.sh installs it)");
    let query = |expr: &str| -> serde_json::Value {
        let out = r
            .lan
            .host(0)
            .exec(&[
                "curl",
                "-s",
                "--get",
                "--data-urlencode",
                &format!("query={expr}"),
                &format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query"),
            ])
            .expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    prom.wait_ready("prometheus scraped lvsd", Duration::from_secs(60), |_| {
        let v = query(r#"up{job="lvsd"} == 1 and on() lvsd_vrrp_state{state="master"} == 1"#);
        v["data"]["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .expect("scrape");
    // The target's last scrape had no error.
    let targets = r
        .lan
        .host(0)
        .exec(&[
            "curl",
            "-s",
            &format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/targets"),
        ])
        .expect("curl");
    let t: serde_json::Value = serde_json::from_slice(&targets.stdout).expect("targets json");
    let target = &t["data"]["activeTargets"][0];
    assert_eq!(target["health"], "up", "{t}");
    assert_eq!(target["lastError"], "", "{t}");

    let dashboard_path = root.join("deploy/grafana/lvsd-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&dashboard_path).expect("dashboard"))
            .expect("dashboard JSON");
    let exprs = dashboard_expressions(&dashboard);
    assert!(exprs.len() >= 10, "only {} expressions", exprs.len());
    let mut failures = Vec::new();
    for e in &exprs {
        let v = query(e);
        if v["status"] != "success" {
            failures.push(format!("{e}: {v}"));
        }
    }
    assert!(
        failures.is_empty(),
        "dashboard queries failed:\n{}",
        failures.join("\n")
    );

    // The alert rules loaded and evaluate without error.
    wait_until("rules evaluated", Duration::from_secs(20), || {
        let out = r
            .lan
            .host(0)
            .exec(&[
                "curl",
                "-s",
                &format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/rules"),
            ])
            .expect("curl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let rules: Vec<&serde_json::Value> = v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        !rules.is_empty()
            && rules
                .iter()
                .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", prom.logs()));
    // A lone healthy director raises no alert but the split-brain one cannot fire either.
    let firing =
        query(r#"ALERTS{alertstate="firing",alertname=~"LvsdVrrpSplitBrain|LvsdVrrpFault"}"#);
    assert_eq!(firing["data"]["result"], serde_json::json!([]), "{firing}");
}
