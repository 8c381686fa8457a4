//! Per-connection tunables, with defaults a modern host would use.

use core::time::Duration;

use super::congestion::CongestionAlgorithm;

/// TCP settings shared by every connection of a stack.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Maximum segment lifetime; TIME-WAIT lasts twice this (RFC 9293 MUST-13).
    pub msl: Duration,
    /// Initial send buffer capacity in bytes, allocated on first use.
    pub send_buffer: usize,
    /// The send buffer grows (as the congestion window does, to about twice it) up to this
    /// many bytes; at or below `send_buffer`, it never grows.
    pub send_buffer_max: usize,
    /// Initial receive buffer capacity in bytes, allocated on first use; bounds the advertised
    /// window and the out-of-order data held.
    pub recv_buffer: usize,
    /// The receive buffer grows with the rate the application reads at (twice what it read
    /// in a round trip, as Linux's dynamic right-sizing) up to this many bytes; the window
    /// scale offered in the SYN is chosen for this size. At or below `recv_buffer`, it never
    /// grows.
    pub recv_buffer_max: usize,
    /// Disable Nagle's algorithm on new connections (RFC 9293 MUST-17).
    pub nodelay: bool,
    /// How long an ACK may be delayed (RFC 9293 MUST-40: under 0.5 s).
    pub delayed_ack: Duration,
    /// RTO before any RTT sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound on the RTO (RFC 6298 §2.4 says 1 s; Linux uses 200 ms).
    pub min_rto: Duration,
    /// Upper bound on the RTO after backoff (RFC 6298 §2.5); kept to the microsecond,
    /// rounded down, and at most 71 minutes. Never below `min_rto`.
    pub max_rto: Duration,
    /// How long a SYN may go unanswered before the open fails (R2 for SYNs: RFC 9293 MUST-23
    /// asks for at least 3 minutes).
    pub syn_timeout: Duration,
    /// How long data may go unacknowledged before the connection is aborted (R2, MUST-20).
    pub data_timeout: Duration,
    /// How long a closed-by-the-application connection waits in FIN-WAIT-2 for the peer's
    /// FIN before it is dropped (the application can no longer read it anyway).
    pub orphan_fin_timeout: Duration,
    /// Offer window scaling (RFC 7323).
    pub window_scale: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Offer timestamps (RFC 7323).
    pub timestamps: bool,
    /// Detect losses with RACK-TLP (RFC 8985) when SACK is in use; off, RFC 6675's DupThresh
    /// rule alone starts recovery and no tail loss probes are sent.
    pub rack: bool,
    /// The congestion controller: CUBIC (RFC 9438, the default) or NewReno (RFC 5681,
    /// RFC 6582), both with HyStart++ (RFC 9406).
    pub congestion: CongestionAlgorithm,
    /// Pace data segments over the round trip (as Linux's internal TCP pacing: cwnd/srtt
    /// times 2 in slow start, 1.2 after) rather than sending each window past the initial
    /// one in ACK-clocked bursts. Off by default: in the simulated benchmarks it changes
    /// nothing on a clean path and costs a few percent at 1% random loss; it is for paths
    /// whose buffers are shorter than our bursts.
    pub pacing: bool,
    /// End the initial slow start also on HyStart's ACK-train signal (`congestion::hystart`):
    /// a round's ACKs arriving back to back for 2/3 of the minimum RTT show the window fills
    /// the path. On by default: RFC 9406's delay test alone cannot end slow start before a
    /// queue of one bandwidth-delay product overflows.
    pub hystart_ack_train: bool,
    /// Keep-alive for new connections (RFC 9293 §3.8.4); off by default (MUST-25).
    /// `Stack::set_keepalive` changes it per socket.
    pub keepalive: Option<Keepalive>,
}

/// Keep-alive settings (RFC 9293 §3.8.4): after `idle` with nothing received and nothing in
/// flight, send a probe every `interval`; after `probes` unanswered ones, the connection
/// times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Quiet time before the first probe (MUST-28: at least two hours by default).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before giving up (MUST-29: more than one, since an ACK to a probe
    /// may be lost).
    pub probes: u32,
}

impl Default for Keepalive {
    /// Linux's defaults: two hours, then nine probes 75 s apart.
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(2 * 3600),
            interval: Duration::from_secs(75),
            probes: 9,
        }
    }
}

impl TcpConfig {
    /// The largest the receive buffer may become: what the window scale is chosen for.
    pub(crate) fn recv_buffer_limit(&self) -> usize {
        self.recv_buffer.max(self.recv_buffer_max)
    }

    /// The largest the send buffer may become.
    pub(crate) fn send_buffer_limit(&self) -> usize {
        self.send_buffer.max(self.send_buffer_max)
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            msl: Duration::from_secs(30),
            send_buffer: 256 * 1024,
            send_buffer_max: 4 * 1024 * 1024,
            recv_buffer: 256 * 1024,
            recv_buffer_max: 6 * 1024 * 1024,
            nodelay: false,
            delayed_ack: Duration::from_millis(40),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            syn_timeout: Duration::from_secs(180),
            data_timeout: Duration::from_secs(900),
            orphan_fin_timeout: Duration::from_secs(60),
            window_scale: true,
            sack: true,
            timestamps: true,
            rack: true,
            congestion: CongestionAlgorithm::default(),
            pacing: false,
            hystart_ack_train: true,
            keepalive: None,
        }
    }
}
