//! A small LVS site inside the UML guest: a LAN of namespaces (client,
//! two directors, two nginx real servers), lvsd directors, and helpers to
//! send traffic and read each director's IPVS table and status.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use testbed::netns::{Lan, Netns};
use testbed::process::ProcessGuard;
use testbed::wait_until;

pub const CLIENT: usize = 0;
pub const DIR1: usize = 1;
pub const DIR2: usize = 2;
pub const RS1: usize = 3;
pub const RS2: usize = 4;
/// Generous: a loaded 2-core CI machine, one guest CPU.
pub const SLOW: Duration = Duration::from_secs(60);

/// How the directors forward to the real servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Direct routing: the real servers hold the VIP on lo.
    Dr,
    /// Masquerading: the client sits in 172.16.0.0/24 (on the same wire),
    /// the real servers route it via the directors' floating gateway
    /// 10.0.0.254, so replies pass the director and are un-NATed.
    Nat,
}

/// The client's own subnet in NAT mode (reached through the directors).
pub const NAT_CLIENT: &str = "172.16.0.1";
/// The floating gateway the NAT real servers route the client through.
pub const NAT_GATEWAY: &str = "10.0.0.254";

pub struct Site {
    // Processes die before the namespaces go.
    pub nginx: Vec<Option<ProcessGuard>>,
    pub lan: Lan,
    pub dir: tempfile::TempDir,
}

impl Site {
    /// The LAN with nginx on port 80 of both real servers, set up for `kind`.
    pub fn new(prefix: &str) -> Site {
        Site::with_kind(prefix, Kind::Dr)
    }

    pub fn with_kind(prefix: &str, kind: Kind) -> Site {
        let lan = Lan::new(prefix, 5).unwrap_or_else(|e| panic!("LAN: {e}"));
        let dir = tempfile::Builder::new()
            .prefix(&format!("lvsd-director-{}-", std::process::id()))
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut site = Site {
            nginx: Vec::new(),
            lan,
            dir,
        };
        match kind {
            Kind::Dr => {
                for i in [RS1, RS2] {
                    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("deploy/realserver/lvs-dr-realserver.sh");
                    site.lan
                        .host(i)
                        .run(&[script.to_string_lossy().as_ref(), "start", &site.vip()])
                        .unwrap_or_else(|e| panic!("real server script: {e}"));
                }
            }
            Kind::Nat => site.setup_nat(),
        }
        site.nginx = vec![None, None];
        site.start_nginx(0);
        site.start_nginx(1);
        site
    }

