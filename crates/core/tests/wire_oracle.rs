//! Cross-checks the wire layer against etherparse: packets it builds must parse to the same
//! fields with us (checksums verified), and packets we emit must parse with it, checksums valid.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    IcmpEchoHeader, Icmpv4Type, Icmpv6Type, IpHeaders, Ipv4Header, Ipv6Extensions, Ipv6Header,
    Ipv6RawExtHeader, NetSlice, PacketBuilder, SlicedPacket, TcpHeader, TcpOptionElement,
    TransportSlice, icmpv4, icmpv6, ip_number,
};
use proptest::prelude::*;
use synack_core::wire::icmpv4::Icmpv4Repr;
use synack_core::wire::icmpv6::Icmpv6Repr;
use synack_core::wire::tcp::fill_checksum;
use synack_core::wire::{IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpRepr, parse_ip};

const V4_SRC: [u8; 4] = [192, 0, 2, 1];
const V4_DST: [u8; 4] = [198, 51, 100, 2];
const V6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Writes an etherparse builder's packet with `payload`.
macro_rules! build {
    ($builder:expr, $payload:expr $(,)?) => {{
        let builder = $builder;
        let payload: &[u8] = $payload;
        let mut buf = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut buf, payload).unwrap();
        buf
    }};
}

/// Our option set as etherparse elements, in our emit order.
fn elements(o: &TcpOptions) -> Vec<TcpOptionElement> {
    let mut v = Vec::new();
    if let Some(mss) = o.mss {
        v.push(TcpOptionElement::MaximumSegmentSize(mss));
    }
    if o.sack_permitted {
        v.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
    }
    if let Some((tsval, tsecr)) = o.timestamps {
        v.push(TcpOptionElement::Timestamp(tsval, tsecr));
    }
    if let Some(shift) = o.window_scale {
        v.push(TcpOptionElement::WindowScale(shift));
    }
    if let Some((&first, rest)) = o.sack_blocks().split_first() {
        let mut more = [None; 3];
        for (slot, &block) in more.iter_mut().zip(rest) {
            *slot = Some(block);
        }
        v.push(TcpOptionElement::SelectiveAcknowledgement(first, more));
    }
    v
}

/// etherparse's reading of an options area, decoded into our type.
fn from_elements(header: &TcpHeader) -> TcpOptions {
    let mut o = TcpOptions::default();
    for e in header.options_iterator() {
        match e.expect("etherparse reads our options") {
            TcpOptionElement::Noop => {}
            TcpOptionElement::MaximumSegmentSize(mss) => o.mss = Some(mss),
            TcpOptionElement::WindowScale(s) => o.window_scale = Some(s),
            TcpOptionElement::SelectiveAcknowledgementPermitted => o.sack_permitted = true,
            TcpOptionElement::Timestamp(v, e) => o.timestamps = Some((v, e)),
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                o.sack[0] = first;
                o.sack_len = 1;
                for block in rest.into_iter().flatten() {
                    o.sack[usize::from(o.sack_len)] = block;
                    o.sack_len += 1;
                }
            }
        }
    }
    o
}

fn flags_of(h: &TcpHeader) -> TcpFlags {
    let bits = [
        (h.fin, TcpFlags::FIN),
        (h.syn, TcpFlags::SYN),
        (h.rst, TcpFlags::RST),
        (h.psh, TcpFlags::PSH),
        (h.ack, TcpFlags::ACK),
        (h.urg, TcpFlags::URG),
        (h.ece, TcpFlags::ECE),
        (h.cwr, TcpFlags::CWR),
    ];
    bits.into_iter()
        .filter(|(set, _)| *set)
        .fold(TcpFlags::NONE, |acc, (_, f)| acc | f)
}

