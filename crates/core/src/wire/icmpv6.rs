//! ICMPv6 (RFC 4443): echo, destination unreachable, packet too big.

use std::net::Ipv6Addr;

use super::WireError;

/// An ICMPv6 message the stack understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    DstUnreachable {
        code: u8,
        data: &'a [u8],
    },
    PacketTooBig {
        mtu: u32,
        data: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        data: &'a [u8],
    },
    Other {
        msg_type: u8,
        code: u8,
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses an ICMPv6 message, verifying its checksum over the pseudo-header.
    pub fn parse(src: Ipv6Addr, dst: Ipv6Addr, buf: &'a [u8]) -> Result<Self, WireError> {
        let _ = (src, dst, buf);
        todo!("wire helper")
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        todo!("wire helper")
    }

    /// Writes the message with its checksum into the front of `buf`. Returns its length.
    pub fn emit(&self, src: Ipv6Addr, dst: Ipv6Addr, buf: &mut [u8]) -> usize {
        let _ = (src, dst, buf);
        todo!("wire helper")
    }
}
