//! TR-31 header codes as newtypes over their ASCII bytes.
//!
//! Each code type has named constants for the codes X9.143 defines, with the name AWS Payment
//! Cryptography uses where it has one. Unknown and proprietary codes (X9.143 reserves numeric
//! key usages for proprietary use) stay representable: they round-trip byte for byte and print
//! as `TR31_<code>`.

macro_rules! tr31_code {
    (
        $(#[$meta:meta])*
        $name:ident, $n:literal, $field:literal {
            $( $konst:ident = $code:literal, $label:literal, $desc:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $n]);

        impl $name {
            $(
                #[doc = $desc]
                pub const $konst: Self = Self(*$code);
            )*

            const KNOWN: &'static [(Self, &'static str, &'static str)] =
                &[$((Self::$konst, $label, $desc)),*];

            /// The code from its header bytes: any ASCII letters and digits.
            pub fn from_code(code: &[u8]) -> Result<Self, $crate::Error> {
                let bytes: [u8; $n] = code.try_into().map_err(|_| $crate::Error::InvalidLength {
                    field: $field,
                    expected: concat!(stringify!($n), " characters"),
                    actual: code.len(),
                })?;
                if !bytes.iter().all(u8::is_ascii_alphanumeric) {
                    return Err($crate::Error::InvalidValue {
                        field: $field,
                        reason: "must be ASCII letters or digits",
                    });
                }
                Ok(Self(bytes))
            }

            /// The code by its name (`TR31_P0_PIN_ENCRYPTION_KEY`) or the generic `TR31_<code>`.
            pub fn from_name(name: &str) -> Result<Self, $crate::Error> {
                if let Some((code, _, _)) = Self::KNOWN.iter().find(|(_, l, _)| *l == name) {
                    return Ok(*code);
                }
                match name.strip_prefix("TR31_") {
                    Some(code) if code.len() == $n => Self::from_code(code.as_bytes()),
                    _ => Err($crate::Error::InvalidValue {
                        field: $field,
                        reason: "unknown name",
                    }),
                }
            }

            /// The header bytes.
            pub const fn code(&self) -> [u8; $n] {
                self.0
            }

            /// The header bytes as text.
            pub fn code_str(&self) -> &str {
                // Constructed only from ASCII alphanumerics.
                core::str::from_utf8(&self.0).unwrap_or("?")
            }

            /// The name, if X9.143 defines this code.
            pub fn known_name(&self) -> Option<&'static str> {
                Self::KNOWN.iter().find(|(c, _, _)| c == self).map(|(_, l, _)| *l)
            }

            /// What the code means, if X9.143 defines it.
            pub fn description(&self) -> Option<&'static str> {
                Self::KNOWN.iter().find(|(c, _, _)| c == self).map(|(_, _, d)| *d)
            }

            /// Every code X9.143 defines.
            pub fn known() -> impl Iterator<Item = Self> {
                Self::KNOWN.iter().map(|(c, _, _)| *c)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.known_name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "TR31_{}", self.code_str()),
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "({} {})"), self.code_str(), self)
            }
        }
    };
}

