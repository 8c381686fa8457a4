//! Small pieces shared by the charts: compact coordinates, axis ticks, tick labels.

use std::fmt::Write;

/// A coordinate with at most one decimal and no trailing zero: `12`, `12.5`.
pub(crate) fn num(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let tenths = (v * 10.0).round() as i64;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        let sign = if tenths < 0 { "-" } else { "" };
        let t = tenths.unsigned_abs();
        format!("{sign}{}.{}", t / 10, t % 10)
    }
}

/// Round tick positions covering `[lo, hi]`, about `target` of them, at 1, 2 or 5 times a
/// power of ten. Returns the step too, which decides how many decimals labels need.
pub(crate) fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    // An empty range still gets an axis: one unit wide.
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let span = hi - lo;
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    // Bounded: a float step can never make this loop run away.
    while v <= hi + step * 1e-9 && out.len() < 100 {
        out.push(v);
        v += step;
    }
    (out, step)
}

/// A tick label with as many decimals as `step` needs: `0.05`, `1.5`, `20`.
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    };
    format!("{v:.decimals$}")
}

/// A byte offset for an axis: `0`, `800`, `1.5k`, `2M`.
pub(crate) fn bytes_label(v: f64, step: f64) -> String {
    let (div, unit) = if step >= 1e5 || v >= 1e7 {
        (1e6, "M")
    } else if step >= 1e3 || v >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    if v == 0.0 {
        return "0".to_owned();
    }
    format!("{}{unit}", tick_label(v / div, step / div))
}

/// A rectangle plot area inside a chart, in pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plot {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A linear map from data to pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    /// Maps a data value to a pixel.
    pub fn at(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span.abs() < f64::EPSILON {
            return self.p0;
        }
        self.p0 + (v - self.d0) / span * (self.p1 - self.p0)
    }
}

/// Grid lines and labels for a time axis (ms) along the bottom of `plot`.
pub(crate) fn x_axis(out: &mut String, plot: Plot, scale: Scale, title: &str) {
    let (ticks, step) = ticks(scale.d0, scale.d1, 8);
    let bottom = plot.y + plot.h;
    for t in ticks {
        let x = num(scale.at(t));
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x}" y1="{}" x2="{x}" y2="{}"/><text class="tick" x="{x}" y="{}" text-anchor="middle">{}</text>"#,
            num(plot.y),
            num(bottom),
            num(bottom + 14.0),
            tick_label(t, step)
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{}" y1="{b}" x2="{}" y2="{b}"/><text class="axis-title" x="{}" y="{}" text-anchor="middle">{title}</text>"#,
        num(plot.x),
        num(plot.x + plot.w),
        num(plot.x + plot.w / 2.0),
        num(bottom + 32.0),
        b = num(bottom),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_short() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.04), "12");
        assert_eq!(num(12.46), "12.5");
        assert_eq!(num(-0.5), "-0.5");
        assert_eq!(num(f64::NAN), "0");
    }

    #[test]
    fn ticks_are_round() {
        let (t, step) = ticks(0.0, 0.17, 8);
        assert_eq!(step, 0.05);
        assert_eq!(t.len(), 4);
        assert_eq!(tick_label(t[3], step), "0.15");
        let (t, step) = ticks(0.0, 2_100_000.0, 6);
        assert_eq!(step, 500_000.0);
        assert_eq!(bytes_label(t[3], step), "1.5M");
        assert_eq!(bytes_label(2000.0, 500.0), "2000");
        assert_eq!(bytes_label(20_000.0, 5000.0), "20k");
        // A zero span still gives an axis.
        assert!(!ticks(5.0, 5.0, 8).0.is_empty());
    }
}
