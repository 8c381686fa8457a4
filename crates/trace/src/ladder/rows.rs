//! The rows of one connection's ladder: a segment, a state change, or a folded run of data
//! segments; and the words written on each segment's arrow.

use synack_core::wire::TcpFlags;

use super::style::{Line, Style};
use crate::format;
use crate::model::{ConnectionTrace, Event, SegmentRecord, Side};

/// One logical row of the ladder (it may wrap onto several lines).
#[derive(Debug, Clone)]
pub(crate) enum Row<'a> {
    Segment {
        index: usize,
        seg: &'a SegmentRecord,
    },
    State {
        t_ns: u64,
        side: Side,
        text: String,
    },
    /// A run of plain data segments not drawn one by one.
    Fold {
        segments: usize,
        bytes: u64,
        first_ns: u64,
        last_ns: u64,
    },
}

impl Row<'_> {
    /// When it happened; folds have no time of their own.
    pub fn t_ns(&self) -> Option<u64> {
        match self {
            Row::Segment { seg, .. } => Some(seg.t_ns),
            Row::State { t_ns, .. } => Some(*t_ns),
            Row::Fold { .. } => None,
        }
    }
}

/// "⋮ 120 segments not shown (170.2 KiB of payload)".
pub(crate) fn fold_text(segments: usize, bytes: u64) -> String {
    format!(
        "⋮ {} not shown ({} of payload)",
        format::plural(segments as u64, "segment"),
        format::bytes(bytes)
    )
}

/// A group of words kept together on one line when it fits.
pub(crate) type Group = Vec<(String, Style)>;

/// Rows in time order. With `fold_after`, a run of plain data segments longer than that
/// keeps its first and last halves and folds the middle into one row.
pub(crate) fn build(
    conn: &ConnectionTrace,
    fold_after: Option<usize>,
    states: bool,
) -> Vec<Row<'_>> {
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
        let control = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST;
        let starts_message = s.carries.as_deref().is_some_and(|c| {
            c.split(" + ")
                .any(|p| !p.starts_with('[') && !bulk_record(p))
        });
        !pinned[i] && s.flags.0 & control.0 == 0 && !s.retransmission && !starts_message
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
            Event::State(st) if states => {
                flush(&mut rows, &mut run, fold_after);
                let text = format!("{} {}", st.side.as_str(), st.to.rfc_name());
                rows.push(Row::State {
                    t_ns: st.t_ns,
                    side: st.side,
                    text,
                });
            }
            Event::State(_) => {}
        }
    }
    flush(&mut rows, &mut run, fold_after);
    rows
}

