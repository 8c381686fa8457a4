//! TCP header (RFC 9293 §3.1) and options: MSS, window scale, SACK-permitted, SACK,
//! timestamps, EOL and NOP; unknown options are skipped by their length.

use std::net::IpAddr;

use super::{WireError, checksum};

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

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    pub const END_OF_LIST: u8 = 0;
    pub const NO_OPERATION: u8 = 1;
    pub const MAX_SEGMENT_SIZE: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// The most option bytes a header holds (data offset 15).
pub const MAX_OPTIONS_LEN: usize = 40;

/// The largest window shift (RFC 7323 §2.3).
pub const MAX_WINDOW_SCALE: u8 = 14;

/// Iterates over the options area of a TCP header. Yields `Err(BadOptionLength)` once and then
/// stops when an option's length is illegal; stops after `EndOfList`.
///
/// RFC 9293 §3.2: EOL and NOP are one byte, every other option has a length byte counting
/// kind and length. A length under 2 or running past the options area is illegal (MUST-7), as
/// is a length wrong for a known kind; unknown kinds are skipped by their length (MUST-6).
/// Nothing assumes alignment (MUST-64). Known options are yielded with their wire values (a
/// window shift is not clamped here).
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    buf: &'a [u8],
}

impl<'a> TcpOptionIter<'a> {
    /// Iterates over `options`, the bytes between the fixed header and the data.
    pub fn new(options: &'a [u8]) -> Self {
        TcpOptionIter { buf: options }
    }

