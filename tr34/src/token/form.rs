//! The two token forms and the places where they differ.

use alloc::vec::Vec;
use core::{fmt, str::FromStr};

use der::{
    Decode, Encode, Reader, Sequence, SliceReader, Tag, Tagged,
    asn1::{Any, AnyRef, OctetString, SetOfVec},
};
use spki::AlgorithmIdentifierOwned;

use super::asn1::{
    EncryptedContentInfo, EnvelopedData, NestedEncryptedContent, NestedEncryptedContentInfo,
};
use crate::{
    Error, oid,
    rsa::{OaepHash, algorithm_with_null, null_or_absent},
};

/// The encoding of a TR-34 token.
///
/// | | `X9_TR34_2012` (default) | `X9_TR34_2019` |
/// |---|---|---|
/// | envelope in `eContent` | the *contents* of `EnvelopedData`, without its SEQUENCE tag and length | a complete DER `EnvelopedData` |
/// | `encryptedContentInfo` | `SEQUENCE { id-data, SEQUENCE { cipher, OCTET STRING iv, [0] IMPLICIT ciphertext } }` | RFC 5652: `SEQUENCE { id-data, SEQUENCE { cipher, OCTET STRING iv }, [0] IMPLICIT ciphertext }` |
/// | RSAES-OAEP parameters | `SEQUENCE { hashAlg, maskGenAlg, pSourceAlg }`, untagged, all present | RFC 8017 `RSAES-OAEP-params` with `[0]`/`[1]`/`[2]` tags, defaults omitted |
/// | signed attributes | in the samples' order: contentType, randomNonce, key block header, messageDigest; read in any order | DER `SET OF` order (RFC 5652 §5.3), required on import |
/// | signature algorithm | `rsaEncryption` | `sha256WithRSAEncryption` |
/// | `SignedData` version | 1 | 3 (RFC 5652 §5.1: `eContentType` is not `id-data`) |
///
/// `X9_TR34_2012` is the form AWS Payment Cryptography imports and exports (its
/// `KeyBlockFormat`), byte for byte as the service's published samples build an import token
/// and parse its `ExportKey` output (`key-import-export/tr34/` in
/// aws-samples/samples-for-payment-cryptography-service). `X9_TR34_2019` is the same message
/// as plain RFC 5652 CMS. In both, the `SignedData` carries no certificates, CRLs or unsigned
/// attributes (read and ignored on import), the digest algorithms are `sha256` without
/// parameters, and the signature algorithm has NULL parameters. On import, the envelope, the
/// `encryptedContentInfo`, the OAEP encoding and the `SignedData` version must match the form;
/// either signature algorithm identifier is accepted in both forms (general CMS libraries
/// write `rsaEncryption` too), since the digest algorithm is fixed to SHA-256 either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Form {
    /// The AWS Payment Cryptography form (`KeyBlockFormat` `X9_TR34_2012`).
    #[default]
    X9Tr34_2012,
    /// RFC 5652 CMS as TR-34-2019 specifies it.
    X9Tr34_2019,
}

impl Form {
    /// Both forms.
    pub const ALL: [Self; 2] = [Self::X9Tr34_2012, Self::X9Tr34_2019];