tr31_code! {
    /// Key usage, header bytes 5–6 (X9.143 Table 2). Names follow AWS Payment Cryptography's
    /// `KeyUsage` where it has one, and the same pattern elsewhere.
    KeyUsage, 2, "key usage" {
        B0 = b"B0", "TR31_B0_BASE_DERIVATION_KEY", "Base derivation key (BDK)";
        B1 = b"B1", "TR31_B1_INITIAL_DUKPT_KEY", "Initial DUKPT key (IPEK / IK)";
        B2 = b"B2", "TR31_B2_BASE_KEY_VARIANT_KEY", "Base key variant key";
        B3 = b"B3", "TR31_B3_KEY_DERIVATION_KEY", "Key derivation key (non-X9.24)";
        C0 = b"C0", "TR31_C0_CARD_VERIFICATION_KEY", "Card verification key (CVK)";
        D0 = b"D0", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "Symmetric key for data encryption";
        D1 = b"D1", "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "Asymmetric key for data encryption";
        D2 = b"D2", "TR31_D2_DECIMALIZATION_TABLE_DATA_ENCRYPTION_KEY", "Data encryption key for decimalization tables";
        D3 = b"D3", "TR31_D3_SENSITIVE_DATA_ENCRYPTION_KEY", "Data encryption key for sensitive data";
        E0 = b"E0", "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS", "EMV/chip issuer master key: application cryptograms";
        E1 = b"E1", "TR31_E1_EMV_MKEY_CONFIDENTIALITY", "EMV/chip issuer master key: secure messaging for confidentiality";
        E2 = b"E2", "TR31_E2_EMV_MKEY_INTEGRITY", "EMV/chip issuer master key: secure messaging for integrity";
        E3 = b"E3", "TR31_E3_EMV_MKEY_DATA_AUTHENTICATION_CODE", "EMV/chip issuer master key: data authentication code";
        E4 = b"E4", "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS", "EMV/chip issuer master key: dynamic numbers";
        E5 = b"E5", "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION", "EMV/chip issuer master key: card personalization";
        E6 = b"E6", "TR31_E6_EMV_MKEY_OTHER", "EMV/chip issuer master key: other";
        E7 = b"E7", "TR31_E7_EMV_ASYMMETRIC_KEY_PAIR", "EMV/chip asymmetric key pair";
        I0 = b"I0", "TR31_I0_INITIALIZATION_VECTOR", "Initialization vector (IV)";
        K0 = b"K0", "TR31_K0_KEY_ENCRYPTION_KEY", "Key encryption or wrapping key";
        K1 = b"K1", "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TR-31 key block protection key";
        K2 = b"K2", "TR31_K2_TR34_ASYMMETRIC_KEY", "TR-34 asymmetric key";
        K3 = b"K3", "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "Asymmetric key for key agreement or key wrapping";
        K4 = b"K4", "TR31_K4_ISO_20038_KEY_BLOCK_PROTECTION_KEY", "ISO 20038 key block protection key";
        M0 = b"M0", "TR31_M0_ISO_16609_MAC_KEY", "ISO 16609 MAC algorithm 1 (TDEA)";
        M1 = b"M1", "TR31_M1_ISO_9797_1_MAC_KEY", "ISO 9797-1 MAC algorithm 1";
        M2 = b"M2", "TR31_M2_ISO_9797_2_MAC_KEY", "ISO 9797-1 MAC algorithm 2";
        M3 = b"M3", "TR31_M3_ISO_9797_3_MAC_KEY", "ISO 9797-1 MAC algorithm 3";
        M4 = b"M4", "TR31_M4_ISO_9797_4_MAC_KEY", "ISO 9797-1 MAC algorithm 4";
        M5 = b"M5", "TR31_M5_ISO_9797_5_MAC_KEY", "ISO 9797-1:1999 MAC algorithm 5";
        M6 = b"M6", "TR31_M6_ISO_9797_5_CMAC_KEY", "ISO 9797-1:2011 MAC algorithm 5 (CMAC)";
        M7 = b"M7", "TR31_M7_HMAC_KEY", "HMAC key";
        M8 = b"M8", "TR31_M8_ISO_9797_6_MAC_KEY", "ISO 9797-1:2011 MAC algorithm 6";
        P0 = b"P0", "TR31_P0_PIN_ENCRYPTION_KEY", "PIN encryption key";
        P1 = b"P1", "TR31_P1_PIN_GENERATION_KEY", "PIN generation key";
        S0 = b"S0", "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "Asymmetric key pair for digital signature";
        S1 = b"S1", "TR31_S1_ASYMMETRIC_KEY_FOR_CA", "Asymmetric key pair, CA key";
        S2 = b"S2", "TR31_S2_ASYMMETRIC_KEY_NON_X9_24", "Asymmetric key pair, non-X9.24 key";
        V0 = b"V0", "TR31_V0_PIN_VERIFICATION_KEY_OTHER", "PIN verification key, other algorithm";
        V1 = b"V1", "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "PIN verification key, IBM 3624";
        V2 = b"V2", "TR31_V2_VISA_PIN_VERIFICATION_KEY", "PIN verification key, Visa PVV";
        V3 = b"V3", "TR31_V3_X9_132_ALGORITHM_1_KEY", "PIN verification key, X9.132 algorithm 1";
        V4 = b"V4", "TR31_V4_X9_132_ALGORITHM_2_KEY", "PIN verification key, X9.132 algorithm 2";
        V5 = b"V5", "TR31_V5_X9_132_ALGORITHM_3_KEY", "PIN verification key, X9.132 algorithm 3";
    }
}

