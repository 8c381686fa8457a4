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
        const ALL: [Timer; COUNT] = [
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
        let now = now.as_nanos();
        let due = ALL
            .into_iter()
            .map(|t| (self.deadlines[t as usize], t))
            .filter(|&(d, _)| d != UNSET && d <= now)
            .min_by_key(|&(d, _)| d)?;
        self.deadlines[due.1 as usize] = UNSET;
        Some(due.1)
    }
}
