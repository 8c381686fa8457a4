//! Connection establishment: passive, active and simultaneous open, option negotiation, SYN
//! retransmission and initial sequence numbers (RFC 9293 §3.5, §3.7.1, §3.4.1).

mod support;

use support::script::*;
use synack_core::tcp::State;

/// RFC 9293 §3.5: a retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost; it is
/// sent again at once, and the handshake still completes.
#[test]
fn retransmitted_syn_in_syn_received_resends_syn_ack() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.at(300);
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    s.expect_nothing();
    s.inject(seg(ACK).seq(1).ack(1));
    s.expect_nothing();
    assert!(s.stack.accept(l).is_ok());
}

/// RFC 9293 §3.5 (Figure 6): passive open, LISTEN → SYN-RECEIVED on SYN (SYN-ACK sent with
/// our MSS, MUST-14) → ESTABLISHED on the ACK of our SYN.
#[test]
fn passive_open_listen_syn_received_established() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    assert_eq!(s.entered(), vec![State::SynReceived]);
    assert_eq!(
        s.stack.accept(l),
        Err(synack_core::stack::SocketError::WouldBlock)
    );
    s.inject(seg(ACK).seq(1).ack(1));
    s.expect_nothing();
    assert_eq!(s.entered(), vec![State::Established]);
    let c = s.stack.accept(l).expect("established connection queued");
    assert_eq!(s.stack.state(c), Some(State::Established));
}

/// RFC 9293 §3.5 (Figure 6): active open, CLOSED → SYN-SENT → ESTABLISHED on a SYN-ACK that
/// acknowledges our SYN; we answer with an ACK.
#[test]
fn active_open_syn_sent_established() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0).mss(1460));
    assert_eq!(s.stack.state(c), Some(State::SynSent));
    s.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(s.stack.state(c), Some(State::Established));
    assert_eq!(s.entered(), vec![State::SynSent, State::Established]);
}

/// RFC 9293 §3.5 (Figure 8), MUST-10: simultaneous open, SYN-SENT → SYN-RECEIVED on a bare
/// SYN (we answer SYN-ACK from our ISS) → ESTABLISHED on the ACK of our SYN.
#[test]
fn simultaneous_open_syn_sent_syn_received_established() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    assert_eq!(s.stack.state(c), Some(State::SynReceived));
    s.inject(seg(ACK).seq(1).ack(1));
    assert_eq!(s.stack.state(c), Some(State::Established));
    s.expect_nothing();
    assert_eq!(
        s.entered(),
        vec![State::SynSent, State::SynReceived, State::Established]
    );
    // Synchronized: data flows both ways.
    assert_eq!(s.stack.send(s.now, c, b"hi"), Ok(2));
    s.expect(seg(ACK | PSH).seq(1).ack(1).data(b"hi"));
}

/// RFC 9293 §3.7.1, MUST-15: a peer that sends no MSS option gets the IPv4 default of 536
/// bytes per segment, never more.
#[test]
fn peer_without_mss_gets_default_536() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0));
    s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    s.inject(seg(ACK).seq(1).ack(1));
    let c = s.stack.accept(l).unwrap();
    assert_eq!(s.stack.info(c).unwrap().send_mss, 536);
    let data = vec![7u8; 2000];
    assert_eq!(s.stack.send(s.now, c, &data), Ok(2000));
    s.expect(seg(ACK).seq(1).ack(1).len(536));
    s.expect(seg(ACK).seq(537).ack(1).len(536));
    s.expect(seg(ACK).seq(1073).ack(1).len(536));
    // The 392-byte tail waits for an ACK (Nagle), and is then sent whole.
    s.expect_nothing();
    s.inject(seg(ACK).seq(1).ack(1609));
    s.expect(seg(ACK | PSH).seq(1609).ack(1).len(392));
}

