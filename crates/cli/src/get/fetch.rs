//! One HTTP/1.1 exchange on an open stream (TLS first when asked): the request, the response
//! body saved or hashed as it streams, the times each step finished, then a clean close.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT, CONTENT_LENGTH, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::demo::body::hex;
use crate::demo::tls::Negotiated;
use crate::serve::files::FileBody;

/// How long each side of the close may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// What to ask.
pub struct Ask {
    pub method: Method,
    /// Host header value.
    pub host: String,
    /// Path and query.
    pub target: String,
    pub data_file: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

/// What came back, and when each step finished.
#[derive(Debug, Default)]
pub struct Fetched {
    /// "HTTP/1.1 200 OK".
    pub status_line: String,
    pub success: bool,
    pub bytes_down: u64,
    pub sha256: String,
    pub bytes_up: u64,
    pub upload_sha256: String,
    pub tls: Option<Negotiated>,
    pub tls_done: Option<Instant>,
    pub request_sent: Option<Instant>,
    pub first_byte: Option<Instant>,
    pub done: Option<Instant>,
    /// How the close went, when not cleanly (e.g. no close_notify).
    pub close_note: Option<String>,
}

/// Anything HTTP runs over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// Runs the exchange on `stream`, after a TLS handshake when `tls` is given.
pub async fn exchange<S: Stream>(
    stream: S,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    ask: &Ask,
) -> io::Result<Fetched> {
    let Some((connector, name)) = tls else {
        return http(stream, ask, Fetched::default()).await;
    };
    let stream = connector.connect(name, stream).await.map_err(explain)?;
    let fetched = Fetched {
        tls: Some(Negotiated::of(stream.get_ref().1)),
        tls_done: Some(Instant::now()),
        ..Fetched::default()
    };
    http(stream, ask, fetched).await
}

/// A certificate problem says what to do about it.
fn explain(e: io::Error) -> io::Error {
    let bad_cert = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
    if bad_cert {
        io::Error::new(
            e.kind(),
            format!("TLS handshake failed: {e} (give --cacert FILE, or --insecure)"),
        )
    } else {
        io::Error::new(e.kind(), format!("TLS handshake failed: {e}"))
    }
}

async fn http<S: Stream>(stream: S, ask: &Ask, mut fetched: Fetched) -> io::Result<Fetched> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    let conn = tokio::spawn(conn.without_shutdown());
    let (body, up_len): (BoxBody<Bytes, io::Error>, u64) = match &ask.data_file {
        Some(path) => {
            let file = FileBody::open(path).await.map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })?;
            let len = hyper::body::Body::size_hint(&file).exact().unwrap_or(0);
            (file.boxed(), len)
        }
        None => (Empty::new().map_err(|never| match never {}).boxed(), 0),
    };
    let mut request = Request::builder()
        .method(ask.method.clone())
        .uri(&ask.target)
        .header(HOST, &ask.host)
        .header(USER_AGENT, concat!("synack/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT, "*/*");
    if ask.data_file.is_some() {
        request = request.header(CONTENT_LENGTH, up_len);
    }
    let request = request.body(body).map_err(io::Error::other)?;
    fetched.bytes_up = up_len;
    if let Some(path) = &ask.data_file {
        fetched.upload_sha256 = file_sha256(path).await?;
    }
    sender.ready().await.map_err(io::Error::other)?;
    fetched.request_sent = Some(Instant::now());
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    fetched.first_byte = Some(Instant::now());
    let status = response.status();
    fetched.status_line = format!(
        "{:?} {} {}",
        response.version(),
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    fetched.success = status.is_success();
    let mut out = match &ask.output {
        Some(path) => Some(tokio::fs::File::create(path).await.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })?),
        None => None,
    };
    let mut body = response.into_body();
    let mut sha = Sha256::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(io::Error::other)?;
        if let Ok(data) = frame.into_data() {
            fetched.bytes_down += data.len() as u64;
            sha.update(&data);
            if let Some(file) = out.as_mut() {
                file.write_all(&data).await?;
            }
        }
    }
    if let Some(mut file) = out {
        file.flush().await?;
    }
    fetched.done = Some(Instant::now());
    fetched.sha256 = hex(&sha.finalize());
    // No more requests: hyper hands the stream back, and we close it ourselves so TLS's
    // close_notify goes before TCP's FIN. The server may have closed first already.
    drop(sender);
    let parts = conn.await.map_err(io::Error::other)?;
    match parts {
        Ok(parts) => fetched.close_note = close(parts.io.into_inner()).await.err(),
        Err(e) => fetched.close_note = Some(format!("the connection ended with: {e}")),
    }
    Ok(fetched)
}

/// Shuts our side down and reads until the peer's close; a problem is returned as a note.
async fn close<S: Stream>(mut stream: S) -> Result<(), String> {
    let shut = tokio::time::timeout(CLOSE_TIMEOUT, stream.shutdown()).await;
    match shut {
        Err(_) => return Err("our close did not finish in time".into()),
        // The server may have closed (or reset) first.
        Ok(Err(e)) => return Err(format!("closing: {e}")),
        Ok(Ok(())) => {}
    }
    let mut buf = vec![0; 16 * 1024];
    let drain = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(format!("waiting for the server's close: {e}")),
            }
        }
    };
    match tokio::time::timeout(CLOSE_TIMEOUT, drain).await {
        Ok(result) => result,
        Err(_) => Err("the server did not close in time".into()),
    }
}

/// SHA-256 of a file, read in chunks.
async fn file_sha256(path: &std::path::Path) -> io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut sha = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(hex(&sha.finalize()));
        }
        sha.update(&buf[..n]);
    }
}
