//! The receive path: parse, check the addresses, demultiplex; and ICMP.

use std::net::{IpAddr, SocketAddr};

use super::host::{Control, Stack, is_unicast};
use super::{DropReason, Event};
use crate::tcp::{SeqNum, State};
use crate::time::Instant;
use crate::wire::icmpv4::Icmpv4Repr;
use crate::wire::icmpv6::Icmpv6Repr;
use crate::wire::{
    IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpPacket, TcpRepr, WireError, checksum, parse_ip,
    tcp,
};

impl Stack {
    /// An IP packet arrived from the link. Malformed packets are dropped and counted, never
    /// trusted further than they parsed.
    pub fn receive(&mut self, now: Instant, packet: &[u8]) {
        self.advance(now);
        self.counters.packets_in += 1;
        let (ip, payload) = match parse_ip(packet) {
            Ok(parsed) => parsed,
            Err(e) => return self.drop_packet(DropReason::Malformed(e)),
        };
        // MUST-57: only our unicast addresses; broadcast and multicast are dropped silently.
        if !self.config.addrs.contains(&ip.dst) {
            return self.drop_packet(DropReason::NotOurs);
        }
        match ip.protocol {
            IpProtocol::Tcp => self.receive_tcp(&ip, payload),
            IpProtocol::Icmp if ip.src.is_ipv4() => self.receive_icmpv4(&ip, payload),
            IpProtocol::Icmpv6 if ip.src.is_ipv6() => self.receive_icmpv6(&ip, payload),
            _ => self.drop_packet(DropReason::UnknownProtocol),
        }
    }

    pub(super) fn drop_packet(&mut self, reason: DropReason) {
        let c = &mut self.counters;
        match reason {
            DropReason::Malformed(WireError::BadChecksum) => c.dropped_bad_checksum += 1,
            DropReason::Malformed(_) => c.dropped_malformed += 1,
            DropReason::NotOurs => c.dropped_not_ours += 1,
            DropReason::UnknownProtocol => c.dropped_unknown_protocol += 1,
            DropReason::BacklogFull => c.dropped_backlog_full += 1,
            DropReason::Unacceptable => c.dropped_unacceptable += 1,
        }
        if self.config.record_events {
            self.events.push_back(Event::Dropped {
                at: self.now,
                reason,
            });
        }
    }

