//! AWS Payment Cryptography's HTTP API over payhsm's regions, so that boto3, the AWS CLI and
//! the AWS SDKs work against payhsm with only an endpoint override.
//!
//! - [`operations`]: every operation of the service's two models, with its plane, method
//!   and path; [`route`] turns a request into an operation and its JSON.
//! - [`auth`]: SigV4 checked against the store's access keys ([`credentials`]); the region
//!   comes from the credential scope, so one server holds every region of the store.
//! - [`wire`]: responses and each plane's error shapes.
//! - [`server`]: the HTTP server (tokio and hyper): bounded bodies, timeouts, keep-alive, a
//!   limit on connections and on HSM calls in flight, graceful shutdown, access logs.
//! - [`remote`]: a region another payhsm server holds, as an [`api::Service`] that speaks
//!   this API with SigV4, so that replication reaches regions in other processes.
//!
//! [`api::Service`]: payhsm_keystore::api::Service

pub mod auth;
pub mod credentials;
pub mod operations;
pub mod remote;
pub mod route;
pub mod server;
pub mod wire;

pub use auth::{AccessKeys, Auth};
pub use server::{Config, Limits, serve, serve_until_signal};
