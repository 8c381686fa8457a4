//! Loss recovery with SACK: reading the peer's blocks into the scoreboard (RFC 6675), RACK's
//! time-based loss marking and tail loss probes (RFC 8985), and taking back a recovery whose
//! retransmissions were spurious (D-SACK, RFC 3708; timestamps, RFC 3522).
//!
//! Without SACK the connection keeps RFC 6582 NewReno (`input.rs`); the undo by timestamps
//! works for both.

use super::congestion::CongestionControl;
use super::connection::{Connection, Ctx};
use super::rack;
use super::scoreboard::AckSummary;
use super::timers::Timer;
use super::{SeqNum, State};
use crate::time::Instant;
use crate::wire::TcpRepr;

/// Retransmitted ranges remembered per episode for matching D-SACKs; past this, the episode
/// can only be undone by timestamps.
const UNDO_RANGES: usize = 64;

/// One loss episode (fast recovery or RTO), kept until shown needed or spurious.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    /// SND.UNA when the episode began: D-SACKs for older data say nothing about it.
    marker: SeqNum,
    /// Retransmissions of the episode no D-SACK has yet reported needless.
    ranges: Vec<(SeqNum, SeqNum)>,
    /// More retransmissions than `ranges` holds: D-SACKs cannot prove them all needless.
    overflow: bool,
    /// Start and TSval of the episode's first retransmission, until the ACK covering it
    /// was checked (Eifel, RFC 3522 §3.2).
    eifel: Option<(SeqNum, u32)>,
    /// The Eifel check ran already.
    eifel_done: bool,
}

impl Connection {
    /// Whether the SACK scoreboard and RACK drive recovery on this connection.
    pub(super) fn use_rack(&self, ctx: &Ctx<'_>) -> bool {
        self.sack_ok && ctx.config.rack
    }

    /// Fast recovery or RTO recovery is under way.
    pub(super) fn in_recovery(&self) -> bool {
        self.recover.is_some() || self.rto_recover.is_some()
    }

    /// A loss episode begins: remember where, for a later undo.
    pub(super) fn start_episode(&mut self) {
        self.undo = Some(Box::new(Undo {
            marker: self.snd_una,
            ..Undo::default()
        }));
    }

    /// `[start, end)` was just sent again, carrying our timestamp `tsval` if any.
    pub(super) fn on_retransmitted(&mut self, start: SeqNum, end: SeqNum, tsval: Option<u32>) {
        if let Some(u) = self.undo.as_mut() {
            if u.ranges.len() < UNDO_RANGES {
                u.ranges.push((start, end));
            } else {
                u.overflow = true;
            }
            if let (None, false, Some(ts)) = (u.eifel, u.eifel_done, tsval) {
                u.eifel = Some((start, ts));
            }
        }
    }

    /// Enters fast recovery on a loss the scoreboard or RACK found (RFC 6675 §5 step 4).
    pub(super) fn enter_fast_recovery(&mut self) {
        self.start_episode();
        self.cc
            .on_fast_retransmit(self.snd_max - self.snd_una, self.effective_mss());
        self.recover = Some(self.snd_max);
        self.force_rexmit = true;
        self.set_rtt_sample(None);
        self.stats.get_or_insert_with(Box::default).fast_recoveries += 1;
        // The recovery's reduction covers whatever loss a probe revealed.
        self.tlp = None;
        self.timers.stop(Timer::Tlp);
    }

    /// Reads an ACK's SACK blocks and cumulative ACK into the scoreboard and RACK, before
    /// SND.UNA moves (RFC 6675 §5, RFC 8985 §6.2 steps 1-4).
    pub(super) fn sack_on_ack(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr, ack: SeqNum) {
        let mut sum = AckSummary::default();
        let fack = self.rack.fack;
        let una = if ack > self.snd_una {
            self.board.on_cumulative_ack(ack, fack, &mut sum);
            ack
        } else {
            self.snd_una
        };
        let blocks = seg.options.sack_blocks();
        let mut dsack = None;
        for (i, &(l, r)) in blocks.iter().enumerate() {
            let (l, r) = (SeqNum(l), SeqNum(r));
            // Nothing sensible is empty, reversed, or reaches past what we sent.
            if l >= r || r > self.snd_max || l > self.snd_max || self.snd_max - l > 1 << 30 {
                continue;
            }
            // RFC 2883 §4: the first block is a D-SACK if it lies below the cumulative ACK
            // or inside the second block.
            let in_second = blocks
                .get(1)
                .is_some_and(|&(l2, r2)| SeqNum(l2) <= l && r <= SeqNum(r2));
            if i == 0 && (r <= ack || in_second) {
                dsack = Some((l, r));
                continue;
            }
            let l = l.max(una);
            if l < r {
                self.board.on_sack_block(l, r, fack, &mut sum);
            }
        }
        if let Some(d) = sum.newest {
            let echo_older = self.eifel_says_spurious(seg);
            self.rack
                .on_delivered(d, ctx.now, sum.reordered, echo_older);
        }
        if let Some((l, r)) = dsack {
            self.on_dsack(l, r);
        }
        // RFC 8985 §7.4: what the answers to a loss probe say. A probe of new data needs no
        // check; a copy D-SACKed was needless; an ACK beyond the probe without that D-SACK
        // means the copy repaired a loss, which is congestion too. An ACK of exactly the
        // probe may still be followed by its D-SACK: wait (as Linux does).
        if let Some((end, retrans)) = self.tlp {
            let probe_dsacked = dsack.is_some_and(|(l, r)| l < end && end <= r);
            if !retrans && ack >= end {
                self.tlp = None;
            } else if retrans && probe_dsacked {
                self.stats
                    .get_or_insert_with(Box::default)
                    .spurious_retransmissions += 1;
                self.tlp = None;
            } else if retrans && ack > end {
                let mss = self.effective_mss();
                self.cc.on_fast_retransmit(self.snd_max - self.snd_una, mss);
                self.cc.on_recovery_end();
                self.tlp = None;
            }
        }
    }

