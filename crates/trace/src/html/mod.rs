//! One self-contained HTML page of a trace: per connection a ladder diagram, the phases on
//! a time axis, curl-style timings, Stevens graphs and a summary table. Inline CSS and SVG
//! only: the page loads nothing and needs no script.

mod escape;
mod ladder_svg;
mod page;
mod rows;
mod stevens;
mod svg;
mod timeline;
mod timings_view;

use crate::model::{ConnectionTrace, PhaseName, Summary, Trace};

/// What the page shows besides the trace.
#[derive(Debug, Clone)]
pub struct HtmlOptions {
    /// The page title and heading; "synack trace" when empty.
    pub title: String,
    /// Runs of plain data segments longer than this show only their first and last halves
    /// on the ladder (as `LadderOptions::fold_after`); `None` draws every segment. The
    /// timeline and Stevens graphs always show every segment.
    pub fold_after: Option<usize>,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            title: String::new(),
            fold_after: Some(40),
        }
    }
}

/// Renders the page: a complete HTML document, with `summary` (what the producer verified)
/// in its header when given.
pub fn render(trace: &Trace, summary: Option<&Summary>, options: &HtmlOptions) -> String {
    page::document(trace, summary, options)
}

/// For each phase of `conn`, its number among phases of the same name, or `None` when it is
/// the only one ("request 2" only when there are several requests).
fn phase_ordinals(conn: &ConnectionTrace) -> Vec<Option<usize>> {
    let mut seen: Vec<PhaseName> = Vec::new();
    conn.phases
        .iter()
        .map(|p| {
            seen.push(p.name);
            let total = conn.phases.iter().filter(|q| q.name == p.name).count();
            (total > 1).then(|| seen.iter().filter(|&&n| n == p.name).count())
        })
        .collect()
}

/// A phase's name for people, numbered when it repeats.
fn phase_title(name: PhaseName, nth: Option<usize>) -> String {
    match nth {
        Some(n) => format!("{} {n}", name.label()),
        None => name.label().to_owned(),
    }
}
