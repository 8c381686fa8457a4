//! Captures: pcapng written from a recording, pcap and pcapng read back into one.
//!
//! [`write_pcapng`] writes what a [`Recorder`] holds as raw IP packets with nanosecond
//! timestamps, and its key log as a Decryption Secrets Block, so Wireshark opens it and
//! decrypts TLS without further setup. [`read`] takes a pcap or pcapng file as tcpdump,
//! tshark, Wireshark or [`write_pcapng`] wrote it, finds the IP packet in each frame
//! (Ethernet with VLAN tags, Linux cooked v1 and v2, BSD loopback, raw IP), and returns a
//! recorder ready to [`Recorder::finish`]. Reading never panics on a damaged file: what
//! comes before the damage is kept, and the damage is reported with its byte offset.

use std::fmt;
use std::io;

use crate::recorder::Recorder;

mod bytes;
pub mod linktype;
mod pcap;
mod pcapng;
mod write;

/// How to write a capture.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Wall-clock time (ns since the Unix epoch) of the recorder's zero, so packet times
    /// are absolute as pcapng wants them.
    pub epoch_unix_ns: u64,
    /// A comment for the section header (the program that wrote it, say).
    pub comment: Option<String>,
}

/// Writes everything `recorder` holds as pcapng: a section header (naming synack-trace as
/// the writer, with `options.comment`), one raw-IP interface with nanosecond timestamps,
/// the key log (if any) in a Decryption Secrets Block, then one Enhanced Packet Block per
/// packet at `options.epoch_unix_ns` plus its time. State changes are not written.
///
/// Fails only when `out` does (or a field outgrows its pcapng width: a comment over 64 KiB,
/// a packet or key log over 4 GiB). `out` is written block by block; wrap a file in a
/// `BufWriter`.
pub fn write_pcapng<W: io::Write>(
    out: W,
    recorder: &Recorder,
    options: &WriteOptions,
) -> io::Result<()> {
    write::write_pcapng(out, recorder, options)
}

/// Which format a capture was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// A capture read back: its packets and key log in a recorder, ready to analyze.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Packets (times as in the capture, ns since the Unix epoch) and any embedded key log.
    pub recorder: Recorder,
    /// The format it was in.
    pub format: CaptureFormat,
    /// IP packets read.
    pub packets: usize,
    /// Frames skipped: not IP, or of a link type we do not read.
    pub skipped: usize,
    /// What stopped the reading early (truncation, a malformed block); what came before it
    /// is kept.
    pub error: Option<CaptureError>,
}

/// Why a capture could not be read (or not to its end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// Byte offset where the problem is.
    pub offset: u64,
    /// What is wrong there.
    pub message: String,
}

impl CaptureError {
    fn new(offset: usize, message: impl Into<String>) -> CaptureError {
        CaptureError {
            offset: offset as u64,
            message: message.into(),
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for CaptureError {}

/// Reads a pcap or pcapng capture. `Err` only when nothing could be read at all (not a
/// capture, or its first header is broken); a problem later on is reported in
/// [`Capture::error`] with the packets before it kept.
///
/// Frames whose IP packet was cut short by the snapshot length are recorded as snapped
/// ([`Recorder::packet_snapped`]): the bytes captured, and the packet's length on the wire
/// from the frame's original length. Bytes after the IP packet (Ethernet padding, a frame
/// check sequence) are dropped.
pub fn read(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let sink = match bytes.get(..4) {
        Some(first) if first == write::SHB.to_be_bytes() => pcapng::read(bytes)?,
        Some(first) if pcap::magic(first).is_some() => pcap::read(bytes)?,
        _ => return Err(CaptureError::new(0, "not a pcap or pcapng capture")),
    };
    Ok(Capture {
        recorder: sink.recorder,
        format: sink.format,
        packets: sink.packets,
        skipped: sink.skipped,
        error: sink.error,
    })
}

/// What the readers fill in as they go.
struct Sink {
    recorder: Recorder,
    format: CaptureFormat,
    packets: usize,
    skipped: usize,
    error: Option<CaptureError>,
}

impl Sink {
    fn new(format: CaptureFormat) -> Sink {
        Sink {
            recorder: Recorder::new(),
            format,
            packets: 0,
            skipped: 0,
            error: None,
        }
    }

    /// One frame of link type `link`, `original` bytes long on the wire: recorded if it holds
    /// an IP packet, else counted.
    fn frame(&mut self, link: u32, t_ns: u64, frame: &[u8], original: usize) {
        let Some(found) = linktype::find(link, frame) else {
            self.skipped += 1;
            return;
        };
        self.packets += 1;
        let ip = found.packet;
        let on_wire = original.saturating_sub(found.start);
        match found.claimed {
            // The frame whole, or the IP packet whole with only padding or an FCS cut.
            _ if original <= frame.len() => self.recorder.packet(t_ns, ip),
            Some(claimed) if claimed <= ip.len() => self.recorder.packet(t_ns, ip),
            // A header claiming more than the wire carried is left for the analysis to judge.
            Some(claimed) => self.recorder.packet_snapped(t_ns, ip, claimed.min(on_wire)),
            None => self.recorder.packet_snapped(t_ns, ip, on_wire),
        }
    }
}
