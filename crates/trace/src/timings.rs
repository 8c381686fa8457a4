//! A connection's timings the way curl's `-w` names them, and an httpstat-style bar.

use crate::model::ConnectionTrace;

/// Cumulative times from the connection's first SYN, as curl's `-w` variables count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// `time_connect`: the 3-way handshake is done.
    pub connect_ns: u64,
    /// `time_appconnect`: the TLS handshake is done; `None` without TLS (curl prints 0).
    pub appconnect_ns: Option<u64>,
    /// `time_pretransfer`: the request is about to go.
    pub pretransfer_ns: u64,
    /// `time_starttransfer`: the first response byte.
    pub starttransfer_ns: u64,
    /// `time_total`: the last response byte.
    pub total_ns: u64,
}

impl Timings {
    /// The timings of one connection, or `None` when it has no complete handshake and
    /// response. (Stub.)
    pub fn of(_conn: &ConnectionTrace) -> Option<Timings> {
        None
    }
}
