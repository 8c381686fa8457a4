//! Data transfer: acceptability, ACK generation, Nagle, retransmission, zero-window probing
//! and reassembly (RFC 9293 §3.8, §3.10.7.4; RFC 6298; RFC 5681).

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::stack::SocketHandle;

/// An accepted connection whose RTO is a round 1 s (the handshake RTT sample is 0, so the
/// RTO sits at `min_rto`, here 1 s).
fn established() -> (Script, SocketHandle) {
    let mut s = Script::with_config(|c| c.tcp.min_rto = Duration::from_secs(1));
    let c = s.accept_connection();
    (s, c)
}

/// RFC 9293 §3.10.7.4 first (acceptability test): data beyond the receive window gets an ACK
/// and is dropped.
#[test]
fn out_of_window_data_acked_and_dropped() {
    let (mut s, c) = established();
    s.inject(seg(ACK).seq(100_000).ack(1).len(10));
    s.expect(seg(ACK).seq(1).ack(1));
    s.expect_nothing();
    assert!(!s.stack.readiness(c).readable);
    assert_eq!(s.stack.counters().dropped_unacceptable, 1);
}

/// RFC 9293 §3.10.7.4 first: an old duplicate (entirely before RCV.NXT) is ACKed and dropped,
/// not delivered twice.
#[test]
fn old_duplicate_data_acked_and_dropped() {
    let (mut s, c) = established();
    s.inject(seg(ACK | PSH).seq(1).ack(1).data(b"abc"));
    assert_eq!(s.read_all(c), b"abc");
    s.at(100);
    s.expect(seg(ACK).seq(1).ack(4));
    s.inject(seg(ACK | PSH).seq(1).ack(1).data(b"abc"));
    s.expect(seg(ACK).seq(1).ack(4));
    assert_eq!(s.read_all(c), b"");
}

/// RFC 9293 §3.10.7.4 first, MUST-66: with a zero receive window only a segment at exactly
/// RCV.NXT is acceptable; its data is not taken but its ACK is processed. Others are ACKed and
/// dropped.
#[test]
fn zero_window_accepts_only_rcv_nxt_and_processes_acks() {
    let mut s = Script::with_config(|c| {
        c.tcp.recv_buffer = 1000;
        c.tcp.min_rto = Duration::from_secs(1);
    });
    let c = s.accept_connection();
    s.stack.send(s.now, c, &[9u8; 100]).unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    // The peer fills our window (without ACKing our data yet).
    s.inject(seg(ACK).seq(1).ack(1).len(1000));
    s.at(40);
    s.expect(seg(ACK).seq(101).ack(1001).win(0));
    // In sequence but beyond a zero window: trimmed, ACKed, and its ACK taken.
    s.inject(seg(ACK).seq(1001).ack(101).len(10));
    s.expect(seg(ACK).seq(101).ack(1001).win(0));
    // Not at RCV.NXT: unacceptable, ACKed and dropped.
    s.inject(seg(ACK).seq(1005).ack(101).len(10));
    s.expect(seg(ACK).seq(101).ack(1001).win(0));
    assert_eq!(s.read_all(c).len(), 1000);
    // Our 100 bytes were acknowledged by the zero-window segment: nothing to retransmit.
    s.at(5000);
    s.expect_nothing();
}

/// RFC 9293 §3.8.6.3, MUST-40, SHLD-18: a lone segment is ACKed after the delayed-ACK time
/// (40 ms), not before.
#[test]
fn delayed_ack_for_one_segment() {
    let (mut s, _c) = established();
    s.at(100);
    s.inject(seg(ACK | PSH).seq(1).ack(1).len(100));
    s.expect_nothing();
    s.at(139);
    s.expect_nothing();
    s.at(140);
    s.expect(seg(ACK).seq(1).ack(101));
}

/// RFC 9293 §3.8.6.3, SHLD-19, MUST-58: the second full-sized segment is ACKed at once, with
/// one ACK for both.
#[test]
fn two_full_segments_acked_at_once() {
    let (mut s, _c) = established();
    s.inject(seg(ACK).seq(1).ack(1).len(1460));
    s.expect_nothing();
    s.inject(seg(ACK).seq(1461).ack(1).len(1460));
    s.expect(seg(ACK).seq(1).ack(2921));
    s.expect_nothing();
}

/// RFC 9293 §3.10.7.4 eighth: a FIN is acknowledged at once, not delayed.
#[test]
fn fin_acked_at_once() {
    let (mut s, _c) = established();
    s.inject(seg(FIN | ACK).seq(1).ack(1));
    s.expect(seg(ACK).seq(1).ack(2));
}

