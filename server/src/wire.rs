//! What goes back on the wire: the response body and status, and each plane's error shapes.
//!
//! Error bodies carry the members of the error's shape in the plane's model: on the control
//! plane `__type` and `Message` (the awsJson1_0 convention: 400 for the caller's errors, 500
//! and 503 for the service's); on the data plane `message` and `fieldList` for a
//! `ValidationException`, `Message` (and `Reason`, `ResourceId`) for the others, with the
//! status codes the model gives them. `ResourceNotFoundException` has only `ResourceId` in
//! both models; it also carries `Message`, so that a person reading the error sees what was
//! not found.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use payhsm_keystore::Error;
use serde_json::{Map, Value, json};

use crate::operations::Plane;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The HSM's error, or a malformed request (a `ValidationException`).
    Service(Error),
    /// The request's signature did not check (`UnrecognizedClientException`,
    /// `InvalidSignatureException`, `AccessDeniedException`); nothing ran.
    Auth {
        /// The error's name.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Too many requests are waiting for the HSM (`ThrottlingException`); nothing ran.
    Throttled,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Service(e)
    }
}

impl Failure {
    /// A `ValidationException` about one part of the request.
    pub fn invalid(path: &str, message: impl Into<String>) -> Self {
        Self::Service(Error::validation(path, message))
    }

