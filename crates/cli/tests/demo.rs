//! `synack demo` end to end: the segments it reports, its summary, and its errors.

use std::process::{Command, Output};

use serde_json::Value;

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run synack")
}

/// Runs `synack demo --json ARGS`, checks it succeeded, and returns its lines.
fn demo_json(args: &[&str]) -> Vec<Value> {
    let out = synack(&[&["demo", "--json"], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo {args:?} failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"));
    lines.collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

fn flags(segment: &Value) -> Vec<&str> {
    let flags = segment["flags"].as_array().expect("flags");
    flags.iter().filter_map(Value::as_str).collect()
}

fn has(segment: &Value, flag: &str) -> bool {
    flags(segment).contains(&flag)
}

/// A segment's `from`, flags, relative seq and ack (`None` without ACK).
fn describe(s: &Value) -> (&str, Vec<&str>, u64, Option<u64>) {
    let from = s["from"].as_str().expect("from");
    let ack = has(s, "ACK").then(|| s["ack"].as_u64().expect("ack"));
    (from, flags(s), s["seq"].as_u64().expect("seq"), ack)
}

fn assert_3way(segments: &[&Value]) {
    assert!(segments.len() >= 7, "too few segments: {}", segments.len());
    assert_eq!(describe(segments[0]), ("client", vec!["SYN"], 0, None));
    assert_eq!(
        describe(segments[1]),
        ("server", vec!["SYN", "ACK"], 0, Some(1))
    );
    assert_eq!(describe(segments[2]), ("client", vec!["ACK"], 1, Some(1)));
}

/// The last four segments are FIN, ACK, FIN, ACK, the first FIN from `first`.
fn assert_4way(segments: &[&Value], first: &str) {
    let last4 = &segments[segments.len() - 4..];
    let second = if first == "client" {
        "server"
    } else {
        "client"
    };
    let expect = [
        (first, "FIN"),
        (second, "ACK"),
        (second, "FIN"),
        (first, "ACK"),
    ];
    for (s, (from, flag)) in last4.iter().zip(expect) {
        assert_eq!(s["from"], from, "{s}");
        assert!(has(s, flag), "expected {flag} from {from}: {s}");
    }
    assert!(!has(last4[1], "FIN") && !has(last4[3], "FIN"), "{last4:?}");
    // Each FIN is acknowledged exactly: ack = FIN's seq + its length + 1.
    for (fin, ack) in [(last4[0], last4[1]), (last4[2], last4[3])] {
        let fin_end = fin["seq"].as_u64().unwrap() + fin["len"].as_u64().unwrap() + 1;
        assert_eq!(ack["ack"].as_u64(), Some(fin_end), "{fin} / {ack}");
    }
}

fn assert_verified(lines: &[Value], requests: u64) -> Value {
    let summary = of_type(lines, "summary");
    assert_eq!(summary.len(), 1, "one summary line");
    let summary = summary[0].clone();
    assert_eq!(summary["verified"], true, "{summary}");
    assert_eq!(summary["requests"], requests, "{summary}");
    assert_eq!(summary["sha256_sent"], summary["sha256_received"]);
    summary
}

#[test]
fn default_demo_shows_both_handshakes_and_verifies() {
    let lines = demo_json(&[]);
    let segments = of_type(&lines, "segment");
    assert_3way(&segments);
    assert_4way(&segments, "client");
    let summary = assert_verified(&lines, 1);
    assert_eq!(summary["bytes_down"], 1024);
    assert_eq!(summary["segments"], segments.len());
    assert!(
        segments
            .iter()
            .all(|s| s["src"].as_str().unwrap().starts_with("10.0.0."))
    );
}

#[test]
fn server_close_sends_the_servers_fin_first() {
    let lines = demo_json(&["--close", "server"]);
    let segments = of_type(&lines, "segment");
    assert_3way(&segments);
    assert_4way(&segments, "server");
    assert_verified(&lines, 1);
}

#[test]
fn ipv6_demo() {
    let lines = demo_json(&["--ipv6"]);
    let segments = of_type(&lines, "segment");
    assert_3way(&segments);
    assert_4way(&segments, "client");
    assert_eq!(
        segments[0]["src"].as_str().unwrap().split(']').next(),
        Some("[fd00::1")
    );
    assert_eq!(segments[0]["dst"], "[fd00::2]:80");
    assert_verified(&lines, 1);
}

#[test]
fn uploads_on_a_keep_alive_connection_verify() {
    let args = [
        "--upload-bytes",
        "5000",
        "--body-bytes",
        "3000",
        "--requests",
        "3",
        "--close",
        "server",
    ];
    let lines = demo_json(&args);
    let segments = of_type(&lines, "segment");
    let syns = segments.iter().filter(|s| has(s, "SYN")).count();
    assert_eq!(syns, 2, "one connection");
    assert_4way(&segments, "server");
    let summary = assert_verified(&lines, 3);
    assert_eq!(
        (summary["bytes_up"].as_u64(), summary["bytes_down"].as_u64()),
        (Some(15000), Some(9000))
    );
}

#[test]
fn small_mtu_still_verifies() {
    let lines = demo_json(&["--mtu", "576", "--body-bytes", "20000", "--seed", "7"]);
    assert_verified(&lines, 1);
    for s in of_type(&lines, "segment") {
        assert!(s["len"].as_u64().unwrap() <= 576 - 40, "{s}");
    }
}

#[test]
fn the_same_seed_gives_the_same_segments() {
    // Raw ISNs follow a clock (RFC 6528); everything relative to them, and the ports, repeat.
    let shape = |lines: Vec<Value>| -> Vec<String> {
        let fields = ["src", "flags", "seq", "ack", "len", "win"];
        let segments = of_type(&lines, "segment");
        let shape = segments
            .iter()
            .map(|s| fields.map(|f| s[f].to_string()).join(" "));
        shape.collect()
    };
    let first = shape(demo_json(&["--seed", "42"]));
    assert_eq!(first, shape(demo_json(&["--seed", "42"])));
    assert_ne!(
        first,
        shape(demo_json(&["--seed", "43"])),
        "the seed picks the port"
    );
}

#[test]
fn ladder_has_a_header_and_no_colour_in_a_pipe() {
    let out = synack(&["demo"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "synack demo: HTTP GET over synack's own TCP/IP, client 10.0.0.1 ⇄ server 10.0.0.2:80"
        )
    );
    assert_eq!(
        lines.next(),
        Some("link: in-memory, MTU 1500, no impairment (seed 1)")
    );
    assert!(stdout.contains("SYN"));
    assert!(!stdout.contains('\x1b'), "colour in a pipe");
}

/// Runs synack expecting failure with exactly one line on stderr; returns that line.
fn one_line_error(args: &[&str]) -> String {
    let out = synack(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    stderr
}

#[test]
fn bad_options_get_one_line_errors() {
    assert!(one_line_error(&["demo", "--bogus"]).contains("--bogus"));
    assert!(one_line_error(&["demo", "--close", "nobody"]).contains("client, server"));
    assert!(one_line_error(&["demo", "--requests", "0"]).contains("--requests"));
    assert!(one_line_error(&["demo", "--body-bytes", "lots"]).contains("--body-bytes"));
    assert!(one_line_error(&["demo", "--scheme", "https"]).contains("not available yet"));
    assert!(one_line_error(&["demo", "--mtu", "575"]).contains("576..=65535"));
    assert!(one_line_error(&["demo", "--ipv6", "--mtu", "1279"]).contains("1280..=65535"));
    assert!(one_line_error(&["demo", "--mtu", "65536"]).contains("--mtu"));
}
