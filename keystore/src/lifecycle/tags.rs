//! Tags: `TagResource`, `UntagResource`, `ListTagsForResource`. Tags are per region.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error,
    arn::KeyIdentifier,
    hsm::{Audit, Hsm, Page, is_internal},
    model::{TagInput, parse_tags, tags_json},
    store::Store,
};

/// `TagResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagResourceInput {
    /// The key's ARN.
    pub resource_arn: String,
    /// Tags to add or replace.
    pub tags: Vec<TagInput>,
}

/// `UntagResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UntagResourceInput {
    /// The key's ARN.
    pub resource_arn: String,
    /// Tag keys to remove.
    pub tag_keys: Vec<String>,
}

/// `ListTagsForResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListTagsInput {
    /// The key's ARN.
    pub resource_arn: String,
    /// From a previous page.
    pub next_token: Option<String>,
    /// 1 to 100, default 50.
    pub max_results: Option<i64>,
}

impl<S: Store> Hsm<S> {
    /// The key id of a `ResourceArn` (a key ARN; aliases are refused).
    pub(crate) fn resource_key_id(&self, resource_arn: &str) -> Result<String, Error> {
        match KeyIdentifier::parse(resource_arn, "ResourceArn", &self.region, &self.account)? {
            KeyIdentifier::Key(k) if is_internal(k.key_id()) => Err(Error::not_found(resource_arn)),
            KeyIdentifier::Key(k) => Ok(k.key_id().to_owned()),
            KeyIdentifier::Alias(_) => Err(Error::validation("ResourceArn", "expected a key ARN")),
        }
    }

    /// `TagResource`: adds or replaces tags.
    pub fn tag_resource(&self, input: TagResourceInput) -> Result<Value, Error> {
        let keys: Vec<&str> = input.tags.iter().map(|t| t.key.as_str()).collect();
        let params = || json!({ "resourceArn": input.resource_arn, "tagKeys": keys });
        self.run("TagResource", Audit::Write, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            let tags = parse_tags(&input.tags, "Tags")?;
            self.update(&input.resource_arn, "ResourceArn", |r, _| {
                let mut next = r.clone();
                next.tags.extend(tags.clone());
                if next.tags.len() > 200 {
                    return Err(Error::validation("Tags", "a key has at most 200 tags"));
                }
                Ok(Some(next))
            })?;
            Ok((json!({}), vec![self.arn(&key_id)?.to_string()]))
        })
    }

    /// `UntagResource`.
    pub fn untag_resource(&self, input: UntagResourceInput) -> Result<Value, Error> {
        let params = || json!({ "resourceArn": input.resource_arn, "tagKeys": input.tag_keys });
        self.run("UntagResource", Audit::Write, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            self.update(&input.resource_arn, "ResourceArn", |r, _| {
                let mut next = r.clone();
                for k in &input.tag_keys {
                    next.tags.remove(k);
                }
                Ok(Some(next))
            })?;
            Ok((json!({}), vec![self.arn(&key_id)?.to_string()]))
        })
    }

    /// `ListTagsForResource`.
    pub fn list_tags_for_resource(&self, input: ListTagsInput) -> Result<Value, Error> {
        let params = || json!({ "resourceArn": input.resource_arn });
        self.run("ListTagsForResource", Audit::Read, params, || {
            self.resource_key_id(&input.resource_arn)?;
            let record = self.load(&input.resource_arn, "ResourceArn")?;
            let page = Page::parse(input.next_token.as_deref(), input.max_results)?;
            let rest: BTreeMap<String, String> = record
                .tags
                .into_iter()
                .filter(|(k, _)| page.after.as_deref().is_none_or(|a| k.as_str() > a))
                .collect();
            let shown: BTreeMap<String, String> = rest
                .iter()
                .take(page.limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut out = json!({ "Tags": tags_json(&shown) });
            if rest.len() > shown.len()
                && let Some(last) = shown.keys().next_back()
            {
                out["NextToken"] = json!(Page::token(last));
            }
            Ok((out, Vec::new()))
        })
    }
}
