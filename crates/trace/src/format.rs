//! Small formatting helpers shared by the renderers.

use synack_core::wire::TcpFlags;

/// Milliseconds with three decimals (microsecond resolution, rounded): `12.345`.
pub(crate) fn ms(ns: u64) -> String {
    let us = ns.saturating_add(500) / 1_000;
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

/// A duration for people: `0.030 ms`.
pub(crate) fn duration(ns: u64) -> String {
    format!("{} ms", ms(ns))
}

/// A segment's payload length: `len 1448`, or for a snapped packet `len 1448 (40 captured)`.
pub(crate) fn payload_len(len: usize, captured: usize) -> String {
    if captured < len {
        format!("len {len} ({captured} captured)")
    } else {
        format!("len {len}")
    }
}

/// Flag names in Wireshark's order (by bit, lowest first): `SYN, ACK`, `FIN, PSH, ACK`.
pub(crate) fn flags(f: TcpFlags) -> String {
    const ORDER: [(TcpFlags, &str); 8] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];
    let names: Vec<&str> = ORDER
        .iter()
        .filter(|(b, _)| f.contains(*b))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A byte count: exact below 10 kB, otherwise with a binary unit (`1.5 MiB`).
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 10_000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A hash's short form: first four and last two hex digits, `3f1a…e9`.
pub(crate) fn short_hash(hex: &str) -> String {
    let chars: Vec<char> = hex.chars().collect();
    if chars.len() <= 8 {
        return hex.to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

/// `n thing` or `n things`.
pub(crate) fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(ms(0), "0.000");
        assert_eq!(ms(21_400), "0.021");
        assert_eq!(ms(1_234_567_890), "1234.568");
        assert_eq!(duration(30_000), "0.030 ms");
        assert_eq!(bytes(1024), "1024 B");
        assert_eq!(bytes(10 * 1024 * 1024), "10.0 MiB");
        assert_eq!(short_hash("3f1a00000000000000e9"), "3f1a…e9");
        assert_eq!(short_hash("abc"), "abc");
        assert_eq!(flags(TcpFlags::SYN | TcpFlags::ACK), "SYN, ACK");
        assert_eq!(
            flags(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK),
            "FIN, PSH, ACK"
        );
        assert_eq!(flags(TcpFlags::NONE), "none");
        assert_eq!(plural(1, "request"), "1 request");
        assert_eq!(plural(2, "request"), "2 requests");
    }
}
