//! Key agreement: `ImportKey` and `ExportKey` with `DiffieHellmanTr31KeyBlock`, a TR-31 block
//! under a key both parties derive by ECDH.
//!
//! The HSM's ECC key pair (K3, `DeriveKey`, made with a `DeriveKeyUsage`) and the other
//! party's ECC public key, in a certificate that chains to an imported CA, give the shared
//! secret Z (NIST SP 800-56A, the x-coordinate of the shared point). A key derivation
//! function turns Z and the request's `SharedInformation` into a key of the requested
//! algorithm, which is the KBPK of the TR-31 block:
//!
//! - `NIST_SP800`: the one-step KDF of NIST SP 800-56C rev. 2 §4.1 with a hash (the
//!   concatenation KDF): `H(counter ‖ Z ‖ FixedInfo)`, the 32-bit big-endian counter from 1,
//!   `FixedInfo` the shared information, the outputs concatenated and cut to the key length;
//! - `ANSI_X963`: the KDF of ANSI X9.63 (SEC 1 §3.6.1): `H(Z ‖ counter ‖ SharedInfo)`.
//!
//! This is what the service's public samples compute with pyca/cryptography
//! (`ConcatKDFHash` with the shared information as `otherinfo`). The derived key exists only
//! for the one operation; Z is zeroized with it.
//!
//! Import runs the checks every import shares ([`Hsm::import_key`]); export the checks every
//! TR-31 export runs (`policy::check_export_under`) with the derived key as the KBPK.

use payhsm_core::{
    crypto::SoftwareKey,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse},
    secret::SecretVec,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error,
    error::tr31_error,
    exchange::{
        Incoming, KeyBlockHeaders, check_tr31_import, export_header, open_tr31_under, tr31_version,
        wrap_tr31_under, wrapped_key,
        x509::{Purpose, SubjectKey},
    },
    hsm::Hsm,
    model::KeyRecord,
    policy::{self, DerivedKeyRule, derived, roles},
    store::{Store, software_key},
};

/// `ImportDiffieHellmanTr31KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportDiffieHellmanTr31KeyBlock {
    /// The HSM's ECC key pair (K3).
    pub private_key_identifier: String,
    /// The imported CA the other party's certificate chains to.
    pub certificate_authority_public_key_identifier: String,
    /// The other party's ECC certificate, base64 of the PEM text.
    pub public_key_certificate: String,
    /// The algorithm of the derived key (the KBPK).
    pub derive_key_algorithm: String,
    /// `NIST_SP800` or `ANSI_X963`.
    pub key_derivation_function: String,
    /// `SHA_256`, `SHA_384` or `SHA_512`.
    pub key_derivation_hash_algorithm: String,
    /// The shared information.
    pub derivation_data: DerivationData,
    /// The TR-31 block under the derived key.
    pub wrapped_key_block: String,
}

/// `ExportDiffieHellmanTr31KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportDiffieHellmanTr31KeyBlock {
    /// The HSM's ECC key pair (K3).
    pub private_key_identifier: String,
    /// The imported CA the other party's certificate chains to.
    pub certificate_authority_public_key_identifier: String,
    /// The other party's ECC certificate, base64 of the PEM text.
    pub public_key_certificate: String,
    /// The algorithm of the derived key (the KBPK).
    pub derive_key_algorithm: String,
    /// `NIST_SP800` or `ANSI_X963`.
    pub key_derivation_function: String,
    /// `SHA_256`, `SHA_384` or `SHA_512`.
    pub key_derivation_hash_algorithm: String,
    /// The shared information.
    pub derivation_data: DerivationData,
    /// Header fields that narrow the exported key.
    pub key_block_headers: Option<KeyBlockHeaders>,
}

/// `DiffieHellmanDerivationData`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum DerivationData {
    /// Hex, 1 to 1024 bytes: binds the derived key to the parties and the context.
    SharedInformation(String),
}

