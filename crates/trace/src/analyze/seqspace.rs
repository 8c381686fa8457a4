//! Sequence space arithmetic: 32-bit relative numbers unwrapped into 64-bit positions, so a
//! transfer past 4 GiB still orders correctly, and sets of ranges already sent.

use std::ops::Range;

/// Turns 32-bit relative sequence numbers into 64-bit positions, choosing for each the value
/// nearest the highest position seen so far.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Unwrapper {
    highest: u64,
}

impl Unwrapper {
    /// The 64-bit position of `rel`.
    pub fn unwrap(&mut self, rel: u32) -> u64 {
        let pos = nearest(rel, self.highest);
        self.highest = self.highest.max(pos);
        pos
    }
}

/// The value congruent to `rel` modulo 2^32 nearest `reference` (never below zero).
fn nearest(rel: u32, reference: u64) -> u64 {
    const WRAP: u64 = 1 << 32;
    let base = reference & !(WRAP - 1);
    let candidate = base | u64::from(rel);
    if candidate > reference && candidate - reference > WRAP / 2 && candidate >= WRAP {
        candidate - WRAP
    } else if candidate < reference && reference - candidate > WRAP / 2 {
        candidate + WRAP
    } else {
        candidate
    }
}

/// Whether `a` is at or after `b`, circularly (RFC 9293 §3.4).
pub(crate) fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

/// Disjoint, sorted ranges: the sequence space one side has sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// Whether any position of `r` is already in the set.
    pub fn overlaps(&self, r: &Range<u64>) -> bool {
        // The first range ending after r.start is the only one that can overlap first.
        let i = self.ranges.partition_point(|x| x.end <= r.start);
        self.ranges.get(i).is_some_and(|x| x.start < r.end)
    }

    /// Adds `r`, merging it with ranges it overlaps or touches.
    pub fn insert(&mut self, r: Range<u64>) {
        if r.is_empty() {
            return;
        }
        let lo = self.ranges.partition_point(|x| x.end < r.start);
        let hi = self.ranges.partition_point(|x| x.start <= r.end);
        let mut merged = r;
        if lo < hi {
            merged.start = merged.start.min(self.ranges[lo].start);
            merged.end = merged.end.max(self.ranges[hi - 1].end);
        }
        self.ranges.splice(lo..hi, [merged]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_follows_a_stream_across_the_32_bit_boundary() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(1), 1);
        assert_eq!(u.unwrap(0x8000_0000), 0x8000_0000);
        assert_eq!(u.unwrap(0xffff_fff0), 0xffff_fff0);
        assert_eq!(u.unwrap(0x10), (1 << 32) + 0x10);
        // A retransmission from just before the wrap stays below it.
        assert_eq!(u.unwrap(0xffff_fff0), 0xffff_fff0);
    }

    #[test]
    fn unwrap_never_goes_below_zero() {
        let mut u = Unwrapper::default();
        assert_eq!(u.unwrap(0xffff_ffff), 0xffff_ffff);
    }

    #[test]
    fn seq_ge_is_circular() {
        assert!(seq_ge(5, 5));
        assert!(seq_ge(6, 5));
        assert!(!seq_ge(5, 6));
        assert!(seq_ge(2, 0xffff_fff0));
    }

    #[test]
    fn range_set_overlap_and_merge() {
        let mut s = RangeSet::default();
        s.insert(10..20);
        s.insert(30..40);
        assert!(s.overlaps(&(15..16)));
        assert!(s.overlaps(&(5..11)));
        assert!(!s.overlaps(&(20..30)));
        assert!(!s.overlaps(&(0..10)));
        s.insert(20..30);
        assert_eq!(s.ranges, vec![10..40]);
        s.insert(0..5);
        s.insert(50..60);
        assert_eq!(s.ranges, vec![0..5, 10..40, 50..60]);
        s.insert(3..55);
        assert_eq!(s.ranges, vec![0..60]);
    }
}
