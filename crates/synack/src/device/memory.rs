//! Two devices joined in one process: what one end sends, the other receives.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{Device, RecvBatch};

/// How many packets a direction queues before it drops new ones (tail drop).
pub const DEFAULT_QUEUE_LIMIT: usize = 4096;

/// A point-to-point link in memory between two [`MemoryPort`]s.
///
/// Each direction is a queue with tail drop; packets larger than the MTU are dropped and
/// counted, as a real link would. Buffers of received packets are recycled, so a link in
/// steady state allocates nothing per packet.
#[derive(Debug)]
pub struct MemoryLink;

impl MemoryLink {
    /// Two joined ports carrying packets of up to `mtu` bytes.
    pub fn pair(mtu: usize) -> (MemoryPort, MemoryPort) {
        MemoryLink::pair_with_queue_limit(mtu, DEFAULT_QUEUE_LIMIT)
    }

    /// Two joined ports whose queues each hold at most `queue_limit` packets.
    pub fn pair_with_queue_limit(mtu: usize, queue_limit: usize) -> (MemoryPort, MemoryPort) {
        let a_to_b = Arc::new(Pipe::new(queue_limit));
        let b_to_a = Arc::new(Pipe::new(queue_limit));
        let a = MemoryPort {
            mtu,
            tx: a_to_b.clone(),
            rx: b_to_a.clone(),
        };
        let b = MemoryPort {
            mtu,
            tx: b_to_a,
            rx: a_to_b,
        };
        (a, b)
    }
}

/// One end of a [`MemoryLink`].
#[derive(Debug)]
pub struct MemoryPort {
    mtu: usize,
    tx: Arc<Pipe>,
    rx: Arc<Pipe>,
}

impl MemoryPort {
    /// What this port has sent (and what of it the link dropped).
    pub fn stats(&self) -> LinkStats {
        self.tx.stats()
    }

    /// A handle that reads [`MemoryPort::stats`] after the port has moved into a driver.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.tx.clone())
    }
}

impl Device for MemoryPort {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        let mut queue = self.rx.lock();
        let before = batch.len();
        while !batch.is_full() {
            let Some(packet) = queue.packets.pop_front() else {
                break;
            };
            batch.push(&packet);
            queue.recycle(packet);
        }
        if batch.len() > before {
            return Poll::Ready(Ok(()));
        }
        match &queue.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => queue.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        if packet.len() > self.mtu {
            self.tx
                .counters
                .dropped_too_big
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let waker = {
            let mut queue = self.tx.lock();
            if queue.packets.len() >= queue.limit {
                self.tx
                    .counters
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            let mut buf = queue.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(packet);
            queue.packets.push_back(buf);
            queue.waker.take()
        };
        self.tx.counters.packets.fetch_add(1, Ordering::Relaxed);
        self.tx
            .counters
            .bytes
            .fetch_add(packet.len() as u64, Ordering::Relaxed);
        // Wake outside the lock: the receiver's first act is to take it.
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

/// Counts for one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets queued for the other end.
    pub packets: u64,
    /// Bytes in those packets.
    pub bytes: u64,
    /// Packets dropped for exceeding the MTU.
    pub dropped_too_big: u64,
    /// Packets dropped because the queue was full.
    pub dropped_queue_full: u64,
}

/// Reads a port's [`LinkStats`] from anywhere.
#[derive(Debug, Clone)]
pub struct StatsHandle(Arc<Pipe>);

impl StatsHandle {
    /// The current counts.
    pub fn get(&self) -> LinkStats {
        self.0.stats()
    }
}

/// One direction: a packet queue, recycled buffers, and the receiver's waker.
#[derive(Debug)]
struct Pipe {
    queue: Mutex<Queue>,
    counters: Counters,
}

#[derive(Debug)]
struct Queue {
    packets: VecDeque<Vec<u8>>,
    /// Buffers of delivered packets, reused by the next sends.
    spare: Vec<Vec<u8>>,
    limit: usize,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    dropped_too_big: AtomicU64,
    dropped_queue_full: AtomicU64,
}

impl Pipe {
    fn new(limit: usize) -> Pipe {
        Pipe {
            queue: Mutex::new(Queue {
                packets: VecDeque::new(),
                spare: Vec::new(),
                limit,
                waker: None,
            }),
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue stays consistent even if a holder panicked: every update is one push/pop.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> LinkStats {
        let c = &self.counters;
        LinkStats {
            packets: c.packets.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            dropped_too_big: c.dropped_too_big.load(Ordering::Relaxed),
            dropped_queue_full: c.dropped_queue_full.load(Ordering::Relaxed),
        }
    }
}

impl Queue {
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < self.limit {
            self.spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    async fn recv_all(port: &mut MemoryPort) -> Vec<Vec<u8>> {
        let mut batch = RecvBatch::new(64);
        poll_fn(|cx| port.poll_recv(cx, &mut batch)).await.unwrap();
        batch.iter().map(<[u8]>::to_vec).collect()
    }

    #[tokio::test]
    async fn carries_packets_both_ways() {
        let (mut a, mut b) = MemoryLink::pair(1500);
        a.send(b"ping").unwrap();
        a.send(b"ping2").unwrap();
        assert_eq!(
            recv_all(&mut b).await,
            [b"ping".to_vec(), b"ping2".to_vec()]
        );
        b.send(b"pong").unwrap();
        assert_eq!(recv_all(&mut a).await, [b"pong".to_vec()]);
        assert_eq!(a.stats().packets, 2);
        assert_eq!(a.stats().bytes, 9);
    }

    #[tokio::test]
    async fn wakes_a_waiting_receiver() {
        let (mut a, mut b) = MemoryLink::pair(1500);
        let receiver = tokio::spawn(async move { recv_all(&mut b).await });
        tokio::task::yield_now().await;
        a.send(b"late").unwrap();
        assert_eq!(receiver.await.unwrap(), [b"late".to_vec()]);
    }

    #[tokio::test]
    async fn drops_and_counts_packets_over_the_mtu() {
        let (mut a, mut b) = MemoryLink::pair(4);
        a.send(b"12345").unwrap();
        a.send(b"1234").unwrap();
        assert_eq!(recv_all(&mut b).await, [b"1234".to_vec()]);
        let stats = a.stats_handle().get();
        assert_eq!((stats.packets, stats.dropped_too_big), (1, 1));
    }

    #[tokio::test]
    async fn tail_drops_when_the_queue_is_full() {
        let (mut a, mut b) = MemoryLink::pair_with_queue_limit(1500, 2);
        for p in [b"1", b"2", b"3"] {
            a.send(p).unwrap();
        }
        assert_eq!(recv_all(&mut b).await, [b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(a.stats().dropped_queue_full, 1);
    }

    #[tokio::test]
    async fn fills_a_batch_no_further_than_its_size() {
        let (mut a, mut b) = MemoryLink::pair(1500);
        for p in [b"1", b"2", b"3"] {
            a.send(p).unwrap();
        }
        let mut batch = RecvBatch::new(2);
        poll_fn(|cx| b.poll_recv(cx, &mut batch)).await.unwrap();
        assert_eq!(batch.len(), 2);
        batch.clear();
        poll_fn(|cx| b.poll_recv(cx, &mut batch)).await.unwrap();
        assert_eq!(batch.get(0), Some(&b"3"[..]));
    }
}
