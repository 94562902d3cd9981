//! TR-34 key tokens: export on the KDH, import on the KRD.
//!
//! A token is a CMS `SignedData` (signed by the KDH) around an `EnvelopedData` (for the KRD):
//! the transported key, with the KDH's identity and a TR-31-style header, is encrypted under
//! an ephemeral TDES or AES-128 key, which travels under the KRD's RSA key with RSAES-OAEP.
//! The signed attributes carry the header and, in the two-pass protocol, the KRD's random
//! nonce; in the one-pass protocol, a signing time. [`Form`] describes the two encodings of
//! this structure (no certificates, CRLs or unsigned attributes are written):
//!
//! ```text
//! ContentInfo { id-signedData, [0] SignedData {
//!     version (1 | 3), digestAlgorithms { sha256 },
//!     encapContentInfo { id-envelopedData, [0] OCTET STRING <envelope> },
//!     signerInfos { SignerInfo {
//!         version 1, sid IssuerAndSerialNumber (KDH), digestAlgorithm sha256,
//!         signedAttrs [0] { contentType, randomNonce | signingTime,
//!                           keyBlockHeader (type id-data, value OCTET STRING), messageDigest },
//!         signatureAlgorithm, signature } } } }
//!
//! <envelope> = EnvelopedData { version 0,   (2012: its fields without the SEQUENCE header)
//!     recipientInfos { KeyTransRecipientInfo {
//!         version 0, rid IssuerAndSerialNumber (KRD), RSAES-OAEP, encryptedKey } },
//!     encryptedContentInfo }
//!
//! encryptedContentInfo (2012) = { id-data, { des-ede3-cbc | aes128-CBC, IV, [0] ciphertext } }
//! encryptedContentInfo (2019) = { id-data, { des-ede3-cbc | aes128-CBC, IV }, [0] ciphertext }
//!
//! ciphertext = CBC(ephemeral key, PKCS #7 padded KeyBlock)
//! KeyBlock ::= SEQUENCE { version 1, kdh IssuerAndSerialNumber, key OCTET STRING,
//!                         header SEQUENCE { id-data, SET { OCTET STRING } } }
//! ```
//!
//! [`import`] checks, in this order, before any private-key operation: the token's structure,
//! the KDH certificate's chain to the configured CA, the KDH signature over the exact received
//! signed attributes, the message digest of the envelope, the nonce or signing time, the
//! recipient, the OAEP parameters, and the key-size policy. Only then does it call the KRD's
//! [`RsaPrivateKey`](crate::rsa::RsaPrivateKey); every failure after that call is
//! [`Error::DecryptionFailed`].
//!
//! Key-size policy (as AWS Payment Cryptography applies it): a TDES key travels under a
//! three-key TDES ephemeral key (or AES-128 on import) and any KRD key; an AES key must be
//! AES-128, travels under an AES-128 ephemeral key and needs an RSA-3072 or RSA-4096 KRD key.

mod asn1;
mod attributes;
mod export;
mod form;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod import;
pub mod key_block;
#[cfg(all(test, feature = "aws-lc"))]
mod tests;

pub use export::export;
pub use form::Form;
pub use import::import;

use payhsm_core::{
    kcv::{self, KeyCheckValue},
    key::{Algorithm, KeyAlgorithm, KeyAttributes},
    secret::KeyMaterial,
};

use crate::{
    DateTime, Error, KeyBlockHeader,
    cert::{Certificate, IssuerAndSerialNumber},
    rsa::RsaKeySize,
};
use key_block::ContentCipher;

/// The largest token accepted (far above an RSA-4096 token with its certificates).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The accepted lengths of a two-pass random nonce, in bytes (AWS Payment Cryptography:
/// 16 to 32 hex characters).
pub const NONCE_LEN: core::ops::RangeInclusive<usize> = 8..=16;

/// How an exported token shows it is fresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportMode<'a> {
    /// Two-pass: the KRD's random nonce (8 to 16 bytes).
    TwoPass {
        /// The nonce the KRD sent.
        nonce: &'a [u8],
    },
    /// One-pass: a signing time. Only in the `X9_TR34_2019` form.
    OnePass {
        /// The time written in the `signingTime` attribute.
        signing_time: DateTime,
    },
}

/// What freshness an importer requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode<'a> {
    /// Two-pass: the token must carry exactly this nonce, which the KRD generated for this
    /// exchange. A replayed token carries an older nonce and is refused.
    TwoPass {
        /// The nonce the KRD sent (8 to 16 bytes).
        nonce: &'a [u8],
    },
    /// One-pass: the token must carry a signing time later than `after` (the signing time of
    /// the last token accepted from this KDH), which keeps a replayed token out.
    OnePass {
        /// The last accepted signing time.
        after: DateTime,
    },
}

/// A configured trust anchor, with intermediates, and the time to validate at.
#[derive(Clone, Copy, Debug)]
pub struct Trust<'a> {
    /// The CA the certificate must chain to.
    pub ca: &'a Certificate,
    /// Intermediate CA certificates that may sit between them.
    pub intermediates: &'a [Certificate],
    /// The verification time (fixed for tests and vectors, [`now`](crate::now) otherwise).
    pub time: DateTime,
}

