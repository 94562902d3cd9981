//! Every operation of the service's two models (botocore `payment-cryptography` 2021-09-14
//! and `payment-cryptography-data` 2022-02-03): its plane, HTTP method and path.
//!
//! The server routes requests through this table and the remote client builds them from it,
//! so adding an operation to the HSM needs no change here: every operation the models name is
//! already routed, and one the HSM does not offer gets the HSM's `ValidationException` that
//! names it.

/// Which of the service's two APIs an operation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plane {
    /// awsJson1_0: `POST /` with `X-Amz-Target: PaymentCryptographyControlPlane.<Op>`.
    Control,
    /// restJson1: a path per operation, key identifiers in path labels or the body.
    Data,
}

impl Plane {
    /// The request and response `Content-Type`.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Control => "application/x-amz-json-1.0",
            Self::Data => "application/json",
        }
    }
}

/// The control plane's `X-Amz-Target` prefix (the model's `targetPrefix`).
pub const TARGET_PREFIX: &str = "PaymentCryptographyControlPlane";

/// The `X-Amz-Target` prefix of payhsm's internal operations ([`INTERNAL`]), by which one
/// payhsm region calls another's server; not part of the service, served to signed requests
/// only.
pub const INTERNAL_TARGET_PREFIX: &str = "PayhsmInternal";

/// The SigV4 signing name of both planes.
pub const SIGNING_NAME: &str = "payment-cryptography";

/// One operation of the models.
#[derive(Debug, PartialEq, Eq)]
pub struct Operation {
    /// The operation's name (`GenerateMac`).
    pub name: &'static str,
    /// Its plane.
    pub plane: Plane,
    /// Its HTTP method.
    pub method: &'static str,
    /// Its request URI; `{Member}` is a path label carrying that request member.
    pub path: &'static str,
    /// The control plane's `X-Amz-Target` prefix ([`TARGET_PREFIX`] or
    /// [`INTERNAL_TARGET_PREFIX`]); empty on the data plane.
    pub target_prefix: &'static str,
}

impl Operation {
    /// The names of the path labels, in order.
    pub fn labels(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    }

    /// Whether it is one of payhsm's internal operations.
    pub fn is_internal(&self) -> bool {
        self.target_prefix == INTERNAL_TARGET_PREFIX
    }
}

const fn control(name: &'static str) -> Operation {
    Operation {
        name,
        plane: Plane::Control,
        method: "POST",
        path: "/",
        target_prefix: TARGET_PREFIX,
    }
}

const fn internal(name: &'static str) -> Operation {
    Operation {
        target_prefix: INTERNAL_TARGET_PREFIX,
        ..control(name)
    }
}

const fn data(name: &'static str, path: &'static str) -> Operation {
    Operation {
        name,
        plane: Plane::Data,
        method: "POST",
        path,
        target_prefix: "",
    }
}

