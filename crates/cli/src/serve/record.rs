//! What `serve` and `get` record: every packet crossing the TUN device, both ways, filed by
//! connection (4-tuple), with the state changes our stack reports.
//!
//! Memory is bounded: each connection keeps every segment until [`PAYLOAD_CAP`] bytes of
//! payload have been recorded in a direction; after that, that direction's data segments
//! (and pure ACKs, until a FIN shows the teardown has begun) are counted, not kept. SYNs,
//! FINs, RSTs and everything from the first FIN on are always kept, so each lifecycle
//! shows its handshake and its teardown. The latest segment left out in each direction (one
//! with data, one without) is held back and recorded just before the next segment that is
//! kept: a transfer's last bytes and their ACK stay on the record, so a response's end time
//! is right. Connections are numbered as they start, and can be looked at while still open
//! ([`Book::open`]); finished ones are kept for `/connections` ([`RECENT`] of them) and in an
//! archive for `--pcap` (up to [`ARCHIVE_CAP`] bytes).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use synack::{Clock, Device, Net, RecvBatch};
use synack_core::Event;
use synack_core::tcp::State;
use synack_core::wire::{IpProtocol, TcpFlags, TcpPacket, parse_ip};
use synack_trace::{Recorder, Trace};

use super::gaps::{self, SeqRanges};
use crate::demo::body::hex;

/// Payload bytes recorded per connection and direction before data segments are elided.
pub const PAYLOAD_CAP: u64 = 64 * 1024;
/// Finished connections kept for `/connections`.
pub const RECENT: usize = 32;
/// Bytes of packets kept for `--pcap`; later connections are left out of the capture.
pub const ARCHIVE_CAP: usize = 64 * 1024 * 1024;
/// Key log lines kept (the newest), enough for the connections still being analyzed.
const KEY_LINES: usize = 8192;
/// A connection whose state ended is finished after this long, so its last ACK is in.
const LINGER: Duration = Duration::from_millis(150);
/// A connection that sent nothing for this long is finished as it is.
const IDLE: Duration = Duration::from_secs(300);
/// Connections followed at once; the oldest is finished early beyond this.
const LIVE_MAX: usize = 4096;

/// Our end and the peer's: how a connection is filed.
pub type Key = (SocketAddr, SocketAddr);

/// A connection's record, finished or (from [`Book::open`]) so far: its trace and what was
/// left out.
#[derive(Debug)]
pub struct Lifecycle {
    /// 1, 2, ... in order of the connections' first packets in this run.
    pub id: u64,
    /// Our address and the peer's.
    pub key: Key,
    pub trace: Trace,
    /// Still open: the record so far.
    pub open: bool,
    /// Our stack's state last reported (`None` before any report, e.g. a refused SYN).
    pub state: Option<State>,
    /// What was left out beyond the payload cap.
    pub elided: Elided,
}

/// Segments counted but not kept, and their payload, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Elided {
    /// Indexed by [`FROM_US`] and [`FROM_PEER`].
    pub segments: [u64; 2],
    pub payload: [u64; 2],
}

/// Index of what our stack sent, in [`Elided`]'s arrays.
pub const FROM_US: usize = 0;
/// Index of what the peer sent.
pub const FROM_PEER: usize = 1;

impl Elided {
    /// Segments left out, both ways.
    pub fn total_segments(&self) -> u64 {
        self.segments.iter().sum()
    }
}

/// A packet left out, held back in case it is a transfer's last.
#[derive(Clone)]
struct Held {
    t_ns: u64,
    data: Vec<u8>,
    payload: u64,
}

/// One connection being followed.
struct Live {
    id: u64,
    recorder: Recorder,
    /// Payload recorded so far: [from us, from the peer].
    payload: [u64; 2],
    fin_seen: bool,
    elided: Elided,
    /// Where the left-out payload lies in each direction's sequence space.
    left_out: [SeqRanges; 2],
    /// The latest left out per direction, [with data, without]; recorded before the next
    /// packet that is kept, and at the end.
    held: [[Option<Held>; 2]; 2],
    state: Option<State>,
    last_ns: u64,
    /// When the state machine reached CLOSED or TIME-WAIT.
    ended_ns: Option<u64>,
}

