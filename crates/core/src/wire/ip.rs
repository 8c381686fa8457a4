//! Version-independent view of an IP packet: what the stack needs to demultiplex.

use std::net::{IpAddr, Ipv4Addr};

use super::ipv4::{self, Ipv4Packet};
use super::ipv6::{self, Ipv6Packet};
use super::{WireError, checksum};

/// IP protocol numbers the stack knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    Icmp,
    Tcp,
    Udp,
    Icmpv6,
    Other(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            58 => IpProtocol::Icmpv6,
            other => IpProtocol::Other(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Other(v) => v,
        }
    }
}

/// The parts of an IPv4 or IPv6 header the upper layers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRepr {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The upper-layer protocol (for IPv6, after skipping extension headers).
    pub protocol: IpProtocol,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Length of the upper-layer payload in bytes.
    pub payload_len: usize,
}

impl IpRepr {
    /// The header length `emit` writes: 20 for IPv4, 40 for IPv6 (no options or extensions).
    pub fn header_len(&self) -> usize {
        match self.src {
            IpAddr::V4(_) => 20,
            IpAddr::V6(_) => 40,
        }
    }

    /// The whole packet length: header and upper-layer payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the IP header into the front of `buf` (IPv4 with its checksum; DF set).
    /// `buf` must hold at least `header_len()` bytes. Returns the header length.
    ///
    /// Panics if `src` and `dst` are of different families.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let protocol = u8::from(self.protocol);
        match (self.src, self.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                ipv4::emit_header(buf, src, dst, protocol, self.ttl, self.payload_len)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                ipv6::emit_header(buf, src, dst, protocol, self.ttl, self.payload_len)
            }
            _ => panic!("IpRepr::emit: src and dst of different families"),
        }
    }
}

/// Parses an IPv4 or IPv6 packet (chosen by its version nibble), verifying the IPv4 header
/// checksum and skipping IPv6 extension headers. Returns the header and the upper-layer
/// payload, trimmed to the length the header states (link padding removed).
///
/// Fragments are [`WireError::Fragmented`] (no reassembly); a multicast or limited-broadcast
/// source is [`WireError::BadAddress`]. Never panics.
#[inline]
pub fn parse_ip(buf: &[u8]) -> Result<(IpRepr, &[u8]), WireError> {
    // The usual header, IPv4 without options, takes a short cut; in line, so that what it
    // returns is built where the caller wants it rather than copied there.
    if let Some(header) = buf.first_chunk::<{ ipv4::HEADER_LEN }>()
        && header[0] == 0x45
    {
        return parse_v4_plain(buf, header);
    }
    parse_any(buf)
}

/// `parse_ip` by the version nibble.
fn parse_any(buf: &[u8]) -> Result<(IpRepr, &[u8]), WireError> {
    match buf.first().map(|b| b >> 4) {
        Some(4) => parse_v4(buf),
        Some(6) => parse_v6(buf),
        Some(_) => Err(WireError::BadVersion),
        None => Err(WireError::Truncated),
    }
}

fn parse_v4(buf: &[u8]) -> Result<(IpRepr, &[u8]), WireError> {
    let p = Ipv4Packet::new_checked(buf)?;
    if !p.verify_checksum() {
        return Err(WireError::BadChecksum);
    }
    if p.is_fragment() {
        return Err(WireError::Fragmented);
    }
    let (src, dst) = (p.src_addr(), p.dst_addr());
    // RFC 1122 §3.2.1.3: discard datagrams whose source is broadcast or multicast.
    if src.is_broadcast() || src.is_multicast() {
        return Err(WireError::BadAddress);
    }
    // IP options are skipped unread (RFC 9293 MUST-50: ignore unknown options).
    let protocol = p.protocol().into();
    let ttl = p.ttl();
    let payload = p.into_payload();
    let repr = IpRepr {
        src: src.into(),
        dst: dst.into(),
        protocol,
        ttl,
        payload_len: payload.len(),
    };
    Ok((repr, payload))
}

