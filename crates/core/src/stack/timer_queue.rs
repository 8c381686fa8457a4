//! The stack's timer queue: a min-heap of (deadline, socket) holding at most one entry per
//! socket, its earliest deadline, moved in place when that changes and taken out when the
//! socket goes. A timeout costs O(log n) in the sockets that have a timer running, and
//! nothing ever scans every connection.
//!
//! Keeping one entry per socket (rather than filing every new deadline and skipping stale
//! entries when they come due) keeps the heap as small as the live timers: a stream of short
//! connections otherwise leaves one stale entry per retransmission or delayed-ACK deadline
//! it ever armed, and every pop then walks a heap of megabytes (measured: over a quarter of
//! the time of `synack bench lifecycle`).

use super::SocketHandle;
use crate::time::Instant;

/// No heap position: the socket has no entry.
const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    /// (deadline, socket index, socket generation), a binary min-heap on (deadline, index).
    heap: Vec<(Instant, u32, u32)>,
    /// Per socket index: where its entry is in `heap`, or `NONE`.
    pos: Vec<u32>,
}

impl TimerQueue {
    /// Files `socket`'s earliest deadline, replacing the one it had; `None` takes it out.
    pub(crate) fn set(&mut self, socket: SocketHandle, at: Option<Instant>) {
        let index = socket.index as usize;
        if self.pos.len() <= index {
            if at.is_none() {
                return;
            }
            self.pos.resize(index + 1, NONE);
        }
        let p = self.pos[index];
        match (at, p) {
            (None, NONE) => {}
            (None, p) => self.remove_at(p as usize),
            (Some(at), NONE) => {
                let i = self.heap.len();
                self.heap.push((at, socket.index, socket.generation));
                self.pos[index] = i as u32;
                self.sift_up(i);
            }
            (Some(at), p) => {
                let i = p as usize;
                let old = self.heap[i].0;
                self.heap[i] = (at, socket.index, socket.generation);
                if at < old {
                    self.sift_up(i);
                } else {
                    self.sift_down(i);
                }
            }
        }
    }

    /// The earliest deadline filed.
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heap.first().map(|e| e.0)
    }

    /// Takes the entry due at or before `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, SocketHandle)> {
        let &(at, index, generation) = self.heap.first()?;
        if at > now {
            return None;
        }
        self.remove_at(0);
        Some((at, SocketHandle { index, generation }))
    }

    /// Entries filed, for tests.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }

    fn key(&self, i: usize) -> (Instant, u32) {
        (self.heap[i].0, self.heap[i].1)
    }

    fn place(&mut self, i: usize) {
        self.pos[self.heap[i].1 as usize] = i as u32;
    }

    fn remove_at(&mut self, i: usize) {
        let gone = self.heap.swap_remove(i);
        self.pos[gone.1 as usize] = NONE;
        if i < self.heap.len() {
            self.place(i);
            // The entry moved here from the end may belong above or below.
            let i = self.sift_up(i);
            self.sift_down(i);
        }
    }

    /// Moves entry `i` up to its place; returns where it ended.
    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key(i) >= self.key(parent) {
                break;
            }
            self.heap.swap(i, parent);
            self.place(i);
            self.place(parent);
            i = parent;
        }
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < self.heap.len() && self.key(l) < self.key(least) {
                least = l;
            }
            if r < self.heap.len() && self.key(r) < self.key(least) {
                least = r;
            }
            if least == i {
                return;
            }
            self.heap.swap(i, least);
            self.place(i);
            self.place(least);
            i = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(index: u32) -> SocketHandle {
        SocketHandle {
            index,
            generation: 7,
        }
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn one_entry_per_socket_moved_in_place() {
        let mut q = TimerQueue::default();
        q.set(s(3), Some(t(50)));
        q.set(s(1), Some(t(30)));
        q.set(s(2), Some(t(40)));
        assert_eq!(q.peek(), Some(t(30)));
        // Later, earlier, out: the heap follows, never growing.
        q.set(s(1), Some(t(60)));
        assert_eq!(q.peek(), Some(t(40)));
        q.set(s(3), Some(t(10)));
        assert_eq!(q.peek(), Some(t(10)));
        q.set(s(2), None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_due(t(9)), None);
        assert_eq!(q.pop_due(t(100)), Some((t(10), s(3))));
        assert_eq!(q.pop_due(t(100)), Some((t(60), s(1))));
        assert_eq!(q.pop_due(t(100)), None);
        // Taking out what is not there is nothing.
        q.set(s(9), None);
        assert_eq!(q.len(), 0);
    }

    /// Against a sorted list, through a seeded mix of sets, moves and removals.
    #[test]
    fn pops_in_deadline_order_like_a_sorted_list() {
        let mut q = TimerQueue::default();
        let mut model: Vec<Option<u64>> = vec![None; 64];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % 64) as usize;
            let at = (x >> 8) % 1000;
            let value = !(x >> 20).is_multiple_of(4);
            let at = value.then_some(at);
            model[i] = at;
            q.set(s(i as u32), at.map(t));
            if step % 50 == 0 {
                let now = (x >> 30) % 1000;
                loop {
                    let want = model
                        .iter()
                        .enumerate()
                        .filter_map(|(i, a)| a.filter(|&a| a <= now).map(|a| (a, i)))
                        .min();
                    let got = q.pop_due(t(now));
                    assert_eq!(got, want.map(|(a, i)| (t(a), s(i as u32))), "step {step}");
                    match want {
                        Some((_, i)) => model[i] = None,
                        None => break,
                    }
                }
            }
            let earliest = model.iter().flatten().min().copied();
            assert_eq!(q.peek(), earliest.map(t), "step {step}");
        }
    }
}
