//! A bad network, on purpose: one direction of a link that delays, rate-limits, queues,
//! loses, reorders, duplicates and corrupts packets, driven by a seed.
//!
//! Like the rest of the core it is sans-IO: packets go in with [`Impairment::send`] at a time
//! the caller gives, come out with [`Impairment::poll`] once due, and
//! [`Impairment::poll_timeout`] says when to look next. The same seed and the same inputs
//! give the same outputs, so a run on a lossy link replays exactly. The runtime wraps any
//! device with two of these, one per direction.

use core::fmt;
use core::time::Duration;
use std::collections::{BinaryHeap, VecDeque};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::time::Instant;

/// What one direction of a link does to the packets crossing it. `Default` is a perfect
/// link: no delay, no limit, nothing lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConditions {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Each packet's delay varies uniformly within `delay ± jitter` (clamped at zero).
    /// Jitter alone keeps packets in order, as a real path does; see `reorder`.
    pub jitter: Duration,
    /// Bottleneck rate in bits per second (serialization delay); 0 means unlimited.
    pub rate_bps: u64,
    /// Packets that may wait for the bottleneck before new ones are tail-dropped; 0 means
    /// unlimited. Only meaningful with a rate.
    pub queue_limit: usize,
    /// Probability that a packet is lost, in `0.0..=1.0`.
    pub loss: f64,
    /// Mean length of a loss burst in packets. At 1 or less losses are independent; above 1
    /// a Gilbert–Elliott chain makes them bursty with the same long-run rate `loss`. A burst
    /// also ends when the link has been idle for [`BURST_IDLE`]: bursts are events in time,
    /// and a chain stepped only per packet would stretch one over minutes of sparse
    /// retransmissions.
    pub loss_burst: f64,
    /// Probability that a packet is held back and overtaken by later ones.
    pub reorder: f64,
    /// How many later packets may overtake a held-back one (1..=this, uniformly).
    pub reorder_depth: u32,
    /// Probability that a packet arrives twice.
    pub duplicate: f64,
    /// Probability that one bit of a packet is flipped (checksums must catch it).
    pub corrupt: f64,
}

impl Default for LinkConditions {
    fn default() -> LinkConditions {
        LinkConditions {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_bps: 0,
            queue_limit: 0,
            loss: 0.0,
            loss_burst: 1.0,
            reorder: 0.0,
            reorder_depth: 3,
            duplicate: 0.0,
            corrupt: 0.0,
        }
    }
}

impl LinkConditions {
    /// Whether packets cross untouched and at once.
    pub fn is_perfect(&self) -> bool {
        *self == LinkConditions::default()
    }

