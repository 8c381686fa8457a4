//! The `Stack`: the socket table, listeners, and the output queues a driver polls.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use foldhash::fast::FixedState;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::demux::Demux;
use super::isn::Secrets;
use super::timer_queue::TimerQueue;
use super::{
    ConnectionInfo, Counters, Event, InvariantViolation, ListenerHandle, Readiness, Ready,
    SendSnapshot, SocketError, SocketHandle, StackConfig,
};
use crate::tcp::{Connection, Ctx, Endpoints, Keepalive, Spares, State};
use crate::time::{Instant, OptInstant};
use crate::wire::{IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpRepr};

/// Control packets waiting to go out, beyond which more are dropped (a cheap rate limit on
/// RSTs and echo replies).
const MAX_CONTROL: usize = 64;

/// A TCP/IP stack: see the module docs for how to drive it.
pub struct Stack {
    pub(super) config: StackConfig,
    pub(super) now: Instant,
    pub(super) rng: ChaCha8Rng,
    pub(super) secrets: Secrets,
    /// The last destination `ephemeral` hashed, and its port offset: connections usually
    /// repeat the destination, and the keyed hash is the dearest part of picking a port.
    port_offset: Option<(IpAddr, SocketAddr, u32)>,
    pub(super) sockets: Vec<Slot<SocketEntry>>,
    pub(super) free_sockets: Vec<u32>,
    pub(super) demux: Demux,
    pub(super) listeners: Vec<Slot<Listener>>,
    pub(super) free_listeners: Vec<u32>,
    pub(super) listen_map: HashMap<SocketAddr, ListenerHandle, FixedState>,
    pub(super) timers: TimerQueue,
    pub(super) transmit_queue: TransmitQueue,
    pub(super) ready_queue: VecDeque<Ready>,
    pub(super) control: VecDeque<Control>,
    pub(super) events: VecDeque<Event>,
    pub(super) counters: Counters,
    /// Rings and scoreboards finished connections left, for new ones.
    spares: Spares,
}

/// A slab slot: the generation changes whenever the slot is reused, so stale handles miss.
pub(super) struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

pub(super) struct SocketEntry {
    pub(super) conn: Connection,
    /// The listener whose accept queue this connection waits for, until accepted.
    pub(super) listener: Option<ListenerHandle>,
    /// Waiting in the listener's accept queue (established, not yet accepted).
    pub(super) queued_for_accept: bool,
    in_transmit_queue: bool,
    in_ready_queue: bool,
    last_readiness: Readiness,
    /// The deadline filed for this socket in the timer queue: its earliest.
    scheduled: OptInstant,
    in_demux: bool,
    /// Its last `refile` found nothing to send (`Connection::may_transmit`): a poll must
    /// then send nothing.
    #[cfg(debug_assertions)]
    expect_idle: bool,
    /// Listed in `TransmitQueue::idle` (debug builds).
    #[cfg(debug_assertions)]
    in_idle_audit: bool,
}

pub(super) struct Listener {
    pub(super) local: SocketAddr,
    pub(super) backlog: usize,
    /// Connections that belong to this listener and were not accepted yet (SYN-RECEIVED
    /// included): counted against the backlog.
    pub(super) children: usize,
    pub(super) accept_queue: VecDeque<SocketHandle>,
    in_ready_queue: bool,
}

/// A packet the stack itself answers with, outside any connection.
pub(super) enum Control {
    /// RFC 9293 §3.10.7.1: the reply to a segment for no connection.
    Rst {
        local: SocketAddr,
        remote: SocketAddr,
        seq: u32,
        ack: Option<u32>,
    },
    /// An echo reply (ICMPv4 or ICMPv6, by address family).
    EchoReply {
        src: IpAddr,
        dst: IpAddr,
        ident: u16,
        seq_no: u16,
        data: Vec<u8>,
    },
}

impl Stack {
    /// Creates a stack; `now` is the time origin's current reading.
    pub fn new(config: StackConfig, now: Instant) -> Stack {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let secrets = Secrets::new(
            (rng.next_u64(), rng.next_u64()),
            (rng.next_u64(), rng.next_u64()),
        );
        let hasher = FixedState::with_seed(rng.next_u64());
        Stack {
            config,
            now,
            rng,
            secrets,
            port_offset: None,
            sockets: Vec::new(),
            free_sockets: Vec::new(),
            demux: Demux::new(hasher.clone()),
            listeners: Vec::new(),
            free_listeners: Vec::new(),
            listen_map: HashMap::with_hasher(hasher),
            timers: TimerQueue::default(),
            transmit_queue: TransmitQueue::default(),
            ready_queue: VecDeque::new(),
            control: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            spares: Spares::default(),
        }
    }

    // ---- getters ----

    /// What this stack has counted.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The link MTU.
    pub fn mtu(&self) -> usize {
        self.config.mtu
    }

    /// The stack's configuration.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// A socket's state, or `None` for a stale handle.
    pub fn state(&self, socket: SocketHandle) -> Option<State> {
        self.entry(socket).map(|e| e.conn.state())
    }

