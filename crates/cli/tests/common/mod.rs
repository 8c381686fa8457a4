//! Running the `synack` binary and reading what it prints.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs synack with `args`, without colour and without an inherited SSLKEYLOGFILE.
pub fn synack(args: &[&str]) -> Output {
    synack_with_env(args, &[])
}

/// Runs synack with `args` and extra environment variables.
pub fn synack_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_synack"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SSLKEYLOGFILE");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run synack")
}

/// Parses stdout as JSON lines.
pub fn json_lines(out: &Output) -> Vec<Value> {
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 output");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")));
    lines.collect()
}

/// Runs `synack demo --json ARGS`, checks it succeeded, and returns its lines.
pub fn demo_json(args: &[&str]) -> Vec<Value> {
    let out = synack(&[&["demo", "--json"], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo {args:?} failed: {stderr}");
    json_lines(&out)
}

/// The lines of one `type`.
pub fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

/// The `name`s of the phase lines, in order.
pub fn phase_names(lines: &[Value]) -> Vec<String> {
    let phases = of_type(lines, "phase");
    phases
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Runs synack expecting failure with exactly one line on stderr and nothing on stdout;
/// returns the exit code and that line.
pub fn one_line_error(args: &[&str]) -> (i32, String) {
    let out = synack(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    (out.status.code().expect("an exit code"), stderr)
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// A path as the `&str` an argument list wants.
pub fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
