//! Property tests for the wire layer: what we emit parses back to the same thing, and no input
//! makes a parser panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use synack_core::wire::icmpv4::Icmpv4Repr;
use synack_core::wire::icmpv6::Icmpv6Repr;
use synack_core::wire::tcp::{TcpOptionIter, fill_checksum};
use synack_core::wire::{
    IpProtocol, IpRepr, MAX_SACK_BLOCKS, TcpFlags, TcpOptions, TcpRepr, WireError, parse_ip,
};

/// A unicast-usable IPv4 source (parse_ip rejects multicast and broadcast sources).
fn ipv4_src() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("not multicast/broadcast", |a| {
            !a.is_multicast() && !a.is_broadcast()
        })
}

fn ipv6_src() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>()
        .prop_map(Ipv6Addr::from)
        .prop_filter("not multicast", |a| !a.is_multicast())
}

/// A (src, dst) pair of one family.
fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (ipv4_src(), any::<u32>()).prop_map(|(s, d)| (s.into(), Ipv4Addr::from(d).into())),
        (ipv6_src(), any::<u128>()).prop_map(|(s, d)| (s.into(), Ipv6Addr::from(d).into())),
    ]
}

fn tcp_options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..=14),
        any::<bool>(),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::collection::vec(any::<(u32, u32)>(), 0..=MAX_SACK_BLOCKS),
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
        })
}

fn tcp_repr() -> impl Strategy<Value = TcpRepr> {
    (
        any::<(u16, u16, u32, u32)>(),
        any::<u8>(),
        any::<(u16, u16)>(),
        tcp_options(),
    )
        .prop_map(
            |((src_port, dst_port, seq, ack), flags, (window, urgent), options)| TcpRepr {
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

/// What `emit` then `parse` gives back: SACK blocks beyond what fits are dropped.
fn after_round_trip(o: &TcpOptions) -> TcpOptions {
    let mut expected = *o;
    expected.sack_len = o.sack_blocks_emitted() as u8;
    expected
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..200)
}

fn segment(repr: &TcpRepr, payload: &[u8], src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut buf = vec![0u8; repr.header_len() + payload.len()];
    let n = repr.emit_header(&mut buf);
    buf[n..].copy_from_slice(payload);
    fill_checksum(&mut buf, src, dst);
    buf
}

proptest! {
    #[test]
    fn tcp_options_round_trip(o in tcp_options()) {
        let mut buf = [0xaau8; 40];
        let n = o.emit(&mut buf);
        prop_assert_eq!(n, o.buffer_len());
        prop_assert!(n <= 40 && n % 4 == 0);
        prop_assert_eq!(TcpOptions::parse(&buf[..n]), Ok(after_round_trip(&o)));
    }

    #[test]
    fn tcp_repr_round_trip(
        repr in tcp_repr(),
        payload in payload(),
        (src, dst) in addr_pair(),
    ) {
        let seg = segment(&repr, &payload, src, dst);
        prop_assert_eq!(seg.len(), repr.header_len() + payload.len());
        let (parsed, data) = TcpRepr::parse(&seg, src, dst, true).unwrap();
        let expected = TcpRepr { options: after_round_trip(&repr.options), ..repr };
        prop_assert_eq!(parsed, expected);
        prop_assert_eq!(data, &payload[..]);
    }

    #[test]
    fn tcp_any_bit_flip_fails_checksum(
        repr in tcp_repr(),
        payload in payload(),
        (src, dst) in addr_pair(),
        pick in any::<proptest::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut seg = segment(&repr, &payload, src, dst);
        let i = pick.index(seg.len());
        seg[i] ^= 1 << bit;
        // A single bit flip always changes the one's-complement sum; a flip in the data
        // offset may be caught earlier, as a bad offset.
        let result = TcpRepr::parse(&seg, src, dst, true).map(|_| ());
        if i == 12 && result != Err(WireError::BadChecksum) {
            prop_assert_eq!(result, Err(WireError::BadDataOffset));
        } else {
            prop_assert_eq!(result, Err(WireError::BadChecksum));
        }
    }

    #[test]
    fn ip_round_trip(
        (src, dst) in addr_pair(),
        protocol in any::<u8>(),
        ttl in any::<u8>(),
        payload in payload(),
        padding in proptest::collection::vec(any::<u8>(), 0..30),
    ) {
        // For IPv6, extension-header numbers would be walked as a chain, not returned.
        let v6_ext = [0u8, 43, 44, 51, 59, 60];
        prop_assume!(src.is_ipv4() || !v6_ext.contains(&protocol));
        let repr = IpRepr {
            src,
            dst,
            protocol: IpProtocol::from(protocol),
            ttl,
            payload_len: payload.len(),
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf);
        prop_assert_eq!(n, repr.header_len());
        buf[n..].copy_from_slice(&payload);
        buf.extend_from_slice(&padding);
        prop_assert_eq!(parse_ip(&buf), Ok((repr, &payload[..])));
    }

    #[test]
    fn ipv4_header_bit_flip_is_caught(
        src in ipv4_src(),
        dst in any::<u32>(),
        payload in payload(),
        // Byte 0 (version, IHL) is left out: a longer IHL moves the checksummed range.
        byte in 1usize..20,
        bit in 0u8..8,
    ) {
        let repr = IpRepr {
            src: src.into(),
            dst: Ipv4Addr::from(dst).into(),
            protocol: IpProtocol::Tcp,
            ttl: 64,
            payload_len: payload.len(),
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf);
        buf[n..].copy_from_slice(&payload);
        buf[byte] ^= 1 << bit;
        // Whatever the flip hits, the packet is refused (checksum, or an earlier check).
        prop_assert!(parse_ip(&buf).is_err());
    }

    #[test]
    fn icmpv4_round_trip(
        kind in 0u8..5,
        a in any::<u16>(),
        b in any::<u16>(),
        code in any::<u8>(),
        data in payload(),
    ) {
        let repr = match kind {
            0 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data },
            2 => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: if code == 4 { a } else { 0 },
                data: &data,
            },
            3 => Icmpv4Repr::TimeExceeded { code, data: &data },
            _ => Icmpv4Repr::Other { msg_type: [5, 12, 13, 42][usize::from(code % 4)], code },
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf), buf.len());
        prop_assert_eq!(Icmpv4Repr::parse(&buf), Ok(repr));
    }

    #[test]
    fn icmpv6_round_trip(
        kind in 0u8..6,
        a in any::<u16>(),
        b in any::<u16>(),
        mtu in any::<u32>(),
        code in any::<u8>(),
        data in payload(),
        src in any::<u128>(),
        dst in any::<u128>(),
    ) {
        let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
        let repr = match kind {
            0 => Icmpv6Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => Icmpv6Repr::EchoReply { ident: a, seq_no: b, data: &data },
            2 => Icmpv6Repr::DstUnreachable { code, data: &data },
            3 => Icmpv6Repr::PacketTooBig { mtu, data: &data },
            4 => Icmpv6Repr::TimeExceeded { code, data: &data },
            _ => Icmpv6Repr::Other { msg_type: [4, 133, 135, 143][usize::from(code % 4)], code },
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(src, dst, &mut buf), buf.len());
        prop_assert_eq!(Icmpv6Repr::parse(src, dst, &buf), Ok(repr));
    }
}

