//! Resets: generation (RFC 9293 §3.10.7.1-3) and validation (§3.10.7.4 with RFC 5961's
//! blind-attack defences).

mod support;

use support::script::*;
use synack_core::stack::{SocketError, SocketHandle};
use synack_core::tcp::State;

fn established() -> (Script, SocketHandle) {
    let mut s = Script::new();
    let c = s.accept_connection();
    (s, c)
}

/// RFC 9293 §3.10.7.1: a segment without ACK to a closed port gets
/// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
#[test]
fn closed_port_segment_without_ack_gets_rst_ack() {
    let mut s = Script::new();
    s.inject(seg(SYN).seq(100));
    s.expect(seg(RST | ACK).seq(0).ack(101));
    s.inject(seg(FIN).seq(500).data(b"abc"));
    s.expect(seg(RST | ACK).seq(0).ack(504));
    s.expect_nothing();
}

/// RFC 9293 §3.10.7.1: a segment with ACK to a closed port gets <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn closed_port_segment_with_ack_gets_rst() {
    let mut s = Script::new();
    s.inject(seg(ACK).seq(5).ack(777));
    s.expect(seg(RST).seq(777));
    s.expect_nothing();
}

/// RFC 9293 §3.10.7.1: a RST to a closed port is discarded, never answered.
#[test]
fn closed_port_rst_ignored() {
    let mut s = Script::new();
    s.inject(seg(RST).seq(5));
    s.inject(seg(RST | ACK).seq(5).ack(9));
    s.expect_nothing();
    assert_eq!(s.stack.counters().resets_sent, 0);
}

/// RFC 9293 §3.10.7.2: an ACK to a LISTEN socket gets <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn listen_ack_gets_rst() {
    let mut s = Script::new();
    s.listen();
    s.inject(seg(ACK).seq(5).ack(300));
    s.expect(seg(RST).seq(300));
    s.expect_nothing();
    assert_eq!(s.stack.connection_count(), 0);
}

/// RFC 9293 §3.10.7.2: a RST to a LISTEN socket is ignored, and the listener still works.
#[test]
fn listen_rst_ignored() {
    let mut s = Script::new();
    s.listen();
    s.inject(seg(RST).seq(0));
    s.expect_nothing();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
}

/// RFC 9293 §3.10.7.3, MUST-12: in SYN-SENT, a RST with an acceptable ACK refuses the
/// connection: CLOSED, and the application is told.
#[test]
fn syn_sent_rst_with_acceptable_ack_refuses() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(RST | ACK).seq(0).ack(1));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Closed));
    assert_eq!(s.stack.send(s.now, c, b"x"), Err(SocketError::Refused));
    assert!(s.stack.readiness(c).readable);
}

/// RFC 9293 §3.10.7.3: in SYN-SENT, a RST without ACK is dropped; the open continues.
#[test]
fn syn_sent_rst_without_ack_ignored() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(RST).seq(0));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::SynSent));
    s.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(s.stack.state(c), Some(State::Established));
}

/// RFC 9293 §3.10.7.3: in SYN-SENT, a RST whose ACK is not acceptable is dropped.
#[test]
fn syn_sent_rst_with_bad_ack_ignored() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(RST | ACK).seq(0).ack(50));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::SynSent));
}

/// RFC 9293 §3.10.7.3: in SYN-SENT, an unacceptable ACK (SEG.ACK =< ISS or > SND.NXT) gets
/// <SEQ=SEG.ACK><CTL=RST> and the connection stays in SYN-SENT.
#[test]
fn syn_sent_bad_ack_gets_rst() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(SYN | ACK).seq(0).ack(100));
    s.expect(seg(RST).seq(100));
    s.inject(seg(ACK).seq(0).ack(0));
    s.expect(seg(RST).seq(0));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::SynSent));
}

/// RFC 9293 §3.10.7.4 second, RFC 5961 §3.2: a RST at exactly RCV.NXT closes the connection
/// and the application sees Reset (MUST-12).
#[test]
fn established_exact_rst_resets() {
    let (mut s, c) = established();
    s.inject(seg(RST).seq(1));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Closed));
    let mut buf = [0u8; 8];
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Err(SocketError::Reset));
    assert_eq!(s.stack.send(s.now, c, b"x"), Err(SocketError::Reset));
}

