//! JSON lines: every line parses, carries the contract's fields, and the order holds.

mod common;

use common::exchange::{http_exchange, summary};
use serde_json::Value;
use synack_trace::{Side, json};

fn lines(trace: &synack_trace::Trace, with_summary: bool) -> Vec<Value> {
    let s = summary(trace);
    let mut out = Vec::new();
    json::write_lines(trace, with_summary.then_some(&s), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Whether a value has the expected JSON type.
type Check = fn(&Value) -> bool;

/// The fields issue 2 promises, with their JSON types.
fn required(kind: &str) -> &'static [(&'static str, Check)] {
    match kind {
        "segment" => &[
            ("t_ns", Value::is_u64),
            ("conn", Value::is_u64),
            ("from", Value::is_string),
            ("src", Value::is_string),
            ("dst", Value::is_string),
            ("flags", Value::is_array),
            ("seq", Value::is_u64),
            ("ack", Value::is_u64),
            ("seq_raw", Value::is_u64),
            ("ack_raw", Value::is_u64),
            ("win", Value::is_u64),
            ("len", Value::is_u64),
            ("options", Value::is_array),
        ],
        "state" => &[
            ("t_ns", Value::is_u64),
            ("conn", Value::is_u64),
            ("side", Value::is_string),
            ("from", Value::is_string),
            ("to", Value::is_string),
        ],
        "phase" => &[
            ("conn", Value::is_u64),
            ("name", Value::is_string),
            ("start_ns", Value::is_u64),
            ("end_ns", Value::is_u64),
        ],
        "summary" => &[
            ("connections", Value::is_u64),
            ("requests", Value::is_u64),
            ("bytes_down", Value::is_u64),
            ("bytes_up", Value::is_u64),
            ("sha256_sent", Value::is_string),
            ("sha256_received", Value::is_string),
            ("verified", Value::is_boolean),
            ("segments", Value::is_u64),
            ("retransmissions", Value::is_u64),
        ],
        other => panic!("unknown type {other}"),
    }
}

#[test]
fn every_line_has_the_contract_fields() {
    let trace = http_exchange();
    for v in lines(&trace, true) {
        let kind = v["type"].as_str().expect("type");
        for (field, ok) in required(kind) {
            assert!(ok(&v[*field]), "{kind}.{field} missing or mistyped: {v}");
        }
        if kind == "segment" {
            let len = v["len"].as_u64().unwrap();
            assert_eq!(
                v.get("carries").is_some(),
                len > 0,
                "carries only with payload: {v}"
            );
            assert!(v.get("retransmission").is_none(), "only when true: {v}");
        }
    }
}

#[test]
fn events_then_phases_then_summary() {
    let trace = http_exchange();
    let v = lines(&trace, true);
    let kinds: Vec<&str> = v.iter().map(|v| v["type"].as_str().unwrap()).collect();
    let first_phase = kinds.iter().position(|&k| k == "phase").unwrap();
    assert!(
        kinds[..first_phase]
            .iter()
            .all(|&k| k == "segment" || k == "state")
    );
    assert!(
        kinds[first_phase..kinds.len() - 1]
            .iter()
            .all(|&k| k == "phase")
    );
    assert_eq!(kinds.last(), Some(&"summary"));
    assert_eq!(kinds.iter().filter(|&&k| k == "segment").count(), 12);
    assert_eq!(kinds.iter().filter(|&&k| k == "state").count(), 10);

    let times: Vec<u64> = v[..first_phase]
        .iter()
        .map(|v| v["t_ns"].as_u64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "events in time order"
    );
    let names: Vec<&str> = v[first_phase..kinds.len() - 1]
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tcp-3way-handshake",
            "http-request",
            "http-response",
            "tcp-4way-handshake"
        ]
    );
    assert!(lines(&trace, false).iter().all(|v| v["type"] != "summary"));
}

#[test]
fn segment_values_match_the_contract_examples() {
    let trace = http_exchange();
    let v = lines(&trace, true);
    let segs: Vec<&Value> = v.iter().filter(|v| v["type"] == "segment").collect();
    let syn_ack = segs[1];
    assert_eq!(syn_ack["flags"], serde_json::json!(["SYN", "ACK"]));
    assert_eq!(
        (syn_ack["seq"].as_u64(), syn_ack["ack"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(syn_ack["from"], "server");
    assert_eq!(syn_ack["src"], "10.0.0.2:80");
    assert_eq!(syn_ack["options"][0], "mss 1460");
    assert_eq!(segs[3]["carries"], "GET / HTTP/1.1");
    let state = v.iter().find(|v| v["type"] == "state").unwrap();
    assert_eq!(
        (
            state["side"].as_str(),
            state["from"].as_str(),
            state["to"].as_str()
        ),
        (Some("client"), Some("Closed"), Some("SynSent"))
    );
    let summary = v.last().unwrap();
    assert_eq!(summary["connections"], 1);
    assert_eq!(summary["verified"], true);
}

#[test]
fn ipv6_addresses_are_bracketed_and_retransmissions_flagged() {
    let mut s = common::Script::between("[fd00::1]:49152", "[fd00::2]:443", 7, 9);
    s.handshake(0);
    s.data(100, Side::Client, common::GET);
    s.data_at(300, Side::Client, 1, common::GET);
    let trace = s.finish();
    let v = lines(&trace, false);
    assert_eq!(v[0]["src"], "[fd00::1]:49152");
    assert_eq!(v[0]["dst"], "[fd00::2]:443");
    assert_eq!(v[4]["retransmission"], true);
    assert!(v[3].get("retransmission").is_none());
}
