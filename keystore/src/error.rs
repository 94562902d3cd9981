//! The HSM's errors, shaped like AWS Payment Cryptography's.
//!
//! Each variant maps to one of the service's error names ([`Error::name`]) and carries the
//! members that error has on the wire ([`Error::to_json`]). Variants are finer than the wire
//! names where it helps the caller: a policy refusal ([`Error::Policy`]) and a malformed value
//! ([`Error::Validation`]) are both a `ValidationException` on the wire, but a test or a
//! library caller can tell them apart.

use std::fmt;

use payhsm_core::BackendFailure;
use serde_json::{Value, json};

/// One entry of a `ValidationException`'s `fieldList`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationField {
    /// The path of the field in the request (`KeyAttributes.KeyUsage`).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// The reason of a `VerificationFailedException`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerificationFailedReason {
    /// A MAC did not verify.
    InvalidMac,
    /// A PIN did not verify.
    InvalidPin,
    /// Card validation data did not verify.
    InvalidValidationData,
    /// An authorization request cryptogram did not verify.
    InvalidAuthRequestCryptogram,
}

impl VerificationFailedReason {
    /// The service's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidMac => "INVALID_MAC",
            Self::InvalidPin => "INVALID_PIN",
            Self::InvalidValidationData => "INVALID_VALIDATION_DATA",
            Self::InvalidAuthRequestCryptogram => "INVALID_AUTH_REQUEST_CRYPTOGRAM",
        }
    }
}

/// The policy rule behind an [`Error::Policy`] refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The key's usage does not allow the operation.
    KeyUsage,
    /// The key's modes of use do not allow the operation.
    ModeOfUse,
    /// The key's algorithm cannot do the operation.
    KeyAlgorithm,
    /// The key's class cannot do the operation.
    KeyClass,
    /// The key is not exportable.
    Exportability,
    /// An export would widen the key's attributes.
    ExportWidening,
    /// The wrapping key is weaker than the key it would protect.
    WrappingStrength,
    /// The key is disabled (StopKeyUsage).
    KeyDisabled,
    /// The key is being deleted or is deleted.
    KeyState,
    /// A PCI PIN rule (format translation, PAN change, decimalisation table).
    PinRule,
    /// The key attributes are not a combination the service allows.
    KeyAttributes,
    /// A TDES key that reduces to single DES, or a DES weak key.
    WeakKey,
    /// The key is a read-only replica; its primary region holds all management authority.
    ReplicaReadOnly,
}

impl Rule {
    /// A short name for audit records and tests.
    pub const fn name(self) -> &'static str {
        match self {
            Self::KeyUsage => "KeyUsage",
            Self::ModeOfUse => "ModeOfUse",
            Self::KeyAlgorithm => "KeyAlgorithm",
            Self::KeyClass => "KeyClass",
            Self::Exportability => "Exportability",
            Self::ExportWidening => "ExportWidening",
            Self::WrappingStrength => "WrappingStrength",
            Self::KeyDisabled => "KeyDisabled",
            Self::KeyState => "KeyState",
            Self::PinRule => "PinRule",
            Self::KeyAttributes => "KeyAttributes",
            Self::WeakKey => "WeakKey",
            Self::ReplicaReadOnly => "ReplicaReadOnly",
        }
    }
}

/// Every error of the HSM.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A request value is malformed or out of range (`ValidationException`).
    Validation {
        /// What is wrong, in one sentence.
        message: String,
        /// The fields at fault.
        field_list: Vec<ValidationField>,
    },
    /// A policy rule refused the request before any cryptography ran (`ValidationException`).
    Policy {
        /// The rule.
        rule: Rule,
        /// What the rule says about this request.
        message: String,
    },
    /// No key or alias has this identifier (`ResourceNotFoundException`).
    ResourceNotFound {
        /// The identifier as given.
        resource_id: String,
    },
    /// The request conflicts with the resource's state (`ConflictException`).
    Conflict {
        /// What conflicts.
        message: String,
    },
    /// The caller may not do this (`AccessDeniedException`).
    AccessDenied {
        /// Why.
        message: String,
    },
    /// A MAC, PIN, validation value or cryptogram did not verify
    /// (`VerificationFailedException`). Deliberately carries nothing but the reason.
    VerificationFailed {
        /// The service's reason.
        reason: VerificationFailedReason,
    },
    /// The HSM failed a self-test and refuses every operation (`ServiceUnavailableException`).
    ErrorState {
        /// The self-test that failed.
        test: String,
    },
    /// The store failed or holds a record that does not authenticate
    /// (`InternalServerException`).
    Internal {
        /// What failed.
        message: String,
    },
    /// The token holding the keys failed: removed, logged out, closed the session, or reported
    /// a device error (`ServiceUnavailableException`). Nothing was stored.
    Token {
        /// How it failed.
        failure: BackendFailure,
        /// What was being done, and the token's return value.
        message: String,
    },
    /// The store's disk failed a write and the store refuses writes until payhsm restarts
    /// (fail-stop; `ServiceUnavailableException`). Reads still work.
    ReadOnly {
        /// The failure, and what to do.
        message: String,
    },
    /// A resource-based policy would grant access to everyone (`PublicPolicyException`).
    PublicPolicy {
        /// Which statement does.
        message: String,
    },
    /// The store's device has no mechanism for this operation on its keys, and the key never
    /// leaves the device to do it elsewhere (`ValidationException`).
    NotSupported {
        /// What is not supported, and why.
        message: String,
    },
}