    fn fail(&mut self) -> Option<Result<TcpOption<'a>, WireError>> {
        self.buf = &[];
        Some(Err(WireError::BadOptionLength))
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>, WireError>;
    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        let &k = buf.first()?;
        match k {
            kind::END_OF_LIST => {
                self.buf = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            kind::NO_OPERATION => {
                self.buf = &buf[1..];
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        let Some(&len) = buf.get(1) else {
            return self.fail();
        };
        let len = usize::from(len);
        if len < 2 || len > buf.len() {
            return self.fail();
        }
        let data = &buf[2..len];
        let option = match (k, data.len()) {
            (kind::MAX_SEGMENT_SIZE, 2) => {
                TcpOption::MaxSegmentSize(u16::from_be_bytes([data[0], data[1]]))
            }
            (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(data[0]),
            (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (kind::SACK, n) if n % 8 == 0 && (8..=8 * MAX_SACK_BLOCKS).contains(&n) => {
                TcpOption::Sack(data)
            }
            (kind::TIMESTAMPS, 8) => TcpOption::Timestamps {
                tsval: be32(&data[0..4]),
                tsecr: be32(&data[4..8]),
            },
            (
                kind::MAX_SEGMENT_SIZE
                | kind::WINDOW_SCALE
                | kind::SACK_PERMITTED
                | kind::SACK
                | kind::TIMESTAMPS,
                _,
            ) => return self.fail(),
            _ => TcpOption::Unknown { kind: k, data },
        };
        self.buf = &buf[len..];
        Some(Ok(option))
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The options of one segment, decoded into what TCP uses.
///
/// Equality ignores the unused `sack` slots past `sack_len`.
#[derive(Debug, Clone, Copy, Eq, Default)]
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

impl PartialEq for TcpOptions {
    fn eq(&self, other: &Self) -> bool {
        self.mss == other.mss
            && self.window_scale == other.window_scale
            && self.sack_permitted == other.sack_permitted
            && self.timestamps == other.timestamps
            && self.sack_blocks() == other.sack_blocks()
    }
}

impl TcpOptions {
    /// The SACK blocks present.
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        &self.sack[..usize::from(self.sack_len).min(MAX_SACK_BLOCKS)]
    }

    /// Decodes an options area. Unknown options are skipped; an illegal length, or a known
    /// option whose length is wrong for its kind, is an error.
    ///
    /// A window shift above 14 is read as 14 (RFC 7323 §2.3). If an option appears twice the
    /// last one wins.
    #[inline]
    pub fn parse(options: &[u8]) -> Result<TcpOptions, WireError> {
        // What nearly every segment after the handshake carries, read at once (and in line):
        // `1 1 8 10` and the two stamps (`parse_any` reads it the same, a byte at a time).
        if let Some((&[kind::NO_OPERATION, kind::NO_OPERATION, kind::TIMESTAMPS, 10], stamps)) =
            options.split_first_chunk::<4>()
            && stamps.len() == 8
        {
            return Ok(TcpOptions {
                timestamps: Some((be32(&stamps[..4]), be32(&stamps[4..]))),
                ..TcpOptions::default()
            });
        }
        TcpOptions::parse_any(options)
    }

    /// [`parse`](Self::parse) of any options area.
    fn parse_any(options: &[u8]) -> Result<TcpOptions, WireError> {
        let mut out = TcpOptions::default();
        for option in TcpOptionIter::new(options) {
            match option? {
                TcpOption::MaxSegmentSize(mss) => out.mss = Some(mss),
                TcpOption::WindowScale(shift) => {
                    out.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
                }
                TcpOption::SackPermitted => out.sack_permitted = true,
                TcpOption::Sack(blocks) => {
                    out.sack_len = 0;
                    for (slot, block) in out.sack.iter_mut().zip(blocks.chunks_exact(8)) {
                        *slot = (be32(&block[0..4]), be32(&block[4..8]));
                        out.sack_len += 1;
                    }
                }
                TcpOption::Timestamps { tsval, tsecr } => out.timestamps = Some((tsval, tsecr)),
                TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
            }
        }
        Ok(out)
    }

    /// Bytes of every option but SACK, in the layout `emit` writes.
    fn fixed_len(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.timestamps.is_some() {
            len += 12; // SACK-permitted rides in the NOP NOP slot before TS
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        len
    }

    /// How many SACK blocks `emit` writes: all of them if they fit in 40 bytes beside the
    /// other options, else as many as fit (three beside timestamps).
    pub fn sack_blocks_emitted(&self) -> usize {
        let room = MAX_OPTIONS_LEN.saturating_sub(self.fixed_len() + 4) / 8;
        self.sack_blocks().len().min(room)
    }

    /// The stamps, when timestamps are the only option.
    fn timestamps_only(&self) -> Option<(u32, u32)> {
        match (
            self.mss,
            self.sack_permitted,
            self.window_scale,
            self.sack_len,
        ) {
            (None, false, None, 0) => self.timestamps,
            _ => None,
        }
    }

    /// Bytes `emit` writes: the options padded with zeros to a multiple of 4 (RFC 9293 MUST-69).
    pub fn buffer_len(&self) -> usize {
        if self.timestamps_only().is_some() {
            return 12;
        }
        let sack = match self.sack_blocks_emitted() {
            0 => 0,
            n => 4 + 8 * n,
        };
        (self.fixed_len() + sack + 3) & !3
    }

    /// Writes the options (NOP-aligned the usual way, padded to 4 bytes) into `buf`.
    /// Returns the bytes written. Panics if `buf` is shorter than `buffer_len()`.
    ///
    /// The layout is Linux's: MSS; SACK-permitted and timestamps as `4 2 8 10 ...` (or
    /// `1 1 8 10 ...`, or `1 1 4 2` alone); `1 3 3 shift`; `1 1 5 len` and the SACK blocks.
    /// A window shift above 14 is sent as 14. SACK blocks that do not fit in 40 bytes are left
    /// out (see [`TcpOptions::sack_blocks_emitted`]); the first ones are kept, so put the most
    /// recent block first (RFC 2018 §4).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        // Timestamps alone, as on nearly every segment after the handshake: the general
        // path below writes the same 12 bytes.
        if let Some((tsval, tsecr)) = self.timestamps_only() {
            let buf = &mut buf[..12];
            buf[..4].copy_from_slice(&[
                kind::NO_OPERATION,
                kind::NO_OPERATION,
                kind::TIMESTAMPS,
                10,
            ]);
            buf[4..8].copy_from_slice(&tsval.to_be_bytes());
            buf[8..].copy_from_slice(&tsecr.to_be_bytes());
            return 12;
        }
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            put(&[kind::MAX_SEGMENT_SIZE, 4, hi, lo]);
        }
        match (self.sack_permitted, self.timestamps) {
            (sack_permitted, Some((tsval, tsecr))) => {
                if sack_permitted {
                    put(&[kind::SACK_PERMITTED, 2]);
                } else {
                    put(&[kind::NO_OPERATION, kind::NO_OPERATION]);
                }
                put(&[kind::TIMESTAMPS, 10]);
                put(&tsval.to_be_bytes());
                put(&tsecr.to_be_bytes());
            }
            (true, None) => put(&[
                kind::NO_OPERATION,
                kind::NO_OPERATION,
                kind::SACK_PERMITTED,
                2,
            ]),
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            put(&[
                kind::NO_OPERATION,
                kind::WINDOW_SCALE,
                3,
                shift.min(MAX_WINDOW_SCALE),
            ]);
        }
        let n = self.sack_blocks_emitted();
        if n > 0 {
            put(&[
                kind::NO_OPERATION,
                kind::NO_OPERATION,
                kind::SACK,
                (2 + 8 * n) as u8,
            ]);
            for &(left, right) in &self.sack_blocks()[..n] {
                put(&left.to_be_bytes());
                put(&right.to_be_bytes());
            }
        }
        // Pad with EOL (zero) bytes to the 4-byte boundary.
        buf[at..].fill(kind::END_OF_LIST);
        len
    }
}

mod field {
    use core::ops::Range;

    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const OPTIONS: usize = 20;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::OPTIONS;

/// A zero-copy view of a TCP segment.
///
/// After [`TcpPacket::new_checked`] succeeds no accessor can panic: the buffer holds the fixed
/// header and the data offset lies within 5..=15 and inside the buffer.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checks; accessors may panic. For emitting into a buffer of at
    /// least [`HEADER_LEN`] bytes.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Checks the buffer holds the fixed header and that the data offset is within 5..=15 and
    /// inside the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let packet = TcpPacket { buffer };
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = packet.header_len();
        if header_len < HEADER_LEN || header_len > len {
            return Err(WireError::BadDataOffset);
        }
        Ok(packet)
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SRC_PORT])
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DST_PORT])
    }
    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::SEQ_NUM])
    }
    /// Acknowledgment number (meaningful with ACK set).
    pub fn ack_number(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::ACK_NUM])
    }
    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }
    /// The eight control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }
    /// The window field, unscaled.
    pub fn window_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::WIN_SIZE])
    }
    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }
    /// Urgent pointer (meaningful with URG set).
    pub fn urgent_pointer(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::URGENT])
    }
    /// The raw options area.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }
    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// Verifies the checksum over the pseudo-header and the whole segment.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        segment_sum(self.buffer.as_ref(), src, dst) == 0xffff
    }
}

