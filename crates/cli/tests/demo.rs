//! `synack demo` end to end: the segments it reports, its summary, and its errors. The
//! default is HTTPS; what TLS itself shows is in tests/https.rs.

mod common;

use serde_json::Value;

use common::{demo_json, of_type, one_line_error, synack};

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
    for scheme in ["https", "http"] {
        let lines = demo_json(&["--close", "server", "--scheme", scheme]);
        let segments = of_type(&lines, "segment");
        assert_3way(&segments);
        assert_4way(&segments, "server");
        assert_verified(&lines, 1);
    }
}

#[test]
fn plain_http_demo_is_unchanged() {
    let lines = demo_json(&["--scheme", "http"]);
    let segments = of_type(&lines, "segment");
    assert_3way(&segments);
    assert_4way(&segments, "client");
    // Nothing for TLS between the handshake and the request.
    assert!(
        segments.iter().all(|s| !s.to_string().contains("Hello")),
        "{segments:?}"
    );
    assert_eq!(segments[0]["dst"], "10.0.0.2:80");
    assert_eq!(segments[3]["carries"], "GET / HTTP/1.1");
    let summary = assert_verified(&lines, 1);
    assert_eq!(summary["bytes_down"], 1024);
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
    assert_eq!(segments[0]["dst"], "[fd00::2]:443");
    assert_verified(&lines, 1);
}

#[test]
fn ipv6_plain_http_uses_port_80() {
    let lines = demo_json(&["--ipv6", "--scheme", "http", "--close", "server"]);
    let segments = of_type(&lines, "segment");
    assert_3way(&segments);
    assert_4way(&segments, "server");
    assert_eq!(segments[0]["dst"], "[fd00::2]:80");
    assert_verified(&lines, 1);
}

#[test]
fn uploads_on_a_keep_alive_connection_verify() {
    uploads_verify(&[]);
    uploads_verify(&["--scheme", "http"]);
}

fn uploads_verify(scheme: &[&str]) {
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
    let lines = demo_json(&[&args[..], scheme].concat());
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
    for scheme in ["https", "http"] {
        let args = [
            "--mtu",
            "576",
            "--body-bytes",
            "20000",
            "--seed",
            "7",
            "--scheme",
            scheme,
        ];
        let lines = demo_json(&args);
        assert_verified(&lines, 1);
        for s in of_type(&lines, "segment") {
            assert!(s["len"].as_u64().unwrap() <= 576 - 40, "{s}");
        }
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
    let out = synack(&["demo", "--scheme", "http"]);
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
    // Plain HTTP has no TLS legend, and its timings have no TLS column.
    assert!(!stdout.contains("PremasterSecret"), "{stdout}");
    assert!(stdout.contains("time_appconnect: 0.000000"), "{stdout}");
    assert!(stdout.contains("TCP Connection") && !stdout.contains("TLS Handshake"));
}

#[test]
fn https_ladder_header_names_the_tls_version() {
    let out = synack(&["demo"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().next(),
        Some(
            "synack demo: HTTPS GET (TLS 1.3) over synack's own TCP/IP, \
             client 10.0.0.1 ⇄ server 10.0.0.2:443"
        )
    );
    assert!(!stdout.contains('\x1b'), "colour in a pipe");
}

#[test]
fn bad_options_get_one_line_errors() {
    let usage = |args: &[&str], expect: &str| {
        let (code, line) = one_line_error(args);
        assert_eq!(code, 2, "{args:?}: {line}");
        assert!(line.contains(expect), "{args:?}: {line}");
    };
    usage(&["demo", "--bogus"], "--bogus");
    usage(&["demo", "--close", "nobody"], "client, server");
    usage(&["demo", "--requests", "0"], "--requests");
    usage(&["demo", "--body-bytes", "lots"], "--body-bytes");
    usage(&["demo", "--scheme", "gopher"], "http, https");
    usage(&["demo", "--tls", "1.1"], "1.3, 1.2");
    usage(
        &["demo", "--scheme", "http", "--tls", "1.2"],
        "--tls is for https only",
    );
    usage(
        &["demo", "--scheme", "http", "--keylog", "k"],
        "--keylog is for https only",
    );
    usage(&["demo", "--sni", "not a name"], "--sni");
    usage(&["demo", "--mtu", "575"], "576..=65535");
    usage(&["demo", "--ipv6", "--mtu", "1279"], "1280..=65535");
    usage(&["demo", "--mtu", "65536"], "--mtu");
}

/// A bad link (loss, reordering, duplication, corruption and delay together) still
/// verifies, and the numbers show the recovery: the sender retransmitted, and the report
/// carries each side's transport numbers.
#[test]
fn a_bad_link_still_verifies_and_shows_recovery() {
    let lines = demo_json(&[
        "--body-bytes",
        "400000",
        "--delay-ms",
        "2",
        "--loss",
        "4",
        "--reorder",
        "3",
        "--duplicate",
        "2",
        "--corrupt",
        "2",
        "--seed",
        "3",
    ]);
    assert_verified(&lines, 1);
    let tcp = of_type(&lines, "tcp");
    assert_eq!(tcp.len(), 2, "one tcp line per side");
    let server = tcp.iter().find(|l| l["side"] == "server").expect("server");
    assert!(
        server["retransmitted_segments"].as_u64().unwrap() > 0,
        "{server}"
    );
    assert!(
        server["bytes_sent"].as_u64().unwrap() >= 400_000,
        "{server}"
    );
    assert!(server["srtt"].as_f64().is_some(), "{server}");
    let summary = of_type(&lines, "summary")[0];
    assert!(
        summary["retransmissions"].as_u64().unwrap() > 0,
        "{summary}"
    );
}

#[test]
fn bad_link_options_get_one_line_errors() {
    for (args, needle) in [
        (&["demo", "--loss", "120"][..], "--loss"),
        (&["demo", "--rate", "fast"][..], "rate"),
        (&["demo", "--queue", "10"][..], "--rate"),
        (&["demo", "--burst-loss"][..], "--loss"),
        (&["demo", "--delay-ms=-3"][..], "--delay-ms"),
        (&["demo", "--jitter-ms", "70000"][..], "--jitter-ms"),
    ] {
        let (code, line) = one_line_error(args);
        assert_eq!(code, 2, "{args:?}: {line}");
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}
