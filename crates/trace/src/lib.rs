//! synack-trace: what crossed a link becomes per-connection lifecycles, rendered as a ladder
//! diagram or as JSON lines.
//!
//! Feed a [`Recorder`] every IP packet (whole, or snapped to its first bytes with
//! [`Recorder::packet_snapped`]; and, optionally, the state changes a stack reports),
//! then [`Recorder::finish`] it into a [`Trace`]: connections with relative sequence numbers,
//! retransmissions, the HTTP/1.x messages in each direction, TLS records and handshake
//! messages ([`TlsSession`], [`TlsMessage`]; decrypted when [`Recorder::key_log`] holds the
//! secrets, so HTTPS shows its HTTP too), and named [`Phase`]s (3-way handshake, TLS
//! handshake, request, response, 4-way handshake, reset). [`ladder::render`] draws it for
//! people; [`json::write_lines`] writes it for tools (format: `docs/trace-format.md`).
//!
//! The analysis uses only what is on the wire, so it explains a tcpdump capture the same way
//! it explains synack's own traffic.

#![forbid(unsafe_code)]

mod analyze;
pub mod capture;
mod format;
pub mod html;
mod http;
pub mod json;
pub mod keylog;
pub mod ladder;
mod model;
mod recorder;
pub mod timings;
mod tls;

pub use keylog::KeyLog;
pub use model::{
    ConnectionTrace, Event, HttpMessage, Phase, PhaseName, SegmentRecord, Side, StateRecord,
    Summary, TlsMessage, TlsSession, Trace,
};
pub use recorder::Recorder;
pub use synack_core::wire::TcpFlags;
