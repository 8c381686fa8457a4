//! Timestamps (RFC 7323): which TSval is echoed (§4.3), RTT measured from every echo (§4.1),
//! and PAWS (§5), with its exceptions for RSTs and a TS.Recent idle for 24 days.

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::stack::SocketHandle;

/// A passive open with timestamps; the peer's TSvals start at 1 and the handshake takes
/// 100 ms. Returns the script, the socket, and the stack's TSval in its SYN-ACK.
fn ts_connection() -> (Script, SocketHandle, u32) {
    let mut s = Script::with_config(|c| {
        c.tcp.timestamps = true;
        c.tcp.min_rto = Duration::from_secs(1);
    });
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460).ts(1, 0));
    let synack = s.expect(seg(SYN | ACK).seq(0).ack(1));
    let (tsval, tsecr) = synack.options.timestamps.expect("timestamps negotiated");
    assert_eq!(tsecr, 1);
    s.at(100);
    s.inject(seg(ACK).seq(1).ack(1).ts(2, tsval));
    s.expect_nothing();
    let c = s.stack.accept(l).expect("an established connection");
    (s, c, tsval)
}

/// The (TSval, TSecr) of the stack's next segment, which must match `want`.
#[track_caller]
fn ts_of(s: &mut Script, want: Seg) -> (u32, u32) {
    s.expect(want)
        .options
        .timestamps
        .expect("a timestamp option")
}

/// Payload per segment with timestamps on: 1460 less the 12 option bytes.
const MSS: usize = 1448;

fn data(seq: u32, len: usize, tsval: u32) -> Seg {
    seg(ACK).seq(seq).ack(1).len(len).ts(tsval, 0)
}

/// RFC 7323 §4.3 (the "last ACK sent" rule): with a delayed ACK, the echo is the TSval of the
/// first segment not yet acknowledged, not of the newest, so the sender's RTT sample
/// includes the delay.
#[test]
fn echo_is_the_oldest_unacknowledged_segment() {
    let (mut s, _c, _) = ts_connection();
    s.at(200);
    s.inject(data(1, 1000, 10));
    s.expect_nothing();
    s.at(210);
    s.inject(data(1001, 1000, 20));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(2001)).1, 10);
    // The next pair starts at what was acknowledged: its first TSval is echoed.
    s.at(220);
    s.inject(data(2001, 1000, 30));
    s.inject(data(3001, 1000, 40));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(4001)).1, 30);
}

/// RFC 7323 §4.3: a segment past a hole does not update TS.Recent; the one filling the hole
/// does.
#[test]
fn out_of_order_segments_do_not_update_ts_recent() {
    let (mut s, _c, _) = ts_connection();
    s.inject(data(1001, 1000, 50));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(1)).1, 2);
    s.inject(data(2001, 1000, 60));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(1)).1, 2);
    s.inject(data(1, 1000, 70));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(3001)).1, 70);
}

/// RFC 7323 §5.3 R1 (PAWS): a segment whose TSval is older than TS.Recent is ACKed and
/// dropped, and counted.
#[test]
fn paws_drops_an_old_segment_and_acks() {
    let (mut s, c, _) = ts_connection();
    s.inject(data(1, 100, 1000));
    s.at(300);
    s.expect(seg(ACK).seq(1).ack(101));
    // Same sequence space, an older clock: an old duplicate.
    s.inject(data(101, 100, 999));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(101)).1, 1000);
    assert_eq!(s.stack.counters().dropped_paws, 1);
    let mut buf = [0u8; 512];
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Ok(100));
    // A TSval equal to TS.Recent passes.
    s.inject(data(101, 100, 1000));
    s.at(400);
    s.expect(seg(ACK).seq(1).ack(201));
    assert_eq!(s.stack.counters().dropped_paws, 1);
}

/// RFC 7323 §5.3 R1: PAWS never applies to a RST: one at RCV.NXT with an old TSval resets.
#[test]
fn paws_does_not_drop_a_reset() {
    let (mut s, c, _) = ts_connection();
    s.inject(data(1, 100, 1000));
    s.at(300);
    s.expect(seg(ACK).seq(1).ack(101));
    s.inject(seg(RST).seq(101).ts(5, 0));
    assert_eq!(s.stack.state(c), Some(synack_core::tcp::State::Closed));
    assert_eq!(s.stack.counters().dropped_paws, 0);
}

/// RFC 7323 §5.5: after 24 days without an update TS.Recent is no longer valid, so a segment
/// with an "older" TSval (the peer's clock may have wrapped) is accepted and becomes the
/// new TS.Recent.
#[test]
fn paws_ignores_a_ts_recent_idle_for_24_days() {
    let (mut s, c, _) = ts_connection();
    s.inject(data(1, 100, 1000));
    s.at(300);
    s.expect(seg(ACK).seq(1).ack(101));
    s.wait(Duration::from_secs(25 * 24 * 3600));
    s.inject(data(101, 100, 500));
    s.wait(Duration::from_secs(1));
    assert_eq!(ts_of(&mut s, seg(ACK).seq(1).ack(201)).1, 500);
    assert_eq!(s.stack.counters().dropped_paws, 0);
    let mut buf = [0u8; 512];
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Ok(200));
}

