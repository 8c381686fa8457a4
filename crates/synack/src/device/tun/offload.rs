//! The frames of a [`Tun`](super::Tun) with virtio-net offload. Reads: a TCP super-segment
//! of up to 64 KiB goes to the stack whole, as Linux's GRO hands one to its own TCP, once its
//! checksum is completed. Sends: consecutive segments of a flow are coalesced into
//! super-segments (GRO towards the kernel, as wireguard-go and gVisor do), in buffers
//! allocated once and reused; the kernel cuts them again (TSO) where they leave.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_core::wire::checksum::{accumulate, fold, pseudo_header};
use tun_rs::{
    VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_LEN, VirtioNetHdr,
};

/// The largest packet a plain TUN read can return when the MTU is at its maximum.
const MAX_PACKET: usize = 65_535;
/// The largest super-segment the kernel hands over (its legacy GSO limit, 64 KiB).
const MAX_SUPER: usize = 65_536;
/// Frames per submission, as wireguard-go batches them.
const TX_BATCH: usize = tun_rs::IDEAL_BATCH_SIZE;
/// Where a packet starts in a send buffer: the virtio header goes in front of it.
const TX_OFFSET: usize = VIRTIO_NET_HDR_LEN;
/// A send buffer's fixed capacity: a header and a (super-)segment of up to 65,535 bytes, the
/// IPv4 limit.
const TX_CAPACITY: usize = TX_OFFSET + MAX_PACKET;
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

/// Offload only: the packets `send` queued, coalesced as they come into frames, each a virtio
/// header and a packet or a TCP super-segment, in buffers allocated once and reused.
///
/// A segment joins the newest frame of its flow when it carries on from it exactly as the
/// kernel's own GRO would merge it: same addresses, ports, IP fields, ACK, window and option
/// bytes, the next sequence number, ACK (and, to end the run, PSH) its only flags, and a
/// payload no larger than the first one's (a smaller one ends the run). The stack's segments
/// of one burst are just that; anything else starts a frame of its own, so every packet is
/// written once and a flow's order is kept.
pub(super) struct TxBatch {
    /// Grown to at most [`TX_BATCH`] frames as bursts need them, then reused.
    frames: Vec<Frame>,
    /// How many of `frames` are in use.
    len: usize,
}

/// One frame being built.
struct Frame {
    /// Room for the virtio header, then the IP packet.
    buf: Vec<u8>,
    /// Segments it carries.
    packets: u64,
    /// The run of segments it carries, if it began one.
    run: Option<Run>,
    /// Whether a following segment may still join the run.
    open: bool,
}

/// What a segment must match to join a frame.
#[derive(Clone, Copy)]
struct Run {
    /// IP header length: 20 (IPv4 without options) or 40 (IPv6 with TCP next).
    ip_len: usize,
    /// TCP header length, options included.
    tcp_len: usize,
    /// Payload of every segment but the last: the super-segment's `gso_size`.
    segment: usize,
    /// The sequence number the next segment must start at.
    next_seq: u32,
}

/// A TCP segment's layout, if it is one a super-segment could carry.
struct Segment {
    ip_len: usize,
    tcp_len: usize,
    payload: usize,
    seq: u32,
    flags: u8,
}

const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

impl Segment {
    /// Parses the fixed headers: IPv4 without options or IPv6 without extension headers,
    /// carrying TCP whose lengths agree with the packet's.
    fn parse(packet: &[u8]) -> Option<Segment> {
        let ip_len = match packet.first()? >> 4 {
            4 if packet[0] & 0x0f == 5 && packet.get(9) == Some(&6) => {
                let total = u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]);
                (usize::from(total) == packet.len()).then_some(20)?
            }
            6 if packet.get(6) == Some(&6) => {
                let payload = u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?]);
                (usize::from(payload) + 40 == packet.len()).then_some(40)?
            }
            _ => return None,
        };
        let tcp = packet.get(ip_len..)?;
        let tcp_len = usize::from(tcp.get(12)? >> 4) * 4;
        if tcp_len < 20 || tcp_len > tcp.len() {
            return None;
        }
        Some(Segment {
            ip_len,
            tcp_len,
            payload: tcp.len() - tcp_len,
            seq: u32::from_be_bytes(tcp[4..8].try_into().ok()?),
            flags: tcp[13],
        })
    }

    /// Whether a run may start at this segment, and go on after it.
    fn starts_run(&self) -> bool {
        self.payload > 0 && self.flags == TCP_ACK
    }
}