impl<'a> TcpPacket<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime rather than the view's.
    #[inline]
    pub fn into_payload(self) -> &'a [u8] {
        let start = self.header_len();
        &self.buffer[start..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn data(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.data()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.data()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, v: u32) {
        self.data()[field::SEQ_NUM].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, v: u32) {
        self.data()[field::ACK_NUM].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the header length in bytes (a multiple of 4, 20..=60); reserved bits cleared.
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(len.is_multiple_of(4) && (HEADER_LEN..=60).contains(&len));
        self.data()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }
    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.data()[field::FLAGS] = flags.0;
    }
    /// Sets the window field.
    pub fn set_window_len(&mut self, v: u16) {
        self.data()[field::WIN_SIZE].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, v: u16) {
        self.data()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the urgent pointer.
    pub fn set_urgent_pointer(&mut self, v: u16) {
        self.data()[field::URGENT].copy_from_slice(&v.to_be_bytes());
    }
    /// Computes and writes the checksum over the pseudo-header and the whole buffer.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        fill_checksum(self.buffer.as_mut(), src, dst);
    }
}

/// The folded sum of the pseudo-header and `segment`: 0xffff when the checksum verifies.
fn segment_sum(segment: &[u8], src: IpAddr, dst: IpAddr) -> u16 {
    let pseudo = checksum::pseudo_header(src, dst, TCP_PROTOCOL, segment.len() as u32);
    checksum::fold(checksum::accumulate(pseudo, segment))
}

const TCP_PROTOCOL: u8 = 6;

