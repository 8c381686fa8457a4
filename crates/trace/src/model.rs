//! What the analysis produces: connections with their segments, state changes, phases and
//! HTTP messages. Renderers read these; nothing here knows how they were built.

use std::net::SocketAddr;

use synack_core::tcp::State;
use synack_core::wire::TcpFlags;

/// One end of a connection. The client is the side that sent the first SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Sent the first SYN (or, mid-connection, has the higher port).
    Client,
    /// Answered it.
    Server,
}

impl Side {
    /// `"client"` or `"server"`, as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// Everything recorded, analyzed into connections.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Connections in order of their first packet; `id` is the position plus one.
    pub connections: Vec<ConnectionTrace>,
    /// Packets that did not parse as IP, or carried a TCP header that did not parse.
    pub malformed_packets: usize,
    /// IP packets that parsed but carry something other than TCP (ICMP, UDP, ...).
    pub non_tcp_packets: usize,
    /// State changes whose 4-tuple matched no connection.
    pub unmatched_states: usize,
    /// Time of the earliest input (packet or state change): the ladder's zero.
    pub start_ns: u64,
}

impl Trace {
    /// Segments in all connections.
    pub fn segments(&self) -> usize {
        self.connections.iter().map(|c| c.segments.len()).sum()
    }

    /// Segments marked as retransmissions, in all connections.
    pub fn retransmissions(&self) -> usize {
        let segs = self.connections.iter().flat_map(|c| &c.segments);
        segs.filter(|s| s.retransmission).count()
    }

    /// HTTP requests seen, in all connections.
    pub fn requests(&self) -> usize {
        let msgs = self.connections.iter().flat_map(|c| &c.http);
        msgs.filter(|m| m.from == Side::Client).count()
    }

    /// Segments and state changes of every connection, merged in the order they happened.
    pub fn events(&self) -> Vec<(&ConnectionTrace, Event<'_>)> {
        let mut all: Vec<(u64, u64, &ConnectionTrace, Event<'_>)> = Vec::new();
        for c in &self.connections {
            for (order, e) in c.ordered_events() {
                all.push((e.t_ns(), order, c, e));
            }
        }
        // Stable order: time first, then the order the inputs were recorded in.
        all.sort_by_key(|&(t, order, ..)| (t, order));
        all.into_iter().map(|(_, _, c, e)| (c, e)).collect()
    }
}

/// One connection: a 4-tuple from a SYN (or the first packet seen) to its end.
#[derive(Debug, Clone)]
pub struct ConnectionTrace {
    /// 1-based, in order of each connection's first packet.
    pub id: u32,
    /// The client's address and port.
    pub client: SocketAddr,
    /// The server's address and port.
    pub server: SocketAddr,
    /// Every segment, in time order.
    pub segments: Vec<SegmentRecord>,
    /// State changes reported by either side, in time order.
    pub states: Vec<StateRecord>,
    /// Named spans of the lifecycle, ordered by start.
    pub phases: Vec<Phase>,
    /// HTTP/1.x messages found in the two byte streams, ordered by first byte seen. On a
    /// TLS connection, in the decrypted application data (offsets are plaintext offsets).
    pub http: Vec<HttpMessage>,
    /// The TLS session, when the client's stream starts with a ClientHello.
    pub tls: Option<TlsSession>,
    /// TLS handshake messages, ChangeCipherSpecs, alerts and application data records in
    /// the two byte streams, ordered by first segment (then client first). Empty without TLS.
    pub tls_messages: Vec<TlsMessage>,
    /// Segments and states interleaved: (recording order, which).
    pub(crate) timeline: Vec<(u64, TimelineRef)>,
}

/// An index into `segments` or `states`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TimelineRef {
    Segment(usize),
    State(usize),
}