    fn receive_tcp(&mut self, ip: &IpRepr, payload: &[u8]) {
        // The checks in `TcpRepr::parse`'s order (length and data offset, checksum, options),
        // but the payload is read once: a connection's in-order data is copied into its
        // receive ring's free space while it is summed (`stage_payload`), and kept (without
        // another copy) only if the segment is then processed. A bad checksum drops the
        // segment before anything else looks at it, as before.
        let packet = match TcpPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return self.drop_packet(DropReason::Malformed(e)),
        };
        let (header, data) = payload.split_at(packet.header_len());
        let mut sum = tcp::header_sum(header, payload.len(), ip.src, ip.dst);
        let local = SocketAddr::new(ip.dst, packet.dst_port());
        let remote = SocketAddr::new(ip.src, packet.src_port());
        let socket = self.demux.get(local, remote);
        let seq = SeqNum(packet.seq_number());
        let staged = socket
            .and_then(|s| self.entry_mut(s))
            .and_then(|e| e.conn.stage_payload(seq, data));
        sum += match staged {
            Some(payload_sum) => payload_sum,
            None => checksum::accumulate(0, data),
        };
        if !tcp::sum_verifies(sum) {
            self.unstage(socket, staged.is_some());
            return self.drop_packet(DropReason::Malformed(WireError::BadChecksum));
        }
        self.receive_verified(ip, packet, local, remote, socket);
        self.unstage(socket, staged.is_some());
    }

    fn unstage(&mut self, socket: Option<super::SocketHandle>, staged: bool) {
        if let Some(entry) = socket.filter(|_| staged).and_then(|s| self.entry_mut(s)) {
            entry.conn.unstage_payload();
        }
    }

    /// A TCP segment whose checksum holds, checked by `TcpPacket::new_checked` already, to
    /// `local` from `remote`; `socket` is what the demultiplexer holds for that 4-tuple
    /// (looked up once, for staging).
    fn receive_verified(
        &mut self,
        ip: &IpRepr,
        packet: TcpPacket<&[u8]>,
        local: SocketAddr,
        remote: SocketAddr,
        socket: Option<super::SocketHandle>,
    ) {
        // `TcpRepr::from_packet` in its two steps, so the header is built where it is used.
        let options = match TcpOptions::parse(packet.options()) {
            Ok(options) => options,
            Err(e) => return self.drop_packet(DropReason::Malformed(e)),
        };
        let seg = TcpRepr::with_options(&packet, options);
        let data = packet.into_payload();
        self.counters.segments_in += 1;
        // MUST-63: a segment from a broadcast or multicast source, or to port 0, is no peer's.
        if !is_unicast(ip.src) || seg.src_port == 0 || seg.dst_port == 0 {
            return self.drop_packet(DropReason::Unacceptable);
        }

        if let Some(socket) = socket
            && !self.reopens_time_wait(socket, &seg)
        {
            self.with_conn(socket, |conn, ctx| conn.on_segment(ctx, &seg, data));
            self.touch(socket);
            return;
        }
        match self.find_listener(local) {
            Some(listener) => self.listen_input(listener, local, remote, &seg),
            None => self.reply_rst(local, remote, &seg, data.len()),
        }
    }

    /// A new SYN may take over a 4-tuple in TIME-WAIT when its sequence number is beyond
    /// everything the old connection saw (RFC 9293 §3.6.1, RFC 1122 4.2.2.13). Returns
    /// whether the old connection was closed for it.
    fn reopens_time_wait(&mut self, socket: super::SocketHandle, seg: &TcpRepr) -> bool {
        // The segment's flags first: nearly every one has ACK, and then no lookup is needed.
        if seg.flags.contains(TcpFlags::ACK) || !seg.flags.contains(TcpFlags::SYN) {
            return false;
        }
        let Some(entry) = self.entry(socket) else {
            return false;
        };
        let conn = &entry.conn;
        if conn.state() != State::TimeWait
            || SeqNum(seg.seq) <= conn.rcv_nxt()
            || self.find_listener(conn.local()).is_none()
        {
            return false;
        }
        self.with_conn(socket, |conn, ctx| conn.end_time_wait(ctx));
        self.touch(socket);
        true
    }

    /// The listener for `local`: bound to exactly that address, else to the wildcard address
    /// of its family.
    pub(super) fn find_listener(&self, local: SocketAddr) -> Option<super::ListenerHandle> {
        if let Some(&l) = self.listen_map.get(&local) {
            return Some(l);
        }
        let any: IpAddr = if local.is_ipv4() {
            IpAddr::from([0u8; 4])
        } else {
            IpAddr::from([0u16; 8])
        };
        self.listen_map
            .get(&SocketAddr::new(any, local.port()))
            .copied()
    }

    /// RFC 9293 §3.10.7.2: a segment for a LISTEN socket.
    fn listen_input(
        &mut self,
        listener: super::ListenerHandle,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &TcpRepr,
    ) {
        let flags = seg.flags;
        if flags.contains(TcpFlags::RST) {
            return;
        }
        if flags.contains(TcpFlags::ACK) {
            self.queue_control(Control::Rst {
                local,
                remote,
                seq: seg.ack,
                ack: None,
            });
            return;
        }
        if !flags.contains(TcpFlags::SYN) {
            return self.drop_packet(DropReason::Unacceptable);
        }
        let Some(l) = self.listener_mut(listener) else {
            return;
        };
        if l.children >= l.backlog {
            return self.drop_packet(DropReason::BacklogFull);
        }
        l.children += 1;
        let socket =
            self.insert_connection(local, remote, State::Listen, Some(listener), |conn, ctx| {
                conn.accept_syn(ctx, SeqNum(seg.seq), seg.window, &seg.options)
            });
        self.touch(socket);
    }

    /// RFC 9293 §3.10.7.1: a segment for no connection gets a RST, unless it is one.
    fn reply_rst(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &TcpRepr,
        payload_len: usize,
    ) {
        if seg.flags.contains(TcpFlags::RST) {
            return;
        }
        let control = if seg.flags.contains(TcpFlags::ACK) {
            Control::Rst {
                local,
                remote,
                seq: seg.ack,
                ack: None,
            }
        } else {
            let seg_len = payload_len
                + usize::from(seg.flags.contains(TcpFlags::SYN))
                + usize::from(seg.flags.contains(TcpFlags::FIN));
            Control::Rst {
                local,
                remote,
                seq: 0,
                ack: Some((SeqNum(seg.seq) + seg_len).0),
            }
        };
        self.queue_control(control);
    }

    /// Queues the answer to an echo request (ICMPv4 or ICMPv6, by the request's family).
    fn echo(&mut self, ip: &IpRepr, ident: u16, seq_no: u16, data: &[u8]) {
        self.queue_control(Control::EchoReply {
            src: ip.dst,
            dst: ip.src,
            ident,
            seq_no,
            data: data.to_vec(),
        });
    }

    fn receive_icmpv4(&mut self, ip: &IpRepr, payload: &[u8]) {
        match Icmpv4Repr::parse(payload) {
            Ok(Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }) => self.echo(ip, ident, seq_no, data),
            Ok(Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                data,
            }) => {
                let error = match code {
                    // Fragmentation needed: path MTU discovery (RFC 1191).
                    4 => IcmpError::PacketTooBig(usize::from(next_hop_mtu)),
                    // MUST-56: net, host and source-route failures are soft.
                    0 | 1 | 5 => IcmpError::Soft,
                    _ => IcmpError::Hard,
                };
                self.icmp_error(data, error);
            }
            Ok(_) => {}
            Err(e) => self.drop_packet(DropReason::Malformed(e)),
        }
    }

    fn receive_icmpv6(&mut self, ip: &IpRepr, payload: &[u8]) {
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (ip.src, ip.dst) else {
            return;
        };
        match Icmpv6Repr::parse(src, dst, payload) {
            Ok(Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }) => self.echo(ip, ident, seq_no, data),
            Ok(Icmpv6Repr::PacketTooBig { mtu, data }) => {
                self.icmp_error(data, IcmpError::PacketTooBig(mtu.min(65535) as usize))
            }
            // Port unreachable (4) is hard; the rest (no route, prohibited, ...) soft.
            Ok(Icmpv6Repr::DstUnreachable { code, data }) => self.icmp_error(
                data,
                if code == 4 {
                    IcmpError::Hard
                } else {
                    IcmpError::Soft
                },
            ),
            Ok(_) => {}
            Err(e) => self.drop_packet(DropReason::Malformed(e)),
        }
    }

    /// Acts on an ICMP error about a segment we sent (MUST-54), once the quoted segment is
    /// shown to be ours: its sequence number must be in flight (RFC 5927 §4.1).
    fn icmp_error(&mut self, quoted: &[u8], error: IcmpError) {
        let Some((local, remote, seq)) = quoted_tcp(quoted) else {
            return;
        };
        let Some(socket) = self.demux.get(local, remote) else {
            return;
        };
        self.with_conn(socket, |conn, ctx| conn.on_icmp_error(ctx, seq, error));
        self.touch(socket);
    }
}

