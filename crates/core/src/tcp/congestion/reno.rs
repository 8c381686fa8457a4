//! NewReno's window (RFC 5681 §3.1, RFC 6582 §3.2), with the RFC 6928 initial window and
//! HyStart++ (RFC 9406) in the initial slow start.

use super::hystart::{CSS_GROWTH_DIVISOR, Growth, HyStart, SlowStartPhase, byte_counting_limit};
use super::{AckSample, CongestionControl, initial_window, slow_start_increase};

/// Slow start's byte-counting limit in segments outside HyStart++: RFC 5681's min(N, SMSS)
/// (RFC 3465 L=1).
const L: usize = 1;

/// RFC 5681 Reno window management; with RFC 6582's recovery (run by the connection) this is
/// NewReno.
#[derive(Debug, Clone)]
pub struct Reno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acked since the last cwnd increase in congestion avoidance.
    acked: usize,
    hystart: HyStart,
    /// The state before the last reduction, for [`CongestionControl::on_spurious_undo`].
    /// Boxed: a controller carries it only after a congestion event, so an idle
    /// connection's controller stays small.
    prior: Option<Box<Saved>>,
    /// A timeout collapsed the window and no new data has been acknowledged since: a repeated
    /// timeout must not lower ssthresh again (RFC 5681 §3.1's note on repeated timeouts).
    after_timeout: bool,
    /// The sender paces: HyStart++'s L is infinite.
    paced: bool,
}

/// The name RFC 6582 gives Reno plus its recovery; the same controller.
pub type NewReno = Reno;

#[derive(Debug, Clone)]
struct Saved {
    cwnd: usize,
    ssthresh: usize,
    acked: usize,
    hystart: HyStart,
}

impl Reno {
    /// A controller in slow start with the RFC 6928 initial window.
    pub fn new(mss: usize) -> Reno {
        Reno {
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            acked: 0,
            hystart: HyStart::new(),
            prior: None,
            after_timeout: false,
            paced: false,
        }
    }

    /// Where HyStart++ stands.
    pub fn slow_start_phase(&self) -> SlowStartPhase {
        self.hystart.phase()
    }

    fn congestion_avoidance(&mut self, bytes_acked: usize, mss: usize) {
        // RFC 5681 §3.1: one MSS per window's worth of acknowledged bytes.
        self.acked += bytes_acked;
        if self.acked >= self.cwnd {
            self.acked -= self.cwnd;
            self.cwnd += mss;
        }
    }

    fn save(&mut self) {
        self.prior = Some(Box::new(Saved {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            acked: self.acked,
            hystart: self.hystart.clone(),
        }));
    }
}

impl CongestionControl for Reno {
    fn name(&self) -> &'static str {
        "newreno"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(&mut self, bytes_acked: usize, mss: usize) {
        self.after_timeout = false;
        if self.cwnd < self.ssthresh {
            // Slow start, with appropriate byte counting limited to one MSS (RFC 3465 L=1).
            self.cwnd += slow_start_increase(bytes_acked, mss, L);
        } else {
            self.congestion_avoidance(bytes_acked, mss);
        }
    }

    fn on_ack_sample(&mut self, ack: &AckSample) {
        self.after_timeout = false;
        if self.cwnd >= self.ssthresh {
            if !ack.app_limited {
                self.congestion_avoidance(ack.bytes_acked, ack.mss);
            }
            return;
        }
        // HyStart++ watches every ACK, limited or not: its RTT samples are still good.
        // RFC 9406 §4.3: the slow start HyStart++ runs counts up to L segments per ACK (8, or
        // all of them when paced); later slow starts keep RFC 5681's one.
        let limit = if self.hystart.is_active() {
            byte_counting_limit(self.paced)
        } else {
            L
        };
        let at = (!ack.app_limited).then_some(ack.now);
        // Read only by the ACK-train test, which skips an ACK without a time.
        let segments = match at {
            Some(_) => self.cwnd / ack.mss.max(1),
            None => 0,
        };
        let growth = self
            .hystart
            .on_ack_at(at, ack.ack, ack.snd_max, ack.rtt, segments);
        if !ack.app_limited {
            let increase = slow_start_increase(ack.bytes_acked, ack.mss, limit);
            self.cwnd += match growth {
                Growth::SlowStart => increase,
                Growth::Conservative | Growth::ExitToAvoidance => increase / CSS_GROWTH_DIVISOR,
            };
        }
        if growth == Growth::ExitToAvoidance {
            self.ssthresh = self.cwnd;
        }
    }

