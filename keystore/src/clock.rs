//! Time: deletion deadlines and usage timestamps read a [`Clock`], so tests can jump ahead.
//!
//! The HSM goes by [`SteadyTime`], which never runs backwards: a wall clock moved back can
//! neither bring back a key whose deletion came due nor push a deletion deadline further out.

use std::{
    fmt,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicI64, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

/// An instant, in milliseconds since the Unix epoch. The service prints timestamps as epoch
/// seconds (a JSON number, possibly fractional): [`Timestamp::as_epoch_seconds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Timestamp {
    /// The instant as epoch seconds.
    #[allow(clippy::cast_precision_loss)] // Milliseconds below 2^53 are exact in an f64.
    pub fn as_epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// This instant plus `days` days.
    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0.saturating_add(days.saturating_mul(DAY_MS)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:03}",
            self.0.div_euclid(1000),
            self.0.rem_euclid(1000)
        )
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, on the wall clock (which an operator may set back).
    fn now(&self) -> Timestamp;

    /// Milliseconds since an arbitrary start on a clock that never goes back and that setting
    /// the wall clock does not move (`CLOCK_MONOTONIC`).
    fn elapsed_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp(ms)
    }

    fn elapsed_ms(&self) -> i64 {
        static START: OnceLock<Instant> = OnceLock::new();
        let elapsed = START.get_or_init(Instant::now).elapsed().as_millis();
        i64::try_from(elapsed).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to: for tests of deadlines. Clones share the time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    wall: Arc<AtomicI64>,
    elapsed: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            wall: Arc::new(AtomicI64::new(start.0)),
            elapsed: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Moves the clock by `ms` milliseconds. Forward is time passing; backward is someone
    /// setting the wall clock back (no time passes).
    pub fn advance_ms(&self, ms: i64) {
        self.wall.fetch_add(ms, Ordering::SeqCst);
        self.elapsed.fetch_add(ms.max(0), Ordering::SeqCst);
    }

    /// Moves the clock by `days` days (negative moves it back).
    pub fn advance_days(&self, days: i64) {
        self.advance_ms(days * DAY_MS);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.wall.load(Ordering::SeqCst))
    }

    fn elapsed_ms(&self) -> i64 {
        self.elapsed.load(Ordering::SeqCst)
    }
}

/// A [`Clock`] that never runs backwards: the wall clock, but never earlier than the last time
/// it gave plus the monotonic time elapsed since, nor than the floor it starts from (the latest
/// time an earlier run recorded). A wall clock set back is overtaken by this until it catches
/// up; one set forward is followed.
pub struct SteadyTime {
    clock: Arc<dyn Clock>,
    /// The last time given and the monotonic reading then.
    last: Mutex<Option<(Timestamp, i64)>>,
}

impl SteadyTime {
    /// Steady time on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            last: Mutex::new(None),
        }
    }

    /// Now: at least `floor()` (asked once, at the first reading) and at least the last
    /// reading plus the time elapsed since.
    pub fn now(&self, floor: impl FnOnce() -> Option<Timestamp>) -> Timestamp {
        let (wall, elapsed) = (self.clock.now(), self.clock.elapsed_ms());
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let earliest = match *last {
            Some((t, at)) => Timestamp(t.0.saturating_add(elapsed.saturating_sub(at).max(0))),
            None => floor().unwrap_or(Timestamp(i64::MIN)),
        };
        let now = wall.max(earliest);
        *last = Some((now, elapsed));
        now
    }
}

impl fmt::Debug for SteadyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SteadyTime")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_time_never_runs_backwards() {
        let clock = ManualClock::new(Timestamp(10_000));
        let steady = SteadyTime::new(Arc::new(clock.clone()));
        assert_eq!(steady.now(|| Some(Timestamp(5_000))), Timestamp(10_000));
        // Set back: the time elapsed since still counts.
        clock.advance_ms(-8_000);
        assert_eq!(steady.now(|| unreachable!()), Timestamp(10_000));
        clock.advance_ms(500);
        assert_eq!(steady.now(|| unreachable!()), Timestamp(10_500));
        // Time passing counts from the steady reading, not the wall clock set back.
        clock.advance_ms(20_000);
        assert_eq!(steady.now(|| unreachable!()), Timestamp(30_500));
        // A floor above the wall clock holds at the start.
        let later = SteadyTime::new(Arc::new(ManualClock::new(Timestamp(1_000))));
        assert_eq!(later.now(|| Some(Timestamp(30_000))), Timestamp(30_000));
    }
}