/// RFC 5961 §3.2: a RST inside the window but not at RCV.NXT gets a challenge ACK, and the
/// connection survives.
#[test]
fn established_in_window_rst_gets_challenge_ack() {
    let (mut s, c) = established();
    s.inject(seg(RST).seq(100));
    s.expect(seg(ACK).seq(1).ack(1));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Established));
    assert_eq!(s.stack.counters().challenge_acks_sent, 1);
    // A real peer answers the challenge with an exact RST.
    s.inject(seg(RST).seq(1));
    assert_eq!(s.stack.state(c), Some(State::Closed));
}

/// RFC 9293 §3.10.7.4 first, RFC 5961 §3.2: a RST outside the window is dropped silently.
#[test]
fn established_out_of_window_rst_ignored() {
    let (mut s, c) = established();
    s.inject(seg(RST).seq(1_000_000));
    s.inject(seg(RST).seq(0));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Established));
}

/// RFC 5961 §4.2 (RFC 9293 §3.10.7.4 fourth): a SYN in a synchronized state, even in the
/// window, gets a challenge ACK and changes nothing.
#[test]
fn established_in_window_syn_gets_challenge_ack() {
    let (mut s, c) = established();
    s.inject(seg(SYN).seq(50).mss(1460));
    s.expect(seg(ACK).seq(1).ack(1));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Established));
    assert_eq!(s.stack.counters().challenge_acks_sent, 1);
}

/// RFC 9293 §3.10.7.4 second (SYN-RECEIVED), MUST-11: a RST to a connection that came from a
/// passive OPEN returns it to LISTEN quietly: no error, nothing to accept, the listener works.
#[test]
fn syn_received_passive_rst_returns_to_listen() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.inject(seg(RST).seq(1));
    s.expect_nothing();
    assert_eq!(s.stack.accept(l), Err(SocketError::WouldBlock));
    assert_eq!(s.stack.connection_count(), 0);
    s.inject(seg(SYN).seq(1000).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1001));
}

/// RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED): an ACK that does not acknowledge our SYN gets
/// <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn syn_received_bad_ack_gets_rst() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.inject(seg(ACK).seq(1).ack(500));
    s.expect(seg(RST).seq(500));
    assert_eq!(s.stack.accept(l), Err(SocketError::WouldBlock));
}

/// RFC 9293 §3.10.5 (ABORT): aborting a synchronized connection sends
/// <SEQ=SND.NXT><CTL=RST>.
#[test]
fn abort_sends_rst() {
    let (mut s, c) = established();
    s.stack.abort(s.now, c);
    s.expect(seg(RST).seq(1));
    s.expect_nothing();
}

/// RFC 9293 §3.6, SHLD-3: closing with unread received data resets instead of a FIN.
#[test]
fn close_with_unread_data_sends_rst() {
    let (mut s, c) = established();
    s.inject(seg(ACK | PSH).seq(1).ack(1).data(b"unread"));
    s.stack.close(s.now, c);
    s.expect(seg(RST).seq(1));
}

/// RFC 9293 §3.10.7.4 first, MUST-66: with our receive window at zero, a RST at RCV.NXT is
/// still processed.
#[test]
fn zero_window_rst_still_processed() {
    let mut s = Script::with_config(|c| c.tcp.recv_buffer = 1000);
    let c = s.accept_connection();
    s.inject(seg(ACK).seq(1).ack(1).len(1000));
    s.at(40);
    s.expect(seg(ACK).seq(1).ack(1001).win(0));
    s.inject(seg(RST).seq(1001));
    assert_eq!(s.stack.state(c), Some(State::Closed));
}

/// RFC 9293 §3.10.7.4 second (SYN-RECEIVED entered from SYN-SENT), MUST-11: a RST after a
/// simultaneous open fails the active OPEN with Refused.
#[test]
fn syn_received_active_rst_refuses() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.inject(seg(RST).seq(1));
    assert_eq!(s.stack.state(c), Some(State::Closed));
    assert_eq!(s.stack.send(s.now, c, b"x"), Err(SocketError::Refused));
}

/// An established connection with `len` bytes in flight; returns the raw IP packet that
/// carried them, for quoting in ICMP errors.
fn in_flight(len: usize) -> (Script, SocketHandle, Vec<u8>) {
    let (mut s, c) = established();
    s.stack.send(s.now, c, &vec![4u8; len]).unwrap();
    let mut buf = vec![0u8; 1500];
    let n = s
        .stack
        .poll_transmit(s.now, &mut buf)
        .expect("data segment");
    buf.truncate(n);
    (s, c, buf)
}

