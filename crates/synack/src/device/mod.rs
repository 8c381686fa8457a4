//! Links a stack runs on: the [`Device`] trait, an in-process [`MemoryLink`], and wrappers
//! such as [`Tap`] that stack on any device.

mod batch;
mod impair;
mod memory;
mod tap;
#[cfg(target_os = "linux")]
mod tun;

use std::io;
use std::task::{Context, Poll};

pub use batch::RecvBatch;
pub use impair::{Impaired, ImpairedStats};
pub use memory::{LinkStats, MemoryLink, MemoryPort, StatsHandle};
pub use tap::Tap;
#[cfg(target_os = "linux")]
pub use tun::{Tun, TunConfig, TunStats, TunStatsHandle};

/// A link that carries IP packets (no link-layer header).
///
/// The driver receives a batch of packets per wake-up, hands each to the stack, then sends
/// what the stack wrote one packet at a time and calls [`Device::flush`] once the stack has
/// nothing more to send, so a batching device (sendmmsg, GSO) can buffer in `send` and submit
/// in `flush`. Wrappers (impairment, capture) implement `Device` over another `Device`.
pub trait Device: Send + 'static {
    /// The largest IP packet the link carries, in bytes.
    fn mtu(&self) -> usize;

    /// Appends received packets to `batch` until it is full or none is waiting.
    ///
    /// Returns `Ready(Ok(()))` when at least one packet was appended, and `Pending` (after
    /// arranging for `cx` to be woken) when none was waiting. An error means the device is
    /// broken for good: the driver stops and sockets report it.
    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>>;

    /// Sends one packet. A link that drops it (full queue, too large) still returns `Ok`, as a
    /// real link would; TCP recovers. An error means this packet could not be handed over.
    ///
    /// A device that cannot take the packet yet (a descriptor not yet known writable) may
    /// hold it and submit it from `poll_recv`, the only call with a waker: it wakes the
    /// task that last polled it so that `poll_recv` runs again.
    fn send(&mut self, packet: &[u8]) -> io::Result<()>;

    /// Submits packets buffered by `send`; called after each burst of sends.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn mtu(&self) -> usize {
        (**self).mtu()
    }
    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        (**self).poll_recv(cx, batch)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        (**self).send(packet)
    }
    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
}
