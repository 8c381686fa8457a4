//! `synack demo` over TLS (the default): the mission's order of phases, both TLS versions,
//! the key log, certificates from files, the legend and the timings.

mod common;

use std::fs;

use serde_json::Value;

use common::{
    arg, demo_json, of_type, one_line_error, phase_names, scratch, synack, synack_with_env,
};

/// The lifecycle the demo exists to show, in order.
const MISSION: [&str; 5] = [
    "tcp-3way-handshake",
    "tls-handshake",
    "http-request",
    "http-response",
    "tcp-4way-handshake",
];

fn assert_verified(lines: &[Value]) {
    let summary = of_type(lines, "summary");
    assert_eq!(summary.len(), 1, "one summary line");
    assert_eq!(summary[0]["verified"], true, "{}", summary[0]);
}

/// The one `timings` line, checked for curl's names and a sane order.
fn timings(lines: &[Value]) -> &Value {
    let timings = of_type(lines, "timings");
    assert_eq!(timings.len(), 1, "one timings line");
    let t = timings[0];
    assert_eq!(t["conn"], 1);
    let at = |name: &str| t[name].as_f64().unwrap_or_else(|| panic!("{name} in {t}"));
    assert!(at("time_connect") <= at("time_pretransfer"), "{t}");
    assert!(at("time_pretransfer") <= at("time_starttransfer"), "{t}");
    assert!(at("time_starttransfer") <= at("time_total"), "{t}");
    t
}

#[test]
fn default_is_https_over_tls13_in_the_missions_order() {
    let lines = demo_json(&[]);
    assert_eq!(phase_names(&lines), MISSION);
    let segments = of_type(&lines, "segment");
    assert_eq!(segments[0]["dst"], "10.0.0.2:443");
    assert_verified(&lines);
    // The timings line sits before the summary, which stays last.
    assert_eq!(
        lines.last().map(|l| &l["type"]),
        Some(&Value::from("summary"))
    );
    let t = timings(&lines);
    let (connect, appconnect) = (t["time_connect"].as_f64(), t["time_appconnect"].as_f64());
    assert!(appconnect > connect, "TLS finishes after TCP: {t}");
}

#[test]
fn tls12_runs_in_the_same_order_and_verifies() {
    let lines = demo_json(&["--tls", "1.2"]);
    assert_eq!(phase_names(&lines), MISSION);
    assert_verified(&lines);
    timings(&lines);
}

#[test]
fn plain_http_has_no_tls_phase_and_no_appconnect() {
    let lines = demo_json(&["--scheme", "http"]);
    let expected: Vec<&str> = MISSION
        .into_iter()
        .filter(|p| *p != "tls-handshake")
        .collect();
    assert_eq!(phase_names(&lines), expected);
    assert_eq!(timings(&lines)["time_appconnect"].as_f64(), Some(0.0));
}

#[test]
fn several_requests_over_tls_each_get_their_phases() {
    let lines = demo_json(&["--requests", "3", "--upload-bytes", "2000"]);
    let names = phase_names(&lines);
    let count = |name: &str| names.iter().filter(|n| *n == name).count();
    assert_eq!(
        (count("http-request"), count("http-response")),
        (3, 3),
        "{names:?}"
    );
    assert_eq!(count("tls-handshake"), 1, "{names:?}");
    assert_verified(&lines);
}

