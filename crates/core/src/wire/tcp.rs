//! TCP header (RFC 9293 §3.1) and options: MSS, window scale, SACK-permitted, SACK,
//! timestamps, EOL and NOP; unknown options are skipped by their length.

use std::net::IpAddr;

use super::WireError;

/// The most SACK blocks one segment carries (RFC 2018: four fit in 40 option bytes, three
/// beside timestamps).
pub const MAX_SACK_BLOCKS: usize = 4;

/// The eight TCP control bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    pub const NONE: TcpFlags = TcpFlags(0);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the set bits, in the order SYN ACK FIN RST PSH URG ECE CWR.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const ORDER: [(TcpFlags, &str); 8] = [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
        ];
        ORDER
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl core::fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut first = true;
        for n in self.names() {
            if !first {
                f.write_str("|")?;
            }
            f.write_str(n)?;
            first = false;
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// One TCP option as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOperation,
    MaxSegmentSize(u16),
    WindowScale(u8),
    SackPermitted,
    /// 1 to 4 blocks of (left edge, right edge).
    Sack(&'a [u8]),
    Timestamps {
        tsval: u32,
        tsecr: u32,
    },
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

/// Iterates over the options area of a TCP header. Yields `Err(BadOptionLength)` once and then
/// stops when an option's length is illegal; stops after `EndOfList`.
pub struct TcpOptionIter<'a> {
    _buf: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    pub fn new(options: &'a [u8]) -> Self {
        let _ = options;
        todo!("wire helper")
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        todo!("wire helper")
    }
}

/// The options of one segment, decoded into what TCP uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (tsval, tsecr)
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks as (left, right); only the first `sack_len` are meaningful.
    pub sack: [(u32, u32); MAX_SACK_BLOCKS],
    pub sack_len: u8,
}

impl TcpOptions {
    /// The SACK blocks present.
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        &self.sack[..self.sack_len as usize]
    }

    /// Decodes an options area. Unknown options are skipped; an illegal length, or a known
    /// option whose length is wrong for its kind, is an error.
    pub fn parse(options: &[u8]) -> Result<TcpOptions, WireError> {
        let _ = options;
        todo!("wire helper")
    }

    /// Bytes `emit` writes: the options padded with zeros to a multiple of 4 (RFC 9293 MUST-69).
    pub fn buffer_len(&self) -> usize {
        todo!("wire helper")
    }

    /// Writes the options (NOP-aligned the usual way, padded to 4 bytes) into `buf`.
    /// Returns the bytes written. Panics if `buf` is shorter than `buffer_len()`.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let _ = buf;
        todo!("wire helper")
    }
}

/// A zero-copy view of a TCP segment.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Checks the buffer holds the fixed header and that the data offset is within 5..=15 and
    /// inside the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let _ = buffer;
        todo!("wire helper")
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn src_port(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn dst_port(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn seq_number(&self) -> u32 {
        todo!("wire helper")
    }
    pub fn ack_number(&self) -> u32 {
        todo!("wire helper")
    }
    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        todo!("wire helper")
    }
    pub fn flags(&self) -> TcpFlags {
        todo!("wire helper")
    }
    pub fn window_len(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn checksum(&self) -> u16 {
        todo!("wire helper")
    }
    pub fn urgent_pointer(&self) -> u16 {
        todo!("wire helper")
    }
    /// The raw options area.
    pub fn options(&self) -> &[u8] {
        todo!("wire helper")
    }
    pub fn payload(&self) -> &[u8] {
        todo!("wire helper")
    }
    /// Verifies the checksum over the pseudo-header and the whole segment.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let _ = (src, dst);
        todo!("wire helper")
    }
}

/// A TCP header, decoded: everything but the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The window field as sent (before any scaling).
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
}

impl TcpRepr {
    /// Decodes a segment: checks the checksum if `verify_checksum`, decodes the options.
    /// Returns the header and the payload.
    pub fn parse(
        buf: &[u8],
        src: IpAddr,
        dst: IpAddr,
        verify_checksum: bool,
    ) -> Result<(TcpRepr, &[u8]), WireError> {
        let _ = (buf, src, dst, verify_checksum);
        todo!("wire helper")
    }

    /// The header length `emit_header` writes, options included.
    pub fn header_len(&self) -> usize {
        20 + self.options.buffer_len()
    }

    /// Writes the header (checksum zero) into the front of `buf`. Returns the header length.
    pub fn emit_header(&self, buf: &mut [u8]) -> usize {
        let _ = buf;
        todo!("wire helper")
    }
}

/// Computes and writes the checksum of a whole segment (header and payload) in `segment`.
pub fn fill_checksum(segment: &mut [u8], src: IpAddr, dst: IpAddr) {
    let _ = (segment, src, dst);
    todo!("wire helper")
}