/// [`checksum::pseudo_header`] for a TCP segment of `len` bytes, its IPv4 case worked out
/// in line (it runs for every segment sent and received); the same sum.
#[inline]
fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> u64 {
    let len = len as u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let (s, d) = (s.to_bits(), d.to_bits());
            u64::from(s >> 16)
                + u64::from(s & 0xffff)
                + u64::from(d >> 16)
                + u64::from(d & 0xffff)
                + u64::from(TCP_PROTOCOL)
                + u64::from(len >> 16)
                + u64::from(len & 0xffff)
        }
        _ => checksum::pseudo_header(src, dst, TCP_PROTOCOL, len),
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
    ///
    /// Errors: `Truncated` (under 20 bytes), `BadDataOffset`, `BadChecksum`,
    /// `BadOptionLength`. Never panics.
    pub fn parse(
        buf: &[u8],
        src: IpAddr,
        dst: IpAddr,
        verify_checksum: bool,
    ) -> Result<(TcpRepr, &[u8]), WireError> {
        let p = TcpPacket::new_checked(buf)?;
        if verify_checksum && !p.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        TcpRepr::from_packet(p)
    }

    /// [`parse`](Self::parse) of a segment already checked by [`TcpPacket::new_checked`] (and
    /// its checksum verified, if it is to be): the header's fields and options decoded.
    /// Like the packet's accessors, panics on a buffer `new_checked` would have refused.
    pub fn from_packet(p: TcpPacket<&[u8]>) -> Result<(TcpRepr, &[u8]), WireError> {
        let options = TcpOptions::parse(p.options())?;
        Ok((TcpRepr::with_options(&p, options), p.into_payload()))
    }

    /// [`from_packet`](Self::from_packet) with the options already decoded, the one step
    /// that can fail: the fields read where the caller wants the header, with nothing to
    /// move out of a `Result` (this runs for every segment received).
    #[inline]
    pub fn with_options(p: &TcpPacket<&[u8]>, options: TcpOptions) -> TcpRepr {
        TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window_len(),
            urgent: p.urgent_pointer(),
            options,
        }
    }

    /// The header length `emit_header` writes, options included.
    pub fn header_len(&self) -> usize {
        20 + self.options.buffer_len()
    }

    /// [`emit_header`](Self::emit_header), also returning the running sum of the header
    /// written (for [`fill_checksum_with`]). With timestamps alone, as on nearly every
    /// segment after the handshake, the header is built whole and summed from the fields
    /// (the same bytes: `emit_header` lays the options out so), not read back.
    #[inline]
    pub fn emit_header_summed(&self, buf: &mut [u8]) -> (usize, u64) {
        let Some((tsval, tsecr)) = self.options.timestamps_only() else {
            let len = self.emit_header(buf);
            return (len, checksum::accumulate(0, &buf[..len]));
        };
        const LEN: usize = HEADER_LEN + 12;
        let offset_flags = [((LEN / 4) as u8) << 4, self.flags.0];
        let timestamps = [kind::NO_OPERATION, kind::NO_OPERATION, kind::TIMESTAMPS, 10];
        let mut h = [0u8; LEN];
        h[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        h[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        h[field::SEQ_NUM].copy_from_slice(&self.seq.to_be_bytes());
        h[field::ACK_NUM].copy_from_slice(&self.ack.to_be_bytes());
        h[field::DATA_OFF..field::FLAGS + 1].copy_from_slice(&offset_flags);
        h[field::WIN_SIZE].copy_from_slice(&self.window.to_be_bytes());
        h[field::URGENT].copy_from_slice(&self.urgent.to_be_bytes());
        h[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&timestamps);
        h[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&tsval.to_be_bytes());
        h[HEADER_LEN + 8..].copy_from_slice(&tsecr.to_be_bytes());
        buf[..LEN].copy_from_slice(&h);
        let words = |v: u32| u64::from(v >> 16) + u64::from(v & 0xffff);
        let sum = u64::from(self.src_port)
            + u64::from(self.dst_port)
            + words(self.seq)
            + words(self.ack)
            + u64::from(u16::from_be_bytes(offset_flags))
            + u64::from(self.window)
            + u64::from(self.urgent)
            + words(u32::from_be_bytes(timestamps))
            + words(tsval)
            + words(tsecr);
        (LEN, sum)
    }

    /// Writes the header (checksum zero) into the front of `buf`. Returns the header length.
    /// Panics if `buf` is shorter than `header_len()`.
    pub fn emit_header(&self, buf: &mut [u8]) -> usize {
        // The options first: writing them tells their length, which is then not worked out
        // a second time (this runs for every segment sent).
        let len = HEADER_LEN + self.options.emit(&mut buf[HEADER_LEN..]);
        let mut p = TcpPacket::new_unchecked(&mut buf[..len]);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack);
        p.set_header_len(len);
        p.set_flags(self.flags);
        p.set_window_len(self.window);
        p.set_checksum(0);
        p.set_urgent_pointer(self.urgent);
        len
    }
}

