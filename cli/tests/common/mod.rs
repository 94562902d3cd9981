//! Runs the `payhsm` binary and reads what it prints.

use std::process::{Command, Output};

/// What one run of `payhsm` did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The JSON object printed on stdout.
    #[allow(dead_code)] // Not every test binary reads JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Asserts a failure reported on one stderr line, no panic, and returns that line.
    pub(crate) fn one_line_error(&self) -> &str {
        assert_ne!(self.code, 0, "expected failure, stdout: {}", self.stdout);
        assert!(self.stdout.is_empty(), "stdout on error: {}", self.stdout);
        assert_eq!(self.stderr.lines().count(), 1, "stderr: {}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self.stderr.trim_end()
    }
}

/// Runs `payhsm` with `args`.
pub(crate) fn payhsm(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_payhsm"))
        .args(args)
        .output()
        .expect("run payhsm");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}
