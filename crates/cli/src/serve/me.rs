//! The pages about connections: `/me` (the asking connection so far, as our stack saw it),
//! `/connections` (recent lifecycles), the index and directory listings.

use std::fmt::Write as _;
use std::path::Path;

use hyper::Request;
use serde_json::{Value, json};
use synack_trace::ladder::{self, LadderOptions};
use synack_trace::{ConnectionTrace, Side, TcpFlags, Trace};

use super::record::RECENT;
use super::{App, ConnCtx};
use crate::output;

/// A page's body and its type.
pub struct Page {
    pub content_type: &'static str,
    pub body: String,
}

/// `/me`: the peer's SYN options as recorded, our stack's view of the connection now, TLS as
/// negotiated and the request as received; JSON or an HTML page.
pub fn me<B>(app: &App, ctx: &ConnCtx, req: &Request<B>, as_json: bool) -> Page {
    let trace = app.book.snapshot(ctx.key);
    let conn = trace.as_ref().and_then(|t| {
        t.connections
            .iter()
            .rev()
            .find(|c| c.client == ctx.key.1 && c.server == ctx.key.0)
    });
    let syn = conn.and_then(|c| syn_options(c, Side::Client));
    let syn_ack = conn.and_then(|c| syn_options(c, Side::Server));
    let tcp = ctx.net.info(ctx.handle).map(|i| {
        json!({
            "state": format!("{:?}", i.state),
            "send_mss": i.send_mss,
            "window_scale": i.window_scale.map(|(ours, peer)| json!({"ours": ours, "peer": peer})),
            "sack": i.sack,
            "timestamps": i.timestamps,
            "srtt_ms": i.srtt.map(|d| d.as_secs_f64() * 1000.0),
            "rto_ms": i.rto.as_secs_f64() * 1000.0,
            "cwnd": i.cwnd,
            "bytes_sent": i.bytes_sent,
            "bytes_received": i.bytes_received,
            "retransmitted_segments": i.retransmitted_segments,
        })
    });
    let headers: Vec<Value> = req
        .headers()
        .iter()
        .map(|(name, value)| json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())]))
        .collect();
    let request = json!({
        "method": req.method().as_str(),
        "target": req.uri().to_string(),
        "version": format!("{:?}", req.version()),
        "headers": headers,
    });
    let ladder_text = trace.as_ref().map(plain_ladder).unwrap_or_default();
    let report = json!({
        "client": ctx.key.1.to_string(),
        "server": ctx.key.0.to_string(),
        "syn": syn,
        "syn_ack": syn_ack,
        "tcp": tcp,
        "tls": ctx.tls,
        "request": request,
        "segments_so_far": conn.map_or(0, |c| c.segments.len()),
        "ladder": ladder_text,
    });
    if as_json {
        return Page {
            content_type: "application/json",
            body: format!("{report:#}\n"),
        };
    }
    let mut rows = String::new();
    let mut row = |k: &str, v: &Value| {
        let shown = match v {
            Value::String(s) => s.clone(),
            Value::Null => "—".to_owned(),
            other => other.to_string(),
        };
        let _ = writeln!(
            rows,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(&shown)
        );
    };
    row("you", &report["client"]);
    row("me", &report["server"]);
    for (section, value) in [
        ("your SYN", &report["syn"]),
        ("my SYN-ACK", &report["syn_ack"]),
        ("TCP now", &report["tcp"]),
        ("TLS", &report["tls"]),
    ] {
        match value.as_object() {
            Some(fields) => {
                for (k, v) in fields {
                    row(&format!("{section}: {k}"), v);
                }
            }
            None => row(section, value),
        }
    }
    let mut request_text = format!(
        "{} {} {}\n",
        req.method(),
        req.uri(),
        report["request"]["version"].as_str().unwrap_or("")
    );
    for (name, value) in req.headers() {
        let _ = writeln!(
            request_text,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>synack: your \
         connection</title><style>body{{font-family:sans-serif;margin:2em}}th{{text-align:\
         left;padding-right:1em}}pre{{background:#f4f4f4;padding:1em;overflow:auto}}</style>\
         </head><body>\n<h1>Your connection, as synack's TCP/IP stack sees it</h1>\n\
         <table>\n{rows}</table>\n<h2>Your request, as received</h2>\n<pre>{}</pre>\n\
         <h2>Every segment so far</h2>\n<pre>{}</pre>\n<p><a href=\"/connections\">recent \
         connections</a> · <a href=\"/me?format=json\">JSON</a></p>\n</body></html>\n",
        escape(&request_text),
        escape(&ladder_text),
    );
    Page {
        content_type: "text/html; charset=utf-8",
        body,
    }
}

/// The options a side's SYN carried, as JSON: `mss`, `window_scale`, `sack_permitted`,
/// `timestamps`, the window and the options as shown on the ladder.
pub fn syn_options(conn: &ConnectionTrace, side: Side) -> Option<Value> {
    let syn = conn
        .segments
        .iter()
        .find(|s| s.from == side && s.flags.contains(TcpFlags::SYN))?;
    let number = |prefix: &str| {
        syn.options.iter().find_map(|o| {
            o.strip_prefix(prefix)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
    };
    Some(json!({
        "mss": number("mss "),
        "window_scale": number("ws "),
        "sack_permitted": syn.options.iter().any(|o| o == "sackOK"),
        "timestamps": syn.options.iter().any(|o| o.starts_with("ts ")),
        "window": syn.win,
        "options": syn.options,
    }))
}

/// `/connections`: the connections still open (as recorded so far, with our state) and
/// the recent finished ones, oldest first in each group; ladders or JSON lines.
pub fn connections(app: &App, as_json: bool) -> Page {
    let open = app.book.open(RECENT);
    let recent = app.book.recent();
    let all = open.iter().chain(recent.iter().map(|f| &**f));
    if as_json {
        let mut out = Vec::new();
        for f in all {
            let _ = super::print::json_lines(f, &mut out);
        }
        return Page {
            content_type: "application/x-ndjson",
            body: String::from_utf8_lossy(&out).into_owned(),
        };
    }
    let mut body = format!(
        "{} open and {} recent finished connection(s), oldest first in each (JSON lines: \
         Accept: application/json)\n\n",
        open.len(),
        recent.len()
    );
    for f in all {
        body.push_str(&super::print::heading(f));
        body.push('\n');
        body.push_str(&plain_ladder(&f.trace));
        let timings = output::timings_text(&f.trace, false);
        if !timings.is_empty() {
            body.push('\n');
            body.push_str(&timings);
        }
        body.push('\n');
    }
    Page {
        content_type: "text/plain; charset=utf-8",
        body,
    }
}

/// The ladder without colour, 100 columns wide.
fn plain_ladder(trace: &Trace) -> String {
    let options = LadderOptions {
        color: false,
        width: 100,
        ..LadderOptions::default()
    };
    ladder::render(trace, None, &options)
}

/// The front page without `--root`.
pub fn index() -> String {
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>synack serve</title></head>\
     <body><h1>synack serve</h1><p>HTTP over a TCP/IP stack of our own.</p><ul>\
     <li><a href=\"/me\">/me</a>: your connection, as this stack sees it</li>\
     <li><a href=\"/connections\">/connections</a>: recent connections, handshake to \
     teardown</li><li><a href=\"/bytes/1000000\">/bytes/N</a>: N generated bytes (byte i is \
     i mod 251)</li><li>POST /upload: the length and SHA-256 of what you send</li></ul>\
     </body></html>\n"
        .to_owned()
}

/// A directory's entries as links.
pub fn listing(dir: &Path, request_path: &str) -> String {
    let base = if request_path.ends_with('/') {
        request_path.to_owned()
    } else {
        format!("{request_path}/")
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.path().is_dir() { name + "/" } else { name }
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut items = String::new();
    for name in names {
        let _ = writeln!(
            items,
            "<li><a href=\"{}{}\">{}</a></li>",
            escape(&base),
            escape(&name),
            escape(&name)
        );
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body>\
         <h1>{0}</h1><ul>\n{items}</ul></body></html>\n",
        escape(request_path)
    )
}

/// Text made safe inside HTML elements and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
