//! A finished connection for people (a heading, the ladder, timings) or tools (JSON lines
//! whose `conn` is the connection's number in this run).

use std::io::{self, Write};

use serde_json::Value;
use synack_trace::ladder::{self, LadderOptions};

use super::record::{Finished, PAYLOAD_CAP};
use crate::output;

/// "connection 3: 10.77.0.1:41234 ⇄ 10.77.0.2:80, 14 segments (+ 40 not recorded ...)".
pub fn heading(f: &Finished) -> String {
    let segments = f.trace.segments();
    let elided = match f.elided {
        0 => String::new(),
        n => format!(
            " (+ {n} not recorded: beyond {} KiB of payload a direction)",
            PAYLOAD_CAP / 1024
        ),
    };
    format!(
        "connection {}: {} ⇄ {}, {segments} segments{elided}",
        f.id, f.key.1, f.key.0
    )
}

/// The connection as JSON lines (docs/trace-format.md), each `conn` set to its number in
/// this run, then one `timings` line when it has timings.
pub fn json_lines(f: &Finished, out: &mut impl Write) -> io::Result<()> {
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
    pub fn print(&self, finished: &[std::sync::Arc<Finished>]) {
        if finished.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        for f in finished {
            let _ = self.one(f, &mut out);
        }
        let _ = out.flush();
    }

    fn one(&self, f: &Finished, out: &mut impl Write) -> io::Result<()> {
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
