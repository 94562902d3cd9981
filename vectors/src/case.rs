use core::{cell::RefCell, fmt};
use std::collections::BTreeSet;

use payhsm_core::{hex, secret::KeyMaterial};
use serde_json::{Map, Value};

/// Why an entry did not pass.
#[derive(Debug)]
pub enum Failure {
    /// A recomputed value differs from the published one.
    Mismatch {
        /// The `expected` field.
        field: String,
        /// The published value.
        expected: String,
        /// What payhsm computed.
        actual: String,
    },
    /// The entry's data is malformed or an operation failed.
    Error(String),
    /// payhsm does not implement what the entry needs.
    NotImplemented(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mismatch {
                field,
                expected,
                actual,
            } => write!(f, "{field}: expected {expected}, got {actual}"),
            Self::Error(e) => f.write_str(e),
            Self::NotImplemented(what) => write!(f, "not implemented: {what}"),
        }
    }
}

impl From<payhsm_core::Error> for Failure {
    fn from(e: payhsm_core::Error) -> Self {
        Self::Error(e.to_string())
    }
}

/// One entry, read field by field. Every field read is recorded, so the runner can refuse an
/// entry whose check left a published value unchecked.
pub struct Case {
    id: String,
    inputs: Map<String, Value>,
    expected: Map<String, Value>,
    consumed: RefCell<BTreeSet<String>>,
}

impl Case {
    pub(crate) fn new(value: &Value) -> Result<Self, String> {
        let section = |name: &str| -> Result<Map<String, Value>, String> {
            match value.get(name) {
                Some(Value::Object(m)) => Ok(m.clone()),
                None => Ok(Map::new()),
                Some(_) => Err(format!("`{name}` is not an object")),
            }
        };
        Ok(Self {
            id: value
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            inputs: section("inputs")?,
            expected: section("expected")?,
            consumed: RefCell::new(BTreeSet::new()),
        })
    }

    fn take<'a>(
        &'a self,
        section: &'static str,
        map: &'a Map<String, Value>,
        name: &str,
    ) -> Option<&'a Value> {
        let v = map.get(name)?;
        self.consumed
            .borrow_mut()
            .insert(format!("{section}.{name}"));
        Some(v)
    }

    fn required<'a>(
        &'a self,
        section: &'static str,
        map: &'a Map<String, Value>,
        name: &str,
    ) -> Result<&'a Value, Failure> {
        self.take(section, map, name)
            .ok_or_else(|| Failure::Error(format!("{section}.{name} is missing")))
    }

    /// The entry's id (families whose data does not name the algorithm read it from here).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the entry has this input.
    pub fn has_input(&self, name: &str) -> bool {
        self.inputs.contains_key(name)
    }

    /// Whether the entry has this expected value.
    pub fn has_expected(&self, name: &str) -> bool {
        self.expected.contains_key(name)
    }

    /// A text input.
    pub fn input(&self, name: &str) -> Result<&str, Failure> {
        as_str("inputs", name, self.required("inputs", &self.inputs, name)?)
    }

    /// A text input, if present.
    pub fn input_opt(&self, name: &str) -> Result<Option<&str>, Failure> {
        self.take("inputs", &self.inputs, name)
            .map(|v| as_str("inputs", name, v))
            .transpose()
    }

    /// A hex input, decoded.
    pub fn input_hex(&self, name: &str) -> Result<Vec<u8>, Failure> {
        Ok(hex::decode("vector input", self.input(name)?)?)
    }

    /// A hex input holding a key, decoded into secret storage.
    pub fn input_key(&self, name: &str) -> Result<KeyMaterial, Failure> {
        Ok(KeyMaterial::from_hex("vector key", self.input(name)?)?)
    }

    /// A whole-number input.
    pub fn input_u64(&self, name: &str) -> Result<u64, Failure> {
        self.required("inputs", &self.inputs, name)?
            .as_u64()
            .ok_or_else(|| Failure::Error(format!("inputs.{name} is not a whole number")))
    }

    /// Any input, for checks that read structured values.
    pub fn input_value(&self, name: &str) -> Result<&Value, Failure> {
        self.required("inputs", &self.inputs, name)
    }

    /// A published text value.
    pub fn expected(&self, name: &str) -> Result<&str, Failure> {
        as_str(
            "expected",
            name,
            self.required("expected", &self.expected, name)?,
        )
    }

    /// Any published value.
    pub fn expected_value(&self, name: &str) -> Result<&Value, Failure> {
        self.required("expected", &self.expected, name)
    }

    /// Compares a computed value with the published one (hex case-insensitively).
    pub fn check(&self, name: &str, actual: &str) -> Result<(), Failure> {
        let expected = self.expected(name)?;
        if expected.eq_ignore_ascii_case(actual) {
            Ok(())
        } else {
            Err(Failure::Mismatch {
                field: format!("expected.{name}"),
                expected: expected.to_owned(),
                actual: actual.to_owned(),
            })
        }
    }

    /// Compares a computed value with the published one, if the entry publishes it.
    pub fn check_opt(&self, name: &str, actual: &str) -> Result<(), Failure> {
        if self.has_expected(name) {
            self.check(name, actual)
        } else {
            Ok(())
        }
    }

    /// Compares a computed non-text value (number, boolean) with the published one.
    pub fn check_value(&self, name: &str, actual: &Value) -> Result<(), Failure> {
        let expected = self.expected_value(name)?;
        if expected == actual {
            Ok(())
        } else {
            Err(Failure::Mismatch {
                field: format!("expected.{name}"),
                expected: expected.to_string(),
                actual: actual.to_string(),
            })
        }
    }

    /// The `inputs` and `expected` fields no check has read.
    pub fn unconsumed(&self) -> Vec<String> {
        let consumed = self.consumed.borrow();
        let all = self
            .inputs
            .keys()
            .map(|k| format!("inputs.{k}"))
            .chain(self.expected.keys().map(|k| format!("expected.{k}")));
        all.filter(|k| !consumed.contains(k)).collect()
    }
}

fn as_str<'a>(section: &str, name: &str, v: &'a Value) -> Result<&'a str, Failure> {
    v.as_str()
        .ok_or_else(|| Failure::Error(format!("{section}.{name} is not text")))
}
