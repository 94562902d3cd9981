//! `EncryptData` and `DecryptData` with RSA keys (`Asymmetric`): encryption under an imported
//! public key (D1, `Encrypt`; the certificate's key), decryption with a key pair of the HSM's
//! (D1, `Decrypt`), with the padding the request names: `PKCS1` (RSAES-PKCS1-v1_5) or
//! `OAEP_SHA1`, `OAEP_SHA256`, `OAEP_SHA512` (RSAES-OAEP, MGF1 with the same hash, empty
//! label).
//!
//! The plaintext may be as long as the padding allows for the key (the modulus length less 11
//! bytes for PKCS #1 v1.5, less twice the hash length and 2 for OAEP); the ciphertext is
//! exactly the modulus length. Every decryption failure (wrong key, wrong padding, bad
//! padding) is one `ValidationException` with one message, and the private key's padding
//! check is constant time, so the answer is no padding oracle beyond the one PKCS #1 v1.5
//! decryption is by its nature (a valid padding decrypts, an invalid one does not): prefer
//! OAEP.

use payhsm_core::{rng::OsRandom, secret::SecretVec};
use payhsm_tr34::rsa::{EncryptionPadding, OaepHash};
use serde::Deserialize;

use crate::{
    Error,
    exchange::pki::tr34_error,
    hsm::Hsm,
    model::KeyRecord,
    policy::{self, roles},
    store::Store,
};

/// `AsymmetricEncryptionAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsymmetricAttributes {
    /// `PKCS1`, `OAEP_SHA1`, `OAEP_SHA256` or `OAEP_SHA512`.
    pub padding_type: Option<String>,
}

impl AsymmetricAttributes {
    fn padding(&self, path: &str) -> Result<EncryptionPadding, Error> {
        let path = format!("{path}.PaddingType");
        match self.padding_type.as_deref() {
            Some("PKCS1") => Ok(EncryptionPadding::Pkcs1),
            Some("OAEP_SHA1") => Ok(EncryptionPadding::Oaep(OaepHash::Sha1)),
            Some("OAEP_SHA256") => Ok(EncryptionPadding::Oaep(OaepHash::Sha256)),
            Some("OAEP_SHA512") => Ok(EncryptionPadding::Oaep(OaepHash::Sha512)),
            None => Err(Error::validation(
                &path,
                "required with an RSA key: PKCS1, OAEP_SHA1, OAEP_SHA256 or OAEP_SHA512",
            )),
            Some(_) => Err(Error::validation(
                &path,
                "expected PKCS1, OAEP_SHA1, OAEP_SHA256 or OAEP_SHA512",
            )),
        }
    }
}

impl<S: Store> Hsm<S> {
    /// Encrypts (under an imported public key) or decrypts (with a key pair) `data` under the
    /// RSA key `record`; `path` names the attributes, `data_path` the data.
    pub(crate) fn rsa_crypt(
        &self,
        record: &KeyRecord,
        attributes: &AsymmetricAttributes,
        (path, data_path): (&str, &str),
        data: &[u8],
        encrypt: bool,
    ) -> Result<SecretVec, Error> {
        if encrypt {
            policy::check_key(&roles::ASYMMETRIC_ENCRYPT, record)?;
            let padding = attributes.padding(path)?;
            self.rsa_self_test()?;
            let public = self.stored_certificate(record)?.public_key().clone();
            let max = padding.max_message_len(public.modulus_len());
            if data.len() > max {
                return Err(Error::validation(
                    data_path,
                    format!(
                        "at most {max} bytes encrypt under an {} key with this PaddingType",
                        record.attributes.key_algorithm
                    ),
                ));
            }
            let ciphertext = public
                .encrypt(padding, data, &mut OsRandom)
                .map_err(|e| tr34_error(data_path, e))?;
            Ok(SecretVec::from_slice(&ciphertext))
        } else {
            policy::check_key(&roles::ASYMMETRIC_DECRYPT, record)?;
            let padding = attributes.padding(path)?;
            let key = self.private_key(record)?;
            let len = key.public_key().modulus_len();
            if data.len() != len {
                return Err(Error::validation(
                    data_path,
                    format!(
                        "a ciphertext under an {} key is {len} bytes",
                        record.attributes.key_algorithm
                    ),
                ));
            }
            let plain = match padding {
                EncryptionPadding::Pkcs1 => key.decrypt_pkcs1(data),
                EncryptionPadding::Oaep(hash) => key.decrypt_oaep(hash, data),
            };
            plain.map_err(|e| match e {
                payhsm_tr34::Error::DecryptionFailed => Error::validation(
                    data_path,
                    "the ciphertext does not decrypt under this key with this PaddingType",
                ),
                other => tr34_error(data_path, other),
            })
        }
    }
}
