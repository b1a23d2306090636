//! HTTP_GET, SSL_GET and TCP_CHECK against real servers on loopback: nginx (HTTP and HTTPS
//! with a self-signed certificate) and small misbehaving servers. Each gives the right
//! verdict and reason.

use testbed::nginx;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use checkers::http::HttpChecker;
use checkers::{
    BodyRegex, CheckResult, ClientCertFiles, Connection, HttpCheck, HttpProtocol, RegexFlags,
    StatusCodes, TcpCheck, TlsOptions, UrlCheck,
};
use nginx::Nginx;
use support::servers::{Behaviour, TestServer};

fn url(path: &str, digest: Option<&str>, codes: &[(u16, u16)]) -> UrlCheck {
    UrlCheck {
        path: path.to_string(),
        digest: digest.map(str::to_string),
        status_codes: StatusCodes {
            ranges: codes.to_vec(),
        },
        virtualhost: None,
        regex: None,
    }
}

fn http_check(target: SocketAddr, urls: Vec<UrlCheck>) -> HttpCheck {
    let mut connection = Connection::new(target);
    connection.connect_timeout = Duration::from_secs(2);
    HttpCheck {
        urls,
        virtualhost: None,
        connection,
        http_protocol: HttpProtocol::Http10,
        tls: None,
        fast_recovery: false,
        max_body_bytes: 1024 * 1024,
    }
}

async fn run(check: HttpCheck, index: usize) -> CheckResult {
    HttpChecker::new(check).expect("checker").check(index).await
}

/// `run` the way the runner runs a plain HTTP_GET whose starts are on its slots:
/// send in the next slot, read one slot later (`HttpChecker::check_in_slots`).
async fn run_slotted(check: HttpCheck, index: usize) -> CheckResult {
    let started = tokio::time::Instant::now();
    let slot = started + checkers::schedule::START_SLOT;
    HttpChecker::new(check)
        .expect("checker")
        .check_in_slots(index, started, Some(slot), None)
        .await
}

/// `run_slotted` through a ring turned every slot, as the runner's slot ticker turns it
/// (`checkers::slot_ring`).
async fn run_in_ring(check: HttpCheck, index: usize) -> CheckResult {
    let ring = std::sync::Arc::new(
        checkers::slot_ring::SlotRing::new().expect("io_uring on the test machine"),
    );
    let turning = ring.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(checkers::schedule::START_SLOT);
        loop {
            every.tick().await;
            turning.turn();
        }
    });
    let started = tokio::time::Instant::now();
    let slot = started + checkers::schedule::START_SLOT;
    let result = HttpChecker::new(check)
        .expect("checker")
        .check_in_slots(index, started, Some(slot), Some(&ring))
        .await;
    ticker.abort();
    result
}

