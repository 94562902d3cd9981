//! Aliases: `CreateAlias`, `GetAlias`, `UpdateAlias`, `DeleteAlias`, `ListAliases`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error,
    arn::{AliasName, KeyIdentifier},
    hsm::{Audit, Hsm, MAX_RETRIES, Page, is_internal},
    model::{AliasRecord, KeyState},
    store::{Store, failpoint},
};

/// `CreateAlias`, `UpdateAlias`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AliasInput {
    /// `alias/…`.
    pub alias_name: String,
    /// The key's ARN; absent for an alias that points nowhere.
    pub key_arn: Option<String>,
}

/// `GetAlias`, `DeleteAlias`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AliasNameInput {
    /// `alias/…`.
    pub alias_name: String,
}

/// `ListAliases`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListAliasesInput {
    /// Only aliases of this key.
    pub key_arn: Option<String>,
    /// From a previous page.
    pub next_token: Option<String>,
    /// 1 to 100, default 50.
    pub max_results: Option<i64>,
}

impl<S: Store> Hsm<S> {
    fn alias_json(&self, alias: &AliasRecord) -> Result<Value, Error> {
        let mut out = json!({ "AliasName": alias.alias_name });
        if let Some(id) = &alias.key_id {
            out["KeyArn"] = json!(self.arn(id)?.to_string());
        }
        Ok(out)
    }

    /// The key id of an alias's target ARN, which must name an existing key here.
    fn alias_target(&self, key_arn: Option<&str>) -> Result<Option<String>, Error> {
        let Some(arn) = key_arn else {
            return Ok(None);
        };
        match KeyIdentifier::parse(arn, "KeyArn", &self.region, &self.account)? {
            KeyIdentifier::Key(k) if is_internal(k.key_id()) => Err(Error::not_found(arn)),
            KeyIdentifier::Key(k) => {
                let record = self
                    .load_id(k.key_id())?
                    .ok_or_else(|| Error::not_found(arn))?;
                if record.state == KeyState::DeleteComplete {
                    return Err(Error::conflict("the key is DELETE_COMPLETE"));
                }
                Ok(Some(record.key_id))
            }
            KeyIdentifier::Alias(_) => Err(Error::validation("KeyArn", "expected a key ARN")),
        }
    }

    /// `CreateAlias`.
    pub fn create_alias(&self, input: AliasInput) -> Result<Value, Error> {
        let params = || json!({ "aliasName": input.alias_name, "keyArn": input.key_arn });
        self.run("CreateAlias", Audit::Write, params, || {
            let name = AliasName::new(&input.alias_name)?;
            let alias = AliasRecord {
                alias_name: name.as_str().to_owned(),
                key_id: self.alias_target(input.key_arn.as_deref())?,
                revision: 1,
            };
            failpoint("hsm.create_alias.before_insert");
            self.store.insert_alias(&alias)?;
            let resources = input.key_arn.iter().cloned().collect();
            Ok((json!({ "Alias": self.alias_json(&alias)? }), resources))
        })
    }

    /// `GetAlias`.
    pub fn get_alias(&self, input: AliasNameInput) -> Result<Value, Error> {
        let params = || json!({ "aliasName": input.alias_name });
        self.run("GetAlias", Audit::Read, params, || {
            let name = AliasName::new(&input.alias_name)?;
            let alias = self
                .store
                .get_alias(name.as_str())?
                .ok_or_else(|| Error::not_found(name.as_str()))?;
            Ok((json!({ "Alias": self.alias_json(&alias)? }), Vec::new()))
        })
    }

    /// `UpdateAlias`: points an alias at another key (or at none).
    pub fn update_alias(&self, input: AliasInput) -> Result<Value, Error> {
        let params = || json!({ "aliasName": input.alias_name, "keyArn": input.key_arn });
        self.run("UpdateAlias", Audit::Write, params, || {
            let name = AliasName::new(&input.alias_name)?;
            let target = self.alias_target(input.key_arn.as_deref())?;
            for _ in 0..MAX_RETRIES {
                let current = self
                    .store
                    .get_alias(name.as_str())?
                    .ok_or_else(|| Error::not_found(name.as_str()))?;
                let next = AliasRecord {
                    key_id: target.clone(),
                    revision: current.revision + 1,
                    ..current
                };
                failpoint("hsm.update_alias.before_update");
                if self.store.update_alias(&next)? {
                    let resources = input.key_arn.iter().cloned().collect();
                    return Ok((json!({ "Alias": self.alias_json(&next)? }), resources));
                }
            }
            Err(Error::conflict("the alias is changing too often; retry"))
        })
    }

    /// `DeleteAlias`.
    pub fn delete_alias(&self, input: AliasNameInput) -> Result<Value, Error> {
        let params = || json!({ "aliasName": input.alias_name });
        self.run("DeleteAlias", Audit::Write, params, || {
            let name = AliasName::new(&input.alias_name)?;
            if self.store.delete_alias(name.as_str())? {
                Ok((json!({}), Vec::new()))
            } else {
                Err(Error::not_found(name.as_str()))
            }
        })
    }

    /// `ListAliases`: paginated, optionally only those of one key.
    pub fn list_aliases(&self, input: ListAliasesInput) -> Result<Value, Error> {
        let params = || json!({ "keyArn": input.key_arn, "maxResults": input.max_results });
        self.run("ListAliases", Audit::Read, params, || {
            let key_id = input
                .key_arn
                .as_deref()
                .map(|arn| {
                    match KeyIdentifier::parse(arn, "KeyArn", &self.region, &self.account)? {
                        KeyIdentifier::Key(k) => Ok(k.key_id().to_owned()),
                        KeyIdentifier::Alias(_) => {
                            Err(Error::validation("KeyArn", "expected a key ARN"))
                        }
                    }
                })
                .transpose()?;
            let page = Page::parse(input.next_token.as_deref(), input.max_results)?;
            let mut after = page.after;
            let mut aliases = Vec::new();
            let mut last = None;
            'scan: loop {
                let batch = self.store.list_aliases(after.as_deref(), page.limit)?;
                let exhausted = batch.len() < page.limit;
                for a in batch {
                    after = Some(a.alias_name.clone());
                    if key_id.is_none() || a.key_id == key_id {
                        aliases.push(self.alias_json(&a)?);
                        if aliases.len() == page.limit {
                            last = Some(a.alias_name);
                            break 'scan;
                        }
                    }
                }
                if exhausted {
                    break;
                }
            }
            let mut out = json!({ "Aliases": aliases });
            if let Some(last) = last
                && !self.store.list_aliases(Some(&last), 1)?.is_empty()
            {
                out["NextToken"] = json!(Page::token(&last));
            }
            Ok((out, Vec::new()))
        })
    }
}
