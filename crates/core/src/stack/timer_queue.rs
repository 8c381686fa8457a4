//! The stack's timer queue: a min-heap of (deadline, socket), so a timeout costs O(log n) and
//! nothing ever scans every connection.
//!
//! Entries are not removed when a connection's deadline moves; a popped entry whose socket
//! has nothing due is simply skipped, and the socket re-files its real deadline.

use core::cmp::Reverse;
use std::collections::BinaryHeap;

use super::SocketHandle;
use crate::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
}

impl TimerQueue {
    pub(crate) fn push(&mut self, at: Instant, socket: SocketHandle) {
        self.heap
            .push(Reverse((at, socket.index, socket.generation)));
    }

    /// The earliest deadline filed.
    pub(crate) fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Takes an entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, SocketHandle)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => {
                let Reverse((at, index, generation)) = self.heap.pop()?;
                Some((at, SocketHandle { index, generation }))
            }
            _ => None,
        }
    }
}
