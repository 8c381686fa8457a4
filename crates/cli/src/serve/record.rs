//! What `serve` and `get` record: every packet crossing the TUN device, both ways, filed by
//! connection (4-tuple), with the state changes our stack reports.
//!
//! Memory is bounded: each connection keeps every segment whole until [`PAYLOAD_CAP`] bytes
//! of payload have been recorded in a direction; after that, that direction's data segments
//! are recorded with their IP and TCP headers only (snapped: the record knows their length on
//! the wire, so sequence space, phases, retransmissions and end times stay right and the ladder
//! shows `len 1448 (0 captured)`). Beyond [`PACKET_CAP`] packets a connection, only SYNs, FINs
//! and RSTs are recorded; the rest are counted. Connections are numbered as they start, and
//! can be looked at while still open ([`Book::open`]); finished ones are kept for
//! `/connections` ([`RECENT`] of them, [`RECENT_SEGMENTS`] segments in all) and in an archive
//! for `--pcap` (up to [`ARCHIVE_CAP`] bytes).

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

use crate::demo::body::hex;

/// Payload bytes recorded per connection and direction before data segments are cut to their
/// headers.
pub const PAYLOAD_CAP: u64 = 64 * 1024;
/// Packets recorded per connection, beyond which only SYNs, FINs and RSTs are: enough for
/// some 500 MiB of transfer. Once cut a packet costs ~100 bytes recorded (~50 MB at the cap)
/// and ~450 analyzed (~240 MB while the connection is finished and kept, see
/// [`RECENT_SEGMENTS`]).
pub const PACKET_CAP: usize = 1 << 19;
/// SYNs, FINs and RSTs recorded beyond [`PACKET_CAP`]: a flood of them stays bounded too.
const CONTROL_EXTRA: usize = 1024;
/// Finished connections kept for `/connections`.
pub const RECENT: usize = 32;
/// Segments kept in all among the finished connections for `/connections`: analyzed, each
/// costs about 450 bytes (~230 MB in all). Older connections go first; the newest always
/// stays, however long.
pub const RECENT_SEGMENTS: usize = 1 << 19;
/// Bytes of packets kept for `--pcap` (with [`PACKET_OVERHEAD`] each); later connections are
/// left out of the capture.
pub const ARCHIVE_CAP: usize = 64 * 1024 * 1024;
/// What the archive's index costs per packet, counted against [`ARCHIVE_CAP`].
const PACKET_OVERHEAD: usize = 40;
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
/// not kept.
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
    /// What was not kept beyond the caps.
    pub elided: Elided,
}

/// What the caps left out, per direction (indexed by [`FROM_US`] and [`FROM_PEER`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Elided {
    /// Segments recorded with their headers only (beyond [`PAYLOAD_CAP`]): on the record,
    /// their payload is not.
    pub cut: [u64; 2],
    /// The payload bytes of those segments, not kept.
    pub uncaptured: [u64; 2],
    /// Segments not recorded at all (beyond [`PACKET_CAP`]).
    pub dropped: [u64; 2],
    /// The payload bytes of those segments.
    pub dropped_payload: [u64; 2],
}

/// Index of what our stack sent, in [`Elided`]'s arrays.
pub const FROM_US: usize = 0;
/// Index of what the peer sent.
pub const FROM_PEER: usize = 1;

impl Elided {
    /// Segments not recorded whole (cut or dropped), both ways.
    pub fn total_segments(&self) -> u64 {
        self.cut.iter().chain(&self.dropped).sum()
    }
}

