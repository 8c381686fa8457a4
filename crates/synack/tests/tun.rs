//! Our stack on a Linux TUN device, talking to the kernel's own TCP, inside a network
//! namespace the test creates (`unshare -n`), so nothing leaves this process's namespace.
//!
//! Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for the namespace). Without it the test says
//! so and passes, except under CI (the `CI` variable set), where it fails: CI runs as root.

#![cfg(target_os = "linux")]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use synack::device::TunStats;
use synack::{Clock, Net, Tun, TunConfig};
use synack_core::StackConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILD: &str = "SYNACK_TUN_CHILD";

/// Runs `name` again in a new network namespace; true if the caller is that child.
fn in_namespace(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new("unshare")
        .args(["-n", "--"])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) if s.code() == Some(77) => skip(name, "no privilege for a namespace or TUN"),
        Ok(s) => panic!("{name} failed in its namespace: {s}"),
        Err(e) => skip(name, &format!("cannot run unshare: {e}")),
    }
    false
}

fn skip(name: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{name}: {why} (CI must run this as root)");
    }
    eprintln!("{name}: skipped: {why}");
}

/// Inside the namespace: loopback up, no IPv6 duplicate-address wait, then the TUN device
/// with the kernel at 10.77.0.1/24 and fd77::1/64, and our stack at .2 and ::2.
fn setup() -> (Tun, StackConfig) {
    setup_with(true)
}

/// [`setup`], asking for offload or not.
fn setup_with(offload: bool) -> (Tun, StackConfig) {
    let _ = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    for conf in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{conf}/accept_dad");
        let _ = std::fs::write(path, "0");
    }
    let mut config = TunConfig::new("syn0", "10.77.0.1".parse().unwrap(), 24);
    config.add_host_addr("fd77::1".parse().unwrap(), 64);
    let tun = match Tun::create_with_offload(&config, offload) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            eprintln!("{e}");
            std::process::exit(77);
        }
        Err(e) => panic!("{e}"),
    };
    let stack = StackConfig {
        addrs: vec!["10.77.0.2".parse().unwrap(), "fd77::2".parse().unwrap()],
        seed: 7,
        ..StackConfig::default()
    };
    (tun, stack)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn within<T>(secs: u64, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("did not finish within {secs} s"))
}

/// A kernel client sends `len` bytes to our echo server and reads them back; then our client
/// does the same against a kernel echo server; for both address families.
#[test]
fn kernel_tcp_and_our_stack_exchange_data_both_ways() {
    if !in_namespace("kernel_tcp_and_our_stack_exchange_data_both_ways") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tun, stack) = setup();
        let clock = Clock::new();
        let net = Net::new(stack, tun, clock);
        let len = 2_000_000;
        for (ours, kernel) in [("10.77.0.2", "10.77.0.1"), ("fd77::2", "fd77::1")] {
            let ours: IpAddr = ours.parse().unwrap();
            let kernel: IpAddr = kernel.parse().unwrap();

            // Kernel client → our server.
            let listener = net.listen(SocketAddr::new(ours, 7)).unwrap();
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await?;
                let (mut rd, mut wr) = tokio::io::split(&mut s);
                tokio::io::copy(&mut rd, &mut wr).await?;
                s.shutdown().await
            });
            let mut k = within(10, tokio::net::TcpStream::connect((ours, 7)))
                .await
                .unwrap();
            let data = pattern(len);
            let (mut rd, mut wr) = k.split();
            let send = async {
                wr.write_all(&data).await?;
                wr.shutdown().await
            };
            let mut echoed = Vec::new();
            let (sent, read) = within(60, async {
                tokio::join!(send, rd.read_to_end(&mut echoed))
            })
            .await;
            sent.unwrap();
            read.unwrap();
            assert!(echoed == data, "echo from our server differs ({ours})");
            within(10, server).await.unwrap().unwrap();

            // Our client → kernel server.
            let kl = tokio::net::TcpListener::bind((kernel, 7007)).await.unwrap();
            let kserver = tokio::spawn(async move {
                let (mut s, _) = kl.accept().await?;
                let (mut rd, mut wr) = s.split();
                tokio::io::copy(&mut rd, &mut wr).await?;
                wr.shutdown().await
            });
            let mut s = within(10, net.connect(SocketAddr::new(kernel, 7007)))
                .await
                .unwrap();
            let (mut rd, mut wr) = tokio::io::split(&mut s);
            let send = async {
                wr.write_all(&data).await?;
                wr.shutdown().await
            };
            let mut echoed = Vec::new();
            let (sent, read) = within(60, async {
                tokio::join!(send, rd.read_to_end(&mut echoed))
            })
            .await;
            sent.unwrap();
            read.unwrap();
            assert!(echoed == data, "echo from the kernel differs ({kernel})");
            within(10, kserver).await.unwrap().unwrap();
        }
    });
}

