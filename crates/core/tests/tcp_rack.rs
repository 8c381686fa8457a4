//! RACK-TLP (RFC 8985): losses marked by time with a reordering window, the reordering
//! timer, tail loss probes; and undoing a recovery whose retransmissions were spurious
//! (D-SACK, RFC 3708; timestamps, RFC 3522).

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::stack::SocketHandle;

/// A passive open with SACK (and timestamps if `ts`); the handshake RTT is 100 ms and the RTO
/// floor 1 s. Returns the peer's view of our last TSval too.
fn connection(sack: bool, ts: bool) -> (Script, SocketHandle) {
    let mut s = Script::with_config(|c| {
        c.tcp.sack = sack;
        c.tcp.timestamps = ts;
        c.tcp.min_rto = Duration::from_secs(1);
    });
    let l = s.listen();
    let mut syn = seg(SYN).seq(0).mss(1460);
    if sack {
        syn = syn.sack_ok();
    }
    if ts {
        syn = syn.ts(1, 0);
    }
    s.inject(syn);
    let synack = s.expect(seg(SYN | ACK).seq(0).ack(1));
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

/// Sends `n` segments of `mss` bytes and expects them, lowest first; returns their TSvals.
fn send_segments(s: &mut Script, c: SocketHandle, n: usize, mss: usize) -> Vec<u32> {
    assert_eq!(
        s.stack.send(s.now, c, &vec![7u8; n * mss]).unwrap(),
        n * mss
    );
    let mut tsvals = Vec::new();
    for i in 0..n {
        let flags = if i + 1 == n { ACK | PSH } else { ACK };
        let out = s.expect(seg(flags).seq(1 + (mss * i) as u32).ack(1).len(mss));
        tsvals.extend(out.options.timestamps.map(|t| t.0));
    }
    s.expect_nothing();
    tsvals
}

/// RFC 8985 §6.2: one SACKed segment above a hole is not yet a loss: the hole has RACK.rtt
/// plus min_RTT/4 (here 100 + 25 ms from its send) before it counts as lost; the reordering
/// resolves within that window, and nothing is retransmitted.
#[test]
fn reordering_within_the_window_is_not_a_loss() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 3, 1460);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 2921)]);
    s.expect_nothing();
    s.at(220);
    s.expect_nothing();
    // The first segment was only late.
    s.inject(seg(ACK).seq(1).ack(4381));
    s.expect_nothing();
    s.at(5000);
    s.expect_nothing();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.retransmitted_segments, 0);
    assert_eq!(info.fast_recoveries, 0);
    assert_eq!(info.tlp_probes, 0);
}

/// RFC 8985 §6.2 step 5 and §6.3: when the window passes with the hole still open, the
/// reordering timer marks it lost by time and it is retransmitted, long before the RTO.
#[test]
fn rack_marks_lost_by_time_on_the_reordering_timer() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 3, 1460);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 2921)]);
    s.expect_nothing();
    // Sent at 100, RACK.rtt 100 ms, window 25 ms: lost at 225.
    s.at(224);
    s.expect_nothing();
    s.at(225);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    s.inject_sack(seg(ACK).seq(1).ack(2921), &[]);
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.fast_recoveries, 1);
    assert_eq!(info.rto_expirations, 0);
    assert_eq!(info.retransmitted_segments, 1);
}

/// RFC 8985 §6.2 step 4: with three segments SACKed above it and no reordering seen, the
/// window is zero: the hole is lost at once.
#[test]
fn three_sacked_segments_mark_the_hole_at_once() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 5, 1460);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 2921)]);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 4381)]);
    s.expect_nothing();
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 5841)]);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    assert_eq!(s.stack.info(c).unwrap().fast_recoveries, 1);
}

/// RFC 8985 §7: the last two segments of a flight are lost and no ACK will come for them.
/// The probe timeout (2·SRTT plus the delayed-ACK allowance for one segment) fires well
/// before the RTO and resends the last segment; its SACK lets RACK find the other loss, and
/// the flight completes without any RTO.
#[test]
fn tail_loss_probe_recovers_without_rto() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 4, 1460);
    // Segments 3 and 4 are lost; 1 and 2 are ACKed.
    s.at(200);
    s.inject(seg(ACK).seq(1).ack(2921));
    s.expect_nothing();
    // SRTT 100 ms, two segments out: PTO 200 ms after the ACK.
    s.at(399);
    s.expect_nothing();
    s.at(400);
    s.expect(seg(ACK).seq(4381).ack(1).len(1460));
    assert_eq!(s.stack.info(c).unwrap().tlp_probes, 1);
    // The probe's SACK shows segment 3 missing; sent 300 ms before the probe, it is lost.
    s.at(500);
    s.inject_sack(seg(ACK).seq(1).ack(2921), &[(4381, 5841)]);
    s.expect(seg(ACK).seq(2921).ack(1).len(1460));
    s.expect_nothing();
    s.at(600);
    s.inject(seg(ACK).seq(1).ack(5841));
    s.expect_nothing();
    s.at(5000);
    s.expect_nothing();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.rto_expirations, 0);
    assert_eq!(info.tlp_probes, 1);
    assert_eq!(info.fast_recoveries, 1);
    assert_eq!(info.retransmitted_segments, 2);
}

