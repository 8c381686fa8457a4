//! `synack bench`: synack measured against its peers (smoltcp, the kernel's TCP) in one run,
//! on the same machine and workload, systems alternating round by round.
//!
//! Each scenario returns [`report::Row`]s, one per case and system, holding every round's
//! figure; this module prints them as a table with ratios, or as JSON lines.
//!
//! `tun` (synack↔kernel over a TUN device against kernel↔kernel over veth) needs root: it
//! makes network namespaces and devices of its own. Without the privilege `bench tun` fails
//! with one line saying so, and `bench all` runs the rest and says why `tun` was skipped.

mod bulk;
mod goodput;
mod http;
mod lifecycle;
mod mem;
mod report;
mod scale;
mod smol;
mod tun;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::{BenchArgs, BenchScenario};
use report::Row;

/// How a run is asked to go.
pub struct Settings {
    /// A smoke run of seconds: small transfers, short rounds.
    pub quick: bool,
    /// Rounds per case and system.
    pub rounds: usize,
    /// Say each round's figure on stderr as it comes.
    pub progress: bool,
}

/// Runs `synack bench`.
pub fn main(args: BenchArgs) -> ExitCode {
    let settings = Settings {
        quick: args.quick,
        rounds: args.rounds.unwrap_or(if args.quick { 2 } else { 5 }) as usize,
        progress: !args.json && io::stderr().is_terminal(),
    };
    let scenarios: Vec<BenchScenario> = match args.scenario {
        BenchScenario::All => vec![
            BenchScenario::Goodput,
            BenchScenario::Bulk,
            BenchScenario::Lifecycle,
            BenchScenario::Http,
            BenchScenario::Tun,
            BenchScenario::Scale,
        ],
        one => vec![one],
    };
    // Other work on the machine slows every system alike only if it stays steady: say how
    // busy the machine was, so a reader can judge the spread.
    let load = load_average();
    let all = args.scenario == BenchScenario::All;
    let mut rows = Vec::new();
    // Scenarios this machine cannot run, and why: skipped by `all`, an error alone.
    let mut skipped = Vec::new();
    for scenario in scenarios {
        let result = match scenario {
            BenchScenario::Goodput => goodput::run(&settings),
            BenchScenario::Bulk => bulk::run(&settings),
            BenchScenario::Lifecycle => lifecycle::run(&settings),
            BenchScenario::Http => http::run(&settings),
            BenchScenario::Tun => match tun::available() {
                Ok(()) => tun::run(&settings),
                Err(why) if all => {
                    skipped.push((scenario_name(scenario), why));
                    continue;
                }
                Err(why) => Err(why),
            },
            BenchScenario::Scale => scale::run(&settings),
            // Expanded into the scenarios above.
            BenchScenario::All => Ok(Vec::new()),
        };
        match result {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("synack: bench {}: {e}", scenario_name(scenario));
                return ExitCode::FAILURE;
            }
        }
    }
    report::add_peer_ratios(&mut rows);
    let written = if args.json {
        write_json(&rows, &skipped)
    } else {
        write_table(&rows, settings.rounds, &skipped, load.as_deref())
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack: bench: writing the results: {e}");
            ExitCode::FAILURE
        }
    }
}

fn scenario_name(s: BenchScenario) -> &'static str {
    match s {
        BenchScenario::Goodput => "goodput",
        BenchScenario::Bulk => "bulk",
        BenchScenario::Lifecycle => "lifecycle",
        BenchScenario::Http => "http",
        BenchScenario::Tun => "tun",
        BenchScenario::Scale => "scale",
        BenchScenario::All => "all",
    }
}

/// Scenarios skipped, each with the reason.
type Skipped = [(&'static str, String)];

fn write_json(rows: &[Row], skipped: &Skipped) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for row in rows {
        writeln!(out, "{}", row.json())?;
    }
    // JSON lines carry figures only; what has none is said beside them.
    for (name, why) in skipped {
        eprintln!("synack: bench {name}: skipped: {why}");
    }
    out.flush()
}

fn write_table(
    rows: &[Row],
    rounds: usize,
    skipped: &Skipped,
    load: Option<&str>,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(report::table(rows, rounds).as_bytes())?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    if let Some(load) = load {
        writeln!(
            out,
            "{cpus} CPUs; load average at start {load} (1, 5, 15 min)"
        )?;
    }
    for (name, why) in skipped {
        writeln!(out, "{name}: skipped: {why}")?;
    }
    out.flush()
}

/// The 1, 5 and 15 minute load averages (Linux), or `None` where they cannot be read.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

/// Runs every row's system once per round, the systems taking turns within a round so that
/// whatever the machine does meanwhile falls on all of them; `measure(i)` runs row `i`'s
/// system once and returns its figure.
pub fn alternate(
    settings: &Settings,
    rows: &mut [Row],
    mut measure: impl FnMut(usize) -> Result<f64, String>,
) -> Result<(), String> {
    for round in 0..settings.rounds {
        for (i, row) in rows.iter_mut().enumerate() {
            let figure = measure(i).map_err(|e| format!("{} {}: {e}", row.case, row.system))?;
            if settings.progress {
                eprintln!(
                    "{} {} {} round {}/{}: {figure:.3} {}",
                    row.scenario,
                    row.case,
                    row.system,
                    round + 1,
                    settings.rounds,
                    row.unit
                );
            }
            row.samples.push(figure);
        }
    }
    Ok(())
}