    /// Checks that every probability is one and that the depths make sense.
    pub fn validate(&self) -> Result<(), ConditionsError> {
        let probabilities = [
            ("loss", self.loss),
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
            ("corrupt", self.corrupt),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(ConditionsError(format!("{name} must be within 0..=100%")));
            }
        }
        if self.loss_burst.is_nan() || self.loss_burst < 0.0 {
            return Err(ConditionsError("the mean loss burst must be ≥ 1".into()));
        }
        if self.loss_burst > 1.0 && self.loss >= 1.0 {
            return Err(ConditionsError(
                "bursty loss needs a loss rate below 100%".into(),
            ));
        }
        if self.reorder > 0.0 && self.reorder_depth == 0 {
            return Err(ConditionsError(
                "reordering needs a depth of at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Why a [`LinkConditions`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionsError(pub String);

impl fmt::Display for ConditionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConditionsError {}

/// Idle time after which a loss burst is over.
pub const BURST_IDLE: Duration = Duration::from_millis(100);

/// What one direction did to its packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImpairmentStats {
    /// Packets given to `send`.
    pub offered: u64,
    /// Packets handed out by `poll` (duplicates included).
    pub delivered: u64,
    /// Lost at random (or in a burst).
    pub lost: u64,
    /// Tail-dropped at a full bottleneck queue.
    pub queue_drops: u64,
    /// Held back and overtaken.
    pub reordered: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Packets with a flipped bit.
    pub corrupted: u64,
}

/// One direction of an impaired link.
#[derive(Debug)]
pub struct Impairment {
    conditions: LinkConditions,
    rng: ChaCha8Rng,
    /// Gilbert–Elliott: whether the chain is in the lossy state.
    in_burst: bool,
    /// When the last packet was offered (for [`BURST_IDLE`]).
    last_offered: Option<Instant>,
    /// When the bottleneck finishes serializing what it has accepted.
    link_free_at: Instant,
    /// Departure times of packets still waiting for the bottleneck (for the queue limit).
    waiting: VecDeque<Instant>,
    /// Latest due time handed out so far: jitter never reorders.
    last_due: Instant,
    /// Packets in flight, earliest due first.
    flight: BinaryHeap<Scheduled>,
    /// Held-back packets, overtaken by `remaining` more deliveries or released at `deadline`.
    held: Vec<Held>,
    /// Ready now: released held-back packets, delivered before anything else.
    released: VecDeque<Vec<u8>>,
    /// Buffers of delivered packets, reused so a steady flow allocates nothing.
    spare: Vec<Vec<u8>>,
    next_seq: u64,
    stats: ImpairmentStats,
}

#[derive(Debug)]
struct Scheduled {
    due: Instant,
    seq: u64,
    data: Vec<u8>,
    /// Set for a packet chosen to be overtaken: it is held when it comes due.
    hold: Option<u32>,
}

// Min-heap on (due, seq): `BinaryHeap` is a max-heap, so the order is reversed.
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Scheduled {}

#[derive(Debug)]
struct Held {
    remaining: u32,
    deadline: Instant,
    data: Vec<u8>,
}

impl Impairment {
    /// A direction with these conditions, its random choices drawn from `seed`.
    pub fn new(conditions: LinkConditions, seed: u64) -> Impairment {
        Impairment {
            conditions,
            rng: ChaCha8Rng::seed_from_u64(seed),
            in_burst: false,
            last_offered: None,
            link_free_at: Instant::ZERO,
            waiting: VecDeque::new(),
            last_due: Instant::ZERO,
            flight: BinaryHeap::new(),
            held: Vec::new(),
            released: VecDeque::new(),
            spare: Vec::new(),
            next_seq: 0,
            stats: ImpairmentStats::default(),
        }
    }

    /// The conditions in force.
    pub fn conditions(&self) -> &LinkConditions {
        &self.conditions
    }

    /// What happened so far.
    pub fn stats(&self) -> ImpairmentStats {
        self.stats
    }

    /// Packets inside the link (in flight or held back).
    pub fn in_flight(&self) -> usize {
        self.flight.len() + self.held.len() + self.released.len()
    }

    /// A packet enters the link at `now`.
    pub fn send(&mut self, now: Instant, packet: &[u8]) {
        self.stats.offered += 1;
        if self.last_offered.is_some_and(|t| now - t >= BURST_IDLE) {
            self.in_burst = false;
        }
        self.last_offered = Some(now);
        let c = &self.conditions;

        // The bottleneck first: a full queue drops before anything else happens.
        let mut departs = now;
        if c.rate_bps > 0 {
            while self.waiting.front().is_some_and(|&t| t <= now) {
                self.waiting.pop_front();
            }
            if c.queue_limit > 0 && self.waiting.len() >= c.queue_limit {
                self.stats.queue_drops += 1;
                return;
            }
            let bits = packet.len() as u128 * 8;
            let nanos = bits * 1_000_000_000 / u128::from(c.rate_bps);
            let start = self.link_free_at.max(now);
            departs = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
            self.link_free_at = departs;
            self.waiting.push_back(departs);
        }

        if self.lose() {
            self.stats.lost += 1;
            return;
        }

        let due = (departs + self.propagation()).max(self.last_due);
        self.last_due = due;
        let copies = if self.chance(self.conditions.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut data = self.buffer(packet);
            if self.chance(self.conditions.corrupt) && !data.is_empty() {
                let bit = self.rng.next_u64() % (data.len() as u64 * 8);
                data[(bit / 8) as usize] ^= 1 << (bit % 8);
                self.stats.corrupted += 1;
            }
            let hold = if self.chance(self.conditions.reorder) {
                let depth = self.conditions.reorder_depth.max(1);
                Some(1 + (self.rng.next_u64() % u64::from(depth)) as u32)
            } else {
                None
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            self.flight.push(Scheduled {
                due,
                seq,
                data,
                hold,
            });
        }
    }

    /// The next packet due by `now`, written into `out` (replacing its contents).
    pub fn poll(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        self.release_expired(now);
        loop {
            if let Some(data) = self.released.pop_front() {
                self.deliver(data, out);
                return true;
            }
            if self.flight.peek().is_none_or(|s| s.due > now) {
                return false;
            }
            let Some(s) = self.flight.pop() else {
                return false;
            };
            match s.hold {
                Some(remaining) => {
                    self.stats.reordered += 1;
                    // Overtaken by `remaining` later packets, or released once the link has
                    // been quiet for as long as the path's delay (at least 1 ms).
                    let wait = (self.conditions.delay + self.conditions.jitter)
                        .max(Duration::from_millis(1));
                    self.held.push(Held {
                        remaining,
                        deadline: now + wait,
                        data: s.data,
                    });
                }
                None => {
                    self.overtake();
                    self.deliver(s.data, out);
                    return true;
                }
            }
        }
    }

    /// When the next packet comes due, if any is inside the link.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.released.is_empty() {
            return Some(Instant::ZERO);
        }
        let flight = self.flight.peek().map(|s| s.due);
        let held = self.held.iter().map(|h| h.deadline).min();
        flight.into_iter().chain(held).min()
    }

    /// Hands a buffer back for reuse once the caller is done with a packet from `poll`.
    fn deliver(&mut self, data: Vec<u8>, out: &mut Vec<u8>) {
        self.stats.delivered += 1;
        let old = core::mem::replace(out, data);
        if old.capacity() > 0 && self.spare.len() < 64 {
            self.spare.push(old);
        }
    }

    /// A delivered packet overtakes every held-back one.
    fn overtake(&mut self) {
        let mut i = 0;
        while i < self.held.len() {
            self.held[i].remaining -= 1;
            if self.held[i].remaining == 0 {
                let h = self.held.remove(i);
                self.released.push_back(h.data);
            } else {
                i += 1;
            }
        }
    }

    fn release_expired(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.held.len() {
            if self.held[i].deadline <= now {
                let h = self.held.remove(i);
                self.released.push_back(h.data);
            } else {
                i += 1;
            }
        }
    }

    fn buffer(&mut self, packet: &[u8]) -> Vec<u8> {
        let mut data = self.spare.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(packet);
        data
    }

    fn propagation(&mut self) -> Duration {
        let c = &self.conditions;
        if c.jitter.is_zero() {
            return c.delay;
        }
        let span = u64::try_from(c.jitter.as_nanos() * 2).unwrap_or(u64::MAX);
        let offset = self.rng.next_u64() % span.saturating_add(1);
        let delay = u64::try_from(c.delay.as_nanos()).unwrap_or(u64::MAX);
        let jitter = span / 2;
        Duration::from_nanos((delay + offset).saturating_sub(jitter))
    }

    /// One draw of the loss process.
    fn lose(&mut self) -> bool {
        let (loss, burst) = (self.conditions.loss, self.conditions.loss_burst);
        if burst <= 1.0 || loss <= 0.0 {
            return self.chance(loss);
        }
        // Gilbert–Elliott with a lossless good state and an always-losing bad state: the bad
        // state lasts `burst` packets on average (leaving it has probability r = 1/burst) and
        // entering it has probability p chosen so that p / (p + r) = loss.
        let r = 1.0 / burst;
        let p = (loss * r / (1.0 - loss)).min(1.0);
        self.in_burst = if self.in_burst {
            !self.chance(r)
        } else {
            self.chance(p)
        };
        self.in_burst
    }

    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        // 53 random bits make a uniform float in [0, 1).
        let x = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn drain(link: &mut Impairment, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while link.poll(now, &mut buf) {
            out.push(buf.clone());
        }
        out
    }

    #[test]
    fn a_perfect_link_delivers_at_once_in_order() {
        let mut link = Impairment::new(LinkConditions::default(), 1);
        for i in 0..10u8 {
            link.send(ms(0), &[i]);
        }
        let got = drain(&mut link, ms(0));
        assert_eq!(got, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());
        assert_eq!(link.poll_timeout(), None);
    }

    #[test]
    fn delay_holds_packets_until_due() {
        let c = LinkConditions {
            delay: Duration::from_millis(10),
            ..LinkConditions::default()
        };
        let mut link = Impairment::new(c, 1);
        link.send(ms(5), b"x");
        assert!(drain(&mut link, ms(14)).is_empty());
        assert_eq!(link.poll_timeout(), Some(ms(15)));
        assert_eq!(drain(&mut link, ms(15)), vec![b"x".to_vec()]);
    }

    #[test]
    fn rate_serializes_and_the_queue_tail_drops() {
        // 1500-byte packets at 12 Mbit/s take 1 ms each.
        let c = LinkConditions {
            rate_bps: 12_000_000,
            queue_limit: 3,
            ..LinkConditions::default()
        };
        let mut link = Impairment::new(c, 1);
        for _ in 0..5 {
            link.send(ms(0), &[0; 1500]);
        }
        assert_eq!(link.stats().queue_drops, 2);
        assert_eq!(drain(&mut link, ms(1)).len(), 1);
        assert_eq!(drain(&mut link, ms(2)).len(), 1);
        assert_eq!(link.poll_timeout(), Some(ms(3)));
        assert_eq!(drain(&mut link, ms(3)).len(), 1);
    }

    #[test]
    fn jitter_varies_delay_but_keeps_order() {
        let c = LinkConditions {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            ..LinkConditions::default()
        };
        let mut link = Impairment::new(c, 7);
        let mut dues = Vec::new();
        for i in 0..200u32 {
            link.send(ms(u64::from(i)), &i.to_be_bytes());
        }
        let mut buf = Vec::new();
        let mut last = None;
        for t in 0..300 {
            while link.poll(ms(t), &mut buf) {
                let n = u32::from_be_bytes(buf[..4].try_into().unwrap());
                assert!(
                    last.is_none_or(|l| n > l),
                    "jitter reordered {n} after {last:?}"
                );
                last = Some(n);
                dues.push(t - u64::from(n));
            }
        }
        assert_eq!(dues.len(), 200);
        assert!(dues.iter().all(|&d| (5..=15).contains(&d)));
        assert!(dues.iter().any(|&d| d != 10), "no jitter seen");
    }

    #[test]
    fn loss_rate_is_close_to_the_setting_and_bursts_are_longer() {
        let run = |burst: f64| {
            let c = LinkConditions {
                loss: 0.05,
                loss_burst: burst,
                ..LinkConditions::default()
            };
            let mut link = Impairment::new(c, 42);
            let mut lost = Vec::new();
            for i in 0..100_000u32 {
                let before = link.stats().lost;
                link.send(ms(0), &i.to_be_bytes());
                lost.push(link.stats().lost > before);
            }
            let rate = lost.iter().filter(|&&l| l).count() as f64 / lost.len() as f64;
            let bursts = lost.windows(2).filter(|w| w[1] && !w[0]).count().max(1);
            let mean_burst = lost.iter().filter(|&&l| l).count() as f64 / bursts as f64;
            (rate, mean_burst)
        };
        let (rate, mean) = run(1.0);
        assert!(
            (0.045..0.055).contains(&rate),
            "independent loss rate {rate}"
        );
        assert!(
            mean < 1.2,
            "independent losses come one at a time, mean {mean}"
        );
        let (rate, mean) = run(4.0);
        assert!((0.04..0.06).contains(&rate), "bursty loss rate {rate}");
        assert!((3.5..4.5).contains(&mean), "mean burst {mean}");
    }

    #[test]
    fn a_burst_ends_when_the_link_goes_idle() {
        // Bursts of 1000 packets on average: back to back, one loss is followed by more.
        let c = LinkConditions {
            loss: 0.5,
            loss_burst: 1000.0,
            ..LinkConditions::default()
        };
        let mut link = Impairment::new(c, 5);
        let mut t = 0;
        while link.stats().lost == 0 {
            assert!(t < 100_000, "never entered a burst");
            link.send(ms(t), b"x");
            t += 1;
        }
        // Back to back, the burst goes on; after an idle gap the next packet may pass.
        link.send(ms(t), b"x");
        assert_eq!(link.stats().lost, 2);
        let mut passed = false;
        for k in 0..50 {
            let before = link.stats().lost;
            link.send(ms(t + 1000 * (k + 1)), b"x");
            passed |= link.stats().lost == before;
        }
        assert!(passed, "an idle link stayed in its burst");
    }

    #[test]
    fn reordered_packets_are_overtaken_by_at_most_depth_packets() {
        let c = LinkConditions {
            reorder: 0.2,
            reorder_depth: 3,
            ..LinkConditions::default()
        };
        let mut link = Impairment::new(c, 3);
        let mut got = Vec::new();
        let mut buf = Vec::new();
        // Bursts of five back to back, as a TCP sender emits them.
        for i in 0..1000u32 {
            link.send(ms(u64::from(i / 5)), &i.to_be_bytes());
            while link.poll(ms(u64::from(i / 5)), &mut buf) {
                got.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
            }
        }
        for t in 200..300 {
            while link.poll(ms(t), &mut buf) {
                got.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
            }
        }
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..1000).collect::<Vec<_>>(),
            "nothing lost or doubled"
        );
        assert!(link.stats().reordered > 100);
        // A packet arrives at most `depth` places after where it was sent... plus the
        // other held packets released alongside it.
        for (pos, &n) in got.iter().enumerate() {
            let displacement = pos as i64 - i64::from(n);
            assert!(displacement <= 6, "packet {n} displaced by {displacement}");
        }
        assert!(got.windows(2).any(|w| w[1] < w[0]), "no reordering seen");
    }

