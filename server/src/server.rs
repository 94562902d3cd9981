//! The HTTP server: both planes on one port, each request authenticated, routed and run on
//! the HSM on a bounded pool of blocking threads (the HSM's stores are blocking).

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use payhsm_keystore::{Error, api::Regions, arn::AccountId, replication::Retry};
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{Notify, Semaphore, watch},
};

use crate::{
    auth::{self, Auth, Caller},
    operations::Plane,
    route,
    wire::{self, Failure},
};

/// The server's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// HSM calls running at once (the blocking pool's size).
    pub max_in_flight: usize,
    /// How long a request may wait for an HSM slot before `ThrottlingException`.
    pub queue_timeout: Duration,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may sit idle.
    pub idle_timeout: Duration,
    /// How long shutdown waits for requests in flight to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            max_connections: 512,
            max_in_flight: 32,
            queue_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What the server serves and how.
#[derive(Clone)]
pub struct Config {
    /// The account the ARNs name (reported by `/ping`; the regions' HSMs put it in ARNs).
    pub account: AccountId,
    /// How requests are authenticated.
    pub auth: Auth,
    /// The bounds.
    pub limits: Limits,
    /// Whether to write an access log line (JSON, on stderr) per request.
    pub access_log: bool,
}

struct State {
    config: Config,
    regions: Arc<dyn Regions>,
    in_flight: Semaphore,
    /// Wakes the background replication drain.
    replication: Notify,
}

/// Serves `listener` until `shutdown` completes, then stops accepting, lets the requests in
/// flight finish (for at most the shutdown grace) and returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    regions: Arc<dyn Regions>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let limits = config.limits.clone();
    let state = Arc::new(State {
        in_flight: Semaphore::new(limits.max_in_flight),
        config,
        regions,
        replication: Notify::new(),
    });
    let (stop, stopped) = watch::channel(false);
    let replication = tokio::spawn(replicate(Arc::clone(&state), stopped.clone()));
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => p.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a reset before accept: not fatal to the server.
                    log_line(&json!({ "event": "accept-failed", "error": e.to_string() }));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            connection(state, stream, peer, stopped).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends: all of them back means all are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, connections.acquire_many(all))
        .await
        .is_err()
    {
        log_line(&json!({ "event": "shutdown-grace-expired" }));
    }
    let _ = replication.await;
    Ok(())
}

/// Binds `listen`, calls `ready` with the bound address, and serves until SIGTERM or SIGINT,
/// on a runtime of its own. Requests in flight finish, and every HSM call that started
/// completes before this returns.
pub fn serve_until_signal(
    listen: SocketAddr,
    config: Config,
    regions: Arc<dyn Regions>,
    ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(config.limits.max_in_flight.max(1))
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        ready(listener.local_addr()?);
        serve(listener, config, regions, signal()).await
    })
    // Dropping the runtime waits for the blocking HSM calls still running.
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    log_line(&json!({ "event": "shutdown" }));
}

