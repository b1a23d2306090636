//! `lvsd genhash` and lvsd-as-`genhash` against keepalived 2.2.7's own `genhash`, on the same
//! URLs served by nginx and by small misbehaving test servers, all on loopback.

use testbed::nginx;
#[path = "../checkers/tests/support/servers.rs"]
mod servers;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nginx::Nginx;
use servers::{Behaviour, TestServer};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn run(program: &std::path::Path, args: &[&str]) -> Run {
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("run genhash");
    Run {
        stdout: normalise(&String::from_utf8_lossy(&out.stdout)),
        // The usage text names the program as invoked.
        stderr: String::from_utf8_lossy(&out.stderr)
            .replace(&format!("Usage: {} ", program.display()), "Usage: genhash "),
        code: out.status.code(),
    }
}

/// Response times differ from run to run; nothing else may.
fn normalise(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("] = ") {
            Some(i) if l.starts_with("Global response time for [") => {
                format!("{} = N usecs", &l[..i + 1])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn keepalived_genhash() -> PathBuf {
    PathBuf::from("/usr/bin/genhash")
}

/// lvsd reached through a symlink named `genhash`.
struct CompatGenhash {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn compat_genhash() -> CompatGenhash {
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-genhash-{}-", std::process::id()))
        .tempdir()
        .expect("tempdir");
    let path = dir.path().join("genhash");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lvsd"), &path).expect("symlink");
    CompatGenhash { _dir: dir, path }
}

fn lvsd(args: &[&str]) -> Run {
    let mut all = vec!["genhash"];
    all.extend_from_slice(args);
    run(std::path::Path::new(env!("CARGO_BIN_EXE_lvsd")), &all)
}

/// Runs keepalived's genhash and lvsd as `genhash` with the same arguments and asserts the
/// same stdout (line by line), stderr and exit status. nginx's Date header can tick between
/// the two runs, so a mismatch is retried a few times before it counts.
fn assert_same(args: &[&str]) -> Run {
    let compat = compat_genhash();
    let mut last = None;
    for _ in 0..4 {
        let theirs = run(&keepalived_genhash(), args);
        let ours = run(&compat.path, args);
        if theirs == ours {
            return ours;
        }
        last = Some((theirs, ours));
    }
    let (theirs, ours) = last.expect("at least one run");
    eprintln!("keepalived: {theirs:#?}\nlvsd:       {ours:#?}");
    for (i, (a, b)) in theirs.stdout.lines().zip(ours.stdout.lines()).enumerate() {
        assert_eq!(a, b, "stdout line {} differs for genhash {args:?}", i + 1);
    }
    assert_eq!(theirs, ours, "genhash {args:?}");
    ours
}

fn nginx_with_site() -> Nginx {
    Nginx::builder()
        .file("index.html", b"hello world\n")
        .file("big.bin", &(0..3000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>())
        .location("location = /status503 { return 503 \"unavailable\\n\"; }")
        .http_block(
            "server { listen 127.0.0.1:{http_port}; server_name vhost.example; \
             location / { default_type text/plain; return 200 \"vhost body\\n\"; } }",
        )
        .https()
        .cert_name("sni.example")
        .http_block(
            "server { listen 127.0.0.1:{https_port} ssl; server_name sni.example; \
             ssl_certificate {cert}; ssl_certificate_key {key}; \
             location / { default_type text/plain; return 200 \"sni=$ssl_server_name host=$host\\n\"; } }",
        )
        .start()
        .expect("start nginx")
}

#[test]
fn static_file_same_digest_and_output_as_keepalived() {
    let nginx = nginx_with_site();
    let port = nginx.http_port().to_string();
    let plain = assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/index.html"]);
    // md5("hello world\n")
    assert_eq!(plain.stdout, "6f5902ac237024bdd0c176cb93063dc4");
    assert_same(&["-v", "-s", "127.0.0.1", "-p", &port, "-u", "/index.html"]);
    assert_same(&[
        "--verbose",
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--url",
        "/index.html",
    ]);
    for protocol in ["1.0", "1.0c", "1.1"] {
        assert_same(&[
            "-P",
            protocol,
            "-s",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "/index.html",
        ]);
        assert_same(&[
            "--protocol",
            protocol,
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            "--url",
            "/index.html",
            "--timeout",
            "3",
        ]);
    }
    // -m sets SO_MARK on the connection; on loopback the reply is the same.
    assert_same(&[
        "-m",
        "5",
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-u",
        "/index.html",
    ]);
    assert_same(&[
        "--fwmark",
        "7",
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-u",
        "/index.html",
    ]);
    // A non-200 reply still has a digest; genhash does not judge status codes.
    assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/status503"]);
    // lvsd genhash prints the same digest.
    let ours = lvsd(&["-s", "127.0.0.1", "-p", &port, "-u", "/index.html"]);
    assert_eq!(
        (ours.stdout.as_str(), ours.code),
        ("6f5902ac237024bdd0c176cb93063dc4", Some(0))
    );
}

#[test]
fn larger_file_same_digest() {
    let nginx = nginx_with_site();
    let port = nginx.http_port().to_string();
    assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/big.bin"]);
}

#[test]
fn virtualhost_same_as_keepalived() {
    let nginx = nginx_with_site();
    let port = nginx.http_port().to_string();
    let out = assert_same(&[
        "-V",
        "vhost.example",
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-u",
        "/",
    ]);
    // md5("vhost body\n"): the Host header selected the vhost.
    let plain = assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_ne!(out.stdout, plain.stdout);
    assert_same(&[
        "-v",
        "--use-virtualhost",
        "vhost.example",
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-u",
        "/",
    ]);
}

#[test]
fn https_with_sni_same_as_keepalived() {
    let nginx = nginx_with_site();
    let port = nginx.https_port().to_string();
    let with_sni = assert_same(&[
        "-S",
        "-I",
        "-V",
        "sni.example",
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-u",
        "/",
    ]);
    let expected = format!("{:x}", md5_of(b"sni=sni.example host=sni.example\n"));
    assert_eq!(
        with_sni.stdout, expected,
        "the SNI-selected server answered"
    );
    assert_same(&["-S", "-s", "127.0.0.1", "-p", &port, "-u", "/index.html"]);
    assert_same(&[
        "-v",
        "--use-ssl",
        "--use-sni",
        "-V",
        "sni.example",
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-u",
        "/",
    ]);
    // TLS to a plain HTTP port: handshake failure, same message.
    let http = nginx.http_port().to_string();
    assert_same(&["-S", "-s", "127.0.0.1", "-p", &http, "-u", "/"]);
}

fn md5_of(bytes: &[u8]) -> md5_hex::Hex {
    md5_hex::Hex(md5_hex::digest(bytes))
}

/// A tiny MD5 for expected values, via the `md5sum` tool (coreutils).
mod md5_hex {
    pub struct Hex(pub String);
    impl std::fmt::LowerHex for Hex {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    pub fn digest(bytes: &[u8]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("md5sum");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write");
        let out = child.wait_with_output().expect("md5sum output");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

#[test]
fn chunked_close_delimited_and_content_length_replies_same_as_keepalived() {
    let replies: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nclose delimited body",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
        b"garbage garbage\r\n\r\nxx",
    ];
    for reply in replies {
        let server = TestServer::reply(reply);
        let port = server.port().to_string();
        assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/x"]);
        assert_same(&["-v", "-s", "127.0.0.1", "-p", &port, "-u", "/x"]);
    }
    // Chunked: the digest covers the chunk framing (keepalived does not decode it).
    let server = TestServer::reply(replies[0]);
    let out = assert_same(&[
        "-s",
        "127.0.0.1",
        "-p",
        &server.port().to_string(),
        "-u",
        "/x",
    ]);
    assert_eq!(out.stdout, "fc3946cc674492e3e09d9e45c4c09023");
}

#[test]
fn body_in_several_reads_same_verbose_dump() {
    let server = TestServer::start(Behaviour::Pieces(vec![
        (
            Duration::ZERO,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab".to_vec(),
        ),
        (Duration::from_millis(300), b"cde".to_vec()),
        (Duration::from_millis(300), b"fghij".to_vec()),
    ]));
    let port = server.port().to_string();
    assert_same(&["-v", "-s", "127.0.0.1", "-p", &port, "-u", "/x"]);
}

#[test]
fn request_bytes_same_as_keepalived() {
    for extra in [
        &[][..],
        &["-P", "1.1"][..],
        &["-P", "1.0c", "-V", "www.example.com"][..],
    ] {
        let server = TestServer::reply(b"HTTP/1.0 200 OK\r\n\r\nok");
        let port = server.port().to_string();
        let mut args = extra.to_vec();
        args.extend(["-s", "127.0.0.1", "-p", &port, "-u", "/y"]);
        assert_same(&args);
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "one request from each genhash");
        assert_eq!(
            requests[0], requests[1],
            "genhash {args:?} sent different requests"
        );
    }
}

#[test]
fn failures_match_keepalived_in_compat_mode_and_fail_loudly_in_lvsd_mode() {
    // Connection refused: a port bound (so no parallel test can take it) but not listening.
    let closed =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    closed
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .expect("addr")
                .into(),
        )
        .expect("bind");
    let free = closed
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet")
        .port()
        .to_string();
    let refused = assert_same(&["-s", "127.0.0.1", "-p", &free, "-u", "/"]);
    assert_eq!(
        (refused.stdout.as_str(), refused.code),
        ("Connection failed", Some(0))
    );
    assert_same(&["-v", "-s", "127.0.0.1", "-p", &free, "-u", "/"]);
    let ours = lvsd(&["-s", "127.0.0.1", "-p", &free, "-u", "/"]);
    assert_eq!(ours.code, Some(1));
    assert_eq!(ours.stdout, "");
    assert!(
        ours.stderr.contains("Connection failed") && ours.stderr.contains("connection refused"),
        "{}",
        ours.stderr
    );

    let slow = TestServer::start(Behaviour::Silent(Duration::from_secs(20)));
    let port = slow.port().to_string();
    let timeout = assert_same(&["-t", "1", "-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_eq!(timeout.stdout, "Timeout WEB read");
    let ours = lvsd(&["-t", "1", "-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_eq!(ours.code, Some(1));
    assert!(ours.stderr.contains("Timeout WEB read"), "{}", ours.stderr);

    let reset = TestServer::start(Behaviour::Reset);
    let port = reset.port().to_string();
    assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_same(&["-v", "-s", "127.0.0.1", "-p", &port, "-u", "/"]);

    let empty = TestServer::reply(b"");
    let port = empty.port().to_string();
    assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_same(&["-v", "-s", "127.0.0.1", "-p", &port, "-u", "/"]);

    let no_head = TestServer::reply(b"HTTP/1.1 200 OK\r\nX: y");
    let port = no_head.port().to_string();
    let out = assert_same(&["-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_eq!(out.stderr, "no data received from remote webserver\n");
    assert_same(&["-v", "-s", "127.0.0.1", "-p", &port, "-u", "/"]);
    assert_eq!(
        lvsd(&["-s", "127.0.0.1", "-p", &port, "-u", "/"]).code,
        Some(1)
    );
}

#[test]
fn usage_errors_match_keepalived() {
    assert_same(&[]);
    assert_same(&["-h"]);
    assert_same(&["--help"]);
    assert_same(&["-s", "127.0.0.1", "-p", "80"]);
    assert_same(&["-s", "localhost", "-p", "80", "-u", "/"]);
    assert_same(&["-s", "127.0.0.1", "-p", "abc", "-u", "/"]);
    assert_same(&["-s", "127.0.0.1", "-p", "80", "-u", "/", "-P", "2.0"]);
    // lvsd genhash: -h is help, -V is the virtualhost (not version).
    let help = lvsd(&["-h"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("--use-virtualhost"), "{}", help.stdout);
    assert_eq!(
        lvsd(&["-s", "localhost", "-p", "80", "-u", "/"]).code,
        Some(2)
    );
}

#[test]
fn json_output() {
    let server = TestServer::reply(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let port = server.port().to_string();
    let out = lvsd(&["--json", "-s", "127.0.0.1", "-p", &port, "-u", "/x"]);
    assert_eq!(out.code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["digest"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(v["status"], 200);
    assert_eq!(v["body_bytes"], 5);
}

#[test]
fn lvsd_genhash_times_out_by_default() {
    // keepalived's genhash waits indefinitely without -t; `lvsd genhash` gives up after 5 s.
    let slow = TestServer::start(Behaviour::Silent(Duration::from_secs(30)));
    let started = std::time::Instant::now();
    let out = lvsd(&["-s", "127.0.0.1", "-p", &slow.port().to_string(), "-u", "/"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("Timeout WEB read") && out.stderr.contains("after 5s"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}