impl Frame {
    fn packet(&self) -> &[u8] {
        &self.buf[TX_OFFSET..]
    }

    /// Whether `packet` (parsed as `seg`) carries on this frame's run.
    fn continues(&self, packet: &[u8], seg: &Segment) -> bool {
        let Some(run) = self.run.filter(|_| self.open) else {
            return false;
        };
        let first = self.packet();
        let (ip, tcp) = (run.ip_len, run.tcp_len);
        let same = |r: std::ops::Range<usize>| first[r.clone()] == packet[r];
        seg.ip_len == ip
            && seg.tcp_len == tcp
            && seg.seq == run.next_seq
            && (seg.flags == TCP_ACK || seg.flags == TCP_ACK | TCP_PSH)
            && seg.payload > 0
            && seg.payload <= run.segment
            && first.len() + seg.payload <= MAX_PACKET
            // IPv4: version, TOS; flags, fragment offset, TTL, protocol; addresses (the
            // length, ID and checksum differ). IPv6: version, class, flow label; next
            // header, hop limit, addresses (the length differs).
            && if ip == 20 {
                same(0..2) && same(6..10) && same(12..20)
            } else {
                same(0..4) && same(6..40)
            }
            // TCP: ports; ACK number; data offset; window, checksum skipped, urgent pointer,
            // options.
            && same(ip..ip + 4)
            && same(ip + 8..ip + 13)
            && same(ip + 14..ip + 16)
            && same(ip + 18..ip + tcp)
            && first[ip + 13] == TCP_ACK
    }

    /// Appends `packet`'s payload to this frame's run.
    fn append(&mut self, packet: &[u8], seg: &Segment) {
        let Some(run) = &mut self.run else {
            return;
        };
        let (ip, tcp) = (run.ip_len, run.tcp_len);
        self.buf.extend_from_slice(&packet[ip + tcp..]);
        self.packets += 1;
        run.next_seq = run.next_seq.wrapping_add(seg.payload as u32);
        let at = TX_OFFSET;
        let len = self.buf.len() - at;
        if ip == 20 {
            self.buf[at + 2..at + 4].copy_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf[at + 4..at + 6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
        }
        self.buf[at + ip + 13] = seg.flags;
        if seg.payload < run.segment || seg.flags & TCP_PSH != 0 {
            self.open = false;
        }
    }

    /// Writes the virtio header; a super-segment gets its IPv4 header checksum redone and
    /// its TCP checksum left partial (the pseudo-header's sum), for the kernel to finish
    /// per segment.
    fn finish(&mut self) {
        let hdr = match self.run {
            Some(Run {
                ip_len: ip,
                tcp_len: tcp,
                segment,
                ..
            }) if self.packets > 1 => {
                let at = TX_OFFSET;
                let len = self.buf.len() - at;
                let (src, dst): (IpAddr, IpAddr) = if ip == 20 {
                    self.buf[at + 10..at + 12].fill(0);
                    let sum = !fold(accumulate(0, &self.buf[at..at + 20]));
                    self.buf[at + 10..at + 12].copy_from_slice(&sum.to_be_bytes());
                    let a = |i: usize| -> [u8; 4] {
                        self.buf[at + i..at + i + 4].try_into().unwrap_or_default()
                    };
                    (Ipv4Addr::from(a(12)).into(), Ipv4Addr::from(a(16)).into())
                } else {
                    let a = |i: usize| -> [u8; 16] {
                        self.buf[at + i..at + i + 16].try_into().unwrap_or_default()
                    };
                    (Ipv6Addr::from(a(8)).into(), Ipv6Addr::from(a(24)).into())
                };
                let partial = fold(pseudo_header(src, dst, 6, (len - ip) as u32));
                self.buf[at + ip + 16..at + ip + 18].copy_from_slice(&partial.to_be_bytes());
                VirtioNetHdr {
                    flags: NEEDS_CSUM,
                    gso_type: if ip == 20 {
                        VIRTIO_NET_HDR_GSO_TCPV4
                    } else {
                        VIRTIO_NET_HDR_GSO_TCPV6
                    },
                    hdr_len: (ip + tcp) as u16,
                    gso_size: segment as u16,
                    csum_start: ip as u16,
                    csum_offset: 16,
                }
            }
            _ => VirtioNetHdr::default(),
        };
        // The buffer always has room for the header in front.
        let _ = hdr.encode(&mut self.buf[TX_OFFSET - VIRTIO_NET_HDR_LEN..]);
    }
}

impl TxBatch {
    pub(super) fn new() -> TxBatch {
        TxBatch {
            frames: Vec::with_capacity(TX_BATCH),
            len: 0,
        }
    }

