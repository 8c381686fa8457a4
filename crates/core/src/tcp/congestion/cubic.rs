//! CUBIC (RFC 9438), with HyStart++ (RFC 9406) in the initial slow start.
//!
//! After a congestion event the window follows W_cubic(t) = C*(t-K)^3 + W_max (in segments,
//! t in seconds since the congestion-avoidance stage began): concave up to the W_max where
//! the last loss happened, convex beyond it. A Reno estimate W_est runs alongside, and the
//! window never grows slower than it (the Reno-friendly region). Windows are kept in bytes as
//! `f64`; the curve is evaluated in segments of the MSS current at each ACK.

use super::hystart::{CSS_GROWTH_DIVISOR, Growth, HyStart, SlowStartPhase, byte_counting_limit};
use super::{AckSample, CongestionControl, initial_window, slow_start_increase};
use crate::time::{Instant, OptDuration, OptInstant};

/// RFC 9438 §4.2, §5.1: the curve's scaling constant, in segments per second cubed.
pub const C: f64 = 0.4;
/// RFC 9438 §4.6: the multiplicative decrease factor.
pub const BETA: f64 = 0.7;
/// RFC 9438 §4.3: the Reno estimate's additive increase, 3(1-β)/(1+β), so that it shares
/// fairly with Reno despite the gentler decrease.
pub const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// K, the seconds the curve takes from `cwnd_epoch` to `w_max` (RFC 9438 §4.2 figure 2).
/// Windows in segments.
pub fn cubic_k(w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch) / C).cbrt()
}

/// W_cubic(t) = C*(t-K)^3 + W_max (RFC 9438 §4.2 figure 1). Windows in segments.
pub fn w_cubic(t: f64, k: f64, w_max: f64) -> f64 {
    C * (t - k).powi(3) + w_max
}

/// An optional window in eight bytes (`Option<f64>` takes sixteen): NaN, which no window
/// is, stands for none.
#[derive(Debug, Clone, Copy)]
struct OptF64(f64);

impl OptF64 {
    const NONE: OptF64 = OptF64(f64::NAN);

    fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl From<Option<f64>> for OptF64 {
    fn from(v: Option<f64>) -> OptF64 {
        v.map_or(OptF64::NONE, OptF64)
    }
}

/// A byte count in 32 bits, `u32::MAX` standing for infinity (`usize::MAX`): ssthresh.
/// Windows stay below 2^30 bytes; a finite value of 4 GiB or more is kept as just under
/// 4 GiB, still finite, so a window set from it stays a number of bytes.
#[derive(Debug, Clone, Copy)]
struct Bytes32(u32);

impl Bytes32 {
    fn get(self) -> usize {
        match self.0 {
            u32::MAX => usize::MAX,
            n => n as usize,
        }
    }
}

impl From<usize> for Bytes32 {
    fn from(n: usize) -> Bytes32 {
        match n {
            usize::MAX => Bytes32(u32::MAX),
            n => Bytes32(u32::try_from(n).unwrap_or(u32::MAX - 1).min(u32::MAX - 1)),
        }
    }
}

/// One congestion-avoidance stage: what the curve and the Reno estimate start from.
#[derive(Debug, Clone, Copy)]
struct Epoch {
    /// t_epoch: when the stage began (shifted forward by application-limited periods).
    start: Instant,
    /// K, in seconds.
    k: f64,
    /// The W_max of this curve, in bytes.
    w_max: f64,
    /// W_est, the Reno estimate, in bytes.
    w_est: f64,
}

/// An `Option<Epoch>` in the size of an `Epoch`: K is NaN while there is none (K is the
/// cube root of a finite number, never NaN).
#[derive(Debug, Clone, Copy)]
struct OptEpoch(Epoch);

impl OptEpoch {
    const NONE: OptEpoch = OptEpoch(Epoch {
        start: Instant::ZERO,
        k: f64::NAN,
        w_max: 0.0,
        w_est: 0.0,
    });

    fn get(self) -> Option<Epoch> {
        (!self.0.k.is_nan()).then_some(self.0)
    }