tr31_code! {
    /// Algorithm, header byte 7 (X9.143 Table 3).
    Algorithm, 1, "algorithm" {
        AES = b"A", "AES", "AES";
        DES = b"D", "DES", "DES (single DES; legacy)";
        EC = b"E", "ECC", "Elliptic curve";
        HMAC = b"H", "HMAC", "HMAC";
        RSA = b"R", "RSA", "RSA";
        DSA = b"S", "DSA", "DSA";
        TDES = b"T", "TDES", "Triple DES";
    }
}

tr31_code! {
    /// Mode of use, header byte 8 (X9.143 Table 4).
    ModeOfUse, 1, "mode of use" {
        ENCRYPT_DECRYPT = b"B", "B_ENCRYPT_DECRYPT_WRAP_UNWRAP", "Both encrypt and decrypt / wrap and unwrap";
        GENERATE_VERIFY = b"C", "C_GENERATE_VERIFY", "Both generate and verify";
        DECRYPT = b"D", "D_DECRYPT_UNWRAP", "Decrypt / unwrap only";
        ENCRYPT = b"E", "E_ENCRYPT_WRAP", "Encrypt / wrap only";
        GENERATE = b"G", "G_GENERATE", "Generate only";
        NO_RESTRICTIONS = b"N", "N_NO_RESTRICTIONS", "No special restrictions";
        SIGN = b"S", "S_SIGN", "Signature only";
        SIGN_DECRYPT = b"T", "T_SIGN_DECRYPT", "Both sign and decrypt";
        VERIFY = b"V", "V_VERIFY", "Verify only";
        DERIVE = b"X", "X_DERIVE_KEYS", "Key used to derive other keys";
        VARIANT = b"Y", "Y_CREATE_VARIANTS", "Key used to create key variants";
    }
}

tr31_code! {
    /// Exportability, header byte 11 (X9.143 Table 6).
    Exportability, 1, "exportability" {
        EXPORTABLE = b"E", "EXPORTABLE", "Exportable under a KEK in a form meeting X9.24";
        NON_EXPORTABLE = b"N", "NON_EXPORTABLE", "Non-exportable";
        SENSITIVE = b"S", "SENSITIVE", "Sensitive: exportable under a KEK in a form not necessarily meeting X9.24";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, string::ToString};

    #[test]
    fn known_codes_round_trip_by_code_and_name() {
        for u in KeyUsage::known() {
            assert_eq!(KeyUsage::from_code(&u.code()).unwrap(), u);
            assert_eq!(KeyUsage::from_name(&u.to_string()).unwrap(), u);
        }
        assert_eq!(KeyUsage::P0.to_string(), "TR31_P0_PIN_ENCRYPTION_KEY");
    }

    #[test]
    fn proprietary_codes_stay_representable() {
        let u = KeyUsage::from_code(b"9Z").unwrap();
        assert_eq!(u.to_string(), "TR31_9Z");
        assert_eq!(format!("{u:?}"), "KeyUsage(9Z TR31_9Z)");
        assert_eq!(KeyUsage::from_name("TR31_9Z").unwrap(), u);
        assert_eq!(u.description(), None);
        assert!(KeyUsage::from_code(b"P").is_err());
        assert!(KeyUsage::from_code(b"P\x01").is_err());
        assert!(ModeOfUse::from_code(b"*").is_err());
    }
}
