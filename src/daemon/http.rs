//! The HTTP listener of `--metrics-listen`: `/metrics`, the status page `/`,
//! `/status.json`, `/healthz` and `/healthz/master/INSTANCE`, all rendered
//! from one [`Status`] snapshot taken per request from the daemon's loop
//! (the same request the control socket makes). Rendering runs on tokio's
//! blocking pool, so a large page never delays the VRRP runner's tasks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::control::StatusRequest;
use super::metrics::{self, Format, RealServerDetail};
use super::page;
use super::status::Status;

/// The port `--metrics-listen` documents. 9650 and 9165, the keepalived
/// exporters' defaults, are avoided on purpose so both can run during a
/// migration; Prometheus' port allocation wiki could not be consulted, so
/// registering this one there is still to do.
pub const DEFAULT_PORT: u16 = 9662;

/// At most this many requests are served at once; more wait.
const MAX_CONCURRENT: usize = 4;
/// How long a request waits for the daemon's snapshot.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub struct HttpOptions {
    pub detail: RealServerDetail,
}

/// Binds `addr` and serves until the task is aborted.
pub async fn bind(
    addr: SocketAddr,
    requests: mpsc::Sender<StatusRequest>,
    options: HttpOptions,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(
        "metrics and status page on http://{}/",
        listener.local_addr()?
    );
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT));
    Ok(tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("metrics listener: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let requests = requests.clone();
            let limit = limit.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let requests = requests.clone();
                    let limit = limit.clone();
                    async move {
                        let _permit = limit.acquire_owned().await;
                        Ok::<_, Infallible>(handle(req, requests, options).await)
                    }
                });
                // One request per connection: the timeout below then bounds
                // one request (a stalled client is dropped) and can never cut
                // a kept-alive scraper's connection in the middle of a scrape.
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
            });
        }
    }))
}

fn reply(code: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = code;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

const TEXT: &str = "text/plain; charset=utf-8";

async fn snapshot(requests: &mpsc::Sender<StatusRequest>) -> Option<Status> {
    let (tx, rx) = oneshot::channel();
    requests.send(tx).await.ok()?;
    tokio::time::timeout(SNAPSHOT_TIMEOUT, rx).await.ok()?.ok()
}

/// What a request for `path` (with `query`) gets from `status`. Pure.
pub fn respond(
    status: &Status,
    path: &str,
    query: Option<&str>,
    accept: Option<&str>,
    options: HttpOptions,
) -> Response<Full<Bytes>> {
    match path {
        "/metrics" => {
            let format = Format::from_accept(accept);
            let text = metrics::render(
                status,
                format,
                metrics::Options {
                    detail: options.detail,
                    process: true,
                },
            );
            reply(StatusCode::OK, format.content_type(), text)
        }
        "/" => {
            let refresh = query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|kv| kv.strip_prefix("refresh=")?.parse::<u32>().ok())
                .filter(|n| *n > 0);
            let html = page::render(status, refresh, super::status::unix_now());
            let mut r = reply(StatusCode::OK, "text/html; charset=utf-8", html);
            if let Ok(v) = "default-src 'none'; style-src 'unsafe-inline'".parse() {
                r.headers_mut()
                    .insert(hyper::header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
        "/status.json" => match serde_json::to_string_pretty(status) {
            Ok(j) => reply(StatusCode::OK, "application/json", format!("{j}\n")),
            Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("{e}\n")),
        },
        "/healthz" => {
            if status.ipvs_programmed == Some(false) {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    TEXT,
                    "IPVS table not programmed\n",
                )
            } else {
                reply(StatusCode::OK, TEXT, "ok\n")
            }
        }
        _ => match path.strip_prefix("/healthz/master/") {
            Some(name) => {
                let view = status
                    .vrrp
                    .iter()
                    .map(metrics::VrrpView::of)
                    .find(|v| v.name == name);
                match view {
                    None => reply(StatusCode::NOT_FOUND, TEXT, "no such VRRP instance\n"),
                    Some(v) if v.state == "Master" => reply(StatusCode::OK, TEXT, "MASTER\n"),
                    Some(v) => reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        TEXT,
                        format!("{}\n", page::state_word(&v.state)),
                    ),
                }
            }
            None => reply(StatusCode::NOT_FOUND, TEXT, "not found\n"),
        },
    }
}

async fn handle(
    req: Request<Incoming>,
    requests: mpsc::Sender<StatusRequest>,
    options: HttpOptions,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET only\n");
    }
    let Some(status) = snapshot(&requests).await else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            "lvsd is not answering\n",
        );
    };
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let work = move || respond(&status, &path, query.as_deref(), accept.as_deref(), options);
    match tokio::task::spawn_blocking(work).await {
        Ok(r) => r,
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, TEXT, format!("{e}\n")),
    }
}
