//! Round-trip time estimation and the retransmission timeout (RFC 6298).

use core::time::Duration;

/// SRTT, RTTVAR and RTO per RFC 6298 §2, with exponential backoff (§5.5).
///
/// Kept in whole nanoseconds (`u64`) rather than `Duration`s: half the size in every
/// connection, and the per-ACK arithmetic is a few integer operations. `Duration`'s own
/// division floors to the nanosecond too, so the figures are the same.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    /// `NO_SAMPLE` until the first measurement.
    srtt: u64,
    rttvar: u64,
    rto: u64,
    /// The bounds, in microseconds and in milliseconds: settings, not measurements, so
    /// the coarser units keep every connection 8 bytes smaller.
    min_rto_us: u32,
    max_rto_ms: u32,
    /// Consecutive timeouts since the last new ACK: the backoff exponent.
    backoffs: u32,
}

/// Clock granularity G in RFC 6298's formula; our clock is finer, so this is the floor on K*RTTVAR.
const GRANULARITY: u64 = 1_000_000;

/// SRTT before any sample.
const NO_SAMPLE: u64 = u64::MAX;

/// A duration in nanoseconds, saturating below `NO_SAMPLE` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(NO_SAMPLE - 1)
        .min(NO_SAMPLE - 1)
}

/// The lower bound in whole microseconds, rounded up so it stays at or above what was
/// configured; saturating at 71 minutes.
fn min_micros(d: Duration) -> u32 {
    let us = d.as_micros() + u128::from(!d.subsec_nanos().is_multiple_of(1000));
    u32::try_from(us).unwrap_or(u32::MAX)
}

/// The upper bound in whole milliseconds, rounded down; saturating at 49 days.
fn max_millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl RttEstimator {
    fn min_rto(&self) -> u64 {
        u64::from(self.min_rto_us) * 1000
    }

    fn max_rto(&self) -> u64 {
        u64::from(self.max_rto_ms) * 1_000_000
    }

    /// An estimator before any sample: RTO is `initial` (RFC 6298 §2.1).
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> RttEstimator {
        RttEstimator {
            srtt: NO_SAMPLE,
            rttvar: 0,
            rto: nanos(initial),
            min_rto_us: min_micros(min_rto),
            max_rto_ms: max_millis(max_rto),
            backoffs: 0,
        }
    }

    /// Takes one RTT measurement (RFC 6298 §2.2 and §2.3).
    pub fn on_sample(&mut self, rtt: Duration) {
        self.on_sample_weighted(rtt, 1);
    }

    /// Takes one of `per_round` measurements expected in a round trip (RFC 7323 Appendix G):
    /// the gains alpha = 1/8 and beta = 1/4 are divided by `per_round`, so a round of
    /// samples moves SRTT and RTTVAR about as far as one sample per round would.
    pub fn on_sample_weighted(&mut self, rtt: Duration, per_round: u32) {
        let rtt = nanos(rtt);
        let n = u64::from(per_round.max(1));
        if self.srtt == NO_SAMPLE {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
        } else {
            // RTTVAR <- (1 - beta') RTTVAR + beta' |SRTT - R'|;
            // SRTT <- (1 - alpha') SRTT + alpha' R'
            let srtt = self.srtt;
            let delta = srtt.abs_diff(rtt);
            let (rttvar_gain, srtt_gain) = (4 * n, 8 * n);
            self.rttvar = self.rttvar - self.rttvar / rttvar_gain + delta / rttvar_gain;
            self.srtt = srtt - srtt / srtt_gain + rtt / srtt_gain;
        }
        let var = self.rttvar.saturating_mul(4).max(GRANULARITY);
        self.rto = self
            .srtt
            .saturating_add(var)
            .clamp(self.min_rto(), self.max_rto().max(self.min_rto()));
        self.backoffs = 0;
    }

    /// The timeout to arm now, backoff included.
    pub fn rto(&self) -> Duration {
        let rto = self
            .rto
            .checked_mul(1 << self.backoffs.min(16))
            .unwrap_or(self.max_rto())
            .min(self.max_rto());
        Duration::from_nanos(rto)
    }

    /// The timer expired: double the timeout (RFC 6298 §5.5).
    pub fn back_off(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
    }

    /// New data was acknowledged: the backoff ends even without a usable sample.
    pub fn reset_backoff(&mut self) {
        self.backoffs = 0;
    }

    /// Timeouts since the last new ACK.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt != NO_SAMPLE).then(|| Duration::from_nanos(self.srtt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_then_smoothing() {
        let mut r = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        );
        assert_eq!(r.rto(), Duration::from_secs(1));
        r.on_sample(Duration::from_millis(100));
        // SRTT 100, RTTVAR 50: RTO = 100 + 4*50 = 300 ms.
        assert_eq!(r.rto(), Duration::from_millis(300));
        r.on_sample(Duration::from_millis(100));
        // RTTVAR 37.5, SRTT 100: RTO = 250 ms.
        assert_eq!(r.rto(), Duration::from_millis(250));
        r.back_off();
        r.back_off();
        assert_eq!(r.rto(), Duration::from_millis(1000));
    }

    #[test]
    fn weighted_samples_move_a_round_as_far_as_one() {
        let mut one = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(1),
            Duration::from_secs(60),
        );
        let mut many = one.clone();
        one.on_sample(Duration::from_millis(100));
        many.on_sample(Duration::from_millis(100));
        one.on_sample(Duration::from_millis(200));
        for _ in 0..10 {
            many.on_sample_weighted(Duration::from_millis(200), 10);
        }
        let (a, b) = (one.srtt().unwrap(), many.srtt().unwrap());
        // 112.5 ms from one sample; ten tenth-weight samples land within 1 ms of it.
        assert_eq!(a, Duration::from_micros(112_500));
        assert!(a.abs_diff(b) < Duration::from_millis(1), "{a:?} vs {b:?}");
        // Unweighted, ten samples would have pulled SRTT most of the way to 200 ms.
        let mut unweighted = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(1),
            Duration::from_secs(60),
        );
        unweighted.on_sample(Duration::from_millis(100));
        for _ in 0..10 {
            unweighted.on_sample(Duration::from_millis(200));
        }
        assert!(unweighted.srtt().unwrap() > Duration::from_millis(160));
    }

    #[test]
    fn clamps() {
        let mut r = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(60),
        );
        r.on_sample(Duration::from_micros(10));
        assert_eq!(r.rto(), Duration::from_millis(200));
        for _ in 0..40 {
            r.back_off();
        }
        assert_eq!(r.rto(), Duration::from_secs(60));
    }

    #[test]
    fn bounds_keep_to_what_was_configured() {
        // Bounds off the unit: the minimum rounds up and the maximum down.
        let mut r = RttEstimator::new(
            Duration::from_millis(1),
            Duration::from_nanos(200_000_500),
            Duration::from_nanos(300_000_900),
        );
        r.on_sample(Duration::from_millis(1));
        assert_eq!(r.rto(), Duration::from_micros(200_001));
        r.on_sample(Duration::from_secs(1));
        assert_eq!(r.rto(), Duration::from_millis(300));
        // Past 49 days, the maximum saturates rather than wrapping.
        let r = RttEstimator::new(
            Duration::from_secs(4_000_000),
            Duration::from_millis(200),
            Duration::from_secs(1 << 40),
        );
        assert_eq!(r.rto(), Duration::from_secs(4_000_000));
    }
}
