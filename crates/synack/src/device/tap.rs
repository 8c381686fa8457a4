//! A device wrapper that shows every packet sent to a closure, with its time.

use std::io;
use std::task::{Context, Poll};

use synack_core::Instant;

use super::{Device, RecvBatch};
use crate::Clock;

/// Sees each packet a [`Tap`] sends.
type OnSend = Box<dyn FnMut(Instant, &[u8]) + Send>;

/// Wraps a device and calls a closure with the time and bytes of every packet it sends.
///
/// Tapping the send side of each end of a link sees every packet that crosses it exactly
/// once. The closure runs on the driver's task while it holds the stack, so it must be quick
/// and must not call into a `Net`.
pub struct Tap<D> {
    inner: D,
    clock: Clock,
    on_send: OnSend,
}

impl<D: Device> Tap<D> {
    /// Taps `inner`, stamping packets with `clock`.
    pub fn new(
        inner: D,
        clock: Clock,
        on_send: impl FnMut(Instant, &[u8]) + Send + 'static,
    ) -> Tap<D> {
        Tap {
            inner,
            clock,
            on_send: Box::new(on_send),
        }
    }

    /// The wrapped device.
    pub fn get_ref(&self) -> &D {
        &self.inner
    }

    /// Unwraps the device.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> Device for Tap<D> {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        self.inner.poll_recv(cx, batch)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        (self.on_send)(self.clock.now(), packet);
        self.inner.send(packet)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<D: std::fmt::Debug> std::fmt::Debug for Tap<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryLink;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn sees_each_sent_packet_with_its_time() {
        let clock = Clock::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, _b) = MemoryLink::pair(1500);
        let log = seen.clone();
        let mut tap = Tap::new(a, clock, move |t, p| {
            log.lock().unwrap().push((t, p.to_vec()))
        });
        tap.send(b"x").unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        tap.send(b"yz").unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            [
                (Instant::ZERO, b"x".to_vec()),
                (Instant::from_millis(2), b"yz".to_vec())
            ]
        );
        assert_eq!(tap.get_ref().stats().packets, 2);
    }
}