/// An ICMPv4 packet from the peer's address to ours.
fn icmp(s: &Script, msg: synack_core::wire::icmpv4::Icmpv4Repr<'_>) -> Vec<u8> {
    let ip = synack_core::wire::IpRepr {
        src: s.peer.ip(),
        dst: s.local.ip(),
        protocol: synack_core::wire::IpProtocol::Icmp,
        ttl: 64,
        payload_len: msg.buffer_len(),
    };
    let mut buf = vec![0u8; ip.header_len() + msg.buffer_len()];
    let h = ip.emit(&mut buf);
    msg.emit(&mut buf[h..]);
    buf
}

/// RFC 9293 §3.9.2.2, MUST-54, SHLD-26: ICMP port unreachable quoting a segment in flight
/// aborts the connection and the application sees Unreachable.
#[test]
fn icmp_port_unreachable_aborts() {
    let (mut s, c, sent) = in_flight(10);
    let p = icmp(
        &s,
        synack_core::wire::icmpv4::Icmpv4Repr::DstUnreachable {
            code: 3,
            next_hop_mtu: 0,
            data: &sent[..28],
        },
    );
    s.stack.receive(s.now, &p);
    assert_eq!(s.stack.state(c), Some(State::Closed));
    assert_eq!(s.stack.send(s.now, c, b"x"), Err(SocketError::Unreachable));
}

/// RFC 9293 §3.9.2.2, MUST-56: Destination Unreachable codes 0, 1, 5 and Time Exceeded are
/// soft errors: the connection is not aborted.
#[test]
fn icmp_soft_errors_do_not_abort() {
    let (mut s, c, sent) = in_flight(10);
    for code in [0, 1, 5] {
        let p = icmp(
            &s,
            synack_core::wire::icmpv4::Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: 0,
                data: &sent[..28],
            },
        );
        s.stack.receive(s.now, &p);
    }
    let p = icmp(
        &s,
        synack_core::wire::icmpv4::Icmpv4Repr::TimeExceeded {
            code: 0,
            data: &sent[..28],
        },
    );
    s.stack.receive(s.now, &p);
    assert_eq!(s.stack.state(c), Some(State::Established));
    s.inject(seg(ACK).seq(1).ack(11));
    assert_eq!(s.stack.send(s.now, c, b"y"), Ok(1));
}

/// RFC 9293 §3.9.2.2, MUST-55: a Source Quench is ignored: no state change, nothing sent.
#[test]
fn icmp_source_quench_ignored() {
    let (mut s, c, sent) = in_flight(10);
    let mut msg = vec![4u8, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&sent[..28]);
    let sum = synack_core::wire::checksum::checksum(&msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let ip = synack_core::wire::IpRepr {
        src: s.peer.ip(),
        dst: s.local.ip(),
        protocol: synack_core::wire::IpProtocol::Icmp,
        ttl: 64,
        payload_len: msg.len(),
    };
    let mut p = vec![0u8; ip.header_len() + msg.len()];
    let h = ip.emit(&mut p);
    p[h..].copy_from_slice(&msg);
    s.stack.receive(s.now, &p);
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Established));
    assert_eq!(s.stack.counters().dropped_malformed, 0);
    assert_eq!(s.stack.counters().dropped_bad_checksum, 0);
}

/// RFC 1191, MUST-54: "fragmentation needed" with a next-hop MTU of 576 lowers the MSS to
/// 536 and the segment in flight is resent in pieces that fit.
#[test]
fn icmp_frag_needed_lowers_mss_and_resends() {
    let (mut s, _c, sent) = in_flight(1460);
    let p = icmp(
        &s,
        synack_core::wire::icmpv4::Icmpv4Repr::DstUnreachable {
            code: 4,
            next_hop_mtu: 576,
            data: &sent[..28],
        },
    );
    s.stack.receive(s.now, &p);
    s.expect(seg(ACK).seq(1).ack(1).len(536));
    s.expect(seg(ACK).seq(537).ack(1).len(536));
}

/// RFC 5927 §4.1: an ICMP error quoting a sequence number not in flight is ignored.
#[test]
fn icmp_error_for_sequence_not_in_flight_ignored() {
    let (mut s, c, mut sent) = in_flight(10);
    // Quote a sequence number far from anything we sent.
    sent[24] ^= 0x80;
    let p = icmp(
        &s,
        synack_core::wire::icmpv4::Icmpv4Repr::DstUnreachable {
            code: 3,
            next_hop_mtu: 0,
            data: &sent[..28],
        },
    );
    s.stack.receive(s.now, &p);
    assert_eq!(s.stack.state(c), Some(State::Established));
}
