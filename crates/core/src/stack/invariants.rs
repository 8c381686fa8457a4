//! Invariants every connection keeps at every moment, checkable from outside the TCB.
//!
//! [`Stack::check_invariants`](super::Stack::check_invariants) takes a [`SendSnapshot`] of
//! each live connection and checks it; the simulation suite does so after every step of every
//! run, so a broken rule is caught where it first breaks, not at the end of a transfer.
//!
//! The rules: the send sequence space is ordered (SND.UNA ≤ SND.NXT ≤ SND.MAX, modulo 2^32)
//! and no larger than the send buffer; nothing was sent beyond the peer's window; the
//! congestion window lies between the loss window (1 SMSS, RFC 5681 §3.1) and a cap no real
//! flight reaches; the buffers stay within their configured limits; the RTO stays within
//! its bounds (RFC 6298 §2.4, §2.5).

use core::fmt;
use core::time::Duration;

use super::SocketHandle;
use crate::tcp::congestion::initial_window;
use crate::tcp::{Connection, SeqNum, State, TcpConfig};

/// The congestion window may exceed the largest flight the connection could ever have (its
/// send buffer's limit) by this factor before it counts as runaway: a sender held back by
/// the peer's window or the application must not keep growing it (RFC 7661).
pub const CWND_CAP_FACTOR: usize = 4;

/// One connection's sending side at one moment, as the invariants see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSnapshot {
    /// The connection's handle.
    pub socket: SocketHandle,
    /// Its state now.
    pub state: State,
    /// Payload bytes per full-sized segment: the SMSS the congestion window counts in.
    pub mss: usize,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Send buffer capacity now.
    pub send_buffer: usize,
    /// The most the send buffer may grow to (`TcpConfig::send_buffer_max`, or the initial
    /// size if larger).
    pub send_buffer_limit: usize,
    /// Receive buffer capacity now.
    pub recv_buffer: usize,
    /// The most the receive buffer may grow to.
    pub recv_buffer_limit: usize,
    /// The retransmission timeout now, backoff included.
    pub rto: Duration,
    /// The RTO's configured bounds `(min, max)`: `[min_rto, max_rto]`, widened to include
    /// the initial RTO, which may lie outside them.
    pub rto_bounds: (Duration, Duration),
    /// The shift the peer's windows are scaled by: its advertised right edge is rounded down
    /// to a multiple of `1 << shift`, so it may seem to move left by less than that.
    pub peer_window_shift: u8,
    /// The send sequence space (`None` in a snapshot that leaves it out: then only the other
    /// rules are checked).
    pub sequence: Option<SendSequence>,
}

/// The send sequence space and the peer's window (RFC 9293 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendSequence {
    /// The oldest unacknowledged sequence number.
    pub snd_una: SeqNum,
    /// The next sequence number to send; rewound to SND.UNA when the RTO fires.
    pub snd_nxt: SeqNum,
    /// The highest sequence number sent: SND.NXT rewinds after an RTO, this does not.
    pub snd_max: SeqNum,
    /// The peer's window in bytes, scaled.
    pub snd_wnd: usize,
    /// SEG.ACK of the segment SND.WND was taken from: the window's left edge as the peer
    /// offered it. SND.UNA may have moved past it since (an ACK on a segment too old to
    /// update the window), so the peer's right edge is SND.WL2 + SND.WND, not SND.UNA +
    /// SND.WND.
    pub snd_wl2: SeqNum,
}

/// A rule a connection broke, with the values that broke it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    /// SND.UNA ≤ SND.NXT ≤ SND.MAX does not hold in sequence space.
    SequenceOrder {
        snd_una: SeqNum,
        snd_nxt: SeqNum,
        snd_max: SeqNum,
    },
    /// More sequence space in flight than the send buffer holds, plus a SYN and a FIN.
    FlightBeyondBuffer { flight: usize, send_buffer: usize },
    /// Sent past the peer's right edge (SND.WL2 + SND.WND) by more than a window probe, a
    /// FIN and the peer's window-scale rounding allow. Assumes a peer that never shrinks
    /// its window (RFC 9293 SHLD-14), as ours does not.
    BeyondPeerWindow { snd_max: SeqNum, right_edge: SeqNum },
    /// The congestion window fell below the loss window of one SMSS.
    CwndBelowFloor { cwnd: usize, floor: usize },
    /// The congestion window grew past [`CWND_CAP_FACTOR`] times any flight it could cover.
    CwndAboveCap { cwnd: usize, cap: usize },
    /// The send buffer grew past its configured limit.
    SendBufferAboveLimit { capacity: usize, limit: usize },
    /// The receive buffer grew past its configured limit.
    RecvBufferAboveLimit { capacity: usize, limit: usize },
    /// The RTO left its configured bounds.
    RtoOutOfBounds {
        rto: Duration,
        min: Duration,
        max: Duration,
    },
}