/// `parse_v4` of a packet whose header has no options (IHL 5, version 4 as the first byte
/// says), as nearly every one: the same checks in the same order, read from the fixed 20
/// bytes (this runs for every packet).
#[inline]
fn parse_v4_plain<'a>(
    buf: &'a [u8],
    header: &[u8; ipv4::HEADER_LEN],
) -> Result<(IpRepr, &'a [u8]), WireError> {
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let total_len = usize::from(word(2));
    if total_len < ipv4::HEADER_LEN {
        return Err(WireError::BadHeaderLength);
    }
    if total_len > buf.len() {
        return Err(WireError::Truncated);
    }
    let sum = (0..ipv4::HEADER_LEN)
        .step_by(2)
        .map(|i| u64::from(word(i)))
        .sum();
    if checksum::fold(sum) != 0xffff {
        return Err(WireError::BadChecksum);
    }
    if word(6) & ipv4::FRAGMENT_BITS != 0 {
        return Err(WireError::Fragmented);
    }
    let src = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
    let dst = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
    // RFC 1122 §3.2.1.3: discard datagrams whose source is broadcast or multicast.
    if src.is_broadcast() || src.is_multicast() {
        return Err(WireError::BadAddress);
    }
    let payload = &buf[ipv4::HEADER_LEN..total_len];
    let repr = IpRepr {
        src: src.into(),
        dst: dst.into(),
        protocol: header[9].into(),
        ttl: header[8],
        payload_len: payload.len(),
    };
    Ok((repr, payload))
}

