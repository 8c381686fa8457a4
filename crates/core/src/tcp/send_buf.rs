//! The send buffer: bytes the application queued, from SND.UNA on.
//!
//! Data stays here until acknowledged, so retransmission reads it again. The storage is a ring
//! that grows with use: nothing until the first write, then the smallest power of two that
//! holds what is queued (at least `MIN_RING`), doubling up to the capacity. Bytes are never
//! zeroed ahead of being written: the ring's `Vec` is only as long as what was written into
//! it so far, and the rest is reserved, not initialized. A large ring that drains after
//! holding no more than a quarter of itself since the last drain is freed (the next one is
//! sized for what it held); one that was busy is kept, so a bulk sender that drains between
//! bursts neither reallocates nor grows it again from small.

use crate::wire::checksum;

/// The smallest ring allocated: a small message costs one small allocation, of a size the
/// allocator serves from its per-thread cache (glibc's tcache takes up to 1032 bytes; a 4 KiB
/// ring measured as most of the allocator's share of a short connection).
pub(super) const MIN_RING: usize = 1024;

/// Rings up to this size are always kept when they drain, so a request/response connection
/// does not allocate per message.
pub(super) const KEEP_RING: usize = 4096;

/// The ring size to hold `need` bytes: a power of two, at least `MIN_RING`, at most
/// `capacity` (which need not be a power of two).
pub(super) fn ring_size(need: usize, capacity: usize) -> usize {
    need.max(MIN_RING)
        .checked_next_power_of_two()
        .unwrap_or(usize::MAX)
        .min(capacity)
        .max(need)
}

/// A new ring of `size` bytes holding the `len` bytes that start at `head` in `ring` (of
/// `old` bytes), unrolled to the front. Nothing is zeroed: the new `Vec` is `len` long.
pub(super) fn unroll(ring: &[u8], old: usize, head: usize, len: usize, size: usize) -> Vec<u8> {
    let mut new = Vec::with_capacity(size);
    let first = len.min(old - head);
    new.extend_from_slice(&ring[head..head + first]);
    new.extend_from_slice(&ring[..len - first]);
    new
}

/// Writes `data` at position `at` (below `2 * size`) of a ring of `size` bytes, wrapping at
/// `size`. `ring.len()` marks how far it was ever written: below it, bytes are overwritten;
/// at it, appended (within the capacity reserved, so never reallocated). Only a hole left
/// below out-of-order data is zeroed, once, so that the written part stays contiguous.
pub(super) fn put(ring: &mut Vec<u8>, size: usize, at: usize, data: &[u8]) {
    debug_assert!(data.len() <= size && at < 2 * size);
    if at >= size {
        // Starts past the end, so at the front: the ring was (or now is) written whole.
        fill_to(ring, size);
        let at = at - size;
        ring[at..at + data.len()].copy_from_slice(data);
        return;
    }
    fill_to(ring, at);
    let (first, rest) = data.split_at(data.len().min(size - at));
    let over = first.len().min(ring.len() - at);
    // Usually only one of the three copies has bytes: the empty ones are skipped rather than
    // each costing a call into `memcpy`.
    if over > 0 {
        ring[at..at + over].copy_from_slice(&first[..over]);
    }
    if over < first.len() {
        ring.extend_from_slice(&first[over..]);
    }
    if !rest.is_empty() {
        // Wrapping means `first` reached the end: the ring is whole.
        ring[..rest.len()].copy_from_slice(rest);
    }
    debug_assert!(ring.len() <= size);
}

fn fill_to(ring: &mut Vec<u8>, len: usize) {
    if ring.len() < len {
        ring.resize(len, 0);
    }
}

/// Copies `dst.len()` bytes from position `at` (below `size`) of a ring of `size` bytes.
pub(super) fn get(ring: &[u8], size: usize, at: usize, dst: &mut [u8]) {
    let first = dst.len().min(size - at);
    let (a, b) = dst.split_at_mut(first);
    a.copy_from_slice(&ring[at..at + first]);
    if !b.is_empty() {
        b.copy_from_slice(&ring[..b.len()]);
    }
}

