//! The ladder of a real TLS 1.3 exchange: a checked-in snapshot, with times replaced by the
//! event's position (the exchange runs on the real clock, so times differ between runs).

mod common;
mod tls_support;

use common::assert_snapshot;
use synack_trace::ladder::{self, LadderOptions};
use synack_trace::{Event, Trace};
use tls_support::{Exchange, run};

/// Gives every segment and state change the time `10 µs × its position`, and phases and
/// messages the times of their segments, so the ladder no longer depends on the clock.
fn normalise(trace: &mut Trace) {
    trace.start_ns = 0;
    for c in &mut trace.connections {
        let order: Vec<(bool, usize)> = c
            .events()
            .map(|e| match e {
                Event::Segment(s) => (
                    true,
                    c.segments.iter().position(|x| std::ptr::eq(x, s)).unwrap(),
                ),
                Event::State(s) => (
                    false,
                    c.states.iter().position(|x| std::ptr::eq(x, s)).unwrap(),
                ),
            })
            .collect();
        for (n, (segment, i)) in order.into_iter().enumerate() {
            let t = 10_000 * (n as u64 + 1);
            if segment {
                c.segments[i].t_ns = t;
            } else {
                c.states[i].t_ns = t;
            }
        }
        let at = |i: usize| c.segments[i].t_ns;
        let phases: Vec<(u64, u64)> = c
            .phases
            .iter()
            .map(|p| (at(p.first_segment), at(p.last_segment)))
            .collect();
        for (p, (a, b)) in c.phases.iter_mut().zip(phases) {
            (p.start_ns, p.end_ns) = (a, b);
        }
    }
}

fn render(ex: Exchange) -> String {
    let mut trace = run(ex);
    normalise(&mut trace);
    ladder::render(&trace, None, &LadderOptions::default())
}

#[test]
fn tls13_exchange_ladder_matches_snapshot_and_is_stable() {
    let first = render(Exchange::tls13());
    let second = render(Exchange::tls13());
    assert_eq!(first, second, "two runs differ");
    assert_snapshot("tls13_exchange.txt", &first);
    assert!(first.contains("TLS handshake"));
    let widest = first.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 100, "a line is {widest} wide:\n{first}");
}

#[test]
fn close_notify_shows_before_the_fin() {
    // The client's close_notify rides on (or before) its FIN: it is drawn before the
    // server takes the FIN in and reports CLOSE-WAIT.
    let text = render(Exchange::tls13());
    let alert = text.find("close_notify").expect("close_notify named");
    let close_wait = text.find("CLOSE-WAIT").expect("the server's CLOSE-WAIT");
    assert!(alert < close_wait, "{text}");
}

#[test]
fn a_large_download_folds_but_keeps_the_response_start() {
    let text = render(Exchange {
        body: 100_000,
        ..Exchange::tls13()
    });
    assert!(text.contains("not shown"), "{text}");
    assert!(text.contains("ApplicationData [HTTP/1.1 200 OK"), "{text}");
    // Unfolded, some 70 data segments would take two lines each.
    assert!(text.lines().count() < 150, "{text}");
}
