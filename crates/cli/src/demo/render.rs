//! The demo's output: a header and the ladder for people, JSON lines for tools.

use std::io::{self, IsTerminal, Write};

use synack_trace::ladder::{self, LadderOptions};
use synack_trace::{Summary, Trace, json};

use super::Setup;

/// Width when the terminal's is unknown.
const DEFAULT_WIDTH: usize = 100;

/// Prints the trace to stdout: the header and ladder, or JSON lines with `--json`.
pub fn print(setup: &Setup, trace: &Trace, summary: &Summary) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if setup.json {
        json::write_lines(trace, Some(summary), &mut out)?;
        return out.flush();
    }
    let color = use_color();
    let options = LadderOptions {
        color,
        width: width(),
        ..LadderOptions::default()
    };
    let (bold, plain) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    writeln!(out, "{bold}{}{plain}", title(setup))?;
    writeln!(
        out,
        "link: in-memory, MTU {}, no impairment (seed {})",
        setup.mtu, setup.seed
    )?;
    writeln!(out)?;
    let drawing = ladder::render(trace, Some(summary), &options);
    out.write_all(drawing.as_bytes())?;
    if !drawing.ends_with('\n') {
        writeln!(out)?;
    }
    out.flush()
}

/// "synack demo: HTTP GET over synack's own TCP/IP, client 10.0.0.1 ⇄ server 10.0.0.2:80".
fn title(setup: &Setup) -> String {
    let ex = &setup.exchange;
    let method = if ex.upload_bytes > 0 { "POST" } else { "GET" };
    let what = match ex.requests {
        1 => format!("HTTP {method}"),
        n => format!("{n} HTTP {method}s on one keep-alive connection"),
    };
    format!(
        "synack demo: {what} over synack's own TCP/IP, client {} ⇄ server {}",
        setup.client_ip, setup.server
    )
}

/// Colour only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn use_color() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    io::stdout().is_terminal() && !no_color
}

/// The terminal's width as the shell exports it, or a default.
fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w| w >= 40)
        .unwrap_or(DEFAULT_WIDTH)
}
