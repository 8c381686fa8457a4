//! The ladder as inline SVG: client and server lifelines, one slanted arrow per segment (a
//! row per event, so dense moments stay readable; the time is printed on the left), state
//! changes on the lifeline of the side that reported them, phases bracketed on the right.

use std::fmt::Write;

use super::escape::{cut, escape};
use super::rows::{self, Row};
use super::svg::num;
use crate::format;
use crate::model::{ConnectionTrace, SegmentRecord, Side};

/// Pixels per character of the 12 px monospace font the arrows are labelled in.
const CHAR_W: f64 = 7.3;
/// Right edge of the time column.
const TIME_X: f64 = 58.0;
/// The client's lifeline.
const CLIENT_X: f64 = 120.0;
/// Lifeline distance bounds: short labels give a compact ladder, long ones wrap no wider.
const MIN_LANE: f64 = 560.0;
const MAX_LANE: f64 = 780.0;
/// Space above the first row for the lifeline headings.
const TOP: f64 = 58.0;
/// How far an arrow drops between its ends: time runs down.
const SLANT: f64 = 10.0;
/// Text line height inside a row.
const LINE_H: f64 = 14.0;
/// Bracket column width, and the room labels get right of the brackets.
const LANE_W: f64 = 12.0;
const LABEL_W: f64 = 180.0;

/// Vertical placement of one row.
#[derive(Debug, Clone, Copy)]
struct Place {
    top: f64,
    /// Where an arrow starts and ends (or a note's midline).
    y0: f64,
    y1: f64,
}

/// The ladder of one connection as an `<svg>` element.
pub(crate) fn render(conn: &ConnectionTrace, start_ns: u64, fold_after: Option<usize>) -> String {
    let rows = rows::build(conn, fold_after);
    let lane = lane_width(&rows);
    let server_x = CLIENT_X + lane;
    let max_chars = ((lane - 24.0) / CHAR_W).floor().max(20.0) as usize;

    let mut places = Vec::with_capacity(rows.len());
    let mut y = TOP;
    for row in &rows {
        let place = match row {
            Row::Segment { seg, .. } => {
                let lines = label_lines(seg, max_chars).len() as f64;
                let y0 = y + LINE_H * lines + 4.0;
                Place {
                    top: y,
                    y0,
                    y1: y0 + SLANT,
                }
            }
            Row::State { .. } => Place {
                top: y,
                y0: y + 10.0,
                y1: y + 10.0,
            },
            Row::Fold { .. } => Place {
                top: y,
                y0: y + 18.0,
                y1: y + 18.0,
            },
        };
        y = match row {
            Row::Segment { .. } => place.y1 + 8.0,
            Row::State { .. } => y + 20.0,
            Row::Fold { .. } => y + 36.0,
        };
        places.push(place);
    }
    let bottom = y + 8.0;

    let brackets = Brackets::new(conn, &rows, &places);
    let bracket_x = server_x + 26.0;
    let label_x = bracket_x + LANE_W * brackets.lanes as f64 + 4.0;
    let width = label_x + LABEL_W;
    let height = bottom + 4.0;

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="ladder" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>Ladder diagram of connection {id}</title>"#,
        w = num(width),
        h = num(height),
        id = conn.id
    );
    heading(&mut out, conn, server_x);
    let _ = write!(
        out,
        r#"<path class="lifeline" d="M{c} {t}V{b}M{s} {t}V{b}"/>"#,
        c = num(CLIENT_X),
        s = num(server_x),
        t = num(TOP - 6.0),
        b = num(bottom)
    );
    for (row, place) in rows.iter().zip(&places) {
        match row {
            Row::Segment { seg, .. } => {
                segment(&mut out, seg, *place, server_x, max_chars, start_ns)
            }
            Row::State { t_ns, side, text } => {
                // The pill sits on the side's own lifeline: the state name is enough.
                let name = text
                    .strip_prefix(side.as_str())
                    .unwrap_or(text)
                    .trim_start();
                state(&mut out, *t_ns, *side, name, *place, server_x, start_ns)
            }
            Row::Fold {
                segments,
                bytes,
                first_ns,
                last_ns,
            } => fold(
                &mut out,
                (*segments, *bytes),
                (
                    first_ns.saturating_sub(start_ns),
                    last_ns.saturating_sub(start_ns),
                ),
                *place,
                server_x,
            ),
        }
    }
    brackets.draw(&mut out, bracket_x, label_x);
    out.push_str("</svg>");
    out
}

