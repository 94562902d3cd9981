//! A region another payhsm server holds, as an [`api::Service`]: each call is a request of
//! the service's own API (the control plane's `X-Amz-Target` or the data plane's path, from
//! the operations table), signed with SigV4 for that region.
//!
//! [`api::Service`]: payhsm_keystore::api::Service

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest};
use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use payhsm_keystore::{Error, api::Service, arn::Region};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::{
    auth::sign_request,
    operations::{self, Plane},
    wire::error_from_wire,
};

/// What a path label escapes: everything but RFC 3986's unreserved characters, as the SDKs
/// do (`/` too, so an ARN's `key/…` stays one segment).
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The largest response read.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A region served by another payhsm over HTTP.
pub struct RemoteService {
    region: Region,
    endpoint: Uri,
    credentials: Credentials,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The client's own runtime: `call` is blocking, and is called from blocking threads.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for RemoteService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteService")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl RemoteService {
    /// `region` at `endpoint` (`http://host:port`), signing with `credentials`.
    pub fn new(region: Region, endpoint: &str, credentials: Credentials) -> Result<Self, Error> {
        let endpoint: Uri = endpoint
            .trim_end_matches('/')
            .parse()
            .ok()
            .filter(|u: &Uri| {
                u.scheme_str() == Some("http")
                    && u.authority().is_some()
                    && u.path_and_query()
                        .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty())
            })
            .ok_or_else(|| {
                Error::validation(
                    "Endpoint",
                    format!("{endpoint:.80} is not http://HOST:PORT"),
                )
            })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("payhsm-remote")
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the HTTP client: {e}")))?;
        Ok(Self {
            region,
            endpoint,
            credentials,
            timeout: Duration::from_secs(30),
            client: Client::builder(TokioExecutor::new()).build_http(),
            runtime: Some(runtime),
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    fn request(&self, operation: &str, input: Value) -> Result<Request<Full<Bytes>>, Error> {
        let op = operations::find(operation).ok_or_else(|| {
            Error::validation(
                "Operation",
                format!("{operation:.80} is not an operation of the service"),
            )
        })?;
        let Value::Object(mut body) = input else {
            return Err(Error::validation(
                "Body",
                "the request must be a JSON object",
            ));
        };
        let mut path = op.path.to_owned();
        for label in op.labels() {
            let value = match body.remove(label) {
                Some(Value::String(s)) if !s.is_empty() => s,
                _ => {
                    return Err(Error::validation(label, "a string is required"));
                }
            };
            let encoded = utf8_percent_encode(&value, LABEL).to_string();
            path = path.replace(&format!("{{{label}}}"), &encoded);
        }
        let body = serde_json::to_vec(&Value::Object(body))
            .map_err(|e| Error::internal(format!("cannot write the request: {e}")))?;
        let authority = self.endpoint.authority().map_or("", |a| a.as_str());
        let uri = format!("http://{authority}{path}");
        let mut headers = vec![
            ("host", authority),
            ("content-type", op.plane.content_type()),
        ];
        let target = format!("{}.{}", op.target_prefix, op.name);
        if op.plane == Plane::Control {
            headers.push(("x-amz-target", &target));
        }
        let signable = SignableRequest::new(
            op.method,
            uri.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| Error::internal(format!("cannot sign the request: {e}")))?;
        let (instructions, _) =
            sign_request(&self.credentials, &self.region, SystemTime::now(), signable)
                .map_err(|e| Error::internal(format!("cannot sign the request: {e}")))?;
        let mut builder = Request::builder().method(op.method).uri(&uri);
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::internal(format!("cannot build the request: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Value, Error> {
        let unreachable = |e: &dyn std::fmt::Display| {
            Error::internal(format!(
                "region {} at {} did not answer: {e}",
                self.region, self.endpoint
            ))
        };
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| unreachable(&e))?
            .to_bytes();
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Error::internal(format!(
                "region {} at {} answered HTTP {status} without JSON",
                self.region, self.endpoint
            ))
        })?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(error_from_wire(error_type.as_deref(), &body))
        }
    }
}

impl Service for RemoteService {
    fn region(&self) -> &Region {
        &self.region
    }

    fn call(&self, operation: &str, input: Value) -> Result<Value, Error> {
        let request = self.request(operation, input)?;
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| Error::internal("the HTTP client is closed"))?;
        runtime.block_on(async {
            tokio::time::timeout(self.timeout, self.send(request))
                .await
                .unwrap_or_else(|_| {
                    Err(Error::internal(format!(
                        "region {} at {} did not answer within {} seconds",
                        self.region,
                        self.endpoint,
                        self.timeout.as_secs()
                    )))
                })
        })
    }
}

impl Drop for RemoteService {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed inside another runtime's task.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
