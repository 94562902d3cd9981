//! Identifiers: regions, accounts, key ARNs and aliases, as AWS Payment Cryptography writes
//! them (design decision 5).
//!
//! ```text
//! arn:aws:payment-cryptography:<region>:<account>:key/<key id>     a key
//! arn:aws:payment-cryptography:<region>:<account>:alias/<name>     an alias, by ARN
//! alias/<name>                                                     an alias
//! ```

use std::fmt;

use payhsm_core::rng::RandomSource;

use crate::Error;

const ARN_PREFIX: &str = "arn:aws:payment-cryptography:";

/// A region name (`us-east-1`): `[a-z]{2}-[a-z]{1,16}-[0-9]+`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    /// Checks a region name.
    pub fn new(name: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = name.split('-').collect();
        let ok = match parts.as_slice() {
            [a, b, c] => {
                a.len() == 2
                    && a.bytes().all(|x| x.is_ascii_lowercase())
                    && (1..=16).contains(&b.len())
                    && b.bytes().all(|x| x.is_ascii_lowercase())
                    && !c.is_empty()
                    && c.bytes().all(|x| x.is_ascii_digit())
            }
            _ => false,
        };
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::validation(
                "Region",
                "expected a region name such as us-east-1",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 12-digit account id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// The account local emulators use by convention.
    pub const DEFAULT: &'static str = "111122223333";

    /// Checks an account id.
    pub fn new(id: &str) -> Result<Self, Error> {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(id.to_owned()))
        } else {
            Err(Error::validation("Account", "expected 12 digits"))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The length of the key ids this HSM generates (the service's is 16).
pub const KEY_ID_LEN: usize = 16;

/// A new random key id: 16 lower-case letters and digits.
pub fn new_key_id(rng: &mut dyn RandomSource) -> Result<String, Error> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(KEY_ID_LEN);
    while id.len() < KEY_ID_LEN {
        let mut b = [0u8; 32];
        rng.fill(&mut b)
            .map_err(|_| Error::internal("the random source failed"))?;
        // Rejection sampling: 252 = 7 × 36, so the accepted bytes are uniform.
        for x in b.iter().filter(|x| **x < 252) {
            if id.len() < KEY_ID_LEN {
                id.push(char::from(ALPHABET[usize::from(*x % 36)]));
            }
        }
    }
    Ok(id)
}

pub(crate) fn is_key_id(id: &str) -> bool {
    (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A key's ARN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyArn {
    region: Region,
    account: AccountId,
    key_id: String,
}

impl KeyArn {
    /// The ARN of key `key_id` in `region` and `account`.
    pub fn new(region: &Region, account: &AccountId, key_id: &str) -> Result<Self, Error> {
        if !is_key_id(key_id) {
            return Err(Error::validation(
                "KeyIdentifier",
                "a key id is 16 to 64 letters and digits",
            ));
        }
        Ok(Self {
            region: region.clone(),
            account: account.clone(),
            key_id: key_id.to_owned(),
        })
    }

    /// The key id (the part after `key/`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }
}

impl KeyArn {
    /// The ARN as text, in one allocation (the data plane's responses name their keys).
    pub fn text(&self) -> String {
        let parts = [
            ARN_PREFIX,
            self.region.as_str(),
            ":",
            self.account.as_str(),
            ":key/",
            &self.key_id,
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|p| text.push_str(p));
        text
    }
}

impl fmt::Display for KeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// An alias name: `alias/` and then letters, digits, `/`, `_` and `-`; 7 to 256 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

impl AliasName {
    /// Checks an alias name.
    pub fn new(name: &str) -> Result<Self, Error> {
        let ok = (7..=256).contains(&name.len())
            && name.strip_prefix("alias/").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
            });
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::validation(
                "AliasName",
                "expected alias/ followed by letters, digits, /, _ or - (7 to 256 characters)",
            ))
        }
    }

    /// The name (`alias/…`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a `KeyIdentifier` names: a key, or an alias to resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyIdentifier {
    /// A key by its ARN.
    Key(KeyArn),
    /// A key through an alias (bare `alias/…` or an alias ARN).
    Alias(AliasName),
}

