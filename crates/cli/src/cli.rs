//! The command line: subcommands and their options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::link::LinkArgs;

/// Exit status for a command line that could not be used (as clap uses it).
pub const USAGE_ERROR: u8 = 2;

/// Watch HTTP run over a TCP/IP stack of our own.
#[derive(Debug, Parser)]
#[command(name = "synack", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run HTTPS (or HTTP) between a client and a server on two synack stacks in this
    /// process, joined by an in-memory link, and draw every segment.
    Demo(Box<DemoArgs>),
    /// Read a pcap or pcapng capture (tcpdump, Wireshark, `synack demo --pcap`) and draw each
    /// connection's segments, phases and timings.
    Trace(TraceArgs),
    /// Serve HTTP(S) from our stack on a Linux TUN device, so the kernel's TCP (curl,
    /// browsers, Python) talks to it; draw each connection as it ends.
    Serve(Box<ServeArgs>),
    /// Fetch a URL over our stack on a Linux TUN device (or the kernel's TCP with --kernel)
    /// and draw the connection with its timings.
    Get(Box<GetArgs>),
    /// Measure synack against its peers (smoltcp, the kernel's TCP) in one run, systems
    /// alternating round by round; print medians, spreads and ratios.
    Bench(BenchArgs),
}

/// Options of `synack demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Protocol on top of TCP: HTTP over TLS (server port 443), or plain HTTP (port 80).
    #[arg(long, value_enum, default_value_t = Scheme::Https)]
    pub scheme: Scheme,
    /// TLS version the client offers [default: 1.3] (1.2 runs ECDHE suites).
    #[arg(long, value_enum, value_name = "VERSION")]
    pub tls: Option<TlsVersion>,
    /// Server certificate chain (PEM) instead of one generated at start; the client trusts
    /// exactly the certificates in this file.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) for --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Server name the client asks for (SNI) and checks the certificate against
    /// [default: synack.test].
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Write the TLS secrets as an NSS key log (as SSLKEYLOGFILE, which is honoured too).
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Write the packets (and the TLS secrets) as a pcapng capture for Wireshark.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Write the trace as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write JSON lines (docs/trace-format.md) instead of the ladder.
    #[arg(long)]
    pub json: bool,
    /// Use IPv6: client fd00::1, server fd00::2.
    #[arg(long)]
    pub ipv6: bool,
    /// Size of each response body in bytes.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub body_bytes: u64,
    /// Size of a request body in bytes: 0 sends GET, more sends POST (verified by the server).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub upload_bytes: u64,
    /// Requests in a row on one keep-alive connection.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub requests: u32,
    /// Which side starts the 4-way handshake after the last response.
    #[arg(long, value_enum, default_value_t = Closer::Client)]
    pub close: Closer,
    /// Seeds every random choice (ISNs, ephemeral ports): same seed, same segments.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Link MTU in bytes: 576..=65535 for IPv4, 1280..=65535 for IPv6.
    #[arg(long, value_name = "N", default_value_t = 1500)]
    pub mtu: usize,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// Options of `synack trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The capture: pcap or pcapng.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// TLS secrets (NSS key log, as SSLKEYLOGFILE writes) to decrypt what TLS hides, in
    /// addition to any the capture carries.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Write JSON lines (docs/trace-format.md) instead of the ladder.
    #[arg(long)]
    pub json: bool,
    /// Also write the trace as one self-contained HTML page.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// No ANSI colour, even on a terminal.
    #[arg(long)]
    pub no_color: bool,
}