/// Bytes that often look like a header: a version nibble, extension-header numbers, small
/// length fields.
fn ip_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(0x45u8),
            Just(0x46),
            Just(0x4f),
            Just(0x60),
            any::<u8>()
        ],
        proptest::collection::vec(
            prop_oneof![
                Just(0u8),
                Just(6),
                Just(43),
                Just(44),
                Just(51),
                Just(59),
                Just(60),
                any::<u8>()
            ],
            0..120,
        ),
    )
        .prop_map(|(first, mut rest)| {
            rest.insert(0, first);
            rest
        })
}

fn v6_with_chain() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(0u8), Just(43), Just(44), Just(51), Just(59), Just(60)],
        proptest::collection::vec(any::<u8>(), 0..100),
        any::<u8>(),
    )
        .prop_map(|(next, rest, extra)| {
            let src = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
            let mut buf = vec![0u8; 40];
            let len = rest.len().saturating_sub(usize::from(extra % 4));
            let repr = IpRepr {
                src: src.into(),
                dst: src.into(),
                protocol: IpProtocol::from(next),
                ttl: 1,
                payload_len: len,
            };
            repr.emit(&mut buf);
            buf.extend_from_slice(&rest);
            buf
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_ip_never_panics(buf in prop_oneof![ip_like_bytes(), v6_with_chain()]) {
        if let Ok((repr, payload)) = parse_ip(&buf) {
            prop_assert_eq!(repr.payload_len, payload.len());
            prop_assert!(payload.len() <= buf.len());
        }
    }

    #[test]
    fn tcp_parse_never_panics(
        buf in proptest::collection::vec(any::<u8>(), 0..100),
        offset in 0u8..16,
        verify in any::<bool>(),
        (src, dst) in addr_pair(),
    ) {
        let _ = TcpRepr::parse(&buf, src, dst, verify);
        // Again with a plausible data offset so the options parser gets exercised.
        let mut buf = buf;
        if buf.len() > 12 {
            buf[12] = offset << 4;
        }
        let _ = TcpRepr::parse(&buf, src, dst, false);
    }

    #[test]
    fn tcp_option_iter_stops_after_error(opts in proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(8), any::<u8>()],
        0..40,
    )) {
        let items: Vec<_> = TcpOptionIter::new(&opts).collect();
        if let Some(i) = items.iter().position(|r| r.is_err()) {
            prop_assert_eq!(i, items.len() - 1, "nothing after an error");
            prop_assert_eq!(TcpOptions::parse(&opts), Err(WireError::BadOptionLength));
        } else {
            prop_assert!(TcpOptions::parse(&opts).is_ok());
        }
        prop_assert!(items.len() <= opts.len());
    }

    #[test]
    fn icmp_parse_never_panics(
        buf in proptest::collection::vec(any::<u8>(), 0..64),
        src in any::<u128>(),
        dst in any::<u128>(),
    ) {
        let _ = Icmpv4Repr::parse(&buf);
        let _ = Icmpv6Repr::parse(src.into(), dst.into(), &buf);
    }
}
