//! Collects what crossed a link. Appending is a copy into one growing buffer; all parsing
//! waits for [`Recorder::finish`], so recording stays cheap on a hot path.

use std::net::SocketAddr;
use std::ops::Range;

use synack_core::tcp::State;

use crate::analyze;
use crate::model::Trace;

/// Packets and state changes in the order they were recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// Every packet's bytes, back to back.
    pub(crate) bytes: Vec<u8>,
    pub(crate) packets: Vec<PacketInput>,
    pub(crate) states: Vec<StateInput>,
    /// TLS secrets in the NSS key log format, as given to [`Recorder::key_log`].
    pub(crate) key_log: String,
    /// Count of inputs so far: orders events that share a timestamp.
    next_order: u64,
}

/// A packet: its time, where its bytes are in `Recorder::bytes`, its recording order, and
/// its length on the wire (more than the bytes kept when it was snapped).
#[derive(Debug, Clone)]
pub(crate) struct PacketInput {
    pub t_ns: u64,
    pub order: u64,
    pub range: Range<usize>,
    pub original_len: usize,
}

/// A state change as reported.
#[derive(Debug, Clone)]
pub(crate) struct StateInput {
    pub t_ns: u64,
    pub order: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub from: State,
    pub to: State,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// An IP packet (IPv4 or IPv6, starting at the IP header) as it crossed the link at t_ns,
    /// every byte of it kept.
    pub fn packet(&mut self, t_ns: u64, data: &[u8]) {
        self.packet_snapped(t_ns, data, data.len());
    }

    /// An IP packet of which only the first bytes were kept: `data` holds them (at least the
    /// IP and TCP headers, for the packet to be analyzed), `original_len` is the packet's
    /// length on the wire. The analysis counts the sequence space the headers claim and
    /// treats the payload bytes not kept as unknown (a hole in the stream, never a
    /// retransmission). An `original_len` below `data.len()` is taken as `data.len()`.
    pub fn packet_snapped(&mut self, t_ns: u64, data: &[u8], original_len: usize) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        let order = self.bump();
        let range = start..self.bytes.len();
        let original_len = original_len.max(data.len());
        let input = PacketInput {
            t_ns,
            order,
            range,
            original_len,
        };
        self.packets.push(input);
    }

    /// A connection state change reported by a stack; `local` is the reporting side.
    pub fn state_change(
        &mut self,
        t_ns: u64,
        local: SocketAddr,
        remote: SocketAddr,
        from: State,
        to: State,
    ) {
        let order = self.bump();
        let input = StateInput {
            t_ns,
            order,
            local,
            remote,
            from,
            to,
        };
        self.states.push(input);
    }

    /// TLS secrets (NSS key log lines, as SSLKEYLOGFILE holds them) that let the analysis
    /// decrypt and name what TLS hides. Lines may come in any order relative to packets.
    pub fn key_log(&mut self, lines: &str) {
        self.key_log.push_str(lines);
        if !self.key_log.is_empty() && !self.key_log.ends_with('\n') {
            self.key_log.push('\n');
        }
    }

    /// The key log lines given so far.
    pub fn key_log_text(&self) -> &str {
        &self.key_log
    }

    /// Every recorded packet as (time in ns, IP packet bytes kept), in recording order.
    pub fn packets(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.packets.iter().map(|p| (p.t_ns, self.data(p)))
    }

    /// Every recorded packet as (time in ns, IP packet bytes kept, length on the wire), in
    /// recording order; the length exceeds the bytes kept for a snapped packet.
    pub fn packets_with_len(&self) -> impl Iterator<Item = (u64, &[u8], usize)> {
        let all = self.packets.iter();
        all.map(|p| (p.t_ns, self.data(p), p.original_len))
    }

    /// Packets recorded so far.
    pub fn packet_count(&self) -> usize {
        self.packets.len()
    }

    /// Analyze everything recorded.
    pub fn finish(&self) -> Trace {
        analyze::analyze(self)
    }

    fn bump(&mut self) -> u64 {
        let order = self.next_order;
        self.next_order += 1;
        order
    }

    /// The bytes of one recorded packet.
    pub(crate) fn data(&self, p: &PacketInput) -> &[u8] {
        &self.bytes[p.range.clone()]
    }
}
