//! The sender's scoreboard (RFC 6675 §3 and RFC 8985 §5): every segment between SND.UNA and
//! SND.MAX with when it was last sent, whether it was retransmitted, SACKed or deemed lost.
//!
//! Entries are contiguous and sorted; sending, cumulative ACKs and SACK blocks split them at
//! their edges. Pipe (RFC 6675 §4) is the bytes of entries neither SACKed nor lost: a lost
//! entry that is retransmitted is in flight again.

use std::collections::VecDeque;

use super::SeqNum;
use crate::time::Instant;

/// More entries than this are not split further (a peer's SACK blocks could otherwise cut
/// the queue into one-byte pieces); the coarser marking is merely less precise.
const MAX_ENTRIES: usize = 8192;

/// One segment as last sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub start: SeqNum,
    pub end: SeqNum,
    /// When it was last (re)transmitted.
    pub xmit: Instant,
    /// Sent more than once.
    pub retransmitted: bool,
    /// Reported held by the peer's SACK blocks.
    pub sacked: bool,
    /// Deemed lost and not yet sent again.
    pub lost: bool,
}

impl Sent {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// A delivered (ACKed or SACKed) segment, as RACK sees it (RFC 8985 §6.2 step 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub xmit: Instant,
    pub end: SeqNum,
    pub retransmitted: bool,
}

/// What one ACK newly delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct AckSummary {
    /// The most recently sent of the newly delivered segments.
    pub newest: Option<Delivered>,
    /// A never-retransmitted segment was delivered below one delivered earlier: reordering.
    pub reordered: bool,
    /// Bytes newly SACKed.
    pub newly_sacked: usize,
}

impl AckSummary {
    fn deliver(&mut self, s: &Sent, fack: SeqNum) {
        if !s.retransmitted && s.end < fack {
            self.reordered = true;
        }
        let d = Delivered {
            xmit: s.xmit,
            end: s.end,
            retransmitted: s.retransmitted,
        };
        let newer = self
            .newest
            .is_none_or(|n| d.xmit > n.xmit || (d.xmit == n.xmit && d.end > n.end));
        if newer {
            self.newest = Some(d);
        }
    }
}

/// The segments in flight.
#[derive(Debug, Default)]
pub struct Scoreboard {
    segs: VecDeque<Sent>,
}