/// An etherparse TCP header equal to `repr`, or None if its options do not fit etherparse's
/// packing.
fn ether_tcp(repr: &TcpRepr) -> Option<TcpHeader> {
    let mut h = TcpHeader::new(repr.src_port, repr.dst_port, repr.seq, repr.window);
    h.acknowledgment_number = repr.ack;
    let f = repr.flags;
    h.fin = f.contains(TcpFlags::FIN);
    h.syn = f.contains(TcpFlags::SYN);
    h.rst = f.contains(TcpFlags::RST);
    h.psh = f.contains(TcpFlags::PSH);
    h.ack = f.contains(TcpFlags::ACK);
    h.urg = f.contains(TcpFlags::URG);
    h.ece = f.contains(TcpFlags::ECE);
    h.cwr = f.contains(TcpFlags::CWR);
    h.urgent_pointer = repr.urgent;
    h.set_options(&elements(&repr.options)).ok()?;
    Some(h)
}

#[test]
fn etherparse_ipv4_syn_with_options() {
    use TcpOptionElement::*;
    let builder = PacketBuilder::ipv4(V4_SRC, V4_DST, 61)
        .tcp(40000, 443, 0x1234_5678, 64240)
        .syn()
        .options(&[
            MaximumSegmentSize(1460),
            SelectiveAcknowledgementPermitted,
            Timestamp(0xdead_beef, 0),
            Noop,
            WindowScale(7),
        ])
        .unwrap();
    let buf = build!(builder, &[]);
    let (ip, seg) = parse_ip(&buf).unwrap();
    assert_eq!(ip.src, IpAddr::from(V4_SRC));
    assert_eq!(ip.dst, IpAddr::from(V4_DST));
    assert_eq!(ip.protocol, IpProtocol::Tcp);
    assert_eq!(ip.ttl, 61);
    assert_eq!(ip.payload_len, seg.len());

    let (tcp, payload) = TcpRepr::parse(seg, ip.src, ip.dst, true).unwrap();
    assert_eq!((tcp.src_port, tcp.dst_port), (40000, 443));
    assert_eq!(tcp.seq, 0x1234_5678);
    assert_eq!(tcp.flags, TcpFlags::SYN);
    assert_eq!(tcp.window, 64240);
    assert_eq!(tcp.options.mss, Some(1460));
    assert!(tcp.options.sack_permitted);
    assert_eq!(tcp.options.timestamps, Some((0xdead_beef, 0)));
    assert_eq!(tcp.options.window_scale, Some(7));
    assert!(payload.is_empty());
}

#[test]
fn etherparse_ipv6_data_with_sack() {
    use TcpOptionElement::*;
    let builder = PacketBuilder::ipv6(V6_SRC, V6_DST, 3)
        .tcp(443, 40000, 1000, 300)
        .ack(5000)
        .psh()
        .options(&[
            Noop,
            Noop,
            Timestamp(7, 8),
            Noop,
            Noop,
            SelectiveAcknowledgement((6000, 7000), [Some((8000, 9000)), None, None]),
        ])
        .unwrap();
    let buf = build!(builder, b"hello, world!");
    let (ip, seg) = parse_ip(&buf).unwrap();
    assert_eq!(ip.src, IpAddr::from(V6_SRC));
    assert_eq!(ip.ttl, 3);
    assert_eq!(ip.protocol, IpProtocol::Tcp);
    let (tcp, payload) = TcpRepr::parse(seg, ip.src, ip.dst, true).unwrap();
    assert_eq!(tcp.ack, 5000);
    assert_eq!(tcp.flags, TcpFlags::ACK | TcpFlags::PSH);
    assert_eq!(tcp.options.timestamps, Some((7, 8)));
    assert_eq!(tcp.options.sack_blocks(), &[(6000, 7000), (8000, 9000)]);
    assert_eq!(payload, b"hello, world!");
}

