//! The audit log: append-only JSON lines, one file per region, shaped like the service's
//! audit (CloudTrail) events.
//!
//! Every key-management action and every failed operation is one line with `eventTime`,
//! `eventName`, the key ARNs in `resources`, `requestParameters`, and `errorCode` /
//! `errorMessage` on failure. Request parameters are built by the HSM from a fixed list of
//! non-secret fields (identifiers, attributes, algorithm names), never copied from a request,
//! so no PIN, PIN block, clear key, component, CVV or MAC can reach the log.
//!
//! The log is tamper-evident: every line carries `previousHash`, the SHA-256 (hex) of the
//! line before it, and the first line 64 zeros. [`verify`] walks the chain and names the first
//! line that was edited, removed or moved. Writers in several processes append under an
//! exclusive file lock, so each one chains to the line really before its own. A chain without
//! a key can be recomputed by someone who rewrites the whole file: `verify` prints the last
//! hash, which an operator records elsewhere (the ceremony's paperwork) to pin the log's past.

use std::{
    fs::File,
    io::{Read as _, Seek as _, SeekFrom, Write as _},
    path::Path,
    sync::{Mutex, PoisonError},
};

use sha2::{Digest as _, Sha256};

use payhsm_core::rng::{OsRandom, RandomSource};
use serde_json::{Value, json};

use crate::{Error, clock::Timestamp};

/// Where audit lines go.
#[derive(Debug)]
enum Sink {
    File(Mutex<File>),
    Memory(Mutex<Vec<String>>),
}

/// One region's audit log.
#[derive(Debug)]
pub struct AuditLog {
    sink: Sink,
}

/// What happened, for one audit line.
#[derive(Debug)]
pub struct AuditEvent<'a> {
    /// The operation (`CreateKey`, `VerifyMac`, …).
    pub event_name: &'a str,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// The key ARNs involved.
    pub resources: Vec<String>,
    /// Non-secret request parameters.
    pub request_parameters: Value,
    /// The failure, if it failed.
    pub error: Option<&'a Error>,
    /// `AwsApiCall` for a request, `AwsServiceEvent` for what the HSM does on its own
    /// (a scheduled deletion completing).
    pub service_event: bool,
}

impl AuditLog {
    /// Appends to the JSON-lines file at `path`, creating it with mode 0600.
    pub fn file(path: &Path) -> Result<Self, Error> {
        // Read too: each line chains to the one before it.
        let file = crate::files::owner_only()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| {
                Error::internal(format!("cannot open the audit log {}: {e}", path.display()))
            })?;
        Ok(Self {
            sink: Sink::File(Mutex::new(file)),
        })
    }

    /// Keeps lines in memory (tests and examples).
    pub fn memory() -> Self {
        Self {
            sink: Sink::Memory(Mutex::new(Vec::new())),
        }
    }

    /// The lines kept in memory (empty for a file log).
    pub fn lines(&self) -> Vec<String> {
        match &self.sink {
            Sink::Memory(lines) => lines.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            Sink::File(_) => Vec::new(),
        }
    }

    /// Writes one event, durably (a file log is synced). A log that cannot be written fails
    /// the operation that logs.
    pub fn record(
        &self,
        region: &str,
        account: &str,
        now: Timestamp,
        event: &AuditEvent<'_>,
    ) -> Result<(), Error> {
        let event_id = random_uuid()?;
        let mut line = json!({
            "eventVersion": "1.09",
            "eventTime": iso8601(now),
            "eventSource": "payment-cryptography.amazonaws.com",
            "eventName": event.event_name,
            "awsRegion": region,
            "eventID": event_id,
            "eventType": if event.service_event { "AwsServiceEvent" } else { "AwsApiCall" },
            "readOnly": event.read_only,
            "recipientAccountId": account,
            "requestParameters": camel_case(event.request_parameters.clone()),
            "resources": event.resources.iter()
                .map(|arn| json!({ "ARN": arn, "type": "AWS::PaymentCryptography::Key" }))
                .collect::<Vec<_>>(),
        });
        if let Some(e) = event.error {
            line["errorCode"] = json!(e.name());
            line["errorMessage"] = json!(e.message());
        }
        self.append(line)
    }

    /// Appends `line`, chained to the line before it.
    fn append(&self, mut line: Value) -> Result<(), Error> {
        match &self.sink {
            Sink::File(file) => {
                let mut f = file.lock().unwrap_or_else(PoisonError::into_inner);
                let failed =
                    |e: std::io::Error| Error::internal(format!("cannot write the audit log: {e}"));
                // Other processes append to the same file: the lock makes "read the last
                // line, write the next" one step.
                f.lock().map_err(failed)?;
                let written = last_line(&mut f).and_then(|previous| {
                    line["previousHash"] = json!(chain_hash(previous.as_deref()));
                    let mut text = line.to_string();
                    text.push('\n');
                    // On disk before the operation returns, as the store's commits are: the
                    // data plane logs only its failures, so this costs successes nothing.
                    f.write_all(text.as_bytes()).and_then(|()| f.sync_data())
                });
                let _ = f.unlock();
                written.map_err(failed)
            }
            Sink::Memory(lines) => {
                let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
                line["previousHash"] = json!(chain_hash(lines.last().map(String::as_bytes)));
                lines.push(line.to_string());
                Ok(())
            }
        }
    }
}

