//! `payhsm vectors`: the published known-answer vectors, for auditors.

use clap::{Args as ClapArgs, ValueEnum};
use payhsm_vectors::{FamilyReport, Outcome};

use crate::error::CliError;

#[derive(ClapArgs)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Run only this family (tr31, kcv, …).
    #[arg(long)]
    family: Option<String>,
    /// List every entry with its outcome and source, not only failures.
    #[arg(long)]
    verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

pub(crate) fn run(args: &Args) -> Result<(), CliError> {
    let mut reports = match &args.family {
        None => payhsm_vectors::run_all(),
        Some(name) => vec![
            payhsm_vectors::family(name)
                .ok_or_else(|| {
                    CliError::usage(
                        format!("there is no vector family called {name}"),
                        Some("Run payhsm vectors without --family to see them all."),
                    )
                })?
                .run(),
        ],
    };
    if !args.verbose {
        // Keep the entries that need attention.
        for r in &mut reports {
            r.entries
                .retain(|e| matches!(e.outcome, Outcome::Failed { .. }));
        }
    }
    match args.format {
        Format::Json => {
            let value = serde_json::json!({ "families": reports });
            crate::print_json(&value)?;
        }
        Format::Table => print_table(&reports, args.verbose),
    }
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    if failed > 0 {
        return Err(CliError::mismatch(
            format!("{failed} vector(s) failed"),
            Some(
                "The failures are listed above; each names the vector and the value that differed.",
            ),
        ));
    }
    Ok(())
}

fn print_table(reports: &[FamilyReport], verbose: bool) {
    println!(
        "{:<12} {:>7} {:>7} {:>7} {:>16}",
        "family", "vectors", "passed", "failed", "not implemented"
    );
    for r in reports {
        println!(
            "{:<12} {:>7} {:>7} {:>7} {:>16}",
            r.family, r.total, r.passed, r.failed, r.not_implemented
        );
    }
    let (total, passed, failed, pending) = reports.iter().fold((0, 0, 0, 0), |a, r| {
        (
            a.0 + r.total,
            a.1 + r.passed,
            a.2 + r.failed,
            a.3 + r.not_implemented,
        )
    });
    println!(
        "{:<12} {:>7} {:>7} {:>7} {:>16}",
        "all", total, passed, failed, pending
    );
    for r in reports {
        for e in &r.entries {
            let line = match &e.outcome {
                Outcome::Passed => "passed".to_owned(),
                Outcome::Failed { reason } => format!("FAILED: {reason}"),
                Outcome::NotImplemented { reason } => format!("not implemented: {reason}"),
            };
            if verbose {
                println!("{}/{}: {line}\n    source: {}", r.family, e.id, e.source);
            } else {
                println!("{}/{}: {line}", r.family, e.id);
            }
        }
    }
}