    /// What a socket can do now (all false for a stale handle).
    pub fn readiness(&self, socket: SocketHandle) -> Readiness {
        self.entry(socket)
            .map(|e| e.conn.readiness())
            .unwrap_or_default()
    }

    /// Whether `accept` on this listener would return a socket.
    pub fn listener_ready(&self, listener: ListenerHandle) -> bool {
        self.listener(listener)
            .is_some_and(|l| !l.accept_queue.is_empty())
    }

    /// A connection's details.
    pub fn info(&self, socket: SocketHandle) -> Option<ConnectionInfo> {
        self.entry(socket).map(|e| e.conn.info())
    }

    /// The local address a listener is bound to.
    pub fn listener_addr(&self, listener: ListenerHandle) -> Option<SocketAddr> {
        self.listener(listener).map(|l| l.local)
    }

    /// Every live connection's sending side, for checking invariants from outside.
    pub fn send_snapshots(&self) -> impl Iterator<Item = SendSnapshot> + '_ {
        self.sockets.iter().enumerate().filter_map(|(index, slot)| {
            let entry = slot.value.as_ref()?;
            let socket = SocketHandle {
                index: index as u32,
                generation: slot.generation,
            };
            Some(SendSnapshot::of(socket, &entry.conn, &self.config.tcp))
        })
    }

    /// Checks the invariants of every live connection (see [`SendSnapshot::check`]); the
    /// first one broken. Meant for tests and simulations, after every step.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.send_snapshots().try_for_each(|s| s.check())
    }

    /// Live connections, in any state (TIME-WAIT included).
    pub fn connection_count(&self) -> usize {
        self.sockets.len() - self.free_sockets.len()
    }

    // ---- inputs ----

    /// Runs every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        while let Some((at, socket)) = self.timers.pop_due(self.now) {
            let Some((entry, mut ctx)) = self.entry_ctx(socket) else {
                continue;
            };
            // Its entry left the queue; `touch` files the next deadline, if any.
            debug_assert_eq!(entry.scheduled.get(), Some(at));
            entry.scheduled = OptInstant::NONE;
            entry.conn.on_timeout(&mut ctx);
            self.touch(socket);
        }
    }

    // ---- commands ----

    /// Listens on `local` (the IP may be unspecified: any of our addresses of that family).
    /// Several listeners may share a port on different addresses (MUST-42).
    pub fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
    ) -> Result<ListenerHandle, SocketError> {
        if !local.ip().is_unspecified() && !self.config.addrs.contains(&local.ip()) {
            return Err(SocketError::AddrNotAvailable);
        }
        if local.port() == 0 {
            return Err(SocketError::InvalidAddress);
        }
        if self.listen_map.contains_key(&local) {
            return Err(SocketError::AddrInUse);
        }
        let listener = Listener {
            local,
            backlog: backlog.max(1),
            children: 0,
            accept_queue: VecDeque::new(),
            in_ready_queue: false,
        };
        let (index, generation) = insert(&mut self.listeners, &mut self.free_listeners, listener);
        let handle = ListenerHandle { index, generation };
        self.listen_map.insert(local, handle);
        Ok(handle)
    }

    /// Takes an established connection from a listener's queue.
    pub fn accept(&mut self, listener: ListenerHandle) -> Result<SocketHandle, SocketError> {
        let l = self
            .listener_mut(listener)
            .ok_or(SocketError::InvalidHandle)?;
        let socket = l.accept_queue.pop_front().ok_or(SocketError::WouldBlock)?;
        l.children -= 1;
        if let Some(entry) = self.entry_mut(socket) {
            entry.listener = None;
            entry.queued_for_accept = false;
            entry.last_readiness = Readiness::default();
        }
        self.touch(socket);
        Ok(socket)
    }

    /// Stops listening; connections not yet accepted are reset.
    pub fn close_listener(&mut self, now: Instant, listener: ListenerHandle) {
        self.advance(now);
        let Some(l) = remove(
            &mut self.listeners,
            &mut self.free_listeners,
            listener.index,
            listener.generation,
        ) else {
            return;
        };
        self.listen_map.remove(&l.local);
        // Embryonic children find their listener gone when next touched (see `touch`).
        for socket in l.accept_queue {
            if let Some(entry) = self.entry_mut(socket) {
                entry.listener = None;
            }
            self.with_conn(socket, |conn, ctx| {
                conn.abort(ctx);
                conn.release(ctx);
            });
            self.touch(socket);
        }
    }

    /// Starts an active open to `remote`. With `local` `None`, picks our address of the same
    /// family and an ephemeral port.
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Result<SocketHandle, SocketError> {
        self.advance(now);
        // MUST-46: no OPEN to a broadcast, multicast or unspecified address.
        if !is_unicast(remote.ip()) || remote.port() == 0 {
            return Err(SocketError::InvalidAddress);
        }
        let local_ip = match local {
            Some(l) if !l.ip().is_unspecified() => {
                if !self.config.addrs.contains(&l.ip()) {
                    return Err(SocketError::AddrNotAvailable);
                }
                l.ip()
            }
            _ => self
                .config
                .addrs
                .iter()
                .copied()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(SocketError::AddrNotAvailable)?,
        };
        if local_ip.is_ipv4() != remote.is_ipv4() {
            return Err(SocketError::AddrNotAvailable);
        }
        let local = match local.map(|l| l.port()).filter(|&p| p != 0) {
            Some(port) => {
                let local = SocketAddr::new(local_ip, port);
                if self.demux.contains(local, remote) {
                    return Err(SocketError::AddrInUse);
                }
                local
            }
            None => self.ephemeral(local_ip, remote)?,
        };
        let socket =
            self.insert_connection(local, remote, State::Closed, None, Connection::connect);
        self.touch(socket);
        Ok(socket)
    }

    /// Queues data to send; returns how much was taken (`WouldBlock` when the buffer is full).
    /// Data queued before the handshake completes goes with the ACK that completes it.
    pub fn send(
        &mut self,
        now: Instant,
        socket: SocketHandle,
        data: &[u8],
    ) -> Result<usize, SocketError> {
        self.advance(now);
        let entry = self.entry_mut(socket).ok_or(SocketError::InvalidHandle)?;
        let result = entry.conn.send(data);
        if matches!(result, Ok(n) if n > 0) {
            self.touch(socket);
        }
        result
    }

    /// Reads received data in order; `Ok(0)` means the peer has closed its side and all its
    /// data was read.
    pub fn recv(
        &mut self,
        now: Instant,
        socket: SocketHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        self.advance(now);
        let entry = self.entry(socket).ok_or(SocketError::InvalidHandle)?;
        // Nothing to read (the usual answer to polling): nothing changes, nothing to refile.
        if let Some(result) = entry.conn.recv_nothing(buf.len()) {
            return result;
        }
        let result = self
            .with_conn(socket, |conn, ctx| conn.recv(ctx, buf))
            .ok_or(SocketError::InvalidHandle)?;
        if matches!(result, Ok(n) if n > 0) {
            self.touch(socket);
        }
        result
    }

    /// Half-close: sends FIN after the queued data; reading goes on until the peer's FIN.
    pub fn shutdown(&mut self, now: Instant, socket: SocketHandle) -> Result<(), SocketError> {
        self.advance(now);
        let result = self
            .with_conn(socket, |conn, ctx| conn.shutdown(ctx))
            .ok_or(SocketError::InvalidHandle)?;
        self.touch(socket);
        result
    }

    /// Releases the handle. Queued data is still sent and the connection closes gracefully;
    /// if received data was left unread, the connection is reset instead (RFC 9293 SHLD-3).
    pub fn close(&mut self, now: Instant, socket: SocketHandle) {
        self.advance(now);
        self.with_conn(socket, |conn, ctx| conn.release(ctx));
        self.touch(socket);
    }

    /// Resets the connection (RST) and releases the handle.
    pub fn abort(&mut self, now: Instant, socket: SocketHandle) {
        self.advance(now);
        self.with_conn(socket, |conn, ctx| {
            conn.abort(ctx);
            conn.release(ctx);
        });
        self.touch(socket);
    }

    /// Switches Nagle's algorithm off (`true`) or on (MUST-17).
    pub fn set_nodelay(&mut self, socket: SocketHandle, nodelay: bool) {
        if let Some(entry) = self.entry_mut(socket) {
            entry.conn.set_nodelay(nodelay);
        }
        self.touch(socket);
    }

    /// Turns keep-alive on (`Some`) or off for one connection (RFC 9293 §3.8.4, MUST-24);
    /// the idle time counts from the stack's latest time. New connections take
    /// `TcpConfig::keepalive`.
    pub fn set_keepalive(&mut self, socket: SocketHandle, keepalive: Option<Keepalive>) {
        let now = self.now;
        if let Some(entry) = self.entry_mut(socket) {
            entry.conn.set_keepalive(now, keepalive);
        }
        self.touch(socket);
    }

    // ---- outputs ----

    /// Writes the next packet to send into `buf` (at least `mtu()` bytes) and returns its
    /// length, or `None` when there is nothing to send now.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.advance(now);
        let mtu = self.config.mtu.min(buf.len());
        let buf = &mut buf[..mtu];
        if let Some(control) = self.control.pop_front() {
            return Some(self.emit_control(control, buf));
        }
        let ttl = self.config.ttl;
        while let Some(socket) = self.transmit_queue.due.pop_front() {
            // Looked up once for the flag and the poll.
            let Some((entry, mut ctx)) = self.entry_ctx(socket) else {
                continue;
            };
            entry.in_transmit_queue = false;
            #[cfg(debug_assertions)]
            let expect_idle = entry.expect_idle;
            let (local, remote) = (entry.conn.local(), entry.conn.remote());
            let ip = IpRepr {
                src: local.ip(),
                dst: remote.ip(),
                protocol: IpProtocol::Tcp,
                ttl,
                payload_len: 0,
            };
            let header = ip.header_len();
            let sent = entry.conn.poll_transmit(&mut ctx, &mut buf[header..]);
            #[cfg(debug_assertions)]
            assert!(
                !(expect_idle && sent.is_some()),
                "may_transmit said no, yet a segment went"
            );
            // Only its timers, and whether it has more to send, may have moved (see
            // `refile_polled`).
            self.refile_polled(socket, sent.is_some());
            let Some(len) = sent else {
                continue;
            };
            IpRepr {
                payload_len: len,
                ..ip
            }
            .emit(buf);
            self.counters.packets_out += 1;
            return Some(header + len);
        }
        #[cfg(debug_assertions)]
        self.audit_idle(buf);
        None
    }

    /// Debug builds: polls every socket `may_transmit` ruled out since the last audit and
    /// checks that it sends nothing and arms nothing. Apart from the sockets really due, so
    /// that the order of what is sent is the same in every build.
    #[cfg(debug_assertions)]
    fn audit_idle(&mut self, buf: &mut [u8]) {
        let mut idle = std::mem::take(&mut self.transmit_queue.idle);
        for &socket in &idle {
            let Some(entry) = self.entry_mut(socket) else {
                continue;
            };
            entry.in_idle_audit = false;
            if !entry.expect_idle || entry.in_transmit_queue {
                continue;
            }
            let deadline = entry.conn.poll_timeout();
            let sent = self
                .with_conn(socket, |conn, ctx| conn.poll_transmit(ctx, buf))
                .flatten();
            assert!(sent.is_none(), "may_transmit said no, yet a segment went");
            assert_eq!(
                self.entry(socket).map(|e| e.conn.poll_timeout()),
                Some(deadline),
                "may_transmit said no, yet a poll moved a timer"
            );
        }
        // Its storage kept: the established path allocates nothing, in debug builds too.
        idle.clear();
        self.transmit_queue.idle = idle;
    }

    /// The next socket or listener whose readiness may have changed.
    pub fn poll_ready(&mut self) -> Option<Ready> {
        let ready = self.ready_queue.pop_front()?;
        match ready {
            Ready::Socket(s) => {
                if let Some(e) = self.entry_mut(s) {
                    e.in_ready_queue = false;
                }
            }
            Ready::Listener(l) => {
                if let Some(l) = self.listener_mut(l) {
                    l.in_ready_queue = false;
                }
            }
        }
        Some(ready)
    }

    /// The next trace event (only with `record_events`).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek()
    }

    // ---- internals ----

    /// Time never goes backwards.
    pub(super) fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    pub(super) fn entry(&self, socket: SocketHandle) -> Option<&SocketEntry> {
        get(&self.sockets, socket.index, socket.generation)
    }

    pub(super) fn entry_mut(&mut self, socket: SocketHandle) -> Option<&mut SocketEntry> {
        get_mut(&mut self.sockets, socket.index, socket.generation)
    }

    pub(super) fn listener(&self, listener: ListenerHandle) -> Option<&Listener> {
        get(&self.listeners, listener.index, listener.generation)
    }

    pub(super) fn listener_mut(&mut self, listener: ListenerHandle) -> Option<&mut Listener> {
        get_mut(&mut self.listeners, listener.index, listener.generation)
    }

    /// Runs `f` on a connection with a context borrowed from the stack's other fields.
    pub(super) fn with_conn<R>(
        &mut self,
        socket: SocketHandle,
        f: impl FnOnce(&mut Connection, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let (entry, mut ctx) = self.entry_ctx(socket)?;
        Some(f(&mut entry.conn, &mut ctx))
    }

    /// A socket's entry and the context its connection runs in, from one lookup.
    fn entry_ctx(&mut self, socket: SocketHandle) -> Option<(&mut SocketEntry, Ctx<'_>)> {
        let entry = get_mut(&mut self.sockets, socket.index, socket.generation)?;
        let ctx = ctx(
            self.now,
            &self.config,
            &mut self.counters,
            &mut self.events,
            &mut self.spares,
        );
        Some((entry, ctx))
    }

    /// Creates a connection, `blank` in `state` (and a child of `listener`, if any), and
    /// files it in the demultiplexer; `open` then starts it where it lies in the slab (a
    /// connection is close to a kilobyte: made elsewhere, it is copied on every move). The
    /// caller `touch`es it once it is set up (that queues its first segment), so each new
    /// connection is filed once.
    pub(super) fn insert_connection(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        state: State,
        listener: Option<ListenerHandle>,
        open: impl FnOnce(&mut Connection, &mut Ctx<'_>),
    ) -> SocketHandle {
        let (index, generation) = reserve(&mut self.sockets, &mut self.free_sockets);
        let socket = SocketHandle { index, generation };
        let header = if remote.is_ipv4() { 20 + 20 } else { 40 + 20 };
        let keyed = self.secrets.keyed(self.now, local, remote);
        let ep = Endpoints {
            handle: socket,
            local,
            remote,
            iss: keyed.iss,
            ts_offset: keyed.ts_offset,
            link_mss: self.config.mtu.saturating_sub(header).max(64),
        };
        let mut ctx = ctx(
            self.now,
            &self.config,
            &mut self.counters,
            &mut self.events,
            &mut self.spares,
        );
        let entry = self.sockets[index as usize].value.insert(SocketEntry {
            conn: Connection::blank(&mut ctx, ep, state),
            listener,
            queued_for_accept: false,
            in_transmit_queue: false,
            in_ready_queue: false,
            last_readiness: Readiness::default(),
            scheduled: OptInstant::NONE,
            in_demux: true,
            #[cfg(debug_assertions)]
            expect_idle: false,
            #[cfg(debug_assertions)]
            in_idle_audit: false,
        });
        open(&mut entry.conn, &mut ctx);
        self.demux.insert(local, remote, socket);
        socket
    }

    /// After anything happened to a socket: queue it for transmission, file its next
    /// deadline, report changed readiness, move it along its listener's queues, and reclaim
    /// it when it is finished.
    pub(super) fn touch(&mut self, socket: SocketHandle) {
        self.refile(socket, true);
    }

    /// `touch`, optionally without queueing the socket for transmission (it just said it has
    /// nothing to send).
    fn refile(&mut self, socket: SocketHandle, queue_transmit: bool) {
        let Some(entry) = get_mut(&mut self.sockets, socket.index, socket.generation) else {
            return;
        };
        if queue_transmit {
            queue_transmit_if_due(entry, &mut self.transmit_queue, socket);
        }
        file_deadline(entry, &mut self.timers, socket);
        let state = entry.conn.state();

        if let Some(lh) = entry.listener {
            let listener_alive = self
                .listeners
                .get(lh.index as usize)
                .is_some_and(|s| s.generation == lh.generation && s.value.is_some());
            if !listener_alive {
                // Its listener closed before the handshake finished: reset it.
                entry.listener = None;
                let mut ctx = ctx(
                    self.now,
                    &self.config,
                    &mut self.counters,
                    &mut self.events,
                    &mut self.spares,
                );
                entry.conn.abort(&mut ctx);
                entry.conn.release(&mut ctx);
            } else if state == State::Closed {
                // Reset or timed out before anyone accepted it.
                entry.listener = None;
                entry.conn.release_quietly();
                let queued = entry.queued_for_accept;
                if let Some(l) = self.listeners[lh.index as usize].value.as_mut() {
                    l.children -= 1;
                    if queued {
                        l.accept_queue.retain(|&s| s != socket);
                    }
                }
            } else if state.is_synchronized() && !entry.queued_for_accept {
                entry.queued_for_accept = true;
                if let Some(l) = self.listeners[lh.index as usize].value.as_mut() {
                    l.accept_queue.push_back(socket);
                    if !l.in_ready_queue {
                        l.in_ready_queue = true;
                        self.ready_queue.push_back(Ready::Listener(lh));
                    }
                }
            }
        } else {
            let readiness = entry.conn.readiness();
            if readiness != entry.last_readiness && !entry.conn.is_released() {
                entry.last_readiness = readiness;
                if !entry.in_ready_queue {
                    entry.in_ready_queue = true;
                    self.ready_queue.push_back(Ready::Socket(socket));
                }
            }
        }

        let entry = slot_entry(&mut self.sockets, socket);
        if entry.conn.state() == State::Closed && entry.in_demux {
            entry.in_demux = false;
            self.demux
                .remove_if(entry.conn.local(), entry.conn.remote(), socket);
        }
        if entry.conn.is_finished() {
            if !entry.scheduled.is_none() {
                self.timers.set(socket, None);
            }
            discard(
                &mut self.sockets,
                &mut self.free_sockets,
                socket.index,
                socket.generation,
            );
        }
    }

    /// `refile` after a `poll_transmit`, which sent a segment (`sent`) or nothing. Neither
    /// changes a connection's state, error or buffers (those change only on input, timeouts
    /// and the application's calls), so its readiness and its place in the demultiplexer are
    /// as its last `touch` left them: only its timers may have moved, and, after a segment,
    /// whether it has more to send. A RST sent may finish a connection, and a listener's
    /// child still takes the full path, which notices a closed listener.
    fn refile_polled(&mut self, socket: SocketHandle, sent: bool) {
        let Some(entry) = get_mut(&mut self.sockets, socket.index, socket.generation) else {
            return;
        };
        if entry.listener.is_some() || entry.conn.is_finished() {
            return self.refile(socket, sent);
        }
        debug_assert!(entry.conn.is_released() || entry.conn.readiness() == entry.last_readiness);
        debug_assert!(entry.conn.state() != State::Closed || !entry.in_demux);
        if sent {
            queue_transmit_if_due(entry, &mut self.transmit_queue, socket);
        }
        file_deadline(entry, &mut self.timers, socket);
    }

    /// Picks a free ephemeral port for `local_ip` towards `remote`.
    fn ephemeral(
        &mut self,
        local_ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<SocketAddr, SocketError> {
        let range = self.config.ephemeral_ports.clone();
        let count = u32::from(*range.end()) - u32::from(*range.start()) + 1;
        let offset = match self.port_offset {
            Some((ip, to, offset)) if ip == local_ip && to == remote => offset,
            _ => {
                let offset = self.secrets.port_offset(local_ip, remote);
                self.port_offset = Some((local_ip, remote, offset));
                offset
            }
        };
        let start = offset.wrapping_add(self.rng.next_u32());
        for i in 0..count {
            let port = *range.start() as u32 + (start.wrapping_add(i) % count);
            let local = SocketAddr::new(local_ip, port as u16);
            if !self.demux.contains(local, remote) && !self.listen_map.contains_key(&local) {
                return Ok(local);
            }
        }
        Err(SocketError::PortsExhausted)
    }

    /// Queues a control packet, dropping it if too many wait.
    pub(super) fn queue_control(&mut self, control: Control) {
        if self.control.len() < MAX_CONTROL {
            self.control.push_back(control);
        }
    }

    fn emit_control(&mut self, control: Control, buf: &mut [u8]) -> usize {
        match control {
            Control::Rst {
                local,
                remote,
                seq,
                ack,
            } => {
                let repr = TcpRepr {
                    src_port: local.port(),
                    dst_port: remote.port(),
                    seq,
                    ack: ack.unwrap_or(0),
                    flags: if ack.is_some() {
                        TcpFlags::RST | TcpFlags::ACK
                    } else {
                        TcpFlags::RST
                    },
                    window: 0,
                    urgent: 0,
                    options: TcpOptions::default(),
                };
                let ip = IpRepr {
                    src: local.ip(),
                    dst: remote.ip(),
                    protocol: IpProtocol::Tcp,
                    ttl: self.config.ttl,
                    payload_len: repr.header_len(),
                };
                let h = ip.emit(buf);
                let n = repr.emit_header(&mut buf[h..]);
                crate::wire::tcp::fill_checksum(&mut buf[h..h + n], local.ip(), remote.ip());
                self.counters.resets_sent += 1;
                self.counters.segments_out += 1;
                self.counters.packets_out += 1;
                h + n
            }
            Control::EchoReply {
                src,
                dst,
                ident,
                seq_no,
                data,
            } => {
                let n = super::receive::emit_echo_reply(
                    self.config.ttl,
                    src,
                    dst,
                    ident,
                    seq_no,
                    &data,
                    buf,
                );
                self.counters.icmp_echo_replies += 1;
                self.counters.packets_out += 1;
                n
            }
        }
    }
}

/// Files a socket's earliest deadline in the timer queue, if it moved. A deadline of
/// FAR_FUTURE, never reached, is filed as none.
fn file_deadline(entry: &mut SocketEntry, timers: &mut TimerQueue, socket: SocketHandle) {
    let at = OptInstant::from(entry.conn.poll_timeout());
    if at != entry.scheduled {
        entry.scheduled = at;
        timers.set(socket, at.get());
    }
}

/// Sockets waiting for `poll_transmit`, in order. Debug builds also list the ones
/// `may_transmit` ruled out, to check once the others are done that they send nothing.
pub(super) struct TransmitQueue {
    due: VecDeque<SocketHandle>,
    #[cfg(debug_assertions)]
    idle: Vec<SocketHandle>,
}

impl Default for TransmitQueue {
    fn default() -> Self {
        TransmitQueue {
            due: VecDeque::new(),
            // Made at the start, so that a debug build's established path allocates no
            // more than a release build's (a socket is listed once between audits).
            #[cfg(debug_assertions)]
            idle: Vec::with_capacity(64),
        }
    }
}

/// Queues a socket for `poll_transmit` unless it has nothing to send
/// (`Connection::may_transmit`).
fn queue_transmit_if_due(entry: &mut SocketEntry, queue: &mut TransmitQueue, socket: SocketHandle) {
    let may_transmit = entry.conn.may_transmit();
    #[cfg(debug_assertions)]
    {
        entry.expect_idle = !may_transmit;
        if !may_transmit && !entry.in_idle_audit {
            entry.in_idle_audit = true;
            queue.idle.push(socket);
        }
    }
    if may_transmit && !entry.in_transmit_queue {
        entry.in_transmit_queue = true;
        queue.due.push_back(socket);
    }
}

fn slot_entry(slots: &mut [Slot<SocketEntry>], socket: SocketHandle) -> &mut SocketEntry {
    slots[socket.index as usize]
        .value
        .as_mut()
        .expect("touched socket is live")
}

/// Whether an address may name a peer (MUST-46, MUST-63).
pub(super) fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// A connection's view of the stack, from disjoint fields so the socket slab stays borrowable.
fn ctx<'a>(
    now: Instant,
    config: &'a StackConfig,
    counters: &'a mut Counters,
    events: &'a mut VecDeque<Event>,
    spares: &'a mut Spares,
) -> Ctx<'a> {
    Ctx {
        now,
        config: &config.tcp,
        counters,
        events: config.record_events.then_some(events),
        spares,
    }
}

