//! The body of the `server_router` fuzz target: arbitrary requests into the server's router
//! and its SigV4 check. No input may panic; a request that routes names an operation of the
//! plane it speaks, with every path label a non-empty member; every refusal renders as the
//! service's error shape.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use http::{HeaderMap, HeaderName, HeaderValue};
use payhsm_keystore::arn::Region;
use payhsm_server::{
    Auth,
    auth::{self, AccessKeys},
    route, wire,
};

/// The one access key the fuzzed requests may be signed with.
struct FixedKey;

impl AccessKeys for FixedKey {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials> {
        (access_key_id == "PHSMFUZZFUZZFUZZFUZZ").then(|| {
            Credentials::new(
                access_key_id,
                "fuzz/secret/key/0123456789",
                None,
                None,
                "fuzz",
            )
        })
    }
}

/// A request from bytes: `METHOD TARGET`, then `name: value` lines up to an empty line, then
/// the body (all `\n`-separated).
fn parse(data: &[u8]) -> (String, String, HeaderMap, &[u8]) {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &[][..]), |i| (&data[..i], &data[i + 2..]));
    let head = String::from_utf8_lossy(split.0);
    let mut lines = head.split('\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(n, v);
        }
    }
    (method.to_owned(), target.to_owned(), headers, split.1)
}

/// Routes and authenticates the request in `data`; whether its signature checked.
pub fn run(data: &[u8]) -> bool {
    let (method, target, headers, body) = parse(data);
    let plane = route::plane(&headers);
    match route::route(&method, &target, &headers, body) {
        Ok(call) => {
            assert_eq!(call.operation.plane, plane);
            for label in call.operation.labels() {
                assert!(call.input[label].as_str().is_some_and(|s| !s.is_empty()));
            }
        }
        Err(failure) => {
            assert_eq!(failure.body(plane)["__type"], failure.name());
            let response = wire::response(plane, "fuzz", &Err(failure));
            assert!(response.status().is_client_error());
        }
    }
    let Ok(region) = Region::new("us-east-1") else {
        return false;
    };
    let signed = Auth::SigV4 {
        keys: Arc::new(FixedKey),
        max_skew: Duration::from_secs(900),
    };
    let unsigned = Auth::Unsigned {
        default_region: region,
    };
    // 2026-01-01T00:00:00Z, so that fixed X-Amz-Date seeds are within the skew.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let mut checked = false;
    for auth in [&signed, &unsigned] {
        match auth::verify(auth, &method, &target, &headers, body, now) {
            Ok(caller) => checked |= caller.access_key_id.is_some(),
            Err(failure) => assert!(failure.status(plane).is_client_error()),
        }
    }
    checked
}