impl Error {
    /// A `ValidationException` about one field.
    pub fn validation(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation {
            message: format!("{path}: {message}"),
            field_list: vec![ValidationField {
                path: path.to_owned(),
                message,
            }],
        }
    }

    /// A name the field does not accept: `unknown key usage X; expected one of A, B, …`,
    /// listing `names`, which the caller takes from the table its parser reads.
    pub fn unknown_name<'a>(
        path: &str,
        what: &str,
        value: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        Self::validation(
            path,
            format!(
                "unknown {what} {value}; expected one of {}",
                names.join(", ")
            ),
        )
    }

    /// A policy refusal.
    pub fn policy(rule: Rule, message: impl Into<String>) -> Self {
        Self::Policy {
            rule,
            message: message.into(),
        }
    }

    /// A conflict with the resource's state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    /// A store failure.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal {
            message: message.into(),
        }
    }

    /// No such key or alias.
    pub fn not_found(resource_id: &str) -> Self {
        Self::ResourceNotFound {
            resource_id: resource_id.to_owned(),
        }
    }

    /// The service's error name (`__type`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Validation { .. } | Self::Policy { .. } | Self::NotSupported { .. } => {
                "ValidationException"
            }
            Self::ResourceNotFound { .. } => "ResourceNotFoundException",
            Self::Conflict { .. } => "ConflictException",
            Self::AccessDenied { .. } => "AccessDeniedException",
            Self::VerificationFailed { .. } => "VerificationFailedException",
            Self::ErrorState { .. } | Self::Token { .. } | Self::ReadOnly { .. } => {
                "ServiceUnavailableException"
            }
            Self::Internal { .. } => "InternalServerException",
            Self::PublicPolicy { .. } => "PublicPolicyException",
        }
    }

    /// The message, as the service's `message` member.
    pub fn message(&self) -> String {
        match self {
            Self::Validation { message, .. } => message.clone(),
            Self::Policy { rule, message } => format!("{message} ({} rule)", rule.name()),
            Self::ResourceNotFound { resource_id } => {
                format!("resource {resource_id} not found")
            }
            Self::Conflict { message }
            | Self::AccessDenied { message }
            | Self::Internal { message }
            | Self::Token { message, .. }
            | Self::ReadOnly { message }
            | Self::PublicPolicy { message }
            | Self::NotSupported { message } => message.clone(),
            Self::VerificationFailed { reason } => {
                format!("verification failed: {}", reason.name())
            }
            Self::ErrorState { test } => format!(
                "the HSM is in its error state: the {test} self-test failed; every operation \
                 is refused until it restarts and passes"
            ),
        }
    }

    /// The error body the service sends: `__type`, `message` (and `Message`), and the
    /// members of the error's shape (`fieldList`, `ResourceId`, `Reason`).
    pub fn to_json(&self) -> Value {
        let message = self.message();
        let mut body = json!({ "__type": self.name(), "message": message, "Message": message });
        match self {
            Self::Validation { field_list, .. } if !field_list.is_empty() => {
                body["fieldList"] = field_list
                    .iter()
                    .map(|f| json!({ "path": f.path, "message": f.message }))
                    .collect();
            }
            Self::ResourceNotFound { resource_id } => body["ResourceId"] = json!(resource_id),
            Self::VerificationFailed { reason } => body["Reason"] = json!(reason.name()),
            _ => {}
        }
        body
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::internal(format!("key store: {e}"))
    }
}

/// Maps a core error on a named request field to the service's error. Verification failures
/// are mapped by the caller, which knows the reason.
pub(crate) fn core_error(path: &str, e: payhsm_core::Error) -> Error {
    use payhsm_core::Error as E;
    match e {
        E::NotPermitted(r) => Error::policy(Rule::PinRule, format!("{}: {}", r.name(), r.rule())),
        E::WeakKey { reason } => Error::policy(Rule::WeakKey, reason),
        E::UnsupportedOperation { operation, reason } => Error::policy(
            Rule::KeyAlgorithm,
            format!("{operation} is not supported: {reason}"),
        ),
        E::RandomSource => Error::internal("the random source failed"),
        E::KeyNotFound => Error::not_found(path),
        E::Backend(failure) => Error::Token {
            failure,
            message: failure.describe().to_owned(),
        },
        other => Error::validation(path, other.to_string()),
    }
}

/// Maps a TR-31 error to the service's error.
pub(crate) fn tr31_error(path: &str, e: payhsm_tr31::Error) -> Error {
    use payhsm_tr31::Error as E;
    match e {
        E::KeyUsageViolation { reason } => Error::policy(Rule::KeyUsage, reason),
        E::ExportNotPermitted { reason } => Error::policy(Rule::ExportWidening, reason),
        E::KbpkMismatch { .. } => Error::policy(Rule::KeyAlgorithm, e.to_string()),
        E::Crypto(c) => core_error(path, c),
        other => Error::validation(path, other.to_string()),
    }
}
