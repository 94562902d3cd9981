//! Self-tests (FIPS 140-3 style known answers), and the error state a failure puts the HSM
//! in, in which every operation fails (security test T-ST-1).
//!
//! The symmetric and hash known answers run at power-on, before the HSM serves anything. The
//! RSA ones are conditional self-tests (FIPS 140-3 IG 10.3.A): they run once, before the HSM's
//! first RSA operation. An RSA private-key operation draws on aws-lc's DRBG, whose first use in
//! a process seeds it through the CPU jitter entropy source's start-up (about 20 ms); run at
//! power-on, that made every CLI call pay for RSA whether it used RSA or not (see
//! docs/performance.md).
//!
//! The RSA tests use a fixed RSA-2048 test key (`selftest_rsa2048.pem`, used for nothing
//! else) through the same aws-lc private-key implementation the HSM's key pairs use: a PKCS #1
//! v1.5 SHA-256 signature that must equal a fixed one and verify, and an RSAES-OAEP (SHA-256)
//! decryption of a fixed ciphertext. The expected values were computed with pyca/cryptography
//! (OpenSSL), an implementation independent of payhsm's.

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    kcv,
    key::KeyAlgorithm,
};
use payhsm_tr34::rsa::{OaepHash, RsaPrivateKey, SoftwareRsaKey};
use sha2::{Digest, Sha256};

use crate::Error;

/// When a known answer is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// At power-on, before the HSM serves anything.
    PowerOn,
    /// Once, before the HSM's first RSA operation (a conditional self-test).
    FirstRsaUse,
}

/// One known-answer test: a computation and the hex it must give.
#[derive(Clone, Copy, Debug)]
pub struct KnownAnswer {
    /// The test's name (`AES-128`, …).
    pub name: &'static str,
    /// Computes the answer.
    pub compute: fn() -> Result<Vec<u8>, payhsm_core::Error>,
    /// The expected answer, upper-case hex.
    pub expected: &'static str,
    /// When it runs.
    pub when: When,
}

fn key(algorithm: KeyAlgorithm, hex: &str) -> Result<SoftwareKey, payhsm_core::Error> {
    SoftwareKey::from_hex(algorithm, hex)
}

/// The RSA self-tests' key.
const RSA_TEST_KEY: &str = include_str!("selftest_rsa2048.pem");

/// The message the RSA self-test signs.
const RSA_TEST_MESSAGE: &[u8] = b"payhsm RSA known-answer test";

/// The plaintext of [`RSA_TEST_CIPHERTEXT`].
const RSA_TEST_PLAINTEXT: &str = "000102030405060708090A0B0C0D0E0F";

/// An RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) encryption of [`RSA_TEST_PLAINTEXT`]
/// under the test key.
const RSA_TEST_CIPHERTEXT: &str = concat!(
    "41E88F854C1525C5D0E08B5970DEA3D7F548368845534ABF1F51B641DF6CE843",
    "099CB489A62BE0F552FCA8E638022086E0D5AB7D40257C1672D953E584B127A4",
    "9EAB1590F954EA9CA91D11B150B1960CCAE6FE8B6C1BCFF60E92A48D68C706AD",
    "765648B0394C4521AE731365266FBF897B38BCF6C21224C163E8B3D2414E3A8D",
    "2403DE8A67031BC996A53FC314017CB2042837DDE798FBD0F68616CF2ED69114",
    "8563C9F54120388A399A12F55A4EB626E4CABE2629CDA98C88D2FE043AB9832E",
    "00DDD34DDD8102BCBBC1D8515DB9061B76437A329799EEB534E376AACC3EAEBB",
    "BB492345F5B181A426986D44530929C1E740678AE8A4C4A59ACA965E92494D88",
);

/// The PKCS #1 v1.5 SHA-256 signature of [`RSA_TEST_MESSAGE`] under the test key.
const RSA_TEST_SIGNATURE: &str = concat!(
    "8A5B75F82AC8A3090348FEE99C11C2D59017BB40FA8D22E24C50E26DFDE06ECC",
    "E98F3FB8097EC8F9425E767B21836B391C40544928A6ABEED29694BE52322D47",
    "AAFF0606254645FE8746E555E0AAA87603A4D0EAB6D52FC706B405573A513A53",
    "3977CFFA73D8163296292F20C090BE35C194E23C5CB561E5FD186B0E855B22E9",
    "49A5F91F37120D6DB34BDB257C16DD4C57E93A05ACBCB30243CF2B535AE34911",
    "5690B9F2DA291A689D8595C72AA6017632450E4ABAF2C0B6804C990726E945AD",
    "A064F66E3A364C87B86409F47F4244AFBE78B41385EA1F9DC14C6256246E1040",
    "5382CDA67E282A2AA7BB1CB2BE56FFCE355B23D5210F3B22F105BACE704A2F13",
);

