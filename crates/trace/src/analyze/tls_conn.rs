//! A TLS connection's segments named by the TLS messages they carry, and the HTTP found in
//! its decrypted application data mapped back onto those segments.

use std::ops::Range;

use super::stream::Stream;
use crate::KeyLog;
use crate::http;
use crate::model::{HttpMessage, Phase, PhaseName, SegmentRecord, Side, TlsMessage, TlsSession};
use crate::tls::{self, Plaintext};

/// What the TLS analysis adds to a connection.
pub(crate) struct TlsOutcome {
    pub session: TlsSession,
    pub messages: Vec<TlsMessage>,
    pub http: Vec<HttpMessage>,
    pub handshake: Option<Phase>,
}

/// Analyzes the connection as TLS when the client's stream starts with a ClientHello, and
/// sets every segment's `carries`. `ranges` holds each segment's stream range (`None` for a
/// RST's payload).
pub(crate) fn analyze(
    segments: &mut [SegmentRecord],
    ranges: &[Option<Range<u64>>],
    streams: &[Stream; 2],
    keys: &KeyLog,
) -> Option<TlsOutcome> {
    let first_seen = |side: Side, offset: u64| {
        let segs = segments.iter().zip(ranges);
        segs.filter(|(s, _)| s.from == side)
            .find(|(_, r)| r.as_ref().is_some_and(|r| r.contains(&offset)))
            .map(|(s, _)| s.t_ns)
    };
    let analysis = tls::analyze(&streams[0], &streams[1], keys, first_seen)?;
    let [client, server] = analysis.sides;
    let requests = http::requests(&plain_stream(&client.plaintext));
    let responses = http::responses(&plain_stream(&server.plaintext), &requests);
    let mut http_msgs = [
        super::connection::to_messages(Side::Client, requests),
        super::connection::to_messages(Side::Server, responses),
    ];
    let mut tls_msgs = [client.messages, server.messages];
    let plaintexts = [client.plaintext, server.plaintext];
    // Each HTTP message's extent on the wire: the records holding its bytes.
    let mut http_wire: [Vec<Range<u64>>; 2] = Default::default();
    for side in [Side::Client, Side::Server] {
        let (msgs, plain, tls) = (
            &http_msgs[side as usize],
            &plaintexts[side as usize],
            &mut tls_msgs[side as usize],
        );
        for piece in &plain.pieces {
            if let Some(m) = tls.get_mut(piece.message) {
                m.detail = describe_http(msgs, piece.start..piece.end);
            }
        }
        http_wire[side as usize] = msgs
            .iter()
            .map(|m| wire_range(plain, tls, m.start_offset..m.end_offset))
            .collect();
    }

    for (i, (seg, range)) in segments.iter_mut().zip(ranges).enumerate() {
        let side = seg.from as usize;
        seg.carries = match range {
            _ if seg.len == 0 => None,
            Some(range) => {
                stretch_http(&mut http_msgs[side], &http_wire[side], range, i, seg.t_ns);
                Some(carries(&mut tls_msgs[side], range, i, seg.t_ns))
            }
            None => Some(format!("[data {} B]", seg.len)),
        };
    }

    let handshake = handshake_phase(
        segments,
        &tls_msgs,
        &analysis.handshake_end,
        analysis.handshake_complete,
    );
    let [mut http, server_http] = http_msgs;
    http.extend(server_http);
    let [mut messages, server_msgs] = tls_msgs;
    messages.extend(server_msgs);
    for m in messages
        .iter_mut()
        .filter(|m| m.first_segment > m.last_segment)
    {
        // Bytes past the last captured segment cannot happen; keep the fields sane anyway.
        (m.t_first_ns, m.first_segment) = (m.t_last_ns, m.last_segment);
    }
    messages.sort_by_key(|m| (m.first_segment, m.from as u8, m.start_offset));
    Some(TlsOutcome {
        session: analysis.session,
        messages,
        http,
        handshake,
    })
}

fn plain_stream(p: &Plaintext) -> Stream<'_> {
    Stream::new(vec![(0, &p.bytes[..])])
}

