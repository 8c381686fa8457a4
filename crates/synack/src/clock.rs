//! Time for the core: tokio's clock, read as nanoseconds since a shared origin.

use std::time::Duration;

use synack_core::Instant;

/// Maps `tokio::time::Instant` onto the core's [`Instant`] (nanoseconds since an origin).
///
/// Give every stack of one run the same `Clock` so their traces share a time axis. Reading
/// tokio's clock (rather than the OS's) lets tests run with a paused, auto-advancing clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn new() -> Clock {
        Clock::with_origin(tokio::time::Instant::now())
    }

    /// A clock whose origin is `origin`.
    pub fn with_origin(origin: tokio::time::Instant) -> Clock {
        Clock { origin }
    }

    /// The tokio instant that is the core's `Instant::ZERO`.
    pub fn origin(&self) -> tokio::time::Instant {
        self.origin
    }

    /// The current time as the core sees it.
    pub fn now(&self) -> Instant {
        self.to_core(tokio::time::Instant::now())
    }

    /// A tokio instant as the core sees it (instants before the origin become the origin).
    pub fn to_core(&self, t: tokio::time::Instant) -> Instant {
        let nanos = t.saturating_duration_since(self.origin).as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// A core instant on tokio's clock; `Instant::FAR_FUTURE` maps to a time decades away.
    pub fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        self.origin
            .checked_add(Duration::from_nanos(t.as_nanos()))
            // tokio's own "far future": about 30 years, well inside what timers accept.
            .unwrap_or_else(|| self.origin + Duration::from_secs(86_400 * 365 * 30))
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let clock = Clock::new();
        assert_eq!(clock.now(), Instant::ZERO);
        tokio::time::sleep(Duration::from_millis(3)).await;
        assert_eq!(clock.now(), Instant::from_millis(3));
        let t = Instant::from_millis(7);
        assert_eq!(clock.to_core(clock.to_tokio(t)), t);
        assert!(clock.to_tokio(Instant::FAR_FUTURE) > clock.to_tokio(t));
    }
}
