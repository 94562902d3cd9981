//! Shamir secret sharing over GF(2^8): a key split into `n` shares of which any `k` rebuild it
//! and `k - 1` say nothing about it, so a key ceremony survives a custodian who leaves.
//!
//! Each byte of the secret is the constant term of its own random polynomial of degree
//! `k - 1`; share `x` (1..=n) holds the polynomials' values at `x`. The field is GF(2^8) with
//! the AES polynomial x^8 + x^4 + x^3 + x + 1. Field arithmetic runs without secret-dependent
//! branches or table lookups.

use alloc::vec::Vec;

use crate::{Error, rng::RandomSource, secret::SecretVec};

/// One share: its x coordinate (1..=255) and the polynomials' values there.
#[derive(Debug)]
pub struct Share {
    /// The share's number, never 0 (the secret sits at x = 0).
    pub x: u8,
    /// One byte per secret byte.
    pub y: SecretVec,
}

/// Splits `secret` into `n` shares, any `k` of which rebuild it (`2 <= k <= n <= 255`).
pub fn split(
    secret: &[u8],
    k: u8,
    n: u8,
    rng: &mut impl RandomSource,
) -> Result<Vec<Share>, Error> {
    if k < 2 || k > n {
        return Err(Error::InvalidValue {
            field: "threshold",
            reason: "must be at least 2 and no more than the number of shares",
        });
    }
    if secret.is_empty() {
        return Err(Error::InvalidValue {
            field: "secret",
            reason: "must not be empty",
        });
    }
    // coefficients[j * (k-1) + i]: the coefficient of x^(i+1) for secret byte j.
    let degree = usize::from(k - 1);
    let mut coefficients = SecretVec::zeroed(secret.len() * degree);
    rng.fill(coefficients.expose_secret_mut())?;
    let coefficients = coefficients.expose_secret();
    let mut shares = Vec::with_capacity(usize::from(n));
    for x in 1..=n {
        let mut y = SecretVec::zeroed(secret.len());
        for (j, (out, &s)) in y.expose_secret_mut().iter_mut().zip(secret).enumerate() {
            // Horner: a_{k-1} x^{k-1} + … + a_1 x + s.
            let mut acc = 0u8;
            for &c in coefficients[j * degree..(j + 1) * degree].iter().rev() {
                acc = mul(acc, x) ^ c;
            }
            *out = mul(acc, x) ^ s;
        }
        shares.push(Share { x, y });
    }
    Ok(shares)
}

/// Rebuilds the secret from `shares` by Lagrange interpolation at 0. Given fewer shares than
/// the threshold it returns an unrelated value: the caller checks the result's KCV.
pub fn combine(shares: &[Share]) -> Result<SecretVec, Error> {
    let Some(first) = shares.first() else {
        return Err(Error::InvalidValue {
            field: "shares",
            reason: "at least two are needed",
        });
    };
    let len = first.y.len();
    for (i, share) in shares.iter().enumerate() {
        if share.x == 0 {
            return Err(Error::InvalidValue {
                field: "share",
                reason: "share numbers start at 1",
            });
        }
        if share.y.len() != len {
            return Err(Error::InvalidValue {
                field: "share",
                reason: "all shares must have the same length",
            });
        }
        if shares[..i].iter().any(|other| other.x == share.x) {
            return Err(Error::InvalidValue {
                field: "share",
                reason: "the same share number was given twice",
            });
        }
    }
    if shares.len() < 2 {
        return Err(Error::InvalidValue {
            field: "shares",
            reason: "at least two are needed",
        });
    }
    let mut secret = SecretVec::zeroed(len);
    for (i, share) in shares.iter().enumerate() {
        // The Lagrange basis polynomial for share i at 0: prod x_m / (x_m - x_i), m != i.
        // Subtraction in GF(2^8) is XOR.
        let (mut num, mut den) = (1u8, 1u8);
        for (m, other) in shares.iter().enumerate() {
            if m != i {
                num = mul(num, other.x);
                den = mul(den, other.x ^ share.x);
            }
        }
        let basis = mul(num, inverse(den));
        for (out, &y) in secret
            .expose_secret_mut()
            .iter_mut()
            .zip(share.y.expose_secret())
        {
            *out ^= mul(y, basis);
        }
    }
    Ok(secret)
}

/// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, without branches on the operands.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (carry & 0x1b);
        b >>= 1;
    }
    product
}

