//! TCP options as short words, in the order they were on the wire.

use synack_core::wire::tcp::{TcpOption, TcpOptionIter};

/// Lists the options in `raw` (NOP and EOL left out). SACK edges are made relative to
/// `peer_isn`: they name the receiver's sequence space, as an ACK does.
pub(crate) fn describe(raw: &[u8], peer_isn: u32) -> Vec<String> {
    let mut out = Vec::new();
    for opt in TcpOptionIter::new(raw) {
        // The segment parsed, so an error here cannot happen; stop quietly if it does.
        let Ok(opt) = opt else { break };
        match opt {
            TcpOption::EndOfList | TcpOption::NoOperation => {}
            TcpOption::MaxSegmentSize(mss) => out.push(format!("mss {mss}")),
            TcpOption::WindowScale(shift) => out.push(format!("ws {shift}")),
            TcpOption::SackPermitted => out.push("sackOK".to_owned()),
            TcpOption::Timestamps { tsval, tsecr } => out.push(format!("ts {tsval} {tsecr}")),
            TcpOption::Sack(blocks) => {
                let edges = blocks.chunks_exact(8).map(|b| {
                    let left = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let right = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                    let (l, r) = (left.wrapping_sub(peer_isn), right.wrapping_sub(peer_isn));
                    format!("{l}-{r}")
                });
                out.push(format!("sack {}", edges.collect::<Vec<_>>().join(" ")));
            }
            TcpOption::Unknown { kind, .. } => out.push(unknown_name(kind)),
        }
    }
    out
}

/// Names of options people meet in captures; the rest by number.
fn unknown_name(kind: u8) -> String {
    match kind {
        19 => "md5".to_owned(),
        29 => "tcp-ao".to_owned(),
        30 => "mptcp".to_owned(),
        34 => "tfo".to_owned(),
        _ => format!("opt-{kind}"),
    }
}