/// A key derivation function for ECDH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kdf {
    /// NIST SP 800-56C rev. 2, one-step, with a hash (`NIST_SP800`).
    NistSp800,
    /// ANSI X9.63 (`ANSI_X963`).
    AnsiX963,
}

/// The hash of a KDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl KdfHash {
    fn digest(self, parts: &[&[u8]]) -> SecretVec {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> SecretVec {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            SecretVec::from_slice(&d.finalize())
        }
        match self {
            Self::Sha256 => run::<sha2::Sha256>(parts),
            Self::Sha384 => run::<sha2::Sha384>(parts),
            Self::Sha512 => run::<sha2::Sha512>(parts),
        }
    }
}

/// `len` bytes of key from the shared secret `z` and `shared_info` with `kdf` and `hash`.
pub fn derive(kdf: Kdf, hash: KdfHash, z: &[u8], shared_info: &[u8], len: usize) -> SecretVec {
    let mut key = zeroize::Zeroizing::new(Vec::with_capacity(len + 64));
    let mut counter: u32 = 1;
    while key.len() < len {
        let c = counter.to_be_bytes();
        let block = match kdf {
            Kdf::NistSp800 => hash.digest(&[&c, z, shared_info]),
            Kdf::AnsiX963 => hash.digest(&[z, &c, shared_info]),
        };
        key.extend_from_slice(block.expose_secret());
        counter += 1;
    }
    SecretVec::from_slice(&key[..len])
}

/// What a request asks to derive: the parties, the KDF and the derived key's algorithm, each
/// read from the request's members under `base`.
pub(crate) struct Agreement<'a> {
    /// The request member everything else is under.
    pub(crate) base: &'a str,
    /// The HSM's key pair (member `PrivateKeyIdentifier`, or the operation's key).
    pub(crate) private_key: (&'a str, String),
    /// The CA (`CertificateAuthorityPublicKeyIdentifier`).
    pub(crate) ca: &'a str,
    /// The other party's certificate (`PublicKeyCertificate`).
    pub(crate) certificate: &'a str,
    /// The derived key's algorithm, by name.
    pub(crate) algorithm: &'a str,
    /// The algorithm's member name.
    pub(crate) algorithm_member: &'a str,
    /// `KeyDerivationFunction`.
    pub(crate) kdf: &'a str,
    /// `KeyDerivationHashAlgorithm`.
    pub(crate) hash: &'a str,
    /// `SharedInformation`, hex.
    pub(crate) shared_info: &'a str,
    /// The shared information's member name.
    pub(crate) shared_info_member: &'a str,
}

/// A key derived by ECDH, for one operation.
pub(crate) struct DerivedKey {
    /// Its attributes: the key pair's `DeriveKeyUsage`, the requested algorithm, and the
    /// modes of use of a key-encryption or data key (`Encrypt`, `Decrypt`, `Wrap`, `Unwrap`).
    pub(crate) attributes: KeyAttributes,
    /// The key.
    pub(crate) key: SoftwareKey,
    /// The HSM's key pair it was derived with.
    pub(crate) key_pair: KeyRecord,
}

