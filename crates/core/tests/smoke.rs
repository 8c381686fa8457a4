mod support;

use std::time::Duration;

use support::Pair;
use synack_core::tcp::State;

#[test]
fn handshake_data_and_close() {
    let mut p = Pair::v4(1);
    let (c, s) = p.connect(80);
    assert_eq!(p.client.state(c), Some(State::Established));
    assert_eq!(p.server.state(s), Some(State::Established));
    let now = p.now;
    assert_eq!(p.client.send(now, c, b"hello").unwrap(), 5);
    let mut buf = [0u8; 64];
    assert!(p.run_until(Duration::from_secs(1), |p| p.server.readiness(s).readable));
    let n = p.server.recv(p.now, s, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    p.client.shutdown(p.now, c).unwrap();
    assert!(p.run_until(Duration::from_secs(1), |p| p.server.state(s)
        == Some(State::CloseWait)));
    assert_eq!(p.server.recv(p.now, s, &mut buf), Ok(0));
    p.server.close(p.now, s);
    assert!(p.run_until(Duration::from_secs(1), |p| p.client.state(c)
        == Some(State::TimeWait)));
    assert!(
        p.run_until(Duration::from_secs(1), |p| p.server.state(s).is_none()),
        "server's slot is reclaimed after LAST-ACK"
    );
    assert_eq!(p.client.state(c), Some(State::TimeWait));
}
