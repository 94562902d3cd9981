//! Fuzz target bodies, kept apart from libFuzzer so that stable tests can run them too
//! (`tr31/tests/fuzz_body.rs`, `tr34/tests/fuzz_body.rs`, `server/tests/fuzz_body.rs` and
//! `keystore/tests/fuzz_body.rs` include them by path), and CI runs each target for a few seconds (`fuzz/run.sh`).

pub mod cli_shorthand;
pub mod cms;
pub mod dispatch_json;
pub mod ksn_parse;
pub mod pin_block_decode;
pub mod server_router;
pub mod tr31_unwrap;
pub mod tr34_import;
pub mod x509_cert;

/// The CLI's shorthand parser, compiled from the binary's source.
#[allow(dead_code)]
#[path = "../../cli/src/hsm/shorthand.rs"]
mod shorthand;
