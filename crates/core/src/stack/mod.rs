//! The stack: addresses, IP demultiplexing, the socket table, listeners and timers.
//!
//! # Using a `Stack`
//! A driver owns one `Stack` and one link. The methods fall into four groups:
//! - **Getters** read without changing anything: [`Stack::state`], [`Stack::readiness`],
//!   [`Stack::counters`], [`Stack::info`]; for tests and simulations,
//!   [`Stack::send_snapshots`] and [`Stack::check_invariants`].
//! - **Inputs** hand the stack something that happened: [`Stack::receive`] (a packet arrived),
//!   [`Stack::handle_timeout`] (the time asked for by `poll_timeout` came).
//! - **Commands** are socket calls on handles: [`Stack::listen`], [`Stack::accept`],
//!   [`Stack::connect`], [`Stack::send`], [`Stack::recv`], [`Stack::shutdown`],
//!   [`Stack::close`], [`Stack::abort`].
//! - **Outputs** are polled after every input or command, in this order, until each returns
//!   `None`: [`Stack::poll_transmit`] (packets to put on the link), [`Stack::poll_ready`]
//!   (sockets whose readiness may have changed, to wake their tasks), [`Stack::poll_event`]
//!   (trace events), and last [`Stack::poll_timeout`] (when to call `handle_timeout`).
//!
//! Every call that can change state takes `now`; time must not go backwards.

use core::fmt;
use core::ops::RangeInclusive;
use std::net::{IpAddr, SocketAddr};

use crate::tcp::{State, TcpConfig};

mod demux;
mod host;
mod invariants;
mod isn;
mod receive;
mod timer_queue;

use crate::time::Instant;
use crate::wire::WireError;
pub use host::Stack;
pub use invariants::{CWND_CAP_FACTOR, Invariant, InvariantViolation, SendSequence, SendSnapshot};
pub(crate) use receive::IcmpError;

/// How a stack is set up.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The addresses this stack owns (IPv4 and/or IPv6).
    pub addrs: Vec<IpAddr>,
    /// Link MTU in bytes: the largest IP packet `poll_transmit` writes.
    pub mtu: usize,
    /// Seeds every random choice (ISN secret, ephemeral ports): same seed, same run.
    pub seed: u64,
    /// TTL / hop limit of packets we send (RFC 9293 MUST-49).
    pub ttl: u8,
    /// Local ports handed to `connect` without one.
    pub ephemeral_ports: RangeInclusive<u16>,
    /// Record [`Event`]s for `poll_event` (off for benchmarks).
    pub record_events: bool,
    /// TCP settings for every connection.
    pub tcp: TcpConfig,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            addrs: Vec::new(),
            mtu: 1500,
            seed: 0,
            ttl: 64,
            ephemeral_ports: 49152..=65535,
            record_events: true,
            tcp: TcpConfig::default(),
        }
    }
}

/// A connection's handle. Stale handles (of a closed and released socket) are detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketHandle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A listener's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerHandle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// Something whose readiness may have changed, from [`Stack::poll_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ready {
    Socket(SocketHandle),
    Listener(ListenerHandle),
}

/// What a socket can do now, from [`Stack::readiness`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// `recv` would not block: data, end of stream, or an error is waiting.
    pub readable: bool,
    /// `send` would not block: buffer space, or an error is waiting.
    pub writable: bool,
    /// The 3-way handshake has completed (the connection may since have closed).
    pub connected: bool,
}

