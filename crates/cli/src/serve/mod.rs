//! `synack serve`: our stack on a Linux TUN device, serving HTTP(S) to the kernel's TCP
//! (curl, browsers, Python), with each connection's lifecycle drawn when it ends.
//!
//! The device is recorded both ways ([`record`]); hyper serves each connection (keep-alive),
//! under rustls with `--tls`. Ctrl-C (SIGINT) or SIGTERM (what service managers and `timeout`
//! send) stops accepting, lets every connection close cleanly (close_notify, FIN), prints what
//! is left, writes `--pcap`, and exits 0.

pub mod device;
pub mod files;
mod me;
pub mod print;
pub mod record;
mod routes;
mod tls;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::ServerConnection;
use serde_json::{Value, json};
use synack::{Clock, LinkConditions, Net, TcpListener, TcpStream};
use synack_core::stack::SocketHandle;
use synack_trace::capture::{self, WriteOptions};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::cli::{ServeArgs, TlsVersion, USAGE_ERROR};
use crate::demo::tls::Tls;
use crate::link;
use device::TunSetup;
use print::Printer;
use record::{Book, BookKeys};

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After Ctrl-C: how long connections may take to finish their responses and close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often finished connections are collected and printed.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Runs the server until Ctrl-C or SIGTERM.
pub fn main(args: ServeArgs) -> ExitCode {
    let setup = match Setup::new(&args) {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("synack serve: {e}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(setup)),
        Err(e) => Err(ServeError::Io("starting the runtime", e)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The options, checked.
struct Setup {
    tun: TunSetup,
    port: u16,
    tls: Option<TlsAcceptor>,
    /// `--cert`, if given.
    cert: Option<PathBuf>,
    /// Canonical, so resolved paths can be checked against it.
    root: Option<PathBuf>,
    json: bool,
    color: bool,
    pcap: Option<PathBuf>,
    link: LinkConditions,
}

impl Setup {
    fn new(args: &ServeArgs) -> Result<Setup, String> {
        let tun = TunSetup::new(&args.tun)?;
        let link = args.link.conditions()?;
        let tls = if args.tls {
            match (args.cert.as_deref(), args.key.as_deref()) {
                // The demo's setup reads and checks the PEM files.
                (Some(c), Some(k)) => {
                    let name = tun.addrs[0].to_string();
                    let tls = Tls::new(TlsVersion::V1_3, &name, Some((c, k))).map_err(|e| e.0)?;
                    Some(tls.acceptor)
                }
                (None, None) => Some(tls::generated(&tun.addrs)?),
                _ => return Err("--cert and --key go together (PEM files)".into()),
            }
        } else {
            if args.cert.is_some() || args.key.is_some() {
                return Err("--cert and --key need --tls".into());
            }
            None
        };
        let root = match &args.root {
            Some(dir) => Some(dir.canonicalize().map_err(|e| {
                format!("--root {}: {e} (give a directory to serve)", dir.display())
            })?),
            None => None,
        };
        if root.as_ref().is_some_and(|r| !r.is_dir()) {
            return Err("--root must be a directory".into());
        }
        Ok(Setup {
            tun,
            port: args.port.unwrap_or(if tls.is_some() { 443 } else { 80 }),
            tls,
            cert: args.cert.clone(),
            root,
            json: args.json,
            color: crate::output::use_color(args.no_color),
            pcap: args.pcap.clone(),
            link,
        })
    }
}

/// What every request handler shares.
pub struct App {
    pub book: Book,
    pub root: Option<PathBuf>,
}

/// One connection, as its requests see it.
pub struct ConnCtx {
    /// Our end, the peer's.
    pub key: (SocketAddr, SocketAddr),
    pub net: Net,
    pub handle: SocketHandle,
    /// What TLS negotiated; `None` for plain HTTP.
    pub tls: Option<Value>,
}

/// Why the server stopped with an error.
#[derive(Debug)]
enum ServeError {
    Io(&'static str, io::Error),
    File(PathBuf, io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Io(what, e) => write!(f, "{what} failed: {e}"),
            ServeError::File(path, e) => {
                write!(f, "cannot write the capture to {}: {e}", path.display())
            }
        }
    }
}

async fn run(setup: Setup) -> Result<(), ServeError> {
    let clock = Clock::new();
    let epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    let epoch_unix_ns = epoch.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let book = Book::new(clock);
    let (net, link_stats) = setup
        .tun
        .start(setup.link, &book, clock)
        .map_err(|e| ServeError::Io("setting up the device", e))?;
    let tls = setup.tls.as_ref().map(|acceptor| {
        let mut config = (**acceptor.config()).clone();
        config.key_log = Arc::new(BookKeys(book.clone()));
        TlsAcceptor::from(Arc::new(config))
    });
    let mut listeners = Vec::new();
    for addr in &setup.tun.addrs {
        let at = SocketAddr::new(*addr, setup.port);
        listeners.push(net.listen(at).map_err(|e| ServeError::Io("listening", e))?);
    }
    // Before "listening" is printed: from then on a signal stops the server cleanly.
    let stop_signal = stop_signal().map_err(|e| ServeError::Io("watching for signals", e))?;
    tokio::pin!(stop_signal);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let urls: Vec<String> = listeners
        .iter()
        .map(|l| format!("{scheme}://{}/", l.local_addr()))
        .collect();
    eprintln!(
        "synack serve: listening on {} (device {}, MTU {}, {}); Ctrl-C or SIGTERM stops",
        urls.join(" and "),
        setup.tun.config.name,
        setup.tun.config.mtu,
        link::describe(&setup.link),
    );
    if tls.is_some() {
        let certificate = match &setup.cert {
            Some(path) => format!("the certificate from {}", path.display()),
            None => "a self-signed certificate made at start (curl -k)".to_owned(),
        };
        eprintln!("synack serve: TLS 1.3 and 1.2, ALPN http/1.1, {certificate}");
    }

    let app = Arc::new(App {
        book: book.clone(),
        root: setup.root.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (accepted_tx, mut accepted) = mpsc::channel(64);
    for listener in listeners {
        tokio::spawn(accept_loop(listener, accepted_tx.clone(), stop_rx.clone()));
    }
    drop(accepted_tx);
    let printer = Printer {
        json: setup.json,
        color: setup.color,
    };
    let mut conns = JoinSet::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            signal = &mut stop_signal => {
                eprintln!("synack serve: {signal}");
                break;
            }
            Some(stream) = accepted.recv() => {
                conns.spawn(connection(app.clone(), tls.clone(), stream, stop_rx.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = sweep.tick() => printer.print(&book.sweep(false)),
        }
    }

    // Stop accepting; ask every connection to finish its response and close.
    eprintln!(
        "synack serve: stopping: closing {} connection(s)",
        conns.len()
    );
    let _ = stop_tx.send(true);
    drop(accepted);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {
            printer.print(&book.sweep(false));
        }
    })
    .await;
    if drained.is_err() {
        eprintln!("synack serve: some connections did not close in time: aborted");
        conns.abort_all();
    }
    // Let the last FINs and ACKs cross, then take everything that is left.
    let settle = tokio::time::Instant::now() + Duration::from_millis(500);
    while tokio::time::Instant::now() < settle {
        printer.print(&book.sweep(false));
        tokio::time::sleep(SWEEP_EVERY).await;
    }
    printer.print(&book.sweep(true));
    if let Some(effects) = link_stats.as_ref().and_then(link::effects_at_our_end) {
        eprintln!("synack serve: link: {effects}");
    }
    if let Some(path) = &setup.pcap {
        let (recorder, left_out) = book.archive();
        let options = WriteOptions {
            epoch_unix_ns,
            comment: Some("synack serve".to_owned()),
        };
        let written = std::fs::File::create(path).and_then(|file| {
            let mut out = io::BufWriter::new(file);
            capture::write_pcapng(&mut out, &recorder, &options)?;
            io::Write::flush(&mut out)
        });
        written.map_err(|e| ServeError::File(path.clone(), e))?;
        let note = match left_out {
            0 => String::new(),
            n => format!(" ({n} connection(s) left out: the capture is capped at 64 MiB)"),
        };
        eprintln!(
            "synack serve: wrote {} packets to {}{note}",
            recorder.packet_count(),
            path.display()
        );
    }
    drop(net);
    Ok(())
}

/// Resolves with the signal's name on the first SIGINT (Ctrl-C) or SIGTERM. Both handlers
/// are installed before it returns, so neither signal kills the process from then on.
fn stop_signal() -> io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT (Ctrl-C)",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}

/// Accepts until told to stop; the listener is dropped then, so later SYNs are refused.
async fn accept_loop(
    listener: TcpListener,
    accepted: mpsc::Sender<TcpStream>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            result = listener.accept() => match result {
                Ok((stream, _peer)) => {
                    if accepted.send(stream).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("synack serve: accepting failed: {e}");
                    return;
                }
            },
            () = stopped(&mut stop) => return,
        }
    }
}

/// Returns once the server is stopping (or its controller is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves one connection: the TLS handshake (with `tls`), then HTTP/1.1 until either side
/// closes or the server stops.
async fn connection(
    app: Arc<App>,
    tls: Option<TlsAcceptor>,
    stream: TcpStream,
    stop: watch::Receiver<bool>,
) {
    let key = (stream.local_addr(), stream.peer_addr());
    let mut ctx = ConnCtx {
        key,
        net: stream.net().clone(),
        handle: stream.handle(),
        tls: None,
    };
    let Some(acceptor) = tls else {
        return serve_http(app, ctx, stream, stop).await;
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            ctx.tls = Some(negotiated(stream.get_ref().1));
            serve_http(app, ctx, stream, stop).await;
        }
        Ok(Err(e)) => eprintln!("synack serve: TLS handshake with {} failed: {e}", key.1),
        Err(_) => eprintln!("synack serve: TLS handshake with {} timed out", key.1),
    }
}

/// What the handshake settled on, as our rustls saw it.
fn negotiated(conn: &ServerConnection) -> Value {
    let version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
        other => format!("{other:?}"),
    });
    let suite = conn.negotiated_cipher_suite().map(|s| {
        let suite = s.suite();
        suite
            .as_str()
            .map_or_else(|| format!("{suite:?}"), str::to_owned)
    });
    let group = conn.negotiated_key_exchange_group().map(|g| {
        let name = g.name();
        name.as_str()
            .map_or_else(|| format!("{name:?}"), str::to_owned)
    });
    json!({
        "version": version,
        "cipher_suite": suite,
        "key_exchange": group,
        "sni": conn.server_name(),
        "alpn": conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
    })
}

async fn serve_http<S>(app: Arc<App>, ctx: ConnCtx, stream: S, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = Arc::new(ctx);
    let service = service_fn(move |req| routes::respond(app.clone(), ctx.clone(), req));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // Errors are the peer's business (a reset, a request cut short): the trace shows them.
    tokio::select! {
        _ = conn.as_mut() => {}
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