impl ConnectionTrace {
    /// Segments and state changes interleaved in the order they happened.
    pub fn events(&self) -> impl Iterator<Item = Event<'_>> {
        self.ordered_events().map(|(_, e)| e)
    }

    fn ordered_events(&self) -> impl Iterator<Item = (u64, Event<'_>)> {
        self.timeline.iter().map(|&(order, r)| {
            let e = match r {
                TimelineRef::Segment(i) => Event::Segment(&self.segments[i]),
                TimelineRef::State(i) => Event::State(&self.states[i]),
            };
            (order, e)
        })
    }

    /// The address of one side.
    pub fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::Client => self.client,
            Side::Server => self.server,
        }
    }
}

/// A segment or a state change, borrowed from a connection.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A segment crossed the link.
    Segment(&'a SegmentRecord),
    /// A stack reported a state change.
    State(&'a StateRecord),
}

impl Event<'_> {
    /// When it happened.
    pub fn t_ns(&self) -> u64 {
        match self {
            Event::Segment(s) => s.t_ns,
            Event::State(s) => s.t_ns,
        }
    }
}

/// One TCP segment as it crossed the link, with numbers made relative the way Wireshark does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    /// When it crossed the link, in the recorder's nanoseconds.
    pub t_ns: u64,
    /// Which side sent it.
    pub from: Side,
    /// Sender's address and port.
    pub src: SocketAddr,
    /// Receiver's address and port.
    pub dst: SocketAddr,
    /// Control bits as sent.
    pub flags: TcpFlags,
    /// Relative to the sender's ISN: the SYN is 0, the first data byte 1.
    pub seq: u32,
    /// Relative to the receiver's ISN; 0 when ACK is not set.
    pub ack: u32,
    /// Sequence number as on the wire.
    pub seq_raw: u32,
    /// Acknowledgment number as on the wire (whatever the field holds, even without ACK).
    pub ack_raw: u32,
    /// The window in bytes: scaled once both SYNs negotiated scaling (Wireshark's
    /// "calculated window"), raw otherwise.
    pub win: u32,
    /// Payload bytes on the wire, as the headers claim.
    pub len: usize,
    /// Payload bytes captured: `len`, or fewer when the packet was snapped (a capture's
    /// snapshot length, a recorder keeping headers only). The rest are unknown: they count
    /// in sequence space but not in the reassembled stream.
    pub captured: usize,
    /// Options in wire order, NOP and EOL left out: "mss 1460", "sackOK", "ts 123 0",
    /// "ws 7", "sack 1001-2449" (relative to the receiver's ISN), "opt-N" for unknown kinds.
    pub options: Vec<String>,
    /// What the payload covers: "GET / HTTP/1.1", "[body 1448 B]", "[data 10 B]", or parts
    /// joined by " + ". On a TLS connection, TLS messages as they lie on the wire:
    /// "ServerHello (TLS 1.3, ...)", "ApplicationData [GET / HTTP/1.1]", a message that
    /// starts here and goes on "Certificate (1 cert) [1380 of 2900 B]", a later piece of it
    /// "[Certificate 1448 of 2900 B]". `None` without payload.
    pub carries: Option<String>,
    /// The segment covers sequence space (payload, SYN or FIN) its sender had already sent.
    pub retransmission: bool,
}

impl SegmentRecord {
    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    pub fn seq_len(&self) -> u64 {
        let syn = u64::from(self.flags.contains(TcpFlags::SYN));
        let fin = u64::from(self.flags.contains(TcpFlags::FIN));
        self.len as u64 + syn + fin
    }
}

/// A state change reported by one side's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    /// When it was reported.
    pub t_ns: u64,
    /// The side that reported it.
    pub side: Side,
    /// State before the change.
    pub from: State,
    /// State after the change.
    pub to: State,
}

/// A named span of a connection's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// What kind of phase.
    pub name: PhaseName,
    /// Time of its first segment.
    pub start_ns: u64,
    /// Time of its last segment.
    pub end_ns: u64,
    /// False when the capture ends (or a RST comes) before the phase does.
    pub complete: bool,
    /// Index into the connection's `segments` of the phase's first segment.
    pub first_segment: usize,
    /// Index of its last segment.
    pub last_segment: usize,
}

