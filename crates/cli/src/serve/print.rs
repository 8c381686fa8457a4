//! A connection's lifecycle for people (a heading, the ladder, timings) or tools (JSON lines
//! whose `conn` is the connection's number in this run, after one `connection` line saying
//! whether it is still open, our state, and what the record did not keep).

use std::io::{self, Write};

use serde_json::{Value, json};
use synack_trace::Side;
use synack_trace::ladder::{self, LadderOptions};

use super::record::{FROM_PEER, FROM_US, Lifecycle, PACKET_CAP, PAYLOAD_CAP};
use crate::output;

/// "connection 3: 10.77.0.1:41234 ⇄ 10.77.0.2:80, 14 segments (40 cut to their headers ...)";
/// "connection 4 (open, ESTABLISHED): ..." for one still open.
pub fn heading(f: &Lifecycle) -> String {
    let segments = f.trace.segments();
    let e = &f.elided;
    let mut notes = String::new();
    let cut = e.cut[FROM_US] + e.cut[FROM_PEER];
    if cut > 0 {
        notes += &format!(
            " ({cut} cut to their headers, {} of payload from us and {} from the peer not kept: \
             beyond {} KiB a direction only the headers are)",
            bytes(e.uncaptured[FROM_US]),
            bytes(e.uncaptured[FROM_PEER]),
            PAYLOAD_CAP / 1024
        );
    }
    let dropped = e.dropped[FROM_US] + e.dropped[FROM_PEER];
    if dropped > 0 {
        notes += &format!(
            " (+ {dropped} not recorded, {} of payload: beyond {PACKET_CAP} packets only SYNs, \
             FINs and RSTs are)",
            bytes(e.dropped_payload[FROM_US] + e.dropped_payload[FROM_PEER]),
        );
    }
    let open = match (f.open, f.state) {
        (false, _) => String::new(),
        (true, Some(state)) => format!(" (open, {})", state.rfc_name()),
        (true, None) => " (open)".to_owned(),
    };
    format!(
        "connection {}{open}: {} ⇄ {}, {segments} segments{notes}",
        f.id, f.key.1, f.key.0
    )
}

/// "934.3 KiB", "12 B".
fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// The `connection` line: the connection's number, ends, whether it is still open, our
/// stack's last state, and per sending side what the record did not keep: segments cut to
/// their headers and their payload (on the record as `captured` 0: no loss, the bytes
/// crossed), and segments not recorded at all beyond the packet cap and their payload.
pub fn connection_line(f: &Lifecycle) -> Value {
    // Our end is the server unless the trace says we opened the connection.
    let we_are = match f.trace.connections.first() {
        Some(c) if c.client == f.key.0 => Side::Client,
        _ => Side::Server,
    };
    let side = |s: Side| {
        let dir = if s == we_are { FROM_US } else { FROM_PEER };
        json!({
            "cut_segments": f.elided.cut[dir],
            "uncaptured_bytes": f.elided.uncaptured[dir],
            "dropped_segments": f.elided.dropped[dir],
            "dropped_payload_bytes": f.elided.dropped_payload[dir],
        })
    };
    let (client, server) = match we_are {
        Side::Server => (f.key.1, f.key.0),
        Side::Client => (f.key.0, f.key.1),
    };
    json!({
        "type": "connection",
        "conn": f.id,
        "client": client.to_string(),
        "server": server.to_string(),
        "ours": we_are.as_str(),
        "open": f.open,
        "state": f.state.map(|s| format!("{s:?}")),
        "segments": f.trace.segments(),
        "elided": {
            "client": side(Side::Client),
            "server": side(Side::Server),
            "payload_cap": PAYLOAD_CAP,
            "packet_cap": PACKET_CAP,
        },
    })
}

/// The connection as JSON lines: its `connection` line, then the trace's lines
/// (docs/trace-format.md), each `conn` set to its number in this run, then one `timings`
/// line when it has timings.
pub fn json_lines(f: &Lifecycle, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", connection_line(f))?;
    let mut lines = Vec::new();
    output::write_json(&f.trace, None, &mut lines)?;
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Value>(line) {
            Ok(mut value) => {
                if let Some(conn) = value.get_mut("conn") {
                    *conn = Value::from(f.id);
                }
                writeln!(out, "{value}")?;
            }
            // Not expected; passed through rather than lost.
            Err(_) => {
                out.write_all(line)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Writes finished connections to stdout as they come.
pub struct Printer {
    pub json: bool,
    pub color: bool,
}

impl Printer {
    /// Prints each connection; a closed stdout is not worth stopping the server for.
    pub fn print(&self, finished: &[std::sync::Arc<Lifecycle>]) {
        if finished.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        for f in finished {
            let _ = self.one(f, &mut out);
        }
        let _ = out.flush();
    }

    fn one(&self, f: &Lifecycle, out: &mut impl Write) -> io::Result<()> {
        if self.json {
            return json_lines(f, out);
        }
        let (b, r) = output::bold(self.color);
        writeln!(out, "{b}{}{r}", heading(f))?;
        let options = LadderOptions {
            color: self.color,
            width: output::width(),
            ..LadderOptions::default()
        };
        let drawing = ladder::render(&f.trace, None, &options);
        out.write_all(drawing.as_bytes())?;
        if !drawing.ends_with('\n') {
            writeln!(out)?;
        }
        let timings = output::timings_text(&f.trace, self.color);
        if !timings.is_empty() {
            writeln!(out)?;
            out.write_all(timings.as_bytes())?;
        }
        writeln!(out)
    }
}
