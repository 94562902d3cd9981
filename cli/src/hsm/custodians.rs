//! Key components entered by their custodians, one at a time: the one place a ceremony reads
//! components (the master key at `init` and on open, working keys in `import-key-components`).
//!
//! Each custodian gives their name, enters the component without echo, sees its KCV and either
//! confirms it against their paper or types the KCV from the paper. A typo, a KCV that does not
//! match or a component equal to an earlier one asks that custodian again. Every entry and every
//! failure is audited with the custodian's name, the component's KCV and the time, never the
//! component. Components come only from a terminal (T-K-6); a pipe is accepted only with the
//! test-only variable [`STDIN_FOR_TESTS`].

use std::io::IsTerminal as _;

use payhsm_core::secret::KeyMaterial;
use payhsm_keystore::{
    Error,
    audit::{AuditEvent, AuditLog},
    clock::{Clock as _, SystemClock},
    master_key::Component,
};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::read_line;
use crate::error::CliError;

/// Set to `1` to let tests pipe components through standard input: name, component and the
/// KCV from the paper (or `yes`), one line each. Never for a real ceremony.
pub(crate) const STDIN_FOR_TESTS: &str = "PAYHSM_TEST_COMPONENTS_FROM_STDIN";

/// How many times one custodian may try before the ceremony stops.
const ATTEMPTS: usize = 3;

/// One try at a component: accepted with its KCV, or refused for a reason (with the KCV when
/// the component was well formed).
enum Try {
    Accepted(Component),
    Refused {
        problem: String,
        kcv: Option<String>,
    },
}

/// Where a ceremony's evidence goes: the region's audit log.
pub(crate) struct Evidence<'a> {
    /// The log.
    pub(crate) log: &'a AuditLog,
    /// The region and account the log's lines name.
    pub(crate) region: &'a str,
    /// The account.
    pub(crate) account: &'a str,
    /// What the components form (`MasterKey`, `ImportKey`).
    pub(crate) purpose: &'a str,
}

impl Evidence<'_> {
    fn record(
        &self,
        index: usize,
        custodian: &str,
        check_value: Option<&str>,
        error: Option<&Error>,
    ) -> Result<(), CliError> {
        let event = AuditEvent {
            event_name: "EnterKeyComponent",
            read_only: false,
            resources: Vec::new(),
            request_parameters: json!({
                "purpose": self.purpose,
                "componentIndex": index,
                "custodian": custodian,
                "keyCheckValue": check_value,
            }),
            error,
            service_event: false,
        };
        Ok(self
            .log
            .record(self.region, self.account, SystemClock.now(), &event)?)
    }
}

/// Reads `n` components of `len` bytes from their custodians. `check_value` computes a
/// component's KCV the way the ceremony's paper records it.
pub(crate) fn read_key_components(
    n: usize,
    what: &str,
    len: usize,
    evidence: &Evidence<'_>,
    check_value: impl Fn(&KeyMaterial) -> Result<String, CliError>,
) -> Result<Vec<Component>, CliError> {
    if n < 2 {
        return Err(CliError::usage(
            "a key formed from components needs at least two components",
            Some("Use --components 2 or more."),
        ));
    }
    if !std::io::stdin().is_terminal() && std::env::var(STDIN_FOR_TESTS).as_deref() != Ok("1") {
        return Err(CliError::usage(
            "key components are read only from a terminal",
            Some("Run the ceremony at a terminal, one custodian at a time; nothing was stored."),
        ));
    }
    let mut entered: Vec<Component> = Vec::with_capacity(n);
    for i in 1..=n {
        let custodian = read_line(&format!("Custodian {i} of {n}, your name: "), false)?;
        if custodian.is_empty() {
            return Err(CliError::usage(
                format!("custodian {i} gave no name"),
                Some("Each custodian gives their name for the audit log; nothing was stored."),
            ));
        }
        let mut attempt = 0;
        let component = loop {
            attempt += 1;
            match read_one(i, n, what, len, &entered, &check_value)? {
                Try::Accepted(component) => break component,
                Try::Refused { problem, kcv } => {
                    let message = format!("component {i} {problem}");
                    evidence.record(
                        i,
                        &custodian,
                        kcv.as_deref(),
                        Some(&Error::validation("component", &message)),
                    )?;
                    if attempt == ATTEMPTS {
                        return Err(CliError::usage(
                            message,
                            Some("Check the component with its custodian; nothing was stored."),
                        ));
                    }
                    eprintln!("Component {i} {problem}; enter it again.");
                }
            }
        };
        evidence.record(i, &custodian, Some(&component.check_value), None)?;
        entered.push(component);
    }
    Ok(entered)
}

/// One try at component `i`.
fn read_one(
    i: usize,
    n: usize,
    what: &str,
    len: usize,
    earlier: &[Component],
    check_value: &impl Fn(&KeyMaterial) -> Result<String, CliError>,
) -> Result<Try, CliError> {
    let hex = read_line(
        &format!("{what} {i} of {n} ({} hex digits, not shown): ", 2 * len),
        true,
    )?;
    let Some(material) = KeyMaterial::from_hex("component", &hex)
        .ok()
        .filter(|m| m.len() == len)
    else {
        return Ok(Try::Refused {
            problem: format!("is not {} hex digits", 2 * len),
            kcv: None,
        });
    };
    let kcv = check_value(&material)?;
    if earlier
        .iter()
        .any(|e| bool::from(e.material.ct_eq(&material)))
    {
        return Ok(Try::Refused {
            problem: "equals an earlier one, so they would cancel out".to_owned(),
            kcv: Some(kcv),
        });
    }
    eprintln!("KCV of component {i}: {kcv}");
    let answer = read_line(
        "Type the KCV from your paper, or \"yes\" if it matches the one shown: ",
        false,
    )?;
    Ok(
        if answer.eq_ignore_ascii_case("yes") || answer.eq_ignore_ascii_case(&kcv) {
            Try::Accepted(Component {
                material,
                check_value: kcv,
            })
        } else {
            Try::Refused {
                problem: "has a KCV that does not match the custodian's paper".to_owned(),
                kcv: Some(kcv),
            }
        },
    )
}