    fn get_mut(&mut self) -> Option<&mut Epoch> {
        (!self.0.k.is_nan()).then_some(&mut self.0)
    }
}

impl From<Option<Epoch>> for OptEpoch {
    fn from(epoch: Option<Epoch>) -> OptEpoch {
        epoch.map_or(OptEpoch::NONE, |e| {
            debug_assert!(!e.k.is_nan(), "an epoch's K is a number");
            OptEpoch(e)
        })
    }
}

/// What a reduction changes, kept to take it back.
#[derive(Debug, Clone)]
struct Saved {
    cwnd: f64,
    ssthresh: usize,
    w_max: Option<f64>,
    cwnd_prior: f64,
    epoch: Option<Epoch>,
    hystart: HyStart,
}

/// The CUBIC controller.
#[derive(Debug, Clone)]
pub struct Cubic {
    /// In bytes, fractional: increases are often below one byte per ACK.
    cwnd: f64,
    ssthresh: Bytes32,
    /// The window at the last congestion event after fast convergence, in bytes; `None`
    /// before any, and after a timeout (the next stage then starts with K = 0, §4.8).
    w_max: OptF64,
    /// cwnd_prior: the window just before the last reduction, in bytes.
    cwnd_prior: f64,
    /// The current congestion-avoidance stage; none until its first ACK.
    epoch: OptEpoch,
    hystart: HyStart,
    /// RFC 9438 §4.7; on by default (several flows may share the path).
    fast_convergence: bool,
    /// A smoothed RTT from the samples seen, for W_cubic(t + RTT).
    srtt: OptDuration,
    /// Since when the window has not been the limit.
    limited_since: OptInstant,
    /// The latest time seen: the clock for `on_ack`, which brings none.
    now: Instant,
    /// A timeout collapsed the window and nothing new has been acknowledged since.
    after_timeout: bool,
    /// Boxed: a controller carries it only after a congestion event, so an idle
    /// connection's controller stays small.
    prior: Option<Box<Saved>>,
    /// The sender paces: HyStart++'s L is infinite.
    paced: bool,
}

impl Cubic {
    /// A controller in slow start with the RFC 6928 initial window.
    pub fn new(mss: usize) -> Cubic {
        Cubic {
            cwnd: initial_window(mss) as f64,
            ssthresh: Bytes32::from(usize::MAX),
            w_max: OptF64::NONE,
            cwnd_prior: 0.0,
            epoch: OptEpoch::NONE,
            hystart: HyStart::new(),
            fast_convergence: true,
            srtt: OptDuration::NONE,
            limited_since: OptInstant::NONE,
            now: Instant::ZERO,
            after_timeout: false,
            prior: None,
            paced: false,
        }
    }

    /// Turns fast convergence (RFC 9438 §4.7) on or off; it is on by default.
    pub fn set_fast_convergence(&mut self, on: bool) {
        self.fast_convergence = on;
    }

    /// W_max in bytes: where the last congestion event happened (after fast convergence).
    pub fn w_max(&self) -> Option<f64> {
        self.w_max.get()
    }

    /// K of the current congestion-avoidance stage in seconds, once it has begun.
    pub fn k(&self) -> Option<f64> {
        self.epoch.get().map(|e| e.k)
    }

    /// The Reno estimate W_est in bytes, once the stage has begun.
    pub fn w_est(&self) -> Option<f64> {
        self.epoch.get().map(|e| e.w_est)
    }

    /// The window in bytes, with its fraction.
    pub fn cwnd_exact(&self) -> f64 {
        self.cwnd
    }

    /// Where HyStart++ stands.
    pub fn slow_start_phase(&self) -> SlowStartPhase {
        self.hystart.phase()
    }

    /// The ACK path shared by `on_ack` and `on_ack_sample`; `round` is the sample, when there
    /// is one, for HyStart++'s rounds and RTTs.
    fn ack(
        &mut self,
        bytes_acked: usize,
        mss: usize,
        app_limited: bool,
        round: Option<&AckSample>,
    ) {
        self.after_timeout = false;
        if app_limited {
            self.limited_since.get_or_insert(self.now);
        } else if let Some(since) = self.limited_since.take() {
            // RFC 9438 §5.8: the curve stood still while the window was not used, so the
            // stage starts later by as much.
            if let Some(epoch) = self.epoch.get_mut() {
                epoch.start += self.now - since;
            }
        }
        if self.cwnd < self.ssthresh.get() as f64 {
            self.slow_start(bytes_acked, mss, app_limited, round);
        } else if !app_limited {
            self.congestion_avoidance(bytes_acked, mss);
        }
    }

