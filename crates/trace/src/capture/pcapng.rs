//! The pcapng reader: sections (each with its own byte order and interfaces), interface
//! descriptions with their timestamp resolution and offset, the three kinds of packet block,
//! and TLS key logs from Decryption Secrets Blocks. Other blocks are skipped by their length.

use super::bytes::{Endian, len};
use super::write::{
    BYTE_ORDER_MAGIC, DSB, EPB, IDB, IF_TSOFFSET, IF_TSRESOL, OPT_END, PB, SHB, SPB, TLS_KEY_LOG,
};
use super::{CaptureError, CaptureFormat, Sink};

/// Type, length, and the trailing length.
const MIN_BLOCK_LEN: usize = 12;
/// Type, length, byte-order magic, versions, section length, trailing length.
const MIN_SHB_LEN: usize = 28;

/// What a section says about one interface.
struct Interface {
    link: u32,
    snaplen: usize,
    resolution: Resolution,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_s: i64,
}

/// One section: its byte order and the interfaces described so far.
struct Section {
    endian: Endian,
    interfaces: Vec<Interface>,
    /// The last timestamp seen, for Simple Packet Blocks, which carry none.
    last_t_ns: u64,
}

pub(super) fn read(bytes: &[u8]) -> Result<Sink, CaptureError> {
    // The first block must be a readable section header, or this is not pcapng at all.
    let (mut section, mut at) = section_header(bytes)?;
    let mut sink = Sink::new(CaptureFormat::PcapNg);
    while at < bytes.len() {
        let rest = &bytes[at..];
        // The section header's type reads the same in both byte orders.
        let result = if rest.starts_with(&SHB.to_be_bytes()) {
            section_header(rest).map(|(s, n)| {
                section = s;
                n
            })
        } else {
            block(rest, &mut section, &mut sink)
        };
        match result {
            Ok(n) => at += n,
            Err(mut e) => {
                // Block errors count from the block's start.
                e.offset = e.offset.saturating_add(at as u64);
                sink.error = Some(e);
                break;
            }
        }
    }
    Ok(sink)
}

/// The body of the block at the start of `rest` and its total length, once the framing
/// checks out. Offsets in errors are relative to `rest`.
fn framed(rest: &[u8], endian: Endian, min_len: usize) -> Result<(&[u8], usize), CaptureError> {
    let Some(total) = endian.u32(rest, 4).map(len) else {
        return Err(CaptureError::new(0, "block header truncated"));
    };
    if total % 4 != 0 {
        let message = format!("block length {total} is not a multiple of 4");
        return Err(CaptureError::new(4, message));
    }
    if total < min_len {
        let message = format!("block length {total} is under the minimum {min_len}");
        return Err(CaptureError::new(4, message));
    }
    if total > rest.len() {
        let message = format!("block truncated: {total} bytes long, {} left", rest.len());
        return Err(CaptureError::new(0, message));
    }
    if endian.u32(rest, total - 4).map(len) != Some(total) {
        return Err(CaptureError::new(
            total - 4,
            "trailing block length differs",
        ));
    }
    Ok((&rest[8..total - 4], total))
}

/// A section header block: its byte order, version, and length.
fn section_header(rest: &[u8]) -> Result<(Section, usize), CaptureError> {
    if !rest.starts_with(&SHB.to_be_bytes()) {
        return Err(CaptureError::new(0, "not a pcapng file"));
    }
    let endian = match rest.get(8..12) {
        Some(m) if m == BYTE_ORDER_MAGIC.to_le_bytes() => Endian::Little,
        Some(m) if m == BYTE_ORDER_MAGIC.to_be_bytes() => Endian::Big,
        Some(_) => return Err(CaptureError::new(8, "bad byte-order magic")),
        None => return Err(CaptureError::new(0, "section header truncated")),
    };
    let (body, total) = framed(rest, endian, MIN_SHB_LEN)?;
    let major = endian.u16(body, 4).unwrap_or(0);
    if major != 1 {
        return Err(CaptureError::new(
            12,
            format!("pcapng version {major} is not 1"),
        ));
    }
    let section = Section {
        endian,
        interfaces: Vec::new(),
        last_t_ns: 0,
    };
    Ok((section, total))
}

