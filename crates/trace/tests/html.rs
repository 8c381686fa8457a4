//! The HTML page: self-contained, well-formed enough for a browser, every part present,
//! everything from the wire escaped, and small for big transfers.

mod common;
mod tls_support;

use common::exchange::{http_exchange, summary};
use common::{GET, Script, response};
use synack_trace::html::{self, HtmlOptions};
use synack_trace::{PhaseName, Recorder, Side, Trace};

fn page(trace: &Trace) -> String {
    let opts = HtmlOptions {
        title: "test page".to_owned(),
        ..HtmlOptions::default()
    };
    let html = html::render(trace, None, &opts);
    assert_self_contained(&html);
    html
}

/// Writes the page to `$SYNACK_HTML_DIR/NAME.html` when that is set, to look at it.
fn save(name: &str, html: &str) {
    if let Some(dir) = std::env::var_os("SYNACK_HTML_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{name}.html"));
        std::fs::write(path, html).unwrap();
    }
}

/// Occurrences of `needle` in `hay`.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// A document a browser reads as intended, which fetches nothing.
fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>\n<html"), "no doctype");
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(
        count(html, "<svg"),
        count(html, "</svg>"),
        "unbalanced <svg>"
    );
    for tag in [
        "html", "head", "body", "main", "table", "section", "figure", "g",
    ] {
        let open = count(html, &format!("<{tag}>")) + count(html, &format!("<{tag} "));
        let close = count(html, &format!("</{tag}>"));
        assert_eq!(open, close, "unbalanced <{tag}>");
    }
    let without_xmlns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for scheme in ["http://", "https://", "//fonts.", "url(", "@import"] {
        assert!(
            !without_xmlns.contains(scheme),
            "page refers to {scheme}: {}",
            context(&without_xmlns, scheme)
        );
    }
    for tag in ["<script", "<link", "<img", "<iframe", "<object", "<embed"] {
        assert!(!html.contains(tag), "page has {tag}");
    }
}

/// Up to 80 chars either side of the first `needle`, for failure messages.
fn context(hay: &str, needle: &str) -> String {
    let at = hay.find(needle).unwrap_or(0);
    let before: String = hay[..at].chars().rev().take(80).collect();
    let after: String = hay[at..].chars().take(80).collect();
    before.chars().rev().chain(after.chars()).collect()
}

/// The `<svg class="NAME" ...>...</svg>` elements of the page (none nest inside another of
/// the same class).
fn svgs<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    let open = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{class}\"");
    html.match_indices(&open)
        .map(|(at, _)| {
            let rest = &html[at..];
            // Charts end at the first "</svg>" that closes the outer element: Stevens graphs
            // hold one nested <svg>, the others none.
            let mut depth = 0;
            let mut end = 0;
            for (i, _) in rest.match_indices("svg") {
                if rest[..i].ends_with('<') {
                    depth += 1;
                } else if rest[..i].ends_with("</") {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 4;
                        break;
                    }
                }
            }
            &rest[..end]
        })
        .collect()
}

