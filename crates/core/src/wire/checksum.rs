//! The Internet checksum (RFC 1071) and the TCP/ICMPv6 pseudo-headers.
//!
//! Sums are carried as a `u64` "running sum" so that pieces (pseudo-header, header, payload)
//! can be added before one final [`fold`]. Every value these functions return stays below
//! 2^33, so a handful of running sums may also be added together with `+`.

use std::net::IpAddr;

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// `data` is read as big-endian 16-bit words; an odd trailing byte is padded with a zero
/// (RFC 1071 §4.1), so every chunk but the last of a message must have even length.
/// `data` may be up to 16 GiB long.
pub fn accumulate(sum: u64, data: &[u8]) -> u64 {
    // 32-bit words in native order added into 64-bit sums: no carry chain between steps, so
    // the loop vectorizes. Adding wider words with the carries kept above is congruent,
    // modulo 0xffff, to adding the 16-bit words one by one (2^16 ≡ 1), and the sum of
    // byte-swapped words is the byte-swapped sum (RFC 1071 §2 B): one swap at the end.
    let mut words = data.chunks_exact(4);
    let mut native: u64 = 0;
    for w in &mut words {
        native += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut acc = u64::from(fold(native).to_be());
    let rest = words.remainder();
    if !rest.is_empty() {
        // Zero-padding on the right keeps each byte in its big-endian position.
        let mut tail = [0u8; 4];
        tail[..rest.len()].copy_from_slice(rest);
        acc += u64::from(u32::from_be_bytes(tail));
    }
    // The running sum may be any u64: its carry wraps around (2^64 ≡ 1 modulo 0xffff).
    let (acc, carry) = acc.overflowing_add(sum);
    let acc = acc + u64::from(carry);
    // Fold to 33 bits so callers may add a few sums without overflow.
    (acc & 0xffff_ffff) + (acc >> 32)
}

/// Copies `src` into `dst` (which must be as long) and adds `src` to a running sum, as
/// [`accumulate`] does, in one pass: each block is summed while it is in cache from the
/// copy, so the payload is read from memory once (Linux's `csum_and_copy`). The same
/// alignment rule as `accumulate`: `src` is taken to start at an even offset.
///
/// Panics if the lengths differ.
pub fn copy_accumulate(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
    assert_eq!(dst.len(), src.len(), "copy_accumulate: lengths differ");
    // 64-byte blocks: a fixed-size copy (vector moves) then 16 native words added into a
    // u64, the same congruence as `accumulate` (one byte swap at the end).
    let (dst_blocks, dst_rest) = dst.as_chunks_mut::<BLOCK>();
    let (src_blocks, src_rest) = src.as_chunks::<BLOCK>();
    let mut native: u64 = 0;
    for (d, s) in dst_blocks.iter_mut().zip(src_blocks) {
        *d = *s;
        let (words, _) = s.as_chunks::<4>();
        for w in words {
            native += u64::from(u32::from_ne_bytes(*w));
        }
    }
    dst_rest.copy_from_slice(src_rest);
    // The rest starts at a multiple of the block size, so at an even offset.
    let acc = accumulate(sum, src_rest) + u64::from(fold(native).to_be());
    (acc & 0xffff_ffff) + (acc >> 32)
}

const BLOCK: usize = 64;

/// A running sum of bytes that start at an odd offset of the message, given their sum as if
/// they started at an even one: every byte moves to the other half of its 16-bit word, so
/// the folded sum is byte-swapped (RFC 1071 §2 B).
pub fn at_odd_offset(sum: u64) -> u64 {
    u64::from(fold(sum).swap_bytes())
}

/// Folds a running sum to 16 bits (not complemented).
pub fn fold(sum: u64) -> u16 {
    let mut s = sum;
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum field value for `data` alone: the complement of its folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(accumulate(0, data))
}

/// The running sum of the pseudo-header for an upper-layer packet of `len` bytes.
/// `src` and `dst` must be of the same family.
///
/// IPv4 (RFC 9293 §3.1): src, dst, zero, protocol, 16-bit length. IPv6 (RFC 8200 §8.1): src,
/// dst, 32-bit length, three zero bytes, next header. Both reduce to the same sum: the
/// addresses, the protocol, and the length's two 16-bit halves.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u64 {
    let sum = addr_sum(src) + addr_sum(dst) + u64::from(protocol);
    sum + u64::from(len >> 16) + u64::from(len & 0xffff)
}

