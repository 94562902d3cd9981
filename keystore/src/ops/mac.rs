//! `GenerateMac` and `VerifyMac`.
//!
//! ISO 9797-1 algorithms 1 and 3 use padding method 1 (zeros), the ANSI X9.9 / X9.19 choice.
//! `MacLength` is in bytes. The `Dukpt*` members MAC under the DUKPT MAC working key of the
//! BDK named by `KeyIdentifier` and the request's KSN.

use payhsm_core::{
    dukpt::{self as core_dukpt, DukptMacAlgorithm, KeyVariant, Ksn},
    key::KeyAlgorithm,
    mac::{self, MacAlgorithm, Padding},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    dukpt::{self, DukptMacAttributes},
    hex_field, lenient_int, verified,
};
use crate::{
    Error, VerificationFailedReason,
    error::core_error,
    hsm::{Audit, Hsm},
    policy::{self, KeyRole, roles},
    store::Store,
};

/// `GenerateMac`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GenerateMacInput {
    /// The MAC key.
    pub key_identifier: String,
    /// The message, 2 to 8192 hex digits.
    pub message_data: String,
    /// The algorithm.
    pub generation_attributes: MacAttributes,
    /// 4 to 32 bytes; the algorithm's full output if absent.
    #[serde(default, deserialize_with = "lenient_int")]
    pub mac_length: Option<usize>,
}

/// `VerifyMac`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VerifyMacInput {
    /// The MAC key.
    pub key_identifier: String,
    /// The message, 2 to 8192 hex digits.
    pub message_data: String,
    /// The presented MAC, 8 to 128 hex digits.
    pub mac: String,
    /// The algorithm.
    pub verification_attributes: MacAttributes,
    /// The presented MAC's length in bytes (must agree with `Mac`).
    #[serde(default, deserialize_with = "lenient_int")]
    pub mac_length: Option<usize>,
}

/// `MacAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum MacAttributes {
    /// A MAC algorithm by name.
    Algorithm(String),
    /// EMV issuer-script MAC (not offered yet).
    EmvMac(Value),
    /// ISO 9797-1 algorithm 1 under a DUKPT MAC key of the BDK named by `KeyIdentifier`.
    DukptIso9797Algorithm1(DukptMacAttributes),
    /// ISO 9797-1 algorithm 3 under a DUKPT MAC key.
    DukptIso9797Algorithm3(DukptMacAttributes),
    /// CMAC under a DUKPT MAC key.
    DukptCmac(DukptMacAttributes),
}

/// What a MAC request asks for.
enum Method<'a> {
    /// A MAC key's own algorithm.
    Key(MacAlgorithm),
    /// A DUKPT working key of a BDK.
    Dukpt(DukptMacAlgorithm, &'a DukptMacAttributes, &'static str),
}

impl MacAttributes {
    fn parse(&self, base: &str, generate: bool) -> Result<(Method<'_>, KeyRole), Error> {
        let name = match self {
            Self::Algorithm(name) => name,
            Self::EmvMac(_) => return Err(not_offered(base, "EmvMac")),
            Self::DukptIso9797Algorithm1(d) => {
                return Ok((
                    Method::Dukpt(
                        DukptMacAlgorithm::Iso9797Algorithm1,
                        d,
                        "DukptIso9797Algorithm1",
                    ),
                    roles::DUKPT_BDK,
                ));
            }
            Self::DukptIso9797Algorithm3(d) => {
                return Ok((
                    Method::Dukpt(
                        DukptMacAlgorithm::Iso9797Algorithm3,
                        d,
                        "DukptIso9797Algorithm3",
                    ),
                    roles::DUKPT_BDK,
                ));
            }
            Self::DukptCmac(d) => {
                return Ok((
                    Method::Dukpt(DukptMacAlgorithm::Cmac, d, "DukptCmac"),
                    roles::DUKPT_BDK,
                ));
            }
        };
        let algorithm = MacAlgorithm::from_name(name)
            .map_err(|e| core_error(&format!("{base}.Algorithm"), e))?;
        use MacAlgorithm as M;
        let (g, v) = match algorithm {
            M::Iso9797Algorithm1 => (roles::MAC_ISO9797_1_GENERATE, roles::MAC_ISO9797_1_VERIFY),
            M::Iso9797Algorithm3 => (roles::MAC_ISO9797_3_GENERATE, roles::MAC_ISO9797_3_VERIFY),
            M::Cmac => (roles::MAC_CMAC_GENERATE, roles::MAC_CMAC_VERIFY),
            M::Hmac | M::HmacSha224 | M::HmacSha256 | M::HmacSha384 | M::HmacSha512 => {
                (roles::MAC_HMAC_GENERATE, roles::MAC_HMAC_VERIFY)
            }
            M::As2805_4_1 => (roles::MAC_AS2805_GENERATE, roles::MAC_AS2805_VERIFY),
        };
        Ok((Method::Key(algorithm), if generate { g } else { v }))
    }
}

