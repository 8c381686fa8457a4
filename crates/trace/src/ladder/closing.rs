//! Lines after the arrows: where each side was left, what could not be shown, the summary.

use synack_core::tcp::State;

use super::style::{Line, Style};
use crate::format;
use crate::model::{ConnectionTrace, Side, Summary, Trace};

/// "client TIME-WAIT (2 MSL), server CLOSED": each side's last reported state, when states
/// were recorded.
pub(crate) fn final_states(conn: &ConnectionTrace) -> Option<String> {
    let mut parts = Vec::new();
    for side in [Side::Client, Side::Server] {
        let mut states = conn.states.iter().filter(|s| s.side == side);
        let Some(last) = states.clone().next_back() else {
            continue;
        };
        let waited = states.any(|s| s.to == State::TimeWait);
        let text = match last.to {
            State::TimeWait => "TIME-WAIT (2 MSL)".to_owned(),
            State::Closed if waited => "CLOSED after TIME-WAIT".to_owned(),
            other => other.rfc_name().to_owned(),
        };
        parts.push(format!("{} {text}", side.as_str()));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// "TLS 1.3, TLS_AES_128_GCM_SHA256, x25519, ALPN http/1.1, decrypted": what a TLS
/// connection negotiated and whether the key log opened it.
pub(crate) fn tls_session(conn: &ConnectionTrace) -> Option<String> {
    let tls = conn.tls.as_ref()?;
    let mut parts: Vec<String> = [&tls.version, &tls.cipher_suite, &tls.key_exchange]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if parts.is_empty() {
        parts.push("TLS".to_owned());
    }
    if let Some(alpn) = &tls.alpn {
        parts.push(format!("ALPN {alpn}"));
    }
    if tls.hello_retry {
        parts.push("after a HelloRetryRequest".to_owned());
    }
    let decryption = match (tls.decrypted, tls.undecrypted_records) {
        (true, 0) => "decrypted".to_owned(),
        (true, n) => format!("decrypted but {} not", format::plural(n as u64, "record")),
        (false, _) if !tls.keys_found && tls.encrypted_records > 0 => {
            "not decrypted (no keys in the key log)".to_owned()
        }
        (false, _) if tls.encrypted_records > 0 => "not decrypted".to_owned(),
        (false, _) => "nothing encrypted seen".to_owned(),
    };
    parts.push(decryption);
    Some(parts.join(", "))
}

/// Counts of what was recorded but is not in any ladder.
pub(crate) fn trace_notes(trace: &Trace, out: &mut Vec<Line>) {
    let notes = [
        (trace.malformed_packets, "malformed packet", "not parsed"),
        (trace.non_tcp_packets, "non-TCP packet", "not shown"),
        (
            trace.unmatched_states,
            "state change",
            "matched no connection",
        ),
    ];
    for (n, what, why) in notes.into_iter().filter(|(n, ..)| *n > 0) {
        let mut l = Line::default();
        l.push(
            format!("{} {why}", format::plural(n as u64, what)),
            Style::Dim,
        );
        out.push(l);
    }
}

/// "12 segments, 0 retransmissions · 1 request · 1024 B down, 0 B up · verified (sha256 …)".
pub(crate) fn summary(s: &Summary) -> Line {
    let mut l = Line::default();
    let counts = format!(
        "{}, {} · {} · {} down, {} up · ",
        format::plural(s.segments, "segment"),
        format::plural(s.retransmissions, "retransmission"),
        format::plural(s.requests, "request"),
        format::bytes(s.bytes_down),
        format::bytes(s.bytes_up),
    );
    l.push(counts, Style::Plain);
    let sent = format::short_hash(&s.sha256_sent);
    if s.verified {
        l.push("verified", Style::Good);
        l.push(format!(" (sha256 {sent})"), Style::Plain);
    } else {
        l.push("NOT VERIFIED", Style::Bad);
        let received = format::short_hash(&s.sha256_received);
        l.push(
            format!(" (sha256 sent {sent}, received {received})"),
            Style::Plain,
        );
    }
    l
}