/// One connection being followed.
#[derive(Clone)]
struct Live {
    id: u64,
    recorder: Recorder,
    /// Payload kept so far: [from us, from the peer].
    payload: [u64; 2],
    elided: Elided,
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
            elided: Elided::default(),
            state: None,
            last_ns: t_ns,
            ended_ns: None,
        }
    }

    /// Records a packet sent in direction `dir`: whole, cut to its headers, or (beyond the
    /// packet cap) only counted.
    fn record(&mut self, t_ns: u64, data: &[u8], dir: usize, seg: &Segment) {
        let control = seg.flags.contains(TcpFlags::SYN)
            || seg.flags.contains(TcpFlags::FIN)
            || seg.flags.contains(TcpFlags::RST);
        let count = self.recorder.packet_count();
        if count >= PACKET_CAP && !(control && count < PACKET_CAP + CONTROL_EXTRA) {
            self.elided.dropped[dir] += 1;
            self.elided.dropped_payload[dir] += seg.payload;
            return;
        }
        let headers = data.get(..seg.headers);
        match headers {
            Some(headers) if seg.payload > 0 && self.payload[dir] >= PAYLOAD_CAP => {
                self.elided.cut[dir] += 1;
                self.elided.uncaptured[dir] += seg.payload;
                self.recorder.packet_snapped(t_ns, headers, data.len());
            }
            _ => {
                self.payload[dir] += seg.payload;
                self.recorder.packet(t_ns, data);
            }
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
        // Classified from the whole packet, before any cutting.
        let Some(seg) = tcp_segment(data, outbound) else {
            // ICMP, or something unparsable: not part of any connection's life.
            return;
        };
        let key = seg.key;
        let mut inner = self.lock();
        if !inner.live.contains_key(&key) && inner.live.len() >= LIVE_MAX {
            let oldest = inner
                .live
                .iter()
                .min_by_key(|(_, l)| l.last_ns)
                .map(|(k, _)| *k);
            if let Some(k) = oldest
                && let Some(live) = inner.live.remove(&k)
            {
                // Finished without analysis: the archive still gets its packets.
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
        live.record(t_ns, data, usize::from(!outbound), &seg);
        if seg.flags.contains(TcpFlags::RST) {
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
            let taken: Vec<(Key, Live)> = live.into_iter().map(|(k, l)| (*k, l.clone())).collect();
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
                    trace: analyze(&live.recorder),
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
            // Analysis runs outside the lock: the driver records while it holds it.
            live.recorder.key_log(&keys);
            let trace = analyze(&live.recorder);
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
            let mut segments: usize = inner.recent.iter().map(|f| f.trace.segments()).sum();
            while inner.recent.len() > RECENT
                || (inner.recent.len() > 1 && segments > RECENT_SEGMENTS)
            {
                if let Some(old) = inner.recent.pop_front() {
                    segments -= old.trace.segments();
                }
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
        // With their lengths on the wire: the cut ones stay snapped in the capture.
        let mut packets: Vec<(u64, &[u8], usize)> = inner.archive.packets_with_len().collect();
        packets.sort_by_key(|&(t, _, _)| t);
        let mut out = Recorder::new();
        for (t, p, len) in packets {
            out.packet_snapped(t, p, len);
        }
        out.key_log(&key_text(&inner));
        (out, inner.archive_dropped)
    }
}

/// The record analyzed (a plain-HTTP phase whose bytes all crossed the device is finished,
/// even where they were cut from the record: `HttpMessage::seen`).
fn analyze(recorder: &Recorder) -> Trace {
    recorder.finish()
}

/// A live connection's record so far (a copy).
fn so_far(live: &Live) -> Recorder {
    live.recorder.clone()
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
    let bytes: usize = recorder
        .packets_with_len()
        .map(|(_, p, _)| p.len() + PACKET_OVERHEAD)
        .sum();
    if inner.archive_bytes + bytes > ARCHIVE_CAP {
        inner.archive_dropped += 1;
        return;
    }
    inner.archive_bytes += bytes;
    for (t, p, len) in recorder.packets_with_len() {
        inner.archive.packet_snapped(t, p, len);
    }
}

/// What filing a TCP packet needs to know about it.
struct Segment {
    /// Our end first.
    key: Key,
    flags: TcpFlags,
    /// Payload bytes.
    payload: u64,
    /// Length of its IP and TCP headers (options included): where it is cut.
    headers: usize,
}

/// A TCP packet's connection, flags, payload and header lengths; `None` for anything else.
fn tcp_segment(data: &[u8], outbound: bool) -> Option<Segment> {
    let (ip, payload) = parse_ip(data).ok()?;
    if ip.protocol != IpProtocol::Tcp {
        return None;
    }
    // The IP payload lies inside `data`: its start is the IP header's length (options and
    // IPv6 extension headers included), whatever padding follows the packet.
    let ip_len = (payload.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
    let tcp = TcpPacket::new_checked(payload).ok()?;
    let src = SocketAddr::new(ip.src, tcp.src_port());
    let dst = SocketAddr::new(ip.dst, tcp.dst_port());
    Some(Segment {
        key: if outbound { (src, dst) } else { (dst, src) },
        flags: tcp.flags(),
        payload: tcp.payload().len() as u64,
        headers: ip_len.checked_add(tcp.header_len())?,
    })
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

    /// Serves one GET over a memory link through a recorded device: a response of `len`
    /// bytes, then both sides close. Returns the finished connection and the book.
    async fn big_response(len: usize) -> (Arc<Lifecycle>, Book) {
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
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                let mut byte = [0];
                s.read_exact(&mut byte).await.unwrap();
                request.push(byte[0]);
            }
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: ";
            let mut response = head.to_vec();
            let digits = (len - head.len() - 4).to_string().len();
            let body = len - head.len() - digits - 4;
            response.extend_from_slice(format!("{body}\r\n\r\n").as_bytes());
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
        (finished.remove(0), book)
    }

    /// A response bigger than the cap: every segment is on the record, those beyond 64 KiB
    /// cut to their headers, and the finished record is analyzable: the response's phase is
    /// finished (its bytes all crossed) though the message is not wholly captured, and it
    /// ends where it really ended.
    #[tokio::test]
    async fn records_both_ways_with_a_payload_cap() {
        let len = 300_000;
        let (f, book) = big_response(len).await;
        assert!(f.elided.cut[FROM_US] > 100, "{:?} elided", f.elided);
        assert_eq!(f.elided.cut[FROM_PEER], 0, "a short request");
        assert_eq!(f.elided.dropped, [0, 0]);
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
        let from_us = || {
            conn.segments
                .iter()
                .filter(|s| s.from == synack_trace::Side::Server)
        };
        let kept: usize = from_us().map(|s| s.captured).sum();
        assert!(
            (PAYLOAD_CAP as usize..PAYLOAD_CAP as usize + 4500).contains(&kept),
            "{kept}"
        );
        // What was cut adds up with what was kept, and so do the lengths on the record.
        assert_eq!(kept as u64 + f.elided.uncaptured[FROM_US], len as u64);
        assert_eq!(from_us().map(|s| s.len).sum::<usize>(), len);
        let last_data = from_us().rev().find(|s| s.len > 0).unwrap();
        assert_eq!(last_data.seq as usize + last_data.len, len + 1);
        assert_eq!(last_data.captured, 0);
        assert!(conn.segments.iter().all(|s| !s.retransmission));
        let response = conn
            .http
            .iter()
            .find(|m| m.from == synack_trace::Side::Server)
            .unwrap();
        assert_eq!(response.end_offset, len as u64);
        assert!(!response.complete, "not every byte was kept: {response:?}");
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
        // The capture holds every packet, the cut ones with their lengths on the wire.
        let (archive, left_out) = book.archive();
        assert_eq!(left_out, 0);
        assert_eq!(archive.packet_count(), conn.segments.len());
        let snapped = archive
            .packets_with_len()
            .filter(|&(_, p, wire)| p.len() < wire)
            .count();
        assert_eq!(snapped as u64, f.elided.cut[FROM_US]);
        let again = archive.finish();
        assert_eq!(again.connections[0].segments, conn.segments);
    }

    /// A big response's ladder, unfolded, has a row for every segment, the cut ones marked
    /// `(0 captured)`, and its sequence numbers run on without a jump.
    #[tokio::test]
    async fn a_big_responses_ladder_shows_every_segment() {
        let len = 200_000;
        let (f, _) = big_response(len).await;
        let conn = &f.trace.connections[0];
        let mut next = 1;
        let mut cut = 0;
        for s in conn
            .segments
            .iter()
            .filter(|s| s.from == synack_trace::Side::Server && s.len > 0)
        {
            assert_eq!(s.seq, next, "no jump in sequence space");
            next += s.len as u32;
            if s.captured < s.len {
                assert_eq!(s.captured, 0, "cut to its headers");
                cut += 1;
            }
        }
        assert_eq!(next as usize, len + 1);
        assert_eq!(cut, f.elided.cut[FROM_US]);
        let options = synack_trace::ladder::LadderOptions {
            color: false,
            width: 120,
            fold_after: None,
            ..Default::default()
        };
        let ladder = synack_trace::ladder::render(&f.trace, None, &options);
        let marked = ladder
            .lines()
            .filter(|l| l.contains(" (0 captured)"))
            .count();
        assert_eq!(marked as u64, cut, "{ladder}");
        let last = conn.segments.iter().rev().find(|s| s.len > 0).unwrap();
        assert!(
            ladder.contains(&format!("seq {}", last.seq)),
            "the last data segment is drawn: {ladder}"
        );
        assert!(!ladder.contains("incomplete"), "{ladder}");
    }

    /// Beyond the packet cap a connection's record takes only SYNs, FINs and RSTs; the rest
    /// are counted with their payload. Before it, payload beyond 64 KiB is cut, not dropped.
    #[test]
    fn beyond_the_packet_cap_only_control_segments_are_recorded() {
        let key = (
            "10.0.0.2:80".parse().unwrap(),
            "10.0.0.1:1".parse().unwrap(),
        );
        let seg = |flags, payload: usize| Segment {
            key,
            flags,
            payload: payload as u64,
            headers: 40,
        };
        // What the recorder keeps is not parsed until analysis: any bytes do here.
        let packet = [0u8; 140];
        let mut live = Live::new(1, 0);
        live.record(0, &packet[..40], FROM_PEER, &seg(TcpFlags::SYN, 0));
        for t in 1..=PACKET_CAP as u64 + 10 {
            live.record(t, &packet, FROM_US, &seg(TcpFlags::ACK, 100));
        }
        let fin = TcpFlags::FIN | TcpFlags::ACK;
        live.record(u64::MAX, &packet, FROM_US, &seg(fin, 100));
        assert_eq!(live.recorder.packet_count(), PACKET_CAP + 1);
        let e = live.elided;
        assert_eq!(e.dropped, [11, 0]);
        assert_eq!(e.dropped_payload, [1100, 0]);
        // 656 packets of 100 bytes reach the cap; the rest, FIN included, are cut.
        let whole = PAYLOAD_CAP.div_ceil(100);
        assert_eq!(e.cut, [PACKET_CAP as u64 - whole, 0]);
        assert_eq!(e.uncaptured, [e.cut[FROM_US] * 100, 0]);
        assert_eq!(e.total_segments(), e.cut[FROM_US] + 11);
        let (t, kept, wire) = live.recorder.packets_with_len().last().unwrap();
        assert_eq!((t, kept.len(), wire), (u64::MAX, 40, 140), "the FIN, cut");
    }
}
