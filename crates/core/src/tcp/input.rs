//! Segment arrival (RFC 9293 §3.10.7), with RFC 5961's defences against blind RST, SYN
//! and data injection.

use core::time::Duration;

use super::congestion::{AckSample, CongestionControl};
use super::connection::{Connection, Ctx, ts_before};
use super::timers::Timer;
use super::{SeqNum, State};
use crate::stack::SocketError;
use crate::time::OptInstant;
use crate::wire::{TcpFlags, TcpRepr};

impl Connection {
    /// Processes one segment addressed to this connection.
    pub(crate) fn on_segment(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr, payload: &[u8]) {
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_segment_syn_sent(ctx, seg, payload),
            _ => {
                // Anything from the peer shows it is there (RFC 9293 §3.8.4).
                if self.keepalive.is_some() {
                    self.keepalive_heard(ctx.now);
                }
                self.on_segment_synchronized(ctx, seg, payload);
            }
        }
    }

    /// §3.10.7.3: SYN-SENT.
    fn on_segment_syn_sent(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr, payload: &[u8]) {
        let flags = seg.flags;
        let seg_ack = SeqNum(seg.ack);
        // First, the ACK bit: it must acknowledge our SYN and nothing beyond.
        let ack_ok = if flags.contains(TcpFlags::ACK) {
            if seg_ack <= self.iss || seg_ack > self.snd_max {
                if !flags.contains(TcpFlags::RST) {
                    self.rst = Some((seg_ack, None));
                }
                return;
            }
            true
        } else {
            false
        };
        // Second, RST: only with an acceptable ACK (RFC 5961 §3.2 leaves SYN-SENT to this).
        if flags.contains(TcpFlags::RST) {
            if ack_ok {
                self.fail(ctx, SocketError::Refused);
            }
            return;
        }
        // Fourth, SYN.
        if !flags.contains(TcpFlags::SYN) {
            return;
        }
        let seq = SeqNum(seg.seq);
        self.take_syn(ctx, seq, &seg.options);
        if ack_ok {
            self.snd_una = seg_ack;
            // The window in a SYN-ACK is never scaled (RFC 7323 §2.2).
            self.snd_wnd = usize::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seq;
            self.snd_wl2 = seg_ack;
            self.rtt_acked(ctx, seg_ack);
            self.timers.stop(Timer::Retransmit);
            self.rexmit_since = OptInstant::NONE;
            self.set_state(ctx, State::Established);
            self.ack_now = true;
            // Data riding on the SYN-ACK goes through the usual text processing.
            if !payload.is_empty() || seg.flags.contains(TcpFlags::FIN) {
                self.process_text(ctx, seq + 1, seg.flags, payload, None);
            }
        } else {
            // Simultaneous open (MUST-10): answer with SYN-ACK from our ISS.
            self.snd_wnd = usize::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seq;
            self.snd_wl2 = self.snd_una;
            self.snd_nxt = self.iss;
            self.set_state(ctx, State::SynReceived);
        }
    }

    /// §3.10.7.4: every state from SYN-RECEIVED on.
    fn on_segment_synchronized(&mut self, ctx: &mut Ctx<'_>, seg: &TcpRepr, payload: &[u8]) {
        let mut flags = seg.flags;
        let mut seq = SeqNum(seg.seq);
        // Simultaneous open (Figure 8, line 7): the peer's SYN-ACK repeats its SYN, already
        // received, and acknowledges ours. Only the new part is processed (§3.10.7.4 first):
        // trim the SYN so the ACK can complete the handshake.
        if self.state == State::SynReceived
            && flags.contains(TcpFlags::SYN)
            && flags.contains(TcpFlags::ACK)
            && !flags.contains(TcpFlags::RST)
            && seq == self.irs
        {
            flags = TcpFlags(flags.0 & !TcpFlags::SYN.0);
            seq += 1;
        }
        let seg_len = payload.len()
            + usize::from(flags.contains(TcpFlags::SYN))
            + usize::from(flags.contains(TcpFlags::FIN));
        if self.paws_rejects(ctx, seg, seq, seg_len) {
            ctx.counters.dropped_paws += 1;
            self.ack_now = true;
            return;
        }

        // First, the acceptability test (§3.10.7.4, the four cases).
        let rcv_wnd = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let window_end = self.rcv_nxt + rcv_wnd;
        let acceptable = match (seg_len, rcv_wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_range(self.rcv_nxt, window_end),
            (_, 0) => false,
            (_, _) => {
                seq.in_range(self.rcv_nxt, window_end)
                    || (seq + (seg_len - 1)).in_range(self.rcv_nxt, window_end)
            }
        };
        // A zero window still takes ACKs, URGs and RSTs (MUST-66): a segment at RCV.NXT is
        // processed with its text trimmed away.
        let zero_window_edge = !acceptable && rcv_wnd == 0 && seq == self.rcv_nxt;
        if !acceptable && !zero_window_edge {
            // The peer's SYN again: our SYN-ACK was lost, so send it again now rather than
            // make the peer wait for our retransmission timer (as Linux does).
            if self.state == State::SynReceived
                && self.passive
                && flags.contains(TcpFlags::SYN)
                && !flags.contains(TcpFlags::ACK)
                && seq == self.irs
            {
                self.snd_nxt = self.iss;
                return;
            }
            if !flags.contains(TcpFlags::RST) {
                ctx.counters.dropped_unacceptable += 1;
                self.ack_now = true;
                // RFC 2883: an old duplicate is reported in a D-SACK block.
                let end = seq + payload.len();
                if self.sack_ok && !payload.is_empty() && end <= self.rcv_nxt {
                    self.sack_rx().on_duplicate(seq, end);
                }
                // A retransmitted FIN in TIME-WAIT restarts the 2 MSL wait (§3.10.7.4 eighth).
                if self.state == State::TimeWait && flags.contains(TcpFlags::FIN) {
                    self.timers
                        .set(Timer::TimeWait, ctx.now + 2 * ctx.config.msl);
                }
            }
            return;
        }

        // Second, RST (RFC 5961 §3.2): exactly RCV.NXT resets; elsewhere in the window it
        // earns a challenge ACK.
        if flags.contains(TcpFlags::RST) {
            if seq != self.rcv_nxt {
                self.challenge_ack(ctx);
                return;
            }
            match self.state {
                State::SynReceived if self.passive => {
                    // Back to LISTEN: for us, the embryonic connection simply goes away.
                    self.released = true;
                    self.set_state(ctx, State::Closed);
                }
                State::SynReceived => self.fail(ctx, SocketError::Refused),
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    self.fail(ctx, SocketError::Reset)
                }
                _ => self.set_state(ctx, State::Closed),
            }
            return;
        }

        // Fourth, SYN (RFC 5961 §4): in a synchronized connection any SYN gets a challenge ACK.
        if flags.contains(TcpFlags::SYN) {
            if self.state == State::SynReceived && self.passive {
                // §3.10.7.4: return to LISTEN.
                self.released = true;
                self.set_state(ctx, State::Closed);
            } else {
                self.challenge_ack(ctx);
            }
            return;
        }

        // RFC 7323 §4.3 (R3): TS.Recent follows the segments that reach the left edge of what
        // we last acknowledged, so the echo covers the whole exchange, a delayed ACK included,
        // and a segment past a hole does not shorten the sender's RTT sample.
        if let Some((tsval, _)) = seg.options.timestamps
            && self.ts_ok
            && seq <= self.last_ack_sent
            && (!ts_before(tsval, self.ts_recent) || !self.ts_recent_valid(ctx.now))
        {
            self.ts_recent = tsval;
            self.ts_recent_at = ctx.now;
        }

        // Fifth, ACK.
        if !flags.contains(TcpFlags::ACK) {
            return;
        }
        let seg_ack = SeqNum(seg.ack);
        if self.state == State::SynReceived {
            if seg_ack <= self.snd_una || seg_ack > self.snd_max {
                self.rst = Some((seg_ack, None));
                return;
            }
            self.snd_wl1 = seq;
            self.snd_wl2 = seg_ack;
            self.snd_wnd = usize::from(seg.window) << self.snd_shift;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            if self.fin_seq.is_some() {
                self.set_state(ctx, State::FinWait1);
            } else {
                self.set_state(ctx, State::Established);
            }
        }
        if !self.process_ack(ctx, seg, seq, seg_ack, payload.len()) {
            return;
        }
        if self.state == State::Closed {
            return;
        }

        // Sixth (URG) is not acted on: urgent data arrives inline. Seventh and eighth: text and FIN.
        if zero_window_edge {
            if !payload.is_empty() {
                self.ack_now = true;
            }
            return;
        }
        let tsecr = seg.options.timestamps.map(|t| t.1);
        self.process_text(ctx, seq, flags, payload, tsecr);
    }

    /// The fifth step for synchronized states. Returns false when the segment is to be dropped.
    fn process_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: &TcpRepr,
        seq: SeqNum,
        ack: SeqNum,
        payload_len: usize,
    ) -> bool {
        if ack > self.snd_max {
            // Acknowledges something never sent: ACK and drop (RFC 5961 §5.2 too).
            self.ack_now = true;
            return false;
        }
        // RFC 5961 §5.2: an ACK far below SND.UNA (beyond the largest window the peer has seen)
        // is blind injection.
        if ack < self.snd_una && self.snd_una - ack > self.max_snd_wnd.max(1 << 16) {
            self.challenge_ack(ctx);
            return false;
        }

        let window = usize::from(seg.window) << self.snd_shift;
        let ack_advanced = ack > self.snd_una;
        if self.sack_ok {
            self.sack_on_ack(ctx, seg, ack);
        }
        if ack > self.snd_una {
            self.eifel_check(seg, ack);
            self.on_new_ack(ctx, ack, seg.options.timestamps.map(|t| t.1));
        } else if ack == self.snd_una
            && payload_len == 0
            && !seg.flags.contains(TcpFlags::FIN)
            && self.snd_max > self.snd_una
            && window == self.snd_wnd
        {
            self.on_duplicate_ack(ctx);
        }
        if ack >= self.snd_una {
            self.update_window(seq, ack, seg.window);
        }
        if self.sack_ok {
            self.detect_losses(ctx);
            // RFC 8985 §7.2: an ACK of new data restarts the probe timer.
            if ack_advanced {
                self.arm_tlp(ctx);
            }
        }

        // Our FIN acknowledged?
        let fin_acked = self.fin_seq.is_some_and(|f| self.snd_una > f);
        match self.state {
            State::FinWait1 if fin_acked => {
                self.set_state(ctx, State::FinWait2);
                if self.released {
                    self.timers
                        .set(Timer::FinWait2, ctx.now + ctx.config.orphan_fin_timeout);
                }
            }
            State::Closing if fin_acked => self.time_wait(ctx),
            State::LastAck if fin_acked => {
                self.set_state(ctx, State::Closed);
                return false;
            }
            _ => {}
        }
        true
    }

    /// SND.UNA < SEG.ACK =< SND.NXT: new data acknowledged.
    fn on_new_ack(&mut self, ctx: &mut Ctx<'_>, ack: SeqNum, tsecr: Option<u32>) {
        let acked = ack - self.snd_una;
        let flight = self.snd_max - self.snd_una;
        // Before this ACK: room for another full segment, and nothing waiting to use it, or
        // the peer's window holding it back, or (in slow start) the flight under half the
        // window, as when pacing spreads it out (Linux's tcp_is_cwnd_limited). Then the
        // congestion window was not what limited the sender, and it must not grow on that
        // (RFC 7661): slow start counting every byte would otherwise run away from the flight.
        let mss = self.effective_mss();
        let cwnd = self.cc.cwnd();
        let nothing_waiting =
            self.data_end() <= self.snd_max && self.fin_seq.is_none_or(|f| f < self.snd_max);
        let peer_limited = self.peer_window_end() < self.snd_max + mss;
        let slow_start_ahead = self.cc.in_slow_start() && 2 * flight < cwnd;
        let app_limited =
            flight + mss <= cwnd && (nothing_waiting || peer_limited || slow_start_ahead);
        // Data bytes acknowledged: the part of [SND.UNA, ack) inside the buffer.
        let data_acked = if ack > self.buf_seq {
            (ack - self.buf_seq).min(self.send_buf.len())
        } else {
            0
        };
        self.send_buf.consume(data_acked);
        self.buf_seq += data_acked;
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        let rtt = match tsecr.filter(|_| self.ts_ok) {
            Some(tsecr) => self.ts_rtt_sample(ctx, ack, tsecr, flight),
            None => self.rtt_acked(ctx, ack),
        };
        self.rtt.reset_backoff();
        self.rexmit_since = OptInstant::NONE;
        self.dupacks = 0;
        // The ACK covers segments the duplicates had reported, except the hole's own
        // (retransmitted) one (Linux's tcp_remove_reno_sacks).
        let acked_segments = acked.div_ceil(mss);
        self.reno_sacked = self
            .reno_sacked
            .saturating_sub(acked_segments.saturating_sub(1));
        if let Some(rex) = self.rexmit
            && rex < ack
        {
            self.rexmit = None;
        }
        if self.rto_recover.is_some_and(|r| ack >= r) {
            self.rto_recover = None;
        }
        if self.rto_high.is_some_and(|h| ack > h) {
            self.rto_high = None;
        }
        match self.recover {
            Some(recover) if ack < recover => {
                // NewReno partial ACK (RFC 6582 §3.2 step 3): the next hole is lost too.
                // With SACK the scoreboard knows the holes instead.
                if !self.sack_ok {
                    self.rexmit = Some(ack);
                }
            }
            Some(_) => {
                self.recover = None;
                self.reno_sacked = 0;
                self.cc.on_recovery_end();
                self.rack.on_recovery_end();
            }
            None => self.cc.on_ack_sample(&AckSample {
                now: ctx.now,
                bytes_acked: acked,
                mss,
                ack,
                snd_max: self.snd_max,
                rtt,
                app_limited,
            }),
        }
        if self.recover.is_none() {
            // Outside recovery a new cumulative ACK settles what the duplicates reported.
            self.reno_sacked = 0;
        }
        self.right_size_send(ctx);
        // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_max {
            self.timers.stop(Timer::Retransmit);
        } else {
            self.restart_rto(ctx.now);
        }
        self.timers.stop(Timer::Persist);
        self.probe = false;
    }

    /// RFC 5681 §3.2: the third duplicate ACK triggers fast retransmit.
    fn on_duplicate_ack(&mut self, ctx: &mut Ctx<'_>) {
        self.dupacks += 1;
        if !self.sack_ok {
            let flight = (self.snd_max - self.snd_una).div_ceil(self.effective_mss());
            self.reno_sacked = (self.reno_sacked + 1).min(flight.saturating_sub(1));
        }
        // With SACK, the scoreboard and RACK decide (`recovery.rs`). RFC 6582 §3.2 step 1:
        // until the ACK passes what was outstanding at a timeout, duplicates may answer the
        // go-back-N resends rather than report a new loss.
        let after_timeout = self.rto_high.is_some_and(|high| self.snd_una <= high);
        if self.dupacks == 3 && self.recover.is_none() && !self.sack_ok && !after_timeout {
            let _ = ctx;
            self.start_episode();
            self.stats.get_or_insert_with(Box::default).fast_recoveries += 1;
            self.cc
                .on_fast_retransmit(self.snd_max - self.snd_una, self.effective_mss());
            self.recover = Some(self.snd_max);
            self.rexmit = Some(self.snd_una);
            self.set_rtt_sample(None);
        }
    }

    /// RFC 7323 §4.1: with timestamps, every ACK of new data is an RTT sample, the echo
    /// telling which transmission it answers (so Karn's rule is not needed). The estimator
    /// weighs each by the samples a round brings (RFC 7323 Appendix G), so that SRTT and
    /// RTTVAR forget at RFC 6298's pace per round trip rather than per ACK.
    fn ts_rtt_sample(
        &mut self,
        ctx: &mut Ctx<'_>,
        ack: SeqNum,
        tsecr: u32,
        flight: usize,
    ) -> Option<Duration> {
        let Some(rtt) = self.ts_rtt(ctx.now, tsecr) else {
            return self.rtt_acked(ctx, ack);
        };
        // ExpectedSamples = ceil(FlightSize / (2 * SMSS)): one ACK per two segments.
        let per_round = flight.div_ceil(2 * self.effective_mss()).max(1);
        self.rtt
            .on_sample_weighted(rtt, u32::try_from(per_round).unwrap_or(u32::MAX));
        if self.rtt_sample().is_some_and(|(end, _)| ack >= end) {
            self.set_rtt_sample(None);
        }
        Some(rtt)
    }

    /// PAWS (RFC 7323 §5.3 R1): a segment whose TSval is older than TS.Recent is an old
    /// duplicate, to be ACKed and dropped; never a RST, and not while TS.Recent is stale.
    /// As in Linux, a duplicate ACK overtaken by a newer segment is let through: it only
    /// repeats what we know, and a sender without SACK needs to count it.
    fn paws_rejects(&self, ctx: &Ctx<'_>, seg: &TcpRepr, seq: SeqNum, seg_len: usize) -> bool {
        let Some((tsval, _)) = seg.options.timestamps else {
            return false;
        };
        if !self.ts_ok
            || seg.flags.contains(TcpFlags::RST)
            || !ts_before(tsval, self.ts_recent)
            || !self.ts_recent_valid(ctx.now)
        {
            return false;
        }
        let disordered_dupack = seg_len == 0
            && seg.flags.contains(TcpFlags::ACK)
            && seq == self.rcv_nxt
            && SeqNum(seg.ack) == self.snd_una
            && (usize::from(seg.window) << self.snd_shift) == self.snd_wnd
            && u128::from(self.ts_recent.wrapping_sub(tsval)) <= self.rtt.rto().as_millis();
        !disordered_dupack
    }

    /// Takes an RTT sample if the timed segment is now acknowledged; returns it.
    fn rtt_acked(&mut self, ctx: &mut Ctx<'_>, ack: SeqNum) -> Option<Duration> {
        let (end, sent) = self.rtt_sample()?;
        if ack < end {
            return None;
        }
        let rtt = ctx.now - sent;
        self.rtt.on_sample(rtt);
        self.set_rtt_sample(None);
        Some(rtt)
    }

    /// §3.10.7.4 fifth: SND.WND follows the most recent segment (WL1/WL2 ordering).
    fn update_window(&mut self, seq: SeqNum, ack: SeqNum, window: u16) {
        if self.snd_wl1 < seq || (self.snd_wl1 == seq && self.snd_wl2 <= ack) {
            self.snd_wnd = usize::from(window) << self.snd_shift;
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            if self.snd_wnd > 0 {
                self.persist_backoffs = 0;
                self.timers.stop(Timer::Persist);
            }
        }
    }

    /// RFC 5961 §7: a challenge ACK tells a real peer where we are; a blind attacker learns
    /// nothing.
    fn challenge_ack(&mut self, ctx: &mut Ctx<'_>) {
        ctx.counters.challenge_acks_sent += 1;
        self.ack_now = true;
    }

    /// Seventh and eighth steps: segment text, then FIN.
    fn process_text(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: SeqNum,
        flags: TcpFlags,
        payload: &[u8],
        tsecr: Option<u32>,
    ) {
        let receiving = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        if !payload.is_empty() && receiving {
            if self.released {
                // Nobody will ever read this: tell the peer (as Linux does for orphans).
                self.rst = Some((self.snd_max, None));
                self.fail(ctx, SocketError::NotConnected);
                return;
            }
            self.receive_data(ctx, seq, payload, tsecr);
        } else if !payload.is_empty() {
            // Text in CLOSE-WAIT and later is already past the peer's FIN: ignore, but ACK.
            self.ack_now = true;
        }

        if flags.contains(TcpFlags::FIN) {
            let fin = seq + payload.len();
            if fin == self.rcv_nxt {
                self.receive_fin(ctx);
            } else if fin > self.rcv_nxt && receiving {
                // Ahead of a gap: consumed once the gap fills.
                self.peer_fin = Some(fin);
                self.ack_now = true;
            }
        }
    }

    fn receive_data(&mut self, ctx: &mut Ctx<'_>, seq: SeqNum, payload: &[u8], tsecr: Option<u32>) {
        if let Some(tsecr) = tsecr.filter(|_| self.ts_ok) {
            self.on_rcv_echo(ctx.now, tsecr);
        }
        // Trim what lies before RCV.NXT (already received).
        let (seq, payload) = if seq < self.rcv_nxt {
            let skip = self.rcv_nxt - seq;
            if self.sack_ok {
                // RFC 2883: the part received before goes in a D-SACK block.
                self.sack_rx()
                    .on_duplicate(seq, seq + skip.min(payload.len()));
            }
            if skip >= payload.len() {
                self.ack_now = true;
                return;
            }
            (self.rcv_nxt, &payload[skip..])
        } else {
            (seq, payload)
        };
        let offset = seq - self.rcv_nxt;
        let had_gaps = self.recv_buf.has_gaps();
        let mut whole_dup = false;
        if self.sack_ok && had_gaps {
            // RFC 2883: data already held out of order is a duplicate too.
            let end = offset + payload.len();
            let dup = self
                .recv_buf
                .ranges()
                .iter()
                .find(|&&(s, e)| s < end && offset < e)
                .map(|&(s, e)| (s.max(offset), e.min(end)));
            if let Some((s, e)) = dup {
                let rcv_nxt = self.rcv_nxt;
                self.sack_rx().on_duplicate(rcv_nxt + s, rcv_nxt + e);
                self.ack_now = true;
                whole_dup = s == offset && e == end;
            }
        }
        match self.recv_buf.write_at(offset, payload) {
            Some(advanced) => {
                // A new out-of-order arrival: its block is reported first (RFC 2018 §4).
                if self.sack_ok && offset > 0 && !whole_dup {
                    let rcv_nxt = self.rcv_nxt;
                    self.sack_rx
                        .get_or_insert_with(Box::default)
                        .on_out_of_order(seq, rcv_nxt, self.recv_buf.ranges());
                }
                self.rcv_nxt += advanced;
                self.bytes_received += advanced as u64;
                if offset > 0 || had_gaps {
                    // Out of order, or filling a hole: ACK at once (RFC 5681 §4.2).
                    self.ack_now = true;
                } else {
                    self.unacked_segs += 1;
                    if self.unacked_segs >= 2 || payload.len() >= 2 * self.rcv_mss as usize {
                        self.ack_now = true;
                    } else if !self.timers.is_set(Timer::DelayedAck) {
                        self.timers
                            .set(Timer::DelayedAck, ctx.now + ctx.config.delayed_ack);
                    }
                }
            }
            None => self.ack_now = true,
        }
        if let Some(fin) = self.peer_fin
            && fin == self.rcv_nxt
        {
            self.peer_fin = None;
            self.receive_fin(ctx);
        }
    }

    /// The peer's FIN is next in sequence: consume it and ACK at once, so a teardown shows
    /// all four of its steps.
    fn receive_fin(&mut self, ctx: &mut Ctx<'_>) {
        if self.fin_received {
            self.ack_now = true;
            return;
        }
        self.fin_received = true;
        self.rcv_nxt += 1;
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.set_state(ctx, State::CloseWait),
            State::FinWait1 => {
                let fin_acked = self.fin_seq.is_some_and(|f| self.snd_una > f);
                if fin_acked {
                    self.time_wait(ctx);
                } else {
                    self.set_state(ctx, State::Closing);
                }
            }
            State::FinWait2 => self.time_wait(ctx),
            State::TimeWait => self
                .timers
                .set(Timer::TimeWait, ctx.now + 2 * ctx.config.msl),
            _ => {}
        }
    }
}