/// A TLS record that only goes on with data already under way (a response body, or
/// records that could not be decrypted): a long transfer of them may fold like bare data.
fn bulk_record(part: &str) -> bool {
    let data = [" [body ", " [head ", " [data ", " (encrypted)"]
        .iter()
        .any(|tail| part.starts_with(&format!("ApplicationData{tail}")));
    data || part.starts_with("encrypted record")
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

/// The words on a segment's arrow: flags, numbers, options, what it carries.
pub(crate) fn segment_groups(s: &SegmentRecord) -> Vec<Group> {
    let plain = |t: String| vec![(t, Style::Plain)];
    let mut groups = Vec::new();
    if s.retransmission {
        groups.push(vec![("[retransmission]".to_owned(), Style::Retransmission)]);
    }
    let flag_style = if s.flags.contains(TcpFlags::RST) {
        Style::Rst
    } else if s.flags.contains(TcpFlags::SYN) {
        Style::Syn
    } else if s.flags.contains(TcpFlags::FIN) {
        Style::Fin
    } else {
        Style::Plain
    };
    groups.push(vec![(format::flags(s.flags), flag_style)]);
    if s.flags.contains(TcpFlags::ACK) {
        groups.push(plain(format!("seq {} ack {}", s.seq, s.ack)));
    } else {
        groups.push(plain(format!("seq {}", s.seq)));
    }
    groups.push(plain(format!("win {}", s.win)));
    if s.len > 0 {
        groups.push(plain(format::payload_len(s.len, s.captured)));
    }
    let shown: Vec<String> = if s.flags.contains(TcpFlags::SYN) {
        s.options.iter().map(|o| compact_option(o)).collect()
    } else {
        // After the handshake only SACK blocks say something about this segment.
        s.options
            .iter()
            .filter(|o| o.starts_with("sack "))
            .cloned()
            .collect()
    };
    if !shown.is_empty() {
        groups.push(vec![(format!("<{}>", shown.join(",")), Style::Dim)]);
    }
    if let Some(c) = &s.carries {
        groups.push(carries_group(c));
    }
    groups
}

/// Timestamps values are noise on a ladder; keep the word.
fn compact_option(o: &str) -> String {
    if o.starts_with("ts ") {
        "ts".to_owned()
    } else {
        o.to_owned()
    }
}

/// HTTP first lines stand out; byte counts do not.
fn carries_group(c: &str) -> Group {
    let mut group = Vec::new();
    for (i, part) in c.split(" + ").enumerate() {
        if i > 0 {
            group.push((" + ".to_owned(), Style::Plain));
        }
        let style = if part.starts_with('[') {
            Style::Plain
        } else {
            Style::Bold
        };
        group.push((part.to_owned(), style));
    }
    group
}

/// Lays groups out on lines at most `room` wide, two spaces between groups. A group that
/// fits on no line is broken between words, and a word too long for a line is cut.
pub(crate) fn wrap(groups: &[Group], room: usize) -> Vec<Line> {
    let room = room.max(8);
    let mut lines = Vec::new();
    let mut cur = Line::default();
    for group in groups {
        let width: usize = group.iter().map(|(t, _)| t.chars().count()).sum();
        let sep = if cur.width() == 0 { 0 } else { 2 };
        if cur.width() + sep + width <= room {
            cur.space(sep);
            group.iter().for_each(|(t, s)| cur.push(t.clone(), *s));
            continue;
        }
        // A group that does not fit here starts a line of its own, even when it must then
        // be broken (a long TLS ClientHello reads better from the start of a line).
        if cur.width() > 0 {
            lines.push(std::mem::take(&mut cur));
        }
        if width <= room {
            group.iter().for_each(|(t, s)| cur.push(t.clone(), *s));
            continue;
        }
        let mut first_word = true;
        for (text, style) in group {
            for word in text.split(' ').filter(|w| !w.is_empty()) {
                let sep = match (cur.width(), first_word) {
                    (0, _) => 0,
                    (_, true) => 2,
                    _ => 1,
                };
                first_word = false;
                let w = word.chars().count();
                if cur.width() + sep + w > room && cur.width() > 0 {
                    lines.push(std::mem::take(&mut cur));
                } else {
                    cur.space(sep);
                }
                cur.push(cut(word, room), *style);
            }
        }
    }
    if cur.width() > 0 || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `word` cut to `room` chars, ending in "…" when cut.
pub(crate) fn cut(word: &str, room: usize) -> String {
    if word.chars().count() <= room {
        return word.to_owned();
    }
    let mut s: String = word.chars().take(room.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.render(false)).collect()
    }

    fn g(t: &str) -> Group {
        vec![(t.to_owned(), Style::Plain)]
    }

    #[test]
    fn wrap_keeps_groups_together() {
        let groups = [
            g("PSH, ACK"),
            g("seq 1 ack 1"),
            g("win 502"),
            g("GET / HTTP/1.1"),
        ];
        assert_eq!(
            texts(&wrap(&groups, 80)),
            ["PSH, ACK  seq 1 ack 1  win 502  GET / HTTP/1.1"]
        );
        assert_eq!(
            texts(&wrap(&groups, 30)),
            ["PSH, ACK  seq 1 ack 1  win 502", "GET / HTTP/1.1"]
        );
    }

    #[test]
    fn wrap_breaks_long_groups_and_cuts_long_words() {
        let groups = [g("ACK"), g("GET /a/very/long/path/that/goes/on HTTP/1.1")];
        let lines = texts(&wrap(&groups, 20));
        assert_eq!(lines, ["ACK", "GET", "/a/very/long/path/t…", "HTTP/1.1"]);
        assert!(lines.iter().all(|l| l.chars().count() <= 20));
    }
}