    fn slow_start(
        &mut self,
        bytes_acked: usize,
        mss: usize,
        app_limited: bool,
        round: Option<&AckSample>,
    ) {
        // RFC 9406 §4.3: L = 8 for a sender that does not pace and infinity for one that
        // does, in the slow start HyStart++ runs; a slow start after a timeout counts one MSS
        // per ACK, as RFC 3465 advises.
        let limit = if self.hystart.is_active() {
            byte_counting_limit(self.paced)
        } else {
            1
        };
        let growth = match round {
            Some(a) if self.hystart.is_active() => {
                let at = (!a.app_limited).then_some(a.now);
                // Only the ACK-train test reads the window in segments, and it skips an ACK
                // without a time: no division for those (most ACKs of a short flow).
                let segments = match at {
                    Some(_) => self.cwnd as usize / mss.max(1),
                    None => 0,
                };
                self.hystart
                    .on_ack_at(at, a.ack, a.snd_max, a.rtt, segments)
            }
            _ => Growth::SlowStart,
        };
        if !app_limited {
            let increase = slow_start_increase(bytes_acked, mss, limit);
            self.cwnd += match growth {
                Growth::SlowStart => increase,
                Growth::Conservative | Growth::ExitToAvoidance => increase / CSS_GROWTH_DIVISOR,
            } as f64;
        }
        if growth == Growth::ExitToAvoidance {
            // RFC 9406 §4.2: ssthresh = cwnd; RFC 9438 §4.10: W_max stays undefined, so the
            // stage begins at the next ACK with K = 0 and W_max = cwnd.
            self.ssthresh = Bytes32::from(self.cwnd as usize);
            self.cwnd = self.ssthresh.get() as f64;
        }
    }

    fn congestion_avoidance(&mut self, bytes_acked: usize, mss: usize) {
        let mss = mss.max(1) as f64;
        // Never below one MSS, so the divisions below are sound whatever came before.
        let cwnd = self.cwnd.max(mss);
        let epoch = match self.epoch.get() {
            Some(epoch) => epoch,
            None => self.begin_epoch(mss),
        };
        let t = (self.now - epoch.start).as_secs_f64();
        let curve = |t: f64| w_cubic(t, epoch.k, epoch.w_max / mss) * mss;
        // §4.3: W_est grows by α per window of acknowledged segments; α becomes 1 once W_est
        // is back at the window before the last reduction.
        let alpha = if epoch.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA
        };
        let w_est = epoch.w_est + alpha * bytes_acked as f64 * mss / cwnd;
        if curve(t) < w_est {
            // Reno-friendly region.
            self.cwnd = cwnd.max(w_est);
        } else {
            // §4.4-4.5, concave or convex: close (target - cwnd)/cwnd per segment acked,
            // aiming one RTT ahead and at most half a window beyond.
            let rtt = self.srtt.get().unwrap_or_default().as_secs_f64();
            let target = curve(t + rtt).clamp(cwnd, 1.5 * cwnd);
            self.cwnd = cwnd + (target - cwnd) * bytes_acked as f64 / cwnd;
        }
        self.epoch = OptEpoch::from(Some(Epoch { w_est, ..epoch }));
    }

    /// t_epoch is now: the first ACK of a congestion-avoidance stage.
    fn begin_epoch(&mut self, mss: f64) -> Epoch {
        let cwnd = self.cwnd;
        let w_max = match self.w_max.get() {
            // Above the last W_max already (a small window floored at 2 MSS): start at the
            // plateau rather than on the falling half of the curve.
            Some(w_max) => w_max.max(cwnd),
            // §4.8 after a timeout, §4.10 after HyStart++ left slow start without a loss.
            None => {
                self.w_max = OptF64::from(Some(cwnd));
                if self.cwnd_prior == 0.0 {
                    self.cwnd_prior = cwnd;
                }
                cwnd
            }
        };
        Epoch {
            start: self.now,
            k: cubic_k(w_max / mss, cwnd / mss),
            w_max,
            w_est: cwnd,
        }
    }

    fn save(&mut self) {
        self.prior = Some(Box::new(Saved {
            cwnd: self.cwnd,
            ssthresh: self.ssthresh.get(),
            w_max: self.w_max.get(),
            cwnd_prior: self.cwnd_prior,
            epoch: self.epoch.get(),
            hystart: self.hystart.clone(),
        }));
    }

