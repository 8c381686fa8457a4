//! Damaged captures never panic: every truncation of a small pcap and pcapng keeps the
//! packets before the cut and names the offset of the block or record that was cut; random
//! byte flips are read (and analyzed) without a crash; each kind of malformed field stops
//! the reading at its offset with what came before kept.

mod capture_support;

use capture_support::{KEY_LOG, Order, pcap_file, recorder_of, tcp_conversation};
use synack_trace::capture::{self, WriteOptions, linktype};

fn small_pcapng() -> Vec<u8> {
    let mut recorder = recorder_of(&tcp_conversation());
    recorder.key_log(KEY_LOG);
    let mut out = Vec::new();
    capture::write_pcapng(&mut out, &recorder, &WriteOptions::default()).unwrap();
    out
}

fn small_pcap() -> Vec<u8> {
    let frames: Vec<_> = tcp_conversation()
        .into_iter()
        .map(|(t, p)| (t, capture_support::ethernet(&p, &[])))
        .collect();
    pcap_file(Order { big: false }, false, linktype::ETHERNET, &frames)
}

/// Block (or record) boundaries of a well-formed little-endian file we built, each with
/// the number of packets complete at that point.
fn boundaries(bytes: &[u8], pcapng: bool) -> Vec<(usize, usize)> {
    let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let mut at = if pcapng { word(4) } else { 24 };
    let mut packets = 0;
    let mut out = vec![(at, 0)];
    while at < bytes.len() {
        if pcapng {
            packets += usize::from(word(at) == 6);
            at += word(at + 4);
        } else {
            packets += 1;
            at += 16 + word(at + 8);
        }
        out.push((at, packets));
    }
    out
}

fn check_every_truncation(bytes: &[u8], pcapng: bool) {
    let bounds = boundaries(bytes, pcapng);
    let first_header = bounds[0].0;
    for cut in 0..=bytes.len() {
        let result = capture::read(&bytes[..cut]);
        if cut < first_header {
            let err = result.expect_err("a cut inside the first header is not a capture");
            assert!(err.offset <= cut as u64, "cut {cut}: {err}");
            continue;
        }
        let capture = result.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let &(last, packets) = bounds.iter().rev().find(|(b, _)| *b <= cut).unwrap();
        assert_eq!(capture.packets, packets, "cut {cut}");
        assert_eq!(capture.recorder.packet_count(), packets, "cut {cut}");
        match &capture.error {
            None => assert_eq!(last, cut, "cut {cut} is mid-block but no error"),
            Some(e) => {
                assert_ne!(last, cut, "cut {cut} is on a boundary: {e}");
                assert_eq!(e.offset, last as u64, "cut {cut}: {e}");
            }
        }
    }
}

#[test]
fn every_truncation_of_a_pcapng() {
    let bytes = small_pcapng();
    check_every_truncation(&bytes, true);
    // The key log comes before the first packet, so a cut after it keeps it.
    let bounds = boundaries(&bytes, true);
    let after_first_packet = bounds.iter().find(|(_, n)| *n == 1).unwrap().0;
    let read = capture::read(&bytes[..after_first_packet + 5]).unwrap();
    assert_eq!(read.recorder.key_log_text(), KEY_LOG);
}

#[test]
fn every_truncation_of_a_pcap() {
    check_every_truncation(&small_pcap(), false);
}

/// xorshift64*: a small seeded generator, so a failure names a replayable seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_byte_flips_never_panic() {
    for (name, original) in [("pcapng", small_pcapng()), ("pcap", small_pcap())] {
        for seed in 1..=4000u64 {
            let mut rng = Rng(seed);
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                // Sometimes a plausible small value (lengths!), sometimes anything.
                bytes[at] = match rng.below(3) {
                    0 => rng.next() as u8,
                    1 => bytes[at] ^ (1 << rng.below(8)),
                    _ => rng.below(8) as u8,
                };
            }
            let Ok(capture) = capture::read(&bytes) else {
                continue;
            };
            let context = format!("{name} seed {seed}");
            assert_eq!(
                capture.packets,
                capture.recorder.packet_count(),
                "{context}"
            );
            if let Some(e) = &capture.error {
                assert!(e.offset <= bytes.len() as u64, "{context}: {e}");
            }
            // The analysis copes with whatever came out.
            let _ = capture.recorder.finish();
        }
    }
}

fn le32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The offset of the n-th Enhanced Packet Block.
fn epb(bytes: &[u8], n: usize) -> usize {
    boundaries(bytes, true)
        .windows(2)
        .find(|w| w[1].1 == n + 1 && w[0].1 == n)
        .unwrap()[0]
        .0
}

#[test]
fn malformed_pcapng_blocks_stop_reading_at_their_offset() {
    let good = small_pcapng();
    let third = epb(&good, 2);
    let third_len = u32::from_le_bytes(good[third + 4..third + 8].try_into().unwrap()) as usize;
    let trailer = third + third_len - 4;
    // (where to write which u32s, what the error says, where it says it is).
    let cases = [
        (vec![(third + 4, 46)], "multiple of 4", third + 4),
        (vec![(third + 4, 0xffff_fff0)], "truncated", third),
        (vec![(third + 4, 8)], "under the minimum", third + 4),
        (
            vec![(third + 20, 5000), (third + 24, 5000)],
            "runs past",
            third + 20,
        ),
        (vec![(third + 24, 3)], "> original", third + 20),
        (vec![(trailer, 1000)], "trailing", trailer),
    ];
    for (i, (writes, message, offset)) in cases.into_iter().enumerate() {
        let mut bytes = good.clone();
        for (at, value) in writes {
            le32(&mut bytes, at, value);
        }
        let capture = capture::read(&bytes).unwrap();
        let e = capture
            .error
            .unwrap_or_else(|| panic!("case {i}: no error"));
        assert!(e.message.contains(message), "case {i}: {e}");
        assert_eq!(e.offset, offset as u64, "case {i}: {e}");
        assert_eq!(capture.packets, 2, "case {i}: the packets before are kept");
    }
}

#[test]
fn malformed_pcap_records_stop_reading_at_their_offset() {
    let good = small_pcap();
    let third = boundaries(&good, false)[2].0;
    // (captured, original) lengths, the message, and the offset relative to the record.
    for (captured, original, message, offset) in [
        (0xffff_ffff, 0xffff_ffff, "maximum", 8),
        (61, 20, "larger than the original", 8),
        (4000, 4000, "truncated", 0),
    ] {
        let mut bytes = good.clone();
        le32(&mut bytes, third + 8, captured);
        le32(&mut bytes, third + 12, original);
        let capture = capture::read(&bytes).unwrap();
        let e = capture.error.expect("an error");
        assert!(e.message.contains(message), "{e}");
        assert_eq!(e.offset, (third + offset) as u64, "{e}");
        assert_eq!(capture.packets, 2);
    }
}

#[test]
fn not_a_capture_is_an_error_at_zero() {
    for bytes in [
        &b""[..],
        b"GET / HTTP/1.1\r\n\r\n",
        &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0],
        &[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4],
    ] {
        let e = capture::read(bytes).expect_err("not a capture");
        assert!(e.offset <= 8, "{e}");
    }
    // A version we do not know is a broken first header.
    let mut pcap = small_pcap();
    pcap[4] = 3;
    assert!(capture::read(&pcap).is_err());
    let mut ng = small_pcapng();
    ng[12] = 2;
    assert!(capture::read(&ng).is_err());
}
