//! The receive buffer: in-order bytes waiting for the application, and out-of-order bytes
//! waiting for the gap before them to fill.
//!
//! One ring holds both. Offsets are relative to the end of the in-order data (RCV.NXT), so an
//! out-of-order segment is written where it belongs and needs no copy when the gap fills.
//! The window we advertise never exceeds the room in the ring, so out-of-order data is
//! bounded by the buffer's capacity, and the number of separate ranges by `MAX_RANGES`.

/// Out-of-order ranges tracked before further islands are refused. A window of megabytes
/// behind a tail-drop queue can lose every other segment for a while: each such hole is a
/// range, and an island refused here is one more loss for the sender. Each insert is linear
/// in this, so it stays in the hundreds.
pub const MAX_RANGES: usize = 512;

#[derive(Debug)]
pub struct RecvBuffer {
    storage: Box<[u8]>,
    capacity: usize,
    /// Start of the in-order data in `storage`.
    head: usize,
    /// In-order bytes ready to read.
    readable: usize,
    /// Out-of-order ranges `[start, end)` past the in-order data, sorted and disjoint.
    ranges: Vec<(usize, usize)>,
}

impl RecvBuffer {
    /// An empty buffer that will hold at most `capacity` bytes.
    pub fn new(capacity: usize) -> RecvBuffer {
        RecvBuffer {
            storage: Box::default(),
            capacity,
            head: 0,
            readable: 0,
            ranges: Vec::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// In-order bytes ready for the application.
    pub fn readable(&self) -> usize {
        self.readable
    }

    /// Room past the in-order data: what the window may offer.
    pub fn window(&self) -> usize {
        self.capacity - self.readable
    }

    /// Whether out-of-order data is held.
    pub fn has_gaps(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// Out-of-order ranges as offsets past RCV.NXT, lowest first.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    /// Stores `data` at `offset` bytes past RCV.NXT, clipped to the room there is. Returns how
    /// many bytes became readable in order (RCV.NXT advances by that much), or `None` if the
    /// data was refused because too many out-of-order ranges are held.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Option<usize> {
        let room = self.window();
        if offset >= room || data.is_empty() {
            return Some(0);
        }
        let data = &data[..data.len().min(room - offset)];
        let (start, end) = (offset, offset + data.len());
        if start > 0 && !self.would_fit_ranges(start, end) {
            return None;
        }
        if self.storage.is_empty() {
            self.storage = vec![0; self.capacity].into_boxed_slice();
        }
        let at = (self.head + self.readable + start) % self.capacity;
        let first = data.len().min(self.capacity - at);
        self.storage[at..at + first].copy_from_slice(&data[..first]);
        self.storage[..data.len() - first].copy_from_slice(&data[first..]);
        self.insert_range(start, end);
        // The range starting at 0 is now in order.
        if self.ranges.first().is_some_and(|r| r.0 == 0) {
            let advanced = self.ranges.remove(0).1;
            self.readable += advanced;
            for r in &mut self.ranges {
                r.0 -= advanced;
                r.1 -= advanced;
            }
            Some(advanced)
        } else {
            Some(0)
        }
    }

    fn would_fit_ranges(&self, start: usize, end: usize) -> bool {
        if self.ranges.len() < MAX_RANGES {
            return true;
        }
        // Full: only data that touches or overlaps an existing range adds no new range.
        self.ranges.iter().any(|&(s, e)| start <= e && end >= s)
    }

    fn insert_range(&mut self, mut start: usize, mut end: usize) {
        let mut i = 0;
        while i < self.ranges.len() {
            let (s, e) = self.ranges[i];
            if e < start {
                i += 1;
            } else if s > end {
                break;
            } else {
                start = start.min(s);
                end = end.max(e);
                self.ranges.remove(i);
            }
        }
        self.ranges.insert(i, (start, end));
    }

    /// Raises the capacity to `capacity` (never lowers it), keeping every byte held, in order
    /// and out of order, at its offset. Storage not yet allocated stays unallocated.
    pub fn grow(&mut self, capacity: usize) {
        if capacity <= self.capacity {
            return;
        }
        if !self.storage.is_empty() {
            // Unroll the ring from its head into the larger one: offsets stay the same.
            let mut storage = vec![0; capacity].into_boxed_slice();
            let first = self.capacity - self.head;
            storage[..first].copy_from_slice(&self.storage[self.head..]);
            storage[first..self.capacity].copy_from_slice(&self.storage[..self.head]);
            self.storage = storage;
            self.head = 0;
        }
        self.capacity = capacity;
    }

    /// Copies in-order bytes into `dst`; returns how many.
    pub fn read(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.readable);
        if n == 0 {
            return 0;
        }
        let first = n.min(self.capacity - self.head);
        dst[..first].copy_from_slice(&self.storage[self.head..self.head + first]);
        dst[first..n].copy_from_slice(&self.storage[..n - first]);
        self.head = (self.head + n) % self.capacity;
        self.readable -= n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_a_gap() {
        let mut b = RecvBuffer::new(16);
        assert_eq!(b.write_at(4, b"efgh"), Some(0));
        assert_eq!(b.ranges(), &[(4, 8)]);
        assert_eq!(b.write_at(0, b"abcd"), Some(8));
        assert!(!b.has_gaps());
        let mut out = [0; 16];
        assert_eq!(b.read(&mut out), 8);
        assert_eq!(&out[..8], b"abcdefgh");
    }

    #[test]
    fn clips_to_the_room_and_wraps() {
        let mut b = RecvBuffer::new(8);
        assert_eq!(b.write_at(0, b"abcdef"), Some(6));
        let mut out = [0; 4];
        b.read(&mut out);
        assert_eq!(b.write_at(0, b"ghijklmnop"), Some(6));
        let mut all = [0; 8];
        assert_eq!(b.read(&mut all), 8);
        assert_eq!(&all, b"efghijkl");
    }

    #[test]
    fn bounds_the_number_of_islands() {
        let mut b = RecvBuffer::new(1 << 16);
        for i in 0..MAX_RANGES {
            assert_eq!(b.write_at(10 + i * 10, b"x"), Some(0));
        }
        assert_eq!(b.write_at(10_000, b"y"), None);
        // Extending an existing island is still allowed.
        assert_eq!(b.write_at(11, b"z"), Some(0));
    }

    #[test]
    fn grow_keeps_in_order_and_out_of_order_data() {
        let mut b = RecvBuffer::new(8);
        assert_eq!(b.write_at(0, b"abcdef"), Some(6));
        let mut out = [0; 4];
        b.read(&mut out);
        // Wraps: "ef" at the end, "gh" at the start, "k" out of order past a hole.
        assert_eq!(b.write_at(0, b"gh"), Some(2));
        assert_eq!(b.write_at(2, b"k"), Some(0));
        b.grow(32);
        assert_eq!(b.capacity(), 32);
        assert_eq!(b.window(), 28);
        assert_eq!(b.write_at(3, b"lmnopqrstuvwxyz"), Some(0));
        assert_eq!(b.write_at(0, b"ij"), Some(18));
        let mut all = [0; 32];
        assert_eq!(b.read(&mut all), 22);
        assert_eq!(&all[..22], b"efghijklmnopqrstuvwxyz");
    }

    #[test]
    fn grow_before_allocation_allocates_nothing() {
        let mut b = RecvBuffer::new(8);
        b.grow(64);
        assert!(b.storage.is_empty());
        assert_eq!(b.write_at(0, &[1; 40]), Some(40));
    }

    #[test]
    fn overlapping_duplicates_merge() {
        let mut b = RecvBuffer::new(64);
        b.write_at(10, b"0123456789");
        b.write_at(15, b"56789abc");
        assert_eq!(b.ranges(), &[(10, 23)]);
    }
}
