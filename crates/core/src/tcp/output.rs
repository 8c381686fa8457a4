//! Segment departure: what to send next, and the timers that make us send.

use super::congestion::{CongestionControl, initial_window};
use super::connection::{Connection, Ctx, window_shift};
use super::pacing;
use super::timers::Timer;
use super::{SeqNum, State};
use crate::stack::SocketError;
use crate::wire::tcp::{fill_checksum, fill_checksum_with};
use crate::wire::{MAX_SACK_BLOCKS, TcpFlags, TcpOptions, TcpRepr};

impl Connection {
    /// Writes the next segment (TCP header and payload, checksum filled) into `buf`, which
    /// holds the room left after the IP header. Returns its length, or `None` if nothing is
    /// due now.
    pub(crate) fn poll_transmit(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> Option<usize> {
        if let Some((seq, ack)) = self.rst.take() {
            return Some(self.emit_rst(ctx, buf, seq, ack));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.snd_nxt == self.iss => {
                return Some(self.emit_syn(ctx, buf));
            }
            State::SynSent | State::SynReceived => {}
            _ => {
                if self.sack_ok {
                    if let Some(n) = self.send_probe(ctx, buf) {
                        return Some(n);
                    }
                    if let Some(n) = self.retransmit_lost(ctx, buf) {
                        return Some(n);
                    }
                }
                if let Some(n) = self.retransmit_one(ctx, buf) {
                    return Some(n);
                }
                if let Some(n) = self.send_data(ctx, buf, false) {
                    return Some(n);
                }
                if self.keepalive_due {
                    // Keep-alive probe (RFC 9293 §3.8.4): SEG.SEQ = SND.NXT-1 and no data.
                    // The peer finds it outside its window and must answer with an ACK;
                    // every current stack does, so the one garbage byte that very old
                    // receivers needed is not sent (nothing then enters the send buffer).
                    self.keepalive_due = false;
                    return Some(
                        self.emit(
                            ctx,
                            buf,
                            SeqNum(self.snd_max.0.wrapping_sub(1)),
                            TcpFlags::ACK,
                            0,
                        )
                        .0,
                    );
                }
                if self.probe {
                    // Zero-window probe: an old sequence number, so the peer must answer with
                    // its current window (as Linux does); nothing is added to the flight.
                    self.probe = false;
                    return Some(
                        self.emit(
                            ctx,
                            buf,
                            SeqNum(self.snd_una.0.wrapping_sub(1)),
                            TcpFlags::ACK,
                            0,
                        )
                        .0,
                    );
                }
            }
        }
        if self.ack_now && self.state != State::SynSent {
            // SEQ=SND.NXT in the RFC's sense: the highest sent, not our rewound position, or
            // after an RTO both ends' ACKs could fall below the other's RCV.NXT and be dropped.
            return Some(self.emit(ctx, buf, self.snd_max, TcpFlags::ACK, 0).0);
        }
        None
    }

    /// Whether `poll_transmit` may write a segment now: `false` only when it surely returns
    /// `None` and changes nothing (its every branch that sends or arms a timer needs one of
    /// these). The stack skips polling a socket for which this is `false`: after each segment
    /// sent, most connections have nothing more, and an empty poll walks every branch.
    pub(crate) fn may_transmit(&self) -> bool {
        self.rst.is_some()
            || self.ack_now
            || self.keepalive_due
            || self.probe
            || self.tlp_due
            || self.rexmit.is_some()
            || (self.sack_ok && self.board.any_lost())
            // Unsent data (which may also arm the persist or pacing timer), or an unsent FIN.
            // Data queued in SYN-SENT waits for the ACK that completes the handshake.
            || (self.data_end() > self.snd_nxt && self.state != State::SynSent)
            || self.fin_seq.is_some_and(|f| self.snd_nxt <= f)
            // A SYN or SYN-ACK not yet sent (`snd_nxt` is then still the ISS).
            || self.snd_nxt == self.iss
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first sent or retransmitted.
    fn emit_syn(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> usize {
        let c = ctx.config;
        let passive = self.state == State::SynReceived;
        let mut options = TcpOptions {
            // MUST-14, SHLD-5: always announce our MSS.
            mss: Some(u16::try_from(self.rcv_mss).unwrap_or(u16::MAX)),
            ..TcpOptions::default()
        };
        if if passive { self.ws_ok } else { c.window_scale } {
            options.window_scale = Some(window_shift(c.recv_buffer_limit()));
        }
        options.sack_permitted = if passive { self.sack_ok } else { c.sack };
        if if passive { self.ts_ok } else { c.timestamps } {
            options.timestamps = Some((
                self.ts_now(ctx.now),
                if passive { self.ts_recent } else { 0 },
            ));
        }
        let window = self.recv_buf.window().min(0xffff) as u16;
        let flags = if passive {
            TcpFlags::SYN | TcpFlags::ACK
        } else {
            TcpFlags::SYN
        };
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: self.iss.0,
            ack: if passive { self.rcv_nxt.0 } else { 0 },
            flags,
            window,
            urgent: 0,
            options,
        };
        let len = repr.emit_header(buf);
        fill_checksum(&mut buf[..len], self.local.ip(), self.remote.ip());
        if passive {
            self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + usize::from(window));
            self.after_ack_sent();
        }
        if self.snd_max == self.iss {
            self.set_rtt_sample(Some((self.iss + 1, ctx.now)));
        } else {
            self.count_retransmission(ctx, self.iss, self.iss);
        }
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        self.arm_rto(ctx.now);
        ctx.counters.segments_out += 1;
        len
    }

    /// One segment from `self.rexmit` (fast retransmit or a NewReno partial ACK).
    fn retransmit_one(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> Option<usize> {
        let seq = self.rexmit.take()?;
        if seq < self.snd_una || seq >= self.snd_max {
            return None;
        }
        let data_end = self.data_end();
        let len = if data_end > seq {
            (data_end - seq).min(self.effective_mss())
        } else {
            0
        };
        let mut flags = TcpFlags::ACK;
        if self
            .fin_seq
            .is_some_and(|f| seq + len == f && f < self.snd_max)
        {
            flags |= TcpFlags::FIN;
        }
        if len == 0 && !flags.contains(TcpFlags::FIN) {
            return None;
        }
        let (n, sent) = self.emit(ctx, buf, seq, flags, len);
        let end = seq + sent + usize::from(flags.contains(TcpFlags::FIN) && sent == len);
        self.count_retransmission(ctx, seq, end);
        self.set_rtt_sample(None);
        self.arm_rto(ctx.now);
        Some(n)
    }

    /// With SACK: the first segment the scoreboard deems lost, if the congestion window
    /// has room beside the pipe (RFC 6675 §5 step (C), NextSeg rule 1).
    fn retransmit_lost(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> Option<usize> {
        if !self.state.is_synchronized() {
            return None;
        }
        let (start, end) = self.board.first_lost()?;
        let len = (end - start).min(self.effective_mss());
        if !self.force_rexmit && self.board.pipe() + len > self.cc.cwnd() {
            return None;
        }
        // The first retransmission of an episode goes at once; the rest are paced.
        if !self.force_rexmit && self.pacing_holds(ctx) {
            return None;
        }
        self.force_rexmit = false;
        let n = self.resend(ctx, buf, start, end)?;
        self.paced_sent(ctx, len);
        Some(n)
    }

    /// Whether data is paced now: when configured, and once the window is past the RFC 6928
    /// initial window, a burst every TCP may send anyway (small windows gain nothing from
    /// spreading, and stay exactly ACK-clocked).
    fn pacing_now(&self) -> bool {
        self.paced && self.cc.cwnd() > initial_window(self.effective_mss())
    }

    /// Whether the pacer holds the next data segment back; if so, its timer is armed for
    /// the time it may leave (only now, when the windows would let it go).
    fn pacing_holds(&mut self, ctx: &Ctx<'_>) -> bool {
        if !self.pacing_now() {
            return false;
        }
        match self.pacer.wait_until(ctx.now) {
            Some(at) => {
                self.timers.set(Timer::Pacing, at);
                true
            }
            None => false,
        }
    }

    /// A paced segment of `bytes` left: the next may leave one gap at the pacing rate later
    /// (cwnd/srtt doubled while below half of ssthresh, else times 1.2, as Linux does).
    fn paced_sent(&mut self, ctx: &Ctx<'_>, bytes: usize) {
        if !self.pacing_now() {
            return;
        }
        let cwnd = self.cc.cwnd();
        let ratio = if cwnd < self.cc.ssthresh() / 2 {
            pacing::SLOW_START_RATIO
        } else {
            pacing::AVOIDANCE_RATIO
        };
        let gap = pacing::gap(bytes, cwnd, self.rtt.srtt(), ratio);
        self.pacer.on_sent(ctx.now, gap);
    }

    /// Sends `[start, end)` (or its first MSS) again, with the FIN if it ends there.
    fn resend(
        &mut self,
        ctx: &mut Ctx<'_>,
        buf: &mut [u8],
        start: SeqNum,
        end: SeqNum,
    ) -> Option<usize> {
        let data_end = self.data_end();
        let data = if data_end > start {
            (data_end.min(end) - start).min(self.effective_mss())
        } else {
            0
        };
        let mut flags = TcpFlags::ACK;
        if self
            .fin_seq
            .is_some_and(|f| start + data == f && f < end && f < self.snd_max)
        {
            flags |= TcpFlags::FIN;
        }
        if data == 0 && !flags.contains(TcpFlags::FIN) {
            // Nothing of it is held any more: the scoreboard is stale; forget the mark.
            self.board.on_sent(start, end, ctx.now);
            return None;
        }
        let (n, sent) = self.emit(ctx, buf, start, flags, data);
        let fin = flags.contains(TcpFlags::FIN) && sent == data;
        let sent_end = start + sent + usize::from(fin);
        self.board.on_sent(start, sent_end, ctx.now);
        self.count_retransmission(ctx, start, sent_end);
        self.set_rtt_sample(None);
        self.arm_rto(ctx.now);
        Some(n)
    }

    /// The probe timer fired (RFC 8985 §7.3): new data if the peer's window allows, else
    /// the last segment again; then only the RTO runs until the probe is answered.
    fn send_probe(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> Option<usize> {
        if !self.tlp_due {
            return None;
        }
        self.tlp_due = false;
        let before = self.snd_max;
        let n = match self.send_data(ctx, buf, true) {
            Some(n) => Some(n),
            None => {
                let (start, end) = self.board.last()?;
                let mss = self.effective_mss();
                // The highest segment's worth of it.
                let start = start + (end - start).saturating_sub(mss);
                self.resend(ctx, buf, start, end)
            }
        }?;
        self.tlp = Some((self.snd_max, self.snd_max == before));
        self.stats.get_or_insert_with(Box::default).tlp_probes += 1;
        self.timers.stop(Timer::Tlp);
        self.restart_rto(ctx.now);
        Some(n)
    }

    /// New (or, after an RTO, resent) data and the FIN, within the windows and the rules of
    /// Nagle (SHLD-7) and sender silly-window avoidance (MUST-38).
    /// A loss probe (`probe`) ignores the congestion window and Nagle (RFC 8985 §7.3).
    fn send_data(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8], probe: bool) -> Option<usize> {
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) {
            return None;
        }
        let mss = self.effective_mss();
        let data_end = self.data_end();
        let avail = if data_end > self.snd_nxt {
            data_end - self.snd_nxt
        } else {
            0
        };
        let peer_end = self.peer_window_end();
        let peer_room = if peer_end > self.snd_nxt {
            peer_end - self.snd_nxt
        } else {
            0
        };
        let cwnd = self.cc.cwnd();
        let cwnd_room = if probe {
            usize::MAX
        } else if self.sack_ok {
            // RFC 6675 §5: what the pipe leaves of the window.
            cwnd.saturating_sub(self.board.pipe())
        } else {
            // What the duplicate ACKs say has left the network no longer counts in flight.
            let cwnd_end = self.snd_una + cwnd + self.reno_sacked.saturating_mul(mss);
            if cwnd_end > self.snd_nxt {
                cwnd_end - self.snd_nxt
            } else {
                0
            }
        };
        let usable = peer_room.min(cwnd_room);
        let fin_pending = self.fin_seq.is_some_and(|f| self.snd_nxt <= f);
        let in_flight = self.snd_nxt > self.snd_una;

        let mut len = avail.min(usable).min(mss);
        if len > 0 && len < mss {
            let last_of_data = len == avail;
            let may_send = probe
                || (last_of_data && (self.nodelay || !in_flight || fin_pending))
                || (self.max_snd_wnd > 0 && len >= self.max_snd_wnd / 2);
            if !may_send {
                len = 0;
            }
        }
        let with_fin = fin_pending && self.fin_seq == Some(self.snd_nxt + len);
        if len == 0 && !with_fin {
            if probe {
                return None;
            }
            if avail > 0
                && !in_flight
                && self.snd_wnd < mss.min(avail)
                && !self.timers.is_set(Timer::Persist)
            {
                // The peer's window keeps us from sending: probe it later (§3.8.6.1).
                let backoff = 1u32 << self.persist_backoffs.min(10);
                self.timers
                    .set(Timer::Persist, ctx.now + self.rto_duration() * backoff);
            }
            return None;
        }
        if !probe && self.pacing_holds(ctx) {
            return None;
        }
        let mut flags = TcpFlags::ACK;
        if len > 0 && self.snd_nxt + len == data_end {
            // MUST-61: PSH on the segment that empties the buffer.
            flags |= TcpFlags::PSH;
        }
        if with_fin {
            flags |= TcpFlags::FIN;
        }
        let seq = self.snd_nxt;
        let (n, sent) = self.emit(ctx, buf, seq, flags, len);
        if !probe {
            self.paced_sent(ctx, sent);
        }
        // Options may have left less room than planned: a FIN rides only on the last byte.
        if sent < len {
            flags = TcpFlags(flags.0 & !TcpFlags::FIN.0);
        }
        let end = seq + sent + usize::from(flags.contains(TcpFlags::FIN));
        if self.sack_ok {
            self.board.on_sent(seq, end, ctx.now);
        }
        if seq < self.snd_max {
            self.count_retransmission(ctx, seq, end.min(self.snd_max));
        } else if self.rtt_sample().is_none() {
            self.set_rtt_sample(Some((end, ctx.now)));
        }
        if end > self.snd_max {
            self.bytes_sent += (end - self.snd_max) as u64;
        }
        self.snd_nxt = end;
        let new_data = end > self.snd_max;
        self.snd_max = self.snd_max.max(end);
        self.arm_rto(ctx.now);
        if new_data && !probe && self.sack_ok {
            // RFC 8985 §7.2: new data (re)starts the probe timer.
            self.arm_tlp(ctx);
        }
        Some(n)
    }

    /// Writes one segment at `seq` carrying up to `max_payload` bytes from the send buffer.
    /// Returns (segment length, payload bytes).
    fn emit(
        &mut self,
        ctx: &mut Ctx<'_>,
        buf: &mut [u8],
        seq: SeqNum,
        flags: TcpFlags,
        max_payload: usize,
    ) -> (usize, usize) {
        // Built in place, the options after the fixed fields: not assembled and then moved.
        let mut repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: if flags.contains(TcpFlags::ACK) {
                self.rcv_nxt.0
            } else {
                0
            },
            flags,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let options = &mut repr.options;
        if self.ts_ok {
            options.timestamps = Some((self.ts_now(ctx.now), self.ts_recent));
        }
        if self.sack_ok
            && (self.recv_buf.has_gaps() || self.sack_rx.as_ref().is_some_and(|r| r.has_dsack()))
        {
            // RFC 2018 §4: with timestamps, three blocks fit; the newest first, a D-SACK
            // before all (RFC 2883).
            let room = if self.ts_ok { 3 } else { MAX_SACK_BLOCKS };
            let rcv_nxt = self.rcv_nxt;
            let sack_rx = self.sack_rx.get_or_insert_with(Box::default);
            let blocks = sack_rx.blocks(rcv_nxt, self.recv_buf.ranges(), room);
            for (slot, b) in options.sack.iter_mut().zip(&blocks) {
                *slot = (b.0.0, b.1.0);
            }
            options.sack_len = blocks.len().min(MAX_SACK_BLOCKS) as u8;
        }
        repr.window = self.advertise_window();
        let (header, header_sum) = repr.emit_header_summed(buf);
        let payload = max_payload.min(buf.len() - header);
        // The payload's sum is taken as it is copied, the header's as it is written: the
        // checksum reads nothing back. A segment without data (SYN, probe, ACK) may sit
        // before the buffer's first byte.
        let payload_sum = if payload > 0 {
            self.send_buf
                .copy_out_sum(seq - self.buf_seq, &mut buf[header..header + payload])
        } else {
            0
        };
        let len = header + payload;
        fill_checksum_with(
            &mut buf[..len],
            header_sum + payload_sum,
            self.local.ip(),
            self.remote.ip(),
        );
        if flags.contains(TcpFlags::ACK) {
            self.after_ack_sent();
        }
        ctx.counters.segments_out += 1;
        (len, payload)
    }

    fn emit_rst(
        &mut self,
        ctx: &mut Ctx<'_>,
        buf: &mut [u8],
        seq: SeqNum,
        ack: Option<SeqNum>,
    ) -> usize {
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq: seq.0,
            ack: ack.map_or(0, |a| a.0),
            flags: if ack.is_some() {
                TcpFlags::RST | TcpFlags::ACK
            } else {
                TcpFlags::RST
            },
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        };
        let len = repr.emit_header(buf);
        fill_checksum(&mut buf[..len], self.local.ip(), self.remote.ip());
        ctx.counters.segments_out += 1;
        ctx.counters.resets_sent += 1;
        len
    }

    /// The window to put in a segment, with receiver silly-window avoidance (MUST-39): the
    /// right edge moves only by at least min(half the buffer, one MSS), and never left
    /// (SHLD-14, RFC 7323 §2.4). Out-of-order data takes no room from the window.
    ///
    /// While a hole is open the right edge stays where it is: the ACKs reporting the hole
    /// are then exact duplicates, which a sender without SACK counts only if the window is
    /// unchanged (RFC 5681 §2). The ACK that fills the hole opens the window.
    fn advertise_window(&mut self) -> u16 {
        let room = self.recv_buf.window();
        let current = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let threshold = (self.recv_buf.capacity() / 2).min(self.rcv_mss as usize);
        let window = if self.window_frozen() {
            current
        } else if room > current && room - current >= threshold {
            room
        } else {
            current
        };
        let scaled = (window >> self.rcv_shift).min(0xffff);
        let edge = self.rcv_nxt + (scaled << self.rcv_shift);
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        scaled as u16
    }

    /// An ACK went out: nothing is owed any more.
    fn after_ack_sent(&mut self) {
        self.last_ack_sent = self.rcv_nxt;
        self.ack_now = false;
        self.unacked_segs = 0;
        self.timers.stop(Timer::DelayedAck);
    }

    /// `[start, end)` was sent again (a SYN when the range is empty).
    fn count_retransmission(&mut self, ctx: &mut Ctx<'_>, start: SeqNum, end: SeqNum) {
        self.stats.get_or_insert_with(Box::default).retransmitted += 1;
        ctx.counters.retransmitted_segments += 1;
        self.rexmit_since.get_or_insert(ctx.now);
        if end > start {
            self.stats
                .get_or_insert_with(Box::default)
                .retransmitted_bytes += (end - start) as u64;
            let tsval = self.ts_ok.then(|| self.ts_now(ctx.now));
            self.on_retransmitted(start, end, tsval);
        }
    }

    /// Runs every timer due at `now`.
    pub(crate) fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(timer) = self.timers.take_expired(ctx.now) {
            match timer {
                Timer::Retransmit => self.on_rto(ctx),
                Timer::Persist => {
                    self.probe = true;
                    self.persist_backoffs += 1;
                }
                Timer::DelayedAck => self.ack_now = true,
                Timer::TimeWait | Timer::FinWait2 => self.set_state(ctx, State::Closed),
                Timer::Reorder => self.detect_losses(ctx),
                Timer::Keepalive => self.on_keepalive_timer(ctx),
                // The held segment may go: the stack polls us for it after every timeout.
                Timer::Pacing => {}
                Timer::Tlp => {
                    // Still nothing heard and nothing else recovering: probe.
                    if self.tlp.is_none() && !self.in_recovery() && !self.board.any_sacked() {
                        self.tlp_due = true;
                    }
                }
            }
        }
    }