fn addr_sum(addr: IpAddr) -> u64 {
    // The address's 16-bit words, added directly: this runs for every segment.
    match addr {
        IpAddr::V4(a) => {
            let bits = a.to_bits();
            u64::from(bits >> 16) + u64::from(bits & 0xffff)
        }
        IpAddr::V6(a) => a.segments().iter().map(|&w| u64::from(w)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The textbook algorithm: 16-bit words, one at a time.
    fn naive(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(accumulate(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn matches_naive_for_every_length_and_carry_heavy_data() {
        let mut data = [0u8; 67];
        for (i, b) in data.iter_mut().enumerate() {
            *b = 0xff - (i as u8 % 3);
        }
        for len in 0..=data.len() {
            assert_eq!(checksum(&data[..len]), naive(&data[..len]), "len {len}");
        }
    }

    /// Several 32-byte blocks, each lane's sum carrying, with every remainder length.
    #[test]
    fn matches_naive_across_blocks() {
        let data: Vec<u8> = (0..1500u32).map(|i| (0xff - i % 7) as u8).collect();
        for len in (200..=300).chain([1460, 1499, 1500]) {
            assert_eq!(checksum(&data[..len]), naive(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn odd_trailing_byte_is_high_byte() {
        assert_eq!(fold(accumulate(0, &[0x12])), 0x1200);
        assert_eq!(fold(accumulate(0, &[0x00, 0x01, 0x02])), 0x0201);
    }

    #[test]
    fn all_ones_does_not_overflow() {
        let data = [0xffu8; 4096];
        assert_eq!(fold(accumulate(u64::MAX, &data)), 0xffff);
        assert!(accumulate(u64::MAX, &data) < 1 << 33);
    }

    #[test]
    fn chunks_add_up() {
        let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        let whole = fold(accumulate(0, &data));
        let split = fold(accumulate(accumulate(0, &data[..42]), &data[42..]));
        assert_eq!(whole, split);
    }

    /// The fused copy equals a plain copy plus `accumulate`, for every short length, a few
    /// long ones, odd starting offsets in the source and destination, and any running sum.
    #[test]
    fn copy_accumulate_equals_copy_then_accumulate() {
        let src: Vec<u8> = (0..1600u32).map(|i| (0xff - i % 13) as u8).collect();
        let lens = (0..=70).chain([127, 128, 129, 1448, 1460, 1499]);
        for len in lens {
            for off in [0, 1, 3] {
                for sum in [0, 0x1_2345, u64::MAX] {
                    let s = &src[off..off + len];
                    let mut fused = vec![0u8; len + 8];
                    let mut plain = fused.clone();
                    let got = copy_accumulate(sum, &mut fused[off..off + len], s);
                    plain[off..off + len].copy_from_slice(s);
                    let want = accumulate(sum, s);
                    assert_eq!(fused, plain, "len {len} off {off}");
                    assert_eq!(fold(got), fold(want), "len {len} off {off} sum {sum:#x}");
                    assert!(got < 1 << 33);
                    if sum == 0 {
                        assert_eq!(!fold(got), naive(s), "len {len} off {off}");
                    }
                }
            }
        }
    }

    /// A message split at an odd length: the second part's sum, swapped, adds up to the whole.
    #[test]
    fn odd_split_adds_up() {
        let data: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(91) ^ 0x5a).collect();
        for cut in [1, 3, 63, 65, 101, 199] {
            let (a, b) = data.split_at(cut);
            let split = accumulate(0, a) + at_odd_offset(accumulate(0, b));
            assert_eq!(fold(split), fold(accumulate(0, &data)), "cut {cut}");
        }
    }

    #[test]
    fn pseudo_header_v4_matches_explicit_bytes() {
        let src = Ipv4Addr::new(192, 168, 1, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 200);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&[0, 6, 0x05, 0xdc]);
        assert_eq!(
            fold(pseudo_header(src.into(), dst.into(), 6, 1500)),
            fold(accumulate(0, &bytes))
        );
    }

    #[test]
    fn pseudo_header_v6_matches_explicit_bytes() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::abcd:1234".parse().unwrap();
        let len: u32 = 0x0001_2345;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            fold(pseudo_header(src.into(), dst.into(), 58, len)),
            fold(accumulate(0, &bytes))
        );
    }
}
