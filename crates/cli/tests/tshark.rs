//! Wireshark's own dissectors read our pcapng: no malformed packet, no bad checksum, and the
//! embedded key log decrypts the HTTP inside TLS 1.3 and TLS 1.2, handshake messages and
//! all.
//!
//! tshark is installed by `.ci/run`. Without it the tests say so and pass, except under CI
//! (the `CI` variable set), where they fail.

mod common;

use std::path::Path;
use std::process::Command;

use common::{arg, json_lines, scratch, synack};

/// Runs tshark on `file` with checksum validation on; None when tshark is missing.
fn tshark(file: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args(args)
        .output();
    match out {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "tshark {args:?} failed: {stderr}");
            Some(String::from_utf8(out.stdout).expect("utf-8"))
        }
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "tshark is needed under CI: {e}"
            );
            eprintln!("tshark not found ({e}); skipped");
            None
        }
    }
}

/// Field values per packet, as lists (tshark joins repeated fields with commas).
fn fields(file: &Path, filter: &str, names: &[&str]) -> Option<Vec<Vec<String>>> {
    let mut args = vec!["-Y", filter, "-T", "fields"];
    for n in names {
        args.extend(["-e", n]);
    }
    let out = tshark(file, &args)?;
    let rows = out
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect());
    Some(rows.collect())
}

/// Runs the demo with `--pcap`, checks tshark's view of it; returns its handshake types.
fn check(test: &str, extra: &[&str]) -> Option<Vec<u8>> {
    let dir = scratch(test);
    let pcap = dir.join("demo.pcapng");
    let mut args = vec!["demo", "--json", "--pcap", arg(&pcap)];
    args.extend(extra);
    let out = synack(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = json_lines(&out);

    // Nothing malformed, no checksum error, no warning of any kind on a clean link.
    let expert = tshark(&pcap, &["-q", "-z", "expert"])?;
    for bad in ["Errors (", "Warns (", "Malformed", "checksum"] {
        assert!(
            !expert.contains(bad),
            "{test}: tshark reports {bad:?}:\n{expert}"
        );
    }
    let frames = tshark(&pcap, &["-T", "fields", "-e", "frame.number"])?;
    let segments = ours.iter().filter(|l| l["type"] == "segment").count();
    assert_eq!(
        frames.lines().count(),
        segments,
        "{test}: packet counts differ"
    );

    // The secrets block decrypts the request and the response.
    let http = fields(
        &pcap,
        "http",
        &[
            "http.request.method",
            "http.request.uri",
            "http.response.code",
        ],
    )?;
    assert!(
        http.iter().any(|r| r[0] == "GET" && r[1] == "/"),
        "{test}: no decrypted GET: {http:?}"
    );
    assert!(
        http.iter().any(|r| r[2] == "200"),
        "{test}: no decrypted 200: {http:?}"
    );
    let alerts = fields(&pcap, "tls.alert_message", &["tls.alert_message.desc"])?;
    assert_eq!(
        alerts.len(),
        2,
        "{test}: one close_notify each way: {alerts:?}"
    );
    assert!(alerts.iter().all(|r| r[0] == "0"), "{test}: {alerts:?}");

    let types = fields(&pcap, "tls.handshake.type", &["tls.handshake.type"])?;
    let types = types.iter().flat_map(|r| r[0].split(','));
    Some(types.map(|t| t.parse().expect("a number")).collect())
}

#[test]
fn tls13_capture_decrypts_in_tshark() {
    let Some(types) = check("tshark-tls13", &[]) else {
        return;
    };
    // ClientHello, ServerHello, EncryptedExtensions, Certificate, CertificateVerify,
    // Finished (server), Finished (client), NewSessionTicket: the encrypted ones need the
    // embedded handshake secrets.
    for t in [1, 2, 8, 11, 15, 20, 4] {
        assert!(types.contains(&t), "handshake type {t} missing: {types:?}");
    }
    assert_eq!(types.iter().filter(|&&t| t == 20).count(), 2, "{types:?}");
}

#[test]
fn tls12_capture_decrypts_in_tshark() {
    let Some(types) = check("tshark-tls12", &["--tls", "1.2"]) else {
        return;
    };
    // ClientHello, ServerHello, Certificate, ServerKeyExchange, ServerHelloDone,
    // ClientKeyExchange, and both Finished messages (encrypted, so decrypted).
    for t in [1, 2, 11, 12, 14, 16, 20] {
        assert!(types.contains(&t), "handshake type {t} missing: {types:?}");
    }
    assert_eq!(types.iter().filter(|&&t| t == 20).count(), 2, "{types:?}");
}
