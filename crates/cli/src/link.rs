//! Impairment options shared by the commands that run a link: what the user typed becomes
//! `LinkConditions` for each direction, and a line that says what the link did.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;
use synack::{ImpairedStats, LinkConditions};
use synack_core::impair::ImpairmentStats;

/// How bad the link is. Each setting applies to both directions.
#[derive(Debug, Clone, Default, Args)]
pub struct LinkArgs {
    /// One-way delay in milliseconds (the round trip is twice this).
    #[arg(long, value_name = "MS", default_value_t = 0.0, help_heading = "Link")]
    pub delay_ms: f64,
    /// Delay varies within ± this many milliseconds (order is kept; see --reorder).
    #[arg(long, value_name = "MS", default_value_t = 0.0, help_heading = "Link")]
    pub jitter_ms: f64,
    /// Bottleneck rate, e.g. 100mbit, 1.5gbit, 512kbit (serialization delay per packet).
    #[arg(long, value_name = "RATE", value_parser = parse_rate, help_heading = "Link")]
    pub rate: Option<u64>,
    /// Packets queued at the bottleneck before new ones are dropped (needs --rate).
    #[arg(long, value_name = "PKTS", help_heading = "Link")]
    pub queue: Option<usize>,
    /// Packets lost at random, in percent.
    #[arg(long, value_name = "PCT", default_value_t = 0.0, help_heading = "Link")]
    pub loss: f64,
    /// Lose packets in bursts of this mean length (Gilbert–Elliott) at the --loss rate.
    #[arg(long, value_name = "LEN", num_args = 0..=1, default_missing_value = "4",
          help_heading = "Link")]
    pub burst_loss: Option<f64>,
    /// Packets held back and overtaken by up to three later ones, in percent.
    #[arg(long, value_name = "PCT", default_value_t = 0.0, help_heading = "Link")]
    pub reorder: f64,
    /// Packets delivered twice, in percent.
    #[arg(long, value_name = "PCT", default_value_t = 0.0, help_heading = "Link")]
    pub duplicate: f64,
    /// Packets with one bit flipped (checksums catch them), in percent.
    #[arg(long, value_name = "PCT", default_value_t = 0.0, help_heading = "Link")]
    pub corrupt: f64,
}

impl LinkArgs {
    /// The conditions of each direction, checked; an error is one line naming the option.
    pub fn conditions(&self) -> Result<LinkConditions, String> {
        let ms = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=60_000.0).contains(&v) {
                Ok(Duration::from_secs_f64(v / 1000.0))
            } else {
                Err(format!("--{name} {v} is out of range: use 0..=60000 ms"))
            }
        };
        let pct = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=100.0).contains(&v) {
                Ok(v / 100.0)
            } else {
                Err(format!(
                    "--{name} {v} is out of range: use 0..=100 (percent)"
                ))
            }
        };
        if self.queue.is_some() && self.rate.is_none() {
            return Err("--queue needs --rate: only a bottleneck has a queue".into());
        }
        let loss_burst = match self.burst_loss {
            None => 1.0,
            Some(len) if len.is_finite() && len >= 1.0 => len,
            Some(len) => return Err(format!("--burst-loss {len}: the mean burst is ≥ 1 packet")),
        };
        if self.burst_loss.is_some() && !(self.loss > 0.0 && self.loss < 100.0) {
            return Err("--burst-loss needs --loss PCT (above 0, below 100)".into());
        }
        Ok(LinkConditions {
            delay: ms("delay-ms", self.delay_ms)?,
            jitter: ms("jitter-ms", self.jitter_ms)?,
            rate_bps: self.rate.unwrap_or(0),
            queue_limit: self
                .queue
                .unwrap_or(if self.rate.is_some() { 1000 } else { 0 }),
            loss: pct("loss", self.loss)?,
            loss_burst,
            reorder: pct("reorder", self.reorder)?,
            reorder_depth: 3,
            duplicate: pct("duplicate", self.duplicate)?,
            corrupt: pct("corrupt", self.corrupt)?,
        })
    }
}

/// "100mbit" → 100_000_000 bits per second. Units: bit, kbit, mbit, gbit (also kbps, mbps,
/// gbps meaning bits), case-insensitive; a bare number is bits per second.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a rate: try 100mbit, 1gbit or 512kbit"))?;
    let scale = match unit.trim() {
        "" | "bit" | "bps" => 1.0,
        "kbit" | "kbps" | "k" => 1e3,
        "mbit" | "mbps" | "m" => 1e6,
        "gbit" | "gbps" | "g" => 1e9,
        other => {
            return Err(format!(
                "unknown rate unit {other:?}: use kbit, mbit or gbit"
            ));
        }
    };
    let bps = value * scale;
    if !(1000.0..=1e12).contains(&bps) {
        return Err(format!("{s:?} is out of range: use 1kbit..=1000gbit"));
    }
    Ok(bps as u64)
}

