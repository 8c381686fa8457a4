//! curl's `-w` timings as a table, and the same split the way httpstat draws it: TCP
//! connection, TLS handshake, server processing, content transfer.

use std::fmt::Write;

use crate::format;
use crate::timings::Timings;

/// The section body for one connection's timings.
pub(crate) fn render(t: &Timings) -> String {
    let mut out = String::new();
    out.push_str(
        r#"<div class="timings"><table class="curl"><caption>curl <code>-w</code> variables, from the first SYN</caption><thead><tr><th scope="col">variable</th><th scope="col" class="num">seconds</th><th scope="col" class="num">ms</th></tr></thead><tbody>"#,
    );
    let rows = [
        ("time_connect", Some(t.connect_ns)),
        ("time_appconnect", t.appconnect_ns),
        ("time_pretransfer", Some(t.pretransfer_ns)),
        ("time_starttransfer", Some(t.starttransfer_ns)),
        ("time_total", Some(t.total_ns)),
    ];
    for (name, ns) in rows {
        // curl prints 0 for appconnect without TLS; say why.
        let (secs, ms) = match ns {
            Some(ns) => (seconds(ns), format::ms(ns)),
            None => ("0.000000".to_owned(), "no TLS".to_owned()),
        };
        let _ = write!(
            out,
            r#"<tr><th scope="row"><code>{name}</code></th><td class="num">{secs}</td><td class="num">{ms}</td></tr>"#
        );
    }
    out.push_str("</tbody></table>");

    // httpstat's ranges: its TLS range runs from connect to pretransfer. Without TLS that
    // is only the wait before the request, and is named so.
    let second = if t.appconnect_ns.is_some() {
        "TLS Handshake"
    } else {
        "Pre-transfer (no TLS)"
    };
    let ranges = [
        ("TCP Connection", "tcp", t.connect_ns),
        (second, "tls", t.pretransfer_ns.saturating_sub(t.connect_ns)),
        (
            "Server Processing",
            "server",
            t.starttransfer_ns.saturating_sub(t.pretransfer_ns),
        ),
        (
            "Content Transfer",
            "transfer",
            t.total_ns.saturating_sub(t.starttransfer_ns),
        ),
    ];
    let total = ranges.iter().map(|r| r.2).sum::<u64>().max(1);
    out.push_str(r#"<figure class="httpstat"><div class="hs-bar" aria-hidden="true">"#);
    for (name, class, ns) in ranges {
        // Proportional widths, with a sliver for the tiny ones so every colour shows.
        let pct = ns as f64 * 100.0 / total as f64;
        let _ = write!(
            out,
            r#"<span class="hs-{class}" style="flex-grow:{pct:.3}" title="{name} {}"></span>"#,
            format::duration(ns)
        );
    }
    out.push_str(r#"</div><div class="hs-grid">"#);
    for (name, class, ns) in ranges {
        let _ = write!(
            out,
            r#"<div class="hs-cell"><span class="hs-name"><i class="sw hs-{class}"></i>{name}</span><span class="hs-ms">{}</span></div>"#,
            format::duration(ns)
        );
    }
    out.push_str("</div><div class=\"hs-marks\">");
    let marks = [
        ("connect", t.connect_ns),
        ("pretransfer", t.pretransfer_ns),
        ("starttransfer", t.starttransfer_ns),
        ("total", t.total_ns),
    ];
    for (name, ns) in marks {
        let _ = write!(
            out,
            r#"<span>{name}: <b>{}</b></span>"#,
            format::duration(ns)
        );
    }
    out.push_str(
        "</div><figcaption>httpstat-style: each range, then the cumulative time at its end</figcaption></figure></div>",
    );
    out
}

/// Seconds with six decimals, as curl prints them: `0.000031`.
fn seconds(ns: u64) -> String {
    let us = ns.saturating_add(500) / 1_000;
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_curl_variables_and_httpstat_ranges() {
        let t = Timings {
            connect_ns: 31_000,
            appconnect_ns: None,
            pretransfer_ns: 52_000,
            starttransfer_ns: 95_000,
            total_ns: 1_096_000,
        };
        let html = render(&t);
        for name in [
            "time_connect",
            "time_appconnect",
            "time_pretransfer",
            "time_starttransfer",
            "time_total",
            "TCP Connection",
            "Pre-transfer (no TLS)",
            "Server Processing",
            "Content Transfer",
        ] {
            assert!(html.contains(name), "{name} missing");
        }
        assert!(html.contains("<td class=\"num\">0.000031</td>"));
        assert!(html.contains("<td class=\"num\">1.096</td>"));
        // Server processing: starttransfer - pretransfer.
        assert!(html.contains("<span class=\"hs-ms\">0.043 ms</span>"));
        assert!(html.contains("no TLS"));
    }

    #[test]
    fn out_of_order_timings_do_not_underflow() {
        let t = Timings {
            connect_ns: 50,
            appconnect_ns: Some(40),
            pretransfer_ns: 10,
            starttransfer_ns: 5,
            total_ns: 0,
        };
        let html = render(&t);
        assert!(html.contains("TLS Handshake"));
        assert!(!html.contains("no TLS"));
    }
}
