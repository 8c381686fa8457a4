//! The stack answers pings (RFC 792 echo, RFC 4443 §4.1) on IPv4 and IPv6.

use std::net::IpAddr;

use synack_core::stack::StackConfig;
use synack_core::wire::icmpv4::Icmpv4Repr;
use synack_core::wire::icmpv6::Icmpv6Repr;
use synack_core::wire::{IpProtocol, IpRepr, parse_ip};
use synack_core::{Instant, Stack};

fn stack(addr: IpAddr) -> Stack {
    Stack::new(
        StackConfig {
            addrs: vec![addr],
            seed: 3,
            ..StackConfig::default()
        },
        Instant::ZERO,
    )
}

#[test]
fn icmpv4_echo_request_gets_a_reply_with_the_same_data() {
    let (us, peer): (IpAddr, IpAddr) = ([10, 0, 0, 2].into(), [10, 0, 0, 1].into());
    let mut s = stack(us);
    let request = Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data: b"synack ping",
    };
    let ip = IpRepr {
        src: peer,
        dst: us,
        protocol: IpProtocol::Icmp,
        ttl: 64,
        payload_len: request.buffer_len(),
    };
    let mut packet = vec![0; ip.header_len() + request.buffer_len()];
    let h = ip.emit(&mut packet);
    request.emit(&mut packet[h..]);
    s.receive(Instant::ZERO, &packet);

    let mut out = vec![0; 1500];
    let n = s
        .poll_transmit(Instant::ZERO, &mut out)
        .expect("an echo reply");
    let (ip, payload) = parse_ip(&out[..n]).unwrap();
    assert_eq!((ip.src, ip.dst, ip.protocol), (us, peer, IpProtocol::Icmp));
    assert_eq!(
        Icmpv4Repr::parse(payload).unwrap(),
        Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: b"synack ping"
        }
    );
    assert_eq!(s.counters().icmp_echo_replies, 1);
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut out), None);
}

#[test]
fn icmpv6_echo_request_gets_a_reply_with_the_same_data() {
    let us: std::net::Ipv6Addr = "fd00::2".parse().unwrap();
    let peer: std::net::Ipv6Addr = "fd00::1".parse().unwrap();
    let mut s = stack(us.into());
    let request = Icmpv6Repr::EchoRequest {
        ident: 9,
        seq_no: 1,
        data: &[0xab; 56],
    };
    let ip = IpRepr {
        src: peer.into(),
        dst: us.into(),
        protocol: IpProtocol::Icmpv6,
        ttl: 64,
        payload_len: request.buffer_len(),
    };
    let mut packet = vec![0; ip.header_len() + request.buffer_len()];
    let h = ip.emit(&mut packet);
    request.emit(peer, us, &mut packet[h..]);
    s.receive(Instant::ZERO, &packet);

    let mut out = vec![0; 1500];
    let n = s
        .poll_transmit(Instant::ZERO, &mut out)
        .expect("an echo reply");
    let (ip, payload) = parse_ip(&out[..n]).unwrap();
    assert_eq!(ip.dst, IpAddr::from(peer));
    assert_eq!(
        Icmpv6Repr::parse(us, peer, payload).unwrap(),
        Icmpv6Repr::EchoReply {
            ident: 9,
            seq_no: 1,
            data: &[0xab; 56]
        }
    );
    assert_eq!(s.counters().icmp_echo_replies, 1);
}

#[test]
fn echo_request_to_another_address_is_dropped_and_counted() {
    let mut s = stack([10, 0, 0, 2].into());
    let request = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"x",
    };
    let ip = IpRepr {
        src: [10, 0, 0, 1].into(),
        dst: [10, 0, 0, 3].into(),
        protocol: IpProtocol::Icmp,
        ttl: 64,
        payload_len: request.buffer_len(),
    };
    let mut packet = vec![0; ip.header_len() + request.buffer_len()];
    let h = ip.emit(&mut packet);
    request.emit(&mut packet[h..]);
    s.receive(Instant::ZERO, &packet);
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut [0; 1500]), None);
    assert_eq!(s.counters().dropped_not_ours, 1);
}
