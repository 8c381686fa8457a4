//! The ladder's rows: a segment, a state change, or a folded run of data segments. The fold
//! rule is the terminal ladder's (`LadderOptions::fold_after`), so both views hide the same
//! segments; the words on an arrow follow its spelling too.

use synack_core::wire::TcpFlags;

use crate::format;
use crate::model::{ConnectionTrace, Event, SegmentRecord, Side};

/// One row of the SVG ladder.
#[derive(Debug, Clone)]
pub(crate) enum Row<'a> {
    /// A segment, with its index in the connection's `segments`.
    Segment {
        index: usize,
        seg: &'a SegmentRecord,
    },
    /// A state change reported by one side.
    State { t_ns: u64, side: Side, text: String },
    /// A run of plain data segments not drawn one by one.
    Fold {
        segments: usize,
        bytes: u64,
        first_ns: u64,
        last_ns: u64,
    },
}

/// Rows in time order; runs of plain data segments (and their ACKs) longer than
/// `fold_after` keep their first and last halves.
pub(crate) fn build(conn: &ConnectionTrace, fold_after: Option<usize>) -> Vec<Row<'_>> {
    // Segments where a phase starts or ends stay visible: the brackets hang on them.
    let mut pinned = vec![false; conn.segments.len()];
    for p in &conn.phases {
        for i in [p.first_segment, p.last_segment] {
            if let Some(slot) = pinned.get_mut(i) {
                *slot = true;
            }
        }
    }
    let foldable = |i: usize, s: &SegmentRecord| {
        let control = TcpFlags::SYN.0 | TcpFlags::FIN.0 | TcpFlags::RST.0;
        let starts_message = s
            .carries
            .as_deref()
            .is_some_and(|c| c.split(" + ").any(|p| !p.starts_with('[')));
        !pinned.get(i).copied().unwrap_or(false)
            && s.flags.0 & control == 0
            && !s.retransmission
            && !starts_message
    };

    let mut rows = Vec::new();
    let mut run: Vec<(usize, &SegmentRecord)> = Vec::new();
    let mut seg_index = 0;
    for event in conn.events() {
        match event {
            Event::Segment(seg) => {
                let i = seg_index;
                seg_index += 1;
                if foldable(i, seg) {
                    run.push((i, seg));
                    continue;
                }
                flush(&mut rows, &mut run, fold_after);
                rows.push(Row::Segment { index: i, seg });
            }
            Event::State(st) => {
                flush(&mut rows, &mut run, fold_after);
                rows.push(Row::State {
                    t_ns: st.t_ns,
                    side: st.side,
                    text: st.to.rfc_name().to_owned(),
                });
            }
        }
    }
    flush(&mut rows, &mut run, fold_after);
    rows
}

/// Emits a pending run of foldable segments, folded if it is long.
fn flush<'a>(
    rows: &mut Vec<Row<'a>>,
    run: &mut Vec<(usize, &'a SegmentRecord)>,
    fold_after: Option<usize>,
) {
    let keep = fold_after.map(|n| n.max(2) / 2);
    let segment = |&(index, seg): &(usize, &'a SegmentRecord)| Row::Segment { index, seg };
    match keep {
        Some(keep) if run.len() > 2 * keep + 1 => {
            rows.extend(run[..keep].iter().map(segment));
            let hidden = &run[keep..run.len() - keep];
            rows.push(Row::Fold {
                segments: hidden.len(),
                bytes: hidden.iter().map(|(_, s)| s.len as u64).sum(),
                first_ns: hidden.first().map_or(0, |(_, s)| s.t_ns),
                last_ns: hidden.last().map_or(0, |(_, s)| s.t_ns),
            });
            rows.extend(run[run.len() - keep..].iter().map(segment));
        }
        _ => rows.extend(run.iter().map(segment)),
    }
    run.clear();
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
        parts.push(format!("len {}", s.len));
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
        "{} ms  {} → {}\n{}  seq {} ack {} (raw {} / {})  win {}  len {}",
        format::ms(s.t_ns.saturating_sub(start_ns)),
        s.src,
        s.dst,
        format::flags(s.flags),
        s.seq,
        s.ack,
        s.seq_raw,
        s.ack_raw,
        s.win,
        s.len
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
