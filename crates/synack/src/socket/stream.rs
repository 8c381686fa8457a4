//! A connected socket: tokio's `AsyncRead` and `AsyncWrite` over the stack's buffers.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use synack_core::Instant;
use synack_core::stack::{ConnectionInfo, SocketError, SocketHandle};
use synack_core::tcp::State;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Net;
use crate::error::{io_error, write_error};
use crate::net::{Core, Shared};

/// A TCP connection; made by [`Net::connect`] and [`TcpListener::accept`](crate::TcpListener::accept).
///
/// Reads and writes go straight to the stack's socket buffers; the driver moves the segments.
/// `shutdown` (from `AsyncWriteExt`) sends a FIN and leaves reading open: a half-close.
/// Dropping the stream closes it gracefully, or resets it if received data was left unread.
pub struct TcpStream {
    net: Net,
    handle: SocketHandle,
    local: SocketAddr,
    peer: SocketAddr,
    /// Our FIN is queued; later shutdowns succeed without asking the stack again.
    shut_down: bool,
}

impl TcpStream {
    pub(crate) fn new(net: Net, handle: SocketHandle, core: &Core, peer: SocketAddr) -> TcpStream {
        let info = core.stack.info(handle);
        let local = info
            .as_ref()
            .map_or(SocketAddr::new(unspecified(peer), 0), |i| i.local);
        let peer = info.map_or(peer, |i| i.remote);
        TcpStream {
            net,
            handle,
            local,
            peer,
            shut_down: false,
        }
    }

    fn shared(&self) -> &Shared {
        self.net.shared()
    }

    /// Resolves once the handshake completes, or with the reason it failed.
    pub(crate) fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shared = self.shared();
        let mut core = shared.lock();
        core.check()?;
        let readiness = core.stack.readiness(self.handle);
        if readiness.connected {
            return Poll::Ready(Ok(()));
        }
        // Before the handshake completes, readable or writable means an error is waiting;
        // a zero-data recv reports it (as SO_ERROR would).
        if readiness.readable || readiness.writable || core.stack.state(self.handle).is_none() {
            let now = shared.clock.now();
            match core.stack.recv(now, self.handle, &mut [0; 1]) {
                Err(SocketError::WouldBlock) => {}
                Err(e) => return Poll::Ready(Err(io_error(e))),
                Ok(_) => {
                    let e = io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "closed during the handshake",
                    );
                    return Poll::Ready(Err(e));
                }
            }
        }
        core.wakers.write(self.handle, cx.waker());
        Poll::Pending
    }

    /// Our address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Switches Nagle's algorithm off (`true`: send small segments at once) or on.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let mut core = self.shared().lock();
        core.check()?;
        core.stack.set_nodelay(self.handle, nodelay);
        core.kick();
        Ok(())
    }

    /// The connection's details (state, MSS, options, RTT, byte counts).
    pub fn info(&self) -> Option<ConnectionInfo> {
        self.shared().lock().stack.info(self.handle)
    }

    /// The connection's RFC 9293 state.
    pub fn state(&self) -> Option<State> {
        self.shared().lock().stack.state(self.handle)
    }

    /// The core's handle for this connection.
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The `Net` this stream belongs to.
    pub fn net(&self) -> &Net {
        &self.net
    }
}

/// Queues as much of `bufs` as fits, in order: how much that was, or `WouldBlock`.
fn send_all(
    core: &mut Core,
    now: Instant,
    socket: SocketHandle,
    bufs: &[IoSlice<'_>],
) -> Result<usize, SocketError> {
    let mut total = 0;
    for buf in bufs.iter().filter(|b| !b.is_empty()) {
        match core.stack.send(now, socket, buf) {
            Ok(n) => {
                total += n;
                if n < buf.len() {
                    break;
                }
            }
            Err(SocketError::WouldBlock) if total > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

fn unspecified(like: SocketAddr) -> std::net::IpAddr {
    match like {
        SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let shared = self.shared();
        let mut core = shared.lock();
        core.check()?;
        match core
            .stack
            .recv(shared.clock.now(), self.handle, buf.initialize_unfilled())
        {
            Ok(n) => {
                buf.advance(n);
                // Reading opens the receive window: the driver may owe the peer an update.
                if n > 0 {
                    core.kick();
                }
                Poll::Ready(Ok(()))
            }
            Err(SocketError::WouldBlock) => {
                core.wakers.read(self.handle, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let shared = self.shared();
        let mut core = shared.lock();
        core.check()?;
        match send_all(&mut core, shared.clock.now(), self.handle, bufs) {
            Ok(n) => {
                core.kick();
                Poll::Ready(Ok(n))
            }
            Err(SocketError::WouldBlock) => {
                core.wakers.write(self.handle, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(write_error(e))),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Data handed to `write` is already the stack's to deliver, as with tokio's `TcpStream`.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Half-close: queues a FIN after the data written; reading goes on until the peer's FIN.
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut_down {
            return Poll::Ready(Ok(()));
        }
        let shared = self.net.shared();
        let mut core = shared.lock();
        core.check()?;
        let result = core.stack.shutdown(shared.clock.now(), self.handle);
        core.kick();
        drop(core);
        result.map_err(write_error)?;
        self.shut_down = true;
        Poll::Ready(Ok(()))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let shared = self.net.shared();
        let mut core = shared.lock();
        core.wakers.forget_socket(self.handle);
        core.stack.close(shared.clock.now(), self.handle);
        core.kick();
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}
