//! The hot paths, measured: the checksum, parsing and emitting a segment, and moving bulk
//! data between two stacks (every segment's processing on both sides, no I/O).
//!
//! `cargo bench -p synack-core --bench hot_paths`

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use synack_core::StackConfig;
use synack_core::impair::LinkConditions;
use synack_core::sim::{Network, bulk};
use synack_core::wire::{IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpRepr, checksum, parse_ip};

fn checksums(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for len in [64usize, 1500, 65_536] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::from_parameter(len), &data, |b, d| {
            b.iter(|| checksum::checksum(black_box(d)))
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

criterion_group!(benches, checksums, wire, established);
criterion_main!(benches);
