//! Dual control of root-certificate imports (`AssociateMpaTeam`, `DisassociateMpaTeam`,
//! `GetMpaTeamAssociation`, `Key.MpaStatus`) with the HSM's local approval teams.

use payhsm_keystore::{Error, Rule, Store};
use payhsm_tr34::rsa::RsaKeySize;
use serde_json::{Value, json};

use super::{Harness, arn_of, assert_field, assert_policy, asymmetric::import_trusted, pki};

const ACTION: &str = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE";

fn assert_conflict(r: Result<Value, Error>) {
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
}

fn assert_not_found(r: Result<Value, Error>) {
    assert!(matches!(r, Err(Error::ResourceNotFound { .. })), "{r:?}");
}

pub fn dual_control_of_root_imports<S: Store>(h: Harness<S>) {
    let import_root = || {
        h.call(
            "ImportKey",
            json!({ "KeyMaterial": { "RootCertificatePublicKey": {
                "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": { "Verify": true } },
                "PublicKeyCertificate": pki::b64(&pki::ca().cert) } },
                "RequesterComment": "the partner's CA" }),
        )
    };
    let first = match import_root() {
        Err(Error::NotSupported { .. }) => return super::assert_key_pairs_refused(&h),
        r => arn_of(&r.unwrap()),
    };
    let account = first.split(':').nth(4).unwrap().to_owned();
    let get = || h.call("GetMpaTeamAssociation", json!({ "Action": ACTION }));
    assert_not_found(get());

    // A team: named, distinct approvers, 1 to that many approvals.
    let approvers = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let team = h
        .hsm
        .create_mpa_team("ca-officers", &approvers(&["alice", "bob", "carol"]), 2)
        .unwrap();
    let team_arn = team["MpaTeamArn"].as_str().unwrap().to_owned();
    assert_eq!(
        team_arn,
        format!(
            "arn:aws:mpa:us-east-1:{}:approval-team/ca-officers",
            account
        )
    );
    for (name, names, required, field) in [
        ("t2", &["alice", "alice"][..], 1, "Approvers"),
        ("t2", &["alice", "bob"][..], 3, "RequiredApprovals"),
        ("t2", &["alice", "bob"][..], 0, "RequiredApprovals"),
        ("t2", &[][..], 0, "Approvers"),
        ("t 2", &["alice"][..], 1, "Name"),
        ("t2", &["al ice"][..], 1, "Approvers"),
    ] {
        assert_field(
            h.hsm.create_mpa_team(name, &approvers(names), required),
            field,
        );
    }
    assert_conflict(
        h.hsm
            .create_mpa_team("ca-officers", &approvers(&["dave"]), 1),
    );

    // The association.
    let associate = |arn: &str| {
        h.call(
            "AssociateMpaTeam",
            json!({ "Action": ACTION, "MpaTeamArn": arn, "RequesterComment": "dual control" }),
        )
    };
    assert_field(
        associate("arn:aws:mpa:us-east-1:1:approval-team/x"),
        "MpaTeamArn",
    );
    assert_not_found(associate(&team_arn.replace("ca-officers", "nobody")));
    assert_field(
        h.call(
            "AssociateMpaTeam",
            json!({ "Action": "EXPORT_KEY", "MpaTeamArn": team_arn }),
        ),
        "Action",
    );
    let association = associate(&team_arn).unwrap();
    let expected = json!({ "MpaTeamAssociation": {
        "Action": ACTION, "MpaTeamArn": team_arn, "AssociationState": "ACTIVE" } });
    assert_eq!(association, expected);
    assert_eq!(get().unwrap(), expected);
    assert_conflict(associate(&team_arn));

    // An import waits, unusable, for two distinct approvers.
    let pending = import_root().unwrap();
    let ca = arn_of(&pending);
    assert_eq!(pending["Key"]["KeyState"], "CREATE_IN_PROGRESS");
    let status = &pending["Key"]["MpaStatus"];
    assert_eq!(status["Status"], "PENDING");
    assert!(status["InitiationDate"].is_number());
    let session = status["MpaSessionArn"].as_str().unwrap().to_owned();
    let key_id = ca.rsplit('/').next().unwrap();
    assert_eq!(
        session,
        format!(
            "arn:aws:mpa:us-east-1:{}:session/ca-officers/{key_id}",
            account
        )
    );
    let krd = pki::krd(RsaKeySize::Rsa2048);
    let d1 = "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION";
    let trust = || {
        import_trusted(
            &h,
            &krd.cert,
            d1,
            json!({ "Encrypt": true, "Wrap": true }),
            &ca,
        )
    };
    assert_policy(trust(), Rule::KeyState);

    let approved = h
        .hsm
        .approve_mpa_session(&session, "alice")
        .and_then(payhsm_keystore::api::response)
        .unwrap();
    assert_eq!(approved["Key"]["MpaStatus"]["Status"], "PENDING");
    assert_eq!(
        approved["Key"]["MpaStatus"]["StatusMessage"],
        "1 of 2 approvals"
    );
    assert_policy(trust(), Rule::KeyState);
    // The same approver twice, and one not in the team, count for nothing.
    assert_field(
        h.hsm
            .approve_mpa_session(&session, "alice")
            .and_then(payhsm_keystore::api::response),
        "Approver",
    );
    assert_field(
        h.hsm
            .approve_mpa_session(&session, "mallory")
            .and_then(payhsm_keystore::api::response),
        "Approver",
    );
    assert_field(
        h.hsm
            .approve_mpa_session("arn:aws:mpa:us-east-1:1:session/x", "bob")
            .and_then(payhsm_keystore::api::response),
        "MpaSessionArn",
    );
    let approved = h
        .hsm
        .approve_mpa_session(&session, "bob")
        .and_then(payhsm_keystore::api::response)
        .unwrap();
    assert_eq!(approved["Key"]["KeyState"], "CREATE_COMPLETE");
    assert_eq!(approved["Key"]["MpaStatus"]["Status"], "APPROVED");
    assert_eq!(
        approved["Key"]["MpaStatus"]["StatusMessage"],
        "approved by alice, bob"
    );
    trust().unwrap();
    let key = h.ok("GetKey", json!({ "KeyIdentifier": ca }));
    assert_eq!(key["Key"]["MpaStatus"]["Status"], "APPROVED");
    // A decided session stays decided.
    assert_conflict(
        h.hsm
            .approve_mpa_session(&session, "carol")
            .and_then(payhsm_keystore::api::response),
    );
    assert_conflict(
        h.hsm
            .cancel_mpa_session(&session)
            .and_then(payhsm_keystore::api::response),
    );

    // A rejection, and a cancellation, delete the key.
    for reject in [true, false] {
        let pending = import_root().unwrap();
        let session = pending["Key"]["MpaStatus"]["MpaSessionArn"]
            .as_str()
            .unwrap()
            .to_owned();
        h.hsm
            .approve_mpa_session(&session, "carol")
            .and_then(payhsm_keystore::api::response)
            .unwrap();
        let (out, status) = if reject {
            (
                h.hsm
                    .reject_mpa_session(&session, "bob")
                    .and_then(payhsm_keystore::api::response),
                "FAILED",
            )
        } else {
            (
                h.hsm
                    .cancel_mpa_session(&session)
                    .and_then(payhsm_keystore::api::response),
                "CANCELLED",
            )
        };
        let out = out.unwrap();
        assert_eq!(out["Key"]["KeyState"], "DELETE_COMPLETE");
        assert_eq!(out["Key"]["MpaStatus"]["Status"], status);
        assert_conflict(
            h.hsm
                .approve_mpa_session(&session, "alice")
                .and_then(payhsm_keystore::api::response),
        );
    }

    // Each approver is named in the audit log.
    let lines = h.hsm.audit().lines();
    for who in ["alice", "bob", "carol"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("\"eventName\":\"ApproveMpaSession\"")
                    && l.contains(&format!("\"approver\":\"{who}\""))),
            "{who}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("RejectMpaSession") && l.contains("\"approver\":\"bob\""))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"eventName\":\"AssociateMpaTeam\""))
    );

    // Without the association, a root certificate imports at once.
    let removed = h
        .call("DisassociateMpaTeam", json!({ "Action": ACTION }))
        .unwrap();
    assert_eq!(removed, expected);
    assert_not_found(get());
    assert_not_found(h.call("DisassociateMpaTeam", json!({ "Action": ACTION })));
    let direct = import_root().unwrap();
    assert_eq!(direct["Key"]["KeyState"], "CREATE_COMPLETE");
    assert!(direct["Key"].get("MpaStatus").is_none());
}
