//! A small, realistic HTTP exchange with state changes, shared by the ladder and JSON tests.

use synack_core::tcp::State;
use synack_trace::{Side, Summary, Trace};

use super::{GET, Script, response};

/// GET / answered by 2000 body bytes over two segments, the client closing; each side's
/// state changes reported as a stack would, 10 µs of link delay each way.
pub fn http_exchange() -> Trace {
    let mut s = Script::new(1_000_000, 2_000_000);
    let (c, srv) = (s.client, s.server);
    let state = |s: &mut Script, t_us: u64, side: Side, from: State, to: State| {
        let (local, remote) = if side == Side::Client {
            (c, srv)
        } else {
            (srv, c)
        };
        s.rec.state_change(t_us * 1000, local, remote, from, to);
    };
    use Side::{Client, Server};
    use State::*;
    state(&mut s, 0, Client, Closed, SynSent);
    s.syn(0);
    state(&mut s, 10, Server, Listen, SynReceived);
    s.syn_ack(21);
    state(&mut s, 31, Client, SynSent, Established);
    s.ack(31, Client);
    state(&mut s, 41, Server, SynReceived, Established);
    s.data(52, Client, GET);
    s.ack(62, Server);
    let res = response(2000);
    s.data(95, Server, &res[..1448]);
    s.data(96, Server, &res[1448..]);
    s.ack(106, Client);
    state(&mut s, 130, Client, Established, FinWait1);
    s.fin(130, Client);
    state(&mut s, 140, Server, Established, CloseWait);
    s.ack(140, Server);
    state(&mut s, 150, Client, FinWait1, FinWait2);
    state(&mut s, 160, Server, CloseWait, LastAck);
    s.fin(160, Server);
    state(&mut s, 170, Client, FinWait2, TimeWait);
    s.ack(170, Client);
    state(&mut s, 180, Server, LastAck, Closed);
    s.finish()
}

/// What the demo would report for that exchange.
pub fn summary(trace: &Trace) -> Summary {
    let hash = "3f1a7c0d5e2b4a6f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0ae9".to_owned();
    Summary {
        requests: 1,
        bytes_down: 2000,
        bytes_up: 0,
        sha256_sent: hash.clone(),
        sha256_received: hash,
        verified: true,
        segments: trace.segments() as u64,
        retransmissions: trace.retransmissions() as u64,
    }
}
