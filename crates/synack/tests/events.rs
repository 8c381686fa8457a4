//! The event sink sees each side's state changes, through to TIME-WAIT and CLOSED.

mod common;

use std::sync::Mutex;

use common::{Pair, within};
use synack_core::Event;
use synack_core::tcp::State;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Forwards the `to` state of every transition a stack reports.
fn states(net: &synack::Net) -> mpsc::UnboundedReceiver<State> {
    let (tx, rx) = mpsc::unbounded_channel();
    net.set_event_sink(move |event| {
        if let Event::StateChanged { to, .. } = event {
            let _ = tx.send(to);
        }
    });
    rx
}

async fn wait_for(rx: &mut mpsc::UnboundedReceiver<State>, state: State, seen: &Mutex<Vec<State>>) {
    while let Some(s) = rx.recv().await {
        seen.lock().unwrap().push(s);
        if s == state {
            return;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_closing_side_ends_in_time_wait_and_the_other_in_closed() {
    let pair = Pair::v4();
    let mut client_states = states(&pair.client);
    let mut server_states = states(&pair.server);
    let listener = pair.server.listen(pair.server_addr(80)).unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut sink = Vec::new();
        stream.read_to_end(&mut sink).await?;
        stream.shutdown().await
    });
    let mut stream = within(60, pair.client.connect(pair.server_addr(80)))
        .await
        .unwrap();
    stream.write_all(b"x").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within(60, stream.read_to_end(&mut rest)).await.unwrap();
    drop(stream);

    let (client_seen, server_seen) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    within(60, async {
        tokio::join!(
            wait_for(&mut client_states, State::TimeWait, &client_seen),
            wait_for(&mut server_states, State::Closed, &server_seen),
        )
    })
    .await;
    let client_seen = client_seen.into_inner().unwrap();
    assert!(client_seen.contains(&State::Established), "{client_seen:?}");
    assert_eq!(client_seen.last(), Some(&State::TimeWait));
    assert_eq!(
        server_seen.into_inner().unwrap().last(),
        Some(&State::Closed)
    );
}
