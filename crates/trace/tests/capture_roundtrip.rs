//! pcapng written from a recording of synack's own traffic reads back as the same packets,
//! times and key log, and analyzes into the same connections and phases.

mod capture_support;

use capture_support::{KEY_LOG, synack_http_exchange};
use synack_trace::capture::{self, CaptureFormat, WriteOptions};
use synack_trace::{PhaseName, Recorder, Trace};

/// 2026-01-01T00:00:00Z.
const EPOCH_NS: u64 = 1_767_225_600_000_000_000;

fn write(recorder: &Recorder, options: &WriteOptions) -> Vec<u8> {
    let mut out = Vec::new();
    capture::write_pcapng(&mut out, recorder, options).unwrap();
    out
}

/// The parts of a trace that must survive a round trip.
fn shape(trace: &Trace) -> Vec<String> {
    trace
        .connections
        .iter()
        .map(|c| format!("{:?} {:?} {:?}", c.segments, c.phases, c.http))
        .collect()
}

#[tokio::test]
async fn synack_exchange_round_trips_through_pcapng() {
    let mut original = synack_http_exchange(3000).await;
    original.key_log(KEY_LOG);
    let options = WriteOptions {
        epoch_unix_ns: EPOCH_NS,
        comment: Some("round trip".into()),
    };
    let bytes = write(&original, &options);

    let read = capture::read(&bytes).unwrap();
    assert_eq!(read.format, CaptureFormat::PcapNg);
    assert_eq!(read.error, None);
    assert_eq!(read.skipped, 0);
    assert_eq!(read.packets, original.packet_count());
    assert_eq!(read.recorder.key_log_text(), KEY_LOG);
    let want: Vec<_> = original.packets().map(|(t, p)| (EPOCH_NS + t, p)).collect();
    let got: Vec<_> = read.recorder.packets().collect();
    assert_eq!(got, want);

    // Same analysis once times are shifted back to the recorder's zero.
    let mut shifted = Recorder::new();
    for (t, p) in read.recorder.packets() {
        shifted.packet(t - EPOCH_NS, p);
    }
    let (before, after) = (original.finish(), shifted.finish());
    assert_eq!(before.connections.len(), 1);
    assert_eq!(shape(&after), shape(&before));
    let phases: Vec<_> = after.connections[0].phases.iter().map(|p| p.name).collect();
    for name in [
        PhaseName::Tcp3WayHandshake,
        PhaseName::HttpRequest,
        PhaseName::HttpResponse,
        PhaseName::Tcp4WayHandshake,
    ] {
        assert!(phases.contains(&name), "{name:?} missing from {phases:?}");
    }

    // Analyzed in absolute time, only the times move.
    let absolute = read.recorder.finish();
    assert_eq!(absolute.start_ns, before.start_ns + EPOCH_NS);
    assert_eq!(absolute.segments(), before.segments());
}

#[tokio::test]
async fn no_key_log_means_no_secrets_block() {
    let original = synack_http_exchange(10).await;
    let bytes = write(&original, &WriteOptions::default());
    // Block types in order: SHB, IDB, then only packets.
    let mut at = 0;
    let mut types = Vec::new();
    while at < bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        types.push(word(at));
        at += word(at + 4) as usize;
    }
    assert_eq!(types[..2], [0x0a0d_0d0a, 1]);
    assert!(types[2..].iter().all(|&t| t == 6), "{types:x?}");
    assert_eq!(types.len() - 2, original.packet_count());

    let read = capture::read(&bytes).unwrap();
    assert_eq!(read.recorder.key_log_text(), "");
    let got: Vec<_> = read.recorder.packets().collect();
    let want: Vec<_> = original.packets().collect();
    assert_eq!(got, want, "epoch 0 keeps the recorder's times");
}

#[test]
fn empty_recorder_writes_a_valid_empty_capture() {
    let bytes = write(&Recorder::new(), &WriteOptions::default());
    let read = capture::read(&bytes).unwrap();
    assert_eq!((read.packets, read.skipped, read.error), (0, 0, None));
}
