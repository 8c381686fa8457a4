//! Handshake messages (RFC 8446 §4, RFC 5246 §7.4): reassembled from the records of one
//! direction and key epoch (a message may span records, a record may hold several), then
//! parsed far enough to name them and the parameters people look for.

use super::names;

/// Messages longer than this are not believed (a garbled length would otherwise swallow
/// the rest of the stream); the largest certificate chains stay well below.
const MAX_MESSAGE: usize = 1 << 20;

/// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

pub(crate) const CLIENT_HELLO: u8 = 1;
pub(crate) const SERVER_HELLO: u8 = 2;
pub(crate) const FINISHED: u8 = 20;
pub(crate) const KEY_UPDATE: u8 = 24;

/// Where a byte of a message came from: a record (by index) and a position in its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    pub record: usize,
    pub pos: usize,
}

/// One reassembled handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub msg_type: u8,
    pub body: Vec<u8>,
    /// Where its first header byte came from.
    pub first: Origin,
    /// Where its last byte came from, `pos` just past it.
    pub last: Origin,
    /// Whether every byte arrived (false for a message cut off by the capture's end).
    pub complete: bool,
}

/// Joins the handshake bytes of one epoch into messages.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    buf: Vec<u8>,
    /// For each contiguous run pushed: (position in `buf`, origin of its first byte).
    runs: Vec<(usize, Origin)>,
}

impl Reassembler {
    /// Adds the handshake content of record `record` and returns the messages it completes.
    pub fn push(&mut self, record: usize, data: &[u8]) -> Vec<Message> {
        if data.is_empty() {
            return Vec::new();
        }
        self.runs.push((self.buf.len(), Origin { record, pos: 0 }));
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while let [t, a, b, c, ..] = self.buf[..] {
            let len = u32::from_be_bytes([0, a, b, c]) as usize;
            if len > MAX_MESSAGE {
                // Not a message we can believe: drop what is buffered.
                self.buf.clear();
                self.runs.clear();
                break;
            }
            if self.buf.len() < 4 + len {
                break;
            }
            let body = self.buf[4..4 + len].to_vec();
            let first = self.origin(0);
            let mut last = self.origin(3 + len);
            last.pos += 1;
            out.push(Message {
                msg_type: t,
                body,
                first,
                last,
                complete: true,
            });
            self.consume(4 + len);
        }
        out
    }

    /// What is left over: a message whose end never arrived.
    pub fn finish(self) -> Option<Message> {
        let [t, ..] = self.buf[..] else { return None };
        let first = self.origin(0);
        let mut last = self.origin(self.buf.len() - 1);
        last.pos += 1;
        Some(Message {
            msg_type: t,
            body: self.buf.get(4..).unwrap_or(&[]).to_vec(),
            first,
            last,
            complete: false,
        })
    }

    /// Whether bytes of an unfinished message are buffered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The origin of byte `at` of the buffer.
    fn origin(&self, at: usize) -> Origin {
        let i = self.runs.partition_point(|&(start, _)| start <= at);
        let (start, o) = self.runs[i.saturating_sub(1)];
        Origin {
            record: o.record,
            pos: o.pos + (at - start),
        }
    }

    fn consume(&mut self, n: usize) {
        let next = self.origin(n.min(self.buf.len().saturating_sub(1)));
        self.buf.drain(..n);
        if self.buf.is_empty() {
            self.runs.clear();
            return;
        }
        let keep = self.runs.partition_point(|&(start, _)| start <= n);
        let mut runs = vec![(0, next)];
        runs.extend(self.runs[keep..].iter().map(|&(start, o)| (start - n, o)));
        self.runs = runs;
    }
}

/// A big-endian reader that returns `None` instead of reading past the end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u24(&mut self) -> Option<usize> {
        let b = self.bytes(3)?;
        Some(u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize)
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A vector with a one-byte length.
    pub fn vec8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()?;
        self.bytes(usize::from(n)).map(Reader::new)
    }

    /// A vector with a two-byte length.
    pub fn vec16(&mut self) -> Option<Reader<'a>> {
        let n = self.u16()?;
        self.bytes(usize::from(n)).map(Reader::new)
    }

    /// A vector with a three-byte length.
    pub fn vec24(&mut self) -> Option<Reader<'a>> {
        let n = self.u24()?;
        self.bytes(n).map(Reader::new)
    }

    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }
}

/// What a ClientHello offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientHello {
    pub random: [u8; 32],
    pub legacy_version: u16,
    /// From supported_versions; empty without it.
    pub versions: Vec<u16>,
    pub suites: usize,
    pub sni: Option<String>,
    /// Groups of the key shares sent.
    pub key_shares: Vec<u16>,
    pub alpn: Vec<String>,
}

/// What a ServerHello (or HelloRetryRequest) chooses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServerHello {
    pub random: [u8; 32],
    pub legacy_version: u16,
    pub suite: u16,
    /// From supported_versions, when present.
    pub selected_version: Option<u16>,
    pub key_share: Option<u16>,
    pub alpn: Option<String>,
    pub retry: bool,
}

