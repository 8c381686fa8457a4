//! Tests for record decryption: key schedules against RFC vectors, then real rustls sessions.

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn names_suites() {
    assert_eq!(suite_name(0x1301), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(
        suite_name(0xc02c),
        Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    );
    assert_eq!(
        suite_name(0xc013),
        Some("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    );
    assert_eq!(suite_name(0x0a0a), None);
}

#[test]
fn rejects_unsupported_suites_and_bad_secrets() {
    let secret = [7u8; 32];
    let random = [0u8; 32];
    for suite in [0x0a0a, 0x1304, 0xc02f] {
        assert_eq!(
            Decrypter::tls13(suite, &secret).err(),
            Some(DecryptError::UnsupportedSuite(suite))
        );
    }
    for suite in [0x1301, 0xc013] {
        assert_eq!(
            Decrypter::tls12(suite, &[0; 48], &random, &random, true).err(),
            Some(DecryptError::UnsupportedSuite(suite))
        );
    }
    // SHA-384 suites need a 48-byte traffic secret.
    assert_eq!(
        Decrypter::tls13(0x1302, &secret).err(),
        Some(DecryptError::BadSecret)
    );
    assert!(Decrypter::tls13(0x1302, &[7u8; 48]).is_ok());
    assert_eq!(
        Decrypter::tls12(0xc02f, &[0; 47], &random, &random, true).err(),
        Some(DecryptError::BadSecret)
    );
}

/// RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic secret yields the
/// listed key and iv, and decrypts the server's first protected record.
#[test]
fn rfc8448_server_handshake_key_schedule() {
    let secret = unhex(
        "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59
         d3 91 ad 38",
    );
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    assert_eq!(
        hkdf_expand_label(&prk, b"key", 16).unwrap(),
        unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
    );
    assert_eq!(
        hkdf_expand_label(&prk, b"iv", 12).unwrap(),
        unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
    );
}

/// RFC 5246's PRF run against a known-answer vector (the widely used TLS 1.2
/// PRF-SHA256 test vector from the IETF TLS list).
#[test]
fn prf_sha256_known_answer() {
    let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
    let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
    let out = prf(Hash::Sha256, &secret, b"test label", &seed, 100);
    assert_eq!(
        out,
        unhex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b
             52 d4 e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7
             07 7d ef 17 ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67
             89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 87 34 7b 66"
        )
    );
}

// ---------------------------------------------------------------------------------------
// Real sessions: rustls client and server in memory, their key log, and the raw bytes of
// each direction, decrypted record by record as a trace reader would.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::crypto::{CryptoProvider, aws_lc_rs as provider};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, ServerConfig, ServerConnection, SupportedCipherSuite,
};

use crate::KeyLog;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const ALERT: u8 = 21;
const CHANGE_CIPHER_SPEC: u8 = 20;
const FINISHED: u8 = 20;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// Collects what rustls logs, in the NSS key log format.
#[derive(Debug, Default)]
struct Collector(Mutex<String>);

impl rustls::KeyLog for Collector {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.0.lock().unwrap().push_str(&line);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What crossed the wire in one session, plus the key log both ends wrote.
struct Session {
    client_to_server: Vec<u8>,
    server_to_client: Vec<u8>,
    key_log: String,
}

/// Runs a full session (handshake, one request, one response, close_notify both ways) with
/// only `suite` enabled and `version` allowed.
fn run_session(
    suite: SupportedCipherSuite,
    version: &'static rustls::SupportedProtocolVersion,
) -> Session {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: vec![suite],
        ..provider::default_provider()
    });
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let collector = Arc::new(Collector::default());

    let mut server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    server_config.key_log = collector.clone();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client_config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_config.key_log = collector.clone();

    let name = ServerName::try_from("localhost").unwrap();
    let mut client = ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
    let mut session = Session {
        client_to_server: Vec::new(),
        server_to_client: Vec::new(),
        key_log: String::new(),
    };

    pump(&mut client, &mut server, &mut session);
    assert!(!client.is_handshaking() && !server.is_handshaking());
    client.writer().write_all(REQUEST).unwrap();
    pump(&mut client, &mut server, &mut session);
    assert_eq!(read_all(server.reader()), REQUEST);
    server.writer().write_all(RESPONSE).unwrap();
    pump(&mut client, &mut server, &mut session);
    assert_eq!(read_all(client.reader()), RESPONSE);
    client.send_close_notify();
    server.send_close_notify();
    pump(&mut client, &mut server, &mut session);

    session.key_log = collector.0.lock().unwrap().clone();
    session
}