fn rsa_test_key() -> Result<SoftwareRsaKey, payhsm_core::Error> {
    SoftwareRsaKey::from_pem(RSA_TEST_KEY).map_err(rsa_failed)
}

fn rsa_failed(_: payhsm_tr34::Error) -> payhsm_core::Error {
    payhsm_core::Error::InvalidValue {
        field: "RSA self-test",
        reason: "the RSA operation failed",
    }
}

/// Every known answer the HSM checks, at power-on or before its first RSA operation.
pub const KNOWN_ANSWERS: &[KnownAnswer] = &[
    // ANSI X9.24-1 / TR-31:2018 A.7.2.1 key: TDES KCV.
    KnownAnswer {
        name: "TDES",
        compute: || {
            let k = key(KeyAlgorithm::Tdes2Key, "F039121BEC83D26B169BDCD5B22AAF8F")?;
            Ok(kcv::default_kcv(&k)?.as_bytes().to_vec())
        },
        expected: "CB9DEA",
        when: When::PowerOn,
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
        when: When::PowerOn,
    },
    // NIST SP 800-38B D.1 example 1: AES-128 CMAC of the empty message.
    KnownAnswer {
        name: "CMAC",
        compute: || {
            let k = key(KeyAlgorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C")?;
            Ok(k.cmac(&[])?.as_bytes().to_vec())
        },
        expected: "BB1D6929E95937287FA37D129B756746",
        when: When::PowerOn,
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
        when: When::PowerOn,
    },
    // FIPS 180-4 example: SHA-256("abc").
    KnownAnswer {
        name: "SHA-2",
        compute: || Ok(Sha256::digest(b"abc").to_vec()),
        expected: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        when: When::PowerOn,
    },
    // RSA-2048 PKCS #1 v1.5 signing with SHA-256 (deterministic), and the signature verifies.
    KnownAnswer {
        name: "RSA-PKCS1",
        compute: || {
            let key = rsa_test_key()?;
            let signature = key
                .sign_pkcs1_sha256(RSA_TEST_MESSAGE)
                .map_err(rsa_failed)?;
            key.public_key()
                .verify_pkcs1_sha256(RSA_TEST_MESSAGE, &signature)
                .map_err(rsa_failed)?;
            Ok(signature)
        },
        expected: RSA_TEST_SIGNATURE,
        when: When::FirstRsaUse,
    },
    // RSA-2048 RSAES-OAEP decryption with SHA-256.
    KnownAnswer {
        name: "RSA-OAEP",
        compute: || {
            let ciphertext = payhsm_core::hex::decode("ciphertext", RSA_TEST_CIPHERTEXT)?;
            let plaintext = rsa_test_key()?
                .decrypt_oaep(OaepHash::Sha256, &ciphertext)
                .map_err(rsa_failed)?;
            Ok(plaintext.expose_secret().to_vec())
        },
        expected: RSA_TEST_PLAINTEXT,
        when: When::FirstRsaUse,
    },
];

/// Runs the `tests` due `when`; the first that fails (or errors) is the error state's cause.
pub fn run(tests: &[KnownAnswer], when: When) -> Result<(), Error> {
    for t in tests.iter().filter(|t| t.when == when) {
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
    fn every_known_answer_passes_and_a_corrupted_one_fails_when_due() {
        for when in [When::PowerOn, When::FirstRsaUse] {
            run(KNOWN_ANSWERS, when).unwrap();
        }
        for (i, test) in KNOWN_ANSWERS.iter().enumerate() {
            let mut tests = KNOWN_ANSWERS.to_vec();
            tests[i].expected = "00";
            for when in [When::PowerOn, When::FirstRsaUse] {
                let expected = if when == test.when {
                    Err(Error::ErrorState {
                        test: test.name.to_owned(),
                    })
                } else {
                    Ok(())
                };
                assert_eq!(run(&tests, when), expected, "{} {when:?}", test.name);
            }
        }
        assert!(
            KNOWN_ANSWERS
                .iter()
                .all(|t| (t.when == When::FirstRsaUse) == t.name.starts_with("RSA"))
        );
    }
}
