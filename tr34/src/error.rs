use core::fmt;

/// Every error of `payhsm-tr34`.
///
/// Errors before the KRD's private-key operation say which field or check failed: they concern
/// data the KDH signed or the KRD configured, and the signature has been (or is about to be)
/// checked. Every failure after the private-key operation is the one opaque
/// [`Error::DecryptionFailed`], so that a token reveals nothing about its decryption (DESIGN 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input is not the DER (or PEM) structure expected at `field`.
    Malformed {
        /// The structure or field being read.
        field: &'static str,
        /// The byte offset of the problem within that structure, when the decoder knows it.
        position: Option<usize>,
        /// What was wrong.
        reason: &'static str,
    },
    /// A well-formed value payhsm does not accept (an algorithm, version, size or form).
    Unsupported {
        /// The field.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A certificate failed path validation.
    CertificateNotTrusted {
        /// Which certificate ("KDH certificate", "CA certificate", …).
        certificate: &'static str,
        /// Which check failed.
        reason: &'static str,
    },
    /// The KDH's signature over the token (or a message digest it covers) does not verify.
    SignatureInvalid,
    /// The two-pass nonce is missing or differs from the KRD's, or the one-pass signing time
    /// is missing or not later than the last accepted one.
    Freshness {
        /// Which check failed.
        reason: &'static str,
    },
    /// The token is addressed to a different KRD certificate or key.
    WrongRecipient,
    /// An RSA key is not acceptable: size, exponent, or a private key that does not belong to
    /// its certificate.
    KeyRejected {
        /// Why.
        reason: &'static str,
    },
    /// The token did not decrypt to a valid key block. Deliberately carries no detail: it
    /// covers every failure after the KRD's private-key operation.
    DecryptionFailed,
    /// The RSA private-key backend failed for a reason unrelated to the token's content.
    Backend {
        /// The operation that failed.
        operation: &'static str,
    },
    /// The RSA private-key backend (a token) has no mechanism for the operation, for every
    /// input alike (for example OAEP with SHA-256 on a token that offers SHA-1 only). It says
    /// nothing about the data, so it is reported as is rather than as
    /// [`Error::DecryptionFailed`].
    NotSupported {
        /// The operation the backend cannot perform.
        operation: &'static str,
    },
    /// A value was refused by `payhsm-core` (a hex string, a key length, the random source).
    Core(payhsm_core::Error),
}

impl Error {
    /// An adapter for `map_err` that turns a DER decoding error at `field` into
    /// [`Error::Malformed`] with the decoder's byte position.
    pub(crate) fn der(field: &'static str) -> impl FnOnce(der::Error) -> Self {
        move |e| Self::Malformed {
            field,
            position: e
                .position()
                .and_then(|p| usize::try_from(u32::from(p)).ok()),
            reason: der_reason(e.kind()),
        }
    }

    /// Shorthand for [`Error::Unsupported`].
    pub(crate) const fn unsupported(field: &'static str, reason: &'static str) -> Self {
        Self::Unsupported { field, reason }
    }

    /// Shorthand for [`Error::Malformed`] without a position.
    pub(crate) const fn malformed(field: &'static str, reason: &'static str) -> Self {
        Self::Malformed {
            field,
            position: None,
            reason,
        }
    }
}

/// A short, static description of a DER error kind.
fn der_reason(kind: der::ErrorKind) -> &'static str {
    use der::ErrorKind as K;
    match kind {
        K::Incomplete { .. } => "truncated",
        K::TrailingData { .. } => "trailing data after the structure",
        K::Length { .. } | K::Overlength | K::Overflow => "bad length",
        K::Noncanonical { .. } => "not DER (non-canonical encoding)",
        K::IndefiniteLength => "indefinite length (BER, not DER)",
        K::TagUnexpected { .. } | K::TagUnknown { .. } => "unexpected tag",
        K::TagNumberInvalid | K::TagModeUnknown => "bad tag",
        K::Value { .. } => "bad value",
        K::OidMalformed | K::OidUnknown { .. } => "bad object identifier",
        K::SetOrdering => "SET OF not in DER order",
        K::DateTime => "bad time",
        K::Utf8(_) => "bad UTF-8 string",
        K::Pem(_) => "bad PEM",
        _ => "invalid DER",
    }
}

impl From<payhsm_core::Error> for Error {
    fn from(e: payhsm_core::Error) -> Self {
        Self::Core(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed {
                field,
                position: Some(p),
                reason,
            } => write!(f, "{field}: {reason} at byte {p}"),
            Self::Malformed {
                field,
                position: None,
                reason,
            } => write!(f, "{field}: {reason}"),
            Self::Unsupported { field, reason } => write!(f, "{field}: {reason}"),
            Self::CertificateNotTrusted {
                certificate,
                reason,
            } => write!(f, "{certificate} is not trusted: {reason}"),
            Self::SignatureInvalid => f.write_str("the KDH signature does not verify"),
            Self::Freshness { reason } => write!(f, "the token is not fresh: {reason}"),
            Self::WrongRecipient => f.write_str("the token is addressed to another KRD"),
            Self::KeyRejected { reason } => write!(f, "RSA key rejected: {reason}"),
            Self::DecryptionFailed => f.write_str("the token did not decrypt to a valid key block"),
            Self::NotSupported { operation } => {
                write!(f, "not supported by this token: {operation}")
            }
            Self::Backend { operation } => write!(f, "the RSA backend failed: {operation}"),
            Self::Core(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {}
