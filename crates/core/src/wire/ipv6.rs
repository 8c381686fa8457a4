//! IPv6 header view and emitter (RFC 8200), extension headers skipped; see ip.rs for the
//! version-independent entry points.

use std::net::Ipv6Addr;

use super::WireError;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// Next-header values of the extension headers [`skip_extension_headers`] knows.
pub mod next_header {
    /// Hop-by-Hop Options (RFC 8200 §4.3); only allowed right after the IPv6 header.
    pub const HOP_BY_HOP: u8 = 0;
    /// Routing (RFC 8200 §4.4).
    pub const ROUTING: u8 = 43;
    /// Fragment (RFC 8200 §4.5).
    pub const FRAGMENT: u8 = 44;
    /// Authentication Header (RFC 4302).
    pub const AUTH: u8 = 51;
    /// No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT: u8 = 59;
    /// Destination Options (RFC 8200 §4.6).
    pub const DEST_OPTS: u8 = 60;
}

mod field {
    use core::ops::Range;

    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// A zero-copy view of an IPv6 packet.
///
/// After [`Ipv6Packet::new_checked`] succeeds no accessor can panic: the buffer holds the
/// fixed header and the payload length the header states.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checks; accessors may panic. For emitting into a buffer of at
    /// least [`HEADER_LEN`] bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Checks the version is 6 and the buffer holds the header and the stated payload length
    /// (bytes beyond it are link padding).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let packet = Ipv6Packet { buffer };
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if packet.version() != 6 {
            return Err(WireError::BadVersion);
        }
        if HEADER_LEN + usize::from(packet.payload_len()) > len {
            return Err(WireError::Truncated);
        }
        Ok(packet)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ver_tc_flow(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }
    /// The 20-bit flow label.
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000f_ffff
    }
    /// Length of everything after the fixed header, extension headers included.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// The header that follows the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(addr16(&self.buffer.as_ref()[field::SRC_ADDR]))
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(addr16(&self.buffer.as_ref()[field::DST_ADDR]))
    }
    /// Everything after the fixed header, trimmed to the payload length (link padding
    /// removed); extension headers are not skipped.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

fn addr16(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    a
}

impl<'a> Ipv6Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime rather than the view's.
    pub fn into_payload(self) -> &'a [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label (low 20 bits).
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the next header.
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }
}

/// Writes a 40-byte header (traffic class 0, flow label 0) into the front of `buf`.
/// Panics if `buf` is shorter than [`HEADER_LEN`].
pub fn emit_header(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    hop_limit: u8,
    payload_len: usize,
) -> usize {
    debug_assert!(payload_len <= usize::from(u16::MAX));
    let mut p = Ipv6Packet::new_unchecked(&mut buf[..HEADER_LEN]);
    p.set_version_tc_flow(0, 0);
    p.set_payload_len(payload_len as u16);
    p.set_next_header(next_header);
    p.set_hop_limit(hop_limit);
    p.set_src_addr(src);
    p.set_dst_addr(dst);
    HEADER_LEN
}

/// Walks the extension header chain that starts with `next_header` over `payload` (the IPv6
/// payload). Returns the upper-layer protocol and its payload.
///
/// Skips Hop-by-Hop (first only), Routing (segments left 0), Destination Options, atomic
/// Fragment headers and AH. A real fragment is [`WireError::Fragmented`]; a header running
/// past the payload, a misplaced Hop-by-Hop, a routing header still to be processed, or an
/// unknown option the sender asked us to discard on is [`WireError::BadExtensionHeader`].
/// No Next Header yields protocol 59 with an empty payload. ESP (50) ends the walk: it is an
/// upper layer to us.
pub fn skip_extension_headers(next_header: u8, payload: &[u8]) -> Result<(u8, &[u8]), WireError> {
    use next_header::*;

    let mut next = next_header;
    let mut rest = payload;
    let mut first = true;
    loop {
        let len = match next {
            // RFC 8200 §4.1: Hop-by-Hop must immediately follow the IPv6 header.
            HOP_BY_HOP if !first => return Err(WireError::BadExtensionHeader),
            HOP_BY_HOP | DEST_OPTS | ROUTING => {
                let len = generic_len(rest)?;
                if next == ROUTING {
                    // RFC 8200 §4.4: with segments left non-zero we would have to forward
                    // along a route type we do not implement, so discard.
                    if rest[3] != 0 {
                        return Err(WireError::BadExtensionHeader);
                    }
                } else {
                    check_options(&rest[2..len])?;
                }
                len
            }
            FRAGMENT => {
                if rest.len() < 8 {
                    return Err(WireError::BadExtensionHeader);
                }
                let off_m = u16::from_be_bytes([rest[2], rest[3]]);
                // RFC 6946: an atomic fragment (offset 0, M clear) is processed as is.
                if off_m & 0xfff9 != 0 {
                    return Err(WireError::Fragmented);
                }
                8
            }
            AUTH => {
                // RFC 4302 §2.2: length in 4-byte units, minus 2; the fixed part is 12 bytes.
                if rest.len() < 2 {
                    return Err(WireError::BadExtensionHeader);
                }
                let len = (usize::from(rest[1]) + 2) * 4;
                if len < 12 || len > rest.len() {
                    return Err(WireError::BadExtensionHeader);
                }
                len
            }
            NO_NEXT => return Ok((NO_NEXT, &[])),
            upper => return Ok((upper, rest)),
        };
        next = rest[0];
        rest = &rest[len..];
        first = false;
    }
}