impl Live {
    fn new(id: u64, t_ns: u64) -> Live {
        Live {
            id,
            recorder: Recorder::new(),
            payload: [0; 2],
            fin_seen: false,
            elided: Elided::default(),
            left_out: Default::default(),
            held: Default::default(),
            state: None,
            last_ns: t_ns,
            ended_ns: None,
        }
    }

    /// Leaves a packet out, holding it back in place of the one it follows.
    fn hold(&mut self, dir: usize, t_ns: u64, data: &[u8], seq: u32, payload: u64) {
        self.left_out[dir].add(seq, payload);
        self.elided.segments[dir] += 1;
        self.elided.payload[dir] += payload;
        let slot = &mut self.held[dir][usize::from(payload == 0)];
        // The buffer is reused: no allocation per packet once a transfer is under way.
        let held = slot.get_or_insert_with(|| Held {
            t_ns,
            data: Vec::with_capacity(data.len()),
            payload,
        });
        held.t_ns = t_ns;
        held.payload = payload;
        held.data.clear();
        held.data.extend_from_slice(data);
    }

    /// Records the held-back packets, oldest first, so they are no longer counted as left
    /// out.
    fn release(&mut self) {
        let mut held: Vec<(usize, Held)> = Vec::new();
        for (dir, slots) in self.held.iter_mut().enumerate() {
            held.extend(slots.iter_mut().filter_map(Option::take).map(|h| (dir, h)));
        }
        held.sort_by_key(|(_, h)| h.t_ns);
        for (dir, h) in held {
            self.elided.segments[dir] -= 1;
            self.elided.payload[dir] -= h.payload;
            self.recorder.packet(h.t_ns, &h.data);
        }
    }
}

#[derive(Default)]
struct Inner {
    live: HashMap<Key, Live>,
    recent: VecDeque<Arc<Lifecycle>>,
    archive: Recorder,
    archive_bytes: usize,
    archive_dropped: u64,
    key_lines: VecDeque<String>,
    /// Connections seen so far: the last id given.
    started: u64,
}

/// The shared record of every connection; cheap to clone.
#[derive(Clone)]
pub struct Book {
    inner: Arc<Mutex<Inner>>,
    clock: Clock,
}

