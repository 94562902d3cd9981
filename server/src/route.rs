//! From an HTTP request to an operation and its request JSON, for both planes.
//!
//! A request with an `X-Amz-Target` header is the control plane's (awsJson1_0): `POST /`,
//! the operation named by the target. Any other is the data plane's (restJson1): the
//! operation whose method and path template match, each path label percent-decoded into the
//! request member it names (split on literal `/` first, so `%2F` in an ARN stays in the
//! label). Whatever does not route is a `ValidationException` that says what is wrong.

use http::HeaderMap;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::{
    operations::{self, OPERATIONS, Operation, Plane, TARGET_PREFIX},
    wire::Failure,
};

/// A routed request.
#[derive(Debug, PartialEq)]
pub struct Call {
    /// The operation.
    pub operation: &'static Operation,
    /// The request, with the path labels' members.
    pub input: Value,
}

/// The plane a request speaks: the control plane's carry `X-Amz-Target`.
pub fn plane(headers: &HeaderMap) -> Plane {
    if headers.contains_key("x-amz-target") {
        Plane::Control
    } else {
        Plane::Data
    }
}

/// Routes a request: `method`, the request target (`path?query`), its headers and body.
pub fn route(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Call, Failure> {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let (operation, labels) = match plane(headers) {
        Plane::Control => (control_operation(method, path, headers)?, Vec::new()),
        Plane::Data => data_operation(method, path)?,
    };
    content_type(operation.plane, headers)?;
    let mut input = parse_body(body)?;
    for (member, raw) in labels {
        input.insert(member.to_owned(), Value::String(decode_label(member, raw)?));
    }
    Ok(Call {
        operation,
        input: Value::Object(input),
    })
}

fn control_operation(
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<&'static Operation, Failure> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = operations::by_target(target).ok_or_else(|| {
        Failure::invalid(
            "X-Amz-Target",
            format!(
                "{} is not an operation of the control plane; expected {TARGET_PREFIX}.<Operation>",
                shown(target)
            ),
        )
    })?;
    if method != operation.method || path != operation.path {
        return Err(Failure::invalid(
            "Path",
            format!(
                "the control plane takes {} {}, not {} {}",
                operation.method,
                operation.path,
                shown(method),
                shown(path)
            ),
        ));
    }
    Ok(operation)
}

/// A path label's member name and its raw segment.
type Labels<'p> = Vec<(&'static str, &'p str)>;

/// The data-plane operation at `path`, and its labels' raw segments.
fn data_operation<'p>(
    method: &str,
    path: &'p str,
) -> Result<(&'static Operation, Labels<'p>), Failure> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut wrong_method = None;
    for operation in OPERATIONS.iter().filter(|o| o.plane == Plane::Data) {
        let template: Vec<&str> = operation.path.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut labels = Vec::new();
        let matched = template.iter().zip(&segments).all(|(t, s)| {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(member) => {
                    labels.push((member, *s));
                    true
                }
                None => t == s,
            }
        });
        if !matched {
            continue;
        }
        if method == operation.method {
            return Ok((operation, labels));
        }
        wrong_method = Some(operation);
    }
    Err(match wrong_method {
        Some(op) => Failure::invalid(
            "Method",
            format!(
                "{} takes {} {}, not {}",
                op.name,
                op.method,
                op.path,
                shown(method)
            ),
        ),
        None => Failure::invalid(
            "Path",
            format!(
                "no operation of the data plane is at {}; a control-plane request needs \
                 X-Amz-Target",
                shown(path)
            ),
        ),
    })
}

fn content_type(plane: Plane, headers: &HeaderMap) -> Result<(), Failure> {
    let given = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let media = given.map(|v| v.split(';').next().unwrap_or_default().trim());
    if media.is_some_and(|m| m.eq_ignore_ascii_case(plane.content_type())) {
        return Ok(());
    }
    Err(Failure::invalid(
        "Content-Type",
        format!(
            "expected {}, got {}",
            plane.content_type(),
            given.map_or_else(|| "none".to_owned(), shown)
        ),
    ))
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::invalid(
            "Body",
            "the request body must be a JSON object",
        )),
        Err(e) => Err(Failure::invalid(
            "Body",
            format!(
                "the request body is not JSON: {} at line {} column {}",
                category(&e),
                e.line(),
                e.column()
            ),
        )),
    }
}

/// The kind of a JSON error, without the input's text.
fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "unexpected end",
    }
}

fn decode_label(member: &str, raw: &str) -> Result<String, Failure> {
    let bad = |why: &str| Failure::invalid(member, format!("the path label {why}"));
    if raw.is_empty() {
        return Err(bad("is empty"));
    }
    // Every `%` must start an escape: `%zz` would otherwise pass through as text.
    let bytes = raw.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(bad("has a malformed percent escape"));
    }
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| bad("is not UTF-8 once decoded"))
}

