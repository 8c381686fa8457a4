//! Test support: a pair of stacks on a virtual wire, and a scripted peer for
//! packetdrill-style tests.
#![allow(dead_code)]

pub mod script;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use synack_core::impair::Impairment;
use synack_core::stack::{SocketHandle, StackConfig};
use synack_core::{Instant, Stack};

/// Client address used throughout the tests.
pub const CLIENT_V4: [u8; 4] = [10, 0, 0, 1];
pub const SERVER_V4: [u8; 4] = [10, 0, 0, 2];

pub fn config(addr: IpAddr, seed: u64) -> StackConfig {
    StackConfig {
        addrs: vec![addr],
        seed,
        ..StackConfig::default()
    }
}

/// Sees each packet put on the wire (towards the server?, bytes); false drops it.
pub type Filter = Box<dyn FnMut(bool, &mut Vec<u8>) -> bool>;

/// A packet in flight on the virtual wire.
pub struct InFlight {
    pub deliver_at: Instant,
    pub to_server: bool,
    pub data: Vec<u8>,
}

/// Two stacks joined by a wire with a fixed one-way delay; a test may edit `wire` (drop,
/// reorder, corrupt) between steps. Time jumps to the next event, so runs are exact replays.
pub struct Pair {
    pub client: Stack,
    pub server: Stack,
    pub now: Instant,
    pub delay: Duration,
    pub wire: VecDeque<InFlight>,
    /// Every packet that crossed, in order: (time, to_server, bytes).
    pub log: Vec<(Instant, bool, Vec<u8>)>,
    /// Called on every packet put on the wire; returns false to drop it.
    pub filter: Option<Filter>,
    /// When set, packets cross these impaired links (to the server, to the client) instead
    /// of the fixed-delay `wire`.
    pub links: Option<[Impairment; 2]>,
    /// Check both stacks' connection invariants (`Stack::check_invariants`) after every
    /// step, and panic on the first broken one.
    pub check_invariants: bool,
    buf: Vec<u8>,
}

impl Pair {
    pub fn new(client: StackConfig, server: StackConfig, delay: Duration) -> Pair {
        let now = Instant::ZERO;
        Pair {
            client: Stack::new(client, now),
            server: Stack::new(server, now),
            now,
            delay,
            wire: VecDeque::new(),
            log: Vec::new(),
            filter: None,
            links: None,
            check_invariants: false,
            buf: vec![0; 65536],
        }
    }

    pub fn v4(seed: u64) -> Pair {
        Pair::new(
            config(IpAddr::from(CLIENT_V4), seed),
            config(IpAddr::from(SERVER_V4), seed.wrapping_add(1)),
            Duration::from_millis(5),
        )
    }

    pub fn server_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.server.config().addrs[0], port)
    }

    /// Moves every packet both stacks want to send onto the wire.
    pub fn flush(&mut self) {
        for to_server in [true, false] {
            loop {
                let stack = if to_server {
                    &mut self.client
                } else {
                    &mut self.server
                };
                let Some(n) = stack.poll_transmit(self.now, &mut self.buf) else {
                    break;
                };
                let mut data = self.buf[..n].to_vec();
                if let Some(f) = self.filter.as_mut()
                    && !f(to_server, &mut data)
                {
                    continue;
                }
                self.log.push((self.now, to_server, data.clone()));
                if let Some(links) = self.links.as_mut() {
                    links[usize::from(!to_server)].send(self.now, &data);
                    continue;
                }
                self.wire.push_back(InFlight {
                    deliver_at: self.now + self.delay,
                    to_server,
                    data,
                });
            }
        }
    }

    /// Advances to the next event (a delivery or a timer) and processes it. Returns false when
    /// nothing at all is pending.
    pub fn step(&mut self) -> bool {
        self.flush();
        let next_delivery = self.wire.iter().map(|p| p.deliver_at).min();
        let next_timer = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let next_link = self
            .links
            .iter()
            .flatten()
            .filter_map(Impairment::poll_timeout)
            .min();
        let Some(next) = [next_delivery, next_timer, next_link]
            .into_iter()
            .flatten()
            .min()
        else {
            return false;
        };
        self.now = self.now.max(next);
        // Deliver everything due, in wire order.
        let mut i = 0;
        while i < self.wire.len() {
            if self.wire[i].deliver_at <= self.now {
                let p = self.wire.remove(i).unwrap();
                let stack = if p.to_server {
                    &mut self.server
                } else {
                    &mut self.client
                };
                stack.receive(self.now, &p.data);
            } else {
                i += 1;
            }
        }
        if let Some(links) = self.links.as_mut() {
            let mut packet = Vec::new();
            for (i, link) in links.iter_mut().enumerate() {
                let stack = if i == 0 {
                    &mut self.server
                } else {
                    &mut self.client
                };
                while link.poll(self.now, &mut packet) {
                    stack.receive(self.now, &packet);
                }
            }
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.flush();
        if self.check_invariants
            && let Err(e) = self.invariants()
        {
            trace(&self.log, self.log.len());
            panic!("at {:?}: {e}", self.now);
        }
        true
    }

    /// Both stacks' connection invariants; the first broken one, naming its side.
    pub fn invariants(&self) -> Result<(), String> {
        let client = self
            .client
            .check_invariants()
            .map_err(|v| format!("client {v}"));
        client.and(
            self.server
                .check_invariants()
                .map_err(|v| format!("server {v}")),
        )
    }

    /// Steps until `done` holds or virtual time passes `limit`.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
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

    /// Opens a connection: client connects, server listens and accepts (within two minutes of
    /// virtual time: on a bad wire SYNs and SYN-ACKs may be lost several times).
    pub fn connect(&mut self, port: u16) -> (SocketHandle, SocketHandle) {
        let listener = self.server.listen(self.server_addr(port), 16).unwrap();
        let client = self
            .client
            .connect(self.now, self.server_addr(port), None)
            .unwrap();
        let mut server = None;
        assert!(self.run_until(Duration::from_secs(120), |p| {
            if server.is_none() {
                server = p.server.accept(listener).ok();
            }
            server.is_some() && p.client.readiness(client).connected
        }));
        (client, server.unwrap())
    }
}

/// With `SYNACK_SIM_TRACE` set, prints the 60 packets of the log before index `end`
/// (with a few after it, if any), decoded.
pub fn trace(log: &[(Instant, bool, Vec<u8>)], end: usize) {
    if std::env::var_os("SYNACK_SIM_TRACE").is_none() {
        return;
    }
    let end = end.min(log.len());
    let shown = &log[end.saturating_sub(60)..(end + 5).min(log.len())];
    for (at, to_server, pkt) in shown {
        let Ok((ip, payload)) = synack_core::wire::parse_ip(pkt) else {
            continue;
        };
        let Ok((t, data)) = synack_core::wire::TcpRepr::parse(payload, ip.src, ip.dst, true) else {
            continue;
        };
        eprintln!(
            "{at:?} {} [{:?}] seq={} ack={} win={} len={} sack={:?}",
            if *to_server { "C->S" } else { "S->C" },
            t.flags,
            t.seq,
            t.ack,
            t.window,
            data.len(),
            t.options.sack_blocks()
        );
    }
}