/// A connection that broke an invariant: which one, in what state, and the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvariantViolation {
    /// The connection's handle.
    pub socket: SocketHandle,
    /// Its state when the rule was found broken.
    pub state: State,
    /// The rule, with the values that broke it.
    pub broken: Invariant,
}

impl SendSnapshot {
    /// Reads a connection.
    pub(super) fn of(socket: SocketHandle, conn: &Connection, config: &TcpConfig) -> Self {
        let info = conn.info();
        SendSnapshot {
            socket,
            state: info.state,
            mss: info.send_mss,
            cwnd: info.cwnd,
            send_buffer: info.send_buffer,
            send_buffer_limit: config.send_buffer.max(config.send_buffer_max),
            recv_buffer: info.recv_buffer,
            recv_buffer_limit: config.recv_buffer.max(config.recv_buffer_max),
            rto: info.rto,
            rto_bounds: (
                config.min_rto.min(config.initial_rto),
                config.max_rto.max(config.initial_rto),
            ),
            peer_window_shift: info.window_scale.map_or(0, |(_, peer)| peer),
            sequence: Some(conn.send_sequence()),
        }
    }

    /// The largest the congestion window may be: [`CWND_CAP_FACTOR`] times the largest flight
    /// the connection could have (its send buffer's limit; a peer may offer more window than
    /// that, but nothing more can be in flight), never less than the initial window.
    pub fn cwnd_cap(&self) -> usize {
        let flight = self.send_buffer_limit.max(self.send_buffer) + 2;
        // The controller starts from the link's MSS, before the peer's is known.
        let initial = initial_window(usize::from(u16::MAX));
        flight.max(initial).saturating_mul(CWND_CAP_FACTOR)
    }

    /// Checks every rule; the first one broken.
    pub fn check(&self) -> Result<(), InvariantViolation> {
        self.broken().map_or(Ok(()), |broken| {
            Err(InvariantViolation {
                socket: self.socket,
                state: self.state,
                broken,
            })
        })
    }

    fn broken(&self) -> Option<Invariant> {
        if let Some(s) = self.sequence
            && let Some(broken) = self.broken_sequence(s)
        {
            return Some(broken);
        }
        // RFC 5681 §3.1: after a timeout the window is one segment, never less.
        let floor = self.mss.max(1);
        if self.cwnd < floor {
            return Some(Invariant::CwndBelowFloor {
                cwnd: self.cwnd,
                floor,
            });
        }
        let cap = self.cwnd_cap();
        if self.cwnd > cap {
            return Some(Invariant::CwndAboveCap {
                cwnd: self.cwnd,
                cap,
            });
        }
        if self.send_buffer > self.send_buffer_limit {
            return Some(Invariant::SendBufferAboveLimit {
                capacity: self.send_buffer,
                limit: self.send_buffer_limit,
            });
        }
        if self.recv_buffer > self.recv_buffer_limit {
            return Some(Invariant::RecvBufferAboveLimit {
                capacity: self.recv_buffer,
                limit: self.recv_buffer_limit,
            });
        }
        let (min, max) = self.rto_bounds;
        if self.rto < min || self.rto > max {
            return Some(Invariant::RtoOutOfBounds {
                rto: self.rto,
                min,
                max,
            });
        }
        None
    }