    /// The retransmission timer expired (RFC 6298 §5.4-5.7): back off, collapse the window,
    /// and go back to SND.UNA.
    fn on_rto(&mut self, ctx: &mut Ctx<'_>) {
        if self.snd_una == self.snd_max {
            return;
        }
        let since = self.rexmit_since.get_or_insert(ctx.now);
        let limit = if self.state.is_synchronized() {
            ctx.config.data_timeout
        } else {
            ctx.config.syn_timeout
        };
        if ctx.now - since >= limit {
            // R2 reached (MUST-20): give up and tell the application.
            let error = self.soft_error.unwrap_or(SocketError::TimedOut);
            self.fail(ctx, error);
            return;
        }
        self.stats.get_or_insert_with(Box::default).rto_expirations += 1;
        if self.state.is_synchronized() && self.rtt.backoffs() == 0 {
            // A first timeout starts an episode (a repeated one belongs to it), which
            // timestamps may show spurious (RFC 3522).
            self.start_episode();
        }
        self.cc
            .on_timeout(self.snd_max - self.snd_una, self.effective_mss());
        self.rtt.back_off();
        // Karn (MUST-18): nothing retransmitted is timed.
        self.set_rtt_sample(None);
        self.recover = None;
        self.rto_high = Some(self.snd_max);
        self.rexmit = None;
        self.dupacks = 0;
        self.reno_sacked = 0;
        self.tlp = None;
        self.tlp_due = false;
        self.timers.stop(Timer::Tlp);
        self.timers.stop(Timer::Reorder);
        if self.sack_ok && self.state.is_synchronized() {
            // RFC 6675 §5.1: resend everything not SACKed, lowest first, from the scoreboard.
            // A second timeout in a row may mean the peer dropped what it SACKed (RFC 2018 §8).
            if self.rtt.backoffs() > 1 {
                self.board.clear_sacked();
            }
            self.board.mark_all_lost();
            self.rto_recover = Some(self.snd_max);
            self.force_rexmit = true;
        } else {
            self.snd_nxt = self.snd_una;
        }
        self.restart_rto(ctx.now);
    }
}