impl ServerHello {
    /// The version in use: supported_versions' choice, else the legacy field.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Walks an extensions block, calling `f` with each (type, data).
fn each_extension<'a>(r: &mut Reader<'a>, mut f: impl FnMut(u16, Reader<'a>)) {
    // RFC 5246 §7.4.1.2: the block may be absent altogether.
    if r.is_empty() {
        return;
    }
    let Some(mut exts) = r.vec16() else { return };
    while !exts.is_empty() {
        let (Some(t), Some(data)) = (exts.u16(), exts.vec16()) else {
            return;
        };
        f(t, data);
    }
}

/// An ALPN protocol name made safe to print.
fn protocol_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(64)
        .collect()
}

fn alpn_list(mut data: Reader) -> Vec<String> {
    let mut out = Vec::new();
    let Some(mut list) = data.vec16() else {
        return out;
    };
    while let Some(p) = list.vec8() {
        out.push(protocol_name(p.rest()));
    }
    out
}

/// Parses a ClientHello body (RFC 8446 §4.1.2).
pub(crate) fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16()?;
    let random = r.bytes(32)?.try_into().ok()?;
    r.vec8()?;
    let suites = r.vec16()?.rest().len() / 2;
    r.vec8()?;
    let mut hello = ClientHello {
        random,
        legacy_version,
        suites,
        ..ClientHello::default()
    };
    each_extension(&mut r, |t, mut data| match t {
        0 => {
            let Some(mut list) = data.vec16() else { return };
            while let (Some(kind), Some(name)) = (list.u8(), list.vec16()) {
                if kind == 0 && hello.sni.is_none() {
                    hello.sni = Some(protocol_name(name.rest()));
                }
            }
        }
        16 => hello.alpn = alpn_list(data),
        43 => {
            let Some(mut list) = data.vec8() else { return };
            while let Some(v) = list.u16() {
                hello.versions.push(v);
            }
        }
        51 => {
            let Some(mut list) = data.vec16() else { return };
            while let (Some(group), Some(_)) = (list.u16(), list.vec16()) {
                hello.key_shares.push(group);
            }
        }
        _ => {}
    });
    Some(hello)
}

/// Parses a ServerHello body (RFC 8446 §4.1.3), telling a HelloRetryRequest apart.
pub(crate) fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader::new(body);
    let legacy_version = r.u16()?;
    let random: [u8; 32] = r.bytes(32)?.try_into().ok()?;
    r.vec8()?;
    let suite = r.u16()?;
    r.u8()?;
    let retry = random == HELLO_RETRY_RANDOM;
    let mut hello = ServerHello {
        random,
        legacy_version,
        suite,
        retry,
        ..ServerHello::default()
    };
    each_extension(&mut r, |t, mut data| match t {
        16 => hello.alpn = alpn_list(data).into_iter().next(),
        43 => hello.selected_version = data.u16(),
        // A HelloRetryRequest names only the group; a ServerHello adds its share.
        51 => hello.key_share = data.u16(),
        _ => {}
    });
    Some(hello)
}

/// The name of a handshake message and a short description of what it says.
/// `tls13` decides how the messages whose layout changed between versions are read.
pub(crate) fn describe(msg_type: u8, body: &[u8], tls13: bool) -> (String, String) {
    let detail = match msg_type {
        CLIENT_HELLO => client_hello(body).map(|h| describe_client_hello(&h)),
        SERVER_HELLO => match server_hello(body) {
            Some(h) if h.retry => {
                let group = h.key_share.map(names::group).unwrap_or_default();
                let detail = format!("key_share {group}");
                return ("HelloRetryRequest".to_owned(), detail);
            }
            Some(h) => Some(describe_server_hello(&h)),
            None => None,
        },
        4 => Reader::new(body)
            .u32()
            .map(|lifetime| format!("lifetime {lifetime} s")),
        8 => Some(
            encrypted_extensions_alpn(body)
                .map(|a| format!("ALPN {a}"))
                .unwrap_or_default(),
        ),
        11 => certificate_count(body, tls13).map(|n| match n {
            1 => "1 cert".to_owned(),
            n => format!("{n} certs"),
        }),
        12 => server_key_exchange_group(body).map(|g| format!("ECDHE {}", names::group(g))),
        15 => Reader::new(body).u16().map(names::signature_scheme),
        16 => {
            let n = body.len();
            // An ECDHE point has a one-byte length, an RSA-encrypted secret two.
            if n > 0 && usize::from(body[0]) == n - 1 {
                Some(format!("public key {} B", n - 1))
            } else {
                Some(format!("{} B", n.saturating_sub(2)))
            }
        }
        KEY_UPDATE => match body.first() {
            Some(0) => Some("update_not_requested".to_owned()),
            Some(1) => Some("update_requested".to_owned()),
            _ => None,
        },
        _ => Some(String::new()),
    };
    (
        names::handshake(msg_type),
        detail.unwrap_or_else(|| "malformed".to_owned()),
    )
}

