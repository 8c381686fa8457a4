//! IPv4 header view and emitter (RFC 791); see ip.rs for the version-independent entry points.
