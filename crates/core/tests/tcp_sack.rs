//! SACK: the blocks a receiver reports and their order (RFC 2018 §4), duplicate reports
//! (D-SACK, RFC 2883), and a sender's scoreboard recovering holes without waiting for the
//! retransmission timer (RFC 6675).

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::stack::SocketHandle;

/// A passive open where both sides offered SACK (and timestamps if `ts`); the handshake RTT
/// is 100 ms and the RTO floor 1 s, so no timer interferes with a script.
fn sack_connection(ts: bool, rack: bool) -> (Script, SocketHandle) {
    let mut s = Script::with_config(|c| {
        c.tcp.sack = true;
        c.tcp.timestamps = ts;
        c.tcp.rack = rack;
        c.tcp.min_rto = Duration::from_secs(1);
        // The window arithmetic below is NewReno's halving.
        c.tcp.congestion = synack_core::tcp::CongestionAlgorithm::NewReno;
    });
    let l = s.listen();
    let mut syn = seg(SYN).seq(0).mss(1460).sack_ok();
    if ts {
        syn = syn.ts(1, 0);
    }
    s.inject(syn);
    let synack = s.expect(seg(SYN | ACK).seq(0).ack(1));
    assert!(synack.options.sack_permitted);
    s.at(100);
    let mut ack = seg(ACK).seq(1).ack(1);
    if let Some((tsval, _)) = synack.options.timestamps {
        ack = ack.ts(2, tsval);
    }
    s.inject(ack);
    s.expect_nothing();
    let c = s.stack.accept(l).expect("an established connection");
    (s, c)
}

/// The SACK blocks of the stack's next segment, which must be an ACK of `ack`.
#[track_caller]
fn blocks(s: &mut Script, ack: u32) -> Vec<(u32, u32)> {
    let out = s.expect(seg(ACK).seq(1).ack(ack));
    out.options.sack_blocks().to_vec()
}

fn data(seq: u32, len: usize) -> Seg {
    seg(ACK).seq(seq).ack(1).len(len)
}

/// RFC 2018 §4: the first block holds the most recently received segment, the others follow
/// most recent first; without timestamps four fit, and the oldest falls off.
#[test]
fn sack_blocks_most_recent_first() {
    let (mut s, _c) = sack_connection(false, true);
    s.inject(data(1001, 100));
    assert_eq!(blocks(&mut s, 1), [(1001, 1101)]);
    s.inject(data(1201, 100));
    assert_eq!(blocks(&mut s, 1), [(1201, 1301), (1001, 1101)]);
    s.inject(data(1401, 100));
    assert_eq!(
        blocks(&mut s, 1),
        [(1401, 1501), (1201, 1301), (1001, 1101)]
    );
    s.inject(data(1601, 100));
    assert_eq!(
        blocks(&mut s, 1),
        [(1601, 1701), (1401, 1501), (1201, 1301), (1001, 1101)]
    );
    s.inject(data(1801, 100));
    assert_eq!(
        blocks(&mut s, 1),
        [(1801, 1901), (1601, 1701), (1401, 1501), (1201, 1301)]
    );
    // Filling the gap between two blocks: the merged block holds the newest segment.
    s.inject(data(1101, 100));
    assert_eq!(
        blocks(&mut s, 1),
        [(1001, 1301), (1801, 1901), (1601, 1701), (1401, 1501)]
    );
    // The cumulative ACK swallows the first block; the rest keep their order.
    s.inject(data(1, 1000));
    assert_eq!(
        blocks(&mut s, 1301),
        [(1801, 1901), (1601, 1701), (1401, 1501)]
    );
}

/// RFC 2018 §4 with timestamps: three blocks fit beside them, the most recent three.
#[test]
fn sack_blocks_three_beside_timestamps() {
    let (mut s, _c) = sack_connection(true, true);
    for (i, seq) in [1001u32, 1201, 1401, 1601].into_iter().enumerate() {
        s.inject(data(seq, 100).ts(10 + i as u32, 0));
        let got = s.expect(seg(ACK).seq(1).ack(1));
        assert_eq!(got.options.sack_blocks().len(), (i + 1).min(3));
    }
    s.inject(data(1801, 100).ts(20, 0));
    assert_eq!(
        blocks(&mut s, 1),
        [(1801, 1901), (1601, 1701), (1401, 1501)]
    );
}