fn get<T>(slots: &[Slot<T>], index: u32, generation: u32) -> Option<&T> {
    let slot = slots.get(index as usize)?;
    (slot.generation == generation).then_some(())?;
    slot.value.as_ref()
}

fn get_mut<T>(slots: &mut [Slot<T>], index: u32, generation: u32) -> Option<&mut T> {
    let slot = slots.get_mut(index as usize)?;
    (slot.generation == generation).then_some(())?;
    slot.value.as_mut()
}

fn insert<T>(slots: &mut Vec<Slot<T>>, free: &mut Vec<u32>, value: T) -> (u32, u32) {
    let (index, generation) = reserve(slots, free);
    slots[index as usize].value = Some(value);
    (index, generation)
}

fn reserve<T>(slots: &mut Vec<Slot<T>>, free: &mut Vec<u32>) -> (u32, u32) {
    match free.pop() {
        Some(index) => (index, slots[index as usize].generation),
        None => {
            slots.push(Slot {
                generation: 0,
                value: None,
            });
            ((slots.len() - 1) as u32, 0)
        }
    }
}

/// `remove` without handing the value back: it is dropped where it lies, not moved out first
/// (a socket entry is over a kilobyte).
fn discard<T>(slots: &mut [Slot<T>], free: &mut Vec<u32>, index: u32, generation: u32) {
    let Some(slot) = slots.get_mut(index as usize) else {
        return;
    };
    if slot.generation != generation || slot.value.is_none() {
        return;
    }
    slot.value = None;
    slot.generation = slot.generation.wrapping_add(1);
    free.push(index);
}

