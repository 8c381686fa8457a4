//! What goes between the lifelines: arrows, notes, and the header above them.

use super::Layout;
use super::rows::{self, Group};
use super::style::{Line, Style};
use crate::model::{ConnectionTrace, Side};

/// Columns an arrow uses besides its text: "──── " before, " ──▶" after.
pub(super) const ARROW_FRAME: usize = 9;

/// "ms  client ADDR ... server ADDR" over the lifelines; on two lines when it does not fit.
pub(super) fn header(conn: &ConnectionTrace, layout: &Layout, out: &mut Vec<Line>) {
    let client = format!("client {}", conn.client);
    let server = format!("server {}", conn.server);
    let (cw, sw) = (client.chars().count(), server.chars().count());
    let span = layout.arrow + 2;
    let mut first = Line::default();
    first.space(layout.lanes + 1 + layout.time - 2);
    first.push("ms", Style::Dim);
    first.space(2);
    first.push(client, Style::Bold);
    if cw + 2 + sw <= span {
        first.space(span - cw - sw);
        first.push(server, Style::Bold);
        out.push(first);
    } else {
        out.push(first);
        let mut second = Line::default();
        second.space(layout.prefix() + span.saturating_sub(sw));
        second.push(server, Style::Bold);
        out.push(second);
    }
}

/// An arrow between the lifelines, `width` wide, on as many lines as its text needs.
pub(super) fn arrow_lines(
    from: Side,
    retransmission: bool,
    groups: &[Group],
    width: usize,
) -> Vec<Line> {
    let shaft = if retransmission {
        Style::Retransmission
    } else {
        Style::Plain
    };
    let text = rows::wrap(groups, width - ARROW_FRAME);
    let n = text.len();
    let mut out = Vec::with_capacity(n);
    for (j, t) in text.into_iter().enumerate() {
        let mut l = Line::default();
        match (j, from) {
            (0, Side::Client) => l.push("──── ", shaft),
            (0, Side::Server) => l.push("◀─── ", shaft),
            _ => l.space(5),
        }
        l.append(t);
        if j + 1 == n {
            l.space(1);
            let head = if from == Side::Client { "▶" } else { "" };
            let dashes = width.saturating_sub(l.width() + head.chars().count());
            l.push("─".repeat(dashes), shaft);
            l.push(head, shaft);
        } else {
            l.pad_to(width);
        }
        out.push(l);
    }
    out
}

/// A quiet note by one side's lifeline.
pub(super) fn note(side: Side, text: &str, width: usize) -> Line {
    let text = rows::cut(text, width.saturating_sub(2));
    let mut l = Line::default();
    let w = text.chars().count();
    match side {
        Side::Client => l.space(1),
        Side::Server => l.space(width.saturating_sub(w + 1)),
    }
    l.push(text, Style::Dim);
    l.pad_to(width);
    l
}

/// A note in the middle between the lifelines.
pub(super) fn note_centered(text: &str, width: usize) -> Line {
    let text = rows::cut(text, width.saturating_sub(2));
    let mut l = Line::default();
    l.space(width.saturating_sub(text.chars().count()) / 2);
    l.push(text, Style::Dim);
    l.pad_to(width);
    l
}

/// Width of the groups on one line.
pub(super) fn one_line_width(groups: &[Group]) -> usize {
    let text: usize = groups
        .iter()
        .flatten()
        .map(|(t, _)| t.chars().count())
        .sum();
    text + 2 * groups.len().saturating_sub(1)
}
