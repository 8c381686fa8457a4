//! One self-contained HTML page of a trace.

use crate::model::{Summary, Trace};

/// What the page shows besides the trace.
#[derive(Debug, Clone, Default)]
pub struct HtmlOptions {
    /// The page title and heading.
    pub title: String,
}

/// Renders the page. (Stub.)
pub fn render(_trace: &Trace, _summary: Option<&Summary>, _options: &HtmlOptions) -> String {
    String::new()
}
