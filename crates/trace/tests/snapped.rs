//! Snapped packets (a capture's snapshot length, a recorder keeping headers only) analyze
//! like whole ones: the same sequence space, phases and retransmissions, with the payload
//! bytes not kept shown as not captured rather than read as garbage or holes.

mod common;

use common::{GET, Script, response};
use synack_trace::capture::{self, WriteOptions};
use synack_trace::ladder::{self, LadderOptions};
use synack_trace::{ConnectionTrace, PhaseName, Recorder, Side, Trace};

/// `tcpdump -s 96` on Ethernet keeps 82 bytes of each IP packet.
const SNAP: usize = 82;

/// GET / answered with a 4000-byte body in three segments, the second one sent twice,
/// then an orderly close.
fn exchange() -> Recorder {
    let mut s = Script::new(1_000, 5_000);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    s.ack(150, Side::Server);
    let res = response(4_000);
    let (a, rest) = res.split_at(1448);
    let (b, c) = rest.split_at(1448);
    s.data(200, Side::Server, a);
    s.data(210, Side::Server, b);
    s.data(220, Side::Server, c);
    // The second segment again, as after a timeout.
    s.data_at(500, Side::Server, 1 + 1448, b);
    s.ack(600, Side::Client);
    s.close(700, Side::Client);
    s.rec
}

/// The same packets with only the first `snap` bytes of each kept.
fn snapped(whole: &Recorder, snap: usize) -> Recorder {
    let mut r = Recorder::new();
    for (t, p) in whole.packets() {
        r.packet_snapped(t, &p[..p.len().min(snap)], p.len());
    }
    r
}

fn conn(trace: &Trace) -> &ConnectionTrace {
    assert_eq!(trace.connections.len(), 1, "{trace:#?}");
    &trace.connections[0]
}

/// Each segment's sequence-space shape: what snapping must not change.
fn shapes(c: &ConnectionTrace) -> Vec<String> {
    let shape = |s: &synack_trace::SegmentRecord| {
        let f = s.flags;
        format!(
            "{:?} {f:?} {} {} {} {}",
            s.from, s.seq, s.ack, s.len, s.retransmission
        )
    };
    c.segments.iter().map(shape).collect()
}

#[test]
fn a_snapped_exchange_has_the_sequence_space_of_the_whole_one() {
    let whole = exchange().finish();
    let cut = snapped(&exchange(), SNAP).finish();
    assert_eq!(cut.malformed_packets, 0);
    let (w, c) = (conn(&whole), conn(&cut));
    assert_eq!(shapes(c), shapes(w));
    // Only the deliberate retransmission is one.
    assert_eq!(cut.retransmissions(), 1);
    let names = |c: &ConnectionTrace| c.phases.iter().map(|p| p.name).collect::<Vec<_>>();
    assert_eq!(names(c), names(w));
    for name in [PhaseName::Tcp3WayHandshake, PhaseName::Tcp4WayHandshake] {
        let p = c.phases.iter().find(|p| p.name == name).unwrap();
        assert!(p.complete, "{p:?}");
    }
    // Headers are 40 bytes: a payload keeps at most 42 of its bytes.
    for s in &c.segments {
        assert_eq!(s.captured, s.len.min(SNAP - 40), "{s:?}");
    }
}