/// The protocol an EncryptedExtensions message chose by ALPN.
pub(crate) fn encrypted_extensions_alpn(body: &[u8]) -> Option<String> {
    let mut r = Reader::new(body);
    let mut alpn = None;
    each_extension(&mut r, |t, data| {
        if t == 16 {
            alpn = alpn_list(data).into_iter().next();
        }
    });
    alpn
}

/// The named curve of an ECDHE ServerKeyExchange (RFC 8422 §5.4: curve_type 3).
pub(crate) fn server_key_exchange_group(body: &[u8]) -> Option<u16> {
    let mut r = Reader::new(body);
    match (r.u8(), r.u16()) {
        (Some(3), Some(group)) => Some(group),
        _ => None,
    }
}

fn describe_client_hello(h: &ClientHello) -> String {
    let mut parts = Vec::new();
    if let Some(sni) = &h.sni {
        parts.push(format!("SNI {sni}"));
    }
    let versions = if h.versions.is_empty() {
        names::version(h.legacy_version)
    } else {
        let v: Vec<String> = h.versions.iter().map(|&v| names::version(v)).collect();
        v.join("/")
    };
    parts.push(versions);
    if !h.key_shares.is_empty() {
        let groups: Vec<String> = h.key_shares.iter().map(|&g| names::group(g)).collect();
        parts.push(format!("key_share {}", groups.join("/")));
    }
    if !h.alpn.is_empty() {
        parts.push(format!("ALPN {}", h.alpn.join("/")));
    }
    parts.push(format!("{} suites", h.suites));
    parts.join(", ")
}

fn describe_server_hello(h: &ServerHello) -> String {
    let mut parts = vec![names::version(h.version()), names::suite(h.suite)];
    if let Some(g) = h.key_share {
        parts.push(names::group(g));
    }
    if let Some(a) = &h.alpn {
        parts.push(format!("ALPN {a}"));
    }
    parts.join(", ")
}

/// Certificates in a Certificate message (RFC 8446 §4.4.2, RFC 5246 §7.4.2).
fn certificate_count(body: &[u8], tls13: bool) -> Option<usize> {
    let mut r = Reader::new(body);
    if tls13 {
        r.vec8()?;
    }
    let mut list = r.vec24()?;
    let mut n = 0;
    while !list.is_empty() {
        list.vec24()?;
        if tls13 {
            list.vec16()?;
        }
        n += 1;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(t: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut out = vec![t];
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reassembles_across_records_and_splits_within_one() {
        let a = message(11, &[7; 10]);
        let b = message(14, &[]);
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let mut r = Reassembler::default();
        assert!(r.push(0, &all[..3]).is_empty());
        assert!(r.push(1, &all[3..9]).is_empty());
        let msgs = r.push(2, &all[9..]);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].msg_type, 11);
        assert_eq!(msgs[0].body, [7; 10]);
        assert_eq!(msgs[0].first, Origin { record: 0, pos: 0 });
        assert_eq!(msgs[0].last, Origin { record: 2, pos: 5 });
        assert_eq!(msgs[1].first, Origin { record: 2, pos: 5 });
        assert_eq!(msgs[1].last, Origin { record: 2, pos: 9 });
        assert!(r.is_empty());
        assert!(r.finish().is_none());
    }

    #[test]
    fn leftover_and_bogus_lengths_do_not_panic() {
        let mut r = Reassembler::default();
        assert!(r.push(0, &[11, 0, 0, 9, 1, 2]).is_empty());
        let left = r.finish().unwrap();
        assert!(!left.complete);
        assert_eq!(left.body, [1, 2]);
        let mut r = Reassembler::default();
        assert!(r.push(0, &[11, 0xff, 0xff, 0xff, 1]).is_empty());
        assert!(r.is_empty());
        assert!(r.push(0, &[]).is_empty());
    }

    #[test]
    fn parsers_refuse_truncated_bodies() {
        for n in 0..40 {
            let body = vec![3u8; n];
            let _ = client_hello(&body);
            let _ = server_hello(&body);
            for t in 0..=30 {
                let _ = describe(t, &body, n % 2 == 0);
            }
        }
        assert!(client_hello(&[3, 3]).is_none());
        assert_eq!(describe(11, &[0, 0, 9], false).1, "malformed");
    }

    #[test]
    fn server_hello_and_retry() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&HELLO_RETRY_RANDOM);
        body.extend_from_slice(&[0, 0x13, 0x01, 0]);
        // supported_versions TLS 1.3, key_share secp256r1.
        body.extend_from_slice(&[0, 12, 0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 0x17]);
        let h = server_hello(&body).unwrap();
        assert!(h.retry);
        assert_eq!(h.version(), 0x0304);
        assert_eq!(h.key_share, Some(0x17));
        let (name, detail) = describe(2, &body, true);
        assert_eq!(
            (name.as_str(), detail.as_str()),
            ("HelloRetryRequest", "key_share secp256r1")
        );
    }
}