/// Lifeline distance that fits the widest arrow label, within bounds.
fn lane_width(rows: &[Row]) -> f64 {
    let widest = rows
        .iter()
        .filter_map(|r| match r {
            Row::Segment { seg, .. } => {
                let head = rows::header_words(seg).chars().count() + retx_prefix(seg).len();
                let carries = seg.carries.as_deref().map_or(0, |c| c.chars().count());
                Some(head.max(carries))
            }
            _ => None,
        })
        .max()
        .unwrap_or(0);
    (widest as f64 * CHAR_W + 40.0).clamp(MIN_LANE, MAX_LANE)
}

/// Styled pieces of one text line: (text, CSS class, "" for none).
type Spans = Vec<(String, &'static str)>;

/// At most this many lines of what a segment carries; the rest is cut.
const MAX_CARRIES_LINES: usize = 4;

/// The words on a segment's arrow, as lines of at most `max_chars`: the header (flags in
/// colour), then what it carries, on the same line when everything fits, else wrapped
/// between its parts.
fn label_lines(seg: &SegmentRecord, max_chars: usize) -> Vec<Spans> {
    let mut first: Spans = Vec::new();
    if seg.retransmission {
        first.push((retx_prefix(seg).to_owned(), "retx-word"));
    }
    let flags = format::flags(seg.flags);
    let head = cut(
        &rows::header_words(seg),
        max_chars.saturating_sub(retx_prefix(seg).len()),
    );
    let rest = head
        .strip_prefix(flags.as_str())
        .unwrap_or(&head)
        .to_owned();
    first.push((flags, "flags"));
    first.push((rest, ""));
    let Some(c) = &seg.carries else {
        return vec![first];
    };
    let width = |l: &Spans| l.iter().map(|(t, _)| t.chars().count()).sum::<usize>();
    let part_class = |p: &str| if p.starts_with('[') { "bytes" } else { "msg" };
    if width(&first) + 2 + c.chars().count() <= max_chars {
        first.push(("  ".to_owned(), ""));
        for (i, part) in c.split(" + ").enumerate() {
            if i > 0 {
                first.push((" + ".to_owned(), ""));
            }
            first.push((part.to_owned(), part_class(part)));
        }
        return vec![first];
    }
    let mut lines = vec![first];
    let mut cur: Spans = Vec::new();
    for part in c.split(" + ") {
        let sep = if cur.is_empty() { 0 } else { 3 };
        if !cur.is_empty() && width(&cur) + sep + part.chars().count() > max_chars {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push((" + ".to_owned(), ""));
        }
        cur.push((cut(part, max_chars), part_class(part)));
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > 1 + MAX_CARRIES_LINES {
        lines.truncate(1 + MAX_CARRIES_LINES);
        if let Some(last) = lines.last_mut() {
            last.push((" …".to_owned(), ""));
        }
    }
    lines
}

fn retx_prefix(seg: &SegmentRecord) -> &'static str {
    if seg.retransmission {
        "[retransmission]  "
    } else {
        ""
    }
}

/// "client" and "server" over their lifelines, with their addresses.
fn heading(out: &mut String, conn: &ConnectionTrace, server_x: f64) {
    let _ = write!(
        out,
        r#"<text class="time-head" x="{t}" y="{y}" text-anchor="end">ms</text>"#,
        t = num(TIME_X),
        y = num(TOP - 4.0)
    );
    for (side, x) in [(Side::Client, CLIENT_X), (Side::Server, server_x)] {
        let addr = escape(&conn.addr(side).to_string());
        let _ = write!(
            out,
            r#"<text class="end-name" x="{x}" y="18" text-anchor="middle">{name}</text><text class="end-addr" x="{x}" y="34" text-anchor="middle">{addr}</text>"#,
            x = num(x),
            name = side.as_str(),
        );
    }
}

/// One segment: its two text lines over a slanted arrow, the time on the left.
fn segment(
    out: &mut String,
    seg: &SegmentRecord,
    place: Place,
    server_x: f64,
    max_chars: usize,
    start_ns: u64,
) {
    let (x0, x1) = match seg.from {
        Side::Client => (CLIENT_X, server_x),
        Side::Server => (server_x, CLIENT_X),
    };
    let retx = if seg.retransmission { " retx" } else { "" };
    let _ = write!(
        out,
        r#"<g class="seg {kind}{retx}"><title>{tip}</title><text class="when" x="{tx}" y="{ty}" text-anchor="end">{t}</text>"#,
        kind = rows::kind(seg),
        tip = escape(&rows::tooltip(seg, start_ns)),
        tx = num(TIME_X),
        ty = num(place.y0 + 4.0),
        t = format::ms(seg.t_ns.saturating_sub(start_ns)),
    );
    let mid = num((CLIENT_X + server_x) / 2.0);
    for (i, line) in label_lines(seg, max_chars).iter().enumerate() {
        let _ = write!(
            out,
            r#"<text class="label" x="{mid}" y="{y}" text-anchor="middle">"#,
            y = num(place.top + 11.0 + LINE_H * i as f64)
        );
        for (text, class) in line {
            if class.is_empty() {
                out.push_str(&escape(text));
            } else {
                let _ = write!(out, r#"<tspan class="{class}">{}</tspan>"#, escape(text));
            }
        }
        out.push_str("</text>");
    }
    let _ = write!(
        out,
        r#"<path class="arrow" d="M{} {}L{} {}"/>"#,
        num(x0),
        num(place.y0),
        num(x1),
        num(place.y1)
    );
    arrow_head(out, (x0, place.y0), (x1, place.y1));
    out.push_str("</g>");
}

/// A filled triangle at `to`, pointing along the arrow.
fn arrow_head(out: &mut String, from: (f64, f64), to: (f64, f64)) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (to.0 - ux * 10.0, to.1 - uy * 10.0);
    let (px, py) = (-uy * 4.5, ux * 4.5);
    let _ = write!(
        out,
        r#"<path class="head" d="M{} {}L{} {}L{} {}Z"/>"#,
        num(to.0),
        num(to.1),
        num(bx + px),
        num(by + py),
        num(bx - px),
        num(by - py)
    );
}

/// A state change: a dot on the reporting side's lifeline and the new state beside it.
fn state(
    out: &mut String,
    t_ns: u64,
    side: Side,
    text: &str,
    place: Place,
    server_x: f64,
    start_ns: u64,
) {
    let w = text.chars().count() as f64 * 6.4 + 12.0;
    let (x, box_x, anchor, text_x) = match side {
        Side::Client => (CLIENT_X, CLIENT_X + 8.0, "start", CLIENT_X + 14.0),
        Side::Server => (server_x, server_x - 8.0 - w, "end", server_x - 14.0),
    };
    let y = place.y0;
    let _ = write!(
        out,
        r#"<g class="state"><title>{side} enters {text} at {t} ms</title><text class="when" x="{tx}" y="{ty}" text-anchor="end">{t}</text><circle cx="{x}" cy="{y}" r="3.5"/><rect x="{bx}" y="{by}" width="{w}" height="16" rx="8"/><text class="state-name" x="{lx}" y="{ly}" text-anchor="{anchor}">{text}</text></g>"#,
        side = side.as_str(),
        text = escape(text),
        t = format::ms(t_ns.saturating_sub(start_ns)),
        tx = num(TIME_X),
        ty = num(y + 4.0),
        x = num(x),
        y = num(y),
        bx = num(box_x),
        by = num(y - 8.0),
        w = num(w),
        lx = num(text_x),
        ly = num(y + 4.0),
    );
}

/// A folded run: a band across the lifelines saying what it hides.
fn fold(
    out: &mut String,
    (segments, bytes): (usize, u64),
    (t0, t1): (u64, u64),
    place: Place,
    server_x: f64,
) {
    let text = format!(
        "⋮ {} not shown ({} of payload, {}–{} ms)",
        format::plural(segments as u64, "segment"),
        format::bytes(bytes),
        format::ms(t0),
        format::ms(t1)
    );
    let _ = write!(
        out,
        r#"<g class="fold"><rect x="{x}" y="{y}" width="{w}" height="28" rx="5"/><text x="{mid}" y="{ty}" text-anchor="middle">{text}</text></g>"#,
        x = num(CLIENT_X - 6.0),
        y = num(place.top + 4.0),
        w = num(server_x - CLIENT_X + 12.0),
        mid = num((CLIENT_X + server_x) / 2.0),
        ty = num(place.top + 22.0),
        text = escape(&text),
    );
}

/// One phase placed on the ladder.
struct Span {
    top: f64,
    bottom: f64,
    lane: usize,
    class: &'static str,
    name: String,
    detail: String,
}

/// Phase brackets right of the server lifeline; overlapping phases get a column each.
struct Brackets {
    spans: Vec<Span>,
    lanes: usize,
}

impl Brackets {
    fn new(conn: &ConnectionTrace, rows: &[Row], places: &[Place]) -> Brackets {
        let mut place_of = vec![None; conn.segments.len()];
        for (row, place) in rows.iter().zip(places) {
            if let Row::Segment { index, .. } = row
                && let Some(slot) = place_of.get_mut(*index)
            {
                *slot = Some(*place);
            }
        }
        let at = |i: usize| place_of.get(i).copied().flatten();
        let mut lane_ends: Vec<f64> = Vec::new();
        let mut spans = Vec::new();
        for (p, nth) in conn.phases.iter().zip(super::phase_ordinals(conn)) {
            let (Some(first), Some(last)) = (at(p.first_segment), at(p.last_segment)) else {
                continue;
            };
            let (top, bottom) = (first.y0, last.y1);
            let lane = match lane_ends.iter().position(|&end| end < top - 2.0) {
                Some(l) => {
                    lane_ends[l] = bottom;
                    l
                }
                None => {
                    lane_ends.push(bottom);
                    lane_ends.len() - 1
                }
            };
            let mut detail = format::duration(p.duration_ns());
            if !p.complete {
                detail.push_str(", incomplete");
            }
            spans.push(Span {
                top,
                bottom,
                lane,
                class: p.name.as_str(),
                name: super::phase_title(p.name, nth),
                detail,
            });
        }
        Brackets {
            spans,
            lanes: lane_ends.len(),
        }
    }

    fn draw(&self, out: &mut String, bracket_x: f64, label_x: f64) {
        // Labels sit at their bracket's top unless an earlier label is still there.
        let mut free_y = 0.0_f64;
        for s in &self.spans {
            let x = bracket_x + LANE_W * s.lane as f64;
            let label_y = (s.top + 4.0).max(free_y);
            free_y = label_y + 32.0;
            let _ = write!(
                out,
                r#"<g class="phase ph-{class}"><path class="bracket" d="M{x0} {t}H{x}V{b}H{x0}"/><text class="phase-name" x="{lx}" y="{ly}">{name}</text><text class="phase-time" x="{lx}" y="{dy}">{detail}</text></g>"#,
                class = s.class,
                x0 = num(x - 6.0),
                x = num(x),
                t = num(s.top),
                b = num(s.bottom),
                lx = num(label_x),
                ly = num(label_y),
                dy = num(label_y + 14.0),
                name = escape(&s.name),
                detail = escape(&s.detail),
            );
        }
    }
}