    fn broken_sequence(&self, s: SendSequence) -> Option<Invariant> {
        if !(s.snd_una <= s.snd_nxt && s.snd_nxt <= s.snd_max) {
            return Some(Invariant::SequenceOrder {
                snd_una: s.snd_una,
                snd_nxt: s.snd_nxt,
                snd_max: s.snd_max,
            });
        }
        // Ordered, so the distance is a true one (not a wrapped-around negative).
        let flight = s.snd_max.0.wrapping_sub(s.snd_una.0) as usize;
        if flight > self.send_buffer + 2 {
            return Some(Invariant::FlightBeyondBuffer {
                flight,
                send_buffer: self.send_buffer,
            });
        }
        // SND.WL2 means something once an ACK completed the handshake.
        if !matches!(
            self.state,
            State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
                | State::Closing
                | State::LastAck
                | State::TimeWait
        ) {
            return None;
        }
        // A zero-window probe and a FIN may pass the edge by a byte each; the peer's
        // rounding to its window scale may pull the edge back by less than `1 << shift`.
        let right_edge = s.snd_wl2 + s.snd_wnd;
        let slack = 2 + (1usize << self.peer_window_shift.min(14)) - 1;
        if s.snd_max > right_edge + slack {
            return Some(Invariant::BeyondPeerWindow {
                snd_max: s.snd_max,
                right_edge,
            });
        }
        None
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Invariant::SequenceOrder {
                snd_una,
                snd_nxt,
                snd_max,
            } => write!(
                f,
                "SND.UNA {snd_una:?} <= SND.NXT {snd_nxt:?} <= SND.MAX {snd_max:?} does not hold"
            ),
            Invariant::FlightBeyondBuffer {
                flight,
                send_buffer,
            } => write!(
                f,
                "{flight} bytes in flight, more than the {send_buffer}-byte send buffer holds"
            ),
            Invariant::BeyondPeerWindow {
                snd_max,
                right_edge,
            } => write!(
                f,
                "sent up to {snd_max:?}, beyond the peer's window edge {right_edge:?}"
            ),
            Invariant::CwndBelowFloor { cwnd, floor } => {
                write!(f, "cwnd {cwnd} below the loss window of {floor} bytes")
            }
            Invariant::CwndAboveCap { cwnd, cap } => {
                write!(f, "cwnd {cwnd} above the cap of {cap} bytes")
            }
            Invariant::SendBufferAboveLimit { capacity, limit } => {
                write!(
                    f,
                    "send buffer of {capacity} bytes beyond its limit {limit}"
                )
            }
            Invariant::RecvBufferAboveLimit { capacity, limit } => {
                write!(
                    f,
                    "receive buffer of {capacity} bytes beyond its limit {limit}"
                )
            }
            Invariant::RtoOutOfBounds { rto, min, max } => {
                write!(f, "RTO {rto:?} outside [{min:?}, {max:?}]")
            }
        }
    }
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "socket {}.{} in {}: {}",
            self.socket.index,
            self.socket.generation,
            self.state.rfc_name(),
            self.broken
        )
    }
}

impl std::error::Error for InvariantViolation {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A healthy established connection: 1 MB in flight of a 4 MB buffer, window open.
    fn healthy() -> SendSnapshot {
        let una = SeqNum(u32::MAX - 1000);
        SendSnapshot {
            socket: SocketHandle {
                index: 0,
                generation: 0,
            },
            state: State::Established,
            mss: 1448,
            cwnd: 1 << 20,
            send_buffer: 2 << 20,
            send_buffer_limit: 4 << 20,
            recv_buffer: 256 << 10,
            recv_buffer_limit: 6 << 20,
            rto: Duration::from_millis(300),
            rto_bounds: (Duration::from_millis(200), Duration::from_secs(60)),
            peer_window_shift: 7,
            sequence: Some(SendSequence {
                snd_una: una,
                snd_nxt: una + (1 << 20),
                snd_max: una + (1 << 20),
                snd_wnd: 3 << 20,
                snd_wl2: una,
            }),
        }
    }

    fn broken(f: impl FnOnce(&mut SendSnapshot)) -> Option<Invariant> {
        let mut s = healthy();
        f(&mut s);
        s.check().err().map(|v| v.broken)
    }

    fn seq(f: impl FnOnce(&mut SendSequence)) -> Option<Invariant> {
        broken(|s| f(s.sequence.as_mut().unwrap()))
    }

    #[test]
    fn a_healthy_connection_passes_across_the_wrap() {
        assert_eq!(healthy().check(), Ok(()));
        // After an RTO SND.NXT rewinds to SND.UNA: still ordered.
        assert_eq!(seq(|s| s.snd_nxt = s.snd_una), None);
        // A zero-window probe: one byte past a closed window.
        assert_eq!(
            seq(|s| {
                s.snd_wnd = 0;
                s.snd_max = s.snd_una + 1;
                s.snd_nxt = s.snd_max;
            }),
            None
        );
        // Without the sequence space the other rules still run.
        assert_eq!(broken(|s| s.sequence = None), None);
        assert!(matches!(
            broken(|s| {
                s.sequence = None;
                s.cwnd = 0;
            }),
            Some(Invariant::CwndBelowFloor { .. })
        ));
    }

    #[test]
    fn una_past_nxt_is_caught_modulo_2_32() {
        assert!(matches!(
            seq(|s| s.snd_nxt = s.snd_una + usize::MAX),
            Some(Invariant::SequenceOrder { .. })
        ));
        assert!(matches!(
            seq(|s| s.snd_nxt = s.snd_max + 1),
            Some(Invariant::SequenceOrder { .. })
        ));
        // Half the sequence space apart: caught one way or the other.
        assert!(matches!(
            seq(|s| {
                s.snd_nxt = s.snd_una + (1 << 31);
                s.snd_max = s.snd_nxt;
            }),
            Some(Invariant::SequenceOrder { .. } | Invariant::FlightBeyondBuffer { .. })
        ));
    }

