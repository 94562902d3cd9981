//! Policy, in one place: which keys may exist, and which key may do what.
//!
//! Two tables, both data:
//! - [`KEY_ATTRIBUTES`]: the key usage × class × algorithm × modes-of-use combinations a key
//!   may have (AWS Payment Cryptography, "Understanding key attributes",
//!   `keys-validattributes`): symmetric keys, RSA key pairs and RSA public keys. CreateKey and
//!   ImportKey refuse anything else.
//! - [`KEY_ROLES`]: for each role a key plays in an operation (the CVK of a CVV generation, the
//!   incoming PEK of a PIN translation, …), the usages, algorithms and the mode of use it needs
//!   (the service's "valid keys for cryptographic operations", `crypto-ops-validkeys-ops`).
//!
//! [`check_key`] runs before any cryptography: state, enabled flag, class, usage, algorithm and
//! mode, in that order. Export adds [`check_export`] (TR-31: the wrapping key's role) on top of
//! [`check_exportable`] (class, exportability, narrowing only) and [`check_wrapping_strength`]
//! (a wrapping key, or a TR-34 KRD certificate, at least as strong as the key it wraps): the
//! checks of `payhsm_tr31::policy`.
//!
//! A mode of use is allowed when its flag is set or `NoRestrictions` is (TR-31 mode `N`).
//!
//! Multi-region keys add two rules: [`check_replicable`] (which keys may have replicas) and
//! [`check_writable`] (a replica is read-only).

use payhsm_core::key::{
    Exportability, KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage, ModeOfUse,
};
use payhsm_tr31::{
    Header,
    policy::{self as tr31_policy, Direction},
};

use crate::{
    Error, Rule,
    model::{KeyRecord, KeyState, MultiRegion},
};

/// How two regions exchange a key-encrypting key that carries replicas (a TR-31 key block
/// protection key, K1, for version D blocks), and which one carries a key.
///
/// The wrapping-strength rule holds at both steps of each. TR-34: RSA-3072 (128 bits) carries
/// an AES-128 KEK, which carries keys of up to 128 bits (TDES, AES-128); no RSA size TR-34
/// offers reaches 192 bits (RSA-4096 is 152). So the keys stronger than that (AES-192,
/// AES-256, HMAC) travel under an AES-256 KEK agreed with ECDH on P-521 (256 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KekExchange {
    /// An AES-128 KEK in a TR-34 token under RSA-3072 ([`REPLICATION_KEK_TRANSPORT`]).
    Tr34,
    /// An AES-256 KEK in a TR-31 block under a KBPK derived by ECDH on P-521
    /// ([`REPLICATION_KEK_AGREEMENT`]).
    Ecdh,
}

impl KekExchange {
    /// The exchange whose KEK carries a key of `algorithm`: TR-34 when its KEK is strong
    /// enough, ECDH otherwise (the weaker exchange where it suffices, as the service does).
    pub fn for_key(algorithm: KeyAlgorithm) -> Self {
        if tr31_policy::check_wrapping_strength(Self::Tr34.kek(), algorithm).is_ok() {
            Self::Tr34
        } else {
            Self::Ecdh
        }
    }

    /// The KEK's algorithm.
    pub const fn kek(self) -> KeyAlgorithm {
        match self {
            Self::Tr34 => KeyAlgorithm::Aes128,
            Self::Ecdh => KeyAlgorithm::Aes256,
        }
    }
}

/// The RSA key size of the TR-34 exchange of a replication KEK (the replica region's KRD key
/// and the primary region's KDH signing key): RSA-3072, as strong as the KEK and as the
/// region CAs that certify them.
pub const REPLICATION_KEK_TRANSPORT: KeyAlgorithm = KeyAlgorithm::Rsa3072;

/// The curve of the ECDH exchange of a replication KEK (both regions' key pairs): P-521, as
/// strong as the AES-256 KEK it derives the KBPK for.
pub const REPLICATION_KEK_AGREEMENT: KeyAlgorithm = KeyAlgorithm::EccNistP521;

/// The algorithms an RSA key cryptogram (`KeyCryptogram`) carries, in and out: the service
/// exchanges "both 3DES and AES-128 keys" with RSA wrap and unwrap. Which RSA size carries
/// which of them is the wrapping-strength rule ([`check_key_cryptogram`]): RSA-2048 carries
/// TDES keys, RSA-3072 and RSA-4096 also AES-128.
pub const KEY_CRYPTOGRAM_ALGORITHMS: &[KeyAlgorithm] = &[
    KeyAlgorithm::Tdes2Key,
    KeyAlgorithm::Tdes3Key,
    KeyAlgorithm::Aes128,
];

/// The signature hashes `GetCertificateSigningRequest` signs with for an RSA key pair
/// (`SigningAlgorithm`). The service also names `SHA224`, which this HSM refuses for RSA: its
/// signing backend, aws-lc-rs, offers PKCS #1 v1.5 signatures with SHA-256, SHA-384 and
/// SHA-512 only. An ECC key pair signs (ECDSA) with all four.
pub const CSR_RSA_SIGNING_ALGORITHMS: &[&str] = &["SHA256", "SHA384", "SHA512"];

/// One row of the attribute table: a usage and class, the algorithms it may have, and the
/// TR-31 modes of use (each one a set of `KeyModesOfUse` flags) it may have.
#[derive(Clone, Copy, Debug)]
pub struct AttributeRule {
    /// The key usage.
    pub usage: KeyUsage,
    /// The key class.
    pub class: KeyClass,
    /// Allowed algorithms.
    pub algorithms: &'static [KeyAlgorithm],
    /// Allowed modes of use.
    pub modes: &'static [ModeOfUse],
}

use KeyAlgorithm::{
    Aes128, Aes192, Aes256, EccNistP256, EccNistP384, EccNistP521, HmacSha224, HmacSha256,
    HmacSha384, HmacSha512, Rsa2048, Rsa3072, Rsa4096, Tdes2Key, Tdes3Key,
};

const TDES_AES: &[KeyAlgorithm] = &[Tdes2Key, Tdes3Key, Aes128, Aes192, Aes256];
const TDES: &[KeyAlgorithm] = &[Tdes2Key, Tdes3Key];
const TDES2: &[KeyAlgorithm] = &[Tdes2Key];
const HMAC: &[KeyAlgorithm] = &[HmacSha224, HmacSha256, HmacSha384, HmacSha512];
const RSA: &[KeyAlgorithm] = &[Rsa2048, Rsa3072, Rsa4096];
const ECC: &[KeyAlgorithm] = &[EccNistP256, EccNistP384, EccNistP521];
const RSA_ECC: &[KeyAlgorithm] = &[
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
];

