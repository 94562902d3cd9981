//! The AWS CLI shorthand syntax for structure parameters, and JSON.
//!
//! ```text
//! KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyModesOfUse={Generate=true,Verify=true}
//! ```
//!
//! A value is a nested structure in braces, a list in brackets, a quoted string (`'…'` or
//! `"…"`, which may hold commas and braces) or bare text up to the next `,`, `}` or `]`.
//! `true` and `false` become booleans; every other scalar stays text (the service's integer
//! members accept text), so `CardExpiryDate=0926` keeps its leading zero.

use serde_json::{Map, Value};

/// Parses a parameter: JSON when it starts with `{`, `[` or `"`, shorthand otherwise.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') {
        return serde_json::from_str(t).map_err(|e| format!("not valid JSON: {e}"));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.object(None)?;
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected '{}' at position {}",
            char::from(p.s[p.i]),
            p.i
        ));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at position {}",
                char::from(c),
                self.i
            ))
        }
    }

    /// `key=value(,key=value)*`, up to `close` (or the end).
    fn object(&mut self, close: Option<u8>) -> Result<Value, String> {
        let mut map = Map::new();
        if self.peek() == close {
            return Ok(Value::Object(map));
        }
        loop {
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == b'=' || c == b',' || Some(c) == close {
                    break;
                }
                self.i += 1;
            }
            let key = std::str::from_utf8(&self.s[start..self.i])
                .map_err(|_| "not UTF-8".to_owned())?
                .trim()
                .to_owned();
            if key.is_empty() {
                return Err(format!("expected a member name at position {start}"));
            }
            self.expect(b'=')?;
            let value = self.value()?;
            if map.insert(key.clone(), value).is_some() {
                return Err(format!("{key} is given twice"));
            }
            if self.peek() == Some(b',') {
                self.i += 1;
            } else {
                return Ok(Value::Object(map));
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let v = self.object(Some(b'}'))?;
                self.expect(b'}')?;
                Ok(v)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if self.peek() != Some(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.peek() == Some(b',') {
                            self.i += 1;
                        } else {
                            break;
                        }
                    }
                }
                self.expect(b']')?;
                Ok(Value::Array(items))
            }
            Some(q @ (b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                while self.peek().is_some_and(|c| c != q) {
                    self.i += 1;
                }
                let text = String::from_utf8(self.s[start..self.i].to_vec())
                    .map_err(|_| "not UTF-8".to_owned())?;
                self.expect(q)?;
                Ok(Value::String(text))
            }
            _ => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']'))
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i])
                    .map_err(|_| "not UTF-8".to_owned())?
                    .trim();
                Ok(match text {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    t => Value::String(t.to_owned()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;

    #[test]
    fn shorthand_and_json_agree() {
        let short = parse(
            "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Generate=true,Verify=true}",
        )
        .unwrap();
        let long = parse(r#"{"KeyAlgorithm":"TDES_2KEY","KeyUsage":"TR31_C0_CARD_VERIFICATION_KEY","KeyClass":"SYMMETRIC_KEY","KeyModesOfUse":{"Generate":true,"Verify":true}}"#).unwrap();
        assert_eq!(short, long);
    }

    #[test]
    fn nesting_lists_quotes_and_leading_zeros() {
        assert_eq!(
            parse("CardVerificationValue2={CardExpiryDate=0926}").unwrap(),
            json!({ "CardVerificationValue2": { "CardExpiryDate": "0926" } })
        );
        assert_eq!(parse("IsoFormat1={}").unwrap(), json!({ "IsoFormat1": {} }));
        assert_eq!(
            parse("A=[x,y],B='a,b}',C=\"q\"").unwrap(),
            json!({ "A": ["x", "y"], "B": "a,b}", "C": "q" })
        );
    }

    #[test]
    fn malformed_shorthand_is_refused() {
        for bad in [
            "Key",
            "=x",
            "A={B=1",
            "A=1,A=2",
            "A=[1,2",
            "A='x",
            "A=1}",
            "{bad json",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
