//! The KDH side: encrypt for the KRD, then sign.

use alloc::vec::Vec;

use der::{
    Decode, Encode, Tag, TagNumber,
    asn1::{Any, OctetString, SetOfVec},
};
use payhsm_core::{
    key::{Algorithm, KeyAlgorithm},
    rng::RandomSource,
    secret::KeyMaterial,
};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;

use super::{
    ExportMode, ExportRequest, Form, NONCE_LEN,
    asn1::{
        ContentInfo, EncapsulatedContentInfo, EncryptedContentInfo, EnvelopedData,
        KeyTransRecipientInfo, SignedData, SignerInfo,
    },
    attributes::SignedAttributes,
    check_policy,
    key_block::{self, ContentCipher},
};
use crate::{
    Error,
    cert::{Purpose, verify_chain},
    oid,
    rsa::{OaepHash, RsaPrivateKey},
};

/// Builds a TR-34 token that carries `key` to the KRD of `request`, signed with `kdh_key`.
///
/// The ephemeral key is AES-128 for an AES key and three-key TDES for a TDES key; the key
/// must fit the KRD key size (see the [module documentation](super)).
pub fn export(
    key: &KeyMaterial,
    request: &ExportRequest<'_>,
    kdh_key: &dyn RsaPrivateKey,
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>, Error> {
    let header = &request.header;
    let krd_cert = request.krd_certificate;
    let kdh_cert = request.kdh_certificate;
    let cipher = match header.algorithm() {
        Algorithm::AES => ContentCipher::Aes128Cbc,
        _ => ContentCipher::Tdes3Cbc,
    };
    check_policy(
        header,
        krd_cert.public_key().size(),
        cipher,
        Some(key.len()),
    )?;
    KeyAlgorithm::from_block_cipher(header.algorithm(), key.len())?;
    if kdh_key.public_key() != kdh_cert.public_key() {
        return Err(Error::KeyRejected {
            reason: "the KDH private key does not belong to the KDH certificate",
        });
    }
    if let Some(trust) = request.krd_trust {
        verify_chain(
            krd_cert,
            trust.intermediates,
            trust.ca,
            trust.time,
            Purpose::KrdKeyTransport,
        )?;
    }
    let (nonce, signing_time) = match request.mode {
        ExportMode::TwoPass { nonce } => {
            if !NONCE_LEN.contains(&nonce.len()) {
                return Err(Error::unsupported("nonce", "must be 8 to 16 bytes"));
            }
            (Some(nonce.to_vec()), None)
        }
        ExportMode::OnePass { signing_time } => {
            if request.form != Form::X9Tr34_2019 {
                return Err(Error::unsupported(
                    "form",
                    "one-pass tokens are written in the X9_TR34_2019 form only",
                ));
            }
            (None, Some(signing_time))
        }
    };

    // The envelope: the key block under an ephemeral key, the ephemeral key under OAEP.
    let kdh_id = kdh_cert.issuer_and_serial_number();
    let (ephemeral, iv) = cipher.generate(rng)?;
    let plaintext = key_block::encode(&kdh_id, key, header)?;
    let ciphertext = cipher.encrypt(&ephemeral, &iv, plaintext.expose_secret())?;
    let encrypted_key =
        krd_cert
            .public_key()
            .encrypt_oaep(OaepHash::Sha256, ephemeral.expose_secret(), rng)?;
    let mut recipients = SetOfVec::new();
    recipients
        .insert(KeyTransRecipientInfo {
            version: 0,
            rid: krd_cert.issuer_and_serial_number(),
            key_encryption_algorithm: request.form.oaep_algorithm()?,
            encrypted_key: octets(&encrypted_key)?,
        })
        .map_err(Error::der("recipientInfos"))?;
    let envelope = EnvelopedData {
        version: 0,
        recipient_infos: recipients,
        encrypted_content_info: EncryptedContentInfo {
            content_type: oid::DATA,
            content_encryption_algorithm: cipher.to_algorithm(&iv)?,
            encrypted_content: Some(octets(&ciphertext)?),
        },
    };
    let content = request.form.encode_envelope(&envelope)?;

    // The signature over the signed attributes.
    let attrs = SignedAttributes {
        message_digest: sha2::Sha256::digest(&content).to_vec(),
        nonce,
        signing_time,
        header: header.clone(),
    }
    .to_der(request.form)?;
    let signature = kdh_key.sign_pkcs1_sha256(&attrs)?;
    let attrs_set = Any::from_der(&attrs).map_err(Error::der("signedAttrs"))?;
    let signed_attrs = Any::new(
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(0),
        },
        attrs_set.value(),
    )
    .map_err(Error::der("signedAttrs"))?;

    let mut signers = SetOfVec::new();
    signers
        .insert(SignerInfo {
            version: 1,
            sid: kdh_id,
            digest_algorithm: sha256(),
            signed_attrs,
            signature_algorithm: request.form.signature_algorithm(),
            signature: octets(&signature)?,
            unsigned_attrs: None,
        })
        .map_err(Error::der("signerInfos"))?;
    let mut digests = SetOfVec::new();
    digests
        .insert(sha256())
        .map_err(Error::der("digestAlgorithms"))?;
    let signed = SignedData {
        version: request.form.signed_data_version(),
        digest_algorithms: digests,
        encap_content_info: EncapsulatedContentInfo {
            e_content_type: oid::ENVELOPED_DATA,
            e_content: Some(octets(&content)?),
        },
        certificates: None,
        crls: None,
        signer_infos: signers,
    };
    ContentInfo {
        content_type: oid::SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(Error::der("SignedData"))?,
    }
    .to_der()
    .map_err(Error::der("ContentInfo"))
}

fn sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid::SHA256,
        parameters: None,
    }
}

fn octets(bytes: &[u8]) -> Result<OctetString, Error> {
    OctetString::new(bytes).map_err(Error::der("OCTET STRING"))
}