/// {Encrypt, Decrypt, Wrap, Unwrap}, {Encrypt, Wrap}, {Decrypt, Unwrap}, {NoRestrictions}.
const ENCRYPTION_MODES: &[ModeOfUse] = &[
    ModeOfUse::ENCRYPT_DECRYPT,
    ModeOfUse::ENCRYPT,
    ModeOfUse::DECRYPT,
    ModeOfUse::NO_RESTRICTIONS,
];
/// {Generate}, {Verify}, {Generate, Verify}, {NoRestrictions}.
const GENERATE_VERIFY_MODES: &[ModeOfUse] = &[
    ModeOfUse::GENERATE,
    ModeOfUse::VERIFY,
    ModeOfUse::GENERATE_VERIFY,
    ModeOfUse::NO_RESTRICTIONS,
];
/// {DeriveKey}, {NoRestrictions}.
const DERIVE_MODES: &[ModeOfUse] = &[ModeOfUse::DERIVE, ModeOfUse::NO_RESTRICTIONS];
/// An RSA key pair for encryption or key transport: {Encrypt, Decrypt, Wrap, Unwrap},
/// {Encrypt, Wrap}, {Decrypt, Unwrap}.
const RSA_PAIR_MODES: &[ModeOfUse] = &[
    ModeOfUse::ENCRYPT_DECRYPT,
    ModeOfUse::ENCRYPT,
    ModeOfUse::DECRYPT,
];
/// An imported public key for encryption or key transport: {Encrypt, Wrap} only.
const RSA_PUBLIC_MODES: &[ModeOfUse] = &[ModeOfUse::ENCRYPT];

const fn row(
    usage: KeyUsage,
    algorithms: &'static [KeyAlgorithm],
    modes: &'static [ModeOfUse],
) -> AttributeRule {
    AttributeRule {
        usage,
        class: KeyClass::SymmetricKey,
        algorithms,
        modes,
    }
}

const fn pair(
    usage: KeyUsage,
    algorithms: &'static [KeyAlgorithm],
    modes: &'static [ModeOfUse],
) -> AttributeRule {
    AttributeRule {
        usage,
        class: KeyClass::AsymmetricKeyPair,
        algorithms,
        modes,
    }
}

const fn public(
    usage: KeyUsage,
    algorithms: &'static [KeyAlgorithm],
    modes: &'static [ModeOfUse],
) -> AttributeRule {
    AttributeRule {
        usage,
        class: KeyClass::PublicKey,
        algorithms,
        modes,
    }
}

/// The attributes a key may have. Symmetric keys are created or imported; RSA and ECC key
/// pairs (`ASYMMETRIC_KEY_PAIR`) are created; RSA and ECC public keys (`PUBLIC_KEY`) are
/// imported in certificates. K3 keys are ECC key pairs and public keys for key agreement
/// (ECDH), `{DeriveKey}` only; a CA's public key (S0, `{Verify}`) may be RSA or ECC. The
/// service's table lists `{DeriveKey}` for K2 in one line and the encryption modes in the
/// next; K2 here takes the encryption modes, as a TR-34 key transports keys.
pub const KEY_ATTRIBUTES: &[AttributeRule] = &[
    row(KeyUsage::B0, TDES_AES, DERIVE_MODES),
    row(KeyUsage::C0, TDES_AES, GENERATE_VERIFY_MODES),
    row(KeyUsage::D0, TDES_AES, ENCRYPTION_MODES),
    row(KeyUsage::E0, TDES_AES, DERIVE_MODES),
    row(KeyUsage::E1, TDES_AES, DERIVE_MODES),
    row(KeyUsage::E2, TDES_AES, DERIVE_MODES),
    row(KeyUsage::E4, TDES_AES, DERIVE_MODES),
    row(KeyUsage::E5, TDES_AES, DERIVE_MODES),
    row(KeyUsage::E6, TDES_AES, DERIVE_MODES),
    row(KeyUsage::K0, TDES_AES, ENCRYPTION_MODES),
    row(KeyUsage::K1, TDES_AES, ENCRYPTION_MODES),
    row(KeyUsage::M0, TDES, GENERATE_VERIFY_MODES),
    row(KeyUsage::M1, TDES, GENERATE_VERIFY_MODES),
    row(KeyUsage::M3, TDES, GENERATE_VERIFY_MODES),
    row(KeyUsage::M6, TDES_AES, GENERATE_VERIFY_MODES),
    row(KeyUsage::M7, HMAC, GENERATE_VERIFY_MODES),
    row(KeyUsage::P0, TDES_AES, ENCRYPTION_MODES),
    row(KeyUsage::P1, TDES_AES, GENERATE_VERIFY_MODES),
    row(KeyUsage::V1, TDES, GENERATE_VERIFY_MODES),
    row(KeyUsage::V2, TDES, GENERATE_VERIFY_MODES),
    pair(KeyUsage::D1, RSA, RSA_PAIR_MODES),
    public(KeyUsage::D1, RSA, RSA_PUBLIC_MODES),
    pair(KeyUsage::S0, RSA, &[ModeOfUse::SIGN]),
    public(KeyUsage::S0, RSA_ECC, &[ModeOfUse::VERIFY]),
    pair(KeyUsage::K2, RSA, RSA_PAIR_MODES),
    public(KeyUsage::K2, RSA, RSA_PUBLIC_MODES),
    pair(KeyUsage::K3, ECC, &[ModeOfUse::DERIVE]),
    public(KeyUsage::K3, ECC, &[ModeOfUse::DERIVE]),
];

/// The usages a key derived by ECDH may have (`DeriveKeyUsage`): every usage of a symmetric
/// key the attribute table has, less M0 (the service's list: the key usages less D1, K2, K3,
/// M0 and S0).
pub const DERIVE_KEY_USAGES: &[KeyUsage] = &[
    KeyUsage::B0,
    KeyUsage::C0,
    KeyUsage::D0,
    KeyUsage::E0,
    KeyUsage::E1,
    KeyUsage::E2,
    KeyUsage::E4,
    KeyUsage::E5,
    KeyUsage::E6,
    KeyUsage::K0,
    KeyUsage::K1,
    KeyUsage::M1,
    KeyUsage::M3,
    KeyUsage::M6,
    KeyUsage::M7,
    KeyUsage::P0,
    KeyUsage::P1,
    KeyUsage::V1,
    KeyUsage::V2,
];

/// What a key derived by ECDH may be in each operation that derives one: the `DeriveKeyUsage`
/// the ECC key pair must have been created with, and the algorithms the request may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DerivedKeyRule {
    /// `Operation/variant`, for messages.
    pub name: &'static str,
    /// The `DeriveKeyUsage` values that allow it.
    pub usages: &'static [KeyUsage],
    /// The algorithms the derived key may have.
    pub algorithms: &'static [KeyAlgorithm],
}

/// The ECDH-derived keys of each operation.
pub mod derived {
    use super::*;

    /// `ImportKey`/`ExportKey` with `DiffieHellmanTr31KeyBlock`: the derived key is the KBPK
    /// (or KEK) of a TR-31 block, so a TDES or AES key of a key pair made to derive K0 or K1.
    pub const TR31_KBPK: DerivedKeyRule = DerivedKeyRule {
        name: "DiffieHellmanTr31KeyBlock: derived KBPK",
        usages: &[KeyUsage::K0, KeyUsage::K1],
        algorithms: TDES_AES,
    };