/// A value from the request, quoted and cut short, for an error message.
fn shown(value: &str) -> String {
    let mut s: String = value
        .chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if value.chars().count() > 80 {
        s.push('…');
    }
    format!("'{s}'")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn cp(op: &str) -> HeaderMap {
        headers(&[
            (
                "x-amz-target",
                &format!("PaymentCryptographyControlPlane.{op}"),
            ),
            ("content-type", "application/x-amz-json-1.0"),
        ])
    }

    fn dp() -> HeaderMap {
        headers(&[("content-type", "application/json")])
    }

    fn message(r: Result<Call, Failure>) -> String {
        match r {
            Err(f) => f.body(Plane::Data)["message"].as_str().unwrap().to_owned(),
            Ok(c) => panic!("routed to {}", c.operation.name),
        }
    }

    #[test]
    fn control_plane_by_target() {
        let call = route(
            "POST",
            "/",
            &cp("GetKey"),
            br#"{"KeyIdentifier":"alias/a"}"#,
        )
        .unwrap();
        assert_eq!(call.operation.name, "GetKey");
        assert_eq!(call.input, json!({"KeyIdentifier": "alias/a"}));
        let empty = route("POST", "/", &cp("GetDefaultKeyReplicationRegions"), b"").unwrap();
        assert_eq!(empty.input, json!({}));
    }

    #[test]
    fn data_plane_by_path_with_percent_decoded_labels() {
        let arn =
            "arn%3Aaws%3Apayment-cryptography%3Aus-east-1%3A111122223333%3Akey%2Fabcdefghijklmnop";
        let call = route(
            "POST",
            &format!("/keys/{arn}/encrypt"),
            &dp(),
            br#"{"PlainText":"00"}"#,
        )
        .unwrap();
        assert_eq!(call.operation.name, "EncryptData");
        assert_eq!(
            call.input["KeyIdentifier"],
            "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop"
        );
        let call = route("POST", "/keys/alias%2Fk/reencrypt", &dp(), b"{}").unwrap();
        assert_eq!(call.input["IncomingKeyIdentifier"], "alias/k");
        let call = route("POST", "/mac/generate?x=1", &dp(), b"{}").unwrap();
        assert_eq!(call.operation.name, "GenerateMac");
    }

    #[test]
    fn what_does_not_route_says_why() {
        assert!(
            message(route("POST", "/", &cp("Nope"), b"{}"))
                .contains("'PaymentCryptographyControlPlane.Nope' is not an operation")
        );
        assert!(
            message(route("POST", "/", &cp("GenerateMac"), b"{}"))
                .contains("not an operation of the control plane")
        );
        assert!(message(route("GET", "/", &cp("GetKey"), b"{}")).contains("takes POST /"));
        assert!(
            message(route("POST", "/nothing", &dp(), b"{}"))
                .contains("no operation of the data plane")
        );
        assert!(
            message(route("GET", "/mac/generate", &dp(), b"{}")).contains("GenerateMac takes POST")
        );
        assert!(
            message(route("POST", "/keys//encrypt", &dp(), b"{}"))
                .contains("KeyIdentifier: the path label is empty")
        );
        assert!(
            message(route("POST", "/keys/%zz/encrypt", &dp(), b"{}"))
                .contains("malformed percent escape")
        );
        assert!(message(route("POST", "/keys/%ff/encrypt", &dp(), b"{}")).contains("not UTF-8"));
        assert!(message(route("POST", "/keys/a/b/encrypt", &dp(), b"{}")).contains("no operation"));
        assert!(
            message(route("POST", "/mac/generate", &dp(), b"{\"a\":"))
                .contains("not JSON: unexpected end")
        );
        assert!(
            message(route("POST", "/mac/generate", &dp(), b"[1]"))
                .contains("must be a JSON object")
        );
        let wrong = headers(&[("content-type", "text/plain")]);
        assert!(
            message(route("POST", "/mac/generate", &wrong, b"{}"))
                .contains("expected application/json, got 'text/plain'")
        );
        assert!(
            message(route("POST", "/mac/generate", &HeaderMap::new(), b"{}")).contains("got none")
        );
        let mut cp_as_json = cp("GetKey");
        cp_as_json.insert("content-type", HeaderValue::from_static("application/json"));
        assert!(
            message(route("POST", "/", &cp_as_json, b"{}"))
                .contains("expected application/x-amz-json-1.0")
        );
    }

    #[test]
    fn a_label_overrides_the_same_member_in_the_body() {
        let call = route(
            "POST",
            "/keys/alias%2Fpath/decrypt",
            &dp(),
            br#"{"KeyIdentifier":"alias/body"}"#,
        )
        .unwrap();
        assert_eq!(call.input["KeyIdentifier"], "alias/path");
    }
}