impl Book {
    /// An empty book stamping with `clock`.
    pub fn new(clock: Clock) -> Book {
        Book {
            inner: Arc::default(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Appends are whole pushes: a panic elsewhere leaves nothing half-written.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ns(&self) -> u64 {
        self.clock.now().as_nanos()
    }

    /// Files a packet our stack sent (`outbound`) or received.
    pub fn packet(&self, t_ns: u64, data: &[u8], outbound: bool) {
        let Some((key, flags, seq, payload)) = tcp_key(data, outbound) else {
            // ICMP, or something unparsable: not part of any connection's life.
            return;
        };
        let mut inner = self.lock();
        if !inner.live.contains_key(&key) && inner.live.len() >= LIVE_MAX {
            let oldest = inner
                .live
                .iter()
                .min_by_key(|(_, l)| l.last_ns)
                .map(|(k, _)| *k);
            if let Some(k) = oldest
                && let Some(mut live) = inner.live.remove(&k)
            {
                // Finished without analysis: the archive still gets its packets.
                live.release();
                archive(&mut inner, &live.recorder);
            }
        }
        if !inner.live.contains_key(&key) {
            inner.started += 1;
            let live = Live::new(inner.started, t_ns);
            inner.live.insert(key, live);
        }
        let Some(live) = inner.live.get_mut(&key) else {
            return;
        };
        live.last_ns = t_ns;
        let dir = usize::from(!outbound);
        let control = flags.contains(TcpFlags::SYN)
            || flags.contains(TcpFlags::FIN)
            || flags.contains(TcpFlags::RST);
        live.fin_seen |= flags.contains(TcpFlags::FIN);
        let over = live.payload.iter().any(|&p| p >= PAYLOAD_CAP);
        let keep = control
            || live.fin_seen
            || if payload > 0 {
                live.payload[dir] < PAYLOAD_CAP
            } else {
                !over
            };
        if keep {
            live.release();
            live.payload[dir] += payload as u64;
            live.recorder.packet(t_ns, data);
        } else {
            live.hold(dir, t_ns, data, seq, payload as u64);
        }
        if flags.contains(TcpFlags::RST) {
            live.ended_ns = Some(t_ns);
        }
    }

    /// Records one of our stack's state changes; CLOSED and TIME-WAIT end the connection.
    pub fn state(&self, t_ns: u64, local: SocketAddr, remote: SocketAddr, from: State, to: State) {
        let mut inner = self.lock();
        if let Some(live) = inner.live.get_mut(&(local, remote)) {
            live.recorder.state_change(t_ns, local, remote, from, to);
            live.state = Some(to);
            if matches!(to, State::Closed | State::TimeWait) {
                live.ended_ns = Some(t_ns);
            }
        }
    }

    /// Records `net`'s state changes into this book.
    pub fn follow(&self, net: &Net) {
        let book = self.clone();
        net.set_event_sink(move |event| {
            if let Event::StateChanged {
                at,
                local,
                remote,
                from,
                to,
                ..
            } = event
            {
                book.state(at.as_nanos(), local, remote, from, to);
            }
        });
    }

    /// Adds TLS secrets (NSS key log lines); only the newest are kept.
    pub fn key_log(&self, lines: &str) {
        let mut inner = self.lock();
        for line in lines.lines() {
            inner.key_lines.push_back(line.to_owned());
        }
        while inner.key_lines.len() > KEY_LINES {
            inner.key_lines.pop_front();
        }
    }

    /// The connection so far, analyzed (for `/me`).
    pub fn snapshot(&self, key: Key) -> Option<Trace> {
        let (mut recorder, keys) = {
            let inner = self.lock();
            let live = inner.live.get(&key)?;
            (so_far(live), key_text(&inner))
        };
        recorder.key_log(&keys);
        Some(recorder.finish())
    }

    /// The connections still open (the `max` that sent last most recently), oldest first,
    /// each as recorded so far.
    pub fn open(&self, max: usize) -> Vec<Lifecycle> {
        let (taken, keys) = {
            let inner = self.lock();
            let mut live: Vec<(&Key, &Live)> = inner.live.iter().collect();
            live.sort_by_key(|(_, l)| std::cmp::Reverse(l.last_ns));
            live.truncate(max);
            live.reverse();
            let taken: Vec<(Key, Live)> = live
                .into_iter()
                .map(|(k, l)| {
                    // A copy with the held-back packets recorded (and so not left out).
                    let mut copy = Live {
                        recorder: l.recorder.clone(),
                        held: l.held.clone(),
                        left_out: l.left_out.clone(),
                        elided: l.elided,
                        state: l.state,
                        ..Live::new(l.id, l.last_ns)
                    };
                    copy.release();
                    (*k, copy)
                })
                .collect();
            (taken, key_text(&inner))
        };
        // Analysis runs outside the lock: the driver records while it holds it.
        taken
            .into_iter()
            .map(|(key, mut live)| {
                live.recorder.key_log(&keys);
                Lifecycle {
                    id: live.id,
                    key,
                    trace: analyze(&live.recorder, key, &live.left_out),
                    open: true,
                    state: live.state,
                    elided: live.elided,
                }
            })
            .collect()
    }

    /// Finishes the connections that have ended (or idled out, or all with `all`), oldest
    /// first.
    pub fn sweep(&self, all: bool) -> Vec<Arc<Lifecycle>> {
        let now = self.now_ns();
        let linger = LINGER.as_nanos() as u64;
        let idle = IDLE.as_nanos() as u64;
        let (taken, keys) = {
            let mut inner = self.lock();
            let mut done: Vec<(Key, u64)> = inner
                .live
                .iter()
                .filter(|(_, l)| {
                    all || l.ended_ns.is_some_and(|t| now.saturating_sub(t) >= linger)
                        || now.saturating_sub(l.last_ns) >= idle
                })
                .map(|(k, l)| (*k, l.last_ns))
                .collect();
            done.sort_by_key(|&(_, t)| t);
            let taken: Vec<(Key, Live)> = done
                .into_iter()
                .filter_map(|(k, _)| inner.live.remove(&k).map(|l| (k, l)))
                .collect();
            (taken, key_text(&inner))
        };
        let mut out = Vec::new();
        for (key, mut live) in taken {
            live.release();
            // Analysis runs outside the lock: the driver records while it holds it.
            live.recorder.key_log(&keys);
            let trace = analyze(&live.recorder, key, &live.left_out);
            let mut inner = self.lock();
            archive(&mut inner, &live.recorder);
            let finished = Arc::new(Lifecycle {
                id: live.id,
                key,
                trace,
                open: false,
                state: live.state,
                elided: live.elided,
            });
            inner.recent.push_back(finished.clone());
            while inner.recent.len() > RECENT {
                inner.recent.pop_front();
            }
            out.push(finished);
        }
        out
    }

    /// The finished connections kept, oldest first.
    pub fn recent(&self) -> Vec<Arc<Lifecycle>> {
        self.lock().recent.iter().cloned().collect()
    }

    /// Every archived packet in time order, with the key log, for `--pcap`; and how many
    /// connections were left out of it.
    pub fn archive(&self) -> (Recorder, u64) {
        let inner = self.lock();
        let mut packets: Vec<(u64, &[u8])> = inner.archive.packets().collect();
        packets.sort_by_key(|&(t, _)| t);
        let mut out = Recorder::new();
        for (t, p) in packets {
            out.packet(t, p);
        }
        out.key_log(&key_text(&inner));
        (out, inner.archive_dropped)
    }
}

/// The record analyzed; a message whose missing bytes were all left out on purpose is whole.
fn analyze(recorder: &Recorder, key: Key, left_out: &[SeqRanges; 2]) -> Trace {
    let mut trace = recorder.finish();
    // One incarnation of the 4-tuple, as almost always: its sides are known for sure.
    if let [conn] = &mut trace.connections[..] {
        let (client, server) = if conn.server == key.0 {
            (&left_out[FROM_PEER], &left_out[FROM_US])
        } else {
            (&left_out[FROM_US], &left_out[FROM_PEER])
        };
        gaps::vouch(conn, [client, server]);
    }
    trace
}

/// A live connection's record with its held-back packets in place (a copy).
fn so_far(live: &Live) -> Recorder {
    let mut recorder = live.recorder.clone();
    let mut held: Vec<&Held> = live.held.iter().flatten().flatten().collect();
    held.sort_by_key(|h| h.t_ns);
    for h in held {
        recorder.packet(h.t_ns, &h.data);
    }
    recorder
}

fn key_text(inner: &Inner) -> String {
    let mut text = String::new();
    for line in &inner.key_lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Copies a finished connection's packets into the archive while there is room.
fn archive(inner: &mut Inner, recorder: &Recorder) {
    let bytes: usize = recorder.packets().map(|(_, p)| p.len()).sum();
    if inner.archive_bytes + bytes > ARCHIVE_CAP {
        inner.archive_dropped += 1;
        return;
    }
    inner.archive_bytes += bytes;
    for (t, p) in recorder.packets() {
        inner.archive.packet(t, p);
    }
}

/// A TCP packet's connection (our end first), flags, sequence number and payload length.
fn tcp_key(data: &[u8], outbound: bool) -> Option<(Key, TcpFlags, u32, usize)> {
    let (ip, payload) = parse_ip(data).ok()?;
    if ip.protocol != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(payload).ok()?;
    let src = SocketAddr::new(ip.src, tcp.src_port());
    let dst = SocketAddr::new(ip.dst, tcp.dst_port());
    let key = if outbound { (src, dst) } else { (dst, src) };
    Some((key, tcp.flags(), tcp.seq_number(), tcp.payload().len()))
}

/// TLS secrets (NSS key log lines) logged straight into a book, so its traces show what
/// the encrypted records carry.
pub struct BookKeys(pub Book);

impl std::fmt::Debug for BookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BookKeys")
    }
}

impl rustls::KeyLog for BookKeys {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0
            .key_log(&format!("{label} {} {}", hex(client_random), hex(secret)));
    }
}

/// Wraps a device so the book sees every packet both ways, as it crosses the device.
pub struct Recorded<D> {
    inner: D,
    book: Book,
    clock: Clock,
}

impl<D: Device> Recorded<D> {
    /// Records what crosses `inner` into `book`.
    pub fn new(inner: D, book: Book, clock: Clock) -> Recorded<D> {
        Recorded { inner, book, clock }
    }
}

impl<D: Device> Device for Recorded<D> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        let before = batch.len();
        let polled = self.inner.poll_recv(cx, batch);
        if batch.len() > before {
            let t = self.clock.now().as_nanos();
            for packet in batch.iter().skip(before) {
                self.book.packet(t, packet, false);
            }
        }
        polled
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.book.packet(self.clock.now().as_nanos(), packet, true);
        self.inner.send(packet)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synack::MemoryLink;
    use synack_core::StackConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn stack(ip: &str) -> StackConfig {
        StackConfig {
            addrs: vec![ip.parse().unwrap()],
            ..StackConfig::default()
        }
    }

