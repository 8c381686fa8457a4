//! Stevens graphs (sequence number against time, as in TCP/IP Illustrated and tcptrace), one
//! per direction that carried data: each segment a vertical stroke from its first to its
//! last byte, the other side's ACKs as a step line, and the window it advertised above it.

use std::fmt::Write;

use synack_core::wire::TcpFlags;

use super::svg::{Plot, Scale, bytes_label, num, ticks, x_axis};
use super::timeline::span_ms;
use crate::model::{ConnectionTrace, Side};

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 330.0;
/// Below this many segments each stroke gets end caps (an I-beam); above, they would blur.
const CAPS_UNDER: usize = 400;

/// The directions of `conn` that carried payload.
pub(crate) fn directions(conn: &ConnectionTrace) -> Vec<Side> {
    [Side::Client, Side::Server]
        .into_iter()
        .filter(|&side| conn.segments.iter().any(|s| s.from == side && s.len > 0))
        .collect()
}

/// The graph of the data `side` sent, as an `<svg>` element.
pub(crate) fn render(conn: &ConnectionTrace, side: Side, start_ns: u64) -> String {
    let (lo, hi) = span_ms(conn, start_ns);
    let data: Vec<_> = conn
        .segments
        .iter()
        .filter(|s| s.from == side && s.len > 0)
        .collect();
    let acks: Vec<_> = conn
        .segments
        .iter()
        .filter(|s| s.from == side.peer() && s.flags.contains(TcpFlags::ACK))
        .collect();
    let top = data
        .iter()
        .map(|s| u64::from(s.seq) + s.len as u64)
        .chain(acks.iter().map(|s| u64::from(s.ack)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;

    let plot = Plot {
        x: 78.0,
        y: 12.0,
        w: WIDTH - 78.0 - 24.0,
        h: HEIGHT - 12.0 - 50.0,
    };
    let xs = Scale {
        d0: lo,
        // A little room on the right, so the last segment is not drawn on the frame.
        d1: hi + (hi - lo) * 0.02,
        p0: plot.x,
        p1: plot.x + plot.w,
    };
    let ys = Scale {
        d0: 0.0,
        d1: top * 1.06,
        p0: plot.y + plot.h,
        p1: plot.y,
    };
    let ms = |t: u64| t.saturating_sub(start_ns) as f64 / 1e6;

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="stevens" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"><title>Sequence numbers the {who} sent, against time</title>"#,
        who = side.as_str()
    );
    y_axis(&mut out, plot, ys);
    x_axis(&mut out, plot, xs, "time (ms)");

    // A nested viewport clips the window line where it leaves the plot.
    let _ = write!(
        out,
        r#"<svg x="{x}" y="{y}" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}" overflow="hidden">"#,
        x = num(plot.x),
        y = num(plot.y),
        w = num(plot.w),
        h = num(plot.h)
    );
    let step_line = |values: &mut dyn Iterator<Item = (f64, f64)>| {
        let mut d = String::new();
        for (i, (x, y)) in values.enumerate() {
            if i == 0 {
                let _ = write!(d, "M{} {}", num(x), num(y));
            } else {
                let _ = write!(d, "H{}V{}", num(x), num(y));
            }
        }
        if !d.is_empty() {
            let _ = write!(d, "H{}", num(plot.x + plot.w));
        }
        d
    };
    let window = step_line(&mut acks.iter().map(|s| {
        let edge = u64::from(s.ack) + u64::from(s.win);
        (xs.at(ms(s.t_ns)), ys.at(edge as f64))
    }));
    let ack_line = step_line(
        &mut acks
            .iter()
            .map(|s| (xs.at(ms(s.t_ns)), ys.at(f64::from(s.ack)))),
    );
    if !window.is_empty() {
        let _ = write!(out, r#"<path class="win-line" d="{window}"/>"#);
        let _ = write!(out, r#"<path class="ack-line" d="{ack_line}"/>"#);
    }
    let caps = data.len() < CAPS_UNDER;
    for retx in [false, true] {
        let mut d = String::new();
        for s in data.iter().filter(|s| s.retransmission == retx) {
            let x = xs.at(ms(s.t_ns));
            let y0 = ys.at(f64::from(s.seq));
            // At least a few pixels tall, so a segment shows even in a long transfer.
            let y1 = ys.at(f64::from(s.seq) + s.len as f64).min(y0 - 3.0);
            let _ = write!(d, "M{} {}V{}", num(x), num(y0), num(y1));
            if caps {
                let _ = write!(
                    d,
                    "M{} {}h6M{} {}h6",
                    num(x - 3.0),
                    num(y0),
                    num(x - 3.0),
                    num(y1)
                );
            }
        }
        if d.is_empty() {
            continue;
        }
        let class = if retx { "seq-retx" } else { "seq-data" };
        let _ = write!(out, r#"<path class="{class}" d="{d}"/>"#);
        if retx {
            // A ring around each retransmission: one stroke is easy to miss among thousands.
            for s in data.iter().filter(|s| s.retransmission) {
                let end = f64::from(s.seq) + s.len as f64;
                let _ = write!(
                    out,
                    r#"<circle class="retx-ring" cx="{}" cy="{}" r="6"/>"#,
                    num(xs.at(ms(s.t_ns))),
                    num(ys.at(end))
                );
            }
        }
    }
    out.push_str("</svg></svg>");
    out
}

/// Horizontal grid lines and byte labels on the left of `plot`.
fn y_axis(out: &mut String, plot: Plot, ys: Scale) {
    let (ticks, step) = ticks(ys.d0, ys.d1, 6);
    for v in ticks {
        let y = num(ys.at(v));
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x0}" y1="{y}" x2="{x1}" y2="{y}"/><text class="tick" x="{tx}" y="{y}" dy="4" text-anchor="end">{label}</text>"#,
            x0 = num(plot.x),
            x1 = num(plot.x + plot.w),
            tx = num(plot.x - 6.0),
            label = bytes_label(v, step),
        );
    }
    let mid = num(plot.y + plot.h / 2.0);
    let _ = write!(
        out,
        r#"<line class="axis" x1="{x}" y1="{y0}" x2="{x}" y2="{y1}"/><text class="axis-title" x="16" y="{mid}" text-anchor="middle" transform="rotate(-90 16 {mid})">relative sequence number (bytes)</text>"#,
        x = num(plot.x),
        y0 = num(plot.y),
        y1 = num(plot.y + plot.h),
    );
}