/// Reads one block other than a section header; returns its length.
fn block(rest: &[u8], section: &mut Section, sink: &mut Sink) -> Result<usize, CaptureError> {
    let Some(block_type) = section.endian.u32(rest, 0) else {
        return Err(CaptureError::new(0, "block header truncated"));
    };
    let (body, total) = framed(rest, section.endian, MIN_BLOCK_LEN)?;
    let result = match block_type {
        IDB => interface_description(body, section),
        EPB | PB => packet(body, block_type == EPB, section, sink),
        SPB => simple_packet(body, section, sink),
        DSB => decryption_secrets(body, section.endian, sink),
        // Statistics, name resolution, custom and unknown blocks.
        _ => Ok(()),
    };
    // Errors inside a body count from the body's start, 8 bytes into the block.
    result.map_err(|(at, message)| CaptureError::new(8 + at, message))?;
    Ok(total)
}

/// A problem inside a block body: offset from the body's start, and what.
type BodyResult = Result<(), (usize, String)>;

fn interface_description(body: &[u8], section: &mut Section) -> BodyResult {
    let endian = section.endian;
    let (Some(link), Some(snaplen)) = (endian.u16(body, 0), endian.u32(body, 4)) else {
        return Err((0, "interface description truncated".into()));
    };
    let mut interface = Interface {
        link: u32::from(link),
        snaplen: len(snaplen),
        resolution: Resolution::MICROS,
        offset_s: 0,
    };
    for (code, value) in options(endian, body.get(8..).unwrap_or(&[])) {
        match (code, value) {
            (IF_TSRESOL, [r, ..]) => interface.resolution = Resolution(*r),
            (IF_TSOFFSET, v) => interface.offset_s = endian.i64(v, 0).unwrap_or(0),
            _ => {}
        }
    }
    section.interfaces.push(interface);
    Ok(())
}

/// An Enhanced Packet Block, or (`enhanced` false) the obsolete Packet Block, whose
/// interface id is 16 bits followed by a 16-bit drop count; the rest is laid out alike.
fn packet(body: &[u8], enhanced: bool, section: &mut Section, sink: &mut Sink) -> BodyResult {
    let endian = section.endian;
    let interface = match enhanced {
        true => endian.u32(body, 0).map(len),
        false => endian.u16(body, 0).map(usize::from),
    };
    let field = |at| endian.u32(body, at);
    let (Some(interface), Some(hi), Some(lo), Some(captured), Some(original)) =
        (interface, field(4), field(8), field(12), field(16))
    else {
        return Err((0, "packet block truncated".into()));
    };
    let (captured, original) = (len(captured), len(original));
    if captured > original {
        return Err((
            12,
            format!("captured length {captured} > original {original}"),
        ));
    }
    let Some(frame) = body.get(20..).and_then(|b| b.get(..captured)) else {
        return Err((
            12,
            format!("captured length {captured} runs past the block"),
        ));
    };
    let ticks = (u64::from(hi) << 32) | u64::from(lo);
    match section.interfaces.get(interface) {
        Some(i) => {
            let t_ns = i.resolution.to_unix_ns(ticks, i.offset_s);
            section.last_t_ns = t_ns;
            sink.frame(i.link, t_ns, frame, original);
        }
        // A packet on an interface never described: its link type is unknown.
        None => sink.skipped += 1,
    }
    Ok(())
}

/// A Simple Packet Block: interface 0, no timestamp (the previous packet's is used), and a
/// captured length implied by the original length, the snapshot length and the block's size.
fn simple_packet(body: &[u8], section: &mut Section, sink: &mut Sink) -> BodyResult {
    let Some(original) = section.endian.u32(body, 0).map(len) else {
        return Err((0, "simple packet block truncated".into()));
    };
    let data = body.get(4..).unwrap_or(&[]);
    let Some(i) = section.interfaces.first() else {
        sink.skipped += 1;
        return Ok(());
    };
    let mut captured = original.min(data.len());
    if i.snaplen != 0 {
        captured = captured.min(i.snaplen);
    }
    sink.frame(i.link, section.last_t_ns, &data[..captured], original);
    Ok(())
}

