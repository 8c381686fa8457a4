//! TLS secrets in the NSS key log format (SSLKEYLOGFILE), as rustls, curl and browsers write
//! them and Wireshark reads them.

/// Secrets parsed from a key log. (Stub: filled in by the keylog work.)
#[derive(Debug, Clone, Default)]
pub struct KeyLog {}