    /// A data-plane `WrappedKey` with `DiffieHellmanSymmetricKey`: the working key, by the
    /// role it plays, and the key pair's `DeriveKeyUsage` that allows it (PIN set and reveal
    /// with P0, data with D0).
    pub const WORKING_KEYS: &[(KeyRole, DerivedKeyRule)] = &[
        (roles::PIN_ENCRYPT, PIN_KEY),
        (roles::PIN_DECRYPT, PIN_KEY),
        (roles::DATA_ENCRYPT, DATA_KEY),
        (roles::DATA_DECRYPT, DATA_KEY),
    ];

    const PIN_KEY: DerivedKeyRule = DerivedKeyRule {
        name: "DiffieHellmanSymmetricKey: derived PIN encryption key",
        usages: &[KeyUsage::P0],
        algorithms: TDES_AES,
    };

    const DATA_KEY: DerivedKeyRule = DerivedKeyRule {
        name: "DiffieHellmanSymmetricKey: derived data encryption key",
        usages: &[KeyUsage::D0],
        algorithms: TDES_AES,
    };
}

/// Every key the attribute table allows, one per (usage, class, algorithm, mode of use).
pub fn valid_attributes() -> impl Iterator<Item = KeyAttributes> {
    KEY_ATTRIBUTES.iter().flat_map(|r| {
        r.algorithms.iter().flat_map(move |a| {
            r.modes.iter().filter_map(move |m| {
                KeyAttributes::from_tr31(r.usage, *m, *a)
                    .ok()
                    .map(|attrs| KeyAttributes {
                        key_class: r.class,
                        ..attrs
                    })
            })
        })
    })
}

/// Checks attributes for CreateKey and ImportKey against [`KEY_ATTRIBUTES`].
pub fn check_attributes(a: &KeyAttributes) -> Result<(), Error> {
    let symmetric = a.key_algorithm.key_class() == KeyClass::SymmetricKey;
    if symmetric != (a.key_class == KeyClass::SymmetricKey) {
        return Err(Error::policy(
            Rule::KeyAttributes,
            format!(
                "a {} key cannot be of class {}",
                a.key_algorithm,
                a.key_class.name()
            ),
        ));
    }
    let rule = KEY_ATTRIBUTES
        .iter()
        .find(|r| r.usage == a.key_usage && r.class == a.key_class)
        .ok_or_else(|| {
            Error::policy(
                Rule::KeyAttributes,
                format!(
                    "a {} key of class {} cannot be held here",
                    a.key_usage,
                    a.key_class.name()
                ),
            )
        })?;
    if !rule.algorithms.contains(&a.key_algorithm) {
        return Err(Error::policy(
            Rule::KeyAttributes,
            format!(
                "a {} key cannot have algorithm {}",
                a.key_usage, a.key_algorithm
            ),
        ));
    }
    let allowed = a
        .key_modes_of_use
        .to_mode_of_use()
        .is_some_and(|m| rule.modes.contains(&m));
    if !allowed {
        return Err(Error::policy(
            Rule::KeyAttributes,
            format!(
                "a {} key cannot have these modes of use; allowed: {}",
                a.key_usage,
                describe_modes(rule.modes)
            ),
        ));
    }
    Ok(())
}

fn describe_modes(modes: &[ModeOfUse]) -> String {
    modes
        .iter()
        .filter_map(|m| KeyModesOfUse::from_mode_of_use(*m))
        .map(|f| {
            let on: Vec<&str> = f.iter().filter(|(_, on)| *on).map(|(n, _)| n).collect();
            format!("{{{}}}", on.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A mode-of-use flag an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `Encrypt`.
    Encrypt,
    /// `Decrypt`.
    Decrypt,
    /// `Wrap`.
    Wrap,
    /// `Unwrap`.
    Unwrap,
    /// `Generate`.
    Generate,
    /// `Verify`.
    Verify,
    /// `DeriveKey`.
    DeriveKey,
}

impl Mode {
    /// Whether `modes` allow this (its flag, or `NoRestrictions`).
    pub fn allowed_by(self, modes: &KeyModesOfUse) -> bool {
        modes.no_restrictions
            || match self {
                Self::Encrypt => modes.encrypt,
                Self::Decrypt => modes.decrypt,
                Self::Wrap => modes.wrap,
                Self::Unwrap => modes.unwrap,
                Self::Generate => modes.generate,
                Self::Verify => modes.verify,
                Self::DeriveKey => modes.derive_key,
            }
    }

    /// The service's flag name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::Wrap => "Wrap",
            Self::Unwrap => "Unwrap",
            Self::Generate => "Generate",
            Self::Verify => "Verify",
            Self::DeriveKey => "DeriveKey",
        }
    }
}

/// The role a key plays in an operation, and what it takes to play it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRole {
    /// `Operation/variant: key`, for messages and audit records.
    pub name: &'static str,
    /// The class that may play the role.
    pub class: KeyClass,
    /// Usages that may play the role.
    pub usages: &'static [KeyUsage],
    /// Algorithms that may play it.
    pub algorithms: &'static [KeyAlgorithm],
    /// The mode of use it needs.
    pub mode: Mode,
}

const fn role(
    name: &'static str,
    usages: &'static [KeyUsage],
    algorithms: &'static [KeyAlgorithm],
    mode: Mode,
) -> KeyRole {
    KeyRole {
        name,
        class: KeyClass::SymmetricKey,
        usages,
        algorithms,
        mode,
    }
}

/// The role of an RSA key in `EncryptData` or `DecryptData` with `Asymmetric` attributes: an
/// asymmetric data key (D1) of `class`.
const fn rsa_data_role(name: &'static str, class: KeyClass, mode: Mode) -> KeyRole {
    KeyRole {
        name,
        class,
        usages: &[KeyUsage::D1],
        algorithms: RSA,
        mode,
    }
}

/// The role of a certificate authority's public key: an imported `PUBLIC_KEY` of usage S0
/// with `Verify`.
const fn ca_role(name: &'static str, algorithms: &'static [KeyAlgorithm]) -> KeyRole {
    KeyRole {
        name,
        class: KeyClass::PublicKey,
        usages: &[KeyUsage::S0],
        algorithms,
        mode: Mode::Verify,
    }
}

/// The roles keys play in the data-plane and import/export operations.
pub mod roles {
    use super::*;

    /// ECDH: the HSM's ECC key pair for key agreement.
    pub const ECDH_KEY_PAIR: KeyRole = KeyRole {
        name: "DiffieHellman: PrivateKey",
        class: KeyClass::AsymmetricKeyPair,
        usages: &[KeyUsage::K3],
        algorithms: ECC,
        mode: Mode::DeriveKey,
    };
    /// ECDH: the imported CA (RSA or ECC) the other party's certificate chains to.
    pub const ECDH_CA: KeyRole = ca_role("DiffieHellman: CertificateAuthorityPublicKey", RSA_ECC);
    /// A root certificate's key: a CA key, RSA or ECC.
    pub const ROOT_CA: KeyRole = ca_role("ImportKey/RootCertificatePublicKey", RSA_ECC);

