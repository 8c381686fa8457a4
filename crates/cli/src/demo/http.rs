//! The HTTP ends of the demo: a hyper server and a hyper client, unchanged, on synack streams.

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
use synack::{Net, TcpListener};

use super::body::{PatternBody, hex, pattern_sha256};
use crate::cli::Closer;

/// What both ends agree on before they start.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub requests: u32,
    pub body_bytes: u64,
    pub upload_bytes: u64,
    pub close: Closer,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct ServerReport {
    served: AtomicU32,
    uploads_verified: AtomicU32,
    bytes_up: AtomicU64,
    /// Every upload received, in order.
    received: Mutex<Sha256>,
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

    /// SHA-256 (hex) of all uploads as received.
    pub fn received_sha256(&self) -> String {
        let hasher = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        hex(&hasher.clone().finalize())
    }
}

/// Serves one connection with hyper's HTTP/1.1 server.
pub async fn serve(
    listener: TcpListener,
    ex: Exchange,
    report: Arc<ServerReport>,
) -> io::Result<()> {
    let (stream, _peer) = listener.accept().await?;
    // One connection only: later SYNs are refused.
    drop(listener);
    let expected_upload = pattern_sha256(ex.upload_bytes, 1);
    let service = service_fn(move |req| {
        let (ex, report, expected) = (ex.clone(), report.clone(), expected_upload.clone());
        async move { respond(req, &ex, &report, &expected).await }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
        .map_err(io::Error::other)
}

/// Verifies the upload, then answers with the pattern body; the last response of a
/// server-closed exchange says `Connection: close`, so hyper closes after sending it.
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
}

/// Connects, sends the requests one after another on one connection, and reads each
/// response body to its end; with `Closer::Client`, closes the connection afterwards.
pub async fn fetch(net: &Net, server: SocketAddr, ex: &Exchange) -> io::Result<ClientReport> {
    let stream = net.connect(server).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    let conn = tokio::spawn(conn);
    let host = server.to_string();
    let mut received = Sha256::new();
    let (mut bytes_down, mut all_ok) = (0, true);
    for _ in 0..ex.requests {
        let builder = match ex.upload_bytes {
            0 => Request::get("/"),
            _ => Request::post("/upload").header(CONTENT_TYPE, "application/octet-stream"),
        };
        let request = builder
            .header(HOST, &host)
            .body(PatternBody::new(ex.upload_bytes))
            .map_err(io::Error::other)?;
        sender.ready().await.map_err(io::Error::other)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        all_ok &= response.status() == StatusCode::OK;
        let (len, _) = drain(response.into_body(), |data| received.update(data))
            .await
            .map_err(io::Error::other)?;
        bytes_down += len;
    }
    // Dropping the sender tells hyper no request follows: it shuts the connection down
    // (our FIN) unless the server closed it first.
    drop(sender);
    conn.await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    Ok(ClientReport {
        bytes_down,
        received_sha256: hex(&received.finalize()),
        all_ok,
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
