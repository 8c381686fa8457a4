//! The in-memory link every in-process benchmark uses, a wall clock in both stacks' time
//! types, and two synack stacks joined by that link.
//!
//! Both synack and smoltcp move their packets through the same [`PacketQueue`], so the link
//! costs them the same: one write of each packet into a recycled buffer, one read out of it.

use std::collections::VecDeque;
use std::net::SocketAddr;

use synack_core::tcp::TcpConfig;
use synack_core::{Stack, StackConfig};

/// The client's address on the link.
pub const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
/// The server's address on the link.
pub const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
/// The port the server listens on.
pub const SERVER_PORT: u16 = 5001;

/// The server's socket address.
pub fn server_addr() -> SocketAddr {
    SocketAddr::from((SERVER_IP, SERVER_PORT))
}

/// One direction of the link: packets in order, in buffers that are reused, so that moving a
/// packet allocates nothing once the queue has warmed up.
pub struct PacketQueue {
    packets: VecDeque<(Box<[u8]>, usize)>,
    spare: Vec<Box<[u8]>>,
    mtu: usize,
}

impl PacketQueue {
    /// An empty queue for packets of up to `mtu` bytes.
    pub fn new(mtu: usize) -> PacketQueue {
        PacketQueue {
            packets: VecDeque::new(),
            spare: Vec::new(),
            mtu,
        }
    }

    /// Whether no packet waits.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Lets `fill` write one packet of at most `len` bytes into a buffer and queues the first
    /// bytes it reports written (nothing when it reports 0).
    pub fn push<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        let size = len.max(self.mtu);
        let mut buf = match self.spare.pop() {
            Some(b) if b.len() >= len => b,
            _ => vec![0; size].into_boxed_slice(),
        };
        let (written, result) = fill(&mut buf[..len]);
        if written > 0 {
            self.packets.push_back((buf, written.min(len)));
        } else {
            self.spare.push(buf);
        }
        result
    }

    /// Hands the oldest packet to `read` and recycles its buffer; `None` when empty.
    pub fn pop<R>(&mut self, read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        (!self.packets.is_empty()).then(|| self.take(read))
    }

    /// Hands the oldest packet to `read` (an empty one when none waits) and recycles its
    /// buffer.
    pub fn take<R>(&mut self, read: impl FnOnce(&[u8]) -> R) -> R {
        let Some((buf, len)) = self.packets.pop_front() else {
            return read(&[]);
        };
        let result = read(&buf[..len]);
        self.spare.push(buf);
        result
    }
}

/// Real time since a start, in the time types of synack and smoltcp.
pub struct WallClock {
    start: std::time::Instant,
}

impl WallClock {
    /// A clock reading zero now.
    pub fn start() -> WallClock {
        WallClock {
            start: std::time::Instant::now(),
        }
    }

    /// Seconds since the start.
    pub fn secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Now, as synack's time.
    pub fn synack(&self) -> synack_core::Instant {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        synack_core::Instant::from_nanos(nanos)
    }

    /// Now, as smoltcp's time (microseconds).
    pub fn smoltcp(&self) -> smoltcp::time::Instant {
        let micros = i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX);
        smoltcp::time::Instant::from_micros(micros)
    }
}

/// A client and a server synack stack joined by two [`PacketQueue`]s, driven by hand: the
/// sans-IO core with nothing in between.
pub struct SynackPair {
    /// The stack that connects.
    pub client: Stack,
    /// The stack that listens.
    pub server: Stack,
    to_server: PacketQueue,
    to_client: PacketQueue,
}

impl SynackPair {
    /// Two stacks with this MTU and TCP configuration, trace events off.
    pub fn new(mtu: usize, tcp: TcpConfig, now: synack_core::Instant) -> SynackPair {
        let config = |ip: [u8; 4], seed| StackConfig {
            addrs: vec![ip.into()],
            mtu,
            seed,
            record_events: false,
            tcp: tcp.clone(),
            ..StackConfig::default()
        };
        SynackPair {
            client: Stack::new(config(CLIENT_IP, 1), now),
            server: Stack::new(config(SERVER_IP, 2), now),
            to_server: PacketQueue::new(mtu),
            to_client: PacketQueue::new(mtu),
        }
    }

    /// The client's turn: it takes in what arrived, then sends what it can.
    pub fn client_io(&mut self, now: synack_core::Instant) {
        io(
            &mut self.client,
            &mut self.to_client,
            &mut self.to_server,
            now,
        );
    }

    /// The server's turn: it takes in what arrived, then sends what it can.
    pub fn server_io(&mut self, now: synack_core::Instant) {
        io(
            &mut self.server,
            &mut self.to_server,
            &mut self.to_client,
            now,
        );
    }

    /// Whether a packet is still on its way in either direction.
    pub fn in_flight(&self) -> bool {
        !self.to_server.is_empty() || !self.to_client.is_empty()
    }

    /// Fires the timers that are due.
    pub fn timers(&mut self, now: synack_core::Instant) {
        for stack in [&mut self.client, &mut self.server] {
            if stack.poll_timeout().is_some_and(|t| t <= now) {
                stack.handle_timeout(now);
            }
        }
    }
}

/// One stack's turn on the link: every waiting packet in, then every packet it has out, then
/// the readiness changes (nobody waits on them here, but a driver drains them).
fn io(
    stack: &mut Stack,
    inbox: &mut PacketQueue,
    outbox: &mut PacketQueue,
    now: synack_core::Instant,
) {
    while inbox.pop(|packet| stack.receive(now, packet)).is_some() {}
    let mtu = stack.mtu();
    while outbox.push(mtu, |buf| match stack.poll_transmit(now, buf) {
        Some(n) => (n, true),
        None => (0, false),
    }) {}
    // The stack's outputs are all polled, as its contract asks of a driver: readiness
    // changes left unread would pile up for the whole run (no task here waits on them).
    while stack.poll_ready().is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_come_out_in_order_and_buffers_are_reused() {
        let mut q = PacketQueue::new(1500);
        for b in [1u8, 2, 3] {
            q.push(1500, |buf| {
                buf[..b as usize].fill(b);
                (b as usize, ())
            });
        }
        // A fill that writes nothing queues nothing.
        q.push(1500, |_| (0, ()));
        let mut seen = Vec::new();
        while let Some(p) = q.pop(<[u8]>::to_vec) {
            seen.push(p);
        }
        assert_eq!(seen, vec![vec![1], vec![2, 2], vec![3, 3, 3]]);
        assert_eq!(q.spare.len(), 4);
    }
}
