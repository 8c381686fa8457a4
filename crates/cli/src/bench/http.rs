//! `http`: a hyper client and a hyper server in one process on one thread (a tokio
//! current-thread runtime), requests a second: over synack's runtime (two `Net`s joined by a
//! `MemoryLink`) against the kernel's TCP on loopback, plain and over TLS 1.3.
//!
//! - `keepalive`: one connection, one GET after another, each answered with 100 bytes.
//! - `newconn`: a new connection for every GET (handshakes and close included).
//!
//! TLS is the demo's (rustls with aws-lc-rs, an Ed25519 certificate made per round, the
//! client's secrets logged in memory), the same for both systems.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::HOST;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use synack::{Clock, MemoryLink, Net};
use synack_core::StackConfig;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Settings;
use super::mem::{CLIENT_IP, SERVER_IP, server_addr};
use super::report::{Better, Row};
use crate::cli::TlsVersion;
use crate::demo::tls::Tls;

const SCENARIO: &str = "http";
/// The response body.
const BODY: &[u8; 100] = &[b'x'; 100];
const SNI: &str = "synack.test";

/// What hyper runs over: a TCP stream of either system, or TLS on one.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The two systems' ways to connect and to accept.
enum System {
    Synack {
        client: Net,
        listener: synack::TcpListener,
    },
    Kernel {
        listener: tokio::net::TcpListener,
        addr: SocketAddr,
    },
}

impl System {
    async fn connect(&self) -> std::io::Result<Box<dyn Io>> {
        Ok(match self {
            System::Synack { client, .. } => Box::new(client.connect(server_addr()).await?),
            System::Kernel { addr, .. } => {
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Box::new(stream)
            }
        })
    }

    async fn accept(&self) -> std::io::Result<Box<dyn Io>> {
        Ok(match self {
            System::Synack { listener, .. } => Box::new(listener.accept().await?.0),
            System::Kernel { listener, .. } => {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Box::new(stream)
            }
        })
    }
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<Vec<Row>, String> {
    let secs = if settings.quick { 0.05 } else { 1.0 };
    let mut rows = Vec::new();
    for (case, fresh, tls) in [
        ("keepalive", false, false),
        ("newconn", true, false),
        ("keepalive_tls13", false, true),
        ("newconn_tls13", true, true),
    ] {
        let mut pair = [
            Row::new(SCENARIO, case, "synack", "req/s", Better::Higher),
            Row::new(SCENARIO, case, "kernel", "req/s", Better::Higher),
        ];
        super::alternate(settings, &mut pair, |i| measure(i == 0, fresh, tls, secs))?;
        rows.extend(pair);
    }
    Ok(rows)
}

/// Requests a second for about `secs`, on a runtime of its own (dropped with every task).
fn measure(synack: bool, fresh: bool, tls: bool, secs: f64) -> Result<f64, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let tls = match tls {
        true => Some(Tls::new(TlsVersion::V1_3, SNI, None).map_err(|e| e.0)?),
        false => None,
    };
    runtime.block_on(async move {
        let system = std::sync::Arc::new(setup(synack).await?);
        let server = system.clone();
        let server_tls = tls.clone();
        tokio::spawn(async move {
            while let Ok(stream) = server.accept().await {
                let tls = server_tls.clone();
                tokio::spawn(async move {
                    let stream: Box<dyn Io> = match tls {
                        Some(tls) => match tls.acceptor.accept(stream).await {
                            Ok(s) => Box::new(s),
                            Err(_) => return,
                        },
                        None => stream,
                    };
                    let service = service_fn(|_req| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let started = std::time::Instant::now();
        let mut count = 0u64;
        while started.elapsed().as_secs_f64() < secs {
            let mut sender = open(&system, tls.as_ref()).await?;
            loop {
                get(&mut sender).await?;
                count += 1;
                if fresh || started.elapsed().as_secs_f64() >= secs {
                    break;
                }
            }
        }
        Ok(count as f64 / started.elapsed().as_secs_f64())
    })
}

async fn setup(synack: bool) -> Result<System, String> {
    let io = |what: &'static str| move |e: std::io::Error| format!("{what}: {e}");
    if synack {
        let clock = Clock::new();
        let (a, b) = MemoryLink::pair(1500);
        let config = |ip: [u8; 4]| {
            let mut c = StackConfig {
                addrs: vec![ip.into()],
                record_events: false,
                ..StackConfig::default()
            };
            // TIME-WAIT as short as in `lifecycle`, so that ports come free in time.
            c.tcp.msl = Duration::from_millis(1);
            c.tcp.nodelay = true;
            c
        };
        let client = Net::new(config(CLIENT_IP), a, clock);
        let server = Net::new(config(SERVER_IP), b, clock);
        let listener = server.listen(server_addr()).map_err(io("listen"))?;
        // The listener keeps the server's stack running without this handle.
        drop(server);
        Ok(System::Synack { client, listener })
    } else {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(io("bind"))?;
        let addr = listener.local_addr().map_err(io("bind"))?;
        Ok(System::Kernel { listener, addr })
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// A new connection (TLS handshake done when `tls` is given) with hyper's client on it.
async fn open(system: &System, tls: Option<&Tls>) -> Result<Sender, String> {
    let stream = system
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let stream: Box<dyn Io> = match tls {
        Some(tls) => Box::new(
            tls.connector
                .connect(tls.server_name.clone(), stream)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?,
        ),
        None => stream,
    };
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One GET, its 100-byte answer read whole.
async fn get(sender: &mut Sender) -> Result<(), String> {
    let request = Request::get("/")
        .header(HOST, SNI)
        .body(Empty::new())
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("response: {e}"))?;
    match body.to_bytes().len() {
        100 => Ok(()),
        n => Err(format!("a {n}-byte answer")),
    }
}
