//! Flow control and buffers: a receive window that does not move while a hole is open (so a
//! sender without SACK can count duplicate ACKs, RFC 5681 §2), and NewReno reaching fast
//! recovery over a lossy simulated link.

mod support;

use std::time::Duration;

use support::script::*;
use synack_core::StackConfig;
use synack_core::impair::LinkConditions;
use synack_core::sim::{Network, bulk};
use synack_core::stack::SocketHandle;
use synack_core::tcp::CongestionAlgorithm;

/// An accepted connection with an 8 KiB receive buffer, so reading visibly opens the window.
fn small_buffer() -> (Script, SocketHandle) {
    let mut s = Script::with_config(|c| {
        c.tcp.recv_buffer = 8192;
        c.tcp.min_rto = Duration::from_secs(1);
    });
    let c = s.accept_connection();
    (s, c)
}

fn read_some(s: &mut Script, c: SocketHandle, n: usize) {
    let mut buf = vec![0u8; n];
    assert_eq!(s.stack.recv(s.now, c, &mut buf), Ok(n));
}

/// RFC 5681 §2 (a duplicate ACK carries an unchanged window) with RFC 9293 §3.8.6.2.2: while
/// a hole is open, reading does not move the advertised window, so every ACK reporting the
/// hole is an exact duplicate; the ACK that fills the hole opens the window.
#[test]
fn window_stays_put_while_a_hole_is_open() {
    let (mut s, c) = small_buffer();
    s.inject(seg(ACK).seq(1).ack(1).len(1000));
    s.inject(seg(ACK).seq(1001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(2001).win(6192));
    // A hole at 2001: each segment past it is answered at once, window unchanged.
    s.inject(seg(ACK).seq(3001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(2001).win(6192));
    // The application reads everything in order; no window update goes out (it would be a
    // false duplicate), and the next duplicate still carries the same window.
    read_some(&mut s, c, 2000);
    s.expect_nothing();
    s.inject(seg(ACK).seq(4001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(2001).win(6192));
    s.inject(seg(ACK).seq(5001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(2001).win(6192));
    // The hole fills: the cumulative ACK opens the window to what the buffer has room for.
    s.inject(seg(ACK).seq(2001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(6001).win(8192 - 4000));
}

/// RFC 9293 §3.8.6.2.2, RFC 7323 §2.4: out-of-order data held in the buffer takes no room
/// from the window; the right edge never moves left.
#[test]
fn out_of_order_data_does_not_shrink_the_window() {
    let (mut s, _c) = small_buffer();
    s.inject(seg(ACK).seq(1001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(1).win(8192));
    s.inject(seg(ACK).seq(2001).ack(1).len(1000));
    s.expect(seg(ACK).seq(1).ack(1).win(8192));
}

/// RFC 5681 §2: an ACK whose window differs is a window update, not a duplicate: two of them
/// among three ACKs of SND.UNA do not trigger fast retransmit; three more identical ones do.
#[test]
fn window_updates_are_not_duplicate_acks() {
    let mut s = Script::with_config(|c| c.tcp.min_rto = Duration::from_secs(1));
    let c = s.accept_connection();
    s.stack.send(s.now, c, &[1u8; 4 * 1460]).unwrap();
    for i in 0..4 {
        let flags = if i == 3 { ACK | PSH } else { ACK };
        s.expect(seg(flags).seq(1 + i * 1460).ack(1).len(1460));
    }
    s.at(10);
    s.inject(seg(ACK).seq(1).ack(1).win(60000));
    s.inject(seg(ACK).seq(1).ack(1).win(61000));
    s.inject(seg(ACK).seq(1).ack(1).win(62000));
    s.expect_nothing();
    s.inject(seg(ACK).seq(1).ack(1).win(62000));
    s.inject(seg(ACK).seq(1).ack(1).win(62000));
    s.expect_nothing();
    s.inject(seg(ACK).seq(1).ack(1).win(62000));
    s.expect(seg(ACK).seq(1).ack(1).len(1460));
}

/// A NewReno sender without SACK over a lossy link recovers most losses by fast retransmit
/// (RFC 5681 §3.2, RFC 6582), not only by timeouts.
#[test]
fn newreno_without_sack_enters_fast_recovery() {
    let rate_bps = 20_000_000;
    let link = LinkConditions {
        delay: Duration::from_millis(10),
        rate_bps,
        queue_limit: 40,
        loss: 0.01,
        ..LinkConditions::default()
    };
    let config = |ip: [u8; 4], seed| {
        let mut c = StackConfig {
            addrs: vec![ip.into()],
            seed,
            record_events: false,
            ..StackConfig::default()
        };
        c.tcp.sack = false;
        c.tcp.congestion = CongestionAlgorithm::NewReno;
        c
    };
    let r = transfer(config, link, 2_000_000, Duration::from_secs(600));
    let info = r.sender.expect("sender info");
    assert!(!info.sack);
    assert!(r.links[0].lost > 0, "the link lost nothing: {:?}", r.links);
    assert!(
        info.fast_recoveries > 0 && info.fast_recoveries >= info.rto_expirations,
        "fast recoveries {} vs RTOs {}",
        info.fast_recoveries,
        info.rto_expirations
    );
}

/// RFC 7323 §2.2: the window scale is fixed by the SYN, so it is chosen for the largest the
/// receive buffer may grow to, not for its first size.
#[test]
fn window_scale_is_chosen_for_the_largest_buffer() {
    for (max, shift) in [(6 << 20, 7), (256 << 10, 3), (0, 3)] {
        let mut s = Script::with_config(|c| {
            c.tcp.window_scale = true;
            c.tcp.recv_buffer = 256 << 10;
            c.tcp.recv_buffer_max = max;
        });
        s.connect();
        let syn = s.next_out().expect("a SYN");
        assert_eq!(syn.options.window_scale, Some(shift), "max {max}");
    }
}

/// Receive-buffer auto-tuning: when the application reads a full window in a round trip,
/// the buffer grows and the window offered doubles; without headroom it stays put.
#[test]
fn receive_window_grows_with_what_the_application_reads() {
    for (max, grows) in [(32768, true), (4096, false)] {
        let mut s = Script::with_config(|c| {
            c.tcp.recv_buffer = 4096;
            c.tcp.recv_buffer_max = max;
        });
        let l = s.listen();
        s.inject(seg(SYN).seq(0).mss(1024));
        s.expect(seg(SYN | ACK).seq(0).ack(1).win(4096));
        s.at(100);
        s.inject(seg(ACK).seq(1).ack(1));
        let c = s.stack.accept(l).unwrap();
        // Two rounds of a full window, each read at once (the handshake measured 100 ms).
        let mut next = 1;
        let mut last_win = 0;
        for round in 0..2u64 {
            s.at(100 + round * 100);
            for _ in 0..4 {
                s.inject(seg(ACK).seq(next).ack(1).len(1024));
                next += 1024;
                read_some(&mut s, c, 1024);
            }
            while let Some(out) = s.next_out() {
                last_win = out.win;
            }
        }
        let info = s.stack.info(c).unwrap();
        if grows {
            // Twice the 5 KiB read in the round that ended at 200 ms.
            assert_eq!(info.recv_buffer, 10240);
            assert_eq!(last_win, 10240);
        } else {
            assert_eq!(info.recv_buffer, 4096);
            assert_eq!(last_win, 4096);
        }
    }
}

/// Send-buffer auto-tuning and the window scale over a fast, long path: both buffers grow
/// past their first 256 KiB while a bulk transfer keeps the link busy, and no more than
/// their maximum.
#[test]
fn buffers_grow_on_a_long_fat_path() {
    let link = LinkConditions {
        delay: Duration::from_millis(20),
        rate_bps: 200_000_000,
        queue_limit: 700,
        ..LinkConditions::default()
    };
    let config = |ip: [u8; 4], seed| StackConfig {
        addrs: vec![ip.into()],
        seed,
        record_events: false,
        ..StackConfig::default()
    };
    let r = transfer(config, link, 8_000_000, Duration::from_secs(60));
    let info = r.sender.expect("sender info");
    assert_eq!(info.window_scale, Some((7, 7)));
    assert!(
        info.send_buffer > 256 << 10 && info.send_buffer <= 4 << 20,
        "send buffer {}",
        info.send_buffer
    );
    // The window the receiver offered exceeded its first buffer: the flight did.
    assert!(info.cwnd > 256 << 10, "cwnd {}", info.cwnd);
}

/// A verified one-way transfer of `bytes` between two stacks made by `config`, over `link`
/// each way.
fn transfer(
    config: impl Fn([u8; 4], u64) -> StackConfig,
    link: LinkConditions,
    bytes: u64,
    limit: Duration,
) -> synack_core::sim::BulkReport {
    let (c, s) = (config([10, 0, 0, 1], 1), config([10, 0, 0, 2], 2));
    let mut net = Network::new(c, s, link, link, 5);
    let server = "10.0.0.2:5001".parse().unwrap();
    bulk(&mut net, server, bytes, limit).expect("the transfer completes")
}