fn reason(result: CheckResult) -> String {
    match result {
        CheckResult::Failure { reason } => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn detail(result: CheckResult) -> String {
    match result {
        CheckResult::Success { detail, .. } => detail,
        other => panic!("expected a success, got {other:?}"),
    }
}

fn site() -> Nginx {
    Nginx::builder()
        .file("health", b"OK\n")
        .file("large", &large_body())
        .location("location = /down { return 503 \"down\\n\"; }")
        .https()
        .start()
        .expect("nginx")
}

/// 20,000 bytes: more than one read of the checker.
fn large_body() -> Vec<u8> {
    (0..20_000u32).map(|i| (i % 253) as u8).collect()
}

/// A loopback address where nothing listens (its socket is bound, not listening, while the
/// first value lives): connecting to it is refused.
fn refused_address() -> (socket2::Socket, SocketAddr) {
    let closed =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    closed.bind(&local(0).into()).expect("bind");
    let addr = closed
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    (closed, addr)
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const OK_DIGEST: &str = "1ea4d7e1e9a2d2d2c5a2b5e3e3e4e9a0"; // not the digest of "OK\n"

#[tokio::test]
async fn nginx_status_and_digest() {
    let nginx = site();
    let target = local(nginx.http_port());
    // The expected digest, computed by the same reader (genhash equality is in tests/genhash.rs).
    let digest = checkers::http::hex(&md5_of(b"OK\n"));
    let ok = run(
        http_check(target, vec![url("/health", Some(&digest), &[(200, 200)])]),
        0,
    )
    .await;
    assert_eq!(
        detail(ok),
        format!("HTTP_GET http://{target}/health: status 200, digest matches")
    );
    let wrong = run(
        http_check(target, vec![url("/health", Some(OK_DIGEST), &[])]),
        0,
    )
    .await;
    assert_eq!(
        reason(wrong),
        format!("HTTP_GET http://{target}/health: digest {digest}, expected {OK_DIGEST}")
    );
    let down = run(
        http_check(target, vec![url("/down", None, &[(200, 200)])]),
        0,
    )
    .await;
    assert_eq!(
        reason(down),
        format!("HTTP_GET http://{target}/down: status 503, expected 200")
    );
    let accepted = run(
        http_check(target, vec![url("/down", None, &[(200, 299), (503, 503)])]),
        0,
    )
    .await;
    assert_eq!(
        detail(accepted),
        format!("HTTP_GET http://{target}/down: status 503")
    );
    let missing = run(http_check(target, vec![url("/nope", None, &[])]), 0).await;
    assert_eq!(
        reason(missing),
        format!("HTTP_GET http://{target}/nope: status 404, expected 200-299")
    );
    // A body spread over many reads has the same digest as the whole.
    let large = checkers::http::hex(&md5_of(&large_body()));
    let ok = run(
        http_check(target, vec![url("/large", Some(&large), &[(200, 200)])]),
        0,
    )
    .await;
    assert_eq!(
        detail(ok),
        format!("HTTP_GET http://{target}/large: status 200, digest matches")
    );
    // HTTP/1.1 (Connection: close) works too.
    let mut v11 = http_check(target, vec![url("/health", Some(&digest), &[])]);
    v11.http_protocol = HttpProtocol::Http11;
    assert!(matches!(run(v11, 0).await, CheckResult::Success { .. }));
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    // The checker's own reader on a synthetic reply: body bytes are hashed as sent.
    let mut r = checkers::http::ResponseReader::new(1 << 20);
    let mut reply = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    reply.extend_from_slice(bytes);
    r.feed(&reply).expect("feed");
    r.finish().expect("reply").digest
}

#[tokio::test]
async fn nginx_https_without_and_with_verification() {
    let nginx = site();
    let target = local(nginx.https_port());
    let mut check = http_check(target, vec![url("/health", None, &[(200, 200)])]);
    check.tls = Some(TlsOptions {
        sni: None,
        verify_ca_file: None,
        client_cert: None,
    });
    // Self-signed certificate: accepted by default, like keepalived.
    assert_eq!(
        detail(run(check.clone(), 0).await),
        format!("SSL_GET https://{target}/health: status 200")
    );
    // Opt-in verification against the certificate itself as CA: accepted (IP SAN 127.0.0.1).
    let ca = nginx.cert_path().expect("cert").to_path_buf();
    check.tls = Some(TlsOptions {
        sni: None,
        verify_ca_file: Some(ca),
        client_cert: None,
    });
    detail(run(check.clone(), 0).await);
    // Verification against an unrelated CA fails the handshake with a clear reason.
    let other = Nginx::builder().https().start().expect("second nginx");
    check.tls = Some(TlsOptions {
        sni: None,
        verify_ca_file: other.cert_path().map(|p| p.to_path_buf()),
        client_cert: None,
    });
    let r = reason(run(check, 0).await);
    assert!(
        r.starts_with(&format!(
            "SSL_GET https://{target}/health: TLS handshake: invalid peer certificate"
        )),
        "{r}"
    );
}

#[tokio::test]
async fn tls_to_a_plain_http_port_fails_the_handshake() {
    let nginx = site();
    let target = local(nginx.http_port());
    let mut check = http_check(target, vec![url("/health", None, &[])]);
    check.tls = Some(TlsOptions {
        sni: None,
        verify_ca_file: None,
        client_cert: None,
    });
    let r = reason(run(check, 0).await);
    assert!(
        r.starts_with(&format!("SSL_GET https://{target}/health: TLS handshake: ")),
        "{r}"
    );
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = TestServer::start(Behaviour::Silent(Duration::from_secs(30)));
    let mut check = http_check(server.addr(), vec![url("/", None, &[])]);
    check.connection.connect_timeout = Duration::from_secs(1);
    assert_eq!(
        reason(run(check, 0).await),
        format!(
            "HTTP_GET http://{}/: timed out reading the reply after 1s",
            server.addr()
        )
    );
}

#[tokio::test]
async fn connection_reset() {
    let server = TestServer::start(Behaviour::Reset);
    let r = reason(run(http_check(server.addr(), vec![url("/", None, &[])]), 0).await);
    assert_eq!(
        r,
        format!(
            "HTTP_GET http://{}/: reading the reply: Connection reset by peer (os error 104)",
            server.addr()
        )
    );
}

#[tokio::test]
async fn connection_refused() {
    let (_closed, addr) = refused_address();
    let r = reason(run(http_check(addr, vec![url("/", None, &[])]), 0).await);
    assert_eq!(r, format!("HTTP_GET http://{addr}/: connection refused"));
    let tcp = checkers::tcp::check(&TcpCheck {
        connection: Connection::new(addr),
    })
    .await;
    assert_eq!(reason(tcp), format!("TCP_CHECK {addr}: connection refused"));
}

#[tokio::test]
async fn tcp_check_connects() {
    let nginx = site();
    let target = local(nginx.http_port());
    let mut connection = Connection::new(target);
    connection.set_source(checkers::config::Source {
        bindto: Some("127.0.0.2".parse().expect("ip")),
        ..Default::default()
    });
    let result = checkers::tcp::check(&TcpCheck { connection }).await;
    assert_eq!(detail(result), format!("TCP_CHECK {target}: connected"));
}

#[tokio::test]
async fn chunked_and_close_delimited_bodies_digest_like_genhash() {
    // Digests from keepalived 2.2.7 `genhash` against these exact replies.
    let chunked = TestServer::reply(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    let check = http_check(
        chunked.addr(),
        vec![url("/c", Some("fc3946cc674492e3e09d9e45c4c09023"), &[])],
    );
    assert!(matches!(run(check, 0).await, CheckResult::Success { .. }));
    let close = TestServer::reply(b"HTTP/1.0 200 OK\r\n\r\nclose delimited body");
    let check = http_check(
        close.addr(),
        vec![url(
            "/c",
            Some("dcdce72aaeaa72613694698be0b90b20"),
            &[(200, 200)],
        )],
    );
    assert!(matches!(run(check, 0).await, CheckResult::Success { .. }));
}

#[tokio::test]
async fn huge_body_is_a_failure_not_a_memory_spike() {
    let server = TestServer::start(Behaviour::Endless(b"HTTP/1.0 200 OK\r\n\r\n".to_vec()));
    let r = reason(run(http_check(server.addr(), vec![url("/big", None, &[])]), 0).await);
    assert_eq!(
        r,
        format!(
            "HTTP_GET http://{}/big: reply body longer than 1048576 bytes",
            server.addr()
        )
    );
}

#[tokio::test]
async fn garbage_reply() {
    let server = TestServer::reply(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
    let r = reason(run(http_check(server.addr(), vec![url("/", None, &[])]), 0).await);
    assert_eq!(
        r,
        format!(
            "HTTP_GET http://{}/: malformed reply head: invalid HTTP version",
            server.addr()
        )
    );
    let truncated = TestServer::reply(b"HTTP/1.1 200 OK\r\nServer: x");
    let r = reason(run(http_check(truncated.addr(), vec![url("/", None, &[])]), 0).await);
    assert_eq!(
        r,
        format!(
            "HTTP_GET http://{}/: connection closed before the end of the reply head (26 bytes received)",
            truncated.addr()
        )
    );
}

#[tokio::test]
async fn sends_keepalived_request_with_virtualhost() {
    let server = TestServer::reply(b"HTTP/1.0 200 OK\r\n\r\n");
    let mut check = http_check(
        server.addr(),
        vec![url("/a", None, &[]), url("/b", None, &[])],
    );
    check.virtualhost = Some("www.example.com".into());
    check.urls[1].virtualhost = Some("b.example.com".into());
    assert!(matches!(
        run(check.clone(), 0).await,
        CheckResult::Success { .. }
    ));
    assert!(matches!(run(check, 1).await, CheckResult::Success { .. }));
    let requests = server.requests();
    assert_eq!(
        requests[0],
        b"GET /a HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: www.example.com\r\n\r\n"
    );
    assert_eq!(
        requests[1],
        b"GET /b HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: b.example.com\r\n\r\n"
    );
}

#[tokio::test]
async fn ssl_get_sends_sni_when_enabled() {
    let nginx = Nginx::builder()
        .https()
        .cert_name("sni.example")
        .http_block(
            "server { listen 127.0.0.1:{https_port} ssl; server_name sni.example; \
             ssl_certificate {cert}; ssl_certificate_key {key}; \
             location / { return 200 \"sni=$ssl_server_name\\n\"; } }",
        )
        .start()
        .expect("nginx");
    let target = local(nginx.https_port());
    let with_sni = checkers::http::hex(&md5_of(b"sni=sni.example\n"));
    let mut check = http_check(target, vec![url("/", Some(&with_sni), &[(200, 200)])]);
    check.virtualhost = Some("sni.example".into());
    check.tls = Some(TlsOptions {
        sni: Some("sni.example".into()),
        verify_ca_file: None,
        client_cert: None,
    });
    assert!(matches!(
        run(check.clone(), 0).await,
        CheckResult::Success { .. }
    ));
    // Without SNI the default server answers: a different body, so the digest fails.
    check.tls = Some(TlsOptions {
        sni: None,
        verify_ca_file: None,
        client_cert: None,
    });
    let r = reason(run(check, 0).await);
    assert!(
        r.starts_with(&format!("SSL_GET https://{target}/: digest ")),
        "{r}"
    );
}

#[tokio::test]
async fn nginx_bodies_against_url_regex() {
    let nginx = site();
    let target = local(nginx.http_port());
    let with_regex = |path: &str, pattern: &str, no_match: bool, min: usize| {
        let mut u = url(path, None, &[]);
        u.regex = Some(Box::new(
            BodyRegex::new(pattern, RegexFlags::default(), no_match, min, None)
                .unwrap_or_else(|e| panic!("{pattern}: {e}")),
        ));
        http_check(target, vec![u])
    };
    // The subject is the whole reply, head first (as keepalived matches it).
    assert_eq!(
        detail(run(with_regex("/health", "^HTTP/1\\.[01] 200 ", false, 0), 0).await),
        format!("HTTP_GET http://{target}/health: status 200, regex matches at byte 0")
    );
    assert_eq!(
        reason(run(with_regex("/health", "DOWN", false, 0), 0).await),
        format!("HTTP_GET http://{target}/health: regex \"DOWN\" does not match")
    );
    assert!(
        reason(run(with_regex("/health", "(?m)^OK$", true, 0), 0).await)
            .contains("regex \"(?m)^OK$\" matches at byte")
    );
    // The status comes first: a 503 fails on it whatever the body says.
    assert_eq!(
        reason(run(with_regex("/down", "down", false, 0), 0).await),
        format!("HTTP_GET http://{target}/down: status 503, expected 200-299")
    );
    // A match deep in a body read in many pieces: bytes 250, 251, 252 recur
    // every 253 bytes of the body; offsets count from the status line.
    let at = |min: usize| {
        let check = with_regex("/large", r"\xfa\xfb\xfc", false, min);
        async move {
            let d = detail(run(check, 0).await);
            d.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{d}"))
        }
    };
    let first = at(0).await;
    let head = first - 250;
    let deep = at(19_000).await;
    assert!(
        (19_000..19_000 + 253).contains(&deep) && (deep - head) % 253 == 250,
        "head {head}, match at {deep}"
    );
}

/// `bind_if`: the check's socket is bound to that interface (SO_BINDTODEVICE),
/// as keepalived does; an interface that does not exist fails the check with
/// a reason naming it.
#[tokio::test]
async fn bind_if_binds_tcp_and_ping_checks_to_the_interface() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let target = listener.local_addr().expect("addr");
    let mut connection = Connection::new(target);
    connection.set_source(checkers::config::Source {
        bind_if: Some("lo".into()),
        ..Default::default()
    });
    let result = checkers::tcp::check(&TcpCheck {
        connection: connection.clone(),
    })
    .await;
    assert_eq!(detail(result), format!("TCP_CHECK {target}: connected"));
    let ping = checkers::ping::check(&checkers::PingCheck {
        connection: connection.clone(),
    })
    .await;
    assert!(matches!(ping, CheckResult::Success { .. }), "{ping:?}");
    connection.set_source(checkers::config::Source {
        bind_if: Some("lvsdnodev0".into()),
        ..Default::default()
    });
    let r = reason(checkers::tcp::check(&TcpCheck { connection }).await);
    assert!(
        r.starts_with(&format!("TCP_CHECK {target}:")) && r.contains("bind_if lvsdnodev0"),
        "{r}"
    );
}

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate signed
/// by it; the client key plain, as encrypted PKCS#8 (password `s3cret`) and
/// in OpenSSL's legacy encrypted PEM.
fn mutual_tls_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let req = |key: &str, out: &str, subj: &str, extra: &[&str]| {
        let mut a = vec!["req"];
        a.extend(ec);
        a.extend(["-keyout", key, "-subj", subj]);
        a.extend(extra);
        a.extend(["-out", out]);
        openssl(d, &a);
    };
    req(
        "ca.key",
        "ca.pem",
        "/CN=lvsd test CA",
        &["-x509", "-days", "2"],
    );
    for (name, ext) in [
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ] {
        req(
            &format!("{name}.key"),
            &format!("{name}.csr"),
            &format!("/CN={name}"),
            &[],
        );
        std::fs::write(d.join(format!("{name}.ext")), format!("{ext}\n")).expect("ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "client.key",
            "-out",
            "client-enc.key",
            "-passout",
            "pass:s3cret",
        ],
    );
    openssl(
        d,
        &[
            "ec",
            "-in",
            "client.key",
            "-aes256",
            "-out",
            "client-legacy.key",
            "-passout",
            "pass:s3cret",
        ],
    );
    dir
}

/// nginx on a free loopback port that demands a client certificate from
/// `ca.pem` (`ssl_verify_client on`), beside the builder's own servers.
fn nginx_requiring_client_certs(d: &std::path::Path) -> (Nginx, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let p = d.display();
    let nginx = Nginx::builder()
        .file("health", b"OK\n")
        .http_block(&format!(
            "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {p}/server.pem; \
             ssl_certificate_key {p}/server.key; ssl_client_certificate {p}/ca.pem; \
             ssl_verify_client on; location / {{ return 200 \"mtls ok\\n\"; }} }}"
        ))
        .start()
        .expect("nginx");
    (nginx, local(port))
}

#[tokio::test]
async fn ssl_get_presents_a_client_certificate_to_a_server_that_demands_one() {
    let files = mutual_tls_files();
    let d = files.path();
    let (_nginx, target) = nginx_requiring_client_certs(d);
    let tls = |client_cert: Option<ClientCertFiles>, verify: Option<std::path::PathBuf>| {
        let mut check = http_check(target, vec![url("/health", None, &[(200, 200)])]);
        check.tls = Some(TlsOptions {
            sni: None,
            verify_ca_file: verify,
            client_cert,
        });
        check
    };
    let files_with = |key: &str, password: Option<&str>| ClientCertFiles {
        certificate: d.join("client.pem"),
        key: d.join(key),
        password: password.map(str::to_string),
    };
    // Without one nginx answers 400 ("No required SSL certificate was sent").
    let r = reason(run(tls(None, None), 0).await);
    assert!(r.contains("status 400"), "{r}");
    // With the certificate and its plain key, or its encrypted PKCS#8 key.
    for files in [
        files_with("client.key", None),
        files_with("client-enc.key", Some("s3cret")),
    ] {
        detail(run(tls(Some(files), None), 0).await);
    }
    // And verifying the server against the CA (the opt-in) as well.
    detail(
        run(
            tls(Some(files_with("client.key", None)), Some(d.join("ca.pem"))),
            0,
        )
        .await,
    );
    // Keys that cannot be used are errors that name the file and say why.
    let error = |files: ClientCertFiles| {
        checkers::tls::client_config(&TlsOptions {
            sni: None,
            verify_ca_file: None,
            client_cert: Some(files),
        })
        .map(|_| ())
        .expect_err("refused")
        .to_string()
    };
    let wrong = error(files_with("client-enc.key", Some("wrong")));
    assert!(
        wrong.contains("client-enc.key") && wrong.contains("wrong password"),
        "{wrong}"
    );
    let missing = error(files_with("client-enc.key", None));
    assert!(missing.contains("SSL { password } is not set"), "{missing}");
    let legacy = error(files_with("client-legacy.key", Some("s3cret")));
    assert!(legacy.contains("openssl pkcs8 -topk8"), "{legacy}");
    // The password never shows in a debug print.
    let shown = format!("{:?}", files_with("client-enc.key", Some("s3cret")));
    assert!(!shown.contains("s3cret"), "{shown}");
}

/// The slotted exchange, with plain system calls or through io_uring, gives the verdict and
/// the reason the usual one gives, whatever the server does: a reply there at once, one in
/// pieces or late (it falls back to waiting on the socket), a refused or reset connection,
/// garbage, an endless body, silence; and it sends the same request bytes.
#[tokio::test]
async fn the_slotted_exchange_gives_the_same_verdicts_as_the_usual_one() {
    let nginx = site();
    let web = local(nginx.http_port());
    let digest = checkers::http::hex(&md5_of(b"OK\n"));
    let large = checkers::http::hex(&md5_of(&large_body()));
    let (_closed, refused) = refused_address();
    let ms = Duration::from_millis;
    let head = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec();
    let servers = [
        ("reset", TestServer::start(Behaviour::Reset)),
        (
            "silent",
            TestServer::start(Behaviour::Silent(Duration::from_secs(30))),
        ),
        ("garbage", TestServer::reply(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")),
        (
            "truncated",
            TestServer::reply(b"HTTP/1.1 200 OK\r\nServer: x"),
        ),
        (
            "close-delimited",
            TestServer::reply(b"HTTP/1.0 200 OK\r\n\r\nclose delimited body"),
        ),
        (
            "chunked",
            TestServer::reply(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            ),
        ),
        (
            "late",
            TestServer::start(Behaviour::Pieces(vec![
                (ms(60), head.clone()),
                (ms(0), b"OK\n".to_vec()),
            ])),
        ),
        (
            "head then body",
            TestServer::start(Behaviour::Pieces(vec![
                (ms(0), head),
                (ms(60), b"OK\n".to_vec()),
            ])),
        ),
        (
            "endless",
            TestServer::start(Behaviour::Endless(b"HTTP/1.0 200 OK\r\n\r\n".to_vec())),
        ),
    ];
    let mut cases = vec![
        (
            "nginx digest",
            http_check(web, vec![url("/health", Some(&digest), &[(200, 200)])]),
        ),
        (
            "nginx wrong digest",
            http_check(web, vec![url("/health", Some(OK_DIGEST), &[])]),
        ),
        (
            "nginx 503",
            http_check(web, vec![url("/down", None, &[(200, 200)])]),
        ),
        ("nginx 404", http_check(web, vec![url("/nope", None, &[])])),
        (
            "nginx large",
            http_check(web, vec![url("/large", Some(&large), &[(200, 200)])]),
        ),
        ("refused", http_check(refused, vec![url("/", None, &[])])),
    ];
    for (name, server) in &servers {
        let mut check = http_check(server.addr(), vec![url("/", None, &[])]);
        check.connection.connect_timeout = Duration::from_secs(1);
        check.max_body_bytes = 64 * 1024;
        cases.push((name, check));
    }
    let mut v11 = http_check(web, vec![url("/health", Some(&digest), &[])]);
    v11.http_protocol = HttpProtocol::Http11;
    cases.push(("nginx HTTP/1.1", v11));
    for (name, check) in cases {
        let usual = run(check.clone(), 0).await;
        let slotted = run_slotted(check.clone(), 0).await;
        assert_eq!(slotted, usual, "{name}");
        let in_ring = run_in_ring(check, 0).await;
        assert_eq!(in_ring, usual, "{name} (io_uring)");
    }
    for (name, server) in &servers {
        let requests = server.requests();
        assert!(requests.len() >= 3, "{name}: {requests:?}");
        assert!(
            requests.windows(2).all(|w| w[0] == w[1]),
            "{name}: {requests:?}"
        );
    }
}

/// TCP_CHECK looked at in the runner's next slot: the same verdicts as waiting on the socket.
#[tokio::test]
async fn a_slotted_tcp_check_gives_the_same_verdicts_as_the_usual_one() {
    let nginx = site();
    let (_closed, refused) = refused_address();
    for target in [local(nginx.http_port()), refused] {
        let check = TcpCheck {
            connection: Connection::new(target),
        };
        let started = tokio::time::Instant::now();
        let usual = checkers::tcp::check_started_at(&check, started).await;
        let started = tokio::time::Instant::now();
        let slot = Some(started + checkers::schedule::START_SLOT);
        let slotted = checkers::tcp::check_in_slots(&check, started, slot).await;
        assert_eq!(slotted, usual, "{target}");
    }
}

/// Which checks do their I/O in the runner's slots: TCP_CHECK and plain HTTP_GET with a
/// `connect_timeout` of at least 0.1 s; SSL_GET never.
#[test]
fn only_plain_checks_with_room_for_slots_use_them() {
    let target = local(80);
    let plain = http_check(target, vec![url("/", None, &[])]);
    assert!(HttpChecker::new(plain.clone())
        .expect("checker")
        .does_io_in_slots());
    let mut short = plain.clone();
    short.connection.connect_timeout = Duration::from_millis(50);
    assert!(!HttpChecker::new(short).expect("checker").does_io_in_slots());
    let mut ssl = plain;
    ssl.tls = Some(TlsOptions {
        sni: None,
        verify_ca_file: None,
        client_cert: None,
    });
    assert!(!HttpChecker::new(ssl).expect("checker").does_io_in_slots());
    let mut tcp = TcpCheck {
        connection: Connection::new(target),
    };
    assert!(checkers::tcp::does_io_in_slots(&tcp));
    tcp.connection.connect_timeout = Duration::from_millis(50);
    assert!(!checkers::tcp::does_io_in_slots(&tcp));
}
