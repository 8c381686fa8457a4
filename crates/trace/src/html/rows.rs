//! The SVG ladder's rows come from the terminal ladder's (`ladder::rows`), so both views
//! fold the same segments; the words on an arrow follow its spelling too.

use synack_core::wire::TcpFlags;

use crate::format;
use crate::model::{ConnectionTrace, SegmentRecord};

pub(crate) use crate::ladder::rows::Row;

/// Rows in time order, folded as the terminal ladder folds them (state changes included).
pub(crate) fn build(conn: &ConnectionTrace, fold_after: Option<usize>) -> Vec<Row<'_>> {
    crate::ladder::rows::build(conn, fold_after, true)
}

/// What kind of segment, for its colour.
pub(crate) fn kind(s: &SegmentRecord) -> &'static str {
    if s.flags.contains(TcpFlags::RST) {
        "rst"
    } else if s.flags.contains(TcpFlags::SYN) {
        "syn"
    } else if s.flags.contains(TcpFlags::FIN) {
        "fin"
    } else if s.len > 0 {
        "data"
    } else {
        "ack"
    }
}

/// The arrow's first line: flags, relative numbers, window, length, options.
pub(crate) fn header_words(s: &SegmentRecord) -> String {
    let mut parts = vec![format::flags(s.flags)];
    if s.flags.contains(TcpFlags::ACK) {
        parts.push(format!("seq {} ack {}", s.seq, s.ack));
    } else {
        parts.push(format!("seq {}", s.seq));
    }
    parts.push(format!("win {}", s.win));
    if s.len > 0 {
        parts.push(format::payload_len(s.len, s.captured));
    }
    let shown: Vec<&str> = if s.flags.contains(TcpFlags::SYN) {
        // Timestamp values are noise on a ladder; keep the word.
        s.options.iter().map(|o| compact_option(o)).collect()
    } else {
        // After the handshake only SACK blocks say something about this segment.
        s.options
            .iter()
            .filter(|o| o.starts_with("sack "))
            .map(String::as_str)
            .collect()
    };
    if !shown.is_empty() {
        parts.push(format!("<{}>", shown.join(",")));
    }
    parts.join("  ")
}

/// Timestamp values are noise on a ladder; keep the word.
fn compact_option(o: &str) -> &str {
    if o.starts_with("ts ") { "ts" } else { o }
}

/// Every field, for the tooltip: nothing cut, options in full.
pub(crate) fn tooltip(s: &SegmentRecord, start_ns: u64) -> String {
    let mut t = format!(
        "{} ms  {} → {}\n{}  seq {} ack {} (raw {} / {})  win {}  {}",
        format::ms(s.t_ns.saturating_sub(start_ns)),
        s.src,
        s.dst,
        format::flags(s.flags),
        s.seq,
        s.ack,
        s.seq_raw,
        s.ack_raw,
        s.win,
        format::payload_len(s.len, s.captured)
    );
    if !s.options.is_empty() {
        t.push_str("\noptions: ");
        t.push_str(&s.options.join(", "));
    }
    if let Some(c) = &s.carries {
        t.push('\n');
        t.push_str(c);
    }
    if s.retransmission {
        t.push_str("\nretransmission");
    }
    t
}
