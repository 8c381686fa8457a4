//! A connection's timings the way curl's `-w` names them, and an httpstat-style bar.
//!
//! All times come from the connection's phases, so they are what the wire shows: `connect`
//! is when the client's ACK of the SYN-ACK crossed the link, not when a socket call returned.

use std::fmt::Write as _;

use crate::format;
use crate::model::{ConnectionTrace, PhaseName};

/// Cumulative times from the connection's first SYN, as curl's `-w` variables count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// `time_connect`: the 3-way handshake is done.
    pub connect_ns: u64,
    /// `time_appconnect`: the TLS handshake is done; `None` without TLS (curl prints 0).
    pub appconnect_ns: Option<u64>,
    /// `time_pretransfer`: the request is about to go.
    pub pretransfer_ns: u64,
    /// `time_starttransfer`: the first response byte.
    pub starttransfer_ns: u64,
    /// `time_total`: the last response byte.
    pub total_ns: u64,
}

/// ANSI colour for the durations and markers of the bar (httpstat's cyan).
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Timings {
    /// The timings of one connection, or `None` when it has no complete 3-way handshake, no
    /// request or no response (a TLS connection whose records could not be decrypted shows
    /// no HTTP, so it has none either).
    ///
    /// Each time counts from the connection's first segment: connect is the end of
    /// `tcp-3way-handshake`, appconnect the end of `tls-handshake`, pretransfer the start of
    /// the first `http-request`, starttransfer the start of the first `http-response`, and
    /// total the end of the last `http-response`.
    pub fn of(conn: &ConnectionTrace) -> Option<Timings> {
        let zero = conn.segments.first()?.t_ns;
        let first = |name| conn.phases.iter().find(|p| p.name == name);
        let since = |t: u64| t.saturating_sub(zero);
        let handshake = first(PhaseName::Tcp3WayHandshake).filter(|p| p.complete)?;
        let tls = first(PhaseName::TlsHandshake);
        let request = first(PhaseName::HttpRequest)?;
        let response = first(PhaseName::HttpResponse)?;
        let last_response = conn
            .phases
            .iter()
            .filter(|p| p.name == PhaseName::HttpResponse)
            .map(|p| p.end_ns)
            .max()?;
        Some(Timings {
            connect_ns: since(handshake.end_ns),
            appconnect_ns: tls.map(|p| since(p.end_ns)),
            pretransfer_ns: since(request.start_ns),
            starttransfer_ns: since(response.start_ns),
            total_ns: since(last_response),
        })
    }

    /// curl's variable names with their values in seconds, as `curl -w` would print them.
    pub fn curl_fields(&self) -> [(&'static str, u64); 5] {
        [
            ("time_connect", self.connect_ns),
            // curl prints 0 when there was no TLS handshake.
            ("time_appconnect", self.appconnect_ns.unwrap_or(0)),
            ("time_pretransfer", self.pretransfer_ns),
            ("time_starttransfer", self.starttransfer_ns),
            ("time_total", self.total_ns),
        ]
    }

    /// One `name: seconds` line per curl variable (`time_connect: 0.000123`), cumulative
    /// seconds with six decimals, in curl's order.
    pub fn curl_lines(&self) -> String {
        let mut out = String::new();
        for (name, ns) in self.curl_fields() {
            let _ = writeln!(out, "{name}: {}", seconds(ns));
        }
        out
    }

    /// The curl variables as one JSON object, in seconds with six decimals:
    /// `{"time_connect":0.000123,...,"time_total":0.001234}`.
    pub fn to_json(&self) -> String {
        let fields: Vec<String> = self
            .curl_fields()
            .iter()
            .map(|(name, ns)| format!("\"{name}\":{}", seconds(*ns)))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// An httpstat-style bar: one column per step with its duration, and below it the
    /// cumulative time at the end of each step. Without TLS the TLS column is left out.
    ///
    /// ```text
    ///   TCP Connection   TLS Handshake   Server Processing   Content Transfer
    /// [    0.041ms     |    0.412ms    |      0.205ms      |      0.030ms     ]
    ///                  |               |                   |                  |
    ///           connect:0.041ms        |                   |                  |
    /// ```
    pub fn httpstat(&self, color: bool) -> String {
        let steps = self.steps();
        // Each column fits its title and its duration, with room on both sides.
        let cells: Vec<(String, String, usize)> = steps
            .iter()
            .map(|s| {
                let value = format!("{}ms", format::ms(s.duration_ns));
                let width = s.title.len().max(value.len()) + 4;
                (s.title.to_owned(), value, width)
            })
            .collect();
        let paint = |text: &str| {
            if color {
                format!("{CYAN}{text}{RESET}")
            } else {
                text.to_owned()
            }
        };
        let mut titles = String::from(" ");
        let mut bar = String::from("[");
        let mut pipes = String::from(" ");
        // Column of each step's closing `|` (or `]`).
        let mut bounds = Vec::new();
        let mut col = 0;
        for (i, (title, value, width)) in cells.iter().enumerate() {
            titles.push_str(&centered(title, *width, |t| t.to_owned()));
            titles.push(' ');
            bar.push_str(&centered(value, *width, paint));
            bar.push(if i + 1 == cells.len() { ']' } else { '|' });
            pipes.push_str(&" ".repeat(*width));
            pipes.push('|');
            col += width + 1;
            bounds.push(col);
        }
        let mut out = String::new();
        for line in [titles.trim_end(), &bar, &pipes] {
            out.push_str(line);
            out.push('\n');
        }
        for (i, step) in steps.iter().enumerate() {
            // The marker's name ends on its step's boundary; ":time" follows it.
            let value = format!("{}ms", format::ms(step.cumulative_ns));
            let start = (bounds[i] + 1).saturating_sub(step.marker.len());
            let mut line = " ".repeat(start);
            line.push_str(step.marker);
            line.push(':');
            let mut width = start + step.marker.len() + 1 + value.len();
            line.push_str(&paint(&value));
            for &b in &bounds[i + 1..] {
                if b > width {
                    line.push_str(&" ".repeat(b - width));
                    line.push('|');
                    width = b + 1;
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The bar's steps in order. The boundaries are connect, appconnect, starttransfer and
    /// total, so the columns add up to the total; a boundary earlier than the one before it
    /// (TLS 1.3 can finish its handshake after the request went) counts as that one.
    fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut previous = 0;
        let mut push = |title, marker, at: u64| {
            let at = at.max(previous);
            steps.push(Step {
                title,
                marker,
                duration_ns: at - previous,
                cumulative_ns: at,
            });
            previous = at;
        };
        push("TCP Connection", "connect", self.connect_ns);
        if let Some(appconnect) = self.appconnect_ns {
            push("TLS Handshake", "appconnect", appconnect);
        }
        push("Server Processing", "starttransfer", self.starttransfer_ns);
        push("Content Transfer", "total", self.total_ns);
        steps
    }
}

/// One column of the bar.
struct Step {
    title: &'static str,
    marker: &'static str,
    duration_ns: u64,
    cumulative_ns: u64,
}

/// Seconds with six decimals, as curl prints its times: `0.000123`.
fn seconds(ns: u64) -> String {
    let us = ns.saturating_add(500) / 1_000;
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// `text` centred in `width` columns (measured before `paint` adds any escape codes).
fn centered(text: &str, width: usize, paint: impl Fn(&str) -> String) -> String {
    let pad = width.saturating_sub(text.chars().count());
    let left = pad / 2;
    format!(
        "{}{}{}",
        " ".repeat(left),
        paint(text),
        " ".repeat(pad - left)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Phase;
    use crate::recorder::Recorder;

    /// A minimal connection: a 3-way handshake at 0/10/20 µs, then phases as given.
    fn conn(phases: &[(PhaseName, u64, u64)]) -> ConnectionTrace {
        let mut trace = http_trace();
        let mut c = trace.connections.remove(0);
        let zero = c.segments[0].t_ns;
        c.phases = phases
            .iter()
            .map(|&(name, start, end)| Phase {
                name,
                start_ns: zero + start,
                end_ns: zero + end,
                complete: true,
                first_segment: 0,
                last_segment: 0,
            })
            .collect();
        c
    }

    /// Time, sent by the client, flags, raw seq, raw ack, payload.
    type Packet<'a> = (u64, bool, u8, u32, u32, &'a [u8]);

    /// A real HTTP exchange over a recorder: handshake, GET, 200 with a 5-byte body.
    fn http_trace() -> crate::model::Trace {
        let mut r = Recorder::new();
        let c = ([10, 0, 0, 1], 40000);
        let s = ([10, 0, 0, 2], 80);
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let packets: [Packet; 6] = [
            (1_000_000, true, SYN, 100, 0, b""),
            (1_010_000, false, SYN | ACK, 500, 101, b""),
            (1_020_000, true, ACK, 101, 501, b""),
            (1_030_000, true, ACK | PSH, 101, 501, req),
            (
                1_050_000,
                false,
                ACK | PSH,
                501,
                101 + req.len() as u32,
                resp,
            ),
            (
                1_060_000,
                true,
                ACK,
                101 + req.len() as u32,
                501 + resp.len() as u32,
                b"",
            ),
        ];
        for (t, from_client, flags, seq, ack, payload) in packets {
            let (src, dst) = if from_client { (c, s) } else { (s, c) };
            r.packet(t, &ipv4_tcp(src, dst, flags, seq, ack, payload));
        }
        r.finish()
    }

    const SYN: u8 = 0x02;
    const PSH: u8 = 0x08;
    const ACK: u8 = 0x10;

    /// An IPv4 packet with a TCP header and correct checksums.
    fn ipv4_tcp(
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let builder =
            etherparse::PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 65535);
        let builder = if flags & SYN != 0 {
            builder.syn()
        } else {
            builder
        };
        let builder = if flags & PSH != 0 {
            builder.psh()
        } else {
            builder
        };
        let builder = if flags & ACK != 0 {
            builder.ack(ack)
        } else {
            builder
        };
        let mut out = Vec::new();
        builder.write(&mut out, payload).expect("writing to a Vec");
        out
    }

    #[test]
    fn timings_of_a_recorded_http_exchange() {
        let trace = http_trace();
        let t = Timings::of(&trace.connections[0]).expect("complete exchange");
        assert_eq!(
            t,
            Timings {
                connect_ns: 20_000,
                appconnect_ns: None,
                pretransfer_ns: 30_000,
                starttransfer_ns: 50_000,
                total_ns: 50_000,
            }
        );
        assert_eq!(
            t.curl_lines(),
            "time_connect: 0.000020\n\
             time_appconnect: 0.000000\n\
             time_pretransfer: 0.000030\n\
             time_starttransfer: 0.000050\n\
             time_total: 0.000050\n"
        );
    }

    #[test]
    fn tls_handshake_sets_appconnect_and_the_last_response_sets_total() {
        let c = conn(&[
            (PhaseName::Tcp3WayHandshake, 0, 20_000),
            (PhaseName::TlsHandshake, 20_000, 1_500_000),
            (PhaseName::HttpRequest, 1_600_000, 1_600_000),
            (PhaseName::HttpResponse, 1_700_000, 1_800_000),
            (PhaseName::HttpRequest, 1_900_000, 1_900_000),
            (PhaseName::HttpResponse, 2_000_000, 2_345_678),
        ]);
        let t = Timings::of(&c).expect("complete");
        assert_eq!(t.appconnect_ns, Some(1_500_000));
        assert_eq!(t.pretransfer_ns, 1_600_000);
        assert_eq!(t.starttransfer_ns, 1_700_000);
        assert_eq!(t.total_ns, 2_345_678);
        assert_eq!(
            t.to_json(),
            "{\"time_connect\":0.000020,\"time_appconnect\":0.001500,\
             \"time_pretransfer\":0.001600,\"time_starttransfer\":0.001700,\
             \"time_total\":0.002346}"
        );
        let json: serde_json::Value = serde_json::from_str(&t.to_json()).expect("valid JSON");
        assert_eq!(json["time_total"].as_f64(), Some(0.002346));
    }

    #[test]
    fn no_timings_without_a_handshake_request_or_response() {
        let handshake = (PhaseName::Tcp3WayHandshake, 0, 20_000);
        let request = (PhaseName::HttpRequest, 30_000, 30_000);
        let response = (PhaseName::HttpResponse, 40_000, 50_000);
        assert!(Timings::of(&conn(&[handshake, request, response])).is_some());
        assert_eq!(Timings::of(&conn(&[request, response])), None);
        assert_eq!(Timings::of(&conn(&[handshake, response])), None);
        assert_eq!(Timings::of(&conn(&[handshake, request])), None);
        let mut incomplete = conn(&[handshake, request, response]);
        incomplete.phases[0].complete = false;
        assert_eq!(Timings::of(&incomplete), None);
    }

    #[test]
    fn httpstat_bar_with_tls() {
        let t = Timings {
            connect_ns: 41_000,
            appconnect_ns: Some(453_000),
            pretransfer_ns: 460_000,
            starttransfer_ns: 658_000,
            total_ns: 688_000,
        };
        let bar = t.httpstat(false);
        let lines: Vec<&str> = bar.lines().collect();
        assert_eq!(lines.len(), 7, "{bar}");
        assert_eq!(
            lines[0],
            "   TCP Connection     TLS Handshake     Server Processing     Content Transfer"
        );
        assert_eq!(
            lines[1],
            "[     0.041ms      |     0.412ms     |       0.205ms       |      0.030ms       ]"
        );
        // Every marker's name ends on its column's boundary and shows the cumulative time.
        let bounds: Vec<usize> = lines[1].match_indices(['|', ']']).map(|(i, _)| i).collect();
        for (line, (marker, value)) in lines[3..].iter().zip([
            ("connect", "0.041ms"),
            ("appconnect", "0.453ms"),
            ("starttransfer", "0.658ms"),
            ("total", "0.688ms"),
        ]) {
            let colon = line.find(':').expect("a marker");
            assert_eq!(&line[colon - marker.len()..colon], marker, "{line}");
            assert!(bounds.contains(&(colon - 1)), "{line}");
            assert!(line[colon + 1..].starts_with(value), "{line}");
        }
        assert!(!bar.contains('\x1b'));
        assert!(t.httpstat(true).contains("\x1b[36m0.412ms\x1b[0m"));
    }

    #[test]
    fn httpstat_bar_without_tls_has_three_columns() {
        let t = Timings {
            connect_ns: 20_000,
            appconnect_ns: None,
            pretransfer_ns: 30_000,
            starttransfer_ns: 50_000,
            total_ns: 1_250_000,
        };
        let bar = t.httpstat(false);
        assert!(!bar.contains("TLS") && !bar.contains("appconnect"), "{bar}");
        let lines: Vec<&str> = bar.lines().collect();
        assert_eq!(lines.len(), 6, "{bar}");
        assert_eq!(lines[1].matches('|').count(), 2, "{bar}");
        // Server processing runs from connect to the first response byte.
        assert!(lines[1].contains("0.030ms"), "{bar}");
        assert!(lines[1].contains("1.200ms"), "{bar}");
        assert!(lines[5].trim_start().starts_with("total:1.250ms"), "{bar}");
    }

    #[test]
    fn a_handshake_ending_after_the_request_does_not_make_a_negative_column() {
        let t = Timings {
            connect_ns: 20_000,
            appconnect_ns: Some(900_000),
            pretransfer_ns: 400_000,
            starttransfer_ns: 800_000,
            total_ns: 1_000_000,
        };
        let bar = t.httpstat(false);
        assert!(bar.contains("0.000ms"), "{bar}");
        assert!(bar.contains("starttransfer:0.900ms"), "{bar}");
    }
}
