//! The stable fuzz runners' source of mutations (`*/tests/fuzz_body.rs`, included by path):
//! xorshift64*, deterministic, so a failure replays from its seed.

/// xorshift64* from a fixed, non-zero seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }

    /// `seed` with one to four random edits: a byte replaced, removed, one of `specials`
    /// inserted, or the tail cut.
    pub fn mutate(&mut self, seed: &[u8], specials: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..=self.below(4) {
            let i = self.below(data.len());
            match self.below(4) {
                0 if !data.is_empty() => data[i] = u8::try_from(self.below(256)).unwrap(),
                1 if !data.is_empty() => {
                    data.remove(i);
                }
                2 => data.insert(i.min(data.len()), specials[self.below(specials.len())]),
                _ => data.truncate(i),
            }
        }
        data
    }
}
