//! Pacing: data segments leave spread over the round trip instead of in line-rate bursts, as
//! Linux's internal TCP pacing does (rate = cwnd / srtt, doubled in slow start and 1.2 times
//! in congestion avoidance).
//!
//! The pacer is a departure schedule, not a queue: it only says when the next data segment
//! may leave. While it holds one back, the connection's `Pacing` timer runs to that time, so
//! the stack's next-deadline reporting includes it. Nothing is paced before an RTT is known:
//! the initial window and an ACK clock without RTT go out as they always did.

use core::time::Duration;

use crate::time::{Instant, OptInstant};

/// Pacing rate in slow start, in percent of cwnd per srtt (Linux's `tcp_pacing_ss_ratio`).
pub const SLOW_START_RATIO: u64 = 200;
/// Pacing rate in congestion avoidance and recovery (Linux's `tcp_pacing_ca_ratio`).
pub const AVOIDANCE_RATIO: u64 = 120;
/// How far a late timer may fall behind the schedule and still be caught up with: a driver
/// whose timers wake a millisecond late would otherwise send one segment per wake-up.
pub const MAX_CATCH_UP: Duration = Duration::from_millis(2);

/// When the next paced segment may leave.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// Earliest departure of the next paced segment; `None` before the first.
    next: OptInstant,
    /// A segment was held back for `next`: when it goes, the schedule continues from `next`
    /// (up to `MAX_CATCH_UP` behind) rather than from the late wake-up.
    held: bool,
}

impl Pacer {
    /// The time a segment may leave, if not `now`: the caller arms its timer for it and
    /// holds the segment back.
    pub fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        let next = self.next.get().filter(|&next| next > now)?;
        self.held = true;
        Some(next)
    }

    /// A paced segment of `bytes` left at `now`; the next may leave `gap(bytes)` later.
    pub fn on_sent(&mut self, now: Instant, gap: Duration) {
        let base = match self.next.get() {
            // Caught up with a late wake-up, never by more than MAX_CATCH_UP.
            Some(next) if self.held => next.max(Instant::from_nanos(
                now.as_nanos()
                    .saturating_sub(MAX_CATCH_UP.as_nanos() as u64),
            )),
            // Sending was held by the windows, not by us: no credit for the idle time.
            Some(next) => next.max(now),
            None => now,
        };
        let next = base + gap;
        // Still behind a late wake-up's schedule: the next segment may catch up too.
        self.held = self.held && next <= now;
        self.next = Some(next).into();
    }
}

/// The time `bytes` take at the pacing rate `ratio_percent` × `cwnd` / `srtt`; zero (no
/// pacing) when the RTT is not known yet.
pub fn gap(bytes: usize, cwnd: usize, srtt: Option<Duration>, ratio_percent: u64) -> Duration {
    let Some(srtt) = srtt else {
        return Duration::ZERO;
    };
    let per = (cwnd.max(1) as u128) * u128::from(ratio_percent.max(1));
    let nanos = (bytes as u128) * srtt.as_nanos() * 100 / per;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_gap_is_the_segment_at_the_ratio_of_cwnd_per_srtt() {
        // 100 segments per 20 ms, doubled: one segment every 0.1 ms.
        assert_eq!(
            gap(1000, 100_000, Some(20 * MS), 200),
            Duration::from_micros(100)
        );
        // 1.2 times: 20 ms / 120.
        assert_eq!(gap(1000, 100_000, Some(20 * MS), 120).as_nanos(), 166_666);
        assert_eq!(gap(1000, 100_000, None, 200), Duration::ZERO);
    }

    #[test]
    fn segments_are_spaced_and_a_late_wake_up_catches_up_a_little() {
        let mut p = Pacer::default();
        let t0 = Instant::from_millis(10);
        assert_eq!(p.wait_until(t0), None);
        p.on_sent(t0, MS);
        assert_eq!(p.wait_until(t0), Some(t0 + MS));
        // The timer fires 1.5 ms late: the segments due at 1 and 2 ms go now, and the
        // schedule goes on from there.
        let late = t0 + MS + MS + MS / 2;
        assert_eq!(p.wait_until(late), None);
        p.on_sent(late, MS);
        assert_eq!(p.wait_until(late), None, "the one due at 2 ms is late too");
        p.on_sent(late, MS);
        assert_eq!(p.wait_until(late), Some(t0 + 3 * MS));
        // Far too late: no more than MAX_CATCH_UP of segments in a row.
        let very_late = t0 + 100 * MS;
        let mut sent = 0;
        while p.wait_until(very_late).is_none() {
            p.on_sent(very_late, MS / 4);
            sent += 1;
        }
        assert_eq!(sent, 8 + 1);
    }

    #[test]
    fn idle_time_earns_no_burst() {
        let mut p = Pacer::default();
        p.on_sent(Instant::ZERO, MS);
        let later = Instant::from_millis(100);
        assert_eq!(p.wait_until(later), None);
        p.on_sent(later, MS);
        assert_eq!(p.wait_until(later), Some(later + MS));
    }
}
