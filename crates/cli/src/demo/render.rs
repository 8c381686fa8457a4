//! The demo's output: a header, the ladder, what TLS did and the timings for people; JSON
//! lines for tools.

use std::io::{self, Write};

use synack_trace::ladder::{self, LadderOptions};

use super::tls::{CertificateSource, Negotiated};
use super::{Outcome, Setup};
use crate::cli::TlsVersion;
use crate::{link, output};

/// Prints the run to stdout: the header, ladder, TLS legend and timings, or JSON lines with
/// `--json`.
pub fn print(setup: &Setup, outcome: &Outcome) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let (trace, summary) = (&outcome.trace, &outcome.summary);
    if setup.json {
        let sides = [
            ("client", &outcome.client_info),
            ("server", &outcome.server_info),
        ];
        let tcp: Vec<String> = sides
            .iter()
            .filter_map(|(side, info)| info.as_ref().map(|i| output::transport_json(side, i)))
            .collect();
        output::write_json_with(trace, Some(summary), &tcp, &mut out)?;
        return out.flush();
    }
    let color = output::use_color(false);
    let options = LadderOptions {
        color,
        width: output::width(),
        ..LadderOptions::default()
    };
    let (bold, plain) = output::bold(color);
    writeln!(out, "{bold}{}{plain}", title(setup))?;
    writeln!(
        out,
        "link: in-memory, MTU {}, {} (seed {})",
        setup.mtu,
        link::describe(&setup.link),
        setup.seed
    )?;
    writeln!(out)?;
    let drawing = ladder::render(trace, Some(summary), &options);
    out.write_all(drawing.as_bytes())?;
    if !drawing.ends_with('\n') {
        writeln!(out)?;
    }
    let effects = link::effects(&outcome.link.egress(), &outcome.link.ingress());
    if !effects.is_empty() {
        writeln!(out, "link: {effects}")?;
    }
    for (side, info) in [
        ("client", &outcome.client_info),
        ("server", &outcome.server_info),
    ] {
        if let Some(info) = info {
            writeln!(out, "tcp: {}", output::transport_line(side, info))?;
        }
    }
    if let Some(line) = goodput(setup, outcome) {
        writeln!(out, "{line}")?;
    }
    if let Some(tls) = &setup.tls {
        // The trace's view of the handshake when it has one; rustls's otherwise.
        let seen = trace.connections.first().and_then(|c| c.tls.as_ref());
        let from_trace = seen.map(|t| Negotiated {
            version: t.version.clone(),
            cipher_suite: t.cipher_suite.clone(),
            key_exchange: t.key_exchange.clone(),
        });
        let rustls = outcome.negotiated.clone().unwrap_or_default();
        let from_trace = from_trace.unwrap_or_default();
        let negotiated = Negotiated {
            version: from_trace.version.or(rustls.version),
            cipher_suite: from_trace.cipher_suite.or(rustls.cipher_suite),
            key_exchange: from_trace.key_exchange.or(rustls.key_exchange),
        };
        writeln!(out)?;
        let lines = outcome.key_log.lines().count();
        out.write_all(legend(&negotiated, tls.version, &tls.certificate, lines, color).as_bytes())?;
    }
    let timings = output::timings_text(trace, color);
    if !timings.is_empty() {
        writeln!(out)?;
        out.write_all(timings.as_bytes())?;
    }
    out.flush()
}

/// "synack demo: HTTPS GET (TLS 1.3) over synack's own TCP/IP, client 10.0.0.1 ⇄ server
/// 10.0.0.2:443".
pub fn title(setup: &Setup) -> String {
    let ex = &setup.exchange;
    let method = if ex.upload_bytes > 0 { "POST" } else { "GET" };
    let scheme = match &setup.tls {
        Some(tls) => format!("HTTPS {method} ({})", version_name(tls.version)),
        None => format!("HTTP {method}"),
    };
    let what = match ex.requests {
        1 => scheme,
        n => format!("{n} {scheme}s on one keep-alive connection"),
    };
    format!(
        "synack demo: {what} over synack's own TCP/IP, client {} ⇄ server {}",
        setup.client_ip, setup.server
    )
}

