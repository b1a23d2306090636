//! Small misbehaving HTTP servers on loopback for checker and genhash tests (std threads, so
//! they serve blocking tools like keepalived's genhash as well as async checkers).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the server does once it has read a request head.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Send these bytes and close.
    Reply(Vec<u8>),
    /// Send each piece after its delay, then close.
    Pieces(Vec<(Duration, Vec<u8>)>),
    /// Send nothing for this long, then close.
    Silent(Duration),
    /// Reset the connection (RST) without replying.
    Reset,
    /// Send this head, then an endless body until the peer goes away.
    Endless(Vec<u8>),
}

pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback test server");
        let addr = listener.local_addr().expect("local addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let b = behaviour.clone();
                        let r = requests2.clone();
                        let s = stop2.clone();
                        thread::spawn(move || serve(conn, b, r, s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TestServer {
            addr,
            stop,
            requests,
        }
    }

    pub fn reply(bytes: &[u8]) -> TestServer {
        TestServer::start(Behaviour::Reply(bytes.to_vec()))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut conn: TcpStream,
    behaviour: Behaviour,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    if let Ok(mut r) = requests.lock() {
        r.push(request);
    }
    match behaviour {
        Behaviour::Reply(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Behaviour::Pieces(pieces) => {
            for (delay, bytes) in pieces {
                thread::sleep(delay);
                if conn.write_all(&bytes).is_err() {
                    break;
                }
            }
        }
        Behaviour::Silent(d) => {
            let deadline = std::time::Instant::now() + d;
            while std::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
            }
        }
        Behaviour::Reset => {
            // Linger 0 then close: the kernel sends RST instead of FIN.
            let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
            return;
        }
        Behaviour::Endless(head) => {
            let _ = conn.write_all(&head);
            let chunk = vec![b'x'; 64 * 1024];
            while conn.write_all(&chunk).is_ok() && !stop.load(Ordering::Relaxed) {}
        }
    }
    let _ = conn.shutdown(Shutdown::Write);
    drop(conn);
}