/// The multiplicative inverse, a^254 (a^255 = 1 for a != 0); 0 maps to 0.
fn inverse(a: u8) -> u8 {
    // 254 = 0b1111_1110: square-and-multiply with a fixed sequence of operations.
    let mut result = 1u8;
    let mut power = a;
    for bit in 0..8 {
        let factor = mul(result, power);
        let take = 0u8.wrapping_sub((254u8 >> bit) & 1);
        result = (factor & take) | (result & !take);
        power = mul(power, power);
    }
    result
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::rng::OsRandom;
    use alloc::vec;

    /// GF(2^8) multiplication the textbook way (FIPS 197 §4.2), to check the branch-free one.
    fn reference_mul(a: u8, b: u8) -> u8 {
        let mut product = 0u16;
        for i in 0..8 {
            if b >> i & 1 == 1 {
                product ^= u16::from(a) << i;
            }
        }
        for i in (8..15).rev() {
            if product >> i & 1 == 1 {
                product ^= 0x11b << (i - 8);
            }
        }
        u8::try_from(product).unwrap()
    }

    #[test]
    fn field_arithmetic_matches_fips_197() {
        // FIPS 197 §4.2 and §4.2.1: {57}·{83} = {c1}, {57}·{13} = {fe}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), reference_mul(a, b));
            }
            if a != 0 {
                assert_eq!(mul(a, inverse(a)), 1, "inverse of {a:#04x}");
            }
        }
        assert_eq!(inverse(0), 0);
        // FIPS 197 §5.1.1: the inverse of {53} is {ca}.
        assert_eq!(inverse(0x53), 0xca);
    }

    fn subset(shares: &[Share], pick: &[usize]) -> Vec<Share> {
        pick.iter()
            .map(|&i| Share {
                x: shares[i].x,
                y: SecretVec::from_slice(shares[i].y.expose_secret()),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_k_of_n_rebuild_the_secret(
            secret in proptest::collection::vec(any::<u8>(), 1..48),
            n in 2u8..8,
            k_seed in any::<u8>(),
            order in Just(()).prop_perturb(|_, mut rng| rng.next_u64()),
        ) {
            let k = 2 + k_seed % (n - 1);
            let shares = split(&secret, k, n, &mut OsRandom).unwrap();
            prop_assert_eq!(shares.len(), usize::from(n));
            // A k-subset chosen by `order`, in a shuffled order.
            let mut idx: Vec<usize> = (0..usize::from(n)).collect();
            let mut state = order;
            for i in (1..idx.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                idx.swap(i, (state >> 33) as usize % (i + 1));
            }
            let chosen = subset(&shares, &idx[..usize::from(k)]);
            prop_assert_eq!(combine(&chosen).unwrap().expose_secret().to_vec(), secret.clone());
            // More than k shares rebuild it too.
            let all = subset(&shares, &idx);
            prop_assert_eq!(combine(&all).unwrap().expose_secret().to_vec(), secret.clone());
        }

        /// With k-1 shares fixed, every candidate secret stays possible: for each value of the
        /// missing share there is exactly one secret, so the k-1 shares alone rule nothing out.
        #[test]
        fn k_minus_one_shares_leave_every_secret_possible(
            secret in any::<u8>(),
            k in 2u8..5,
        ) {
            let shares = split(&[secret], k, k, &mut OsRandom).unwrap();
            let known = subset(&shares, &(0..usize::from(k - 1)).collect::<Vec<_>>());
            let mut seen = [false; 256];
            for guess in 0..=255u8 {
                let mut with_guess = subset(&known, &(0..known.len()).collect::<Vec<_>>());
                with_guess.push(Share { x: k, y: SecretVec::from_slice(&[guess]) });
                seen[usize::from(combine(&with_guess).unwrap().expose_secret()[0])] = true;
            }
            prop_assert!(seen.iter().all(|&s| s), "some secret was ruled out by k-1 shares");
        }

        #[test]
        fn a_wrong_share_gives_a_different_secret(
            secret in proptest::collection::vec(any::<u8>(), 16..33),
            flip in any::<u8>().prop_filter("nonzero", |f| *f != 0),
            at in any::<usize>(),
        ) {
            let shares = split(&secret, 2, 3, &mut OsRandom).unwrap();
            let mut chosen = subset(&shares, &[0, 2]);
            let pos = at % secret.len();
            chosen[1].y.expose_secret_mut()[pos] ^= flip;
            prop_assert_ne!(combine(&chosen).unwrap().expose_secret().to_vec(), secret);
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(split(&[1, 2], 1, 3, &mut OsRandom).is_err());
        assert!(split(&[1, 2], 4, 3, &mut OsRandom).is_err());
        assert!(split(&[], 2, 3, &mut OsRandom).is_err());
        let shares = split(&[9; 4], 2, 3, &mut OsRandom).unwrap();
        let twice = subset(&shares, &[1, 1]);
        assert!(combine(&twice).is_err());
        assert!(combine(&subset(&shares, &[0])).is_err());
        assert!(combine(&[]).is_err());
        let zero = vec![
            Share {
                x: 0,
                y: SecretVec::from_slice(&[1; 4]),
            },
            subset(&shares, &[0]).remove(0),
        ];
        assert!(combine(&zero).is_err());
    }

    /// A fixed polynomial evaluated by hand: secret 0x42, a_1 = 0x03, shares at x = 1, 2.
    #[test]
    fn a_worked_example() {
        let rng_bytes = [0x03u8];
        let shares = split(&[0x42], 2, 2, &mut crate::rng::Replay::new(&rng_bytes)).unwrap();
        // f(1) = 0x42 ^ 0x03 = 0x41; f(2) = 0x42 ^ mul(0x03, 2) = 0x42 ^ 0x06 = 0x44.
        assert_eq!(shares[0].y.expose_secret(), &[0x41]);
        assert_eq!(shares[1].y.expose_secret(), &[0x44]);
        assert_eq!(combine(&shares).unwrap().expose_secret(), &[0x42]);
    }
}
