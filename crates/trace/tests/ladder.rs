//! The ladder: a checked-in snapshot of a small exchange, and layout properties.

mod common;

use common::assert_snapshot;
use common::exchange::{http_exchange, summary};
use synack_trace::ladder::{self, LadderOptions};

#[test]
fn http_exchange_ladder_matches_snapshot() {
    let trace = http_exchange();
    let text = ladder::render(&trace, Some(&summary(&trace)), &LadderOptions::default());
    assert_snapshot("http_exchange.txt", &text);
}

/// Column (in chars) of each lifeline character on the arrow lines.
fn lifeline_columns(text: &str) -> Vec<(usize, usize)> {
    text.lines()
        .filter(|l| l.contains('│') && (l.contains('▶') || l.contains('◀') || l.contains("  │ ")))
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            let left = chars.iter().skip(2).position(|&c| c == '│').unwrap() + 2;
            let right = chars.iter().rposition(|&c| c == '│').unwrap();
            (left, right)
        })
        .collect()
}

#[test]
fn lifelines_line_up_at_every_width() {
    let trace = http_exchange();
    for width in [60, 80, 100, 140] {
        let opts = LadderOptions {
            width,
            ..LadderOptions::default()
        };
        let text = ladder::render(&trace, None, &opts);
        let cols = lifeline_columns(&text);
        assert!(cols.len() >= 13, "width {width}:\n{text}");
        assert!(
            cols.windows(2).all(|w| w[0] == w[1]),
            "width {width}: lifelines move\n{text}"
        );
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(
            widest <= width.max(80),
            "width {width}: a line is {widest} wide\n{text}"
        );
    }
}

#[test]
fn colour_only_when_asked() {
    let trace = http_exchange();
    let plain = ladder::render(&trace, Some(&summary(&trace)), &LadderOptions::default());
    assert!(!plain.contains('\x1b'));
    let opts = LadderOptions {
        color: true,
        ..LadderOptions::default()
    };
    let colored = ladder::render(&trace, Some(&summary(&trace)), &opts);
    assert!(colored.contains("\x1b[32mSYN\x1b[0m"));
    // Without the escapes it is the same picture.
    assert_eq!(strip_ansi(&colored), plain);
}

#[test]
fn not_verified_is_loud() {
    let trace = http_exchange();
    let mut s = summary(&trace);
    s.verified = false;
    s.sha256_received = "00ff".repeat(16);
    let text = ladder::render(&trace, Some(&s), &LadderOptions::default());
    let last = text.lines().last().unwrap();
    assert!(last.contains("NOT VERIFIED"), "{last}");
    assert!(last.contains("received 00ff…ff"), "{last}");
}

#[test]
fn long_transfers_fold() {
    let mut s = common::Script::new(1, 1);
    s.handshake(0);
    s.data(100, synack_trace::Side::Client, common::GET);
    // 201 response segments: the first and last bound the phase, 10 of the 199 between
    // stay visible.
    let res = common::response(200 * 1448);
    for (i, chunk) in res.chunks(1448).enumerate() {
        s.data(200 + i as u64, synack_trace::Side::Server, chunk);
    }
    s.close(1000, synack_trace::Side::Server);
    let trace = s.finish();
    let opts = LadderOptions {
        fold_after: Some(10),
        ..LadderOptions::default()
    };
    let text = ladder::render(&trace, None, &opts);
    assert!(text.contains("⋮ 189 segments not shown"), "{text}");
    assert!(text.lines().count() < 40, "{text}");
    let all = ladder::render(
        &trace,
        None,
        &LadderOptions {
            fold_after: None,
            ..opts
        },
    );
    assert!(all.lines().count() > 200);
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
