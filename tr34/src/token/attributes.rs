//! The KDH's signed attributes: content type, message digest, freshness and key block header.

use alloc::vec::Vec;

use der::{
    Decode, Encode, Reader, SliceReader, Tag,
    asn1::{Any, ObjectIdentifier, OctetString, SetOfVec},
};
use x509_cert::{attr::Attribute, time::Time};

use super::Form;
use crate::{DateTime, Error, KeyBlockHeader, oid};

/// The signed attributes TR-34 defines. Others (such as the `signingTime` and
/// `cmsAlgorithmProtect` that general CMS libraries add) are covered by the signature and
/// otherwise ignored.
#[derive(Debug)]
pub(super) struct SignedAttributes {
    /// SHA-256 of the `eContent` octets.
    pub(super) message_digest: Vec<u8>,
    /// The two-pass random nonce.
    pub(super) nonce: Option<Vec<u8>>,
    /// The one-pass signing time.
    pub(super) signing_time: Option<DateTime>,
    /// The key block header.
    pub(super) header: KeyBlockHeader,
}

const FIELD: &str = "signedAttrs";

impl SignedAttributes {
    /// The `SET OF Attribute` the KDH signs, in the form's order: in `X9_TR34_2019` DER order
    /// (X.690 §11.6); in `X9_TR34_2012` the order AWS Payment Cryptography's samples write and
    /// read (contentType, randomNonce, key block header, messageDigest), which is DER order
    /// only for nonces up to 14 bytes and headers up to 32 characters.
    pub(super) fn to_der(&self, form: Form) -> Result<Vec<u8>, Error> {
        let mut attributes = Vec::new();
        attributes.push(attribute(oid::CONTENT_TYPE, &oid::ENVELOPED_DATA)?);
        if let Some(nonce) = &self.nonce {
            attributes.push(attribute(oid::RANDOM_NONCE, &octets(nonce)?)?);
        }
        if let Some(time) = self.signing_time {
            let time = Any::encode_from(&x509_time(time)?).map_err(Error::der("signingTime"))?;
            attributes.push(attribute(oid::SIGNING_TIME, &time)?);
        }
        attributes.push(attribute(oid::DATA, &octets(self.header.as_bytes())?)?);
        attributes.push(attribute(
            oid::MESSAGE_DIGEST,
            &octets(&self.message_digest)?,
        )?);
        if form.der_sorted_attributes() {
            attributes.sort();
        }
        Any::new(Tag::Set, attributes.concat())
            .and_then(|set| set.to_der())
            .map_err(Error::der(FIELD))
    }

    /// Reads the signed attributes from the *contents* of the received `[0] IMPLICIT SET`.
    /// No attribute type may repeat; in `X9_TR34_2019` the elements must be in DER order. In
    /// `X9_TR34_2012` any order is read, since the service's samples write theirs unsorted
    /// (the signature covers the attributes as received either way).
    pub(super) fn from_der_contents(contents: &[u8], form: Form) -> Result<Self, Error> {
        let mut reader = SliceReader::new(contents).map_err(Error::der(FIELD))?;
        let mut previous: Option<&[u8]> = None;
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        let (mut content_type, mut message_digest, mut nonce, mut signing_time, mut header) =
            (None, None, None, None, None);
        while !reader.is_finished() {
            let element = reader.tlv_bytes().map_err(Error::der(FIELD))?;
            if form.der_sorted_attributes() && previous.is_some_and(|p| p >= element) {
                return Err(Error::malformed(FIELD, "SET OF not in DER order"));
            }
            previous = Some(element);
            let attr = Attribute::from_der(element).map_err(Error::der(FIELD))?;
            if seen.contains(&attr.oid) {
                return Err(Error::malformed(FIELD, "an attribute type occurs twice"));
            }
            seen.push(attr.oid);
            let value = single_value(&attr)?;
            match attr.oid {
                oid::CONTENT_TYPE => {
                    content_type = Some(
                        value
                            .decode_as::<ObjectIdentifier>()
                            .map_err(Error::der("contentType attribute"))?,
                    );
                }
                oid::MESSAGE_DIGEST => {
                    message_digest = Some(octet_string(value, "messageDigest attribute")?);
                }
                oid::RANDOM_NONCE => nonce = Some(octet_string(value, "randomNonce attribute")?),
                oid::SIGNING_TIME => {
                    signing_time = Some(
                        value
                            .decode_as::<Time>()
                            .map_err(Error::der("signingTime attribute"))?
                            .to_date_time(),
                    );
                }
                oid::DATA => {
                    header = Some(KeyBlockHeader::from_bytes(&octet_string(
                        value,
                        "key block header attribute",
                    )?)?);
                }
                _ => {}
            }
        }
        if content_type != Some(oid::ENVELOPED_DATA) {
            return Err(Error::malformed(
                FIELD,
                "the contentType attribute must be present and id-envelopedData",
            ));
        }
        Ok(Self {
            message_digest: message_digest.ok_or(Error::malformed(
                FIELD,
                "the messageDigest attribute is missing",
            ))?,
            nonce,
            signing_time,
            header: header.ok_or(Error::malformed(
                FIELD,
                "the key block header attribute is missing",
            ))?,
        })
    }
}

/// An attribute with one value, DER-encoded.
fn attribute<T: der::EncodeValue + der::Tagged>(
    oid: ObjectIdentifier,
    value: &T,
) -> Result<Vec<u8>, Error> {
    let mut values = SetOfVec::new();
    values
        .insert(Any::encode_from(value).map_err(Error::der(FIELD))?)
        .map_err(Error::der(FIELD))?;
    Attribute { oid, values }
        .to_der()
        .map_err(Error::der(FIELD))
}

