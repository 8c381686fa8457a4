//! TLS records and handshake messages found in a connection's byte streams.

pub(crate) mod decrypt;
