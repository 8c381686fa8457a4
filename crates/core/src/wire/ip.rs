//! Version-independent view of an IP packet: what the stack needs to demultiplex.

use std::net::IpAddr;

use super::WireError;

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

    /// Writes the IP header into the front of `buf` (IPv4 with its checksum; DF set).
    /// `buf` must hold at least `header_len()` bytes. Returns the header length.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let _ = buf;
        todo!("wire helper")
    }
}

/// Parses an IPv4 or IPv6 packet (chosen by its version nibble), verifying the IPv4 header
/// checksum and skipping IPv6 extension headers. Returns the header and the upper-layer
/// payload, trimmed to the length the header states (link padding removed).
pub fn parse_ip(buf: &[u8]) -> Result<(IpRepr, &[u8]), WireError> {
    let _ = buf;
    todo!("wire helper")
}
