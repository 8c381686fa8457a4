//! The async edge's errors: the core's `SocketError` as `std::io::Error`.

use std::io;

use synack_core::stack::SocketError;

/// The `io::ErrorKind` a socket error maps to, as a kernel socket would report it.
pub fn error_kind(e: SocketError) -> io::ErrorKind {
    match e {
        SocketError::WouldBlock => io::ErrorKind::WouldBlock,
        SocketError::InvalidHandle => io::ErrorKind::NotConnected,
        SocketError::Refused => io::ErrorKind::ConnectionRefused,
        SocketError::Reset => io::ErrorKind::ConnectionReset,
        SocketError::TimedOut => io::ErrorKind::TimedOut,
        SocketError::Unreachable => io::ErrorKind::HostUnreachable,
        SocketError::NotConnected => io::ErrorKind::NotConnected,
        SocketError::AddrInUse => io::ErrorKind::AddrInUse,
        SocketError::AddrNotAvailable => io::ErrorKind::AddrNotAvailable,
        SocketError::InvalidAddress => io::ErrorKind::InvalidInput,
        // Linux reports a full ephemeral range as EADDRNOTAVAIL.
        SocketError::PortsExhausted => io::ErrorKind::AddrNotAvailable,
    }
}

/// A socket error as an `io::Error`; the `SocketError` stays reachable as its source.
pub fn io_error(e: SocketError) -> io::Error {
    io::Error::new(error_kind(e), e)
}

/// A socket error from a write: sending after shutdown is a broken pipe, as with EPIPE.
pub(crate) fn write_error(e: SocketError) -> io::Error {
    match e {
        SocketError::NotConnected => io::Error::new(io::ErrorKind::BrokenPipe, e),
        e => io_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_kernel() {
        assert_eq!(
            io_error(SocketError::Refused).kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            io_error(SocketError::Reset).kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            write_error(SocketError::NotConnected).kind(),
            io::ErrorKind::BrokenPipe
        );
        let e = io_error(SocketError::TimedOut);
        let source = e.get_ref().and_then(|s| s.downcast_ref::<SocketError>());
        assert_eq!(source, Some(&SocketError::TimedOut));
    }
}