    /// The name: `X9_TR34_2012` or `X9_TR34_2019`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::X9Tr34_2012 => "X9_TR34_2012",
            Self::X9Tr34_2019 => "X9_TR34_2019",
        }
    }

    /// The form a token is written in.
    ///
    /// The two forms cannot be confused: in `X9_TR34_2012` the `eContent` holds the fields of
    /// the `EnvelopedData`, which begin with its version, an INTEGER (`02`); in `X9_TR34_2019`
    /// it holds the complete `EnvelopedData`, a SEQUENCE (`30`). The first octet of the
    /// envelope tells them apart; [`import`](super::import) then checks everything else
    /// against the form, the `SignedData` version (1 or 3) first.
    pub fn detect(token: &[u8]) -> Result<Self, Error> {
        let signed = super::import::signed_data(token)?;
        match signed
            .encap_content_info
            .e_content
            .as_ref()
            .map(|c| c.as_bytes())
        {
            Some([0x02, ..]) => Ok(Self::X9Tr34_2012),
            Some([0x30, ..]) => Ok(Self::X9Tr34_2019),
            Some(_) => Err(Error::malformed(
                "eContent",
                "neither EnvelopedData fields (X9_TR34_2012) nor an EnvelopedData (X9_TR34_2019)",
            )),
            None => Err(Error::malformed("eContent", "the envelope is missing")),
        }
    }

    pub(super) const fn signed_data_version(self) -> u8 {
        match self {
            Self::X9Tr34_2012 => 1,
            Self::X9Tr34_2019 => 3,
        }
    }

    pub(super) fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        match self {
            Self::X9Tr34_2012 => algorithm_with_null(oid::RSA_ENCRYPTION),
            Self::X9Tr34_2019 => algorithm_with_null(oid::SHA256_WITH_RSA),
        }
    }

    /// Whether the signed attributes are a DER `SET OF` (sorted), or in the samples' order.
    pub(super) const fn der_sorted_attributes(self) -> bool {
        matches!(self, Self::X9Tr34_2019)
    }

    /// Writes the envelope as this form places it in `eContent`.
    pub(super) fn encode_envelope(self, envelope: &EnvelopedData) -> Result<Vec<u8>, Error> {
        const FIELD: &str = "EnvelopedData";
        let eci = &envelope.encrypted_content_info;
        let eci = match self {
            Self::X9Tr34_2012 => nest(eci)?.to_der(),
            Self::X9Tr34_2019 => eci.to_der(),
        }
        .map_err(Error::der("encryptedContentInfo"))?;
        let fields = [
            envelope.version.to_der().map_err(Error::der(FIELD))?,
            envelope
                .recipient_infos
                .to_der()
                .map_err(Error::der(FIELD))?,
            eci,
        ]
        .concat();
        match self {
            Self::X9Tr34_2012 => Ok(fields),
            Self::X9Tr34_2019 => Any::new(Tag::Sequence, fields)
                .and_then(|envelope| envelope.to_der())
                .map_err(Error::der(FIELD)),
        }
    }

    /// Reads the envelope from `eContent`.
    pub(super) fn decode_envelope(self, content: &[u8]) -> Result<EnvelopedData, Error> {
        const FIELD: &str = "EnvelopedData";
        let fields = match self {
            Self::X9Tr34_2012 => content,
            Self::X9Tr34_2019 => {
                let envelope = AnyRef::from_der(content).map_err(Error::der(FIELD))?;
                if envelope.tag() != Tag::Sequence {
                    return Err(Error::malformed(FIELD, "not a SEQUENCE"));
                }
                envelope.value()
            }
        };
        let mut reader = SliceReader::new(fields).map_err(Error::der(FIELD))?;
        let version = u8::decode(&mut reader).map_err(Error::der(FIELD))?;
        let recipient_infos =
            SetOfVec::decode(&mut reader).map_err(Error::der("recipientInfos"))?;
        let encrypted_content_info = match self {
            Self::X9Tr34_2012 => NestedEncryptedContentInfo::decode(&mut reader).and_then(unnest),
            Self::X9Tr34_2019 => EncryptedContentInfo::decode(&mut reader),
        }
        .map_err(Error::der("encryptedContentInfo"))?;
        reader.finish().map_err(Error::der(FIELD))?;
        Ok(EnvelopedData {
            version,
            recipient_infos,
            encrypted_content_info,
        })
    }

    /// The `id-RSAES-OAEP` algorithm identifier with SHA-256 and MGF1-SHA-256.
    ///
    /// `X9_TR34_2012` writes what the AWS samples write (the MGF1 hash without parameters and
    /// an explicit empty `pSpecified` label); `X9_TR34_2019` writes RFC 4055's
    /// `sha256Identifier` and `mgf1SHA256Identifier` (NULL parameters) and omits the default
    /// label.
    pub(super) fn oaep_algorithm(self) -> Result<AlgorithmIdentifierOwned, Error> {
        let field = Error::der("RSAES-OAEP parameters");
        let hash = algorithm_with_null(oid::SHA256);
        let mgf_hash = match self {
            Self::X9Tr34_2012 => AlgorithmIdentifierOwned {
                oid: oid::SHA256,
                parameters: None,
            },
            Self::X9Tr34_2019 => algorithm_with_null(oid::SHA256),
        };
        let mask_gen = AlgorithmIdentifierOwned {
            oid: oid::MGF1,
            parameters: Some(Any::encode_from(&mgf_hash).map_err(Error::der("maskGenAlgorithm"))?),
        };
        let parameters = match self {
            Self::X9Tr34_2012 => Any::encode_from(&UntaggedOaepParams {
                hash,
                mask_gen,
                p_source: AlgorithmIdentifierOwned {
                    oid: oid::P_SPECIFIED,
                    parameters: Some(
                        Any::encode_from(&OctetString::new([]).map_err(Error::der("pSource"))?)
                            .map_err(Error::der("pSource"))?,
                    ),
                },
            }),
            Self::X9Tr34_2019 => Any::encode_from(&OaepParams {
                hash: Some(hash),
                mask_gen: Some(mask_gen),
                p_source: None,
            }),
        }
        .map_err(field)?;
        Ok(AlgorithmIdentifierOwned {
            oid: oid::RSAES_OAEP,
            parameters: Some(parameters),
        })
    }

    /// Reads the key-encryption algorithm: RSAES-OAEP only, with one hash for OAEP and MGF1
    /// and an empty label. SHA-1 is accepted only if `allow_sha1`.
    pub(super) fn parse_oaep(
        self,
        alg: &AlgorithmIdentifierOwned,
        allow_sha1: bool,
    ) -> Result<OaepHash, Error> {
        const FIELD: &str = "keyEncryptionAlgorithm";
        if alg.oid != oid::RSAES_OAEP {
            return Err(Error::unsupported(
                FIELD,
                "only RSAES-OAEP is accepted for key transport",
            ));
        }
        let params = alg
            .parameters
            .as_ref()
            .ok_or(Error::malformed(FIELD, "RSAES-OAEP parameters are missing"))?;
        let params: OaepParams = match self {
            Self::X9Tr34_2012 => params
                .decode_as::<UntaggedOaepParams>()
                .map(|p| OaepParams {
                    hash: Some(p.hash),
                    mask_gen: Some(p.mask_gen),
                    p_source: Some(p.p_source),
                }),
            Self::X9Tr34_2019 => params.decode_as::<OaepParams>(),
        }
        .map_err(Error::der("RSAES-OAEP parameters"))?;

        // Absent fields take RFC 8017's defaults: SHA-1, MGF1 with SHA-1, empty label.
        let hash = match &params.hash {
            None => oid::SHA1,
            Some(h) if null_or_absent(h) => h.oid,
            Some(_) => return Err(Error::malformed(FIELD, "hash parameters must be NULL")),
        };
        let mgf_hash = match &params.mask_gen {
            None => oid::SHA1,
            Some(m) if m.oid == oid::MGF1 => {
                let inner: AlgorithmIdentifierOwned = m
                    .parameters
                    .as_ref()
                    .ok_or(Error::malformed(FIELD, "MGF1 has no hash"))?
                    .decode_as()
                    .map_err(Error::der("maskGenAlgorithm"))?;
                if !null_or_absent(&inner) {
                    return Err(Error::malformed(FIELD, "MGF1 hash parameters must be NULL"));
                }
                inner.oid
            }
            Some(_) => {
                return Err(Error::unsupported(
                    FIELD,
                    "the mask generation must be MGF1",
                ));
            }
        };
        if let Some(p) = &params.p_source {
            let label: OctetString = p
                .parameters
                .as_ref()
                .ok_or(Error::malformed(FIELD, "pSpecified has no label"))?
                .decode_as()
                .map_err(Error::der("pSourceAlgorithm"))?;
            if p.oid != oid::P_SPECIFIED || !label.as_bytes().is_empty() {
                return Err(Error::unsupported(FIELD, "the OAEP label must be empty"));
            }
        }
        if hash != mgf_hash {
            return Err(Error::unsupported(
                FIELD,
                "the MGF1 hash must be the OAEP hash",
            ));
        }
        match hash {
            oid::SHA256 => Ok(OaepHash::Sha256),
            oid::SHA1 if allow_sha1 => Ok(OaepHash::Sha1),
            oid::SHA1 => Err(Error::unsupported(
                FIELD,
                "OAEP with SHA-1 is refused unless explicitly allowed",
            )),
            _ => Err(Error::unsupported(
                FIELD,
                "the OAEP hash must be SHA-256 (or SHA-1 when allowed)",
            )),
        }
    }
}

