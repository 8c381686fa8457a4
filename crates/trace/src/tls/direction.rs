//! One direction's records walked in order, the way its receiver reads them: plaintext
//! until the keys change, then decrypted with the key log when it has the secrets.
//!
//! TLS 1.3 (RFC 8446 §7): after the ServerHello every application_data record is
//! encrypted, first under the sender's handshake traffic secret, after its Finished under
//! its application traffic secret 0. TLS 1.2 (RFC 5246 §7.1): every record after the
//! sender's ChangeCipherSpec is encrypted with keys from the master secret.

use super::decrypt::Decrypter;
use super::handshake::{self, Origin, Reassembler};
use super::names;
use super::record::{self, Record};
use crate::KeyLog;
use crate::model::{Side, TlsMessage};

/// What both directions need to know from the hellos.
#[derive(Debug, Clone)]
pub(crate) struct Context<'k> {
    pub keys: &'k KeyLog,
    pub client_random: [u8; 32],
    pub server_random: Option<[u8; 32]>,
    /// The version in use, once a ServerHello (not a HelloRetryRequest) was seen.
    pub version: Option<u16>,
    pub suite: Option<u16>,
}

impl Context<'_> {
    pub fn tls13(&self) -> bool {
        self.version == Some(0x0304)
    }

    fn tls12(&self) -> bool {
        matches!(self.version, Some(v) if v < 0x0304)
    }

    fn secret(&self, label: &str) -> Option<&[u8]> {
        self.keys.secret(label, &self.client_random)
    }
}

/// The key epoch a direction's records are in.
#[derive(Debug)]
enum Epoch {
    /// Nothing encrypted yet.
    Plain,
    /// TLS 1.3 handshake keys (`None`: no secret or it could not be used).
    Handshake(Option<Decrypter>),
    /// TLS 1.3 application keys, or TLS 1.2 keys after ChangeCipherSpec.
    Application(Option<Decrypter>),
}

/// Decrypted application data of one direction, with where each piece came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plaintext {
    pub bytes: Vec<u8>,
    pub pieces: Vec<Piece>,
}

/// One record's application data in the plaintext stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    /// Plaintext offsets.
    pub start: u64,
    pub end: u64,
    /// Index of the record's message in the direction's messages.
    pub message: usize,
}

/// What one direction held.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub messages: Vec<TlsMessage>,
    pub plaintext: Plaintext,
    /// The sender's Finished (or, without keys, the record standing for it), by index.
    pub finished: Option<usize>,
    pub encrypted_records: usize,
    pub undecrypted_records: usize,
    pub decrypted_records: usize,
    /// Facts for the session, learnt from decrypted or plaintext handshake messages.
    pub alpn: Option<String>,
    pub key_exchange: Option<u16>,
    /// Indices of records that stayed opaque while in the TLS 1.3 handshake epoch.
    pub opaque_handshake_epoch: Vec<usize>,
}

/// Where a record's content lies on the wire.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    /// Stream offset of content byte 0 (after the header and any explicit nonce).
    content: u64,
    content_len: usize,
}

impl Span {
    fn wire(&self, pos: usize) -> u64 {
        (self.content + pos as u64).min(self.end)
    }
}

/// Walks the records of `side`, whose stream reaches `stream_end` (bytes sent, kept or not).
pub(crate) fn walk(side: Side, records: &[Record], ctx: &Context, stream_end: u64) -> Walked {
    let mut w = Walker {
        side,
        ctx,
        stream_end,
        epoch: Epoch::Plain,
        hs: Reassembler::default(),
        hs_encrypted: false,
        spans: Vec::with_capacity(records.len()),
        out: Walked::default(),
    };
    for (i, rec) in records.iter().enumerate() {
        w.record(i, rec);
    }
    w.flush_handshake();
    w.out
}

struct Walker<'c, 'k> {
    side: Side,
    ctx: &'c Context<'k>,
    /// Where the direction's stream ends: a cut record reaching past it was cut by the end
    /// of the capture, not by a snapped packet.
    stream_end: u64,
    epoch: Epoch,
    hs: Reassembler,
    /// Whether the bytes in `hs` came from decrypted records.
    hs_encrypted: bool,
    spans: Vec<Span>,
    out: Walked,
}