/// `value` with every object member's name in camelCase (`KeyModesOfUse` → `keyModesOfUse`),
/// as CloudTrail writes request parameters, whatever shape the caller built them in.
fn camel_case(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(name, v)| {
                    let mut chars = name.chars();
                    let first = chars.next().map(|c| c.to_ascii_lowercase());
                    (first.into_iter().chain(chars).collect(), camel_case(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_case).collect()),
        other => other,
    }
}

/// What a line's `previousHash` is: the SHA-256 of the line before it (without its newline),
/// or 64 zeros for the first line.
fn chain_hash(previous: Option<&[u8]>) -> String {
    match previous {
        Some(line) => payhsm_core::hex::encode(&Sha256::digest(line)).to_ascii_lowercase(),
        None => "0".repeat(64),
    }
}

/// The file's last line (without its newline), reading back from the end.
fn last_line(f: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    let len = f.seek(SeekFrom::End(0))?;
    let mut tail = Vec::new();
    let mut pos = len;
    while pos > 0 {
        let step = pos.min(4096);
        pos -= step;
        let mut chunk = vec![0; usize::try_from(step).unwrap_or(4096)];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(body[i + 1..].to_vec()));
        }
    }
    Ok((len > 0).then(|| tail.strip_suffix(b"\n").unwrap_or(&tail).to_vec()))
}

/// A verified log: how many lines, and the last line's hash (what the next line will carry).
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// The number of lines.
    pub lines: usize,
    /// The SHA-256 of the last line (64 zeros for an empty log).
    pub last_hash: String,
}

/// Where the chain breaks: the line (counted from 1) and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub struct Broken {
    /// The first line that does not follow from the one before it.
    pub line: usize,
    /// Why, in one sentence.
    pub reason: String,
}

/// Walks the chain of the log `text` (a file's contents).
pub fn verify(text: &[u8]) -> Result<Verified, Broken> {
    if text.is_empty() {
        return Ok(Verified {
            lines: 0,
            last_hash: chain_hash(None),
        });
    }
    let mut previous: Option<&[u8]> = None;
    let mut lines = 0;
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if !text.ends_with(b"\n") {
        let line = body.split(|&b| b == b'\n').count();
        return Err(Broken {
            line,
            reason: "the last line is incomplete: a write was cut short, or the file was \
                     truncated"
                .to_owned(),
        });
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let broken = |reason: String| Broken { line, reason };
        let event: Value = serde_json::from_slice(raw)
            .map_err(|e| broken(format!("not a JSON event ({e}): the line was edited")))?;
        let claimed = event["previousHash"].as_str().ok_or_else(|| {
            broken("it carries no previousHash: it was edited or inserted".to_owned())
        })?;
        if claimed != chain_hash(previous) {
            return Err(broken(match previous {
                None => {
                    "the first line does not start a log: lines before it were removed".to_owned()
                }
                Some(_) => format!(
                    "its previousHash is not the hash of line {}: that line was edited, or \
                     lines between them were removed or reordered",
                    line - 1
                ),
            }));
        }
        previous = Some(raw);
        lines = line;
    }
    Ok(Verified {
        lines,
        last_hash: chain_hash(previous),
    })
}

