//! `synack trace FILE`: captures written by `synack demo --pcap` read back, damaged captures,
//! files that are not captures, key logs given separately, and captures snapped to a
//! snapshot length.

mod common;

use std::fs;
use std::path::Path;

use serde_json::Value;

use common::{arg, demo_json, json_lines, of_type, one_line_error, phase_names, scratch, synack};

/// Runs the demo with `--pcap`, returning its JSON lines and the capture's path.
fn demo_capture(dir: &Path, args: &[&str]) -> (Vec<Value>, String) {
    let path = dir.join("demo.pcapng");
    let path = arg(&path).to_owned();
    let lines = demo_json(&[args, &["--pcap", &path]].concat());
    (lines, path)
}

/// Runs `synack trace --json ARGS`, checks it succeeded, and returns its lines.
fn trace_json(args: &[&str]) -> Vec<Value> {
    let out = synack(&[&["trace", "--json"], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "trace {args:?} failed: {stderr}");
    json_lines(&out)
}

/// Segments as (from, flags, seq, ack, len): what must survive the round trip.
fn shapes(lines: &[Value]) -> Vec<String> {
    let fields = ["from", "flags", "seq", "ack", "len", "carries"];
    let segments = of_type(lines, "segment");
    let shape = segments
        .iter()
        .map(|s| fields.map(|f| s[f].to_string()).join(" "));
    shape.collect()
}

#[test]
fn a_demo_capture_reads_back_as_the_live_run() {
    for (name, args) in [
        ("https", &[][..]),
        ("tls12", &["--tls", "1.2"][..]),
        ("http", &["--scheme", "http"][..]),
    ] {
        let dir = scratch(&format!("roundtrip-{name}"));
        let (live, capture) = demo_capture(&dir, args);
        let read = trace_json(&[&capture]);
        assert!(
            phase_names(&live).len() >= 4,
            "{name}: {:?}",
            phase_names(&live)
        );
        assert_eq!(phase_names(&read), phase_names(&live), "{name}");
        assert_eq!(shapes(&read), shapes(&live), "{name}");
        // Same curl names either way; a capture has no summary.
        assert_eq!(of_type(&read, "timings").len(), 1, "{name}");
        assert!(of_type(&read, "summary").is_empty(), "{name}");
        assert!(
            of_type(&read, "state").is_empty(),
            "{name}: a capture has no states"
        );
    }
}

#[test]
fn ladder_shows_phases_and_timings_for_each_connection() {
    let dir = scratch("ladder");
    let (_, capture) = demo_capture(&dir, &[]);
    let out = synack(&["trace", &capture]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(&format!("synack trace: {capture} (pcapng, 13 IP packets)")),
        "{stdout}"
    );
    for text in [
        "SYN",
        "ClientHello",
        "phases of connection 1",
        "TLS: TLS 1.3 · ",
        "SNI synack.test",
        "all decrypted",
        "TLS handshake",
        "4-way handshake",
        "time_appconnect: ",
        "starttransfer:",
    ] {
        assert!(stdout.contains(text), "no {text:?} in\n{stdout}");
    }
    assert!(!stdout.contains('\x1b'), "colour in a pipe");
}

#[test]
fn html_is_written_for_the_demo_and_for_a_capture() {
    let dir = scratch("html");
    let demo_page = dir.join("demo.html");
    let (_, capture) = demo_capture(&dir, &["--html", arg(&demo_page)]);
    let trace_page = dir.join("trace.html");
    trace_json(&[&capture, "--html", arg(&trace_page)]);
    for page in [demo_page, trace_page] {
        let html = fs::read_to_string(&page).expect("page written");
        assert!(
            html.to_ascii_lowercase().contains("<html"),
            "{}",
            page.display()
        );
    }
}

#[test]
fn a_file_that_cannot_be_written_is_one_line_naming_it() {
    let dir = scratch("unwritable");
    let path = dir.join("no-such-dir").join("x.pcapng");
    let (code, line) = one_line_error(&["demo", "--pcap", arg(&path)]);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains(arg(&path)), "{line}");
    let (code, line) = one_line_error(&["demo", "--keylog", arg(&path)]);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains(arg(&path)), "{line}");
}

