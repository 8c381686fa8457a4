//! When a plain-HTTP phase finished although the record does not hold all its bytes.
//!
//! Beyond the payload cap the record keeps data segments with their headers only, so the
//! analysis rightly finds such a message not wholly captured (`HttpMessage::complete` is
//! false: its bytes are not on the record) and, deriving the phase from it, calls the phase
//! unfinished too. But every byte did cross the device: the record holds a segment for it,
//! cut or not. This marks those phases complete again; the messages stay as the analysis
//! found them. Bytes no recorded segment covers (beyond the packet cap, or a transfer cut
//! short) still leave a phase unfinished.

use synack_trace::{ConnectionTrace, PhaseName, Side};

/// Marks complete the HTTP phases of a plain-HTTP `conn` whose message's bytes all lie in
/// sequence space its recorded segments cover, captured or not. TLS connections are left as
/// they are: their HTTP comes from decrypted records, which a cut breaks.
pub fn vouch(conn: &mut ConnectionTrace) {
    if conn.tls.is_some() {
        return;
    }
    for side in [Side::Client, Side::Server] {
        let sent = conn.segments.iter().filter(|s| s.from == side);
        let covered = covered(sent.map(|s| (s.seq, s.len)));
        let name = match side {
            Side::Client => PhaseName::HttpRequest,
            Side::Server => PhaseName::HttpResponse,
        };
        let seen = |start: u64, end: u64| {
            let (Ok(start), Ok(end)) = (i64::try_from(start), i64::try_from(end)) else {
                return false;
            };
            start == end || covered.iter().any(|&(s, e)| s <= start && end <= e)
        };
        for m in conn.http.iter().filter(|m| m.from == side && !m.complete) {
            if !seen(m.start_offset, m.end_offset) {
                continue;
            }
            for p in conn
                .phases
                .iter_mut()
                .filter(|p| p.name == name && p.first_segment == m.first_segment)
            {
                p.complete = true;
            }
        }
    }
}

/// The stream offsets (0 is the byte at relative seq 1) that one side's segments, given as
/// (relative seq, payload length claimed by the headers) in recording order, cover: sorted
/// disjoint `[start, end)` spans.
fn covered(segments: impl Iterator<Item = (u32, usize)>) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = Vec::new();
    // Relative sequence numbers wrap every 4 GiB: each is unwrapped against the one before
    // (segments come within 2 GiB of each other).
    let mut last = (1u32, 0i64);
    for (seq, len) in segments {
        let off = last.1 + i64::from(seq.wrapping_sub(last.0) as i32);
        last = (seq, off);
        if len > 0 {
            spans.push((off, off + len as i64));
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len().min(64));
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans_of(segs: &[(u32, usize)]) -> Vec<(i64, i64)> {
        covered(segs.iter().copied())
    }

    #[test]
    fn coverage_merges_out_of_order_and_across_the_wrap() {
        assert_eq!(spans_of(&[(1, 10), (21, 10), (11, 10)]), vec![(0, 30)]);
        assert_eq!(spans_of(&[(1, 10), (41, 10)]), vec![(0, 10), (40, 50)]);
        // Past 4 GiB the relative numbers wrap; the offsets go on.
        let far = u32::MAX - 9;
        let wrapped = spans_of(&[(1, 10), (far / 2, 10), (far, 10), (0, 10)]);
        let end = i64::from(far) - 1 + 20;
        assert_eq!(wrapped.last(), Some(&(i64::from(far) - 1, end)));
    }
}