    #[test]
    fn flight_and_window_overruns_are_caught() {
        assert!(matches!(
            seq(|s| {
                s.snd_max = s.snd_una + (3 << 20);
                s.snd_wnd = 8 << 20;
            }),
            Some(Invariant::FlightBeyondBuffer { .. })
        ));
        // Rounding to the peer's 128-byte window units and a FIN are allowed, a byte more not.
        let edge = |extra: usize| {
            seq(|s| {
                s.snd_wnd = (1 << 20) - 128 - 1;
                s.snd_max = s.snd_una + (1 << 20) + extra;
            })
        };
        assert_eq!(edge(0), None);
        assert!(matches!(edge(1), Some(Invariant::BeyondPeerWindow { .. })));
        // SND.UNA moved on by an ACK too old to update the window: SND.UNA + SND.WND lies
        // past the peer's edge, and sending up to it is an overrun.
        assert!(matches!(
            seq(|s| {
                s.snd_wnd = 1 << 20;
                s.snd_una = s.snd_wl2 + 5000;
                s.snd_nxt = s.snd_una + ((1 << 20) - 1000);
                s.snd_max = s.snd_nxt;
            }),
            Some(Invariant::BeyondPeerWindow { .. })
        ));
        // Before the handshake completes SND.WL2 means nothing: not checked then.
        let unset = |s: &mut SendSnapshot| {
            let q = s.sequence.as_mut().unwrap();
            q.snd_wl2 = SeqNum(0);
            q.snd_wnd = 0;
        };
        assert!(matches!(
            broken(unset),
            Some(Invariant::BeyondPeerWindow { .. })
        ));
        assert_eq!(
            broken(|s| {
                unset(s);
                s.state = State::SynReceived;
            }),
            None
        );
    }

    #[test]
    fn cwnd_buffers_and_rto_out_of_bounds_are_caught() {
        assert!(matches!(
            broken(|s| s.cwnd = 1447),
            Some(Invariant::CwndBelowFloor {
                cwnd: 1447,
                floor: 1448
            })
        ));
        assert_eq!(broken(|s| s.cwnd = 1448), None);
        // Wrapped-around arithmetic shows as a huge window.
        assert!(matches!(
            broken(|s| s.cwnd = usize::MAX - 5),
            Some(Invariant::CwndAboveCap { .. })
        ));
        let cap = healthy().cwnd_cap();
        assert_eq!(broken(|s| s.cwnd = cap), None);
        assert!(matches!(
            broken(|s| s.cwnd = cap + 1),
            Some(Invariant::CwndAboveCap { .. })
        ));
        assert!(matches!(
            broken(|s| s.send_buffer = (4 << 20) + 1),
            Some(Invariant::SendBufferAboveLimit { .. })
        ));
        assert!(matches!(
            broken(|s| s.recv_buffer = (6 << 20) + 1),
            Some(Invariant::RecvBufferAboveLimit { .. })
        ));
        assert!(matches!(
            broken(|s| s.rto = Duration::from_millis(199)),
            Some(Invariant::RtoOutOfBounds { .. })
        ));
        assert!(matches!(
            broken(|s| s.rto = Duration::from_secs(61)),
            Some(Invariant::RtoOutOfBounds { .. })
        ));
    }

    /// `Stack::check_invariants` reads live connections: a stack whose limits are changed
    /// under a connection (tests only; no API allows it) reports that connection.
    #[test]
    fn a_stack_reports_its_connections() {
        use crate::stack::{Stack, StackConfig};
        use crate::time::Instant;
        let config = StackConfig {
            addrs: vec![[10, 0, 0, 1].into()],
            ..StackConfig::default()
        };
        let mut stack = Stack::new(config, Instant::ZERO);
        assert_eq!(stack.check_invariants(), Ok(()));
        let socket = stack
            .connect(Instant::ZERO, "10.0.0.2:80".parse().unwrap(), None)
            .unwrap();
        assert_eq!(stack.check_invariants(), Ok(()));
        let snapshots: Vec<_> = stack.send_snapshots().collect();
        assert_eq!(snapshots.len(), 1);
        assert_eq!(snapshots[0].socket, socket);
        assert_eq!(snapshots[0].state, State::SynSent);
        // The initial RTO of 1 s now exceeds the bounds.
        stack.config.tcp.initial_rto = Duration::from_millis(10);
        stack.config.tcp.max_rto = Duration::from_millis(500);
        let v = stack.check_invariants().unwrap_err();
        assert_eq!((v.socket, v.state), (socket, State::SynSent));
        assert!(matches!(v.broken, Invariant::RtoOutOfBounds { .. }));
    }

    #[test]
    fn a_violation_names_the_socket_state_and_values() {
        let mut s = healthy();
        s.state = State::FinWait1;
        s.cwnd = 10;
        let text = s.check().unwrap_err().to_string();
        assert_eq!(
            text,
            "socket 0.0 in FIN-WAIT-1: cwnd 10 below the loss window of 1448 bytes"
        );
    }
}