#[test]
fn etherparse_ipv6_extension_chain_is_skipped() {
    let header = Ipv6Header {
        hop_limit: 64,
        source: V6_SRC,
        destination: V6_DST,
        ..Ipv6Header::default()
    };
    let exts = Ipv6Extensions {
        // PadN options filling each 8-byte header.
        hop_by_hop_options: Some(
            Ipv6RawExtHeader::new_raw(ip_number::TCP, &[1, 4, 0, 0, 0, 0]).unwrap(),
        ),
        destination_options: Some(
            Ipv6RawExtHeader::new_raw(ip_number::TCP, &[1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
                .unwrap(),
        ),
        ..Ipv6Extensions::default()
    };
    let builder = PacketBuilder::ip(IpHeaders::Ipv6(header, exts)).tcp(1, 2, 3, 4);
    let buf = build!(builder, b"xyz");
    assert_eq!(buf[6], 0, "etherparse put hop-by-hop first");
    let (ip, seg) = parse_ip(&buf).unwrap();
    assert_eq!(ip.protocol, IpProtocol::Tcp);
    assert_eq!(ip.payload_len, 20 + 3);
    let (tcp, payload) = TcpRepr::parse(seg, ip.src, ip.dst, true).unwrap();
    assert_eq!(
        (tcp.src_port, tcp.dst_port, tcp.seq, tcp.window),
        (1, 2, 3, 4)
    );
    assert_eq!(payload, b"xyz");
}

#[test]
fn etherparse_ipv4_options_are_skipped() {
    let mut header = Ipv4Header::new(0, 32, ip_number::TCP, V4_SRC, V4_DST).unwrap();
    // Router alert (RFC 2113) and a NOP/EOL tail.
    header.options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00][..]
        .try_into()
        .unwrap();
    let builder = PacketBuilder::ip(IpHeaders::Ipv4(header, Default::default())).tcp(7, 8, 9, 10);
    let buf = build!(builder, b"ab");
    assert_eq!(buf[0], 0x47);
    let (ip, seg) = parse_ip(&buf).unwrap();
    assert_eq!(ip.payload_len, 22);
    let (tcp, payload) = TcpRepr::parse(seg, ip.src, ip.dst, true).unwrap();
    assert_eq!(tcp.src_port, 7);
    assert_eq!(payload, b"ab");
}

#[test]
fn etherparse_icmpv4() {
    let buf = build!(
        PacketBuilder::ipv4(V4_SRC, V4_DST, 64).icmpv4_echo_request(0x4242, 9),
        b"ping data",
    );
    let (ip, msg) = parse_ip(&buf).unwrap();
    assert_eq!(ip.protocol, IpProtocol::Icmp);
    assert_eq!(
        Icmpv4Repr::parse(msg),
        Ok(Icmpv4Repr::EchoRequest {
            ident: 0x4242,
            seq_no: 9,
            data: b"ping data"
        })
    );

    let frag_needed =
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1400,
        });
    let quoted = [
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    ];
    let buf = build!(
        PacketBuilder::ipv4(V4_SRC, V4_DST, 64).icmpv4(frag_needed),
        &quoted,
    );
    let (_, msg) = parse_ip(&buf).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(msg),
        Ok(Icmpv4Repr::DstUnreachable {
            code: 4,
            next_hop_mtu: 1400,
            data: &quoted
        })
    );
}

#[test]
fn etherparse_icmpv6() {
    let (src, dst) = (Ipv6Addr::from(V6_SRC), Ipv6Addr::from(V6_DST));
    let buf = build!(
        PacketBuilder::ipv6(V6_SRC, V6_DST, 64).icmpv6_echo_reply(1, 2),
        b"pong",
    );
    let (ip, msg) = parse_ip(&buf).unwrap();
    assert_eq!(ip.protocol, IpProtocol::Icmpv6);
    assert_eq!(
        Icmpv6Repr::parse(src, dst, msg),
        Ok(Icmpv6Repr::EchoReply {
            ident: 1,
            seq_no: 2,
            data: b"pong"
        })
    );

    let buf = build!(
        PacketBuilder::ipv6(V6_SRC, V6_DST, 64).icmpv6(Icmpv6Type::PacketTooBig { mtu: 1280 }),
        &[0x60; 12],
    );
    let (_, msg) = parse_ip(&buf).unwrap();
    assert_eq!(
        Icmpv6Repr::parse(src, dst, msg),
        Ok(Icmpv6Repr::PacketTooBig {
            mtu: 1280,
            data: &[0x60; 12]
        })
    );

    let unreachable = Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port);
    let buf = build!(
        PacketBuilder::ipv6(V6_SRC, V6_DST, 64).icmpv6(unreachable),
        &[1, 2]
    );
    let (_, msg) = parse_ip(&buf).unwrap();
    assert_eq!(
        Icmpv6Repr::parse(src, dst, msg),
        Ok(Icmpv6Repr::DstUnreachable {
            code: 4,
            data: &[1, 2]
        })
    );
    // Our checksum check must bind the pseudo-header: another destination fails.
    assert!(Icmpv6Repr::parse(src, src, msg).is_err());
}

