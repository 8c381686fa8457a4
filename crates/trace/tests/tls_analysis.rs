//! TLS over synack's own stack, analyzed: records and handshake messages named on the
//! segments that carry them, decrypted with the key log, HTTP found inside.

mod tls_support;

use synack_trace::{ConnectionTrace, PhaseName, Side, TcpFlags, TlsMessage};
use tls_support::{Exchange, run};

fn conn(trace: &synack_trace::Trace) -> &ConnectionTrace {
    assert_eq!(trace.connections.len(), 1);
    &trace.connections[0]
}

fn names(c: &ConnectionTrace, side: Side) -> Vec<&str> {
    let msgs = c.tls_messages.iter().filter(|m| m.from == side);
    msgs.map(|m| m.name.as_str()).collect()
}

fn find<'a>(c: &'a ConnectionTrace, side: Side, name: &str) -> &'a TlsMessage {
    c.tls_messages
        .iter()
        .find(|m| m.from == side && m.name == name)
        .unwrap_or_else(|| panic!("no {name} from {side:?}: {:#?}", c.tls_messages))
}

fn first_fin(c: &ConnectionTrace) -> usize {
    c.segments
        .iter()
        .position(|s| s.flags.contains(TcpFlags::FIN))
        .expect("a FIN")
}

fn dump(c: &ConnectionTrace) -> String {
    let mut out = String::new();
    for s in &c.segments {
        out.push_str(&format!("{:?} len {} {:?}\n", s.from, s.len, s.carries));
    }
    out
}

#[test]
fn tls13_with_keys_names_every_message_and_finds_http() {
    let trace = run(Exchange::tls13());
    let c = conn(&trace);
    let tls = c.tls.as_ref().expect("a TLS session");
    assert_eq!(tls.version.as_deref(), Some("TLS 1.3"));
    assert!(
        tls.cipher_suite
            .as_deref()
            .is_some_and(|s| s.starts_with("TLS_"))
    );
    assert!(tls.key_exchange.is_some());
    assert_eq!(tls.sni.as_deref(), Some("synack.test"));
    assert_eq!(tls.alpn_offered, ["http/1.1"]);
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert!(tls.keys_found && tls.decrypted, "{tls:?}");
    assert_eq!(tls.undecrypted_records, 0, "{tls:?}");

    let client = names(c, Side::Client);
    let server = names(c, Side::Server);
    assert_eq!(client[0], "ClientHello", "{client:?}");
    for name in ["Finished", "ApplicationData", "Alert"] {
        assert!(client.contains(&name), "client lacks {name}: {client:?}");
    }
    for name in [
        "ServerHello",
        "EncryptedExtensions",
        "Certificate",
        "CertificateVerify",
        "Finished",
        "NewSessionTicket",
        "ApplicationData",
        "Alert",
    ] {
        assert!(server.contains(&name), "server lacks {name}: {server:?}");
    }
    let hello = find(c, Side::Client, "ClientHello");
    assert!(hello.detail.contains("SNI synack.test"), "{}", hello.detail);
    assert!(hello.detail.contains("ALPN http/1.1"), "{}", hello.detail);
    assert!(hello.detail.contains("TLS 1.3"), "{}", hello.detail);
    assert!(!hello.encrypted);
    assert_eq!(
        find(c, Side::Server, "EncryptedExtensions").detail,
        "ALPN http/1.1"
    );
    assert_eq!(find(c, Side::Server, "Certificate").detail, "1 cert");
    assert_eq!(find(c, Side::Server, "CertificateVerify").detail, "ed25519");
    let cv = find(c, Side::Server, "CertificateVerify");
    assert!(cv.encrypted && cv.decrypted);

    // close_notify before the FIN, on both sides.
    for side in [Side::Client, Side::Server] {
        let alert = find(c, side, "Alert");
        assert_eq!(alert.detail, "warning close_notify");
        let fin = c
            .segments
            .iter()
            .position(|s| s.from == side && s.flags.contains(TcpFlags::FIN))
            .expect("a FIN from each side");
        assert!(
            alert.last_segment <= fin,
            "{side:?}: alert after FIN\n{}",
            dump(c)
        );
    }
    let _ = first_fin(c);

    // HTTP found in the plaintext, mapped onto the segments.
    assert_eq!(c.http.len(), 2, "{:#?}", c.http);
    let (req, res) = (&c.http[0], &c.http[1]);
    assert_eq!(req.first_line, "GET / HTTP/1.1");
    assert_eq!((req.start_offset, req.end_offset), (0, 37));
    assert_eq!(res.first_line, "HTTP/1.1 200 OK");
    assert_eq!(res.body_len, 100);
    assert!(req.complete && res.complete);
    let req_seg = &c.segments[req.first_segment];
    assert_eq!(req_seg.from, Side::Client);
    let carries = req_seg.carries.as_deref().unwrap_or("");
    assert!(
        carries.contains("ApplicationData [GET / HTTP/1.1]"),
        "{carries}"
    );

    // Phases in the order the mission reads.
    let order: Vec<PhaseName> = c.phases.iter().map(|p| p.name).collect();
    assert_eq!(
        order,
        [
            PhaseName::Tcp3WayHandshake,
            PhaseName::TlsHandshake,
            PhaseName::HttpRequest,
            PhaseName::HttpResponse,
            PhaseName::Tcp4WayHandshake,
        ],
        "{:#?}",
        c.phases
    );
    let hs = &c.phases[1];
    assert!(hs.complete);
    assert_eq!(
        hs.first_segment,
        find(c, Side::Client, "ClientHello").first_segment
    );
    let client_finished = find(c, Side::Client, "Finished");
    assert_eq!(hs.last_segment, client_finished.last_segment);
    // Every payload is named, and no byte is left unexplained.
    for s in c.segments.iter().filter(|s| s.len > 0) {
        let carries = s.carries.as_deref().unwrap_or("");
        assert!(!carries.contains("[data"), "{carries}");
    }
}

