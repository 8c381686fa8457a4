//! A connection's Transmission Control Block (RFC 9293 §3.3.1) and the calls the application
//! makes on it. Segment arrival is in `input.rs`, segment departure in `output.rs`.

use core::time::Duration;
use std::collections::VecDeque;
use std::net::SocketAddr;

use super::congestion::{CongestionControl, Controller, initial_window};
use super::pacing::Pacer;
use super::rack::Rack;
use super::recovery::Undo;
use super::recv_buf::RecvBuffer;
use super::rtt::RttEstimator;
use super::sack::SackReceiver;
use super::scoreboard::Scoreboard;
use super::send_buf::SendBuffer;
use super::spares::Spares;
use super::timers::{Timer, Timers};
use super::{Keepalive, SeqNum, State, TcpConfig};
use crate::stack::IcmpError;
use crate::stack::{ConnectionInfo, Counters, Event, Readiness, SocketError, SocketHandle};
use crate::time::{Instant, OptDuration, OptInstant};
use crate::wire::TcpOptions;

/// What a connection needs from its stack for one call: the time, the settings, and where to
/// count and report.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub config: &'a TcpConfig,
    pub counters: &'a mut Counters,
    pub events: Option<&'a mut VecDeque<Event>>,
    /// Storage finished connections left, for new ones.
    pub spares: &'a mut Spares,
}

/// Identity of a new connection, chosen by the stack.
pub(crate) struct Endpoints {
    pub handle: SocketHandle,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Initial send sequence number (RFC 6528).
    pub iss: SeqNum,
    /// Offset added to our timestamp clock, so TSval reveals no uptime (RFC 7323 §5.4).
    pub ts_offset: u32,
    /// Largest segment the link lets us receive: MTU less the IP and TCP headers.
    pub link_mss: usize,
}

