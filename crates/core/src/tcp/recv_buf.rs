//! The receive buffer: in-order bytes waiting for the application, and out-of-order bytes
//! waiting for the gap before them to fill.
//!
//! One ring holds both. Offsets are relative to the end of the in-order data (RCV.NXT), so an
//! out-of-order segment is written where it belongs and needs no copy when the gap fills.
//! The window we advertise never exceeds the room in the ring, so out-of-order data is
//! bounded by the buffer's capacity, and the number of separate ranges by `MAX_RANGES`.
//!
//! The ring grows with use as the send buffer's does (see `send_buf`): it always covers the
//! in-order data and the farthest out-of-order byte, doubling to reach data far into the
//! window, and a large one is freed when everything held was read if it was oversized for
//! what it held since the last time (the next one is sized for that). The window is computed
//! from the capacity, never from what is allocated.

/// Out-of-order ranges tracked before further islands are refused. A window of megabytes
/// behind a tail-drop queue can lose every other segment for a while: each such hole is a
/// range, and an island refused here is one more loss for the sender. Each insert is linear
/// in this, so it stays in the hundreds.
pub const MAX_RANGES: usize = 512;

use super::connection::Connection;
use super::send_buf::{KEEP_RING, get, narrow, put, ring_size, unroll};
use super::seq::SeqNum;
use crate::wire::checksum;

/// A bounded ring of received bytes; offset 0 is RCV.NXT.
#[derive(Debug)]
pub struct RecvBuffer {
    /// The ring, `size` bytes reserved; its length is how far it was ever written.
    storage: Vec<u8>,
    /// Ring size: 0 while nothing is allocated, at most `capacity`. Sizes and offsets are
    /// `u32`s, as in `SendBuffer`.
    size: u32,
    /// Most bytes spanned (in order and out of order) since the ring was allocated or last
    /// drained.
    peak: u32,
    /// While no ring is allocated: bytes the next ring should hold at least, the peak before
    /// the last one was freed. While one is (the hint was used when it was made): how many
    /// in-order bytes [`stage`](Self::stage) copied into the free space at RCV.NXT, not yet
    /// part of the buffer (0: none). One field for both keeps `Connection` within its size.
    hint: u32,
    capacity: u32,
    /// Start of the in-order data in `storage`.
    head: u32,
    /// In-order bytes ready to read.
    readable: u32,
    /// Out-of-order ranges `[start, end)` past the in-order data, sorted and disjoint.
    ranges: Vec<(usize, usize)>,
}

impl RecvBuffer {
    /// An empty buffer that will hold at most `capacity` bytes.
    pub fn new(capacity: usize) -> RecvBuffer {
        RecvBuffer {
            storage: Vec::new(),
            size: 0,
            peak: 0,
            hint: 0,
            capacity: narrow(capacity),
            head: 0,
            readable: 0,
            ranges: Vec::new(),
        }
    }

    /// Capacity in bytes (allocated or not).
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// In-order bytes ready for the application.
    pub fn readable(&self) -> usize {
        self.readable as usize
    }

    /// Room past the in-order data: what the window may offer.
    pub fn window(&self) -> usize {
        (self.capacity - self.readable) as usize
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
        let staged = self.take_staged();
        let room = self.window();
        if offset >= room || data.is_empty() {
            return Some(0);
        }
        let data = &data[..data.len().min(room - offset)];
        let (start, end) = (offset, offset + data.len());
        if start > 0 && !self.would_fit_ranges(start, end) {
            return None;
        }
        // `end` is inside the window, so this is within the capacity.
        let need = self.readable as usize + end;
        // Moving the ring moves the staged bytes' place: they are copied as any others.
        let mut staged = staged;
        if need > self.size as usize {
            staged = 0;
            let need = need.max(std::mem::take(&mut self.hint) as usize);
            self.resize(ring_size(need, self.capacity as usize));
        }
        self.peak = self.peak.max(narrow(need));
        let at = (self.head + self.readable) as usize + start;
        // Staged bytes are the payload's, at RCV.NXT: its segment's data is all that is
        // written between `stage` and here (the stack unstages after each segment).
        if start > 0 || data.len() > staged as usize {
            put(&mut self.storage, self.size as usize, at, data);
        } else {
            debug_assert!(self.holds(at, data), "staged bytes differ");
        }
        if start == 0 && self.ranges.is_empty() {
            // In order with nothing beyond: readable at once. (`ranges` is never touched, so
            // a connection that sees no reordering never allocates it.)
            self.readable += narrow(end);
            return Some(end);
        }
        self.insert_range(start, end);
        // The range starting at 0 is now in order.
        if self.ranges.first().is_some_and(|r| r.0 == 0) {
            let advanced = self.ranges.remove(0).1;
            self.readable += narrow(advanced);
            for r in &mut self.ranges {
                r.0 -= advanced;
                r.1 -= advanced;
            }
            Some(advanced)
        } else {
            Some(0)
        }
    }

