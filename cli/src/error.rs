//! How the CLI reports failure: one line on stderr, a non-zero exit code.

use std::process::ExitCode;

/// A failed command.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad input or a failed operation: what went wrong, and what to do.
    Failed {
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
    pub(crate) fn new(message: impl Into<String>, hint: Option<&'static str>) -> Self {
        Self::Failed {
            message: message.into(),
            hint,
        }
    }

    /// An invalid command-line value: names the option.
    pub(crate) fn invalid(option: &str, error: impl std::fmt::Display) -> Self {
        Self::new(
            format!("{option}: {error}"),
            Some("Check the value and run the command again."),
        )
    }

    /// The one line the CLI prints for this error.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Failed { message, hint } => {
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

    /// Prints the error and returns the exit code: 1 for a verification mismatch, 255 for
    /// another error of the HSM (as the AWS CLI exits on a service error), 2 otherwise.
    pub(crate) fn report(&self) -> ExitCode {
        eprintln!("{}", self.describe());
        ExitCode::from(match self {
            Self::Failed { .. } => 2,
            Self::Verification { .. } => 1,
            Self::Service { .. } => 255,
        })
    }
}

impl From<payhsm_core::Error> for CliError {
    fn from(e: payhsm_core::Error) -> Self {
        Self::new(
            e.to_string(),
            Some("Check the input and run the command again."),
        )
    }
}

/// Reports a command-line parsing error in one line; help and version print normally.
pub(crate) fn report_usage(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Help goes to stdout as usual; nothing else can fail here.
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(2);
    }
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    eprintln!("error: {first}. Run with --help for usage.");
    ExitCode::from(2)
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
        Self::new(e.to_string(), Some(hint))
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
