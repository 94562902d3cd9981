use core::fmt;

use crate::Version;

/// Every error of `payhsm-tr31`.
///
/// The kinds are kept apart on purpose:
/// - [`Error::Malformed`] is bad key-block text. It names the field and the byte position and is
///   found before any cryptography runs (the header is public, so saying where it is wrong
///   reveals nothing).
/// - [`Error::AuthenticationFailed`] is every failure after decryption starts (MAC mismatch,
///   bad inner key length, wrong KBPK). It carries nothing, so it cannot act as an oracle.
/// - [`Error::VersionNotAllowed`], [`Error::KbpkMismatch`], [`Error::KeyUsageViolation`] and
///   [`Error::ExportNotPermitted`] are policy refusals.
/// - [`Error::InvalidArgument`] is API misuse by the caller, not bad data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The key block or header text is malformed.
    Malformed {
        /// The field, as X9.143 names it ("length field", "optional block id", …).
        field: &'static str,
        /// The byte position (0-based) in the key block text where the problem is.
        position: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// The key block did not authenticate: one error for every failure after decryption.
    AuthenticationFailed,
    /// The key block version is refused by the options (version A export, legacy import).
    VersionNotAllowed(Version),
    /// The block is padded for its key's length only, not masked to the longest key of its
    /// algorithm (X9.143): refused unless `UnwrapOptions::allow_short_padding` (T-KB-6).
    ShortPadding {
        /// The payload's length in bytes (length field, key and padding).
        payload: usize,
        /// The length key length masking gives this version and algorithm.
        masked: usize,
    },
    /// The KBPK's algorithm does not fit the key block version.
    KbpkMismatch {
        /// The key block version.
        version: Version,
        /// The KBPKs the version accepts, in words.
        expected: &'static str,
    },
    /// A key may not be used for this (policy).
    KeyUsageViolation {
        /// Why.
        reason: &'static str,
    },
    /// An export would widen the key's attributes or weaken its protection (policy).
    ExportNotPermitted {
        /// Why.
        reason: &'static str,
    },
    /// The caller passed an argument the function cannot accept.
    InvalidArgument {
        /// The argument.
        argument: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The key handle or the random source failed.
    Crypto(payhsm_core::Error),
}

impl Error {
    pub(crate) const fn malformed(
        field: &'static str,
        position: usize,
        problem: &'static str,
    ) -> Self {
        Self::Malformed {
            field,
            position,
            problem,
        }
    }

    pub(crate) const fn invalid(argument: &'static str, problem: &'static str) -> Self {
        Self::InvalidArgument { argument, problem }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed {
                field,
                position,
                problem,
            } => write!(f, "{field} at byte {position}: {problem}"),
            Self::AuthenticationFailed => f.write_str("key block authentication failed"),
            Self::VersionNotAllowed(v) => write!(f, "key block version {v} is not allowed"),
            Self::ShortPadding { payload, masked } => write!(
                f,
                "the key block's payload is {payload} bytes, not the {masked} that key length \
                 masking gives its algorithm: the block shows its key's length (short padding \
                 from another HSM is accepted only when allowed)"
            ),
            Self::KbpkMismatch { version, expected } => {
                write!(f, "version {version} key blocks need {expected} as KBPK")
            }
            Self::KeyUsageViolation { reason } => write!(f, "key usage violation: {reason}"),
            Self::ExportNotPermitted { reason } => write!(f, "export not permitted: {reason}"),
            Self::InvalidArgument { argument, problem } => write!(f, "{argument}: {problem}"),
            Self::Crypto(e) => write!(f, "crypto: {e}"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Crypto(e) => Some(e),
            _ => None,
        }
    }
}

impl From<payhsm_core::Error> for Error {
    fn from(e: payhsm_core::Error) -> Self {
        Self::Crypto(e)
    }
}