/// Closed ports are refused both ways: the kernel gets our RST, and our client reports the
/// kernel's RST as a refused connection.
#[test]
fn closed_ports_are_refused_both_ways() {
    if !in_namespace("closed_ports_are_refused_both_ways") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tun, stack) = setup();
        let net = Net::new(stack, tun, Clock::new());
        let k = within(10, tokio::net::TcpStream::connect(("10.77.0.2", 81))).await;
        assert_eq!(k.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
        let ours = within(10, net.connect("10.77.0.1:81".parse().unwrap())).await;
        assert_eq!(ours.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    });
}

/// Our first SYN on a device made a moment before is answered: in each round a fresh runtime
/// creates the device and at once connects to a kernel listener, and the handshake needs no
/// retransmission. (A device's descriptor is not known writable until the runtime's reactor
/// has turned once; a send before then must wait for it, not be lost to the 1 s RTO.)
#[test]
fn first_syn_on_a_fresh_device_is_answered() {
    if !in_namespace("first_syn_on_a_fresh_device_is_answered") {
        return;
    }
    const ROUNDS: u16 = 6;
    // Listening on every address works before the device (and its address) exists.
    let listeners: Vec<std::net::TcpListener> = (0..ROUNDS)
        .map(|round| std::net::TcpListener::bind(("0.0.0.0", 7100 + round)).unwrap())
        .collect();
    for round in 0..ROUNDS {
        // Both schedulers: the current-thread one runs our driver before its reactor turns.
        let rt = if round % 2 == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Runtime::new().unwrap()
        };
        let (info, device) = rt.block_on(async {
            let (tun, mut stack) = setup();
            let stats = tun.stats_handle();
            // Each round its own port and ISN, so no round meets an earlier one's state.
            stack.seed = u64::from(round) + 100;
            let net = Net::new(stack, tun, Clock::new());
            let server = SocketAddr::new("10.77.0.1".parse().unwrap(), 7100 + round);
            let stream = within(10, net.connect(server)).await.unwrap();
            let info = stream.info().expect("connected socket has info");
            (info, (stats.snapshot(), net.device_send_errors()))
        });
        // Dropping the runtime drops the driver and with it the device.
        drop(rt);
        let (stats, send_errors) = device;
        eprintln!("round {round}: {stats:?}");
        assert_eq!(
            (info.retransmitted_segments, info.rto_expirations),
            (0, 0),
            "round {round}: the handshake needed a retransmission ({stats:?})"
        );
        assert_eq!(stats.dropped, 0, "round {round}: {stats:?}");
        assert_eq!(stats.failed + send_errors, 0, "round {round}: {stats:?}");
        let (_conn, peer) = listeners[usize::from(round)].accept().unwrap();
        assert_eq!(peer, info.local, "round {round}");
    }
}

/// A `Tcp:` counter from this namespace's /proc/net/snmp (IPv4 and IPv6 alike).
fn kernel_tcp_counter(name: &str) -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").expect("/proc/net/snmp");
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let at = names.split_whitespace().position(|n| n == name);
    let at = at.unwrap_or_else(|| panic!("no Tcp counter {name}"));
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}

/// Checks that `rd` yields exactly `pattern(len)`, without keeping it all.
async fn expect_pattern(mut rd: impl tokio::io::AsyncRead + Unpin, len: usize) -> io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    let mut at = 0;
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let ok = buf[..n]
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == (at + i) % 251);
        assert!(ok, "bytes differ in {n} bytes at offset {at}");
        at += n;
        assert!(at <= len, "more than {len} bytes arrived");
    }
    assert_eq!(at, len, "the stream ended early");
    Ok(())
}

