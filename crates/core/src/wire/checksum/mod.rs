//! The Internet checksum (RFC 1071) and the TCP/ICMPv6 pseudo-headers.
//!
//! Sums are carried as a `u64` "running sum" so that pieces (pseudo-header, header, payload)
//! can be added before one final [`fold`]. Every value these functions return stays below
//! 2^33, so a handful of running sums may also be added together with `+`.

use std::net::IpAddr;

mod simd;

#[cfg(test)]
use simd::Isa;

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// `data` is read as big-endian 16-bit words; an odd trailing byte is padded with a zero
/// (RFC 1071 §4.1), so every chunk but the last of a message must have even length.
/// `data` may be up to 16 GiB long.
pub fn accumulate(sum: u64, data: &[u8]) -> u64 {
    // Headers are short: the portable loop, inlined, beats a call through the dispatch.
    if data.len() < SIMD_MIN_LEN {
        return accumulate_body(sum, data);
    }
    simd::accumulate(sum, data)
}

/// Copies `src` into `dst` (which must be as long) and adds `src` to a running sum, as
/// [`accumulate`] does, in one pass: each block is summed while it is in cache from the
/// copy, so the payload is read from memory once (Linux's `csum_and_copy`). The same
/// alignment rule as `accumulate`: `src` is taken to start at an even offset.
///
/// Panics if the lengths differ.
pub fn copy_accumulate(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
    assert_eq!(dst.len(), src.len(), "copy_accumulate: lengths differ");
    if src.len() < SIMD_MIN_LEN {
        return copy_accumulate_body(sum, dst, src);
    }
    simd::copy_accumulate(sum, dst, src)
}

/// Inputs shorter than this (every IP and TCP header) take the portable loop, inlined,
/// whatever the CPU has: measured, the vector loops only pay from about this length.
const SIMD_MIN_LEN: usize = 64;

