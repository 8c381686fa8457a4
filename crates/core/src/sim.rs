//! Two stacks joined by impaired links, in virtual time.
//!
//! A [`Network`] jumps from one event (a packet coming due, a timer) to the next, so a
//! transfer that would take a minute on a 10 Mbit/s link runs in milliseconds, and the same
//! seeds give the same packets every time. Test harnesses, simulations and the benchmarks
//! measure goodput, recovery and fairness here without a clock's noise.

use core::time::Duration;
use std::net::SocketAddr;

use crate::impair::{Impairment, ImpairmentStats, LinkConditions};
use crate::stack::{ConnectionInfo, SocketError, SocketHandle, Stack, StackConfig};
use crate::tcp::State;
use crate::time::Instant;

/// Sees every packet a stack sends, before the link: (time, towards the server, bytes).
type Tap = Box<dyn FnMut(Instant, bool, &[u8])>;

/// A client stack and a server stack, each direction of the link with its own conditions.
pub struct Network {
    /// The stack that connects.
    pub client: Stack,
    /// The stack that listens.
    pub server: Stack,
    /// Towards the server, towards the client.
    links: [Impairment; 2],
    now: Instant,
    tap: Option<Tap>,
    buf: Vec<u8>,
    packet: Vec<u8>,
}

impl Network {
    /// Two stacks, the links' random choices drawn from `seed`.
    pub fn new(
        client: StackConfig,
        server: StackConfig,
        to_server: LinkConditions,
        to_client: LinkConditions,
        seed: u64,
    ) -> Network {
        let now = Instant::ZERO;
        Network {
            client: Stack::new(client, now),
            server: Stack::new(server, now),
            links: [
                Impairment::new(to_server, seed),
                Impairment::new(to_client, seed ^ 0x9e37_79b9_7f4a_7c15),
            ],
            now,
            tap: None,
            buf: vec![0; 65_536],
            packet: Vec::new(),
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Shows every packet sent, before the link acts on it.
    pub fn set_tap(&mut self, tap: impl FnMut(Instant, bool, &[u8]) + 'static) {
        self.tap = Some(Box::new(tap));
    }

    /// What the links did: towards the server, towards the client.
    pub fn link_stats(&self) -> [ImpairmentStats; 2] {
        [self.links[0].stats(), self.links[1].stats()]
    }

    /// Moves everything both stacks want to send into the links.
    pub fn flush(&mut self) {
        for (i, link) in self.links.iter_mut().enumerate() {
            let stack = if i == 0 {
                &mut self.client
            } else {
                &mut self.server
            };
            while let Some(n) = stack.poll_transmit(self.now, &mut self.buf) {
                if let Some(tap) = self.tap.as_mut() {
                    tap(self.now, i == 0, &self.buf[..n]);
                }
                link.send(self.now, &self.buf[..n]);
            }
        }
    }

    /// Advances to the next event and processes everything due then. Returns false when
    /// nothing at all is pending.
    pub fn step(&mut self) -> bool {
        self.flush();
        let links = self.links.iter().filter_map(Impairment::poll_timeout);
        let timers = [self.client.poll_timeout(), self.server.poll_timeout()];
        let Some(next) = links.chain(timers.into_iter().flatten()).min() else {
            return false;
        };
        self.now = self.now.max(next);
        for (i, link) in self.links.iter_mut().enumerate() {
            let stack = if i == 0 {
                &mut self.server
            } else {
                &mut self.client
            };
            while link.poll(self.now, &mut self.packet) {
                stack.receive(self.now, &self.packet);
            }
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.flush();
        true
    }

    /// Steps until `done` holds or `limit` of virtual time has passed; returns `done`'s
    /// last answer.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Network) -> bool,
    ) -> bool {
        let deadline = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.now > deadline || !self.step() {
                return done(self);
            }
        }
    }
}

/// What a bulk transfer achieved.
#[derive(Debug, Clone)]
pub struct BulkReport {
    /// Bytes delivered to the server's application, in order and verified.
    pub bytes: u64,
    /// From the client's SYN to the server reading the last byte.
    pub elapsed: Duration,
    /// `bytes` over `elapsed`, in bits per second.
    pub goodput_bps: f64,
    /// The rate once the transfer is under way: the last 90% of the bytes over the time
    /// they took, so the handshake and slow start's ramp are left out (in bits per second).
    pub steady_goodput_bps: f64,
    /// The client's connection as the transfer ended (retransmissions, cwnd, RTT).
    pub sender: Option<ConnectionInfo>,
    /// What the links did: towards the server, towards the client.
    pub links: [ImpairmentStats; 2],
}

/// Byte `i` of a bulk transfer: `i mod 251`, a prime, so it never lines up with segments.
fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// Sends `bytes` from the client to a server listening on `server`, verifying every byte,
/// then closes both ways. Fails with a description when a byte differs, a socket fails, or
/// the transfer does not finish within `limit` of virtual time.
pub fn bulk(
    net: &mut Network,
    server: SocketAddr,
    bytes: u64,
    limit: Duration,
) -> Result<BulkReport, String> {
    let listener = net
        .server
        .listen(server, 16)
        .map_err(|e| format!("listen on {server}: {e}"))?;
    let start = net.now();
    let client = net
        .client
        .connect(start, server, None)
        .map_err(|e| format!("connect to {server}: {e}"))?;
    let mut accepted: Option<SocketHandle> = None;
    let (mut sent, mut received) = (0u64, 0u64);
    let (mut client_shut, mut server_shut) = (false, false);
    let mut finished_at = None;
    // When the first tenth had arrived: the steady rate is measured from there.
    let tenth = bytes / 10;
    let mut tenth_at = None;
    let mut chunk = vec![0u8; 64 * 1024];
    // The pattern repeats every 251 bytes: one buffer serves every offset.
    let pattern: Vec<u8> = (0..64 * 1024 + 251).map(pattern_byte).collect();
    let mut failure = None;
    let done = net.run_until(limit, |net| {
        let now = net.now();
        // The client writes the pattern as fast as the stack takes it, then shuts down.
        while sent < bytes {
            let n = (bytes - sent).min(64 * 1024) as usize;
            let from = (sent % 251) as usize;
            match net.client.send(now, client, &pattern[from..from + n]) {
                Ok(0) | Err(SocketError::WouldBlock) => break,
                Ok(k) => sent += k as u64,
                Err(e) => {
                    failure = Some(format!("client send: {e}"));
                    return true;
                }
            }
        }
        if sent == bytes && !client_shut && net.client.shutdown(now, client).is_ok() {
            client_shut = true;
        }
        if accepted.is_none() {
            accepted = net.server.accept(listener).ok();
        }
        if let Some(s) = accepted {
            loop {
                match net.server.recv(now, s, &mut chunk) {
                    Ok(0) => {
                        if !server_shut {
                            let _ = net.server.shutdown(now, s);
                            net.server.close(now, s);
                            server_shut = true;
                        }
                        break;
                    }
                    Ok(n) => {
                        let from = (received % 251) as usize;
                        // One comparison of slices (memcmp); the byte is found only on failure.
                        let expected = &pattern[from..from + n];
                        let bad = (chunk[..n] != *expected)
                            .then(|| (0..n).find(|&k| chunk[k] != expected[k]))
                            .flatten();
                        if let Some(k) = bad {
                            failure = Some(format!("byte {} differs", received + k as u64));
                            return true;
                        }
                        received += n as u64;
                        if received >= tenth {
                            tenth_at.get_or_insert((now, received));
                        }
                        if received == bytes {
                            finished_at.get_or_insert(now);
                        }
                    }
                    Err(SocketError::WouldBlock) => break,
                    Err(e) => {
                        failure = Some(format!("server recv: {e}"));
                        return true;
                    }
                }
            }
        }
        let client_done = net
            .client
            .state(client)
            .is_none_or(|s| matches!(s, State::TimeWait | State::Closed));
        server_shut && client_done
    });
    if let Some(f) = failure {
        return Err(f);
    }
    if !done {
        return Err(format!(
            "not finished after {limit:?}: {sent} B sent, {received} B received"
        ));
    }
    let sender = net.client.info(client);
    net.client.close(net.now(), client);
    let end = finished_at.unwrap_or(net.now());
    let elapsed = end - start;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let (from, before) = tenth_at.unwrap_or((start, 0));
    let steady_secs = (end - from).as_secs_f64().max(1e-9);
    Ok(BulkReport {
        bytes: received,
        elapsed,
        goodput_bps: received as f64 * 8.0 / secs,
        steady_goodput_bps: (received - before) as f64 * 8.0 / steady_secs,
        sender,
        links: net.link_stats(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs() -> (StackConfig, StackConfig) {
        let config = |ip: [u8; 4], seed| StackConfig {
            addrs: vec![ip.into()],
            seed,
            ..StackConfig::default()
        };
        (config([10, 0, 0, 1], 1), config([10, 0, 0, 2], 2))
    }

    #[test]
    fn a_slow_link_limits_goodput_to_its_rate() {
        let (c, s) = configs();
        let link = LinkConditions {
            delay: Duration::from_millis(5),
            rate_bps: 10_000_000,
            queue_limit: 100,
            ..LinkConditions::default()
        };
        let mut net = Network::new(c, s, link, link, 7);
        let server = "10.0.0.2:5001".parse().unwrap();
        let r = bulk(&mut net, server, 2_000_000, Duration::from_secs(60)).unwrap();
        assert_eq!(r.bytes, 2_000_000);
        // Headers and slow start keep it below the rate; the rate bounds it above.
        assert!(r.goodput_bps < 10_000_000.0, "{r:?}");
        assert!(r.goodput_bps > 5_000_000.0, "{r:?}");
        // Past slow start the link is full: faster than the average, never above the rate.
        assert!(r.steady_goodput_bps > r.goodput_bps, "{r:?}");
        assert!(r.steady_goodput_bps < 10_000_000.0, "{r:?}");
    }

    #[test]
    fn loss_is_recovered_and_replays_exactly() {
        let run = || {
            let (c, s) = configs();
            let link = LinkConditions {
                delay: Duration::from_millis(10),
                loss: 0.02,
                ..LinkConditions::default()
            };
            let mut net = Network::new(c, s, link, link, 3);
            let server = "10.0.0.2:5001".parse().unwrap();
            bulk(&mut net, server, 1_000_000, Duration::from_secs(600)).unwrap()
        };
        let (a, b) = (run(), run());
        assert_eq!(a.bytes, 1_000_000);
        assert!(a.links[0].lost > 0);
        assert!(a.sender.as_ref().unwrap().retransmitted_segments > 0);
        assert_eq!(a.elapsed, b.elapsed);
    }
}
