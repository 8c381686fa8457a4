//! `synack bench`: the shape of what it reports, never how fast anything was.
//!
//! `tun` needs root: as root its figures are checked, and with privileges dropped (setpriv)
//! its refusal; without root the first is skipped with a message. Under CI (the `CI`
//! variable set), which runs as root, nothing is skipped.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output};

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
    // tun has figures from both systems, or (without root) a word on stderr, never both.
    let tun: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["scenario"] == "tun")
        .filter_map(|l| l["system"].as_str())
        .collect();
    let skipped = stderr.lines().any(|l| l.contains("bench tun: skipped"));
    if skipped {
        assert!(tun.is_empty(), "tun skipped yet has figures: {lines:?}");
        assert!(!must_run_tun(), "tun skipped under CI as root: {stderr}");
    } else {
        assert_eq!(tun, BTreeSet::from(["synack", "kernel"]), "{stderr}");
    }
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

/// Whether the effective user is root (from /proc: no unsafe code for a test).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"));
    uid.and_then(|u| u.split_whitespace().nth(1)) == Some("0")
}

/// Whether tun must run rather than be skipped: as root under CI.
fn must_run_tun() -> bool {
    is_root() && std::env::var_os("CI").is_some()
}

#[test]
fn tun_as_root_reports_both_systems_for_both_directions() {
    if !is_root() {
        eprintln!("tun_as_root_reports_both_systems_for_both_directions: skipped: not root");
        return;
    }
    let out = synack(&["bench", "tun", "--quick", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench tun failed: {stderr}");
    let mut seen = BTreeSet::new();
    for line in json_lines(&out) {
        assert_eq!(line["scenario"], "tun", "{line}");
        assert_eq!(line["unit"], "Gbit/s", "{line}");
        let median = line["median"].as_f64().unwrap_or_default();
        assert!(median > 0.0, "{line}");
        let case = line["case"].as_str().unwrap_or_default().to_owned();
        let system = line["system"].as_str().unwrap_or_default().to_owned();
        assert!(seen.insert((case, system)), "a row twice: {line}");
    }
    let expected = ["download", "upload"]
        .iter()
        .flat_map(|c| ["synack", "kernel"].map(|s| (c.to_string(), s.to_owned())))
        .collect::<BTreeSet<_>>();
    assert_eq!(seen, expected);
}

/// Runs synack as user nobody (uid and gid 65534, no capabilities), when we are root and
/// `setpriv` is there; `None` otherwise.
fn synack_as_nobody(args: &[&str]) -> Option<Output> {
    if !is_root() {
        return None;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .ok()?;
    // setpriv's own failures (cannot run the binary as nobody, say) are not ours.
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.starts_with("setpriv:") {
        eprintln!("setpriv could not run synack: {stderr}");
        return None;
    }
    Some(out)
}

#[test]
fn tun_without_privilege_is_one_line_naming_root() {
    let out = match synack_as_nobody(&["bench", "tun", "--quick"]) {
        Some(out) => out,
        None if is_root() => {
            assert!(!must_run_tun(), "CI must have setpriv");
            eprintln!("tun_without_privilege_is_one_line_naming_root: skipped: no setpriv");
            return;
        }
        None => synack(&["bench", "tun", "--quick"]),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "bench tun ran without root: {stderr}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("synack: bench tun: ") && stderr.contains("root"),
        "{stderr}"
    );
}

#[test]
fn all_without_privilege_skips_tun_and_says_why() {
    let args = ["bench", "all", "--quick", "--rounds", "1"];
    let Some(out) = synack_as_nobody(&args) else {
        assert!(!must_run_tun(), "CI must have setpriv");
        eprintln!("all_without_privilege_skips_tun_and_says_why: skipped: not root, or no setpriv");
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("\nbulk "),
        "the other scenarios ran: {stdout}"
    );
    assert!(!stdout.contains("\ntun "), "tun has figures: {stdout}");
    let said = stdout
        .lines()
        .find(|l| l.starts_with("tun: skipped: "))
        .unwrap_or_else(|| panic!("no word on tun: {stdout}"));
    assert!(said.contains("root"), "{said}");
}

#[test]
fn zero_rounds_is_refused() {
    let (code, line) = one_line_error(&["bench", "bulk", "--rounds", "0"]);
    assert_eq!(code, 2);
    assert!(line.contains("--rounds"), "{line}");
}
