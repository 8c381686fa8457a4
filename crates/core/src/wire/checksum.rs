//! The Internet checksum (RFC 1071) and the TCP/ICMPv6 pseudo-headers.

use std::net::IpAddr;

/// Adds `data` to a running one's-complement sum (not yet folded).
pub fn accumulate(sum: u64, data: &[u8]) -> u64 {
    let _ = (sum, data);
    todo!("wire helper")
}

/// Folds a running sum to 16 bits (not complemented).
pub fn fold(sum: u64) -> u16 {
    let _ = sum;
    todo!("wire helper")
}

/// The checksum field value for `data` alone: the complement of its folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(accumulate(0, data))
}

/// The running sum of the pseudo-header for an upper-layer packet of `len` bytes.
/// `src` and `dst` must be of the same family.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u64 {
    let _ = (src, dst, protocol, len);
    todo!("wire helper")
}
