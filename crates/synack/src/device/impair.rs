//! A device wrapper that makes any link a bad one: each direction through its own seeded
//! [`Impairment`] model from the core.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use synack_core::Instant;
use synack_core::impair::{Impairment, ImpairmentStats, LinkConditions};

use super::{Device, RecvBatch};
use crate::Clock;

/// Wraps a device: packets it sends pass through the `egress` conditions before reaching
/// `inner`, packets `inner` receives pass through `ingress` before reaching the stack.
///
/// Impair one end of a [`MemoryLink`](super::MemoryLink) to set both directions of the link
/// independently. Packets held inside the model are released by the driver's own task: the
/// wrapper arms a timer in `poll_recv` for the next one due.
pub struct Impaired<D> {
    inner: D,
    clock: Clock,
    egress: Impairment,
    ingress: Impairment,
    stats: Arc<Mutex<[ImpairmentStats; 2]>>,
    /// Packets `inner` refused after the model released them.
    refused: Arc<AtomicU64>,
    timer: Pin<Box<tokio::time::Sleep>>,
    timer_at: Option<Instant>,
    /// The driver's waker, to run `poll_recv` again when `send` scheduled something.
    waker: Option<Waker>,
    /// Received from `inner`, before the ingress model.
    scratch: RecvBatch,
    packet: Vec<u8>,
}

impl<D: Device> Impaired<D> {
    /// Impairs `inner`; `seed` makes every random choice (the two directions draw from
    /// different streams of it).
    pub fn new(
        inner: D,
        clock: Clock,
        egress: LinkConditions,
        ingress: LinkConditions,
        seed: u64,
    ) -> Impaired<D> {
        Impaired {
            inner,
            clock,
            egress: Impairment::new(egress, seed),
            ingress: Impairment::new(ingress, seed ^ 0x9e37_79b9_7f4a_7c15),
            stats: Arc::default(),
            refused: Arc::default(),
            timer: Box::pin(tokio::time::sleep_until(clock.origin())),
            timer_at: None,
            waker: None,
            scratch: RecvBatch::new(64),
            packet: Vec::new(),
        }
    }

    /// A handle that reads what each direction did, after the device has moved into a
    /// driver.
    pub fn stats_handle(&self) -> ImpairedStats {
        ImpairedStats(self.stats.clone(), self.refused.clone())
    }

    /// Moves packets that came due on the way out into `inner`. A packet `inner` refuses is
    /// lost, as on a real link (TCP resends it), and counted: one refusal must not stop the
    /// stack.
    fn release_egress(&mut self, now: Instant) {
        let mut sent = false;
        while self.egress.poll(now, &mut self.packet) {
            match self.inner.send(&self.packet) {
                Ok(()) => sent = true,
                Err(_) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if sent && self.inner.flush().is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn publish_stats(&self) {
        let mut s = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        *s = [self.egress.stats(), self.ingress.stats()];
    }

    /// Arms the timer for the next packet due in either direction; true if it already fired.
    fn arm(&mut self, cx: &mut Context<'_>) -> bool {
        let next = [self.egress.poll_timeout(), self.ingress.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else {
            self.timer_at = None;
            return false;
        };
        if self.timer_at != Some(at) {
            self.timer.as_mut().reset(self.clock.to_tokio(at));
            self.timer_at = Some(at);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.timer_at = None;
            return true;
        }
        false
    }
}

impl<D: Device> Device for Impaired<D> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
        loop {
            let now = self.clock.now();
            self.release_egress(now);

            // Everything waiting in `inner` enters the ingress model now.
            loop {
                self.scratch.clear();
                match self.inner.poll_recv(cx, &mut self.scratch) {
                    Poll::Ready(Ok(())) => {
                        for p in self.scratch.iter() {
                            self.ingress.send(now, p);
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }

            let before = batch.len();
            while !batch.is_full() && self.ingress.poll(now, &mut self.packet) {
                batch.push(&self.packet);
            }
            self.publish_stats();
            if batch.len() > before {
                return Poll::Ready(Ok(()));
            }
            if !self.arm(cx) {
                return Poll::Pending;
            }
        }
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.egress.send(self.clock.now(), packet);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let now = self.clock.now();
        self.release_egress(now);
        self.publish_stats();
        // Packets still held need the timer, which only `poll_recv` arms: have it run again.
        if self.egress.poll_timeout().is_some()
            && let Some(w) = &self.waker
        {
            w.wake_by_ref();
        }
        Ok(())
    }
}

impl<D: fmt::Debug> fmt::Debug for Impaired<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Impaired")
            .field("inner", &self.inner)
            .field("egress", self.egress.conditions())
            .field("ingress", self.ingress.conditions())
            .finish_non_exhaustive()
    }
}

/// Reads an [`Impaired`] device's counts from anywhere: `[egress, ingress]`.
#[derive(Debug, Clone)]
pub struct ImpairedStats(Arc<Mutex<[ImpairmentStats; 2]>>, Arc<AtomicU64>);

impl ImpairedStats {
    /// What the way out did to packets.
    pub fn egress(&self) -> ImpairmentStats {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)[0]
    }

    /// What the way in did to packets.
    pub fn ingress(&self) -> ImpairmentStats {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)[1]
    }

    /// Packets the wrapped device refused on the way out, after the model released them
    /// (lost, as on a real link).
    pub fn refused(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }
}
