//! Power-on self-tests (FIPS 140-3 style known answers): the HSM runs them before it serves
//! anything, and a failure puts it in an error state in which every operation fails
//! (security test T-ST-1).

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    kcv,
    key::KeyAlgorithm,
};
use sha2::{Digest, Sha256};

use crate::Error;

/// One known-answer test: a computation and the hex it must give.
#[derive(Clone, Copy, Debug)]
pub struct KnownAnswer {
    /// The test's name (`AES-128`, …).
    pub name: &'static str,
    /// Computes the answer.
    pub compute: fn() -> Result<Vec<u8>, payhsm_core::Error>,
    /// The expected answer, upper-case hex.
    pub expected: &'static str,
}

fn key(algorithm: KeyAlgorithm, hex: &str) -> Result<SoftwareKey, payhsm_core::Error> {
    SoftwareKey::from_hex(algorithm, hex)
}

/// The known answers the HSM checks at start.
pub const KNOWN_ANSWERS: &[KnownAnswer] = &[
    // ANSI X9.24-1 / TR-31:2018 A.7.2.1 key: TDES KCV.
    KnownAnswer {
        name: "TDES",
        compute: || {
            let k = key(KeyAlgorithm::Tdes2Key, "F039121BEC83D26B169BDCD5B22AAF8F")?;
            Ok(kcv::default_kcv(&k)?.as_bytes().to_vec())
        },
        expected: "CB9DEA",
    },
    // FIPS 197 Appendix C.1: AES-128 encryption.
    KnownAnswer {
        name: "AES",
        compute: || {
            let k = key(KeyAlgorithm::Aes128, "000102030405060708090A0B0C0D0E0F")?;
            let mut block = payhsm_core::hex::decode("block", "00112233445566778899AABBCCDDEEFF")?;
            k.encrypt_ecb(&mut block)?;
            Ok(block)
        },
        expected: "69C4E0D86A7B0430D8CDB78070B4C55A",
    },
    // NIST SP 800-38B D.1 example 1: AES-128 CMAC of the empty message.
    KnownAnswer {
        name: "CMAC",
        compute: || {
            let k = key(KeyAlgorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C")?;
            Ok(k.cmac(&[])?.as_bytes().to_vec())
        },
        expected: "BB1D6929E95937287FA37D129B756746",
    },
    // RFC 4231 test case 1: HMAC-SHA-256.
    KnownAnswer {
        name: "HMAC",
        compute: || {
            let k = key(
                KeyAlgorithm::HmacSha256,
                "0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B",
            )?;
            Ok(k.hmac(b"Hi There")?.as_bytes().to_vec())
        },
        expected: "B0344C61D8DB38535CA8AFCEAF0BF12B881DC200C9833DA726E9376C2E32CFF7",
    },
    // FIPS 180-4 example: SHA-256("abc").
    KnownAnswer {
        name: "SHA-2",
        compute: || Ok(Sha256::digest(b"abc").to_vec()),
        expected: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
    },
];

/// Runs `tests`; the first that fails (or errors) is the error state's cause.
pub fn run(tests: &[KnownAnswer]) -> Result<(), Error> {
    for t in tests {
        let ok = (t.compute)()
            .map(|out| payhsm_core::hex::encode(&out) == t.expected)
            .unwrap_or(false);
        if !ok {
            return Err(Error::ErrorState {
                test: t.name.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_answer_passes_and_a_corrupted_one_fails() {
        run(KNOWN_ANSWERS).unwrap();
        for i in 0..KNOWN_ANSWERS.len() {
            let mut tests = KNOWN_ANSWERS.to_vec();
            tests[i].expected = "00";
            assert_eq!(
                run(&tests),
                Err(Error::ErrorState {
                    test: KNOWN_ANSWERS[i].name.to_owned()
                })
            );
        }
    }
}
