//! `synack trace FILE`: a pcap or pcapng capture read back and explained the way the demo
//! explains its own traffic: the ladder, each connection's phases and timings, or JSON lines.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use synack_trace::capture::{self, Capture, CaptureFormat};
use synack_trace::html::{self, HtmlOptions};
use synack_trace::ladder::{self, LadderOptions};
use synack_trace::{TlsSession, Trace};

use crate::cli::TraceArgs;
use crate::output;

/// Reads, analyzes and prints the capture. Exit status 1 when the capture (or the key log)
/// cannot be read, when the capture is damaged partway (what came before the damage is
/// still shown, with a warning), or when the HTML page cannot be written.
pub fn main(args: TraceArgs) -> ExitCode {
    match run(&args) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(warning)) => {
            eprintln!("synack trace: warning: {warning}");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("synack trace: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything but the exit: `Ok(Some(warning))` when the capture was damaged partway.
fn run(args: &TraceArgs) -> Result<Option<String>, String> {
    let file = args.file.display();
    let bytes = fs::read(&args.file).map_err(|e| {
        format!("cannot read {file}: {e} (give a pcap or pcapng file, e.g. from tcpdump -w or synack demo --pcap)")
    })?;
    let capture = capture::read(&bytes).map_err(|e| {
        format!("{file} is not a capture synack can read: {e} (synack trace reads pcap and pcapng)")
    })?;
    let Capture {
        mut recorder,
        format,
        packets,
        skipped,
        error,
    } = capture;
    if let Some(keylog) = &args.keylog {
        let text = fs::read_to_string(keylog).map_err(|e| {
            format!(
                "cannot read the key log {}: {e} (--keylog takes an NSS key log, as SSLKEYLOGFILE writes)",
                keylog.display()
            )
        })?;
        recorder.key_log(&text);
    }
    // Packets cut by a snapshot length: their payload is partly unknown, worth a word.
    let snapped = recorder
        .packets_with_len()
        .filter(|(_, data, len)| *len > data.len())
        .count();
    let trace = recorder.finish();

    if let Some(path) = &args.html {
        let options = HtmlOptions {
            title: format!("synack trace {file}"),
            ..HtmlOptions::default()
        };
        let page = html::render(&trace, None, &options);
        write_file(path, page.as_bytes())
            .map_err(|e| format!("cannot write the HTML page to {}: {e}", path.display()))?;
    }

    let printed = if args.json {
        let mut out = io::stdout().lock();
        output::write_json(&trace, None, &mut out).and_then(|()| out.flush())
    } else {
        let about = About {
            file: &file.to_string(),
            format,
            packets,
            skipped,
            snapped,
        };
        print(&trace, &about, output::use_color(args.no_color))
    };
    printed.map_err(|e| format!("writing the output failed: {e}"))?;

    Ok(error.map(|e| {
        format!("{file} is damaged: {e}; shown is what came before it ({packets} packets)")
    }))
}

/// What was read, for the heading.
struct About<'a> {
    file: &'a str,
    format: CaptureFormat,
    packets: usize,
    skipped: usize,
    /// Packets whose payload was not all captured (a snapshot length).
    snapped: usize,
}

/// The heading, the ladder, and each connection's phases and timings.
fn print(trace: &Trace, about: &About, color: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let (bold, plain) = output::bold(color);
    let format = match about.format {
        CaptureFormat::Pcap => "pcap",
        CaptureFormat::PcapNg => "pcapng",
    };
    let mut heading = format!(
        "synack trace: {} ({format}, {} IP packets",
        about.file, about.packets
    );
    if about.snapped > 0 {
        let _ = write!(heading, ", {} snapped", about.snapped);
    }
    if about.skipped > 0 {
        let _ = write!(heading, ", {} frames skipped", about.skipped);
    }
    heading.push(')');
    writeln!(out, "{bold}{heading}{plain}")?;
    writeln!(out)?;
    let options = LadderOptions {
        color,
        width: output::width(),
        ..LadderOptions::default()
    };
    let drawing = ladder::render(trace, None, &options);
    out.write_all(drawing.as_bytes())?;
    if !drawing.ends_with('\n') {
        writeln!(out)?;
    }
    let phases = phases_text(trace, color);
    if !phases.is_empty() {
        writeln!(out)?;
        out.write_all(phases.as_bytes())?;
    }
    let timings = output::timings_text(trace, color);
    if !timings.is_empty() {
        writeln!(out)?;
        out.write_all(timings.as_bytes())?;
    }
    out.flush()
}

/// Each connection's phases with their start, end and duration in ms from the capture's
/// first packet.
fn phases_text(trace: &Trace, color: bool) -> String {
    let (b, r) = output::bold(color);
    let mut out = String::new();
    for conn in trace.connections.iter().filter(|c| !c.phases.is_empty()) {
        let _ = writeln!(
            out,
            "{b}phases of connection {}{r} ({} ⇄ {}, ms from the first packet)",
            conn.id, conn.client, conn.server
        );
        if let Some(tls) = &conn.tls {
            let _ = writeln!(out, "  {}", tls_line(tls));
        }
        let rows: Vec<[String; 4]> = conn
            .phases
            .iter()
            .map(|p| {
                let since = |t: u64| ms(t.saturating_sub(trace.start_ns));
                let label = match p.complete {
                    true => p.name.label().to_owned(),
                    false => format!("{} (incomplete)", p.name.label()),
                };
                [
                    label,
                    since(p.start_ns),
                    since(p.end_ns),
                    ms(p.duration_ns()),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..4)
            .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        for [label, start, end, duration] in &rows {
            let _ = writeln!(
                out,
                "  {label:<w0$}  {start:>w1$} → {end:>w2$}  ({duration} ms)",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            );
        }
    }
    out
}

/// "TLS 1.3 · TLS_AES_256_GCM_SHA384 · x25519 · SNI synack.test · 6 records decrypted", or a
/// hint to give the secrets when the records stayed encrypted.
fn tls_line(tls: &TlsSession) -> String {
    let mut parts: Vec<String> = [&tls.version, &tls.cipher_suite, &tls.key_exchange]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if let Some(sni) = &tls.sni {
        parts.push(format!("SNI {sni}"));
    }
    parts.push(match (tls.encrypted_records, tls.undecrypted_records) {
        (0, _) => "no encrypted records".to_owned(),
        (n, 0) => format!("{n} encrypted records, all decrypted"),
        (n, hidden) if !tls.keys_found => {
            format!("{hidden} of {n} encrypted records hidden (no secrets: give --keylog FILE)")
        }
        (n, hidden) => format!("{hidden} of {n} encrypted records could not be decrypted"),
    });
    format!("TLS: {}", parts.join(" · "))
}

/// Milliseconds with three decimals (microseconds, rounded), as the ladder shows times.
fn ms(ns: u64) -> String {
    let us = ns.saturating_add(500) / 1_000;
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::write(path, bytes)
}
