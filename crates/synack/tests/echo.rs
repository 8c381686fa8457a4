//! Bytes written on one stack come back from the other: IPv4, IPv6, real and paused time.

mod common;

use std::io;
use std::net::SocketAddr;

use common::{Pair, within};
use synack::{Net, TcpListener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Echoes every connection the listener accepts until the peer's FIN, then closes.
async fn echo_server(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let (mut rd, mut wr) = tokio::io::split(&mut stream);
            tokio::io::copy(&mut rd, &mut wr).await?;
            stream.shutdown().await?;
            io::Result::Ok(())
        });
    }
}

async fn echo(client: &Net, server: SocketAddr, message: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = client.connect(server).await?;
    stream.write_all(message).await?;
    stream.shutdown().await?;
    let mut back = Vec::new();
    stream.read_to_end(&mut back).await?;
    Ok(back)
}

#[tokio::test(start_paused = true)]
async fn echo_over_ipv4() {
    let pair = Pair::v4();
    tokio::spawn(echo_server(
        pair.server.listen(pair.server_addr(7)).unwrap(),
    ));
    let back = within(
        60,
        echo(&pair.client, pair.server_addr(7), b"hello, synack"),
    )
    .await
    .unwrap();
    assert_eq!(back, b"hello, synack");
}

#[tokio::test(start_paused = true)]
async fn echo_over_ipv6() {
    let pair = Pair::v6();
    tokio::spawn(echo_server(
        pair.server.listen(pair.server_addr(7)).unwrap(),
    ));
    let back = within(
        60,
        echo(&pair.client, pair.server_addr(7), b"hello over v6"),
    )
    .await
    .unwrap();
    assert_eq!(back, b"hello over v6");
}

#[tokio::test]
async fn echo_in_real_time() {
    let pair = Pair::v4();
    tokio::spawn(echo_server(
        pair.server.listen(pair.server_addr(7)).unwrap(),
    ));
    let message = common::pattern(100_000);
    let back = within(20, echo(&pair.client, pair.server_addr(7), &message))
        .await
        .unwrap();
    assert!(back == message, "echo differs");
}

#[tokio::test(start_paused = true)]
async fn both_ends_know_the_addresses() {
    let pair = Pair::v4();
    let listener = pair.server.listen(pair.server_addr(7)).unwrap();
    assert_eq!(listener.local_addr(), pair.server_addr(7));
    let (client, accepted) = within(60, async {
        tokio::join!(pair.client.connect(pair.server_addr(7)), listener.accept())
    })
    .await;
    let (client, (server, peer)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.peer_addr(), pair.server_addr(7));
    assert_eq!(client.local_addr().ip(), pair.client_ip);
    assert_eq!(peer, client.local_addr());
    assert_eq!(server.peer_addr(), client.local_addr());
    assert_eq!(server.local_addr(), pair.server_addr(7));
}

#[tokio::test(start_paused = true)]
async fn many_connections_at_once() {
    let pair = Pair::v4();
    tokio::spawn(echo_server(
        pair.server.listen(pair.server_addr(7)).unwrap(),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (client, addr) = (pair.client.clone(), pair.server_addr(7));
        tasks.spawn(async move {
            let message = common::pattern(1000 * i + 1);
            (echo(&client, addr, &message).await, message)
        });
    }
    let results = within(60, tasks.join_all()).await;
    for (back, message) in results {
        assert!(back.unwrap() == message, "echo differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn echo_on_a_multi_thread_runtime() {
    let pair = Pair::v6();
    tokio::spawn(echo_server(
        pair.server.listen(pair.server_addr(7)).unwrap(),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (client, addr) = (pair.client.clone(), pair.server_addr(7));
        tasks.spawn(async move {
            let message = common::pattern(300_000 + i);
            (echo(&client, addr, &message).await, message)
        });
    }
    for (back, message) in within(30, tasks.join_all()).await {
        assert!(back.unwrap() == message, "echo differs");
    }
}
