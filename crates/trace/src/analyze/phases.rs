//! Named spans of a connection's life, found from its segments and HTTP messages alone.

use synack_core::wire::TcpFlags;

use super::seqspace::seq_ge;
use crate::model::{HttpMessage, Phase, PhaseName, SegmentRecord, Side};

/// Every phase of one connection, ordered by start; `tls_handshake` comes from the TLS
/// analysis.
pub(crate) fn find(
    segs: &[SegmentRecord],
    http: &[HttpMessage],
    tls_handshake: Option<Phase>,
) -> Vec<Phase> {
    let mut phases = Vec::new();
    phases.extend(three_way_handshake(segs));
    phases.extend(tls_handshake);
    phases.extend(http.iter().map(|m| Phase {
        name: match m.from {
            Side::Client => PhaseName::HttpRequest,
            Side::Server => PhaseName::HttpResponse,
        },
        start_ns: m.t_first_ns,
        end_ns: m.t_last_ns,
        // The phase ended when the message's last byte crossed, kept or not.
        complete: m.seen,
        first_segment: m.first_segment,
        last_segment: m.last_segment,
    }));
    phases.extend(four_way_handshake(segs));
    phases.extend(reset(segs));
    phases.sort_by_key(|p| (p.start_ns, p.first_segment));
    phases
}

/// From the first SYN until each side's SYN is acknowledged: normally the client's ACK of the
/// SYN-ACK, even if it carries data; after a simultaneous open, the second SYN-ACK.
fn three_way_handshake(segs: &[SegmentRecord]) -> Option<Phase> {
    let first = segs.iter().position(|s| s.flags.contains(TcpFlags::SYN))?;
    let mut last_syn = first;
    // Indexed by the side whose SYN was acknowledged.
    let mut acked = [false; 2];
    for (i, s) in segs.iter().enumerate().skip(first) {
        if s.flags.contains(TcpFlags::RST) {
            break;
        }
        if s.flags.contains(TcpFlags::SYN) {
            last_syn = i;
        }
        // Relative ack 1 covers the peer's SYN, which is relative seq 0.
        if s.flags.contains(TcpFlags::ACK) && seq_ge(s.ack, 1) {
            acked[s.from.peer() as usize] = true;
        }
        if acked == [true; 2] {
            return Some(span(PhaseName::Tcp3WayHandshake, segs, first, i, true));
        }
    }
    Some(span(
        PhaseName::Tcp3WayHandshake,
        segs,
        first,
        last_syn,
        false,
    ))
}

/// From the first FIN until both FINs are acknowledged, or to the last segment when the
/// close does not finish.
fn four_way_handshake(segs: &[SegmentRecord]) -> Option<Phase> {
    let first = segs.iter().position(|s| s.flags.contains(TcpFlags::FIN))?;
    // Indexed by side: the relative sequence number just past its FIN.
    let mut fin_end: [Option<u32>; 2] = [None; 2];
    let mut acked = [false; 2];
    for (i, s) in segs.iter().enumerate().skip(first) {
        if s.flags.contains(TcpFlags::FIN) {
            let end = s.seq.wrapping_add(s.seq_len() as u32);
            fin_end[s.from as usize].get_or_insert(end);
        }
        let peer = s.from.peer() as usize;
        if let Some(end) = fin_end[peer]
            && s.flags.contains(TcpFlags::ACK)
            && seq_ge(s.ack, end)
        {
            acked[peer] = true;
        }
        if acked == [true; 2] {
            return Some(span(PhaseName::Tcp4WayHandshake, segs, first, i, true));
        }
    }
    Some(span(
        PhaseName::Tcp4WayHandshake,
        segs,
        first,
        segs.len() - 1,
        false,
    ))
}

/// From the first RST to the last (usually one segment: zero duration).
fn reset(segs: &[SegmentRecord]) -> Option<Phase> {
    let is_rst = |s: &SegmentRecord| s.flags.contains(TcpFlags::RST);
    let first = segs.iter().position(is_rst)?;
    let last = segs.iter().rposition(is_rst).unwrap_or(first);
    Some(span(PhaseName::Reset, segs, first, last, true))
}

/// A phase over `segs[first..=last]`.
fn span(
    name: PhaseName,
    segs: &[SegmentRecord],
    first: usize,
    last: usize,
    complete: bool,
) -> Phase {
    Phase {
        name,
        start_ns: segs[first].t_ns,
        end_ns: segs[last].t_ns,
        complete,
        first_segment: first,
        last_segment: last,
    }
}