/// RFC 9293 §3.7.1, MUST-14/MUST-16: with the peer's MSS of 1000, no segment carries more than
/// 1000 bytes of data.
#[test]
fn peer_mss_limits_segment_size() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1000));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.inject(seg(ACK).seq(1).ack(1));
    let c = s.stack.accept(l).unwrap();
    assert_eq!(s.stack.send(s.now, c, &[1u8; 2500]), Ok(2500));
    s.expect(seg(ACK).seq(1).ack(1).len(1000));
    s.expect(seg(ACK).seq(1001).ack(1).len(1000));
}

/// RFC 9293 §3.2, MUST-65: the MSS option appears on SYNs only, never on data or ACKs.
#[test]
fn mss_option_only_on_syn() {
    let mut s = Script::new();
    let c = s.connect();
    let syn = s.expect(seg(SYN).seq(0));
    assert_eq!(syn.options.mss, Some(1460));
    s.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    let ack = s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(ack.options.mss, None);
    s.stack.send(s.now, c, b"data").unwrap();
    let data = s.expect(seg(ACK | PSH).seq(1).ack(1).data(b"data"));
    assert_eq!(data.options.mss, None);
}

/// RFC 7323 §2.2/§3.2, RFC 2018 §2: window scaling, SACK-permitted and timestamps are used
/// only when both sides offer them; a SYN with MSS alone gets a SYN-ACK with MSS alone.
#[test]
fn options_not_used_when_peer_does_not_offer() {
    let mut s = Script::with_config(|c| {
        c.tcp.window_scale = true;
        c.tcp.sack = true;
        c.tcp.timestamps = true;
    });
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460));
    let synack = s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    assert_eq!(synack.options.window_scale, None);
    assert!(!synack.options.sack_permitted);
    assert_eq!(synack.options.timestamps, None);
    s.inject(seg(ACK).seq(1).ack(1));
    let c = s.stack.accept(l).unwrap();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.window_scale, None);
    assert!(!info.sack);
    assert!(!info.timestamps);
}

/// RFC 7323 §2.2/§3.2, RFC 2018 §2: when both sides offer window scaling, SACK-permitted and
/// timestamps, the SYN-ACK echoes all three and the connection uses them.
#[test]
fn options_negotiated_when_both_offer() {
    let mut s = Script::with_config(|c| {
        c.tcp.window_scale = true;
        c.tcp.sack = true;
        c.tcp.timestamps = true;
    });
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460).ws(7).sack_ok().ts(1000, 0));
    let synack = s.expect(seg(SYN | ACK).seq(0).ack(1));
    assert!(synack.options.window_scale.is_some());
    assert!(synack.options.sack_permitted);
    let (_, tsecr) = synack.options.timestamps.expect("timestamps echoed");
    assert_eq!(tsecr, 1000);
    s.inject(
        seg(ACK)
            .seq(1)
            .ack(1)
            .ts(1001, synack.options.timestamps.unwrap().0),
    );
    let c = s.stack.accept(l).unwrap();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.window_scale.map(|(_, peer)| peer), Some(7));
    assert!(info.sack);
    assert!(info.timestamps);
}

/// RFC 7323 §1.3, RFC 2018 §2: a peer offering everything gets nothing back from a stack
/// configured to offer nothing.
#[test]
fn options_not_used_when_we_do_not_offer() {
    let mut s = Script::new();
    let l = s.listen();
    s.inject(seg(SYN).seq(0).mss(1460).ws(7).sack_ok().ts(1000, 0));
    let synack = s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    assert_eq!(synack.options.window_scale, None);
    assert!(!synack.options.sack_permitted);
    assert_eq!(synack.options.timestamps, None);
    s.inject(seg(ACK).seq(1).ack(1));
    let c = s.stack.accept(l).unwrap();
    let info = s.stack.info(c).unwrap();
    assert_eq!(info.window_scale, None);
    assert!(!info.sack && !info.timestamps);
}