    /// Whether the ring holds `data` at position `at` (below twice the size).
    fn holds(&self, at: usize, data: &[u8]) -> bool {
        let size = self.size as usize;
        let at = if at >= size { at - size } else { at };
        let first = data.len().min(size - at);
        let (a, b) = data.split_at(first);
        self.storage.get(at..at + first) == Some(a) && self.storage.get(..b.len()) == Some(b)
    }

    /// The staged length, now forgotten (0 if none).
    fn take_staged(&mut self) -> u32 {
        if self.size == 0 {
            return 0;
        }
        std::mem::take(&mut self.hint)
    }

    /// Copies in-order `data` (to go at RCV.NXT) into the ring's free space and returns its
    /// running checksum sum, taken in the same pass; nothing becomes readable. A `write_at(0,
    /// data)` of the same slice that follows keeps those bytes without copying them again.
    /// Returns `None` (nothing copied) unless the ring already has room for all of `data`
    /// and holds no out-of-order data (which a corrupted copy could overwrite).
    ///
    /// So a segment's payload is read once on arrival: copied and summed, and the segment
    /// processed only if its checksum holds. One that fails leaves only bytes in free space.
    pub fn stage(&mut self, data: &[u8]) -> Option<u64> {
        self.take_staged();
        let len = data.len();
        let size = self.size as usize;
        if len == 0 || !self.ranges.is_empty() || self.readable as usize + len > size {
            return None;
        }
        if len > self.window() {
            return None;
        }
        let mut at = (self.head + self.readable) as usize;
        if at >= size {
            at -= size;
        }
        // Within the capacity reserved: no reallocation, at most a one-time zeroing.
        if self.storage.len() < (at + len).min(size) {
            self.storage.resize((at + len).min(size), 0);
        }
        let first = len.min(size - at);
        let (a, b) = data.split_at(first);
        let mut sum = checksum::copy_accumulate(0, &mut self.storage[at..at + first], a);
        if !b.is_empty() {
            self.storage.resize(size, 0);
            let rest = checksum::copy_accumulate(0, &mut self.storage[..b.len()], b);
            sum += if first % 2 == 1 {
                checksum::at_odd_offset(rest)
            } else {
                rest
            };
        }
        self.hint = narrow(len);
        Some(sum)
    }

