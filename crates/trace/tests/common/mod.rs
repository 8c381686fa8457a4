//! A capture written like a story: at time T this side sends this. Packets are built with
//! etherparse, independent of synack's own emitters.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

pub mod exchange;

use etherparse::{PacketBuilder, TcpOptionElement};
use synack_trace::{Recorder, Side, Trace};

pub const CLIENT: &str = "10.0.0.1:49152";
pub const SERVER: &str = "10.0.0.2:80";

/// The options Linux puts on a SYN.
pub fn syn_options(ts: u32) -> Vec<TcpOptionElement> {
    vec![
        TcpOptionElement::MaximumSegmentSize(1460),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
        TcpOptionElement::Timestamp(ts, 0),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ]
}

/// One segment's header fields.
#[derive(Clone, Default)]
pub struct Seg {
    pub seq: u32,
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub win: u16,
    pub options: Vec<TcpOptionElement>,
}

/// Builds an IP packet holding a TCP segment.
pub fn packet(src: SocketAddr, dst: SocketAddr, seg: &Seg, payload: &[u8]) -> Vec<u8> {
    let builder = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed address families"),
    };
    let mut b = builder.tcp(src.port(), dst.port(), seg.seq, seg.win);
    if let Some(ack) = seg.ack {
        b = b.ack(ack);
    }
    if seg.syn {
        b = b.syn();
    }
    if seg.fin {
        b = b.fin();
    }
    if seg.rst {
        b = b.rst();
    }
    if seg.psh {
        b = b.psh();
    }
    if !seg.options.is_empty() {
        b = b.options(&seg.options).expect("options fit");
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("packet builds");
    out
}

/// Both ends of one connection, tracking their sequence numbers as a real exchange would.
pub struct Script {
    pub rec: Recorder,
    pub client: SocketAddr,
    pub server: SocketAddr,
    isn: [u32; 2],
    /// Next sequence number each side sends.
    next: [u32; 2],
    /// Window field each side advertises after the handshake.
    pub win: [u16; 2],
}

fn ix(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Script {
    pub fn new(client_isn: u32, server_isn: u32) -> Script {
        Script::between(CLIENT, SERVER, client_isn, server_isn)
    }

    pub fn between(client: &str, server: &str, client_isn: u32, server_isn: u32) -> Script {
        Script {
            rec: Recorder::new(),
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
            isn: [client_isn, server_isn],
            next: [client_isn, server_isn],
            win: [502, 509],
        }
    }

    fn addrs(&self, from: Side) -> (SocketAddr, SocketAddr) {
        match from {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        }
    }

    /// Sends a raw segment at `t_us` microseconds.
    pub fn send(&mut self, t_us: u64, from: Side, seg: Seg, payload: &[u8]) {
        let (src, dst) = self.addrs(from);
        let p = packet(src, dst, &seg, payload);
        self.rec.packet(t_us * 1_000, &p);
    }

    /// What `from` acknowledges: everything the peer sent so far.
    fn ack_of(&self, from: Side) -> u32 {
        self.next[ix(from.peer())]
    }

    /// The next segment from `from`, advancing its sequence number.
    fn next_seg(&mut self, from: Side, payload_len: usize, syn: bool, fin: bool) -> Seg {
        let seq = self.next[ix(from)];
        let used = payload_len as u32 + u32::from(syn) + u32::from(fin);
        self.next[ix(from)] = seq.wrapping_add(used);
        Seg {
            seq,
            win: self.win[ix(from)],
            syn,
            fin,
            ..Seg::default()
        }
    }

    pub fn syn(&mut self, t_us: u64) {
        let mut seg = self.next_seg(Side::Client, 0, true, false);
        (seg.win, seg.options) = (64240, syn_options(1000));
        self.send(t_us, Side::Client, seg, &[]);
    }

    pub fn syn_ack(&mut self, t_us: u64) {
        let ack = Some(self.ack_of(Side::Server));
        let mut seg = self.next_seg(Side::Server, 0, true, false);
        (seg.win, seg.options, seg.ack) = (65160, syn_options(2000), ack);
        self.send(t_us, Side::Server, seg, &[]);
    }

    pub fn handshake(&mut self, t_us: u64) {
        self.syn(t_us);
        self.syn_ack(t_us + 20);
        self.ack(t_us + 30, Side::Client);
    }

    /// A pure ACK of everything received.
    pub fn ack(&mut self, t_us: u64, from: Side) {
        let ack = Some(self.ack_of(from));
        let seg = Seg {
            ack,
            ..self.next_seg(from, 0, false, false)
        };
        self.send(t_us, from, seg, &[]);
    }

    /// A pure ACK with a chosen relative ack number.
    pub fn ack_rel(&mut self, t_us: u64, from: Side, rel_ack: u32) {
        let ack = Some(self.isn[ix(from.peer())].wrapping_add(rel_ack));
        let seg = Seg {
            ack,
            ..self.next_seg(from, 0, false, false)
        };
        self.send(t_us, from, seg, &[]);
    }

    /// Data with PSH, ACK.
    pub fn data(&mut self, t_us: u64, from: Side, payload: &[u8]) {
        let ack = Some(self.ack_of(from));
        let seg = Seg {
            ack,
            psh: true,
            ..self.next_seg(from, payload.len(), false, false)
        };
        self.send(t_us, from, seg, payload);
    }

    /// Data at a chosen relative sequence number (a retransmission or a reordered segment);
    /// the sender's next sequence number moves only forward.
    pub fn data_at(&mut self, t_us: u64, from: Side, rel_seq: u32, payload: &[u8]) {
        let seq = self.isn[ix(from)].wrapping_add(rel_seq);
        let end = seq.wrapping_add(payload.len() as u32);
        if (end.wrapping_sub(self.next[ix(from)]) as i32) > 0 {
            self.next[ix(from)] = end;
        }
        let ack = Some(self.ack_of(from));
        let seg = Seg {
            seq,
            ack,
            psh: true,
            win: self.win[ix(from)],
            ..Seg::default()
        };
        self.send(t_us, from, seg, payload);
    }

    /// FIN, ACK.
    pub fn fin(&mut self, t_us: u64, from: Side) {
        let ack = Some(self.ack_of(from));
        let seg = Seg {
            ack,
            ..self.next_seg(from, 0, false, true)
        };
        self.send(t_us, from, seg, &[]);
    }

    /// The four segments of an orderly close started by `first`.
    pub fn close(&mut self, t_us: u64, first: Side) {
        self.fin(t_us, first);
        self.ack(t_us + 10, first.peer());
        self.fin(t_us + 20, first.peer());
        self.ack(t_us + 30, first);
    }

    /// RST, ACK.
    pub fn rst(&mut self, t_us: u64, from: Side) {
        let ack = Some(self.ack_of(from));
        let seg = Seg {
            ack,
            rst: true,
            seq: self.next[ix(from)],
            ..Seg::default()
        };
        self.send(t_us, from, seg, &[]);
    }

    pub fn finish(&self) -> Trace {
        self.rec.finish()
    }
}

/// Response bytes of a given body length: the byte at offset i is `i mod 251`, as the demo
/// generates bodies.
pub fn response(body_len: usize) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\n\r\n").into_bytes();
    out.extend((0..body_len).map(|i| (i % 251) as u8));
    out
}

pub const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: 10.0.0.2\r\n\r\n";

/// Compares `actual` with the file under tests/snapshots; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "ladder differs from {} (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}