impl Scoreboard {
    /// Forgets everything (the connection closed).
    pub fn clear(&mut self) {
        self.segs.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// `[start, end)` went out at `now`. Parts already in the board are retransmissions.
    pub fn on_sent(&mut self, start: SeqNum, end: SeqNum, now: Instant) {
        if start >= end {
            return;
        }
        let tail = self.segs.back().map(|s| s.end);
        if let Some(tail) = tail.filter(|&t| start < t) {
            self.split_at(start);
            self.split_at(end);
            for s in self.segs.iter_mut() {
                if s.start >= start && s.end <= end {
                    s.xmit = now;
                    s.retransmitted = true;
                    s.lost = false;
                }
            }
            if end > tail {
                self.push(tail, end, now);
            }
        } else {
            self.push(start, end, now);
        }
    }

    fn push(&mut self, start: SeqNum, end: SeqNum, now: Instant) {
        self.segs.push_back(Sent {
            start,
            end,
            xmit: now,
            retransmitted: false,
            sacked: false,
            lost: false,
        });
    }

    /// Makes `seq` an entry boundary, if it falls inside one and the board has room.
    fn split_at(&mut self, seq: SeqNum) {
        if self.segs.len() >= MAX_ENTRIES {
            return;
        }
        let Some(i) = self.segs.iter().position(|s| s.start < seq && seq < s.end) else {
            return;
        };
        let mut right = self.segs[i];
        right.start = seq;
        self.segs[i].end = seq;
        self.segs.insert(i + 1, right);
    }

    /// Everything before `ack` is acknowledged; `fack` is the highest end delivered before.
    pub fn on_cumulative_ack(&mut self, ack: SeqNum, fack: SeqNum, sum: &mut AckSummary) {
        while let Some(front) = self.segs.front_mut() {
            if front.end <= ack {
                let s = *front;
                self.segs.pop_front();
                if !s.sacked {
                    sum.deliver(&s, fack);
                }
            } else {
                if front.start < ack {
                    front.start = ack;
                }
                break;
            }
        }
    }

    /// Marks `[start, end)` SACKed; the caller checked the block lies in the board's range.
    pub fn on_sack_block(
        &mut self,
        start: SeqNum,
        end: SeqNum,
        fack: SeqNum,
        sum: &mut AckSummary,
    ) {
        self.split_at(start);
        self.split_at(end);
        for s in self.segs.iter_mut() {
            if s.start >= start && s.end <= end && !s.sacked {
                s.sacked = true;
                s.lost = false;
                sum.newly_sacked += s.len();
                sum.deliver(s, fack);
            }
        }
    }

    /// Whether `[start, end)` lies within entries that are all SACKed.
    #[cfg(test)]
    pub fn is_sacked(&self, start: SeqNum, end: SeqNum) -> bool {
        let mut any = false;
        for s in &self.segs {
            if s.end > start && s.start < end {
                if !s.sacked {
                    return false;
                }
                any = true;
            }
        }
        any
    }

    /// RFC 6675 §4 pipe: bytes sent and neither SACKed nor deemed lost.
    pub fn pipe(&self) -> usize {
        self.segs
            .iter()
            .filter(|s| !s.sacked && !s.lost)
            .map(Sent::len)
            .sum()
    }

    /// SACKed entries.
    pub fn sacked_segments(&self) -> usize {
        self.segs.iter().filter(|s| s.sacked).count()
    }

    /// Whether any entry is SACKed.
    pub fn any_sacked(&self) -> bool {
        self.segs.iter().any(|s| s.sacked)
    }

    /// The first entry deemed lost and not yet sent again (RFC 6675 NextSeg rule 1).
    pub fn first_lost(&self) -> Option<(SeqNum, SeqNum)> {
        self.segs
            .iter()
            .find(|s| s.lost && !s.sacked)
            .map(|s| (s.start, s.end))
    }

    /// The last entry: what a tail loss probe resends when there is no new data.
    pub fn last(&self) -> Option<(SeqNum, SeqNum)> {
        self.segs.back().map(|s| (s.start, s.end))
    }

    /// RFC 6675 §4 IsLost: an entry with DupThresh SACKed segments, or more than
    /// (DupThresh - 1) * MSS SACKed bytes, above it is lost. Returns whether one was newly
    /// marked. `first_too` marks the first entry after DupThresh duplicate ACKs (§5 (a)).
    pub fn mark_lost_by_dupthresh(&mut self, mss: usize, first_too: bool) -> bool {
        const DUP_THRESH: usize = 3;
        let mut marked = false;
        let (mut segs_above, mut bytes_above) = (0, 0);
        for s in self.segs.iter_mut().rev() {
            if s.sacked {
                segs_above += 1;
                bytes_above += s.len();
            } else if !s.lost
                && !s.retransmitted
                && (segs_above >= DUP_THRESH || bytes_above > (DUP_THRESH - 1) * mss)
            {
                s.lost = true;
                marked = true;
            }
        }
        if first_too {
            if let Some(s) = self
                .segs
                .front_mut()
                .filter(|s| !s.sacked && !s.lost && !s.retransmitted)
            {
                s.lost = true;
                marked = true;
            }
        }
        marked
    }

    /// The RTO fired (RFC 6675 §5.1): everything not SACKed is lost.
    pub fn mark_all_lost(&mut self) {
        for s in self.segs.iter_mut().filter(|s| !s.sacked) {
            s.lost = true;
        }
    }

    /// The peer may have discarded what it SACKed (RFC 2018 §8): forget the SACK marks.
    pub fn clear_sacked(&mut self) {
        for s in self.segs.iter_mut() {
            s.sacked = false;
        }
    }

    /// A loss was spurious: nothing waiting is lost after all.
    pub fn unmark_lost(&mut self) {
        for s in self.segs.iter_mut() {
            s.lost = false;
        }
    }

    /// The entries, for RACK's time-based marking.
    pub fn segs_mut(&mut self) -> impl Iterator<Item = &mut Sent> {
        self.segs.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn board(n: u32) -> Scoreboard {
        let mut b = Scoreboard::default();
        for i in 0..n {
            b.on_sent(SeqNum(i * 100), SeqNum(i * 100 + 100), t(u64::from(i)));
        }
        b
    }

    #[test]
    fn sack_splits_and_pipe_counts_the_rest() {
        let mut b = board(5);
        let mut sum = AckSummary::default();
        b.on_sack_block(SeqNum(250), SeqNum(400), SeqNum(0), &mut sum);
        assert_eq!(sum.newly_sacked, 150);
        assert_eq!(sum.newest.map(|d| d.end), Some(SeqNum(400)));
        assert_eq!(b.pipe(), 350);
        assert!(b.is_sacked(SeqNum(300), SeqNum(400)));
        assert!(!b.is_sacked(SeqNum(200), SeqNum(300)));
    }

    #[test]
    fn dupthresh_marks_below_three_sacked_segments() {
        let mut b = board(5);
        let mut sum = AckSummary::default();
        b.on_sack_block(SeqNum(100), SeqNum(300), SeqNum(0), &mut sum);
        assert!(!b.mark_lost_by_dupthresh(100, false));
        b.on_sack_block(SeqNum(300), SeqNum(400), SeqNum(300), &mut sum);
        assert!(b.mark_lost_by_dupthresh(100, false));
        assert_eq!(b.first_lost(), Some((SeqNum(0), SeqNum(100))));
        // The retransmission is in flight again, and not lost twice.
        b.on_sent(SeqNum(0), SeqNum(100), t(10));
        assert_eq!(b.first_lost(), None);
        assert_eq!(b.pipe(), 200);
        assert!(!b.mark_lost_by_dupthresh(100, false));
    }

    #[test]
    fn cumulative_ack_trims_and_reports_reordering() {
        let mut b = board(3);
        let mut sum = AckSummary::default();
        b.on_sack_block(SeqNum(200), SeqNum(300), SeqNum(0), &mut sum);
        let mut sum = AckSummary::default();
        b.on_cumulative_ack(SeqNum(150), SeqNum(300), &mut sum);
        assert!(sum.reordered);
        assert_eq!(b.last(), Some((SeqNum(200), SeqNum(300))));
        assert_eq!(b.pipe(), 50);
    }
}
