//! The eleven connection states of RFC 9293 §3.3.2.

use core::fmt;

/// A connection state, named as RFC 9293 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    /// Every state, in the RFC's order.
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// The RFC's spelling: `SYN-SENT`, `TIME-WAIT`, ...
    pub fn rfc_name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// The Rust spelling used in JSON traces: `SynSent`, `TimeWait`, ...
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "Closed",
            State::Listen => "Listen",
            State::SynSent => "SynSent",
            State::SynReceived => "SynReceived",
            State::Established => "Established",
            State::FinWait1 => "FinWait1",
            State::FinWait2 => "FinWait2",
            State::CloseWait => "CloseWait",
            State::Closing => "Closing",
            State::LastAck => "LastAck",
            State::TimeWait => "TimeWait",
        }
    }

    /// Whether a SYN has been exchanged both ways: the sequence spaces are synchronized.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }

    /// Whether we may still queue data to send (no FIN queued yet).
    pub fn can_send(self) -> bool {
        matches!(self, State::Established | State::CloseWait)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc_name())
    }
}