/// Moves bytes both ways until neither side has anything to send, recording them.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection, session: &mut Session) {
    loop {
        let mut moved = false;
        while client.wants_write() {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            session.client_to_server.extend_from_slice(&buf);
            let mut rest = &buf[..];
            while !rest.is_empty() {
                server.read_tls(&mut rest).unwrap();
                server.process_new_packets().unwrap();
            }
            moved = true;
        }
        while server.wants_write() {
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            session.server_to_client.extend_from_slice(&buf);
            let mut rest = &buf[..];
            while !rest.is_empty() {
                client.read_tls(&mut rest).unwrap();
                client.process_new_packets().unwrap();
            }
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

/// Reads plaintext until rustls has no more buffered.
fn read_all(mut reader: rustls::Reader<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return out,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// One record as on the wire.
#[derive(Clone)]
struct Record {
    header: [u8; 5],
    fragment: Vec<u8>,
}

/// Splits a direction's bytes into records; the stream must end on a record boundary.
fn records(mut stream: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        let header: [u8; 5] = stream[..5].try_into().unwrap();
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        out.push(Record {
            header,
            fragment: stream[5..5 + len].to_vec(),
        });
        stream = &stream[5 + len..];
    }
    out
}

/// The random of a plaintext ClientHello (1) or ServerHello (2) record, and for a
/// ServerHello also the chosen cipher suite.
fn hello(record: &Record, msg_type: u8) -> ([u8; 32], u16) {
    let body = &record.fragment;
    assert_eq!(record.header[0], HANDSHAKE);
    assert_eq!(body[0], msg_type);
    // type(1) length(3) legacy_version(2) random(32) session_id<0..32>
    let random: [u8; 32] = body[6..38].try_into().unwrap();
    let sid_len = usize::from(body[38]);
    let suite = u16::from_be_bytes([body[39 + sid_len], body[40 + sid_len]]);
    (random, suite)
}

/// Handshake message types in a decrypted handshake record (messages do not span records
/// in these small sessions).
fn handshake_types(mut body: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while body.len() >= 4 {
        let len = usize::from(body[1]) << 16 | usize::from(body[2]) << 8 | usize::from(body[3]);
        types.push(body[0]);
        body = &body[4 + len..];
    }
    assert!(body.is_empty(), "handshake message spans records");
    types
}

/// Decrypts a TLS 1.3 direction: encrypted records use `handshake` until the one carrying
/// Finished, then `application`. Returns (content type, plaintext) per encrypted record.
fn open_tls13(
    records: &[Record],
    mut handshake: Decrypter,
    mut application: Decrypter,
) -> Vec<(u8, Vec<u8>)> {
    let mut in_handshake = true;
    let mut out = Vec::new();
    for record in records.iter().filter(|r| r.header[0] == APPLICATION_DATA) {
        let decrypter = if in_handshake {
            &mut handshake
        } else {
            &mut application
        };
        let (content_type, plain) = decrypter.open(record.header, &record.fragment).unwrap();
        if content_type == HANDSHAKE && handshake_types(&plain).contains(&FINISHED) {
            in_handshake = false;
        }
        out.push((content_type, plain));
    }
    assert!(!in_handshake, "no Finished seen");
    out
}

/// Decrypts a TLS 1.2 direction: everything after ChangeCipherSpec is protected.
fn open_tls12(records: &[Record], mut decrypter: Decrypter) -> Vec<(u8, Vec<u8>)> {
    let ccs = records
        .iter()
        .position(|r| r.header[0] == CHANGE_CIPHER_SPEC)
        .expect("ChangeCipherSpec");
    records[ccs + 1..]
        .iter()
        .map(|r| decrypter.open(r.header, &r.fragment).unwrap())
        .collect()
}

fn tls13_keys(session: &Session, label: &str) -> (KeyLog, [u8; 32], u16) {
    let log = KeyLog::parse(&session.key_log);
    assert_eq!(log.malformed_lines(), 0);
    let (client_random, _) = hello(&records(&session.client_to_server)[0], 1);
    let (_, suite) = hello(&records(&session.server_to_client)[0], 2);
    assert!(
        log.secret(label, &client_random).is_some(),
        "{label} missing"
    );
    (log, client_random, suite)
}

fn check_tls13(suite: SupportedCipherSuite) {
    let session = run_session(suite, &rustls::version::TLS13);
    let (log, random, wire_suite) = tls13_keys(&session, "SERVER_HANDSHAKE_TRAFFIC_SECRET");
    assert_eq!(wire_suite, u16::from(suite.suite()));
    let decrypter =
        |label: &str| Decrypter::tls13(wire_suite, log.secret(label, &random).unwrap()).unwrap();

    // Server: EncryptedExtensions first, ..., Finished; then tickets, the response, and
    // close_notify.
    let from_server = open_tls13(
        &records(&session.server_to_client),
        decrypter("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
        decrypter("SERVER_TRAFFIC_SECRET_0"),
    );
    assert_eq!(from_server[0].0, HANDSHAKE);
    assert_eq!(handshake_types(&from_server[0].1)[0], ENCRYPTED_EXTENSIONS);
    let app: Vec<u8> = from_server
        .iter()
        .filter(|(t, _)| *t == APPLICATION_DATA)
        .flat_map(|(_, p)| p.clone())
        .collect();
    assert_eq!(app, RESPONSE);
    assert_eq!(from_server.last().unwrap(), &(ALERT, CLOSE_NOTIFY.to_vec()));

    // Client: Finished, the request, close_notify.
    let from_client = open_tls13(
        &records(&session.client_to_server),
        decrypter("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
        decrypter("CLIENT_TRAFFIC_SECRET_0"),
    );
    assert_eq!(from_client[0].0, HANDSHAKE);
    assert_eq!(handshake_types(&from_client[0].1), [FINISHED]);
    assert_eq!(
        from_client[1..],
        [
            (APPLICATION_DATA, REQUEST.to_vec()),
            (ALERT, CLOSE_NOTIFY.to_vec())
        ]
    );
}

fn check_tls12(suite: SupportedCipherSuite) {
    let session = run_session(suite, &rustls::version::TLS12);
    let log = KeyLog::parse(&session.key_log);
    assert_eq!(log.malformed_lines(), 0);
    let (client_random, _) = hello(&records(&session.client_to_server)[0], 1);
    let (server_random, wire_suite) = hello(&records(&session.server_to_client)[0], 2);
    assert_eq!(wire_suite, u16::from(suite.suite()));
    let master = log.secret("CLIENT_RANDOM", &client_random).unwrap();
    let decrypter = |client_to_server| {
        Decrypter::tls12(
            wire_suite,
            master,
            &client_random,
            &server_random,
            client_to_server,
        )
        .unwrap()
    };

    for (stream, client_to_server, sent) in [
        (&session.client_to_server, true, REQUEST),
        (&session.server_to_client, false, RESPONSE),
    ] {
        let opened = open_tls12(&records(stream), decrypter(client_to_server));
        assert_eq!(opened[0].0, HANDSHAKE);
        assert_eq!(handshake_types(&opened[0].1), [FINISHED]);
        assert_eq!(
            opened[1..],
            [
                (APPLICATION_DATA, sent.to_vec()),
                (ALERT, CLOSE_NOTIFY.to_vec())
            ]
        );
    }

    // The other direction's keys do not open this direction's records.
    let records = records(&session.client_to_server);
    let finished = records
        .iter()
        .position(|r| r.header[0] == CHANGE_CIPHER_SPEC)
        .unwrap()
        + 1;
    let record = &records[finished];
    assert_eq!(
        decrypter(false).open(record.header, &record.fragment),
        Err(DecryptError::Authentication)
    );
}

#[test]
fn tls13_aes_128_gcm_session() {
    check_tls13(provider::cipher_suite::TLS13_AES_128_GCM_SHA256);
}

#[test]
fn tls13_aes_256_gcm_session() {
    check_tls13(provider::cipher_suite::TLS13_AES_256_GCM_SHA384);
}

#[test]
fn tls13_chacha20_session() {
    check_tls13(provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256);
}

#[test]
fn tls12_aes_128_gcm_session() {
    check_tls12(provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
}

#[test]
fn tls12_aes_256_gcm_session() {
    // SHA-384 PRF and a 32-byte key.
    check_tls12(provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
}

#[test]
fn tls12_chacha20_session() {
    check_tls12(provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
}

/// A flipped bit fails authentication and leaves the sequence number alone, so the intact
/// record still opens at the same number.
fn check_tamper(records: &[Record], mut decrypter: Decrypter, index: usize) {
    for record in &records[..index] {
        decrypter.open(record.header, &record.fragment).unwrap();
    }
    let record = &records[index];
    let seq = decrypter.seq();
    assert_eq!(seq, index as u64);
    for byte in [0, record.fragment.len() / 2, record.fragment.len() - 1] {
        let mut tampered = record.fragment.clone();
        tampered[byte] ^= 0x01;
        assert_eq!(
            decrypter.open(record.header, &tampered),
            Err(DecryptError::Authentication),
            "byte {byte}"
        );
        assert_eq!(decrypter.seq(), seq);
    }
    // The header is authenticated too (TLS 1.3: as AAD; TLS 1.2: type and version in AAD).
    let mut header = record.header;
    header[2] ^= 0x01;
    assert_eq!(
        decrypter.open(header, &record.fragment),
        Err(DecryptError::Authentication)
    );
    // A header that disagrees with the body's length is rejected before any crypto.
    let mut short = record.fragment.clone();
    short.pop();
    assert_eq!(
        decrypter.open(record.header, &short),
        Err(DecryptError::Malformed)
    );
    assert_eq!(decrypter.seq(), seq);
    assert!(decrypter.open(record.header, &record.fragment).is_ok());
    assert_eq!(decrypter.seq(), seq + 1);
}

#[test]
fn tampered_tls13_record_fails_without_advancing() {
    let session = run_session(
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        &rustls::version::TLS13,
    );
    let (log, random, suite) = tls13_keys(&session, "SERVER_TRAFFIC_SECRET_0");
    let decrypter = |label| Decrypter::tls13(suite, log.secret(label, &random).unwrap()).unwrap();
    let encrypted: Vec<Record> = records(&session.server_to_client)
        .into_iter()
        .filter(|r| r.header[0] == APPLICATION_DATA)
        .collect();
    // The application epoch starts after the record carrying the server's Finished; its
    // records (tickets, the response, close_notify) give a non-zero sequence number.
    let mut handshake = decrypter("SERVER_HANDSHAKE_TRAFFIC_SECRET");
    let finished = encrypted
        .iter()
        .position(|r| {
            let (_, plain) = handshake.open(r.header, &r.fragment).unwrap();
            handshake_types(&plain).contains(&FINISHED)
        })
        .unwrap();
    let application = &encrypted[finished + 1..];
    assert!(application.len() >= 2);
    check_tamper(application, decrypter("SERVER_TRAFFIC_SECRET_0"), 1);
}

#[test]
fn tampered_tls12_record_fails_without_advancing() {
    for suite in [
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let session = run_session(suite, &rustls::version::TLS12);
        let log = KeyLog::parse(&session.key_log);
        let all = records(&session.server_to_client);
        let (client_random, _) = hello(&records(&session.client_to_server)[0], 1);
        let (server_random, id) = hello(&all[0], 2);
        let master = log.secret("CLIENT_RANDOM", &client_random).unwrap();
        let ccs = all
            .iter()
            .position(|r| r.header[0] == CHANGE_CIPHER_SPEC)
            .unwrap();
        let decrypter =
            Decrypter::tls12(id, master, &client_random, &server_random, false).unwrap();
        // Record 1 after ChangeCipherSpec is the response (sequence number 1).
        check_tamper(&all[ccs + 1..], decrypter, 1);
    }
}

#[test]
fn key_log_from_rustls_parses_with_noise() {
    let session = run_session(
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        &rustls::version::TLS13,
    );
    let text = format!(
        "# written by rustls\n\n{}CLIENT_RANDOM 00 11\n",
        session.key_log
    );
    let log = KeyLog::parse(&text);
    assert_eq!(log.malformed_lines(), 1);
    // Handshake and application secrets both ways, plus the exporter secret.
    assert_eq!(log.len(), 5);
    let (random, _) = hello(&records(&session.client_to_server)[0], 1);
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ] {
        assert_eq!(
            log.secret(label, &random).map(<[u8]>::len),
            Some(32),
            "{label}"
        );
    }
}

/// Seals `inner` (content ‖ type ‖ zeros) as a TLS 1.3 record under `secret` at `seq`.
fn seal_tls13(secret: &[u8], seq: u64, inner: &[u8]) -> ([u8; 5], Vec<u8>) {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret);
    let key = hkdf_expand_label(&prk, b"key", 16).unwrap();
    let iv = hkdf_expand_label(&prk, b"iv", 12).unwrap();
    let key = LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).unwrap());
    let mut nonce: [u8; 12] = iv.try_into().unwrap();
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    let len = u16::try_from(inner.len() + TAG_LEN).unwrap().to_be_bytes();
    let header = [APPLICATION_DATA, 3, 3, len[0], len[1]];
    let mut body = inner.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(header),
        &mut body,
    )
    .unwrap();
    (header, body)
}

/// RFC 8446 §5.4: zeros after the content type are padding; a record of only zeros has no
/// content type. It still authenticated, so its sequence number is used up.
#[test]
fn tls13_padding_is_stripped() {
    let secret = [0x42; 32];
    let mut decrypter = Decrypter::tls13(0x1301, &secret).unwrap();
    let (header, body) = seal_tls13(&secret, 0, b"hi\x00\x17\x00\x00\x00");
    assert_eq!(
        decrypter.open(header, &body),
        Ok((APPLICATION_DATA, b"hi\x00".to_vec()))
    );
    let (header, body) = seal_tls13(&secret, 1, &[0; 9]);
    assert_eq!(decrypter.open(header, &body), Err(DecryptError::Malformed));
    assert_eq!(decrypter.seq(), 2);
    let (header, body) = seal_tls13(&secret, 2, &[ALERT]);
    assert_eq!(decrypter.open(header, &body), Ok((ALERT, Vec::new())));
    // Too short to hold a tag and a content type.
    assert_eq!(
        decrypter.open([APPLICATION_DATA, 3, 3, 0, 16], &[0; 16]),
        Err(DecryptError::Malformed)
    );
}