    /// §4.6 and §4.7: the congestion event's common part; returns the new ssthresh.
    fn reduce(&mut self, mss: usize) -> usize {
        self.save();
        self.hystart.finish();
        let cwnd = self.cwnd;
        self.w_max = OptF64::from(Some(match self.w_max.get() {
            // Fast convergence: lost before reaching the last W_max, so leave room for a
            // newer flow by remembering less.
            Some(w_max) if self.fast_convergence && cwnd < w_max => cwnd * (1.0 + BETA) / 2.0,
            _ => cwnd,
        }));
        self.cwnd_prior = cwnd;
        self.epoch = OptEpoch::NONE;
        self.limited_since = OptInstant::NONE;
        // ssthresh from cwnd, as Linux does, rather than from flight size: the window does not
        // grow while application-limited, so cwnd is what was in use (§4.6 allows this).
        ((cwnd * BETA).round() as usize).max(2 * mss)
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }

    fn cwnd(&self) -> usize {
        self.cwnd as usize
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh.get()
    }

    fn on_ack(&mut self, bytes_acked: usize, mss: usize) {
        self.ack(bytes_acked, mss, false, None);
    }

    fn on_ack_sample(&mut self, ack: &AckSample) {
        self.now = self.now.max(ack.now);
        if let Some(rtt) = ack.rtt {
            // RFC 6298's gain of 1/8.
            self.srtt = Some(match self.srtt.get() {
                Some(srtt) => (srtt - srtt / 8).saturating_add(rtt / 8),
                None => rtt,
            })
            .into();
        }
        self.ack(ack.bytes_acked, ack.mss, ack.app_limited, Some(ack));
    }

    fn on_fast_retransmit(&mut self, _flight: usize, mss: usize) {
        self.ssthresh = Bytes32::from(self.reduce(mss));
        self.cwnd = self.ssthresh.get() as f64;
    }

    fn on_recovery_end(&mut self) {
        // The reduction happened at the congestion event; the stage begins at the next ACK.
        // An undo during recovery keeps its window.
        if self.prior.is_some() {
            self.cwnd = self.cwnd.min(self.ssthresh.get() as f64);
        }
    }

    fn on_timeout(&mut self, _flight: usize, mss: usize) {
        if !self.after_timeout {
            // §4.8: ssthresh as for any congestion event; the next stage starts with K = 0
            // and W_max = the window it begins with.
            self.ssthresh = Bytes32::from(self.reduce(mss));
            self.w_max = OptF64::NONE;
        }
        self.after_timeout = true;
        self.cwnd = mss as f64;
        self.epoch = OptEpoch::NONE;
    }

    fn set_paced(&mut self, paced: bool) {
        self.paced = paced;
    }

    fn set_ack_train(&mut self, on: bool) {
        self.hystart.set_ack_train(on);
    }

    fn on_spurious_undo(&mut self) {
        if let Some(prior) = self.prior.take() {
            self.cwnd = self.cwnd.max(prior.cwnd);
            self.ssthresh = Bytes32::from(self.ssthresh.get().max(prior.ssthresh));
            self.w_max = OptF64::from(prior.w_max);
            self.cwnd_prior = prior.cwnd_prior;
            self.epoch = OptEpoch::from(prior.epoch);
            self.hystart = prior.hystart;
            self.after_timeout = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes32, Epoch, OptEpoch};
    use crate::time::Instant;

    #[test]
    fn bytes32_keeps_infinity_and_every_window() {
        assert_eq!(Bytes32::from(usize::MAX).get(), usize::MAX);
        assert_eq!(Bytes32::from(0).get(), 0);
        assert_eq!(Bytes32::from(1 << 30).get(), 1 << 30);
        assert_eq!(
            Bytes32::from(u32::MAX as usize - 1).get(),
            u32::MAX as usize - 1
        );
        // Past any window: still finite.
        #[cfg(target_pointer_width = "64")]
        assert_eq!(Bytes32::from(1 << 40).get(), u32::MAX as usize - 1);
        assert_eq!(
            Bytes32::from(u32::MAX as usize).get(),
            u32::MAX as usize - 1
        );
    }

    #[test]
    fn opt_epoch_is_an_option() {
        assert!(OptEpoch::NONE.get().is_none());
        let epoch = Epoch {
            start: Instant::from_nanos(7),
            k: -0.5,
            w_max: 3.0,
            w_est: 4.0,
        };
        let mut opt = OptEpoch::from(Some(epoch));
        let got = opt.get().expect("an epoch");
        assert_eq!(
            (got.start, got.k, got.w_max, got.w_est),
            (epoch.start, -0.5, 3.0, 4.0)
        );
        opt.get_mut().expect("an epoch").k = 0.0;
        assert_eq!(opt.get().map(|e| e.k), Some(0.0));
        assert!(OptEpoch::from(None).get().is_none());
    }
}
