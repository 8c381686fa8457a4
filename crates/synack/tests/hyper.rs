//! hyper 1.x, unchanged, over synack streams through `hyper_util::rt::TokioIo`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::{Pair, pattern, within};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use synack::{Net, TcpListener};

/// `GET /bytes/N` answers N pattern bytes; `POST /echo` answers the request body.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let body = match (req.method(), path.strip_prefix("/bytes/")) {
        (&Method::GET, Some(n)) => match n.parse() {
            Ok(n) => pattern(n),
            Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
        },
        (&Method::POST, None) if path == "/echo" => {
            req.into_body().collect().await?.to_bytes().to_vec()
        }
        _ => return Ok(status(StatusCode::NOT_FOUND)),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// Serves every connection with hyper's HTTP/1.1 server, counting them.
async fn serve(listener: TcpListener, accepted: Arc<AtomicUsize>) {
    while let Ok((stream, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle));
            conn.await
        });
    }
}

/// Opens an HTTP/1.1 client connection to `addr`.
async fn client(net: &Net, addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = net.connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn fetch(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> (StatusCode, Bytes) {
    sender.ready().await.unwrap();
    let response = sender.send_request(req).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "10.0.0.2")
        .body(Full::default())
        .unwrap()
}

/// A pair with a hyper server on port 80; returns the count of connections it accepted.
fn setup() -> (Pair, SocketAddr, Arc<AtomicUsize>) {
    let pair = Pair::v4();
    let addr = pair.server_addr(80);
    let accepted = Arc::new(AtomicUsize::new(0));
    tokio::spawn(serve(pair.server.listen(addr).unwrap(), accepted.clone()));
    (pair, addr, accepted)
}

#[tokio::test(start_paused = true)]
async fn get_returns_the_body() {
    let (pair, addr, _) = setup();
    let (status, body) = within(60, async {
        let mut sender = client(&pair.client, addr).await;
        fetch(&mut sender, get("/bytes/1024")).await
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == pattern(1024), "body differs");
}

#[tokio::test(start_paused = true)]
async fn post_sends_a_body_and_gets_it_back() {
    let (pair, addr, _) = setup();
    let upload = pattern(50_000);
    let (status, body) = within(60, async {
        let mut sender = client(&pair.client, addr).await;
        let req = Request::post("/echo")
            .header("host", "10.0.0.2")
            .body(Full::new(Bytes::from(upload.clone())));
        fetch(&mut sender, req.unwrap()).await
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == upload, "echoed body differs");
}

#[tokio::test(start_paused = true)]
async fn keep_alive_carries_several_requests_on_one_connection() {
    let (pair, addr, accepted) = setup();
    within(60, async {
        let mut sender = client(&pair.client, addr).await;
        for n in [0, 1, 1448, 1449, 100_000] {
            let (status, body) = fetch(&mut sender, get(&format!("/bytes/{n}"))).await;
            assert_eq!(status, StatusCode::OK);
            assert!(body == pattern(n), "body of {n} bytes differs");
        }
    })
    .await;
    assert_eq!(accepted.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn get_in_real_time() {
    let (pair, addr, _) = setup();
    let (status, body) = within(20, async {
        let mut sender = client(&pair.client, addr).await;
        fetch(&mut sender, get("/bytes/300000")).await
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == pattern(300_000), "body differs");
}
