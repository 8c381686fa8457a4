//! Large transfers arrive byte for byte.

mod common;

use std::io;

use common::{Pair, pattern, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEN_MB: usize = 10 * 1024 * 1024;

#[tokio::test(start_paused = true)]
async fn ten_megabytes_each_way_at_once() {
    let pair = Pair::v4();
    let listener = pair.server.listen(pair.server_addr(9)).unwrap();
    let data = pattern(TEN_MB);

    let server_data = data.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let send = async {
            wr.write_all(&server_data).await?;
            wr.shutdown().await
        };
        let mut got = Vec::with_capacity(TEN_MB);
        let (sent, read) = tokio::join!(send, rd.read_to_end(&mut got));
        sent?;
        read?;
        io::Result::Ok(got)
    });

    let client_got = within(600, async {
        let stream = pair.client.connect(pair.server_addr(9)).await?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let send = async {
            wr.write_all(&data).await?;
            wr.shutdown().await
        };
        let mut got = Vec::with_capacity(TEN_MB);
        let (sent, read) = tokio::join!(send, rd.read_to_end(&mut got));
        sent?;
        read?;
        io::Result::Ok(got)
    })
    .await
    .unwrap();
    let server_got = within(60, server).await.unwrap().unwrap();

    assert_eq!(client_got.len(), TEN_MB);
    assert!(client_got == data, "server to client differs");
    assert_eq!(server_got.len(), TEN_MB);
    assert!(server_got == data, "client to server differs");
    let counters = pair.client.counters();
    assert_eq!(
        counters.dropped_malformed + counters.dropped_bad_checksum,
        0
    );
}
