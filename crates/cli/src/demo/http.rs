//! The HTTP ends of the demo: a hyper server and a hyper client, unchanged, on synack
//! streams, with or without TLS between them.
//!
//! Both ends take the stream back from hyper when HTTP is done and close it themselves, so
//! TLS's close_notify goes out before TCP's FIN (a plain `TcpStream` has no close_notify and
//! closes the same way hyper would close it).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use synack::{Net, TcpListener, TcpStream};
use synack_core::stack::{ConnectionInfo, SocketHandle};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::body::{PatternBody, hex, pattern_sha256};
use super::tls::{Negotiated, Tls, explain_handshake_error};
use crate::cli::Closer;

/// What both ends speak HTTP over: a `TcpStream`, or a TLS stream on one.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// What both ends agree on before they start.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub requests: u32,
    pub body_bytes: u64,
    pub upload_bytes: u64,
    pub close: Closer,
    /// Body bytes delivered so far, both directions (for the progress line).
    pub moved: Arc<AtomicU64>,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct ServerReport {
    served: AtomicU32,
    uploads_verified: AtomicU32,
    bytes_up: AtomicU64,
    /// Every upload received, in order.
    received: Mutex<Sha256>,
    /// The server's end of the connection as it closed.
    info: Mutex<Option<ConnectionInfo>>,
}

impl ServerReport {
    /// Whether every request's upload arrived intact.
    pub fn uploads_verified(&self, ex: &Exchange) -> bool {
        self.uploads_verified.load(Ordering::Relaxed) == ex.requests
    }

    /// Upload bytes received, all requests together.
    pub fn bytes_up(&self) -> u64 {
        self.bytes_up.load(Ordering::Relaxed)
    }

