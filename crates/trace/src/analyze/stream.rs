//! One direction's byte stream, reassembled from segments in sequence order. Retransmitted
//! and overlapping bytes are kept once; holes the capture never filled stay holes, and so do
//! the payload bytes of snapped packets, which crossed the link but were not kept.

use std::borrow::Cow;

/// Disjoint pieces of a byte stream, sorted by offset, borrowing the recorded packets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream<'a> {
    pieces: Vec<(u64, &'a [u8])>,
    /// Offset just past the last byte sent, kept or not (at least the last kept byte's).
    reach: u64,
}

impl<'a> Stream<'a> {
    /// Builds the stream from payloads at their offsets, in any order, overlaps allowed.
    pub fn new(mut chunks: Vec<(u64, &'a [u8])>) -> Stream<'a> {
        chunks.retain(|(_, d)| !d.is_empty());
        // Overlapping bytes are kept once, from the chunk starting first (stable sort: at one
        // offset, the one captured first). A well-behaved sender resends the same bytes.
        chunks.sort_by_key(|&(off, _)| off);
        let mut pieces: Vec<(u64, &[u8])> = Vec::with_capacity(chunks.len());
        let mut covered_to = 0u64;
        for (off, data) in chunks {
            let end = off + data.len() as u64;
            if pieces.is_empty() || off >= covered_to {
                pieces.push((off, data));
            } else if end > covered_to {
                let skip = (covered_to - off) as usize;
                pieces.push((covered_to, &data[skip..]));
            } else {
                continue;
            }
            covered_to = end;
        }
        let reach = pieces.last().map_or(0, |&p| piece_end(p));
        Stream { pieces, reach }
    }

    /// The stream with bytes known to have been sent up to `end`, whether kept or not.
    pub fn reaching(mut self, end: u64) -> Stream<'a> {
        self.reach = self.reach.max(end);
        self
    }

    /// Offset just past the last byte sent: captured, or known from a snapped packet's
    /// length. Bytes before it that were not captured read as a hole.
    pub fn end(&self) -> u64 {
        self.reach
    }

    /// Offset just past the run of captured bytes that starts at `from` (`from` itself when
    /// that byte was not captured).
    pub fn contiguous_end(&self, from: u64) -> u64 {
        let Some(mut i) = self.piece_at(from) else {
            return from;
        };
        let mut end = piece_end(self.pieces[i]);
        while let Some(&next) = self.pieces.get(i + 1) {
            if next.0 != end {
                break;
            }
            end = piece_end(next);
            i += 1;
        }
        end
    }

    /// Offset of the first captured byte at or after `from`; the end when there is none.
    pub fn next_kept(&self, from: u64) -> u64 {
        let i = self.pieces.partition_point(|&p| piece_end(p) <= from);
        match self.pieces.get(i) {
            Some(&(off, _)) => off.max(from),
            None => self.reach.max(from),
        }
    }

    /// Up to `max` captured bytes starting at `from`, stopping at a hole. Borrows when the
    /// bytes lie in one piece.
    pub fn read(&self, from: u64, max: usize) -> Cow<'a, [u8]> {
        let Some(mut i) = self.piece_at(from) else {
            return Cow::Borrowed(&[]);
        };
        let (off, data) = self.pieces[i];
        let first = &data[(from - off) as usize..];
        if first.len() >= max {
            return Cow::Borrowed(&first[..max]);
        }
        let mut out = first.to_vec();
        let mut end = piece_end(self.pieces[i]);
        while out.len() < max {
            let Some(&(off, data)) = self.pieces.get(i + 1) else {
                break;
            };
            if off != end {
                break;
            }
            let take = data.len().min(max - out.len());
            out.extend_from_slice(&data[..take]);
            end = piece_end((off, data));
            i += 1;
        }
        if out.len() == first.len() {
            return Cow::Borrowed(first);
        }
        Cow::Owned(out)
    }

    /// The piece holding the byte at `at`.
    fn piece_at(&self, at: u64) -> Option<usize> {
        let i = self.pieces.partition_point(|&p| piece_end(p) <= at);
        let &(off, _) = self.pieces.get(i)?;
        (off <= at).then_some(i)
    }
}

fn piece_end((off, data): (u64, &[u8])) -> u64 {
    off + data.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_overlapping_chunks_reassemble() {
        let chunks = vec![(5, &b"fghij"[..]), (0, b"abcde"), (3, b"defg"), (6, b"gh")];
        let s = Stream::new(chunks);
        assert_eq!(s.end(), 10);
        assert_eq!(s.contiguous_end(0), 10);
        assert_eq!(&*s.read(0, 100), b"abcdefghij");
        assert_eq!(&*s.read(2, 4), b"cdef");
    }

    #[test]
    fn a_hole_stops_reading() {
        let s = Stream::new(vec![(0, &b"abc"[..]), (5, b"fg")]);
        assert_eq!(s.contiguous_end(0), 3);
        assert_eq!(s.contiguous_end(3), 3);
        assert_eq!(s.contiguous_end(6), 7);
        assert_eq!(&*s.read(1, 10), b"bc");
        assert_eq!(&*s.read(4, 10), b"");
        assert_eq!(s.end(), 7);
    }

    #[test]
    fn bytes_sent_but_not_kept_extend_the_end_as_a_hole() {
        let s = Stream::new(vec![(0, &b"abc"[..])]).reaching(10);
        assert_eq!(s.end(), 10);
        assert_eq!(s.contiguous_end(0), 3);
        assert_eq!(&*s.read(0, 10), b"abc");
        assert_eq!(&*s.read(5, 10), b"");
        assert_eq!(s.next_kept(1), 1);
        assert_eq!(s.next_kept(3), 10);
        let holed = Stream::new(vec![(0, &b"ab"[..]), (6, b"gh")]).reaching(12);
        assert_eq!(holed.next_kept(2), 6);
        assert_eq!(holed.next_kept(8), 12);
        // Never below what was kept.
        assert_eq!(Stream::new(vec![(0, &b"abc"[..])]).reaching(1).end(), 3);
    }
}