/// Emits IP + TCP with our code; returns the packet.
fn our_tcp_packet(repr: &TcpRepr, payload: &[u8], src: IpAddr, dst: IpAddr, ttl: u8) -> Vec<u8> {
    let ip = IpRepr {
        src,
        dst,
        protocol: IpProtocol::Tcp,
        ttl,
        payload_len: repr.header_len() + payload.len(),
    };
    let mut buf = vec![0u8; ip.buffer_len()];
    let hl = ip.emit(&mut buf);
    let th = repr.emit_header(&mut buf[hl..]);
    buf[hl + th..].copy_from_slice(payload);
    fill_checksum(&mut buf[hl..], src, dst);
    buf
}

/// Checks etherparse reads `buf` as `repr` + `payload` with valid IPv4/TCP checksums.
fn check_with_etherparse(buf: &[u8], repr: &TcpRepr, payload: &[u8], expect_options: &TcpOptions) {
    let sliced = SlicedPacket::from_ip(buf).expect("etherparse parses our packet");
    let tcp = match sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        other => panic!("not TCP: {other:?}"),
    };
    let checksum_ok = match sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header().to_header();
            assert_eq!(
                h.calc_header_checksum(),
                h.header_checksum,
                "IPv4 header checksum"
            );
            assert!(h.dont_fragment);
            tcp.calc_checksum_ipv4(h.source, h.destination).unwrap() == tcp.checksum()
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            assert_eq!((h.traffic_class(), h.flow_label().value()), (0, 0));
            tcp.calc_checksum_ipv6(h.source(), h.destination()).unwrap() == tcp.checksum()
        }
        other => panic!("not IP: {other:?}"),
    };
    assert!(checksum_ok, "TCP checksum");
    let h = tcp.to_header();
    assert_eq!(h.source_port, repr.src_port);
    assert_eq!(h.destination_port, repr.dst_port);
    assert_eq!(h.sequence_number, repr.seq);
    assert_eq!(h.acknowledgment_number, repr.ack);
    assert_eq!(flags_of(&h), repr.flags);
    assert_eq!(h.window_size, repr.window);
    assert_eq!(h.urgent_pointer, repr.urgent);
    assert_eq!(&from_elements(&h), expect_options);
    assert_eq!(tcp.payload(), payload);
}

#[test]
fn ours_parsed_by_etherparse() {
    let options = TcpOptions {
        mss: Some(1440),
        window_scale: Some(9),
        sack_permitted: true,
        timestamps: Some((1, 2)),
        ..TcpOptions::default()
    };
    let repr = TcpRepr {
        src_port: 80,
        dst_port: 50000,
        seq: 77,
        ack: 1001,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65535,
        urgent: 0,
        options,
    };
    for (src, dst) in [
        (IpAddr::from(V4_SRC), IpAddr::from(V4_DST)),
        (IpAddr::from(V6_SRC), IpAddr::from(V6_DST)),
    ] {
        let buf = our_tcp_packet(&repr, b"odd", src, dst, 64);
        check_with_etherparse(&buf, &repr, b"odd", &options);
    }
}