    /// The server's transport numbers as the connection closed.
    pub fn info(&self) -> Option<ConnectionInfo> {
        self.info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// SHA-256 (hex) of all uploads as received.
    pub fn received_sha256(&self) -> String {
        let hasher = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        hex(&hasher.clone().finalize())
    }
}

/// Accepts one connection (completing the TLS handshake when `tls` is given) and serves it
/// with hyper's HTTP/1.1 server.
pub async fn serve(
    listener: TcpListener,
    ex: Exchange,
    report: Arc<ServerReport>,
    tls: Option<Tls>,
) -> io::Result<()> {
    let (stream, _peer) = listener.accept().await?;
    // One connection only: later SYNs are refused.
    drop(listener);
    let probe = Probe::of(&stream);
    let info = match tls {
        None => serve_on(stream, ex, report.clone(), probe).await?,
        Some(tls) => {
            serve_on(
                tls.acceptor.accept(stream).await?,
                ex,
                report.clone(),
                probe,
            )
            .await?
        }
    };
    *report.info.lock().unwrap_or_else(PoisonError::into_inner) = info;
    Ok(())
}

/// Reads a connection's transport numbers through its stack, whatever wraps the stream.
struct Probe {
    net: Net,
    handle: SocketHandle,
}

impl Probe {
    fn of(stream: &TcpStream) -> Probe {
        Probe {
            net: stream.net().clone(),
            handle: stream.handle(),
        }
    }
}

async fn serve_on<S: Stream>(
    stream: S,
    ex: Exchange,
    report: Arc<ServerReport>,
    probe: Probe,
) -> io::Result<Option<ConnectionInfo>> {
    let close = ex.close;
    let expected_upload = pattern_sha256(ex.upload_bytes, 1);
    let service = service_fn(move |req| {
        let (ex, report, expected) = (ex.clone(), report.clone(), expected_upload.clone());
        async move { respond(req, &ex, &report, &expected).await }
    });
    let parts = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .without_shutdown()
        .await
        .map_err(io::Error::other)?;
    finish(parts.io.into_inner(), close == Closer::Server, &probe).await
}

/// Closes a stream HTTP is done with: the side that closes first shuts down its sending
/// half (close_notify, then FIN) and reads until the peer's; the other side reads until the
/// peer's close first, then answers with its own.
///
/// Returns the connection's transport numbers as late as they can be read: after the close
/// when the slot still exists (TIME-WAIT), else from just before it.
async fn finish<S: Stream>(
    mut stream: S,
    first: bool,
    probe: &Probe,
) -> io::Result<Option<ConnectionInfo>> {
    let before = probe.net.info(probe.handle);
    if first {
        stream.shutdown().await?;
        read_to_close(&mut stream).await?;
    } else {
        read_to_close(&mut stream).await?;
        stream.shutdown().await?;
    }
    Ok(probe.net.info(probe.handle).or(before))
}

/// Reads until the peer closes; with TLS, a FIN without close_notify is an error.
async fn read_to_close<S: Stream>(stream: &mut S) -> io::Result<()> {
    let mut buf = [0; 4096];
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}

/// Verifies the upload, then answers with the pattern body; the last response of a
/// server-closed exchange says `Connection: close`, so hyper hands the stream back (to be
/// closed) after sending it.
async fn respond(
    req: Request<Incoming>,
    ex: &Exchange,
    report: &ServerReport,
    expected_upload: &str,
) -> Result<Response<PatternBody>, hyper::Error> {
    let n = report.served.fetch_add(1, Ordering::Relaxed) + 1;
    let (len, sha) = drain(req.into_body(), |data| {
        let mut all = report
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        all.update(data);
        ex.moved.fetch_add(data.len() as u64, Ordering::Relaxed);
    })
    .await?;
    report.bytes_up.fetch_add(len, Ordering::Relaxed);
    if len == ex.upload_bytes && sha == expected_upload {
        report.uploads_verified.fetch_add(1, Ordering::Relaxed);
    }
    let mut response = Response::new(PatternBody::new(ex.body_bytes));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        "application/octet-stream".parse().expect("static header"),
    );
    if ex.close == Closer::Server && n == ex.requests {
        headers.insert(CONNECTION, "close".parse().expect("static header"));
    }
    if len != ex.upload_bytes {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// What the client received.
#[derive(Debug)]
pub struct ClientReport {
    pub bytes_down: u64,
    /// SHA-256 (hex) of all response bodies as received, in order.
    pub received_sha256: String,
    /// Every response said 200 OK.
    pub all_ok: bool,
    /// What TLS settled on; `None` for plain HTTP.
    pub tls: Option<Negotiated>,
    /// The client's transport numbers as the connection closed.
    pub info: Option<ConnectionInfo>,
}

/// Connects (and completes the TLS handshake when `tls` is given), sends the requests one
/// after another on one connection, and reads each response body to its end; then closes
/// the connection, first with `Closer::Client`, after the server otherwise.
pub async fn fetch(
    net: &Net,
    server: SocketAddr,
    ex: &Exchange,
    tls: Option<&Tls>,
) -> io::Result<ClientReport> {
    let stream = net.connect(server).await?;
    let probe = Probe::of(&stream);
    let Some(tls) = tls else {
        return fetch_on(stream, &server.to_string(), ex, probe).await;
    };
    let stream = tls
        .connector
        .connect(tls.server_name.clone(), stream)
        .await
        .map_err(explain_handshake_error)?;
    let negotiated = Negotiated::of(stream.get_ref().1);
    let name = tls.server_name.to_str();
    let name = match name.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => name.into_owned(),
    };
    // The default port needs no mention in Host (RFC 9110 §7.2).
    let host = match server.port() {
        443 => name,
        port => format!("{name}:{port}"),
    };
    let mut report = fetch_on(stream, &host, ex, probe).await?;
    report.tls = Some(negotiated);
    Ok(report)
}

async fn fetch_on<S: Stream>(
    stream: S,
    host: &str,
    ex: &Exchange,
    probe: Probe,
) -> io::Result<ClientReport> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    let conn = tokio::spawn(conn.without_shutdown());
    let mut received = Sha256::new();
    let (mut bytes_down, mut all_ok) = (0, true);
    for _ in 0..ex.requests {
        let builder = match ex.upload_bytes {
            0 => Request::get("/"),
            _ => Request::post("/upload").header(CONTENT_TYPE, "application/octet-stream"),
        };
        let request = builder
            .header(HOST, host)
            .body(PatternBody::new(ex.upload_bytes))
            .map_err(io::Error::other)?;
        sender.ready().await.map_err(io::Error::other)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        all_ok &= response.status() == StatusCode::OK;
        let (len, _) = drain(response.into_body(), |data| {
            received.update(data);
            ex.moved.fetch_add(data.len() as u64, Ordering::Relaxed);
        })
        .await
        .map_err(io::Error::other)?;
        bytes_down += len;
    }
    // Dropping the sender tells hyper no request follows: it hands the stream back.
    drop(sender);
    let parts = conn
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    let info = finish(parts.io.into_inner(), ex.close == Closer::Client, &probe).await?;
    Ok(ClientReport {
        bytes_down,
        received_sha256: hex(&received.finalize()),
        all_ok,
        tls: None,
        info,
    })
}

/// Reads a body to its end, handing each chunk to `each`; returns its length and SHA-256.
async fn drain<B>(mut body: B, mut each: impl FnMut(&[u8])) -> Result<(u64, String), B::Error>
where
    B: Body + Unpin,
    B::Data: AsRef<[u8]>,
{
    let (mut len, mut sha) = (0, Sha256::new());
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let data = data.as_ref();
            len += data.len() as u64;
            sha.update(data);
            each(data);
        }
    }
    Ok((len, hex(&sha.finalize())))
}
