//! The object identifiers of TR-34, CMS (RFC 5652), PKCS #1 (RFC 8017) and X.509 (RFC 5280).

use der::asn1::ObjectIdentifier as Oid;

/// `id-data`: CMS data; in TR-34 also the attribute type of the key block header.
pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signedData`.
pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// `id-envelopedData`.
pub const ENVELOPED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.3");
/// `id-contentType` signed attribute.
pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` signed attribute.
pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// `id-signingTime` signed attribute (the one-pass timestamp).
pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// PKCS #9 `randomNonce` signed attribute (the two-pass nonce).
pub const RANDOM_NONCE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.25.3");
/// `id-sha1`.
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// `id-sha256`.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-sha384`.
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// `id-sha512`.
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// `rsaEncryption`.
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// `id-RSAES-OAEP`.
pub const RSAES_OAEP: Oid = Oid::new_unwrap("1.2.840.113549.1.1.7");
/// `id-mgf1`.
pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
/// `id-pSpecified` (the OAEP label source).
pub const P_SPECIFIED: Oid = Oid::new_unwrap("1.2.840.113549.1.1.9");
/// `sha256WithRSAEncryption`.
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption`.
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption`.
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
/// `des-ede3-cbc`.
pub const DES_EDE3_CBC: Oid = Oid::new_unwrap("1.2.840.113549.3.7");
/// `id-aes128-CBC`.
pub const AES128_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.2");

/// X.520 `commonName` (CN).
pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
/// X.520 `countryName` (C).
pub const COUNTRY_NAME: Oid = Oid::new_unwrap("2.5.4.6");
/// X.520 `localityName` (L).
pub const LOCALITY_NAME: Oid = Oid::new_unwrap("2.5.4.7");
/// X.520 `stateOrProvinceName` (ST).
pub const STATE_OR_PROVINCE_NAME: Oid = Oid::new_unwrap("2.5.4.8");
/// X.520 `organizationName` (O).
pub const ORGANIZATION_NAME: Oid = Oid::new_unwrap("2.5.4.10");
/// X.520 `organizationalUnitName` (OU).
pub const ORGANIZATIONAL_UNIT_NAME: Oid = Oid::new_unwrap("2.5.4.11");
/// PKCS #9 `emailAddress`.
pub const EMAIL_ADDRESS: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");