#[test]
fn tls13_without_keys_names_the_hellos_and_keeps_the_rest_encrypted() {
    let trace = run(Exchange {
        keys: false,
        ..Exchange::tls13()
    });
    let c = conn(&trace);
    let tls = c.tls.as_ref().expect("a TLS session");
    assert_eq!(tls.version.as_deref(), Some("TLS 1.3"));
    assert!(!tls.keys_found && !tls.decrypted);
    assert_eq!(tls.alpn, None);
    assert!(tls.encrypted_records > 0);
    assert_eq!(tls.undecrypted_records, tls.encrypted_records);
    assert!(c.http.is_empty());
    let client = names(c, Side::Client);
    let server = names(c, Side::Server);
    assert_eq!(client[0], "ClientHello");
    assert_eq!(server[0], "ServerHello");
    assert!(server.contains(&"encrypted handshake"), "{server:?}");
    assert!(client.contains(&"encrypted handshake"), "{client:?}");
    // TLS 1.3 hides the record type: the request is not named as ApplicationData.
    assert!(client.contains(&"encrypted record"), "{client:?}");
    assert!(
        !client
            .iter()
            .chain(&server)
            .any(|n| n.starts_with("ApplicationData")),
        "{client:?} {server:?}"
    );
    assert!(c.tls_messages.iter().all(|m| !m.decrypted));
    let order: Vec<PhaseName> = c.phases.iter().map(|p| p.name).collect();
    assert_eq!(
        order[..2],
        [PhaseName::Tcp3WayHandshake, PhaseName::TlsHandshake]
    );
    let hs = &c.phases[1];
    let finished = find(c, Side::Client, "encrypted handshake");
    assert_eq!(hs.last_segment, finished.last_segment);
}