    /// Forgets a staged payload (its segment was dropped or has been processed).
    pub fn unstage(&mut self) {
        self.take_staged();
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

    /// Moves everything held, in order and out of order, into a ring of `size` bytes at the
    /// same offsets (holes between ranges are copied as they are: never read).
    fn resize(&mut self, size: usize) {
        if self.size == 0 && self.storage.capacity() >= size {
            // A spare ring, given empty at creation: the first use takes it as it is.
            debug_assert!(self.readable == 0 && self.ranges.is_empty());
            debug_assert!(self.storage.is_empty());
            self.size = narrow(size);
            self.head = 0;
            return;
        }
        let span = self.readable as usize + self.ranges.last().map_or(0, |r| r.1);
        self.storage = unroll(
            &self.storage,
            self.size as usize,
            self.head as usize,
            span,
            size,
        );
        self.size = narrow(size);
        self.head = 0;
    }

    /// Raises the capacity to `capacity` (never lowers it). The ring itself grows only when
    /// data arrives that needs it.
    pub fn grow(&mut self, capacity: usize) {
        self.capacity = self.capacity.max(narrow(capacity));
    }

    /// Frees the ring if nothing is held, small or not, and forgets its size: for a connection
    /// that is done (as in TIME-WAIT), whose kept ring would otherwise outlive its use.
    /// Returns the ring, for [`Spares`](super::Spares) to keep or drop.
    pub fn release(&mut self) -> Vec<u8> {
        if self.readable > 0 || !self.ranges.is_empty() {
            return Vec::new();
        }
        self.size = 0;
        self.head = 0;
        self.peak = 0;
        self.hint = 0;
        std::mem::take(&mut self.storage)
    }

    /// An empty buffer as `new`, holding `ring` (empty) to use as its first ring when it fits.
    pub fn with_ring(capacity: usize, ring: Vec<u8>) -> RecvBuffer {
        debug_assert!(ring.is_empty());
        RecvBuffer {
            storage: ring,
            ..RecvBuffer::new(capacity)
        }
    }

    /// Copies in-order bytes into `dst`; returns how many.
    pub fn read(&mut self, dst: &mut [u8]) -> usize {
        self.take_staged();
        let n = dst.len().min(self.readable as usize);
        if n == 0 {
            return 0;
        }
        get(
            &self.storage,
            self.size as usize,
            self.head as usize,
            &mut dst[..n],
        );
        let n32 = narrow(n);
        self.readable -= n32;
        if self.readable > 0 || !self.ranges.is_empty() {
            self.head += n32;
            if self.head >= self.size {
                self.head -= self.size;
            }
        } else if self.size as usize > KEEP_RING && self.peak <= self.size / 4 {
            // Oversized for this traffic (or going idle).
            let peak = self.peak;
            self.release();
            self.hint = peak;
        } else {
            // Kept, the head runs on: restarting every burst at the front measured a third
            // slower for 64 KiB segments (the copies line up worse).
            self.head += n32;
            if self.head >= self.size {
                self.head -= self.size;
            }
            self.peak = 0;
        }
        n
    }
}

impl Connection {
    /// Stages a segment's payload that starts at RCV.NXT in the receive buffer (see
    /// [`RecvBuffer::stage`]): its running checksum sum, or `None` if it was not copied.
    /// The connection is otherwise untouched until the segment is processed.
    pub(crate) fn stage_payload(&mut self, seq: SeqNum, payload: &[u8]) -> Option<u64> {
        if seq != self.rcv_nxt {
            self.recv_buf.unstage();
            return None;
        }
        self.recv_buf.stage(payload)
    }

    /// Forgets a staged payload: its segment was dropped, or processed.
    pub(crate) fn unstage_payload(&mut self) {
        self.recv_buf.unstage();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Staged bytes are summed as `accumulate` sums them, become readable only through
    /// `write_at` of the same data, and an unstaged (dropped) copy leaves no trace: across the
    /// ring's wrap at odd and even splits.
    #[test]
    fn staged_payload_commits_only_through_write_at() {
        let mut b = RecvBuffer::new(1024);
        assert_eq!(b.stage(b"early"), None, "no ring yet: nothing staged");
        let mut out = [0u8; 1024];
        for (round, (skip, len)) in [(1000, 50), (1001, 51), (10, 1000), (7, 3)]
            .into_iter()
            .enumerate()
        {
            // Move the head to `skip`-ish, so the staged copy wraps or not.
            let filler = vec![0xeeu8; skip % 1024];
            assert_eq!(b.write_at(0, &filler), Some(filler.len()));
            assert_eq!(b.read(&mut out), filler.len());

            let bad: Vec<u8> = (0..len).map(|i| (i * 3 + round) as u8).collect();
            let sum = b.stage(&bad).expect("room for it");
            assert_eq!(
                checksum::fold(sum),
                checksum::fold(checksum::accumulate(0, &bad))
            );
            b.unstage();
            assert_eq!(b.readable(), 0, "round {round}");

            let good: Vec<u8> = (0..len).map(|i| (i * 5 + 1 + round) as u8).collect();
            let sum = b.stage(&good).expect("room for it");
            assert_eq!(
                checksum::fold(sum),
                checksum::fold(checksum::accumulate(0, &good))
            );
            assert_eq!(b.write_at(0, &good), Some(len));
            assert_eq!(b.read(&mut out), len);
            assert_eq!(&out[..len], &good[..], "round {round}");

            // A staged copy then a different write (a dropped segment, then another): the
            // second's bytes are what is read.
            b.stage(&bad).expect("room for it");
            b.unstage();
            assert_eq!(b.write_at(0, &good[..len / 2 + 1]), Some(len / 2 + 1));
            assert_eq!(b.read(&mut out), len / 2 + 1);
            assert_eq!(&out[..len / 2 + 1], &good[..len / 2 + 1], "round {round}");
        }
    }

    /// In-order data with nothing out of order beyond it becomes readable without going
    /// through the range list, which stays unallocated; a gap then still works as before.
    #[test]
    fn in_order_data_skips_the_range_list() {
        let mut b = RecvBuffer::new(16);
        assert_eq!(b.write_at(0, b"ab"), Some(2));
        assert_eq!(b.write_at(0, b"cd"), Some(2));
        assert_eq!((b.readable(), b.ranges.capacity()), (4, 0));
        assert_eq!(b.write_at(2, b"gh"), Some(0));
        assert_eq!(b.write_at(0, b"ef"), Some(4));
        assert!(!b.has_gaps());
        let mut out = [0; 16];
        assert_eq!(b.read(&mut out), 8);
        assert_eq!(&out[..8], b"abcdefgh");
    }

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

    use super::super::send_buf::MIN_RING;

    /// A recognisable byte for stream offset `i`.
    fn byte(i: usize) -> u8 {
        (i % 251) as u8
    }

    fn bytes(from: usize, n: usize) -> Vec<u8> {
        (from..from + n).map(byte).collect()
    }

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0; b.readable()];
        assert_eq!(b.read(&mut out), out.len());
        out
    }