/// RFC 9293 §3.7.4, SHLD-7 (Nagle): a small write while small data is unacknowledged waits
/// for the ACK.
#[test]
fn nagle_holds_small_write_until_ack() {
    let (mut s, c) = established();
    s.stack.send(s.now, c, b"a").unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).data(b"a"));
    s.stack.send(s.now, c, b"b").unwrap();
    s.expect_nothing();
    s.stack.send(s.now, c, b"c").unwrap();
    s.expect_nothing();
    s.at(10);
    s.inject(seg(ACK).seq(1).ack(2));
    s.expect(seg(ACK | PSH).seq(2).ack(1).data(b"bc"));
}

/// RFC 9293 §3.7.4, MUST-17: with Nagle disabled (nodelay) small writes go at once.
#[test]
fn nodelay_sends_small_writes_at_once() {
    let (mut s, c) = established();
    s.stack.set_nodelay(c, true);
    s.stack.send(s.now, c, b"a").unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).data(b"a"));
    s.stack.send(s.now, c, b"b").unwrap();
    s.expect(seg(ACK | PSH).seq(2).ack(1).data(b"b"));
}

/// RFC 6298 §5, MUST-19: unacknowledged data is retransmitted when the RTO expires, and the
/// RTO doubles each time (1 s, 2 s, 4 s).
#[test]
fn data_retransmitted_on_rto_with_backoff() {
    let (mut s, c) = established();
    s.stack.send(s.now, c, &[5u8; 100]).unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    s.at(999);
    s.expect_nothing();
    s.at(1000);
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    s.at(2999);
    s.expect_nothing();
    s.at(3000);
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    s.at(6999);
    s.expect_nothing();
    s.at(7000);
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    // The ACK ends the retransmissions.
    s.inject(seg(ACK).seq(1).ack(101));
    s.at(30_000);
    s.expect_nothing();
}

/// RFC 6298 §3 (Karn), MUST-18: an ACK of retransmitted data gives no RTT sample.
#[test]
fn karn_no_rtt_sample_from_retransmitted_data() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.at(1000);
    // The SYN-ACK is retransmitted; the ACK that follows must not be timed.
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.at(1010);
    s.inject(seg(ACK).seq(1).ack(1));
    let c = s.stack.accept(l).unwrap();
    assert_eq!(s.stack.info(c).unwrap().srtt, None);
    s.stack.send(s.now, c, b"x").unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).data(b"x"));
    s.at(3010);
    s.expect(seg(ACK | PSH).seq(1).ack(1).data(b"x"));
    s.at(3020);
    s.inject(seg(ACK).seq(1).ack(2));
    assert_eq!(s.stack.info(c).unwrap().srtt, None);
}

/// RFC 9293 §3.8.6.1, MUST-36, MUST-37, SHLD-29, SHLD-30: against a zero window we probe
/// after one RTO, the probes back off (1 s, 2 s, 4 s apart) while the window stays shut, and
/// the data flows once it opens.
#[test]
fn zero_window_probes_back_off_then_data_flows() {
    let mut s = Script::with_config(|c| c.tcp.min_rto = Duration::from_secs(1));
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460).win(0));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.inject(seg(ACK).seq(1).ack(1).win(0));
    let c = s.stack.accept(l).unwrap();
    assert_eq!(s.stack.send(s.now, c, &[3u8; 100]), Ok(100));
    s.expect_nothing();
    s.at(999);
    s.expect_nothing();
    s.at(1000);
    s.expect(seg(ACK).seq(0).ack(1));
    s.inject(seg(ACK).seq(1).ack(1).win(0));
    s.expect_nothing();
    s.at(2999);
    s.expect_nothing();
    s.at(3000);
    s.expect(seg(ACK).seq(0).ack(1));
    s.inject(seg(ACK).seq(1).ack(1).win(0));
    s.at(6999);
    s.expect_nothing();
    s.at(7000);
    s.expect(seg(ACK).seq(0).ack(1));
    // The connection is not given up however long the window stays zero (MUST-37).
    assert_eq!(s.stack.state(c), Some(synack_core::tcp::State::Established));
    s.inject(seg(ACK).seq(1).ack(1).win(65535));
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
}

/// RFC 5681 §4.2, RFC 9293 §3.10.7.4 seventh, SHLD-31: an out-of-order segment is queued and
/// answered at once with a duplicate ACK; filling the gap gets a cumulative ACK at once and
/// the data reads in order.
#[test]
fn out_of_order_dup_ack_then_cumulative_ack() {
    let (mut s, c) = established();
    s.inject(seg(ACK).seq(101).ack(1).data(&[b'b'; 100]));
    s.expect(seg(ACK).seq(1).ack(1));
    assert!(!s.stack.readiness(c).readable);
    s.inject(seg(ACK).seq(1).ack(1).data(&[b'a'; 100]));
    s.expect(seg(ACK).seq(1).ack(201));
    let data = s.read_all(c);
    let mut want = vec![b'a'; 100];
    want.extend_from_slice(&[b'b'; 100]);
    assert_eq!(data, want);
}