/// What an ICMP error means to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpError {
    /// The path cannot carry packets this large: the new MTU.
    PacketTooBig(usize),
    /// The destination refused (port or protocol unreachable).
    Hard,
    /// A transient routing problem: report it, don't abort (MUST-56).
    Soft,
}

/// The 4-tuple and sequence number of the TCP segment quoted in an ICMP error: the IP header
/// and at least 8 bytes of TCP.
fn quoted_tcp(quoted: &[u8]) -> Option<(SocketAddr, SocketAddr, SeqNum)> {
    let version = quoted.first()? >> 4;
    let (src, dst, header): (IpAddr, IpAddr, usize) = match version {
        4 => {
            let ihl = usize::from(quoted[0] & 0x0f) * 4;
            if quoted.len() < ihl + 8 || ihl < 20 || quoted[9] != 6 {
                return None;
            }
            let s: [u8; 4] = quoted[12..16].try_into().ok()?;
            let d: [u8; 4] = quoted[16..20].try_into().ok()?;
            (s.into(), d.into(), ihl)
        }
        6 => {
            if quoted.len() < 48 || quoted[6] != 6 {
                return None;
            }
            let s: [u8; 16] = quoted[8..24].try_into().ok()?;
            let d: [u8; 16] = quoted[24..40].try_into().ok()?;
            (s.into(), d.into(), 40)
        }
        _ => return None,
    };
    let tcp = &quoted[header..];
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    Some((
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        SeqNum(seq),
    ))
}

/// Writes an echo reply (ICMPv4 or ICMPv6 by address family) with its IP header.
pub(super) fn emit_echo_reply(
    ttl: u8,
    src: IpAddr,
    dst: IpAddr,
    ident: u16,
    seq_no: u16,
    data: &[u8],
    buf: &mut [u8],
) -> usize {
    // Trim the echoed data so the reply fits the link.
    let room = buf
        .len()
        .saturating_sub(if src.is_ipv4() { 28 } else { 48 });
    let data = &data[..data.len().min(room)];
    match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let icmp = Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            let ip = IpRepr {
                src,
                dst,
                protocol: IpProtocol::Icmpv6,
                ttl,
                payload_len: icmp.buffer_len(),
            };
            let h = ip.emit(buf);
            h + icmp.emit(s, d, &mut buf[h..])
        }
        _ => {
            let icmp = Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            };
            let ip = IpRepr {
                src,
                dst,
                protocol: IpProtocol::Icmp,
                ttl,
                payload_len: icmp.buffer_len(),
            };
            let h = ip.emit(buf);
            h + icmp.emit(&mut buf[h..])
        }
    }
}