fn version_name(version: TlsVersion) -> &'static str {
    match version {
        TlsVersion::V1_3 => "TLS 1.3",
        TlsVersion::V1_2 => "TLS 1.2",
    }
}

/// What TLS settled on, and where the classic description's "PremasterSecret" went.
fn legend(
    negotiated: &Negotiated,
    version: TlsVersion,
    certificate: &CertificateSource,
    key_log_lines: usize,
    color: bool,
) -> String {
    let (b, r) = output::bold(color);
    let field = |f: &Option<String>| f.clone().unwrap_or_else(|| "?".to_owned());
    let certificate = match certificate {
        CertificateSource::Generated => {
            "made at start, signed by a demo CA that only the client trusts".to_owned()
        }
        CertificateSource::File(path) => format!("from {path}, trusted as given"),
    };
    let secrets = match key_log_lines {
        1 => "1 key log line".to_owned(),
        n => format!("{n} key log lines"),
    };
    // Mark the version the handshake settled on (the one asked for if that is unknown).
    let ran = match negotiated.version.as_deref() {
        Some("TLS 1.2") => TlsVersion::V1_2,
        Some("TLS 1.3") => TlsVersion::V1_3,
        _ => version,
    };
    let this = |v| if v == ran { "  ← this run" } else { "" };
    let lines = [
        format!(
            "{b}TLS{r}: {} · {} · key exchange {}",
            field(&negotiated.version),
            field(&negotiated.cipher_suite),
            field(&negotiated.key_exchange),
        ),
        format!("certificate: {certificate}"),
        format!(
            "secrets: {secrets} (--keylog FILE saves them; --pcap FILE embeds them for Wireshark)"
        ),
        String::new(),
        format!("{b}Where did the PremasterSecret go?{r}"),
        "- TLS 1.2 with RSA key transport (what the classic description shows): the client"
            .to_owned(),
        "  picks the pre-master secret, encrypts it to the server's RSA key and sends it in"
            .to_owned(),
        "  ClientKeyExchange.".to_owned(),
        format!(
            "- TLS 1.2 with ECDHE (what --tls 1.2 runs): ServerKeyExchange and ClientKeyExchange{}",
            this(TlsVersion::V1_2)
        ),
        "  carry each side's ephemeral public key; each side combines its own private key"
            .to_owned(),
        "  with the other's public key into the same pre-master secret, which never crosses"
            .to_owned(),
        "  the wire.".to_owned(),
        format!(
            "- TLS 1.3: the key shares ride in ClientHello and ServerHello; everything after{}",
            this(TlsVersion::V1_3)
        ),
        "  ServerHello is encrypted, and RSA key transport no longer exists.".to_owned(),
    ];
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// "goodput: 9.41 Mbit/s down over 0.85 s (94% of the 10 Mbit/s link)": response bytes over
/// the time from the first request byte to the last response byte, for bodies big enough to
/// mean something.
fn goodput(setup: &Setup, outcome: &Outcome) -> Option<String> {
    let bytes = outcome.summary.bytes_down.max(outcome.summary.bytes_up);
    if bytes < 64 * 1024 {
        return None;
    }
    let conn = outcome.trace.connections.first()?;
    let t = synack_trace::timings::Timings::of(conn)?;
    let secs = t.total_ns.saturating_sub(t.pretransfer_ns) as f64 / 1e9;
    if secs <= 0.0 {
        return None;
    }
    let bps = bytes as f64 * 8.0 / secs;
    let share = match setup.link.rate_bps {
        0 => String::new(),
        rate => format!(" ({:.0}% of the link rate)", 100.0 * bps / rate as f64),
    };
    Some(format!(
        "goodput: {:.2} Mbit/s over {:.3} s{share}",
        bps / 1e6,
        secs
    ))
}
