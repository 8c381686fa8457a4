//! Sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 §3.4).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number. Ordering is circular, valid for numbers less than 2^31 apart, so
/// `SeqNum` implements `PartialOrd` but not `Ord`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Whether `self` lies in `[lo, hi)`, circularly.
    pub fn in_range(self, lo: SeqNum, hi: SeqNum) -> bool {
        self.0.wrapping_sub(lo.0) < hi.0.wrapping_sub(lo.0)
    }

    /// The larger of two numbers, circularly.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self > other { self } else { other }
    }

    /// The smaller of two numbers, circularly.
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self < other { self } else { other }
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some((self.0.wrapping_sub(other.0) as i32).cmp(&0))
    }
}

impl Add<usize> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: usize) -> SeqNum {
        // Truncation is the arithmetic: sequence space is modulo 2^32.
        SeqNum(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<usize> for SeqNum {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl Sub<SeqNum> for SeqNum {
    type Output = usize;
    /// Distance from `rhs` up to `self`; callers guarantee `rhs <= self`.
    fn sub(self, rhs: SeqNum) -> usize {
        let d = self.0.wrapping_sub(rhs.0) as i32;
        debug_assert!(d >= 0, "sequence subtraction underflow: {self:?} - {rhs:?}");
        d.max(0) as usize
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_wrap() {
        let a = SeqNum(u32::MAX - 5);
        let b = a + 10;
        assert_eq!(b.0, 4);
        assert!(a < b);
        assert!(b > a);
        assert_eq!(b - a, 10);
        assert!(SeqNum(u32::MAX).in_range(a, b));
        assert!(!b.in_range(a, b));
    }
}
