//! Captures: pcapng written from a recording, pcap and pcapng read back into one.

use std::fmt;
use std::io;

use crate::recorder::Recorder;

/// How to write a capture.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Wall-clock time (ns since the Unix epoch) of the recorder's zero, so packet times
    /// are absolute as pcapng wants them.
    pub epoch_unix_ns: u64,
    /// A comment for the section header (the program that wrote it, say).
    pub comment: Option<String>,
}

/// Writes everything `recorder` holds as pcapng. (Stub.)
pub fn write_pcapng<W: io::Write>(
    _out: W,
    _recorder: &Recorder,
    _options: &WriteOptions,
) -> io::Result<()> {
    Ok(())
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

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for CaptureError {}

/// Reads a pcap or pcapng capture. `Err` only when nothing could be read at all; a problem
/// later on is reported in [`Capture::error`] with the packets before it kept. (Stub.)
pub fn read(_bytes: &[u8]) -> Result<Capture, CaptureError> {
    Err(CaptureError {
        offset: 0,
        message: "reading captures is not implemented yet".into(),
    })
}
