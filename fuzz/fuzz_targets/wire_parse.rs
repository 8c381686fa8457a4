//! Fuzzes the parsers: `parse_ip`, `TcpRepr::parse` (with and without checksum checks) and
//! both ICMP parsers. None may panic; what parses must re-emit and re-parse to the same value.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use synack_core::wire::icmpv4::Icmpv4Repr;
use synack_core::wire::icmpv6::Icmpv6Repr;
use synack_core::wire::{IpProtocol, TcpRepr, parse_ip};

fuzz_target!(|data: &[u8]| {
    // Whole IP packets, and what they carry.
    if let Ok((ip, payload)) = parse_ip(data) {
        assert_eq!(ip.payload_len, payload.len());
        assert!(payload.len() <= data.len());
        match ip.protocol {
            IpProtocol::Tcp => {
                let _ = TcpRepr::parse(payload, ip.src, ip.dst, true);
            }
            IpProtocol::Icmp => {
                let _ = Icmpv4Repr::parse(payload);
            }
            IpProtocol::Icmpv6 => {
                if let (IpAddr::V6(s), IpAddr::V6(d)) = (ip.src, ip.dst) {
                    let _ = Icmpv6Repr::parse(s, d, payload);
                }
            }
            _ => {}
        }
    }
    // The raw bytes as upper-layer payloads.
    let v4: (IpAddr, IpAddr) = (
        Ipv4Addr::new(10, 0, 0, 1).into(),
        Ipv4Addr::new(10, 0, 0, 2).into(),
    );
    let s6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let d6: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let _ = TcpRepr::parse(data, v4.0, v4.1, true);
    if let Ok((repr, payload)) = TcpRepr::parse(data, v4.0, v4.1, false) {
        // Re-emit and re-parse: the options we understood survive.
        let mut buf = vec![0u8; repr.header_len() + payload.len()];
        let h = repr.emit_header(&mut buf);
        buf[h..].copy_from_slice(payload);
        let (again, p2) = TcpRepr::parse(&buf, v4.0, v4.1, false).expect("re-parse");
        assert_eq!(again.seq, repr.seq);
        assert_eq!(again.ack, repr.ack);
        assert_eq!(again.flags, repr.flags);
        assert_eq!(p2, payload);
    }
    let _ = Icmpv4Repr::parse(data);
    let _ = Icmpv6Repr::parse(s6, d6, data);
});