/// A Decryption Secrets Block: TLS key logs go to the recorder, other secrets are ignored.
fn decryption_secrets(body: &[u8], endian: Endian, sink: &mut Sink) -> BodyResult {
    let (Some(kind), Some(secrets_len)) = (endian.u32(body, 0), endian.u32(body, 4)) else {
        return Err((0, "decryption secrets block truncated".into()));
    };
    let Some(secrets) = body.get(8..).and_then(|b| b.get(..len(secrets_len))) else {
        return Err((
            4,
            format!("secrets length {secrets_len} runs past the block"),
        ));
    };
    if kind == TLS_KEY_LOG {
        sink.recorder.key_log(&String::from_utf8_lossy(secrets));
    }
    Ok(())
}

/// The options in a block's option area: (code, value) until opt_endofopt or the end.
/// A malformed option ends the list; the block itself is still used.
fn options(endian: Endian, mut area: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let code = endian.u16(area, 0)?;
        let value_len = usize::from(endian.u16(area, 2)?);
        if code == OPT_END {
            return None;
        }
        let value = area.get(4..4 + value_len)?;
        let next = (4 + value_len).next_multiple_of(4);
        area = area.get(next..).unwrap_or(&[]);
        Some((code, value))
    })
}

/// if_tsresol: the high bit chooses a negative power of 2, otherwise of 10; the rest is the
/// exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolution(u8);

impl Resolution {
    /// The default when an interface does not say.
    const MICROS: Resolution = Resolution(6);

    /// Timestamp ticks plus an offset in seconds as ns since the Unix epoch, clamped to what
    /// a u64 holds (and to 0 for times before 1970).
    fn to_unix_ns(self, ticks: u64, offset_s: i64) -> u64 {
        let ticks = u128::from(ticks);
        let exponent = u32::from(self.0 & 0x7f);
        let ns = if self.0 & 0x80 != 0 {
            // exponent < 128, so the shift is in range for a u128.
            (ticks * 1_000_000_000) >> exponent
        } else if exponent <= 9 {
            ticks * 10u128.pow(9 - exponent)
        } else {
            // 10^39 overflows a u128; past that every tick count rounds to 0.
            10u128
                .checked_pow(exponent - 9)
                .map_or(0, |divisor| ticks / divisor)
        };
        let ns = i128::try_from(ns).unwrap_or(i128::MAX);
        let t = ns.saturating_add(i128::from(offset_s) * 1_000_000_000);
        u64::try_from(t.max(0)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions() {
        assert_eq!(Resolution(9).to_unix_ns(1_234, 0), 1_234);
        assert_eq!(Resolution(6).to_unix_ns(1_234, 0), 1_234_000);
        assert_eq!(Resolution(12).to_unix_ns(1_234_567, 0), 1_234);
        assert_eq!(Resolution(0x80 | 10).to_unix_ns(1024, 0), 1_000_000_000);
        assert_eq!(Resolution(0x80 | 127).to_unix_ns(u64::MAX, 0), 0);
        assert_eq!(Resolution(127).to_unix_ns(u64::MAX, 0), 0);
        assert_eq!(Resolution(0).to_unix_ns(u64::MAX, 0), u64::MAX);
        assert_eq!(Resolution(9).to_unix_ns(5, 2), 2_000_000_005);
        assert_eq!(Resolution(9).to_unix_ns(5, -2), 0);
    }

    #[test]
    fn options_stop_at_end_or_garbage() {
        let e = Endian::Little;
        let area = [9, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 3, 0, 0, 0];
        let found: Vec<_> = options(e, &area).collect();
        assert_eq!(found, [(9, &[6u8][..])]);
        let bad = [9, 0, 200, 0, 6, 0, 0, 0];
        assert_eq!(options(e, &bad).count(), 0);
    }
}