    /// A response bigger than the cap: handshake and teardown are kept, the data beyond
    /// 64 KiB is counted instead, and the finished record is analyzable: the response is
    /// whole (what is missing was left out on purpose) and ends where it really ended.
    #[tokio::test]
    async fn records_both_ways_with_a_payload_cap() {
        let clock = Clock::new();
        let book = Book::new(clock);
        let (a, b) = MemoryLink::pair(1500);
        let ours = Net::new(
            stack("10.0.0.2"),
            Recorded::new(a, book.clone(), clock),
            clock,
        );
        book.follow(&ours);
        let peer = Net::new(stack("10.0.0.1"), b, clock);
        let listener = ours.listen("10.0.0.2:80".parse().unwrap()).unwrap();
        let len = 300_000;
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                let mut byte = [0];
                s.read_exact(&mut byte).await.unwrap();
                request.push(byte[0]);
            }
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 299957\r\n\r\n";
            let mut response = head.to_vec();
            response.resize(len, 7);
            s.write_all(&response).await.unwrap();
            s.shutdown().await.unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.unwrap();
        });
        let mut c = peer.connect("10.0.0.2:80".parse().unwrap()).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.unwrap();
        c.shutdown().await.unwrap();
        server.await.unwrap();
        assert_eq!(got.len(), len);
        let mut finished = Vec::new();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            finished.extend(book.sweep(false));
            if !finished.is_empty() {
                break;
            }
        }
        assert_eq!(
            finished.len(),
            1,
            "the connection ends by its state changes"
        );
        let f = &finished[0];
        assert!(f.elided.segments[FROM_US] > 100, "{:?} elided", f.elided);
        assert!(!f.open);
        assert_eq!(f.state, Some(State::TimeWait), "we closed first");
        let conn = &f.trace.connections[0];
        assert_eq!(conn.server, "10.0.0.2:80".parse().unwrap());
        let flags = |flag| {
            conn.segments
                .iter()
                .filter(|s| s.flags.contains(flag))
                .count()
        };
        assert_eq!(flags(TcpFlags::SYN), 2);
        assert_eq!(flags(TcpFlags::FIN), 2);
        let kept: usize = conn
            .segments
            .iter()
            .filter(|s| s.from == synack_trace::Side::Server)
            .map(|s| s.len)
            .sum();
        assert!(
            (PAYLOAD_CAP as usize..PAYLOAD_CAP as usize + 4500).contains(&kept),
            "{kept}"
        );
        // What was left out adds up with what was kept, and the last data segment is on
        // the record: the response's end is where it really was.
        assert_eq!(kept as u64 + f.elided.payload[FROM_US], len as u64);
        let last_data = conn
            .segments
            .iter()
            .rev()
            .find(|s| s.from == synack_trace::Side::Server && s.len > 0)
            .unwrap();
        assert_eq!(last_data.seq as usize + last_data.len, len + 1);
        assert!(conn.segments.iter().all(|s| !s.retransmission));
        let response = conn
            .http
            .iter()
            .find(|m| m.from == synack_trace::Side::Server)
            .unwrap();
        assert_eq!(response.end_offset, len as u64);
        assert!(response.complete, "{response:?}");
        assert_eq!(response.t_last_ns, last_data.t_ns);
        let phase = conn
            .phases
            .iter()
            .find(|p| p.name == synack_trace::PhaseName::HttpResponse)
            .unwrap();
        assert!(
            phase.complete && phase.end_ns == last_data.t_ns,
            "{phase:?}"
        );
        assert_eq!(book.recent().len(), 1);
        assert!(book.archive().0.packet_count() >= conn.segments.len());
    }
}