/// Sends `len` bytes one way, from a kernel socket to ours (`to_us`) or back, and checks them.
async fn one_way(net: &Net, ours: IpAddr, kernel: IpAddr, to_us: bool, len: usize, port: u16) {
    let data = pattern(len);
    if to_us {
        let listener = net.listen(SocketAddr::new(ours, port)).unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await?;
            expect_pattern(s, len).await
        });
        let mut k = within(10, tokio::net::TcpStream::connect((ours, port)))
            .await
            .unwrap();
        within(60, async {
            k.write_all(&data).await?;
            k.shutdown().await
        })
        .await
        .unwrap();
        within(60, server).await.unwrap().unwrap();
    } else {
        let kl = tokio::net::TcpListener::bind((kernel, port)).await.unwrap();
        let kserver = tokio::spawn(async move {
            let (s, _) = kl.accept().await?;
            expect_pattern(s, len).await
        });
        let mut s = within(10, net.connect(SocketAddr::new(kernel, port)))
            .await
            .unwrap();
        within(60, async {
            s.write_all(&data).await?;
            s.shutdown().await
        })
        .await
        .unwrap();
        within(60, kserver).await.unwrap().unwrap();
    }
}

/// Sends `len` bytes each way over IPv4 and IPv6, and returns what the device counted in
/// each of the four transfers.
fn bulk(offload: bool, len: usize) -> Vec<(String, TunStats)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tun, stack) = setup_with(offload);
        assert_eq!(tun.offload(), offload, "offload as asked ({tun:?})");
        let stats = tun.stats_handle();
        let net = Net::new(stack, tun, Clock::new());
        let mut seen = Vec::new();
        let mut port = 7200;
        for (ours, kernel) in [("10.77.0.2", "10.77.0.1"), ("fd77::2", "fd77::1")] {
            let ours: IpAddr = ours.parse().unwrap();
            let kernel: IpAddr = kernel.parse().unwrap();
            for to_us in [true, false] {
                let before = stats.snapshot();
                one_way(&net, ours, kernel, to_us, len, port).await;
                port += 1;
                let after = stats.snapshot();
                let way = if to_us {
                    "kernel → us"
                } else {
                    "us → kernel"
                };
                let delta = after.since(&before);
                eprintln!("{ours} {way}: {delta:?}");
                seen.push((format!("{ours} {way}"), delta));
            }
        }
        assert_eq!(net.device_send_errors(), 0, "{:?}", stats.first_error());
        // Checksums were right both ways: we checked the kernel's (whose super-segments we
        // complete), and the kernel checked ours (whose super-segments it completes).
        let counters = net.counters();
        assert_eq!(
            (counters.dropped_bad_checksum, counters.dropped_malformed),
            (0, 0),
            "{counters:?}"
        );
        assert_eq!(
            kernel_tcp_counter("InCsumErrors"),
            0,
            "the kernel saw bad checksums"
        );
        seen
    })
}

/// With offload on, 32 MiB cross each way over both families intact, and the device moves
/// several packets per system call: the kernel's TSO hands us super-segments, which go to
/// the stack whole, and we coalesce our segments into super-segments for it.
#[test]
fn offload_moves_super_segments_both_ways() {
    if !in_namespace("offload_moves_super_segments_both_ways") {
        return;
    }
    for (way, s) in bulk(true, 32 << 20) {
        assert_eq!(
            (s.dropped, s.failed, s.bad_reads),
            (0, 0, 0),
            "{way}: {s:?}"
        );
        if way.ends_with("kernel → us") {
            assert!(
                s.reads < s.received,
                "{way}: no read carried a super-segment: {s:?}"
            );
        } else {
            assert!(
                s.writes < s.sent,
                "{way}: no write carried a super-segment: {s:?}"
            );
        }
    }
}

/// With offload off, every packet is a read or write of its own, and data still crosses.
#[test]
fn without_offload_each_packet_is_one_system_call() {
    if !in_namespace("without_offload_each_packet_is_one_system_call") {
        return;
    }
    for (way, s) in bulk(false, 2 << 20) {
        assert_eq!(
            (s.dropped, s.failed, s.bad_reads),
            (0, 0, 0),
            "{way}: {s:?}"
        );
        assert_eq!(s.writes, s.sent, "{way}: {s:?}");
        assert_eq!(s.reads, s.received, "{way}: {s:?}");
        assert!(s.received > 0 && s.sent > 0, "{way}: {s:?}");
    }
}