impl Phase {
    /// `end_ns - start_ns`.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// The kinds of phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhaseName {
    /// `tcp-3way-handshake`: from the first SYN until both SYNs are acknowledged.
    Tcp3WayHandshake,
    /// `tls-handshake`: from the ClientHello's first segment to the last segment of the
    /// handshake proper (TLS 1.3: the client's Finished; TLS 1.2: the later Finished).
    TlsHandshake,
    /// `http-request`: first to last segment carrying one request's bytes.
    HttpRequest,
    /// `http-response`: first to last segment carrying one response's bytes.
    HttpResponse,
    /// `tcp-4way-handshake`: from the first FIN until both FINs are acknowledged.
    Tcp4WayHandshake,
    /// `reset`: from the first RST to the last.
    Reset,
}

impl PhaseName {
    /// The stable name used in JSON: `tcp-3way-handshake`, `http-request`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Tcp3WayHandshake => "tcp-3way-handshake",
            PhaseName::TlsHandshake => "tls-handshake",
            PhaseName::HttpRequest => "http-request",
            PhaseName::HttpResponse => "http-response",
            PhaseName::Tcp4WayHandshake => "tcp-4way-handshake",
            PhaseName::Reset => "reset",
        }
    }

    /// A short name for people: `3-way handshake`, `request`, ...
    pub fn label(self) -> &'static str {
        match self {
            PhaseName::Tcp3WayHandshake => "3-way handshake",
            PhaseName::TlsHandshake => "TLS handshake",
            PhaseName::HttpRequest => "request",
            PhaseName::HttpResponse => "response",
            PhaseName::Tcp4WayHandshake => "4-way handshake",
            PhaseName::Reset => "reset",
        }
    }
}

/// One HTTP/1.x message found in a direction's reassembled byte stream. Offsets count from
/// that direction's first data byte (relative seq 1 is offset 0). On a TLS connection they
/// are offsets in that direction's decrypted application data (the plaintext stream), and
/// the segments and times are those of the segments carrying the records holding its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMessage {
    /// Which side sent it.
    pub from: Side,
    /// Offset of its first byte.
    pub start_offset: u64,
    /// Offset just past the blank line ending the head.
    pub head_end_offset: u64,
    /// Offset just past the body (for a body delimited by close: the end of the stream).
    pub end_offset: u64,
    /// The request or status line, e.g. "GET / HTTP/1.1", "HTTP/1.1 200 OK".
    pub first_line: String,
    /// Body bytes as the application sees them (chunk framing removed).
    pub body_len: u64,
    /// The body uses chunked transfer-coding.
    pub chunked: bool,
    /// Every byte of the message was captured.
    pub complete: bool,
    /// Every byte of the message crossed the link: captured, or inside segments kept only in
    /// part (snapped). A message can be seen whole without being captured whole; its phase
    /// then finished although its content is not all on the record.
    pub seen: bool,
    /// Time of the first segment carrying bytes of this message.
    pub t_first_ns: u64,
    /// Time of the last segment carrying bytes of this message (retransmissions included).
    pub t_last_ns: u64,
    /// Index into the connection's `segments` of the first of those segments.
    pub first_segment: usize,
    /// Index of the last of them.
    pub last_segment: usize,
}

/// What the TLS handshake of a connection negotiated, as far as the capture (and the key
/// log) shows it. Fields are `None` when the message saying it was not seen or not readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSession {
    /// The version in use: "TLS 1.3", "TLS 1.2" (from the ServerHello).
    pub version: Option<String>,
    /// The chosen cipher suite: "TLS_AES_128_GCM_SHA256", or "0x1234" when unknown.
    pub cipher_suite: Option<String>,
    /// The key-exchange group: "x25519", "secp256r1", "X25519MLKEM768", ...
    pub key_exchange: Option<String>,
    /// The server name the client asked for (SNI).
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in its order.
    pub alpn_offered: Vec<String>,
    /// The ALPN protocol the server chose (TLS 1.3: known only when decrypted).
    pub alpn: Option<String>,
    /// The server asked for another ClientHello (HelloRetryRequest).
    pub hello_retry: bool,
    /// The key log held secrets for this connection's ClientHello random.
    pub keys_found: bool,
    /// At least one record was decrypted.
    pub decrypted: bool,
    /// Records sent encrypted (TLS 1.3: every record after the ServerHello except
    /// ChangeCipherSpec; TLS 1.2: every record after each side's ChangeCipherSpec).
    pub encrypted_records: usize,
    /// Encrypted records that could not be decrypted: no keys, a failed decryption, or keys
    /// beyond this analysis (after a KeyUpdate).
    pub undecrypted_records: usize,
}