    /// The peer reported `[l, r)` received twice (RFC 2883).
    fn on_dsack(&mut self, l: SeqNum, r: SeqNum) {
        self.rack.on_dsack(self.snd_una, self.snd_max);
        let Some(u) = self.undo.as_mut() else {
            return;
        };
        if l < u.marker {
            return;
        }
        // RFC 3708 §3: a D-SACK for a retransmission of the episode shows it needless.
        let before = u.ranges.len();
        u.ranges.retain(|&(s, e)| !(s >= l && e <= r));
        let matched = before - u.ranges.len();
        if matched == 0 {
            return;
        }
        self.stats
            .get_or_insert_with(Box::default)
            .spurious_retransmissions += matched as u64;
        if u.ranges.is_empty() && !u.overflow {
            self.undo_recovery();
        }
    }

    /// Eifel (RFC 3522 §3.2): whether this ACK echoes a timestamp older than the episode's
    /// first retransmission, i.e. answers the original.
    fn eifel_says_spurious(&self, seg: &TcpRepr) -> bool {
        let (Some(u), Some((_, tsecr))) = (self.undo.as_ref(), seg.options.timestamps) else {
            return false;
        };
        self.ts_ok
            && u.eifel
                .is_some_and(|(_, ts)| (tsecr.wrapping_sub(ts) as i32) < 0)
    }

    /// On an ACK that moves SND.UNA to `ack`: the Eifel check, once per episode, on the
    /// first ACK that covers the first retransmission.
    pub(super) fn eifel_check(&mut self, seg: &TcpRepr, ack: SeqNum) {
        let Some(start) = self.undo.as_ref().and_then(|u| u.eifel).map(|e| e.0) else {
            return;
        };
        if ack <= start {
            return;
        }
        let spurious = self.eifel_says_spurious(seg);
        if let Some(u) = self.undo.as_mut() {
            u.eifel = None;
            u.eifel_done = true;
            if spurious {
                self.stats
                    .get_or_insert_with(Box::default)
                    .spurious_retransmissions += u.ranges.len().max(1) as u64;
            }
        }
        if spurious {
            self.undo_recovery();
        }
    }

    /// The episode's retransmissions were all needless: restore the window and leave
    /// recovery (RFC 3708 §5, RFC 4015).
    fn undo_recovery(&mut self) {
        self.undo = None;
        self.cc.on_spurious_undo();
        self.stats
            .get_or_insert_with(Box::default)
            .undone_recoveries += 1;
        if self.recover.take().is_some() {
            self.rack.on_recovery_end();
        }
        self.rto_recover = None;
        self.rto_high = None;
        self.rexmit = None;
        self.force_rexmit = false;
        self.board.unmark_lost();
        // After a spurious timeout the data is still in flight: go on with new data
        // (RFC 3522 §1) rather than resend it all.
        if !self.sack_ok && self.snd_nxt < self.snd_max {
            self.snd_nxt = self.snd_max;
        }
    }

    /// After an ACK was processed (or the reordering timer fired): marks losses and enters
    /// recovery if one is found; arms the reordering and probe timers (RFC 8985 §6.2 step 5,
    /// §6.3, §7.2).
    pub(super) fn detect_losses(&mut self, ctx: &mut Ctx<'_>) {
        if !self.state.is_synchronized() || self.board.is_empty() {
            self.timers.stop(Timer::Reorder);
            self.timers.stop(Timer::Tlp);
            return;
        }
        let marked = if ctx.config.rack {
            let reo_wnd = self.rack.reo_wnd(
                self.in_recovery(),
                self.board.sacked_segments(),
                self.rtt.srtt(),
            );
            let (marked, timeout) = self.rack.detect_loss(&mut self.board, ctx.now, reo_wnd);
            match timeout {
                Some(t) => self.timers.set(Timer::Reorder, ctx.now + t),
                None => self.timers.stop(Timer::Reorder),
            }
            marked
        } else {
            self.board
                .mark_lost_by_dupthresh(self.effective_mss(), self.dupacks >= 3)
        };
        if marked && !self.in_recovery() {
            self.enter_fast_recovery();
        }
    }

    /// Arms the probe timer if a tail loss probe may be needed (RFC 8985 §7.2): not while
    /// recovering, nor with SACKed data (RACK covers that), nor with a probe unanswered.
    pub(super) fn arm_tlp(&mut self, ctx: &Ctx<'_>) {
        let allowed = self.use_rack(ctx)
            && matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            )
            && !self.in_recovery()
            && self.tlp.is_none()
            && self.snd_max > self.snd_una
            && !self.board.any_sacked();
        if !allowed {
            self.timers.stop(Timer::Tlp);
            return;
        }
        let one_segment = self.snd_max - self.snd_una <= self.effective_mss();
        let pto = rack::pto_nanos(self.rtt.srtt_nanos(), one_segment);
        let at = Instant::from_nanos(ctx.now.as_nanos().saturating_add(pto));
        // The RTO would come first: leave it to the RTO.
        if self
            .timers
            .deadline(Timer::Retransmit)
            .is_some_and(|rto| rto <= at)
        {
            self.timers.stop(Timer::Tlp);
        } else {
            self.timers.set(Timer::Tlp, at);
        }
    }
}