    fn on_fast_retransmit(&mut self, flight: usize, mss: usize) {
        self.save();
        self.hystart.finish();
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_end(&mut self) {
        // RFC 6582 §3.2 step 4: deflate to ssthresh (we never inflate, so this holds already
        // unless an undo during recovery restored a larger window, which is kept).
        if self.prior.is_some() {
            self.cwnd = self.ssthresh;
        }
    }

    fn on_timeout(&mut self, flight: usize, mss: usize) {
        if !self.after_timeout {
            self.save();
            // RFC 5681 §3.1 eq. 4.
            self.ssthresh = (flight / 2).max(2 * mss);
        }
        self.after_timeout = true;
        self.hystart.finish();
        // The loss window: one segment.
        self.cwnd = mss;
        self.acked = 0;
    }

    fn set_paced(&mut self, paced: bool) {
        self.paced = paced;
    }

    fn set_ack_train(&mut self, on: bool) {
        self.hystart.set_ack_train(on);
    }

    fn on_spurious_undo(&mut self) {
        // As Linux and RFC 4015 do: take back the reduction, keep any growth since.
        if let Some(prior) = self.prior.take() {
            self.cwnd = self.cwnd.max(prior.cwnd);
            self.ssthresh = self.ssthresh.max(prior.ssthresh);
            self.acked = prior.acked;
            self.hystart = prior.hystart;
            self.after_timeout = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    #[test]
    fn slow_start_then_avoidance_as_rfc_5681() {
        let mut r = Reno::new(MSS);
        assert_eq!(r.cwnd(), 10 * MSS);
        // Byte counting with L=1: a stretch ACK of two segments still adds one MSS.
        r.on_ack(2 * MSS, MSS);
        assert_eq!(r.cwnd(), 11 * MSS);
        r.on_fast_retransmit(20 * MSS, MSS);
        assert_eq!((r.cwnd(), r.ssthresh()), (10 * MSS, 10 * MSS));
        // Avoidance: one MSS per cwnd of acknowledged bytes.
        for _ in 0..9 {
            r.on_ack(MSS, MSS);
        }
        assert_eq!(r.cwnd(), 10 * MSS);
        r.on_ack(MSS, MSS);
        assert_eq!(r.cwnd(), 11 * MSS);
    }

    #[test]
    fn recovery_end_deflates_to_ssthresh() {
        let mut r = Reno::new(MSS);
        r.on_fast_retransmit(30 * MSS, MSS);
        assert_eq!(r.cwnd(), 15 * MSS);
        r.on_recovery_end();
        assert_eq!(r.cwnd(), 15 * MSS);
        assert!(!r.in_slow_start());
    }

    #[test]
    fn a_repeated_timeout_keeps_ssthresh() {
        let mut r = Reno::new(MSS);
        r.on_timeout(8 * MSS, MSS);
        assert_eq!((r.cwnd(), r.ssthresh()), (MSS, 4 * MSS));
        r.on_timeout(2 * MSS, MSS);
        assert_eq!((r.cwnd(), r.ssthresh()), (MSS, 4 * MSS));
        // Undo goes back to before the first of them.
        r.on_spurious_undo();
        assert_eq!((r.cwnd(), r.ssthresh()), (10 * MSS, usize::MAX));
        assert_eq!(r.slow_start_phase(), SlowStartPhase::SlowStart);
    }
}
