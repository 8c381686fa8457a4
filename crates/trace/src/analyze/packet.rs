//! From bytes to a TCP segment: the only place the wire parsers are called.
//!
//! A packet may hold fewer bytes than it had on the wire: a capture's snapshot length, or a
//! recorder keeping headers only, cut its payload short. Its headers still say how long it
//! was, so its sequence space is known; the payload bytes not kept are simply unknown. A
//! header that claims more than the packet had on the wire is malformed.

use std::net::{IpAddr, SocketAddr};

use synack_core::wire::ipv4::Ipv4Packet;
use synack_core::wire::ipv6::{self, Ipv6Packet};
use synack_core::wire::{IpProtocol, TcpFlags, TcpOptions, TcpRepr, WireError, parse_ip};

/// Largest super-segment segmentation offload makes (Linux's BIG TCP goes to 512 KiB); a
/// longer one is a damaged length, not a packet.
const MAX_OFFLOAD_LEN: usize = 1 << 20;

/// A parsed TCP segment, borrowing its payload and options from the recorder.
#[derive(Debug, Clone)]
pub(crate) struct Segment<'a> {
    pub t_ns: u64,
    pub order: u64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: TcpRepr,
    /// The raw options area, for listing options in wire order.
    pub options: &'a [u8],
    /// The payload bytes kept: all of them, or the first ones of a snapped packet.
    pub payload: &'a [u8],
    /// Payload bytes on the wire, as the headers claim (at least `payload.len()`).
    pub len: usize,
}

impl Segment<'_> {
    pub fn has(&self, flag: TcpFlags) -> bool {
        self.tcp.flags.contains(flag)
    }

    /// A SYN without ACK: an opening attempt.
    pub fn is_syn_only(&self) -> bool {
        self.has(TcpFlags::SYN) && !self.has(TcpFlags::ACK)
    }
}

/// What one recorded packet turned out to be.
pub(crate) enum Parsed<'a> {
    Tcp(Segment<'a>),
    NotTcp,
    Malformed,
}

/// Parses an IP packet holding TCP; `original_len` is its length on the wire (`data.len()`
/// unless it was snapped).
///
/// The TCP checksum is not verified: captures taken on a host with checksum offload hold
/// outgoing segments whose checksum the NIC fills in later, and they are still real traffic.
pub(crate) fn parse(t_ns: u64, order: u64, data: &[u8], original_len: usize) -> Parsed<'_> {
    let Some(ip) = ip_layer(data, original_len) else {
        return Parsed::Malformed;
    };
    if ip.protocol != IpProtocol::Tcp {
        return Parsed::NotTcp;
    }
    let Some((tcp, header_len)) = tcp_header(&ip) else {
        return Parsed::Malformed;
    };
    let Some(len) = ip.l4_len.checked_sub(header_len) else {
        return Parsed::Malformed;
    };
    let payload = ip.l4.get(header_len..).unwrap_or(&[]);
    // The options area as kept (all of it unless the snap cut into it).
    let options = ip.l4.get(20..header_len.min(ip.l4.len())).unwrap_or(&[]);
    Parsed::Tcp(Segment {
        t_ns,
        order,
        src: SocketAddr::new(ip.src, tcp.src_port),
        dst: SocketAddr::new(ip.dst, tcp.dst_port),
        tcp,
        options,
        payload,
        len: len.max(payload.len()),
    })
}

/// The TCP header and its length: parsed whole, or, when a snapped packet kept only part of
/// its options, from its fixed 20 bytes and the options kept whole (say a SYN's, under
/// `tcpdump -i any -s 96` on IPv6). The sequence space is then right; what the lost options
/// said (often the window scale) is unknown, and windows are shown unscaled.
fn tcp_header(ip: &IpLayer) -> Option<(TcpRepr, usize)> {
    if let Ok((tcp, payload)) = TcpRepr::parse(ip.l4, ip.src, ip.dst, false) {
        return Some((tcp, ip.l4.len() - payload.len()));
    }
    let header_len = usize::from(*ip.l4.get(12)? >> 4) * 4;
    // Only a header the wire had but the capture cut is read so; any other error stands.
    if ip.l4.len() < 20 || header_len <= ip.l4.len() || header_len > ip.l4_len {
        return None;
    }
    let mut fixed: [u8; 20] = ip.l4.get(..20)?.try_into().ok()?;
    // Data offset 5: the fixed header alone. The checksum is not verified, so this is safe.
    fixed[12] = 0x50 | (fixed[12] & 0x0f);
    let (mut tcp, _) = TcpRepr::parse(&fixed, ip.src, ip.dst, false).ok()?;
    let kept = &ip.l4[20..];
    // The options before the cut: the longest prefix that parses (at most 40 tries).
    tcp.options = (0..=kept.len())
        .rev()
        .find_map(|n| TcpOptions::parse(&kept[..n]).ok())
        .unwrap_or_default();
    Some((tcp, header_len))
}