    /// CVV, CVV2, iCVV generation: the CVK.
    pub const CVV_GENERATE: KeyRole = role(
        "GenerateCardValidationData/CardVerificationValue",
        &[KeyUsage::C0],
        TDES2,
        Mode::Generate,
    );
    /// CVV verification: the CVK.
    pub const CVV_VERIFY: KeyRole = role(
        "VerifyCardValidationData/CardVerificationValue",
        &[KeyUsage::C0],
        TDES2,
        Mode::Verify,
    );
    /// Amex CSC generation.
    pub const CSC_GENERATE: KeyRole = role(
        "GenerateCardValidationData/AmexCardSecurityCode",
        &[KeyUsage::C0],
        TDES2,
        Mode::Generate,
    );
    /// Amex CSC verification.
    pub const CSC_VERIFY: KeyRole = role(
        "VerifyCardValidationData/AmexCardSecurityCode",
        &[KeyUsage::C0],
        TDES2,
        Mode::Verify,
    );
    /// Visa dCVV: the issuer master key the card key derives from.
    pub const DCVV: KeyRole = role(
        "CardValidationData/DynamicCardVerificationValue",
        &[KeyUsage::E6],
        TDES2,
        Mode::DeriveKey,
    );
    /// Mastercard CVC3 (dynamic CVC): the issuer master key.
    pub const CVC3: KeyRole = role(
        "CardValidationData/DynamicCardVerificationCode",
        &[KeyUsage::E4],
        TDES2,
        Mode::DeriveKey,
    );
    /// Visa PVV generation: the PVK.
    pub const PVV_GENERATE: KeyRole = role(
        "GeneratePinData/VisaPin",
        &[KeyUsage::V2],
        TDES,
        Mode::Generate,
    );
    /// Visa PVV verification: the PVK.
    pub const PVV_VERIFY: KeyRole =
        role("VerifyPinData/VisaPin", &[KeyUsage::V2], TDES, Mode::Verify);
    /// IBM 3624 generation: the PIN verification key.
    pub const IBM3624_GENERATE: KeyRole = role(
        "GeneratePinData/Ibm3624",
        &[KeyUsage::V1],
        TDES,
        Mode::Generate,
    );
    /// IBM 3624 verification: the PIN verification key.
    pub const IBM3624_VERIFY: KeyRole =
        role("VerifyPinData/Ibm3624", &[KeyUsage::V1], TDES, Mode::Verify);
    /// A PEK that produces a PIN block.
    pub const PIN_ENCRYPT: KeyRole = role(
        "PinData/EncryptionKey(out)",
        &[KeyUsage::P0],
        TDES_AES,
        Mode::Encrypt,
    );
    /// A PEK that reads a PIN block.
    pub const PIN_DECRYPT: KeyRole = role(
        "PinData/EncryptionKey(in)",
        &[KeyUsage::P0],
        TDES_AES,
        Mode::Decrypt,
    );
    /// EncryptData: the data key.
    pub const DATA_ENCRYPT: KeyRole = role(
        "EncryptData/Symmetric",
        &[KeyUsage::D0],
        TDES_AES,
        Mode::Encrypt,
    );
    /// DecryptData: the data key.
    pub const DATA_DECRYPT: KeyRole = role(
        "DecryptData/Symmetric",
        &[KeyUsage::D0],
        TDES_AES,
        Mode::Decrypt,
    );
    /// ISO 9797-1 algorithm 1 MAC generation.
    pub const MAC_ISO9797_1_GENERATE: KeyRole = role(
        "GenerateMac/ISO9797_ALGORITHM1",
        &[KeyUsage::M1],
        TDES,
        Mode::Generate,
    );
    /// ISO 9797-1 algorithm 1 MAC verification.
    pub const MAC_ISO9797_1_VERIFY: KeyRole = role(
        "VerifyMac/ISO9797_ALGORITHM1",
        &[KeyUsage::M1],
        TDES,
        Mode::Verify,
    );
    /// ISO 9797-1 algorithm 3 (retail MAC) generation.
    pub const MAC_ISO9797_3_GENERATE: KeyRole = role(
        "GenerateMac/ISO9797_ALGORITHM3",
        &[KeyUsage::M3],
        TDES,
        Mode::Generate,
    );
    /// ISO 9797-1 algorithm 3 (retail MAC) verification.
    pub const MAC_ISO9797_3_VERIFY: KeyRole = role(
        "VerifyMac/ISO9797_ALGORITHM3",
        &[KeyUsage::M3],
        TDES,
        Mode::Verify,
    );
    /// CMAC generation.
    pub const MAC_CMAC_GENERATE: KeyRole = role(
        "GenerateMac/CMAC",
        &[KeyUsage::M6],
        TDES_AES,
        Mode::Generate,
    );
    /// CMAC verification.
    pub const MAC_CMAC_VERIFY: KeyRole =
        role("VerifyMac/CMAC", &[KeyUsage::M6], TDES_AES, Mode::Verify);
    /// HMAC generation.
    pub const MAC_HMAC_GENERATE: KeyRole =
        role("GenerateMac/HMAC", &[KeyUsage::M7], HMAC, Mode::Generate);
    /// HMAC verification.
    pub const MAC_HMAC_VERIFY: KeyRole =
        role("VerifyMac/HMAC", &[KeyUsage::M7], HMAC, Mode::Verify);
    /// AS2805 part 4.1 MAC generation (an ISO 16609 TDEA MAC key).
    pub const MAC_AS2805_GENERATE: KeyRole = role(
        "GenerateMac/AS2805_4_1",
        &[KeyUsage::M0],
        TDES,
        Mode::Generate,
    );
    /// AS2805 part 4.1 MAC verification.
    pub const MAC_AS2805_VERIFY: KeyRole =
        role("VerifyMac/AS2805_4_1", &[KeyUsage::M0], TDES, Mode::Verify);
    /// EMV ARQC generation and verification: the issuer master key for application
    /// cryptograms.
    pub const ARQC: KeyRole = role(
        "AuthRequestCryptogram: IssuerMasterKey",
        &[KeyUsage::E0],
        TDES,
        Mode::DeriveKey,
    );
    /// DUKPT: the base derivation key (TDES DUKPT needs a two-key BDK).
    pub const DUKPT_BDK: KeyRole = role(
        "Dukpt: BaseDerivationKey",
        &[KeyUsage::B0],
        &[Tdes2Key, Aes128, Aes192, Aes256],
        Mode::DeriveKey,
    );
    /// The KEK or KBPK of a TR-31 export.
    pub const TR31_WRAP: KeyRole = role(
        "ExportKey/Tr31KeyBlock: WrappingKey",
        &[KeyUsage::K0, KeyUsage::K1],
        TDES_AES,
        Mode::Wrap,
    );
    /// The KEK or KBPK of a TR-31 import.
    pub const TR31_UNWRAP: KeyRole = role(
        "ImportKey/Tr31KeyBlock: WrappingKey",
        &[KeyUsage::K0, KeyUsage::K1],
        TDES_AES,
        Mode::Unwrap,
    );
    /// TranslateKeyMaterial: the KEK or KBPK the incoming TR-31 block is under.
    pub const TRANSLATE_UNWRAP: KeyRole = role(
        "TranslateKeyMaterial/Tr31KeyBlock: IncomingWrappingKey",
        &[KeyUsage::K0, KeyUsage::K1],
        TDES_AES,
        Mode::Unwrap,
    );
    /// TranslateKeyMaterial: the KEK or KBPK the outgoing TR-31 block is wrapped under.
    pub const TRANSLATE_WRAP: KeyRole = role(
        "TranslateKeyMaterial/Tr31KeyBlock: OutgoingWrappingKey",
        &[KeyUsage::K0, KeyUsage::K1],
        TDES_AES,
        Mode::Wrap,
    );
    /// The CA a TR-34 import's KDH certificate must chain to.
    pub const TR34_IMPORT_CA: KeyRole =
        ca_role("ImportKey/Tr34KeyBlock: CertificateAuthorityPublicKey", RSA);
    /// The CA a TR-34 export's KRD certificate must chain to.
    pub const TR34_EXPORT_CA: KeyRole =
        ca_role("ExportKey/Tr34KeyBlock: CertificateAuthorityPublicKey", RSA);
    /// The CA a key cryptogram export's wrapping certificate (an RSA key's) must chain to.
    pub const KEY_CRYPTOGRAM_EXPORT_CA: KeyRole = ca_role(
        "ExportKey/KeyCryptogram: CertificateAuthorityPublicKey",
        RSA,
    );
    /// EncryptData with an RSA key: an imported public key (D1, `Encrypt`).
    pub const ASYMMETRIC_ENCRYPT: KeyRole =
        rsa_data_role("EncryptData/Asymmetric", KeyClass::PublicKey, Mode::Encrypt);
    /// DecryptData with an RSA key: a key pair of the HSM's (D1, `Decrypt`).
    pub const ASYMMETRIC_DECRYPT: KeyRole = rsa_data_role(
        "DecryptData/Asymmetric",
        KeyClass::AsymmetricKeyPair,
        Mode::Decrypt,
    );
    /// The CA an imported trusted certificate must chain to.
    pub const TRUSTED_CERTIFICATE_CA: KeyRole = ca_role(
        "ImportKey/TrustedCertificatePublicKey: CertificateAuthorityPublicKey",
        RSA_ECC,
    );
    /// EMV issuer script MAC generation: the issuer master key for secure-messaging integrity.
    pub const EMV_MAC_GENERATE: KeyRole =
        role("GenerateMac/EmvMac", &[KeyUsage::E2], TDES, Mode::DeriveKey);
    /// EMV issuer script MAC verification.
    pub const EMV_MAC_VERIFY: KeyRole =
        role("VerifyMac/EmvMac", &[KeyUsage::E2], TDES, Mode::DeriveKey);
    /// EMV data encryption: the issuer master key for secure-messaging confidentiality (the
    /// service also lists E6, "other", for EMV data encryption).
    pub const EMV_ENCRYPT: KeyRole = role(
        "EncryptData/Emv",
        &[KeyUsage::E1, KeyUsage::E6],
        TDES,
        Mode::DeriveKey,
    );
    /// EMV data decryption.
    pub const EMV_DECRYPT: KeyRole = role(
        "DecryptData/Emv",
        &[KeyUsage::E1, KeyUsage::E6],
        TDES,
        Mode::DeriveKey,
    );
    /// EMV PIN change: the PEK of the new (and the current) PIN block, which are TDES blocks.
    pub const PIN_CHANGE_PEK: KeyRole = role(
        "GenerateMacEmvPinChange: PinEncryptionKey",
        &[KeyUsage::P0],
        TDES,
        Mode::Decrypt,
    );
    /// EMV PIN change: the issuer master key for secure-messaging integrity (the MAC).
    pub const PIN_CHANGE_SMI: KeyRole = role(
        "GenerateMacEmvPinChange: SecureMessagingIntegrityKey",
        &[KeyUsage::E2],
        TDES,
        Mode::DeriveKey,
    );
    /// EMV PIN change: the issuer master key for secure-messaging confidentiality (the PIN).
    pub const PIN_CHANGE_SMC: KeyRole = role(
        "GenerateMacEmvPinChange: SecureMessagingConfidentialityKey",
        &[KeyUsage::E1],
        TDES,
        Mode::DeriveKey,
    );
    /// EMV PIN change, Visa and Amex: the issuer master key for application cryptograms,
    /// which the VIS PIN block binds.
    pub const PIN_CHANGE_AC: KeyRole = role(
        "GenerateMacEmvPinChange/VisaAmex: AuthorizationRequestKey",
        &[KeyUsage::E0],
        TDES,
        Mode::DeriveKey,
    );
}

