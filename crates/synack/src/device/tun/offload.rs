//! The frames of a [`Tun`](super::Tun) with virtio-net offload. Reads: a TCP super-segment
//! of up to 64 KiB goes to the stack whole, as Linux's GRO hands one to its own TCP, once its
//! checksum is completed. Sends: consecutive segments of a flow are coalesced into
//! super-segments (GRO towards the kernel) by tun-rs's `GROTable`, in buffers allocated once
//! and reused.

use std::io;

use synack_core::wire::checksum::{accumulate, fold};
use tun_rs::{
    GROTable, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_LEN, VirtioNetHdr,
};

/// The largest packet a plain TUN read can return when the MTU is at its maximum.
const MAX_PACKET: usize = 65_535;
/// The largest super-segment the kernel hands over (its legacy GSO limit, 64 KiB).
const MAX_SUPER: usize = 65_536;
/// Packets coalesced per submission, as wireguard-go batches them.
const TX_BATCH: usize = tun_rs::IDEAL_BATCH_SIZE;
/// Where a packet starts in a send buffer: the virtio header goes in front of it.
const TX_OFFSET: usize = VIRTIO_NET_HDR_LEN;
/// A send buffer's fixed capacity. tun-rs coalesces into a buffer only while the result fits
/// in `2 * offset + len`, so this caps a super-segment at 65,535 bytes, the IPv4 limit.
const TX_CAPACITY: usize = 2 * TX_OFFSET + MAX_PACKET;
/// The virtio header's first byte (its flags, 0 or 1 once written) marking a packet that
/// tun-rs merged into another: `GROTable` does not say which buffers remain to be written,
/// but it writes a header on each of them and on no other.
const MERGED: u8 = 0xff;
/// `virtio_net_hdr.gso_type` of a plain packet.
const GSO_NONE: u8 = 0;
/// `virtio_net_hdr.gso_type`'s bit saying the segments carry ECN's CWR.
const GSO_ECN: u8 = 0x80;
/// `virtio_net_hdr.flags`: the transport checksum is partial (CHECKSUM_PARTIAL).
const NEEDS_CSUM: u8 = 1;

/// The buffer one kernel read lands in: a packet, or with offload a virtio header and a
/// (super-)segment.
pub(super) fn read_buffer(offload: bool) -> Vec<u8> {
    if offload {
        vec![0; VIRTIO_NET_HDR_LEN + MAX_SUPER]
    } else {
        vec![0; MAX_PACKET]
    }
}

/// Makes a read `frame` (virtio header, then an IP packet) whole for the stack: completes a
/// partial transport checksum. Returns how many segments the packet carries (a super-segment
/// is cut at `gso_size` on a real wire), or `None` when the framing cannot be right.
///
/// Super-segments other than TCP (UDP GSO) go whole too: the stack speaks no UDP, and drops
/// and counts them as it would their pieces.
pub(super) fn complete(frame: &mut [u8]) -> Option<u64> {
    let hdr = VirtioNetHdr::decode(frame).ok()?;
    let packet = frame.get_mut(VIRTIO_NET_HDR_LEN..)?;
    if packet.is_empty() {
        return None;
    }
    if hdr.flags & NEEDS_CSUM != 0 {
        let start = usize::from(hdr.csum_start);
        let at = start + usize::from(hdr.csum_offset);
        if at + 2 > packet.len() {
            return None;
        }
        // The field holds the pseudo-header's sum, so summing over it completes the sum.
        let sum = !fold(accumulate(0, &packet[start..]));
        packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }
    match hdr.gso_type & !GSO_ECN {
        GSO_NONE => Some(1),
        VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6 if hdr.gso_size == 0 => None,
        _ => Some(frame_packets(frame)),
    }
}

/// Offload only: packets `send` queued, each in its own buffer after room for a header.
pub(super) struct TxBatch {
    /// Grown to at most [`TX_BATCH`] buffers as bursts need them, then reused.
    bufs: Vec<Vec<u8>>,
    /// How many of `bufs` hold a queued packet.
    pub(super) len: usize,
    gro: GROTable,
}

impl TxBatch {
    pub(super) fn new() -> TxBatch {
        TxBatch {
            bufs: Vec::with_capacity(TX_BATCH),
            len: 0,
            gro: GROTable::new(),
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.len >= TX_BATCH
    }

    /// Queues a copy of `packet`; false if it cannot be an IP packet (empty, or over 64 KiB).
    pub(super) fn push(&mut self, packet: &[u8]) -> bool {
        if packet.is_empty() || packet.len() > MAX_PACKET {
            return false;
        }
        if self.len == self.bufs.len() {
            self.bufs.push(Vec::with_capacity(TX_CAPACITY));
        }
        let buf = &mut self.bufs[self.len];
        buf.clear();
        buf.resize(TX_OFFSET, 0);
        buf[0] = MERGED;
        buf.extend_from_slice(packet);
        self.len += 1;
        true
    }

    /// Merges runs of consecutive segments of a flow into super-segments, each with its
    /// virtio header; [`TxBatch::frames`] then yields what to write. tun-rs fails only on a
    /// buffer without a packet, which `push` never queues; the batch is then unusable.
    pub(super) fn coalesce(&mut self, udp_gso: bool) -> io::Result<()> {
        self.gro
            .apply_gro(&mut self.bufs[..self.len], TX_OFFSET, udp_gso)
    }

    /// The frames to write after [`TxBatch::coalesce`], in order: a virtio header and a
    /// packet or super-segment each.
    pub(super) fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs[..self.len]
            .iter()
            .filter(|buf| buf[0] != MERGED)
            .map(|buf| &buf[TX_OFFSET - VIRTIO_NET_HDR_LEN..])
    }
}

