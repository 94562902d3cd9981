//! SigV4: the signature of a request checked against the store's access keys, and the
//! signing of the remote client's requests. `aws-sigv4` computes the signature; this module
//! only reads the `Authorization` header, picks the key and compares in constant time.

use std::{
    borrow::Cow,
    sync::Arc,
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        SignableBody, SignableRequest, SigningInstructions, SigningParams, SigningSettings, sign,
    },
    sign::v4,
};
use http::HeaderMap;
use payhsm_keystore::arn::Region;
use subtle::ConstantTimeEq;

use crate::{operations::SIGNING_NAME, wire::Failure};

/// The access keys requests may be signed with.
pub trait AccessKeys: Send + Sync {
    /// The credentials of `access_key_id`, if it is one of ours.
    fn lookup(&self, access_key_id: &str) -> Option<Credentials>;
}

/// How the server authenticates requests.
#[derive(Clone)]
pub enum Auth {
    /// SigV4 against these access keys; a request signed more than `max_skew` away from now
    /// is refused.
    SigV4 {
        /// The keys.
        keys: Arc<dyn AccessKeys>,
        /// The clock difference allowed (the service's is 15 minutes).
        max_skew: Duration,
    },
    /// No check (local experiments): the region is read from the credential scope if there
    /// is one, else `default_region` is used.
    Unsigned {
        /// The region of a request without a credential scope.
        default_region: Region,
    },
}

/// The caller of an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The region of the credential scope.
    pub region: Region,
    /// The access key that signed, if the request was checked.
    pub access_key_id: Option<String>,
}