/// Every role, for the generated usage-matrix tests.
pub const KEY_ROLES: &[KeyRole] = &[
    roles::CVV_GENERATE,
    roles::CVV_VERIFY,
    roles::CSC_GENERATE,
    roles::CSC_VERIFY,
    roles::DCVV,
    roles::CVC3,
    roles::PVV_GENERATE,
    roles::PVV_VERIFY,
    roles::IBM3624_GENERATE,
    roles::IBM3624_VERIFY,
    roles::PIN_ENCRYPT,
    roles::PIN_DECRYPT,
    roles::DATA_ENCRYPT,
    roles::DATA_DECRYPT,
    roles::MAC_ISO9797_1_GENERATE,
    roles::MAC_ISO9797_1_VERIFY,
    roles::MAC_ISO9797_3_GENERATE,
    roles::MAC_ISO9797_3_VERIFY,
    roles::MAC_CMAC_GENERATE,
    roles::MAC_CMAC_VERIFY,
    roles::MAC_HMAC_GENERATE,
    roles::MAC_HMAC_VERIFY,
    roles::MAC_AS2805_GENERATE,
    roles::MAC_AS2805_VERIFY,
    roles::TR31_WRAP,
    roles::TR31_UNWRAP,
    roles::TRANSLATE_UNWRAP,
    roles::TRANSLATE_WRAP,
    roles::ARQC,
    roles::DUKPT_BDK,
    roles::TR34_IMPORT_CA,
    roles::TR34_EXPORT_CA,
    roles::TRUSTED_CERTIFICATE_CA,
    roles::KEY_CRYPTOGRAM_EXPORT_CA,
    roles::ASYMMETRIC_ENCRYPT,
    roles::ASYMMETRIC_DECRYPT,
    roles::EMV_MAC_GENERATE,
    roles::EMV_MAC_VERIFY,
    roles::EMV_ENCRYPT,
    roles::EMV_DECRYPT,
    roles::PIN_CHANGE_PEK,
    roles::PIN_CHANGE_SMI,
    roles::PIN_CHANGE_SMC,
    roles::PIN_CHANGE_AC,
    roles::ECDH_KEY_PAIR,
    roles::ECDH_CA,
];

