//! `shutdown` half-closes: our FIN goes out, and reading goes on until the peer's.

mod common;

use std::io;

use common::{Pair, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(start_paused = true)]
async fn server_replies_after_the_clients_fin() {
    let pair = Pair::v4();
    let listener = pair.server.listen(pair.server_addr(80)).unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await?; // ends at the client's FIN
        stream
            .write_all(format!("got {} bytes", request.len()).as_bytes())
            .await?;
        stream.shutdown().await?;
        io::Result::Ok(request)
    });

    let reply = within(60, async {
        let mut stream = pair.client.connect(pair.server_addr(80)).await?;
        stream.write_all(b"request, then FIN").await?;
        stream.shutdown().await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        io::Result::Ok(reply)
    })
    .await
    .unwrap();

    assert_eq!(reply, "got 17 bytes");
    assert_eq!(server.await.unwrap().unwrap(), b"request, then FIN");
}

#[tokio::test(start_paused = true)]
async fn writing_after_shutdown_is_a_broken_pipe() {
    let pair = Pair::v4();
    let listener = pair.server.listen(pair.server_addr(80)).unwrap();
    let _server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut sink = Vec::new();
        stream.read_to_end(&mut sink).await
    });
    let mut stream = within(60, pair.client.connect(pair.server_addr(80)))
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    stream.shutdown().await.unwrap(); // a second shutdown is harmless, as with tokio
    let err = stream.write_all(b"too late").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

#[tokio::test(start_paused = true)]
async fn reading_after_the_peers_fin_is_eof_every_time() {
    let pair = Pair::v4();
    let listener = pair.server.listen(pair.server_addr(80)).unwrap();
    let _server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        stream.write_all(b"bye").await?;
        stream.shutdown().await?;
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await
    });
    let mut stream = within(60, pair.client.connect(pair.server_addr(80)))
        .await
        .unwrap();
    let mut got = Vec::new();
    within(60, stream.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"bye");
    assert_eq!(stream.read(&mut [0; 8]).await.unwrap(), 0);
    // Our side is still open: writing works until we shut down too.
    stream.write_all(b"still here").await.unwrap();
}