/// Counts of what loss recovery did, for `ConnectionInfo`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LossStats {
    pub(super) retransmitted: u64,
    pub(super) retransmitted_bytes: u64,
    pub(super) spurious_retransmissions: u64,
    pub(super) undone_recoveries: u64,
    pub(super) rto_expirations: u64,
    pub(super) fast_recoveries: u64,
    pub(super) tlp_probes: u64,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Connection {
    pub(super) handle: SocketHandle,
    pub(super) state: State,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    /// SYN-RECEIVED was entered from LISTEN rather than SYN-SENT (MUST-11): a RST then
    /// returns the slot to the listener instead of failing an OPEN.
    pub(super) passive: bool,

    // Send sequence space (RFC 9293 §3.3.1).
    pub(super) iss: SeqNum,
    pub(super) snd_una: SeqNum,
    /// Next sequence number to send; rewound to SND.UNA when the RTO fires.
    pub(super) snd_nxt: SeqNum,
    /// Highest sequence number sent: the RFC's SND.NXT for acceptability checks.
    pub(super) snd_max: SeqNum,
    /// Peer's window in bytes, scaled.
    pub(super) snd_wnd: usize,
    pub(super) snd_wl1: SeqNum,
    pub(super) snd_wl2: SeqNum,
    pub(super) max_snd_wnd: usize,
    /// Sequence number of the first byte in the send buffer.
    pub(super) buf_seq: SeqNum,
    /// Sequence number of our FIN, once the application shut down its side.
    pub(super) fin_seq: Option<SeqNum>,

    // Receive sequence space.
    pub(super) irs: SeqNum,
    pub(super) rcv_nxt: SeqNum,
    /// Right edge of the window we last advertised; never moved left (SHLD-14).
    pub(super) rcv_adv: SeqNum,
    /// The peer's FIN arrived ahead of a gap, at this sequence number.
    pub(super) peer_fin: Option<SeqNum>,
    /// The peer's FIN was consumed: end of stream after the buffered data.
    pub(super) fin_received: bool,

    // Negotiated in the handshake.
    /// Our MSS (what we announce).
    pub(super) rcv_mss: u32,
    /// Peer's MSS: the most payload plus options we put in one segment (MUST-16).
    pub(super) snd_mss: u32,
    /// Shift applied to windows the peer sends.
    pub(super) snd_shift: u8,
    /// Shift applied to windows we send.
    pub(super) rcv_shift: u8,
    /// Window scaling was negotiated (both shifts may still be zero).
    pub(super) ws_ok: bool,
    pub(super) sack_ok: bool,
    pub(super) ts_ok: bool,
    /// The peer's timestamp to echo (RFC 7323 §4.3, TS.Recent).
    pub(super) ts_recent: u32,
    /// When TS.Recent was last set: after 24 days idle it no longer guards PAWS (§5.5).
    pub(super) ts_recent_at: Instant,
    /// RCV.NXT as carried by the last ACK we sent (Last.ACK.sent, RFC 7323 §4.3).
    pub(super) last_ack_sent: SeqNum,
    pub(super) ts_offset: u32,

    pub(super) send_buf: SendBuffer,
    pub(super) recv_buf: RecvBuffer,
    /// The application offered more than the send buffer took since the last ACK: the
    /// buffer, not the application, limits the sender, so it may grow.
    pub(super) send_buf_limited: bool,
    /// Receive-buffer right-sizing (Linux's DRS): bytes the application read since
    /// `drs_start`, and the most it read in one round trip so far.
    pub(super) drs_copied: u32,
    pub(super) drs_space: u32,
    pub(super) drs_start: OptInstant,
    /// The receiver's view of the round trip, from the echo in arriving data (RFC 7323
    /// §4.1 run in reverse, as Linux's rcv_rtt).
    pub(super) rcv_rtt: OptDuration,

    pub(super) timers: Timers,
    pub(super) rtt: RttEstimator,
    /// A segment being timed for an RTT sample: its end sequence and when it was sent (none:
    /// nothing timed), read through `rtt_sample`. Karn's rule (MUST-18): cleared when
    /// anything is retransmitted.
    rtt_timed: (SeqNum, OptInstant),
    /// Held inline (see `Controller`): no allocation per connection, no dynamic dispatch.
    pub(super) cc: Controller,
    pub(super) dupacks: u32,
    /// Without SACK: segments the duplicate ACKs say have left the network (each one is a
    /// segment received above a hole), as Linux's SACK emulation for Reno. They make room in
    /// the window: RFC 3042's limited transmit before recovery, RFC 6582's inflation in it.
    pub(super) reno_sacked: usize,
    /// NewReno recovery point (RFC 6582), while in fast recovery.
    pub(super) recover: Option<SeqNum>,
    /// Without SACK: SND.MAX when the last timeout struck. Duplicate ACKs below it may be
    /// answers to the go-back-N resends, so they start no fast retransmit (RFC 6582 §3.2
    /// step 1, the careful variant).
    pub(super) rto_high: Option<SeqNum>,
    /// Retransmit one segment starting here before anything else.
    pub(super) rexmit: Option<SeqNum>,
    /// When the current run of retransmissions began (for R2, MUST-20).
    pub(super) rexmit_since: OptInstant,
    /// Send a zero-window probe.
    pub(super) probe: bool,
    /// Zero-window probes sent since the window last opened: the persist backoff exponent.
    pub(super) persist_backoffs: u32,

    /// An ACK is owed and must go now.
    pub(super) ack_now: bool,
    /// Full segments received since our last ACK (SHLD-19: ACK every second one).
    pub(super) unacked_segs: u32,
    /// A RST to send: (SEQ, ACK if any).
    pub(super) rst: Option<(SeqNum, Option<SeqNum>)>,

    pub(super) nodelay: bool,
    /// Keep-alive settings, if on (RFC 9293 §3.8.4).
    /// Boxed: off by default (MUST-25), and 40 bytes in every connection otherwise.
    pub(super) keepalive: Option<Box<Keepalive>>,
    /// Keep-alive probes sent since the peer was last heard from.
    pub(super) keepalive_sent: u32,
    /// Send a keep-alive probe.
    pub(super) keepalive_due: bool,
    pub(super) error: Option<SocketError>,
    /// A soft ICMP error, reported if the connection later times out.
    pub(super) soft_error: Option<SocketError>,
    /// The application released its handle: nobody will read or write any more.
    pub(super) released: bool,
    pub(super) ever_established: bool,

    /// Which out-of-order blocks to report first, and a pending D-SACK (RFC 2018, 2883).
    /// Boxed, and made on the first out-of-order or duplicate arrival: a connection that
    /// never sees one never needs it.
    pub(super) sack_rx: Option<Box<SackReceiver>>,
    /// What the peer SACKed and what is lost, when SACK is in use (RFC 6675).
    pub(super) board: Scoreboard,
    /// RACK's loss detection state (RFC 8985).
    pub(super) rack: Rack,
    /// RTO recovery (SACK): until SND.UNA reaches this, lost segments are resent without a
    /// new fast recovery.
    pub(super) rto_recover: Option<SeqNum>,
    /// The first retransmission of a fast recovery goes out whatever the pipe (RFC 6675 §5).
    pub(super) force_rexmit: bool,
    /// The probe timer fired: send a tail loss probe (RFC 8985 §7.3).
    pub(super) tlp_due: bool,
    /// The unanswered loss probe: (SND.MAX after it, whether it was a retransmission).
    pub(super) tlp: Option<(SeqNum, bool)>,
    /// The last loss episode, until shown needed or spurious (RFC 3708, RFC 3522).
    /// Boxed: only a loss episode has one, and most connections never lose a segment.
    pub(super) undo: Option<Box<Undo>>,
    /// Data segments are paced (`TcpConfig::pacing`).
    pub(super) paced: bool,
    /// When the next paced segment may leave.
    pub(super) pacer: Pacer,

    pub(super) bytes_sent: u64,
    pub(super) bytes_received: u64,
    /// What loss recovery did, boxed and made on its first count: most connections never
    /// retransmit anything.
    pub(super) stats: Option<Box<LossStats>>,
}

