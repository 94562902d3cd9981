//! The ASN.1 structures of a TR-34 token (RFC 5652 CMS as TR-34 profiles it).
//!
//! See the [token module](super) for the structure.
//!
//! The two forms differ in how the envelope sits in its OCTET STRING, in the shape of its
//! `EncryptedContentInfo`, in the OAEP parameters, the order of the signed attributes and the
//! signature algorithm; see [`Form`](super::Form).

use der::{
    Sequence, ValueOrd,
    asn1::{Any, ObjectIdentifier, OctetString, OctetStringRef, SetOfVec},
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

use crate::cert::IssuerAndSerialNumber;

/// `ContentInfo` (RFC 5652 §3).
#[derive(Sequence)]
pub(super) struct ContentInfo {
    pub(super) content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub(super) content: Any,
}

/// `SignedData` (RFC 5652 §5.1). Certificates and CRLs, which TR-34 may carry, are read and
/// ignored: the KRD is configured with the KDH certificate and its CA.
#[derive(Sequence)]
pub(super) struct SignedData {
    pub(super) version: u8,
    pub(super) digest_algorithms: SetOfVec<AlgorithmIdentifierOwned>,
    pub(super) encap_content_info: EncapsulatedContentInfo,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(super) certificates: Option<SetOfVec<Any>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(super) crls: Option<SetOfVec<Any>>,
    pub(super) signer_infos: SetOfVec<SignerInfo>,
}

/// `EncapsulatedContentInfo` (RFC 5652 §5.2).
#[derive(Sequence)]
pub(super) struct EncapsulatedContentInfo {
    pub(super) e_content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(super) e_content: Option<OctetString>,
}

/// `SignerInfo` (RFC 5652 §5.3) with an `IssuerAndSerialNumber` signer identifier.
///
/// The signed attributes are kept as received (`[0] IMPLICIT SET OF Attribute`): the signature
/// is verified over exactly these bytes re-tagged as a SET, never over a re-encoding.
#[derive(Sequence, ValueOrd)]
pub(super) struct SignerInfo {
    pub(super) version: u8,
    pub(super) sid: IssuerAndSerialNumber,
    pub(super) digest_algorithm: AlgorithmIdentifierOwned,
    pub(super) signed_attrs: Any,
    pub(super) signature_algorithm: AlgorithmIdentifierOwned,
    pub(super) signature: OctetString,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(super) unsigned_attrs: Option<SetOfVec<Attribute>>,
}

/// `EnvelopedData` (RFC 5652 §6.1) without originator information or unprotected attributes,
/// which TR-34 does not use. Not DER-derived: its encoding depends on the
/// [`Form`](super::Form) (see `Form::encode_envelope`).
pub(super) struct EnvelopedData {
    pub(super) version: u8,
    pub(super) recipient_infos: SetOfVec<KeyTransRecipientInfo>,
    pub(super) encrypted_content_info: EncryptedContentInfo,
}

/// `KeyTransRecipientInfo` (RFC 5652 §6.2.1): the only recipient type TR-34 uses.
#[derive(Sequence, ValueOrd)]
pub(super) struct KeyTransRecipientInfo {
    pub(super) version: u8,
    pub(super) rid: IssuerAndSerialNumber,
    pub(super) key_encryption_algorithm: AlgorithmIdentifierOwned,
    pub(super) encrypted_key: OctetString,
}

/// `EncryptedContentInfo` (RFC 5652 §6.1), the `X9_TR34_2019` encoding: the ciphertext
/// follows the algorithm identifier, whose parameter is the IV.
#[derive(Sequence)]
pub(super) struct EncryptedContentInfo {
    pub(super) content_type: ObjectIdentifier,
    pub(super) content_encryption_algorithm: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub(super) encrypted_content: Option<OctetString>,
}

/// `EncryptedContentInfo` in the `X9_TR34_2012` encoding, as AWS Payment Cryptography's
/// samples build and parse it: cipher, IV and ciphertext in one SEQUENCE.
#[derive(Sequence)]
pub(super) struct NestedEncryptedContentInfo {
    pub(super) content_type: ObjectIdentifier,
    pub(super) content: NestedEncryptedContent,
}

/// `SEQUENCE { cipher OID, OCTET STRING iv, [0] IMPLICIT OCTET STRING ciphertext }`.
#[derive(Sequence)]
pub(super) struct NestedEncryptedContent {
    pub(super) cipher: ObjectIdentifier,
    pub(super) iv: OctetString,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    pub(super) ciphertext: OctetString,
}

/// The TR-34 key block: the plaintext of the encrypted content. The key is borrowed from the
/// secret buffer it is read from or written to.
#[derive(Sequence)]
pub(super) struct KeyBlock<'a> {
    pub(super) version: u8,
    pub(super) kdh: IssuerAndSerialNumber,
    pub(super) key: &'a OctetStringRef,
    /// Type `id-data`, one OCTET STRING value: the key block header.
    pub(super) header: Attribute,
}
