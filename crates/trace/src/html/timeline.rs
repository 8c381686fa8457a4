//! The phases on a true time axis: one bar per phase, with each side's segments as ticks
//! above them, so gaps (server think time, a retransmission timeout) show as gaps.

use std::fmt::Write;

use super::escape::escape;
use super::rows;
use super::svg::{Plot, Scale, num, x_axis};
use crate::format;
use crate::model::{ConnectionTrace, Side};

const LABEL_W: f64 = 170.0;
const PLOT_W: f64 = 680.0;
const DURATION_W: f64 = 150.0;
const TICK_ROW: f64 = 20.0;
const PHASE_ROW: f64 = 26.0;

/// The connection's span in ms from `start_ns`: first to last segment or state change.
pub(crate) fn span_ms(conn: &ConnectionTrace, start_ns: u64) -> (f64, f64) {
    let times = conn.events().map(|e| e.t_ns());
    let (lo, hi) = times.fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if lo > hi {
        return (0.0, 0.001);
    }
    let ms = |t: u64| t.saturating_sub(start_ns) as f64 / 1e6;
    let (lo, hi) = (ms(lo), ms(hi));
    // A connection that happened in one instant still needs a width.
    (lo, hi.max(lo + 0.001))
}

/// The timeline of one connection as an `<svg>` element.
pub(crate) fn render(conn: &ConnectionTrace, start_ns: u64) -> String {
    let (lo, hi) = span_ms(conn, start_ns);
    let plot = Plot {
        x: LABEL_W,
        y: 8.0,
        w: PLOT_W,
        h: 2.0 * TICK_ROW + PHASE_ROW * conn.phases.len() as f64 + 6.0,
    };
    let scale = Scale {
        d0: lo,
        d1: hi,
        p0: plot.x,
        p1: plot.x + plot.w,
    };
    let width = LABEL_W + PLOT_W + DURATION_W;
    let height = plot.y + plot.h + 40.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>Phases of connection {id} on a time axis</title>"#,
        w = num(width),
        h = num(height),
        id = conn.id
    );
    x_axis(&mut out, plot, scale, "time (ms)");

    let ms = |t: u64| t.saturating_sub(start_ns) as f64 / 1e6;
    let mut y = plot.y + 4.0;
    for (side, label) in [
        (Side::Client, "client → server"),
        (Side::Server, "server → client"),
    ] {
        let _ = write!(
            out,
            r#"<text class="row-label" x="{x}" y="{ty}" text-anchor="end">{label}</text>"#,
            x = num(LABEL_W - 10.0),
            ty = num(y + 12.0),
        );
        // One path per kind keeps thousands of ticks small.
        for kind in ["ack", "data", "syn", "fin", "rst", "retx"] {
            let mut d = String::new();
            let mut last_x = String::new();
            for s in conn.segments.iter().filter(|s| s.from == side) {
                let k = if s.retransmission {
                    "retx"
                } else {
                    rows::kind(s)
                };
                let x = num(scale.at(ms(s.t_ns)));
                // Ticks that land on the same spot are drawn once.
                if k == kind && x != last_x {
                    let _ = write!(d, "M{x} {}v14", num(y + 1.0));
                    last_x = x;
                }
            }
            if !d.is_empty() {
                let _ = write!(out, r#"<path class="tick-{kind}" d="{d}"/>"#);
            }
        }
        y += TICK_ROW;
    }
    y += 6.0;
    for (p, nth) in conn.phases.iter().zip(super::phase_ordinals(conn)) {
        let name = super::phase_title(p.name, nth);
        let x0 = scale.at(ms(p.start_ns));
        let x1 = scale.at(ms(p.end_ns)).max(x0 + 2.0);
        let incomplete = if p.complete { "" } else { " incomplete" };
        let mut detail = format::duration(p.duration_ns());
        if !p.complete {
            detail.push_str(", incomplete");
        }
        let _ = write!(
            out,
            r#"<g class="phase ph-{class}{incomplete}"><title>{name}: {t0}–{t1} ms ({detail})</title><text class="row-label" x="{lx}" y="{ty}" text-anchor="end">{name}</text><rect class="bar" x="{x0}" y="{by}" width="{bw}" height="16" rx="3"/><text class="phase-time" x="{dx}" y="{ty}">{detail}</text></g>"#,
            class = p.name.as_str(),
            name = escape(&name),
            t0 = format::ms(p.start_ns.saturating_sub(start_ns)),
            t1 = format::ms(p.end_ns.saturating_sub(start_ns)),
            lx = num(LABEL_W - 10.0),
            ty = num(y + 13.0),
            x0 = num(x0),
            by = num(y + 1.0),
            bw = num(x1 - x0),
            dx = num(plot.x + plot.w + 10.0),
            detail = escape(&detail),
        );
        y += PHASE_ROW;
    }
    out.push_str("</svg>");
    out
}
