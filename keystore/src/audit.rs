//! The audit log: append-only JSON lines, one file per region, shaped like the service's
//! audit (CloudTrail) events.
//!
//! Every key-management action and every failed operation is one line with `eventTime`,
//! `eventName`, the key ARNs in `resources`, `requestParameters`, and `errorCode` /
//! `errorMessage` on failure. Request parameters are built by the HSM from a fixed list of
//! non-secret fields (identifiers, attributes, algorithm names), never copied from a request,
//! so no PIN, PIN block, clear key, component, CVV or MAC can reach the log.

use std::{
    fs::{File, OpenOptions},
    io::Write as _,
    path::Path,
    sync::{Mutex, PoisonError},
};

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
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|e| {
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
            "requestParameters": event.request_parameters,
            "resources": event.resources.iter()
                .map(|arn| json!({ "ARN": arn, "type": "AWS::PaymentCryptography::Key" }))
                .collect::<Vec<_>>(),
        });
        if let Some(e) = event.error {
            line["errorCode"] = json!(e.name());
            line["errorMessage"] = json!(e.message());
        }
        let mut text = line.to_string();
        text.push('\n');
        match &self.sink {
            Sink::File(file) => {
                let mut f = file.lock().unwrap_or_else(PoisonError::into_inner);
                // On disk before the operation returns, as the store's commits are: the data
                // plane logs only its failures, so this costs successes nothing.
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_data())
                    .map_err(|e| Error::internal(format!("cannot write the audit log: {e}")))
            }
            Sink::Memory(lines) => {
                text.pop();
                lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(text);
                Ok(())
            }
        }
    }
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
