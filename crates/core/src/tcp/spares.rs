//! Storage finished connections leave behind, for new ones to take: a stream of short
//! connections otherwise allocates and frees the same small rings and scoreboard for every
//! one (measured: most of the allocator's share of `synack bench lifecycle`).
//!
//! Only the smallest rings (`MIN_RING`, what a short exchange uses) are kept, and at most
//! `MAX_SPARES` of each kind, so what the stack holds for nobody stays small. Behaviour does
//! not depend on it: a buffer given a spare ring acts as one that allocated it on first use.

use std::collections::VecDeque;

use super::scoreboard::Sent;
use super::send_buf::MIN_RING;

/// The most spares of each kind kept.
pub(crate) const MAX_SPARES: usize = 64;

/// Spare rings and scoreboard storage, owned by the stack.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    /// Empty `Vec`s of capacity exactly `MIN_RING`.
    rings: Vec<Vec<u8>>,
    /// Empty deques with some capacity.
    boards: Vec<VecDeque<Sent>>,
}

impl Spares {
    /// A spare ring (empty, capacity `MIN_RING`), or an unallocated `Vec` when none is left.
    pub(crate) fn ring(&mut self) -> Vec<u8> {
        self.rings.pop().unwrap_or_default()
    }

    /// Keeps `ring` for another connection if it is of the smallest size and room is left.
    pub(crate) fn put_ring(&mut self, mut ring: Vec<u8>) {
        if ring.capacity() == MIN_RING && self.rings.len() < MAX_SPARES {
            ring.clear();
            self.rings.push(ring);
        }
    }

    /// Spare scoreboard storage (empty), or an unallocated deque.
    pub(crate) fn board(&mut self) -> VecDeque<Sent> {
        self.boards.pop().unwrap_or_default()
    }

    /// Keeps a scoreboard's storage if it is small and room is left.
    pub(crate) fn put_board(&mut self, mut segs: VecDeque<Sent>) {
        if segs.capacity() > 0 && segs.capacity() <= 64 && self.boards.len() < MAX_SPARES {
            segs.clear();
            self.boards.push(segs);
        }
    }

    /// Spares held: (rings, boards), for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.rings.len(), self.boards.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_small_rings_and_a_bounded_number() {
        let mut s = Spares::default();
        s.put_ring(Vec::with_capacity(4 * MIN_RING));
        s.put_ring(Vec::new());
        assert_eq!(s.len(), (0, 0));
        let mut ring = Vec::with_capacity(MIN_RING);
        ring.extend_from_slice(b"old bytes");
        s.put_ring(ring);
        let ring = s.ring();
        assert!(ring.is_empty() && ring.capacity() == MIN_RING);
        assert_eq!(s.ring().capacity(), 0, "none left: an unallocated one");
        for _ in 0..MAX_SPARES + 5 {
            s.put_ring(Vec::with_capacity(MIN_RING));
            s.put_board(VecDeque::with_capacity(4));
        }
        assert_eq!(s.len(), (MAX_SPARES, MAX_SPARES));
    }
}