/// RFC 6298 §2.1 and §5.5, MUST-19: an unanswered SYN is retransmitted after the initial RTO
/// of 1 s, then after 2 s (backed off).
#[test]
fn syn_retransmitted_with_backoff() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.at(999);
    s.expect_nothing();
    s.at(1000);
    s.expect(seg(SYN).seq(0).mss(1460));
    s.at(2999);
    s.expect_nothing();
    s.at(3000);
    s.expect(seg(SYN).seq(0).mss(1460));
    s.at(6999);
    s.expect_nothing();
    s.at(7000);
    s.expect(seg(SYN).seq(0));
    assert_eq!(s.stack.state(c), Some(State::SynSent));
    assert_eq!(s.stack.counters().retransmitted_segments, 3);
}

/// RFC 6298 §3 (Karn), MUST-18: a SYN-ACK answering a retransmitted SYN gives no RTT sample.
#[test]
fn karn_no_rtt_sample_from_retransmitted_syn() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.at(1000);
    s.expect(seg(SYN).seq(0));
    s.at(1050);
    s.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(s.stack.info(c).unwrap().srtt, None);
}

/// RFC 6298 §2.2: a SYN answered without retransmission gives the first RTT sample.
#[test]
fn rtt_sampled_from_unretransmitted_syn() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.at(50);
    s.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    s.expect(seg(ACK).seq(1).ack(1));
    assert_eq!(
        s.stack.info(c).unwrap().srtt,
        Some(std::time::Duration::from_millis(50))
    );
}

fn iss_for(seed: u64, at_ms: u64, local_port: u16) -> u32 {
    let mut s = Script::with_config(|c| c.seed = seed);
    s.at(at_ms);
    let local = std::net::SocketAddr::new(s.local.ip(), local_port);
    s.stack.connect(s.now, s.peer, Some(local)).unwrap();
    s.next_out().expect("a SYN");
    s.iss.unwrap()
}

/// RFC 9293 §3.4.1, RFC 6528, MUST-9: the ISN is a keyed function of the 4-tuple: different
/// ports or a different secret (seed) give unrelated ISNs.
#[test]
fn isn_differs_per_tuple_and_seed() {
    let a = iss_for(7, 0, 50000);
    assert_eq!(a, iss_for(7, 0, 50000), "same seed and tuple: same ISN");
    assert_ne!(a, iss_for(7, 0, 50001), "another port: another ISN");
    assert_ne!(a, iss_for(8, 0, 50000), "another seed: another ISN");
}

/// RFC 9293 §3.4.1, MUST-8: the ISN advances with a 4 µs clock for the same 4-tuple.
#[test]
fn isn_is_clock_driven() {
    let a = iss_for(7, 0, 50000);
    let b = iss_for(7, 1000, 50000);
    assert_eq!(b.wrapping_sub(a), 250_000);
}

/// RFC 9293 §3.5 (Figure 8, line 7), §3.10.7.4 first ("only the new parts are processed"):
/// in a simultaneous open, the peer's SYN-ACK repeats its SYN (old) and acknowledges ours
/// (new): the SYN is trimmed away, the ACK moves SYN-RECEIVED to ESTABLISHED.
#[test]
fn simultaneous_open_peer_syn_ack_establishes() {
    let mut s = Script::new();
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect(seg(SYN | ACK).seq(0).ack(1));
    s.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
    assert_eq!(s.stack.state(c), Some(State::Established));
    s.expect_nothing();
}

/// RFC 9293 §3.9.1.1, MUST-46: an active OPEN to a broadcast, multicast or unspecified
/// address is refused.
#[test]
fn open_to_broadcast_or_multicast_rejected() {
    let mut s = Script::new();
    for remote in ["255.255.255.255:80", "224.0.0.1:80", "0.0.0.0:80"] {
        let remote: std::net::SocketAddr = remote.parse().unwrap();
        assert_eq!(
            s.stack.connect(s.now, remote, None),
            Err(synack_core::stack::SocketError::InvalidAddress),
            "{remote}"
        );
    }
    s.expect_nothing();
}

/// RFC 9293 §3.9.2.2, MUST-57: a segment addressed to an address not ours (here the subnet
/// broadcast) is discarded silently, with no RST.
#[test]
fn segment_to_broadcast_discarded_silently() {
    let mut s = Script::new();
    s.listen();
    s.local = "10.0.0.255:80".parse().unwrap();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect_nothing();
    assert_eq!(s.stack.counters().dropped_not_ours, 1);
}

