//! One connection's segments become records: who is the client, relative numbers, scaled
//! windows, retransmissions, and what each payload carries.

use std::net::SocketAddr;

use synack_core::wire::TcpFlags;

use super::options;
use super::packet::Segment;
use super::phases;
use super::seqspace::{RangeSet, Unwrapper};
use super::stream::Stream;
use super::tls_conn;
use crate::KeyLog;
use crate::http;
use crate::model::{ConnectionTrace, HttpMessage, SegmentRecord, Side};

/// RFC 7323 §2.3: a shift above 14 is used as 14.
const MAX_WINDOW_SHIFT: u8 = 14;

/// Per-side values, indexed by [`Side`].
#[derive(Debug, Clone, Copy, Default)]
struct PerSide<T>([T; 2]);

impl<T> std::ops::Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, side: Side) -> &T {
        &self.0[side as usize]
    }
}

impl<T> std::ops::IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, side: Side) -> &mut T {
        &mut self.0[side as usize]
    }
}

/// Analyzes the segments of one connection (non-empty, in time order); `keys` decrypt TLS.
/// States and the timeline are added by the caller.
pub(crate) fn build(id: u32, segs: &[Segment<'_>], keys: &KeyLog) -> ConnectionTrace {
    let (client, server) = sides(segs);
    let side_of = |s: &Segment| {
        if s.src == client {
            Side::Client
        } else {
            Side::Server
        }
    };
    let isn = initial_sequence_numbers(segs, side_of);
    let shift = window_shifts(segs, side_of);

    let mut unwrap = PerSide::<Unwrapper>::default();
    let mut sent = PerSide::<RangeSet>::default();
    let mut chunks: PerSide<Vec<(u64, &[u8])>> = PerSide::default();
    // Where each direction's bytes reach, kept or not: a snapped payload's tail is unknown,
    // not absent.
    let mut reach = PerSide::<u64>::default();
    // Each payload's stream range, to name what it carries once messages are known.
    let mut ranges = Vec::with_capacity(segs.len());
    let mut segments = Vec::with_capacity(segs.len());
    for s in segs {
        let from = side_of(s);
        let rel_seq = s.tcp.seq.wrapping_sub(isn[from]);
        let acks = s.has(TcpFlags::ACK);
        let rel_ack = if acks {
            s.tcp.ack.wrapping_sub(isn[from.peer()])
        } else {
            0
        };
        let syn = s.has(TcpFlags::SYN);
        let win = match shift[from] {
            // RFC 7323 §2.2: the window field of a SYN is never scaled.
            Some(shift) if !syn => u32::from(s.tcp.window) << shift,
            _ => u32::from(s.tcp.window),
        };

        let pos = unwrap[from].unwrap(rel_seq);
        let record = SegmentRecord {
            t_ns: s.t_ns,
            from,
            src: s.src,
            dst: s.dst,
            flags: s.tcp.flags,
            seq: rel_seq,
            ack: rel_ack,
            seq_raw: s.tcp.seq,
            ack_raw: s.tcp.ack,
            win,
            len: s.len,
            captured: s.payload.len(),
            options: options::describe(s.options, isn[from.peer()]),
            carries: None,
            retransmission: false,
        };
        let occupied = pos..pos + record.seq_len();
        let retransmission = !occupied.is_empty() && sent[from].overlaps(&occupied);
        sent[from].insert(occupied);

        // Relative seq 1 is the stream's first byte; a SYN's data follows the SYN.
        let offset = (pos + u64::from(syn)).saturating_sub(1);
        // RFC 9293 §3.10.7.1: a RST's payload is a diagnostic, not stream data.
        let range = if s.has(TcpFlags::RST) {
            None
        } else {
            // Only the bytes kept go into the stream: the rest of a snapped payload is a hole.
            chunks[from].push((offset, s.payload));
            let end = offset + s.len as u64;
            reach[from] = reach[from].max(end);
            Some(offset..end)
        };
        ranges.push(range);
        segments.push(SegmentRecord {
            retransmission,
            ..record
        });
    }

    let [client_chunks, server_chunks] = chunks.0;
    let streams = [
        Stream::new(client_chunks).reaching(reach[Side::Client]),
        Stream::new(server_chunks).reaching(reach[Side::Server]),
    ];
    let (http, tls, tls_messages, tls_phase) =
        match tls_conn::analyze(&mut segments, &ranges, &streams, keys) {
            Some(t) => (t.http, Some(t.session), t.messages, t.handshake),
            None => (
                plain_http(&mut segments, &ranges, &streams),
                None,
                Vec::new(),
                None,
            ),
        };
    let mut http = http;
    for m in http.iter_mut().filter(|m| m.first_segment > m.last_segment) {
        // No segment mapped onto it (cannot happen for parsed bytes); keep it sane.
        (m.t_first_ns, m.first_segment) = (m.t_last_ns, m.last_segment);
    }
    http.sort_by_key(|m| (m.t_first_ns, m.from as u8));

    let phases = phases::find(&segments, &http, tls_phase);
    ConnectionTrace {
        id,
        client,
        server,
        segments,
        states: Vec::new(),
        phases,
        http,
        tls,
        tls_messages,
        timeline: Vec::new(),
    }
}

/// HTTP/1.x straight from the TCP byte streams; names what each segment carries.
fn plain_http(
    segments: &mut [SegmentRecord],
    ranges: &[Option<std::ops::Range<u64>>],
    streams: &[Stream; 2],
) -> Vec<HttpMessage> {
    let requests = http::requests(&streams[0]);
    let responses = http::responses(&streams[1], &requests);
    let mut messages = PerSide([
        to_messages(Side::Client, requests),
        to_messages(Side::Server, responses),
    ]);
    for (i, (seg, range)) in segments.iter_mut().zip(ranges).enumerate() {
        seg.carries = match range {
            _ if seg.len == 0 => None,
            Some(range) => Some(carries(&mut messages[seg.from], range, i, seg.t_ns)),
            None => Some(format!("[data {} B]", seg.len)),
        };
    }
    // Plain HTTP's offsets are the TCP stream's: a message whose bytes all lie in segments
    // that crossed the link (kept whole or not) was seen whole.
    for side in [Side::Client, Side::Server] {
        let spans = covered(segments, ranges, side);
        for m in messages[side].iter_mut().filter(|m| !m.complete) {
            m.seen = spans
                .iter()
                .any(|s| s.start <= m.start_offset && m.end_offset <= s.end);
        }
    }
    let [mut http, server_msgs] = messages.0;
    http.extend(server_msgs);
    http
}

/// The stream offsets `side`'s segments cover, by the lengths their headers claim: sorted,
/// merged spans.
fn covered(
    segments: &[SegmentRecord],
    ranges: &[Option<std::ops::Range<u64>>],
    side: Side,
) -> Vec<std::ops::Range<u64>> {
    let mut spans: Vec<std::ops::Range<u64>> = segments
        .iter()
        .zip(ranges)
        .filter(|(seg, _)| seg.from == side)
        .filter_map(|(_, r)| r.clone().filter(|r| !r.is_empty()))
        .collect();
    spans.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<u64>> = Vec::with_capacity(spans.len().min(64));
    for r in spans {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// The client sent the SYN without ACK; failing that, received the SYN-ACK; failing that
/// (the capture began mid-connection), it is the side with the higher, ephemeral port.
fn sides(segs: &[Segment<'_>]) -> (SocketAddr, SocketAddr) {
    if let Some(s) = segs.iter().find(|s| s.is_syn_only()) {
        return (s.src, s.dst);
    }
    if let Some(s) = segs.iter().find(|s| s.has(TcpFlags::SYN)) {
        return (s.dst, s.src);
    }
    let s = &segs[0];
    if s.dst.port() > s.src.port() {
        (s.dst, s.src)
    } else {
        (s.src, s.dst)
    }
}

/// Each side's ISN: the sequence number of its SYN. Without a captured SYN, numbers start
/// so that the first byte seen is 1, taken from that side's first segment or from the first
/// ACK the peer sent it, whichever came first.
fn initial_sequence_numbers(
    segs: &[Segment<'_>],
    side_of: impl Fn(&Segment) -> Side,
) -> PerSide<u32> {
    let mut isn = PerSide::<Option<u32>>::default();
    for s in segs.iter().filter(|s| s.has(TcpFlags::SYN)) {
        isn[side_of(s)].get_or_insert(s.tcp.seq);
    }
    for s in segs {
        let from = side_of(s);
        isn[from].get_or_insert(s.tcp.seq.wrapping_sub(1));
        if s.has(TcpFlags::ACK) {
            isn[from.peer()].get_or_insert(s.tcp.ack.wrapping_sub(1));
        }
    }
    PerSide(isn.0.map(|v| v.unwrap_or(0)))
}

/// Window shifts, present only when both SYNs were captured and both offered scaling
/// (RFC 7323 §2.2: otherwise neither side scales).
fn window_shifts(segs: &[Segment<'_>], side_of: impl Fn(&Segment) -> Side) -> PerSide<Option<u8>> {
    let mut syn_seen = PerSide::<bool>::default();
    let mut shift = PerSide::<Option<u8>>::default();
    for s in segs.iter().filter(|s| s.has(TcpFlags::SYN)) {
        let from = side_of(s);
        if !syn_seen[from] {
            syn_seen[from] = true;
            shift[from] = s.tcp.options.window_scale.map(|w| w.min(MAX_WINDOW_SHIFT));
        }
    }
    if shift[Side::Client].is_some() && shift[Side::Server].is_some() {
        shift
    } else {
        PerSide::default()
    }
}

/// Parsed messages as model records, times and segments not yet known.
pub(crate) fn to_messages(from: Side, parsed: Vec<http::Message>) -> Vec<HttpMessage> {
    let to_message = |m: http::Message| HttpMessage {
        from,
        start_offset: m.start,
        head_end_offset: m.head_end,
        end_offset: m.end,
        first_line: m.first_line,
        body_len: m.body_len,
        chunked: m.chunked,
        complete: m.complete,
        seen: m.complete,
        t_first_ns: u64::MAX,
        t_last_ns: 0,
        first_segment: usize::MAX,
        last_segment: 0,
    };
    parsed.into_iter().map(to_message).collect()
}

/// Names what the payload at `range` covers, and stretches the times of the messages it
/// belongs to.
fn carries(
    messages: &mut [HttpMessage],
    range: &std::ops::Range<u64>,
    index: usize,
    t_ns: u64,
) -> String {
    let (parts, touched) = http_parts(messages, range, true);
    for m in &mut messages[touched] {
        // Segments come in time order, so the first to touch a message is its first.
        if m.first_segment == usize::MAX {
            (m.t_first_ns, m.first_segment) = (t_ns, index);
        }
        (m.t_last_ns, m.last_segment) = (t_ns, index);
    }
    parts.join(" + ")
}

/// What the stream bytes at `range` are: a message's first line where it starts, else
/// "head N B" / "body N B" of the messages it overlaps, and "data N B" for bytes in no
/// message; each part in brackets when `bracket`. Also returns the indices of the messages
/// it overlaps.
pub(crate) fn http_parts(
    messages: &[HttpMessage],
    range: &std::ops::Range<u64>,
    bracket: bool,
) -> (Vec<String>, std::ops::Range<usize>) {
    let part = |s: String| if bracket { format!("[{s}]") } else { s };
    let overlap = |lo: u64, hi: u64| range.end.min(hi).saturating_sub(range.start.max(lo));
    let mut parts = Vec::new();
    let mut covered = 0;
    let first = messages.partition_point(|m| m.end_offset <= range.start);
    let mut end = first;
    for m in messages[first..]
        .iter()
        .take_while(|m| m.start_offset < range.end)
    {
        let head = overlap(m.start_offset, m.head_end_offset);
        let body = overlap(m.head_end_offset, m.end_offset);
        if range.contains(&m.start_offset) {
            parts.push(m.first_line.clone());
        } else if head > 0 {
            parts.push(part(format!("head {head} B")));
        }
        if body > 0 {
            parts.push(part(format!("body {body} B")));
        }
        covered += head + body;
        end += 1;
    }
    let rest = (range.end - range.start).saturating_sub(covered);
    if rest > 0 {
        parts.push(part(format!("data {rest} B")));
    }
    (parts, first..end)
}
