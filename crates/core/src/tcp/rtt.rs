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
    min_rto: u64,
    /// The upper bound in microseconds: 32 bits beside `backoffs` keep every connection 8
    /// bytes smaller.
    max_rto_us: u32,
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

/// The upper bound in whole microseconds: rounded down, at least 1, and saturating at 71
/// minutes, so it never exceeds what was configured (and the timer never fires at once).
fn max_micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX).max(1)
}

impl RttEstimator {
    /// The upper bound, never below the lower one: a bound the coarser unit rounded below
    /// the minimum must not pull the RTO under it.
    fn max_rto(&self) -> u64 {
        (u64::from(self.max_rto_us) * 1000).max(self.min_rto)
    }

    /// An estimator before any sample: RTO is `initial` (RFC 6298 §2.1).
    pub fn new(initial: Duration, min_rto: Duration, max_rto: Duration) -> RttEstimator {
        RttEstimator {
            srtt: NO_SAMPLE,
            rttvar: 0,
            rto: nanos(initial),
            min_rto: nanos(min_rto),
            max_rto_us: max_micros(max_rto),
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
            .clamp(self.min_rto, self.max_rto());
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

    /// SRTT in nanoseconds, as kept.
    pub fn srtt_nanos(&self) -> Option<u64> {
        (self.srtt != NO_SAMPLE).then_some(self.srtt)
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
        // A maximum off the microsecond rounds down; the minimum is kept exactly.
        let mut r = RttEstimator::new(
            Duration::from_millis(1),
            Duration::from_nanos(200_000_500),
            Duration::from_nanos(300_000_900),
        );
        r.on_sample(Duration::from_millis(1));
        assert_eq!(r.rto(), Duration::from_nanos(200_000_500));
        r.on_sample(Duration::from_secs(1));
        assert_eq!(r.rto(), Duration::from_micros(300_000));
        // Both in one microsecond: the maximum rounded below the minimum does not pull the
        // RTO under it, before a sample, after one, or backed off.
        let mut r = RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_nanos(200_500_300),
            Duration::from_nanos(200_500_700),
        );
        assert_eq!(r.rto(), Duration::from_nanos(200_500_300));
        r.on_sample(Duration::from_millis(1));
        r.back_off();
        assert_eq!(r.rto(), Duration::from_nanos(200_500_300));
        // A maximum under a microsecond with no minimum: never zero, or the timer would fire
        // again at once.
        let r = RttEstimator::new(
            Duration::from_micros(500),
            Duration::ZERO,
            Duration::from_nanos(900),
        );
        assert_eq!(r.rto(), Duration::from_micros(1));
        // Past 71 minutes the maximum saturates there; a larger minimum still holds.
        let mut r = RttEstimator::new(
            Duration::from_secs(2 * 3600),
            Duration::from_secs(2 * 3600),
            Duration::from_secs(3 * 3600),
        );
        r.on_sample(Duration::from_secs(1));
        assert_eq!(r.rto(), Duration::from_secs(2 * 3600));
    }
}
