//! The hot paths, measured: the checksum, parsing and emitting a segment, moving bulk data
//! between two stacks (every segment's processing on both sides, no I/O), and the timer
//! structure with many connections' timers running.
//!
//! `cargo bench -p synack-core --bench hot_paths`

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use synack_core::impair::LinkConditions;
use synack_core::sim::{Network, bulk};
use synack_core::tcp::{State, TcpConfig};
use synack_core::wire::{IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpRepr, checksum, parse_ip};
use synack_core::{Instant, Stack, StackConfig};

fn checksums(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    // 20 B: an IPv4 header, below the length that takes the vector loops.
    for len in [20usize, 64, 1500, 65_536] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::from_parameter(len), &data, |b, d| {
            b.iter(|| checksum::checksum(black_box(d)))
        });
    }
    // The fused copy (send ring -> packet, packet -> receive ring) against its two parts.
    for len in [1460usize, 65_536] {
        let src: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut dst = vec![0u8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("copy {len} B"), |b| {
            b.iter(|| black_box(&mut dst[..]).copy_from_slice(black_box(&src)))
        });
        g.bench_function(format!("checksum {len} B"), |b| {
            b.iter(|| checksum::accumulate(0, black_box(&src)))
        });
        g.bench_function(format!("copy then checksum {len} B"), |b| {
            b.iter(|| {
                black_box(&mut dst[..]).copy_from_slice(black_box(&src));
                checksum::accumulate(0, black_box(&dst))
            })
        });
        g.bench_function(format!("copy+checksum {len} B"), |b| {
            b.iter(|| checksum::copy_accumulate(0, black_box(&mut dst[..]), black_box(&src)))
        });
    }
    g.finish();
}

/// A full-sized IPv4 data segment with timestamps, as the stack emits them.
fn segment() -> Vec<u8> {
    let (src, dst): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let tcp = TcpRepr {
        src_port: 50_000,
        dst_port: 80,
        seq: 1_000_000,
        ack: 2_000_000,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window: 4096,
        urgent: 0,
        options: TcpOptions {
            timestamps: Some((123, 456)),
            ..TcpOptions::default()
        },
    };
    let payload = vec![0x5a; 1448];
    let ip = IpRepr {
        src,
        dst,
        protocol: IpProtocol::Tcp,
        ttl: 64,
        payload_len: tcp.header_len() + payload.len(),
    };
    let mut buf = vec![0; ip.buffer_len()];
    let hl = ip.emit(&mut buf);
    let th = tcp.emit_header(&mut buf[hl..]);
    buf[hl + th..].copy_from_slice(&payload);
    synack_core::wire::tcp::fill_checksum(&mut buf[hl..], src, dst);
    buf
}

fn wire(c: &mut Criterion) {
    let pkt = segment();
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse ip+tcp, checksum verified", |b| {
        b.iter(|| {
            let (ip, payload) = parse_ip(black_box(&pkt)).unwrap();
            TcpRepr::parse(payload, ip.src, ip.dst, true).unwrap().0
        })
    });
    let (ip, payload) = parse_ip(&pkt).unwrap();
    let (tcp, data) = TcpRepr::parse(payload, ip.src, ip.dst, true).unwrap();
    let mut out = vec![0u8; pkt.len()];
    g.bench_function("emit ip+tcp headers and checksum", |b| {
        b.iter(|| {
            let hl = ip.emit(&mut out);
            let th = black_box(&tcp).emit_header(&mut out[hl..]);
            out[hl + th..].copy_from_slice(data);
            synack_core::wire::tcp::fill_checksum(&mut out[hl..], ip.src, ip.dst);
        })
    });
    g.finish();
}

fn established(c: &mut Criterion) {
    const BYTES: u64 = 4 << 20;
    let mut g = c.benchmark_group("established");
    g.throughput(Throughput::Bytes(BYTES));
    g.sample_size(10);
    for mtu in [1500usize, 65_535] {
        g.bench_function(BenchmarkId::new("bulk 4 MiB, two stacks", mtu), |b| {
            b.iter(|| {
                let config = |ip: [u8; 4], seed| StackConfig {
                    addrs: vec![ip.into()],
                    mtu,
                    seed,
                    ..StackConfig::default()
                };
                let link = LinkConditions::default();
                let mut net = Network::new(
                    config([10, 0, 0, 1], 1),
                    config([10, 0, 0, 2], 2),
                    link,
                    link,
                    1,
                );
                let server = "10.0.0.2:5001".parse().unwrap();
                bulk(&mut net, server, BYTES, Duration::from_secs(60)).unwrap()
            })
        });
    }
    g.finish();
}

/// One direction of an in-memory link: packets in recycled buffers, as `synack bench` uses.
#[derive(Default)]
struct Queue {
    packets: VecDeque<(Vec<u8>, usize)>,
    spare: Vec<Vec<u8>>,
}

