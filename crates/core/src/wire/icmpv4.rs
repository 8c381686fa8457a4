//! ICMPv4 (RFC 792): echo, destination unreachable, and the rest as opaque type/code.

use super::WireError;

/// An ICMPv4 message the stack understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
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
    /// `data` is the offending packet's IP header and leading payload bytes.
    DstUnreachable {
        code: u8,
        next_hop_mtu: u16,
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

impl<'a> Icmpv4Repr<'a> {
    /// Parses an ICMPv4 message, verifying its checksum.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let _ = buf;
        todo!("wire helper")
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        todo!("wire helper")
    }

    /// Writes the message with its checksum into the front of `buf`. Returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let _ = buf;
        todo!("wire helper")
    }
}
