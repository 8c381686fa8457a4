//! The classic libpcap format: a 24-byte file header, then a 16-byte header before each
//! frame. Either byte order; microsecond or nanosecond timestamps, told apart by the magic.

use super::bytes::{Endian, len};
use super::{CaptureError, CaptureFormat, Sink};

const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// libpcap's largest snapshot length; a bigger captured length means the framing is lost.
const MAX_CAPTURED_LEN: usize = 262_144;

/// Byte order and ns-per-tick of a pcap file, from its first four bytes.
pub(super) fn magic(first: &[u8]) -> Option<(Endian, u64)> {
    match first {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((Endian::Little, 1_000)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((Endian::Big, 1_000)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((Endian::Little, 1)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((Endian::Big, 1)),
        _ => None,
    }
}

pub(super) fn read(bytes: &[u8]) -> Result<Sink, CaptureError> {
    let (endian, tick_ns) = bytes
        .get(..4)
        .and_then(magic)
        .ok_or_else(|| CaptureError::new(0, "not a pcap file"))?;
    if bytes.len() < FILE_HEADER_LEN {
        return Err(CaptureError::new(0, "pcap file header truncated"));
    }
    let field = |at| endian.u32(bytes, at).unwrap_or(0);
    let major = endian.u16(bytes, 4).unwrap_or(0);
    if major != 2 {
        return Err(CaptureError::new(
            4,
            format!("pcap version {major} is not 2"),
        ));
    }
    let snaplen = len(field(16));
    // The upper bits hold FCS information; the link type is the low 16.
    let link = field(20) & 0xffff;

    let mut sink = Sink::new(CaptureFormat::Pcap);
    let max_captured = snaplen.max(MAX_CAPTURED_LEN);
    let mut at = FILE_HEADER_LEN;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + RECORD_HEADER_LEN) else {
            sink.error = Some(CaptureError::new(at, "record header truncated"));
            break;
        };
        let field = |i| endian.u32(header, i).unwrap_or(0);
        let (secs, frac) = (u64::from(field(0)), u64::from(field(4)));
        let (captured, original) = (len(field(8)), len(field(12)));
        let bad_len = if captured > original {
            Some(format!(
                "captured length {captured} is larger than the original {original}"
            ))
        } else if captured > max_captured {
            Some(format!(
                "captured length {captured} is over the maximum {max_captured}"
            ))
        } else {
            None
        };
        if let Some(message) = bad_len {
            sink.error = Some(CaptureError::new(at + 8, message));
            break;
        }
        let start = at + RECORD_HEADER_LEN;
        let end = start.checked_add(captured);
        let Some(frame) = end.and_then(|end| bytes.get(start..end)) else {
            let message = format!("frame truncated: {captured} bytes captured");
            sink.error = Some(CaptureError::new(at, message));
            break;
        };
        // Both u32-sized: at most about 4.3e18 + 4.3e12, well inside a u64.
        let t_ns = secs * 1_000_000_000 + frac * tick_ns;
        sink.frame(link, t_ns, frame, original);
        at = start + captured;
    }
    Ok(sink)
}
