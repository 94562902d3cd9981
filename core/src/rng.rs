//! Random bytes for key generation, PIN-block fill and key-block padding.
//!
//! Algorithms take `&mut dyn RandomSource`, so tests can replay published padding and a
//! bare-metal build can bring its own generator. With the `std` feature, [`OsRandom`] reads the
//! operating system's CSPRNG.

use crate::Error;

/// A source of random bytes.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's cryptographically secure random source.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        getrandom::fill(dest).map_err(|_| Error::RandomSource)
    }
}

/// Replays fixed bytes, then fails: for known-answer tests that recover published randomness.
#[derive(Debug)]
pub struct Replay<'a> {
    bytes: &'a [u8],
}

impl<'a> Replay<'a> {
    /// Replays `bytes` in order.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Bytes not yet handed out.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }
}

impl RandomSource for Replay<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        if dest.len() > self.bytes.len() {
            return Err(Error::RandomSource);
        }
        let (head, tail) = self.bytes.split_at(dest.len());
        dest.copy_from_slice(head);
        self.bytes = tail;
        Ok(())
    }
}
