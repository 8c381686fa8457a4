//! tshark reads our pcapng of synack's own traffic without complaint: no malformed packet,
//! no bad checksum, no error-level expert info, every packet counted; and our reader reads
//! a key log that editcap embedded, Wireshark's way.

mod capture_support;

use std::process::Command;

use capture_support::{
    KEY_LOG, Ng, TempFile, ethernet, have, null, skip, sll, sll2, synack_http_exchange,
    tcp_conversation, temp_path,
};
use synack_trace::capture::{self, WriteOptions, linktype};

/// Runs tshark on `file` with checksum validation on; stdout, after asserting it succeeded.
fn tshark(file: &TempFile, args: &[&str]) -> String {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(&file.0)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
        ])
        .args(args)
        .output()
        .expect("tshark runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tshark {args:?} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn tshark_reads_our_pcapng_cleanly() {
    if !have("tshark") {
        return skip("tshark is not installed");
    }
    let mut recorder = synack_http_exchange(5000).await;
    recorder.key_log(KEY_LOG);
    let file = TempFile(temp_path("tshark.pcapng"));
    let options = WriteOptions {
        epoch_unix_ns: 1_767_225_600_000_000_000,
        comment: Some("synack test".into()),
    };
    let mut bytes = Vec::new();
    capture::write_pcapng(&mut bytes, &recorder, &options).unwrap();
    std::fs::write(&file.0, &bytes).unwrap();

    let times = tshark(&file, &["-T", "fields", "-e", "frame.time_epoch"]);
    assert_eq!(times.lines().count(), recorder.packet_count(), "{times}");
    let (t0, _) = recorder.packets().next().unwrap();
    let first = times.lines().next().unwrap_or_default();
    assert_eq!(first, format!("1767225600.{t0:09}"), "first packet time");

    let expert = tshark(&file, &["-q", "-z", "expert"]);
    for bad in ["Malformed", "Errors (", "hecksum", "not captured"] {
        assert!(
            !expert.contains(bad),
            "tshark expert info has {bad:?}:\n{expert}"
        );
    }

    // tshark saw the payload as HTTP.
    let fields = ["-e", "http.request.method", "-e", "http.response.code"];
    let http = tshark(
        &file,
        &[&["-Y", "http", "-T", "fields"][..], &fields].concat(),
    );
    let http: Vec<&str> = http.lines().map(str::trim).collect();
    assert_eq!(http, ["GET", "200"], "tshark's HTTP view");

    // The control: one flipped payload byte is a bad checksum in the same report.
    let mut damaged = bytes.clone();
    let data_packet = recorder.packets().position(|(_, p)| p.len() > 100).unwrap();
    damaged[offset_of_packet(&bytes, data_packet) + 60] ^= 0xff;
    std::fs::write(&file.0, &damaged).unwrap();
    let expert = tshark(&file, &["-q", "-z", "expert"]);
    assert!(expert.contains("hecksum"), "control: {expert}");
}

/// Where packet `n`'s bytes start in a pcapng file we wrote (the n-th Enhanced Packet Block).
fn offset_of_packet(bytes: &[u8], n: usize) -> usize {
    let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let (mut at, mut seen) = (0, 0);
    loop {
        if word(at) == 6 {
            if seen == n {
                return at + 28;
            }
            seen += 1;
        }
        at += word(at + 4) as usize;
    }
}

#[tokio::test]
async fn we_read_a_key_log_that_editcap_embedded() {
    if !have("editcap") {
        return skip("editcap is not installed");
    }
    let recorder = synack_http_exchange(100).await;
    let plain = TempFile(temp_path("plain.pcapng"));
    let keys = TempFile(temp_path("keys.txt"));
    let with_keys = TempFile(temp_path("with-keys.pcapng"));
    let mut bytes = Vec::new();
    capture::write_pcapng(&mut bytes, &recorder, &WriteOptions::default()).unwrap();
    std::fs::write(&plain.0, &bytes).unwrap();
    std::fs::write(&keys.0, KEY_LOG).unwrap();
    let status = Command::new("editcap")
        .arg("--inject-secrets")
        .arg(format!("tls,{}", keys.0.display()))
        .arg(&plain.0)
        .arg(&with_keys.0)
        .status()
        .expect("editcap runs");
    assert!(status.success());

    let read = capture::read(&std::fs::read(&with_keys.0).unwrap()).unwrap();
    assert_eq!(read.error, None);
    assert_eq!(read.recorder.key_log_text(), KEY_LOG);
    let got: Vec<_> = read.recorder.packets().collect();
    let want: Vec<_> = recorder.packets().collect();
    assert_eq!(got, want);
}

/// The hand-built frames the other tests read are what tshark thinks they are: one pcapng
/// with an interface per link type, one frame each, all decoded to the same TCP header.
#[test]
fn tshark_agrees_with_our_link_layer_framing() {
    if !have("tshark") {
        return skip("tshark is not installed");
    }
    let packet = tcp_conversation().remove(3).1;
    let frames: [(u32, Vec<u8>); 8] = [
        (linktype::ETHERNET, ethernet(&packet, &[0x88a8, 0x8100])),
        (linktype::LINUX_SLL, sll(&packet)),
        (linktype::LINUX_SLL2, sll2(&packet)),
        (linktype::NULL, null(&packet, 2, false)),
        (linktype::LOOP, null(&packet, 2, true)),
        (linktype::RAW, packet.clone()),
        (linktype::IPV4, packet.clone()),
        (linktype::ETHERNET, ethernet(&packet, &[])),
    ];
    let mut ng = Ng::new(false);
    for (link, _) in &frames {
        ng.idb(*link as u16, 0, &[(9, vec![9])]);
    }
    for (i, (_, frame)) in frames.iter().enumerate() {
        ng.epb(i as u32, 1_000_000 * i as u64, frame);
    }
    let file = TempFile(temp_path("links.pcapng"));
    std::fs::write(&file.0, &ng.out).unwrap();

    let fields = [
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "tcp.srcport",
        "-e",
        "tcp.len",
    ];
    let decoded = tshark(&file, &fields);
    let want = format!("192.168.1.10\t40000\t{}", packet.len() - 40);
    let lines: Vec<&str> = decoded.lines().collect();
    assert_eq!(lines, vec![want.as_str(); frames.len()], "tshark's view");

    let ours = capture::read(&ng.out).unwrap();
    assert_eq!((ours.packets, ours.skipped), (frames.len(), 0));
    assert!(ours.recorder.packets().all(|(_, p)| p == packet));
}