/// The TUN device shared by `synack serve` and `synack get`: the kernel's side and ours.
#[derive(Debug, Clone, Args)]
pub struct TunArgs {
    /// Name of the TUN device to create, e.g. syn0.
    #[arg(long, value_name = "NAME")]
    pub tun: Option<String>,
    /// The kernel's address on the device with its prefix, e.g. 10.77.0.1/24 (once per
    /// family).
    #[arg(long, value_name = "ADDR/LEN")]
    pub host_addr: Vec<String>,
    /// Our stack's address, e.g. 10.77.0.2 (once per family).
    #[arg(long, value_name = "ADDR")]
    pub addr: Vec<std::net::IpAddr>,
    /// Device MTU in bytes.
    #[arg(long, value_name = "N", default_value_t = 1500)]
    pub mtu: u16,
    /// Seeds our stack's random choices (ISNs, ephemeral ports) and the link impairment
    /// (serve: 1 when not given; get: a fresh seed each run, printed, unless given).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// Options of `synack serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub tun: TunArgs,
    /// Port to listen on [default: 80, or 443 with --tls].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Serve HTTPS (TLS 1.3 and 1.2, ALPN http/1.1) with a certificate made at start (or
    /// --cert/--key).
    #[arg(long)]
    pub tls: bool,
    /// Certificate chain (PEM) to serve with --tls.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Also serve the files under this directory (GET /path).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write each finished connection as JSON lines instead of a ladder.
    #[arg(long)]
    pub json: bool,
    /// At exit, write what was recorded as a pcapng capture (with the TLS secrets).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// No ANSI colour, even on a terminal.
    #[arg(long)]
    pub no_color: bool,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// Options of `synack get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// http:// or https:// URL; the host is an IP address or a name the system resolves.
    #[arg(value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub tun: TunArgs,
    /// Use the kernel's TCP instead of our stack (timings only: no ladder).
    #[arg(long)]
    pub kernel: bool,
    /// Save the response body to this file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Request method: GET, or POST with --data-file.
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET")]
    pub request: String,
    /// Request body for POST, read from this file.
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// Trust the certificates in this PEM file (instead of the system's).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's certificate.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Write the packets (and TLS secrets) as a pcapng capture.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Write the trace as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write JSON lines instead of the ladder.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds.
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub timeout: f64,
    /// No ANSI colour, even on a terminal.
    #[arg(long)]
    pub no_color: bool,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// Options of `synack bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, value_name = "SCENARIO")]
    pub scenario: BenchScenario,
    /// A smoke run of a few seconds (small transfers, short rounds), as CI runs it.
    #[arg(long)]
    pub quick: bool,
    /// One JSON object a line per case and system instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Rounds per case and system [default: 5, or 2 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: Option<u32>,
}

/// A `synack bench` scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchScenario {
    /// Goodput over a simulated 100 Mbit/s, 20 ms link: clean, 1% loss, reordering (virtual
    /// time, exact).
    Goodput,
    /// One bulk flow over an in-memory link at MTU 1500 and 65535: synack against smoltcp.
    Bulk,
    /// Full connections a second (handshake, 100-byte request and response, close): synack
    /// and smoltcp in memory against the kernel on loopback.
    Lifecycle,
    /// hyper requests a second, keep-alive and new connections, plain and TLS 1.3: synack's
    /// runtime over a memory link against the kernel on loopback.
    Http,
    /// Bulk transfer both ways between synack on a TUN device and the kernel, against
    /// kernel↔kernel over veth, in network namespaces of its own (root only).
    Tun,
    /// Memory per idle connection, and the cost of a segment with many connections open.
    Scale,
    /// Every scenario (tun only as root: skipped, with the reason, otherwise).
    All,
}

/// What runs on top of TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

/// The TLS version the demo's client offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TlsVersion {
    /// TLS 1.3 (RFC 8446).
    #[default]
    #[value(name = "1.3")]
    V1_3,
    /// TLS 1.2 (RFC 5246) with ECDHE key exchange.
    #[value(name = "1.2")]
    V1_2,
}

/// The side that closes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Closer {
    Client,
    Server,
}

/// Prints help or version as clap does; any other parse error as one line on stderr.
pub fn exit_on_parse_error(e: clap::Error) -> ExitCode {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(USAGE_ERROR);
    }
    // clap's own rendering spans several lines (usage, tips); keep the error and any list
    // of possible values on one line.
    let rendered = e.to_string();
    let mut lines = rendered.lines().map(str::trim);
    let first = lines.next().unwrap_or("invalid command line");
    let mut message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    for values in lines.filter(|l| l.starts_with("[possible values")) {
        message = format!("{message} {values}");
    }
    eprintln!("synack: {message} (see synack --help)");
    ExitCode::from(USAGE_ERROR)
}
