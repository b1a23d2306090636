//! An nginx harness: a private nginx (own prefix, pid, logs, temp dirs) serving given files
//! and locations over HTTP and optionally HTTPS with a self-signed certificate made for the
//! test, on loopback or inside a network namespace. Waits until nginx answers; stops on drop.
//!
//! ```no_run
//! # use testbed::nginx::Nginx;
//! let nginx = Nginx::builder()
//!     .file("index.html", b"hello\n")
//!     .location("location /status { return 503 \"down\\n\"; }")
//!     .https()
//!     .start()
//!     .expect("nginx");
//! let url = format!("http://127.0.0.1:{}/index.html", nginx.http_port());
//! ```

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for nginx to answer after starting it.
const START_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Default, Clone)]
pub struct NginxBuilder {
    files: Vec<(String, Vec<u8>)>,
    locations: Vec<String>,
    extra_http: Vec<String>,
    https: bool,
    listen_ip: Option<String>,
    netns: Option<String>,
    cert_names: Vec<String>,
    worker_processes: Option<u32>,
}

impl NginxBuilder {
    /// A file under the document root (`path` relative, directories are created).
    pub fn file(mut self, path: &str, contents: &[u8]) -> Self {
        self.files
            .push((path.trim_start_matches('/').to_string(), contents.to_vec()));
        self
    }

    /// A raw `location ... { ... }` block added to the HTTP and HTTPS servers.
    pub fn location(mut self, block: &str) -> Self {
        self.locations.push(block.to_string());
        self
    }

    /// Raw text added at `http {}` level, e.g. extra `server {}` blocks. `{http_port}` and
    /// `{https_port}`, `{cert}` and `{key}` are replaced by the actual values.
    pub fn http_block(mut self, text: &str) -> Self {
        self.extra_http.push(text.to_string());
        self
    }

    /// Also serve HTTPS with a self-signed certificate (see `Nginx::cert_path`).
    pub fn https(mut self) -> Self {
        self.https = true;
        self
    }

    /// DNS names in the certificate's subjectAltName (127.0.0.1 and ::1 are always in).
    pub fn cert_name(mut self, name: &str) -> Self {
        self.cert_names.push(name.to_string());
        self
    }

    /// Address to listen on (default 127.0.0.1; `0.0.0.0` answers on all of 127.0.0.0/8).
    pub fn listen_ip(mut self, ip: &str) -> Self {
        self.listen_ip = Some(ip.to_string());
        self
    }

    /// Run inside this (existing) network namespace, via `ip netns exec`.
    pub fn netns(mut self, name: &str) -> Self {
        self.netns = Some(name.to_string());
        self
    }

    pub fn worker_processes(mut self, n: u32) -> Self {
        self.worker_processes = Some(n);
        self
    }

    pub fn start(self) -> io::Result<Nginx> {
        // Free ports are picked by the kernel and released; a collision with a parallel test
        // shows as a failed start, which is retried with new ports.
        let mut last_error = None;
        for _ in 0..5 {
            match self.try_start() {
                Ok(n) => return Ok(n),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("nginx did not start")))
    }

