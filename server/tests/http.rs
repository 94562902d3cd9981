//! The HTTP server's mechanics, in process over raw TCP: keep-alive, the idle and header
//! timeouts, the in-flight limit answering `ThrottlingException`, and a graceful shutdown that
//! lets a request in flight finish.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use payhsm_keystore::{
    Error,
    api::{Regions, Service},
    arn::{AccountId, Region},
};
use payhsm_server::{Auth, Config, Limits, serve};
use serde_json::{Value, json};

/// A region whose every call takes `delay` and answers with the call count.
struct Slow {
    region: Region,
    delay: Duration,
    calls: AtomicUsize,
}

impl Service for Slow {
    fn region(&self) -> &Region {
        &self.region
    }

    fn call(&self, operation: &str, _input: Value) -> Result<Value, Error> {
        std::thread::sleep(self.delay);
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(json!({ "Operation": operation, "Calls": n }))
    }
}

struct One(Arc<Slow>);

impl Regions for One {
    fn names(&self) -> Result<Vec<Region>, Error> {
        Ok(vec![self.0.region.clone()])
    }

    fn open(&self, region: &Region) -> Result<Arc<dyn Service>, Error> {
        if region == &self.0.region {
            Ok(Arc::clone(&self.0) as Arc<dyn Service>)
        } else {
            Err(Error::not_found(region.as_str()))
        }
    }
}

struct Running {
    addr: SocketAddr,
    slow: Arc<Slow>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn start(delay: Duration, limits: Limits) -> Self {
        let region = Region::new("us-east-1").unwrap();
        let slow = Arc::new(Slow {
            region: region.clone(),
            delay,
            calls: AtomicUsize::new(0),
        });
        let config = Config {
            account: AccountId::new(AccountId::DEFAULT).unwrap(),
            auth: Auth::Unsigned {
                default_region: region,
            },
            limits,
            access_log: false,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        let regions: Arc<dyn Regions> = Arc::new(One(Arc::clone(&slow)));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                tx.send(listener.local_addr()?).unwrap();
                serve(listener, config, regions, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        Self {
            addr: rx.recv().unwrap(),
            slow,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

const MAC: &str = "POST /mac/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

/// Reads one response (headers and a Content-Length body) from `s`.
fn response(s: &mut TcpStream) -> Option<(u16, Value)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    Some((status, serde_json::from_slice(&body).unwrap()))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Whether the server closed `s` (a read sees end of file).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0))
}

#[test]
fn requests_share_a_kept_alive_connection() {
    let server = Running::start(Duration::ZERO, Limits::default());
    let mut s = connect(server.addr);
    for n in 1..=3 {
        s.write_all(MAC.as_bytes()).unwrap();
        let (status, body) = response(&mut s).unwrap();
        assert_eq!((status, body["Calls"].as_u64()), (200, Some(n)));
        assert_eq!(body["Operation"], "GenerateMac");
    }
}

#[test]
fn an_idle_connection_is_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = Running::start(Duration::ZERO, limits);
    let mut s = connect(server.addr);
    s.write_all(MAC.as_bytes()).unwrap();
    assert_eq!(response(&mut s).unwrap().0, 200);
    let idle = Instant::now();
    assert!(closed(&mut s));
    assert!(idle.elapsed() < Duration::from_secs(5));
}

#[test]
fn headers_that_never_finish_are_cut_off() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = Running::start(Duration::ZERO, limits);
    let mut s = connect(server.addr);
    s.write_all(b"POST /mac/generate HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(start.elapsed() < Duration::from_secs(5), "not cut off");
    assert_eq!(server.slow.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_body_that_never_arrives_is_refused() {
    let limits = Limits {
        body_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = Running::start(Duration::ZERO, limits);
    let mut s = connect(server.addr);
    s.write_all(b"POST /mac/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{").unwrap();
    let (status, body) = response(&mut s).unwrap();
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("did not arrive"),
        "{body}"
    );
    assert_eq!(server.slow.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn more_calls_than_the_hsm_takes_are_throttled() {
    let limits = Limits {
        max_in_flight: 1,
        queue_timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    let server = Running::start(Duration::from_millis(600), limits);
    let mut first = connect(server.addr);
    first.write_all(MAC.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let mut second = connect(server.addr);
    second.write_all(MAC.as_bytes()).unwrap();
    let (status, body) = response(&mut second).unwrap();
    assert_eq!(status, 429);
    assert_eq!(body["__type"], "ThrottlingException");
    assert_eq!(response(&mut first).unwrap().0, 200);
    assert_eq!(server.slow.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn shutdown_lets_the_request_in_flight_finish() {
    let mut server = Running::start(Duration::from_millis(500), Limits::default());
    let mut s = connect(server.addr);
    s.write_all(MAC.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let addr = server.addr;
    let waiter = std::thread::spawn(move || {
        let (status, body) = response(&mut s).unwrap();
        (status, body, closed(&mut s))
    });
    server.shutdown();
    let (status, body, then_closed) = waiter.join().unwrap();
    assert_eq!((status, body["Calls"].as_u64()), (200, Some(1)));
    assert!(then_closed, "the connection closes after its last response");
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
}
