//! The sender's scoreboard (RFC 6675 §3 and RFC 8985 §5): every segment between SND.UNA and
//! SND.MAX with when it was last sent, whether it was retransmitted, SACKed or deemed lost.
//!
//! Entries are contiguous and sorted; sending, cumulative ACKs and SACK blocks split them at
//! their edges. Pipe (RFC 6675 §4) is the bytes of entries neither SACKed nor lost: a lost
//! entry that is retransmitted is in flight again.
//!
//! The board keeps running totals (bytes, SACKed and lost bytes and entries, retransmitted
//! entries) beside the entries, so that what every ACK and every send asks (pipe, is anything
//! SACKed or lost) costs O(1), not a walk over the whole flight. An entry is never both SACKed
//! and lost.

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
    totals: Totals,
}

/// Running sums over the entries, kept in step with every change to them. `u32` is room
/// enough: what is in flight lies within one sequence-number half-space (2^31).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    bytes: u32,
    sacked_bytes: u32,
    sacked: u32,
    lost_bytes: u32,
    lost: u32,
    retransmitted: u32,
}

impl Totals {
    /// Adds (`add` true) or takes away an entry's share.
    fn count(&mut self, s: &Sent, add: bool) {
        let len = s.len() as u32;
        let apply = |v: &mut u32, d: u32| {
            if add {
                *v += d;
            } else {
                *v -= d;
            }
        };
        apply(&mut self.bytes, len);
        if s.sacked {
            apply(&mut self.sacked_bytes, len);
            apply(&mut self.sacked, 1);
        }
        if s.lost {
            apply(&mut self.lost_bytes, len);
            apply(&mut self.lost, 1);
        }
        if s.retransmitted {
            apply(&mut self.retransmitted, 1);
        }
    }
}

impl Scoreboard {
    /// An empty board using `segs` (empty) as its storage.
    pub fn with_storage(segs: VecDeque<Sent>) -> Scoreboard {
        debug_assert!(segs.is_empty());
        Scoreboard {
            segs,
            totals: Totals::default(),
        }
    }

    /// Forgets everything (the connection closed) and hands back the storage.
    pub fn take_storage(&mut self) -> VecDeque<Sent> {
        self.totals = Totals::default();
        std::mem::take(&mut self.segs)
    }

    /// Changes entry `i` with `f`, keeping the totals in step.
    fn update(&mut self, i: usize, f: impl FnOnce(&mut Sent)) {
        let s = &mut self.segs[i];
        self.totals.count(s, false);
        f(s);
        self.totals.count(s, true);
    }