impl Connection {
    /// A connection in `state` with nothing negotiated yet, for `connect` or `accept_syn` to
    /// start where it will live (close to a kilobyte: better made in place than moved).
    pub(crate) fn blank(ctx: &mut Ctx<'_>, ep: Endpoints, state: State) -> Connection {
        let c = ctx.config;
        Connection {
            handle: ep.handle,
            state,
            local: ep.local,
            remote: ep.remote,
            passive: false,
            iss: ep.iss,
            snd_una: ep.iss,
            snd_nxt: ep.iss,
            snd_max: ep.iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            max_snd_wnd: 0,
            buf_seq: ep.iss + 1,
            fin_seq: None,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            peer_fin: None,
            fin_received: false,
            rcv_mss: narrow(ep.link_mss),
            snd_mss: narrow(default_mss(ep.remote).min(ep.link_mss)),
            snd_shift: 0,
            rcv_shift: 0,
            ws_ok: false,
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_at: ctx.now,
            last_ack_sent: SeqNum(0),
            ts_offset: ep.ts_offset,
            send_buf: SendBuffer::with_ring(c.send_buffer, ctx.spares.ring()),
            recv_buf: RecvBuffer::with_ring(c.recv_buffer, ctx.spares.ring()),
            send_buf_limited: false,
            drs_copied: 0,
            drs_space: 0,
            drs_start: OptInstant::NONE,
            rcv_rtt: OptDuration::NONE,
            timers: Timers::default(),
            rtt: RttEstimator::new(c.initial_rto, c.min_rto, c.max_rto),
            rtt_timed: (SeqNum(0), OptInstant::NONE),
            // Built for the MSS the handshake most likely settles on (the link's, less the
            // timestamp option), so that `take_syn` usually keeps it rather than build another.
            cc: c.congestion.controller(
                ep.link_mss
                    .saturating_sub(if c.timestamps { 12 } else { 0 })
                    .max(1),
                c.pacing,
                c.hystart_ack_train,
            ),
            dupacks: 0,
            reno_sacked: 0,
            recover: None,
            rto_high: None,
            rexmit: None,
            rexmit_since: OptInstant::NONE,
            probe: false,
            persist_backoffs: 0,
            ack_now: false,
            unacked_segs: 0,
            rst: None,
            nodelay: c.nodelay,
            keepalive: c.keepalive.map(Box::new),
            keepalive_sent: 0,
            keepalive_due: false,
            error: None,
            soft_error: None,
            released: false,
            ever_established: false,
            sack_rx: None,
            board: Scoreboard::with_storage(ctx.spares.board()),
            rack: Rack::new(ep.iss),
            rto_recover: None,
            force_rexmit: false,
            tlp_due: false,
            tlp: None,
            undo: None,
            paced: c.pacing,
            pacer: Pacer::default(),
            bytes_sent: 0,
            bytes_received: 0,
            stats: None,
        }
    }

    /// Active OPEN (RFC 9293 §3.10.1) of a `blank` connection made in CLOSED: enters
    /// SYN-SENT; the SYN goes out on the next poll.
    pub(crate) fn connect(&mut self, ctx: &mut Ctx<'_>) {
        debug_assert_eq!(self.state, State::Closed);
        self.set_state(ctx, State::SynSent);
    }

