//! Record decryption with secrets from a key log.
//!
//! One [`Decrypter`] opens the records of one direction under one key epoch: TLS 1.3 from a
//! traffic secret (RFC 8446 §7.3), TLS 1.2 from the master secret (RFC 5246 §6.3) for the
//! AEAD suites (AES-GCM per RFC 5288/5289, ChaCha20-Poly1305 per RFC 7905). The AEADs, HMAC
//! and HKDF come from aws-lc-rs; only the TLS framing around them lives here.

use std::fmt;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};

/// Why a record or a set of secrets could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecryptError {
    /// The cipher suite is unknown or not an AEAD suite of the version asked for.
    UnsupportedSuite(u16),
    /// The secret has the wrong length for the suite.
    BadSecret,
    /// The record failed AEAD authentication (wrong key, wrong sequence number or tampering).
    Authentication,
    /// The record is too short or too long, its header length disagrees with its body, or a
    /// TLS 1.3 inner plaintext has no content type.
    Malformed,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::UnsupportedSuite(suite) => {
                write!(f, "cipher suite {suite:#06x} cannot be decrypted")
            }
            DecryptError::BadSecret => f.write_str("secret has the wrong length for the suite"),
            DecryptError::Authentication => f.write_str("record failed authentication"),
            DecryptError::Malformed => f.write_str("malformed encrypted record"),
        }
    }
}

impl std::error::Error for DecryptError {}

/// AEAD tag length, the same for all supported suites.
const TAG_LEN: usize = 16;
/// TLS 1.2 AES-GCM explicit nonce carried in front of each record (RFC 5288 §3).
const EXPLICIT_NONCE_LEN: usize = 8;
/// TLSCiphertext.length limit in TLS 1.3 (RFC 8446 §5.2).
const TLS13_MAX_CIPHERTEXT: usize = (1 << 14) + 256;
/// TLSCiphertext.length limit in TLS 1.2 (RFC 5246 §6.2.3).
const TLS12_MAX_CIPHERTEXT: usize = (1 << 14) + 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Tls12,
    Tls13,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

