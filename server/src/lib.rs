//! AWS Payment Cryptography's HTTP API over payhsm's regions.
pub mod auth;
pub mod operations;
pub mod route;
pub mod wire;
