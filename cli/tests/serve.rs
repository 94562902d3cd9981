//! `payhsm serve` with real clients: a `payhsm serve` process on a free port over a fresh
//! store, driven by boto3 and the AWS CLI v1 (server/tests/interop/*.py, run with
//! PAYHSM_PYTHON, the interop venv that .ci/run makes; under CI=true a missing one fails),
//! and two servers for regions in two processes. The server is stopped with SIGTERM and must
//! exit cleanly.

use std::{
    fs,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_payhsm");

/// The interop Python, or `None` (outside CI) when it is not set up.
fn python() -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let python = std::env::var_os("PAYHSM_PYTHON").map(PathBuf::from);
    let ready = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import boto3, awscli, psec, pyemv, cryptography"])
            .status()
            .is_ok_and(|s| s.success())
    });
    match (ready, ci) {
        (true, _) => python,
        (false, true) => panic!(
            "CI=true: PAYHSM_PYTHON must be a Python with server/tests/interop/requirements.txt \
             installed (.ci/run makes .venv)"
        ),
        (false, false) => {
            eprintln!(
                "skipped: set PAYHSM_PYTHON to a venv with server/tests/interop/requirements.txt"
            );
            None
        }
    }
}

fn payhsm(store: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A fresh store with `regions`, and the access key `payhsm init` made for it.
struct Store {
    _dir: tempfile::TempDir,
    path: PathBuf,
    access_key_id: String,
    secret: String,
}

impl Store {
    fn new(regions: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let mut key = Value::Null;
        for region in regions {
            let (code, out, err) = payhsm(
                &path,
                &["--region", region, "init", "--dev-master-key"],
                None,
            );
            assert_eq!(code, 0, "{err}");
            let out: Value = serde_json::from_str(&out).unwrap();
            if key.is_null() {
                key = out["AccessKey"].clone();
                assert!(err.contains("aws configure set aws_access_key_id"), "{err}");
            } else {
                assert!(out.get("AccessKey").is_none(), "one key per store: {out}");
            }
        }
        Self {
            access_key_id: key["AccessKeyId"].as_str().unwrap().to_owned(),
            secret: key["SecretAccessKey"].as_str().unwrap().to_owned(),
            path,
            _dir: dir,
        }
    }
}

/// A running `payhsm serve`.
struct Server {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Server {
    fn start(store: &Store, extra: &[&str]) -> Self {
        Self::start_as(store, &[], extra)
    }

    /// With global options before `serve` and `extra` options after it.
    fn start_as(store: &Store, global: &[&str], extra: &[&str]) -> Self {
        let log = store.path.join(format!("serve-{}.log", rand_suffix()));
        let mut child = Command::new(BIN)
            .arg("--store")
            .arg(&store.path)
            .args(global)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "payhsm serve did not start: {}",
                fs::read_to_string(&log).unwrap()
            )
        });
        Self {
            child,
            endpoint: ready["EndpointUrl"].as_str().unwrap().to_owned(),
            log,
        }
    }

    fn port(&self) -> u16 {
        self.endpoint.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// SIGTERM, then the exit status (it must be a clean exit) and the log.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        let log = fs::read_to_string(&self.log).unwrap();
        assert!(status.success(), "payhsm serve exited {status}: {log}");
        assert!(!log.contains("panicked"), "{log}");
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Runs an interop script against `server` with `store`'s access key; it must pass.
fn script(python: &Path, name: &str, server: &Server, store: &Store, env: &[(&str, &str)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/interop");
    let out = Command::new(python)
        .arg(dir.join(name))
        .current_dir(&dir)
        .env("PAYHSM_ENDPOINT", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", &store.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &store.secret)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", store.path.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            store.path.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("passed, 0 failed"),
        "{name}: {stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(&server.log).unwrap_or_default()
    );
}

/// The access log: one JSON line per request, with no request body and no secret in it.
fn check_log(log: &str, store: &Store) {
    let requests: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("requestId").is_some())
        .collect();
    assert!(!requests.is_empty(), "{log}");
    for r in &requests {
        assert!(
            r["status"].is_u64() && r["method"].is_string() && r["ms"].is_number(),
            "{r}"
        );
    }
    assert!(!log.contains(&store.secret), "the secret is in the log");
    for member in [
        "PlainText",
        "EncryptedPinBlock",
        "WrappedKeyBlock",
        "MessageData",
    ] {
        assert!(!log.contains(member), "{member} in the log");
    }
}

#[test]
fn boto3_every_operation() {
    let Some(python) = python() else { return };
    let store = Store::new(&["us-east-1", "us-west-2"]);
    let server = Server::start(&store, &[]);
    script(&python, "every_operation.py", &server, &store, &[]);
    check_log(&server.stop(), &store);
}

#[test]
fn aws_cli_v1_walkthrough() {
    let Some(python) = python() else { return };
    let store = Store::new(&["us-east-1", "us-west-2"]);
    let server = Server::start(&store, &[]);
    script(&python, "aws_cli.py", &server, &store, &[]);
    server.stop();
}

#[test]
fn bad_input_over_the_wire() {
    let Some(python) = python() else { return };
    let store = Store::new(&["us-east-1"]);
    let server = Server::start(&store, &[]);
    script(&python, "bad_input.py", &server, &store, &[]);
    check_log(&server.stop(), &store);
}

#[test]
fn regions_in_two_processes() {
    let Some(python) = python() else { return };
    let east = Store::new(&["us-east-1"]);
    let west = Store::new(&["us-west-2"]);
    // One access key signs for every region of the account: A's goes into B's store.
    let (code, _, err) = payhsm(
        &west.path,
        &[
            "credentials",
            "import",
            "--access-key-id",
            &east.access_key_id,
        ],
        Some(&format!("{}\n", east.secret)),
    );
    assert_eq!(code, 0, "{err}");
    let b = Server::start(&west, &[]);
    let a = Server::start(
        &east,
        &["--region-endpoint", &format!("us-west-2={}", b.endpoint)],
    );
    script(
        &python,
        "cross_process.py",
        &a,
        &east,
        &[("PAYHSM_ENDPOINT_B", b.endpoint.as_str())],
    );
    let log_a = a.stop();
    let log_b = b.stop();
    // B saw A's calls, signed with the shared key, for us-west-2.
    assert!(
        log_b.contains(&format!("\"accessKeyId\":\"{}\"", east.access_key_id)),
        "{log_b}"
    );
    assert!(log_a.contains("\"region\":\"us-west-2\""), "{log_a}");
}

/// One raw HTTP/1.1 request; the status line and the body.
fn http(port: u16, request: &str) -> (String, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// An unsigned CreateKey of a CVK.
fn create_key_request() -> String {
    let body = r#"{"KeyAttributes":{"KeyAlgorithm":"TDES_2KEY","KeyClass":"SYMMETRIC_KEY","KeyUsage":"TR31_C0_CARD_VERIFICATION_KEY","KeyModesOfUse":{"Generate":true,"Verify":true}},"Exportable":false}"#;
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: PaymentCryptographyControlPlane.CreateKey\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn unsigned_mode_is_loopback_only_and_warns() {
    let store = Store::new(&["us-east-1"]);
    let (code, _, err) = payhsm(
        &store.path,
        &["serve", "--allow-unsigned", "--listen", "0.0.0.0:0"],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("loopback"), "{err}");
    let server = Server::start(&store, &["--allow-unsigned"]);
    let (status, out) = http(server.port(), &create_key_request());
    assert!(status.contains("200"), "{status} {out}");
    assert!(
        out["Key"]["KeyArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:payment-cryptography:us-east-1:111122223333:key/")
    );
    let (status, ping) = http(
        server.port(),
        "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("200") && ping["Signed"] == false, "{ping}");
    // payhsm's region-to-region operation is never served unsigned.
    let body = r#"{"KeyId":"abcdefghijklmnop","PrimaryRegion":"us-west-2"}"#;
    let (status, out) = http(
        server.port(),
        &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: PayhsmInternal.ImportKeyReplica\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(
        status.contains("400") || status.contains("403"),
        "{status} {out}"
    );
    assert_eq!(out["__type"], "AccessDeniedException", "{out}");
    let log = server.stop();
    assert!(log.contains("warning: --allow-unsigned"), "{log}");
}

#[test]
fn the_account_comes_from_configuration() {
    let store = Store::new(&["us-east-1"]);
    let server = Server::start_as(
        &store,
        &["--account", "444455556666"],
        &["--allow-unsigned"],
    );
    let (_, out) = http(server.port(), &create_key_request());
    assert!(
        out["Key"]["KeyArn"]
            .as_str()
            .unwrap()
            .contains(":us-east-1:444455556666:key/"),
        "{out}"
    );
    server.stop();
}

#[test]
fn credentials_commands() {
    let store = Store::new(&["us-east-1"]);
    let (code, out, err) = payhsm(&store.path, &["credentials", "create"], None);
    assert_eq!(code, 0, "{err}");
    let second: Value = serde_json::from_str(&out).unwrap();
    let id = second["AccessKeyId"].as_str().unwrap();
    let (_, out, _) = payhsm(&store.path, &["credentials", "list"], None);
    let listed: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = listed["AccessKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AccessKeyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [store.access_key_id.as_str(), id]);
    assert!(!out.contains(&store.secret), "list shows no secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(store.path.join("credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    for key in [id, store.access_key_id.as_str()] {
        let (code, _, err) = payhsm(
            &store.path,
            &["credentials", "delete", "--access-key-id", key],
            None,
        );
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = payhsm(
        &store.path,
        &["credentials", "delete", "--access-key-id", id],
        None,
    );
    // Not found, as ResourceNotFoundException: 255 by the exit-code rule.
    assert_eq!(code, 255);
    assert!(err.contains("no access key"), "{err}");
    // Without an access key, a signed server cannot start.
    let (code, _, err) = payhsm(&store.path, &["serve", "--listen", "127.0.0.1:0"], None);
    assert_eq!(code, 255);
    assert!(
        err.contains("no access keys") && err.contains("payhsm credentials create"),
        "{err}"
    );
}