impl<S: Store> Hsm<S> {
    /// Derives the key `agreement` describes, for `rule`. Before the private key is used: the
    /// request's KDF, hash and shared information, the CA's role and the other party's
    /// certificate against it, then the key pair's role, `DeriveKeyUsage` and the algorithm.
    pub(crate) fn agree(
        &self,
        agreement: &Agreement<'_>,
        rule: &DerivedKeyRule,
    ) -> Result<DerivedKey, Error> {
        let member = |m: &str| format!("{}.{m}", agreement.base);
        let algorithm = KeyAlgorithm::from_name(agreement.algorithm).map_err(|_| {
            Error::unknown_name(
                &member(agreement.algorithm_member),
                "key algorithm",
                agreement.algorithm,
                KeyAlgorithm::ALL.map(KeyAlgorithm::name),
            )
        })?;
        let kdf = match agreement.kdf {
            "NIST_SP800" => Kdf::NistSp800,
            "ANSI_X963" => Kdf::AnsiX963,
            _ => {
                return Err(Error::validation(
                    &member("KeyDerivationFunction"),
                    "expected NIST_SP800 or ANSI_X963",
                ));
            }
        };
        let hash = match agreement.hash {
            "SHA_256" => KdfHash::Sha256,
            "SHA_384" => KdfHash::Sha384,
            "SHA_512" => KdfHash::Sha512,
            _ => {
                return Err(Error::validation(
                    &member("KeyDerivationHashAlgorithm"),
                    "expected SHA_256, SHA_384 or SHA_512",
                ));
            }
        };
        let info_field = member(agreement.shared_info_member);
        let shared_info = payhsm_core::hex::decode("SharedInformation", agreement.shared_info)
            .ok()
            .filter(|b| (1..=1024).contains(&b.len()))
            .ok_or_else(|| Error::validation(&info_field, "expected 2 to 2048 hex digits"))?;
        let certificate_field = member("PublicKeyCertificate");
        let certificate = self.trusted_certificate(
            agreement.ca,
            &member("CertificateAuthorityPublicKeyIdentifier"),
            &roles::ECDH_CA,
            &certificate_field,
            agreement.certificate,
            Purpose::KeyAgreement,
        )?;
        let SubjectKey::Ec(peer) = certificate.key() else {
            return Err(Error::validation(
                &certificate_field,
                "ECDH needs a certificate of an ECC key",
            ));
        };
        let (identifier, field) = &agreement.private_key;
        let key_pair = self.load(identifier, field)?;
        policy::check_key(&roles::ECDH_KEY_PAIR, &key_pair)?;
        policy::check_derived(rule, key_pair.derive_key_usage, algorithm)?;
        let len = algorithm
            .key_len()
            .ok_or_else(|| Error::internal("a derived key is symmetric"))?;
        let z = self.store().ec_private_key(&key_pair)?.agree(peer)?;
        let material = derive(kdf, hash, z.expose_secret(), &shared_info, len);
        let usage = key_pair
            .derive_key_usage
            .ok_or_else(|| Error::internal("checked above: the key pair derives keys"))?;
        Ok(DerivedKey {
            attributes: KeyAttributes {
                key_usage: usage,
                key_class: KeyClass::SymmetricKey,
                key_algorithm: algorithm,
                key_modes_of_use: KeyModesOfUse {
                    encrypt: true,
                    decrypt: true,
                    wrap: true,
                    unwrap: true,
                    ..KeyModesOfUse::default()
                },
            },
            key: software_key(algorithm, material.expose_secret())?,
            key_pair,
        })
    }

    /// `ImportKey` with `DiffieHellmanTr31KeyBlock`: the TR-31 block under the derived KBPK.
    pub(crate) fn import_ecdh_tr31(
        &self,
        b: &ImportDiffieHellmanTr31KeyBlock,
    ) -> Result<Incoming, Error> {
        const BASE: &str = "KeyMaterial.DiffieHellmanTr31KeyBlock";
        let field = format!("{BASE}.WrappedKeyBlock");
        let kbpk = self.agree(&b.agreement(), &derived::TR31_KBPK)?;
        check_tr31_import(&kbpk.attributes, &b.wrapped_key_block, &field)?;
        Incoming::from_tr31(
            open_tr31_under(
                &kbpk.key,
                &b.wrapped_key_block,
                self.allow_short_padded_tr31,
            )
            .map_err(|e| tr31_error(&field, e))?,
            &field,
        )
    }