impl Cipher {
    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Cipher::Aes128Gcm => &aead::AES_128_GCM,
            Cipher::Aes256Gcm => &aead::AES_256_GCM,
            Cipher::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    fn key_len(self) -> usize {
        self.algorithm().key_len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// What this module can decrypt for a suite.
#[derive(Debug, Clone, Copy)]
struct Aead {
    version: Version,
    cipher: Cipher,
    hash: Hash,
}

/// One row of the suite table: id, IANA name, and how to decrypt it (None: named only).
type SuiteRow = (u16, &'static str, Option<Aead>);

const fn v13(cipher: Cipher, hash: Hash) -> Option<Aead> {
    Some(Aead {
        version: Version::Tls13,
        cipher,
        hash,
    })
}

const fn v12(cipher: Cipher, hash: Hash) -> Option<Aead> {
    Some(Aead {
        version: Version::Tls12,
        cipher,
        hash,
    })
}

/// Suites by IANA number. The CBC and CCM rows are here so traces can name them.
#[rustfmt::skip]
const SUITES: &[SuiteRow] = {
    use Cipher::{Aes128Gcm, Aes256Gcm, Chacha20Poly1305};
    use Hash::{Sha256, Sha384};
    &[
        (0x1301, "TLS_AES_128_GCM_SHA256", v13(Aes128Gcm, Sha256)),
        (0x1302, "TLS_AES_256_GCM_SHA384", v13(Aes256Gcm, Sha384)),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256", v13(Chacha20Poly1305, Sha256)),
        (0x1304, "TLS_AES_128_CCM_SHA256", None),
        (0x1305, "TLS_AES_128_CCM_8_SHA256", None),
        (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", v12(Aes128Gcm, Sha256)),
        (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", v12(Aes256Gcm, Sha384)),
        (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", v12(Aes128Gcm, Sha256)),
        (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", v12(Aes256Gcm, Sha384)),
        (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", v12(Chacha20Poly1305, Sha256)),
        (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", v12(Chacha20Poly1305, Sha256)),
        (0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", v12(Chacha20Poly1305, Sha256)),
        (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", v12(Aes128Gcm, Sha256)),
        (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", v12(Aes256Gcm, Sha384)),
        (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", v12(Aes128Gcm, Sha256)),
        (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", v12(Aes256Gcm, Sha384)),
        (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", None),
        (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", None),
        (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", None),
        (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", None),
        (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", None),
        (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", None),
        (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", None),
        (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", None),
        (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", None),
        (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", None),
        (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", None),
        (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", None),
    ]
};

/// Name of a cipher suite ("TLS_AES_128_GCM_SHA256",
/// "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", ...), None if unknown.
pub(crate) fn suite_name(suite: u16) -> Option<&'static str> {
    SUITES.iter().find(|row| row.0 == suite).map(|row| row.1)
}

/// The decryption parameters of `suite` if it is a supported AEAD suite of `version`.
fn lookup(suite: u16, version: Version) -> Result<Aead, DecryptError> {
    SUITES
        .iter()
        .find(|row| row.0 == suite)
        .and_then(|row| row.2)
        .filter(|aead| aead.version == version)
        .ok_or(DecryptError::UnsupportedSuite(suite))
}

/// How the per-record nonce and additional data are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// RFC 8446 §5.2/§5.3: nonce = iv XOR seq, AAD = the record header, inner content type.
    Tls13,
    /// RFC 5288 §3: nonce = 4-byte salt ‖ 8-byte explicit nonce from the record.
    Tls12ExplicitNonce,
    /// RFC 7905 §2: nonce = iv XOR seq, nothing explicit on the wire.
    Tls12XorNonce,
}

/// Record protection for one direction and one key epoch.
pub(crate) struct Decrypter {
    key: LessSafeKey,
    /// The write IV; for AES-GCM in TLS 1.2 only the first 4 bytes (the salt) are used.
    iv: [u8; aead::NONCE_LEN],
    framing: Framing,
    seq: u64,
}

impl fmt::Debug for Decrypter {
    // Key material stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypter")
            .field("algorithm", self.key.algorithm())
            .field("framing", &self.framing)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Decrypter {
    /// TLS 1.3 (RFC 8446 §7.3): key and iv from a traffic secret via HKDF-Expand-Label with
    /// the suite's hash. Suites: TLS_AES_128_GCM_SHA256 0x1301, TLS_AES_256_GCM_SHA384
    /// 0x1302, TLS_CHACHA20_POLY1305_SHA256 0x1303.
    pub(crate) fn tls13(suite: u16, traffic_secret: &[u8]) -> Result<Decrypter, DecryptError> {
        let params = lookup(suite, Version::Tls13)?;
        if traffic_secret.len() != params.hash.len() {
            return Err(DecryptError::BadSecret);
        }
        let algorithm = match params.hash {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        };
        let prk = hkdf::Prk::new_less_safe(algorithm, traffic_secret);
        let key = hkdf_expand_label(&prk, b"key", params.cipher.key_len())?;
        let iv = hkdf_expand_label(&prk, b"iv", aead::NONCE_LEN)?;
        Decrypter::new(params.cipher, &key, &iv, Framing::Tls13)
    }

    /// TLS 1.2 (RFC 5246 §6.3 key block from the master secret with the suite's PRF hash;
    /// AEAD suites only: ECDHE-{ECDSA,RSA}-AES{128,256}-GCM (RFC 5288/5289, explicit 8-byte
    /// nonce) and ECDHE-*-CHACHA20-POLY1305 (RFC 7905)). `client_to_server` picks which half
    /// of the key block.
    pub(crate) fn tls12(
        suite: u16,
        master_secret: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        client_to_server: bool,
    ) -> Result<Decrypter, DecryptError> {
        let params = lookup(suite, Version::Tls12)?;
        // RFC 5246 §8.1: the master secret is always 48 bytes.
        if master_secret.len() != 48 {
            return Err(DecryptError::BadSecret);
        }
        let key_len = params.cipher.key_len();
        let (iv_len, framing) = match params.cipher {
            // RFC 5288 §3: only the 4-byte salt is derived; the rest comes with each record.
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => (4, Framing::Tls12ExplicitNonce),
            Cipher::Chacha20Poly1305 => (aead::NONCE_LEN, Framing::Tls12XorNonce),
        };
        // RFC 5246 §6.3: the seed is server_random + client_random, and the block is
        // client MAC key, server MAC key (both empty for AEAD), client key, server key,
        // client IV, server IV.
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        let block = prf(
            params.hash,
            master_secret,
            b"key expansion",
            &seed,
            2 * (key_len + iv_len),
        );
        let (client_key, rest) = block.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_iv, server_iv) = rest.split_at(iv_len);
        let (key, iv) = if client_to_server {
            (client_key, client_iv)
        } else {
            (server_key, server_iv)
        };
        Decrypter::new(params.cipher, key, iv, framing)
    }

    fn new(
        cipher: Cipher,
        key: &[u8],
        iv: &[u8],
        framing: Framing,
    ) -> Result<Decrypter, DecryptError> {
        let key = UnboundKey::new(cipher.algorithm(), key).map_err(|_| DecryptError::BadSecret)?;
        let mut padded = [0u8; aead::NONCE_LEN];
        let iv_slot = padded.get_mut(..iv.len()).ok_or(DecryptError::BadSecret)?;
        iv_slot.copy_from_slice(iv);
        Ok(Decrypter {
            key: LessSafeKey::new(key),
            iv: padded,
            framing,
            seq: 0,
        })
    }

    /// Opens the next record of this direction; sequence numbers count from 0 per Decrypter
    /// and advance only when the record authenticates (a TLS 1.3 record that authenticates
    /// but carries no content type still used up its number, so it advances too).
    /// `header` is the 5-byte record header as on the wire, `fragment` the record body
    /// after it. Returns (content type, plaintext): TLS 1.3 → the inner content type with
    /// zero padding stripped (RFC 8446 §5.4); TLS 1.2 → the header's content type and the
    /// plaintext (AAD = seq ‖ type ‖ version ‖ plaintext length).
    pub(crate) fn open(
        &mut self,
        header: [u8; 5],
        fragment: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        if usize::from(u16::from_be_bytes([header[3], header[4]])) != fragment.len() {
            return Err(DecryptError::Malformed);
        }
        match self.framing {
            Framing::Tls13 => self.open_tls13(header, fragment),
            Framing::Tls12ExplicitNonce | Framing::Tls12XorNonce => {
                self.open_tls12(header, fragment)
            }
        }
    }

    /// The next record sequence number.
    // Part of the API for callers that report record numbers; only tests read it so far.
    #[allow(dead_code)]
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    fn open_tls13(
        &mut self,
        header: [u8; 5],
        fragment: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        // At least the tag and one byte of inner content type.
        if fragment.len() <= TAG_LEN || fragment.len() > TLS13_MAX_CIPHERTEXT {
            return Err(DecryptError::Malformed);
        }
        let mut inner = self.aead_open(self.xor_nonce(), &header, fragment)?;
        self.advance();
        // RFC 8446 §5.4: the content type is the last non-zero byte; zeros after it are
        // padding.
        let end = inner
            .iter()
            .rposition(|&b| b != 0)
            .ok_or(DecryptError::Malformed)?;
        let content_type = inner[end];
        inner.truncate(end);
        Ok((content_type, inner))
    }

    fn open_tls12(
        &mut self,
        header: [u8; 5],
        fragment: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        if fragment.len() > TLS12_MAX_CIPHERTEXT {
            return Err(DecryptError::Malformed);
        }
        let (nonce, sealed) = match self.framing {
            Framing::Tls12ExplicitNonce => {
                if fragment.len() < EXPLICIT_NONCE_LEN + TAG_LEN {
                    return Err(DecryptError::Malformed);
                }
                let (explicit, sealed) = fragment.split_at(EXPLICIT_NONCE_LEN);
                let mut nonce = self.iv;
                nonce[4..].copy_from_slice(explicit);
                (nonce, sealed)
            }
            // Tls13 never gets here; `open` routes it to `open_tls13`.
            Framing::Tls12XorNonce | Framing::Tls13 => {
                if fragment.len() < TAG_LEN {
                    return Err(DecryptError::Malformed);
                }
                (self.xor_nonce(), fragment)
            }
        };
        // RFC 5246 §6.2.3.3: additional_data = seq_num + type + version + length, where the
        // length is the plaintext's.
        let plain_len =
            u16::try_from(sealed.len() - TAG_LEN).map_err(|_| DecryptError::Malformed)?;
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&plain_len.to_be_bytes());
        let plaintext = self.aead_open(nonce, &aad, sealed)?;
        self.advance();
        Ok((header[0], plaintext))
    }

    /// AEAD-opens `sealed` (ciphertext ‖ tag) and returns the plaintext.
    fn aead_open(
        &self,
        nonce: [u8; aead::NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let mut buf = sealed.to_vec();
        let plain_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| DecryptError::Authentication)?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }

    /// RFC 8446 §5.3 / RFC 7905 §2: the 64-bit sequence number, left-padded to the IV's
    /// length, XORed into the IV.
    fn xor_nonce(&self) -> [u8; aead::NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    fn advance(&mut self) {
        // 2^64 records cannot happen in practice; saturating still rules out an overflow
        // panic.
        self.seq = self.seq.saturating_add(1);
    }
}

/// An output length for `hkdf::Prk::expand`.
struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// RFC 8446 §7.1 HKDF-Expand-Label with an empty context.
fn hkdf_expand_label(prk: &hkdf::Prk, label: &[u8], len: usize) -> Result<Vec<u8>, DecryptError> {
    const PREFIX: &[u8] = b"tls13 ";
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    let length = u16::try_from(len)
        .map_err(|_| DecryptError::BadSecret)?
        .to_be_bytes();
    let label_len =
        u8::try_from(PREFIX.len() + label.len()).map_err(|_| DecryptError::BadSecret)?;
    let context_len = 0u8;
    let info: [&[u8]; 5] = [&length, &[label_len], PREFIX, label, &[context_len]];
    let mut out = vec![0u8; len];
    prk.expand(&info, OutputLen(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| DecryptError::BadSecret)?;
    Ok(out)
}

/// RFC 5246 §5: PRF(secret, label, seed) = P_hash(secret, label + seed), truncated to `len`.
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let algorithm = match hash {
        Hash::Sha256 => hmac::HMAC_SHA256,
        Hash::Sha384 => hmac::HMAC_SHA384,
    };
    let key = hmac::Key::new(algorithm, secret);
    let mac = |parts: &[&[u8]]| {
        let mut ctx = hmac::Context::with_key(&key);
        for part in parts {
            ctx.update(part);
        }
        ctx.sign()
    };
    // A(1) = HMAC(secret, label + seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = mac(&[label, seed]);
    let mut out = Vec::with_capacity(len + hash.len());
    while out.len() < len {
        out.extend_from_slice(mac(&[a.as_ref(), label, seed]).as_ref());
        a = mac(&[a.as_ref()]);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests;