#[test]
fn ladder_explains_tls_and_shows_the_timings() {
    for (version, expect) in [("1.3", "TLS: TLS 1.3 · "), ("1.2", "TLS: TLS 1.2 · ")] {
        let out = synack(&["demo", "--tls", version]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        for text in [
            expect,
            "Where did the PremasterSecret go?",
            "ClientKeyExchange",
            "time_connect: ",
            "time_appconnect: ",
            "TLS Handshake",
            "appconnect:",
            "total:",
        ] {
            assert!(
                stdout.contains(text),
                "--tls {version}: no {text:?} in\n{stdout}"
            );
        }
        // The legend marks the version that ran.
        let marked = stdout
            .lines()
            .find(|l| l.ends_with("← this run"))
            .expect("a mark");
        assert!(marked.contains(&format!("- TLS {version}")), "{marked}");
        assert!(!stdout.contains("time_appconnect: 0.000000"), "{stdout}");
    }
}

#[test]
fn json_has_no_legend() {
    let out = synack(&["demo", "--json"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("PremasterSecret"));
}

/// Key log lines: `LABEL <64 hex> <hex>`; returns the labels.
fn key_log_labels(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "{line}");
            assert_eq!(fields[1].len(), 64, "{line}");
            let hex = |f: &str| f.bytes().all(|b| b.is_ascii_hexdigit());
            assert!(
                hex(fields[1]) && hex(fields[2]) && !fields[2].is_empty(),
                "{line}"
            );
            fields[0].to_owned()
        })
        .collect()
}

#[test]
fn keylog_file_holds_the_secrets_of_each_version() {
    let dir = scratch("keylog");
    for (version, labels) in [
        (
            "1.3",
            &[
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
            ][..],
        ),
        ("1.2", &["CLIENT_RANDOM"][..]),
    ] {
        let path = dir.join(format!("keys-{version}.txt"));
        let out = synack(&["demo", "--tls", version, "--keylog", arg(&path)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let found = key_log_labels(&fs::read_to_string(&path).expect("key log written"));
        for label in labels {
            assert!(
                found.iter().any(|l| l == label),
                "--tls {version}: {found:?}"
            );
        }
        if version == "1.2" {
            assert_eq!(found, ["CLIENT_RANDOM"]);
        }
    }
}

#[test]
fn sslkeylogfile_is_appended_to() {
    let dir = scratch("sslkeylogfile");
    let path = dir.join("keys.txt");
    fs::write(&path, "# earlier secrets\n").unwrap();
    let out = synack_with_env(&["demo"], &[("SSLKEYLOGFILE", arg(&path))]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&path).unwrap();
    let rest = text
        .strip_prefix("# earlier secrets\n")
        .expect("kept what was there");
    assert!(key_log_labels(rest).contains(&"CLIENT_TRAFFIC_SECRET_0".to_owned()));
}

#[test]
fn certificate_files_that_cannot_be_read_are_usage_errors() {
    let dir = scratch("bad-cert");
    let missing = dir.join("missing.pem");
    let garbage = dir.join("garbage.pem");
    fs::write(&garbage, "not PEM at all\n").unwrap();
    let (code, line) = one_line_error(&["demo", "--cert", arg(&missing), "--key", arg(&missing)]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.contains("missing.pem") && line.contains("PEM"),
        "{line}"
    );
    let (code, line) = one_line_error(&["demo", "--cert", arg(&garbage), "--key", arg(&garbage)]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("garbage.pem"), "{line}");
    let (code, line) = one_line_error(&["demo", "--cert", arg(&garbage)]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("--key"), "{line}");
}

/// Writes a self-signed certificate for `name` and its key as PEM; returns their paths.
fn self_signed(dir: &std::path::Path, name: &str) -> (String, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("a certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert_path, cert.pem()).unwrap();
    fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    (arg(&cert_path).to_owned(), arg(&key_path).to_owned())
}

#[test]
fn certificate_files_are_served_and_trusted() {
    let dir = scratch("own-cert");
    let (cert, key) = self_signed(&dir, "demo.example");
    let lines = demo_json(&["--cert", &cert, "--key", &key, "--sni", "demo.example"]);
    assert_verified(&lines);
    assert_eq!(phase_names(&lines), MISSION);
    // The client checks the name: the same certificate does not pass for another one.
    let out = synack(&[
        "demo",
        "--cert",
        &cert,
        "--key",
        &key,
        "--sni",
        "other.example",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_a_usage_error() {
    let dir = scratch("mismatched-key");
    let (cert, _) = self_signed(&dir, "a.example");
    let other = scratch("mismatched-key-other");
    let (_, key) = self_signed(&other, "a.example");
    let (code, line) = one_line_error(&["demo", "--cert", &cert, "--key", &key]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("--key"), "{line}");
}
