//! The receiver's side of SACK: which blocks to report, in which order (RFC 2018 §4), and
//! the duplicate report of D-SACK (RFC 2883).
//!
//! The receive buffer knows which out-of-order ranges are held; this remembers which segments
//! arrived most recently, so the block holding the newest one goes first and the others follow
//! newest first, and a duplicate segment, once seen, leads the next ACK.

use std::collections::VecDeque;

use super::SeqNum;

/// Out-of-order arrivals remembered for ordering the blocks: more than can ever be reported.
const RECENT: usize = 8;

/// A receiver's SACK memory.
#[derive(Debug, Default)]
pub struct SackReceiver {
    /// Starts of the most recent out-of-order segments, newest first.
    recent: VecDeque<SeqNum>,
    /// A duplicate to report as the first block of the next ACK (RFC 2883 §4).
    dsack: Option<(SeqNum, SeqNum)>,
}

impl SackReceiver {
    /// An out-of-order segment starting at `seq` was stored.
    pub fn on_out_of_order(&mut self, seq: SeqNum) {
        self.recent.retain(|&s| s != seq);
        self.recent.push_front(seq);
        self.recent.truncate(RECENT);
    }

    /// The segment `[start, end)` had all or part arrive before: report it once.
    pub fn on_duplicate(&mut self, start: SeqNum, end: SeqNum) {
        if start < end {
            self.dsack = Some((start, end));
        }
    }

    /// Whether a D-SACK block is waiting to be sent.
    pub fn has_dsack(&self) -> bool {
        self.dsack.is_some()
    }

    /// Up to `room` blocks for the next ACK, given the held out-of-order `ranges` (offsets past
    /// `rcv_nxt`, lowest first). Takes the pending D-SACK block: it is reported once.
    pub fn blocks(
        &mut self,
        rcv_nxt: SeqNum,
        ranges: &[(usize, usize)],
        room: usize,
    ) -> Vec<(SeqNum, SeqNum)> {
        let held: Vec<(SeqNum, SeqNum)> = ranges
            .iter()
            .map(|&(s, e)| (rcv_nxt + s, rcv_nxt + e))
            .collect();
        let mut out: Vec<(SeqNum, SeqNum)> = Vec::with_capacity(room);
        // The D-SACK block, if any, is out[0] and does not count as a SACK block: the block
        // holding it is still reported.
        let mut first = 0;
        let push = |out: &mut Vec<(SeqNum, SeqNum)>, first: usize, b: (SeqNum, SeqNum)| {
            if out.len() < room && !out[first..].contains(&b) {
                out.push(b);
            }
        };
        if let Some(d) = self.dsack.take() {
            if room > 0 {
                out.push(d);
                first = 1;
            }
            // §4: a duplicate inside a held block is followed by that (larger) block.
            if let Some(&b) = held.iter().find(|b| b.0 <= d.0 && d.1 <= b.1) {
                push(&mut out, first, b);
            }
        }
        // RFC 2018 §4: the block holding the most recent segment first, then the blocks of
        // the other recent arrivals, newest first.
        self.recent.retain(|&s| s >= rcv_nxt);
        for &s in &self.recent {
            if let Some(&b) = held.iter().find(|b| s.in_range(b.0, b.1)) {
                push(&mut out, first, b);
            }
        }
        for &b in &held {
            push(&mut out, first, b);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(v: &[(SeqNum, SeqNum)]) -> Vec<(u32, u32)> {
        v.iter().map(|b| (b.0.0, b.1.0)).collect()
    }

    #[test]
    fn newest_first_then_the_rest() {
        let mut r = SackReceiver::default();
        let base = SeqNum(1000);
        // Held: [1100,1200) [1300,1400) [1500,1600); arrivals in that order.
        r.on_out_of_order(SeqNum(1100));
        r.on_out_of_order(SeqNum(1500));
        r.on_out_of_order(SeqNum(1300));
        let ranges = [(100, 200), (300, 400), (500, 600)];
        assert_eq!(
            abs(&r.blocks(base, &ranges, 3)),
            vec![(1300, 1400), (1500, 1600), (1100, 1200)]
        );
        assert_eq!(
            abs(&r.blocks(base, &ranges, 2)),
            vec![(1300, 1400), (1500, 1600)]
        );
    }

    #[test]
    fn dsack_goes_first_once_with_its_enclosing_block() {
        let mut r = SackReceiver::default();
        r.on_out_of_order(SeqNum(1100));
        r.on_out_of_order(SeqNum(1300));
        r.on_duplicate(SeqNum(1100), SeqNum(1150));
        let ranges = [(100, 200), (300, 400)];
        assert_eq!(
            abs(&r.blocks(SeqNum(1000), &ranges, 4)),
            vec![(1100, 1150), (1100, 1200), (1300, 1400)]
        );
        // A whole held block received again: reported twice, as D-SACK and as SACK.
        r.on_duplicate(SeqNum(1300), SeqNum(1400));
        assert_eq!(
            abs(&r.blocks(SeqNum(1000), &ranges, 4)),
            vec![(1300, 1400), (1300, 1400), (1100, 1200)]
        );
        assert!(!r.has_dsack());
        assert_eq!(
            abs(&r.blocks(SeqNum(1000), &ranges, 4)),
            vec![(1300, 1400), (1100, 1200)]
        );
    }
}
