//! `PutResourcePolicy`, `GetResourcePolicy`, `DeleteResourcePolicy`: one policy per key, kept
//! in its record, audited; public policies refused with `PublicPolicyException`.

use payhsm_keystore::{Error, Store};
use serde_json::{Value, json};

use super::{Harness, assert_validation, key_id};

const NAMED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["payment-cryptography:GenerateMac","payment-cryptography:VerifyMac"],"Resource":"*"}]}"#;
const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"payment-cryptography:*","Resource":"*"}]}"#;

pub fn resource_policies<S: Store>(h: Harness<S>) {
    let key = h.create(
        "TR31_M7_HMAC_KEY",
        "HMAC_SHA256",
        &["Generate", "Verify"],
        false,
    );
    let arn = json!({ "ResourceArn": key });
    let put = |policy: &str| {
        h.call(
            "PutResourcePolicy",
            json!({ "ResourceArn": key, "Policy": policy }),
        )
    };

    // None yet: Get says not found; Delete is idempotent.
    assert!(matches!(
        h.call("GetResourcePolicy", arn.clone()),
        Err(Error::ResourceNotFound { .. })
    ));
    assert_eq!(h.ok("DeleteResourcePolicy", arn.clone()), json!({}));

    let out = put(NAMED).unwrap();
    assert_eq!(out, json!({ "ResourceArn": key, "Policy": NAMED }));
    assert_eq!(
        h.ok("GetResourcePolicy", arn.clone()),
        json!({ "ResourceArn": key, "Policy": NAMED })
    );
    // The policy is in the key's record, as given.
    let record = h.hsm.store().get_key(key_id(&key)).unwrap().unwrap();
    assert_eq!(record.resource_policy.as_deref(), Some(NAMED));

    // A public policy is refused and the stored one stays.
    let refused = put(PUBLIC).unwrap_err();
    assert!(matches!(refused, Error::PublicPolicy { .. }), "{refused:?}");
    assert_eq!(refused.to_json()["__type"], "PublicPolicyException");
    assert!(refused.message().contains("Statement[0]"), "{refused}");
    assert_eq!(h.ok("GetResourcePolicy", arn.clone())["Policy"], NAMED);
    // Malformed policies and bad ARNs are validation errors.
    assert_validation(put("{"));
    assert_validation(put(""));
    assert_validation(put(&"x".repeat(20_481)));
    assert_validation(h.call(
        "PutResourcePolicy",
        json!({ "ResourceArn": "alias/x", "Policy": NAMED }),
    ));
    assert_validation(h.call("GetResourcePolicy", json!({})));
    let missing = format!("{}zzzzzzzzzzzzzzzz", &key[..key.len() - 16]);
    assert!(matches!(
        h.call("GetResourcePolicy", json!({ "ResourceArn": missing })),
        Err(Error::ResourceNotFound { .. })
    ));

    // Replacing, then a key pending deletion still takes a policy; a deleted key does not.
    let limited = PUBLIC.replace(
        r#""Resource":"*""#,
        r#""Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}"#,
    );
    put(&limited).unwrap();
    assert_eq!(
        h.ok("GetResourcePolicy", arn.clone())["Policy"],
        limited.as_str()
    );
    h.ok(
        "DeleteKey",
        json!({ "KeyIdentifier": key, "DeleteKeyInDays": 3 }),
    );
    put(NAMED).unwrap();
    h.clock.advance_days(4);
    assert_eq!(h.state(&key), "DELETE_COMPLETE");
    assert!(matches!(put(NAMED), Err(Error::Conflict { .. })));
    assert!(matches!(
        h.call("GetResourcePolicy", arn.clone()),
        Err(Error::ResourceNotFound { .. })
    ));

    // Every call is audited with its key; the refusal too.
    let events: Vec<Value> = h
        .hsm
        .audit()
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |name: &str| events.iter().filter(|e| e["eventName"] == name).count();
    assert!(
        of("PutResourcePolicy") >= 9
            && of("GetResourcePolicy") >= 4
            && of("DeleteResourcePolicy") >= 1
    );
    let public = events
        .iter()
        .find(|e| {
            e["eventName"] == "PutResourcePolicy" && e["errorCode"] == "PublicPolicyException"
        })
        .expect("the refusal is audited");
    assert_eq!(public["requestParameters"]["resourceArn"], key.as_str());
    let read = events
        .iter()
        .find(|e| e["eventName"] == "GetResourcePolicy" && e.get("errorCode").is_none())
        .unwrap();
    assert_eq!(read["readOnly"], true);
    assert_eq!(read["resources"][0]["ARN"], key.as_str());
}