    #[test]
    fn duplication_and_corruption_are_counted_and_real() {
        let c = LinkConditions {
            duplicate: 0.1,
            corrupt: 0.1,
            ..LinkConditions::default()
        };
        let mut link = Impairment::new(c, 9);
        let packet = [0u8; 64];
        for _ in 0..1000 {
            link.send(ms(0), &packet);
        }
        let got = drain(&mut link, ms(0));
        let s = link.stats();
        assert_eq!(got.len() as u64, 1000 + s.duplicated);
        assert!((50..150).contains(&s.duplicated));
        let flipped = got.iter().filter(|p| **p != packet).count() as u64;
        assert_eq!(flipped, s.corrupted);
        assert!(
            got.iter()
                .all(|p| p.iter().map(|b| b.count_ones()).sum::<u32>() <= 1)
        );
    }

    #[test]
    fn the_same_seed_replays_exactly() {
        let c = LinkConditions {
            delay: Duration::from_millis(3),
            jitter: Duration::from_millis(2),
            loss: 0.1,
            reorder: 0.1,
            duplicate: 0.05,
            corrupt: 0.05,
            ..LinkConditions::default()
        };
        let run = || {
            let mut link = Impairment::new(c, 11);
            let mut out = Vec::new();
            let mut buf = Vec::new();
            for i in 0..500u32 {
                link.send(ms(u64::from(i)), &i.to_be_bytes());
                while link.poll(ms(u64::from(i)), &mut buf) {
                    out.push((i, buf.clone()));
                }
            }
            out
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn bad_settings_are_refused() {
        let c = LinkConditions {
            loss: 1.5,
            ..LinkConditions::default()
        };
        assert!(c.validate().is_err());
        let c = LinkConditions {
            reorder: 0.1,
            reorder_depth: 0,
            ..LinkConditions::default()
        };
        assert!(c.validate().is_err());
        assert!(LinkConditions::default().validate().is_ok());
        assert!(LinkConditions::default().is_perfect());
    }
}
