//! Virtual time: the core never reads a clock, it is told the time.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in time, in nanoseconds since an origin the driver chooses.
///
/// Time only moves forward: every call into the core takes `now`, and a `now` earlier than
/// one already seen is treated as equal to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);
    /// Later than any time a run reaches; used as "never".
    pub const FAR_FUTURE: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis * 1_000_000)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}ms", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}
/// An optional instant in eight bytes (`Option<Instant>` takes sixteen), for the many
/// per-connection times that are often unset. `Instant::FAR_FUTURE` stands for none: no run
/// reaches it, so it is never a real reading.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct OptInstant(u64);

impl OptInstant {
    /// No instant.
    pub(crate) const NONE: OptInstant = OptInstant(u64::MAX);

    /// The instant, if any.
    pub(crate) fn get(self) -> Option<Instant> {
        (self.0 != u64::MAX).then_some(Instant(self.0))
    }

    pub(crate) fn is_none(self) -> bool {
        self.0 == u64::MAX
    }

    /// The instant, after setting it to `at` if there was none.
    pub(crate) fn get_or_insert(&mut self, at: Instant) -> Instant {
        if self.is_none() {
            *self = Some(at).into();
        }
        Instant(self.0)
    }

    /// The instant, if any, leaving none.
    pub(crate) fn take(&mut self) -> Option<Instant> {
        core::mem::replace(self, OptInstant::NONE).get()
    }
}

/// An optional duration in eight bytes (`Option<Duration>` takes sixteen): whole
/// nanoseconds, `u64::MAX` for none. Durations of 584 years and more are clamped just below.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct OptDuration(u64);

impl OptDuration {
    /// No duration.
    pub(crate) const NONE: OptDuration = OptDuration(u64::MAX);

    /// The duration, if any.
    pub(crate) fn get(self) -> Option<Duration> {
        (self.0 != u64::MAX).then(|| Duration::from_nanos(self.0))
    }

    /// The duration in nanoseconds, if any.
    pub(crate) fn nanos(self) -> Option<u64> {
        (self.0 != u64::MAX).then_some(self.0)
    }

    /// A duration of `nanos` nanoseconds, clamped as `From<Option<Duration>>` clamps.
    pub(crate) fn from_nanos(nanos: u64) -> OptDuration {
        OptDuration(nanos.min(u64::MAX - 1))
    }
}

impl From<Option<Duration>> for OptDuration {
    fn from(d: Option<Duration>) -> OptDuration {
        OptDuration(d.map_or(u64::MAX, |d| {
            u64::try_from(d.as_nanos()).map_or(u64::MAX - 1, |n| n.min(u64::MAX - 1))
        }))
    }
}

impl Default for OptInstant {
    fn default() -> OptInstant {
        OptInstant::NONE
    }
}

impl From<Option<Instant>> for OptInstant {
    fn from(at: Option<Instant>) -> OptInstant {
        // A reading of FAR_FUTURE itself would read back as none: it is never reached, so
        // nothing waits on it either way.
        OptInstant(at.map_or(u64::MAX, |i| i.0))
    }
}
