//! HyStart++ (RFC 9406): leave the first slow start when the RTT starts to climb, through a
//! few rounds of Conservative Slow Start (CSS) that undo an exit caused by mere jitter.
//!
//! Rounds are marked by sequence numbers: a round ends when an ACK covers the highest
//! sequence number that had been sent when it began.
//!
//! The delay test alone cannot end slow start before a queue of one bandwidth-delay product
//! overflows: the first samples of a round show the queue as it was a round earlier, when
//! the window was half what it is now, so by the time they show a rise of the threshold the
//! flight is already past the path's capacity plus the queue. So the connection may also run
//! the ACK-train test of the original HyStart (Ha and Rhee; Linux's `HYSTART_ACK_TRAIN`;
//! `TcpConfig::hystart_ack_train`, on by default): when the ACKs of one round keep arriving
//! close together for most of a minimum RTT, the bottleneck has been busy that long, so the
//! window already fills the path, and slow start ends there (straight into congestion
//! avoidance: there is no delay rise for CSS to second-guess). A round sent in bursts comes
//! back spread by the bottleneck alone; a paced one leaves within half an RTT, so a longer
//! train still can only come from the bottleneck.

use core::time::Duration;

use crate::tcp::SeqNum;
use crate::time::{Instant, OptDuration, OptInstant};

/// RFC 9406 §4.3: the smallest RTT increase that ends slow start.
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3: the largest RTT increase ever required to end slow start.
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3: the threshold is the last round's minimum RTT divided by this.
pub const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: RTT samples a round needs before its minimum is trusted.
pub const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: CSS grows the window this many times slower than slow start.
pub const CSS_GROWTH_DIVISOR: usize = 4;
/// RFC 9406 §4.3: rounds of CSS before congestion avoidance.
pub const CSS_ROUNDS: u32 = 5;
/// ACK-train test: the train must last this share of the minimum RTT (2/3). A round sent
/// faster than the bottleneck drains comes back as a train of flight/capacity, so it fires
/// once the flight passes 2/3 of the path's capacity, with the window at 4/3 to 2 times it
/// (slow start doubles it per round): full, and not past capacity plus a queue of one more.
/// Linux uses 1/2 without pacing, which our own pacing (a round's segments sent within half
/// an RTT) could fake, and 1 with it, which fires a round too late for such a queue.
pub const ACK_TRAIN_SHARE: (u32, u32) = (2, 3);
/// ACK-train test: ACKs further apart than this break the train (Linux's 2 ms).
pub const ACK_TRAIN_GAP: Duration = Duration::from_millis(2);
/// ACK-train test: not below this window in segments (Linux's `hystart_low_window`), where
/// a round is too short to say anything.
pub const ACK_TRAIN_LOW_WINDOW: usize = 16;

/// RFC 9406 §4.3: the byte-counting limit L (in segments) for a sender that does not pace.
pub const L_NON_PACED: usize = 8;

/// RFC 9406 §4.3: L for the slow start HyStart++ runs; a paced sender uses L = infinity.
pub fn byte_counting_limit(paced: bool) -> usize {
    if paced { usize::MAX } else { L_NON_PACED }
}

/// Where HyStart++ stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowStartPhase {
    /// Standard slow start, watching the RTT.
    SlowStart,
    /// Conservative Slow Start: the RTT rose; growing at a quarter of the rate.
    Conservative,
    /// Over: slow start ended (by HyStart++, a loss or a timeout) and HyStart++ never runs
    /// again on this connection (RFC 9406 §4.2: only the initial slow start uses it).
    Done,
}

/// How the window grows on one ACK, as HyStart++ decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// Slow start: cwnd += min(N, L*SMSS).
    SlowStart,
    /// CSS: cwnd += min(N, L*SMSS) / CSS_GROWTH_DIVISOR.
    Conservative,
    /// The last CSS round ended: grow as in CSS, then set ssthresh = cwnd to enter
    /// congestion avoidance.
    ExitToAvoidance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SlowStart,
    /// `rounds` counts rounds ended in CSS, the partial round CSS began in included.
    Css {
        rounds: u8,
    },
    Done,
}

