//! Keep-alive (RFC 9293 §3.8.4, MUST-24..29): off unless asked for, probes only on an idle
//! connection with nothing in flight, any segment from the peer resets it, and a peer gone
//! silent for `probes` probes times the connection out.

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::stack::{SocketError, SocketHandle};
use synack_core::tcp::{Keepalive, State};

const SEC: u64 = 1000;
const HOUR: u64 = 3600 * SEC;

/// A short keep-alive for scripts: 60 s idle, probes 10 s apart, three of them.
fn short() -> Keepalive {
    Keepalive {
        idle: Duration::from_secs(60),
        interval: Duration::from_secs(10),
        probes: 3,
    }
}

/// An accepted connection at time 0 with keep-alive from the stack's settings.
fn established(keepalive: Option<Keepalive>) -> (Script, SocketHandle) {
    let mut s = Script::with_config(|c| c.tcp.keepalive = keepalive);
    let c = s.accept_connection();
    (s, c)
}

/// The probe: SEG.SEQ = SND.NXT - 1 (here 0, after the SYN), no data.
#[track_caller]
fn expect_probe(s: &mut Script) {
    s.expect(seg(ACK).seq(0).ack(1));
}

/// MUST-25: keep-alive is off by default: an idle connection sends nothing for hours.
#[test]
fn off_by_default() {
    let (mut s, c) = established(None);
    for h in 1..=5 {
        s.at(h * HOUR);
        s.expect_nothing();
    }
    assert_eq!(s.stack.state(c), Some(State::Established));
}

/// MUST-28: the default idle time is at least two hours; the first probe comes then, not
/// before, and has the RFC's form (SND.NXT - 1, zero length).
#[test]
fn default_waits_two_hours_then_probes() {
    assert!(Keepalive::default().idle >= Duration::from_secs(2 * 3600));
    let (mut s, _c) = established(Some(Keepalive::default()));
    s.at(2 * HOUR - 1);
    s.expect_nothing();
    s.at(2 * HOUR);
    expect_probe(&mut s);
    s.expect_nothing();
}

/// MUST-26: any segment from the peer restarts the idle time; an answered probe is followed
/// by the next one only after another full idle period.
#[test]
fn an_ack_resets_the_idle_time() {
    let (mut s, _c) = established(Some(short()));
    s.at(30 * SEC);
    s.inject(seg(ACK).seq(1).ack(1).len(10));
    s.at(70 * SEC);
    // The data was ACKed (delayed ACK), but no probe: only 40 s of quiet.
    s.expect(seg(ACK).seq(1).ack(11));
    s.expect_nothing();
    s.at(90 * SEC);
    s.expect(seg(ACK).seq(0).ack(11));
    // The peer answers the probe with an ACK.
    s.inject(seg(ACK).seq(11).ack(1));
    s.at(100 * SEC);
    s.expect_nothing();
    s.at(149 * SEC);
    s.expect_nothing();
    s.at(150 * SEC);
    s.expect(seg(ACK).seq(0).ack(11));
}

/// MUST-29: an unanswered probe (its ACK may be lost) does not end the connection; after
/// `probes` unanswered ones it times out, reported as other timeouts are.
#[test]
fn unanswered_probes_time_the_connection_out() {
    let (mut s, c) = established(Some(short()));
    for (i, t) in [60, 70, 80].into_iter().enumerate() {
        s.at(t * SEC);
        expect_probe(&mut s);
        assert_eq!(
            s.stack.state(c),
            Some(State::Established),
            "after probe {i}"
        );
    }
    s.at(90 * SEC);
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::Closed));
    let mut buf = [0u8; 16];
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Err(SocketError::TimedOut));
}

/// MUST-29: a lost ACK is tolerated: when a later probe is answered, the count starts over.
#[test]
fn a_late_answer_forgives_the_lost_ones() {
    let (mut s, c) = established(Some(short()));
    s.at(60 * SEC);
    expect_probe(&mut s);
    s.at(70 * SEC);
    expect_probe(&mut s);
    s.inject(seg(ACK).seq(1).ack(1));
    // Three more unanswered probes are needed now.
    for t in [130, 140, 150] {
        s.at(t * SEC);
        expect_probe(&mut s);
    }
    assert_eq!(s.stack.state(c), Some(State::Established));
    s.at(160 * SEC);
    assert_eq!(s.stack.state(c), Some(State::Closed));
}

/// MUST-26: no probe while data is in flight: the retransmission timer is asking already.
#[test]
fn no_probe_with_data_in_flight() {
    let (mut s, c) = established(Some(short()));
    s.at(50 * SEC);
    s.stack.send(s.now, c, b"hello").unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(5));
    // Unanswered: retransmissions back off; none of what goes out is a keep-alive probe.
    for t in (51..=200).map(|t| t * SEC) {
        s.at(t);
        while let Some(out) = s.next_out() {
            assert_eq!(out.seq, 1, "only retransmissions go out: {out:?}");
            assert_eq!(out.len, 5);
        }
    }
    assert_eq!(s.stack.state(c), Some(State::Established));
}

/// MUST-24, MUST-27: the application turns keep-alive on per connection, with its own
/// times, and off again.
#[test]
fn per_socket_keepalive() {
    let (mut s, c) = established(None);
    s.at(10 * SEC);
    s.stack.set_keepalive(c, Some(short()));
    s.at(69 * SEC);
    s.expect_nothing();
    s.at(70 * SEC);
    expect_probe(&mut s);
    s.stack.set_keepalive(c, None);
    for t in [80, 90, 100, 1000] {
        s.at(t * SEC);
        s.expect_nothing();
    }
    assert_eq!(s.stack.state(c), Some(State::Established));
}

/// The other end of a probe: ours answers a peer's keep-alive (an old sequence number,
/// no data) with an ACK at once.
#[test]
fn a_peers_probe_is_answered() {
    let (mut s, c) = established(None);
    s.at(HOUR);
    s.inject(seg(ACK).seq(0).ack(1));
    s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(s.stack.state(c), Some(State::Established));
}
