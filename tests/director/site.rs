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

pub struct Site {
    // Processes die before the namespaces go.
    pub nginx: Vec<Option<ProcessGuard>>,
    pub lan: Lan,
    pub dir: tempfile::TempDir,
}

impl Site {
    /// The LAN with nginx on port 80 of both real servers, each holding
    /// `vip` on lo for direct routing (via deploy/realserver's script).
    pub fn new(prefix: &str) -> Site {
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
        for i in [RS1, RS2] {
            let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy/realserver/lvs-dr-realserver.sh");
            site.lan
                .host(i)
                .run(&[script.to_string_lossy().as_ref(), "start", &site.vip()])
                .unwrap_or_else(|e| panic!("real server script: {e}"));
        }
        site.nginx = vec![None, None];
        site.start_nginx(0);
        site.start_nginx(1);
        site
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
        let sock = self.path(&format!("{name}.sock"));
        let data = self.path(&format!("{name}.data"));
        let mut argv: Vec<String> = vec![
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
        ];
        argv.extend(extra.iter().map(|s| s.to_string()));
        self.ns(i)
            .spawn_logged(&argv, self.dir.path(), name)
            .unwrap_or_else(|e| panic!("lvsd: {e}"))
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
    }}
}}
virtual_server 10.0.0.100 80 {{
    delay_loop 2
    lb_algo rr
    lb_kind DR
    protocol TCP
{rs}}}
"#
    )
}