    fn try_start(&self) -> io::Result<Nginx> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lvsd-nginx-{}-", std::process::id()))
            .tempdir()?;
        // nginx workers may run as an unprivileged user: let them read the tree.
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        }
        let root = dir.path().join("html");
        fs::create_dir_all(&root)?;
        fs::create_dir_all(dir.path().join("tmp"))?;
        fs::create_dir_all(dir.path().join("logs"))?;
        for (path, contents) in &self.files {
            let full = root.join(path);
            if let Some(parent) = full.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(full, contents)?;
        }
        let listen_ip = self.listen_ip.clone().unwrap_or_else(|| "127.0.0.1".into());
        let http_port = free_port()?;
        let https_port = if self.https { Some(free_port()?) } else { None };
        let (cert, key) = if self.https {
            let (c, k) = make_self_signed(dir.path(), &self.cert_names)?;
            (Some(c), Some(k))
        } else {
            (None, None)
        };
        let conf = self.render(
            dir.path(),
            &listen_ip,
            http_port,
            https_port,
            cert.as_deref(),
            key.as_deref(),
        );
        let conf_path = dir.path().join("nginx.conf");
        fs::write(&conf_path, conf)?;
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "nginx"]);
                c
            }
            None => Command::new("nginx"),
        };
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn()?;
        let mut nginx = Nginx {
            child: Some(child),
            http_port,
            https_port,
            listen_ip,
            in_netns: self.netns.is_some(),
            cert,
            dir,
        };
        nginx.wait_ready()?;
        Ok(nginx)
    }

    fn render(
        &self,
        prefix: &Path,
        listen_ip: &str,
        http_port: u16,
        https_port: Option<u16>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> String {
        let p = prefix.display();
        let listen = |port: u16, ssl: bool| {
            let host = if listen_ip.contains(':') {
                format!("[{listen_ip}]")
            } else {
                listen_ip.to_string()
            };
            format!("listen {host}:{port}{};", if ssl { " ssl" } else { "" })
        };
        let mut c = String::new();
        let _ = writeln!(
            c,
            "daemon off;\nmaster_process on;\nworker_processes {};",
            self.worker_processes.unwrap_or(1)
        );
        let _ = writeln!(c, "pid {p}/nginx.pid;\nerror_log {p}/logs/error.log;");
        let _ = writeln!(
            c,
            "worker_rlimit_nofile 65536;\nevents {{ worker_connections 16384; }}"
        );
        let _ = writeln!(
            c,
            "http {{\n  access_log off;\n  default_type application/octet-stream;"
        );
        for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            let _ = writeln!(c, "  {t}_temp_path {p}/tmp/{t};");
        }
        let mut locations = self.locations.join("\n    ");
        if locations.is_empty() {
            locations.push_str("location / { }");
        }
        let _ = writeln!(
            c,
            "  server {{\n    {}\n    root {p}/html;\n    {locations}\n  }}",
            listen(http_port, false)
        );
        if let (Some(port), Some(cert), Some(key)) = (https_port, cert, key) {
            let _ = writeln!(
                c,
                "  server {{\n    {}\n    ssl_certificate {};\n    ssl_certificate_key {};\n    root {p}/html;\n    {locations}\n  }}",
                listen(port, true),
                cert.display(),
                key.display()
            );
        }
        for extra in &self.extra_http {
            let mut text = extra.replace("{http_port}", &http_port.to_string());
            if let (Some(port), Some(cert), Some(key)) = (https_port, cert, key) {
                text = text
                    .replace("{https_port}", &port.to_string())
                    .replace("{cert}", &cert.display().to_string())
                    .replace("{key}", &key.display().to_string());
            }
            let _ = writeln!(c, "  {text}");
        }
        c.push_str("}\n");
        c
    }
}

/// A running nginx; killed (with its workers) and its temp dir removed on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Option<Child>,
    http_port: u16,
    https_port: Option<u16>,
    listen_ip: String,
    in_netns: bool,
    cert: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl Nginx {
    pub fn builder() -> NginxBuilder {
        NginxBuilder::default()
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The HTTPS port (0 if the builder did not ask for HTTPS).
    pub fn https_port(&self) -> u16 {
        self.https_port.unwrap_or(0)
    }

    /// The self-signed certificate (PEM), usable as a CA file to verify against.
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert.as_deref()
    }

    /// nginx's prefix directory (config, logs, html).
    pub fn prefix(&self) -> &Path {
        self.dir.path()
    }

    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }

    fn probe_addr(&self) -> Option<SocketAddr> {
        let ip = match self.listen_ip.as_str() {
            "0.0.0.0" => "127.0.0.1".to_string(),
            "::" => "::1".to_string(),
            other => other.to_string(),
        };
        ip.parse()
            .ok()
            .map(|ip| SocketAddr::new(ip, self.http_port))
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_DEADLINE;
        let addr = self.probe_addr();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "nginx exited with {status}: {}",
                        self.error_log()
                    )));
                }
            }
            // A namespace's loopback is not reachable from here: trust the pid file there.
            let ready = match (&addr, self.in_netns) {
                (Some(a), false) => {
                    TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok()
                }
                _ => self.dir.path().join("nginx.pid").exists(),
            };
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "nginx did not answer within {START_DEADLINE:?}: {}",
                    self.error_log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // nginx's master stops its workers on SIGTERM; SIGKILL on the master would orphan
            // them, so ask politely first, then insist.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A self-signed EC certificate for 127.0.0.1, ::1 and `names`, made with openssl.
fn make_self_signed(dir: &Path, names: &[String]) -> io::Result<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let mut san = String::from("subjectAltName=IP:127.0.0.1,IP:::1");
    for n in names {
        san.push_str(&format!(",DNS:{n}"));
    }
    let cn = names.first().map(String::as_str).unwrap_or("localhost");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .arg("-subj")
        .arg(format!("/CN={cn}"))
        .arg("-addext")
        .arg(&san)
        // A leaf, not a CA (openssl's default), so strict verifiers accept it when the
        // certificate itself is given as the trust anchor.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "openssl req -x509 failed: {status}"
        )));
    }
    Ok((cert, key))
}
