//! A listening socket.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use synack_core::stack::{ListenerHandle, SocketError};

use crate::error::io_error;
use crate::{Net, TcpStream};

/// Accepts connections to one local address; made by [`Net::listen`].
///
/// Dropping it stops listening and resets connections not yet accepted.
pub struct TcpListener {
    net: Net,
    handle: ListenerHandle,
    local: SocketAddr,
}

impl TcpListener {
    pub(crate) fn new(net: Net, handle: ListenerHandle, local: SocketAddr) -> TcpListener {
        TcpListener { net, handle, local }
    }

    /// Waits for the next established connection; returns it with the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next established connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let shared = self.net.shared();
        let mut core = shared.lock();
        core.check()?;
        match core.stack.accept(self.handle) {
            Ok(socket) => {
                let peer = core.stack.info(socket).map(|i| i.remote);
                let peer = peer.unwrap_or_else(|| unspecified(self.local));
                let stream = TcpStream::new(self.net.clone(), socket, &core, peer);
                Poll::Ready(Ok((stream, peer)))
            }
            Err(SocketError::WouldBlock) => {
                core.wakers.accept(self.handle, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The core's handle for this listener.
    pub fn handle(&self) -> ListenerHandle {
        self.handle
    }
}

/// The unspecified address of `like`'s family, port 0.
fn unspecified(like: SocketAddr) -> SocketAddr {
    match like {
        SocketAddr::V4(_) => SocketAddr::from(([0u8; 4], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let shared = self.net.shared();
        let mut core = shared.lock();
        core.wakers.forget_listener(self.handle);
        core.stack.close_listener(shared.clock.now(), self.handle);
        core.kick();
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}
