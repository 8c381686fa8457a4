//! Transfers over an impaired link still arrive byte for byte, and the impairment really
//! happened.

mod common;

use std::io;
use std::time::Duration;

use common::{config, pattern, within};
use synack::{Clock, Impaired, LinkConditions, MemoryLink, Net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `len` bytes each way between two stacks, the client's end impaired by `c` in both
/// directions; returns what each side received and the client end's counts.
async fn exchange(c: LinkConditions, len: usize, seed: u64) -> synack::ImpairedStats {
    let clock = Clock::new();
    let (a, b) = MemoryLink::pair(1500);
    let a = Impaired::new(a, clock, c, c, seed);
    let stats = a.stats_handle();
    let client = Net::new(config([10, 0, 0, 1].into(), seed), a, clock);
    let server = Net::new(config([10, 0, 0, 2].into(), seed + 1), b, clock);
    let listener = server.listen("10.0.0.2:9".parse().unwrap()).unwrap();
    let data = pattern(len);

    let server_data = data.clone();
    let serving = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let send = async {
            wr.write_all(&server_data).await?;
            wr.shutdown().await
        };
        let mut got = Vec::new();
        let (sent, read) = tokio::join!(send, rd.read_to_end(&mut got));
        sent?;
        read?;
        io::Result::Ok(got)
    });
    let client_got = within(3600, async {
        let stream = client.connect("10.0.0.2:9".parse().unwrap()).await?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let send = async {
            wr.write_all(&data).await?;
            wr.shutdown().await
        };
        let mut got = Vec::new();
        let (sent, read) = tokio::join!(send, rd.read_to_end(&mut got));
        sent?;
        read?;
        io::Result::Ok(got)
    })
    .await
    .unwrap();
    let server_got = within(600, serving).await.unwrap().unwrap();
    assert!(
        client_got == data,
        "server to client differs ({} B)",
        client_got.len()
    );
    assert!(
        server_got == data,
        "client to server differs ({} B)",
        server_got.len()
    );
    stats
}

#[tokio::test(start_paused = true)]
async fn everything_at_once_still_delivers() {
    let c = LinkConditions {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(2),
        loss: 0.02,
        reorder: 0.02,
        duplicate: 0.01,
        corrupt: 0.01,
        ..LinkConditions::default()
    };
    let stats = exchange(c, 300_000, 5).await;
    for s in [stats.egress(), stats.ingress()] {
        assert!(s.lost > 0 && s.reordered > 0, "{s:?}");
        assert!(s.duplicated > 0 && s.corrupted > 0, "{s:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_link_with_a_short_queue() {
    let c = LinkConditions {
        delay: Duration::from_millis(5),
        rate_bps: 10_000_000,
        queue_limit: 20,
        ..LinkConditions::default()
    };
    let stats = exchange(c, 500_000, 8).await;
    let out = stats.egress();
    assert!(
        out.queue_drops > 0,
        "slow start should overflow a 20-packet queue: {out:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn bursty_loss() {
    let c = LinkConditions {
        delay: Duration::from_millis(2),
        loss: 0.05,
        loss_burst: 4.0,
        ..LinkConditions::default()
    };
    let stats = exchange(c, 1_000_000, 13).await;
    let lost = stats.egress().lost + stats.ingress().lost;
    assert!(lost > 4, "lost {lost}");
}