impl FromStr for Form {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or(Error::unsupported(
                "key block format",
                "expected X9_TR34_2012 or X9_TR34_2019",
            ))
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `X9_TR34_2012` shape of an `EncryptedContentInfo`: the IV (the algorithm's parameter,
/// an OCTET STRING) and the ciphertext move into the cipher's SEQUENCE.
fn nest(eci: &EncryptedContentInfo) -> Result<NestedEncryptedContentInfo, Error> {
    let alg = &eci.content_encryption_algorithm;
    let iv = alg
        .parameters
        .as_ref()
        .ok_or(Error::malformed(
            "contentEncryptionAlgorithm",
            "the IV is missing",
        ))?
        .decode_as::<OctetString>()
        .map_err(Error::der("contentEncryptionAlgorithm"))?;
    Ok(NestedEncryptedContentInfo {
        content_type: eci.content_type,
        content: NestedEncryptedContent {
            cipher: alg.oid,
            iv,
            ciphertext: eci
                .encrypted_content
                .clone()
                .ok_or(Error::malformed("encryptedContent", "missing"))?,
        },
    })
}

/// The RFC 5652 view of an `X9_TR34_2012` `EncryptedContentInfo`, which the rest of the
/// import reads.
fn unnest(eci: NestedEncryptedContentInfo) -> der::Result<EncryptedContentInfo> {
    let NestedEncryptedContent {
        cipher,
        iv,
        ciphertext,
    } = eci.content;
    Ok(EncryptedContentInfo {
        content_type: eci.content_type,
        content_encryption_algorithm: AlgorithmIdentifierOwned {
            oid: cipher,
            parameters: Some(Any::encode_from(&iv)?),
        },
        encrypted_content: Some(ciphertext),
    })
}

/// `RSAES-OAEP-params` (RFC 8017 A.2.1).
#[derive(Sequence)]
pub(super) struct OaepParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(super) hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub(super) mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub(super) p_source: Option<AlgorithmIdentifierOwned>,
}

/// The OAEP parameters of the `X9_TR34_2012` form: the three algorithm identifiers, untagged.
#[derive(Sequence)]
pub(super) struct UntaggedOaepParams {
    pub(super) hash: AlgorithmIdentifierOwned,
    pub(super) mask_gen: AlgorithmIdentifierOwned,
    pub(super) p_source: AlgorithmIdentifierOwned,
}
