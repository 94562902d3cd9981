//! The published known-answer vectors of payment cryptography, and the runner that checks
//! payhsm against them.
//!
//! The data files in `data/` are JSON arrays, one per family, each entry naming its source
//! (standard and section, or repository, path and commit) — see `data/SOURCES.md`. They are
//! compiled into this crate, so `payhsm vectors` runs from anywhere.
//!
//! A check reads the entry through a [`Case`], which records every field it consumes; an entry
//! passes only if its check succeeds *and* consumed every `inputs` and `expected` field, so a
//! value in the data can never go unchecked (the discipline of ring's `TestCase`).

mod case;
mod families;

pub use case::{Case, Failure};
pub use families::FAMILIES;

use serde::Serialize;

/// One family of vectors: a data file and the check that runs each entry.
pub struct Family {
    /// The family's name (the data file's stem).
    pub name: &'static str,
    /// The JSON text of the data file.
    pub data: &'static str,
    /// Checks one entry.
    pub check: fn(&Case) -> Result<(), Failure>,
}

/// The result of one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every value recomputed and matched, and every field was consumed.
    Passed,
    /// A value differed, an operation failed, or a field went unchecked.
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// payhsm does not implement this yet.
    NotImplemented {
        /// What is missing.
        reason: String,
    },
}

/// The result of one entry with its identity.
#[derive(Clone, Debug, Serialize)]
pub struct EntryReport {
    /// The entry's id.
    pub id: String,
    /// Where the entry comes from (the data file's `source` object).
    pub source: serde_json::Value,
    /// The outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The results of one family.
#[derive(Clone, Debug, Serialize)]
pub struct FamilyReport {
    /// The family's name.
    pub family: &'static str,
    /// Number of entries.
    pub total: usize,
    /// Entries that passed.
    pub passed: usize,
    /// Entries that failed.
    pub failed: usize,
    /// Entries payhsm does not implement yet.
    pub not_implemented: usize,
    /// Every entry's result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<EntryReport>,
}

impl Family {
    /// Runs every entry of the family.
    pub fn run(&self) -> FamilyReport {
        let entries: Vec<EntryReport> =
            match serde_json::from_str::<Vec<serde_json::Value>>(self.data) {
                Ok(list) => list.iter().map(|v| run_entry(self, v)).collect(),
                Err(e) => vec![EntryReport {
                    id: format!("{}.json", self.name),
                    source: serde_json::Value::Null,
                    outcome: Outcome::Failed {
                        reason: format!("the data file does not parse: {e}"),
                    },
                }],
            };
        let count = |f: fn(&Outcome) -> bool| entries.iter().filter(|e| f(&e.outcome)).count();
        FamilyReport {
            family: self.name,
            total: entries.len(),
            passed: count(|o| matches!(o, Outcome::Passed)),
            failed: count(|o| matches!(o, Outcome::Failed { .. })),
            not_implemented: count(|o| matches!(o, Outcome::NotImplemented { .. })),
            entries,
        }
    }
}

fn run_entry(family: &Family, value: &serde_json::Value) -> EntryReport {
    let id = value
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("(no id)")
        .to_owned();
    let source = value
        .get("source")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let outcome = match Case::new(value) {
        Err(reason) => Outcome::Failed { reason },
        Ok(case) => match (family.check)(&case) {
            Ok(()) => match case.unconsumed().as_slice() {
                [] => Outcome::Passed,
                fields => Outcome::Failed {
                    reason: format!("fields not checked: {}", fields.join(", ")),
                },
            },
            Err(Failure::NotImplemented(reason)) => Outcome::NotImplemented { reason },
            Err(failure) => Outcome::Failed {
                reason: failure.to_string(),
            },
        },
    };
    EntryReport {
        id,
        source,
        outcome,
    }
}

/// Runs every family.
pub fn run_all() -> Vec<FamilyReport> {
    FAMILIES.iter().map(Family::run).collect()
}

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}
