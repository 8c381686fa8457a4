//! Failed opens: a RST from a closed port, silence from an address nobody has.

mod common;

use std::io;
use std::net::SocketAddr;

use common::{Pair, within};

#[tokio::test(start_paused = true)]
async fn connecting_to_a_closed_port_is_refused() {
    let pair = Pair::v4();
    let err = within(60, pair.client.connect(pair.server_addr(81)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[tokio::test(start_paused = true)]
async fn connecting_over_ipv6_to_a_closed_port_is_refused() {
    let pair = Pair::v6();
    let err = within(60, pair.client.connect(pair.server_addr(81)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_listener_refuses_new_connections() {
    let pair = Pair::v4();
    drop(pair.server.listen(pair.server_addr(80)).unwrap());
    let err = within(60, pair.client.connect(pair.server_addr(80)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[tokio::test(start_paused = true)]
async fn listening_twice_on_one_address_fails() {
    let pair = Pair::v4();
    let _first = pair.server.listen(pair.server_addr(80)).unwrap();
    let err = pair.server.listen(pair.server_addr(80)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[tokio::test(start_paused = true)]
async fn a_silent_address_times_out() {
    let pair = Pair::v4();
    // Nobody owns 10.0.0.3: the server stack drops the SYNs as not ours.
    let nobody: SocketAddr = "10.0.0.3:80".parse().unwrap();
    let err = within(3600, pair.client.connect(nobody)).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}