/// `YYYY-MM-DDThh:mm:ssZ` for an instant (proleptic Gregorian, UTC).
pub fn iso8601(t: Timestamp) -> String {
    let secs = t.0.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A random (version 4) UUID: the audit log's event ids and the server's request ids.
pub fn random_uuid() -> Result<String, Error> {
    let mut b = [0u8; 16];
    OsRandom
        .fill(&mut b)
        .map_err(|_| Error::internal("the random source failed"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = payhsm_core::hex::encode(&b).to_ascii_lowercase();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> AuditEvent<'_> {
        AuditEvent {
            event_name: name,
            read_only: false,
            resources: Vec::new(),
            request_parameters: json!({ "keyIdentifier": "alias/x" }),
            error: None,
            service_event: false,
        }
    }

    /// A log of `n` events written by two writers of one file, as two processes would.
    fn two_writers(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let a = AuditLog::file(&path).unwrap();
        let b = AuditLog::file(&path).unwrap();
        for i in 0..n {
            let log = if i % 3 == 0 { &a } else { &b };
            log.record(
                "us-east-1",
                "111122223333",
                Timestamp(0),
                &event(&format!("Op{i}")),
            )
            .unwrap();
        }
        (dir, path)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn verify_lines(lines: &[String]) -> Result<Verified, Broken> {
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        verify(text.as_bytes())
    }

    #[test]
    fn the_chain_holds_across_writers_and_breaks_where_the_log_was_changed() {
        let (_dir, path) = two_writers(8);
        let good = lines(&path);
        let verified = verify_lines(&good).unwrap();
        assert_eq!(verified.lines, 8);
        assert_eq!(verified.last_hash, chain_hash(Some(good[7].as_bytes())));
        assert_eq!(verify(b"").unwrap().lines, 0);

        let line_of = |changed: Vec<String>| verify_lines(&changed).unwrap_err().line;
        // Edited: the next line no longer chains to it.
        let mut edited = good.clone();
        edited[3] = edited[3].replace("Op3", "Op9");
        assert_eq!(line_of(edited), 5);
        // Removed.
        let mut removed = good.clone();
        removed.remove(4);
        assert_eq!(line_of(removed), 5);
        // Reordered.
        let mut reordered = good.clone();
        reordered.swap(2, 3);
        assert_eq!(line_of(reordered), 3);
        // The first lines removed.
        assert_eq!(line_of(good[2..].to_vec()), 1);
        let first = verify_lines(&good[2..]).unwrap_err();
        assert!(
            first.reason.contains("lines before it were removed"),
            "{}",
            first.reason
        );
        // A line that is not an event, and one cut short.
        let mut garbage = good.clone();
        garbage.insert(6, "not json".into());
        assert_eq!(line_of(garbage), 7);
        let text = std::fs::read(&path).unwrap();
        let cut = verify(&text[..text.len() - 5]).unwrap_err();
        assert_eq!(cut.line, 8);
        assert!(cut.reason.contains("incomplete"));
    }

    #[test]
    fn request_parameters_are_camel_case() {
        let log = AuditLog::memory();
        let mut e = event("CreateKey");
        e.request_parameters = json!({ "keyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyModesOfUse": { "Generate": true } }, "Tags": [{ "Key": "a" }] });
        log.record("us-east-1", "111122223333", Timestamp(0), &e)
            .unwrap();
        let line: Value = serde_json::from_str(&log.lines()[0]).unwrap();
        assert_eq!(
            line["requestParameters"],
            json!({ "keyAttributes": { "keyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "keyModesOfUse": { "generate": true } }, "tags": [{ "key": "a" }] })
        );
    }

    #[test]
    fn a_memory_log_chains_too() {
        let log = AuditLog::memory();
        for name in ["A", "B", "C"] {
            log.record("us-east-1", "111122223333", Timestamp(0), &event(name))
                .unwrap();
        }
        assert_eq!(verify_lines(&log.lines()).unwrap().lines, 3);
    }

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(Timestamp(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(
            iso8601(Timestamp(1_795_000_000_999)),
            "2026-11-18T11:06:40Z"
        );
    }
}