/// Length of a Hop-by-Hop, Routing or Destination Options header: 8-byte units, not counting
/// the first 8.
fn generic_len(rest: &[u8]) -> Result<usize, WireError> {
    if rest.len() < 8 {
        return Err(WireError::BadExtensionHeader);
    }
    let len = (usize::from(rest[1]) + 1) * 8;
    if len > rest.len() {
        return Err(WireError::BadExtensionHeader);
    }
    Ok(len)
}

/// Checks the TLV options of a Hop-by-Hop or Destination Options header.
///
/// We know only Pad1 and PadN. RFC 8200 §4.2: an unrecognised option is skipped only when
/// the two high bits of its type are 00; any other action means discard.
fn check_options(mut opts: &[u8]) -> Result<(), WireError> {
    while let Some(&kind) = opts.first() {
        if kind == 0 {
            opts = &opts[1..];
            continue;
        }
        let Some(&len) = opts.get(1) else {
            return Err(WireError::BadExtensionHeader);
        };
        let end = 2 + usize::from(len);
        if end > opts.len() {
            return Err(WireError::BadExtensionHeader);
        }
        if kind != 1 && kind >> 6 != 0 {
            return Err(WireError::BadExtensionHeader);
        }
        opts = &opts[end..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next_header: u8, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN + payload.len()];
        emit_header(
            &mut buf,
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
            next_header,
            64,
            payload.len(),
        );
        buf[HEADER_LEN..].copy_from_slice(payload);
        buf
    }

    #[test]
    fn fields() {
        let mut b = packet(6, &[1, 2, 3]);
        Ipv6Packet::new_unchecked(&mut b[..]).set_version_tc_flow(0xb8, 0xabcde);
        b.extend_from_slice(&[0; 5]); // link padding
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0xabcde);
        assert_eq!(p.payload_len(), 3);
        assert_eq!(p.next_header(), 6);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload(), &[1, 2, 3]);
    }

    #[test]
    fn truncated_and_bad_version() {
        let b = packet(6, &[1, 2, 3]);
        for len in 0..b.len() {
            assert_eq!(
                Ipv6Packet::new_checked(&b[..len]).unwrap_err(),
                WireError::Truncated,
                "len {len}"
            );
        }
        let mut b = b;
        b[0] = 0x45;
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap_err(),
            WireError::BadVersion
        );
    }

    #[test]
    fn hop_by_hop_then_dest_opts() {
        let mut chain = vec![60, 0, 1, 4, 0, 0, 0, 0]; // HbH: PadN(4) -> DestOpts
        chain.extend_from_slice(&[6, 1, 0, 1, 11]); // DestOpts, 16 bytes: Pad1, PadN(11)
        chain.extend_from_slice(&[0; 11]);
        chain.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(
            skip_extension_headers(0, &chain),
            Ok((6, &[0xaa, 0xbb][..]))
        );
    }

    #[test]
    fn hop_by_hop_not_first() {
        let chain = [0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0];
        assert_eq!(
            skip_extension_headers(60, &chain),
            Err(WireError::BadExtensionHeader)
        );
    }

    #[test]
    fn header_past_payload() {
        let chain = [6, 1, 1, 4, 0, 0, 0, 0]; // claims 16 bytes
        assert_eq!(
            skip_extension_headers(60, &chain),
            Err(WireError::BadExtensionHeader)
        );
        assert_eq!(
            skip_extension_headers(60, &chain[..5]),
            Err(WireError::BadExtensionHeader)
        );
    }

    #[test]
    fn option_past_header_or_discard_action() {
        let overrun = [6, 0, 1, 5, 0, 0, 0, 0];
        assert_eq!(
            skip_extension_headers(60, &overrun),
            Err(WireError::BadExtensionHeader)
        );
        // Unknown type 0x3e (action 00) is skipped; 0x7e (action 01) discards.
        let skip = [6, 0, 0x3e, 4, 0, 0, 0, 0];
        assert_eq!(skip_extension_headers(60, &skip), Ok((6, &[][..])));
        let discard = [6, 0, 0x7e, 4, 0, 0, 0, 0];
        assert_eq!(
            skip_extension_headers(60, &discard),
            Err(WireError::BadExtensionHeader)
        );
    }

    #[test]
    fn fragments() {
        let second = [6, 0, 0x05, 0xc8, 1, 2, 3, 4, 0xcc]; // offset 185*8
        assert_eq!(
            skip_extension_headers(44, &second),
            Err(WireError::Fragmented)
        );
        let first = [6, 0, 0, 1, 1, 2, 3, 4, 0xcc]; // M set
        assert_eq!(
            skip_extension_headers(44, &first),
            Err(WireError::Fragmented)
        );
        let atomic = [6, 0, 0, 0, 1, 2, 3, 4, 0xcc];
        assert_eq!(skip_extension_headers(44, &atomic), Ok((6, &[0xcc][..])));
    }

    #[test]
    fn routing_with_segments_left() {
        let done = [6, 0, 4, 0, 0, 0, 0, 0];
        assert_eq!(skip_extension_headers(43, &done), Ok((6, &[][..])));
        let pending = [6, 0, 4, 1, 0, 0, 0, 0];
        assert_eq!(
            skip_extension_headers(43, &pending),
            Err(WireError::BadExtensionHeader)
        );
    }

    #[test]
    fn auth_header() {
        let mut ah = vec![6, 4, 0, 0]; // (4 + 2) * 4 = 24 bytes
        ah.extend_from_slice(&[0; 20]);
        ah.push(0xdd);
        assert_eq!(skip_extension_headers(51, &ah), Ok((6, &[0xdd][..])));
        assert_eq!(
            skip_extension_headers(51, &ah[..20]),
            Err(WireError::BadExtensionHeader)
        );
    }

    #[test]
    fn no_next_header() {
        assert_eq!(skip_extension_headers(59, &[1, 2, 3]), Ok((59, &[][..])));
    }
}