    /// The error's name (`__type`, `x-amzn-ErrorType`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Service(e) => e.name(),
            Self::Auth { name, .. } => name,
            Self::Throttled => "ThrottlingException",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Service(e) => e.message(),
            Self::Auth { message, .. } => message.clone(),
            Self::Throttled => {
                "too many requests are waiting for the HSM; retry with backoff".to_owned()
            }
        }
    }

    /// The HTTP status on `plane`.
    pub fn status(&self, plane: Plane) -> StatusCode {
        let name = self.name();
        let code = match (plane, name) {
            (_, "InternalServerException") => 500,
            (_, "ServiceUnavailableException") => 503,
            (Plane::Control, _) => 400,
            (Plane::Data, "AccessDeniedException") => 403,
            (Plane::Data, _) if matches!(self, Self::Auth { .. }) => 403,
            (Plane::Data, "ResourceNotFoundException") => 404,
            (Plane::Data, "ConflictException") => 409,
            (Plane::Data, "ThrottlingException") => 429,
            (Plane::Data, _) => 400,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// The error body on `plane`.
    pub fn body(&self, plane: Plane) -> Value {
        let name = self.name();
        let mut body = Map::new();
        body.insert("__type".into(), json!(name));
        let full = match self {
            Self::Service(e) => e.to_json(),
            _ => Value::Null,
        };
        if plane == Plane::Data && name == "ValidationException" {
            body.insert("message".into(), json!(self.message()));
            if let Some(fields) = full.get("fieldList") {
                body.insert("fieldList".into(), fields.clone());
            }
        } else {
            body.insert("Message".into(), json!(self.message()));
        }
        for member in ["ResourceId", "Reason"] {
            if let Some(v) = full.get(member) {
                body.insert(member.into(), v.clone());
            }
        }
        Value::Object(body)
    }
}

/// The service's error read back from a response (the remote client's side of
/// [`Failure::body`]).
pub fn error_from_wire(error_type: Option<&str>, body: &Value) -> Error {
    use payhsm_keystore::{ValidationField, VerificationFailedReason as R};
    let name = error_type
        .or_else(|| body.get("__type").and_then(Value::as_str))
        .map(|n| {
            let n = n.split(':').next().unwrap_or(n);
            n.rsplit('#').next().unwrap_or(n)
        })
        .unwrap_or("InternalServerException");
    let text = |m: &str| body.get(m).and_then(Value::as_str).map(str::to_owned);
    let message = text("message")
        .or_else(|| text("Message"))
        .unwrap_or_default();
    match name {
        "ValidationException" => Error::Validation {
            message,
            field_list: body
                .get("fieldList")
                .and_then(Value::as_array)
                .map(|fields| {
                    fields
                        .iter()
                        .map(|f| ValidationField {
                            path: f["path"].as_str().unwrap_or_default().to_owned(),
                            message: f["message"].as_str().unwrap_or_default().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        "ResourceNotFoundException" => Error::not_found(&text("ResourceId").unwrap_or(message)),
        "ConflictException" => Error::conflict(message),
        "VerificationFailedException" => {
            let reason = match text("Reason").as_deref() {
                Some("INVALID_PIN") => Some(R::InvalidPin),
                Some("INVALID_VALIDATION_DATA") => Some(R::InvalidValidationData),
                Some("INVALID_AUTH_REQUEST_CRYPTOGRAM") => Some(R::InvalidAuthRequestCryptogram),
                Some("INVALID_MAC") => Some(R::InvalidMac),
                _ => None,
            };
            match reason {
                Some(reason) => Error::VerificationFailed { reason },
                None => Error::internal(format!("VerificationFailedException: {message}")),
            }
        }
        "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException" => {
            Error::AccessDenied {
                message: format!("{name}: {message}"),
            }
        }
        other => Error::internal(format!("{other}: {message}")),
    }
}

/// A new request id: a random (version 4) UUID. The id only correlates logs: without
/// randomness it is the nil UUID's version-4 form rather than no answer.
pub fn request_id() -> String {
    payhsm_keystore::audit::random_uuid()
        .unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned())
}

/// The HTTP response for `outcome` on `plane`.
pub fn response(
    plane: Plane,
    request_id: &str,
    outcome: &Result<Value, Failure>,
) -> Response<Full<Bytes>> {
    let (status, body) = match outcome {
        Ok(v) => (StatusCode::OK, v.clone()),
        Err(f) => (f.status(plane), f.body(plane)),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(plane.content_type()),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Err(f) = outcome {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(f.name()));
    }
    response
}

#[cfg(test)]
mod tests {
    use payhsm_keystore::VerificationFailedReason;

    use super::*;

    #[test]
    fn validation_is_message_and_field_list_on_the_data_plane_and_message_on_the_control_plane() {
        let f = Failure::invalid("MessageData", "expected hex");
        let dp = f.body(Plane::Data);
        assert_eq!(dp["__type"], "ValidationException");
        assert_eq!(dp["message"], "MessageData: expected hex");
        assert_eq!(dp["fieldList"][0]["path"], "MessageData");
        assert!(dp.get("Message").is_none());
        let cp = f.body(Plane::Control);
        assert_eq!(cp["Message"], "MessageData: expected hex");
        assert!(cp.get("message").is_none() && cp.get("fieldList").is_none());
        assert_eq!(f.status(Plane::Data), 400);
        assert_eq!(f.status(Plane::Control), 400);
    }

    #[test]
    fn statuses_are_the_models() {
        let nf = Failure::Service(Error::not_found("alias/x"));
        assert_eq!(nf.status(Plane::Data), 404);
        assert_eq!(nf.status(Plane::Control), 400);
        assert_eq!(nf.body(Plane::Control)["ResourceId"], "alias/x");
        assert_eq!(Failure::Throttled.status(Plane::Data), 429);
        let auth = Failure::Auth {
            name: "InvalidSignatureException",
            message: "no".into(),
        };
        assert_eq!(auth.status(Plane::Data), 403);
        assert_eq!(auth.status(Plane::Control), 400);
        let internal = Failure::Service(Error::internal("disk"));
        assert_eq!(internal.status(Plane::Control), 500);
        let v = Failure::Service(Error::VerificationFailed {
            reason: VerificationFailedReason::InvalidMac,
        });
        assert_eq!(v.status(Plane::Data), 400);
        assert_eq!(v.body(Plane::Data)["Reason"], "INVALID_MAC");
    }

    #[test]
    fn errors_read_back_as_they_were_sent() {
        let errors = [
            Error::validation("KeyIdentifier", "empty"),
            Error::not_found("arn:aws:payment-cryptography:us-east-1:111122223333:key/abc"),
            Error::conflict("key is being deleted"),
            Error::VerificationFailed {
                reason: VerificationFailedReason::InvalidPin,
            },
        ];
        for e in errors {
            let f = Failure::Service(e.clone());
            let back = error_from_wire(Some(f.name()), &f.body(Plane::Data));
            assert_eq!(back, e);
        }
        let back = error_from_wire(
            None,
            &json!({"__type": "x#ConflictException", "Message": "m"}),
        );
        assert_eq!(back, Error::conflict("m"));
    }

    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, request_id());
    }
}
