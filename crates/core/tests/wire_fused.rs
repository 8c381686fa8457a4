//! The fused receive path: in-order data is copied into the receive ring while its checksum
//! is summed, and kept only if the checksum holds. A corrupted segment must have no effect at
//! all (RFC 9293 §3.1, MUST-3), wherever in the ring its bytes would have gone, and be counted
//! as a bad checksum exactly as before.

mod support;

use support::script::*;
use synack_core::stack::SocketHandle;

fn drain(s: &mut Script) {
    while s.next_out().is_some() {}
}

/// Delivers `data` at `seq` intact, reads it back, and lets the delayed ACK go.
fn deliver(s: &mut Script, c: SocketHandle, seq: u32, data: &[u8], ms: &mut u64) {
    s.inject(seg(ACK | PSH).seq(seq).ack(1).data(data));
    assert_eq!(s.read_all(c), data, "seq {seq}");
    *ms += 1000;
    s.at(*ms);
    drain(s);
}

/// A corrupted in-order segment, sent where the ring is allocated (so it takes the fused
/// path), at the ring's start, middle and across its wrap, with the corruption in the
/// payload or in the header: nothing readable, no ACK, nothing counted but the drop, RCV.NXT
/// unchanged; the same sequence range then arrives intact with different, shorter data and
/// reads back exactly.
#[test]
fn corrupted_in_order_segment_has_no_effect() {
    let mut s = Script::new();
    let c = s.accept_connection();
    let mut ms = 0;
    let mut seq = 1u32;
    // The first data allocates the smallest ring (1 KiB); sizes chosen to walk the head
    // round it so that later segments wrap, at an odd and an even split.
    for (round, len) in [5usize, 700, 333, 900, 64, 1000].into_iter().enumerate() {
        let good: Vec<u8> = (0..len).map(|i| (i * 31 + round) as u8).collect();
        deliver(&mut s, c, seq, &good, &mut ms);
        seq += len as u32;

        let evil: Vec<u8> = (0..len + 3).map(|i| (i * 7 + 3) as u8).collect();
        let mut p = s.packet(&seg(ACK | PSH | FIN).seq(seq).ack(1).data(&evil));
        // Alternate: flip a payload bit, or the ACK number's (header) bit.
        let at = if round % 2 == 0 {
            p.len() - 1 - round
        } else {
            20 + 8
        };
        p[at] ^= 0x10;
        let before = s.stack.counters().clone();
        let now = s.now;
        s.stack.receive(now, &p);
        ms += 1000;
        s.at(ms);
        s.expect_nothing();
        assert!(!s.stack.readiness(c).readable, "round {round}");
        let after = s.stack.counters();
        assert_eq!(
            after.dropped_bad_checksum,
            before.dropped_bad_checksum + 1,
            "round {round}"
        );
        assert_eq!(after.segments_in, before.segments_in, "round {round}");
        assert_eq!(after.packets_in, before.packets_in + 1, "round {round}");

        // RCV.NXT did not move: the next byte expected is still `seq`, and shorter data
        // there reads back as itself, not as the corrupted segment's bytes.
        let short: Vec<u8> = (0..len / 2 + 1).map(|i| (i * 13 + 101) as u8).collect();
        deliver(&mut s, c, seq, &short, &mut ms);
        seq += short.len() as u32;
    }
    assert_eq!(s.stack.counters().dropped_bad_checksum, 6);
}

/// A corrupted segment that fills the whole window then an intact one: both the fused and
/// the fallback path (no ring yet) give the same result.
#[test]
fn corrupted_first_segment_before_any_ring() {
    let mut s = Script::new();
    let c = s.accept_connection();
    let mut p = s.packet(&seg(ACK | PSH).seq(1).ack(1).data(&[0xaa; 1460]));
    p[60] ^= 1;
    s.expect_dropped_bad_checksum(c, &p);
    let mut ms = 1000;
    deliver(&mut s, c, 1, &[0x55; 1460], &mut ms);
}
