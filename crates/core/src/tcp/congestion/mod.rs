//! Congestion control behind one trait: NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438),
//! both leaving their first slow start with HyStart++ (RFC 9406).
//!
//! A controller is told about ACKs, losses and timeouts and answers with a window. It reads no
//! clock: the time, the RTT and the sequence numbers it needs arrive in an [`AckSample`].

pub mod cubic;
pub mod hystart;
pub mod reno;

use core::time::Duration;

use crate::tcp::SeqNum;
use crate::time::Instant;

pub use cubic::Cubic;
pub use hystart::{Growth, HyStart, SlowStartPhase};
pub use reno::{NewReno, Reno};

/// One ACK that acknowledged new data outside of loss recovery, as a controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSample {
    /// When the ACK arrived.
    pub now: Instant,
    /// Bytes newly acknowledged (SEG.ACK - old SND.UNA).
    pub bytes_acked: usize,
    /// The sender's MSS.
    pub mss: usize,
    /// The cumulative acknowledgment: SND.UNA after this ACK.
    pub ack: SeqNum,
    /// The highest sequence number sent so far (SND.MAX). HyStart++ ends a round when an ACK
    /// covers the value this had when the round began (RFC 9406 §4.2 calls it SND.NXT).
    pub snd_max: SeqNum,
    /// An RTT measured by this ACK, if it gave one (Karn's rule applies: never from a
    /// retransmitted segment).
    pub rtt: Option<Duration>,
    /// The window was not the limit before this ACK: the sender had room for another full
    /// segment but nothing (or nothing allowed) to send. The window does not grow then
    /// (RFC 9438 §5.8, RFC 7661).
    pub app_limited: bool,
}

/// What a congestion controller is told and what it answers.
///
/// The four event methods without a time (`on_ack`, `on_fast_retransmit`, `on_recovery_end`,
/// `on_timeout`) are the original interface; [`CongestionControl::on_ack_sample`] is the
/// time-aware replacement for `on_ack`, which CUBIC and HyStart++ need.
pub trait CongestionControl: core::fmt::Debug + Send {
    /// A short lowercase name ("newreno", "cubic") for logs and traces.
    fn name(&self) -> &'static str;
    /// Bytes that may be in flight.
    fn cwnd(&self) -> usize;
    /// The slow-start threshold; `usize::MAX` until the first congestion event.
    fn ssthresh(&self) -> usize;
    /// Whether the window grows by slow start (including HyStart++'s conservative phase).
    fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }
    /// New data was acknowledged outside of recovery; no time, RTT or sequence numbers known.
    ///
    /// HyStart++ cannot run on this, and CUBIC's curve does not advance (its time stands still
    /// at the last `on_ack_sample`); prefer [`CongestionControl::on_ack_sample`].
    fn on_ack(&mut self, bytes_acked: usize, mss: usize);
    /// New data was acknowledged outside of recovery, with everything the controller may use.
    fn on_ack_sample(&mut self, ack: &AckSample) {
        if !ack.app_limited {
            self.on_ack(ack.bytes_acked, ack.mss);
        }
    }
    /// A loss was inferred (duplicate ACKs, SACK or RACK) and recovery begins: the
    /// congestion event. `flight` is the data outstanding (SND.MAX - SND.UNA).
    fn on_fast_retransmit(&mut self, flight: usize, mss: usize);
    /// Recovery ended (the ACK covered the recovery point).
    fn on_recovery_end(&mut self);
    /// The retransmission timer expired.
    fn on_timeout(&mut self, flight: usize, mss: usize);
    /// The last reduction (fast retransmit or timeout) was spurious (DSACK, Eifel, RACK):
    /// restore the state from before it. Does nothing if there is nothing to undo.
    fn on_spurious_undo(&mut self) {}
    /// Whether the sender paces its segments: HyStart++'s slow start then uses L = infinity
    /// instead of L = 8 (RFC 9406 §4.3). Off unless told.
    fn set_paced(&mut self, _paced: bool) {}
    /// Whether the initial slow start also ends on HyStart's ACK-train signal
    /// (`hystart.rs`). Off unless told.
    fn set_ack_train(&mut self, _on: bool) {}
}

/// Which congestion controller new connections use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 / RFC 6582 NewReno, with HyStart++.
    NewReno,
    /// RFC 9438 CUBIC, with HyStart++ (the default, as in Linux, Windows and macOS).
    #[default]
    Cubic,
}

impl CongestionAlgorithm {
    /// A fresh controller for a connection whose MSS is `mss`, for a sender that does not
    /// pace.
    pub fn build(self, mss: usize) -> Box<dyn CongestionControl> {
        self.build_for(mss, false, false)
    }

    /// A fresh controller for a connection whose MSS is `mss`; `paced` says whether the
    /// sender paces (HyStart++ then counts every acknowledged byte, RFC 9406 §4.3), and
    /// `ack_train` whether slow start also ends on HyStart's ACK-train signal.
    pub fn build_for(self, mss: usize, paced: bool, ack_train: bool) -> Box<dyn CongestionControl> {
        let mut cc: Box<dyn CongestionControl> = match self {
            CongestionAlgorithm::NewReno => Box::new(NewReno::new(mss)),
            CongestionAlgorithm::Cubic => Box::new(Cubic::new(mss)),
        };
        cc.set_paced(paced);
        cc.set_ack_train(ack_train);
        cc
    }

