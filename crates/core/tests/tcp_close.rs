//! Connection teardown: active, passive and simultaneous close, half-close, and TIME-WAIT
//! (RFC 9293 §3.6, §3.10.7.4 eighth).

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::stack::SocketHandle;
use synack_core::tcp::State;

/// A stack with MSL = 1 s (TIME-WAIT lasts 2 s), an accepted connection, events drained.
fn established() -> (Script, SocketHandle) {
    let mut s = Script::with_config(|c| c.tcp.msl = Duration::from_secs(1));
    let c = s.accept_connection();
    s.entered();
    (s, c)
}

/// Active close up to TIME-WAIT at time 100 ms (so TIME-WAIT ends at 2100 ms).
fn to_time_wait() -> (Script, SocketHandle) {
    let (mut s, c) = established();
    s.stack.shutdown(s.now, c).unwrap();
    s.expect(seg(FIN | ACK).seq(1).ack(1));
    s.inject(seg(ACK).seq(1).ack(2));
    s.at(100);
    s.inject(seg(FIN | ACK).seq(1).ack(2));
    s.expect(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    (s, c)
}

/// RFC 9293 §3.6 (Figure 12), MUST-13: active close ESTABLISHED → FIN-WAIT-1 (FIN sent) →
/// FIN-WAIT-2 (our FIN acknowledged) → TIME-WAIT (peer's FIN acknowledged) → CLOSED after
/// exactly 2×MSL.
#[test]
fn active_close_through_time_wait_to_closed() {
    let (mut s, c) = established();
    s.stack.shutdown(s.now, c).unwrap();
    assert_eq!(s.stack.state(c), Some(State::FinWait1));
    s.expect(seg(FIN | ACK).seq(1).ack(1));
    s.inject(seg(ACK).seq(1).ack(2));
    assert_eq!(s.stack.state(c), Some(State::FinWait2));
    s.expect_nothing();
    s.at(100);
    s.inject(seg(FIN | ACK).seq(1).ack(2));
    s.expect(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    s.at(2099);
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    s.at(2100);
    assert_eq!(s.stack.state(c), Some(State::Closed));
    s.expect_nothing();
    assert_eq!(
        s.entered(),
        vec![
            State::FinWait1,
            State::FinWait2,
            State::TimeWait,
            State::Closed
        ]
    );
}

/// RFC 9293 §3.6 (Figure 12): passive close ESTABLISHED → CLOSE-WAIT (peer's FIN ACKed, end
/// of stream readable) → LAST-ACK (our FIN) → CLOSED when the FIN is acknowledged.
#[test]
fn passive_close_close_wait_last_ack_closed() {
    let (mut s, c) = established();
    s.inject(seg(FIN | ACK).seq(1).ack(1));
    s.expect(seg(ACK).seq(1).ack(2));
    assert_eq!(s.stack.state(c), Some(State::CloseWait));
    let mut buf = [0u8; 16];
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Ok(0));
    s.stack.shutdown(s.now, c).unwrap();
    assert_eq!(s.stack.state(c), Some(State::LastAck));
    s.expect(seg(FIN | ACK).seq(1).ack(2));
    s.inject(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::Closed));
    s.expect_nothing();
    assert_eq!(
        s.entered(),
        vec![State::CloseWait, State::LastAck, State::Closed]
    );
}

/// RFC 9293 §3.6 (Figure 13): simultaneous close FIN-WAIT-1 → CLOSING (peer's FIN without an
/// ACK of ours) → TIME-WAIT when our FIN is acknowledged.
#[test]
fn simultaneous_close_closing_then_time_wait() {
    let (mut s, c) = established();
    s.stack.shutdown(s.now, c).unwrap();
    s.expect(seg(FIN | ACK).seq(1).ack(1));
    s.inject(seg(FIN | ACK).seq(1).ack(1));
    s.expect(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::Closing));
    s.inject(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    s.expect_nothing();
    assert_eq!(
        s.entered(),
        vec![State::FinWait1, State::Closing, State::TimeWait]
    );
}