    /// `ExportKey` with `DiffieHellmanTr31KeyBlock`: `key` as a TR-31 block under the derived
    /// KBPK. The output's `WrappingKeyArn` is the HSM's key pair.
    pub(crate) fn export_ecdh_tr31(
        &self,
        key: &KeyRecord,
        b: &ExportDiffieHellmanTr31KeyBlock,
    ) -> Result<(Value, Vec<String>), Error> {
        const BASE: &str = "KeyMaterial.DiffieHellmanTr31KeyBlock";
        let kbpk = self.agree(&b.agreement(), &derived::TR31_KBPK)?;
        // The checks of every TR-31 export, with the derived key as the KBPK; only then are
        // the key's bytes read.
        let header = export_header(
            key,
            tr31_version(kbpk.attributes.key_algorithm),
            b.key_block_headers.as_ref(),
            &format!("{BASE}.KeyBlockHeaders"),
        )?;
        policy::check_export_under(key, &kbpk.attributes, &header)?;
        let bytes = self.store().reveal(key)?;
        let block = wrap_tr31_under(&kbpk.key, &header, bytes.expose_secret(), BASE)?;
        let pair_arn = self.arn(&kbpk.key_pair.key_id)?.to_string();
        Ok((
            wrapped_key(key, &pair_arn, "TR31_KEY_BLOCK", block),
            vec![self.arn(&key.key_id)?.to_string(), pair_arn],
        ))
    }
}

/// The agreement and the audit record of the two `DiffieHellmanTr31KeyBlock` shapes, whose
/// derivation members are the same.
macro_rules! tr31_derivation {
    ($shape:ty) => {
        impl $shape {
            fn agreement(&self) -> Agreement<'_> {
                const BASE: &str = "KeyMaterial.DiffieHellmanTr31KeyBlock";
                let DerivationData::SharedInformation(shared_info) = &self.derivation_data;
                Agreement {
                    base: BASE,
                    private_key: (
                        &self.private_key_identifier,
                        format!("{BASE}.PrivateKeyIdentifier"),
                    ),
                    ca: &self.certificate_authority_public_key_identifier,
                    certificate: &self.public_key_certificate,
                    algorithm: &self.derive_key_algorithm,
                    algorithm_member: "DeriveKeyAlgorithm",
                    kdf: &self.key_derivation_function,
                    hash: &self.key_derivation_hash_algorithm,
                    shared_info,
                    shared_info_member: "DerivationData.SharedInformation",
                }
            }

            /// What the audit log keeps: the identifiers and the derivation's parameters (not
            /// the certificate, not the shared information).
            pub(crate) fn audit_json(&self) -> Value {
                json!({
                    "privateKeyIdentifier": self.private_key_identifier,
                    "certificateAuthorityPublicKeyIdentifier":
                        self.certificate_authority_public_key_identifier,
                    "deriveKeyAlgorithm": self.derive_key_algorithm,
                    "keyDerivationFunction": self.key_derivation_function,
                    "keyDerivationHashAlgorithm": self.key_derivation_hash_algorithm,
                })
            }
        }
    };
}

tr31_derivation!(ImportDiffieHellmanTr31KeyBlock);
tr31_derivation!(ExportDiffieHellmanTr31KeyBlock);

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    use super::*;

    #[test]
    fn kdfs_lay_out_counter_secret_and_info_as_specified() {
        let z = [0x11u8; 32];
        let info = [0x22u8; 5];
        // Two blocks of SHA-256, cut to 40 bytes.
        let concat = derive(Kdf::NistSp800, KdfHash::Sha256, &z, &info, 40);
        let mut expected = sha2::Sha256::digest([&[0, 0, 0, 1][..], &z, &info].concat()).to_vec();
        expected.extend(sha2::Sha256::digest(
            [&[0, 0, 0, 2][..], &z, &info].concat(),
        ));
        assert_eq!(concat.expose_secret(), &expected[..40]);
        let x963 = derive(Kdf::AnsiX963, KdfHash::Sha256, &z, &info, 16);
        let expected = sha2::Sha256::digest([&z[..], &[0, 0, 0, 1], &info].concat());
        assert_eq!(x963.expose_secret(), &expected[..16]);
    }
}