    /// A SYN reached a listener (RFC 9293 §3.10.7.2), for a `blank` connection made in
    /// LISTEN: enters SYN-RECEIVED; the SYN-ACK goes out on the next poll.
    pub(crate) fn accept_syn(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg_seq: SeqNum,
        seg_window: u16,
        options: &TcpOptions,
    ) {
        debug_assert_eq!(self.state, State::Listen);
        self.passive = true;
        self.take_syn(ctx, seg_seq, options);
        // The window in a SYN is never scaled (RFC 7323 §2.2).
        self.snd_wnd = usize::from(seg_window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg_seq;
        self.snd_wl2 = self.snd_una;
        self.set_state(ctx, State::SynReceived);
    }

    /// The segment being timed for an RTT sample, if any: (its end sequence, when sent).
    pub(super) fn rtt_sample(&self) -> Option<(SeqNum, Instant)> {
        self.rtt_timed.1.get().map(|sent| (self.rtt_timed.0, sent))
    }

    /// Times a segment (or stops timing, with `None`).
    pub(super) fn set_rtt_sample(&mut self, sample: Option<(SeqNum, Instant)>) {
        self.rtt_timed = match sample {
            Some((end, sent)) => (end, Some(sent).into()),
            None => (SeqNum(0), OptInstant::NONE),
        };
    }

    /// The receiver's SACK memory, made on first use.
    pub(super) fn sack_rx(&mut self) -> &mut SackReceiver {
        self.sack_rx.get_or_insert_with(Box::default)
    }

    /// The right edge of the window the peer offered: relative to the acknowledgment that
    /// carried it (SND.WL2), not to SND.UNA, which an old segment's newer ACK can advance
    /// while RFC 9293's WL1/WL2 test rightly refuses its window.
    pub(super) fn peer_window_end(&self) -> SeqNum {
        self.snd_wl2 + self.snd_wnd
    }

    /// The send sequence space, for `Stack::check_invariants`.
    pub(crate) fn send_sequence(&self) -> crate::stack::SendSequence {
        crate::stack::SendSequence {
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            snd_max: self.snd_max,
            snd_wnd: self.snd_wnd,
            snd_wl2: self.snd_wl2,
        }
    }

    /// Records the peer's SYN: its sequence number and the options both sides then use.
    pub(super) fn take_syn(&mut self, ctx: &Ctx<'_>, seq: SeqNum, options: &TcpOptions) {
        let config = ctx.config;
        self.irs = seq;
        self.rcv_nxt = seq + 1;
        self.last_ack_sent = self.rcv_nxt;
        // What our SYN or SYN-ACK offers: never scaled (RFC 7323 §2.2).
        self.rcv_adv = self.rcv_nxt + self.recv_buf.window().min(0xffff);
        if let Some(mss) = options.mss {
            // MUST-14/15: the peer's MSS, or the default when it sent none.
            self.snd_mss = u32::from(mss).clamp(64, self.rcv_mss.max(64));
        }
        // Both sides must offer scaling; we offer it exactly when configured to.
        match options.window_scale {
            Some(shift) if config.window_scale => {
                self.ws_ok = true;
                self.snd_shift = shift.min(14);
                // Chosen for the largest the buffer may grow to (RFC 7323 §2.2: it is fixed
                // now for the life of the connection).
                self.rcv_shift = window_shift(config.recv_buffer_limit());
            }
            _ => {
                self.ws_ok = false;
                self.snd_shift = 0;
                self.rcv_shift = 0;
            }
        }
        self.sack_ok = config.sack && options.sack_permitted;
        if let (true, Some((tsval, _))) = (config.timestamps, options.timestamps) {
            self.ts_ok = true;
            self.ts_recent = tsval;
            self.ts_recent_at = ctx.now;
        }
        // A controller nothing has acted on yet (no timeout: ssthresh is still unset) differs
        // from a fresh one only by its initial window: keep it when that matches.
        let mss = self.effective_mss();
        let fresh = self.cc.ssthresh() == usize::MAX && self.cc.cwnd() == initial_window(mss);
        if !fresh {
            self.cc = config
                .congestion
                .controller(mss, config.pacing, config.hystart_ack_train);
        }
    }

    /// Moves to `to`, reporting the change; the one place state changes.
    pub(super) fn set_state(&mut self, ctx: &mut Ctx<'_>, to: State) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if to == State::Established {
            self.ever_established = true;
            self.keepalive_heard(ctx.now);
        }
        if matches!(to, State::TimeWait | State::Closed) {
            // Nothing more will be sent or arrive: an empty ring is memory for nothing (a ring
            // still holding unread data stays).
            ctx.spares.put_ring(self.send_buf.release());
            ctx.spares.put_ring(self.recv_buf.release());
        }
        if to == State::Closed {
            self.timers.stop_all();
            self.rexmit = None;
            ctx.spares.put_board(self.board.take_storage());
            self.tlp_due = false;
        }
        if let Some(events) = ctx.events.as_deref_mut() {
            events.push_back(Event::StateChanged {
                at: ctx.now,
                socket: self.handle,
                local: self.local,
                remote: self.remote,
                from,
                to,
            });
        }
    }