/// RFC 9293 §3.9.2.2, MUST-63: a SYN from a multicast source is rejected without reply.
#[test]
fn syn_from_multicast_source_rejected() {
    let mut s = Script::new();
    s.listen();
    s.peer = "224.0.0.9:40000".parse().unwrap();
    s.inject(seg(SYN).seq(0).mss(1460));
    s.expect_nothing();
    assert_eq!(s.stack.connection_count(), 0);
}

/// RFC 9293 §3.9.1.1, MUST-42: listeners on one port but different local addresses
/// coexist, each answering for its own address; a duplicate LISTEN is refused.
#[test]
fn several_listens_on_one_port() {
    let mut s = Script::with_config(|c| c.addrs.push([10, 0, 0, 3].into()));
    s.listen();
    let other: std::net::SocketAddr = "10.0.0.3:80".parse().unwrap();
    assert!(s.stack.listen(other, 8).is_ok());
    assert_eq!(
        s.stack.listen(other, 8).err(),
        Some(synack_core::stack::SocketError::AddrInUse)
    );
    s.inject(seg(SYN).seq(0).mss(1460));
    let a = s.expect(seg(SYN | ACK).seq(0).ack(1));
    assert_eq!(a.src, "10.0.0.2:80".parse().unwrap());
    s.local = other;
    s.inject(seg(SYN).seq(0).mss(1460));
    let b = s.expect(seg(SYN | ACK).seq(0).ack(1));
    assert_eq!(b.src, other);
}

/// RFC 9293 §3.9.1.2, MUST-49: the TTL of our packets is configurable.
#[test]
fn ttl_is_configurable() {
    let mut s = Script::with_config(|c| c.ttl = 33);
    s.connect();
    let mut buf = vec![0u8; 1500];
    let n = s.stack.poll_transmit(s.now, &mut buf).expect("a SYN");
    let (ip, _) = synack_core::wire::parse_ip(&buf[..n]).unwrap();
    assert_eq!(ip.ttl, 33);
}

/// RFC 9293 §3.8.3, MUST-20/MUST-22/MUST-23: an unanswered SYN gives up after the SYN R2
/// (`syn_timeout`, default at least 3 minutes) and the application learns TimedOut.
#[test]
fn syn_gives_up_after_r2() {
    assert!(
        synack_core::tcp::TcpConfig::default().syn_timeout >= std::time::Duration::from_secs(180)
    );
    let mut s = Script::with_config(|c| c.tcp.syn_timeout = std::time::Duration::from_secs(10));
    let c = s.connect();
    s.expect(seg(SYN).seq(0));
    for ms in [1000, 3000, 7000] {
        s.at(ms);
        s.expect(seg(SYN).seq(0));
    }
    assert_eq!(s.stack.state(c), Some(State::SynSent));
    s.at(15_000);
    assert_eq!(s.stack.state(c), Some(State::Closed));
    assert_eq!(
        s.stack.send(s.now, c, b"x"),
        Err(synack_core::stack::SocketError::TimedOut)
    );
}

/// RFC 9293 §3.7.1, MUST-15: over IPv6 a peer without an MSS option gets the default of
/// 1220 bytes per segment.
#[test]
fn ipv6_peer_without_mss_gets_default_1220() {
    let mut s = Script::with_config(|c| c.addrs = vec!["fd00::2".parse().unwrap()]);
    let l = s.listen();
    s.inject(seg(SYN).seq(0));
    s.expect(seg(SYN | ACK).seq(0).ack(1).mss(1440));
    s.inject(seg(ACK).seq(1).ack(1));
    let c = s.stack.accept(l).unwrap();
    assert_eq!(s.stack.info(c).unwrap().send_mss, 1220);
    s.stack.send(s.now, c, &[1u8; 3000]).unwrap();
    s.expect(seg(ACK).seq(1).ack(1).len(1220));
    s.expect(seg(ACK).seq(1221).ack(1).len(1220));
}
