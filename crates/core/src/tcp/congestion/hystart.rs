//! HyStart++ (RFC 9406): leave the first slow start when the RTT starts to climb, through a
//! few rounds of Conservative Slow Start (CSS) that undo an exit caused by mere jitter.
//!
//! Rounds are marked by sequence numbers: a round ends when an ACK covers the highest
//! sequence number that had been sent when it began.

use core::time::Duration;

use crate::tcp::SeqNum;

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
/// RFC 9406 §4.3: the byte-counting limit L (in segments) for a sender that does not pace.
pub const L_NON_PACED: usize = 8;

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
    /// `baseline` is cssBaselineMinRtt; `rounds` counts rounds ended in CSS, the partial
    /// round CSS began in included.
    Css {
        baseline: Duration,
        rounds: u32,
    },
    Done,
}

/// HyStart++'s per-connection state.
#[derive(Debug, Clone)]
pub struct HyStart {
    phase: Phase,
    /// The round ends when an ACK reaches this (windowEnd); `None` before the first ACK.
    window_end: Option<SeqNum>,
    /// lastRoundMinRTT; `None` is infinity.
    last_round_min_rtt: Option<Duration>,
    /// currentRoundMinRTT; `None` is infinity.
    current_round_min_rtt: Option<Duration>,
    /// rttSampleCount of the current round.
    rtt_sample_count: u32,
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
            window_end: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            rtt_sample_count: 0,
        }
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
        if self.phase == Phase::Done {
            return Growth::SlowStart;
        }
        if let Some(rtt) = rtt {
            self.current_round_min_rtt =
                Some(self.current_round_min_rtt.map_or(rtt, |m| m.min(rtt)));
            self.rtt_sample_count = self.rtt_sample_count.saturating_add(1);
        }
        // The checks run on every ACK once the round has enough samples; the round's minimum
        // only falls, so the first check that fires is the one that matters.
        if self.rtt_sample_count >= N_RTT_SAMPLE {
            if let Some(current) = self.current_round_min_rtt {
                match self.phase {
                    Phase::SlowStart => {
                        if let Some(last) = self.last_round_min_rtt {
                            if current >= last.saturating_add(rtt_thresh(last)) {
                                self.phase = Phase::Css {
                                    baseline: current,
                                    rounds: 0,
                                };
                            }
                        }
                    }
                    Phase::Css { baseline, .. } => {
                        // The increase was jitter: back to slow start.
                        if current < baseline {
                            self.phase = Phase::SlowStart;
                        }
                    }
                    Phase::Done => {}
                }
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
        if round_over {
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = None;
            self.rtt_sample_count = 0;
            self.window_end = Some(snd_max);
            if let Phase::Css { rounds, .. } = &mut self.phase {
                *rounds += 1;
                if *rounds >= CSS_ROUNDS {
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