#[test]
fn http_exchange_page_has_every_part() {
    let trace = http_exchange();
    let s = summary(&trace);
    let opts = HtmlOptions {
        title: "GET / from 10.0.0.2".to_owned(),
        ..HtmlOptions::default()
    };
    let html = html::render(&trace, Some(&s), &opts);
    assert_self_contained(&html);
    save("http-exchange", &html);

    // Header: title, both ends, the summary with its verdict and hash.
    assert!(html.contains("<title>GET / from 10.0.0.2</title>"));
    assert!(html.contains("<h1>GET / from 10.0.0.2</h1>"));
    assert!(html.contains("10.0.0.1:49152"));
    assert!(html.contains("10.0.0.2:80"));
    assert!(html.contains("<b>verified</b>"));
    assert!(html.contains("sha256 3f1a…e9"));
    assert!(!html.contains("malformed"));

    // Ladder: one arrow per segment, the right kinds, each state change, each phase.
    let conn = &trace.connections[0];
    let ladder = svgs(&html, "ladder");
    assert_eq!(ladder.len(), 1);
    let ladder = ladder[0];
    assert_eq!(count(ladder, "<g class=\"seg "), conn.segments.len());
    assert_eq!(count(ladder, "class=\"arrow\""), conn.segments.len());
    assert_eq!(count(ladder, "<g class=\"seg syn\""), 2);
    assert_eq!(count(ladder, "<g class=\"seg fin\""), 2);
    assert_eq!(count(ladder, "<g class=\"seg data\""), 3);
    assert_eq!(count(ladder, "<g class=\"state\""), conn.states.len());
    assert!(ladder.contains(">TIME-WAIT</text>"));
    assert!(ladder.contains("<tspan class=\"msg\">GET / HTTP/1.1</tspan>"));
    assert!(ladder.contains("<tspan class=\"msg\">HTTP/1.1 200 OK</tspan>"));
    assert!(ladder.contains("seq 1 ack 1  win 64256  len 34"));
    assert!(ladder.contains("&lt;mss 1460,sackOK,ts,ws 7&gt;"));
    assert!(!ladder.contains("fold"));
    for p in &conn.phases {
        assert!(
            ladder.contains(&format!("ph-{}", p.name.as_str())),
            "{:?}",
            p.name
        );
    }
    assert!(ladder.contains(">3-way handshake</text>"));
    assert!(ladder.contains(">0.031 ms</text>"));

    // Timeline: each phase as a bar with its duration.
    let timeline = svgs(&html, "timeline");
    assert_eq!(timeline.len(), 1);
    for p in &conn.phases {
        assert!(
            timeline[0].contains(&format!(">{}</text>", p.name.label())),
            "{:?}",
            p.name
        );
    }
    assert_eq!(count(timeline[0], "class=\"bar\""), conn.phases.len());
    assert!(
        timeline[0].contains(">0.040 ms</text>"),
        "4-way handshake duration"
    );

    // Stevens graphs: both directions carried data.
    let stevens = svgs(&html, "stevens");
    assert_eq!(stevens.len(), 2);
    assert!(html.contains("<h4>client → server</h4>"));
    assert!(html.contains("<h4>server → client</h4>"));
    for g in &stevens {
        assert!(g.contains("class=\"seq-data\""));
        assert!(g.contains("class=\"ack-line\""));
        assert!(g.contains("relative sequence number (bytes)"));
        assert!(g.contains("time (ms)"));
        assert!(!g.contains("seq-retx"));
    }

    // Summary table.
    assert!(html.contains("<h3>Summary</h3>"));
    assert!(html.contains("<code>HTTP/1.1 200 OK</code> · body 2000 B"));
    assert!(html.contains("client TIME-WAIT (2 MSL), server CLOSED"));
}

