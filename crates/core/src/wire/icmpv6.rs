//! ICMPv6 (RFC 4443): echo, destination unreachable, packet too big.

use std::net::{IpAddr, Ipv6Addr};

use super::{WireError, checksum};

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

/// ICMPv6 message types the stack knows.
pub mod msg_type {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
}

/// Length of the ICMPv6 header: type, code, checksum and four type-specific bytes.
pub const HEADER_LEN: usize = 8;

const ICMPV6_PROTOCOL: u8 = 58;

/// The folded sum of the pseudo-header and `msg`: 0xffff when the checksum verifies.
fn message_sum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let pseudo = checksum::pseudo_header(
        IpAddr::V6(src),
        IpAddr::V6(dst),
        ICMPV6_PROTOCOL,
        msg.len() as u32,
    );
    checksum::fold(checksum::accumulate(pseudo, msg))
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses an ICMPv6 message, verifying its checksum over the pseudo-header.
    ///
    /// `buf` is the whole message (the upper-layer payload). Errors: `Truncated` under the
    /// 8-byte header, `BadChecksum`. Unknown types (NDP, MLD, ...) are `Other`. Never panics.
    pub fn parse(src: Ipv6Addr, dst: Ipv6Addr, buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if message_sum(src, dst, buf) != 0xffff {
            return Err(WireError::BadChecksum);
        }
        let (msg, code) = (buf[0], buf[1]);
        let word = |at: usize| u16::from_be_bytes([buf[at], buf[at + 1]]);
        let data = &buf[HEADER_LEN..];
        Ok(match msg {
            msg_type::ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: word(4),
                seq_no: word(6),
                data,
            },
            msg_type::ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: word(4),
                seq_no: word(6),
                data,
            },
            msg_type::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable { code, data },
            msg_type::PACKET_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
                data,
            },
            msg_type::TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, data },
            _ => Icmpv6Repr::Other {
                msg_type: msg,
                code,
            },
        })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::PacketTooBig { data, .. }
            | Icmpv6Repr::TimeExceeded { data, .. } => data,
            Icmpv6Repr::Other { .. } => &[],
        }
    }

    /// Writes the message with its checksum into the front of `buf`. Returns its length.
    ///
    /// Packet Too Big is sent with code 0; `Other` as its 8-byte header with zeros. An error
    /// message's `data` should be cut so the whole packet fits the minimum MTU (RFC 4443
    /// §2.4(c)); that is the caller's job. Panics if `buf` is shorter than `buffer_len()`.
    pub fn emit(&self, src: Ipv6Addr, dst: Ipv6Addr, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let (msg, code, rest): (u8, u8, [u8; 4]) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, words(ident, seq_no))
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, words(ident, seq_no))
            }
            Icmpv6Repr::DstUnreachable { code, .. } => (msg_type::DST_UNREACHABLE, code, [0; 4]),
            Icmpv6Repr::PacketTooBig { mtu, .. } => {
                (msg_type::PACKET_TOO_BIG, 0, mtu.to_be_bytes())
            }
            Icmpv6Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, [0; 4]),
            Icmpv6Repr::Other { msg_type, code } => (msg_type, code, [0; 4]),
        };
        buf[0] = msg;
        buf[1] = code;
        buf[2..4].fill(0);
        buf[4..8].copy_from_slice(&rest);
        buf[HEADER_LEN..].copy_from_slice(self.data());
        let sum = !message_sum(src, dst, buf);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
        len
    }
}

fn words(a: u16, b: u16) -> [u8; 4] {
    let [a0, a1] = a.to_be_bytes();
    let [b0, b1] = b.to_be_bytes();
    [a0, a1, b0, b1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        ("fe80::1".parse().unwrap(), "fe80::2".parse().unwrap())
    }

    fn round_trip(repr: Icmpv6Repr<'_>) {
        let (src, dst) = addrs();
        let mut buf = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(src, dst, &mut buf), buf.len());
        assert_eq!(Icmpv6Repr::parse(src, dst, &buf), Ok(repr));
    }

    #[test]
    fn round_trips() {
        round_trip(Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"ping",
        });
        round_trip(Icmpv6Repr::EchoReply {
            ident: 0xffff,
            seq_no: 0,
            data: b"odd",
        });
        round_trip(Icmpv6Repr::DstUnreachable {
            code: 4,
            data: &[0x60, 0, 0, 0],
        });
        round_trip(Icmpv6Repr::PacketTooBig {
            mtu: 1280,
            data: &[0x60; 9],
        });
        round_trip(Icmpv6Repr::TimeExceeded { code: 1, data: &[] });
        round_trip(Icmpv6Repr::Other {
            msg_type: 135,
            code: 0,
        });
    }

    #[test]
    fn known_echo_request() {
        // An echo request computed with a separate script: fe80::1 -> fe80::2, ident 1, seq 2.
        let (src, dst) = addrs();
        let msg = [128, 0, 0x82, 0xb5, 0, 1, 0, 2];
        assert_eq!(
            Icmpv6Repr::parse(src, dst, &msg),
            Ok(Icmpv6Repr::EchoRequest {
                ident: 1,
                seq_no: 2,
                data: &[]
            })
        );
    }

    #[test]
    fn checksum_covers_pseudo_header() {
        let (src, dst) = addrs();
        let repr = Icmpv6Repr::PacketTooBig {
            mtu: 1400,
            data: &[1, 2, 3],
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(src, dst, &mut buf);
        assert_eq!(
            Icmpv6Repr::parse(src, "fe80::3".parse().unwrap(), &buf),
            Err(WireError::BadChecksum)
        );
        buf[4] ^= 1;
        assert_eq!(
            Icmpv6Repr::parse(src, dst, &buf),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn truncated() {
        let (src, dst) = addrs();
        for len in 0..HEADER_LEN {
            assert_eq!(
                Icmpv6Repr::parse(src, dst, &[128, 0, 0, 0, 0, 0, 0, 0][..len]),
                Err(WireError::Truncated)
            );
        }
    }
}
