//! T-CT (a), T-M-2: the deterministic constant-time gate.
//!
//! Every verification path (MAC, CVV, PVV, IBM 3624 offset, ARQC, TR-31 MAC, PIN block
//! decode) runs in `ct_gate` under `valgrind --tool=callgrind`, collecting only the
//! verification, on a presented value that matches and on one that differs at its first and
//! at its last byte. Callgrind's instruction counts repeat exactly for the same binary and
//! input, so the gate is exact:
//!
//! - the two mismatches execute the same number of instructions (where the difference is
//!   cannot matter);
//! - a match differs from a mismatch by at most [`OUTCOME_SLACK`] instructions: returning
//!   `Ok` instead of the error (the outcome is public; no work may depend on how much matched);
//! - nothing in the verification calls libc's `memcmp`/`bcmp` (what `==` on bytes becomes),
//!   whose timing libc does not promise. glibc's AVX2 `memcmp` happens to take the same path
//!   for any mismatch in up to 32 bytes, so the runs use its baseline version
//!   (`GLIBC_TUNABLES`), which stops at the first differing word as most do.
//!
//! The negative controls, an early-exit loop and `==`, must be flagged. Under `CI=true` a
//! missing valgrind fails the test; elsewhere it is skipped with a note.

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Stdio},
};

/// The instructions by which a match may differ from a mismatch: building the other outcome.
const OUTCOME_SLACK: u64 = 64;

/// glibc's string functions without the AVX/SSE4 variants.
const BASELINE_STRING_FUNCTIONS: &str =
    "glibc.cpu.hwcaps=-AVX2,-AVX512F,-AVX512BW,-AVX512VL,-MOVBE,-SSE4_1,-SSSE3,-EVEX";

const GATE: &str = env!("CARGO_BIN_EXE_ct_gate");

/// One run: the outcome the binary printed, the instructions collected, and each collected
/// function's own instructions.
struct Run {
    outcome: String,
    total: u64,
    functions: BTreeMap<String, u64>,
}

fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn callgrind(dir: &Path, case: &str, collect: &str, variant: &str) -> Run {
    let out = dir.join(format!("{case}.{variant}.callgrind"));
    let run = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--toggle-collect={collect}"))
        .arg(format!("--callgrind-out-file={}", out.display()))
        .args([GATE, case, variant])
        .env("GLIBC_TUNABLES", BASELINE_STRING_FUNCTIONS)
        .output()
        .expect("valgrind runs");
    assert!(
        run.status.success(),
        "{case} {variant}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (total, functions) = parse(&std::fs::read_to_string(&out).expect("callgrind output"));
    Run {
        outcome: String::from_utf8_lossy(&run.stdout).trim().to_owned(),
        total,
        functions,
    }
}

/// The `totals:` line and each function's own cost from a callgrind output file (one event,
/// `Ir`). Names are compressed: `fn=(7) name` defines id 7, `fn=(7)` refers to it; the cost
/// line after `calls=` is the callee's inclusive cost, not the caller's own.
fn parse(text: &str) -> (u64, BTreeMap<String, u64>) {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut name_of = |spec: &str| -> String {
        let spec = spec.trim();
        match spec.strip_prefix('(').and_then(|s| s.split_once(')')) {
            Some((id, "")) => names.get(id).cloned().unwrap_or_default(),
            Some((id, name)) => {
                names.insert(id.to_owned(), name.trim().to_owned());
                name.trim().to_owned()
            }
            None => spec.to_owned(),
        }
    };
    let (mut total, mut functions) = (0, BTreeMap::new());
    let (mut current, mut after_call) = (String::new(), false);
    for line in text.lines() {
        if let Some(spec) = line.strip_prefix("fn=") {
            current = name_of(spec);
        } else if let Some(spec) = line.strip_prefix("cfn=") {
            name_of(spec);
        } else if line.starts_with("calls=") {
            after_call = true;
        } else if let Some(t) = line.strip_prefix("totals:") {
            total = t.trim().parse().expect("a total");
        } else if line.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)) {
            if !after_call {
                let cost: u64 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                *functions.entry(current.clone()).or_insert(0) += cost;
            }
            after_call = false;
        }
    }
    (total, functions)
}

/// Runs one case three times and judges it: the counts, or why the gate flags it.
fn judge(dir: &Path, case: &str, collect: &str) -> Result<[u64; 3], String> {
    let [matching, first, last] =
        ["match", "first", "last"].map(|v| callgrind(dir, case, collect, v));
    let outcomes = [&matching, &first, &last].map(|r| r.outcome.as_str());
    assert_eq!(
        outcomes,
        ["verified", "refused", "refused"],
        "{case}: a match must verify and a mismatch must not"
    );
    let counts = [matching.total, first.total, last.total];
    if counts.contains(&0) {
        return Err(format!(
            "{case}: nothing collected in {collect} ({counts:?})"
        ));
    }
    if first.total != last.total {
        return Err(format!(
            "{case}: a mismatch at the first byte executes {} instructions, at the last {}",
            first.total, last.total
        ));
    }
    if matching.total.abs_diff(first.total) > OUTCOME_SLACK {
        return Err(format!(
            "{case}: a match executes {} instructions, a mismatch {}",
            matching.total, first.total
        ));
    }
    for run in [&matching, &first, &last] {
        if let Some((name, _)) = run
            .functions
            .iter()
            .find(|(name, cost)| **cost > 0 && (name.contains("memcmp") || name.contains("bcmp")))
        {
            return Err(format!("{case}: the verification calls {name}"));
        }
    }
    Ok(counts)
}

#[test]
fn t_ct_verification_paths_execute_equal_instruction_counts() {
    if !valgrind_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "valgrind is needed for the constant-time gate (.ci/apt-packages installs it)"
        );
        eprintln!("SKIPPED: valgrind is not installed");
        return;
    }
    let listed = Command::new(GATE)
        .arg("--cases")
        .output()
        .expect("ct_gate runs");
    let listed = String::from_utf8(listed.stdout).expect("text");
    let cases: Vec<(&str, &str)> = listed
        .lines()
        .map(|l| l.split_once(' ').expect("a case and a function"))
        .collect();
    assert!(cases.len() >= 9, "{cases:?}");
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Two at a time: the runs are independent and the machine has two cores.
    let verdicts: Vec<(&str, Result<[u64; 3], String>)> = std::thread::scope(|s| {
        let halves: Vec<_> = [0, 1]
            .map(|half| {
                let (cases, dir) = (&cases, dir.path());
                s.spawn(move || {
                    cases
                        .iter()
                        .skip(half)
                        .step_by(2)
                        .map(|&(case, collect)| (case, judge(dir, case, collect)))
                        .collect::<Vec<_>>()
                })
            })
            .into_iter()
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("a judging thread"))
            .collect()
    });
    let mut failures = Vec::new();
    for (case, verdict) in &verdicts {
        eprintln!("{case}: {verdict:?}");
        match (case.starts_with("control_"), verdict) {
            (false, Err(why)) => failures.push(why.clone()),
            (true, Ok(counts)) => failures.push(format!(
                "{case}: the negative control was not flagged ({counts:?}): the gate cannot see a \
                 variable-time comparison"
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
