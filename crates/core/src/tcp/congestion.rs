//! Congestion control behind a small interface (RFC 5681 Reno for now; CUBIC and friends
//! plug in here).

/// What a congestion controller is told and what it answers.
pub trait CongestionControl: core::fmt::Debug + Send {
    /// Bytes that may be in flight.
    fn cwnd(&self) -> usize;
    /// New data was acknowledged outside of recovery.
    fn on_ack(&mut self, bytes_acked: usize, mss: usize);
    /// Fast retransmit: a loss was inferred from duplicate ACKs.
    fn on_fast_retransmit(&mut self, flight: usize, mss: usize);
    /// Recovery ended (the ACK covered the recovery point).
    fn on_recovery_end(&mut self);
    /// The retransmission timer expired.
    fn on_timeout(&mut self, flight: usize, mss: usize);
}

/// RFC 5681 Reno with the RFC 6928 initial window.
#[derive(Debug, Clone)]
pub struct Reno {
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acked since the last cwnd increase in congestion avoidance.
    acked: usize,
}

impl Reno {
    pub fn new(mss: usize) -> Reno {
        // RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)).
        let iw = (10 * mss).min((2 * mss).max(14_600));
        Reno {
            cwnd: iw,
            ssthresh: usize::MAX,
            acked: 0,
        }
    }
}

impl CongestionControl for Reno {
    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn on_ack(&mut self, bytes_acked: usize, mss: usize) {
        if self.cwnd < self.ssthresh {
            // Slow start, with appropriate byte counting limited to one MSS (RFC 3465 L=1).
            self.cwnd += bytes_acked.min(mss);
        } else {
            self.acked += bytes_acked;
            if self.acked >= self.cwnd {
                self.acked -= self.cwnd;
                self.cwnd += mss;
            }
        }
    }

    fn on_fast_retransmit(&mut self, flight: usize, mss: usize) {
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_end(&mut self) {
        // RFC 6582 §3.2 step 4: deflate to ssthresh (we never inflate, so this holds already
        // unless a later controller changes cwnd during recovery).
        self.cwnd = self.ssthresh;
    }

    fn on_timeout(&mut self, flight: usize, mss: usize) {
        // RFC 5681 §3.1 eq. 4, then a loss window of one segment.
        self.ssthresh = (flight / 2).max(2 * mss);
        self.cwnd = mss;
        self.acked = 0;
    }
}
