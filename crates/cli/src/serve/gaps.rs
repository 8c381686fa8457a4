//! The sequence space a record left out on purpose (beyond the payload cap), and what it
//! means for the analysis: an HTTP message whose missing bytes all crossed the device but
//! were not kept is whole, not cut short; only bytes nobody saw keep a message incomplete.

use synack_trace::{ConnectionTrace, PhaseName, Side};

/// Spans kept apart before the record stops vouching for a direction (a link that lost and
/// reordered a lot); beyond this its messages are judged on what was kept alone.
const MAX_SPANS: usize = 64;

/// The payload left out in one direction, as merged spans of sequence space.
#[derive(Debug, Clone, Default)]
pub struct SeqRanges {
    /// The first left-out segment's raw sequence number: offsets count from it.
    base: Option<u32>,
    /// The latest segment's raw sequence number and offset, to unwrap the next one (the
    /// numbers wrap every 4 GiB; segments come within 2 GiB of each other).
    last: (u32, i64),
    /// Sorted, disjoint, non-adjacent `[start, end)` offsets from `base`; a retransmission
    /// of bytes before the first left out has a negative offset.
    spans: Vec<(i64, i64)>,
    /// Too scattered to follow: vouch for nothing.
    lost_track: bool,
}

impl SeqRanges {
    /// Notes `len` payload bytes starting at raw sequence number `seq` as left out.
    pub fn add(&mut self, seq: u32, len: u64) {
        if len == 0 || self.lost_track {
            return;
        }
        if self.base.is_none() {
            self.base = Some(seq);
            self.last = (seq, 0);
        }
        let start = self.last.1 + i64::from(seq.wrapping_sub(self.last.0) as i32);
        self.last = (seq, start);
        insert(&mut self.spans, start, start + len as i64);
        if self.spans.len() > MAX_SPANS {
            self.lost_track = true;
        }
    }

    /// The first left-out byte's raw sequence number and the spans from it, unless lost
    /// track of.
    fn spans(&self) -> Option<(u32, &[(i64, i64)])> {
        match (self.base, self.lost_track) {
            (Some(base), false) => Some((base, &self.spans)),
            _ => None,
        }
    }
}

/// Adds `[start, end)` to sorted disjoint spans, merging what touches.
fn insert(spans: &mut Vec<(i64, i64)>, start: i64, end: i64) {
    // The usual case: the next bytes of a transfer, just after the last span.
    if let Some(last) = spans.last_mut()
        && start >= last.0
        && start <= last.1
    {
        last.1 = last.1.max(end);
        return;
    }
    let at = spans.partition_point(|&(_, e)| e < start);
    let mut merged = (start, end);
    let mut until = at;
    while until < spans.len() && spans[until].0 <= merged.1 {
        merged.0 = merged.0.min(spans[until].0);
        merged.1 = merged.1.max(spans[until].1);
        until += 1;
    }
    spans.splice(at..until, [merged]);
}

/// Marks complete the plain-HTTP messages (and their phases) of `conn` whose bytes were all
/// either kept or left out on purpose. `left_out` is indexed by sending side (client,
/// server). TLS connections are left as they are: their HTTP is judged on the decrypted
/// records, which a gap breaks.
pub fn vouch(conn: &mut ConnectionTrace, left_out: [&SeqRanges; 2]) {
    if conn.tls.is_some() {
        return;
    }
    for side in [Side::Client, Side::Server] {
        let Some((base, elided)) = left_out[side as usize].spans() else {
            continue;
        };
        // The sender's first data byte (relative seq 1) as a raw sequence number.
        let Some(first) = conn
            .segments
            .iter()
            .find(|s| s.from == side)
            .map(|s| s.seq_raw.wrapping_sub(s.seq).wrapping_add(1))
        else {
            continue;
        };
        // The cap is reached within the first few hundred KiB of a stream; anything else
        // (no SYN on the record, say) is not placed with certainty.
        let base_off = i64::from(base.wrapping_sub(first));
        if base_off >= 1 << 31 {
            continue;
        }
        // Stream offsets covered: what was left out, and what was kept (a kept segment 2 GiB
        // on is among those left out already: a held-back one).
        let mut covered: Vec<(i64, i64)> = Vec::new();
        for &(s, e) in elided {
            insert(&mut covered, base_off + s, base_off + e);
        }
        for s in conn.segments.iter().filter(|s| s.from == side && s.len > 0) {
            let off = i64::from(s.seq_raw.wrapping_sub(first));
            if off < 1 << 31 {
                insert(&mut covered, off, off + s.len as i64);
            }
        }
        let whole = |start: u64, end: u64| {
            let (Ok(start), Ok(end)) = (i64::try_from(start), i64::try_from(end)) else {
                return false;
            };
            start == end || covered.iter().any(|&(s, e)| s <= start && end <= e)
        };
        let name = match side {
            Side::Client => PhaseName::HttpRequest,
            Side::Server => PhaseName::HttpResponse,
        };
        for m in conn
            .http
            .iter_mut()
            .filter(|m| m.from == side && !m.complete)
        {
            if !whole(m.start_offset, m.end_offset) {
                continue;
            }
            m.complete = true;
            for p in conn
                .phases
                .iter_mut()
                .filter(|p| p.name == name && p.first_segment == m.first_segment && !p.complete)
            {
                p.complete = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_in_any_order_and_across_the_wrap() {
        let mut r = SeqRanges::default();
        r.add(u32::MAX - 9, 10);
        r.add(10, 10); // across the wrap: offsets 20..30
        r.add(0, 10); // 10..20: joins both
        assert_eq!(r.spans, vec![(0, 30)]);
        r.add(100, 5);
        r.add(60, 5);
        assert_eq!(r.spans, vec![(0, 30), (70, 75), (110, 115)]);
        r.add(20, 100);
        assert_eq!(r.spans, vec![(0, 130)]);
        // A retransmission of bytes sent before the first left out.
        r.add(u32::MAX - 19, 5);
        assert_eq!(r.spans, vec![(-10, -5), (0, 130)]);
        assert_eq!(r.spans().map(|(base, _)| base), Some(u32::MAX - 9));
    }

    #[test]
    fn too_many_spans_stop_the_vouching() {
        let mut r = SeqRanges::default();
        for i in 0..=MAX_SPANS as u32 {
            r.add(i * 100, 10);
        }
        assert!(r.spans().is_none());
        r.add(0, 10_000);
        assert!(r.spans().is_none());
    }
}