/// Checks that an ECC key pair's `DeriveKeyUsage` and the requested algorithm allow the key
/// `rule` derives.
pub fn check_derived(
    rule: &DerivedKeyRule,
    derive_key_usage: Option<KeyUsage>,
    algorithm: KeyAlgorithm,
) -> Result<(), Error> {
    if !derive_key_usage.is_some_and(|u| rule.usages.contains(&u)) {
        let names: Vec<String> = rule.usages.iter().map(ToString::to_string).collect();
        return Err(Error::policy(
            Rule::KeyUsage,
            format!(
                "{}: the ECC key pair derives {} keys; this needs one created with \
                 DeriveKeyUsage {}",
                rule.name,
                derive_key_usage.map_or_else(|| "no".to_owned(), |u| u.to_string()),
                names.join(" or ")
            ),
        ));
    }
    if !rule.algorithms.contains(&algorithm) {
        return Err(Error::policy(
            Rule::KeyAlgorithm,
            format!("{}: a derived key cannot be {algorithm}", rule.name),
        ));
    }
    Ok(())
}

/// Whether attributes fit a role (usage, algorithm, mode), ignoring state.
pub fn fits(role: &KeyRole, a: &KeyAttributes) -> bool {
    check_attributes_for(role, a).is_ok()
}

fn check_attributes_for(role: &KeyRole, a: &KeyAttributes) -> Result<(), Error> {
    if a.key_class != role.class {
        return Err(Error::policy(
            Rule::KeyClass,
            format!(
                "{}: needs a key of class {}, not {}",
                role.name,
                role.class.name(),
                a.key_class.name()
            ),
        ));
    }
    if !role.usages.contains(&a.key_usage) {
        let names: Vec<String> = role.usages.iter().map(ToString::to_string).collect();
        return Err(Error::policy(
            Rule::KeyUsage,
            format!(
                "{}: a {} key cannot be used; it needs {}",
                role.name,
                a.key_usage,
                names.join(" or ")
            ),
        ));
    }
    if !role.algorithms.contains(&a.key_algorithm) {
        return Err(Error::policy(
            Rule::KeyAlgorithm,
            format!("{}: a {} key cannot be used", role.name, a.key_algorithm),
        ));
    }
    if !role.mode.allowed_by(&a.key_modes_of_use) {
        return Err(Error::policy(
            Rule::ModeOfUse,
            format!(
                "{}: the key's modes of use do not include {}",
                role.name,
                role.mode.name()
            ),
        ));
    }
    Ok(())
}

/// Checks that a stored key may play `role` now: state, enabled flag, then attributes.
pub fn check_key(role: &KeyRole, record: &KeyRecord) -> Result<(), Error> {
    check_usable(record)?;
    check_attributes_for(role, &record.attributes)
}

/// The states in which a key's resource-based policy may be put or deleted: while the key
/// exists or can be restored (`PutResourcePolicy`, `DeleteResourcePolicy`).
pub const RESOURCE_POLICY_STATES: &[KeyState] =
    &[KeyState::CreateComplete, KeyState::DeletePending];

/// Checks that `operation` may change a key in its state (`ConflictException` otherwise).
pub fn check_state(operation: &str, allowed: &[KeyState], record: &KeyRecord) -> Result<(), Error> {
    if allowed.contains(&record.state) {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "{operation}: the key is {}",
            record.state.name()
        )))
    }
}

/// Checks that a stored key may be used at all: `CREATE_COMPLETE` and enabled.
pub fn check_usable(record: &KeyRecord) -> Result<(), Error> {
    match record.state {
        KeyState::CreateComplete => {}
        s => {
            return Err(Error::policy(
                Rule::KeyState,
                format!("the key is {} and cannot be used", s.name()),
            ));
        }
    }
    if !record.enabled {
        return Err(Error::policy(
            Rule::KeyDisabled,
            "the key is disabled (StopKeyUsage); StartKeyUsage enables it",
        ));
    }
    Ok(())
}

/// Checks a TR-31 export of `key` under `wrapping_key` with the `export` header: the
/// wrapping key's role and fit for the header's version, then [`check_exportable`] and
/// [`check_wrapping_strength`].
pub fn check_export(
    key: &KeyRecord,
    wrapping_key: &KeyRecord,
    export: &Header,
) -> Result<(), Error> {
    check_key(&roles::TR31_WRAP, wrapping_key)?;
    check_export_under(key, &wrapping_key.attributes, export)
}

/// Checks a TR-31 export of `key` under a KBPK with attributes `kbpk` (stored, or derived by
/// ECDH) and the `export` header: the KBPK's fit for the header's version, then
/// [`check_exportable`] and [`check_wrapping_strength`].
pub fn check_export_under(
    key: &KeyRecord,
    kbpk: &KeyAttributes,
    export: &Header,
) -> Result<(), Error> {
    check_kbpk_wraps(kbpk, export)?;
    check_exportable(key, export)?;
    check_wrapping_strength(kbpk.key_algorithm, key)
}

/// Checks a TranslateKeyMaterial re-wrap of a key that arrived with the `incoming` header,
/// under `wrapping_key` with the `outgoing` header: the checks of an export
/// ([`check_export`]) with the incoming block's header in place of a stored key's.
pub fn check_translation(
    incoming: &Header,
    key_algorithm: KeyAlgorithm,
    wrapping_key: &KeyRecord,
    outgoing: &Header,
) -> Result<(), Error> {
    check_tr31_wrapping_key(&roles::TRANSLATE_WRAP, wrapping_key, outgoing)?;
    check_narrowing(incoming, outgoing)?;
    check_algorithm_strength(wrapping_key.attributes.key_algorithm, key_algorithm)
}

/// Checks that a stored key may play `role`, wrapping a block with the `export` header.
fn check_tr31_wrapping_key(
    role: &KeyRole,
    wrapping_key: &KeyRecord,
    export: &Header,
) -> Result<(), Error> {
    check_key(role, wrapping_key)?;
    check_kbpk_wraps(&wrapping_key.attributes, export)
}

/// Checks that a KBPK with attributes `kbpk` may wrap a block with the `export` header.
fn check_kbpk_wraps(kbpk: &KeyAttributes, export: &Header) -> Result<(), Error> {
    tr31_policy::check_kbpk(kbpk, export.version(), Direction::Wrap)
        .map_err(|e| Error::policy(Rule::KeyAlgorithm, e.to_string()))
}

/// Checks that `key` may leave the HSM with the `export` header, whatever wraps it: usable, a
/// symmetric key (private and public keys are not exported), exportable, and the header only
/// narrows its attributes.
pub fn check_exportable(key: &KeyRecord, export: &Header) -> Result<(), Error> {
    check_usable(key)?;
    check_transportable(key, export)
}

/// The attribute checks of an export: a symmetric, exportable key, whose header only narrows.
fn check_transportable(key: &KeyRecord, export: &Header) -> Result<(), Error> {
    if key.attributes.key_class != KeyClass::SymmetricKey {
        return Err(Error::policy(
            Rule::KeyClass,
            "only symmetric keys are exported",
        ));
    }
    check_narrowing(&stored_header(key)?, export)
}