/// RFC 2883 §4.1.1: a segment received again below RCV.NXT is reported as the first block,
/// once.
#[test]
fn dsack_for_a_duplicate_below_rcv_nxt() {
    let (mut s, _c) = sack_connection(false, true);
    s.inject(data(1, 500));
    s.inject(data(501, 500));
    assert_eq!(blocks(&mut s, 1001), []);
    s.inject(data(501, 500));
    assert_eq!(blocks(&mut s, 1001), [(501, 1001)]);
    // Only once: the next ACK carries no block.
    s.inject(data(1001, 100));
    s.inject(data(1101, 100));
    assert_eq!(blocks(&mut s, 1201), []);
}

/// RFC 2883 §4.1.2: a duplicate of part of a segment: only the part received twice is
/// reported, and the new part is taken.
#[test]
fn dsack_for_a_partial_duplicate() {
    let (mut s, _c) = sack_connection(false, true);
    s.inject(data(1, 200));
    s.inject(data(101, 200));
    assert_eq!(blocks(&mut s, 301), [(101, 201)]);
}

/// RFC 2883 §4.2: a duplicate of out-of-order data: the D-SACK block first, then the block
/// that holds it, then the others; with a gap, a duplicate below RCV.NXT is followed by the
/// SACK blocks.
#[test]
fn dsack_for_held_out_of_order_data() {
    let (mut s, _c) = sack_connection(false, true);
    s.inject(data(501, 100));
    assert_eq!(blocks(&mut s, 1), [(501, 601)]);
    s.inject(data(801, 100));
    assert_eq!(blocks(&mut s, 1), [(801, 901), (501, 601)]);
    s.inject(data(501, 50));
    assert_eq!(blocks(&mut s, 1), [(501, 551), (501, 601), (801, 901)]);
    s.inject(data(1, 100));
    assert_eq!(blocks(&mut s, 101), [(801, 901), (501, 601)]);
    s.inject(data(1, 100));
    assert_eq!(blocks(&mut s, 101), [(1, 101), (801, 901), (501, 601)]);
}

/// With SACK off nothing of this appears: a duplicate gets a plain ACK.
#[test]
fn no_dsack_without_sack() {
    let mut s = Script::new();
    let _c = s.accept_connection();
    s.inject(data(1, 100));
    s.inject(data(1, 100));
    let out = s.expect(seg(ACK).seq(1).ack(101));
    assert!(out.options.sack_blocks().is_empty());
}

/// Sends `n` full segments from `c` and expects them on the wire, lowest first.
fn send_segments(s: &mut Script, c: SocketHandle, n: usize) {
    assert_eq!(
        s.stack.send(s.now, c, &vec![7u8; n * 1460]).unwrap(),
        n * 1460
    );
    for i in 0..n {
        let flags = if i + 1 == n { ACK | PSH } else { ACK };
        s.expect(seg(flags).seq(1 + 1460 * i as u32).ack(1).len(1460));
    }
    s.expect_nothing();
}

/// RFC 6675 §5 (RACK off): the third SACKed segment above a hole makes it lost (IsLost) and it
/// is retransmitted at once, not after the RTO; then the pipe leaves no room until ACKs come.
#[test]
fn scoreboard_retransmits_the_hole_on_dupthresh() {
    let (mut s, c) = sack_connection(false, false);
    send_segments(&mut s, c, 6);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 2921)]);
    s.expect_nothing();
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 4381)]);
    s.expect_nothing();
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 5841)]);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    s.expect_nothing();
    s.at(300);
    s.inject(seg(ACK).seq(1).ack(8761));
    s.expect_nothing();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.fast_recoveries, 1);
    assert_eq!(info.rto_expirations, 0);
    assert_eq!(info.retransmitted_segments, 1);
    assert_eq!(info.retransmitted_bytes, 1460);
    // RFC 6675 §5 step 4.2: the window was halved from six segments.
    assert_eq!(info.cwnd, 3 * 1460);
}

