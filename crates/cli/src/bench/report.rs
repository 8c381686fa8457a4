//! What a benchmark measured: samples per system, their median and spread, ratios against
//! the peers, and the two ways of printing them (a table for people, JSON lines for tools).

use std::fmt::Write as _;

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One system's figures for one case of a scenario: every round's sample.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub case: String,
    /// "synack", "smoltcp" or "kernel".
    pub system: &'static str,
    pub unit: &'static str,
    pub better: Better,
    /// One figure per round, in the order the rounds ran.
    pub samples: Vec<f64>,
    /// What the table shows beside the figures (ratios, or what the case means).
    pub note: String,
}

impl Row {
    /// A row with no samples yet.
    pub fn new(
        scenario: &'static str,
        case: impl Into<String>,
        system: &'static str,
        unit: &'static str,
        better: Better,
    ) -> Row {
        Row {
            scenario,
            case: case.into(),
            system,
            unit,
            better,
            samples: Vec::new(),
            note: String::new(),
        }
    }

    /// The median sample (the mean of the middle two for an even count); 0 with none.
    pub fn median(&self) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    /// The smallest sample; 0 with none.
    pub fn min(&self) -> f64 {
        self.samples.iter().copied().reduce(f64::min).unwrap_or(0.0)
    }

    /// The largest sample; 0 with none.
    pub fn max(&self) -> f64 {
        self.samples.iter().copied().reduce(f64::max).unwrap_or(0.0)
    }

    /// The row as one JSON object on one line, keys in the documented order.
    pub fn json(&self) -> String {
        let text = |s: &str| serde_json::Value::from(s).to_string();
        format!(
            "{{\"scenario\":{},\"case\":{},\"system\":{},\"unit\":{},\"median\":{},\"min\":{},\"max\":{}}}",
            text(self.scenario),
            text(&self.case),
            text(self.system),
            text(self.unit),
            number(self.median()),
            number(self.min()),
            number(self.max()),
        )
    }
}

/// A figure as a JSON number, rounded to what a benchmark can claim (four significant digits
/// or better); a non-finite figure (never expected) becomes 0 so the line stays valid JSON.
fn number(x: f64) -> String {
    if !x.is_finite() {
        return "0".to_owned();
    }
    let rounded = (x * 10_000.0).round() / 10_000.0;
    serde_json::Value::from(rounded).to_string()
}

/// Fills the note of every synack row with its ratio to each peer in the same case:
/// `1.52× smoltcp` means synack's median is 1.52 times the peer's (for "higher is better"
/// figures; for "lower is better" ones the ratio is inverted, so above 1 still means ahead).
pub fn add_peer_ratios(rows: &mut [Row]) {
    for i in 0..rows.len() {
        if rows[i].system != "synack" {
            continue;
        }
        let mut ratios = Vec::new();
        for peer in rows.iter() {
            if peer.system == "synack"
                || peer.scenario != rows[i].scenario
                || peer.case != rows[i].case
            {
                continue;
            }
            let (ours, theirs) = (rows[i].median(), peer.median());
            let ratio = match rows[i].better {
                Better::Higher => ours / theirs,
                Better::Lower => theirs / ours,
            };
            if ratio.is_finite() {
                ratios.push(format!("{} {}", times(ratio), peer.system));
            }
        }
        if !ratios.is_empty() {
            let note = &mut rows[i].note;
            let sep = if note.is_empty() { "" } else { "; " };
            *note = format!("{note}{sep}{}", ratios.join(", "));
        }
    }
}

/// A ratio as people read it: `1.52×`, `23×`.
pub fn times(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else {
        format!("{ratio:.2}×")
    }
}

/// A figure with as many decimals as its size deserves.
fn figure(x: f64) -> String {
    match x.abs() {
        a if a >= 10_000.0 => format!("{x:.0}"),
        a if a >= 100.0 => format!("{x:.1}"),
        a if a >= 1.0 => format!("{x:.2}"),
        _ => format!("{x:.3}"),
    }
}

/// The rows as an aligned table with a header; `rounds` is said in the title.
pub fn table(rows: &[Row], rounds: usize) -> String {
    let header = [
        "scenario", "case", "system", "unit", "median", "min", "max", "vs peers",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.to_owned(),
                r.case.clone(),
                r.system.to_owned(),
                r.unit.to_owned(),
                figure(r.median()),
                figure(r.min()),
                figure(r.max()),
                r.note.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let plural = if rounds == 1 { "" } else { "s" };
    let mut out =
        format!("{rounds} round{plural} each, systems alternating; median (min to max)\n");
    let line = |out: &mut String, row: &[String]| {
        for (k, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            // Figures line up on the right, words on the left; the last column is not padded.
            if (4..7).contains(&k) {
                let _ = write!(out, "{}{cell}  ", " ".repeat(pad));
            } else if k == 7 {
                let _ = write!(out, "{cell}");
            } else {
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(&mut out, &header.map(str::to_owned));
    for row in &cells {
        line(&mut out, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(system: &'static str, samples: &[f64]) -> Row {
        let mut r = Row::new("bulk", "mtu1500", system, "Gbit/s", Better::Higher);
        r.samples = samples.to_vec();
        r
    }

    #[test]
    fn median_min_max_of_odd_and_even_counts() {
        let r = row("synack", &[3.0, 1.0, 2.0]);
        assert_eq!((r.median(), r.min(), r.max()), (2.0, 1.0, 3.0));
        let r = row("synack", &[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(r.median(), 2.5);
        assert_eq!(row("synack", &[]).median(), 0.0);
    }

    #[test]
    fn json_keeps_the_documented_key_order() {
        let line = row("smoltcp", &[1.0, 2.123456, 3.0]).json();
        assert_eq!(
            line,
            r#"{"scenario":"bulk","case":"mtu1500","system":"smoltcp","unit":"Gbit/s","median":2.1235,"min":1.0,"max":3.0}"#
        );
    }

    #[test]
    fn ratios_compare_medians_within_a_case() {
        let mut rows = vec![
            row("synack", &[30.0]),
            row("smoltcp", &[20.0]),
            Row {
                case: "mtu65535".into(),
                ..row("smoltcp", &[1.0])
            },
        ];
        add_peer_ratios(&mut rows);
        assert_eq!(rows[0].note, "1.50× smoltcp");
        assert!(rows[1].note.is_empty());
    }

    #[test]
    fn lower_is_better_inverts_the_ratio() {
        let mut a = row("synack", &[1.0]);
        a.better = Better::Lower;
        let mut b = row("kernel", &[4.0]);
        b.better = Better::Lower;
        let mut rows = vec![a, b];
        add_peer_ratios(&mut rows);
        assert_eq!(rows[0].note, "4.00× kernel");
    }
}