/// RFC 8985 §7.3: with new data allowed by the peer's window but not by the congestion
/// window, the probe carries new data rather than a copy.
#[test]
fn tail_loss_probe_prefers_new_data() {
    let (mut s, c) = connection(true, false);
    // Eleven segments: the initial window (10) holds back the last.
    assert_eq!(
        s.stack.send(s.now, c, &[1u8; 11 * 1460]).unwrap(),
        11 * 1460
    );
    for i in 0..10 {
        s.expect(seg(ACK).seq(1 + 1460 * i).ack(1).len(1460));
    }
    s.expect_nothing();
    // No ACK at all: PTO is 2·SRTT = 200 ms after the last send.
    s.at(300);
    s.expect(seg(ACK | PSH).seq(14601).ack(1).len(1460));
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.tlp_probes, 1);
    assert_eq!(info.retransmitted_segments, 0);
}

/// RFC 3708 / RFC 2883 §5: RACK took a reordered segment for lost and resent it; the D-SACK
/// for the copy shows the retransmission was needless, so the window cut is undone.
#[test]
fn dsack_undoes_a_spurious_fast_recovery() {
    let (mut s, c) = connection(true, false);
    let cwnd_before = s.stack.info(c).unwrap().cwnd;
    send_segments(&mut s, c, 6, 1460);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 5841)]);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    let during = s.stack.info(c).unwrap();
    assert_eq!(during.fast_recoveries, 1);
    assert!(during.cwnd < cwnd_before);
    // The original arrives after all, then the copy: the peer reports it twice.
    s.at(201);
    s.inject(seg(ACK).seq(1).ack(8761));
    s.at(300);
    s.inject_sack(seg(ACK).seq(1).ack(8761), &[(1, 1461)]);
    let after = s.stack.info(c).unwrap();
    assert_eq!(after.spurious_retransmissions, 1);
    assert_eq!(after.undone_recoveries, 1);
    assert!(
        after.cwnd >= cwnd_before,
        "cwnd {} not restored to {cwnd_before}",
        after.cwnd
    );
}

/// A D-SACK for data never retransmitted (the network duplicated it) undoes nothing.
#[test]
fn dsack_for_a_network_duplicate_undoes_nothing() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 6, 1460);
    s.at(200);
    s.inject_sack(seg(ACK).seq(1).ack(1), &[(1461, 5841)]);
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
    let during = s.stack.info(c).unwrap().cwnd;
    s.at(300);
    s.inject_sack(seg(ACK).seq(1).ack(8761), &[(1461, 2921)]);
    let after = s.stack.info(c).unwrap();
    assert_eq!(after.spurious_retransmissions, 0);
    assert_eq!(after.undone_recoveries, 0);
    assert!(
        after.cwnd <= during + 1460,
        "cwnd grew back to {}",
        after.cwnd
    );
}

/// RFC 3522 (Eifel): after an RTO, the ACK echoes the timestamp of the original segment, so
/// the timeout was spurious: the window cut is undone.
#[test]
fn eifel_undoes_a_spurious_rto() {
    let (mut s, c) = connection(false, true);
    let cwnd_before = s.stack.info(c).unwrap().cwnd;
    let ts = send_segments(&mut s, c, 2, 1448);
    // RTO: 1 s after the send.
    s.at(1100);
    let rexmit = s.expect(seg(ACK).seq(1).ack(1).len(1448));
    let rexmit_ts = rexmit.options.timestamps.unwrap().0;
    assert!(rexmit_ts > ts[0]);
    let during = s.stack.info(c).unwrap();
    assert_eq!(during.rto_expirations, 1);
    assert!(during.cwnd < cwnd_before);
    // The ACK for the original, delayed, echoes the original's TSval.
    s.at(1150);
    s.inject(seg(ACK).seq(1).ack(2897).ts(50, ts[1]));
    let after = s.stack.info(c).unwrap();
    assert_eq!(after.undone_recoveries, 1);
    assert_eq!(after.spurious_retransmissions, 1);
    assert!(after.cwnd >= cwnd_before);
    // Nothing left to resend: the go-back-N after the timeout was cancelled.
    s.expect_nothing();
}

/// RFC 3522: an ACK echoing the retransmission's timestamp shows the RTO was needed.
#[test]
fn eifel_keeps_a_needed_rto() {
    let (mut s, c) = connection(false, true);
    send_segments(&mut s, c, 1, 1448);
    s.at(1100);
    let rexmit = s.expect(seg(ACK | PSH).seq(1).ack(1).len(1448));
    let rexmit_ts = rexmit.options.timestamps.unwrap().0;
    s.at(1200);
    s.inject(seg(ACK).seq(1).ack(1449).ts(50, rexmit_ts));
    let after = s.stack.info(c).unwrap();
    assert_eq!(after.rto_expirations, 1);
    assert_eq!(after.undone_recoveries, 0);
    assert_eq!(after.spurious_retransmissions, 0);
}

