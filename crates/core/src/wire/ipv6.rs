//! IPv6 header view and emitter (RFC 8200), extension headers skipped; see ip.rs for the
//! version-independent entry points.