/// HyStart++'s per-connection state.
#[derive(Debug, Clone)]
pub struct HyStart {
    phase: Phase,
    /// cssBaselineMinRtt, while in CSS; beside `phase` rather than in it, which keeps the
    /// state of every idle connection 8 bytes smaller.
    css_baseline: OptDuration,
    /// The round ends when an ACK reaches this (windowEnd); `None` before the first ACK.
    window_end: Option<SeqNum>,
    /// lastRoundMinRTT; `None` is infinity.
    last_round_min_rtt: OptDuration,
    /// currentRoundMinRTT; `None` is infinity.
    current_round_min_rtt: OptDuration,
    /// rttSampleCount of the current round.
    rtt_sample_count: u32,
    /// The ACK-train test, when on: the smallest RTT seen, when the current
    /// round began, and the last ACK of the train that started with it (`None`: broken).
    ack_train: bool,
    min_rtt: OptDuration,
    round_start: OptInstant,
    train_last: OptInstant,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart::new()
    }
}

impl HyStart {
    /// State for a connection's initial slow start.
    pub fn new() -> HyStart {
        HyStart {
            phase: Phase::SlowStart,
            css_baseline: OptDuration::NONE,
            window_end: None,
            last_round_min_rtt: OptDuration::NONE,
            current_round_min_rtt: OptDuration::NONE,
            rtt_sample_count: 0,
            ack_train: false,
            min_rtt: OptDuration::NONE,
            round_start: OptInstant::NONE,
            train_last: OptInstant::NONE,
        }
    }

    /// Turns the ACK-train test on or off (off here; connections turn it on by default).
    pub fn set_ack_train(&mut self, on: bool) {
        self.ack_train = on;
    }

    /// Where HyStart++ stands.
    pub fn phase(&self) -> SlowStartPhase {
        match self.phase {
            Phase::SlowStart => SlowStartPhase::SlowStart,
            Phase::Css { .. } => SlowStartPhase::Conservative,
            Phase::Done => SlowStartPhase::Done,
        }
    }

    /// Whether HyStart++ still decides how slow start grows.
    pub fn is_active(&self) -> bool {
        self.phase != Phase::Done
    }

    /// Stops HyStart++ for good: a loss or timeout ended slow start (RFC 9406 §4.2: enter
    /// congestion avoidance; later slow starts are standard ones).
    pub fn finish(&mut self) {
        self.phase = Phase::Done;
    }

    /// One ACK in slow start or CSS: `ack` is the new SND.UNA, `snd_max` the highest sequence
    /// number sent, `rtt` the sample this ACK gave. Says how the window grows.
    pub fn on_ack(&mut self, ack: SeqNum, snd_max: SeqNum, rtt: Option<Duration>) -> Growth {
        self.on_ack_at(None, ack, snd_max, rtt, 0)
    }

