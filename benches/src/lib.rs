//! Criterion benchmarks for payhsm live in `benches/`; `ratios.py` prints each result as a
//! ratio to the baseline measured in the same run (one AES-128 block through a key handle).
//!
//! ```sh
//! cargo bench -p payhsm-benches && python3 benches/ratios.py
//! ```