    /// Ends the connection with `error` for the application (MUST-12, MUST-47).
    pub(super) fn fail(&mut self, ctx: &mut Ctx<'_>, error: SocketError) {
        self.error = Some(error);
        self.set_state(ctx, State::Closed);
    }

    // ---- getters ----

    pub fn state(&self) -> State {
        self.state
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Payload bytes per full-sized segment: the peer's MSS less our option bytes (MUST-16).
    pub(super) fn effective_mss(&self) -> usize {
        let ts = if self.ts_ok { 12 } else { 0 };
        (self.snd_mss as usize).saturating_sub(ts).max(1)
    }

    /// Whether the slot can be reclaimed: closed, released, and nothing left to send.
    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Closed && self.released && self.rst.is_none()
    }

    pub(crate) fn readiness(&self) -> Readiness {
        let failed = self.error.is_some();
        let closed = self.state == State::Closed;
        Readiness {
            readable: failed || closed || self.recv_buf.readable() > 0 || self.fin_received,
            writable: failed
                || closed
                || (self.state.can_send() && self.fin_seq.is_none() && self.send_buf.free() > 0)
                || (self.state.is_synchronized()
                    && (!self.state.can_send() || self.fin_seq.is_some())),
            connected: self.ever_established,
        }
    }

    pub(crate) fn info(&self) -> ConnectionInfo {
        let stats = self.stats.as_deref().copied().unwrap_or_default();
        ConnectionInfo {
            state: self.state,
            local: self.local,
            remote: self.remote,
            send_mss: self.effective_mss(),
            window_scale: self.ws_ok.then_some((self.rcv_shift, self.snd_shift)),
            sack: self.sack_ok,
            timestamps: self.ts_ok,
            srtt: self.rtt.srtt(),
            rto: self.rtt.rto(),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            retransmitted_segments: stats.retransmitted,
            retransmitted_bytes: stats.retransmitted_bytes,
            spurious_retransmissions: stats.spurious_retransmissions,
            undone_recoveries: stats.undone_recoveries,
            rto_expirations: stats.rto_expirations,
            fast_recoveries: stats.fast_recoveries,
            tlp_probes: stats.tlp_probes,
            cwnd: self.cc.cwnd(),
            send_buffer: self.send_buf.capacity(),
            recv_buffer: self.recv_buf.capacity(),
        }
    }

    // ---- the application's calls (RFC 9293 §3.10) ----