/// [`get`] that also returns the running sum of the bytes copied (as one message starting
/// at an even offset), in the same pass.
pub(super) fn get_sum(ring: &[u8], size: usize, at: usize, dst: &mut [u8]) -> u64 {
    let first = dst.len().min(size - at);
    let (a, b) = dst.split_at_mut(first);
    let sum = checksum::copy_accumulate(0, a, &ring[at..at + first]);
    if b.is_empty() {
        return sum;
    }
    let rest = checksum::copy_accumulate(0, b, &ring[..b.len()]);
    // The wrapped part continues the message at offset `first`.
    sum + if first % 2 == 1 {
        checksum::at_odd_offset(rest)
    } else {
        rest
    }
}

/// A bounded ring of bytes; offset 0 is the byte at SND.UNA (after the SYN).
///
/// Sizes and offsets are `u32`, half the room of `usize`s in every connection: a capacity
/// is clamped to `MAX_CAPACITY`, beyond anything a window (at most 1 GiB) can use.
#[derive(Debug)]
pub struct SendBuffer {
    /// The ring, `size` bytes reserved; its length is how far it was ever written.
    storage: Vec<u8>,
    /// Ring size: 0 while nothing is allocated, at most `capacity`.
    size: u32,
    /// Most bytes held since the ring was allocated or last drained.
    peak: u32,
    /// Bytes the next ring should hold at least: the peak before the last one was freed.
    hint: u32,
    capacity: u32,
    head: u32,
    len: u32,
}

/// The largest capacity a buffer takes (larger ones are clamped): 2 GiB, so that every sum
/// of two offsets fits a `u32`.
pub(super) const MAX_CAPACITY: usize = 1 << 31;

/// A size or offset below `MAX_CAPACITY`, as stored.
pub(super) fn narrow(n: usize) -> u32 {
    n.min(MAX_CAPACITY) as u32
}

