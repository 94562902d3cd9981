//! DES and TDEA (FIPS 46-3, NIST SP 800-67): the cipher behind every TDES key handle.
//!
//! Table-driven, with each key's schedule expanded once, when the handle is made.
//!
//! **Constant time, in the cache-line sense.** The only loads indexed by secret data are the
//! S-box lookups, and each reads a table that fills exactly one 64-byte-aligned cache line:
//! per S-box a 64-entry byte table (the S-box) and a 16-entry word table (its output spread
//! by the P permutation). Every round reads the same sixteen lines in the same order whatever
//! the key and data, so cache timing (which lines are resident, which were touched) learns
//! nothing. Timing *within* a line is not claimed uniform on every microarchitecture (cache-
//! bank conflicts on some older Intel cores, 4K aliasing). The initial and final permutations
//! are delta swaps and the key schedule a masked sum over the key's bits: nothing else
//! indexes memory or branches on a secret.
//!
//! **Layout.** The halves are kept rotated right by 3 from FIPS 46-3's bit order (bit 1 the
//! most significant), which puts the inputs of S-boxes 1, 3, 5, 7 at bits 24, 16, 8, 0 of `R`
//! and, after a rotation by 4, those of S-boxes 2, 4, 6, 8 at the same places, so the
//! expansion E costs one rotation (the layout of Outerbridge's DES). All tables are computed
//! at compile time from the standard's tables below.

use cipher::{
    Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, ParBlocksSizeUser,
    consts::{U1, U8},
    inout::InOut,
};
use zeroize::Zeroize;

/// The permutation P of the cipher function (FIPS 46-3): output bit `k` is input bit `P[k-1]`.
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];

/// Permuted choice 1: the 56 key bits `C ‖ D` is made of.
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];

/// Permuted choice 2: the 48 bits of `C ‖ D` a round key is made of.
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