#[test]
fn our_icmp_parsed_by_etherparse() {
    let repr = Icmpv4Repr::DstUnreachable {
        code: 4,
        next_hop_mtu: 576,
        data: &[0x45, 0, 0, 20],
    };
    let mut msg = vec![0u8; repr.buffer_len()];
    repr.emit(&mut msg);
    let slice = etherparse::Icmpv4Slice::from_slice(&msg).unwrap();
    assert_eq!(
        slice.icmp_type(),
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 576
        })
    );
    assert_eq!(
        slice.icmp_type().calc_checksum(slice.payload()),
        slice.checksum()
    );

    let repr = Icmpv4Repr::EchoReply {
        ident: 3,
        seq_no: 4,
        data: b"abc",
    };
    let mut msg = vec![0u8; repr.buffer_len()];
    repr.emit(&mut msg);
    let slice = etherparse::Icmpv4Slice::from_slice(&msg).unwrap();
    assert_eq!(
        slice.icmp_type(),
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: 3, seq: 4 })
    );
    assert_eq!(
        slice.icmp_type().calc_checksum(slice.payload()),
        slice.checksum()
    );

    let (src, dst) = (Ipv6Addr::from(V6_SRC), Ipv6Addr::from(V6_DST));
    for repr in [
        Icmpv6Repr::EchoRequest {
            ident: 5,
            seq_no: 6,
            data: b"hello",
        },
        Icmpv6Repr::PacketTooBig {
            mtu: 1400,
            data: &[0x60, 0, 0, 0],
        },
    ] {
        let mut msg = vec![0u8; repr.buffer_len()];
        repr.emit(src, dst, &mut msg);
        let slice = etherparse::Icmpv6Slice::from_slice(&msg).unwrap();
        assert!(slice.is_checksum_valid(V6_SRC, V6_DST));
        let expected = match repr {
            Icmpv6Repr::EchoRequest { .. } => {
                Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 5, seq: 6 })
            }
            _ => Icmpv6Type::PacketTooBig { mtu: 1400 },
        };
        assert_eq!(slice.icmp_type(), expected);
    }
}

fn tcp_repr() -> impl Strategy<Value = TcpRepr> {
    let options = (
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..=14),
        any::<bool>(),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
    )
        .prop_map(|(mss, window_scale, sack_permitted, timestamps, blocks)| {
            let mut o = TcpOptions {
                mss,
                window_scale,
                sack_permitted,
                timestamps,
                ..TcpOptions::default()
            };
            o.sack[..blocks.len()].copy_from_slice(&blocks);
            o.sack_len = blocks.len() as u8;
            o
        });
    (any::<(u16, u16, u32, u32, u8, u16, u16)>(), options).prop_map(
        |((src_port, dst_port, seq, ack, flags, window, urgent), options)| TcpRepr {
            src_port,
            dst_port,
            seq,
            ack,
            flags: TcpFlags(flags),
            window,
            urgent,
            options,
        },
    )
}

fn addrs(v6: bool) -> (IpAddr, IpAddr) {
    if v6 {
        (Ipv6Addr::from(V6_SRC).into(), Ipv6Addr::from(V6_DST).into())
    } else {
        (Ipv4Addr::from(V4_SRC).into(), Ipv4Addr::from(V4_DST).into())
    }
}

proptest! {
    #[test]
    fn etherparse_built_tcp_parses_the_same(
        repr in tcp_repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        v6 in any::<bool>(),
        ttl in any::<u8>(),
    ) {
        let Some(header) = ether_tcp(&repr) else {
            // etherparse packs options without alignment; skip sets it cannot fit.
            return Ok(());
        };
        let builder = if v6 {
            PacketBuilder::ipv6(V6_SRC, V6_DST, ttl)
        } else {
            PacketBuilder::ipv4(V4_SRC, V4_DST, ttl)
        };
        let buf = build!(builder.tcp_header(header), &payload);
        let (ip, seg) = parse_ip(&buf).unwrap();
        let (src, dst) = addrs(v6);
        prop_assert_eq!((ip.src, ip.dst, ip.ttl, ip.protocol), (src, dst, ttl, IpProtocol::Tcp));
        let (parsed, data) = TcpRepr::parse(seg, src, dst, true).unwrap();
        prop_assert_eq!(parsed, repr);
        prop_assert_eq!(data, &payload[..]);
    }

    #[test]
    fn our_tcp_parses_the_same_in_etherparse(
        repr in tcp_repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        v6 in any::<bool>(),
        ttl in any::<u8>(),
    ) {
        let (src, dst) = addrs(v6);
        let buf = our_tcp_packet(&repr, &payload, src, dst, ttl);
        let mut expected = repr.options;
        expected.sack_len = repr.options.sack_blocks_emitted() as u8;
        check_with_etherparse(&buf, &repr, &payload, &expected);
    }
}