#[test]
fn http_is_named_from_the_bytes_kept_and_the_rest_is_unknown() {
    let cut = snapped(&exchange(), SNAP).finish();
    let c = conn(&cut);
    let lines: Vec<&str> = c.http.iter().map(|m| m.first_line.as_str()).collect();
    assert_eq!(lines, ["GET / HTTP/1.1", "HTTP/1.1 200 OK"]);
    // The response head (41 bytes) was kept, so its length is known; its body was not.
    let res = &c.http[1];
    assert_eq!((res.body_len, res.complete), (4_000, false));
    assert_eq!(
        res.end_offset - res.start_offset,
        response(4_000).len() as u64
    );
    let carries: Vec<&str> = c
        .segments
        .iter()
        .filter_map(|s| s.carries.as_deref())
        .collect();
    assert_eq!(
        carries,
        [
            "GET / HTTP/1.1",
            "HTTP/1.1 200 OK + [body 1407 B]",
            "[body 1448 B]",
            "[body 1145 B]",
            "[body 1448 B]"
        ]
    );
    // Named as when every byte was captured.
    let whole = exchange().finish();
    let named = |c: &ConnectionTrace| {
        c.segments
            .iter()
            .map(|s| s.carries.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(named(c), named(conn(&whole)));
    // Headers only (IPv4 and TCP, options included): nothing of any payload kept, the
    // lengths all still right.
    let mut headers = Recorder::new();
    for (t, p) in exchange().packets() {
        let tcp_header = usize::from(p[32] >> 4) * 4;
        headers.packet_snapped(t, &p[..20 + tcp_header], p.len());
    }
    let bare = headers.finish();
    let b = conn(&bare);
    assert_eq!(shapes(b), shapes(conn(&exchange().finish())));
    assert!(b.http.is_empty());
    assert!(b.segments.iter().all(|s| s.captured == 0));
}

/// A message all of whose bytes crossed the link was seen whole, so its phase finished, even
/// though its body was not kept; a response cut short on the wire stays unfinished.
#[test]
fn a_message_seen_whole_finishes_its_phase_though_not_captured_whole() {
    let cut = snapped(&exchange(), SNAP).finish();
    let c = conn(&cut);
    let res = &c.http[1];
    assert!(!res.complete && res.seen, "{res:?}");
    let phase = c
        .phases
        .iter()
        .find(|p| p.name == PhaseName::HttpResponse)
        .unwrap();
    assert!(phase.complete, "{phase:?}");

    // The same response with its last segment never sent: 4000 bytes announced, fewer seen.
    let mut s = Script::new(1_000, 5_000);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    let res = response(4_000);
    s.data(200, Side::Server, &res[..1448]);
    s.data(210, Side::Server, &res[1448..2896]);
    s.close(700, Side::Client);
    let short = snapped(&s.rec, SNAP).finish();
    let c = conn(&short);
    let res = c.http.iter().find(|m| m.from == Side::Server).unwrap();
    assert!(!res.seen, "{res:?}");
    let phase = c
        .phases
        .iter()
        .find(|p| p.name == PhaseName::HttpResponse)
        .unwrap();
    assert!(!phase.complete, "{phase:?}");
}

#[test]
fn ladder_and_json_say_what_was_not_captured() {
    let cut = snapped(&exchange(), SNAP).finish();
    let opts = LadderOptions {
        width: 200,
        ..LadderOptions::default()
    };
    let text = ladder::render(&cut, None, &opts);
    assert!(text.contains("len 1448 (42 captured)"), "{text}");
    // A payload kept whole says nothing more.
    assert!(text.contains("len 34 "), "{text}");
    assert!(!text.contains("(34 captured)"), "{text}");

    let mut out = Vec::new();
    synack_trace::json::write_lines(&cut, None, &mut out).unwrap();
    let segments: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "segment")
        .collect();
    let big = segments.iter().find(|v| v["len"] == 1448).unwrap();
    assert_eq!(big["captured"], 42, "{big}");
    let get = segments.iter().find(|v| v["len"] == 34).unwrap();
    assert!(get.get("captured").is_none(), "{get}");
}

#[test]
fn pcapng_round_trip_keeps_original_lengths() {
    let rec = snapped(&exchange(), SNAP);
    let mut file = Vec::new();
    capture::write_pcapng(&mut file, &rec, &WriteOptions::default()).unwrap();
    let read = capture::read(&file).unwrap();
    let got: Vec<_> = read.recorder.packets_with_len().collect();
    let want: Vec<_> = rec.packets_with_len().collect();
    assert_eq!(got, want);
    assert!(got.iter().any(|(_, p, len)| *len > p.len()));
}

/// A pcap of Ethernet frames taken with snapshot length `snap`: (t_ns, whole frame).
fn pcap_snapped(frames: &[(u64, Vec<u8>)], snap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_3c4d_u32, 0x0004_0002, 0, 0, snap as u32, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (t, frame) in frames {
        let kept = &frame[..frame.len().min(snap)];
        let (secs, ns) = (t / 1_000_000_000, t % 1_000_000_000);
        for v in [secs, ns, kept.len() as u64, frame.len() as u64] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(kept);
    }
    out
}

#[test]
fn a_pcap_with_a_snapshot_length_reads_as_snapped_packets() {
    let whole = exchange();
    let frames: Vec<(u64, Vec<u8>)> = whole
        .packets()
        .map(|(t, p)| {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(p);
            // Ethernet's minimum frame: short packets come padded.
            f.resize(f.len().max(60), 0);
            (t, f)
        })
        .collect();
    let read = capture::read(&pcap_snapped(&frames, 96)).unwrap();
    assert_eq!(read.error, None);
    let got: Vec<_> = read.recorder.packets_with_len().collect();
    let expected = snapped(&whole, SNAP);
    let want: Vec<_> = expected.packets_with_len().collect();
    // Padding is not part of the IP packet, and a packet kept whole is not snapped.
    assert_eq!(got, want);
    let trace = read.recorder.finish();
    assert_eq!(trace.malformed_packets, 0);
    assert_eq!(shapes(conn(&trace)), shapes(conn(&whole.finish())));
}

/// A small xorshift generator: fixed seeds, no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn any_cut_and_any_claimed_length_analyzes_and_renders_without_panicking() {
    let whole = exchange();
    for seed in 1..200u64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut r = Recorder::new();
        for (t, p) in whole.packets() {
            let mut p = p.to_vec();
            if next(&mut state).is_multiple_of(4) {
                let i = next(&mut state) as usize % p.len();
                p[i] = next(&mut state) as u8;
            }
            let cut = next(&mut state) as usize % (p.len() + 1);
            let original = match next(&mut state) % 3 {
                0 => p.len(),
                1 => cut + next(&mut state) as usize % 100_000,
                _ => usize::MAX,
            };
            r.packet_snapped(t, &p[..cut], original);
        }
        let trace = r.finish();
        let _ = ladder::render(&trace, None, &LadderOptions::default());
        let mut out = Vec::new();
        synack_trace::json::write_lines(&trace, None, &mut out).unwrap();
        let _ = synack_trace::html::render(&trace, None, &Default::default());
        let segs = trace.connections.iter().flat_map(|c| &c.segments);
        assert!(segs.clone().all(|s| s.captured <= s.len), "seed {seed}");
    }
}