fn parse_v6(buf: &[u8]) -> Result<(IpRepr, &[u8]), WireError> {
    let p = Ipv6Packet::new_checked(buf)?;
    let src = p.src_addr();
    // RFC 4291 §2.7: multicast addresses must not be used as source addresses.
    if src.is_multicast() {
        return Err(WireError::BadAddress);
    }
    let (dst, ttl, next_header) = (p.dst_addr(), p.hop_limit(), p.next_header());
    let (protocol, payload) = ipv6::skip_extension_headers(next_header, p.into_payload())?;
    let repr = IpRepr {
        src: src.into(),
        dst: dst.into(),
        protocol: protocol.into(),
        ttl,
        payload_len: payload.len(),
    };
    Ok((repr, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4_repr(payload_len: usize) -> IpRepr {
        IpRepr {
            src: Ipv4Addr::new(192, 0, 2, 1).into(),
            dst: Ipv4Addr::new(198, 51, 100, 7).into(),
            protocol: IpProtocol::Tcp,
            ttl: 64,
            payload_len,
        }
    }

    fn v6_repr(payload_len: usize) -> IpRepr {
        IpRepr {
            src: "2001:db8::1".parse::<Ipv6Addr>().unwrap().into(),
            dst: "2001:db8::2".parse::<Ipv6Addr>().unwrap().into(),
            protocol: IpProtocol::Tcp,
            ttl: 255,
            payload_len,
        }
    }

    fn packet(repr: &IpRepr, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf);
        buf[n..].copy_from_slice(payload);
        buf
    }

    fn refill_v4_checksum(buf: &mut [u8]) {
        Ipv4Packet::new_unchecked(buf).fill_checksum();
    }

    #[test]
    fn protocol_numbers_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(v)), v);
        }
    }

    #[test]
    fn v4_round_trip() {
        let r = v4_repr(3);
        let b = packet(&r, &[1, 2, 3]);
        assert_eq!(b.len(), 23);
        assert_eq!(parse_ip(&b), Ok((r, &[1, 2, 3][..])));
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.dont_frag());
        assert_eq!(p.ident(), 0);
    }

    #[test]
    fn v6_round_trip() {
        let r = v6_repr(3);
        let b = packet(&r, &[1, 2, 3]);
        assert_eq!(b.len(), 43);
        assert_eq!(parse_ip(&b), Ok((r, &[1, 2, 3][..])));
    }

    #[test]
    fn wrong_version_and_empty() {
        let mut b = packet(&v4_repr(0), &[]);
        b[0] = 0x55;
        assert_eq!(parse_ip(&b), Err(WireError::BadVersion));
        assert_eq!(parse_ip(&[]), Err(WireError::Truncated));
        assert_eq!(parse_ip(&[0x45, 0, 0]), Err(WireError::Truncated));
        assert_eq!(parse_ip(&[0x60; 39]), Err(WireError::Truncated));
    }

    #[test]
    fn v4_bad_checksum() {
        let mut b = packet(&v4_repr(0), &[]);
        b[8] -= 1; // a router decremented TTL without fixing the checksum
        assert_eq!(parse_ip(&b), Err(WireError::BadChecksum));
    }

    #[test]
    fn v4_options_skipped() {
        let r = v4_repr(2);
        let plain = packet(&r, &[7, 8]);
        // Insert 8 bytes of options: NOP, timestamp-ish unknown option, EOL.
        let mut b = plain[..20].to_vec();
        b.extend_from_slice(&[1, 0x44, 4, 5, 0, 0, 0, 0]);
        b.extend_from_slice(&[7, 8]);
        b[0] = 0x47;
        b[3] = 30;
        refill_v4_checksum(&mut b);
        assert_eq!(parse_ip(&b), Ok((r, &[7, 8][..])));
    }

    #[test]
    fn link_padding_trimmed() {
        for r in [v4_repr(2), v6_repr(2)] {
            let mut b = packet(&r, &[7, 8]);
            b.extend_from_slice(&[0xee; 17]);
            assert_eq!(parse_ip(&b), Ok((r, &[7, 8][..])));
        }
    }

    #[test]
    fn total_length_inconsistent() {
        let mut b = packet(&v4_repr(2), &[7, 8]);
        b[3] = 23;
        refill_v4_checksum(&mut b);
        assert_eq!(parse_ip(&b), Err(WireError::Truncated));
        b[3] = 16;
        refill_v4_checksum(&mut b);
        assert_eq!(parse_ip(&b), Err(WireError::BadHeaderLength));
        let b6 = packet(&v6_repr(2), &[7, 8]);
        assert_eq!(parse_ip(&b6[..41]), Err(WireError::Truncated));
    }

    /// Headers without options take a short cut: its every refusal is the general parser's.
    #[test]
    fn v4_short_cut_refuses_as_the_general_parser() {
        let good = packet(&v4_repr(2), &[7, 8]);
        let mut cases = Vec::new();
        for (at, value) in [
            (3, 19),
            (3, 23),
            (3, 0),
            (6, 0x20),
            (7, 1),
            (12, 224),
            (12, 255),
        ] {
            let mut b = good.clone();
            b[at] = value;
            if at == 12 && value == 255 {
                b[13..16].fill(255);
            }
            refill_v4_checksum(&mut b);
            cases.push(b);
        }
        let mut b = good.clone();
        b[11] ^= 1;
        cases.push(b);
        cases.push(good[..19].to_vec());
        cases.push(good.clone());
        for b in cases {
            assert_eq!(b.first(), Some(&0x45));
            assert_eq!(parse_ip(&b), parse_any(&b), "{b:?}");
        }
        assert_eq!(parse_ip(&good), Ok((v4_repr(2), &[7, 8][..])));
    }

    #[test]
    fn v4_fragments_rejected() {
        for (df, mf, offset) in [(false, true, 0), (false, false, 8), (true, false, 1480)] {
            let mut b = packet(&v4_repr(2), &[7, 8]);
            let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
            p.set_frag(df, mf, offset);
            p.fill_checksum();
            assert_eq!(
                parse_ip(&b),
                Err(WireError::Fragmented),
                "{df} {mf} {offset}"
            );
        }
    }

    #[test]
    fn v6_extension_chain() {
        let r = v6_repr(2);
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0]; // Hop-by-Hop, PadN
        ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // Destination Options, PadN
        ext.extend_from_slice(&[7, 8]);
        let outer = IpRepr {
            protocol: IpProtocol::Other(0),
            payload_len: ext.len(),
            ..r
        };
        let b = packet(&outer, &ext);
        assert_eq!(parse_ip(&b), Ok((r, &[7, 8][..])));
    }

    #[test]
    fn v6_fragment_and_bad_chain() {
        let r = v6_repr(10);
        let frag = [6, 0, 0, 1, 0, 0, 0, 42, 7, 8]; // first fragment: M set
        let b = packet(
            &IpRepr {
                protocol: IpProtocol::Other(44),
                ..r
            },
            &frag,
        );
        assert_eq!(parse_ip(&b), Err(WireError::Fragmented));
        let short = [6, 1, 1, 4, 0, 0, 0, 0, 7, 8]; // claims 16 bytes
        let b = packet(
            &IpRepr {
                protocol: IpProtocol::Other(60),
                ..r
            },
            &short,
        );
        assert_eq!(parse_ip(&b), Err(WireError::BadExtensionHeader));
    }

    #[test]
    fn v6_no_next_header() {
        let r = IpRepr {
            protocol: IpProtocol::Other(59),
            ..v6_repr(4)
        };
        let b = packet(&r, &[1, 2, 3, 4]);
        let (parsed, payload) = parse_ip(&b).unwrap();
        assert_eq!(parsed.protocol, IpProtocol::Other(59));
        assert!(payload.is_empty());
    }

    #[test]
    fn multicast_or_broadcast_source() {
        let mut r = v4_repr(0);
        for src in [Ipv4Addr::BROADCAST, Ipv4Addr::new(224, 0, 0, 1)] {
            r.src = src.into();
            assert_eq!(parse_ip(&packet(&r, &[])), Err(WireError::BadAddress));
        }
        let mut r = v6_repr(0);
        r.src = "ff02::1".parse::<Ipv6Addr>().unwrap().into();
        assert_eq!(parse_ip(&packet(&r, &[])), Err(WireError::BadAddress));
    }
}