#[test]
fn tls12_with_keys_names_the_full_handshake() {
    let trace = run(Exchange::tls12());
    let c = conn(&trace);
    let tls = c.tls.as_ref().expect("a TLS session");
    assert_eq!(tls.version.as_deref(), Some("TLS 1.2"));
    assert!(
        tls.cipher_suite
            .as_deref()
            .is_some_and(|s| s.starts_with("TLS_ECDHE_")),
        "{tls:?}"
    );
    assert!(tls.key_exchange.is_some());
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert!(tls.decrypted);
    assert_eq!(tls.undecrypted_records, 0, "{tls:?}");
    let client = names(c, Side::Client);
    let server = names(c, Side::Server);
    assert_eq!(
        client[..5],
        [
            "ClientHello",
            "ClientKeyExchange",
            "ChangeCipherSpec",
            "Finished",
            "ApplicationData"
        ],
        "{client:?}"
    );
    assert_eq!(
        server[..6],
        [
            "ServerHello",
            "Certificate",
            "ServerKeyExchange",
            "ServerHelloDone",
            "ChangeCipherSpec",
            "Finished"
        ],
        "{server:?}"
    );
    assert!(
        find(c, Side::Server, "ServerKeyExchange")
            .detail
            .starts_with("ECDHE ")
    );
    assert!(
        find(c, Side::Client, "ClientKeyExchange")
            .detail
            .starts_with("public key ")
    );
    assert_eq!(
        find(c, Side::Client, "Alert").detail,
        "warning close_notify"
    );
    assert_eq!(c.http.len(), 2);
    assert_eq!(c.http[1].first_line, "HTTP/1.1 200 OK");
    let hs = c
        .phases
        .iter()
        .find(|p| p.name == PhaseName::TlsHandshake)
        .unwrap();
    assert!(hs.complete);
    let last = find(c, Side::Client, "Finished")
        .last_segment
        .max(find(c, Side::Server, "Finished").last_segment);
    assert_eq!(hs.last_segment, last);
}

#[test]
fn a_large_response_spans_records_and_segments() {
    let trace = run(Exchange {
        body: 100_000,
        ..Exchange::tls13()
    });
    let c = conn(&trace);
    let res = c.http.iter().find(|m| m.from == Side::Server).unwrap();
    assert_eq!(res.body_len, 100_000);
    assert!(res.complete);
    let data: Vec<&TlsMessage> = c
        .tls_messages
        .iter()
        .filter(|m| m.from == Side::Server && m.name == "ApplicationData")
        .collect();
    assert!(data.len() >= 7, "{}", data.len());
    assert!(
        data.iter()
            .all(|m| m.last_segment > m.first_segment || m.end_offset - m.start_offset < 1400)
    );
    // The response spans from its first record's first segment to the last record's last.
    assert_eq!(res.first_segment, data[0].first_segment);
    assert_eq!(res.last_segment, data.last().unwrap().last_segment);
    let pieces = c
        .segments
        .iter()
        .filter_map(|s| s.carries.as_deref())
        .filter(|c| c.starts_with("[ApplicationData "))
        .count();
    assert!(pieces > 50, "{pieces}");
}

#[test]
fn a_small_mtu_splits_the_certificate() {
    let trace = run(Exchange {
        mtu: 576,
        extra_names: 50,
        ..Exchange::tls13()
    });
    let c = conn(&trace);
    let cert = find(c, Side::Server, "Certificate");
    assert!(cert.decrypted);
    let segs: Vec<&str> = c.segments[cert.first_segment..=cert.last_segment]
        .iter()
        .filter(|s| s.from == Side::Server)
        .filter_map(|s| s.carries.as_deref())
        .collect();
    assert!(segs.len() >= 3, "{segs:?}");
    assert!(cert.end_offset - cert.start_offset > 1000);
    assert!(segs[0].contains("Certificate (1 cert) ["), "{segs:?}");
    assert!(
        segs[1..].iter().any(|s| s.contains("[Certificate ")),
        "{segs:?}"
    );
    assert_eq!(c.http.len(), 2);
}