/// Left rotations of `C` and `D` before each round.
const SHIFTS: [u8; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// The S-boxes as printed: four rows of sixteen.
#[rustfmt::skip]
const S: [[u8; 64]; 8] = [
    [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
    [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
    [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
    [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
    [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
    [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
    [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
    [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

/// Where bit `k` (1..=32, FIPS numbering) of a half sits in the rotated layout.
const fn position(k: usize) -> usize {
    (61 - k) % 32
}

/// An S-box output. An enum rather than a `u8` so that the compiler knows it is below 16 and
/// indexes [`SpreadLine`] with it without a bounds check or a mask.
#[derive(Clone, Copy)]
#[repr(u8)]
#[rustfmt::skip]
enum Nibble { N0, N1, N2, N3, N4, N5, N6, N7, N8, N9, N10, N11, N12, N13, N14, N15 }

impl Nibble {
    const ALL: [Self; 16] = [
        Self::N0,
        Self::N1,
        Self::N2,
        Self::N3,
        Self::N4,
        Self::N5,
        Self::N6,
        Self::N7,
        Self::N8,
        Self::N9,
        Self::N10,
        Self::N11,
        Self::N12,
        Self::N13,
        Self::N14,
        Self::N15,
    ];
}

/// One S-box indexed by its 6-bit input as the round extracts it (`b1` the most significant
/// bit): 64 bytes, one cache line.
#[repr(C, align(64))]
struct SboxLine([Nibble; 64]);

/// One S-box's 4-bit output spread to the places P sends it, in the rotated layout: 16 words,
/// one cache line.
#[repr(C, align(64))]
struct SpreadLine([u32; 16]);

static SBOXES: [SboxLine; 8] = {
    let mut out = [const { SboxLine([Nibble::N0; 64]) }; 8];
    let mut i = 0;
    while i < 8 {
        let mut v = 0;
        while v < 64 {
            let row = ((v >> 4) & 2) | (v & 1);
            let column = (v >> 1) & 0xF;
            out[i].0[v] = Nibble::ALL[S[i][row * 16 + column] as usize];
            v += 1;
        }
        i += 1;
    }
    out
};

static SPREAD: [SpreadLine; 8] = {
    let mut out = [const { SpreadLine([0; 16]) }; 8];
    let mut i = 0;
    while i < 8 {
        let mut o = 0;
        while o < 16 {
            let mut word = 0u32;
            let mut m = 0;
            while m < 4 {
                if (o >> (3 - m)) & 1 == 1 {
                    // Output bit m of S-box i is P's input bit 4i + m + 1; find where P puts it.
                    let mut k = 0;
                    while P[k] as usize != 4 * i + m + 1 {
                        k += 1;
                    }
                    word |= 1 << position(k + 1);
                }
                m += 1;
            }
            out[i].0[o] = word;
            o += 1;
        }
        i += 1;
    }
    out
};

/// For each half round key (`[2r]`: the part XORed into the inputs of S-boxes 1, 3, 5, 7 in
/// round `r + 1`; `[2r + 1]`: S-boxes 2, 4, 6, 8) and each key bit (1..=64 as index 0..63),
/// the bits of the half round key that key bit becomes. The schedule is linear in the key
/// bits, so a half round key is the sum of the entries of the key's set bits.
static KEY_BITS: [[u32; 64]; 32] = {
    let mut out = [[0u32; 64]; 32];
    let mut round = 0;
    let mut rotation = 0;
    while round < 16 {
        rotation += SHIFTS[round] as usize;
        let mut j = 0;
        while j < 48 {
            // Round-key bit j + 1 is bit PC2[j] of the rotated C ‖ D ...
            let q = PC2[j] as usize - 1;
            let unrotated = if q < 28 {
                (q + rotation) % 28
            } else {
                28 + (q - 28 + rotation) % 28
            };
            // ... which is key bit PC1[unrotated].
            let key_bit = PC1[unrotated] as usize - 1;
            // It is bit 5 - j % 6 of S-box j / 6's input.
            let sbox = j / 6;
            let shift = 24 - 8 * (sbox / 2) + (5 - j % 6);
            out[2 * round + sbox % 2][key_bit] |= 1 << shift;
            j += 1;
        }
        round += 1;
    }
    out
};

/// Swaps the bits of `x` selected by `mask` with those `delta` places above them.
#[inline(always)]
const fn delta_swap(x: u64, delta: u32, mask: u64) -> u64 {
    let t = (x ^ (x >> delta)) & mask;
    x ^ t ^ (t << delta)
}

/// The two halves of a 64-bit block.
#[inline(always)]
#[allow(clippy::cast_possible_truncation)] // Truncation is how the low half is taken.
const fn halves(x: u64) -> (u32, u32) {
    ((x >> 32) as u32, x as u32)
}

/// The initial permutation IP, giving the halves in the rotated layout. IP is a transpose of
/// the block as an 8×8 bit matrix with its rows reversed (byte order) and then reordered.
#[inline(always)]
fn initial_permutation(block: [u8; 8]) -> (u32, u32) {
    let mut x = u64::from_le_bytes(block);
    x = delta_swap(x, 7, 0x00AA_00AA_00AA_00AA);
    x = delta_swap(x, 14, 0x0000_CCCC_0000_CCCC);
    x = delta_swap(x, 28, 0x0000_0000_F0F0_F0F0);
    x = delta_swap(x, 8, 0x00FF_00FF_00FF_00FF);
    x = delta_swap(x, 8, 0x0000_FF00_0000_FF00);
    x = delta_swap(x, 16, 0x0000_0000_FFFF_0000);
    let (l, r) = halves(x);
    (l.rotate_right(3), r.rotate_right(3))
}

/// The final permutation IP⁻¹: the steps of [`initial_permutation`] undone in reverse.
#[inline(always)]
fn final_permutation((l, r): (u32, u32)) -> [u8; 8] {
    let mut x = (u64::from(l.rotate_left(3)) << 32) | u64::from(r.rotate_left(3));
    x = delta_swap(x, 16, 0x0000_0000_FFFF_0000);
    x = delta_swap(x, 8, 0x0000_FF00_0000_FF00);
    x = delta_swap(x, 8, 0x00FF_00FF_00FF_00FF);
    x = delta_swap(x, 28, 0x0000_0000_F0F0_F0F0);
    x = delta_swap(x, 14, 0x0000_CCCC_0000_CCCC);
    x = delta_swap(x, 7, 0x00AA_00AA_00AA_00AA);
    x.to_le_bytes()
}

/// S-box `i` of the 6 bits at the bottom of `x`, spread by P.
#[inline(always)]
fn sbox(i: usize, x: u32) -> u32 {
    let s = SBOXES[i].0[(x & 0x3F) as usize];
    SPREAD[i].0[s as usize]
}

/// The cipher function f(R, K), its output in the rotated layout.
///
/// The eight spread S-box outputs have disjoint bits (P is a permutation), so `|`, `^` and
/// `+` all sum them alike. Mixing the three keeps the sum a tree of depth three: written with
/// one operator, LLVM re-associates it into a chain of eight, which costs the round five
/// cycles of latency.
#[inline(always)]
fn f(r: u32, [odd, even]: [u32; 2]) -> u32 {
    let u = r ^ odd;
    let t = r.rotate_left(4) ^ even;
    let a = sbox(0, u >> 24) | sbox(2, u >> 16);
    let b = sbox(4, u >> 8) | sbox(6, u);
    let c = sbox(1, t >> 24) | sbox(3, t >> 16);
    let d = sbox(5, t >> 8) | sbox(7, t);
    (a ^ b).wrapping_add(c ^ d)
}

/// One DES key's 16 round keys.
struct Schedule([[u32; 2]; 16]);

impl Schedule {
    /// Expands `key` (parity bits ignored) without indexing memory by, or branching on, a
    /// key bit.
    fn new(key: [u8; 8]) -> Self {
        let key = u64::from_be_bytes(key);
        // All-ones for each set key bit. Seen through `black_box`, the compiler cannot tell the
        // masks are all-zero or all-ones, so it cannot turn the sums below into a branch on
        // each key bit, which it does for masks it can see.
        let mut masks: [u32; 64] =
            core::array::from_fn(|bit| 0u32.wrapping_sub(u32::from((key >> (63 - bit)) & 1 == 1)));
        masks = core::hint::black_box(masks);
        let mut rounds = [0u32; 32];
        for (r, bits) in rounds.iter_mut().zip(&KEY_BITS) {
            *r = bits.iter().zip(&masks).fold(0, |acc, (b, m)| acc | (b & m));
        }
        masks.zeroize();
        let mut keys = [[0u32; 2]; 16];
        keys.iter_mut()
            .zip(rounds.chunks_exact(2))
            .for_each(|(k, r)| *k = [r[0], r[1]]);
        rounds.zeroize();
        Self(keys)
    }

    /// The 16 rounds on IP's output, forwards or (decryption) with the round keys reversed;
    /// returns the pre-output block `R16 ‖ L16`, the next pass's input when passes chain.
    #[inline(always)]
    fn rounds<const DECRYPT: bool>(&self, (mut l, mut r): (u32, u32)) -> (u32, u32) {
        let k = &self.0;
        for i in 0..8 {
            let (a, b) = if DECRYPT {
                (15 - 2 * i, 14 - 2 * i)
            } else {
                (2 * i, 2 * i + 1)
            };
            l ^= f(r, k[a]);
            r ^= f(l, k[b]);
        }
        (r, l)
    }
}

impl Drop for Schedule {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// A single-DES key, for the constructions defined on DES itself (the TDES DUKPT
/// non-reversible key generation). Zeroized on drop; no `Clone`.
pub(crate) struct Des(Schedule);

impl Des {
    /// The key (parity bits ignored).
    pub(crate) fn new(key: [u8; 8]) -> Self {
        Self(Schedule::new(key))
    }

    /// `E_K(block)`.
    pub(crate) fn encrypt(&self, block: [u8; 8]) -> [u8; 8] {
        final_permutation(self.0.rounds::<false>(initial_permutation(block)))
    }
}

/// A TDEA key (keying option 1 or 2: `K1 ‖ K2 ‖ K3`, or `K1 ‖ K2` with `K3 = K1`), with its
/// three schedules. Zeroized on drop; no `Clone`.
pub(crate) struct Tdea {
    keys: [Schedule; 3],
}

impl Tdea {
    /// The key `K1 ‖ K2` (16 bytes) or `K1 ‖ K2 ‖ K3` (24); `None` for any other length.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        let part = |i: usize| -> Option<Schedule> {
            let bytes: [u8; 8] = key.get(8 * i..8 * i + 8)?.try_into().ok()?;
            Some(Schedule::new(bytes))
        };
        let third = match key.len() {
            16 => 0,
            24 => 2,
            _ => return None,
        };
        Some(Self {
            keys: [part(0)?, part(1)?, part(third)?],
        })
    }

    /// `E_K3(D_K2(E_K1(block)))`. The inner FP and IP cancel, so they are left out.
    #[inline]
    pub(crate) fn encrypt(&self, block: [u8; 8]) -> [u8; 8] {
        let [k1, k2, k3] = &self.keys;
        let mut s = initial_permutation(block);
        s = k1.rounds::<false>(s);
        s = k2.rounds::<true>(s);
        s = k3.rounds::<false>(s);
        final_permutation(s)
    }

    /// `D_K1(E_K2(D_K3(block)))`.
    #[inline]
    pub(crate) fn decrypt(&self, block: [u8; 8]) -> [u8; 8] {
        let [k1, k2, k3] = &self.keys;
        let mut s = initial_permutation(block);
        s = k3.rounds::<true>(s);
        s = k2.rounds::<false>(s);
        s = k1.rounds::<true>(s);
        final_permutation(s)
    }

    /// ISO 9797-1 MAC algorithm 3 (the retail MAC) of `blocks`: CBC under `K1`, the last
    /// block under the whole key. Between blocks the chain stays permuted: IP is linear, so
    /// `IP(FP(z) ⊕ m) = z ⊕ IP(m)`, and a block costs one permutation, not two.
    pub(crate) fn retail_mac(&self, blocks: impl Iterator<Item = [u8; 8]>) -> [u8; 8] {
        let [k1, k2, k3] = &self.keys;
        let mut z = (0, 0);
        for block in blocks {
            let (l, r) = initial_permutation(block);
            z = k1.rounds::<false>((z.0 ^ l, z.1 ^ r));
        }
        z = k2.rounds::<true>(z);
        z = k3.rounds::<false>(z);
        final_permutation(z)
    }
}

// The RustCrypto block-cipher traits, so that the `cmac` crate and the ECB helpers run on it.
impl BlockSizeUser for Tdea {
    type BlockSize = U8;
}

impl ParBlocksSizeUser for Tdea {
    type ParBlocksSize = U1;
}

impl BlockCipherEncBackend for Tdea {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let out = self.encrypt(block.clone_in().into());
        block.get_out().copy_from_slice(&out);
    }
}

impl BlockCipherDecBackend for Tdea {
    #[inline]
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let out = self.decrypt(block.clone_in().into());
        block.get_out().copy_from_slice(&out);
    }
}

impl BlockCipherEncrypt for Tdea {
    #[inline]
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U8>) {
        f.call(self);
    }
}

impl BlockCipherDecrypt for Tdea {
    #[inline]
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = U8>) {
        f.call(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The initial permutation as printed in FIPS 46-3.
    const IP: [u8; 64] = [
        58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14,
        6, 64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11,
        3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
    ];

    fn permute(x: u64, table: &[u8]) -> u64 {
        table
            .iter()
            .fold(0, |acc, &t| (acc << 1) | ((x >> (64 - t)) & 1))
    }

    #[test]
    fn delta_swaps_are_the_printed_permutations() {
        let mut x = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..1000 {
            // A fixed-seed xorshift walk over 64-bit blocks.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (l, r) = initial_permutation(x.to_be_bytes());
            let standard = (u64::from(l.rotate_left(3)) << 32) | u64::from(r.rotate_left(3));
            assert_eq!(standard, permute(x, &IP), "{x:016X}");
            assert_eq!(final_permutation((l, r)), x.to_be_bytes());
        }
    }

    #[test]
    fn each_key_bit_feeds_the_rounds_pc1_keeps() {
        // The eight parity bits (8, 16, …, 64) are in no round key; each other bit is in
        // 768 / 56 (about 14) of the 16 rounds' 48 bits, at least 12; each round-key bit comes
        // from exactly one key bit.
        for bit in 0..64 {
            let used: u32 = KEY_BITS.iter().map(|w| w[bit].count_ones()).sum();
            if bit % 8 == 7 {
                assert_eq!(used, 0, "parity bit {}", bit + 1);
            } else {
                assert!(
                    used >= 12,
                    "key bit {} is in {used} round-key bits",
                    bit + 1
                );
            }
        }
        for half in &KEY_BITS {
            let all = half.iter().fold(0u32, |acc, w| {
                assert_eq!(acc & w, 0);
                acc | w
            });
            assert_eq!(all, 0x3F3F_3F3F);
        }
    }

    #[test]
    fn spread_sboxes_fill_disjoint_bits() {
        // What lets f sum them with |, ^ and + alike: each S-box's outputs land on four bits
        // of its own, and the eight S-boxes together cover all 32.
        let mut seen = 0u32;
        for line in &SPREAD {
            let bits = line.0.iter().fold(0, |acc, w| acc | w);
            assert_eq!(bits.count_ones(), 4);
            assert_eq!(seen & bits, 0);
            seen |= bits;
        }
        assert_eq!(seen, u32::MAX);
    }

    #[test]
    fn tables_fill_one_cache_line_each() {
        assert_eq!(core::mem::size_of::<SboxLine>(), 64);
        assert_eq!(core::mem::size_of::<SpreadLine>(), 64);
        for i in 0..8 {
            assert_eq!(core::ptr::from_ref(&SBOXES[i]).addr() % 64, 0);
            assert_eq!(core::ptr::from_ref(&SPREAD[i]).addr() % 64, 0);
        }
    }
}