/// Checks that a key whose attributes `from` states may leave with the header `to`: it is
/// exportable, and `to` only narrows `from`.
fn check_narrowing(from: &Header, to: &Header) -> Result<(), Error> {
    if from.exportability() == Exportability::NON_EXPORTABLE {
        return Err(Error::policy(
            Rule::Exportability,
            "the key is not exportable",
        ));
    }
    tr31_policy::check_export(from, to)
        .map_err(|e| Error::policy(Rule::ExportWidening, e.to_string()))
}

/// Checks that a key of `attributes` may have replicas in other regions: a symmetric key that
/// may leave the HSM (each has a [`KekExchange`] strong enough). Each refusal says why.
pub fn check_replicable(attributes: &KeyAttributes, exportable: bool) -> Result<(), Error> {
    if attributes.key_class != KeyClass::SymmetricKey {
        return Err(Error::policy(
            Rule::KeyClass,
            format!(
                "ReplicationRegions: only symmetric keys are replicated; a {} key of class {} \
                 is not",
                attributes.key_algorithm,
                attributes.key_class.name()
            ),
        ));
    }
    if !exportable {
        return Err(Error::policy(
            Rule::Exportability,
            "ReplicationRegions: only exportable keys are replicated (a replica travels as a \
             TR-31 key block); create the key with Exportable true",
        ));
    }
    Ok(())
}

/// Checks that a key may be changed here: a replica is read-only, and the message names the
/// primary's region, where the change is made.
pub fn check_writable(key: &KeyRecord) -> Result<(), Error> {
    match &key.multi_region {
        Some(MultiRegion::Replica { primary_region, .. }) => Err(Error::policy(
            Rule::ReplicaReadOnly,
            format!(
                "key {} is a replica of the primary key in {primary_region}, which holds all \
                 management authority: make this change in {primary_region}",
                key.key_id
            ),
        )),
        _ => Ok(()),
    }
}

/// Checks that `key` may travel to its replica under the replication KEK `kek` with the
/// `export` header: the checks of [`check_export`], except that a disabled key travels too
/// (its replica is disabled as well); a key being deleted does not.
pub fn check_replica_export(
    key: &KeyRecord,
    kek: &KeyRecord,
    export: &Header,
) -> Result<(), Error> {
    if key.state != KeyState::CreateComplete {
        return Err(Error::policy(
            Rule::KeyState,
            format!("the key is {} and is not replicated", key.state.name()),
        ));
    }
    check_key(&roles::TR31_WRAP, kek)?;
    tr31_policy::check_kbpk(&kek.attributes, export.version(), Direction::Wrap)
        .map_err(|e| Error::policy(Rule::KeyAlgorithm, e.to_string()))?;
    check_transportable(key, export)?;
    check_wrapping_strength(kek.attributes.key_algorithm, key)
}

/// Checks that a wrapping key of algorithm `wrapping` (a TR-31 KEK, or the RSA key of a TR-34
/// KRD certificate) is at least as strong as `key`: so RSA-2048 carries TDES keys and
/// RSA-3072 and RSA-4096 carry keys up to AES-128.
pub fn check_wrapping_strength(wrapping: KeyAlgorithm, key: &KeyRecord) -> Result<(), Error> {
    check_algorithm_strength(wrapping, key.attributes.key_algorithm)
}

fn check_algorithm_strength(wrapping: KeyAlgorithm, key: KeyAlgorithm) -> Result<(), Error> {
    tr31_policy::check_wrapping_strength(wrapping, key)
        .map_err(|e| Error::policy(Rule::WrappingStrength, e.to_string()))
}

/// Checks that a key of algorithm `key` may travel in an RSA key cryptogram under an RSA key
/// of algorithm `wrapping`: one of [`KEY_CRYPTOGRAM_ALGORITHMS`], and no stronger than the
/// RSA key ([`check_wrapping_strength`]).
pub fn check_key_cryptogram(wrapping: KeyAlgorithm, key: KeyAlgorithm) -> Result<(), Error> {
    if !KEY_CRYPTOGRAM_ALGORITHMS.contains(&key) {
        return Err(Error::policy(
            Rule::KeyAlgorithm,
            format!(
                "KeyCryptogram: a {key} key does not travel in an RSA key cryptogram; the \
                 service exchanges TDES_2KEY, TDES_3KEY and AES_128 keys this way"
            ),
        ));
    }
    check_algorithm_strength(wrapping, key).map_err(|_| {
        Error::policy(
            Rule::WrappingStrength,
            format!(
                "KeyCryptogram: an {wrapping} key is weaker than the {key} key it would carry; \
                 RSA_2048 carries TDES keys, RSA_3072 and RSA_4096 also AES_128"
            ),
        )
    })
}

/// Checks that a stored key may sign a certificate signing request for its public key
/// (`GetCertificateSigningRequest`): a usable key pair of the HSM's, of any usage (the
/// request's signature proves possession of the private key; it signs nothing else).
pub fn check_csr_key(record: &KeyRecord) -> Result<(), Error> {
    check_usable(record)?;
    if record.attributes.key_class == KeyClass::AsymmetricKeyPair {
        Ok(())
    } else {
        Err(Error::policy(
            Rule::KeyClass,
            format!(
                "GetCertificateSigningRequest: needs a key pair (ASYMMETRIC_KEY_PAIR), not a key \
                 of class {}",
                record.attributes.key_class.name()
            ),
        ))
    }
}

/// The TR-31 header that states a stored key's attributes and exportability (the header its
/// key block under the master key carries, less the label).
pub fn stored_header(key: &KeyRecord) -> Result<Header, Error> {
    header_for(&key.attributes, key.exportable)
}

