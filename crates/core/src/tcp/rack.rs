//! RACK-TLP loss detection (RFC 8985): a segment is lost when one sent sufficiently later was
//! delivered, "sufficiently" being the RTT plus a reordering window; and a tail loss probe
//! asks for an ACK when the tail of a flight may be gone.

use core::time::Duration;

use super::SeqNum;
use super::scoreboard::{Delivered, Scoreboard};
use crate::time::Instant;

/// No time yet.
const NONE: u64 = u64::MAX;

/// A duration in nanoseconds, below `NONE`.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(NONE - 1)
        .min(NONE - 1)
}

/// RFC 8985 §7.2: the worst-case delayed ACK added to the PTO when one segment is in flight.
pub const WC_DEL_ACK: Duration = Duration::from_millis(200);
/// The shortest PTO: a margin for timer granularity and a receiver's scheduling.
const MIN_PTO: Duration = Duration::from_millis(10);
/// RFC 8985 §6.2 step 4: the reordering window stays inflated for 16 recoveries.
const REO_WND_PERSIST: u8 = 16;

/// RACK's per-connection state (RFC 8985 §6.1). Times are in nanoseconds (`u64`), `NONE`
/// for none yet: every connection carries this, and `Option<Duration>`s take twice the room.
#[derive(Debug, Clone)]
pub struct Rack {
    /// Send time (`NONE`: nothing delivered yet) and end of the most recently sent delivered
    /// segment (RACK.xmit_ts, end_seq).
    xmit: (u64, SeqNum),
    /// RTT of that segment (RACK.rtt).
    rtt: u64,
    /// Smallest RTT seen (RACK.min_RTT), or `NONE`.
    min_rtt: u64,
    /// Highest sequence number delivered (RACK.fack).
    pub fack: SeqNum,
    /// Reordering was seen on this connection (RACK.reordering_seen).
    reordering_seen: bool,
    /// Narrow: the window is capped at SRTT long before the multiplier could need more.
    reo_wnd_mult: u16,
    reo_wnd_persist: u8,
    /// D-SACKs raise the window at most once per round trip: until SND.UNA passes this.
    dsack_round: Option<SeqNum>,
}

impl Rack {
    pub fn new(snd_una: SeqNum) -> Rack {
        Rack {
            xmit: (NONE, snd_una),
            rtt: 0,
            min_rtt: NONE,
            fack: snd_una,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            dsack_round: None,
        }
    }

    /// RFC 8985 §6.2 steps 1-3: learns from the most recently sent delivered segment.
    /// `spurious_echo`: timestamps show the ACK answered an earlier transmission.
    pub fn on_delivered(
        &mut self,
        d: Delivered,
        now: Instant,
        reordered: bool,
        spurious_echo: bool,
    ) {
        if reordered {
            self.reordering_seen = true;
        }
        if d.end > self.fack {
            self.fack = d.end;
        }
        let rtt = nanos(now - d.xmit);
        // Step 2: an ACK for a retransmission may answer the original: such a sample is
        // ambiguous and is ignored.
        if d.retransmitted && (spurious_echo || (self.min_rtt != NONE && rtt < self.min_rtt)) {
            return;
        }
        self.rtt = rtt;
        if !d.retransmitted {
            self.min_rtt = self.min_rtt.min(rtt);
        }
        let (x, e) = self.xmit;
        let sent = d.xmit.as_nanos();
        let newer = x == NONE || sent > x || (sent == x && d.end > e);
        if newer {
            self.xmit = (sent, d.end);
        }
    }

    /// A D-SACK arrived: the reordering window grows, once per round trip (§6.2 step 4).
    pub fn on_dsack(&mut self, snd_una: SeqNum, snd_max: SeqNum) {
        self.reordering_seen = true;
        if self.dsack_round.is_none_or(|r| snd_una >= r) {
            self.dsack_round = Some(snd_max);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// A recovery ended: after 16 without D-SACK the window falls back (§6.2 step 4).
    pub fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }

    /// The reordering window (§6.2 step 4): zero while no reordering was seen and the
    /// sender is recovering or has DupThresh segments SACKed; else min_RTT/4 per D-SACK
    /// round, at most SRTT.
    pub fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_segments: usize,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked_segments >= 3) {
            return Duration::ZERO;
        }
        if self.min_rtt == NONE {
            return Duration::ZERO;
        }
        let wnd = Duration::from_nanos(self.min_rtt) / 4 * u32::from(self.reo_wnd_mult);
        srtt.map_or(wnd, |s| wnd.min(s))
    }

    /// RFC 8985 §6.2 step 5: marks lost every segment sent before the newest delivered one
    /// and outstanding longer than RACK.rtt + `reo_wnd`. Returns whether one was newly
    /// marked, and when the others become due (the reordering timer).
    pub fn detect_loss(
        &self,
        board: &mut Scoreboard,
        now: Instant,
        reo_wnd: Duration,
    ) -> (bool, Option<Duration>) {
        let (xmit, end) = self.xmit;
        if xmit == NONE {
            return (false, None);
        }
        let xmit = Instant::from_nanos(xmit);
        let rack_rtt = Duration::from_nanos(self.rtt);
        let mut timeout: Option<Duration> = None;
        let in_order = board.in_send_order();
        let marked = board.mark_lost_where(|s| {
            let sent_before = s.xmit < xmit || (s.xmit == xmit && s.end <= end);
            if !sent_before {
                // Sent in order: nothing after this one was sent before the newest delivered.
                return if in_order { None } else { Some(false) };
            }
            let due = s.xmit + rack_rtt + reo_wnd;
            if due <= now {
                return Some(true);
            }
            let left = due - now;
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
            Some(false)
        });
        (marked, timeout)
    }
}