#[test]
fn json_lines_add_the_session_and_messages_after_the_phases() {
    let trace = run(Exchange::tls13());
    let mut out = Vec::new();
    synack_trace::json::write_lines(&trace, None, &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    let last_phase = kinds.iter().rposition(|&k| k == "phase").unwrap();
    let tls = kinds.iter().position(|&k| k == "tls").expect("a tls line");
    assert_eq!(tls, last_phase + 1);
    assert!(kinds[tls + 1..].iter().all(|&k| k == "tls-message"));
    let session = &lines[tls];
    assert_eq!(session["version"], "TLS 1.3");
    assert_eq!(session["sni"], "synack.test");
    assert_eq!(session["alpn"], "http/1.1");
    assert_eq!(session["alpn_offered"], serde_json::json!(["http/1.1"]));
    assert_eq!(session["decrypted"], true);
    assert!(session["encrypted_records"].as_u64().unwrap() > 0);
    let messages = &lines[tls + 1..];
    assert_eq!(messages.len(), c_messages(&trace));
    assert_eq!(messages[0]["name"], "ClientHello");
    assert_eq!(messages[0]["from"], "client");
    for m in messages {
        for field in [
            "conn",
            "start_offset",
            "end_offset",
            "t_first_ns",
            "t_last_ns",
        ] {
            assert!(m[field].is_u64(), "{field}: {m}");
        }
        assert!(
            m["encrypted"].is_boolean() && m["decrypted"].is_boolean(),
            "{m}"
        );
        assert!(m.get("complete").is_none(), "only when false: {m}");
    }
    let times: Vec<u64> = messages
        .iter()
        .map(|m| m["t_first_ns"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

fn c_messages(trace: &synack_trace::Trace) -> usize {
    conn(trace).tls_messages.len()
}

#[test]
fn a_hello_retry_request_is_named_and_decryption_goes_on() {
    let trace = run(Exchange {
        hello_retry: true,
        ..Exchange::tls13()
    });
    let c = conn(&trace);
    let tls = c.tls.as_ref().expect("a TLS session");
    assert!(tls.hello_retry);
    assert_eq!(tls.key_exchange.as_deref(), Some("X25519MLKEM768"));
    assert_eq!(tls.undecrypted_records, 0, "{tls:?}");
    let server = names(c, Side::Server);
    assert_eq!(
        server[..2],
        ["HelloRetryRequest", "ChangeCipherSpec"],
        "{server:?}"
    );
    assert!(server.contains(&"ServerHello"), "{server:?}");
    let client = names(c, Side::Client);
    let hellos = client.iter().filter(|&&n| n == "ClientHello").count();
    assert_eq!(hellos, 2, "{client:?}");
    let retry = find(c, Side::Server, "HelloRetryRequest");
    assert_eq!(retry.detail, "key_share X25519MLKEM768");
    assert_eq!(c.http.len(), 2);
    let hs = c
        .phases
        .iter()
        .find(|p| p.name == PhaseName::TlsHandshake)
        .unwrap();
    assert_eq!(
        hs.first_segment,
        find(c, Side::Client, "ClientHello").first_segment
    );
}

#[test]
fn after_a_key_update_records_stay_encrypted() {
    let trace = run(Exchange {
        key_update: true,
        ..Exchange::tls13()
    });
    let c = conn(&trace);
    let tls = c.tls.as_ref().expect("a TLS session");
    let update = find(c, Side::Client, "KeyUpdate");
    assert!(update.decrypted);
    assert_eq!(update.detail, "update_requested");
    // The server answers with its own KeyUpdate; both close_notify alerts then use keys
    // this analysis does not derive: counted, named as encrypted, and no panic.
    assert_eq!(
        find(c, Side::Server, "KeyUpdate").detail,
        "update_not_requested"
    );
    assert_eq!(tls.undecrypted_records, 2, "{tls:?}");
    for side in [Side::Client, Side::Server] {
        let names = names(c, side);
        // The close_notify alerts: TLS 1.3 hides their type, so no guess is made.
        assert_eq!(names.last(), Some(&"encrypted record"), "{names:?}");
        assert!(!names.contains(&"Alert"), "{names:?}");
    }
    assert_eq!(c.http.len(), 2);
}

#[test]
fn tls12_without_keys_names_records_by_their_clear_type() {
    let trace = run(Exchange {
        keys: false,
        ..Exchange::tls12()
    });
    let c = conn(&trace);
    let client = names(c, Side::Client);
    let server = names(c, Side::Server);
    // TLS 1.2 sends the content type in the clear: application data is certain.
    assert!(
        client.contains(&"ApplicationData (encrypted)"),
        "{client:?}"
    );
    assert!(
        server.contains(&"ApplicationData (encrypted)"),
        "{server:?}"
    );
    assert!(
        !client
            .iter()
            .chain(&server)
            .any(|n| *n == "encrypted record"),
        "{client:?} {server:?}"
    );
}