    /// SEND: queues data (§3.10.2).
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<usize, SocketError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            // SYN-SENT and SYN-RECEIVED queue the data for after the handshake (§3.10.2): it
            // leaves with the ACK that completes it rather than in a segment of its own.
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if self.fin_seq.is_none() => {}
            _ => return Err(SocketError::NotConnected),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.send_buf.push(data);
        if n < data.len() {
            self.send_buf_limited = true;
        }
        match n {
            0 => Err(SocketError::WouldBlock),
            n => Ok(n),
        }
    }

    /// RECEIVE (§3.10.3). `Ok(0)`: end of stream.
    pub(crate) fn recv(&mut self, ctx: &Ctx<'_>, buf: &mut [u8]) -> Result<usize, SocketError> {
        if let Some(result) = self.recv_nothing(buf.len()) {
            return result;
        }
        let n = self.recv_buf.read(buf);
        debug_assert!(n > 0, "recv_nothing saw data to read");
        self.right_size_recv(ctx, n);
        self.maybe_window_update();
        Ok(n)
    }

    /// What `recv` into a buffer of `len` bytes answers when it would read nothing (an
    /// error, end of stream, or nothing yet), without changing anything; `None` when it
    /// would read data. The stack asks first, so that a read that would block (most of an
    /// application's polling) costs a few loads.
    pub(crate) fn recv_nothing(&self, len: usize) -> Option<Result<usize, SocketError>> {
        if let Some(e) = self.error {
            return Some(Err(e));
        }
        if len == 0 {
            return Some(Ok(0));
        }
        if self.recv_buf.readable() > 0 {
            return None;
        }
        Some(if self.fin_received {
            Ok(0)
        } else if self.state == State::Closed {
            Err(SocketError::NotConnected)
        } else {
            Err(SocketError::WouldBlock)
        })
    }

    /// Receive-buffer auto-tuning (as Linux's dynamic right-sizing): once per round trip,
    /// if the application read more than in any round before, the buffer grows to at least
    /// twice that, so a sender whose flight fills the window finds it doubled a round later.
    fn right_size_recv(&mut self, ctx: &Ctx<'_>, read: usize) {
        let max = ctx.config.recv_buffer_limit();
        let capacity = self.recv_buf.capacity();
        if capacity >= max {
            return;
        }
        self.drs_copied = self.drs_copied.saturating_add(narrow(read));
        let start = self.drs_start.get_or_insert(ctx.now);
        let rtt = self
            .rcv_rtt
            .get()
            .or(self.rtt.srtt())
            .unwrap_or(DRS_DEFAULT_RTT);
        if ctx.now - start < rtt {
            return;
        }
        if self.drs_copied > self.drs_space {
            self.drs_space = self.drs_copied;
            let copied = self.drs_copied as usize;
            if 2 * copied > capacity {
                // At least doubled, so the ring is copied only a few times on the way up.
                let target = (2 * copied).max(2 * capacity).min(max);
                self.recv_buf.grow(target);
            }
        }
        self.drs_copied = 0;
        self.drs_start = Some(ctx.now).into();
    }

    /// The send buffer follows the congestion window: when the application is held back by
    /// the buffer and twice the window would not fit, the buffer at least doubles (up to
    /// `send_buffer_max`), so a window's worth can wait behind the one in flight.
    pub(super) fn right_size_send(&mut self, ctx: &Ctx<'_>) {
        if !self.send_buf_limited {
            return;
        }
        self.send_buf_limited = false;
        let max = ctx.config.send_buffer_limit();
        let capacity = self.send_buf.capacity();
        let want = 2 * self.cc.cwnd();
        if capacity < max && want > capacity {
            self.send_buf.grow(want.max(2 * capacity).min(max));
        }
    }

    /// A data segment echoed our timestamp: how long since we sent it, as the receiver
    /// sees the round trip (for `right_size_recv`).
    pub(super) fn on_rcv_echo(&mut self, now: Instant, tsecr: u32) {
        // In whole nanoseconds, as `rcv_rtt` keeps it (this runs for every data segment):
        // `Duration`'s division floors to the nanosecond too, so the figures are the same.
        if let Some(ms) = self.ts_rtt_millis(now, tsecr) {
            let sample = ms * 1_000_000;
            self.rcv_rtt = OptDuration::from_nanos(match self.rcv_rtt.nanos() {
                None => sample,
                Some(r) => r - r / 8 + sample / 8,
            });
        }
    }

    /// Whether the advertised window is held where it is because a hole is open: only while
    /// the held out-of-order data all lies inside it, so the sender can always fill the
    /// holes (a window closed on them would deadlock).
    pub(super) fn window_frozen(&self) -> bool {
        let current = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        self.recv_buf
            .ranges()
            .last()
            .is_some_and(|&(_, end)| current > 0 && end <= current)
    }

    /// After the application read, tell the peer if the window grew a lot (Linux's rule: it
    /// would at least double, by at least one segment); small openings wait (MUST-39).
    fn maybe_window_update(&mut self) {
        // With a hole open the window stays put (`advertise_window`): an update now would
        // be a false duplicate ACK.
        if !self.state.is_synchronized() || self.fin_received || self.window_frozen() {
            return;
        }
        let advertised = if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let now_open = self.recv_buf.window();
        if now_open >= 2 * advertised && now_open - advertised >= self.rcv_mss as usize {
            self.ack_now = true;
        }
    }

    /// CLOSE of the sending side (§3.10.4): FIN after the queued data; reading goes on.
    pub(crate) fn shutdown(&mut self, ctx: &mut Ctx<'_>) -> Result<(), SocketError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            // "Delete the TCB": nothing was ever synchronized.
            State::SynSent | State::Listen | State::Closed => {
                self.error = Some(SocketError::NotConnected);
                self.set_state(ctx, State::Closed);
            }
            State::SynReceived if self.fin_seq.is_none() => {
                self.fin_seq = Some(self.buf_seq + self.send_buf.len());
            }
            State::Established => {
                self.fin_seq = Some(self.buf_seq + self.send_buf.len());
                self.set_state(ctx, State::FinWait1);
            }
            State::CloseWait => {
                self.fin_seq = Some(self.buf_seq + self.send_buf.len());
                self.set_state(ctx, State::LastAck);
            }
            // Already closing: a second CLOSE changes nothing.
            _ => {}
        }
        Ok(())
    }

    /// The application lets go of the connection. Unread data means the peer's data would be
    /// lost silently, so reset instead (SHLD-3); otherwise close gracefully.
    pub(crate) fn release(&mut self, ctx: &mut Ctx<'_>) {
        self.released = true;
        if self.recv_buf.readable() > 0
            && self.state.is_synchronized()
            && self.state != State::TimeWait
        {
            self.abort(ctx);
            return;
        }
        let _ = self.shutdown(ctx);
        if self.state == State::FinWait2 {
            self.timers
                .set(Timer::FinWait2, ctx.now + ctx.config.orphan_fin_timeout);
        }
    }

    /// ABORT (§3.10.5): RST in synchronized states, then CLOSED.
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            self.rst = Some((self.snd_nxt.max(self.snd_max), None));
        }
        self.error.get_or_insert(SocketError::NotConnected);
        self.set_state(ctx, State::Closed);
    }

    /// RCV.NXT: the next sequence number expected from the peer.
    pub fn rcv_nxt(&self) -> SeqNum {
        self.rcv_nxt
    }

    /// A new incarnation takes over this 4-tuple: TIME-WAIT ends early.
    pub(crate) fn end_time_wait(&mut self, ctx: &mut Ctx<'_>) {
        self.set_state(ctx, State::Closed);
    }

    /// An ICMP error quoted one of our segments with sequence number `seq` (MUST-54).
    pub(crate) fn on_icmp_error(&mut self, ctx: &mut Ctx<'_>, seq: SeqNum, error: IcmpError) {
        // RFC 5927 §4.1: only a segment in flight can have caused it.
        if !seq.in_range(self.snd_una, self.snd_max) {
            return;
        }
        match error {
            IcmpError::PacketTooBig(mtu) => {
                let header = if self.remote.is_ipv4() { 40 } else { 60 };
                let mss =
                    mtu.saturating_sub(header)
                        .max(if self.remote.is_ipv4() { 536 } else { 1220 });
                if mss < self.snd_mss as usize {
                    // Resend what the path dropped, in smaller pieces; not a congestion signal.
                    self.snd_mss = narrow(mss);
                    if self.sack_ok {
                        // The scoreboard resends what is lost and skips what was SACKed.
                        self.board.mark_all_lost();
                    } else {
                        self.snd_nxt = self.snd_una;
                    }
                }
            }
            // SHLD-26: port or protocol unreachable aborts.
            IcmpError::Hard => self.fail(ctx, SocketError::Unreachable),
            // MUST-56: don't abort; remember it in case the connection times out.
            IcmpError::Soft => self.soft_error = Some(SocketError::Unreachable),
        }
    }

    /// Whether the application has released its handle.
    pub(crate) fn is_released(&self) -> bool {
        self.released
    }

    /// Marks a connection nobody will ever hold (one that died before being accepted).
    pub(crate) fn release_quietly(&mut self) {
        self.released = true;
    }

    pub(crate) fn set_nodelay(&mut self, nodelay: bool) {
        self.nodelay = nodelay;
    }

    /// Turns keep-alive on or off for this connection (MUST-24); the idle time counts from
    /// now.
    pub(crate) fn set_keepalive(&mut self, now: Instant, keepalive: Option<Keepalive>) {
        self.keepalive = keepalive.map(Box::new);
        self.keepalive_heard(now);
    }

    /// The peer was heard from (or keep-alive was just set up): the idle time starts again
    /// and unanswered probes are forgiven (MUST-26, MUST-29).
    pub(super) fn keepalive_heard(&mut self, now: Instant) {
        self.keepalive_sent = 0;
        self.keepalive_due = false;
        match self.keepalive.as_deref() {
            Some(k) if self.keepalive_state() => self.timers.set(Timer::Keepalive, now + k.idle),
            _ => self.timers.stop(Timer::Keepalive),
        }
    }

    /// States in which a connection may be kept alive: the peer is expected to be there.
    fn keepalive_state(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait2
        )
    }

    /// The keep-alive timer ran out (RFC 9293 §3.8.4). Probes go only when the connection is
    /// idle with nothing in flight (MUST-26): otherwise the retransmission or persist timers
    /// are already asking for an answer, and the idle time starts over. After `probes`
    /// unanswered probes the connection times out, reported as the other timeouts are.
    pub(super) fn on_keepalive_timer(&mut self, ctx: &mut Ctx<'_>) {
        let Some(&k) = self.keepalive.as_deref() else {
            return;
        };
        if !self.keepalive_state() {
            return;
        }
        let busy = self.snd_max > self.snd_una || self.data_end() > self.snd_max;
        if busy {
            self.keepalive_heard(ctx.now);
            return;
        }
        if self.keepalive_sent >= k.probes {
            let error = self.soft_error.unwrap_or(SocketError::TimedOut);
            self.fail(ctx, error);
            return;
        }
        self.keepalive_sent += 1;
        self.keepalive_due = true;
        self.timers.set(Timer::Keepalive, ctx.now + k.interval);
    }

    /// The earliest timer deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Our timestamp clock: milliseconds, offset per connection.
    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        ((now.as_nanos() / 1_000_000) as u32).wrapping_add(self.ts_offset)
    }

    /// RFC 7323 §5.5: TS.Recent idle for more than 24 days may have wrapped against the
    /// peer's clock, so it no longer rejects anything.
    pub(super) fn ts_recent_valid(&self, now: Instant) -> bool {
        now - self.ts_recent_at <= PAWS_IDLE
    }

    /// The RTT an echoed timestamp shows (RFC 7323 §4.1): now less TSecr on our clock.
    /// An echo of zero or from the future says nothing.
    pub(super) fn ts_rtt(&self, now: Instant, tsecr: u32) -> Option<Duration> {
        self.ts_rtt_millis(now, tsecr).map(Duration::from_millis)
    }

    /// `ts_rtt` in whole milliseconds, our timestamp clock's unit.
    fn ts_rtt_millis(&self, now: Instant, tsecr: u32) -> Option<u64> {
        let elapsed = self.ts_now(now).wrapping_sub(tsecr);
        if tsecr == 0 || elapsed >= 1 << 31 {
            return None;
        }
        Some(u64::from(elapsed))
    }

    /// Arms the retransmission timer unless it runs already (RFC 6298 §5.1).
    pub(super) fn arm_rto(&mut self, now: Instant) {
        if !self.timers.is_set(Timer::Retransmit) {
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
    }

    pub(super) fn restart_rto(&mut self, now: Instant) {
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
    }

    pub(super) fn time_wait(&mut self, ctx: &mut Ctx<'_>) {
        self.set_state(ctx, State::TimeWait);
        self.timers.stop_all();
        self.timers
            .set(Timer::TimeWait, ctx.now + 2 * ctx.config.msl);
    }

    /// Sequence number just past the queued data.
    pub(super) fn data_end(&self) -> SeqNum {
        self.buf_seq + self.send_buf.len()
    }

    pub(super) fn rto_duration(&self) -> Duration {
        self.rtt.rto()
    }
}