/// One TLS message in a direction's byte stream: a handshake message, a ChangeCipherSpec,
/// an alert, or an application data record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsMessage {
    /// Which side sent it.
    pub from: Side,
    /// "ClientHello", "ServerHello", "HelloRetryRequest", "EncryptedExtensions",
    /// "Certificate", "CertificateVerify", "ServerKeyExchange", "ServerHelloDone",
    /// "ClientKeyExchange", "Finished", "NewSessionTicket", "KeyUpdate", "ChangeCipherSpec",
    /// "Alert", "ApplicationData"; for records that stayed encrypted "encrypted handshake",
    /// "Alert (encrypted)", "ApplicationData (encrypted)" (TLS 1.2, whose record types are
    /// in the clear), "encrypted record" (TLS 1.3, which hides every record's type).
    pub name: String,
    /// What it says, briefly: the ClientHello's SNI, versions, key shares, ALPN and suite
    /// count; the ServerHello's version, suite and group; "1 cert"; "warning close_notify";
    /// the HTTP it carries ("GET / HTTP/1.1", "HTTP/1.1 200 OK, body 1407 B"); "compat"
    /// for TLS 1.3's compatibility ChangeCipherSpec. Empty when there is nothing to say.
    pub detail: String,
    /// It travelled in an encrypted record.
    pub encrypted: bool,
    /// It was decrypted with the key log (false when it was not encrypted).
    pub decrypted: bool,
    /// Every byte was captured.
    pub complete: bool,
    /// Offset in the sender's TCP byte stream of the first byte attributed to it: its record
    /// header when it starts a record, else its own first byte (or, when encrypted, the
    /// position its plaintext has in the ciphertext).
    pub start_offset: u64,
    /// Offset just past its last byte; a record's last message also owns the record's
    /// trailing bytes (authentication tag), so consecutive messages tile the records.
    pub end_offset: u64,
    /// Time of the first segment carrying its bytes.
    pub t_first_ns: u64,
    /// Time of the last such segment (retransmissions included).
    pub t_last_ns: u64,
    /// Index into the connection's `segments` of the first of those segments.
    pub first_segment: usize,
    /// Index of the last of them.
    pub last_segment: usize,
}

impl TlsMessage {
    /// The name and detail as one label: "ClientHello (SNI synack.test, ...)",
    /// "ApplicationData [GET / HTTP/1.1]", "Finished".
    pub fn label(&self) -> String {
        if self.detail.is_empty() {
            self.name.clone()
        } else if self.name == "ApplicationData" {
            format!("{} [{}]", self.name, self.detail)
        } else {
            format!("{} ({})", self.name, self.detail)
        }
    }
}

/// Outcome of a transfer, known to the caller (the demo hashes what it sent and received);
/// the renderers only print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Requests made.
    pub requests: u64,
    /// Bytes from server to client (response bodies).
    pub bytes_down: u64,
    /// Bytes from client to server (request bodies).
    pub bytes_up: u64,
    /// SHA-256 (hex) of what the sender sent.
    pub sha256_sent: String,
    /// SHA-256 (hex) of what the receiver received.
    pub sha256_received: String,
    /// Whether what was received is what was sent.
    pub verified: bool,
    /// Segments in the trace (usually `Trace::segments`).
    pub segments: u64,
    /// Retransmitted segments (usually `Trace::retransmissions`).
    pub retransmissions: u64,
}
