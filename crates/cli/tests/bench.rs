//! `synack bench`: the shape of what it reports, never how fast anything was.

mod common;

use std::collections::BTreeSet;

use common::{json_lines, one_line_error, synack};

const KEYS: [&str; 7] = ["scenario", "case", "system", "unit", "median", "min", "max"];

#[test]
fn a_quick_run_of_everything_reports_every_system_with_positive_figures() {
    let out = synack(&["bench", "all", "--quick", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    let lines = json_lines(&out);
    let mut seen = BTreeSet::new();
    for line in &lines {
        let object = line.as_object().expect("one object a line");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut expected = KEYS.to_vec();
        expected.sort_unstable();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected, "{line}");
        let text = |k: &str| line[k].as_str().unwrap_or_else(|| panic!("{k}: {line}"));
        let number = |k: &str| line[k].as_f64().unwrap_or_else(|| panic!("{k}: {line}"));
        let system = text("system");
        assert!(["synack", "smoltcp", "kernel"].contains(&system), "{line}");
        assert!(
            !text("case").is_empty() && !text("unit").is_empty(),
            "{line}"
        );
        let (median, min, max) = (number("median"), number("min"), number("max"));
        assert!(min <= median && median <= max, "{line}");
        // Spurious retransmissions may rightly be none; every other figure is work done.
        if text("unit") != "% spurious" {
            assert!(median > 0.0, "{line}");
        }
        seen.insert((text("scenario").to_owned(), system.to_owned()));
    }
    let expected = [
        ("goodput", "synack"),
        ("bulk", "synack"),
        ("bulk", "smoltcp"),
        ("lifecycle", "synack"),
        ("lifecycle", "smoltcp"),
        ("lifecycle", "kernel"),
        ("http", "synack"),
        ("http", "kernel"),
        ("scale", "synack"),
    ];
    for (scenario, system) in expected {
        let key = (scenario.to_owned(), system.to_owned());
        assert!(seen.contains(&key), "no {system} in {scenario}: {lines:?}");
    }
    // Both MTUs of bulk, for both systems.
    let bulk_cases: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["scenario"] == "bulk")
        .filter_map(|l| l["case"].as_str())
        .collect();
    assert_eq!(bulk_cases, BTreeSet::from(["mtu1500", "mtu65535"]));
    // What is not built is said on stderr, never given figures, and what has figures is
    // not said to be missing.
    let missing = stderr
        .lines()
        .find(|l| l.contains("not built yet"))
        .unwrap_or_else(|| panic!("no word on what is not built: {stderr}"));
    for line in &lines {
        let scenario = line["scenario"].as_str().unwrap_or_default();
        assert!(
            !missing.contains(scenario),
            "{scenario} has figures: {missing}"
        );
    }
    assert!(lines.iter().all(|l| l["scenario"] != "tun"));
}

#[test]
fn the_table_names_the_peers_and_their_ratios() {
    let out = synack(&["bench", "lifecycle", "--quick", "--rounds", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = stdout.lines().nth(1).expect("a header");
    assert!(
        header.starts_with("scenario") && header.contains("median"),
        "{stdout}"
    );
    let synack_row = stdout
        .lines()
        .find(|l| l.contains(" synack "))
        .expect("a synack row");
    assert!(
        synack_row.contains("× smoltcp") && synack_row.contains("× kernel"),
        "{stdout}"
    );
}

#[test]
fn a_bad_scenario_is_one_line_of_error() {
    let (code, line) = one_line_error(&["bench", "nonsense"]);
    assert_eq!(code, 2);
    assert!(line.contains("nonsense") && line.contains("bulk"), "{line}");
}

#[test]
fn a_scenario_not_built_yet_says_so_and_fails() {
    let (code, line) = one_line_error(&["bench", "tun"]);
    assert_ne!(code, 0);
    assert!(line.contains("not built yet"), "{line}");
}

#[test]
fn zero_rounds_is_refused() {
    let (code, line) = one_line_error(&["bench", "bulk", "--rounds", "0"]);
    assert_eq!(code, 2);
    assert!(line.contains("--rounds"), "{line}");
}
