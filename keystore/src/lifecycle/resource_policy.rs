//! Resource-based policies: `PutResourcePolicy`, `GetResourcePolicy`, `DeleteResourcePolicy`.
//!
//! A key holds at most one policy, stored with its record as the JSON text given (1 to 20,480
//! characters of tab, line feed, carriage return and U+0020 to U+00FF, the service's
//! pattern). The HSM keeps it and answers with it; it does not evaluate it, since every caller
//! of this HSM is its account. A policy is checked as an IAM policy document (a `Statement`
//! of objects with `Effect`, a principal and an action) and refused with
//! `PublicPolicyException` when a statement would allow everyone: `Effect` `Allow` with
//! `Principal` `"*"` or any principal value with a `*`, or with `NotPrincipal`, unless a
//! condition limits it to known accounts or organisations (one of [`LIMITING_CONDITION_KEYS`]
//! under a positive operator, not `…IfExists`, with values free of wildcards).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    Error,
    hsm::{Audit, Hsm},
    policy::{self, RESOURCE_POLICY_STATES},
    store::Store,
};

/// The most characters a policy may have.
pub const MAX_POLICY_CHARS: usize = 20_480;

/// Condition keys that limit a statement to named accounts, principals or organisations.
pub const LIMITING_CONDITION_KEYS: &[&str] = &[
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOwner",
];

/// `PutResourcePolicy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PutResourcePolicyInput {
    /// The key's ARN.
    pub resource_arn: String,
    /// The policy document, as JSON text.
    pub policy: String,
}

/// `GetResourcePolicy` and `DeleteResourcePolicy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResourceArnInput {
    /// The key's ARN.
    pub resource_arn: String,
}

impl<S: Store> Hsm<S> {
    /// `PutResourcePolicy`: attaches or replaces the key's policy.
    pub fn put_resource_policy(&self, input: PutResourcePolicyInput) -> Result<Value, Error> {
        let params = || json!({ "resourceArn": input.resource_arn, "policy": input.policy });
        self.run("PutResourcePolicy", Audit::Write, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            check_policy(&input.policy)?;
            self.update(&input.resource_arn, "ResourceArn", |r, _| {
                policy::check_state("PutResourcePolicy", RESOURCE_POLICY_STATES, r)?;
                let mut next = r.clone();
                next.resource_policy = Some(input.policy.clone());
                Ok(Some(next))
            })?;
            let arn = self.arn(&key_id)?.to_string();
            Ok((
                json!({ "ResourceArn": arn, "Policy": input.policy }),
                vec![arn],
            ))
        })
    }

    /// `GetResourcePolicy`: `ResourceNotFoundException` when the key has none.
    pub fn get_resource_policy(&self, input: ResourceArnInput) -> Result<Value, Error> {
        let params = || json!({ "resourceArn": input.resource_arn });
        self.run("GetResourcePolicy", Audit::Read, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            let record = self.load(&input.resource_arn, "ResourceArn")?;
            let policy = record
                .resource_policy
                .ok_or_else(|| Error::not_found(&input.resource_arn))?;
            let arn = self.arn(&key_id)?.to_string();
            Ok((json!({ "ResourceArn": arn, "Policy": policy }), vec![arn]))
        })
    }

    /// `DeleteResourcePolicy`: idempotent.
    pub fn delete_resource_policy(&self, input: ResourceArnInput) -> Result<Value, Error> {
        let params = || json!({ "resourceArn": input.resource_arn });
        self.run("DeleteResourcePolicy", Audit::Write, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            self.update(&input.resource_arn, "ResourceArn", |r, _| {
                if r.resource_policy.is_none() {
                    return Ok(None);
                }
                policy::check_state("DeleteResourcePolicy", RESOURCE_POLICY_STATES, r)?;
                let mut next = r.clone();
                next.resource_policy = None;
                Ok(Some(next))
            })?;
            Ok((json!({}), vec![self.arn(&key_id)?.to_string()]))
        })
    }
}

/// Checks a policy's text and grammar, and that it grants nothing to everyone.
pub fn check_policy(text: &str) -> Result<(), Error> {
    let field = "Policy";
    let chars = text.chars().count();
    if !(1..=MAX_POLICY_CHARS).contains(&chars) {
        return Err(Error::validation(
            field,
            format!("expected 1 to {MAX_POLICY_CHARS} characters, got {chars}"),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(Error::validation(
            field,
            format!(
                "character U+{:04X} is not allowed in a policy",
                u32::from(c)
            ),
        ));
    }
    // A syntax error's text names the position, not the input.
    let document: Value = serde_json::from_str(text)
        .map_err(|e| Error::validation(field, format!("not JSON: {e}")))?;
    let document = document
        .as_object()
        .ok_or_else(|| Error::validation(field, "a policy is a JSON object"))?;
    if let Some(v) = document.get("Version")
        && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
    {
        return Err(Error::validation(
            "Policy.Version",
            "expected 2012-10-17 or 2008-10-17",
        ));
    }
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => {
            return Err(Error::validation(
                "Policy.Statement",
                "expected a statement or a non-empty list of statements",
            ));
        }
    };
    for (i, statement) in statements.into_iter().enumerate() {
        let path = format!("Policy.Statement[{i}]");
        let s = statement
            .as_object()
            .ok_or_else(|| Error::validation(&path, "a statement is a JSON object"))?;
        check_statement(s, &path)?;
    }
    Ok(())
}

fn check_statement(s: &Map<String, Value>, path: &str) -> Result<(), Error> {
    let allow = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => {
            return Err(Error::validation(
                &format!("{path}.Effect"),
                "expected Allow or Deny",
            ));
        }
    };
    let exactly_one = |a: &str, b: &str| {
        if s.contains_key(a) == s.contains_key(b) {
            Err(Error::validation(
                path,
                format!("expected one of {a} and {b}"),
            ))
        } else {
            Ok(())
        }
    };
    exactly_one("Principal", "NotPrincipal")?;
    exactly_one("Action", "NotAction")?;
    let everyone = match s.get("Principal") {
        Some(p) => names_everyone(p),
        // NotPrincipal allows everyone but the principals it names.
        None => true,
    };
    if allow && everyone && !is_limited(s.get("Condition")) {
        return Err(Error::PublicPolicy {
            message: format!(
                "{path} allows everyone (Principal \"*\" or a wildcard principal, or \
                 NotPrincipal) without a condition limiting it to named accounts; name the \
                 principals, or add a condition on one of {}",
                LIMITING_CONDITION_KEYS.join(", ")
            ),
        });
    }
    Ok(())
}