    #[test]
    fn starts_small_and_doubles() {
        let mut b = RecvBuffer::new(256 << 10);
        assert_eq!(b.write_at(0, &bytes(0, 1448)), Some(1448));
        assert_eq!(
            (b.size as usize),
            2048,
            "the smallest power of two that holds it"
        );
        assert_eq!(
            b.storage.len(),
            1448,
            "only what was written is initialized"
        );
        assert_eq!(
            b.window(),
            (256 << 10) - 1448,
            "the window follows the capacity"
        );
        assert_eq!(b.write_at(0, &bytes(1448, 3000)), Some(3000));
        assert_eq!((b.size as usize), 8192);
        assert_eq!(b.write_at(0, &bytes(4448, 60_000)), Some(60_000));
        assert_eq!((b.size as usize), 64 << 10);
        assert_eq!(read_all(&mut b), bytes(0, 64_448));
    }

    #[test]
    fn out_of_order_far_into_the_window() {
        let cap = 256 << 10;
        let mut b = RecvBuffer::new(cap);
        b.write_at(0, &bytes(0, 100));
        // The last byte the window allows, far past the small ring.
        let far = cap - 100 - 10;
        assert_eq!(b.write_at(far - 100 + 100, &bytes(far + 100, 10)), Some(0));
        assert_eq!((b.size as usize), cap);
        // More than the window offers is clipped, not stored.
        assert_eq!(b.write_at(far + 10, b"zz"), Some(0));
        assert_eq!(b.ranges(), &[(far, far + 10)]);
        // Filling the hole makes everything readable, in order.
        assert_eq!(b.write_at(0, &bytes(100, far)), Some(far + 10));
        assert_eq!(read_all(&mut b), bytes(0, cap));
    }

    #[test]
    fn out_of_order_past_a_wrapped_head_grows_and_keeps_offsets() {
        let mut b = RecvBuffer::new(1 << 20);
        // Move the head near the end of a 4 KiB ring, keep 1000 bytes unread.
        assert_eq!(b.write_at(0, &bytes(0, 4000)), Some(4000));
        let mut out = vec![0; 3000];
        b.read(&mut out);
        assert_eq!((b.size as usize), 4096);
        // Out of order, wrapping to the front of the ring, then beyond it.
        assert_eq!(b.write_at(1000, &bytes(5000, 500)), Some(0));
        assert_eq!((b.size as usize), 4096);
        assert_eq!(b.write_at(20_000, &bytes(24_000, 1000)), Some(0));
        assert_eq!((b.size as usize), 32 << 10);
        assert_eq!(b.write_at(0, &bytes(4000, 1000)), Some(1500));
        assert_eq!(b.write_at(0, &bytes(5500, 18_500)), Some(19_500));
        assert_eq!(read_all(&mut b), bytes(3000, 22_000));
    }