/// Computes and writes the checksum of a whole segment (header and payload) in `segment`.
/// Panics if `segment` is shorter than the fixed header.
pub fn fill_checksum(segment: &mut [u8], src: IpAddr, dst: IpAddr) {
    segment[field::CHECKSUM].fill(0);
    let sum = !segment_sum(segment, src, dst);
    segment[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
}

/// Writes the checksum of the segment in `segment` whose header (checksum field zero) and
/// payload have the running sum `sum`, taken as they were written (see
/// [`TcpRepr::emit_header_summed`]): nothing is read back here.
/// Panics if `segment` is shorter than the fixed header.
pub fn fill_checksum_with(segment: &mut [u8], sum: u64, src: IpAddr, dst: IpAddr) {
    let sum = !checksum::fold(pseudo_header(src, dst, segment.len()) + sum);
    segment[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
}

/// The running sum of a segment's pseudo-header and header (`header`, checksum field as
/// received): add the payload's sum, then [`sum_verifies`] says whether the checksum holds.
#[inline]
pub fn header_sum(header: &[u8], segment_len: usize, src: IpAddr, dst: IpAddr) -> u64 {
    header_words_sum(pseudo_header(src, dst, segment_len), header)
}

/// `checksum::accumulate(sum, header)` with the usual header (timestamps alone, 32 bytes)
/// summed as eight 32-bit words of a known count: congruent, modulo 0xffff, to its 16-bit
/// words (2^16 ≡ 1), as `accumulate` sums them, and folded to 33 bits as it folds.
#[inline]
fn header_words_sum(sum: u64, header: &[u8]) -> u64 {
    match header.first_chunk::<{ HEADER_LEN + 12 }>() {
        Some(words) if header.len() == HEADER_LEN + 12 => {
            let sum = sum
                + words
                    .as_chunks::<4>()
                    .0
                    .iter()
                    .map(|w| u64::from(u32::from_be_bytes(*w)))
                    .sum::<u64>();
            (sum & 0xffff_ffff) + (sum >> 32)
        }
        _ => checksum::accumulate(sum, header),
    }
}

/// Whether a whole segment's running sum (pseudo-header included) verifies.
pub fn sum_verifies(sum: u64) -> bool {
    checksum::fold(sum) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    /// A SYN, port 49152 -> 80, seq 1, window 64240, MSS 1460; checksum computed by a separate
    /// script.
    const SYN: [u8; 24] = [
        0xc0, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xfa, 0xf0, 0xc8, 0xe1, 0, 0,
        2, 4, 5, 0xb4,
    ];

    fn collect(options: &[u8]) -> Vec<Result<TcpOption<'_>, WireError>> {
        TcpOptionIter::new(options).collect()
    }

    fn repr(options: TcpOptions) -> TcpRepr {
        TcpRepr {
            src_port: 4000,
            dst_port: 443,
            seq: 0xdead_beef,
            ack: 0x0102_0304,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 512,
            urgent: 0,
            options,
        }
    }

    fn segment(repr: &TcpRepr, payload: &[u8], src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut buf = vec![0u8; repr.header_len() + payload.len()];
        let n = repr.emit_header(&mut buf);
        buf[n..].copy_from_slice(payload);
        fill_checksum(&mut buf, src, dst);
        buf
    }

    #[test]
    fn known_syn_parses_and_verifies() {
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (49152, 80));
        assert_eq!((p.seq_number(), p.ack_number()), (1, 0));
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), TcpFlags::SYN);
        assert_eq!(p.window_len(), 64240);
        assert_eq!(p.checksum(), 0xc8e1);
        assert_eq!(p.options(), &[2, 4, 5, 0xb4]);
        assert!(p.payload().is_empty());
        assert!(p.verify_checksum(SRC, DST));
        let (r, payload) = TcpRepr::parse(&SYN, SRC, DST, true).unwrap();
        assert_eq!(r.options.mss, Some(1460));
        assert!(payload.is_empty());
    }

    #[test]
    fn fill_checksum_matches_known_value() {
        let mut seg = SYN;
        seg[16] = 0x12; // garbage that fill_checksum must overwrite
        fill_checksum(&mut seg, SRC, DST);
        assert_eq!(&seg[16..18], &[0xc8, 0xe1]);
    }

    #[test]
    fn bad_checksum() {
        let mut seg = SYN;
        seg[15] ^= 1;
        assert_eq!(
            TcpRepr::parse(&seg, SRC, DST, true).unwrap_err(),
            WireError::BadChecksum
        );
        // Unchecked parsing accepts it, and the wrong pseudo-header is caught.
        assert!(TcpRepr::parse(&seg, SRC, DST, false).is_ok());
        assert_eq!(
            TcpRepr::parse(&SYN, SRC, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), true).unwrap_err(),
            WireError::BadChecksum
        );
    }

    #[test]
    fn truncated_header() {
        for len in 0..20 {
            assert_eq!(
                TcpRepr::parse(&SYN[..len], SRC, DST, false).unwrap_err(),
                WireError::Truncated
            );
        }
    }

    #[test]
    fn data_offset_under_five() {
        for off in 0..5u8 {
            let mut seg = SYN;
            seg[12] = off << 4;
            assert_eq!(
                TcpPacket::new_checked(&seg[..]).unwrap_err(),
                WireError::BadDataOffset
            );
        }
    }

    #[test]
    fn data_offset_past_segment() {
        let mut seg = SYN;
        seg[12] = 7 << 4; // 28 bytes claimed, 24 present
        assert_eq!(
            TcpRepr::parse(&seg, SRC, DST, false).unwrap_err(),
            WireError::BadDataOffset
        );
        assert_eq!(
            TcpPacket::new_checked(&SYN[..20]).unwrap_err(),
            WireError::BadDataOffset
        );
    }

    #[test]
    fn option_length_zero_or_one() {
        for len in [0, 1] {
            let opts = [99, len, 0, 0];
            assert_eq!(collect(&opts), vec![Err(WireError::BadOptionLength)]);
            assert_eq!(TcpOptions::parse(&opts), Err(WireError::BadOptionLength));
        }
    }

    #[test]
    fn option_past_end() {
        let opts = [1, 1, 8, 10, 0, 0, 0, 1];
        assert_eq!(
            collect(&opts),
            vec![
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::NoOperation),
                Err(WireError::BadOptionLength)
            ]
        );
        // A lone kind byte with no room for its length.
        assert_eq!(
            collect(&[1, 1, 1, 2]).last(),
            Some(&Err(WireError::BadOptionLength))
        );
        assert_eq!(
            TcpOptions::parse(&[1, 1, 1, 2]),
            Err(WireError::BadOptionLength)
        );
    }

    #[test]
    fn known_kind_with_wrong_length() {
        let mss_len3 = [2, 3, 5, 1];
        assert_eq!(collect(&mss_len3), vec![Err(WireError::BadOptionLength)]);
        let mss_len5 = [2, 5, 5, 0xb4, 0, 0, 0, 0];
        assert_eq!(
            TcpOptions::parse(&mss_len5),
            Err(WireError::BadOptionLength)
        );
        let sack_len11 = [5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0];
        assert_eq!(
            TcpOptions::parse(&sack_len11),
            Err(WireError::BadOptionLength)
        );
        let ws_len4 = [3, 4, 7, 0];
        assert_eq!(TcpOptions::parse(&ws_len4), Err(WireError::BadOptionLength));
        let ts_len8 = [8, 8, 0, 0, 0, 1, 0, 0];
        assert_eq!(TcpOptions::parse(&ts_len8), Err(WireError::BadOptionLength));
        let sack_perm_len3 = [4, 3, 0, 0];
        assert_eq!(
            TcpOptions::parse(&sack_perm_len3),
            Err(WireError::BadOptionLength)
        );
        let sack_five_blocks = {
            let mut v = vec![5, 42];
            v.extend_from_slice(&[0; 40]);
            v
        };
        assert_eq!(
            TcpOptions::parse(&sack_five_blocks),
            Err(WireError::BadOptionLength)
        );
    }

    #[test]
    fn unknown_kind_skipped_by_length() {
        let opts = [99, 6, 0xa, 0xb, 0xc, 0xd, 2, 4, 0x05, 0xb4, 0, 0];
        assert_eq!(
            collect(&opts),
            vec![
                Ok(TcpOption::Unknown {
                    kind: 99,
                    data: &[0xa, 0xb, 0xc, 0xd]
                }),
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::EndOfList),
            ]
        );
        assert_eq!(TcpOptions::parse(&opts).unwrap().mss, Some(1460));
    }

    #[test]
    fn end_of_list_stops_parsing() {
        // Garbage after EOL (an illegal length) is never looked at.
        let opts = [2, 4, 0x05, 0xb4, 0, 3, 0, 0];
        assert_eq!(
            collect(&opts),
            vec![
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::EndOfList)
            ]
        );
        assert_eq!(TcpOptions::parse(&opts).unwrap().mss, Some(1460));
        let early = [0, 2, 4, 0x05, 0xb4, 0, 0, 0];
        assert_eq!(TcpOptions::parse(&early).unwrap(), TcpOptions::default());
    }

    #[test]
    fn no_alignment_assumed() {
        // MSS at offset 1, timestamps at offset 5, window scale at offset 15.
        let opts = [
            1, 2, 4, 0x05, 0xb4, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 3, 3, 2, 0, 0,
        ];
        let o = TcpOptions::parse(&opts).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.timestamps, Some((7, 9)));
        assert_eq!(o.window_scale, Some(2));
    }

    #[test]
    fn window_scale_clamped_to_14() {
        let o = TcpOptions::parse(&[1, 3, 3, 15]).unwrap();
        assert_eq!(o.window_scale, Some(14));
        let raw = collect(&[1, 3, 3, 15]);
        assert_eq!(raw[1], Ok(TcpOption::WindowScale(15)));
    }

    #[test]
    fn sack_blocks_decoded() {
        let opts = [
            1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40,
        ];
        let o = TcpOptions::parse(&opts).unwrap();
        assert_eq!(o.sack_blocks(), &[(10, 20), (30, 40)]);
    }

    #[test]
    fn syn_layout_is_linux() {
        let o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((0x0102_0304, 0)),
            ..TcpOptions::default()
        };
        let mut buf = [0xffu8; 40];
        let n = o.emit(&mut buf);
        assert_eq!(n, 20);
        assert_eq!(n, o.buffer_len());
        assert_eq!(
            &buf[..n],
            &[
                2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7
            ]
        );
        assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), o);
    }

    #[test]
    fn sack_permitted_without_timestamps() {
        let o = TcpOptions {
            mss: Some(536),
            sack_permitted: true,
            ..TcpOptions::default()
        };
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        assert_eq!(&buf[..n], &[2, 4, 2, 0x18, 1, 1, 4, 2]);
        assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), o);
    }

    #[test]
    fn timestamps_and_sack_blocks() {
        let mut o = TcpOptions {
            timestamps: Some((5, 6)),
            sack: [(1, 2), (3, 4), (5, 6), (7, 8)],
            sack_len: 2,
            ..TcpOptions::default()
        };
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        assert_eq!(n, 12 + 4 + 16);
        assert_eq!(&buf[..4], &[1, 1, 8, 10]);
        assert_eq!(&buf[12..16], &[1, 1, 5, 18]);
        assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), o);

        // Four blocks beside timestamps do not fit: the first three are sent.
        o.sack_len = 4;
        assert_eq!(o.sack_blocks_emitted(), 3);
        let n = o.emit(&mut buf);
        assert_eq!((n, o.buffer_len()), (40, 40));
        let parsed = TcpOptions::parse(&buf[..n]).unwrap();
        assert_eq!(parsed.sack_blocks(), &o.sack[..3]);

        // Without timestamps all four fit.
        o.timestamps = None;
        let n = o.emit(&mut buf);
        assert_eq!(n, 36);
        assert_eq!(TcpOptions::parse(&buf[..n]).unwrap(), o);
    }

    #[test]
    fn empty_options_emit_nothing() {
        let o = TcpOptions::default();
        assert_eq!(o.buffer_len(), 0);
        assert_eq!(o.emit(&mut []), 0);
        assert_eq!(repr(o).header_len(), 20);
    }

    #[test]
    fn repr_round_trip_v4_and_v6() {
        let options = TcpOptions {
            timestamps: Some((100, 200)),
            sack: [(1000, 2000), (0, 0), (0, 0), (0, 0)],
            sack_len: 1,
            ..TcpOptions::default()
        };
        let r = repr(options);
        let v6src = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        let v6dst = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
        for (src, dst) in [(SRC, DST), (v6src, v6dst)] {
            let seg = segment(&r, b"hello, odd", src, dst);
            assert_eq!(seg.len(), 20 + 24 + 10);
            let (parsed, payload) = TcpRepr::parse(&seg, src, dst, true).unwrap();
            assert_eq!(parsed, r);
            assert_eq!(payload, b"hello, odd");
        }
    }

    #[test]
    fn repr_rejects_bad_options() {
        let mut seg = segment(&repr(TcpOptions::default()), &[], SRC, DST);
        seg[12] = 6 << 4;
        seg.extend_from_slice(&[2, 3, 0, 0]);
        fill_checksum(&mut seg, SRC, DST);
        assert_eq!(
            TcpRepr::parse(&seg, SRC, DST, true).unwrap_err(),
            WireError::BadOptionLength
        );
    }

    #[test]
    fn flags_emitted_and_read() {
        let mut r = repr(TcpOptions::default());
        r.flags = TcpFlags::FIN | TcpFlags::URG | TcpFlags::CWR;
        r.urgent = 7;
        let seg = segment(&r, &[1], SRC, DST);
        let (parsed, _) = TcpRepr::parse(&seg, SRC, DST, true).unwrap();
        assert_eq!(parsed.flags, r.flags);
        assert_eq!(parsed.urgent, 7);
    }

    /// Timestamps alone take a short cut both ways; it must agree with the general code.
    #[test]
    fn timestamps_alone_short_cut_agrees() {
        let ts = TcpOptions {
            timestamps: Some((0x0102_0304, 0xa0b0_c0d0)),
            ..TcpOptions::default()
        };
        let bytes = [1, 1, 8, 10, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0];
        let mut buf = [0xff; 16];
        assert_eq!(ts.buffer_len(), 12);
        assert_eq!(ts.emit(&mut buf), 12);
        assert_eq!(buf[..12], bytes);
        assert_eq!(TcpOptions::parse(&bytes), Ok(ts));
        // The same option laid out otherwise goes through the general parser.
        let moved = [8, 10, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0, 1, 1];
        assert_eq!(TcpOptions::parse(&moved), Ok(ts));
        // With one more option, the general emitter, with the timestamps in the same place.
        let with_sack = TcpOptions {
            sack_permitted: true,
            ..ts
        };
        assert_eq!(with_sack.emit(&mut buf), 12);
        assert_eq!(buf[..12], [4, 2, 8, 10, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0]);
        // A wrong length for the kind is still refused, and a truncated stamp too.
        let mut bad = bytes;
        bad[3] = 9;
        assert!(TcpOptions::parse(&bad).is_err());
        assert!(TcpOptions::parse(&bytes[..11]).is_err());
    }

    /// The header sum `emit_header_summed` works out from the fields (timestamps alone) or
    /// reads back (anything else) is the one the written bytes give, and with the payload's
    /// it makes the checksum `fill_checksum` writes, over IPv4 and IPv6.
    #[test]
    fn summed_header_gives_the_checksum_of_the_bytes() {
        let v6 = (
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0xffff, 2)),
        );
        let stamps = TcpOptions {
            timestamps: Some((0xfedc_ba98, 0x7654_3210)),
            ..TcpOptions::default()
        };
        let with_sack = TcpOptions {
            sack: [(1, 2), (0xffff_0000, 0xffff_ffff), (0, 0), (0, 0)],
            sack_len: 2,
            ..stamps
        };
        let payload = [0xff, 0xee, 0xdd];
        for options in [stamps, with_sack, TcpOptions::default()] {
            for flags in [TcpFlags::ACK, TcpFlags::ACK | TcpFlags::FIN | TcpFlags::PSH] {
                let r = TcpRepr {
                    flags,
                    window: 0xffff,
                    urgent: 0x8001,
                    ..repr(options)
                };
                for (src, dst) in [(SRC, DST), v6] {
                    let mut buf = vec![0x55; r.header_len() + payload.len()];
                    let (n, sum) = r.emit_header_summed(&mut buf);
                    assert_eq!(n, r.header_len());
                    let header_only = checksum::fold(checksum::accumulate(0, &buf[..n]));
                    assert_eq!(checksum::fold(sum), header_only, "{options:?}");
                    buf[n..].copy_from_slice(&payload);
                    let payload_sum = checksum::accumulate(0, &payload);
                    fill_checksum_with(&mut buf, sum + payload_sum, src, dst);
                    assert_eq!(buf, segment(&r, &payload, src, dst), "{options:?}");
                    assert!(
                        TcpPacket::new_checked(&buf[..])
                            .unwrap()
                            .verify_checksum(src, dst)
                    );
                    // The receiving side's sum of the header, short cut or not, agrees.
                    let check = |buf: &[u8]| {
                        let pseudo = checksum::pseudo_header(src, dst, 6, buf.len() as u32);
                        let header = header_sum(&buf[..n], buf.len(), src, dst);
                        let slow = checksum::accumulate(pseudo, &buf[..n]);
                        assert_eq!(checksum::fold(header), checksum::fold(slow));
                        sum_verifies(header + payload_sum)
                    };
                    assert!(check(&buf));
                    buf[n - 1] ^= 0x40;
                    assert!(!check(&buf));
                }
            }
        }
    }
}
