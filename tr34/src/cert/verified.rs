//! Certificate signatures this process verified before (`std` only).
//!
//! Whether a certificate's signature verifies under a public key depends on their bytes
//! alone, so a success is kept, keyed by the certificate's full DER and the issuer key's full
//! PKCS #1 DER, and the next check of the same pair costs a comparison instead of an RSA
//! operation: a TR-34 import checks the same KDH certificate under the same CA on every
//! token. Only the signature is kept; validity at the time, the issuer's constraints, key
//! usage and the anchor are checked again on every path (`verify_chain`). Failures are not
//! kept. At most [`CAPACITY`] pairs, the oldest out first.

use std::{
    collections::VecDeque,
    sync::{Mutex, PoisonError},
    vec::Vec,
};

use crate::Error;

/// How many verified (certificate, issuer key) pairs are kept.
pub(super) const CAPACITY: usize = 64;

static VERIFIED: Mutex<VecDeque<(Vec<u8>, Vec<u8>)>> = Mutex::new(VecDeque::new());

/// `verify()`, unless the same certificate verified under the same key before.
pub(super) fn check(
    certificate: &[u8],
    issuer_key: &[u8],
    verify: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Error> {
    // A panicking holder leaves whole entries only.
    let lock = || VERIFIED.lock().unwrap_or_else(PoisonError::into_inner);
    if lock()
        .iter()
        .any(|(c, k)| c.as_slice() == certificate && k.as_slice() == issuer_key)
    {
        return Ok(());
    }
    verify()?;
    let mut verified = lock();
    if verified.len() >= CAPACITY {
        verified.pop_front();
    }
    verified.push_back((certificate.to_vec(), issuer_key.to_vec()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use core::cell::Cell;
    use std::format;

    use super::{CAPACITY, check};
    use crate::Error;

    #[test]
    fn successes_are_kept_per_certificate_and_key_and_failures_are_not() {
        let runs = Cell::new(0);
        let ok = || {
            runs.set(runs.get() + 1);
            Ok(())
        };
        let bad = || {
            runs.set(runs.get() + 1);
            Err(Error::SignatureInvalid)
        };
        let cert: &[u8] = b"verified-test certificate";
        check(cert, b"key A", ok).unwrap();
        check(cert, b"key A", ok).unwrap();
        assert_eq!(
            runs.get(),
            1,
            "the second check of the same pair is a lookup"
        );
        // Another key, or one byte more of certificate: checked.
        assert!(check(cert, b"key B", bad).is_err());
        assert!(check(b"verified-test certificate!", b"key A", bad).is_err());
        assert!(check(cert, b"key B", bad).is_err());
        assert_eq!(runs.get(), 4, "failures are checked every time");
        // Bounded: after CAPACITY other pairs, the first is checked again.
        for i in 0..CAPACITY {
            check(cert, format!("other key {i}").as_bytes(), || Ok(())).unwrap();
        }
        check(cert, b"key A", ok).unwrap();
        assert_eq!(runs.get(), 5);
    }
}
