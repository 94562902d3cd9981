use core::fmt;

/// Every error of `payhsm-core`.
///
/// Errors caused by bad data name the field and say what was expected. Verification failures
/// are one opaque variant ([`Error::VerificationFailed`]) so that they say nothing about which
/// check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A value has the wrong length.
    InvalidLength {
        /// The field.
        field: &'static str,
        /// What the field accepts, in words ("16 or 24 bytes").
        expected: &'static str,
        /// The length that was given.
        actual: usize,
    },
    /// A hex string has a character that is not a hex digit.
    InvalidHex {
        /// The field.
        field: &'static str,
        /// The character position (0-based) of the first bad character.
        position: usize,
    },
    /// A value is outside what the field accepts.
    InvalidValue {
        /// The field.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A TDES key that reduces to single DES or is a DES weak key.
    WeakKey {
        /// Why the key is weak.
        reason: &'static str,
    },
    /// The key cannot do this operation (wrong algorithm or backend capability).
    UnsupportedOperation {
        /// The operation.
        operation: &'static str,
        /// Why the key cannot do it.
        reason: &'static str,
    },
    /// A MAC, check value, PIN or cryptogram did not verify. Deliberately carries no detail.
    VerificationFailed,
    /// The random source failed.
    RandomSource,
    /// The key store has no key for this identifier.
    KeyNotFound,
    /// A security rule refused the request before any cryptography ran.
    NotPermitted(Refusal),
    /// The device that holds the key (a PKCS#11 token) failed during the operation.
    Backend(BackendFailure),
}

/// How a key's device failed, for [`Error::Backend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendFailure {
    /// The token is no longer present (removed, or its slot went away).
    TokenRemoved,
    /// The session's login was lost (logged out, or the token was reset).
    LoginLost,
    /// The session was closed or invalidated under the operation.
    SessionLost,
    /// The device reported an error (`CKR_DEVICE_ERROR`, `CKR_DEVICE_MEMORY`, …).
    DeviceError,
    /// The device refused or failed the call for another reason.
    Failed,
}

impl BackendFailure {
    /// What happened, in a few words.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::TokenRemoved => "the token was removed",
            Self::LoginLost => "the token session is no longer logged in",
            Self::SessionLost => "the token session was closed",
            Self::DeviceError => "the token reported a device error",
            Self::Failed => "the token failed the operation",
        }
    }
}

/// The security rule behind an [`Error::NotPermitted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// PCI PIN requirement 3-3: formats 0, 3 and 4 never go to format 1; format 2 never goes
    /// to another format; nothing goes to format 2 outside the ICC rules.
    FormatTranslationNotPermitted,
    /// PCI PIN requirement 3-3: a translation between formats 0, 3 and 4 keeps the PAN.
    PanChangeNotPermitted,
    /// The stored-tables policy is on and the decimalisation table is not one of them.
    DecimalizationTableNotAllowed,
}

impl Refusal {
    /// The rule's name, as error codes and audit records print it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::FormatTranslationNotPermitted => "FormatTranslationNotPermitted",
            Self::PanChangeNotPermitted => "PanChangeNotPermitted",
            Self::DecimalizationTableNotAllowed => "DecimalizationTableNotAllowed",
        }
    }

    /// What the rule says, in one sentence.
    pub const fn rule(self) -> &'static str {
        match self {
            Self::FormatTranslationNotPermitted => {
                "PCI PIN 3-3: ISO formats 0, 3 and 4 may not be translated to format 1, format 2 \
                 may not be translated at all, and format 2 is produced only for ICC PIN change"
            }
            Self::PanChangeNotPermitted => {
                "PCI PIN 3-3: a translation between ISO formats 0, 3 and 4 may not change the PAN"
            }
            Self::DecimalizationTableNotAllowed => {
                "the stored-tables policy accepts only registered decimalisation tables"
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLength {
                field,
                expected,
                actual,
            } => write!(f, "{field}: expected {expected}, got {actual}"),
            Self::InvalidHex { field, position } => {
                write!(f, "{field}: not a hex digit at position {position}")
            }
            Self::InvalidValue { field, reason } => write!(f, "{field}: {reason}"),
            Self::WeakKey { reason } => write!(f, "weak key: {reason}"),
            Self::UnsupportedOperation { operation, reason } => {
                write!(f, "{operation} is not supported: {reason}")
            }
            Self::VerificationFailed => f.write_str("verification failed"),
            Self::RandomSource => f.write_str("the random source failed"),
            Self::KeyNotFound => f.write_str("key not found"),
            Self::NotPermitted(r) => write!(f, "{}: {}", r.name(), r.rule()),
            Self::Backend(b) => f.write_str(b.describe()),
        }
    }
}

impl core::error::Error for Error {}