    /// A fresh controller held inline, as connections hold theirs: no allocation, and no
    /// dynamic dispatch on every ACK. Arguments as for [`CongestionAlgorithm::build_for`].
    pub fn controller(self, mss: usize, paced: bool, ack_train: bool) -> Controller {
        let mut cc = match self {
            CongestionAlgorithm::NewReno => Controller::NewReno(NewReno::new(mss)),
            CongestionAlgorithm::Cubic => Controller::Cubic(Cubic::new(mss)),
        };
        cc.set_paced(paced);
        cc.set_ack_train(ack_train);
        cc
    }

    /// The name its controllers report.
    pub fn name(self) -> &'static str {
        match self {
            CongestionAlgorithm::NewReno => "newreno",
            CongestionAlgorithm::Cubic => "cubic",
        }
    }
}

/// One of the built-in controllers, by value.
#[derive(Debug, Clone)]
pub enum Controller {
    NewReno(NewReno),
    Cubic(Cubic),
}

/// Calls the same method on whichever controller is inside.
macro_rules! delegate {
    ($self:ident, $cc:ident => $call:expr) => {
        match $self {
            Controller::NewReno($cc) => $call,
            Controller::Cubic($cc) => $call,
        }
    };
}

impl CongestionControl for Controller {
    fn name(&self) -> &'static str {
        delegate!(self, cc => cc.name())
    }
    fn cwnd(&self) -> usize {
        delegate!(self, cc => cc.cwnd())
    }
    fn ssthresh(&self) -> usize {
        delegate!(self, cc => cc.ssthresh())
    }
    fn in_slow_start(&self) -> bool {
        delegate!(self, cc => cc.in_slow_start())
    }
    fn on_ack(&mut self, bytes_acked: usize, mss: usize) {
        delegate!(self, cc => cc.on_ack(bytes_acked, mss))
    }
    fn on_ack_sample(&mut self, ack: &AckSample) {
        delegate!(self, cc => cc.on_ack_sample(ack))
    }
    fn on_fast_retransmit(&mut self, flight: usize, mss: usize) {
        delegate!(self, cc => cc.on_fast_retransmit(flight, mss))
    }
    fn on_recovery_end(&mut self) {
        delegate!(self, cc => cc.on_recovery_end())
    }
    fn on_timeout(&mut self, flight: usize, mss: usize) {
        delegate!(self, cc => cc.on_timeout(flight, mss))
    }
    fn on_spurious_undo(&mut self) {
        delegate!(self, cc => cc.on_spurious_undo())
    }
    fn set_paced(&mut self, paced: bool) {
        delegate!(self, cc => cc.set_paced(paced))
    }
    fn set_ack_train(&mut self, on: bool) {
        delegate!(self, cc => cc.set_ack_train(on))
    }
}

/// The RFC 6928 initial window: min(10*MSS, max(2*MSS, 14600)).
pub fn initial_window(mss: usize) -> usize {
    (10 * mss).min((2 * mss).max(14_600))
}

/// Slow start's increase for one ACK: min(N, L*SMSS) (RFC 3465, RFC 9406 §4.2).
fn slow_start_increase(bytes_acked: usize, mss: usize, limit_segments: usize) -> usize {
    bytes_acked.min(mss.saturating_mul(limit_segments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_gives_the_named_controller() {
        for algo in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
            let cc = algo.build(1460);
            assert_eq!(cc.name(), algo.name());
            assert_eq!(cc.cwnd(), 14_600);
            assert_eq!(cc.ssthresh(), usize::MAX);
            assert!(cc.in_slow_start());
        }
        assert_eq!(CongestionAlgorithm::default(), CongestionAlgorithm::Cubic);
    }

    #[test]
    fn inline_controller_matches_the_boxed_one() {
        for algo in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
            let mut boxed = algo.build_for(1448, true, true);
            let mut inline = algo.controller(1448, true, true);
            assert_eq!(inline.name(), algo.name());
            let (a, b) = (&mut *boxed, &mut inline);
            a.on_ack(1448, 1448);
            b.on_ack(1448, 1448);
            assert_eq!(a.cwnd(), b.cwnd());
            a.on_fast_retransmit(20_000, 1448);
            b.on_fast_retransmit(20_000, 1448);
            assert_eq!((a.cwnd(), a.ssthresh()), (b.cwnd(), b.ssthresh()));
            a.on_spurious_undo();
            b.on_spurious_undo();
            assert_eq!((a.cwnd(), a.ssthresh()), (b.cwnd(), b.ssthresh()));
            assert_eq!(a.in_slow_start(), b.in_slow_start());
        }
    }

    #[test]
    fn initial_window_follows_rfc_6928() {
        assert_eq!(initial_window(1460), 14_600);
        assert_eq!(initial_window(536), 5_360);
        assert_eq!(initial_window(9000), 18_000);
    }
}
