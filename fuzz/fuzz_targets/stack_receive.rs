//! Fuzzes `Stack::receive` with a listener and an established connection in place.
//!
//! Input format: a sequence of records `[mode, len_hi, len_lo, bytes...]`. `mode` picks what
//! the bytes become (see `Mode`), so most inputs reach TCP demultiplexing with valid addresses
//! and checksums instead of being dropped by `parse_ip`.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use synack_core::stack::{SocketHandle, StackConfig};
use synack_core::wire::{IpProtocol, IpRepr};
use synack_core::{Instant, Stack};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

struct World {
    client: Stack,
    server: Stack,
    now: Instant,
    c: SocketHandle,
    s: Option<SocketHandle>,
    listener: synack_core::stack::ListenerHandle,
    client_port: u16,
    buf: Vec<u8>,
}

impl World {
    fn new() -> World {
        let cfg = |a: Ipv4Addr, seed| StackConfig {
            addrs: vec![IpAddr::V4(a)],
            seed,
            ..StackConfig::default()
        };
        let now = Instant::ZERO;
        let mut client = Stack::new(cfg(CLIENT, 1), now);
        let mut server = Stack::new(cfg(SERVER, 2), now);
        let listener = server
            .listen(SocketAddr::new(SERVER.into(), 80), 4)
            .unwrap();
        let c = client
            .connect(now, SocketAddr::new(SERVER.into(), 80), None)
            .unwrap();
        let client_port = client.info(c).unwrap().local.port();
        let mut w = World {
            client,
            server,
            now,
            c,
            s: None,
            listener,
            client_port,
            buf: vec![0; 65536],
        };
        w.shuttle(16);
        w.s = w.server.accept(listener).ok();
        let _ = w.client.send(w.now, c, b"hello from the client");
        w.shuttle(8);
        w
    }

    /// Moves packets between the stacks (and runs due timers) a bounded number of rounds.
    fn shuttle(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let mut moved = false;
            for _ in 0..64 {
                let Some(n) = self.client.poll_transmit(self.now, &mut self.buf) else {
                    break;
                };
                let pkt = self.buf[..n].to_vec();
                self.server.receive(self.now, &pkt);
                moved = true;
            }
            for _ in 0..64 {
                let Some(n) = self.server.poll_transmit(self.now, &mut self.buf) else {
                    break;
                };
                let pkt = self.buf[..n].to_vec();
                self.client.receive(self.now, &pkt);
                moved = true;
            }
            while self.client.poll_ready().is_some() {}
            while self.server.poll_ready().is_some() {}
            while self.client.poll_event().is_some() {}
            while self.server.poll_event().is_some() {}
            if !moved {
                let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(t) if t > self.now => self.now = t,
                    Some(_) => {}
                    None => return,
                }
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
            }
        }
    }

    fn receive_checked(&mut self, to_server: bool, pkt: &[u8]) {
        let stack = if to_server {
            &mut self.server
        } else {
            &mut self.client
        };
        let before = stack.counters().clone();
        stack.receive(self.now, pkt);
        let after = stack.counters();
        assert_eq!(after.packets_in, before.packets_in + 1);
        let drops = |c: &synack_core::stack::Counters| {
            c.dropped_malformed
                + c.dropped_bad_checksum
                + c.dropped_not_ours
                + c.dropped_unknown_protocol
                + c.dropped_backlog_full
                + c.dropped_unacceptable
                + c.dropped_paws
        };
        assert!(
            drops(after) - drops(&before) <= 1,
            "one packet, at most one drop"
        );
    }
}

/// Wraps `seg` (a TCP header and payload) in an IPv4 header with the right addresses and fills
/// in the TCP checksum unless `raw_checksum`.
fn tcp_packet(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8], raw_checksum: bool) -> Vec<u8> {
    let mut seg = seg.to_vec();
    if seg.len() < 20 {
        seg.resize(20, 0);
    }
    if !raw_checksum {
        synack_core::wire::tcp::fill_checksum(&mut seg, src.into(), dst.into());
    }
    ip_packet(src, dst, IpProtocol::Tcp, &seg)
}

fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let ip = IpRepr {
        src: src.into(),
        dst: dst.into(),
        protocol,
        ttl: 64,
        payload_len: payload.len(),
    };
    let mut out = vec![0; ip.buffer_len()];
    let h = ip.emit(&mut out);
    out[h..].copy_from_slice(payload);
    out
}

fuzz_target!(|data: &[u8]| {
    let mut w = World::new();
    let mut rest = data;
    while rest.len() >= 3 {
        let mode = rest[0];
        let len = (usize::from(rest[1]) << 8 | usize::from(rest[2])) % 2048;
        rest = &rest[3..];
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        let raw_checksum = mode & 0x80 != 0;
        let to_server = mode & 0x04 == 0;
        let (src, dst) = if to_server {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        match mode & 0x03 {
            // Raw bytes, as they came.
            0 => w.receive_checked(to_server, chunk),
            // A TCP segment on the established 4-tuple.
            1 => {
                let mut seg = chunk.to_vec();
                seg.resize(seg.len().max(20), 0);
                let (sp, dp) = if to_server {
                    (w.client_port, 80)
                } else {
                    (80, w.client_port)
                };
                seg[0..2].copy_from_slice(&sp.to_be_bytes());
                seg[2..4].copy_from_slice(&dp.to_be_bytes());
                let pkt = tcp_packet(src, dst, &seg, raw_checksum);
                w.receive_checked(to_server, &pkt);
            }
            // A TCP segment with the bytes' own ports (listener, closed ports, new 4-tuples).
            2 => {
                let pkt = tcp_packet(src, dst, chunk, raw_checksum);
                w.receive_checked(to_server, &pkt);
            }
            // ICMP (errors quoting our segments, echo requests).
            _ => {
                let pkt = ip_packet(src, dst, IpProtocol::Icmp, chunk);
                w.receive_checked(to_server, &pkt);
            }
        }
        // Application calls and time, from the mode's middle bits.
        let now = w.now;
        match (mode >> 3) & 0x0f {
            0 => {
                let mut b = [0u8; 4096];
                if let Some(s) = w.s {
                    let _ = w.server.recv(now, s, &mut b);
                }
                let _ = w.client.recv(now, w.c, &mut b);
            }
            1 => {
                let _ = w.client.send(now, w.c, chunk);
            }
            2 => {
                if let Some(s) = w.s {
                    let _ = w.server.send(now, s, chunk);
                }
            }
            3 => {
                let _ = w.client.shutdown(now, w.c);
            }
            4 => {
                if let Some(s) = w.s {
                    w.server.close(now, s);
                }
            }
            5 => {
                if w.s.is_none() {
                    w.s = w.server.accept(w.listener).ok();
                }
            }
            6 => w.now += Duration::from_millis(u64::from(len as u16) * 7),
            7 => w.shuttle(2),
            _ => {}
        }
        // Drain what the stacks want to send (to nowhere) and run due timers.
        let now = w.now;
        w.client.handle_timeout(now);
        w.server.handle_timeout(now);
        let mut out = std::mem::take(&mut w.buf);
        for stack in [&mut w.client, &mut w.server] {
            for _ in 0..256 {
                match stack.poll_transmit(now, &mut out) {
                    Some(n) => assert!(n <= stack.mtu()),
                    None => break,
                }
            }
            while stack.poll_ready().is_some() {}
            while stack.poll_event().is_some() {}
            let _ = stack.poll_timeout();
        }
        w.buf = out;
    }
    // Let everything run its course for a while.
    w.shuttle(32);
});
