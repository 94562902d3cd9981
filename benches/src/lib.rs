//! Criterion benchmarks for payhsm live in `benches/`; `ratios.py` prints each result as a
//! ratio to the baseline measured in the same run (one AES-128 block through a key handle).
//!
//! ```sh
//! cargo bench -p payhsm-benches && python3 benches/ratios.py
//! ```
//!
//! The binary `ct_gate` runs one verification path once; `tests/constant_time.rs` runs it
//! under callgrind and requires equal instruction counts wherever the presented value differs
//! (T-CT, see `docs/security.md`).