/// The IP layer of a packet: who sent it to whom, what it carries, the transport bytes kept
/// and how many transport bytes it had on the wire.
struct IpLayer<'a> {
    src: IpAddr,
    dst: IpAddr,
    protocol: IpProtocol,
    l4: &'a [u8],
    l4_len: usize,
}

fn ip_layer(data: &[u8], original_len: usize) -> Option<IpLayer<'_>> {
    match parse_ip(data) {
        Ok((ip, l4)) => Some(IpLayer {
            src: ip.src,
            dst: ip.dst,
            protocol: ip.protocol,
            l4,
            l4_len: l4.len(),
        }),
        // Only a length the kept bytes do not hold is forgiven, as far as the wire had it.
        Err(WireError::Truncated | WireError::BadHeaderLength) => match data.first()? >> 4 {
            4 => snapped_v4(data, original_len),
            6 => snapped_v6(data, original_len),
            _ => None,
        },
        Err(_) => None,
    }
}

/// An IPv4 packet whose total length runs past the bytes kept, or is 0.
fn snapped_v4(data: &[u8], original_len: usize) -> Option<IpLayer<'_>> {
    let header_len = usize::from(data.first()? & 0x0f) * 4;
    if header_len < 20 || header_len > data.len() {
        return None;
    }
    // The whole header is there, so no accessor used below reads past the buffer.
    let p = Ipv4Packet::new_unchecked(data);
    let claimed = match usize::from(p.total_len()) {
        // Segmentation offload (TSO/GSO) hands the capture a super-segment before the NIC
        // splits it and fills in each length; Wireshark too presumes TSO and uses the
        // packet's own length.
        0 if original_len <= MAX_OFFLOAD_LEN => original_len,
        n if n >= header_len && n <= original_len => n,
        _ => return None,
    };
    // The checks parse_ip makes besides the length.
    let src = p.src_addr();
    if !p.verify_checksum() || p.is_fragment() || src.is_broadcast() || src.is_multicast() {
        return None;
    }
    Some(IpLayer {
        src: src.into(),
        dst: p.dst_addr().into(),
        protocol: p.protocol().into(),
        l4: data.get(header_len..claimed.min(data.len()))?,
        l4_len: claimed - header_len,
    })
}