/// When the connection was last busy, and how many of its requests are being served.
#[derive(Default)]
struct Activity {
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

async fn connection(
    state: Arc<State>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stopped: watch::Receiver<bool>,
) {
    let limits = state.config.limits.clone();
    let started = Instant::now();
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = Arc::clone(&activity);
        service_fn(move |req| {
            let state = Arc::clone(&state);
            let activity = Arc::clone(&activity);
            async move {
                activity.busy.fetch_add(1, Ordering::SeqCst);
                let response = handle(&state, req, peer).await;
                activity.last_ms.store(ms_since(started), Ordering::SeqCst);
                activity.busy.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = stopped.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = idle(&activity, started, limits.idle_timeout), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Completes once the connection has had no request for `timeout`.
async fn idle(activity: &Activity, started: Instant, timeout: Duration) {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    loop {
        let since = ms_since(started).saturating_sub(activity.last_ms.load(Ordering::SeqCst));
        if activity.busy.load(Ordering::SeqCst) == 0 && since >= timeout_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(
            timeout_ms.saturating_sub(since).max(100),
        ))
        .await;
    }
}

fn ms_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One request: read, authenticate, route, run, answer, log.
async fn handle(state: &State, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = wire::request_id();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    if path == "/ping" && matches!(method.as_str(), "GET" | "HEAD") {
        return ping(state, &request_id);
    }
    let plane = route::plane(req.headers());
    let mut operation = None;
    let mut caller = None;
    let outcome = async {
        let (parts, body) = req.into_parts();
        let body = read_body(&state.config.limits, &parts.headers, body).await?;
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let who = auth::verify(
            &state.config.auth,
            &method,
            target,
            &parts.headers,
            &body,
            SystemTime::now(),
        )?;
        caller = Some(who.clone());
        let call = route::route(&method, target, &parts.headers, &body)?;
        operation = Some(call.operation.name);
        run(state, who, call).await
    }
    .await;
    let response = wire::response(plane, &request_id, &outcome);
    if state.config.access_log {
        log_line(&json!({
            "time": epoch_seconds(),
            "requestId": request_id,
            "peer": peer.to_string(),
            "method": method,
            "path": path,
            "plane": match plane { Plane::Control => "control", Plane::Data => "data" },
            "operation": operation,
            "region": caller.as_ref().map(|c| c.region.as_str().to_owned()),
            "accessKeyId": caller.and_then(|c| c.access_key_id),
            "status": response.status().as_u16(),
            "error": outcome.as_ref().err().map(Failure::name),
            "ms": started.elapsed().as_secs_f64() * 1000.0,
        }));
    }
    response
}

/// The body, at most `max_body_bytes`, read within the body timeout.
async fn read_body(
    limits: &Limits,
    headers: &http::HeaderMap,
    body: Incoming,
) -> Result<Bytes, Failure> {
    let too_large = || {
        Failure::invalid(
            "Body",
            format!("the request body exceeds {} bytes", limits.max_body_bytes),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    let read = Limited::new(body, limits.max_body_bytes).collect();
    match tokio::time::timeout(limits.body_read_timeout, read).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(Failure::invalid(
            "Body",
            "the request body could not be read",
        )),
        Err(_) => Err(Failure::invalid(
            "Body",
            format!(
                "the request body did not arrive within {} seconds",
                limits.body_read_timeout.as_secs()
            ),
        )),
    }
}

/// Runs the call on the caller's region, on the blocking pool.
async fn run(state: &State, caller: Caller, call: route::Call) -> Result<Value, Failure> {
    if call.operation.is_internal() && caller.access_key_id.is_none() {
        return Err(Failure::Auth {
            name: "AccessDeniedException",
            message: format!(
                "{} is payhsm's region-to-region operation and is served to signed requests only",
                call.operation.name
            ),
        });
    }
    let _slot = tokio::time::timeout(state.config.limits.queue_timeout, state.in_flight.acquire())
        .await
        .map_err(|_| Failure::Throttled)?
        .map_err(|_| Failure::Throttled)?;
    let regions = Arc::clone(&state.regions);
    let name = call.operation.name;
    let result = tokio::task::spawn_blocking(move || {
        regions
            .open(&caller.region)
            .and_then(|service| service.call(name, call.input))
    })
    .await
    .unwrap_or_else(|_| Err(Error::internal(format!("{name} failed inside the server"))))
    .map_err(Failure::Service);
    if call.operation.plane == Plane::Control && result.is_ok() {
        // A key change may have left replication work in the outbox; a refused call did not.
        state.replication.notify_one();
    }
    result
}

/// Drains every local region's replication outbox in the background: when a control-plane
/// call may have added work, and every [`REPLICATION_INTERVAL`] (retrying what failed, and
/// what another process left), until `stopped`. A drain in progress finishes before this
/// returns, so shutdown never cuts one short.
async fn replicate(state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = state.replication.notified() => {}
            () = tokio::time::sleep(REPLICATION_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
        let regions = Arc::clone(&state.regions);
        let drained = tokio::task::spawn_blocking(move || drain_all(regions.as_ref())).await;
        if let Ok(lines) = drained {
            for line in lines {
                log_line(&line);
            }
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// How often the background drain runs without being asked.
const REPLICATION_INTERVAL: Duration = Duration::from_secs(2);

/// How long one background drain of one region may take.
const DRAIN_BOUND: Duration = Duration::from_secs(10);

/// One drain of every region; a log line for each region that did or failed something.
fn drain_all(regions: &dyn Regions) -> Vec<Value> {
    let names = match regions.names() {
        Ok(names) => names,
        Err(e) => return vec![json!({ "event": "replication", "error": e.to_string() })],
    };
    let mut lines = Vec::new();
    for region in names {
        let outcome = regions.open(&region).and_then(|service| {
            service.drain_replication(&Retry::default(), Instant::now() + DRAIN_BOUND)
        });
        match outcome {
            Ok(d) if d.synchronized == 0 && d.is_complete() => {}
            Ok(d) => lines.push(json!({
                "event": "replication",
                "region": region.as_str(),
                "synchronized": d.synchronized,
                "failed": d.failed,
                "remaining": d.remaining,
            })),
            Err(e) => lines.push(json!({
                "event": "replication",
                "region": region.as_str(),
                "error": e.to_string(),
            })),
        }
    }
    lines
}

fn ping(state: &State, request_id: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "Status": "OK",
        "Account": state.config.account.as_str(),
        "Signed": matches!(state.config.auth, Auth::SigV4 { .. }),
    });
    wire::response(Plane::Data, request_id, &Ok(body))
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One JSON line on stderr.
fn log_line(value: &Value) {
    eprintln!("{value}");
}