/// Two stacks joined by two queues, driven by hand with a wall clock, as `synack bench bulk`
/// and `synack bench lifecycle` do: the sans-IO core with nothing in between.
struct Pair {
    client: Stack,
    server: Stack,
    to_server: Queue,
    to_client: Queue,
    start: std::time::Instant,
}

impl Pair {
    fn new(mtu: usize, tcp: TcpConfig) -> Pair {
        let config = |ip: [u8; 4], seed| StackConfig {
            addrs: vec![ip.into()],
            mtu,
            seed,
            record_events: false,
            tcp: tcp.clone(),
            ..StackConfig::default()
        };
        let start = std::time::Instant::now();
        Pair {
            client: Stack::new(config([10, 0, 0, 1], 1), Instant::from_nanos(0)),
            server: Stack::new(config([10, 0, 0, 2], 2), Instant::from_nanos(0)),
            to_server: Queue::default(),
            to_client: Queue::default(),
            start,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.start.elapsed().as_nanos() as u64)
    }

    fn io(&mut self, now: Instant) {
        turn(
            &mut self.client,
            &mut self.to_client,
            &mut self.to_server,
            now,
        );
        turn(
            &mut self.server,
            &mut self.to_server,
            &mut self.to_client,
            now,
        );
    }

    fn timers(&mut self, now: Instant) {
        for stack in [&mut self.client, &mut self.server] {
            if stack.poll_timeout().is_some_and(|t| t <= now) {
                stack.handle_timeout(now);
            }
        }
    }
}

/// One stack's turn: every waiting packet in, then every packet it has out.
fn turn(stack: &mut Stack, inbox: &mut Queue, outbox: &mut Queue, now: Instant) {
    while let Some((buf, len)) = inbox.packets.pop_front() {
        stack.receive(now, &buf[..len]);
        inbox.spare.push(buf);
    }
    loop {
        let mut buf = outbox.spare.pop().unwrap_or_else(|| vec![0; stack.mtu()]);
        match stack.poll_transmit(now, &mut buf) {
            Some(n) => outbox.packets.push_back((buf, n)),
            None => {
                outbox.spare.push(buf);
                break;
            }
        }
    }
    while stack.poll_ready().is_some() {}
}

/// `synack bench bulk`'s synack side: 256 KiB buffers, 64 KiB writes and reads, no events.
fn cli_bulk(mtu: usize, bytes: u64) {
    let tcp = TcpConfig {
        send_buffer: 256 << 10,
        send_buffer_max: 256 << 10,
        recv_buffer: 256 << 10,
        recv_buffer_max: 256 << 10,
        ..TcpConfig::default()
    };
    let mut pair = Pair::new(mtu, tcp);
    let server_addr: SocketAddr = "10.0.0.2:5001".parse().unwrap();
    let listener = pair.server.listen(server_addr, 1).unwrap();
    let client = pair.client.connect(pair.now(), server_addr, None).unwrap();
    let data = vec![0x5a; 64 << 10];
    let mut sink = vec![0; 64 << 10];
    let (mut sent, mut received, mut server) = (0u64, 0u64, None);
    while received < bytes {
        let now = pair.now();
        while sent < bytes {
            let n = (bytes - sent).min(data.len() as u64) as usize;
            match pair.client.send(now, client, &data[..n]) {
                Ok(k) if k > 0 => sent += k as u64,
                _ => break,
            }
        }
        pair.io(now);
        if server.is_none() {
            server = pair.server.accept(listener).ok();
        }
        if let Some(s) = server {
            while let Ok(n) = pair.server.recv(now, s, &mut sink) {
                assert!(n > 0);
                received += n as u64;
            }
        }
        pair.timers(now);
    }
}

