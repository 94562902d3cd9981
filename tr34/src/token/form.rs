//! The two token forms and the three places where they differ.

use alloc::vec::Vec;
use core::{fmt, str::FromStr};

use der::{
    Decode, Encode, EncodeValue, Header, Length, Reader, Sequence, SliceReader, SliceWriter, Tag,
    asn1::{Any, OctetString},
};
use spki::AlgorithmIdentifierOwned;

use super::asn1::EnvelopedData;
use crate::{
    Error, oid,
    rsa::{OaepHash, algorithm_with_null, null_or_absent},
};

/// The encoding of a TR-34 token.
///
/// | | `X9_TR34_2012` (default) | `X9_TR34_2019` |
/// |---|---|---|
/// | envelope in `eContent` | the *contents* of `EnvelopedData`, without its SEQUENCE tag and length | a complete DER `EnvelopedData` |
/// | RSAES-OAEP parameters | `SEQUENCE { hashAlg, maskGenAlg, pSourceAlg }`, untagged, all present | RFC 8017 `RSAES-OAEP-params` with `[0]`/`[1]`/`[2]` tags, defaults omitted |
/// | signature algorithm | `rsaEncryption` | `sha256WithRSAEncryption` |
/// | `SignedData` version | 1 | 3 (RFC 5652 §5.1: `eContentType` is not `id-data`) |
///
/// `X9_TR34_2012` is the form AWS Payment Cryptography imports and exports (its
/// `KeyBlockFormat`), following the TR-34 Annex B samples as the service's published samples
/// build and parse them. `X9_TR34_2019` is the same message as plain RFC 5652 CMS. On import,
/// the envelope, OAEP encoding and `SignedData` version must match the form; either signature
/// algorithm identifier is accepted in both forms (general CMS libraries write
/// `rsaEncryption` too), since the digest algorithm is fixed to SHA-256 either way.
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

    /// Writes the envelope as this form places it in `eContent`.
    pub(super) fn encode_envelope(self, envelope: &EnvelopedData) -> Result<Vec<u8>, Error> {
        let field = Error::der("EnvelopedData");
        match self {
            Self::X9Tr34_2012 => {
                let len = envelope.value_len().map_err(Error::der("EnvelopedData"))?;
                let mut out = alloc::vec![0; usize::try_from(u32::from(len)).unwrap_or(0)];
                let mut writer = SliceWriter::new(&mut out);
                envelope.encode_value(&mut writer).map_err(field)?;
                writer.finish().map_err(Error::der("EnvelopedData"))?;
                Ok(out)
            }
            Self::X9Tr34_2019 => envelope.to_der().map_err(field),
        }
    }

    /// Reads the envelope from `eContent`.
    pub(super) fn decode_envelope(self, content: &[u8]) -> Result<EnvelopedData, Error> {
        let field = Error::der("EnvelopedData");
        match self {
            Self::X9Tr34_2012 => {
                let mut reader = SliceReader::new(content).map_err(field)?;
                let length =
                    Length::try_from(content.len()).map_err(Error::der("EnvelopedData"))?;
                let header = Header::new(Tag::Sequence, length);
                let envelope = der::DecodeValue::decode_value(&mut reader, header)
                    .map_err(Error::der("EnvelopedData"))?;
                reader.finish().map_err(Error::der("EnvelopedData"))?;
                Ok(envelope)
            }
            Self::X9Tr34_2019 => EnvelopedData::from_der(content).map_err(field),
        }
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
