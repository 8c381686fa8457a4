//! Link-layer types (tcpdump.org's LINKTYPE_ values) and how to find the IP packet in a frame
//! of each. Anything else is not read: its frames are counted as skipped.

use super::bytes::be16;

/// BSD loopback: a 4-byte address family in the writer's byte order.
pub const NULL: u32 = 0;
/// Ethernet II, with any 802.1Q / 802.1ad VLAN tags.
pub const ETHERNET: u32 = 1;
/// Raw IP: the frame starts at the IPv4 or IPv6 header.
pub const RAW: u32 = 101;
/// OpenBSD loopback: like NULL, the family in network byte order.
pub const LOOP: u32 = 108;
/// Linux "cooked" capture (tcpdump -i any, older versions).
pub const LINUX_SLL: u32 = 113;
/// Raw IPv4 only.
pub const IPV4: u32 = 228;
/// Raw IPv6 only.
pub const IPV6: u32 = 229;
/// Linux "cooked" capture v2 (tcpdump -i any).
pub const LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q, 802.1ad (QinQ outer tag), and the pre-standard QinQ tag.
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];
/// More stacked tags than this is not a real frame.
const MAX_VLAN_TAGS: usize = 4;

/// The IP packet a frame of link type `link` carries, or `None` when it carries something
/// else or the link type is one we do not read.
///
/// Trailing bytes past the IP length (Ethernet padding, a frame check sequence) are cut off;
/// a packet shorter than its IP length (cut by the snapshot length) is returned as captured.
pub fn ip_packet(link: u32, frame: &[u8]) -> Option<&[u8]> {
    find(link, frame).map(|found| found.packet)
}

/// An IP packet found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Found<'a> {
    /// Where the IP header starts in the frame.
    pub start: usize,
    /// The packet as captured, trailing link bytes cut off.
    pub packet: &'a [u8],
    /// The IP length its header claims; `None` when the header does not say (an IPv4 total
    /// length of 0, as segmentation offload leaves it, or an IPv6 jumbogram).
    pub claimed: Option<usize>,
}

/// The IP packet in a frame of link type `link`, with where it starts.
pub(super) fn find(link: u32, frame: &[u8]) -> Option<Found<'_>> {
    let (start, version) = match link {
        NULL | LOOP => (4, Some(loopback_version(frame)?)),
        ETHERNET => ethernet(frame)?,
        RAW => (0, None),
        IPV4 => (0, Some(4)),
        IPV6 => (0, Some(6)),
        LINUX_SLL => (16, Some(ethertype_version(be16(frame, 14)?)?)),
        LINUX_SLL2 => (20, Some(ethertype_version(be16(frame, 0)?)?)),
        _ => return None,
    };
    let (packet, claimed) = ip(frame.get(start..)?, version)?;
    Some(Found {
        start,
        packet,
        claimed,
    })
}

/// Where an Ethernet frame's payload starts, past any VLAN tags, and its IP version.
fn ethernet(frame: &[u8]) -> Option<(usize, Option<u8>)> {
    let mut at = 12;
    let mut ethertype = be16(frame, at)?;
    for _ in 0..MAX_VLAN_TAGS {
        if !ETHERTYPE_VLAN.contains(&ethertype) {
            break;
        }
        at += 4;
        ethertype = be16(frame, at)?;
    }
    Some((at + 2, Some(ethertype_version(ethertype)?)))
}

fn ethertype_version(ethertype: u16) -> Option<u8> {
    match ethertype {
        ETHERTYPE_IPV4 => Some(4),
        ETHERTYPE_IPV6 => Some(6),
        _ => None,
    }
}

/// NULL and LOOP: the family is in host order for NULL and network order for LOOP, but
/// captures moved between machines get both wrong, so either order is accepted.
fn loopback_version(frame: &[u8]) -> Option<u8> {
    let header: [u8; 4] = frame.get(..4)?.try_into().ok()?;
    let family = match u32::from_le_bytes(header) {
        small @ 0..=0xffff => small,
        _ => u32::from_be_bytes(header),
    };
    match family {
        2 => Some(4),
        // AF_INET6 is 10 on Linux, 24 on NetBSD and OpenBSD, 28 on FreeBSD, 30 on macOS.
        10 | 24 | 28 | 30 => Some(6),
        _ => None,
    }
}

/// The packet if its version nibble is `version` (or either, for `None`), trimmed to its IP
/// length, and that length when the header gives one.
fn ip(packet: &[u8], version: Option<u8>) -> Option<(&[u8], Option<usize>)> {
    let found = packet.first()? >> 4;
    if version.is_some_and(|v| v != found) {
        return None;
    }
    let ip_len = match found {
        4 => usize::from(be16(packet, 2).unwrap_or(0)),
        // A zero payload length is a jumbogram's: its length is elsewhere, keep it all.
        6 => match be16(packet, 4) {
            Some(0) | None => 0,
            Some(n) => 40 + usize::from(n),
        },
        _ => return None,
    };
    // An IP length too small to be real says nothing about padding: keep the bytes.
    if ip_len < 20 {
        return Some((packet, None));
    }
    Some((packet.get(..ip_len).unwrap_or(packet), Some(ip_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 header claiming `total` bytes, followed by `extra` padding bytes.
    fn v4(total: u16, extra: usize) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(total) + extra];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p
    }

    #[test]
    fn ethernet_padding_is_trimmed() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&v4(40, 6));
        assert_eq!(ip_packet(ETHERNET, &frame).map(<[u8]>::len), Some(40));
    }

    #[test]
    fn stacked_vlan_tags_are_skipped() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x86, 0xdd]);
        let mut v6 = vec![0u8; 40];
        v6[0] = 0x60;
        frame.extend_from_slice(&v6);
        assert_eq!(ip_packet(ETHERNET, &frame), Some(&v6[..]));
    }

    #[test]
    fn wrong_version_or_family_is_not_ip() {
        assert_eq!(ip_packet(IPV6, &v4(20, 0)), None);
        let mut frame = 7u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&v4(20, 0));
        assert_eq!(ip_packet(NULL, &frame), None);
        assert_eq!(ip_packet(ETHERNET, &[0u8; 13]), None);
        assert_eq!(ip_packet(147, &v4(20, 0)), None);
    }

    #[test]
    fn loopback_family_in_either_order() {
        for header in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let mut frame = header.to_vec();
            frame.extend_from_slice(&v4(20, 0));
            assert_eq!(ip_packet(LOOP, &frame).map(<[u8]>::len), Some(20));
        }
    }

    #[test]
    fn snapped_packet_is_kept_as_captured() {
        let mut p = v4(1500, 0);
        p.truncate(96);
        assert_eq!(ip_packet(RAW, &p).map(<[u8]>::len), Some(96));
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&p);
        let found = find(ETHERNET, &frame).unwrap();
        assert_eq!((found.start, found.claimed), (14, Some(1500)));
    }

    #[test]
    fn offloaded_length_zero_is_not_claimed() {
        let mut p = v4(100, 0);
        p[2..4].fill(0);
        let found = find(RAW, &p).unwrap();
        assert_eq!((found.packet.len(), found.claimed), (100, None));
    }
}