fn remove<T>(slots: &mut [Slot<T>], free: &mut Vec<u32>, index: u32, generation: u32) -> Option<T> {
    let slot = slots.get_mut(index as usize)?;
    if slot.generation != generation {
        return None;
    }
    let value = slot.value.take()?;
    slot.generation = slot.generation.wrapping_add(1);
    free.push(index);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    use crate::tcp::TcpConfig;

    fn stack(ip: [u8; 4], seed: u64) -> Stack {
        let config = StackConfig {
            addrs: vec![ip.into()],
            seed,
            record_events: false,
            tcp: TcpConfig {
                msl: Duration::from_millis(1),
                ..TcpConfig::default()
            },
            ..StackConfig::default()
        };
        Stack::new(config, Instant::from_nanos(0))
    }

    /// A client stack, and a server stack listening on [`server_addr`].
    fn pair() -> (Stack, Stack, ListenerHandle) {
        let client = stack([10, 0, 0, 1], 1);
        let mut server = stack([10, 0, 0, 2], 2);
        let l = server.listen(server_addr(), 8).unwrap();
        (client, server, l)
    }

    fn server_addr() -> SocketAddr {
        "10.0.0.2:80".parse().unwrap()
    }

    /// Every packet each stack has goes to the other, until neither has any.
    fn pump(a: &mut Stack, b: &mut Stack, now: Instant) {
        fn drain(from: &mut Stack, to: &mut Stack, now: Instant) -> bool {
            let mut buf = [0; 1500];
            let mut moved = false;
            while let Some(n) = from.poll_transmit(now, &mut buf) {
                to.receive(now, &buf[..n]);
                moved = true;
            }
            moved
        }
        while drain(a, b, now) | drain(b, a, now) {}
    }

    /// A request and its answer, then a close from both ends; returns when both are gone.
    fn exchange(client: &mut Stack, server: &mut Stack, l: ListenerHandle, now: &mut Instant) {
        let c = client.connect(*now, server_addr(), None).unwrap();
        pump(client, server, *now);
        let s = server.accept(l).unwrap();
        assert_eq!(client.send(*now, c, b"request"), Ok(7));
        pump(client, server, *now);
        let mut buf = [0; 16];
        assert_eq!(server.recv(*now, s, &mut buf), Ok(7));
        assert_eq!(server.send(*now, s, b"answer"), Ok(6));
        pump(client, server, *now);
        assert_eq!(client.recv(*now, c, &mut buf), Ok(6));
        assert_eq!(&buf[..6], b"answer");
        client.close(*now, c);
        pump(client, server, *now);
        server.close(*now, s);
        pump(client, server, *now);
        // TIME-WAIT (2 MSL) runs out.
        *now += Duration::from_millis(5);
        for stack in [&mut *client, &mut *server] {
            stack.handle_timeout(*now);
        }
        assert_eq!(client.connection_count() + server.connection_count(), 0);
    }

    /// Data sent in SYN-SENT is queued (RFC 9293 §3.10.2) and leaves with the ACK that
    /// completes the handshake: three segments carry the handshake and the data, and no
    /// byte goes before the connection is synchronized. A CLOSE in SYN-SENT still deletes
    /// the connection, queued data and all (§3.10.4).
    #[test]
    fn data_sent_in_syn_sent_rides_the_handshake_ack() {
        use crate::wire::{TcpRepr, parse_ip};
        fn segments(from: &mut Stack, to: &mut Stack, now: Instant) -> Vec<(TcpFlags, usize)> {
            let mut buf = [0; 1500];
            let mut out = Vec::new();
            while let Some(n) = from.poll_transmit(now, &mut buf) {
                let (ip, tcp) = parse_ip(&buf[..n]).unwrap();
                let (seg, data) = TcpRepr::parse(tcp, ip.src, ip.dst, true).unwrap();
                out.push((seg.flags, data.len()));
                to.receive(now, &buf[..n]);
            }
            out
        }
        let (mut client, mut server, l) = pair();
        let now = Instant::from_nanos(1);
        let c = client.connect(now, server_addr(), None).unwrap();
        assert_eq!(client.send(now, c, b"request"), Ok(7));
        assert_eq!(
            segments(&mut client, &mut server, now),
            [(TcpFlags::SYN, 0)]
        );
        assert_eq!(client.send(now, c, b"!"), Ok(1));
        assert_eq!(
            segments(&mut server, &mut client, now),
            [(TcpFlags::SYN | TcpFlags::ACK, 0)]
        );
        assert_eq!(
            segments(&mut client, &mut server, now),
            [(TcpFlags::ACK | TcpFlags::PSH, 8)]
        );
        let s = server.accept(l).unwrap();
        let mut buf = [0; 16];
        assert_eq!(server.recv(now, s, &mut buf), Ok(8));
        assert_eq!(&buf[..8], b"request!");

        // Closed before the handshake: gone, and what was queued with it.
        let c = client.connect(now, server_addr(), None).unwrap();
        assert_eq!(client.send(now, c, b"lost"), Ok(4));
        client.close(now, c);
        assert_eq!(client.state(c), None);
        assert!(segments(&mut client, &mut server, now).is_empty());
    }

    /// `recv` answers from `recv_nothing` whenever that has an answer, and reads data
    /// exactly when it has none: before the handshake, with data, after it was read, with an
    /// empty buffer, and at the end of the stream (data first, then `Ok(0)`).
    #[test]
    fn recv_without_data_answers_as_recv_nothing_says() {
        fn check(stack: &mut Stack, s: SocketHandle, len: usize) -> Result<usize, SocketError> {
            let expected = stack.entry(s).unwrap().conn.recv_nothing(len);
            let mut buf = [0; 16];
            let got = stack.recv(Instant::from_nanos(1), s, &mut buf[..len]);
            match expected {
                Some(answer) => assert_eq!(got, answer),
                None => assert!(matches!(got, Ok(n) if n > 0), "{got:?}"),
            }
            got
        }
        let (mut client, mut server, l) = pair();
        let now = Instant::from_nanos(1);
        let c = client.connect(now, server_addr(), None).unwrap();
        assert_eq!(check(&mut client, c, 16), Err(SocketError::WouldBlock));
        assert_eq!(check(&mut client, c, 0), Ok(0));
        pump(&mut client, &mut server, now);
        let s = server.accept(l).unwrap();
        assert_eq!(check(&mut server, s, 16), Err(SocketError::WouldBlock));
        assert_eq!(client.send(now, c, b"request"), Ok(7));
        pump(&mut client, &mut server, now);
        assert_eq!(check(&mut server, s, 0), Ok(0));
        assert_eq!(check(&mut server, s, 4), Ok(4));
        assert_eq!(check(&mut server, s, 16), Ok(3));
        assert_eq!(check(&mut server, s, 16), Err(SocketError::WouldBlock));
        assert_eq!(client.send(now, c, b"more"), Ok(4));
        client.close(now, c);
        pump(&mut client, &mut server, now);
        assert_eq!(check(&mut server, s, 16), Ok(4));
        assert_eq!(check(&mut server, s, 16), Ok(0));
        assert_eq!(check(&mut server, s, 16), Ok(0));
        assert_eq!(
            server.recv(
                now,
                SocketHandle {
                    index: 99,
                    generation: 0
                },
                &mut [0; 4]
            ),
            Err(SocketError::InvalidHandle)
        );
    }

    /// An idle connection says it has nothing to send (so it is not polled); data queued, a
    /// window update owed or a close each say otherwise. (Debug builds poll it all the same,
    /// after the others, and assert that nothing goes and no timer moves: every test run
    /// checks `may_transmit` that way.)
    #[test]
    fn only_a_connection_with_something_to_send_is_polled() {
        let (mut client, mut server, l) = pair();
        let now = Instant::from_nanos(1);
        let c = client.connect(now, server_addr(), None).unwrap();
        let may = |stack: &Stack, s| stack.entry(s).unwrap().conn.may_transmit();
        assert!(may(&client, c), "the SYN is due");
        pump(&mut client, &mut server, now);
        let s = server.accept(l).unwrap();
        assert!(!may(&client, c) && !may(&server, s));
        assert_eq!(client.send(now, c, b"hello"), Ok(5));
        assert!(may(&client, c));
        pump(&mut client, &mut server, now);
        assert!(!may(&client, c));
        client.close(now, c);
        assert!(may(&client, c), "the FIN is due");
        pump(&mut client, &mut server, now);
        assert!(!may(&client, c) && !may(&server, s));
        assert!(client.transmit_queue.due.is_empty() && server.transmit_queue.due.is_empty());
    }

    /// A finished connection's rings and scoreboard go to the stack's spares, and the next
    /// connection takes them: a stream of short connections reuses the same few.
    #[test]
    fn short_connections_reuse_spare_storage() {
        let (mut client, mut server, l) = pair();
        let mut now = Instant::from_nanos(1);
        assert_eq!(client.spares.len(), (0, 0));
        exchange(&mut client, &mut server, l, &mut now);
        // Send and receive rings of each side, and each side's scoreboard (both sent data).
        assert_eq!(client.spares.len(), (2, 1));
        assert_eq!(server.spares.len(), (2, 1));
        for _ in 0..5 {
            exchange(&mut client, &mut server, l, &mut now);
            assert_eq!(
                client.spares.len(),
                (2, 1),
                "taken and given back, not piled up"
            );
            assert_eq!(server.spares.len(), (2, 1));
        }
    }
}
