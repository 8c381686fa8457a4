//! Output shared by `synack demo` and `synack trace`: colour and width choices, JSON lines
//! with timings, each connection's timings for people, and transport numbers.

use std::io::{self, IsTerminal, Write};

use synack_core::stack::ConnectionInfo;
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
    write_json_with(trace, summary, &[], out)
}

/// [`write_json`] with `extra` lines (already JSON) after the timings, before the summary.
pub fn write_json_with(
    trace: &Trace,
    summary: Option<&Summary>,
    extra: &[String],
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
    for line in extra {
        writeln!(out, "{line}")?;
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

/// One side's transport numbers for people: "client  cwnd 14.1 KiB · srtt 0.21 ms ·
/// retransmitted 0 B in 0 segments (0 spurious) · 0 RTO · 0 recoveries · 0 loss probes".
pub fn transport_line(side: &str, info: &ConnectionInfo) -> String {
    let srtt = info
        .srtt
        .map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3));
    format!(
        "{side:<7} cwnd {} · srtt {srtt} · retransmitted {} in {} segments ({} spurious, {} undone) · {} RTO · {} recoveries · {} loss probes",
        bytes(info.cwnd as u64),
        bytes(info.retransmitted_bytes),
        info.retransmitted_segments,
        info.spurious_retransmissions,
        info.undone_recoveries,
        info.rto_expirations,
        info.fast_recoveries,
        info.tlp_probes,
    )
}

/// One side's transport numbers as a JSON line (docs/trace-format.md, `tcp`).
pub fn transport_json(side: &str, info: &ConnectionInfo) -> String {
    let srtt = info
        .srtt
        .map_or("null".into(), |d| format!("{:.6}", d.as_secs_f64()));
    format!(
        "{{\"type\":\"tcp\",\"side\":\"{side}\",\"bytes_sent\":{},\"bytes_received\":{},\"retransmitted_segments\":{},\"retransmitted_bytes\":{},\"spurious_retransmissions\":{},\"undone_recoveries\":{},\"rto_expirations\":{},\"fast_recoveries\":{},\"tlp_probes\":{},\"cwnd\":{},\"srtt\":{srtt}}}",
        info.bytes_sent,
        info.bytes_received,
        info.retransmitted_segments,
        info.retransmitted_bytes,
        info.spurious_retransmissions,
        info.undone_recoveries,
        info.rto_expirations,
        info.fast_recoveries,
        info.tlp_probes,
        info.cwnd,
    )
}

/// 1234567 → "1.2 MiB".
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