#[test]
fn files_that_are_not_captures_are_one_line_errors() {
    let dir = scratch("not-a-capture");
    let garbage = dir.join("garbage.pcap");
    fs::write(&garbage, b"this is not a capture, just some text\n").unwrap();
    let empty = dir.join("empty.pcap");
    fs::write(&empty, b"").unwrap();
    let missing = dir.join("missing.pcap");
    for path in [&garbage, &empty, &missing] {
        let (code, line) = one_line_error(&["trace", arg(path)]);
        assert_eq!(code, 1, "{line}");
        assert!(line.contains(arg(path)), "{line}");
    }
    let (code, line) = one_line_error(&["trace"]);
    assert_eq!(code, 2, "{line}");
}

#[test]
fn a_truncated_capture_shows_what_it_could_read_and_warns() {
    let dir = scratch("truncated");
    let (live, capture) = demo_capture(&dir, &["--scheme", "http"]);
    let bytes = fs::read(&capture).unwrap();
    // Cut inside the last packet's block.
    let cut = dir.join("cut.pcapng");
    fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    for json in [true, false] {
        let args = if json {
            vec!["trace", "--json", arg(&cut)]
        } else {
            vec!["trace", arg(&cut)]
        };
        let out = synack(&args);
        assert_eq!(out.status.code(), Some(1), "scripts must notice");
        let stderr = String::from_utf8(out.stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("warning") && stderr.contains("cut.pcapng"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        if json {
            let read = json_lines(&out);
            let live_segments = of_type(&live, "segment").len();
            assert_eq!(of_type(&read, "segment").len(), live_segments - 1);
            assert_eq!(phase_names(&read)[..3], phase_names(&live)[..3]);
        } else {
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert!(stdout.contains("3-way handshake"), "{stdout}");
        }
    }
}

/// The capture without its Decryption Secrets Block (pcapng block type 0x0000000A), as a
/// capture taken with tcpdump would be: every other block is kept as it is.
fn without_secrets(pcapng: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= pcapng.len() {
        let word = |i: usize| u32::from_le_bytes(pcapng[i..i + 4].try_into().unwrap());
        let (kind, len) = (word(at), word(at + 4) as usize);
        assert!(
            len >= 12 && at + len <= pcapng.len(),
            "a little-endian pcapng"
        );
        if kind != 0x0000_000a {
            out.extend_from_slice(&pcapng[at..at + len]);
        }
        at += len;
    }
    out
}

#[test]
fn keylog_decrypts_a_capture_that_carries_no_secrets() {
    let dir = scratch("keylog");
    let keys = dir.join("keys.txt");
    let (live, capture) = demo_capture(&dir, &["--keylog", arg(&keys)]);
    let bare = dir.join("bare.pcapng");
    let bytes = fs::read(&capture).unwrap();
    let stripped = without_secrets(&bytes);
    assert!(
        stripped.len() < bytes.len(),
        "the demo's capture embeds its secrets"
    );
    fs::write(&bare, stripped).unwrap();

    // Without secrets the request and response stay hidden in encrypted records.
    let hidden = trace_json(&[arg(&bare)]);
    assert!(
        !phase_names(&hidden).contains(&"http-request".to_owned()),
        "{:?}",
        phase_names(&hidden)
    );
    assert!(of_type(&hidden, "timings").is_empty());
    let out = synack(&["trace", arg(&bare)]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("give --keylog FILE"), "{stdout}");
    // With --keylog they are found again.
    let found = trace_json(&[arg(&bare), "--keylog", arg(&keys)]);
    assert_eq!(phase_names(&found), phase_names(&live));

    let missing = dir.join("missing-keys.txt");
    let (code, line) = one_line_error(&["trace", arg(&bare), "--keylog", arg(&missing)]);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("missing-keys.txt"), "{line}");
}

/// The capture with every packet cut to its first `snap` bytes, as `tcpdump -s` keeps them:
/// each Enhanced Packet Block (type 6) keeps its original length and loses the rest.
fn snapped_copy(pcapng: &[u8], snap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= pcapng.len() {
        let word = |i: usize| u32::from_le_bytes(pcapng[i..i + 4].try_into().unwrap());
        let (kind, len) = (word(at), word(at + 4) as usize);
        assert!(
            len >= 12 && at + len <= pcapng.len(),
            "a little-endian pcapng"
        );
        if kind != 6 {
            out.extend_from_slice(&pcapng[at..at + len]);
            at += len;
            continue;
        }
        // Interface, timestamp (2 words), captured length, original length, then the data.
        let captured = word(at + 20) as usize;
        let kept = captured.min(snap);
        let mut body = pcapng[at + 8..at + 20].to_vec();
        body.extend_from_slice(&(kept as u32).to_le_bytes());
        body.extend_from_slice(&pcapng[at + 24..at + 28]);
        body.extend_from_slice(&pcapng[at + 28..at + 28 + kept]);
        body.resize(body.len().next_multiple_of(4), 0);
        let total = (body.len() + 12) as u32;
        out.extend_from_slice(&6u32.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&total.to_le_bytes());
        at += len;
    }
    out
}

#[test]
fn a_snapped_capture_keeps_its_sequence_space_and_says_what_was_not_captured() {
    let dir = scratch("snapped");
    let (live, capture) = demo_capture(&dir, &["--scheme", "http", "--body-bytes", "100000"]);
    let snapped = dir.join("snapped.pcapng");
    // 80 bytes: the IPv4 and TCP headers and the first few bytes of payload.
    fs::write(&snapped, snapped_copy(&fs::read(&capture).unwrap(), 80)).unwrap();
    let read = trace_json(&[arg(&snapped)]);
    let fields = ["from", "flags", "seq", "ack", "len", "retransmission"];
    let shape = |lines: &[Value]| -> Vec<String> {
        let segments = of_type(lines, "segment");
        let shape = segments
            .iter()
            .map(|s| fields.map(|f| s[f].to_string()).join(" "));
        shape.collect()
    };
    assert_eq!(shape(&read), shape(&live));
    assert_eq!(phase_names(&read), phase_names(&live));
    let segments = of_type(&read, "segment");
    let cut: Vec<&&Value> = segments
        .iter()
        .filter(|s| s.get("captured").is_some())
        .collect();
    assert!(!cut.is_empty(), "no segment says it was snapped");
    for s in &cut {
        assert!(s["captured"].as_u64() < s["len"].as_u64(), "{s}");
    }

    let out = synack(&["trace", arg(&snapped)]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let heading = stdout.lines().next().unwrap_or_default();
    assert!(
        heading.contains(&format!("{} snapped", cut.len())),
        "{heading}"
    );
    assert!(stdout.contains(" captured)"), "{stdout}");
}

#[test]
fn a_snapped_https_capture_names_only_what_it_kept() {
    let dir = scratch("snapped-https");
    let (live, capture) = demo_capture(&dir, &["--body-bytes", "20000"]);
    let snapped = dir.join("snapped.pcapng");
    fs::write(&snapped, snapped_copy(&fs::read(&capture).unwrap(), 80)).unwrap();
    let read = trace_json(&[arg(&snapped)]);
    let fields = ["from", "flags", "seq", "ack", "len", "retransmission"];
    let shape = |lines: &[Value]| -> Vec<String> {
        let segments = of_type(lines, "segment");
        let shape = segments
            .iter()
            .map(|s| fields.map(|f| s[f].to_string()).join(" "));
        shape.collect()
    };
    assert_eq!(shape(&read), shape(&live));
    let names: Vec<String> = of_type(&read, "tls-message")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("ClientHello"));
    // Records after a cut are found by their declared lengths; their type stays hidden.
    assert!(names.iter().any(|n| n == "encrypted record"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("ApplicationData")),
        "{names:?}"
    );
}
