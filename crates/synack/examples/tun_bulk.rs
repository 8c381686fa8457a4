//! Bulk TCP between the kernel and a synack stack over a TUN device, with the device's
//! offload (TSO/GSO from the kernel, GRO towards it) on and then off, to compare.
//!
//! ```text
//! sudo cargo run --release -p synack --example tun_bulk -- [MIB] [ROUNDS] [on|off]
//! ```
//!
//! Linux, as root: it re-runs itself in a network namespace of its own (`unshare -n`), so
//! nothing leaves it. Each round sends MIB (default 256) MiB from a kernel socket to ours and
//! then back, with offload on and then off (or only as the third argument says), and prints
//! the rate and how many packets each system call carried.

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tun_bulk needs Linux");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::{IpAddr, SocketAddr};
    use std::process::Command;
    use std::time::Instant;

    use synack::{Clock, Net, Tun, TunConfig};
    use synack_core::StackConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const CHILD: &str = "SYNACK_TUN_BULK_CHILD";

    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(256);
        let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
        let modes: &[bool] = match args.get(2).map(String::as_str) {
            Some("on") => &[true],
            Some("off") => &[false],
            _ => &[true, false],
        };
        if std::env::var_os(CHILD).is_none() {
            let exe = std::env::current_exe().expect("own path");
            let status = Command::new("unshare")
                .args(["-n", "--"])
                .arg(exe)
                .args(&args)
                .env(CHILD, "1")
                .status();
            match status {
                Ok(s) if s.success() => {}
                Ok(s) => eprintln!("tun_bulk failed in its namespace ({s}); run it as root"),
                Err(e) => eprintln!("cannot run unshare: {e}"),
            }
            return;
        }
        let _ = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        println!("{mib} MiB each way, IPv4, MTU 1500");
        for round in 0..rounds {
            for &offload in modes {
                run(offload, mib << 20, 7300 + 10 * round as u16);
            }
        }
    }

    /// One device, one transfer each way; prints a line per direction.
    fn run(offload: bool, len: usize, port: u16) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let config = TunConfig::new("syn0", "10.77.0.1".parse().unwrap(), 24);
            let tun = Tun::create_with_offload(&config, offload).expect("TUN device");
            let label = if tun.offload() {
                "offload on "
            } else {
                "offload off"
            };
            let stats = tun.stats_handle();
            let stack = StackConfig {
                addrs: vec!["10.77.0.2".parse().unwrap()],
                seed: 7,
                ..StackConfig::default()
            };
            let net = Net::new(stack, tun, Clock::new());
            let ours: IpAddr = "10.77.0.2".parse().unwrap();
            let kernel: IpAddr = "10.77.0.1".parse().unwrap();
            for to_us in [true, false] {
                let before = stats.snapshot();
                let start = Instant::now();
                transfer(&net, ours, kernel, to_us, len, port + u16::from(to_us)).await;
                let secs = start.elapsed().as_secs_f64();
                let s = stats.snapshot().since(&before);
                let way = if to_us {
                    "kernel → synack"
                } else {
                    "synack → kernel"
                };
                let (data, syscalls) = if to_us {
                    (s.received, s.reads)
                } else {
                    (s.sent, s.writes)
                };
                println!(
                    "{label} {way}: {:7.1} MB/s ({:.2} s); data packets {data} in {syscalls} \
                     {} ({:.1} per call); {s:?}",
                    len as f64 / secs / 1e6,
                    secs,
                    if to_us { "reads" } else { "writes" },
                    data as f64 / syscalls.max(1) as f64,
                );
            }
        });
    }

    async fn transfer(net: &Net, ours: IpAddr, kernel: IpAddr, to_us: bool, len: usize, port: u16) {
        let chunk = vec![0x5a; 256 * 1024];
        if to_us {
            let listener = net.listen(SocketAddr::new(ours, port)).expect("listen");
            let sink = tokio::spawn(async move {
                let (s, _) = listener.accept().await.expect("accept");
                drain(s).await
            });
            let mut k = tokio::net::TcpStream::connect((ours, port))
                .await
                .expect("connect");
            send(&mut k, &chunk, len).await;
            assert_eq!(sink.await.expect("sink"), len);
        } else {
            let kl = tokio::net::TcpListener::bind((kernel, port))
                .await
                .expect("bind");
            let sink = tokio::spawn(async move {
                let (s, _) = kl.accept().await.expect("accept");
                drain(s).await
            });
            let mut s = net
                .connect(SocketAddr::new(kernel, port))
                .await
                .expect("connect");
            send(&mut s, &chunk, len).await;
            assert_eq!(sink.await.expect("sink"), len);
        }
    }

    async fn send(w: &mut (impl tokio::io::AsyncWrite + Unpin), chunk: &[u8], len: usize) {
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            w.write_all(&chunk[..n]).await.expect("write");
            left -= n;
        }
        w.shutdown().await.expect("shutdown");
    }

    async fn drain(mut r: impl tokio::io::AsyncRead + Unpin) -> usize {
        let mut buf = vec![0; 256 * 1024];
        let mut total = 0;
        loop {
            match r.read(&mut buf).await.expect("read") {
                0 => return total,
                n => total += n,
            }
        }
    }
}