#[test]
fn hostile_request_line_is_escaped() {
    let mut s = Script::new(1, 2);
    s.handshake(0);
    s.data(
        50,
        Side::Client,
        b"GET /<script>alert(1)</script>?a=\"b\"&c='d' HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    s.data(90, Side::Server, &response(10));
    s.close(200, Side::Client);
    let trace = s.finish();
    assert!(trace.connections[0].http[0].first_line.contains("<script>"));
    let html = page(&trace);
    assert!(!html.contains("<script>"));
    assert!(!html.contains("alert(1)</"));
    let escaped =
        "GET /&lt;script&gt;alert(1)&lt;/script&gt;?a=&quot;b&quot;&amp;c=&#39;d&#39; HTTP/1.1";
    // On the arrow, in its tooltip and in the summary table.
    assert!(count(&html, escaped) >= 3, "{}", context(&html, "alert"));
}

#[test]
fn empty_trace_says_so() {
    let trace = Recorder::new().finish();
    let html = page(&trace);
    assert!(html.contains("No TCP connections were recorded."));
    assert!(!html.contains("<svg"));
    assert!(html.contains("<h1>test page</h1>"));

    // An empty title falls back to a default.
    let html = html::render(&trace, None, &HtmlOptions::default());
    assert!(html.contains("<title>synack trace</title>"));
}

#[test]
fn reset_is_drawn_and_bracketed() {
    let mut s = Script::new(100, 200);
    s.handshake(0);
    s.data(50, Side::Client, GET);
    s.rst(80, Side::Server);
    let mut rec = std::mem::take(&mut s.rec);
    rec.packet(90_000, b"\x45 not an IP packet");
    let trace = rec.finish();
    let conn = &trace.connections[0];
    assert!(conn.phases.iter().any(|p| p.name == PhaseName::Reset));
    let html = page(&trace);
    save("reset", &html);
    let ladder = svgs(&html, "ladder")[0];
    assert_eq!(count(ladder, "<g class=\"seg rst\""), 1);
    assert!(ladder.contains("<tspan class=\"flags\">RST, ACK</tspan>"));
    assert!(ladder.contains("ph-reset"));
    assert!(svgs(&html, "timeline")[0].contains(">reset</text>"));
    assert!(html.contains("1 malformed packet not parsed"));
    // Only the client sent data.
    assert_eq!(svgs(&html, "stevens").len(), 1);
    assert!(html.contains("<h4>client → server</h4>"));
}

/// A download of `segments` full segments, the client acknowledging every second one, with
/// one retransmission in the middle.
fn bulk_transfer(segments: usize) -> Trace {
    const MSS: usize = 1448;
    let mut s = Script::new(1_000, 5_000_000);
    s.handshake(0);
    s.data(50, Side::Client, GET);
    let body = response(segments * MSS - 38);
    let mut t = 100;
    for (i, chunk) in body.chunks(MSS).enumerate() {
        s.data(t, Side::Server, chunk);
        if i % 2 == 1 {
            s.ack(t + 5, Side::Client);
        }
        if i == segments / 2 {
            s.data_at(t + 200, Side::Server, 1 + (i * MSS) as u32, chunk);
            t += 200;
        }
        t += 10;
    }
    s.ack(t + 5, Side::Client);
    s.close(t + 100, Side::Client);
    s.finish()
}

#[test]
fn long_transfers_fold_and_stay_small() {
    let trace = bulk_transfer(1500);
    let conn = &trace.connections[0];
    assert!(conn.segments.len() > 2000);
    let retx = conn.segments.iter().filter(|s| s.retransmission).count();
    assert_eq!(retx, 1);

    let html = page(&trace);
    save("bulk", &html);
    let ladder = svgs(&html, "ladder")[0];
    let arrows = count(ladder, "<g class=\"seg ");
    assert!(arrows < 200, "{arrows} arrows drawn");
    // The retransmission splits the run: a fold on each side of it.
    assert_eq!(count(ladder, "<g class=\"fold\">"), 2);
    assert!(ladder.contains("segments not shown"));
    assert_eq!(count(ladder, "<g class=\"seg data retx\""), 1);
    assert!(ladder.contains("[retransmission]"));
    // Stevens graphs show every segment regardless, the retransmission in its own colour.
    let stevens = svgs(&html, "stevens");
    let down = stevens
        .iter()
        .find(|g| g.contains("sent by the server") || g.contains("the server sent"))
        .unwrap();
    assert_eq!(count(down, "class=\"seq-retx\""), 1);
    // ~2 MB of payload; the page stays a small fraction of it.
    assert!(html.len() < 400_000, "page is {} bytes", html.len());

    // Without folding, one arrow per segment.
    let opts = HtmlOptions {
        fold_after: None,
        ..HtmlOptions::default()
    };
    let all = html::render(&trace, None, &opts);
    let ladder = svgs(&all, "ladder")[0];
    assert_eq!(count(ladder, "<g class=\"seg "), conn.segments.len());
    assert!(!ladder.contains("<g class=\"fold\">"));
}

#[test]
fn several_connections_get_a_section_each() {
    let mut a = Script::new(1, 2);
    a.handshake(0);
    a.data(50, Side::Client, GET);
    a.data(90, Side::Server, &response(100));
    a.close(200, Side::Client);
    let mut b = Script::between("10.0.0.1:49153", "10.0.0.2:80", 7, 8);
    b.rec = std::mem::take(&mut a.rec);
    b.handshake(300);
    b.rst(400, Side::Client);
    let trace = b.finish();
    assert_eq!(trace.connections.len(), 2);
    let html = page(&trace);
    save("two-connections", &html);
    assert!(html.contains("id=\"conn-1\""));
    assert!(html.contains("id=\"conn-2\""));
    assert!(html.contains("href=\"#conn-2\""));
    assert_eq!(svgs(&html, "ladder").len(), 2);
    assert_eq!(svgs(&html, "timeline").len(), 2);
    // The second connection carried nothing.
    assert_eq!(svgs(&html, "stevens").len(), 2);
    assert!(html.contains("No payload in either direction."));
}

#[test]
fn tls_exchange_shows_its_handshake_and_session() {
    let trace = tls_support::run(tls_support::Exchange::tls13());
    let html = page(&trace);
    save("tls13", &html);
    let conn = &trace.connections[0];
    assert!(
        conn.phases
            .iter()
            .any(|p| p.name == PhaseName::TlsHandshake)
    );
    let ladder = svgs(&html, "ladder")[0];
    assert_eq!(count(ladder, "<g class=\"seg "), conn.segments.len());
    assert!(ladder.contains("ph-tls-handshake"));
    assert!(ladder.contains(">TLS handshake</text>"));
    assert!(ladder.contains("<tspan class=\"msg\">ServerHello"));
    assert!(svgs(&html, "timeline")[0].contains(">TLS handshake</text>"));
    // The session in the summary table.
    assert!(html.contains("<th scope=\"row\">TLS</th><td>TLS 1.3 · "));
    assert!(html.contains("<th scope=\"row\">server name</th><td>synack.test</td>"));
    assert!(html.contains("decrypted with the key log"));
}