/// Whether a `Principal` names everyone: `"*"`, or a wildcard in any of its values.
fn names_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s.contains('*'),
        Value::Array(list) => list.iter().any(names_everyone),
        Value::Object(by_kind) => by_kind.values().any(names_everyone),
        _ => false,
    }
}

/// Whether a `Condition` limits a statement to named accounts or organisations.
fn is_limited(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.iter().any(|(operator, tests)| {
        let positive = !operator.contains("Not") && !operator.ends_with("IfExists");
        positive
            && tests.as_object().is_some_and(|tests| {
                tests.iter().any(|(key, values)| {
                    LIMITING_CONDITION_KEYS
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(key))
                        && names_only(values)
                })
            })
    })
}

/// Whether condition values are one or more strings without wildcards.
fn names_only(values: &Value) -> bool {
    let plain = |v: &Value| {
        v.as_str()
            .is_some_and(|s| !s.is_empty() && !s.contains(['*', '?']))
    };
    match values {
        Value::Array(list) => !list.is_empty() && list.iter().all(plain),
        v => plain(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(policy: &str) -> bool {
        matches!(check_policy(policy), Err(Error::PublicPolicy { .. }))
    }

    const ACTION: &str = r#""Action": "payment-cryptography:GenerateMac", "Resource": "*""#;

    #[test]
    fn policies_open_to_everyone_are_public() {
        for principal in [
            r#""Principal": "*""#,
            r#""Principal": {"AWS": "*"}"#,
            r#""Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}"#,
            r#""Principal": {"AWS": "arn:aws:iam::*:root"}"#,
            r#""NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}"#,
        ] {
            let p = format!(r#"{{"Statement": [{{"Effect": "Allow", {principal}, {ACTION}}}]}}"#);
            assert!(public(&p), "{p}");
        }
        // Conditions that do not limit who: a negative operator, IfExists, a wildcard, a key
        // that is not about the caller's account.
        for condition in [
            r#"{"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}}"#,
            r#"{"StringEqualsIfExists": {"aws:PrincipalAccount": "111122223333"}}"#,
            r#"{"StringLike": {"aws:PrincipalAccount": "*"}}"#,
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            r#"{"StringEquals": {"aws:PrincipalAccount": []}}"#,
        ] {
            let p = format!(
                r#"{{"Statement": {{"Effect": "Allow", "Principal": "*", {ACTION}, "Condition": {condition}}}}}"#
            );
            assert!(public(&p), "{p}");
        }
    }

    #[test]
    fn limited_or_named_policies_are_accepted() {
        for p in [
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:root"}}, {ACTION}}}]}}"#
            ),
            format!(r#"{{"Statement": [{{"Effect": "Deny", "Principal": "*", {ACTION}}}]}}"#),
            format!(
                r#"{{"Statement": [{{"Effect": "Allow", "Principal": "*", {ACTION}, "Condition": {{"StringEquals": {{"aws:PrincipalOrgID": "o-abc123"}}}}}}]}}"#
            ),
            format!(
                r#"{{"Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "*"}}, {ACTION}, "Condition": {{"StringEquals": {{"AWS:SourceAccount": ["111122223333", "444455556666"]}}}}}}]}}"#
            ),
        ] {
            check_policy(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn malformed_policies_are_refused_by_field() {
        let long = format!(
            r#"{{"Statement": [{{"Effect": "Deny", "Principal": "*", {ACTION}, "Sid": "{}"}}]}}"#,
            "x".repeat(MAX_POLICY_CHARS)
        );
        for (p, field) in [
            ("", "Policy"),
            ("not json", "Policy"),
            ("[]", "Policy"),
            ("{\"Statement\": [{\"Effect\": \"Deny\"}]}\u{100}", "Policy"),
            (long.as_str(), "Policy"),
            (
                r#"{"Version": "2020-01-01", "Statement": []}"#,
                "Policy.Version",
            ),
            (r#"{"Statement": []}"#, "Policy.Statement"),
            (r#"{"Statement": [1]}"#, "Policy.Statement[0]"),
            (
                r#"{"Statement": [{"Effect": "Maybe"}]}"#,
                "Policy.Statement[0].Effect",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "x"}]}"#,
                "Policy.Statement[0]",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "x"}]}"#,
                "Policy.Statement[0]",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}]}"#,
                "Policy.Statement[0]",
            ),
        ] {
            match check_policy(p) {
                Err(Error::Validation { field_list, .. }) => {
                    assert_eq!(field_list[0].path, field, "{p}");
                }
                other => panic!("{p}: {other:?}"),
            }
        }
    }
}