/// The value of a single-valued attribute.
pub(super) fn single_value(attr: &Attribute) -> Result<&Any, Error> {
    match attr.values.as_slice() {
        [value] => Ok(value),
        _ => Err(Error::malformed(
            FIELD,
            "an attribute must have exactly one value",
        )),
    }
}

/// The contents of an OCTET STRING value.
pub(super) fn octet_string(value: &Any, field: &'static str) -> Result<Vec<u8>, Error> {
    Ok(value
        .decode_as::<OctetString>()
        .map_err(Error::der(field))?
        .into_bytes()
        .into_vec())
}

fn octets(bytes: &[u8]) -> Result<OctetString, Error> {
    OctetString::new(bytes).map_err(Error::der(FIELD))
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5652 §11.3).
fn x509_time(t: DateTime) -> Result<Time, Error> {
    if t.year() < 2050 {
        Ok(Time::UtcTime(
            der::asn1::UtcTime::from_date_time(t).map_err(Error::der("signingTime"))?,
        ))
    } else {
        Ok(Time::GeneralTime(
            der::asn1::GeneralizedTime::from_date_time(t),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Header;

    fn sample() -> SignedAttributes {
        SignedAttributes {
            message_digest: alloc::vec![0xAB; 32],
            nonce: Some(alloc::vec![1, 2, 3, 4, 5, 6, 7, 8]),
            signing_time: None,
            header: "D0256K0AB00E0000".parse().unwrap(),
        }
    }

    fn contents(der: &[u8]) -> &[u8] {
        let mut reader = SliceReader::new(der).unwrap();
        let header = Header::decode(&mut reader).unwrap();
        assert_eq!(header.tag(), Tag::Set);
        &der[der.len() - u32::from(header.length()) as usize..]
    }

    fn oids(set: &[u8]) -> Vec<ObjectIdentifier> {
        let mut reader = SliceReader::new(contents(set)).unwrap();
        let mut oids = Vec::new();
        while !reader.is_finished() {
            oids.push(
                Attribute::from_der(reader.tlv_bytes().unwrap())
                    .unwrap()
                    .oid,
            );
        }
        oids
    }

    fn elements(set: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = SliceReader::new(contents(set)).unwrap();
        let mut elements = Vec::new();
        while !reader.is_finished() {
            elements.push(reader.tlv_bytes().unwrap().to_vec());
        }
        elements
    }

    const SAMPLES_ORDER: [ObjectIdentifier; 4] = [
        oid::CONTENT_TYPE,
        oid::RANDOM_NONCE,
        oid::DATA,
        oid::MESSAGE_DIGEST,
    ];

    #[test]
    fn each_form_writes_its_order_and_reads_it_back() {
        // An 8-byte nonce and a 16-byte header: DER order is the samples' order.
        for form in Form::ALL {
            let der = sample().to_der(form).unwrap();
            assert_eq!(oids(&der), SAMPLES_ORDER, "{form}");
            let back = SignedAttributes::from_der_contents(contents(&der), form).unwrap();
            assert_eq!(back.message_digest, sample().message_digest);
            assert_eq!(back.nonce, sample().nonce);
            assert_eq!(back.header, sample().header);
        }
        // A 16-byte nonce (32 hex digits, the service's longest) sorts after the header in
        // DER; the X9_TR34_2012 form keeps the samples' order.
        let long = SignedAttributes {
            nonce: Some(alloc::vec![0xC3; 16]),
            ..sample()
        };
        let samples = long.to_der(Form::X9Tr34_2012).unwrap();
        assert_eq!(oids(&samples), SAMPLES_ORDER);
        let der = long.to_der(Form::X9Tr34_2019).unwrap();
        assert_eq!(
            oids(&der),
            [
                oid::CONTENT_TYPE,
                oid::DATA,
                oid::RANDOM_NONCE,
                oid::MESSAGE_DIGEST
            ]
        );
        for (form, set) in [(Form::X9Tr34_2012, &samples), (Form::X9Tr34_2019, &der)] {
            let back = SignedAttributes::from_der_contents(contents(set), form).unwrap();
            assert_eq!(back.nonce, long.nonce, "{form}");
        }
        // DER order is required in X9_TR34_2019 only.
        assert!(SignedAttributes::from_der_contents(contents(&der), Form::X9Tr34_2012).is_ok());
        assert!(matches!(
            SignedAttributes::from_der_contents(contents(&samples), Form::X9Tr34_2019),
            Err(Error::Malformed {
                reason: "SET OF not in DER order",
                ..
            })
        ));
    }

    #[test]
    fn rejects_duplicate_and_missing_attributes_in_both_forms() {
        for form in Form::ALL {
            let elements = elements(&sample().to_der(form).unwrap());
            let mut doubled = elements.clone();
            doubled.push(elements[0].clone());
            assert!(matches!(
                SignedAttributes::from_der_contents(&doubled.concat(), form),
                Err(Error::Malformed {
                    reason: "an attribute type occurs twice" | "SET OF not in DER order",
                    ..
                })
            ));
            let missing_header: Vec<u8> =
                [&elements[0][..], &elements[1][..], &elements[3][..]].concat();
            assert!(matches!(
                SignedAttributes::from_der_contents(&missing_header, form),
                Err(Error::Malformed {
                    reason: "the key block header attribute is missing",
                    ..
                })
            ));
            let missing_type: Vec<u8> = elements[1..].concat();
            assert!(SignedAttributes::from_der_contents(&missing_type, form).is_err());
        }
    }
}