impl Walker<'_, '_> {
    fn record(&mut self, i: usize, rec: &Record) {
        let ct = rec.content_type();
        // A record cut short still owns the bytes its header declares, kept or not.
        let end = if rec.declared_end() <= self.stream_end {
            rec.declared_end()
        } else {
            rec.end()
        };
        let plain_span = Span {
            start: rec.offset,
            end,
            content: rec.body_offset(),
            content_len: rec.fragment.len(),
        };
        if self.ctx.tls13() && ct == record::APPLICATION_DATA && matches!(self.epoch, Epoch::Plain)
        {
            self.flush_handshake();
            let dec = self.decrypter13("HANDSHAKE_TRAFFIC_SECRET");
            self.epoch = Epoch::Handshake(dec);
        }
        let encrypted = match self.epoch {
            Epoch::Plain => false,
            // RFC 8446 §5: ChangeCipherSpec stays plaintext for middlebox compatibility.
            _ if self.ctx.tls13() => ct != record::CHANGE_CIPHER_SPEC,
            _ => true,
        };
        // Without a known version, application data is opaque and never decrypted.
        let unknown = ct == record::APPLICATION_DATA && self.ctx.version.is_none();
        if !encrypted && !unknown {
            self.spans.push(plain_span);
            self.content(i, ct, &rec.fragment, rec.complete(), false);
            if !rec.complete() {
                // What follows a hole cannot continue a message cut by it.
                self.flush_handshake();
            }
            return;
        }
        self.out.encrypted_records += 1;
        let decrypter = match &mut self.epoch {
            Epoch::Handshake(d) | Epoch::Application(d) => d.as_mut(),
            Epoch::Plain => None,
        };
        let opened = match decrypter {
            Some(d) if rec.complete() => d.open(rec.header, &rec.fragment).ok(),
            _ => None,
        };
        let Some((inner, content)) = opened else {
            self.out.undecrypted_records += 1;
            self.spans.push(plain_span);
            self.opaque(i, rec);
            return;
        };
        self.out.decrypted_records += 1;
        // Content byte 0 lies after any explicit nonce; the tag (and TLS 1.3's inner type
        // and padding) follow the content.
        let overhead = rec.fragment.len().saturating_sub(content.len());
        let prefix = if self.ctx.tls13() {
            0
        } else {
            overhead.saturating_sub(16)
        };
        self.spans.push(Span {
            content: rec.body_offset() + prefix as u64,
            content_len: content.len(),
            ..plain_span
        });
        self.content(i, inner, &content, true, true);
    }

    /// Content of record `i` (plaintext, or decrypted when `encrypted`).
    fn content(&mut self, i: usize, ct: u8, content: &[u8], complete: bool, encrypted: bool) {
        let span = self.spans[i];
        let from = self.side;
        let whole = |name: &str, detail: String| TlsMessage {
            from,
            name: name.to_owned(),
            detail,
            encrypted,
            decrypted: encrypted,
            complete,
            start_offset: span.start,
            end_offset: span.end,
            t_first_ns: u64::MAX,
            t_last_ns: 0,
            first_segment: usize::MAX,
            last_segment: 0,
        };
        match ct {
            record::HANDSHAKE => {
                if self.hs_encrypted != encrypted {
                    self.flush_handshake();
                    self.hs_encrypted = encrypted;
                }
                for m in self.hs.push(i, content) {
                    self.handshake_message(m, encrypted);
                }
            }
            record::CHANGE_CIPHER_SPEC => {
                let detail = if self.ctx.tls13() { "compat" } else { "" };
                let msg = whole("ChangeCipherSpec", detail.to_owned());
                self.out.messages.push(msg);
                if self.ctx.tls12() && matches!(self.epoch, Epoch::Plain) {
                    self.flush_handshake();
                    self.epoch = Epoch::Application(self.decrypter12());
                }
            }
            record::ALERT => {
                let detail = match content {
                    [level, desc, ..] => {
                        format!("{} {}", names::alert_level(*level), names::alert(*desc))
                    }
                    _ => "malformed".to_owned(),
                };
                let msg = whole("Alert", detail);
                self.out.messages.push(msg);
            }
            record::APPLICATION_DATA => {
                let msg = whole("ApplicationData", String::new());
                if encrypted {
                    let p = &mut self.out.plaintext;
                    let start = p.bytes.len() as u64;
                    p.bytes.extend_from_slice(content);
                    let end = p.bytes.len() as u64;
                    let message = self.out.messages.len();
                    p.pieces.push(Piece {
                        start,
                        end,
                        message,
                    });
                }
                self.out.messages.push(msg);
            }
            24 => {
                let msg = whole("Heartbeat", String::new());
                self.out.messages.push(msg);
            }
            other => {
                let msg = whole(&format!("record type {other}"), String::new());
                self.out.messages.push(msg);
            }
        }
    }

