//! `synack demo`: a hyper client and a hyper server, each on its own synack stack, joined by
//! an in-memory link, with rustls between them for https; every packet is recorded and
//! drawn as a ladder (or JSON lines), and can be saved as pcapng or HTML.

pub(crate) mod body;
mod files;
mod http;
mod progress;
mod record;
mod render;
pub(crate) mod tls;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use synack::{Clock, Impaired, ImpairedStats, LinkConditions, MemoryLink, Net};
use synack_core::StackConfig;
use synack_core::stack::ConnectionInfo;
use synack_trace::{Summary, Trace};

use crate::cli::{DemoArgs, Scheme, USAGE_ERROR};
use body::pattern_sha256;
use http::{Exchange, ServerReport};
use record::{Recording, closed};
use tls::{Negotiated, Tls};

/// The server name the client asks for when `--sni` is not given.
const DEFAULT_SNI: &str = "synack.test";

/// How long the requests and responses may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long both sides may take to finish closing (TIME-WAIT entered, not waited out).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the demo and prints it; the exit status says whether every transfer verified.
pub fn main(args: DemoArgs) -> ExitCode {
    let result = Setup::new(&args).and_then(|setup| {
        let outcome = run(&setup)?;
        files::write(&setup, &outcome)?;
        render::print(&setup, &outcome).map_err(|e| DemoError::Io("writing the output", e))?;
        Ok(outcome.summary.verified)
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("synack demo: a transfer did not verify");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("synack demo: {e}");
            match e {
                DemoError::Usage(_) => ExitCode::from(USAGE_ERROR),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// The demo's parameters, checked.
#[derive(Debug, Clone)]
pub struct Setup {
    pub client_ip: IpAddr,
    pub server: SocketAddr,
    pub mtu: usize,
    pub seed: u64,
    pub json: bool,
    pub exchange: Exchange,
    /// Both ends' TLS; `None` for plain HTTP.
    pub tls: Option<Tls>,
    /// Where to write the NSS key log (`--keylog`).
    pub keylog: Option<PathBuf>,
    /// Where to write the pcapng capture (`--pcap`).
    pub pcap: Option<PathBuf>,
    /// Where to write the HTML page (`--html`).
    pub html: Option<PathBuf>,
    /// What the link does to packets, each direction.
    pub link: LinkConditions,
}

impl Setup {
    fn new(args: &DemoArgs) -> Result<Setup, DemoError> {
        let tls = match args.scheme {
            Scheme::Https => {
                let sni = args.sni.as_deref().unwrap_or(DEFAULT_SNI);
                let files = match (args.cert.as_deref(), args.key.as_deref()) {
                    (Some(cert), Some(key)) => Some((cert, key)),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(DemoError::Usage(
                            "--cert needs --key FILE too (the certificate's private key, PEM)"
                                .into(),
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(DemoError::Usage(
                            "--key needs --cert FILE too (the certificate chain, PEM)".into(),
                        ));
                    }
                };
                let tls = Tls::new(args.tls.unwrap_or_default(), sni, files);
                Some(tls.map_err(|e| DemoError::Usage(e.0))?)
            }
            Scheme::Http => {
                let tls_only = [
                    ("--tls", args.tls.is_some()),
                    ("--cert", args.cert.is_some()),
                    ("--key", args.key.is_some()),
                    ("--sni", args.sni.is_some()),
                    ("--keylog", args.keylog.is_some()),
                ];
                if let Some((flag, _)) = tls_only.iter().find(|(_, given)| *given) {
                    return Err(DemoError::Usage(format!(
                        "{flag} is for https only: leave out --scheme http"
                    )));
                }
                None
            }
        };
        let (client_ip, server_ip, min_mtu): (IpAddr, IpAddr, usize) = if args.ipv6 {
            let ip = |last| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, last]);
            (ip(1), ip(2), 1280)
        } else {
            ([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 576)
        };
        if !(min_mtu..=65535).contains(&args.mtu) {
            let family = if args.ipv6 { "IPv6" } else { "IPv4" };
            return Err(DemoError::Usage(format!(
                "--mtu {} is out of range for {family}: use {min_mtu}..=65535",
                args.mtu
            )));
        }
        let link = args.link.conditions().map_err(DemoError::Usage)?;
        let port = if tls.is_some() { 443 } else { 80 };
        Ok(Setup {
            client_ip,
            server: SocketAddr::new(server_ip, port),
            mtu: args.mtu,
            seed: args.seed,
            json: args.json,
            exchange: Exchange {
                requests: args.requests,
                body_bytes: args.body_bytes,
                upload_bytes: args.upload_bytes,
                close: args.close,
                moved: Arc::default(),
            },
            tls,
            keylog: args.keylog.clone(),
            pcap: args.pcap.clone(),
            html: args.html.clone(),
            link,
        })
    }

    fn stack(&self, ip: IpAddr, seed: u64) -> StackConfig {
        StackConfig {
            addrs: vec![ip],
            mtu: self.mtu,
            seed,
            ..StackConfig::default()
        }
    }
}

/// What a run left: the trace, its outcome, and what the files are written from.
pub struct Outcome {
    pub trace: Trace,
    pub summary: Summary,
    /// Every packet and the key log, for `--pcap`.
    pub recording: Recording,
    /// Wall-clock time of the recording's zero, in ns since the Unix epoch.
    pub epoch_unix_ns: u64,
    /// The client's TLS secrets as NSS key log lines; empty for plain HTTP.
    pub key_log: String,
    /// What TLS settled on, as the client's rustls saw it.
    pub negotiated: Option<Negotiated>,
    /// What the link did: egress is client→server, ingress server→client.
    pub link: ImpairedStats,
    /// Each end's transport numbers as the connection closed.
    pub client_info: Option<ConnectionInfo>,
    pub server_info: Option<ConnectionInfo>,
}

/// Runs the exchange on a fresh single-threaded runtime, so the same seed gives the same
/// segments.
fn run(setup: &Setup) -> Result<Outcome, DemoError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DemoError::Io("starting the runtime", e))?;
    runtime.block_on(exchange(setup))
}

async fn exchange(setup: &Setup) -> Result<Outcome, DemoError> {
    let clock = Clock::new();
    let epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    // A clock before 1970 is not worth failing for: the capture's times start at zero.
    let epoch_unix_ns = epoch.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let recording = Recording::default();
    let (a, b) = MemoryLink::pair(setup.mtu);
    // Both directions are impaired at the client's end; each end's tap sees packets as its
    // stack sends them, before the link acts on them.
    let seed = setup.seed ^ 0x11_4b;
    let a = Impaired::new(a, clock, setup.link, setup.link, seed);
    let link_stats = a.stats_handle();
    let client = Net::new(
        setup.stack(setup.client_ip, setup.seed),
        recording.tap(a, clock),
        clock,
    );
    let server_seed = setup.seed.wrapping_add(1);
    let server = Net::new(
        setup.stack(setup.server.ip(), server_seed),
        recording.tap(b, clock),
        clock,
    );
    let mut client_states = recording.states(&client);
    let mut server_states = recording.states(&server);

    let ex = &setup.exchange;
    let listener = server
        .listen(setup.server)
        .map_err(|e| DemoError::Io("listening", e))?;
    let report = Arc::new(ServerReport::default());
    let serving = tokio::spawn(http::serve(
        listener,
        ex.clone(),
        report.clone(),
        setup.tls.clone(),
    ));
    let total = (ex.body_bytes + ex.upload_bytes).saturating_mul(u64::from(ex.requests));
    let progress = progress::Progress::start(ex.moved.clone(), total);
    let fetching = http::fetch(&client, setup.server, ex, setup.tls.as_ref());
    let fetched = tokio::time::timeout(EXCHANGE_TIMEOUT, fetching).await;
    progress.finish();
    let fetched = fetched.map_err(|_| DemoError::Timeout("the HTTP exchange"))?;
    let fetched = fetched.map_err(|e| DemoError::Io("the client", e))?;
    let served = tokio::time::timeout(EXCHANGE_TIMEOUT, serving).await;
    let served = served.map_err(|_| DemoError::Timeout("the server"))?;
    served
        .map_err(|e| DemoError::Io("the server", io::Error::other(e)))?
        .map_err(|e| DemoError::Io("the server", e))?;

    let both_closed =
        async { tokio::join!(closed(&mut client_states), closed(&mut server_states)) };
    tokio::time::timeout(CLOSE_TIMEOUT, both_closed)
        .await
        .map_err(|_| DemoError::Timeout("closing the connection"))?;

    let key_log = setup
        .tls
        .as_ref()
        .map(|t| t.keys.text())
        .unwrap_or_default();
    recording.key_log(&key_log);
    let trace = recording.finish();
    let (down_sent, up_sent) = (
        pattern_sha256(ex.body_bytes, ex.requests),
        pattern_sha256(ex.upload_bytes, ex.requests),
    );
    let total = |bytes: u64| bytes * u64::from(ex.requests);
    let down_ok = fetched.all_ok
        && fetched.bytes_down == total(ex.body_bytes)
        && fetched.received_sha256 == down_sent;
    let up_ok = report.uploads_verified(ex) && report.bytes_up() == total(ex.upload_bytes);
    // The hashes shown are of the download, or of the upload when only that carried bytes.
    let (sha256_sent, sha256_received) = if ex.body_bytes == 0 && ex.upload_bytes > 0 {
        (up_sent, report.received_sha256())
    } else {
        (down_sent, fetched.received_sha256)
    };
    let summary = Summary {
        requests: u64::from(ex.requests),
        bytes_down: fetched.bytes_down,
        bytes_up: report.bytes_up(),
        sha256_sent,
        sha256_received,
        verified: down_ok && up_ok,
        segments: trace.segments() as u64,
        retransmissions: trace.retransmissions() as u64,
    };
    Ok(Outcome {
        trace,
        summary,
        recording,
        epoch_unix_ns,
        key_log,
        negotiated: fetched.tls,
        link: link_stats,
        client_info: fetched.info,
        server_info: report.info(),
    })
}

/// Why the demo could not run to the end.
#[derive(Debug)]
pub enum DemoError {
    /// The options cannot be used together or are not supported yet.
    Usage(String),
    /// An I/O step failed: what was being done, and the error.
    Io(&'static str, io::Error),
    /// A step did not finish in time.
    Timeout(&'static str),
    /// A file could not be written: what it is, its path, and the error.
    File(&'static str, PathBuf, io::Error),
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoError::Usage(message) => f.write_str(message),
            DemoError::Io(what, e) => write!(f, "{what} failed: {e}"),
            DemoError::Timeout(what) => write!(f, "{what} did not finish in time"),
            DemoError::File(what, path, e) => {
                write!(f, "cannot write the {what} to {}: {e}", path.display())
            }
        }
    }
}

impl std::error::Error for DemoError {}