/// RFC 7323 §4.1: every ACK of new data that echoes a timestamp is an RTT sample (not one
/// per round trip); the echo names the transmission, so even an ACK of retransmitted data
/// is measured.
#[test]
fn rtt_measured_from_every_echo() {
    let (mut s, c, _) = ts_connection();
    let srtt = |s: &Script| s.stack.info(c).unwrap().srtt.unwrap();
    // The handshake measured 100 ms.
    assert_eq!(srtt(&s), Duration::from_millis(100));
    s.stack.send(s.now, c, &[7u8; 4 * MSS]).unwrap();
    let mut sent = Vec::new();
    for i in 0..4 {
        let flags = if i == 3 { ACK | PSH } else { ACK };
        sent.push(ts_of(&mut s, seg(flags).seq(1 + i * MSS as u32).ack(1).len(MSS)).0);
    }
    // Each ACK echoes its segment's TSval and is answered 300 ms after it: each moves SRTT.
    let mut last = srtt(&s);
    for (i, &tsval) in sent.iter().enumerate() {
        s.at(400 + i as u64);
        let ack = 1 + (i as u32 + 1) * MSS as u32;
        s.inject(seg(ACK).seq(1).ack(ack).ts(10 + i as u32, tsval));
        let now = srtt(&s);
        assert!(now > last, "ACK {i} took no sample: {now:?}");
        last = now;
    }
    // A retransmission's echo is measured too (no Karn ambiguity with timestamps).
    s.stack.send(s.now, c, &[8u8; MSS]).unwrap();
    s.expect(seg(ACK | PSH).seq(1 + 4 * MSS as u32).ack(1).len(MSS));
    let rto = s.stack.info(c).unwrap().rto;
    s.wait(rto);
    let (tsval, _) = ts_of(
        &mut s,
        seg(ACK | PSH).seq(1 + 4 * MSS as u32).ack(1).len(MSS),
    );
    let before = srtt(&s);
    s.wait(Duration::from_millis(50));
    s.inject(seg(ACK).seq(1).ack(1 + 5 * MSS as u32).ts(20, tsval));
    assert!(
        srtt(&s) < before,
        "no sample from the retransmission's echo"
    );
}

/// Karn's rule still holds without timestamps: an ACK of retransmitted data gives no
/// sample.
#[test]
fn karn_without_timestamps() {
    let mut s = Script::with_config(|c| c.tcp.min_rto = Duration::from_secs(1));
    let c = s.accept_connection();
    s.stack.send(s.now, c, &[8u8; 100]).unwrap();
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    s.at(1000);
    s.expect(seg(ACK | PSH).seq(1).ack(1).len(100));
    let before = s.stack.info(c).unwrap().srtt;
    s.at(1050);
    s.inject(seg(ACK).seq(1).ack(101));
    assert_eq!(s.stack.info(c).unwrap().srtt, before);
}

/// PAWS and reordering (as Linux's "disordered ACK" rule): a pure duplicate ACK overtaken by
/// a newer one is not dropped, so a sender without SACK still counts it toward fast
/// retransmit; an older segment carrying data is.
#[test]
fn paws_lets_an_overtaken_duplicate_ack_through() {
    let (mut s, c, _) = ts_connection();
    s.stack.send(s.now, c, &[7u8; 4 * MSS]).unwrap();
    let mut sent = Vec::new();
    for i in 0..4u32 {
        let flags = if i == 3 { ACK | PSH } else { ACK };
        let out = ts_of(&mut s, seg(flags).seq(1 + i * MSS as u32).ack(1).len(MSS));
        sent.push(out.0);
    }
    s.at(150);
    s.inject(seg(ACK).seq(1).ack(1).ts(10, sent[0]));
    s.inject(seg(ACK).seq(1).ack(1).ts(12, sent[0]));
    // Overtaken on the way: older than TS.Recent (12), still a duplicate ACK.
    s.inject(seg(ACK).seq(1).ack(1).ts(11, sent[0]));
    s.expect(seg(ACK).seq(1).ack(1).len(MSS));
    assert_eq!(s.stack.counters().dropped_paws, 0);
    // Data with an old TSval is dropped.
    s.inject(seg(ACK).seq(1).ack(1).len(10).ts(11, sent[0]));
    s.expect(seg(ACK).seq(1 + 4 * MSS as u32).ack(1));
    assert_eq!(s.stack.counters().dropped_paws, 1);
}
