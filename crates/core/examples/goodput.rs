//! Goodput of one bulk transfer over a simulated link (virtual time: exact and repeatable).
//!
//! `cargo run --release -p synack-core --example goodput -- [MB] [Mbit/s] [RTT ms] [loss %]
//! [sack 0|1] [cubic|newreno] [reorder %] [queue packets] [pacing 0|1] [seed]`
//!
//! The reorder percentage (default 0) holds that share of packets back until up to three
//! later ones overtake them, in both directions. The bottleneck queue defaults to one
//! bandwidth-delay product of 1500-byte packets (at least 10); pacing follows `TcpConfig`'s
//! default unless given; the links' random choices come from the seed (default 9).

use std::time::Duration;

use synack_core::StackConfig;
use synack_core::impair::LinkConditions;
use synack_core::sim::{Network, bulk};
use synack_core::tcp::{CongestionAlgorithm, TcpConfig};

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let algorithm = match raw.get(5).map(String::as_str) {
        None | Some("cubic") => CongestionAlgorithm::Cubic,
        Some("newreno") => CongestionAlgorithm::NewReno,
        Some(other) => panic!("unknown congestion control {other:?}: cubic or newreno"),
    };
    let reorder: f64 = raw
        .get(6)
        .map_or(0.0, |a| a.parse().expect("reorder: a percentage"));
    let pacing = raw.get(8).map_or(TcpConfig::default().pacing, |a| a != "0");
    let seed: u64 = raw.get(9).map_or(9, |a| a.parse().expect("seed: a number"));
    let queue: Option<usize> = raw
        .get(7)
        .map(|a| a.parse().expect("queue: a number of packets"));
    let args: Vec<f64> = raw
        .iter()
        .take(5)
        .map(|a| a.parse().expect("numbers only"))
        .collect();
    let arg = |i: usize, default: f64| args.get(i).copied().unwrap_or(default);
    let (mb, mbit, rtt_ms, loss, sack) = (
        arg(0, 50.0),
        arg(1, 100.0),
        arg(2, 20.0),
        arg(3, 0.0),
        arg(4, 1.0),
    );
    let rate_bps = (mbit * 1e6) as u64;
    let bdp_packets = (rate_bps as f64 * rtt_ms / 1e3 / 8.0 / 1500.0) as usize;
    let link = LinkConditions {
        delay: Duration::from_secs_f64(rtt_ms / 2e3),
        rate_bps,
        queue_limit: queue.unwrap_or(bdp_packets.max(10)),
        loss: loss / 100.0,
        reorder: reorder / 100.0,
        reorder_depth: 3,
        ..LinkConditions::default()
    };
    let config = |ip: [u8; 4], seed| {
        let mut c = StackConfig {
            addrs: vec![ip.into()],
            seed,
            ..StackConfig::default()
        };
        c.tcp.sack = sack != 0.0;
        c.tcp.congestion = algorithm;
        c.tcp.pacing = pacing;
        c
    };
    let queue_limit = link.queue_limit;
    let mut net = Network::new(
        config([10, 0, 0, 1], 1),
        config([10, 0, 0, 2], 2),
        link,
        link,
        seed,
    );
    let started = std::time::Instant::now();
    let r = bulk(
        &mut net,
        "10.0.0.2:5001".parse().unwrap(),
        (mb * 1e6) as u64,
        Duration::from_secs(3600),
    )
    .expect("transfer");
    let wall = started.elapsed();
    let s = r.sender.unwrap();
    println!(
        "{mb} MB over {mbit} Mbit/s, RTT {rtt_ms} ms, queue {queue_limit}, loss {loss}%, reorder {reorder}%, sack {}, pacing {pacing}, {algorithm:?}: {:.2} Mbit/s = {:.1}% of the link in {:.3} s virtual ({:.2} s wall); retransmitted {} segments, srtt {:?}",
        sack != 0.0,
        r.goodput_bps / 1e6,
        100.0 * r.goodput_bps / rate_bps as f64,
        r.elapsed.as_secs_f64(),
        wall.as_secs_f64(),
        s.retransmitted_segments,
        s.srtt,
    );
    println!(
        "bytes_sent {}, retransmitted_bytes {} ({:.3}% of sent), spurious_retransmissions {}, fast_recoveries {}, rto_expirations {}, tlp_probes {}, undone_recoveries {}",
        s.bytes_sent,
        s.retransmitted_bytes,
        100.0 * s.retransmitted_bytes as f64 / (s.bytes_sent.max(1)) as f64,
        s.spurious_retransmissions,
        s.fast_recoveries,
        s.rto_expirations,
        s.tlp_probes,
        s.undone_recoveries,
    );
    let [to_server, to_client] = &r.links;
    println!(
        "links: to server {} lost, {} queue drops, {} reordered; to client {} lost, {} reordered",
        to_server.lost,
        to_server.queue_drops,
        to_server.reordered,
        to_client.lost,
        to_client.reordered,
    );
}
