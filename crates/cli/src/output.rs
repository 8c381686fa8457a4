//! Output shared by `synack demo` and `synack trace`: colour and width choices, JSON lines
//! with timings, and each connection's timings for people.

use std::io::{self, IsTerminal, Write};

use synack_trace::timings::Timings;
use synack_trace::{Summary, Trace, json};

/// Width when the terminal's is unknown.
const DEFAULT_WIDTH: usize = 100;

/// Colour only on a terminal, never with `NO_COLOR` set (no-color.org) or when `off`.
pub fn use_color(off: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !off && io::stdout().is_terminal() && !no_color
}

/// The terminal's width as the shell exports it, or a default.
pub fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w| w >= 40)
        .unwrap_or(DEFAULT_WIDTH)
}

/// `(bold, reset)` escape codes, or empty strings without colour.
pub fn bold(color: bool) -> (&'static str, &'static str) {
    if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    }
}

/// The trace as JSON lines (docs/trace-format.md), with one `timings` line per connection
/// that has timings after the phases and before the summary (which stays last).
pub fn write_json(
    trace: &Trace,
    summary: Option<&Summary>,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut lines = Vec::new();
    json::write_lines(trace, summary, &mut lines)?;
    // With a summary, its line is the last one: the timings go in just before it.
    let split = match summary {
        Some(_) => {
            let body = lines.strip_suffix(b"\n").unwrap_or(&lines);
            body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
        }
        None => lines.len(),
    };
    out.write_all(&lines[..split])?;
    for conn in &trace.connections {
        if let Some(t) = Timings::of(conn) {
            // `to_json` is an object of curl's names; the line adds its type and connection.
            let fields = t.to_json();
            let fields = fields.strip_prefix('{').unwrap_or(&fields);
            writeln!(out, "{{\"type\":\"timings\",\"conn\":{},{fields}", conn.id)?;
        }
    }
    out.write_all(&lines[split..])
}

/// Each connection's timings: curl's `-w` names, then an httpstat-style bar. Connections
/// without timings (no complete handshake, request and response) are left out; the heading
/// names the connection when there are several.
pub fn timings_text(trace: &Trace, color: bool) -> String {
    let (b, r) = bold(color);
    let mut out = String::new();
    for conn in &trace.connections {
        let Some(t) = Timings::of(conn) else {
            continue;
        };
        if !out.is_empty() {
            out.push('\n');
        }
        let which = if trace.connections.len() > 1 {
            format!(" of connection {}", conn.id)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{b}timings{which}{r} (curl -w names, seconds from the first SYN)\n"
        ));
        out.push_str(&t.curl_lines());
        out.push('\n');
        out.push_str(&t.httpstat(color));
    }
    out
}
