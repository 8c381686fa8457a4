//! TLS records and handshake messages found in a connection's byte streams, decrypted with
//! a key log when it holds the connection's secrets.
//!
//! `record` splits a direction's stream into records, `handshake` joins and parses
//! handshake messages, `direction` walks one direction's records through its key epochs,
//! and `decrypt` opens records. Nothing here panics on bad input: what cannot be parsed is
//! named as such and the walk goes on or stops.

pub(crate) mod decrypt;
mod direction;
mod handshake;
mod names;
pub(crate) mod record;

use crate::KeyLog;
use crate::analyze::stream::Stream;
use crate::model::{Side, TlsSession};
use direction::{Context, Walked};
use handshake::{ClientHello, Reassembler, ServerHello};
use record::Record;

pub(crate) use direction::Plaintext;

/// The secrets a connection may have in a key log.
const LABELS: [&str; 5] = [
    "CLIENT_RANDOM",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
];

/// What TLS analysis found in one connection.
#[derive(Debug)]
pub(crate) struct Analysis {
    pub session: TlsSession,
    /// Client then server: messages in stream order, and decrypted application data.
    pub sides: [Walked; 2],
    /// The messages whose last segment ends the handshake (the later one counts).
    pub handshake_end: Vec<(Side, usize)>,
    /// Every message `handshake_end` needs was found.
    pub handshake_complete: bool,
}

/// Analyzes a connection whose client stream starts with a ClientHello (else `None`).
/// `first_seen(side, offset)` is when the byte at `offset` of `side`'s stream first crossed
/// the link; it lets TLS 1.3 records that stay encrypted be told apart by timing.
pub(crate) fn analyze(
    client: &Stream,
    server: &Stream,
    keys: &KeyLog,
    first_seen: impl Fn(Side, u64) -> Option<u64>,
) -> Option<Analysis> {
    if !record::starts_with_client_hello(client) {
        return None;
    }
    let client_records = record::records(client);
    let server_records = record::records(server);
    let ch = client_hello(&client_records);
    let (sh, hello_retry) = server_hello(&server_records);
    let ctx = Context {
        keys,
        client_random: ch.as_ref().map_or([0; 32], |h| h.random),
        server_random: sh.as_ref().map(|h| h.random),
        version: sh.as_ref().map(ServerHello::version),
        suite: sh.as_ref().map(|h| h.suite),
    };
    let mut c = direction::walk(Side::Client, &client_records, &ctx, client.end());
    let mut s = direction::walk(Side::Server, &server_records, &ctx, server.end());
    if ctx.tls13() {
        name_opaque_handshake(&mut c, &mut s, first_seen);
    }

    let handshake_end: Vec<(Side, usize)> = if ctx.tls13() {
        c.finished.map(|i| (Side::Client, i)).into_iter().collect()
    } else {
        let ends = [(Side::Client, c.finished), (Side::Server, s.finished)];
        ends.into_iter()
            .filter_map(|(side, i)| Some((side, i?)))
            .collect()
    };
    let handshake_complete = if ctx.tls13() {
        handshake_end.len() == 1
    } else {
        handshake_end.len() == 2
    };

    let keys_found = ch
        .as_ref()
        .is_some_and(|h| LABELS.iter().any(|l| keys.secret(l, &h.random).is_some()));
    let key_exchange = if ctx.tls13() {
        sh.as_ref().and_then(|h| h.key_share)
    } else {
        s.key_exchange
    };
    let session = TlsSession {
        version: ctx.version.map(names::version),
        cipher_suite: ctx.suite.map(names::suite),
        key_exchange: key_exchange.map(names::group),
        sni: ch.as_ref().and_then(|h| h.sni.clone()),
        alpn_offered: ch.as_ref().map(|h| h.alpn.clone()).unwrap_or_default(),
        alpn: sh.as_ref().and_then(|h| h.alpn.clone()).or(s.alpn.clone()),
        hello_retry,
        keys_found,
        decrypted: c.decrypted_records + s.decrypted_records > 0,
        encrypted_records: c.encrypted_records + s.encrypted_records,
        undecrypted_records: c.undecrypted_records + s.undecrypted_records,
    };
    Some(Analysis {
        session,
        sides: [c, s],
        handshake_end,
        handshake_complete,
    })
}

/// The first ClientHello in the client's plaintext handshake records.
fn client_hello(records: &[Record]) -> Option<ClientHello> {
    let mut hs = Reassembler::default();
    for (i, r) in records.iter().enumerate() {
        // A record cut by a hole cannot be joined to the next one.
        if r.content_type() != record::HANDSHAKE || !r.complete() {
            break;
        }
        if let Some(m) = hs.push(i, &r.fragment).into_iter().next() {
            return (m.msg_type == handshake::CLIENT_HELLO)
                .then(|| handshake::client_hello(&m.body))
                .flatten();
        }
    }
    None
}

