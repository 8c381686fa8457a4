//! `synack demo`: a hyper client and a hyper server, each on its own synack stack, joined by
//! an in-memory link; every packet is recorded and drawn as a ladder (or JSON lines).

mod body;
mod http;
mod record;
mod render;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use synack::{Clock, MemoryLink, Net};
use synack_core::StackConfig;
use synack_trace::{Summary, Trace};

use crate::cli::{DemoArgs, Scheme, USAGE_ERROR};
use body::pattern_sha256;
use http::{Exchange, ServerReport};
use record::{Recording, closed};

/// How long the requests and responses may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long both sides may take to finish closing (TIME-WAIT entered, not waited out).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the demo and prints it; the exit status says whether every transfer verified.
pub fn main(args: DemoArgs) -> ExitCode {
    let result = Setup::new(&args).and_then(|setup| {
        let (trace, summary) = run(&setup)?;
        render::print(&setup, &trace, &summary)
            .map_err(|e| DemoError::Io("writing the output", e))?;
        Ok(summary.verified)
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
}

impl Setup {
    fn new(args: &DemoArgs) -> Result<Setup, DemoError> {
        if args.scheme == Scheme::Https {
            return Err(DemoError::Usage(
                "--scheme https is not available yet (TLS support is coming); use --scheme http"
                    .into(),
            ));
        }
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
        Ok(Setup {
            client_ip,
            server: SocketAddr::new(server_ip, 80),
            mtu: args.mtu,
            seed: args.seed,
            json: args.json,
            exchange: Exchange {
                requests: args.requests,
                body_bytes: args.body_bytes,
                upload_bytes: args.upload_bytes,
                close: args.close,
            },
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

/// Runs the exchange on a fresh single-threaded runtime, so the same seed gives the same
/// segments.
fn run(setup: &Setup) -> Result<(Trace, Summary), DemoError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DemoError::Io("starting the runtime", e))?;
    runtime.block_on(exchange(setup))
}

async fn exchange(setup: &Setup) -> Result<(Trace, Summary), DemoError> {
    let clock = Clock::new();
    let recording = Recording::default();
    let (a, b) = MemoryLink::pair(setup.mtu);
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
    let serving = tokio::spawn(http::serve(listener, ex.clone(), report.clone()));
    let fetched = tokio::time::timeout(EXCHANGE_TIMEOUT, http::fetch(&client, setup.server, ex));
    let fetched = fetched
        .await
        .map_err(|_| DemoError::Timeout("the HTTP exchange"))?;
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
    Ok((trace, summary))
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
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoError::Usage(message) => f.write_str(message),
            DemoError::Io(what, e) => write!(f, "{what} failed: {e}"),
            DemoError::Timeout(what) => write!(f, "{what} did not finish in time"),
        }
    }
}

impl std::error::Error for DemoError {}
