//! [`Net`]: one stack on one device, driven by a task, with the sockets that use it.

mod driver;
mod shared;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use synack_core::stack::{ConnectionInfo, Counters, Event, SocketHandle};
use synack_core::tcp::State;
use synack_core::{Stack, StackConfig};

use crate::error::io_error;
use crate::{Clock, Device, TcpListener, TcpStream};
use driver::Driver;
pub(crate) use shared::{Core, Shared};

/// Connections a listener queues before new SYNs are dropped, unless told otherwise.
pub const DEFAULT_BACKLOG: usize = 128;

/// A network interface: a synack [`Stack`] on one [`Device`], driven by a tokio task.
///
/// `Net` is a cheap, clonable handle. The driver runs as long as any handle, listener or
/// stream is alive, and after the last one is dropped until the stack has no timer left
/// (connections finish closing, TIME-WAIT runs out).
#[derive(Clone)]
pub struct Net {
    inner: Arc<Handle>,
}

/// Tells the driver when the last user handle is gone.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.stopping = true;
        core.kick();
    }
}

impl Net {
    /// Starts a stack on `device`, reading time from `clock`, and spawns its driver on the
    /// current tokio runtime.
    ///
    /// The stack's MTU is the smaller of `config.mtu` and the device's.
    ///
    /// # Panics
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn new(mut config: StackConfig, device: impl Device, clock: Clock) -> Net {
        config.mtu = config.mtu.min(device.mtu());
        let stack = Stack::new(config, clock.now());
        let shared = Arc::new(Shared::new(clock, stack));
        tokio::spawn(Driver::new(shared.clone(), device));
        Net {
            inner: Arc::new(Handle { shared }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Listens for connections on `addr` (an unspecified IP means any of ours).
    pub fn listen(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        self.listen_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// Listens on `addr`, queueing at most `backlog` connections not yet accepted.
    pub fn listen_with_backlog(&self, addr: SocketAddr, backlog: usize) -> io::Result<TcpListener> {
        let mut core = self.shared().lock();
        core.check()?;
        let handle = core.stack.listen(addr, backlog).map_err(io_error)?;
        let local = core.stack.listener_addr(handle).unwrap_or(addr);
        Ok(TcpListener::new(self.clone(), handle, local))
    }

    /// Opens a connection to `remote` from one of our addresses and an ephemeral port.
    ///
    /// Resolves once the 3-way handshake completes; fails with `ConnectionRefused` when the
    /// peer answers with a RST, `TimedOut` when SYNs go unanswered.
    pub async fn connect(&self, remote: SocketAddr) -> io::Result<TcpStream> {
        let stream = {
            let mut core = self.shared().lock();
            core.check()?;
            let now = self.shared().clock.now();
            let handle = core.stack.connect(now, remote, None).map_err(io_error)?;
            core.kick();
            TcpStream::new(self.clone(), handle, &core, remote)
        };
        // If this future is dropped early, dropping `stream` closes the half-open socket.
        poll_fn(|cx| stream.poll_connected(cx)).await?;
        Ok(stream)
    }

    /// Sends every trace event of the stack to `sink` from now on (replacing any earlier
    /// sink). The sink runs on the driver's task: keep it quick.
    pub fn set_event_sink(&self, sink: impl FnMut(Event) + Send + 'static) {
        *self.shared().lock_sink() = Some(Box::new(sink));
    }

    /// What the stack has counted.
    pub fn counters(&self) -> Counters {
        self.shared().lock().stack.counters().clone()
    }

    /// A connection's details; `None` once its socket has been closed and released.
    pub fn info(&self, socket: SocketHandle) -> Option<ConnectionInfo> {
        self.shared().lock().stack.info(socket)
    }

    /// A connection's state; `None` once its socket has been closed and released.
    pub fn state(&self, socket: SocketHandle) -> Option<State> {
        self.shared().lock().stack.state(socket)
    }

    /// Packets the device refused to send (each lost, as on a real link; TCP resends it).
    /// Nonzero means the link is failing: [`Net::first_device_send_error`] says why.
    pub fn device_send_errors(&self) -> u64 {
        self.shared().lock().send_errors
    }

    /// The error of the first packet the device refused to send, if any was refused.
    pub fn first_device_send_error(&self) -> Option<io::Error> {
        self.shared().lock().first_send_error()
    }

    /// The clock this stack reads.
    pub fn clock(&self) -> Clock {
        self.shared().clock
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};
    use std::time::Duration;

    use super::*;
    use crate::device::RecvBatch;

    /// A link that refuses every packet, as a device whose interface went away does.
    struct Refusing;

    impl Device for Refusing {
        fn mtu(&self) -> usize {
            1500
        }
        fn poll_recv(&mut self, _: &mut Context<'_>, _: &mut RecvBatch) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn send(&mut self, _: &[u8]) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::NetworkDown, "link is down"))
        }
    }

    /// Behind `Impaired`, a refused packet is lost and counted; the stack runs on (it used to
    /// stop with the device's error).
    #[tokio::test(start_paused = true)]
    async fn a_refusal_behind_an_impaired_link_does_not_stop_the_stack() {
        let config = StackConfig {
            addrs: vec![[10, 0, 0, 1].into()],
            ..StackConfig::default()
        };
        let clock = Clock::new();
        let link = crate::LinkConditions {
            delay: Duration::from_millis(1),
            ..crate::LinkConditions::default()
        };
        let impaired = crate::Impaired::new(Refusing, clock, link, link, 1);
        let stats = impaired.stats_handle();
        let net = Net::new(config, impaired, clock);
        let connect = net.connect("10.0.0.2:80".parse().unwrap());
        // Still trying (SYN, then its retransmission after 1 s), not failed by the device.
        let outcome = tokio::time::timeout(Duration::from_millis(2_500), connect).await;
        assert!(outcome.is_err(), "{outcome:?}");
        assert!(stats.refused() >= 2, "{}", stats.refused());
    }

    #[tokio::test(start_paused = true)]
    async fn refused_packets_are_counted_with_the_first_reason() {
        let config = StackConfig {
            addrs: vec![[10, 0, 0, 1].into()],
            ..StackConfig::default()
        };
        let net = Net::new(config, Refusing, Clock::new());
        assert_eq!(net.device_send_errors(), 0);
        assert!(net.first_device_send_error().is_none());
        // The SYN and its retransmission after the 1 s RTO are both refused.
        let connect = net.connect("10.0.0.2:80".parse().unwrap());
        let _ = tokio::time::timeout(Duration::from_millis(2_500), connect).await;
        assert!(
            net.device_send_errors() >= 2,
            "{}",
            net.device_send_errors()
        );
        let e = net
            .first_device_send_error()
            .expect("the first refusal is kept");
        assert_eq!(e.kind(), io::ErrorKind::NetworkDown);
        assert!(e.to_string().contains("link is down"), "{e}");
    }
}