/// `synack bench lifecycle`'s synack side: `n` connections one after another, each a
/// handshake, a 100-byte request and answer, and a close.
fn cli_lifecycle(n: usize) -> (u64, u64) {
    let tcp = TcpConfig {
        msl: Duration::from_millis(1),
        send_buffer: 64 << 10,
        send_buffer_max: 64 << 10,
        recv_buffer: 64 << 10,
        recv_buffer_max: 64 << 10,
        nodelay: true,
        ..TcpConfig::default()
    };
    let mut pair = Pair::new(1500, tcp);
    let server_addr: SocketAddr = "10.0.0.2:5001".parse().unwrap();
    let listener = pair.server.listen(server_addr, 128).unwrap();
    let message = [0x42; 100];
    let mut buf = [0; 100];
    let mut turns = 0u64;
    for _ in 0..n {
        let client = pair.client.connect(pair.now(), server_addr, None).unwrap();
        let mut server = None;
        let (mut asked, mut heard, mut answered, mut got) = (0, 0, 0, 0);
        let (mut client_closed, mut server_closed) = (false, false);
        loop {
            let now = pair.now();
            if asked < 100 {
                asked += pair
                    .client
                    .send(now, client, &message[asked..])
                    .unwrap_or(0);
            }
            pair.io(now);
            if server.is_none() {
                server = pair.server.accept(listener).ok();
            }
            if let Some(s) = server.filter(|_| !server_closed) {
                loop {
                    match pair.server.recv(now, s, &mut buf) {
                        Ok(0) => {
                            pair.server.close(now, s);
                            server_closed = true;
                            break;
                        }
                        Ok(k) => heard += k,
                        Err(_) => break,
                    }
                }
                if heard == 100 && answered < 100 && !server_closed {
                    answered += pair.server.send(now, s, &message[answered..]).unwrap_or(0);
                }
            }
            if !client_closed {
                if let Ok(k) = pair.client.recv(now, client, &mut buf) {
                    got += k;
                }
                if got == 100 {
                    pair.client.close(now, client);
                    client_closed = true;
                }
            }
            pair.timers(now);
            let gone = server
                .filter(|_| server_closed)
                .is_some_and(|s| pair.server.state(s).is_none_or(|st| st == State::Closed));
            let in_flight =
                !pair.to_server.packets.is_empty() || !pair.to_client.packets.is_empty();
            turns += 1;
            if gone && !in_flight {
                break;
            }
        }
    }
    let packets = pair.client.counters().packets_out + pair.server.counters().packets_out;
    (turns, packets)
}

/// The synack halves of `synack bench bulk` and `lifecycle`, for profiling synack alone
/// (`--profile-time`).
fn cli_mirror(c: &mut Criterion) {
    // A fixed amount of work, once, then exit: for `perf stat -e task-clock` and
    // `perf record`, whose CPU time a busy machine disturbs less than criterion's wall clock.
    // SYNACK_FIXED=bulk1500, bulk65535 or lifecycle.
    if let Ok(which) = std::env::var("SYNACK_FIXED") {
        match which.as_str() {
            "bulk1500" => cli_bulk(1500, 2 << 30),
            "bulk65535" => cli_bulk(65_535, 4 << 30),
            _ => {
                let n = 200_000;
                let (turns, packets) = cli_lifecycle(n);
                eprintln!(
                    "{:.2} turns and {:.2} packets a connection",
                    turns as f64 / n as f64,
                    packets as f64 / n as f64
                );
            }
        }
        std::process::exit(0);
    }
    let mut g = c.benchmark_group("cli_mirror");
    g.sample_size(10);
    const BYTES: u64 = 64 << 20;
    g.throughput(Throughput::Bytes(BYTES));
    for mtu in [1500usize, 65_535] {
        g.bench_function(BenchmarkId::new("bulk 64 MiB", mtu), |b| {
            b.iter(|| cli_bulk(mtu, BYTES))
        });
    }
    g.throughput(Throughput::Elements(1000));
    g.bench_function("lifecycle 1000 connections", |b| {
        b.iter(|| black_box(cli_lifecycle(1000)))
    });
    g.finish();
}

/// The timer structure under load: `n` connections in SYN-SENT, each with its SYN's
/// retransmission timer running, all coming due at once. One iteration fires every one of
/// them (each retransmits its SYN and re-arms with a doubled timeout) and drains the SYNs;
/// the cost per timer should stay flat as `n` grows.
fn timers(c: &mut Criterion) {
    let mut g = c.benchmark_group("timers");
    g.sample_size(10);
    for n in [1_000usize, 100_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("fire and re-arm", n), |b| {
            b.iter_batched(
                || {
                    let config = StackConfig {
                        addrs: vec![IpAddr::from([10, 0, 0, 1])],
                        record_events: false,
                        ..StackConfig::default()
                    };
                    let now = Instant::ZERO;
                    let mut stack = Stack::new(config, now);
                    let mut buf = vec![0u8; 1500];
                    for i in 0..n {
                        // Spread over servers so that ephemeral ports never run out.
                        let server = SocketAddr::from(([10, 1, (i / 10_000) as u8, 1], 80));
                        stack.connect(now, server, None).unwrap();
                    }
                    while stack.poll_transmit(now, &mut buf).is_some() {}
                    (stack, buf)
                },
                |(mut stack, mut buf)| {
                    let due = stack.poll_timeout().unwrap();
                    stack.handle_timeout(due);
                    let mut sent = 0;
                    while stack.poll_transmit(due, &mut buf).is_some() {
                        sent += 1;
                    }
                    assert_eq!(sent, n, "every timer fired once");
                    (stack, buf)
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, checksums, wire, established, cli_mirror, timers);
criterion_main!(benches);