impl SendBuffer {
    /// An empty buffer that will hold at most `capacity` bytes.
    pub fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            storage: Vec::new(),
            size: 0,
            peak: 0,
            hint: 0,
            capacity: narrow(capacity),
            head: 0,
            len: 0,
        }
    }

    /// Bytes held (unacknowledged, sent or not).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Room left.
    pub fn free(&self) -> usize {
        (self.capacity - self.len) as usize
    }

    /// Appends as much of `data` as fits; returns how much.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        let len = self.len as usize;
        if len + n > self.size as usize {
            let need = (len + n).max(std::mem::take(&mut self.hint) as usize);
            self.resize(ring_size(need, self.capacity as usize));
        }
        put(
            &mut self.storage,
            self.size as usize,
            (self.head + self.len) as usize,
            &data[..n],
        );
        self.len += n as u32;
        self.peak = self.peak.max(self.len);
        n
    }

    fn resize(&mut self, size: usize) {
        if self.size == 0 && self.storage.capacity() >= size {
            // A spare ring, given empty at creation: the first use takes it as it is.
            debug_assert!(self.len == 0 && self.storage.is_empty());
            self.size = narrow(size);
            self.head = 0;
            return;
        }
        self.storage = unroll(
            &self.storage,
            self.size as usize,
            self.head as usize,
            self.len as usize,
            size,
        );
        self.size = narrow(size);
        self.head = 0;
    }

    /// Capacity in bytes (allocated or not).
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Raises the capacity to `capacity` (never lowers it). The ring itself grows only when
    /// the bytes queued need it.
    pub fn grow(&mut self, capacity: usize) {
        self.capacity = self.capacity.max(narrow(capacity));
    }

    /// Copies `dst.len()` bytes starting `offset` bytes past SND.UNA. The range must be held.
    /// (Segments use `copy_out_sum`; this is the plain copy it is checked against.)
    #[cfg(test)]
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        debug_assert!(offset + dst.len() <= self.len as usize);
        if dst.is_empty() {
            return;
        }
        let size = self.size as usize;
        let mut at = self.head as usize + offset;
        if at >= size {
            at -= size;
        }
        get(&self.storage, size, at, dst);
    }

    /// [`copy_out`](Self::copy_out), also returning the running checksum sum of the bytes
    /// copied (see `wire::checksum`), so the segment's checksum need not read them again.
    pub fn copy_out_sum(&self, offset: usize, dst: &mut [u8]) -> u64 {
        debug_assert!(offset + dst.len() <= self.len as usize);
        if dst.is_empty() {
            return 0;
        }
        let size = self.size as usize;
        let mut at = self.head as usize + offset;
        if at >= size {
            at -= size;
        }
        get_sum(&self.storage, size, at, dst)
    }

    /// Drops `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = narrow(n).min(self.len);
        self.len -= n;
        if self.len > 0 {
            self.head += n;
            if self.head >= self.size {
                self.head -= self.size;
            }
        } else if self.size as usize > KEEP_RING && self.peak <= self.size / 4 {
            // Oversized for this traffic (or going idle).
            let peak = self.peak;
            self.release();
            self.hint = peak;
        } else {
            self.head = 0;
            self.peak = 0;
        }
    }

    /// Frees the ring if nothing is held, small or not, and forgets its size: for a connection
    /// that is done (as in TIME-WAIT), whose kept ring would otherwise outlive its use.
    /// Returns the ring, for [`Spares`](super::Spares) to keep or drop.
    pub fn release(&mut self) -> Vec<u8> {
        if self.len > 0 {
            return Vec::new();
        }
        self.size = 0;
        self.head = 0;
        self.peak = 0;
        self.hint = 0;
        std::mem::take(&mut self.storage)
    }

    /// An empty buffer as `new`, holding `ring` (empty) to use as its first ring when it fits.
    pub fn with_ring(capacity: usize, ring: Vec<u8>) -> SendBuffer {
        debug_assert!(ring.is_empty());
        SendBuffer {
            storage: ring,
            ..SendBuffer::new(capacity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summed copy copies what `copy_out` does, and its sum is the checksum sum of the
    /// bytes: across the wrap at every odd and even split.
    #[test]
    fn copy_out_sum_matches_copy_out_across_the_wrap() {
        let mut b = SendBuffer::new(1024);
        let data: Vec<u8> = (0..1024).map(byte).collect();
        assert_eq!(b.push(&data[..1000]), 1000);
        b.consume(931); // head at 931: 93 bytes to the end of the ring.
        assert_eq!(b.push(&data[..900]), 900);
        for offset in [0, 1, 2, 50, 69] {
            for len in [0, 1, 2, 23, 24, 25, 92, 93, 94, 95, 200, 899] {
                let len = len.min(b.len() - offset);
                let mut plain = vec![0; len];
                let mut summed = vec![0; len];
                b.copy_out(offset, &mut plain);
                let sum = b.copy_out_sum(offset, &mut summed);
                assert_eq!(plain, summed, "offset {offset} len {len}");
                assert_eq!(
                    checksum::fold(sum),
                    checksum::fold(checksum::accumulate(0, &plain)),
                    "offset {offset} len {len}"
                );
            }
        }
    }

    /// A recognisable byte for stream offset `i`.
    fn byte(i: usize) -> u8 {
        (i % 251) as u8
    }

    fn bytes(from: usize, n: usize) -> Vec<u8> {
        (from..from + n).map(byte).collect()
    }

    fn held(b: &SendBuffer) -> Vec<u8> {
        let mut out = vec![0; b.len()];
        b.copy_out(0, &mut out);
        out
    }

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

    #[test]
    fn starts_small_and_doubles() {
        let mut b = SendBuffer::new(256 << 10);
        assert_eq!((b.size as usize), 0);
        assert_eq!(b.push(&bytes(0, 100)), 100);
        assert_eq!((b.size as usize), MIN_RING);
        assert_eq!(b.storage.len(), 100, "only what was written is initialized");
        assert_eq!(b.push(&bytes(100, 5000)), 5000);
        assert_eq!((b.size as usize), 8192);
        assert_eq!(b.push(&bytes(5100, 100_000)), 100_000);
        assert_eq!((b.size as usize), 128 << 10);
        assert_eq!(b.push(&bytes(105_100, 200_000)), (256 << 10) - 105_100);
        assert_eq!((b.size as usize), 256 << 10);
        assert_eq!(held(&b), bytes(0, 256 << 10));
    }

    #[test]
    fn capacity_not_a_power_of_two_is_the_last_step() {
        let mut b = SendBuffer::new(10_000);
        assert_eq!(b.push(&bytes(0, 9000)), 9000);
        assert_eq!((b.size as usize), 10_000);
        b.consume(8000);
        assert_eq!(b.push(&bytes(9000, 9000)), 9000);
        assert_eq!(held(&b), bytes(8000, 10_000));
    }

    /// Fill, drain part, refill across the end of the ring, then grow: at every ring size
    /// the unrolled copy keeps the stream in order.
    #[test]
    fn wraps_at_every_growth_step() {
        let mut b = SendBuffer::new(1 << 20);
        let (mut acked, mut queued) = (0, 0);
        let mut size = MIN_RING;
        while size <= 1 << 19 {
            // Fill the ring, ack three quarters, refill so the tail wraps past the end.
            let n = size - b.len();
            assert_eq!(b.push(&bytes(queued, n)), n);
            queued += n;
            assert_eq!((b.size as usize), size);
            b.consume(size * 3 / 4);
            acked += size * 3 / 4;
            let n = size / 2;
            assert_eq!(b.push(&bytes(queued, n)), n);
            queued += n;
            assert_eq!((b.size as usize), size, "wrapped within the ring");
            assert!((b.head as usize) > 0 && (b.head as usize) + b.len() > size);
            assert_eq!(held(&b), bytes(acked, queued - acked));
            // One more than fits: the ring doubles, unrolled.
            let n = size - b.len() + 1;
            assert_eq!(b.push(&bytes(queued, n)), n);
            queued += n;
            size *= 2;
            assert_eq!((b.size as usize), size);
            assert_eq!(held(&b), bytes(acked, queued - acked));
            let mut mid = vec![0; 100];
            b.copy_out(7, &mut mid);
            assert_eq!(mid, bytes(acked + 7, 100));
        }
    }

    #[test]
    fn keeps_a_busy_ring_and_releases_an_oversized_one_when_drained() {
        let mut b = SendBuffer::new(64 << 10);
        b.push(&bytes(0, 20_000));
        assert_eq!((b.size as usize), 32 << 10);
        b.consume(19_999);
        assert_eq!((b.size as usize), 32 << 10, "one byte still held");
        b.consume(1);
        assert_eq!(
            (b.size as usize),
            32 << 10,
            "busy since the last drain: kept"
        );
        // A burst of a quarter of the ring or less: freed when it drains.
        b.push(&bytes(7, 8192));
        b.consume(8000);
        assert_eq!((b.size as usize), 32 << 10);
        b.consume(192);
        assert_eq!(((b.size as usize), b.storage.capacity()), (0, 0));
        // The next ring is sized for that burst, whatever the first write.
        b.push(&bytes(9, 10));
        assert_eq!((b.size as usize), 8192);
        assert_eq!(held(&b), bytes(9, 10));
    }

    #[test]
    fn keeps_a_small_ring_until_released() {
        let mut b = SendBuffer::new(64 << 10);
        b.push(b"request");
        b.consume(7);
        assert_eq!((b.size as usize), MIN_RING);
        b.push(b"again");
        assert_eq!(held(&b), b"again");
        b.release();
        assert_eq!(
            (b.size as usize),
            MIN_RING,
            "not released while data is held"
        );
        b.consume(5);
        b.release();
        assert_eq!(((b.size as usize), b.storage.capacity()), (0, 0));
    }

    #[test]
    fn grow_does_not_allocate() {
        let mut b = SendBuffer::new(8);
        b.grow(1 << 20);
        assert_eq!((b.size as usize), 0);
        b.push(b"abc");
        b.grow(2 << 20);
        assert_eq!((b.size as usize), MIN_RING);
        assert_eq!(b.capacity(), 2 << 20);
    }
}