    fn handshake_message(&mut self, m: handshake::Message, encrypted: bool) {
        let (name, mut detail) = handshake::describe(m.msg_type, &m.body, self.ctx.tls13());
        if !m.complete {
            // A message cut short by the capture cannot be read to the end.
            detail = "truncated".to_owned();
        }
        match m.msg_type {
            8 => self.out.alpn = handshake::encrypted_extensions_alpn(&m.body),
            12 => self.out.key_exchange = handshake::server_key_exchange_group(&m.body),
            _ => {}
        }
        let index = self.out.messages.len();
        self.out.messages.push(TlsMessage {
            from: self.side,
            name,
            detail,
            encrypted,
            decrypted: encrypted,
            complete: m.complete,
            start_offset: self.wire_start(m.first),
            end_offset: self.wire_end(m.last),
            t_first_ns: u64::MAX,
            t_last_ns: 0,
            first_segment: usize::MAX,
            last_segment: 0,
        });
        if m.msg_type == handshake::FINISHED && self.out.finished.is_none() {
            self.out.finished = Some(index);
            if matches!(self.epoch, Epoch::Handshake(_)) {
                self.flush_handshake();
                self.epoch = Epoch::Application(self.decrypter13("TRAFFIC_SECRET_0"));
            }
        }
        if m.msg_type == handshake::KEY_UPDATE && self.ctx.tls13() {
            // The next secret is beyond this analysis: what follows stays encrypted.
            self.epoch = Epoch::Application(None);
        }
    }

    /// An encrypted record that could not be read: named by what it must be.
    fn opaque(&mut self, i: usize, rec: &Record) {
        let span = self.spans[i];
        let name = match rec.content_type() {
            record::HANDSHAKE => "encrypted handshake",
            record::ALERT => "Alert (encrypted)",
            record::CHANGE_CIPHER_SPEC => "ChangeCipherSpec (encrypted)",
            // RFC 8446 §5.2: TLS 1.3 sends every encrypted record as application_data and
            // hides the real type inside, so it may as well be an alert or a handshake
            // message (a ticket, a KeyUpdate). Only TLS 1.2's outer type is the real one.
            record::APPLICATION_DATA if self.ctx.tls12() => "ApplicationData (encrypted)",
            _ => "encrypted record",
        };
        let index = self.out.messages.len();
        if self.ctx.tls12() && rec.content_type() == record::HANDSHAKE {
            // RFC 5246 §7.4.9: the first message after ChangeCipherSpec is Finished.
            self.out.finished.get_or_insert(index);
        }
        if matches!(self.epoch, Epoch::Handshake(_)) {
            self.out.opaque_handshake_epoch.push(index);
        }
        self.out.messages.push(TlsMessage {
            from: self.side,
            name: name.to_owned(),
            detail: String::new(),
            encrypted: true,
            decrypted: false,
            complete: rec.complete(),
            start_offset: span.start,
            end_offset: span.end,
            t_first_ns: u64::MAX,
            t_last_ns: 0,
            first_segment: usize::MAX,
            last_segment: 0,
        });
    }

    /// Emits a handshake message left unfinished in the current epoch.
    fn flush_handshake(&mut self) {
        let hs = std::mem::take(&mut self.hs);
        if let Some(m) = hs.finish() {
            let encrypted = self.hs_encrypted;
            self.handshake_message(m, encrypted);
        }
    }

    fn wire_start(&self, o: Origin) -> u64 {
        match self.spans.get(o.record) {
            Some(s) if o.pos == 0 => s.start,
            Some(s) => s.wire(o.pos),
            None => 0,
        }
    }

    fn wire_end(&self, o: Origin) -> u64 {
        match self.spans.get(o.record) {
            Some(s) if o.pos >= s.content_len => s.end,
            Some(s) => s.wire(o.pos),
            None => 0,
        }
    }

    fn side_label(&self) -> &'static str {
        match self.side {
            Side::Client => "CLIENT",
            Side::Server => "SERVER",
        }
    }

    /// A TLS 1.3 decrypter for this side's `{CLIENT,SERVER}_<suffix>` secret.
    fn decrypter13(&self, suffix: &str) -> Option<Decrypter> {
        let label = format!("{}_{suffix}", self.side_label());
        let secret = self.ctx.secret(&label)?;
        Decrypter::tls13(self.ctx.suite?, secret).ok()
    }

    /// A TLS 1.2 decrypter for this side from the master secret.
    fn decrypter12(&self) -> Option<Decrypter> {
        let master = self.ctx.secret("CLIENT_RANDOM")?;
        let server_random = self.ctx.server_random?;
        let client = self.side == Side::Client;
        Decrypter::tls12(
            self.ctx.suite?,
            master,
            &self.ctx.client_random,
            &server_random,
            client,
        )
        .ok()
    }
}