    /// At every ring size: fill, read most, write across the end of the ring with a hole,
    /// fill the hole, then need more room: the ring doubles with every byte at its offset.
    #[test]
    fn wraps_at_every_growth_step() {
        let mut b = RecvBuffer::new(1 << 20);
        let (mut read, mut next) = (0, 0);
        let mut size = MIN_RING;
        while size <= 1 << 19 {
            let n = size - b.readable();
            assert_eq!(b.write_at(0, &bytes(next, n)), Some(n));
            next += n;
            assert_eq!((b.size as usize), size);
            let mut out = vec![0; size * 3 / 4];
            assert_eq!(b.read(&mut out), out.len());
            assert_eq!(out, bytes(read, out.len()));
            read += out.len();
            // A hole of 100 bytes, then data that wraps to the front of the ring.
            let q = size / 2;
            assert_eq!(b.write_at(100, &bytes(next + 100, q)), Some(0));
            assert_eq!((b.size as usize), size, "fits in the ring, wrapped");
            assert!((b.head as usize) + b.readable() + 100 + q > size);
            assert_eq!(b.write_at(0, &bytes(next, 100)), Some(100 + q));
            next += 100 + q;
            // Out of order past the ring's end: it doubles, the range keeps its offset.
            let past = size - b.readable();
            assert_eq!(b.write_at(past, &bytes(next + past, 10)), Some(0));
            size *= 2;
            assert_eq!((b.size as usize), size);
            assert_eq!(b.ranges(), &[(past, past + 10)]);
            assert_eq!(b.write_at(0, &bytes(next, past)), Some(past + 10));
            next += past + 10;
            let mut out = vec![0; 50];
            b.read(&mut out);
            assert_eq!(out, bytes(read, 50));
            read += 50;
        }
        assert_eq!(read_all(&mut b), bytes(read, next - read));
    }

    #[test]
    fn keeps_a_busy_ring_and_releases_an_oversized_one_when_drained() {
        let mut b = RecvBuffer::new(64 << 10);
        b.write_at(0, &bytes(0, 10_000));
        b.write_at(20_000, &bytes(30_000, 6));
        assert_eq!((b.size as usize), 32 << 10);
        let mut out = vec![0; 10_000];
        b.read(&mut out);
        assert_eq!((b.size as usize), 32 << 10, "out-of-order data still held");
        assert_eq!(b.write_at(0, &bytes(10_000, 20_000)), Some(20_006));
        let all = read_all(&mut b);
        assert_eq!(all, bytes(10_000, 20_006));
        assert_eq!(
            (b.size as usize),
            32 << 10,
            "busy since the last drain: kept"
        );
        // Wraps in the kept ring.
        assert_eq!(b.write_at(0, &bytes(30_006, 8000)), Some(8000));
        assert_eq!(read_all(&mut b), bytes(30_006, 8000));
        assert_eq!(
            ((b.size as usize), b.storage.capacity()),
            (0, 0),
            "a quarter of it: freed"
        );
        assert_eq!(b.window(), 64 << 10);
        // The next ring is sized for that burst, whatever the first write.
        assert_eq!(b.write_at(0, b"next"), Some(4));
        assert_eq!((b.size as usize), 8192);
        assert_eq!(read_all(&mut b), b"next");
    }

    #[test]
    fn keeps_a_small_ring_until_released() {
        let mut b = RecvBuffer::new(64 << 10);
        b.write_at(0, b"request");
        read_all(&mut b);
        assert_eq!((b.size as usize), MIN_RING);
        b.write_at(3, b"x");
        b.release();
        assert_eq!(
            (b.size as usize),
            MIN_RING,
            "not released while data is held"
        );
        b.write_at(0, b"abc");
        assert_eq!(read_all(&mut b), b"abcx");
        b.release();
        assert_eq!(((b.size as usize), b.storage.capacity()), (0, 0));
    }

    #[test]
    fn small_capacity_ring_is_the_capacity() {
        let mut b = RecvBuffer::new(1000);
        assert_eq!(b.write_at(500, &[7; 600]), Some(0));
        assert_eq!((b.size as usize), 1000);
        assert_eq!(b.ranges(), &[(500, 1000)]);
    }
}
