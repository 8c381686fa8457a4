//! The ladder diagram: per connection, a time column, two lifelines, one arrow per segment
//! with its flags, relative numbers and what it carries, and the phases bracketed. In the
//! spirit of Wireshark's flow graph crossed with tcpdump.

mod brackets;
pub(crate) mod closing;
mod draw;
pub(crate) mod rows;
mod style;

use brackets::Brackets;
use draw::{ARROW_FRAME, arrow_lines, header, note, note_centered, one_line_width};
use rows::Row;
use style::{Line, Style};

use crate::format;
use crate::model::{ConnectionTrace, Summary, Trace};

/// How to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderOptions {
    /// ANSI colour; the caller decides (a terminal, no `NO_COLOR`).
    pub color: bool,
    /// Target line width in columns; arrows shrink and their text wraps to fit.
    pub width: usize,
    /// Runs of plain data segments longer than this show only their first and last halves;
    /// `None` shows every segment.
    pub fold_after: Option<usize>,
    /// Show state changes (when recorded) as notes on the lifelines.
    pub states: bool,
}

impl Default for LadderOptions {
    fn default() -> Self {
        LadderOptions {
            color: false,
            width: 100,
            fold_after: Some(40),
            states: true,
        }
    }
}

/// Arrow bodies never get narrower than this, whatever the width asked.
const MIN_ARROW: usize = 30;
/// Label columns taken from the arrows at most: "3-way handshake" fits.
const LABEL_RESERVE: usize = 16;

/// Renders the trace as a ladder, followed by the summary if given.
pub fn render(trace: &Trace, summary: Option<&Summary>, opts: &LadderOptions) -> String {
    let mut lines: Vec<Line> = Vec::new();
    if trace.connections.is_empty() {
        lines.push(style::line(&[("no TCP connections recorded", Style::Dim)]));
    }
    let prepared: Vec<Prepared> = trace
        .connections
        .iter()
        .map(|c| Prepared::new(c, trace.start_ns, opts))
        .collect();
    // One layout for all connections, so their lifelines line up too.
    let layout = Layout::new(&prepared, opts.width);
    for (i, p) in prepared.iter().enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        if prepared.len() > 1 {
            lines.push(style::line(&[(
                &format!("connection {}", p.conn.id),
                Style::Bold,
            )]));
        }
        connection(p, &layout, &mut lines);
    }
    closing::trace_notes(trace, &mut lines);
    if let Some(summary) = summary {
        lines.push(Line::default());
        lines.push(closing::summary(summary));
    }
    let mut out = String::new();
    for l in &lines {
        out.push_str(&l.render(opts.color));
        out.push('\n');
    }
    out
}

/// A connection's rows, brackets, arrow words and times, ready to lay out.
struct Prepared<'a> {
    conn: &'a ConnectionTrace,
    rows: Vec<Row<'a>>,
    brackets: Brackets,
    groups: Vec<Vec<rows::Group>>,
    times: Vec<Option<String>>,
}

impl<'a> Prepared<'a> {
    fn new(conn: &'a ConnectionTrace, start_ns: u64, opts: &LadderOptions) -> Prepared<'a> {
        let rows = rows::build(conn, opts.fold_after, opts.states);
        let brackets = Brackets::new(conn, &rows);
        let groups = rows
            .iter()
            .map(|r| match r {
                Row::Segment { seg, .. } => rows::segment_groups(seg),
                _ => Vec::new(),
            })
            .collect();
        let times = rows
            .iter()
            .map(|r| r.t_ns().map(|t| format::ms(t.saturating_sub(start_ns))))
            .collect();
        Prepared {
            conn,
            rows,
            brackets,
            groups,
            times,
        }
    }

    /// Width between the lifelines that shows every row on one line.
    fn natural_width(&self) -> usize {
        let rows = self.rows.iter().zip(&self.groups).map(|(r, g)| match r {
            Row::Segment { .. } => one_line_width(g) + ARROW_FRAME,
            Row::State { text, .. } => text.chars().count() + 4,
            Row::Fold {
                segments, bytes, ..
            } => rows::fold_text(*segments, *bytes).chars().count() + 4,
        });
        let header = format!("client {}  server {}", self.conn.client, self.conn.server);
        rows.max()
            .unwrap_or(0)
            .max(header.chars().count().saturating_sub(2))
    }
}

/// Column widths shared by every connection's ladder.
struct Layout {
    lanes: usize,
    time: usize,
    /// Between the lifelines.
    arrow: usize,
}

impl Layout {
    fn new(prepared: &[Prepared], width: usize) -> Layout {
        let lanes = prepared
            .iter()
            .map(|p| p.brackets.lanes())
            .max()
            .unwrap_or(0)
            .max(1);
        let times = prepared.iter().flat_map(|p| p.times.iter().flatten());
        let time = times.map(|t| t.len()).max().unwrap_or(0).max(2);
        let label = prepared
            .iter()
            .map(|p| p.brackets.label_width())
            .max()
            .unwrap_or(0);
        let natural = prepared
            .iter()
            .map(Prepared::natural_width)
            .max()
            .unwrap_or(0);
        // A rare long label ("3-way handshake (incomplete)") may run past the width rather
        // than squeeze every arrow.
        let label = label.min(LABEL_RESERVE);
        let used = lanes + 1 + time + 2 + 2 + if label > 0 { 2 + label } else { 0 };
        let arrow = natural.min(width.saturating_sub(used)).max(MIN_ARROW);
        Layout { lanes, time, arrow }
    }

    /// Left of the client lifeline: brackets, a space, the time, two spaces.
    fn prefix(&self) -> usize {
        self.lanes + 1 + self.time + 2
    }
}

fn connection(p: &Prepared, layout: &Layout, out: &mut Vec<Line>) {
    header(p.conn, layout, out);
    for (r, row) in p.rows.iter().enumerate() {
        let arrow = layout.arrow;
        let bodies = match row {
            Row::Segment { seg, .. } => {
                arrow_lines(seg.from, seg.retransmission, &p.groups[r], arrow)
            }
            Row::State { side, text, .. } => vec![note(*side, text, arrow)],
            Row::Fold {
                segments, bytes, ..
            } => vec![note_centered(&rows::fold_text(*segments, *bytes), arrow)],
        };
        let n = bodies.len();
        for (j, body) in bodies.into_iter().enumerate() {
            let mut l = p.brackets.column(r, j, n);
            l.pad_to(layout.lanes + 1);
            let t = p.times[r].as_deref().filter(|_| j == 0).unwrap_or("");
            l.space(layout.time - t.len());
            l.push(t, Style::Dim);
            l.space(2);
            l.push("│", Style::Plain);
            l.append(body);
            l.push("│", Style::Plain);
            let label = p.brackets.label(r, j, n);
            if !label.is_empty() {
                l.space(2);
                l.push(label, Style::Phase);
            }
            out.push(l);
        }
    }
    let notes = [closing::final_states(p.conn), closing::tls_session(p.conn)];
    for note in notes.into_iter().flatten() {
        let mut l = Line::default();
        l.space(layout.prefix() + 1);
        l.push(note, Style::Dim);
        out.push(l);
    }
}