/// The probe timeout (RFC 8985 §7.2): 2·SRTT, plus the worst-case delayed ACK when a single
/// segment is in flight; 1 s before any RTT sample. In nanoseconds, from SRTT in nanoseconds
/// (it is worked out for every new segment sent), saturating as adding a `Duration` to an
/// `Instant` does.
pub fn pto_nanos(srtt: Option<u64>, one_segment_in_flight: bool) -> u64 {
    let Some(srtt) = srtt else {
        return NO_SAMPLE_PTO;
    };
    let mut pto = srtt.saturating_mul(2);
    if one_segment_in_flight {
        pto = pto.saturating_add(WC_DEL_ACK.as_nanos() as u64);
    }
    pto.max(MIN_PTO.as_nanos() as u64)
}

/// The probe timeout before any RTT sample, in nanoseconds.
const NO_SAMPLE_PTO: u64 = 1_000_000_000;

/// [`pto_nanos`] of a `Duration`.
#[cfg(test)]
fn pto(srtt: Option<Duration>, one_segment_in_flight: bool) -> Duration {
    Duration::from_nanos(pto_nanos(srtt.map(nanos), one_segment_in_flight))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn marks_by_time_with_a_reordering_window() {
        let mut b = Scoreboard::default();
        b.on_sent(SeqNum(0), SeqNum(100), t(0));
        b.on_sent(SeqNum(100), SeqNum(200), t(1));
        let mut r = Rack::new(SeqNum(0));
        let mut sum = Default::default();
        b.on_sack_block(SeqNum(100), SeqNum(200), SeqNum(0), &mut sum);
        r.on_delivered(sum.newest.unwrap(), t(41), sum.reordered, false);
        let wnd = r.reo_wnd(false, 1, Some(Duration::from_millis(40)));
        assert_eq!(wnd, Duration::from_millis(10));
        // Sent at 0, RACK.rtt 40, window 10: lost at 50, not before.
        let (lost, timer) = r.detect_loss(&mut b, t(41), wnd);
        assert!(!lost);
        assert_eq!(timer, Some(Duration::from_millis(9)));
        let (lost, _) = r.detect_loss(&mut b, t(50), wnd);
        assert!(lost);
        assert_eq!(b.first_lost(), Some((SeqNum(0), SeqNum(100))));
    }

    #[test]
    fn dsack_widens_the_window_once_per_round() {
        let mut r = Rack::new(SeqNum(0));
        let mut b = Scoreboard::default();
        b.on_sent(SeqNum(0), SeqNum(100), t(0));
        let mut sum = Default::default();
        b.on_cumulative_ack(SeqNum(100), SeqNum(0), &mut sum);
        r.on_delivered(sum.newest.unwrap(), t(40), false, false);
        let srtt = Some(Duration::from_secs(1));
        assert_eq!(r.reo_wnd(true, 0, srtt), Duration::ZERO);
        r.on_dsack(SeqNum(100), SeqNum(500));
        r.on_dsack(SeqNum(200), SeqNum(600));
        assert_eq!(r.reo_wnd(true, 0, srtt), Duration::from_millis(20));
        r.on_dsack(SeqNum(500), SeqNum(900));
        assert_eq!(r.reo_wnd(true, 0, srtt), Duration::from_millis(30));
        for _ in 0..16 {
            r.on_recovery_end();
        }
        assert_eq!(r.reo_wnd(true, 0, srtt), Duration::from_millis(10));
    }

    #[test]
    fn pto_values() {
        assert_eq!(pto(None, false), Duration::from_secs(1));
        let srtt = Some(Duration::from_millis(50));
        assert_eq!(pto(srtt, false), Duration::from_millis(100));
        assert_eq!(pto(srtt, true), Duration::from_millis(300));
        assert_eq!(pto(Some(Duration::ZERO), false), MIN_PTO);
    }
}
