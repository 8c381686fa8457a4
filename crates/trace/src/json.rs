//! JSON lines: one object a line, each with a `type`; the contract is docs/trace-format.md.
//! Order: segments and state changes as they happened, then phases, then the summary.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::{ConnectionTrace, Event, Phase, SegmentRecord, StateRecord, Summary, Trace};

#[derive(Serialize)]
struct SegmentLine<'a> {
    r#type: &'static str,
    t_ns: u64,
    conn: u32,
    from: &'static str,
    src: String,
    dst: String,
    flags: Vec<&'static str>,
    seq: u32,
    ack: u32,
    seq_raw: u32,
    ack_raw: u32,
    win: u32,
    len: usize,
    options: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    carries: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    retransmission: bool,
}

#[derive(Serialize)]
struct StateLine {
    r#type: &'static str,
    t_ns: u64,
    conn: u32,
    side: &'static str,
    from: &'static str,
    to: &'static str,
}

#[derive(Serialize)]
struct PhaseLine {
    r#type: &'static str,
    conn: u32,
    name: &'static str,
    start_ns: u64,
    end_ns: u64,
    duration_ns: u64,
    #[serde(skip_serializing_if = "is_true")]
    complete: bool,
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    r#type: &'static str,
    connections: usize,
    requests: u64,
    bytes_down: u64,
    bytes_up: u64,
    sha256_sent: &'a str,
    sha256_received: &'a str,
    verified: bool,
    segments: u64,
    retransmissions: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Writes the trace (and the summary, if given) as JSON lines.
pub fn write_lines(
    trace: &Trace,
    summary: Option<&Summary>,
    out: &mut impl Write,
) -> io::Result<()> {
    for (conn, event) in trace.events() {
        match event {
            Event::Segment(s) => line(out, &segment(conn.id, s))?,
            Event::State(s) => line(out, &state(conn.id, s))?,
        }
    }
    let mut phases: Vec<(&ConnectionTrace, &Phase)> = trace
        .connections
        .iter()
        .flat_map(|c| c.phases.iter().map(move |p| (c, p)))
        .collect();
    phases.sort_by_key(|(c, p)| (p.start_ns, c.id));
    for (conn, p) in phases {
        line(out, &phase(conn.id, p))?;
    }
    if let Some(s) = summary {
        line(out, &summary_line(trace, s))?;
    }
    Ok(())
}

fn line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

fn segment(conn: u32, s: &SegmentRecord) -> SegmentLine<'_> {
    SegmentLine {
        r#type: "segment",
        t_ns: s.t_ns,
        conn,
        from: s.from.as_str(),
        // SocketAddr's Display already writes IPv6 as [addr]:port.
        src: s.src.to_string(),
        dst: s.dst.to_string(),
        flags: s.flags.names().collect(),
        seq: s.seq,
        ack: s.ack,
        seq_raw: s.seq_raw,
        ack_raw: s.ack_raw,
        win: s.win,
        len: s.len,
        options: &s.options,
        carries: s.carries.as_deref(),
        retransmission: s.retransmission,
    }
}

fn state(conn: u32, s: &StateRecord) -> StateLine {
    StateLine {
        r#type: "state",
        t_ns: s.t_ns,
        conn,
        side: s.side.as_str(),
        from: s.from.name(),
        to: s.to.name(),
    }
}

fn phase(conn: u32, p: &Phase) -> PhaseLine {
    PhaseLine {
        r#type: "phase",
        conn,
        name: p.name.as_str(),
        start_ns: p.start_ns,
        end_ns: p.end_ns,
        duration_ns: p.duration_ns(),
        complete: p.complete,
    }
}

fn summary_line<'a>(trace: &Trace, s: &'a Summary) -> SummaryLine<'a> {
    SummaryLine {
        r#type: "summary",
        connections: trace.connections.len(),
        requests: s.requests,
        bytes_down: s.bytes_down,
        bytes_up: s.bytes_up,
        sha256_sent: &s.sha256_sent,
        sha256_received: &s.sha256_received,
        verified: s.verified,
        segments: s.segments,
        retransmissions: s.retransmissions,
    }
}
