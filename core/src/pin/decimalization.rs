//! Decimalisation tables for IBM 3624 PINs, and the policy that defends against the
//! decimalisation-table attack.
//!
//! # The attack
//!
//! IBM 3624 turns the enciphered validation data into PIN digits through a 16-digit table
//! (usually `0123456789012345`). An HSM that takes the table from the caller, as AWS Payment
//! Cryptography does, lets an insider with a customer's encrypted PIN block and the verify
//! command learn the PIN: verifying with a table that maps only one hex digit differently
//! (for example `0000000100000000` against a PIN of all zeros) reveals whether that digit
//! occurs in the natural PIN, and adjusting the offset locates it. Bond and Zieliński
//! (Cambridge UCAM-CL-TR-560, 2003) recover a 4-digit PIN in about 15 guesses on average.
//!
//! # The defence
//!
//! [`DecimalizationPolicy::StoredOnly`] accepts only tables registered with the HSM, as IBM CCA
//! does with access control point X'0356'. The check runs before any PIN comparison, so a
//! refused table reveals nothing about the PIN (security test T-PIN-10). The default,
//! [`DecimalizationPolicy::AnyTable`], is what the service accepts; the HSM records every
//! non-standard table it is given in the audit log.

use core::fmt;

use crate::{Error, Refusal, fields::check_digits};

/// A decimalisation table: the decimal digit for each hex digit 0–F.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecimalizationTable([u8; 16]);

impl DecimalizationTable {
    /// The usual table, `0123456789012345`.
    pub const STANDARD: Self = Self([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5]);

    /// A table from 16 decimal digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        check_digits("decimalization table", text, 16, 16, "16 decimal digits")?;
        let mut t = [0u8; 16];
        t.iter_mut()
            .zip(text.bytes())
            .for_each(|(d, c)| *d = c - b'0');
        Ok(Self(t))
    }

    /// The decimal digit for hex digit `nibble`.
    pub fn map(&self, nibble: u8) -> u8 {
        self.0[usize::from(nibble & 0x0F)]
    }
}

impl fmt::Debug for DecimalizationTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecimalizationTable(")?;
        self.0.iter().try_for_each(|d| write!(f, "{d}"))?;
        f.write_str(")")
    }
}

/// Which decimalisation tables a PIN operation accepts.
#[derive(Clone, Copy, Debug)]
pub enum DecimalizationPolicy<'a> {
    /// Any valid table (AWS Payment Cryptography compatibility).
    AnyTable,
    /// Only these stored tables (the defence against the decimalisation-table attack).
    StoredOnly(&'a [DecimalizationTable]),
}

impl DecimalizationPolicy<'_> {
    /// Refuses a table the policy does not accept, with
    /// [`Refusal::DecimalizationTableNotAllowed`].
    pub fn check(&self, table: &DecimalizationTable) -> Result<(), Error> {
        match self {
            Self::AnyTable => Ok(()),
            Self::StoredOnly(stored) if stored.contains(table) => Ok(()),
            Self::StoredOnly(_) => Err(Error::NotPermitted(Refusal::DecimalizationTableNotAllowed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_policy() {
        assert!(DecimalizationTable::new("012345678901234").is_err());
        assert!(DecimalizationTable::new("0123456789ABCDEF").is_err());
        let t = DecimalizationTable::new("0123456789012345").unwrap();
        assert_eq!(t, DecimalizationTable::STANDARD);
        assert_eq!(t.map(0xB), 1);
        let attack = DecimalizationTable::new("0000000100000000").unwrap();
        let stored = [DecimalizationTable::STANDARD];
        let policy = DecimalizationPolicy::StoredOnly(&stored);
        policy.check(&t).unwrap();
        assert_eq!(
            policy.check(&attack),
            Err(Error::NotPermitted(Refusal::DecimalizationTableNotAllowed))
        );
        DecimalizationPolicy::AnyTable.check(&attack).unwrap();
    }
}