    /// As [`HyStart::on_ack`], with the ACK's arrival time and the window in segments, which
    /// the ACK-train test needs. Without a time (an application-limited ACK says nothing
    /// about the bottleneck) the test skips the ACK, and the gap it leaves breaks the train.
    pub fn on_ack_at(
        &mut self,
        now: Option<Instant>,
        ack: SeqNum,
        snd_max: SeqNum,
        rtt: Option<Duration>,
        cwnd_segments: usize,
    ) -> Growth {
        if self.phase == Phase::Done {
            return Growth::SlowStart;
        }
        if let Some(rtt) = rtt {
            self.min_rtt = Some(self.min_rtt.get().map_or(rtt, |m| m.min(rtt))).into();
        }
        if let Some(now) = now
            && self.train_full(now, cwnd_segments)
        {
            self.phase = Phase::Done;
            return Growth::ExitToAvoidance;
        }
        if let Some(rtt) = rtt {
            self.current_round_min_rtt =
                Some(self.current_round_min_rtt.get().map_or(rtt, |m| m.min(rtt))).into();
            self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
        }
        // The checks run on every ACK once the round has enough samples; the round's minimum
        // only falls, so the first check that fires is the one that matters.
        if self.rtt_sample_count >= N_RTT_SAMPLE
            && let Some(current) = self.current_round_min_rtt.get()
        {
            match self.phase {
                Phase::SlowStart => {
                    if let Some(last) = self.last_round_min_rtt.get()
                        && current >= last.saturating_add(rtt_thresh(last))
                    {
                        self.phase = Phase::Css { rounds: 0 };
                        self.css_baseline = Some(current).into();
                    }
                }
                Phase::Css { .. } => {
                    // The increase was jitter: back to slow start.
                    if self.css_baseline.get().is_some_and(|b| current < b) {
                        self.phase = Phase::SlowStart;
                    }
                }
                Phase::Done => {}
            }
        }
        // The ACK that reaches windowEnd belongs to the round it completes.
        let round_over = match self.window_end {
            None => {
                self.window_end = Some(snd_max);
                false
            }
            Some(end) => ack >= end,
        };
        if round_over || self.round_start.is_none() {
            self.round_start = now.into();
            self.train_last = now.into();
        }
        if round_over {
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = OptDuration::NONE;
            self.rtt_sample_count = 0;
            self.window_end = Some(snd_max);
            if let Phase::Css { rounds, .. } = &mut self.phase {
                *rounds = rounds.saturating_add(1);
                if u32::from(*rounds) >= CSS_ROUNDS {
                    self.phase = Phase::Done;
                    return Growth::ExitToAvoidance;
                }
            }
        }
        match self.phase {
            Phase::Css { .. } => Growth::Conservative,
            Phase::SlowStart | Phase::Done => Growth::SlowStart,
        }
    }
}

impl HyStart {
    /// The ACK-train test on one ACK of standard slow start: true once the ACKs of this
    /// round have come without a gap over `ACK_TRAIN_GAP` for `ACK_TRAIN_SHARE` of the
    /// minimum RTT.
    fn train_full(&mut self, now: Instant, cwnd_segments: usize) -> bool {
        if !self.ack_train || self.phase != Phase::SlowStart {
            return false;
        }
        let (Some(start), Some(last), Some(min_rtt)) = (
            self.round_start.get(),
            self.train_last.get(),
            self.min_rtt.get(),
        ) else {
            return false;
        };
        if now - last > ACK_TRAIN_GAP {
            // A gap: the bottleneck idled; this round's train is over.
            self.train_last = OptInstant::NONE;
            return false;
        }
        self.train_last = Some(now).into();
        let (num, den) = ACK_TRAIN_SHARE;
        cwnd_segments >= ACK_TRAIN_LOW_WINDOW && now - start >= min_rtt * num / den
    }
}

/// RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
pub fn rtt_thresh(last_round_min_rtt: Duration) -> Duration {
    (last_round_min_rtt / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    /// ACKs per round: each ACK covers one unit, and snd_max runs this far ahead of it.
    const ROUND: u32 = 10;

    /// A HyStart++ that has seen its first ACK (at 0), so round 0 ends at ROUND.
    fn started() -> (HyStart, u32) {
        let mut h = HyStart::new();
        assert_eq!(h.on_ack(SeqNum(0), SeqNum(ROUND), None), Growth::SlowStart);
        (h, 0)
    }

    /// One round of ROUND ACKs; `rtts` gives the samples (the rest of the ACKs give none).
    fn round(h: &mut HyStart, next: &mut u32, rtts: &[Duration]) -> Vec<Growth> {
        (0..ROUND as usize)
            .map(|i| {
                *next += 1;
                h.on_ack(SeqNum(*next), SeqNum(*next + ROUND), rtts.get(i).copied())
            })
            .collect()
    }

    #[test]
    fn threshold_is_an_eighth_clamped_to_4_and_16_ms() {
        assert_eq!(rtt_thresh(10 * MS), 4 * MS);
        assert_eq!(rtt_thresh(80 * MS), 10 * MS);
        assert_eq!(rtt_thresh(200 * MS), 16 * MS);
    }

    #[test]
    fn a_round_with_too_few_samples_never_exits() {
        let (mut h, mut next) = started();
        round(&mut h, &mut next, &[100 * MS; 10]);
        // Seven samples, all far above the threshold: not enough to judge.
        let g = round(&mut h, &mut next, &[300 * MS; 7]);
        assert!(g.iter().all(|g| *g == Growth::SlowStart));
        assert_eq!(h.phase(), SlowStartPhase::SlowStart);
    }

    #[test]
    fn an_rtt_rise_of_the_threshold_enters_css_on_the_eighth_sample() {
        let (mut h, mut next) = started();
        round(&mut h, &mut next, &[40 * MS; 10]);
        // 40 ms / 8 = 5 ms: a rise of exactly 5 ms is enough.
        let g = round(&mut h, &mut next, &[45 * MS; 10]);
        assert_eq!(&g[..7], &[Growth::SlowStart; 7]);
        assert_eq!(&g[7..], &[Growth::Conservative; 3]);
        assert_eq!(h.phase(), SlowStartPhase::Conservative);
    }

    #[test]
    fn a_rise_just_below_the_threshold_stays_in_slow_start() {
        let (mut h, mut next) = started();
        round(&mut h, &mut next, &[40 * MS; 10]);
        let g = round(&mut h, &mut next, &[45 * MS - Duration::from_micros(1); 10]);
        assert!(g.iter().all(|g| *g == Growth::SlowStart));
        assert_eq!(h.phase(), SlowStartPhase::SlowStart);
    }

    /// ACKs every `gap` from time zero, in one long round; the window is `segments`. Returns
    /// the index of the ACK that ended slow start, if one did.
    fn train(on: bool, gap: Duration, segments: usize, acks: u32) -> Option<u32> {
        let mut h = HyStart::new();
        h.set_ack_train(on);
        let at = |i: u32| Some(Instant::ZERO + gap * i);
        // The first ACK opens a round that lasts past all the others.
        h.on_ack_at(at(0), SeqNum(0), SeqNum(10_000), Some(20 * MS), segments);
        (1..acks).find(|&i| {
            h.on_ack_at(at(i), SeqNum(i), SeqNum(10_000), Some(20 * MS), segments)
                == Growth::ExitToAvoidance
        })
    }

    #[test]
    fn an_ack_train_of_two_thirds_of_the_min_rtt_ends_slow_start() {
        // 1 ms apart: the ACK at 14 ms is the first at least 13.3 ms after the round began.
        assert_eq!(train(true, MS, 20, 40), Some(14));
        // Off, too sparse to be a train, or too small a window: no exit.
        assert_eq!(train(false, MS, 20, 40), None);
        assert_eq!(train(true, 3 * MS, 20, 40), None);
        assert_eq!(train(true, MS, ACK_TRAIN_LOW_WINDOW - 1, 40), None);
    }

    #[test]
    fn a_gap_breaks_the_train_until_the_next_round() {
        let mut h = HyStart::new();
        h.set_ack_train(true);
        let t = |ms: u64| Some(Instant::from_millis(ms));
        h.on_ack_at(t(0), SeqNum(0), SeqNum(30), Some(20 * MS), 20);
        let mut growth = Vec::new();
        for i in 1..=8 {
            growth.push(h.on_ack_at(t(i), SeqNum(i as u32), SeqNum(30), Some(20 * MS), 20));
        }
        // 3 ms of silence, then ACKs 1 ms apart well past 13.3 ms: still the broken round.
        for i in 11..=30 {
            growth.push(h.on_ack_at(t(i), SeqNum(i as u32), SeqNum(60), Some(20 * MS), 20));
        }
        assert!(growth.iter().all(|g| *g == Growth::SlowStart));
        // The ACK of 30 ended that round at 30 ms; a new train ran from there.
        let mut exit = None;
        for i in 31..=60u64 {
            if h.on_ack_at(t(i), SeqNum(i as u32), SeqNum(90), Some(20 * MS), 20)
                == Growth::ExitToAvoidance
            {
                exit = Some(i);
                break;
            }
        }
        assert_eq!(exit, Some(44));
        assert_eq!(h.phase(), SlowStartPhase::Done);
    }

    #[test]
    fn finish_ends_it_for_good() {
        let (mut h, mut next) = started();
        h.finish();
        assert!(!h.is_active());
        round(&mut h, &mut next, &[40 * MS; 10]);
        round(&mut h, &mut next, &[90 * MS; 10]);
        assert_eq!(h.phase(), SlowStartPhase::Done);
    }
}