    fn setup_nat(&self) {
        let client_net = "172.16.0.0/24";
        let check = |r: Result<String, testbed::process::CommandError>| {
            r.unwrap_or_else(|e| panic!("NAT setup: {e}"))
        };
        let c = self.ns(CLIENT);
        check(c.ip(&["addr", "add", &format!("{NAT_CLIENT}/24"), "dev", "eth0"]));
        check(c.ip(&[
            "route",
            "add",
            &format!("{}/32", self.vip()),
            "dev",
            "eth0",
            "src",
            NAT_CLIENT,
        ]));
        for d in [DIR1, DIR2] {
            let ns = self.ns(d);
            check(ns.ip(&["route", "add", client_net, "dev", "eth0"]));
            for (k, v) in [
                ("net.ipv4.ip_forward", "1"),
                ("net.ipv4.conf.all.send_redirects", "0"),
                ("net.ipv4.conf.eth0.send_redirects", "0"),
            ] {
                ns.sysctl(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
            }
        }
        for r in [RS1, RS2] {
            check(self.ns(r).ip(&[
                "route",
                "add",
                client_net,
                "via",
                NAT_GATEWAY,
                "dev",
                "eth0",
            ]));
        }
    }

    pub fn vip(&self) -> String {
        "10.0.0.100".to_owned()
    }

    pub fn ns(&self, i: usize) -> &Netns {
        self.lan.host(i)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// nginx on real server `n` (0 or 1): `/` answers "rs1"/"rs2", `/slow`
    /// is a 40 KB file served at 4 KB/s (a long-lived connection).
    pub fn start_nginx(&mut self, n: usize) {
        let name = format!("rs{}", n + 1);
        let root = self.path(&name);
        std::fs::create_dir_all(root.join("html")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("html/slow"), vec![b'x'; 120 * 1024])
            .unwrap_or_else(|e| panic!("{e}"));
        let r = root.display();
        let conf = format!(
            "daemon off;\npid {r}/nginx.pid;\nerror_log {r}/error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n access_log {r}/access.log;\n client_body_temp_path {r}/body;\n proxy_temp_path {r}/proxy;\n\
             fastcgi_temp_path {r}/fastcgi;\n uwsgi_temp_path {r}/uwsgi;\n scgi_temp_path {r}/scgi;\n\
             server {{ listen 80; root {r}/html;\n  location = / {{ return 200 \"{name}\\n\"; }}\n\
               location = /slow {{ limit_rate 4k; limit_rate_after 0; }} }}\n}}\n"
        );
        let conf_path = root.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap_or_else(|e| panic!("{e}"));
        let ns = self.lan.host(RS1 + n);
        let guard = ns
            .spawn_logged(
                &[
                    "nginx",
                    "-p",
                    &r.to_string(),
                    "-e",
                    &format!("{r}/error.log"),
                    "-c",
                    &conf_path.display().to_string(),
                ],
                &root,
                "nginx",
            )
            .unwrap_or_else(|e| panic!("nginx: {e}"));
        ns.wait_for_tcp_listener(80, SLOW)
            .unwrap_or_else(|e| panic!("{e}\n{}", guard.logs()));
        self.nginx[n] = Some(guard);
    }

    pub fn stop_nginx(&mut self, n: usize) {
        if let Some(mut g) = self.nginx[n].take() {
            g.kill();
        }
    }

    /// One request from the client to the VIP; the body or the failure.
    pub fn get(&self, path: &str) -> Result<String, String> {
        let url = format!("http://{}{path}", self.vip());
        let out = self
            .ns(CLIENT)
            .exec(&["curl", "-s", "--max-time", "3", &url])
            .map_err(|e| format!("curl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!("curl {url}: {}", out.status))
        }
    }

    /// `ipvsadm -Ln` in director `i`'s namespace.
    pub fn ipvsadm(&self, i: usize) -> String {
        self.ns(i)
            .run(&["ipvsadm", "-Ln"])
            .unwrap_or_else(|e| panic!("ipvsadm: {e}"))
    }

    /// Every real server in director `i`'s table: (addr:port, weight,
    /// active connections).
    pub fn dests(&self, i: usize) -> Vec<(String, u32, u32)> {
        self.ipvsadm(i)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.first() != Some(&"->") || f.len() < 6 || f[1] == "RemoteAddress:Port" {
                    return None;
                }
                Some((f[1].to_owned(), f[3].parse().ok()?, f[4].parse().ok()?))
            })
            .collect()
    }

    /// Real servers (addr:port) in director `i`'s table with weight > 0.
    pub fn active_reals(&self, i: usize) -> Vec<String> {
        self.ipvsadm(i)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&"->")
                    && f.len() >= 4
                    && f[3] != "0"
                    && f[1] != "RemoteAddress:Port")
                    .then(|| f[1].to_owned())
            })
            .collect()
    }

    pub fn has_vip(&self, i: usize) -> bool {
        self.ns(i)
            .ip(&["-o", "addr", "show", "dev", "eth0"])
            .is_ok_and(|o| o.contains(&format!("inet {}/", self.vip())))
    }

    /// Writes a director config named `name` and returns its path.
    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// lvsd on director `i` with `config`, control socket `<name>.sock`.
    pub fn lvsd(&self, i: usize, name: &str, config: &Path, extra: &[&str]) -> ProcessGuard {
        self.lvsd_with_env(i, name, config, extra, &[])
    }

    /// [`Site::lvsd`] with `VAR=value` environment settings (via env(1),
    /// which execs: the guard's pid is lvsd's).
    pub fn lvsd_with_env(
        &self,
        i: usize,
        name: &str,
        config: &Path,
        extra: &[&str],
        env: &[String],
    ) -> ProcessGuard {
        let sock = self.path(&format!("{name}.sock"));
        let data = self.path(&format!("{name}.data"));
        let mut argv: Vec<String> = vec!["env".into()];
        argv.extend(env.iter().cloned());
        argv.extend([
            env!("CARGO_BIN_EXE_lvsd").into(),
            "run".into(),
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-f".into(),
            config.display().to_string(),
            "--control-socket".into(),
            sock.display().to_string(),
            "--data-file".into(),
            data.display().to_string(),
        ]);
        argv.extend(extra.iter().map(|s| s.to_string()));
        self.ns(i)
            .spawn_logged(&argv, self.dir.path(), name)
            .unwrap_or_else(|e| panic!("lvsd: {e}"))
    }

    /// keepalived 2.2.7 (VRRP, checkers and IPVS) on director `i` with
    /// `config`; its pid files and log under `<name>.*` in the site's dir.
    pub fn keepalived(&self, i: usize, name: &str, config: &Path) -> ProcessGuard {
        let p = |ext: &str| self.path(&format!("{name}.{ext}")).display().to_string();
        let argv = [
            "/usr/sbin/keepalived".to_owned(),
            "-n".into(),
            "-l".into(),
            "-D".into(),
            "-G".into(),
            "-f".into(),
            config.display().to_string(),
            "-p".into(),
            p("pid"),
            "-r".into(),
            p("vrrp.pid"),
            "-c".into(),
            p("checkers.pid"),
        ];
        self.ns(i)
            .spawn_logged(&argv, self.dir.path(), name)
            .unwrap_or_else(|e| panic!("keepalived: {e}"))
    }

    /// `lvsd status` (human) of the director whose control socket is `<name>.sock`.
    pub fn status_text(&self, name: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["status", "-s"])
            .arg(self.path(&format!("{name}.sock")))
            .output()
            .unwrap_or_else(|e| panic!("lvsd status: {e}"));
        assert!(
            out.status.success(),
            "lvsd status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `lvsd status --json` of the director whose control socket is `<name>.sock`.
    pub fn status(&self, name: &str) -> Option<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["status", "--json", "-s"])
            .arg(self.path(&format!("{name}.sock")))
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn wait(&self, what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
        wait_until(what, timeout, cond).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A DR director config for this site: VRRP instance with `state`/`priority`
/// holding the VIP, rr over the real servers in `reals` with TCP_CHECKs.
pub fn dr_config(state: &str, priority: u8, reals: &[&str]) -> String {
    director_config(Kind::Dr, state, priority, reals)
}

/// A director config of either kind (NAT also floats the gateway address).
pub fn director_config(kind: Kind, state: &str, priority: u8, reals: &[&str]) -> String {
    let (lb_kind, gateway) = match kind {
        Kind::Dr => ("DR", String::new()),
        Kind::Nat => ("NAT", format!("        {NAT_GATEWAY}/24 dev eth0\n")),
    };
    let mut rs = String::new();
    for r in reals {
        rs.push_str(&format!(
            "    real_server {r} 80 {{\n        weight 1\n        TCP_CHECK {{\n            connect_timeout 2\n            retry 1\n            delay_before_retry 1\n        }}\n    }}\n"
        ));
    }
    format!(
        r#"global_defs {{
    router_id lvsd_test
    vrrp_garp_master_delay 1
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 61
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass Zs3cr3t
    }}
    virtual_ipaddress {{
        10.0.0.100/24 dev eth0
{gateway}    }}
}}
virtual_server 10.0.0.100 80 {{
    delay_loop 2
    lb_algo rr
    lb_kind {lb_kind}
    protocol TCP
{rs}}}
"#
    )
}