    /// The totals recomputed from the entries, for tests.
    #[cfg(test)]
    fn recount(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.segs {
            t.count(s, true);
        }
        t
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
            // Entries are sorted: only those from `start` on can be inside.
            let from = self.segs.partition_point(|s| s.end <= start);
            for i in from..self.segs.len() {
                let s = self.segs[i];
                if s.start >= end {
                    break;
                }
                if s.start >= start && s.end <= end {
                    self.update(i, |s| {
                        s.xmit = now;
                        s.retransmitted = true;
                        s.lost = false;
                    });
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
        let s = Sent {
            start,
            end,
            xmit: now,
            retransmitted: false,
            sacked: false,
            lost: false,
        };
        self.totals.count(&s, true);
        self.segs.push_back(s);
    }

    /// Makes `seq` an entry boundary, if it falls inside one and the board has room.
    fn split_at(&mut self, seq: SeqNum) {
        if self.segs.len() >= MAX_ENTRIES {
            return;
        }
        // Entries are sorted and contiguous: the one holding `seq` is the first ending past it.
        let i = self.segs.partition_point(|s| s.end <= seq);
        if !self
            .segs
            .get(i)
            .is_some_and(|s| s.start < seq && seq < s.end)
        {
            return;
        }
        let whole = self.segs[i];
        self.totals.count(&whole, false);
        let mut right = whole;
        right.start = seq;
        self.segs[i].end = seq;
        self.totals.count(&self.segs[i], true);
        self.totals.count(&right, true);
        self.segs.insert(i + 1, right);
    }

    /// Everything before `ack` is acknowledged; `fack` is the highest end delivered before.
    pub fn on_cumulative_ack(&mut self, ack: SeqNum, fack: SeqNum, sum: &mut AckSummary) {
        while let Some(&front) = self.segs.front() {
            if front.end <= ack {
                self.segs.pop_front();
                self.totals.count(&front, false);
                if !front.sacked {
                    sum.deliver(&front, fack);
                }
            } else {
                if front.start < ack {
                    self.update(0, |s| s.start = ack);
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
        let from = self.segs.partition_point(|s| s.end <= start);
        for i in from..self.segs.len() {
            let s = self.segs[i];
            if s.start >= end {
                break;
            }
            if s.start >= start && s.end <= end && !s.sacked {
                self.update(i, |s| {
                    s.sacked = true;
                    s.lost = false;
                });
                sum.newly_sacked += s.len();
                sum.deliver(&s, fack);
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
        let t = &self.totals;
        (t.bytes - t.sacked_bytes - t.lost_bytes) as usize
    }

    /// SACKed entries.
    pub fn sacked_segments(&self) -> usize {
        self.totals.sacked as usize
    }

    /// Whether any entry is SACKed.
    pub fn any_sacked(&self) -> bool {
        self.totals.sacked > 0
    }

    /// Whether any entry is deemed lost and not yet sent again.
    pub fn any_lost(&self) -> bool {
        self.totals.lost > 0
    }

    /// The first entry deemed lost and not yet sent again (RFC 6675 NextSeg rule 1).
    pub fn first_lost(&self) -> Option<(SeqNum, SeqNum)> {
        if self.totals.lost == 0 {
            return None;
        }
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
        for i in (0..self.segs.len()).rev() {
            let s = self.segs[i];
            if s.sacked {
                segs_above += 1;
                bytes_above += s.len();
            } else if !s.lost
                && !s.retransmitted
                && (segs_above >= DUP_THRESH || bytes_above > (DUP_THRESH - 1) * mss)
            {
                self.update(i, |s| s.lost = true);
                marked = true;
            }
        }
        if first_too
            && self
                .segs
                .front()
                .is_some_and(|s| !s.sacked && !s.lost && !s.retransmitted)
        {
            self.update(0, |s| s.lost = true);
            marked = true;
        }
        marked
    }

    /// The RTO fired (RFC 6675 §5.1): everything not SACKed is lost.
    pub fn mark_all_lost(&mut self) {
        for s in self.segs.iter_mut().filter(|s| !s.sacked) {
            s.lost = true;
        }
        self.retotal();
    }

    /// The peer may have discarded what it SACKed (RFC 2018 §8): forget the SACK marks.
    pub fn clear_sacked(&mut self) {
        for s in self.segs.iter_mut() {
            s.sacked = false;
        }
        self.retotal();
    }

    /// A loss was spurious: nothing waiting is lost after all.
    pub fn unmark_lost(&mut self) {
        if self.totals.lost == 0 {
            return;
        }
        for s in self.segs.iter_mut() {
            s.lost = false;
        }
        self.retotal();
    }

    /// Recomputes the totals after a change to every entry (rare: timeouts and undos).
    fn retotal(&mut self) {
        let mut t = Totals::default();
        for s in &self.segs {
            t.count(s, true);
        }
        self.totals = t;
    }

    /// RACK's time-based marking: `verdict` is asked about every entry neither SACKed nor
    /// lost, in sequence order, and answers whether it is lost now (`Some(true)`), not yet
    /// (`Some(false)`), or whether the scan may stop (`None`: this entry and every later one
    /// need no look, which only holds while `in_send_order` says so). Returns whether one
    /// was marked.
    pub fn mark_lost_where(&mut self, mut verdict: impl FnMut(&Sent) -> Option<bool>) -> bool {
        let mut marked = false;
        for i in 0..self.segs.len() {
            let s = self.segs[i];
            if s.sacked || s.lost {
                continue;
            }
            match verdict(&s) {
                Some(true) => {
                    self.update(i, |s| s.lost = true);
                    marked = true;
                }
                Some(false) => {}
                None => break,
            }
        }
        marked
    }

    /// Whether the entries' send times rise with their sequence numbers: nothing was
    /// retransmitted, so every entry went out once, in order.
    pub fn in_send_order(&self) -> bool {
        self.totals.retransmitted == 0
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

    /// The running totals match a recount after every kind of change.
    #[test]
    fn totals_follow_every_change() {
        let mut b = board(20);
        let mut sum = AckSummary::default();
        let check = |b: &Scoreboard| assert_eq!(b.totals, b.recount());
        check(&b);
        b.on_sack_block(SeqNum(450), SeqNum(720), SeqNum(0), &mut sum);
        check(&b);
        b.on_sack_block(SeqNum(1000), SeqNum(1300), SeqNum(720), &mut sum);
        check(&b);
        assert_eq!(b.sacked_segments(), 7);
        assert!(b.mark_lost_by_dupthresh(100, true));
        check(&b);
        assert!(b.totals.lost > 0);
        b.on_sent(SeqNum(50), SeqNum(150), t(30));
        check(&b);
        assert_eq!(b.totals.retransmitted, 2);
        assert!(!b.in_send_order());
        b.on_cumulative_ack(SeqNum(130), SeqNum(1300), &mut sum);
        check(&b);
        b.mark_all_lost();
        check(&b);
        let marked = b.mark_lost_where(|s| Some(s.start < SeqNum(1500)));
        assert!(!marked, "everything not SACKed was lost already");
        b.unmark_lost();
        check(&b);
        assert!(b.mark_lost_where(|s| (s.start < SeqNum(1500)).then_some(true)));
        check(&b);
        assert_eq!(b.first_lost().map(|r| r.0), Some(SeqNum(130)));
        b.clear_sacked();
        check(&b);
        assert_eq!(b.pipe(), (b.totals.bytes - b.totals.lost_bytes) as usize);
        b.on_sent(SeqNum(1900), SeqNum(2100), t(40));
        check(&b);
        b.on_cumulative_ack(SeqNum(2100), SeqNum(2100), &mut sum);
        check(&b);
        assert!(b.is_empty());
        assert_eq!(b.totals, Totals::default());
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
