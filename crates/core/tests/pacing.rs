//! Pacing on a simulated link: data segments leave one at a time on the pacing timer, not in
//! line-rate bursts, and the timer is part of the deadline the stack reports.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use synack_core::impair::LinkConditions;
use synack_core::sim::{Network, bulk};
use synack_core::{Instant, StackConfig};

/// 100 Mbit/s, 20 ms RTT, a queue of one bandwidth-delay product (166 packets).
fn link() -> LinkConditions {
    LinkConditions {
        delay: Duration::from_millis(10),
        rate_bps: 100_000_000,
        queue_limit: 166,
        ..LinkConditions::default()
    }
}

fn network(pacing: bool) -> Network {
    let config = |ip: [u8; 4], seed| {
        let mut c = StackConfig {
            addrs: vec![ip.into()],
            seed,
            ..StackConfig::default()
        };
        c.tcp.pacing = pacing;
        c
    };
    Network::new(
        config([10, 0, 0, 1], 1),
        config([10, 0, 0, 2], 2),
        link(),
        link(),
        5,
    )
}

/// TCP payload length of an IPv4 packet (0 for anything malformed).
fn payload_len(packet: &[u8]) -> usize {
    let Some(&b0) = packet.first() else {
        return 0;
    };
    let ihl = usize::from(b0 & 0xf) * 4;
    let (Some(total), Some(&off)) = (packet.get(2..4), packet.get(ihl + 12)) else {
        return 0;
    };
    let total = usize::from(u16::from_be_bytes([total[0], total[1]]));
    total.saturating_sub(ihl + usize::from(off >> 4) * 4)
}

/// Sends `bytes` client to server; returns the longest run of the client's data segments
/// sent at one virtual instant after the first `skip` of virtual time, and the data
/// segments sent in all.
fn longest_burst(pacing: bool, bytes: u64, skip: Duration) -> (usize, usize) {
    let mut net = network(pacing);
    // (time of the current run, its length, the longest, segments in all)
    let runs = Rc::new(RefCell::new((Instant::ZERO, 0usize, 0usize, 0usize)));
    let seen = runs.clone();
    let from = Instant::ZERO + skip;
    net.set_tap(move |now, to_server, packet| {
        if !to_server || payload_len(packet) == 0 {
            return;
        }
        let mut r = seen.borrow_mut();
        r.3 += 1;
        if now < from {
            return;
        }
        if now == r.0 {
            r.1 += 1;
        } else {
            *r = (now, 1, r.2, r.3);
        }
        r.2 = r.2.max(r.1);
    });
    let report = bulk(
        &mut net,
        "10.0.0.2:5001".parse().unwrap(),
        bytes,
        Duration::from_secs(60),
    )
    .expect("transfer");
    assert_eq!(report.bytes, bytes);
    let r = runs.borrow();
    (r.2, r.3)
}

#[test]
fn a_paced_sender_sends_one_data_segment_per_instant() {
    // Past the handshake (one RTT) the RTT is known and every data segment is paced.
    let (burst, segments) = longest_burst(true, 3_000_000, Duration::from_millis(25));
    assert!(segments > 2000, "{segments} data segments");
    assert!(burst <= 1, "{burst} data segments left at one instant");
}

#[test]
fn an_unpaced_sender_bursts() {
    // The same transfer without pacing: the ACK clock releases segments in groups, and the
    // window's growth in slow start in bigger ones. The check above can fail.
    let (burst, _) = longest_burst(false, 3_000_000, Duration::from_millis(25));
    assert!(burst >= 3, "longest burst {burst}");
}

#[test]
fn the_pacing_timer_is_the_next_deadline_while_it_holds_data() {
    let mut net = network(true);
    let server: std::net::SocketAddr = "10.0.0.2:5001".parse().unwrap();
    let listener = net.server.listen(server, 4).unwrap();
    let client = net.client.connect(net.now(), server, None).unwrap();
    let mut accepted = None;
    let mut buf = vec![0u8; 65_536];
    // Sends `bytes` more and runs until `expect` bytes have arrived.
    let mut transfer = |net: &mut Network, bytes: usize, expect: usize| {
        let data = vec![7u8; bytes];
        let (mut sent, mut got) = (0, 0);
        assert!(net.run_until(Duration::from_secs(5), |n| {
            if accepted.is_none() {
                accepted = n.server.accept(listener).ok();
            }
            if sent < bytes {
                sent += n.client.send(n.now(), client, &data[sent..]).unwrap_or(0);
            }
            if let Some(s) = accepted {
                while let Ok(k) = n.server.recv(n.now(), s, &mut buf) {
                    if k == 0 {
                        break;
                    }
                    got += k;
                }
            }
            got == expect
        }));
    };
    // Pacing starts once the window is past the initial one.
    transfer(&mut net, 200_000, 200_000);
    let info = net.client.info(client).unwrap();
    assert!(info.cwnd > 14_600, "cwnd {}", info.cwnd);
    let srtt = info.srtt.unwrap();
    // Everything is acknowledged: the window allows a burst the pacer spreads out.
    let now = net.now();
    let sent = net.client.send(now, client, &[7u8; 60_000]).unwrap();
    assert_eq!(sent, 60_000);
    let segments_before = info.bytes_sent;
    net.flush();
    let after = net.client.info(client).unwrap();
    // One segment left now; the next waits for the pacing timer, which is the deadline
    // the stack reports (the retransmission timer is at least 200 ms away).
    assert_eq!(after.bytes_sent - segments_before, 1448);
    let next = net.client.poll_timeout().expect("a deadline");
    assert!(next > now, "{next:?} <= {now:?}");
    assert!(
        next - now < srtt / 4,
        "next deadline {:?} after now",
        next - now
    );
    // And the held data arrives.
    transfer(&mut net, 0, 60_000);
}