/// How many packets a virtio frame carries: one, or a super-segment's pieces.
pub(super) fn frame_packets(frame: &[u8]) -> u64 {
    let Ok(hdr) = VirtioNetHdr::decode(frame) else {
        return 1;
    };
    if hdr.gso_type == GSO_NONE || hdr.gso_size == 0 {
        return 1;
    }
    let payload = frame
        .len()
        .saturating_sub(VIRTIO_NET_HDR_LEN + usize::from(hdr.hdr_len));
    payload.div_ceil(usize::from(hdr.gso_size)).max(1) as u64
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use synack_core::wire::tcp::{TcpFlags, TcpRepr, fill_checksum};
    use synack_core::wire::{IpProtocol, IpRepr, parse_ip};

    use super::*;

    const V4: (&str, &str) = ("10.77.0.2", "10.77.0.1");
    const V6: (&str, &str) = ("fd77::2", "fd77::1");

    /// A TCP segment from port `port` to 80 with `len` payload bytes, each `seq + i` mod 251,
    /// and its checksums filled.
    fn segment(addrs: (&str, &str), port: u16, seq: u32, len: usize, flags: TcpFlags) -> Vec<u8> {
        let (src, dst): (IpAddr, IpAddr) = (addrs.0.parse().unwrap(), addrs.1.parse().unwrap());
        let tcp = TcpRepr {
            src_port: port,
            dst_port: 80,
            seq,
            ack: 1,
            flags,
            window: 512,
            urgent: 0,
            options: Default::default(),
        };
        let ip = IpRepr {
            src,
            dst,
            protocol: IpProtocol::Tcp,
            ttl: 64,
            payload_len: tcp.header_len() + len,
        };
        let mut packet = vec![0; ip.buffer_len()];
        let at = ip.emit(&mut packet);
        let data = at + tcp.emit_header(&mut packet[at..]);
        for (i, b) in packet[data..].iter_mut().enumerate() {
            *b = ((seq as usize + i) % 251) as u8;
        }
        fill_checksum(&mut packet[at..], src, dst);
        packet
    }

    /// Queues `packets`, coalesces them, and returns the frames to write.
    fn coalesced(packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut tx = TxBatch::new();
        for p in packets {
            assert!(tx.push(p));
        }
        tx.coalesce(false).unwrap();
        tx.frames().map(<[u8]>::to_vec).collect()
    }

    /// (gso_type, gso_size, packets) of a frame.
    fn shape(frame: &[u8]) -> (u8, u16, u64) {
        let hdr = VirtioNetHdr::decode(frame).unwrap();
        (hdr.gso_type, hdr.gso_size, frame_packets(frame))
    }

    #[test]
    fn a_read_super_segment_goes_whole_with_its_checksum_completed() {
        // What we write to the kernel has the very shape the kernel writes to us: a partial
        // checksum (the pseudo-header's sum) and a gso_size.
        for addrs in [V4, V6] {
            let packets: Vec<Vec<u8>> = (0..10)
                .map(|i| segment(addrs, 1000, 1 + i * 1400, 1400, TcpFlags::ACK))
                .collect();
            let frames = coalesced(&packets);
            assert_eq!(frames.len(), 1);
            let mut frame = frames[0].clone();
            let (ip, payload) = parse_ip(&frame[VIRTIO_NET_HDR_LEN..]).unwrap();
            assert!(
                TcpRepr::parse(payload, ip.src, ip.dst, true).is_err(),
                "a partial checksum must not pass as whole"
            );
            assert_eq!(complete(&mut frame), Some(10));
            let (ip, payload) = parse_ip(&frame[VIRTIO_NET_HDR_LEN..]).unwrap();
            let (tcp, data) = TcpRepr::parse(payload, ip.src, ip.dst, true).unwrap();
            assert_eq!(tcp.seq, 1);
            let whole: Vec<u8> = packets
                .iter()
                .flat_map(|p| p[p.len() - 1400..].to_vec())
                .collect();
            assert_eq!(data, &whole[..]);
        }
    }

    #[test]
    fn a_plain_read_goes_as_it_is_and_bad_framing_is_refused() {
        let packet = segment(V4, 1000, 7, 100, TcpFlags::ACK);
        let mut frame = vec![0; VIRTIO_NET_HDR_LEN];
        frame.extend_from_slice(&packet);
        assert_eq!(complete(&mut frame), Some(1));
        assert_eq!(&frame[VIRTIO_NET_HDR_LEN..], &packet[..]);
        // Too short for a header, a header and no packet, a checksum past the end.
        assert_eq!(complete(&mut [0; 4]), None);
        assert_eq!(complete(&mut [0; VIRTIO_NET_HDR_LEN]), None);
        frame[0] = NEEDS_CSUM;
        frame[6..8].copy_from_slice(&(packet.len() as u16).to_le_bytes());
        assert_eq!(complete(&mut frame), None);
    }

    #[test]
    fn a_run_of_segments_becomes_one_super_segment_per_family() {
        for (addrs, gso_type) in [
            (V4, tun_rs::VIRTIO_NET_HDR_GSO_TCPV4),
            (V6, tun_rs::VIRTIO_NET_HDR_GSO_TCPV6),
        ] {
            let packets: Vec<Vec<u8>> = (0..20)
                .map(|i| segment(addrs, 5000, 1000 * i, 1000, TcpFlags::ACK))
                .collect();
            let frames = coalesced(&packets);
            assert_eq!(frames.len(), 1, "{addrs:?}");
            assert_eq!(shape(&frames[0]), (gso_type, 1000, 20), "{addrs:?}");
            // One header, then every payload byte in order.
            let header = packets[0].len() - 1000;
            let payload = &frames[0][VIRTIO_NET_HDR_LEN + header..];
            assert_eq!(payload.len(), 20_000);
            assert!(
                payload
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| usize::from(b) == i % 251)
            );
        }
    }

    #[test]
    fn every_packet_is_written_once_whatever_merges() {
        // Two flows interleaved, a pure ACK, a PSH ending a run, a gap, a reversed pair
        // (which tun-rs merges by prepending), and the other family.
        let a = |seq, flags| segment(V4, 5000, seq, 1000, flags);
        let b = |seq| segment(V4, 5001, seq, 500, TcpFlags::ACK);
        let packets = vec![
            a(0, TcpFlags::ACK),
            b(0),
            a(1000, TcpFlags::ACK),
            segment(V4, 5002, 7, 0, TcpFlags::ACK),
            b(500),
            a(2000, TcpFlags::ACK | TcpFlags::PSH),
            a(3000, TcpFlags::ACK),
            a(9000, TcpFlags::ACK),
            b(1500),
            b(1000),
            segment(V6, 5000, 0, 1000, TcpFlags::ACK),
            segment(V6, 5000, 1000, 1000, TcpFlags::ACK),
        ];
        let frames = coalesced(&packets);
        let total: u64 = frames.iter().map(|f| frame_packets(f)).sum();
        assert_eq!(total, packets.len() as u64);
        // Flow b's two pairs, the second merged in reverse order.
        let shapes: Vec<_> = frames.iter().map(|f| shape(f)).collect();
        let b_pairs = shapes.iter().filter(|s| s.1 == 500 && s.2 == 2).count();
        assert_eq!(b_pairs, 2, "{shapes:?}");
        // The payload bytes each frame carries add up to those queued.
        let payload = |p: &[u8], ip: usize| p.len() - ip - 20;
        let queued: usize = packets
            .iter()
            .map(|p| payload(p, if p[0] >> 4 == 4 { 20 } else { 40 }))
            .sum();
        let written: usize = frames
            .iter()
            .map(|f| {
                let p = &f[VIRTIO_NET_HDR_LEN..];
                payload(p, if p[0] >> 4 == 4 { 20 } else { 40 })
            })
            .sum();
        assert_eq!(written, queued);
    }

    #[test]
    fn a_lone_packet_goes_as_it_is_with_an_empty_header() {
        let packet = segment(V4, 5000, 0, 100, TcpFlags::ACK);
        let frames = coalesced(std::slice::from_ref(&packet));
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0][..VIRTIO_NET_HDR_LEN], &[0; VIRTIO_NET_HDR_LEN]);
        assert_eq!(&frames[0][VIRTIO_NET_HDR_LEN..], &packet[..]);
        assert_eq!(frame_packets(&frames[0]), 1);
    }

    #[test]
    fn a_super_segment_never_passes_64_kib() {
        let packets: Vec<Vec<u8>> = (0..100)
            .map(|i| segment(V4, 5000, 1400 * i, 1400, TcpFlags::ACK))
            .collect();
        let frames = coalesced(&packets);
        assert!(frames.len() >= 3, "{} frames", frames.len());
        assert!(
            frames
                .iter()
                .all(|f| f.len() - VIRTIO_NET_HDR_LEN <= MAX_PACKET)
        );
        assert_eq!(frames.iter().map(|f| frame_packets(f)).sum::<u64>(), 100);
    }

    #[test]
    fn no_ip_packet_is_refused_before_the_kernel() {
        let mut tx = TxBatch::new();
        assert!(!tx.push(&[]));
        assert!(!tx.push(&vec![0x45; MAX_PACKET + 1]));
        assert_eq!(tx.len, 0);
    }
}