/// Bulk transfer over a seeded lossy wire (2% each way, 20 ms delay): returns the sender's
/// RTO expirations and fast recoveries. Deterministic: same seed, same run.
fn lossy_transfer(seed: u64, sack: bool) -> (u64, u64) {
    use std::net::IpAddr;
    use support::{CLIENT_V4, Pair, SERVER_V4, config};
    let make = |addr: [u8; 4], seed| {
        let mut c = config(IpAddr::from(addr), seed);
        c.tcp.sack = sack;
        c
    };
    let mut p = Pair::new(
        make(CLIENT_V4, seed),
        make(SERVER_V4, seed + 1),
        Duration::from_millis(20),
    );
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    p.filter = Some(Box::new(move |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 1000 >= 20
    }));
    let (c, s) = p.connect(80);
    let size = 256 * 1024;
    let data = vec![5u8; size];
    let (mut sent, mut got) = (0, 0);
    let mut buf = vec![0u8; 65536];
    let deadline = p.now + Duration::from_secs(600);
    while got < size {
        if sent < size
            && let Ok(n) = p.client.send(p.now, c, &data[sent..])
        {
            sent += n;
        }
        while let Ok(n) = p.server.recv(p.now, s, &mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
        assert!(
            p.step() && p.now < deadline,
            "seed {seed}: transfer stalled at {got}"
        );
    }
    let info = p.client.info(c).unwrap();
    (info.rto_expirations, info.fast_recoveries)
}

/// On a lossy wire, SACK with RACK-TLP repairs losses by fast recovery and probes where
/// NewReno (SACK off) waits for the RTO: far fewer timeouts over the same seeds.
#[test]
fn rack_needs_fewer_timeouts_than_newreno_on_a_lossy_wire() {
    let (mut rto_newreno, mut rto_rack, mut fr_rack) = (0, 0, 0);
    for seed in 0..6 {
        rto_newreno += lossy_transfer(seed, false).0;
        let (rto, fr) = lossy_transfer(seed, true);
        rto_rack += rto;
        fr_rack += fr;
    }
    assert!(fr_rack > 0, "RACK never entered fast recovery");
    assert!(
        rto_rack * 2 < rto_newreno,
        "RTOs with RACK {rto_rack}, with NewReno {rto_newreno}"
    );
}

/// RFC 8985 §7.4: the tail was only late; the probe's copy comes back D-SACKed, so no loss
/// is inferred and the window stays as it was.
#[test]
fn dsacked_tail_loss_probe_keeps_the_window() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 4, 1460);
    s.at(200);
    s.inject(seg(ACK).seq(1).ack(4381));
    s.expect_nothing();
    // SRTT 100 ms, one segment out: PTO 2·100 + 200 ms.
    s.at(599);
    s.expect_nothing();
    s.at(600);
    s.expect(seg(ACK).seq(4381).ack(1).len(1460));
    let before = s.stack.info(c).unwrap().cwnd;
    s.at(650);
    s.inject(seg(ACK).seq(1).ack(5841));
    s.inject_sack(seg(ACK).seq(1).ack(5841), &[(4381, 5841)]);
    let after = s.stack.info(c).unwrap();
    assert_eq!(after.tlp_probes, 1);
    assert_eq!(after.spurious_retransmissions, 1);
    assert!(
        after.cwnd >= before,
        "cwnd {} fell from {before}",
        after.cwnd
    );
    assert_eq!(after.rto_expirations, 0);
}

/// RFC 8985 §7.4: a probe copy that is not D-SACKed, followed by an ACK for later data,
/// repaired a real loss: the window is reduced as for a fast recovery.
#[test]
fn tail_loss_probe_that_repaired_a_loss_reduces_the_window() {
    let (mut s, c) = connection(true, false);
    send_segments(&mut s, c, 4, 1460);
    s.at(200);
    s.inject(seg(ACK).seq(1).ack(4381));
    s.at(600);
    s.expect(seg(ACK).seq(4381).ack(1).len(1460));
    s.at(700);
    s.inject(seg(ACK).seq(1).ack(5841));
    let before = s.stack.info(c).unwrap().cwnd;
    // New data, and its ACK: beyond the probe, with no D-SACK ever seen.
    s.stack.send(s.now, c, &[1u8; 100]).unwrap();
    s.expect(seg(ACK | PSH).seq(5841).ack(1).len(100));
    s.at(800);
    s.inject(seg(ACK).seq(1).ack(5941));
    let after = s.stack.info(c).unwrap();
    assert_eq!(after.spurious_retransmissions, 0);
    assert!(
        after.cwnd < before,
        "cwnd {} not reduced from {before}",
        after.cwnd
    );
}
