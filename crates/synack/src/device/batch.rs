//! A batch of received packets in one reusable buffer.

use std::ops::Range;

/// Packets received in one go, stored back to back in one buffer that is reused across
/// wake-ups, so receiving allocates nothing once the buffer has grown to its working size.
#[derive(Debug, Clone)]
pub struct RecvBatch {
    data: Vec<u8>,
    ends: Vec<usize>,
    max_packets: usize,
}

impl RecvBatch {
    /// An empty batch that holds up to `max_packets` packets (at least one).
    pub fn new(max_packets: usize) -> RecvBatch {
        let max_packets = max_packets.max(1);
        RecvBatch {
            data: Vec::new(),
            ends: Vec::with_capacity(max_packets),
            max_packets,
        }
    }

    /// How many packets the batch holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// How many more packets fit.
    pub fn remaining(&self) -> usize {
        self.max_packets - self.ends.len()
    }

    /// Whether no more packets fit.
    pub fn is_full(&self) -> bool {
        self.remaining() == 0
    }

    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Appends a copy of `packet`. Returns `false` (and appends nothing) when the batch is full.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        if self.is_full() {
            return false;
        }
        self.data.extend_from_slice(packet);
        self.ends.push(self.data.len());
        true
    }

    /// Appends a packet written in place: `fill` gets `max_len` bytes and returns how many it
    /// wrote (a device reads straight into the batch this way). On error, or when the batch is
    /// full (`Ok(None)`), nothing is appended.
    pub fn push_with<E>(
        &mut self,
        max_len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Option<usize>, E> {
        if self.is_full() {
            return Ok(None);
        }
        let start = self.data.len();
        self.data.resize(start + max_len, 0);
        match fill(&mut self.data[start..]) {
            Ok(n) => {
                let n = n.min(max_len);
                self.data.truncate(start + n);
                self.ends.push(self.data.len());
                Ok(Some(n))
            }
            Err(e) => {
                self.data.truncate(start);
                Err(e)
            }
        }
    }

    /// The `i`th packet.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.range(i).map(|r| &self.data[r])
    }

    /// The packets in the order they were appended.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn range(&self, i: usize) -> Option<Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_packets_back_to_back() {
        let mut batch = RecvBatch::new(3);
        assert!(batch.push(b"one"));
        assert!(batch.push(b""));
        let n = batch.push_with(10, |buf| {
            buf[..5].copy_from_slice(b"three");
            Ok::<_, ()>(5)
        });
        assert_eq!(n, Ok(Some(5)));
        assert!(batch.is_full());
        assert!(!batch.push(b"four"));
        let packets: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(packets, [&b"one"[..], b"", b"three"]);
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.remaining(), 3);
    }

    #[test]
    fn failed_fill_appends_nothing() {
        let mut batch = RecvBatch::new(2);
        batch.push(b"a");
        assert_eq!(batch.push_with(8, |_| Err("no")), Err("no"));
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.get(0), Some(&b"a"[..]));
    }
}
