//! From bytes to a TCP segment: the only place the wire parsers are called.

use std::net::SocketAddr;

use synack_core::wire::{IpProtocol, TcpFlags, TcpPacket, TcpRepr, parse_ip};

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
    pub payload: &'a [u8],
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

/// Parses an IP packet holding TCP.
///
/// The TCP checksum is not verified: captures taken on a host with checksum offload hold
/// outgoing segments whose checksum the NIC fills in later, and they are still real traffic.
pub(crate) fn parse(t_ns: u64, order: u64, data: &[u8]) -> Parsed<'_> {
    let Ok((ip, l4)) = parse_ip(data) else {
        return Parsed::Malformed;
    };
    if ip.protocol != IpProtocol::Tcp {
        return Parsed::NotTcp;
    }
    let Ok((tcp, payload)) = TcpRepr::parse(l4, ip.src, ip.dst, false) else {
        return Parsed::Malformed;
    };
    let Ok(view) = TcpPacket::new_checked(l4) else {
        return Parsed::Malformed;
    };
    // `view.options()` borrows the view; slice the buffer itself so the options outlive it.
    let options = l4.get(20..view.header_len()).unwrap_or(&[]);
    Parsed::Tcp(Segment {
        t_ns,
        order,
        src: SocketAddr::new(ip.src, tcp.src_port),
        dst: SocketAddr::new(ip.dst, tcp.dst_port),
        tcp,
        options,
        payload,
    })
}
