//! `payhsm serve` under load: requests per second and latency percentiles for
//! `VerifyCardValidationData` and `GenerateMac` over loopback HTTP/1.1 with keep-alive, next to
//! the in-process `api::dispatch` cost of the same requests, measured in the same run.
//!
//! The server is the library (`payhsm_server::serve`) on its own runtime, with SigV4 checked
//! and the access log off, over the embedded SQLite store. The load generator is in the same
//! process on the same cores: `CONNECTIONS` kept-alive connections, each replaying one request
//! signed once (SigV4 allows that within the clock skew), so the client's cost is small and
//! constant. Two runs per operation: closed loop (each connection sends its next request when
//! the last answer arrives: the throughput), and open loop at `RATE` requests/s (latency from
//! the scheduled send time, so a stall counts against every request it delays).
//!
//! ```sh
//! cargo bench -p payhsm-benches --bench server
//! ```

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Error, Hsm, HsmConfig, SqliteStore,
    api::{self, Regions, Service},
    arn::{AccountId, Region},
    master_key::MasterKey,
};
use payhsm_server::{
    Auth, Config, Limits,
    auth::{AccessKeys, sign_request},
    serve,
};
use serde_json::{Value, json};

const CONNECTIONS: usize = 16;
const CLOSED_LOOP: Duration = Duration::from_secs(5);
const RATE: u32 = 2_500;
const OPEN_LOOP: Duration = Duration::from_secs(4);
const ID: &str = "PHSMBENCHBENCHBENCH0";
const SECRET: &str = "bench/secret/0123456789abcdefghijklmnop";

struct Key;

impl AccessKeys for Key {
    fn lookup(&self, id: &str) -> Option<Credentials> {
        (id == ID).then(|| Credentials::new(ID, SECRET, None, None, "bench"))
    }
}

struct One(Arc<Hsm<SqliteStore>>);

impl Regions for One {
    fn names(&self) -> Result<Vec<Region>, Error> {
        Ok(vec![self.0.region().clone()])
    }

    fn open(&self, _region: &Region) -> Result<Arc<dyn Service>, Error> {
        Ok(Arc::clone(&self.0) as Arc<dyn Service>)
    }
}

fn create(hsm: &Hsm<SqliteStore>, usage: &str) -> String {
    let out = api::dispatch(
        hsm,
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
            "Exportable": false }),
    )
    .unwrap();
    out["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

/// Percentile `p` (0..=100) of sorted `samples`, in microseconds.
fn percentile(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) + 50) / 100;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

/// A request for `path` with `body`, signed once.
fn signed(addr: &str, path: &str, body: &Value) -> http::Request<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap();
    let headers = [("host", addr), ("content-type", "application/json")];
    let request = SignableRequest::new(
        "POST",
        path,
        headers.into_iter(),
        SignableBody::Bytes(&body),
    )
    .unwrap();
    let creds = Credentials::new(ID, SECRET, None, None, "bench");
    let region = Region::new("us-east-1").unwrap();
    let (instructions, _) = sign_request(&creds, &region, SystemTime::now(), request).unwrap();
    let mut builder = http::Request::builder().method("POST").uri(path);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let mut request = builder.body(Full::new(Bytes::from(body))).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}

/// `CONNECTIONS` connections sending `request` for `length`, closed loop or at `rate`
/// requests/s; the latencies and the elapsed time.
async fn load(
    addr: std::net::SocketAddr,
    request: &http::Request<Full<Bytes>>,
    length: Duration,
    rate: Option<u32>,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let template = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            // At `rate`, connection c sends at start + (c + k * CONNECTIONS) / rate.
            let interval = rate.map(|r| Duration::from_secs_f64(CONNECTIONS as f64 / f64::from(r)));
            let offset = rate.map(|r| Duration::from_secs_f64(c as f64 / f64::from(r)));
            let mut k = 0u32;
            loop {
                let scheduled = match (interval, offset) {
                    (Some(i), Some(o)) => start + o + i * k,
                    _ => Instant::now(),
                };
                if scheduled.duration_since(start) >= length {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let response = sender.send_request(template.clone()).await.unwrap();
                assert_eq!(response.status(), 200);
                response.into_body().collect().await.unwrap();
                latencies.push(scheduled.elapsed());
                k += 1;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    all.sort();
    (all, elapsed)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::create(
        &dir.path().join("keys.db"),
        MasterKey::generate(&mut OsRandom).unwrap(),
    )
    .unwrap();
    let hsm = Arc::new(Hsm::new(
        store,
        HsmConfig::new(Region::new("us-east-1").unwrap()),
    ));
    let cvk = create(&hsm, "TR31_C0_CARD_VERIFICATION_KEY");
    let mac_key = create(&hsm, "TR31_M3_ISO_9797_3_MAC_KEY");
    let pan = "4111111111111111";
    let cvv2 = api::dispatch(
        &*hsm,
        "GenerateCardValidationData",
        json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan,
            "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }),
    )
    .unwrap()["ValidationData"]
        .clone();
    let verify = json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan,
        "VerificationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } },
        "ValidationData": cvv2 });
    let mac = json!({ "KeyIdentifier": mac_key, "MessageData": "00112233445566778899AABBCCDDEEFF",
        "GenerationAttributes": { "Algorithm": "ISO9797_ALGORITHM3" } });
    let cases = [
        (
            "VerifyCardValidationData",
            "/cardvalidationdata/verify",
            verify,
        ),
        ("GenerateMac", "/mac/generate", mac),
    ];

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        account: AccountId::new(AccountId::DEFAULT).unwrap(),
        auth: Auth::SigV4 {
            keys: Arc::new(Key),
            max_skew: Duration::from_secs(900),
        },
        limits: Limits::default(),
        access_log: false,
    };
    let regions: Arc<dyn Regions> = Arc::new(One(Arc::clone(&hsm)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime.spawn(serve(listener, config, regions, async {
        let _ = stopped.await;
    }));

    println!(
        "{:<26} {:>14} {:>12} {:>10} {:>10} {:>22}",
        "operation", "in-process", "closed req/s", "p50 µs", "p99 µs", "at 2,500/s p50/p99 µs"
    );
    for (name, path, body) in &cases {
        // In process: the dispatch alone, as the CLI and a library caller pay it.
        for _ in 0..2_000 {
            api::dispatch(&*hsm, name, body.clone()).unwrap();
        }
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            api::dispatch(&*hsm, name, body.clone()).unwrap();
        }
        let dispatch = t.elapsed() / n;

        let request = signed(&addr.to_string(), path, body);
        runtime.block_on(load(addr, &request, Duration::from_secs(1), None));
        let (closed, elapsed) = runtime.block_on(load(addr, &request, CLOSED_LOOP, None));
        let rps = closed.len() as f64 / elapsed.as_secs_f64();
        let (open, _) = runtime.block_on(load(addr, &request, OPEN_LOOP, Some(RATE)));
        println!(
            "{:<26} {:>11.1} µs {:>12.0} {:>10.0} {:>10.0} {:>12.0} / {:<8.0}",
            name,
            dispatch.as_secs_f64() * 1e6,
            rps,
            percentile(&closed, 50),
            percentile(&closed, 99),
            percentile(&open, 50),
            percentile(&open, 99),
        );
    }
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}