/// [`accumulate`]'s loop. Plain safe Rust, compiled once per instruction set in [`simd`]:
/// always inlined, so that each copy is vectorized for the features of its caller.
#[inline(always)]
fn accumulate_body(sum: u64, data: &[u8]) -> u64 {
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

/// [`copy_accumulate`]'s loop, compiled per instruction set as [`accumulate_body`] is.
#[inline(always)]
fn copy_accumulate_body(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
    // 64-byte blocks: a fixed-size copy (vector moves), then the block's 16 native words
    // added into 8 u64 lanes, the same congruence as `accumulate` (one byte swap at the end).
    // The lanes fill whole vector registers and are added across once, at the end. (16 lanes,
    // one a word, were sometimes left in scalar registers by the SSE2 build.)
    let (dst_blocks, dst_rest) = dst.as_chunks_mut::<BLOCK>();
    let (src_blocks, src_rest) = src.as_chunks::<BLOCK>();
    let mut lanes = [0u64; 8];
    for (d, s) in dst_blocks.iter_mut().zip(src_blocks) {
        *d = *s;
        let (words, _) = s.as_chunks::<4>();
        let (lo, hi) = words.split_at(8);
        for ((lane, a), b) in lanes.iter_mut().zip(lo).zip(hi) {
            *lane += u64::from(u32::from_ne_bytes(*a)) + u64::from(u32::from_ne_bytes(*b));
        }
    }
    // Each lane holds under 2^61 for 16 GiB, so neither the lanes nor their sum overflow.
    let native: u64 = lanes.iter().sum();
    dst_rest.copy_from_slice(src_rest);
    // The rest starts at a multiple of the block size, so at an even offset.
    let acc = accumulate_body(sum, src_rest) + u64::from(fold(native).to_be());
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
    // Two end-around-carry additions, halves into halves: the same value as folding 16 bits
    // at a time until nothing is left above them (congruent modulo 0xffff, zero only for
    // zero), in a fixed handful of instructions rather than a loop.
    let (s, carry) = (sum as u32).overflowing_add((sum >> 32) as u32);
    // With a carry out, the wrapped sum is at most 2^32 - 2: adding it back cannot overflow.
    let s = s + u32::from(carry);
    let (s, carry) = (s as u16).overflowing_add((s >> 16) as u16);
    s + u16::from(carry)
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

    /// Bytes from a fixed-seed xorshift: every bit pattern, carries in all lanes.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    /// Every length up to 300 (each vector loop's prologue, body and every remainder), and a
    /// few past the block and page sizes.
    fn lengths() -> impl Iterator<Item = usize> {
        (0..=300).chain([511, 1023, 1460, 1500, 4099, 65_535, 65_536])
    }

    /// `fold`'s fixed steps agree with folding 16 bits at a time until nothing is left above
    /// them, at the edges (carries out of each half, all ones, zero) and on noise.
    #[test]
    fn fold_matches_the_loop() {
        fn looped(mut s: u64) -> u16 {
            while s >> 16 != 0 {
                s = (s & 0xffff) + (s >> 16);
            }
            s as u16
        }
        let edges = [
            0,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_ffff_fffe,
            0xffff_0000_ffff,
            0xffff_ffff_0000_0001,
            u64::MAX - 1,
            u64::MAX,
        ];
        let noise = noise(8 * 4096, 7);
        let random = noise
            .as_chunks::<8>()
            .0
            .iter()
            .map(|c| u64::from_ne_bytes(*c));
        for s in edges.into_iter().chain(random) {
            assert_eq!(fold(s), looped(s), "{s:#x}");
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        for isa in Isa::supported() {
            assert_eq!(fold(isa.accumulate(0, &data)), 0xddf2, "{isa:?}");
        }
        assert_eq!(checksum(&data), !0xddf2);
    }

    /// The dispatch picks the widest instruction set detected, and each one the CPU has
    /// (the tests below run every one of them) is listed.
    #[test]
    fn best_is_the_widest_supported() {
        let all = Isa::supported();
        assert_eq!(
            all.first().map(|i| format!("{i:?}")),
            Some("Isa(Portable)".into())
        );
        assert_eq!(all.last(), Some(&Isa::best()));
        #[cfg(target_arch = "x86_64")]
        {
            let has = |name: &str| all.iter().any(|i| format!("{i:?}").contains(name));
            assert_eq!(has("Avx2"), std::is_x86_feature_detected!("avx2"));
            assert_eq!(has("Avx512"), std::is_x86_feature_detected!("avx512bw"));
        }
    }

    #[test]
    fn matches_naive_for_every_length_and_carry_heavy_data() {
        let mut data = vec![0u8; 65_536];
        for (i, b) in data.iter_mut().enumerate() {
            *b = 0xff - (i % 3) as u8;
        }
        let ones = vec![0xffu8; 65_536];
        for isa in Isa::supported() {
            for len in lengths() {
                for d in [&data[..len], &ones[..len]] {
                    assert_eq!(!fold(isa.accumulate(0, d)), naive(d), "{isa:?} len {len}");
                }
            }
        }
    }

    /// Slices starting at every offset up to 64 from an aligned buffer: each vector loop's
    /// unaligned loads, and the remainder at every alignment.
    #[test]
    fn matches_naive_unaligned() {
        let buf = noise(64 + 300, 7);
        for isa in Isa::supported() {
            for off in 1..64 {
                for len in 0..=300 {
                    let d = &buf[off..off + len];
                    let want = naive(d);
                    assert_eq!(
                        !fold(isa.accumulate(0, d)),
                        want,
                        "{isa:?} off {off} len {len}"
                    );
                }
            }
        }
    }

    /// The public functions agree with each variant on both sides of the dispatch threshold.
    #[test]
    fn public_functions_match_naive() {
        let data = noise(65_536, 11);
        for len in lengths() {
            let d = &data[..len];
            assert_eq!(checksum(d), naive(d), "len {len}");
            let mut dst = vec![0u8; len];
            assert_eq!(
                !fold(copy_accumulate(0, &mut dst, d)),
                naive(d),
                "len {len}"
            );
            assert_eq!(dst, d, "len {len}");
        }
    }

    #[test]
    fn odd_trailing_byte_is_high_byte() {
        for isa in Isa::supported() {
            assert_eq!(fold(isa.accumulate(0, &[0x12])), 0x1200);
            assert_eq!(fold(isa.accumulate(0, &[0x00, 0x01, 0x02])), 0x0201);
            // Past the vector loops too: 0xff00 (the lone byte) plus 0xffff pairs.
            let mut d = vec![0xffu8; 257];
            d[256] = 0x12;
            assert_eq!(
                fold(isa.accumulate(0, &d)),
                fold(0xffff * 128 + 0x1200),
                "{isa:?}"
            );
        }
    }

    #[test]
    fn all_ones_does_not_overflow() {
        let data = vec![0xffu8; 1 << 20];
        for isa in Isa::supported() {
            for sum in [0, u64::MAX] {
                let got = isa.accumulate(sum, &data);
                assert_eq!(fold(got), 0xffff, "{isa:?}");
                assert!(got < 1 << 33, "{isa:?}");
                let mut dst = vec![0u8; data.len()];
                let got = isa.copy_accumulate(sum, &mut dst, &data);
                assert_eq!(fold(got), 0xffff, "{isa:?}");
                assert!(got < 1 << 33, "{isa:?}");
            }
        }
    }

    /// Even splits anywhere add up: a running sum through every variant.
    #[test]
    fn chunks_add_up() {
        let data = noise(700, 3);
        let whole = naive(&data);
        for isa in Isa::supported() {
            for cut in (0..=data.len()).step_by(2) {
                let (a, b) = data.split_at(cut);
                let split = isa.accumulate(isa.accumulate(0, a), b);
                assert_eq!(!fold(split), whole, "{isa:?} cut {cut}");
            }
        }
    }

    /// The fused copy equals a plain copy plus the naive sum for every length, source and
    /// destination offsets that differ, and any running sum; bytes around `dst` stay as they
    /// were.
    #[test]
    fn copy_accumulate_equals_copy_then_accumulate() {
        let src = noise(65_536 + 64, 5);
        for isa in Isa::supported() {
            for len in lengths() {
                for (soff, doff) in [(0, 0), (1, 0), (3, 1), (17, 60), (63, 33)] {
                    let s = &src[soff..soff + len];
                    for sum in [0, 0x1_2345, u64::MAX] {
                        let mut fused = vec![0xa5u8; len + 128];
                        let got = isa.copy_accumulate(sum, &mut fused[doff..doff + len], s);
                        let ctx = format!("{isa:?} len {len} offsets {soff} {doff} sum {sum:#x}");
                        assert_eq!(&fused[doff..doff + len], s, "{ctx}");
                        assert!(fused[..doff].iter().all(|&b| b == 0xa5), "{ctx}");
                        assert!(fused[doff + len..].iter().all(|&b| b == 0xa5), "{ctx}");
                        assert_eq!(fold(got), fold(accumulate_body(sum, s)), "{ctx}");
                        assert!(got < 1 << 33, "{ctx}");
                        if sum == 0 {
                            assert_eq!(!fold(got), naive(s), "{ctx}");
                        }
                    }
                }
                if len > 300 {
                    continue;
                }
                // Carry-heavy: all ones.
                let ones = vec![0xffu8; len];
                let mut dst = vec![0u8; len];
                let got = isa.copy_accumulate(0, &mut dst, &ones);
                assert_eq!(!fold(got), naive(&ones), "{isa:?} ones len {len}");
                assert_eq!(dst, ones);
            }
        }
    }

    /// A message split at an odd length: the second part's sum, swapped, adds up to the whole.
    #[test]
    fn odd_split_adds_up() {
        let data = noise(1500, 9);
        let whole = naive(&data);
        for isa in Isa::supported() {
            for cut in (1..data.len()).step_by(2) {
                let (a, b) = data.split_at(cut);
                let split = isa.accumulate(0, a) + at_odd_offset(isa.accumulate(0, b));
                assert_eq!(!fold(split), whole, "{isa:?} cut {cut}");
                let mut dst = vec![0u8; b.len()];
                let b_sum = isa.copy_accumulate(0, &mut dst, b);
                let split = isa.accumulate(0, a) + at_odd_offset(b_sum);
                assert_eq!(!fold(split), whole, "{isa:?} copy, cut {cut}");
            }
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
