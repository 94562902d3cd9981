//! How the CLI reports failure: one line on stderr and the exit code of [`Exit`].

use std::process::ExitCode;

/// The exit codes, one rule for every command (the README and `payhsm --help` repeat it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// A verification did not match (`VerificationFailedException`, a calculator's `verify`,
    /// a failed known-answer vector).
    Verification = 1,
    /// Bad usage or a value that fails validation (clap's errors, `ValidationException`).
    Usage = 2,
    /// Any other error of the HSM or of the command (`ResourceNotFoundException`, a missing
    /// store, an I/O failure).
    Other = 255,
}

/// The rule as `payhsm --help` prints it after the commands.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    verification failure (VerificationFailedException, a calculator's verify)
  2    bad usage or validation (an unknown command or option, a bad value, ValidationException)
  255  any other error (ResourceNotFoundException, ConflictException, no store, I/O)";

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}

/// A failed command.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The command could not do its work: what went wrong, and what to do.
    Failed {
        exit: Exit,
        message: String,
        hint: Option<&'static str>,
    },
    /// A verification that did not match, with the service's reason
    /// (`INVALID_MAC`, `INVALID_PIN`, `INVALID_VALIDATION_DATA`, …).
    Verification { reason: &'static str },
    /// An error of the HSM: the service's error name and message.
    Service { name: &'static str, message: String },
}

impl CliError {
    /// Bad usage or input (exit 2).
    pub(crate) fn usage(message: impl Into<String>, hint: Option<&'static str>) -> Self {
        Self::Failed {
            exit: Exit::Usage,
            message: message.into(),
            hint,
        }
    }

    /// Any other failure: the store, the terminal, a file, the network (exit 255).
    pub(crate) fn failed(message: impl Into<String>, hint: Option<&'static str>) -> Self {
        Self::Failed {
            exit: Exit::Other,
            message: message.into(),
            hint,
        }
    }

    /// Checks that did not pass (exit 1).
    pub(crate) fn mismatch(message: impl Into<String>, hint: Option<&'static str>) -> Self {
        Self::Failed {
            exit: Exit::Verification,
            message: message.into(),
            hint,
        }
    }

    /// An invalid command-line value: names the option.
    pub(crate) fn invalid(option: &str, error: impl std::fmt::Display) -> Self {
        Self::usage(
            format!("{option}: {error}"),
            Some("Check the value and run the command again."),
        )
    }

    /// The one line the CLI prints for this error.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Failed { message, hint, .. } => {
                let message = message.trim_end_matches('.');
                match hint {
                    Some(hint) => format!("error: {message}. {hint}"),
                    None => format!("error: {message}."),
                }
            }
            Self::Verification { reason } => format!("VerificationFailedException: {reason}"),
            Self::Service { name, message } => format!("{name}: {message}"),
        }
    }

    /// The exit code.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Self::Failed { exit, .. } => *exit,
            Self::Verification { .. } => Exit::Verification,
            Self::Service {
                name: "ValidationException",
                ..
            } => Exit::Usage,
            Self::Service { .. } => Exit::Other,
        }
    }

    /// Prints the error and returns the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        eprintln!("{}", self.describe());
        self.exit().into()
    }
}

impl From<payhsm_core::Error> for CliError {
    fn from(e: payhsm_core::Error) -> Self {
        Self::usage(
            e.to_string(),
            Some("Check the input and run the command again."),
        )
    }
}

/// Reports a command-line parsing error in one line, with clap's suggestion ("did you mean")
/// or the valid values; help and version print normally.
pub(crate) fn report_usage(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Help goes to stdout as usual; nothing else can fail here.
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return Exit::Usage.into();
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines();
    let mut first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_owned();
    if first.ends_with(':') {
        // "the following required arguments were not provided:" and the list below it.
        let list: Vec<&str> = lines.take_while(|l| !l.is_empty()).map(str::trim).collect();
        first = format!("{} {}", first, list.join(", "));
    }
    let quoted = |v: &[String]| {
        v.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // clap lists similar names from the least to the most alike: name the closest.
    let suggestion = [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .find_map(|kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.last().cloned(),
        _ => None,
    });
    let valid = match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(v)) if !v.is_empty() => Some(quoted(v)),
        _ => None,
    };
    let tip = match (suggestion, valid) {
        (Some(s), Some(v)) => format!("; did you mean '{s}'? Expected one of {v}."),
        (Some(s), None) => format!("; did you mean '{s}'?"),
        (None, Some(v)) => format!("; expected one of {v}."),
        (None, None) => ".".to_owned(),
    };
    eprintln!("error: {first}{tip} Run with --help for usage.");
    Exit::Usage.into()
}

impl From<payhsm_tr31::Error> for CliError {
    fn from(e: payhsm_tr31::Error) -> Self {
        use payhsm_tr31::Error as E;
        let hint = match e {
            E::AuthenticationFailed => "Check that the KBPK is the one the block was made under.",
            E::VersionNotAllowed(_) => {
                "Versions A and C are legacy; pass --allow-legacy if you must use them."
            }
            E::ShortPadding { .. } => {
                "The block was made without key length masking; pass --allow-short-padding to \
                 accept it."
            }
            E::KbpkMismatch { .. } => {
                "Use a TDES KBPK for versions A, B and C and an AES KBPK for version D."
            }
            _ => "Check the input and run the command again.",
        };
        Self::usage(e.to_string(), Some(hint))
    }
}

impl From<payhsm_keystore::Error> for CliError {
    fn from(e: payhsm_keystore::Error) -> Self {
        match e {
            payhsm_keystore::Error::VerificationFailed { reason } => Self::Verification {
                reason: reason.name(),
            },
            other => Self::Service {
                name: other.name(),
                message: other.message(),
            },
        }
    }
}
