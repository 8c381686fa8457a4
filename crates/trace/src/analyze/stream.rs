//! One direction's byte stream, reassembled from segments in sequence order. Retransmitted
//! and overlapping bytes are kept once; holes the capture never filled stay holes.

use std::borrow::Cow;

/// Disjoint pieces of a byte stream, sorted by offset, borrowing the recorded packets.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream<'a> {
    pieces: Vec<(u64, &'a [u8])>,
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
        Stream { pieces }
    }

    /// Offset just past the last byte captured.
    pub fn end(&self) -> u64 {
        self.pieces
            .last()
            .map_or(0, |&(off, d)| off + d.len() as u64)
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
}
