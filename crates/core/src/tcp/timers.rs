//! A connection's timers: a small fixed table whose minimum is the next wake-up.

use crate::time::Instant;

/// The timers one connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Retransmission timeout (RFC 6298).
    Retransmit = 0,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist = 1,
    /// Delayed ACK (RFC 9293 §3.8.6.3, MUST-40).
    DelayedAck = 2,
    /// 2×MSL in TIME-WAIT (MUST-13).
    TimeWait = 3,
    /// An orphaned connection's wait for the peer's FIN in FIN-WAIT-2.
    FinWait2 = 4,
    /// RACK's reordering timer: a segment becomes lost when its window passes (RFC 8985 §6.3).
    Reorder = 5,
    /// Tail loss probe (RFC 8985 §7).
    Tlp = 6,
    /// Keep-alive: the idle time or the interval between probes ran out (RFC 9293 §3.8.4).
    Keepalive = 7,
    /// Pacing: the next data segment may leave (`pacing.rs`).
    Pacing = 8,
}

const COUNT: usize = 9;

impl Timer {
    /// Every timer, in the order of their numbers.
    pub const ALL: [Timer; COUNT] = [
        Timer::Retransmit,
        Timer::Persist,
        Timer::DelayedAck,
        Timer::TimeWait,
        Timer::FinWait2,
        Timer::Reorder,
        Timer::Tlp,
        Timer::Keepalive,
        Timer::Pacing,
    ];
}

/// Deadlines in nanoseconds, `UNSET` for a timer that does not run: half the size of
/// `Option<Instant>`s, and the minimum is a plain scan of integers.
#[derive(Debug, Clone)]
pub struct Timers {
    deadlines: [u64; COUNT],
}

/// A timer that does not run. `Instant::FAR_FUTURE` is the same instant, and is never
/// reached, so a timer set for it never fires either way.
const UNSET: u64 = u64::MAX;

impl Default for Timers {
    fn default() -> Self {
        Timers {
            deadlines: [UNSET; COUNT],
        }
    }
}

impl Timers {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = at.as_nanos();
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = UNSET;
    }

    pub fn is_set(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize] != UNSET
    }

    /// When `timer` fires, if it runs.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        let at = self.deadlines[timer as usize];
        (at != UNSET).then(|| Instant::from_nanos(at))
    }

    pub fn stop_all(&mut self) {
        self.deadlines = [UNSET; COUNT];
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        let at = self.deadlines.iter().copied().min().unwrap_or(UNSET);
        (at != UNSET).then(|| Instant::from_nanos(at))
    }

    /// Takes the earliest timer due at `now`, if any.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        // A plain scan (a chain of iterator adapters cost a hundred instructions here): the
        // earliest deadline at or before `now`, the first timer in `Timer::ALL` on a tie.
        // A timer not yet due counts as unset; an unset one is never below `earliest`.
        let now = now.as_nanos();
        let (mut earliest, mut due) = (UNSET, None);
        for (i, &d) in self.deadlines.iter().enumerate() {
            let d = if d <= now { d } else { UNSET };
            if d < earliest {
                (earliest, due) = (d, Some(i));
            }
        }
        let i = due?;
        self.deadlines[i] = UNSET;
        Some(Timer::ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    /// Due timers come out earliest first, each once, and the lower-numbered on a tie;
    /// timers not yet due and timers never set (even "due" at the far future) stay.
    #[test]
    fn take_expired_earliest_first() {
        let mut t = Timers::default();
        assert_eq!(t.take_expired(Instant::FAR_FUTURE), None);
        t.set(Timer::Pacing, at(5));
        t.set(Timer::DelayedAck, at(3));
        t.set(Timer::Tlp, at(3));
        t.set(Timer::Retransmit, at(9));
        t.set(Timer::Keepalive, at(20));
        let fired: Vec<_> = std::iter::from_fn(|| t.take_expired(at(10))).collect();
        assert_eq!(
            fired,
            [
                Timer::DelayedAck,
                Timer::Tlp,
                Timer::Pacing,
                Timer::Retransmit
            ]
        );
        assert_eq!(t.next(), Some(at(20)));
        assert_eq!(t.take_expired(at(19)), None);
        assert_eq!(t.take_expired(at(20)), Some(Timer::Keepalive));
        assert_eq!(t.next(), None);
        assert_eq!(t.take_expired(Instant::FAR_FUTURE), None);
        // Each timer alone comes out as itself.
        for timer in Timer::ALL {
            t.set(timer, at(1));
            assert_eq!(t.take_expired(at(1)), Some(timer));
            assert!(!t.is_set(timer));
        }
    }
}