    /// Whether no more frames fit: time to write them.
    pub(super) fn is_full(&self) -> bool {
        self.len >= TX_BATCH
    }

    /// Packets queued.
    #[cfg(test)]
    fn packets(&self) -> u64 {
        self.frames[..self.len].iter().map(|f| f.packets).sum()
    }

    /// Queues a copy of `packet`, joining it to its flow's newest frame where it carries on
    /// that frame's run; false if it cannot be an IP packet (empty, or over 64 KiB).
    pub(super) fn push(&mut self, packet: &[u8]) -> bool {
        if packet.is_empty() || packet.len() > MAX_PACKET {
            return false;
        }
        let seg = Segment::parse(packet);
        if let Some(seg) = &seg {
            // The newest frame of the same flow (addresses and ports): only it may grow, so
            // a flow's segments stay in order.
            let flow = |p: &[u8]| -> bool {
                let (ip, addrs) = if seg.ip_len == 20 {
                    (20, 12..20)
                } else {
                    (40, 8..40)
                };
                p.len() >= ip + 4
                    && p[0] >> 4 == packet[0] >> 4
                    && p[addrs.clone()] == packet[addrs]
                    && p[ip..ip + 4] == packet[ip..ip + 4]
            };
            if let Some(frame) = self.frames[..self.len]
                .iter_mut()
                .rev()
                .find(|f| flow(f.packet()))
                && frame.continues(packet, seg)
            {
                frame.append(packet, seg);
                return true;
            }
        }
        if self.len == self.frames.len() {
            self.frames.push(Frame {
                buf: Vec::with_capacity(TX_CAPACITY),
                packets: 0,
                run: None,
                open: false,
            });
        }
        let frame = &mut self.frames[self.len];
        frame.buf.clear();
        frame.buf.resize(TX_OFFSET, 0);
        frame.buf.extend_from_slice(packet);
        frame.packets = 1;
        frame.run = seg.filter(Segment::starts_run).map(|s| Run {
            ip_len: s.ip_len,
            tcp_len: s.tcp_len,
            segment: s.payload,
            next_seq: s.seq.wrapping_add(s.payload as u32),
        });
        frame.open = frame.run.is_some();
        self.len += 1;
        true
    }

    /// Writes every frame's virtio header; [`TxBatch::frames`] then yields what to write.
    pub(super) fn finish(&mut self) {
        for frame in &mut self.frames[..self.len] {
            frame.finish();
        }
    }

    /// The frames to write after [`TxBatch::finish`], in order, with the packets each
    /// carries; then [`TxBatch::clear`].
    pub(super) fn frames(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.frames[..self.len]
            .iter()
            .map(|f| (&f.buf[TX_OFFSET - VIRTIO_NET_HDR_LEN..], f.packets))
    }

    /// Empties the batch, keeping its buffers.
    pub(super) fn clear(&mut self) {
        self.len = 0;
    }
}

/// How many packets a virtio frame carries: one, or a super-segment's pieces.
fn frame_packets(frame: &[u8]) -> u64 {
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
        assert_eq!(tx.packets(), packets.len() as u64);
        tx.finish();
        tx.frames().map(|(f, _)| f.to_vec()).collect()
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
        // Two flows interleaved, a pure ACK, a PSH ending a run, a gap, a reversed pair, and
        // the other family.
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
        // Flow a: 0-2000 (ended by PSH), 3000, 9000. Flow b: 0-500 merged; 1500 and 1000
        // stay apart (merging them would reorder). The pure ACK and each family apart.
        let shapes: Vec<_> = frames.iter().map(|f| shape(f)).collect();
        let v4 = tun_rs::VIRTIO_NET_HDR_GSO_TCPV4;
        let v6 = tun_rs::VIRTIO_NET_HDR_GSO_TCPV6;
        assert_eq!(
            shapes,
            [
                (v4, 1000, 3),
                (v4, 500, 2),
                (0, 0, 1),
                (0, 0, 1),
                (0, 0, 1),
                (0, 0, 1),
                (0, 0, 1),
                (v6, 1000, 2)
            ],
            "{shapes:?}"
        );
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
