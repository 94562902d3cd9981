//! Operations by the service's names: one entry point for the CLI and the HTTP emulator.
//!
//! [`dispatch`] takes an operation name (`CreateKey`, `GenerateMac`, …) and the request as the
//! service's JSON, and returns the response JSON or the service's error.

use serde_json::Value;

use crate::{
    Error,
    hsm::{Hsm, request},
    store::Store,
};

/// The control-plane operations [`dispatch`] serves.
pub const CONTROL_PLANE: &[&str] = &[
    "CreateKey",
    "GetKey",
    "ListKeys",
    "DeleteKey",
    "RestoreKey",
    "StartKeyUsage",
    "StopKeyUsage",
    "ImportKey",
    "ExportKey",
    "CreateAlias",
    "GetAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// The data-plane operations [`dispatch`] serves.
pub const DATA_PLANE: &[&str] = &[
    "GenerateCardValidationData",
    "VerifyCardValidationData",
    "GeneratePinData",
    "VerifyPinData",
    "TranslatePinData",
    "GenerateMac",
    "VerifyMac",
    "EncryptData",
    "DecryptData",
    "ReEncryptData",
    "GenerateAuthRequestCryptogram",
    "VerifyAuthRequestCryptogram",
];

/// Runs `operation` with the request `input`. In the error state every operation fails
/// before its request is even read.
pub fn dispatch<S: Store>(hsm: &Hsm<S>, operation: &str, input: Value) -> Result<Value, Error> {
    hsm.self_test_result()?;
    match operation {
        "CreateKey" => hsm.create_key(request(input)?),
        "GetKey" => hsm.get_key(request(input)?),
        "ListKeys" => hsm.list_keys(request(input)?),
        "DeleteKey" => hsm.delete_key(request(input)?),
        "RestoreKey" => hsm.restore_key(request(input)?),
        "StartKeyUsage" => hsm.start_key_usage(request(input)?),
        "StopKeyUsage" => hsm.stop_key_usage(request(input)?),
        "ImportKey" => hsm.import_key(request(input)?),
        "ExportKey" => hsm.export_key(request(input)?),
        "CreateAlias" => hsm.create_alias(request(input)?),
        "GetAlias" => hsm.get_alias(request(input)?),
        "UpdateAlias" => hsm.update_alias(request(input)?),
        "DeleteAlias" => hsm.delete_alias(request(input)?),
        "ListAliases" => hsm.list_aliases(request(input)?),
        "TagResource" => hsm.tag_resource(request(input)?),
        "UntagResource" => hsm.untag_resource(request(input)?),
        "ListTagsForResource" => hsm.list_tags_for_resource(request(input)?),
        "GenerateCardValidationData" => hsm.generate_card_validation_data(request(input)?),
        "VerifyCardValidationData" => hsm.verify_card_validation_data(request(input)?),
        "GeneratePinData" => hsm.generate_pin_data(request(input)?),
        "VerifyPinData" => hsm.verify_pin_data(request(input)?),
        "TranslatePinData" => hsm.translate_pin_data(request(input)?),
        "GenerateMac" => hsm.generate_mac(request(input)?),
        "VerifyMac" => hsm.verify_mac(request(input)?),
        "EncryptData" => hsm.encrypt_data(request(input)?),
        "DecryptData" => hsm.decrypt_data(request(input)?),
        "ReEncryptData" => hsm.re_encrypt_data(request(input)?),
        "GenerateAuthRequestCryptogram" => hsm.generate_auth_request_cryptogram(request(input)?),
        "VerifyAuthRequestCryptogram" => hsm.verify_auth_request_cryptogram(request(input)?),
        other => Err(Error::validation(
            "Operation",
            format!("{other} is not an operation this HSM offers"),
        )),
    }
}