/// The version D header stating `attributes` and `exportable`.
pub fn header_for(attributes: &KeyAttributes, exportable: bool) -> Result<Header, Error> {
    let (usage, algorithm, mode) = attributes
        .tr31_fields()
        .map_err(|e| Error::internal(format!("stored attributes: {e}")))?;
    let exportability = if exportable {
        Exportability::EXPORTABLE
    } else {
        Exportability::NON_EXPORTABLE
    };
    Header::new(
        payhsm_tr31::Version::D,
        usage,
        algorithm,
        mode,
        "00",
        exportability,
    )
    .map_err(|e| Error::internal(format!("stored header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_table_is_consistent() {
        let all: Vec<KeyAttributes> = valid_attributes().collect();
        let expected: usize = KEY_ATTRIBUTES
            .iter()
            .map(|r| r.algorithms.len() * r.modes.len())
            .sum();
        assert_eq!(all.len(), expected);
        for a in &all {
            check_attributes(a).unwrap();
        }
        // Every role can be played by some valid key.
        for r in KEY_ROLES {
            assert!(all.iter().any(|a| fits(r, a)), "{}", r.name);
        }
    }

    #[test]
    fn the_replication_keks_travel_and_carry_at_full_strength() {
        use KekExchange::{Ecdh, Tr34};
        tr31_policy::check_wrapping_strength(REPLICATION_KEK_TRANSPORT, Tr34.kek()).unwrap();
        tr31_policy::check_wrapping_strength(REPLICATION_KEK_AGREEMENT, Ecdh.kek()).unwrap();
        let key =
            |a| KeyAttributes::from_tr31(KeyUsage::D0, ModeOfUse::ENCRYPT_DECRYPT, a).unwrap();
        for (a, exchange) in [
            (Tdes2Key, Tr34),
            (Tdes3Key, Tr34),
            (Aes128, Tr34),
            (Aes192, Ecdh),
            (Aes256, Ecdh),
            (HmacSha224, Ecdh),
            (HmacSha512, Ecdh),
        ] {
            assert_eq!(KekExchange::for_key(a), exchange, "{a}");
            tr31_policy::check_wrapping_strength(exchange.kek(), a).unwrap();
        }
        check_replicable(&key(Aes256), true).unwrap();
        assert!(check_replicable(&key(Tdes2Key), false).is_err());
    }

    #[test]
    fn invalid_attributes_are_refused() {
        let cvk = KeyAttributes::from_tr31(
            KeyUsage::C0,
            ModeOfUse::GENERATE_VERIFY,
            KeyAlgorithm::Tdes2Key,
        )
        .unwrap();
        check_attributes(&cvk).unwrap();
        for bad in [
            KeyAttributes {
                key_modes_of_use: KeyModesOfUse::from_mode_of_use(ModeOfUse::ENCRYPT).unwrap(),
                ..cvk
            },
            KeyAttributes {
                key_algorithm: KeyAlgorithm::HmacSha256,
                ..cvk
            },
            KeyAttributes {
                key_class: KeyClass::PublicKey,
                ..cvk
            },
            KeyAttributes {
                key_usage: KeyUsage::S0,
                ..cvk
            },
            KeyAttributes {
                key_algorithm: KeyAlgorithm::Rsa2048,
                ..cvk
            },
            KeyAttributes {
                key_class: KeyClass::AsymmetricKeyPair,
                key_algorithm: KeyAlgorithm::Rsa2048,
                ..cvk
            },
            KeyAttributes {
                key_class: KeyClass::PublicKey,
                key_usage: KeyUsage::S0,
                key_algorithm: KeyAlgorithm::Rsa2048,
                ..cvk
            },
            KeyAttributes {
                key_modes_of_use: KeyModesOfUse::default(),
                ..cvk
            },
        ] {
            assert!(
                matches!(
                    check_attributes(&bad),
                    Err(Error::Policy {
                        rule: Rule::KeyAttributes,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}

/// Multi-party approval ([`crate::lifecycle::mpa`]): what a team may protect, what a team is,
/// who may approve, and how a session moves.
pub mod mpa {
    use serde::{Deserialize, Serialize};

    use crate::Error;

    /// `IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE`: `ImportKey` of a `RootCertificatePublicKey`.
    pub const IMPORT_ROOT: &str = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE";

    /// The operations a team may protect (the service's `MpaOperation`).
    pub const PROTECTED_OPERATIONS: &[&str] = &[IMPORT_ROOT];

    /// The most approvers a team has.
    pub const MAX_APPROVERS: usize = 20;

    /// A session's state (`SessionStatus`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum SessionStatus {
        /// Waiting for approvals.
        Pending,
        /// Approved by the required number of approvers.
        Approved,
        /// Rejected by an approver.
        Failed,
        /// Cancelled by the requester.
        Cancelled,
    }

    impl SessionStatus {
        /// The service's name.
        pub const fn name(self) -> &'static str {
            match self {
                Self::Pending => "PENDING",
                Self::Approved => "APPROVED",
                Self::Failed => "FAILED",
                Self::Cancelled => "CANCELLED",
            }
        }
    }

    /// What happens to a session.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SessionEvent {
        /// An approver approves.
        Approve,
        /// An approver rejects.
        Reject,
        /// The requester cancels.
        Cancel,
    }

    /// The session's transitions: (from, event, quorum reached, to). Anything else is a
    /// `ConflictException`: a decided session stays decided.
    pub const TRANSITIONS: &[(SessionStatus, SessionEvent, bool, SessionStatus)] = {
        use SessionEvent::*;
        use SessionStatus::*;
        &[
            (Pending, Approve, false, Pending),
            (Pending, Approve, true, Approved),
            (Pending, Reject, false, Failed),
            (Pending, Reject, true, Failed),
            (Pending, Cancel, false, Cancelled),
            (Pending, Cancel, true, Cancelled),
        ]
    };

    /// The state `event` moves a session in `from` to.
    pub fn transition(
        from: SessionStatus,
        event: SessionEvent,
        quorum: bool,
    ) -> Result<SessionStatus, Error> {
        TRANSITIONS
            .iter()
            .find(|(f, e, q, _)| *f == from && *e == event && *q == quorum)
            .map(|(.., to)| *to)
            .ok_or_else(|| Error::conflict(format!("the session is {}", from.name())))
    }

    /// Checks an operation name (`Action`).
    pub fn check_operation(field: &str, action: &str) -> Result<(), Error> {
        if PROTECTED_OPERATIONS.contains(&action) {
            Ok(())
        } else {
            Err(Error::validation(
                field,
                format!("expected one of {}", PROTECTED_OPERATIONS.join(", ")),
            ))
        }
    }

    /// Checks a team or approver name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    pub fn check_name(name: &str) -> Result<(), Error> {
        if (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            Ok(())
        } else {
            Err(Error::validation(
                "Name",
                format!("{name:?}: expected 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'"),
            ))
        }
    }

    /// Checks a new team: its name, 1 to [`MAX_APPROVERS`] distinct named approvers, and
    /// 1 to that many required approvals (dual control needs 2; 1 is allowed, as the service
    /// allows a team of one).
    pub fn check_team(name: &str, approvers: &[String], required: usize) -> Result<(), Error> {
        check_name(name)?;
        if !(1..=MAX_APPROVERS).contains(&approvers.len()) {
            return Err(Error::validation(
                "Approvers",
                format!("expected 1 to {MAX_APPROVERS} approvers"),
            ));
        }
        for (i, a) in approvers.iter().enumerate() {
            check_name(a).map_err(|_| {
                Error::validation("Approvers", format!("{a:?} is no approver name"))
            })?;
            if approvers[..i].contains(a) {
                return Err(Error::validation(
                    "Approvers",
                    format!("{a} is named twice"),
                ));
            }
        }
        if !(1..=approvers.len()).contains(&required) {
            return Err(Error::validation(
                "RequiredApprovals",
                format!(
                    "expected 1 to {} (the number of approvers)",
                    approvers.len()
                ),
            ));
        }
        Ok(())
    }

    /// Checks that `who` is one of the team's approvers and has not approved yet.
    pub fn check_approver(team: &[String], approvals: &[String], who: &str) -> Result<(), Error> {
        if !team.iter().any(|a| a == who) {
            return Err(Error::validation(
                "Approver",
                format!("{who} is not an approver of this session's team"),
            ));
        }
        if approvals.iter().any(|a| a == who) {
            return Err(Error::validation(
                "Approver",
                format!("{who} has approved already: approvals must come from distinct approvers"),
            ));
        }
        Ok(())
    }
}
