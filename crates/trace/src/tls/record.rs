//! The TLS record layer over one direction's reassembled byte stream (RFC 8446 §5.1,
//! RFC 5246 §6.2): records follow one another from the stream's first byte; a record may
//! span segments and a segment may hold several. A record cut by a hole still says where the
//! next one starts: parsing goes on there if that header was captured (a snapped packet
//! keeps the first bytes of each segment), and stops at bytes that are not a record header.

use crate::analyze::stream::Stream;

/// Content types (RFC 8446 §5.1).
pub(crate) const CHANGE_CIPHER_SPEC: u8 = 20;
pub(crate) const ALERT: u8 = 21;
pub(crate) const HANDSHAKE: u8 = 22;
pub(crate) const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// Largest record body any version allows (TLS 1.2's TLSCiphertext limit).
const MAX_FRAGMENT: usize = (1 << 14) + 2048;
const HEADER_LEN: usize = 5;

/// One record: where it lies in the stream and its body as captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Stream offset of its first header byte.
    pub offset: u64,
    /// The header as on the wire: type, version, length.
    pub header: [u8; 5],
    /// The body; shorter than the header says when the capture cut it short.
    pub fragment: Vec<u8>,
}

impl Record {
    /// The content type from the header.
    pub fn content_type(&self) -> u8 {
        self.header[0]
    }

    /// The body length the header declares.
    pub fn declared_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.header[3], self.header[4]]))
    }

    /// Whether every byte of the body was captured.
    pub fn complete(&self) -> bool {
        self.fragment.len() == self.declared_len()
    }

    /// Stream offset of the first body byte.
    pub fn body_offset(&self) -> u64 {
        self.offset + HEADER_LEN as u64
    }

    /// Stream offset just past the captured part of the record.
    pub fn end(&self) -> u64 {
        self.body_offset() + self.fragment.len() as u64
    }

    /// Stream offset just past the record as its header declares it: where the next begins.
    pub fn declared_end(&self) -> u64 {
        self.body_offset() + self.declared_len() as u64
    }
}

/// Whether the stream starts like a TLS client's: a handshake record of version 3.x whose
/// first message is a ClientHello.
pub(crate) fn starts_with_client_hello(stream: &Stream) -> bool {
    let head = stream.read(0, 6);
    matches!(*head, [HANDSHAKE, 3, minor, _, _, 1] if minor <= 4)
}

/// The records of a stream, in order, up to non-record bytes or a hole where a header should
/// be. A record is incomplete when the capture ends, or has a hole, inside it.
pub(crate) fn records(stream: &Stream) -> Vec<Record> {
    let mut out = Vec::new();
    let mut off = 0u64;
    loop {
        let head = stream.read(off, HEADER_LEN);
        let Ok(header) = <[u8; 5]>::try_from(&*head) else {
            break;
        };
        let record = Record {
            offset: off,
            header,
            fragment: Vec::new(),
        };
        let valid_type = (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&header[0]);
        if !valid_type || header[1] != 3 || record.declared_len() > MAX_FRAGMENT {
            break;
        }
        let fragment = stream.read(record.body_offset(), record.declared_len());
        let record = Record {
            fragment: fragment.into_owned(),
            ..record
        };
        off = record.declared_end();
        out.push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(bytes: &[u8]) -> Stream<'_> {
        Stream::new(vec![(0, bytes)])
    }

    #[test]
    fn records_span_chunks_and_share_them() {
        let bytes = [22, 3, 1, 0, 2, 1, 0, 23, 3, 3, 0, 3, 9, 9, 9];
        let s = Stream::new(vec![(0, &bytes[..3]), (3, &bytes[3..9]), (9, &bytes[9..])]);
        let recs = records(&s);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].fragment, [1, 0]);
        assert_eq!((recs[1].offset, recs[1].content_type()), (7, 23));
        assert!(recs.iter().all(Record::complete));
        assert_eq!(recs[1].end(), 15);
    }

    #[test]
    fn truncated_and_bogus_input_stops_quietly() {
        // Declared 100 bytes, 2 captured.
        let recs = records(&stream(&[22, 3, 3, 0, 100, 1, 2]));
        assert_eq!(recs.len(), 1);
        assert!(!recs[0].complete());
        // A header cut short, a bad type, a bad version, a length past any limit.
        assert!(records(&stream(&[22, 3])).is_empty());
        assert!(records(&stream(&[99, 3, 3, 0, 0])).is_empty());
        assert!(records(&stream(&[22, 2, 0, 0, 0])).is_empty());
        assert!(records(&stream(&[23, 3, 3, 0xff, 0xff])).is_empty());
        assert!(records(&stream(&[])).is_empty());
        // A hole where a header should be stops parsing after the first record.
        let s = Stream::new(vec![(0, &[21, 3, 3, 0, 2, 1, 0][..]), (9, &[21, 3, 3][..])]);
        assert_eq!(records(&s).len(), 1);
        // A hole inside a record: the next header, captured, is read.
        let s = Stream::new(vec![
            (0, &[23, 3, 3, 0, 9, 1][..]),
            (14, &[21, 3, 3, 0, 2, 1, 0][..]),
        ]);
        let recs = records(&s);
        assert_eq!(recs.len(), 2);
        assert!(!recs[0].complete() && recs[1].complete());
        assert_eq!((recs[0].declared_end(), recs[1].offset), (14, 14));
    }

    #[test]
    fn detects_a_client_hello() {
        assert!(starts_with_client_hello(&stream(&[22, 3, 1, 0, 200, 1, 0])));
        assert!(!starts_with_client_hello(&stream(&[22, 3, 1, 0, 200, 2])));
        assert!(!starts_with_client_hello(&stream(b"GET / HTTP/1.1\r\n")));
        assert!(!starts_with_client_hello(&stream(&[22, 3])));
    }
}
