//! Phase brackets on the left (┌ │ └) and phase labels on the right: the name where a phase
//! starts, its duration where it ends. Overlapping phases get a bracket column each.

use super::rows::Row;
use super::style::{Line, Style};
use crate::format;
use crate::model::{ConnectionTrace, PhaseName};

/// One phase placed on rows.
struct Span {
    first_row: usize,
    last_row: usize,
    /// Bracket column; `None` for a phase on a single row, which needs no bracket.
    lane: Option<usize>,
    name: String,
    /// Duration, for phases over several rows.
    end: Option<String>,
}

/// Where every phase of a connection is drawn.
pub(crate) struct Brackets {
    spans: Vec<Span>,
    lanes: usize,
}

impl Brackets {
    /// Places the connection's phases on `rows`.
    pub fn new(conn: &ConnectionTrace, rows: &[Row]) -> Brackets {
        let mut row_of = vec![None; conn.segments.len()];
        for (r, row) in rows.iter().enumerate() {
            if let Row::Segment { index, .. } = row {
                row_of[*index] = Some(r);
            }
        }
        let count = |name: PhaseName| conn.phases.iter().filter(|p| p.name == name).count();
        let mut seen: Vec<PhaseName> = Vec::new();
        let mut spans = Vec::new();
        let mut lane_ends: Vec<usize> = Vec::new();
        for p in &conn.phases {
            seen.push(p.name);
            let at = |i: usize| row_of.get(i).copied().flatten();
            let (Some(first_row), Some(last_row)) = (at(p.first_segment), at(p.last_segment))
            else {
                continue;
            };
            let mut name = p.name.label().to_owned();
            if count(p.name) > 1 {
                let nth = seen.iter().filter(|&&n| n == p.name).count();
                name = format!("{name} {nth}");
            }
            let multi_row = last_row > first_row;
            let incomplete = if p.complete { "" } else { ", incomplete" };
            let (end, lane) = if multi_row {
                let end = format!("{}{incomplete}", format::duration(p.duration_ns()));
                (
                    Some(end),
                    Some(free_lane(&mut lane_ends, first_row, last_row)),
                )
            } else {
                if !p.complete {
                    name.push_str(" (incomplete)");
                }
                (None, None)
            };
            spans.push(Span {
                first_row,
                last_row,
                lane,
                name,
                end,
            });
        }
        Brackets {
            spans,
            lanes: lane_ends.len(),
        }
    }

    /// Bracket columns needed.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// The bracket characters on line `line` of the `lines` that row `row` takes.
    pub fn column(&self, row: usize, line: usize, lines: usize) -> Line {
        let mut chars = vec![' '; self.lanes];
        for s in &self.spans {
            let Some(lane) = s.lane else { continue };
            if row < s.first_row || row > s.last_row {
                continue;
            }
            chars[lane] = if row == s.first_row && line == 0 {
                '┌'
            } else if row == s.last_row && line + 1 == lines {
                '└'
            } else {
                '│'
            };
        }
        let mut l = Line::default();
        l.push(chars.into_iter().collect::<String>(), Style::Phase);
        l
    }

    /// The labels on line `line` of row `row`, joined.
    pub fn label(&self, row: usize, line: usize, lines: usize) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for s in &self.spans {
            if let Some(end) = &s.end
                && row == s.last_row
                && line + 1 == lines
            {
                parts.push(end);
            }
            if row == s.first_row && line == 0 {
                parts.push(&s.name);
            }
        }
        parts.join(" · ")
    }

    /// Widest label any line can get (all labels of a row on one line).
    pub fn label_width(&self) -> usize {
        let rows = self.spans.iter().flat_map(|s| [s.first_row, s.last_row]);
        rows.map(|r| self.label(r, 0, 1).chars().count())
            .max()
            .unwrap_or(0)
    }
}

/// The first bracket column free from `first_row` on, claimed through `last_row`.
fn free_lane(lane_ends: &mut Vec<usize>, first_row: usize, last_row: usize) -> usize {
    match lane_ends.iter().position(|&end| end < first_row) {
        Some(lane) => {
            lane_ends[lane] = last_row;
            lane
        }
        None => {
            lane_ends.push(last_row);
            lane_ends.len() - 1
        }
    }
}
