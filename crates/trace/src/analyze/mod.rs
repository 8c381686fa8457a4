//! The analysis: recorded packets are parsed, grouped into connections by 4-tuple, and each
//! connection is analyzed on its own; state changes are then attached to their connection.
//!
//! Only packets (and the optional state changes) are used, never knowledge of a stack's
//! internals, so a capture made by tcpdump analyzes the same way as one made by the demo.

mod connection;
pub(crate) mod options;
mod packet;
mod phases;
pub(crate) mod seqspace;
mod states;
pub(crate) mod stream;
mod tls_conn;

use std::collections::HashMap;
use std::net::SocketAddr;

use synack_core::wire::TcpFlags;

use crate::KeyLog;
use crate::model::{TimelineRef, Trace};
use crate::recorder::Recorder;
use packet::{Parsed, Segment};

/// A 4-tuple regardless of direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(SocketAddr, SocketAddr);

impl Key {
    pub fn new(a: SocketAddr, b: SocketAddr) -> Key {
        if a <= b { Key(a, b) } else { Key(b, a) }
    }
}

/// Segments of one connection while grouping, with what decides whether a new SYN on the same
/// 4-tuple belongs to it.
#[derive(Default)]
struct Group<'a> {
    segs: Vec<Segment<'a>>,
    /// (sender, ISN) of each SYN-only segment's sender.
    syns: Vec<(SocketAddr, u32)>,
    fin_from: Vec<SocketAddr>,
    reset: bool,
}

impl<'a> Group<'a> {
    fn push(&mut self, s: Segment<'a>) {
        if s.is_syn_only() && !self.syns.iter().any(|&(a, _)| a == s.src) {
            self.syns.push((s.src, s.tcp.seq));
        }
        if s.has(TcpFlags::FIN) && !self.fin_from.contains(&s.src) {
            self.fin_from.push(s.src);
        }
        self.reset |= s.has(TcpFlags::RST);
        self.segs.push(s);
    }

    /// Whether `s` opens a new connection on this 4-tuple rather than continuing this one.
    fn starts_new(&self, s: &Segment) -> bool {
        if !s.is_syn_only() {
            return false;
        }
        match self.syns.iter().find(|&&(a, _)| a == s.src) {
            // The same SYN again: a retransmission.
            Some(&(_, isn)) if isn == s.tcp.seq => false,
            // The same sender with a new ISN: the port pair is being reused.
            Some(_) => true,
            // A SYN from the side that has not sent one: simultaneous open, unless this
            // connection is over.
            None => self.reset || self.fin_from.len() == 2,
        }
    }
}

/// Analyzes everything recorded.
pub(crate) fn analyze(rec: &Recorder) -> Trace {
    let mut trace = Trace::default();
    let mut packets: Vec<_> = rec.packets.iter().collect();
    packets.sort_by_key(|p| (p.t_ns, p.order));

    let mut groups: Vec<Group> = Vec::new();
    let mut current: HashMap<Key, usize> = HashMap::new();
    for p in packets {
        let seg = match packet::parse(p.t_ns, p.order, rec.data(p), p.original_len) {
            Parsed::Tcp(seg) => seg,
            Parsed::NotTcp => {
                trace.non_tcp_packets += 1;
                continue;
            }
            Parsed::Malformed => {
                trace.malformed_packets += 1;
                continue;
            }
        };
        let key = Key::new(seg.src, seg.dst);
        let index = match current.get(&key) {
            Some(&i) if !groups[i].starts_new(&seg) => i,
            _ => {
                groups.push(Group::default());
                current.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[index].push(seg);
    }

    let keys = KeyLog::parse(&rec.key_log);
    for (i, g) in groups.iter().enumerate() {
        let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut conn = connection::build(id, &g.segs, &keys);
        let orders = g.segs.iter().enumerate();
        conn.timeline = orders
            .map(|(i, s)| (s.order, TimelineRef::Segment(i)))
            .collect();
        trace.connections.push(conn);
    }
    trace.unmatched_states = states::attach(&mut trace.connections, &rec.states);

    let first_packet = rec.packets.iter().map(|p| p.t_ns).min();
    let first_state = rec.states.iter().map(|s| s.t_ns).min();
    trace.start_ns = first_packet
        .into_iter()
        .chain(first_state)
        .min()
        .unwrap_or(0);
    trace
}