/// Every operation of both models.
pub const OPERATIONS: &[Operation] = &[
    control("AddKeyReplicationRegions"),
    control("AssociateMpaTeam"),
    control("CreateAlias"),
    control("CreateKey"),
    control("DeleteAlias"),
    control("DeleteKey"),
    control("DeleteResourcePolicy"),
    control("DisableDefaultKeyReplicationRegions"),
    control("DisassociateMpaTeam"),
    control("EnableDefaultKeyReplicationRegions"),
    control("ExportKey"),
    control("GetAlias"),
    control("GetCertificateSigningRequest"),
    control("GetDefaultKeyReplicationRegions"),
    control("GetKey"),
    control("GetMpaTeamAssociation"),
    control("GetParametersForExport"),
    control("GetParametersForImport"),
    control("GetPublicKeyCertificate"),
    control("GetResourcePolicy"),
    control("ImportKey"),
    control("ListAliases"),
    control("ListKeys"),
    control("ListTagsForResource"),
    control("PutResourcePolicy"),
    control("RemoveKeyReplicationRegions"),
    control("RestoreKey"),
    control("StartKeyUsage"),
    control("StopKeyUsage"),
    control("TagResource"),
    control("UntagResource"),
    control("UpdateAlias"),
    data("DecryptData", "/keys/{KeyIdentifier}/decrypt"),
    data("EncryptData", "/keys/{KeyIdentifier}/encrypt"),
    data(
        "GenerateAs2805KekValidation",
        "/as2805kekvalidation/generate",
    ),
    data("GenerateAuthRequestCryptogram", "/cryptogram/generate"),
    data("GenerateCardValidationData", "/cardvalidationdata/generate"),
    data("GenerateMac", "/mac/generate"),
    data("GenerateMacEmvPinChange", "/macemvpinchange/generate"),
    data("GeneratePinData", "/pindata/generate"),
    data("ReEncryptData", "/keys/{IncomingKeyIdentifier}/reencrypt"),
    data("TranslateKeyMaterial", "/keymaterial/translate"),
    data("TranslatePinData", "/pindata/translate"),
    data("VerifyAuthRequestCryptogram", "/cryptogram/verify"),
    data("VerifyCardValidationData", "/cardvalidationdata/verify"),
    data("VerifyMac", "/mac/verify"),
    data("VerifyPinData", "/pindata/verify"),
];

/// payhsm's internal operations (`api::INTERNAL`), on the control plane.
pub const INTERNAL: &[Operation] = &[internal("ImportKeyReplica")];

/// The operation named `name`, of the models or internal.
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().chain(INTERNAL).find(|o| o.name == name)
}

/// The control-plane operation an `X-Amz-Target` names (`<prefix>.<Operation>`).
pub fn by_target(target: &str) -> Option<&'static Operation> {
    let (prefix, name) = target.split_once('.')?;
    OPERATIONS
        .iter()
        .chain(INTERNAL)
        .find(|o| o.plane == Plane::Control && o.target_prefix == prefix && o.name == name)
}

#[cfg(test)]
mod tests {
    use payhsm_keystore::api::{CONTROL_PLANE, DATA_PLANE};

    use super::*;

    #[test]
    fn every_operation_the_hsm_offers_is_in_the_table_on_its_plane() {
        for (names, plane) in [(CONTROL_PLANE, Plane::Control), (DATA_PLANE, Plane::Data)] {
            for name in names {
                let op = find(name).unwrap_or_else(|| panic!("{name} is not in the table"));
                assert_eq!(op.plane, plane, "{name}");
            }
        }
    }

    #[test]
    fn the_table_has_both_models_whole_and_no_name_twice() {
        let count = |p| OPERATIONS.iter().filter(|o| o.plane == p).count();
        assert_eq!((count(Plane::Control), count(Plane::Data)), (32, 15));
        for (i, op) in OPERATIONS.iter().enumerate() {
            assert!(OPERATIONS[..i].iter().all(|o| o.name != op.name));
            assert!(
                OPERATIONS[..i]
                    .iter()
                    .all(|o| o.plane == Plane::Control || o.path != op.path)
            );
        }
    }

    #[test]
    fn internal_operations_are_the_hsms_and_only_under_their_prefix() {
        let names: Vec<_> = INTERNAL.iter().map(|o| o.name).collect();
        assert_eq!(names, payhsm_keystore::api::INTERNAL);
        assert!(find("ImportKeyReplica").unwrap().is_internal());
        assert!(by_target("PayhsmInternal.ImportKeyReplica").is_some());
        assert!(by_target("PaymentCryptographyControlPlane.ImportKeyReplica").is_none());
        assert!(by_target("PayhsmInternal.CreateKey").is_none());
        assert!(
            !by_target("PaymentCryptographyControlPlane.CreateKey")
                .unwrap()
                .is_internal()
        );
    }

    #[test]
    fn labels_are_the_braced_segments() {
        let labels: Vec<_> = find("ReEncryptData").unwrap().labels().collect();
        assert_eq!(labels, ["IncomingKeyIdentifier"]);
        assert_eq!(find("GenerateMac").unwrap().labels().count(), 0);
    }
}