/// "delay 10 ms, loss 1%, ..." or "no impairment".
pub fn describe(c: &LinkConditions) -> String {
    if c.is_perfect() {
        return "no impairment".into();
    }
    let mut parts = Vec::new();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if !c.delay.is_zero() {
        parts.push(format!("delay {} ms", trim(ms(c.delay))));
    }
    if !c.jitter.is_zero() {
        parts.push(format!("jitter ±{} ms", trim(ms(c.jitter))));
    }
    if c.rate_bps > 0 {
        parts.push(format!(
            "rate {}, queue {}",
            rate(c.rate_bps),
            c.queue_limit
        ));
    }
    if c.loss > 0.0 {
        let burst = if c.loss_burst > 1.0 {
            format!(" in bursts of {}", trim(c.loss_burst))
        } else {
            String::new()
        };
        parts.push(format!("loss {}%{burst}", trim(c.loss * 100.0)));
    }
    for (name, p) in [
        ("reorder", c.reorder),
        ("duplicate", c.duplicate),
        ("corrupt", c.corrupt),
    ] {
        if p > 0.0 {
            parts.push(format!("{name} {}%", trim(p * 100.0)));
        }
    }
    parts.join(", ") + " each way"
}

/// What an impaired device at our end did, named from our side ("from us: …; to us: …"):
/// egress is what we sent, ingress what we received. `None` when nothing happened.
pub fn effects_at_our_end(stats: &ImpairedStats) -> Option<String> {
    let effects = effects(&stats.egress(), &stats.ingress());
    (!effects.is_empty()).then(|| {
        effects
            .replace("client→server", "from us")
            .replace("server→client", "to us")
    })
}

/// What the two directions did, e.g. "client→server: 3 lost, 1 reordered; server→client:
/// 2 lost". Empty when nothing happened.
pub fn effects(to_server: &ImpairmentStats, to_client: &ImpairmentStats) -> String {
    let one = |s: &ImpairmentStats| {
        let mut out = String::new();
        for (n, what) in [
            (s.lost, "lost"),
            (s.queue_drops, "dropped at the queue"),
            (s.reordered, "reordered"),
            (s.duplicated, "duplicated"),
            (s.corrupted, "corrupted"),
        ] {
            if n > 0 {
                let sep = if out.is_empty() { "" } else { ", " };
                let _ = write!(out, "{sep}{n} {what}");
            }
        }
        out
    };
    let (a, b) = (one(to_server), one(to_client));
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("client→server: {a}"),
        (true, false) => format!("server→client: {b}"),
        (false, false) => format!("client→server: {a}; server→client: {b}"),
    }
}

fn rate(bps: u64) -> String {
    match bps {
        b if b >= 1_000_000_000 => format!("{} Gbit/s", trim(b as f64 / 1e9)),
        b if b >= 1_000_000 => format!("{} Mbit/s", trim(b as f64 / 1e6)),
        b => format!("{} kbit/s", trim(b as f64 / 1e3)),
    }
}

/// 10.0 → "10", 0.25 → "0.25".
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_rate("100mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("1.5Gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("512kbit"), Ok(512_000));
        assert_eq!(parse_rate("2000000"), Ok(2_000_000));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10furlongs").is_err());
        assert!(parse_rate("0mbit").is_err());
    }

    #[test]
    fn options_become_conditions_or_one_line_errors() {
        let args = LinkArgs {
            delay_ms: 10.0,
            loss: 1.0,
            burst_loss: Some(3.0),
            rate: Some(10_000_000),
            ..LinkArgs::default()
        };
        let c = args.conditions().unwrap();
        assert_eq!(c.delay, Duration::from_millis(10));
        assert!((c.loss - 0.01).abs() < 1e-12);
        assert_eq!(c.loss_burst, 3.0);
        assert_eq!(c.queue_limit, 1000);
        assert_eq!(
            describe(&c),
            "delay 10 ms, rate 10 Mbit/s, queue 1000, loss 1% in bursts of 3 each way"
        );
        assert!(LinkArgs::default().conditions().unwrap().is_perfect());
        let bad = |a: LinkArgs| a.conditions().unwrap_err();
        assert!(
            bad(LinkArgs {
                loss: 120.0,
                ..LinkArgs::default()
            })
            .contains("--loss")
        );
        assert!(
            bad(LinkArgs {
                queue: Some(5),
                ..LinkArgs::default()
            })
            .contains("--rate")
        );
        assert!(
            bad(LinkArgs {
                burst_loss: Some(4.0),
                ..LinkArgs::default()
            })
            .contains("--loss")
        );
        assert!(
            bad(LinkArgs {
                delay_ms: -1.0,
                ..LinkArgs::default()
            })
            .contains("--delay-ms")
        );
    }
}