/// The SigV4 algorithm name.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of an `Authorization` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(v).is_some() {
            return None;
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
        return None;
    };
    Some(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

fn invalid_signature(message: impl Into<String>) -> Failure {
    Failure::Auth {
        name: "InvalidSignatureException",
        message: message.into(),
    }
}

/// Checks a request's signature: `method`, the request target as received (`path?query`),
/// its headers and body, at time `now`.
pub fn verify(
    auth: &Auth,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Caller, Failure> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let (keys, max_skew) = match auth {
        Auth::Unsigned { default_region } => {
            let region = header
                .and_then(parse_authorization)
                .and_then(|a| Region::new(a.region).ok())
                .unwrap_or_else(|| default_region.clone());
            return Ok(Caller {
                region,
                access_key_id: None,
            });
        }
        Auth::SigV4 { keys, max_skew } => (keys, *max_skew),
    };
    let header = header.ok_or_else(|| Failure::Auth {
        name: "AccessDeniedException",
        message: "the request is not signed: sign it with SigV4 (an access key of this store, \
                  see `payhsm credentials`)"
            .into(),
    })?;
    let a = parse_authorization(header).ok_or_else(|| {
        invalid_signature(format!(
            "the Authorization header is not {ALGORITHM} Credential=…/date/region/{SIGNING_NAME}/aws4_request, SignedHeaders=…, Signature=…"
        ))
    })?;
    if a.service != SIGNING_NAME {
        return Err(invalid_signature(format!(
            "the credential scope names service {:.40}, not {SIGNING_NAME}",
            a.service
        )));
    }
    let region = Region::new(a.region).map_err(|_| {
        invalid_signature(format!(
            "the credential scope's region {:.40} is not a region name",
            a.region
        ))
    })?;
    let credentials = keys.lookup(a.access_key_id).ok_or_else(|| Failure::Auth {
        name: "UnrecognizedClientException",
        message: "the security token included in the request is invalid: the access key is \
                  not one of this store's"
            .into(),
    })?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let time = parse_amz_date(amz_date)
        .ok_or_else(|| invalid_signature("X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ"))?;
    if !amz_date.starts_with(a.date) || a.date.len() != 8 {
        return Err(invalid_signature(
            "the credential scope's date is not X-Amz-Date's",
        ));
    }
    let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
    if skew > max_skew {
        return Err(invalid_signature(format!(
            "signature expired: {amz_date} is more than {} minutes from the server's time",
            max_skew.as_secs() / 60
        )));
    }
    // aws-sigv4 signs the Host header, or the target's authority when there is none.
    if !a.signed_headers.contains(&"host")
        || !a.signed_headers.contains(&"x-amz-date")
        || !headers.contains_key(http::header::HOST)
    {
        return Err(invalid_signature(
            "SignedHeaders must include host and x-amz-date, and the request must have them",
        ));
    }
    // The signed headers as received; aws-sigv4 adds x-amz-date from `time` itself.
    let mut signed = Vec::with_capacity(a.signed_headers.len());
    for name in a.signed_headers.iter().filter(|n| **n != "x-amz-date") {
        for value in headers.get_all(*name) {
            let value = value
                .to_str()
                .map_err(|_| invalid_signature(format!("header {name:.40} is not text")))?;
            signed.push((*name, value));
        }
    }
    let request = SignableRequest::new(
        method,
        target,
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|_| invalid_signature("the request target cannot be signed"))?;
    let (_, expected) = sign_request(&credentials, &region, time, request)
        .map_err(|e| invalid_signature(format!("the request cannot be signed: {e}")))?;
    if bool::from(expected.as_bytes().ct_eq(a.signature.as_bytes())) {
        Ok(Caller {
            region,
            access_key_id: Some(a.access_key_id.to_owned()),
        })
    } else {
        Err(invalid_signature(
            "the request signature we calculated does not match the signature you provided; \
             check your secret access key and signing method",
        ))
    }
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from 1970-01-01 to y-m-d (the proleptic Gregorian calendar; H. Hinnant's
    // days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// The SigV4 settings of both sides: every header given is signed.
fn settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(vec![Cow::Borrowed("authorization")]);
    settings
}

/// Signs `request` as `credentials` for `region` at `time`: the headers to add and the
/// signature.
pub fn sign_request(
    credentials: &Credentials,
    region: &Region,
    time: SystemTime,
    request: SignableRequest<'_>,
) -> Result<(SigningInstructions, String), String> {
    let identity = credentials.clone().into();
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(region.as_str())
        .name(SIGNING_NAME)
        .time(time)
        .settings(settings())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    Ok(sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    struct OneKey;

    impl AccessKeys for OneKey {
        fn lookup(&self, id: &str) -> Option<Credentials> {
            (id == "PHSMTESTKEY").then(|| Credentials::new(id, "s3cret/KEY+x", None, None, "test"))
        }
    }

    fn sigv4() -> Auth {
        Auth::SigV4 {
            keys: Arc::new(OneKey),
            max_skew: Duration::from_secs(900),
        }
    }

    const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    /// A data-plane request signed by aws-sigv4 as a client would.
    fn signed(secret: &str, at: SystemTime, body: &[u8]) -> HeaderMap {
        let creds = Credentials::new("PHSMTESTKEY", secret, None, None, "test");
        let base = [
            ("host", "127.0.0.1:9000"),
            ("content-type", "application/json"),
        ];
        let request = SignableRequest::new(
            "POST",
            "/keys/alias%2Fk/encrypt",
            base.into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let region = Region::new("eu-west-2").unwrap();
        let (instructions, _) = sign_request(&creds, &region, at, request).unwrap();
        let mut headers = HeaderMap::new();
        for (k, v) in base.into_iter().chain(instructions.headers()) {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    fn check(headers: &HeaderMap, body: &[u8]) -> Result<Caller, &'static str> {
        verify(
            &sigv4(),
            "POST",
            "/keys/alias%2Fk/encrypt",
            headers,
            body,
            now(),
        )
        .map_err(|f| f.name())
    }

    #[test]
    fn a_signed_request_names_its_region_and_key() {
        let caller = check(&signed("s3cret/KEY+x", now(), b"{}"), b"{}").unwrap();
        assert_eq!(caller.region.as_str(), "eu-west-2");
        assert_eq!(caller.access_key_id.as_deref(), Some("PHSMTESTKEY"));
    }

    #[test]
    fn anything_changed_after_signing_is_refused() {
        let good = signed("s3cret/KEY+x", now(), b"{}");
        assert_eq!(check(&good, b"{ }"), Err("InvalidSignatureException"));
        assert_eq!(
            check(&signed("other", now(), b"{}"), b"{}"),
            Err("InvalidSignatureException")
        );
        let mut h = good.clone();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(check(&h, b"{}"), Err("InvalidSignatureException"));
        let e = verify(
            &sigv4(),
            "POST",
            "/keys/alias%2Fj/encrypt",
            &good,
            b"{}",
            now(),
        );
        assert_eq!(e.map_err(|f| f.name()), Err("InvalidSignatureException"));
        let mut h = good.clone();
        let auth = h["authorization"]
            .to_str()
            .unwrap()
            .replace("PHSMTESTKEY", "PHSMOTHERKEY");
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        assert_eq!(check(&h, b"{}"), Err("UnrecognizedClientException"));
        let auth = good["authorization"]
            .to_str()
            .unwrap()
            .replace("payment-cryptography", "kms");
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        assert_eq!(check(&h, b"{}"), Err("InvalidSignatureException"));
        h.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"),
        );
        assert_eq!(check(&h, b"{}"), Err("InvalidSignatureException"));
        h.remove("authorization");
        assert_eq!(check(&h, b"{}"), Err("AccessDeniedException"));
    }

    #[test]
    fn the_clock_may_differ_by_fifteen_minutes() {
        let early = now() - Duration::from_secs(899);
        assert!(check(&signed("s3cret/KEY+x", early, b""), b"").is_ok());
        let late = now() + Duration::from_secs(901);
        assert_eq!(
            check(&signed("s3cret/KEY+x", late, b""), b""),
            Err("InvalidSignatureException")
        );
    }

    #[test]
    fn unsigned_mode_reads_the_scope_or_takes_the_default() {
        let auth = Auth::Unsigned {
            default_region: Region::new("us-east-1").unwrap(),
        };
        let h = signed("wrong", now(), b"");
        let caller = verify(&auth, "POST", "/", &h, b"x", now()).unwrap();
        assert_eq!(caller.region.as_str(), "eu-west-2");
        let caller = verify(&auth, "POST", "/", &HeaderMap::new(), b"", now()).unwrap();
        assert_eq!(caller.region.as_str(), "us-east-1");
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("20260101T000000Z"), Some(now()));
        assert_eq!(
            parse_amz_date("20150830T123600Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160))
        );
        for bad in [
            "",
            "20261301T000000Z",
            "20260101T240000Z",
            "20260101T000000",
            "2026-101T000000Z",
            "+0260101T000000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
