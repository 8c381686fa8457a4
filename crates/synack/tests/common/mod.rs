//! Two stacks joined by a memory link, the fixture every runtime test starts from.
#![allow(dead_code)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use synack::{Clock, MemoryLink, Net};
use synack_core::StackConfig;

/// A client and a server stack on the two ends of one in-memory link.
pub struct Pair {
    pub client: Net,
    pub server: Net,
    pub client_ip: IpAddr,
    pub server_ip: IpAddr,
}

impl Pair {
    /// `10.0.0.1` ⇄ `10.0.0.2`.
    pub fn v4() -> Pair {
        Pair::new([10, 0, 0, 1].into(), [10, 0, 0, 2].into())
    }

    /// `fd00::1` ⇄ `fd00::2`.
    pub fn v6() -> Pair {
        let ip = |last| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, last]);
        Pair::new(ip(1), ip(2))
    }

    fn new(client_ip: IpAddr, server_ip: IpAddr) -> Pair {
        let clock = Clock::new();
        let (a, b) = MemoryLink::pair(1500);
        Pair {
            client: Net::new(config(client_ip, 1), a, clock),
            server: Net::new(config(server_ip, 2), b, clock),
            client_ip,
            server_ip,
        }
    }

    /// The server's address at `port`.
    pub fn server_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.server_ip, port)
    }
}

pub fn config(ip: IpAddr, seed: u64) -> StackConfig {
    StackConfig {
        addrs: vec![ip],
        seed,
        ..StackConfig::default()
    }
}

/// The test pattern: byte `i` is `i mod 251` (a prime, so it never lines up with segments).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Runs `fut`, failing the test if it takes longer than `secs` (virtual time under
/// `start_paused`, where a stalled test reaches the limit at once).
pub async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("test did not finish within {secs} s"),
    }
}
