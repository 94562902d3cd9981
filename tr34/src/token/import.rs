//! The KRD side: verify, then decrypt.

use der::{Decode, Encode, Tag, Tagged, asn1::Any};
use payhsm_core::key::KeyAlgorithm;
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::{
    ImportMode, ImportRequest, ImportedKey, MAX_TOKEN_LEN, NONCE_LEN,
    asn1::{ContentInfo, SignedData},
    attributes::SignedAttributes,
    check_policy,
    key_block::{self, ContentCipher},
};
use crate::{
    Error,
    cert::{Purpose, verify_chain},
    oid,
    rsa::{RsaPrivateKey, null_or_absent},
};

/// Imports a key from a TR-34 token addressed to `krd_key`.
///
/// Everything that can be checked without the private key is checked first (see the
/// [module documentation](super)); failures there name the check. The private-key operation
/// runs only on a token the configured KDH signed, and every failure after it is
/// [`Error::DecryptionFailed`].
pub fn import(
    token: &[u8],
    krd_key: &dyn RsaPrivateKey,
    request: &ImportRequest<'_>,
) -> Result<ImportedKey, Error> {
    let signed = signed_data(token)?;
    if signed.version != request.form.signed_data_version() {
        return Err(Error::unsupported(
            "SignedData version",
            "must be 1 in the X9_TR34_2012 form and 3 in the X9_TR34_2019 form",
        ));
    }
    if !matches!(signed.digest_algorithms.as_slice(), [a] if is_sha256(a)) {
        return Err(Error::unsupported(
            "digestAlgorithms",
            "must be exactly SHA-256",
        ));
    }
    let encap = &signed.encap_content_info;
    if encap.e_content_type != oid::ENVELOPED_DATA {
        return Err(Error::unsupported(
            "eContentType",
            "must be id-envelopedData",
        ));
    }
    let content = encap
        .e_content
        .as_ref()
        .ok_or(Error::malformed("eContent", "the envelope is missing"))?
        .as_bytes();
    let [signer] = signed.signer_infos.as_slice() else {
        return Err(Error::unsupported(
            "signerInfos",
            "must hold exactly one SignerInfo",
        ));
    };
    if signer.version != 1 {
        return Err(Error::unsupported("SignerInfo version", "must be 1"));
    }
    if !is_sha256(&signer.digest_algorithm) {
        return Err(Error::unsupported("digestAlgorithm", "must be SHA-256"));
    }
    let sig_alg = &signer.signature_algorithm;
    if !(sig_alg.oid == oid::RSA_ENCRYPTION || sig_alg.oid == oid::SHA256_WITH_RSA)
        || !null_or_absent(sig_alg)
    {
        return Err(Error::unsupported(
            "signatureAlgorithm",
            "must be rsaEncryption or sha256WithRSAEncryption",
        ));
    }

    // The signer and its certificate chain.
    let kdh_cert = request.kdh_certificate;
    if signer.sid != kdh_cert.issuer_and_serial_number() {
        return Err(Error::CertificateNotTrusted {
            certificate: "KDH certificate",
            reason: "it is not the certificate of the token's signer",
        });
    }
    let trust = &request.kdh_trust;
    verify_chain(
        kdh_cert,
        trust.intermediates,
        trust.ca,
        trust.time,
        Purpose::KdhSigning,
    )?;

    // The signature over the signed attributes exactly as received, re-tagged as a SET.
    let signed_attrs = &signer.signed_attrs;
    if signed_attrs.tag()
        != (Tag::ContextSpecific {
            constructed: true,
            number: der::TagNumber(0),
        })
    {
        return Err(Error::malformed(
            "signedAttrs",
            "missing (TR-34 requires signed attributes)",
        ));
    }
    let to_verify = Any::new(Tag::Set, signed_attrs.value())
        .and_then(|a| a.to_der())
        .map_err(Error::der("signedAttrs"))?;
    kdh_cert
        .public_key()
        .verify_pkcs1_sha256(&to_verify, signer.signature.as_bytes())?;
    let attrs = SignedAttributes::from_der_contents(signed_attrs.value(), request.form)?;
    if !bool::from(
        attrs
            .message_digest
            .ct_eq(&sha2::Sha256::digest(content)[..]),
    ) {
        return Err(Error::SignatureInvalid);
    }

    // Freshness.
    match request.mode {
        ImportMode::TwoPass { nonce } => {
            if !NONCE_LEN.contains(&nonce.len()) {
                return Err(Error::unsupported("nonce", "must be 8 to 16 bytes"));
            }
            let received = attrs.nonce.as_deref().ok_or(Error::Freshness {
                reason: "the two-pass token has no random nonce",
            })?;
            if !bool::from(received.ct_eq(nonce)) {
                return Err(Error::Freshness {
                    reason: "the nonce is not the one this KRD sent",
                });
            }
        }
        ImportMode::OnePass { after } => {
            let time = attrs.signing_time.ok_or(Error::Freshness {
                reason: "the one-pass token has no signing time",
            })?;
            if time <= after {
                return Err(Error::Freshness {
                    reason: "the signing time is not later than the last accepted token's",
                });
            }
        }
    }

    // The envelope, its recipient and its algorithms.
    let envelope = request.form.decode_envelope(content)?;
    if envelope.version != 0 {
        return Err(Error::unsupported("EnvelopedData version", "must be 0"));
    }
    let [recipient] = envelope.recipient_infos.as_slice() else {
        return Err(Error::unsupported(
            "recipientInfos",
            "must hold exactly one KeyTransRecipientInfo",
        ));
    };
    if recipient.version != 0 {
        return Err(Error::unsupported(
            "KeyTransRecipientInfo version",
            "must be 0",
        ));
    }
    let krd_public = krd_key.public_key();
    if let Some(krd_cert) = request.krd_certificate {
        if krd_cert.public_key() != krd_public {
            return Err(Error::KeyRejected {
                reason: "the KRD private key does not belong to the KRD certificate",
            });
        }
        if recipient.rid != krd_cert.issuer_and_serial_number() {
            return Err(Error::WrongRecipient);
        }
    }
    if recipient.encrypted_key.as_bytes().len() != krd_public.modulus_len() {
        return Err(Error::WrongRecipient);
    }
    let oaep = request
        .form
        .parse_oaep(&recipient.key_encryption_algorithm, request.allow_oaep_sha1)?;
    let eci = &envelope.encrypted_content_info;
    if eci.content_type != oid::DATA {
        return Err(Error::unsupported(
            "encryptedContentInfo contentType",
            "must be id-data",
        ));
    }
    let (cipher, iv) = ContentCipher::from_algorithm(&eci.content_encryption_algorithm)?;
    let ciphertext = eci
        .encrypted_content
        .as_ref()
        .ok_or(Error::malformed("encryptedContent", "missing"))?
        .as_bytes();
    if !cipher.fits(ciphertext.len()) {
        return Err(Error::malformed(
            "encryptedContent",
            "not a whole number of cipher blocks",
        ));
    }
    check_policy(&attrs.header, krd_public.size(), cipher, None)?;

    // The private-key operation. From here on, every failure is the same error, except a
    // backend that cannot run the mechanism at all or whose device failed (neither depends on
    // the input, so neither reveals anything about it).
    let decrypted = krd_key
        .decrypt_oaep(oaep, recipient.encrypted_key.as_bytes())
        .map_err(|e| match e {
            Error::NotSupported { .. } | Error::Core(payhsm_core::Error::Backend(_)) => e,
            _ => Error::DecryptionFailed,
        })
        .and_then(|ephemeral| cipher.decrypt(ephemeral.expose_secret(), &iv, ciphertext))
        .and_then(|plaintext| key_block::decode(plaintext.expose_secret()))
        .map_err(|e| match e {
            Error::NotSupported { .. } | Error::Core(payhsm_core::Error::Backend(_)) => e,
            _ => Error::DecryptionFailed,
        })?;
    let key_len = decrypted.key.len();
    let key_algorithm = KeyAlgorithm::from_block_cipher(attrs.header.algorithm(), key_len)
        .map_err(|_| Error::DecryptionFailed)?;
    let consistent = decrypted.kdh == signer.sid
        && decrypted.header == attrs.header
        && check_policy(&attrs.header, krd_public.size(), cipher, Some(key_len)).is_ok();
    if !consistent {
        return Err(Error::DecryptionFailed);
    }
    Ok(ImportedKey {
        header: attrs.header,
        key: decrypted.key,
        key_algorithm,
        kdh: decrypted.kdh,
        signing_time: attrs.signing_time,
    })
}

/// The token's `SignedData`, from a `ContentInfo` of at most [`MAX_TOKEN_LEN`] bytes.
pub(super) fn signed_data(token: &[u8]) -> Result<SignedData, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::unsupported("token", "longer than 16 KiB"));
    }
    let content_info = ContentInfo::from_der(token).map_err(Error::der("ContentInfo"))?;
    if content_info.content_type != oid::SIGNED_DATA {
        return Err(Error::unsupported("contentType", "must be id-signedData"));
    }
    content_info
        .content
        .decode_as()
        .map_err(Error::der("SignedData"))
}

fn is_sha256(alg: &spki::AlgorithmIdentifierOwned) -> bool {
    alg.oid == oid::SHA256 && null_or_absent(alg)
}