/// The KSN, key variant and working-key algorithm of a DUKPT MAC request.
fn dukpt_parts(
    base: &str,
    member: &str,
    d: &DukptMacAttributes,
    bdk: KeyAlgorithm,
) -> Result<(Ksn, KeyVariant, Option<KeyAlgorithm>), Error> {
    let path = |f: &str| format!("{base}.{member}.{f}");
    Ok((
        dukpt::ksn(&path("KeySerialNumber"), &d.key_serial_number)?,
        dukpt::variant(&path("DukptKeyVariant"), Some(&d.dukpt_key_variant))?,
        dukpt::derivation_type(
            &path("DukptDerivationType"),
            d.dukpt_derivation_type.as_deref(),
            bdk,
        )?,
    ))
}

fn not_offered(base: &str, member: &str) -> Error {
    Error::validation(
        &format!("{base}.{member}"),
        "this MAC method is not offered by this HSM yet",
    )
}

impl<S: Store> Hsm<S> {
    /// `GenerateMac`.
    pub fn generate_mac(&self, input: GenerateMacInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("GenerateMac", Audit::FailuresOnly, params, || {
            let base = "GenerationAttributes";
            let (method, role) = input.generation_attributes.parse(base, true)?;
            let message = hex_field("MessageData", &input.message_data, 2, 8192)?;
            if let Some(n) = input.mac_length
                && !(4..=32).contains(&n)
            {
                return Err(Error::validation("MacLength", "expected 4 to 32 bytes"));
            }
            let record = self.load(&input.key_identifier, "KeyIdentifier")?;
            policy::check_key(&role, &record)?;
            let tag = match method {
                Method::Key(algorithm) => {
                    let key = self.store().open(&record)?;
                    mac::generate(
                        &*key,
                        algorithm,
                        &message,
                        Padding::Method1,
                        input.mac_length,
                    )
                }
                Method::Dukpt(algorithm, d, member) => {
                    let (ksn, variant, dt) =
                        dukpt_parts(base, member, d, record.attributes.key_algorithm)?;
                    let bdk = self.bdk(&record)?;
                    core_dukpt::generate_mac(
                        bdk.bdk(),
                        &ksn,
                        variant,
                        dt,
                        algorithm,
                        &message,
                        input.mac_length,
                    )
                }
            }
            .map_err(|e| core_error("MacLength", e))?;
            Ok((
                json!({
                    "KeyArn": self.arn_text(&record)?,
                    "KeyCheckValue": record.key_check_value,
                    "Mac": payhsm_core::hex::encode(tag.as_bytes()),
                }),
                Vec::new(),
            ))
        })
    }

    /// `VerifyMac`: the one `INVALID_MAC` on any mismatch.
    pub fn verify_mac(&self, input: VerifyMacInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("VerifyMac", Audit::FailuresOnly, params, || {
            let base = "VerificationAttributes";
            let (method, role) = input.verification_attributes.parse(base, false)?;
            let message = hex_field("MessageData", &input.message_data, 2, 8192)?;
            let presented = hex_field("Mac", &input.mac, 8, 128)?;
            if let Some(n) = input.mac_length
                && n != presented.len()
            {
                return Err(Error::validation(
                    "MacLength",
                    "does not match the length of Mac",
                ));
            }
            let record = self.load(&input.key_identifier, "KeyIdentifier")?;
            policy::check_key(&role, &record)?;
            let result = match method {
                Method::Key(algorithm) => {
                    let key = self.store().open(&record)?;
                    mac::verify(&*key, algorithm, &message, Padding::Method1, &presented)
                }
                Method::Dukpt(algorithm, d, member) => {
                    let (ksn, variant, dt) =
                        dukpt_parts(base, member, d, record.attributes.key_algorithm)?;
                    let bdk = self.bdk(&record)?;
                    core_dukpt::verify_mac(
                        bdk.bdk(),
                        &ksn,
                        variant,
                        dt,
                        algorithm,
                        &message,
                        &presented,
                    )
                }
            };
            verified(result, VerificationFailedReason::InvalidMac, "Mac")?;
            Ok((
                json!({
                    "KeyArn": self.arn_text(&record)?,
                    "KeyCheckValue": record.key_check_value,
                }),
                Vec::new(),
            ))
        })
    }
}
