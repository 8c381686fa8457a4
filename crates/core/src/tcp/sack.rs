//! The receiver's side of SACK: which blocks to report, in which order (RFC 2018 §4), and
//! the duplicate report of D-SACK (RFC 2883).
//!
//! The receive buffer knows which out-of-order ranges are held; this remembers which segments
//! arrived most recently, so the block holding the newest one goes first and the others follow
//! newest first, and a duplicate segment, once seen, leads the next ACK.

use std::collections::VecDeque;

use super::SeqNum;

/// Blocks remembered for ordering the report: more than can ever be reported.
const RECENT: usize = 8;

/// A receiver's SACK memory.
#[derive(Debug, Default)]
pub struct SackReceiver {
    /// The newest out-of-order arrival of each recent block, newest first.
    recent: VecDeque<SeqNum>,
    /// A duplicate to report as the first block of the next ACK (RFC 2883 §4).
    dsack: Option<(SeqNum, SeqNum)>,
}

impl SackReceiver {
    /// An out-of-order segment starting at `seq` was stored; `ranges` are the held ranges
    /// after it (offsets past `rcv_nxt`). The memory keeps one entry per block, so however
    /// many segments land in one block between two ACKs, older blocks are still remembered.
    pub fn on_out_of_order(&mut self, seq: SeqNum, rcv_nxt: SeqNum, ranges: &[(usize, usize)]) {
        let block = ranges
            .iter()
            .map(|&(s, e)| (rcv_nxt + s, rcv_nxt + e))
            .find(|b| seq.in_range(b.0, b.1));
        match block {
            Some((start, end)) => self.recent.retain(|&s| !s.in_range(start, end)),
            None => self.recent.retain(|&s| s != seq),
        }
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
        // One entry per block, its newest arrival: many arrivals into one block must not push
        // an older block out of the memory, or its report would be lost (RFC 2018 §4 asks
        // for the most recently reported blocks to be repeated).
        let mut recent_blocks: Vec<(SeqNum, SeqNum)> = Vec::with_capacity(RECENT);
        self.recent.retain(|&s| {
            if s < rcv_nxt {
                return false;
            }
            match held.iter().find(|b| s.in_range(b.0, b.1)) {
                Some(&b) if !recent_blocks.contains(&b) => {
                    recent_blocks.push(b);
                    true
                }
                _ => false,
            }
        });
        for &b in &recent_blocks {
            push(&mut out, first, b);
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

    const BASE: SeqNum = SeqNum(1000);

    /// A segment `[seq, seq + len)` arrives out of order into `held` (offsets past BASE).
    fn arrive(r: &mut SackReceiver, held: &mut Vec<(usize, usize)>, seq: u32, len: usize) {
        let (s, e) = ((seq - BASE.0) as usize, (seq - BASE.0) as usize + len);
        held.push((s, e));
        held.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for &(s, e) in held.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *held = merged;
        r.on_out_of_order(SeqNum(seq), BASE, held);
    }

    #[test]
    fn newest_first_then_the_rest() {
        let mut r = SackReceiver::default();
        let mut held = Vec::new();
        // Held: [1100,1200) [1300,1400) [1500,1600); arrivals in that order.
        arrive(&mut r, &mut held, 1100, 100);
        arrive(&mut r, &mut held, 1500, 100);
        arrive(&mut r, &mut held, 1300, 100);
        assert_eq!(
            abs(&r.blocks(BASE, &held, 3)),
            vec![(1300, 1400), (1500, 1600), (1100, 1200)]
        );
        assert_eq!(
            abs(&r.blocks(BASE, &held, 2)),
            vec![(1300, 1400), (1500, 1600)]
        );
    }

    /// Many segments into one block between two ACKs (a receive batch) must not push the
    /// older blocks out of the memory: the ACK reports the three most recent blocks.
    #[test]
    fn a_busy_block_does_not_push_an_older_one_out() {
        let mut r = SackReceiver::default();
        let mut held = Vec::new();
        arrive(&mut r, &mut held, 1100, 100);
        arrive(&mut r, &mut held, 1300, 100);
        for i in 0..(RECENT as u32 * 3) {
            arrive(&mut r, &mut held, 1500 + i * 50, 50);
        }
        for i in 0..(RECENT as u32 * 3) {
            arrive(&mut r, &mut held, 4000 + i * 50, 50);
        }
        assert_eq!(
            abs(&r.blocks(BASE, &held, 3)),
            vec![(4000, 5200), (1500, 2700), (1300, 1400)]
        );
        // A segment joining two blocks makes one block, reported first.
        arrive(&mut r, &mut held, 2700, 1300);
        assert_eq!(
            abs(&r.blocks(BASE, &held, 3)),
            vec![(1500, 5200), (1300, 1400), (1100, 1200)]
        );
    }

    #[test]
    fn dsack_goes_first_once_with_its_enclosing_block() {
        let mut r = SackReceiver::default();
        let mut held = Vec::new();
        arrive(&mut r, &mut held, 1100, 100);
        arrive(&mut r, &mut held, 1300, 100);
        r.on_duplicate(SeqNum(1100), SeqNum(1150));
        let ranges = held;
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
