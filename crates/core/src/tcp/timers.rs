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

#[derive(Debug, Clone, Default)]
pub struct Timers {
    deadlines: [Option<Instant>; COUNT],
}

impl Timers {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub fn is_set(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize].is_some()
    }

    /// When `timer` fires, if it runs.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub fn stop_all(&mut self) {
        self.deadlines = [None; COUNT];
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
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
        let due = ALL
            .into_iter()
            .filter_map(|t| {
                self.deadlines[t as usize]
                    .filter(|&d| d <= now)
                    .map(|d| (d, t))
            })
            .min_by_key(|&(d, _)| d)?;
        self.deadlines[due.1 as usize] = None;
        Some(due.1)
    }
}
