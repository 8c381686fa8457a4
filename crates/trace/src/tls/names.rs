//! Names for the numbers TLS puts on the wire, as the IANA TLS registries spell them.

/// A protocol version: `TLS 1.3`, `TLS 1.2`, ... or its number.
pub(crate) fn version(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".to_owned(),
        0x0303 => "TLS 1.2".to_owned(),
        0x0302 => "TLS 1.1".to_owned(),
        0x0301 => "TLS 1.0".to_owned(),
        0x0300 => "SSL 3.0".to_owned(),
        _ if is_grease(v) => "GREASE".to_owned(),
        _ => format!("0x{v:04x}"),
    }
}

/// A cipher suite's name, or its number.
pub(crate) fn suite(s: u16) -> String {
    match super::decrypt::suite_name(s) {
        Some(name) => name.to_owned(),
        None => format!("0x{s:04x}"),
    }
}

/// A named group (key exchange): `x25519`, `secp256r1`, `X25519MLKEM768`, ...
pub(crate) fn group(g: u16) -> String {
    let name = match g {
        0x0017 => "secp256r1",
        0x0018 => "secp384r1",
        0x0019 => "secp521r1",
        0x001d => "x25519",
        0x001e => "x448",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        _ if is_grease(g) => "GREASE",
        _ => return format!("0x{g:04x}"),
    };
    name.to_owned()
}

/// A signature scheme: `ed25519`, `ecdsa_secp256r1_sha256`, `rsa_pss_rsae_sha256`, ...
pub(crate) fn signature_scheme(s: u16) -> String {
    let name = match s {
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        _ => return format!("0x{s:04x}"),
    };
    name.to_owned()
}

/// A handshake message type (RFC 8446 §4, RFC 5246 §7.4).
pub(crate) fn handshake(t: u8) -> String {
    let name = match t {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        24 => "KeyUpdate",
        254 => "MessageHash",
        _ => return format!("Handshake type {t}"),
    };
    name.to_owned()
}

/// An alert level: `warning`, `fatal`.
pub(crate) fn alert_level(l: u8) -> String {
    match l {
        1 => "warning".to_owned(),
        2 => "fatal".to_owned(),
        _ => format!("level {l}"),
    }
}

/// An alert description (RFC 8446 §6).
pub(crate) fn alert(d: u8) -> String {
    let name = match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("alert {d}"),
    };
    name.to_owned()
}

/// RFC 8701: values of the form 0x?a?a reserved to keep peers tolerant.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(version(0x0304), "TLS 1.3");
        assert_eq!(version(0x7a7a), "GREASE");
        assert_eq!(group(0x11ec), "X25519MLKEM768");
        assert_eq!(group(0x001d), "x25519");
        assert_eq!(group(0x1234), "0x1234");
        assert_eq!(signature_scheme(0x0807), "ed25519");
        assert_eq!(handshake(8), "EncryptedExtensions");
        assert_eq!(handshake(99), "Handshake type 99");
        assert_eq!(alert(0), "close_notify");
        assert_eq!(alert_level(1), "warning");
    }
}