/// An IPv6 packet whose payload length runs past the bytes kept. Jumbograms (payload
/// length 0, the real one in a hop-by-hop option) are not read.
fn snapped_v6(data: &[u8], original_len: usize) -> Option<IpLayer<'_>> {
    const HEADER_LEN: usize = 40;
    if data.len() < HEADER_LEN {
        return None;
    }
    let p = Ipv6Packet::new_unchecked(data);
    let payload_len = usize::from(p.payload_len());
    let claimed = HEADER_LEN + payload_len;
    // RFC 4291 §2.7, as parse_ip: a multicast source is not a real packet.
    if payload_len == 0 || claimed > original_len || p.src_addr().is_multicast() {
        return None;
    }
    let kept = data.get(HEADER_LEN..claimed.min(data.len()))?;
    // The extension headers must have been kept; the transport header follows them.
    let (protocol, l4) = ipv6::skip_extension_headers(p.next_header(), kept).ok()?;
    let headers = data.len().min(claimed) - l4.len();
    Some(IpLayer {
        src: p.src_addr().into(),
        dst: p.dst_addr().into(),
        protocol: protocol.into(),
        l4,
        l4_len: claimed - headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, TcpOptionElement};

    /// An IPv4 packet from 10.0.0.1:40000 to 10.0.0.2:80 with `payload`.
    fn v4(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 500)
            .ack(1);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn v6(payload: &[u8]) -> Vec<u8> {
        let (a, z) = ([0x20, 1, 0xd, 0xb8], [0u8; 11]);
        let src: [u8; 16] = [&a[..], &z, &[1]].concat().try_into().unwrap();
        let dst: [u8; 16] = [&a[..], &z, &[2]].concat().try_into().unwrap();
        let b = PacketBuilder::ipv6(src, dst, 64).tcp(40000, 80, 1000, 500);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    /// The IPv4 total length set to `total`, the header checksum made right again.
    fn with_total_len(mut p: Vec<u8>, total: u16) -> Vec<u8> {
        let mut view = Ipv4Packet::new_unchecked(&mut p[..]);
        view.set_total_len(total);
        view.fill_checksum();
        p
    }

    /// (payload kept, payload length on the wire), or None when not a TCP segment.
    fn parsed(data: &[u8], original: usize) -> Option<(Vec<u8>, usize)> {
        match parse(0, 0, data, original) {
            Parsed::Tcp(s) => Some((s.payload.to_vec(), s.len)),
            Parsed::NotTcp | Parsed::Malformed => None,
        }
    }

    #[test]
    fn a_whole_packet_keeps_every_byte() {
        let p = v4(&[7; 100]);
        assert_eq!(parsed(&p, p.len()), Some((vec![7; 100], 100)));
    }

    #[test]
    fn a_snapped_packet_counts_what_its_headers_claim() {
        for p in [v4(&[7; 1448]), v6(&[7; 1448])] {
            let kept = &p[..p.len() - 1448 + 40];
            assert_eq!(parsed(kept, p.len()), Some((vec![7; 40], 1448)));
            // Headers only: nothing of the payload kept, its length still known.
            let headers = &p[..p.len() - 1448];
            assert_eq!(parsed(headers, p.len()), Some((vec![], 1448)));
            // The same bytes without a longer original length are a damaged packet.
            assert!(parsed(kept, kept.len()).is_none());
            // A header claiming more than the wire carried is damaged too.
            assert!(parsed(kept, p.len() - 1).is_none());
            // A TCP header cut inside its fixed 20 bytes cannot be read.
            let fixed_end = p.len() - 1448 - 4;
            assert!(parsed(&p[..fixed_end], p.len()).is_none());
        }
    }

    #[test]
    fn a_snapped_packet_is_checked_like_a_whole_one() {
        let mut p = v4(&[7; 1448]);
        p[10] ^= 0xff; // header checksum
        assert!(parsed(&p[..80], p.len()).is_none());
        let p = with_total_len(v4(&[7; 1448]), 10);
        assert!(
            parsed(&p[..80], p.len()).is_none(),
            "total under the header"
        );
    }

    #[test]
    fn a_snap_inside_the_options_keeps_the_options_before_it() {
        // Linux's SYN options: mss, sackOK, timestamps, NOP, window scale (20 bytes).
        let b = PacketBuilder::ipv6([0x20; 16], [0x21; 16], 64)
            .tcp(40000, 80, 1000, 64800)
            .syn()
            .options(&[
                TcpOptionElement::MaximumSegmentSize(1440),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(7, 0),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap();
        let mut p = Vec::new();
        b.write(&mut p, &[]).unwrap();
        assert_eq!(p.len(), 80);
        // Cut after the timestamps (the window scale lost), then inside them.
        for (cut, mss, ts) in [(76, Some(1440), true), (70, Some(1440), false)] {
            let Parsed::Tcp(s) = parse(0, 0, &p[..cut], p.len()) else {
                panic!("cut at {cut}: not parsed");
            };
            assert_eq!((s.tcp.seq, s.len, s.payload.len()), (1000, 0, 0));
            assert!(s.has(TcpFlags::SYN));
            assert_eq!(s.tcp.options.mss, mss);
            assert_eq!(s.tcp.options.timestamps.is_some(), ts, "cut at {cut}");
            assert_eq!(s.tcp.options.window_scale, None);
        }
        // Whole, nothing is lost.
        let Parsed::Tcp(s) = parse(0, 0, &p, p.len()) else {
            panic!("not parsed");
        };
        assert_eq!(s.tcp.options.window_scale, Some(7));
        // Cut options without a longer original length: a damaged packet.
        assert!(matches!(parse(0, 0, &p[..76], 76), Parsed::Malformed));
    }

    #[test]
    fn offloaded_total_length_zero_uses_the_packet_length() {
        // TSO/GSO: the capture saw the super-segment before the NIC filled in the length.
        let p = with_total_len(v4(&[7; 3000]), 0);
        assert_eq!(parsed(&p, p.len()), Some((vec![7; 3000], 3000)));
        // Snapped as well: the length on the wire still tells the payload's.
        assert_eq!(parsed(&p[..100], p.len()), Some((vec![7; 60], 3000)));
        // A length no offload makes is damage.
        assert!(parsed(&p[..100], MAX_OFFLOAD_LEN + 1).is_none());
        // An IPv6 payload length of 0 is a jumbogram's: not read.
        let mut q = v6(&[7; 100]);
        q[4..6].fill(0);
        assert!(parsed(&q, q.len()).is_none());
    }
}