/// Why a socket call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketError {
    /// Nothing to do now; wait for readiness.
    WouldBlock,
    /// The handle names no live socket.
    InvalidHandle,
    /// The peer refused the connection (RST in answer to our SYN).
    Refused,
    /// The peer reset the connection.
    Reset,
    /// Retransmissions went unanswered for too long (RFC 9293 R2).
    TimedOut,
    /// The peer reported the destination unreachable (ICMP).
    Unreachable,
    /// The local side has shut down sending, or the connection is not in a state to send.
    NotConnected,
    /// The local address and port are already taken.
    AddrInUse,
    /// No address of ours can reach that destination, or it is not one of ours.
    AddrNotAvailable,
    /// A broadcast, multicast or unspecified address where a unicast one is needed (MUST-46).
    InvalidAddress,
    /// No ephemeral port is free.
    PortsExhausted,
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SocketError::WouldBlock => "operation would block",
            SocketError::InvalidHandle => "no such socket",
            SocketError::Refused => "connection refused",
            SocketError::Reset => "connection reset by peer",
            SocketError::TimedOut => "connection timed out",
            SocketError::Unreachable => "destination unreachable",
            SocketError::NotConnected => "socket is not connected for sending",
            SocketError::AddrInUse => "address in use",
            SocketError::AddrNotAvailable => "address not available",
            SocketError::InvalidAddress => "invalid address",
            SocketError::PortsExhausted => "no ephemeral port free",
        })
    }
}

impl std::error::Error for SocketError {}

/// Why an incoming packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// It did not parse.
    Malformed(WireError),
    /// Not addressed to one of our addresses (or to broadcast/multicast: MUST-57).
    NotOurs,
    /// A protocol we don't speak.
    UnknownProtocol,
    /// A SYN found the listener's backlog full.
    BacklogFull,
    /// Failed the segment acceptability test or another RFC 9293 check.
    Unacceptable,
}

/// Something the trace wants to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection changed state.
    StateChanged {
        at: Instant,
        socket: SocketHandle,
        local: SocketAddr,
        remote: SocketAddr,
        from: State,
        to: State,
    },
    /// A packet was dropped.
    Dropped { at: Instant, reason: DropReason },
}

/// Counts of what the stack saw and did. Every dropped packet is counted in exactly one
/// `dropped_*` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets_in: u64,
    pub packets_out: u64,
    pub segments_in: u64,
    pub segments_out: u64,
    pub retransmitted_segments: u64,
    pub resets_sent: u64,
    pub challenge_acks_sent: u64,
    pub icmp_echo_replies: u64,
    pub dropped_malformed: u64,
    pub dropped_bad_checksum: u64,
    pub dropped_not_ours: u64,
    pub dropped_unknown_protocol: u64,
    pub dropped_backlog_full: u64,
    pub dropped_unacceptable: u64,
    /// Segments dropped by PAWS: their timestamp was older than the connection's TS.Recent
    /// (RFC 7323 §5), so they are old duplicates. Each was answered with an ACK.
    pub dropped_paws: u64,
}

/// A connection's details, for `synack`'s reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub state: State,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Largest payload we send in one segment.
    pub send_mss: usize,
    /// Window scale shifts in use (ours, peer's), if negotiated.
    pub window_scale: Option<(u8, u8)>,
    pub sack: bool,
    pub timestamps: bool,
    /// Smoothed RTT, if measured.
    pub srtt: Option<core::time::Duration>,
    pub rto: core::time::Duration,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Segments sent again (fast retransmit, RACK, RTO, loss probes that resend).
    pub retransmitted_segments: u64,
    /// Payload bytes (and FIN) sent again.
    pub retransmitted_bytes: u64,
    /// Retransmissions shown needless: D-SACKed (RFC 3708) or answered by an ACK echoing the
    /// original's timestamp (Eifel, RFC 3522).
    pub spurious_retransmissions: u64,
    /// Loss recoveries taken back because they were spurious: the window was restored.
    pub undone_recoveries: u64,
    /// Times the retransmission timer expired (RFC 6298 §5.5).
    pub rto_expirations: u64,
    /// Fast recovery episodes entered, on duplicate ACKs, SACK (RFC 6675) or RACK (RFC 8985).
    pub fast_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    /// Congestion window in bytes, now.
    pub cwnd: usize,
    /// Send buffer capacity in bytes, now (it grows with the congestion window).
    pub send_buffer: usize,
    /// Receive buffer capacity in bytes, now (it grows with the rate the application reads).
    pub recv_buffer: usize,
}
