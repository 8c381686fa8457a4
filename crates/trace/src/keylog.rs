//! TLS secrets in the NSS key log format (SSLKEYLOGFILE), as rustls, curl and browsers write
//! them and Wireshark reads them.
//!
//! Each line is `LABEL <client_random hex> <secret hex>`; `#` starts a comment line and blank
//! lines are skipped. Labels in use: `CLIENT_RANDOM` (the TLS 1.2 master secret),
//! `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
//! `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`, `EXPORTER_SECRET` and others; any
//! label made of upper-case letters, digits and `_` is kept, so a reader can look up ones
//! this crate does not use yet.

use std::collections::HashMap;

/// Secrets parsed from an NSS key log, looked up by label and ClientHello random.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    /// (label, client_random) → secret.
    secrets: HashMap<(String, [u8; 32]), Vec<u8>>,
    malformed: usize,
}

impl KeyLog {
    /// Parses a key log. Never fails: a line that is not `LABEL <64 hex> <hex>` is counted in
    /// [`KeyLog::malformed_lines`] and skipped. When a (label, client random) pair appears
    /// twice, the first secret wins.
    pub fn parse(text: &str) -> KeyLog {
        let mut log = KeyLog::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Some((label, random, secret)) => {
                    log.secrets
                        .entry((label.to_owned(), random))
                        .or_insert(secret);
                }
                None => log.malformed += 1,
            }
        }
        log
    }

    /// Lines that were neither comments, blank, nor well-formed entries.
    pub fn malformed_lines(&self) -> usize {
        self.malformed
    }

    /// Number of secrets held.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether no secret is held.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The secret logged under `label` for the connection whose ClientHello carried
    /// `client_random`.
    pub fn secret(&self, label: &str, client_random: &[u8; 32]) -> Option<&[u8]> {
        // The owned-key map needs an owned label to look up; key logs are small.
        self.secrets
            .get(&(label.to_owned(), *client_random))
            .map(Vec::as_slice)
    }

    /// Merges `other` into this log; entries already held win over `other`'s duplicates.
    /// Malformed-line counts add up.
    pub fn extend(&mut self, other: KeyLog) {
        for (key, secret) in other.secrets {
            self.secrets.entry(key).or_insert(secret);
        }
        self.malformed += other.malformed;
    }
}

/// Splits one non-comment line into (label, client random, secret).
fn parse_line(line: &str) -> Option<(&str, [u8; 32], Vec<u8>)> {
    let mut fields = line.split_ascii_whitespace();
    let label = fields.next()?;
    let random = fields.next()?;
    let secret = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    let label_ok = label
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !label_ok {
        return None;
    }
    let random: [u8; 32] = decode_hex(random)?.try_into().ok()?;
    let secret = decode_hex(secret)?;
    if secret.is_empty() {
        return None;
    }
    Some((label, random, secret))
}

/// Decodes an even-length hex string (either case).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some((hex_value(pair[0])? << 4) | hex_value(pair[1])?))
        .collect()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn random() -> [u8; 32] {
        core::array::from_fn(|i| i as u8)
    }

    #[test]
    fn parses_entries_and_skips_comments() {
        let text = format!(
            "# SSL/TLS secrets log file\n\n\
             CLIENT_RANDOM {RANDOM} AABBcc\n\
             CLIENT_TRAFFIC_SECRET_0 {RANDOM} 0102\n   \n"
        );
        let log = KeyLog::parse(&text);
        assert_eq!(log.len(), 2);
        assert_eq!(log.malformed_lines(), 0);
        assert_eq!(
            log.secret("CLIENT_RANDOM", &random()),
            Some(&[0xaa, 0xbb, 0xcc][..])
        );
        assert_eq!(
            log.secret("CLIENT_TRAFFIC_SECRET_0", &random()),
            Some(&[1, 2][..])
        );
        assert_eq!(log.secret("SERVER_TRAFFIC_SECRET_0", &random()), None);
        assert_eq!(log.secret("CLIENT_RANDOM", &[0; 32]), None);
    }

    #[test]
    fn counts_malformed_lines() {
        let short = &RANDOM[..62];
        let text = format!(
            "CLIENT_RANDOM {RANDOM} zz\n\
             CLIENT_RANDOM {short} 0102\n\
             CLIENT_RANDOM {RANDOM}\n\
             CLIENT_RANDOM\n\
             CLIENT_RANDOM {RANDOM} 010\n\
             client_random {RANDOM} 01\n\
             CLIENT_RANDOM {RANDOM} 01 02\n\
             CLIENT_RANDOM {RANDOM} 0a0b\n"
        );
        let log = KeyLog::parse(&text);
        assert_eq!(log.malformed_lines(), 7);
        assert_eq!(log.len(), 1);
        assert_eq!(
            log.secret("CLIENT_RANDOM", &random()),
            Some(&[0x0a, 0x0b][..])
        );
    }

    #[test]
    fn first_duplicate_wins_and_extend_merges() {
        let mut log = KeyLog::parse(&format!(
            "CLIENT_RANDOM {RANDOM} 01\nCLIENT_RANDOM {RANDOM} 02\n"
        ));
        assert_eq!(log.secret("CLIENT_RANDOM", &random()), Some(&[1][..]));
        log.extend(KeyLog::parse(&format!(
            "CLIENT_RANDOM {RANDOM} 03\nEXPORTER_SECRET {RANDOM} 04\nbad\n"
        )));
        assert_eq!(log.len(), 2);
        assert_eq!(log.malformed_lines(), 1);
        assert_eq!(log.secret("CLIENT_RANDOM", &random()), Some(&[1][..]));
        assert_eq!(log.secret("EXPORTER_SECRET", &random()), Some(&[4][..]));
    }
}