/// The round trip assumed for receive-buffer tuning before anything was measured.
const DRS_DEFAULT_RTT: Duration = Duration::from_millis(100);

/// RFC 7323 §5.5: how long TS.Recent stays valid without being refreshed.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// TSval `a` is older than `b` on the 32-bit timestamp circle (RFC 7323 §5.3).
pub(super) fn ts_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A size in bytes as a `u32`, saturating (MSS values and per-round byte counts fit easily).
fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The MSS to assume when the peer sends none (MUST-15): 536 for IPv4, 1220 for IPv6.
fn default_mss(remote: SocketAddr) -> usize {
    if remote.is_ipv4() { 536 } else { 1220 }
}

/// The smallest window shift that lets `buffer` bytes be advertised (RFC 7323 §2.3, max 14).
pub(super) fn window_shift(buffer: usize) -> u8 {
    let mut shift = 0;
    while shift < 14 && (buffer >> shift) > 0xffff {
        shift += 1;
    }
    shift
}

#[cfg(test)]
mod size_tests {
    /// Every idle connection costs this much (`synack bench scale` counts about 100 bytes
    /// more per endpoint for the slot, the demultiplexer and the timer queue): a field added
    /// in line should be a choice, not an accident. Loss-recovery state, keep-alive settings
    /// and statistics live in boxes made on first use.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_connection_stays_under_a_kilobyte_less_its_overhead() {
        let size = size_of::<super::Connection>();
        assert!(size <= 880, "Connection is {size} bytes");
    }
}