/// RFC 6675 §5: two holes; after the first is resent, the second one (also below three SACKed
/// segments) goes when the pipe has room, still without the RTO.
#[test]
fn scoreboard_retransmits_every_hole() {
    let (mut s, c) = sack_connection(false, false);
    send_segments(&mut s, c, 8);
    s.at(200);
    // Segments 1 and 3 are missing; 2, 4, 5 and 6 arrived.
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 2921)]);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(4381, 5841), (1461, 2921)]);
    s.expect_nothing();
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(4381, 8761), (1461, 2921)]);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    s.expect(seg(ACK).seq(2921).ack(1).len(1460));
    s.expect_nothing();
    s.at(300);
    s.inject(seg(ACK).seq(1).ack(11681));
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.fast_recoveries, 1);
    assert_eq!(info.retransmitted_segments, 2);
    assert_eq!(info.rto_expirations, 0);
}

/// RFC 6675 §5: SACK blocks outside SND.UNA..SND.MAX are ignored: they neither mark data
/// SACKed nor make anything lost.
#[test]
fn bogus_sack_blocks_ignored() {
    let (mut s, c) = sack_connection(false, true);
    send_segments(&mut s, c, 4);
    s.at(200);
    for _ in 0..4 {
        s.inject_sack(seg(ACK).seq(1).ack(1), &[(10_000, 20_000), (3000, 2000)]);
        s.expect_nothing();
        // Blocks half the sequence space away, or wrapping around it; the first starts past
        // SND.MAX (5841) yet lies "before" its right edge, which is below SND.MAX.
        s.inject_sack(
            seg(ACK).seq(1).ack(1),
            &[
                (0x2000_16d1, 0x9000_16d1),
                (0x9000_0000, 0x1000_0000),
                (u32::MAX - 5, 10),
                (0x7fff_0000, 2000),
            ],
        );
        s.expect_nothing();
    }
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.retransmitted_segments, 0);
    assert_eq!(info.fast_recoveries, 0);
}

/// Without SACK negotiated, three duplicate ACKs still start RFC 6582 NewReno recovery.
#[test]
fn newreno_when_sack_not_negotiated() {
    let mut s = Script::with_config(|c| c.tcp.min_rto = Duration::from_secs(1));
    let c = s.accept_connection();
    send_segments(&mut s, c, 5);
    s.at(100);
    for _ in 0..2 {
        s.inject(seg(ACK).seq(1).ack(1));
        s.expect_nothing();
    }
    s.inject(seg(ACK).seq(1).ack(1));
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    // A partial ACK: the next hole is resent at once (RFC 6582 §3.2 step 3).
    s.inject(seg(ACK).seq(1).ack(2921));
    s.expect(seg(ACK).seq(2921).ack(1).len(1460));
    let info = s.stack.info(c).unwrap();
    assert!(!info.sack);
    assert_eq!(info.fast_recoveries, 1);
    assert_eq!(info.retransmitted_segments, 2);
}

/// RFC 6675 §5.1: after an RTO, what is not SACKed is resent lowest first as the window opens;
/// the SACKed segments are not.
#[test]
fn rto_resends_only_what_was_not_sacked() {
    let (mut s, c) = sack_connection(false, false);
    send_segments(&mut s, c, 4);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(2921, 5841)]);
    s.expect_nothing();
    // RTO 1 s after the send: one segment (the loss window).
    s.at(1100);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    s.expect_nothing();
    s.at(1200);
    s.inject_sack(seg(ACK).seq(1).ack(1461), &[(2921, 5841)]);
    s.expect(seg(ACK).seq(1461).ack(1).len(1460));
    s.expect_nothing();
    s.at(1300);
    s.inject(seg(ACK).seq(1).ack(5841));
    s.expect_nothing();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.rto_expirations, 1);
    assert_eq!(info.retransmitted_segments, 2);
}

/// RFC 2018 §8: a second timeout in a row forgets the SACK marks (the peer may have dropped
/// what it SACKed), so the formerly SACKed data is resent too.
#[test]
fn second_rto_forgets_sack_marks() {
    let (mut s, c) = sack_connection(false, false);
    send_segments(&mut s, c, 4);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(2921, 5841)]);
    s.at(1100);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    // Backed off: 2 s later.
    s.at(3100);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    s.expect_nothing();
    s.at(3200);
    s.inject(seg(ACK).seq(1).ack(1461));
    s.expect(seg(ACK).seq(1461).ack(1).len(1460));
    s.expect(seg(ACK).seq(2921).ack(1).len(1460));
    s.expect_nothing();
    assert_eq!(s.stack.info(c).unwrap().rto_expirations, 2);
}
