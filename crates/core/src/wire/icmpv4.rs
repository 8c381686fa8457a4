//! ICMPv4 (RFC 792): echo, destination unreachable, and the rest as opaque type/code.

use super::{WireError, checksum};

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

/// ICMPv4 message types the stack knows.
pub mod msg_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
}

/// Destination-unreachable code "fragmentation needed and DF set", which carries the next-hop
/// MTU (RFC 1191 §4).
pub const CODE_FRAG_NEEDED: u8 = 4;

/// Length of the ICMPv4 header: type, code, checksum and four type-specific bytes.
pub const HEADER_LEN: usize = 8;

impl<'a> Icmpv4Repr<'a> {
    /// Parses an ICMPv4 message, verifying its checksum.
    ///
    /// `buf` is the whole message (the IP payload). Errors: `Truncated` under the 8-byte
    /// header, `BadChecksum`. Unknown types are `Other`. Never panics.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if checksum::fold(checksum::accumulate(0, buf)) != 0xffff {
            return Err(WireError::BadChecksum);
        }
        let (msg, code) = (buf[0], buf[1]);
        let word = |at: usize| u16::from_be_bytes([buf[at], buf[at + 1]]);
        let data = &buf[HEADER_LEN..];
        Ok(match msg {
            msg_type::ECHO_REQUEST => Icmpv4Repr::EchoRequest {
                ident: word(4),
                seq_no: word(6),
                data,
            },
            msg_type::ECHO_REPLY => Icmpv4Repr::EchoReply {
                ident: word(4),
                seq_no: word(6),
                data,
            },
            msg_type::DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: if code == CODE_FRAG_NEEDED { word(6) } else { 0 },
                data,
            },
            msg_type::TIME_EXCEEDED => Icmpv4Repr::TimeExceeded { code, data },
            _ => Icmpv4Repr::Other {
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
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. } => data,
            Icmpv4Repr::Other { .. } => &[],
        }
    }

    /// Writes the message with its checksum into the front of `buf`. Returns its length.
    ///
    /// The next-hop MTU is written only for code 4 (elsewhere those bytes are unused, zero);
    /// `Other` is written as its 8-byte header with zeros. Panics if `buf` is shorter than
    /// `buffer_len()`.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let (msg, code, rest): (u8, u8, [u8; 4]) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, words(ident, seq_no))
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, words(ident, seq_no))
            }
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => {
                let mtu = if code == CODE_FRAG_NEEDED {
                    next_hop_mtu
                } else {
                    0
                };
                (msg_type::DST_UNREACHABLE, code, words(0, mtu))
            }
            Icmpv4Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, [0; 4]),
            Icmpv4Repr::Other { msg_type, code } => (msg_type, code, [0; 4]),
        };
        buf[0] = msg;
        buf[1] = code;
        buf[2..4].fill(0);
        buf[4..8].copy_from_slice(&rest);
        buf[HEADER_LEN..].copy_from_slice(self.data());
        let sum = checksum::checksum(buf);
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

    /// An echo request (ident 0x1234, seq 1, data "abcd"); checksum computed by hand.
    const PING: [u8; 12] = [
        8, 0, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd',
    ];

    fn round_trip(repr: Icmpv4Repr<'_>) {
        let mut buf = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(&mut buf), buf.len());
        assert_eq!(Icmpv4Repr::parse(&buf), Ok(repr));
    }

    #[test]
    fn known_echo_request() {
        assert_eq!(
            Icmpv4Repr::parse(&PING),
            Ok(Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"abcd"
            })
        );
        let mut buf = [0u8; 12];
        Icmpv4Repr::parse(&PING).unwrap().emit(&mut buf);
        assert_eq!(buf, PING);
    }

    #[test]
    fn bad_checksum_and_truncated() {
        let mut b = PING;
        b[11] ^= 0x80;
        assert_eq!(Icmpv4Repr::parse(&b), Err(WireError::BadChecksum));
        for len in 0..HEADER_LEN {
            assert_eq!(Icmpv4Repr::parse(&PING[..len]), Err(WireError::Truncated));
        }
    }

    #[test]
    fn round_trips() {
        round_trip(Icmpv4Repr::EchoReply {
            ident: 7,
            seq_no: 0xffff,
            data: b"odd",
        });
        round_trip(Icmpv4Repr::DstUnreachable {
            code: CODE_FRAG_NEEDED,
            next_hop_mtu: 1280,
            data: &[0x45, 0, 0, 20],
        });
        round_trip(Icmpv4Repr::DstUnreachable {
            code: 3,
            next_hop_mtu: 0,
            data: &[],
        });
        round_trip(Icmpv4Repr::TimeExceeded {
            code: 0,
            data: &[1, 2, 3],
        });
        round_trip(Icmpv4Repr::Other {
            msg_type: 5,
            code: 1,
        });
    }

    #[test]
    fn next_hop_mtu_only_for_code_4() {
        let mut buf = [0u8; 8];
        Icmpv4Repr::DstUnreachable {
            code: CODE_FRAG_NEEDED,
            next_hop_mtu: 0x05dc,
            data: &[],
        }
        .emit(&mut buf);
        assert_eq!(&buf[4..8], &[0, 0, 0x05, 0xdc]);
        Icmpv4Repr::DstUnreachable {
            code: 1,
            next_hop_mtu: 0x05dc,
            data: &[],
        }
        .emit(&mut buf);
        assert_eq!(&buf[4..8], &[0; 4]);
    }
}