/// RFC 9293 §3.10.7.4 eighth (FIN-WAIT-1): a FIN that also acknowledges our FIN goes straight
/// to TIME-WAIT in that segment, never through CLOSING.
#[test]
fn fin_with_ack_of_our_fin_goes_to_time_wait() {
    let (mut s, c) = established();
    s.stack.shutdown(s.now, c).unwrap();
    s.expect(seg(FIN | ACK).seq(1).ack(1));
    s.inject(seg(FIN | ACK).seq(1).ack(2));
    s.expect(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    // §3.10.7.4 processes the ACK (fifth step: FIN-WAIT-2) before the FIN (eighth step:
    // TIME-WAIT) within the one segment; CLOSING is never entered.
    let states = s.entered();
    assert!(!states.contains(&State::Closing), "{states:?}");
    assert_eq!(states.last(), Some(&State::TimeWait));
    s.expect_nothing();
}

/// RFC 9293 §3.6 and §3.10.4 (half-close): after we shut down, the peer's data still arrives
/// and is readable until its FIN, which is then ACKed and ends the stream.
#[test]
fn half_close_keeps_receiving_until_peer_fin() {
    let (mut s, c) = established();
    s.stack.shutdown(s.now, c).unwrap();
    s.expect(seg(FIN | ACK).seq(1).ack(1));
    s.inject(seg(ACK).seq(1).ack(2));
    assert_eq!(s.stack.state(c), Some(State::FinWait2));
    assert_eq!(
        s.stack.send(s.now, c, b"x"),
        Err(synack_core::stack::SocketError::NotConnected)
    );
    s.inject(seg(ACK | PSH).seq(1).ack(2).data(b"hello"));
    let mut buf = [0u8; 16];
    let n = s.stack.recv(s.now, c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    s.inject(seg(FIN | ACK).seq(6).ack(2).data(b" world"));
    s.expect(seg(ACK).seq(2).ack(13));
    let n = s.stack.recv(s.now, c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b" world");
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Ok(0));
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
}

/// RFC 9293 §3.10.7.4 eighth (TIME-WAIT): a retransmitted FIN is acknowledged again and the
/// 2×MSL timer restarts.
#[test]
fn time_wait_reacks_retransmitted_fin_and_restarts_timer() {
    let (mut s, c) = to_time_wait();
    s.at(1000);
    s.inject(seg(FIN | ACK).seq(1).ack(2));
    s.expect(seg(ACK).seq(2).ack(2));
    s.at(2100);
    assert_eq!(
        s.stack.state(c),
        Some(State::TimeWait),
        "timer was restarted"
    );
    s.at(2999);
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    s.at(3000);
    assert_eq!(s.stack.state(c), Some(State::Closed));
}

/// RFC 9293 §3.6.1, MUST-13: TIME-WAIT lasts 2×MSL with the default MSL of 30 s too.
#[test]
fn time_wait_lasts_two_msl_default() {
    let mut s = Script::new();
    let c = s.accept_connection();
    s.stack.shutdown(s.now, c).unwrap();
    s.expect(seg(FIN | ACK).seq(1).ack(1));
    s.inject(seg(FIN | ACK).seq(1).ack(2));
    s.expect(seg(ACK).seq(2).ack(2));
    s.at(59_999);
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
    s.at(60_000);
    assert_eq!(s.stack.state(c), Some(State::Closed));
}

/// RFC 9293 §3.6.1 / RFC 1122 4.2.2.13: with a listener, a new SYN whose sequence number is
/// beyond the old connection's reopens a 4-tuple in TIME-WAIT.
#[test]
fn time_wait_new_syn_with_higher_seq_reopens() {
    let (mut s, c) = to_time_wait();
    s.at(200);
    s.inject(seg(SYN).seq(100_000).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(100_001));
    assert_eq!(s.stack.state(c), Some(State::Closed));
}

/// RFC 9293 §3.10.7.4 (TIME-WAIT, fourth): a SYN at an old sequence number does not reopen
/// the 4-tuple; it is answered with an ACK and TIME-WAIT goes on.
#[test]
fn time_wait_old_syn_does_not_reopen() {
    let (mut s, c) = to_time_wait();
    s.at(200);
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(ACK).seq(2).ack(2));
    s.expect_nothing();
    assert_eq!(s.stack.state(c), Some(State::TimeWait));
}

/// RFC 9293 §3.10.7.4 (LAST-ACK): the connection stays in LAST-ACK until its FIN is ACKed,
/// retransmitting the FIN on RTO.
#[test]
fn last_ack_retransmits_fin_until_acked() {
    let (mut s, c) = established();
    s.inject(seg(FIN | ACK).seq(1).ack(1));
    s.expect(seg(ACK).seq(1).ack(2));
    s.stack.shutdown(s.now, c).unwrap();
    s.expect(seg(FIN | ACK).seq(1).ack(2));
    s.wait(Duration::from_secs(1));
    s.expect(seg(FIN | ACK).seq(1).ack(2));
    assert_eq!(s.stack.state(c), Some(State::LastAck));
    s.inject(seg(ACK).seq(2).ack(2));
    assert_eq!(s.stack.state(c), Some(State::Closed));
}
