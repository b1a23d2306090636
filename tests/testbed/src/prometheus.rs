//! A real Prometheus server in a test's namespace, scraping lvsd directors,
//! and the questions the tests ask it (through its HTTP API with curl, from
//! the same namespace). The server dies with the returned guard.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::netns::Netns;
use crate::process::ProcessGuard;

/// Prometheus's port inside the test's namespace.
pub const PORT: u16 = 19091;

/// A running Prometheus in `ns` scraping `targets` (job `lvsd`) every
/// `interval` ("200ms", "1s").
pub struct Prometheus<'a> {
    ns: &'a Netns,
    pub process: ProcessGuard,
}

impl<'a> Prometheus<'a> {
    pub fn start(ns: &'a Netns, dir: &Path, targets: &[String], interval: &str) -> Self {
        let conf = dir.join("prometheus.yml");
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        fs::write(
            &conf,
            format!(
                "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n\
                 scrape_configs:\n  - job_name: lvsd\n    static_configs:\n      - targets: [{}]\n",
                list.join(", ")
            ),
        )
        .expect("prometheus.yml");
        let argv = [
            "prometheus".to_string(),
            format!("--config.file={}", conf.display()),
            format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{PORT}"),
        ];
        let process = ns
            .spawn_logged(&argv, dir, "prometheus")
            .expect("prometheus (Debian package prometheus; tests/run.sh installs it)");
        let mut p = Prometheus { ns, process };
        let n = targets.len();
        let ns = p.ns;
        p.process
            .wait_ready("Prometheus scraping", Duration::from_secs(120), |_| {
                query_in(ns, "up == 1").len() == n
            })
            .expect("prometheus up");
        p
    }

    /// An instant query's result: (target, value) pairs.
    pub fn query(&self, expr: &str) -> Vec<(String, f64)> {
        query_in(self.ns, expr)
    }

    /// The targets Prometheus last saw as master.
    pub fn masters(&self) -> Vec<String> {
        let mut m: Vec<String> = self
            .query(r#"lvsd_vrrp_state{state="master"} == 1"#)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        m.sort();
        m
    }

    /// The sum of `expr` over one target's series (0 when absent).
    pub fn value(&self, target: &str, expr: &str) -> f64 {
        self.query(expr)
            .into_iter()
            .filter(|(t, _)| t == target)
            .map(|(_, v)| v)
            .sum()
    }

    /// How many series `expr` has for one target.
    pub fn series(&self, target: &str, expr: &str) -> usize {
        self.query(expr)
            .into_iter()
            .filter(|(t, _)| t == target)
            .count()
    }

    /// Every stored sample of `expr` per target, as (time, value).
    pub fn samples(&self, expr: &str) -> Vec<(String, Vec<(f64, f64)>)> {
        let v = api(self.ns, "query", &format!("{expr}[30m]"));
        v["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let target = instance_of(r);
                let values = r["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        let t = p[0].as_f64()?;
                        let x = p[1].as_str()?.parse().ok()?;
                        Some((t, x))
                    })
                    .collect();
                (target, values)
            })
            .collect()
    }

    /// Each target's claims to be master, from what Prometheus stored: every
    /// sample saying master claims [state since, sample time].
    pub fn master_claims(&self, target: &str) -> Vec<(f64, f64)> {
        let states = self.samples(r#"lvsd_vrrp_state{state="master"}"#);
        let since = self.samples("lvsd_vrrp_state_since_timestamp_seconds");
        let of = |all: &[(String, Vec<(f64, f64)>)]| -> Vec<(f64, f64)> {
            all.iter()
                .filter(|(t, _)| t == target)
                .flat_map(|(_, v)| v.clone())
                .collect()
        };
        let since = of(&since);
        of(&states)
            .into_iter()
            .filter(|(_, x)| *x == 1.0)
            .filter_map(|(t, _)| {
                since
                    .iter()
                    .find(|(s_t, _)| *s_t == t)
                    .map(|(_, s)| (*s, t))
            })
            .collect()
    }

    /// Panics if two targets' master claims overlap by `handover` seconds or
    /// more (a preemption's RFC handover overlaps for milliseconds);
    /// returns how many claims each target had.
    pub fn assert_never_two_masters(&self, targets: &[&str], handover: f64) -> Vec<usize> {
        let claims: Vec<Vec<(f64, f64)>> = targets.iter().map(|t| self.master_claims(t)).collect();
        for (i, ci) in claims.iter().enumerate() {
            for (j, cj) in claims.iter().enumerate().skip(i + 1) {
                for &(a0, a1) in ci {
                    for &(b0, b1) in cj {
                        let overlap = a1.min(b1) - a0.max(b0);
                        assert!(
                            overlap < handover,
                            "Prometheus stored two masters for {overlap:.3} s: {} [{a0}, {a1}] and {} [{b0}, {b1}]",
                            targets[i],
                            targets[j]
                        );
                    }
                }
            }
        }
        claims.iter().map(Vec::len).collect()
    }
}

fn api(ns: &Netns, path: &str, query: &str) -> serde_json::Value {
    let argv = [
        "curl".to_string(),
        "-s".into(),
        "--get".into(),
        "--data-urlencode".into(),
        format!("query={query}"),
        format!("http://127.0.0.1:{PORT}/api/v1/{path}"),
    ];
    match ns.exec(&argv) {
        Ok(out) => serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
}

/// The target (`instance` label) of one API result.
fn instance_of(r: &serde_json::Value) -> String {
    r["metric"]["instance"].as_str().unwrap_or("").to_string()
}

fn query_in(ns: &Netns, expr: &str) -> Vec<(String, f64)> {
    let v = api(ns, "query", expr);
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let target = instance_of(r);
            let value = r["value"][1]
                .as_str()
                .and_then(|x| x.parse().ok())
                .unwrap_or(f64::NAN);
            (target, value)
        })
        .collect()
}
