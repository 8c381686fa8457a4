//! Wire formats: zero-copy packet views and in-place emitters.
//!
//! Each protocol has a `*Packet<T: AsRef<[u8]>>` view over a buffer and, where the stack needs
//! one, a `*Repr` that parses from a view and emits into a buffer. After `new_checked`
//! succeeds no accessor of a view can panic: every length the accessors use was checked.

pub mod checksum;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;

pub use ip::{IpProtocol, IpRepr, parse_ip};
pub use tcp::{MAX_SACK_BLOCKS, TcpFlags, TcpOption, TcpOptions, TcpPacket, TcpRepr};

use core::fmt;

/// Why a packet could not be parsed. Every variant is a reason to drop the packet and count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer is shorter than a header or a length field says.
    Truncated,
    /// The IP version nibble is neither 4 nor 6, or not the one expected.
    BadVersion,
    /// IPv4 IHL under 5, or a length field inconsistent with the buffer.
    BadHeaderLength,
    /// A header checksum does not verify.
    BadChecksum,
    /// TCP data offset under 5 or past the end of the segment.
    BadDataOffset,
    /// A TCP option whose length byte is illegal (under 2, past the options, or wrong for its kind).
    BadOptionLength,
    /// A fragment: the stack does not reassemble IP fragments.
    Fragmented,
    /// Malformed IPv6 extension header chain.
    BadExtensionHeader,
    /// A source or destination address no host may use (multicast or broadcast source, ...).
    BadAddress,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "truncated packet",
            WireError::BadVersion => "bad IP version",
            WireError::BadHeaderLength => "bad header length",
            WireError::BadChecksum => "bad checksum",
            WireError::BadDataOffset => "bad TCP data offset",
            WireError::BadOptionLength => "bad TCP option length",
            WireError::Fragmented => "IP fragment",
            WireError::BadExtensionHeader => "bad IPv6 extension header",
            WireError::BadAddress => "bad address",
        })
    }
}

impl std::error::Error for WireError {}