/// RFC 9293 §3.10.7.4 eighth: a FIN that arrives ahead of a gap is held; it takes effect
/// when the gap fills.
#[test]
fn fin_after_gap_waits_for_gap() {
    let (mut s, c) = established();
    s.inject(seg(FIN | ACK).seq(4).ack(1).data(b"def"));
    s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(s.stack.state(c), Some(synack_core::tcp::State::Established));
    s.inject(seg(ACK).seq(1).ack(1).data(b"abc"));
    s.expect(seg(ACK).seq(1).ack(8));
    assert_eq!(s.stack.state(c), Some(synack_core::tcp::State::CloseWait));
    assert_eq!(s.read_all(c), b"abcdef");
}

/// RFC 9293 §3.9.1.2, MUST-61: PSH is set on the segment that empties the send buffer, and
/// only on it.
#[test]
fn psh_on_last_segment_of_write() {
    let (mut s, c) = established();
    s.stack.send(s.now, c, &[1u8; 2000]).unwrap();
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    // The short tail waits for the ACK (Nagle), then goes with PSH (MUST-60: not held).
    s.expect_nothing();
    s.inject(seg(ACK).seq(1).ack(1461));
    s.expect(seg(ACK | PSH).seq(1461).ack(1).len(540));
}

/// RFC 5681 §3.2: three duplicate ACKs trigger a fast retransmit of the first unacknowledged
/// segment before any RTO.
#[test]
fn fast_retransmit_on_three_dup_acks() {
    let (mut s, c) = established();
    s.stack.send(s.now, c, &[1u8; 4 * 1460]).unwrap();
    for i in 0..4 {
        let flags = if i == 3 { ACK | PSH } else { ACK };
        s.expect(seg(flags).seq(1 + i * 1460).ack(1).len(1460));
    }
    s.at(10);
    for _ in 0..3 {
        s.inject(seg(ACK).seq(1).ack(1));
    }
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
}

/// RFC 9293 §3.1, MUST-3: a segment with a bad checksum is dropped before any processing:
/// no ACK, no data, counted.
#[test]
fn bad_checksum_segment_dropped() {
    let (mut s, c) = established();
    let mut p = s.packet(&seg(ACK | PSH).seq(1).ack(1).data(b"xyz"));
    let last = p.len() - 1;
    p[last] ^= 0x40;
    s.expect_dropped_bad_checksum(c, &p);
}

/// RFC 9293 §3.8.6.2.2, MUST-39 (receiver silly-window avoidance): after a zero window, a
/// small read does not reopen the window; it is reopened once at least one MSS is free.
#[test]
fn receiver_sws_avoidance_waits_for_an_mss() {
    let mut s = Script::with_config(|c| c.tcp.recv_buffer = 4000);
    let c = s.accept_connection();
    s.inject(seg(ACK).seq(1).ack(1).len(1460));
    s.inject(seg(ACK).seq(1461).ack(1).len(1460));
    s.expect(seg(ACK).seq(1).ack(2921).win(1080));
    s.inject(seg(ACK).seq(2921).ack(1).len(1080));
    s.at(40);
    s.expect(seg(ACK).seq(1).ack(4001).win(0));
    let mut buf = [0u8; 1400];
    assert_eq!(s.stack.recv(s.now, c, &mut buf[..100]), Ok(100));
    s.expect_nothing();
    // A probe from the peer is answered with the window still closed.
    s.inject(seg(ACK).seq(4000).ack(1));
    s.expect(seg(ACK).seq(1).ack(4001).win(0));
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Ok(1400));
    s.expect(seg(ACK).seq(1).ack(4001).win(1500));
}

/// RFC 9293 §3.8.6.2.1, MUST-34, SHLD-15: when the peer shrinks its window to zero under
/// data in flight, no new data goes out past it (only zero-length probes), and transfer
/// resumes from SND.UNA when the window reopens.
#[test]
fn shrinking_window_handled() {
    let (mut s, c) = established();
    s.stack.send(s.now, c, &[6u8; 2920]).unwrap();
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    s.expect(seg(ACK | PSH).seq(1461).ack(1).len(1460));
    s.inject(seg(ACK).seq(1).ack(1).win(0));
    s.expect_nothing();
    for ms in [1000, 3000, 7000, 15000] {
        s.at(ms);
        while let Some(out) = s.next_out() {
            assert_eq!(out.len, 0, "data sent into a zero window: {out:?}");
        }
    }
    assert_eq!(s.stack.state(c), Some(synack_core::tcp::State::Established));
    s.inject(seg(ACK).seq(1).ack(1).win(65535));
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
}