/// From the first byte of the first record to the end of the last record holding
/// plaintext bytes in `range`.
fn wire_range(plain: &Plaintext, tls: &[TlsMessage], range: Range<u64>) -> Range<u64> {
    let first = plain.pieces.partition_point(|p| p.end <= range.start);
    let holding = plain.pieces[first..]
        .iter()
        .take_while(|p| p.start < range.end)
        .filter(|p| p.end > p.start);
    let mut wire: Option<Range<u64>> = None;
    for p in holding {
        let Some(m) = tls.get(p.message) else {
            continue;
        };
        wire = Some(match wire {
            None => m.start_offset..m.end_offset,
            Some(w) => w.start.min(m.start_offset)..w.end.max(m.end_offset),
        });
    }
    wire.unwrap_or(0..0)
}

/// The HTTP in one record's plaintext: "GET / HTTP/1.1", "HTTP/1.1 200 OK, body 1407 B",
/// "body 16384 B"; bytes that are not HTTP as "data N B".
fn describe_http(messages: &[HttpMessage], range: Range<u64>) -> String {
    super::connection::http_parts(messages, &range, false)
        .0
        .join(", ")
}

/// Stretches the times of the HTTP messages whose records the payload at `range` carries.
fn stretch_http(
    messages: &mut [HttpMessage],
    wire: &[Range<u64>],
    range: &Range<u64>,
    index: usize,
    t_ns: u64,
) {
    let first = wire.partition_point(|w| w.end <= range.start);
    for (m, w) in messages[first..].iter_mut().zip(&wire[first..]) {
        if w.start >= range.end {
            break;
        }
        if w.end <= range.start {
            continue;
        }
        if m.first_segment == usize::MAX {
            (m.t_first_ns, m.first_segment) = (t_ns, index);
        }
        (m.t_last_ns, m.last_segment) = (t_ns, index);
    }
}

/// Names the TLS messages the payload at `range` covers, and stretches their times. A
/// message wholly inside is named by its label; one that starts here and goes on as
/// "Certificate (1 cert) [1380 of 2900 B]"; a later piece as "[Certificate 1448 of 2900 B]".
fn carries(messages: &mut [TlsMessage], range: &Range<u64>, index: usize, t_ns: u64) -> String {
    let mut parts = Vec::new();
    let mut covered = 0;
    let first = messages.partition_point(|m| m.end_offset <= range.start);
    for m in messages[first..]
        .iter_mut()
        .take_while(|m| m.start_offset < range.end)
    {
        let here = range
            .end
            .min(m.end_offset)
            .saturating_sub(range.start.max(m.start_offset));
        if here == 0 {
            continue;
        }
        let total = m.end_offset.saturating_sub(m.start_offset);
        if here == total {
            parts.push(m.label());
        } else if range.contains(&m.start_offset) {
            parts.push(format!("{} [{here} of {total} B]", m.label()));
        } else {
            parts.push(format!("[{} {here} of {total} B]", m.name));
        }
        covered += here;
        if m.first_segment == usize::MAX {
            (m.t_first_ns, m.first_segment) = (t_ns, index);
        }
        (m.t_last_ns, m.last_segment) = (t_ns, index);
    }
    let rest = range
        .end
        .saturating_sub(range.start)
        .saturating_sub(covered);
    if rest > 0 {
        parts.push(format!("[data {rest} B]"));
    }
    parts.join(" + ")
}

/// From the ClientHello's first segment to the last segment of the messages ending the
/// handshake; without them (incomplete), to the last handshake message seen.
fn handshake_phase(
    segs: &[SegmentRecord],
    messages: &[Vec<TlsMessage>; 2],
    ends: &[(Side, usize)],
    complete: bool,
) -> Option<Phase> {
    let mapped = |m: &&TlsMessage| m.first_segment <= m.last_segment;
    let hello = messages[0].first().filter(mapped)?;
    let end = ends
        .iter()
        .filter_map(|&(side, i)| messages[side as usize].get(i))
        .filter(mapped)
        .map(|m| m.last_segment)
        .max();
    let end = match end {
        Some(end) if complete => end,
        _ => messages
            .iter()
            .flatten()
            .filter(mapped)
            .filter(|m| {
                let after = ["ApplicationData", "Alert", "encrypted record"];
                !after.iter().any(|a| m.name.starts_with(a))
            })
            .map(|m| m.last_segment)
            .max()?,
    };
    let first = hello.first_segment;
    let last = end.max(first);
    let (Some(a), Some(b)) = (segs.get(first), segs.get(last)) else {
        return None;
    };
    Some(Phase {
        name: PhaseName::TlsHandshake,
        start_ns: a.t_ns,
        end_ns: b.t_ns,
        complete,
        first_segment: first,
        last_segment: last,
    })
}
