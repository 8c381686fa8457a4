//! JSON lines: one object a line, each with a `type`; the contract is docs/trace-format.md.
//! Order: segments and state changes as they happened, then phases, then per TLS
//! connection its session and messages, then the summary.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::{
    ConnectionTrace, Event, Phase, SegmentRecord, StateRecord, Summary, TlsMessage, TlsSession,
    Trace,
};

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
    /// Payload bytes captured, only when fewer than `len` (a snapped packet).
    #[serde(skip_serializing_if = "Option::is_none")]
    captured: Option<usize>,
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
struct TlsLine<'a> {
    r#type: &'static str,
    conn: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher_suite: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_exchange: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<&'a str>,
    alpn_offered: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    alpn: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    hello_retry: bool,
    keys_found: bool,
    decrypted: bool,
    encrypted_records: usize,
    undecrypted_records: usize,
}

#[derive(Serialize)]
struct TlsMessageLine<'a> {
    r#type: &'static str,
    conn: u32,
    from: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    detail: &'a str,
    encrypted: bool,
    decrypted: bool,
    start_offset: u64,
    end_offset: u64,
    t_first_ns: u64,
    t_last_ns: u64,
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
    for conn in &trace.connections {
        let Some(session) = &conn.tls else { continue };
        line(out, &tls(conn.id, session))?;
        let mut messages: Vec<&TlsMessage> = conn.tls_messages.iter().collect();
        messages.sort_by_key(|m| (m.t_first_ns, m.from as u8, m.start_offset));
        for m in messages {
            line(out, &tls_message(conn.id, m))?;
        }
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
        captured: (s.captured < s.len).then_some(s.captured),
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

fn tls(conn: u32, s: &TlsSession) -> TlsLine<'_> {
    TlsLine {
        r#type: "tls",
        conn,
        version: s.version.as_deref(),
        cipher_suite: s.cipher_suite.as_deref(),
        key_exchange: s.key_exchange.as_deref(),
        sni: s.sni.as_deref(),
        alpn_offered: &s.alpn_offered,
        alpn: s.alpn.as_deref(),
        hello_retry: s.hello_retry,
        keys_found: s.keys_found,
        decrypted: s.decrypted,
        encrypted_records: s.encrypted_records,
        undecrypted_records: s.undecrypted_records,
    }
}

fn tls_message(conn: u32, m: &TlsMessage) -> TlsMessageLine<'_> {
    TlsMessageLine {
        r#type: "tls-message",
        conn,
        from: m.from.as_str(),
        name: &m.name,
        detail: &m.detail,
        encrypted: m.encrypted,
        decrypted: m.decrypted,
        start_offset: m.start_offset,
        end_offset: m.end_offset,
        t_first_ns: m.t_first_ns,
        t_last_ns: m.t_last_ns,
        complete: m.complete,
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