/// The server's ServerHello (not a HelloRetryRequest), and whether a HelloRetryRequest
/// came first. Only plaintext records before any encrypted one are read.
fn server_hello(records: &[Record]) -> (Option<ServerHello>, bool) {
    let mut hs = Reassembler::default();
    let mut retry = false;
    for (i, r) in records.iter().enumerate() {
        match r.content_type() {
            record::HANDSHAKE if r.complete() => {}
            record::CHANGE_CIPHER_SPEC => continue,
            _ => break,
        }
        for m in hs.push(i, &r.fragment) {
            if m.msg_type != handshake::SERVER_HELLO {
                continue;
            }
            match handshake::server_hello(&m.body) {
                Some(h) if h.retry => retry = true,
                Some(h) => return (Some(h), retry),
                None => return (None, retry),
            }
        }
    }
    (None, retry)
}

/// TLS 1.3 without usable keys: every record after the ServerHello looks like application
/// data. The client's first one is its Finished (in practice); the server's sent before
/// the client's Finished are its encrypted handshake flight.
fn name_opaque_handshake(
    c: &mut Walked,
    s: &mut Walked,
    first_seen: impl Fn(Side, u64) -> Option<u64>,
) {
    const NAME: &str = "encrypted handshake";
    let mut client_finished_at = None;
    if c.finished.is_none()
        && let Some(&i) = c.opaque_handshake_epoch.first()
        && let Some(m) = c.messages.get_mut(i)
    {
        m.name = NAME.to_owned();
        c.finished = Some(i);
        client_finished_at = first_seen(Side::Client, m.start_offset);
    }
    if s.finished.is_some() {
        return;
    }
    for &i in &s.opaque_handshake_epoch {
        let Some(m) = s.messages.get_mut(i) else {
            continue;
        };
        // Only records up to the client's Finished are looked up: few, however long the
        // transfer after them.
        if let Some(limit) = client_finished_at
            && first_seen(Side::Server, m.start_offset).is_some_and(|sent| sent > limit)
        {
            break;
        }
        m.name = NAME.to_owned();
        s.finished = Some(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of `content_type` holding `body`.
    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(body.len()).unwrap().to_be_bytes();
        let mut out = vec![content_type, 3, 3, len[0], len[1]];
        out.extend_from_slice(body);
        out
    }

    /// A handshake message of `msg_type` holding `body`.
    fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut out = vec![msg_type, len[1], len[2], len[3]];
        out.extend_from_slice(body);
        out
    }

    fn client_hello() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        // server_name "a.test", supported_versions TLS 1.3, key_share x25519 (empty key).
        let exts = [
            &[0, 0, 0, 11, 0, 9, 0, 0, 6][..],
            b"a.test",
            &[0, 43, 0, 3, 2, 3, 4],
            &[0, 51, 0, 6, 0, 4, 0, 0x1d, 0, 0],
        ]
        .concat();
        body.extend_from_slice(&u16::try_from(exts.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&exts);
        record(22, &message(1, &body))
    }

    fn server_flight() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0, 0x13, 0x01, 0]);
        body.extend_from_slice(&[0, 14, 0, 43, 0, 2, 3, 4, 0, 51, 0, 4, 0, 0x1d, 0, 0]);
        let mut out = record(22, &message(2, &body));
        out.extend(record(20, &[1]));
        out.extend(record(23, &[0x55; 40]));
        out
    }

    /// A small xorshift generator: fixed seeds, no dependency.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn hellos_are_read_and_opaque_records_stay_encrypted() {
        let (c, s) = (client_hello(), server_flight());
        let client = Stream::new(vec![(0, &c[..])]);
        let server = Stream::new(vec![(0, &s[..])]);
        let a = analyze(&client, &server, &KeyLog::default(), |_, _| None).unwrap();
        assert_eq!(a.session.version.as_deref(), Some("TLS 1.3"));
        assert_eq!(a.session.sni.as_deref(), Some("a.test"));
        assert_eq!(a.session.key_exchange.as_deref(), Some("x25519"));
        let names: Vec<&str> = a.sides[1]
            .messages
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["ServerHello", "ChangeCipherSpec", "encrypted handshake"]
        );
        assert_eq!(a.session.undecrypted_records, 1);
    }

    #[test]
    fn bogus_secrets_and_mangled_streams_do_not_panic() {
        let random = "07".repeat(32);
        let keys = KeyLog::parse(&format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {random} 0102\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {}\n",
            "ab".repeat(32)
        ));
        let (c, s) = (client_hello(), server_flight());
        for seed in 1..300u64 {
            let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut c = c.clone();
            let mut s = s.clone();
            for _ in 0..(seed % 6) {
                let i = (next(&mut state) as usize) % c.len();
                // Leave the detection bytes alone so the TLS path runs.
                if i > 5 {
                    c[i] = next(&mut state) as u8;
                }
                let j = (next(&mut state) as usize) % s.len();
                s[j] = next(&mut state) as u8;
            }
            let cut = (next(&mut state) as usize) % s.len();
            let client = Stream::new(vec![(0, &c[..])]);
            let server = Stream::new(vec![(0, &s[..cut])]);
            let a = analyze(&client, &server, &keys, |_, o| Some(o));
            assert!(a.is_some(), "seed {seed}");
        }
    }
}
