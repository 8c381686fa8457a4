//! The send buffer: bytes the application queued, from SND.UNA on.
//!
//! Data stays here until acknowledged, so retransmission reads it again; the storage is a ring
//! allocated on first use, so idle connections cost nothing beyond the struct.

/// A bounded ring of bytes; offset 0 is the byte at SND.UNA (after the SYN).
#[derive(Debug)]
pub struct SendBuffer {
    storage: Box<[u8]>,
    capacity: usize,
    head: usize,
    len: usize,
}

impl SendBuffer {
    /// An empty buffer that will hold at most `capacity` bytes.
    pub fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            storage: Box::default(),
            capacity,
            head: 0,
            len: 0,
        }
    }

    /// Bytes held (unacknowledged, sent or not).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room left.
    pub fn free(&self) -> usize {
        self.capacity - self.len
    }

    /// Appends as much of `data` as fits; returns how much.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        if self.storage.is_empty() {
            self.storage = vec![0; self.capacity].into_boxed_slice();
        }
        let tail = (self.head + self.len) % self.capacity;
        let first = n.min(self.capacity - tail);
        self.storage[tail..tail + first].copy_from_slice(&data[..first]);
        self.storage[..n - first].copy_from_slice(&data[first..n]);
        self.len += n;
        n
    }

    /// Capacity in bytes (allocated or not).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Raises the capacity to `capacity` (never lowers it), keeping the bytes held. Storage
    /// not yet allocated stays unallocated.
    pub fn grow(&mut self, capacity: usize) {
        if capacity <= self.capacity {
            return;
        }
        if !self.storage.is_empty() {
            let mut storage = vec![0; capacity].into_boxed_slice();
            self.copy_out(0, &mut storage[..self.len]);
            self.storage = storage;
            self.head = 0;
        }
        self.capacity = capacity;
    }

    /// Copies `dst.len()` bytes starting `offset` bytes past SND.UNA. The range must be held.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        debug_assert!(offset + dst.len() <= self.len);
        if dst.is_empty() {
            return;
        }
        let start = (self.head + offset) % self.capacity;
        let first = dst.len().min(self.capacity - start);
        dst[..first].copy_from_slice(&self.storage[start..start + first]);
        let rest = dst.len() - first;
        dst[first..].copy_from_slice(&self.storage[..rest]);
    }

    /// Drops `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % self.capacity
        };
        if self.len == 0 && self.capacity > 0 {
            // Keep the allocation: a busy connection refills it at once.
            self.head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.push(b"abcdef"), 6);
        b.consume(4);
        assert_eq!(b.push(b"ghijklmn"), 6);
        assert_eq!(b.len(), 8);
        let mut out = [0; 8];
        b.copy_out(0, &mut out);
        assert_eq!(&out, b"efghijkl");
        let mut mid = [0; 3];
        b.copy_out(3, &mut mid);
        assert_eq!(&mid, b"hij");
        assert_eq!(b.push(b"x"), 0);
        b.grow(12);
        assert_eq!(b.push(b"mnopq"), 4);
        let mut all = [0; 12];
        b.copy_out(0, &mut all);
        assert_eq!(&all, b"efghijklmnop");
    }
}