/// What the KDH sends.
#[derive(Clone, Debug)]
pub struct ExportRequest<'a> {
    /// The token's encoding.
    pub form: Form,
    /// The KDH's certificate (its issuer and serial number identify the signer).
    pub kdh_certificate: &'a Certificate,
    /// The KRD's certificate: the recipient.
    pub krd_certificate: &'a Certificate,
    /// If set, the KRD certificate must chain to this CA (with `keyEncipherment`).
    pub krd_trust: Option<Trust<'a>>,
    /// Two-pass nonce or one-pass signing time.
    pub mode: ExportMode<'a>,
    /// The key block header that binds the key's attributes.
    pub header: KeyBlockHeader,
}

/// What the KRD trusts and expects.
#[derive(Clone, Copy, Debug)]
pub struct ImportRequest<'a> {
    /// The token's encoding.
    pub form: Form,
    /// The KDH's certificate, which must have signed the token.
    pub kdh_certificate: &'a Certificate,
    /// The CA the KDH certificate must chain to, and when.
    pub kdh_trust: Trust<'a>,
    /// The KRD's own certificate: if set, the token must be addressed to it and the private
    /// key must belong to it.
    pub krd_certificate: Option<&'a Certificate>,
    /// Two-pass nonce or one-pass replay bound.
    pub mode: ImportMode<'a>,
    /// Accept RSAES-OAEP with SHA-1 (off by default; SHA-256 is what TR-34 and AWS use).
    pub allow_oaep_sha1: bool,
}

impl<'a> ImportRequest<'a> {
    /// A two-pass import in the default form, trusting `ca` at `time`.
    pub fn two_pass(
        kdh_certificate: &'a Certificate,
        ca: &'a Certificate,
        time: DateTime,
        nonce: &'a [u8],
    ) -> Self {
        Self {
            form: Form::default(),
            kdh_certificate,
            kdh_trust: Trust {
                ca,
                intermediates: &[],
                time,
            },
            krd_certificate: None,
            mode: ImportMode::TwoPass { nonce },
            allow_oaep_sha1: false,
        }
    }
}

/// A key received in a TR-34 token, with its header.
#[derive(Debug)]
pub struct ImportedKey {
    header: KeyBlockHeader,
    key: KeyMaterial,
    key_algorithm: KeyAlgorithm,
    kdh: IssuerAndSerialNumber,
    signing_time: Option<DateTime>,
}

impl ImportedKey {
    /// The key block header, as signed by the KDH.
    pub fn header(&self) -> &KeyBlockHeader {
        &self.header
    }

    /// The key.
    pub fn key(&self) -> &KeyMaterial {
        &self.key
    }

    /// Takes the key out.
    pub fn into_key(self) -> KeyMaterial {
        self.key
    }

    /// The key's algorithm and size.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    /// The key's attributes, from the header.
    pub fn key_attributes(&self) -> Result<KeyAttributes, Error> {
        self.header.key_attributes(self.key.len())
    }

    /// The KDH that signed the token.
    pub fn kdh(&self) -> &IssuerAndSerialNumber {
        &self.kdh
    }

    /// The one-pass signing time, to keep as the next import's replay bound.
    pub fn signing_time(&self) -> Option<DateTime> {
        self.signing_time
    }

    /// The key check value AWS Payment Cryptography reports (3 bytes; ANSI X9.24 for TDES,
    /// CMAC for AES).
    pub fn key_check_value(&self) -> Result<KeyCheckValue, Error> {
        let key = payhsm_core::crypto::SoftwareKey::new(self.key_algorithm, &self.key)?;
        Ok(kcv::default_kcv(&key)?)
    }
}

/// Checks the key-size policy: which keys a KRD key may carry and under which ephemeral
/// cipher. `key_len` is known on export only.
fn check_policy(
    header: &KeyBlockHeader,
    krd: RsaKeySize,
    cipher: ContentCipher,
    key_len: Option<usize>,
) -> Result<(), Error> {
    const FIELD: &str = "key block header";
    match header.algorithm() {
        Algorithm::TDES => {
            if key_len.is_some_and(|n| n != 16 && n != 24) {
                return Err(Error::unsupported("key", "a TDES key has 16 or 24 bytes"));
            }
            Ok(())
        }
        Algorithm::AES => {
            if krd < RsaKeySize::Rsa3072 {
                return Err(Error::unsupported(
                    FIELD,
                    "an AES key needs an RSA-3072 or RSA-4096 KRD key",
                ));
            }
            if cipher != ContentCipher::Aes128Cbc {
                return Err(Error::unsupported(
                    FIELD,
                    "an AES key travels under an AES-128 ephemeral key",
                ));
            }
            if key_len.is_some_and(|n| n != 16) {
                return Err(Error::unsupported(
                    "key",
                    "TR-34 carries AES keys up to AES-128 (AES-192/256 need ECDH)",
                ));
            }
            Ok(())
        }
        _ => Err(Error::unsupported(
            FIELD,
            "TR-34 transports TDES (T) and AES (A) keys",
        )),
    }
}