impl KeyIdentifier {
    /// Parses an identifier for this region and account. An ARN of another region or account
    /// names nothing here: [`Error::ResourceNotFound`].
    pub fn parse(
        text: &str,
        field: &str,
        region: &Region,
        account: &AccountId,
    ) -> Result<Self, Error> {
        if !(7..=322).contains(&text.len()) {
            return Err(Error::validation(
                field,
                "a key identifier is a key ARN, an alias ARN or alias/<name> (7 to 322 characters)",
            ));
        }
        if text.starts_with("alias/") {
            return AliasName::new(text)
                .map(Self::Alias)
                .map_err(|_| Error::validation(field, "not a valid alias name"));
        }
        let rest = text.strip_prefix(ARN_PREFIX).ok_or_else(|| {
            Error::validation(field, "expected a key ARN, an alias ARN or alias/<name>")
        })?;
        let mut parts = rest.splitn(3, ':');
        let (Some(r), Some(a), Some(resource)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::validation(field, "malformed ARN"));
        };
        let r = Region::new(r).map_err(|_| Error::validation(field, "malformed ARN region"))?;
        let a = AccountId::new(a).map_err(|_| Error::validation(field, "malformed ARN account"))?;
        let parsed = if let Some(id) = resource.strip_prefix("key/") {
            if !is_key_id(id) {
                return Err(Error::validation(
                    field,
                    "a key id is 16 to 64 letters and digits",
                ));
            }
            Self::Key(KeyArn::new(&r, &a, id)?)
        } else if resource.starts_with("alias/") {
            Self::Alias(
                AliasName::new(resource)
                    .map_err(|_| Error::validation(field, "not a valid alias name"))?,
            )
        } else {
            return Err(Error::validation(field, "an ARN names a key/ or an alias/"));
        };
        if &r != region || &a != account {
            return Err(Error::not_found(text));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use payhsm_core::rng::OsRandom;

    use super::*;

    fn here() -> (Region, AccountId) {
        (
            Region::new("us-east-1").unwrap(),
            AccountId::new(AccountId::DEFAULT).unwrap(),
        )
    }

    #[test]
    fn identifiers_parse() {
        let (r, a) = here();
        let arn = "arn:aws:payment-cryptography:us-east-1:111122223333:key/kwapwa6qaifllw2h";
        match KeyIdentifier::parse(arn, "KeyIdentifier", &r, &a).unwrap() {
            KeyIdentifier::Key(k) => {
                assert_eq!(k.key_id(), "kwapwa6qaifllw2h");
                assert_eq!(k.to_string(), arn);
            }
            other => panic!("{other:?}"),
        }
        let alias = "arn:aws:payment-cryptography:us-east-1:111122223333:alias/my-cvk";
        assert_eq!(
            KeyIdentifier::parse(alias, "KeyIdentifier", &r, &a).unwrap(),
            KeyIdentifier::Alias(AliasName::new("alias/my-cvk").unwrap())
        );
        assert_eq!(
            KeyIdentifier::parse("alias/my-cvk", "KeyIdentifier", &r, &a).unwrap(),
            KeyIdentifier::Alias(AliasName::new("alias/my-cvk").unwrap())
        );
    }

    #[test]
    fn bad_identifiers_are_typed() {
        let (r, a) = here();
        let other_region =
            "arn:aws:payment-cryptography:eu-west-1:111122223333:key/kwapwa6qaifllw2h";
        assert_eq!(
            KeyIdentifier::parse(other_region, "KeyIdentifier", &r, &a).unwrap_err(),
            Error::not_found(other_region)
        );
        for bad in [
            "alias/",
            "alias/a b",
            "key/kwapwa6qaifllw2h",
            "arn:aws:payment-cryptography:us-east-1:111122223333:key/short",
            "arn:aws:payment-cryptography:us-east-1:11112222333:key/kwapwa6qaifllw2h",
            "arn:aws:kms:us-east-1:111122223333:key/kwapwa6qaifllw2h",
        ] {
            assert!(
                matches!(
                    KeyIdentifier::parse(bad, "KeyIdentifier", &r, &a),
                    Err(Error::Validation { .. })
                ),
                "{bad}"
            );
        }
        assert!(Region::new("us-east").is_err());
        assert!(Region::new("US-east-1").is_err());
    }

    #[test]
    fn key_ids_are_16_lowercase_alphanumerics() {
        let a = new_key_id(&mut OsRandom).unwrap();
        let b = new_key_id(&mut OsRandom).unwrap();
        assert_eq!(a.len(), KEY_ID_LEN);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(a, b);
    }
}
