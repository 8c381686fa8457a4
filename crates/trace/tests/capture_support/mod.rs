//! Shared by the capture_* tests: a real HTTP exchange over synack's own stack, hand-built
//! pcap and pcapng files (either byte order), frames of each link type, and the rules for
//! tests that need an external tool.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etherparse::PacketBuilder;
use synack::{Clock, MemoryLink, MemoryPort, Net, Tap};
use synack_core::StackConfig;
use synack_trace::{PhaseName, Recorder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A key log line in the NSS format (made-up secrets).
pub const KEY_LOG: &str = "# made up\nCLIENT_RANDOM \
    00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
    000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
    202122232425262728292a2b2c2d2e2f\n";

/// GET / answered with `body_len` bytes over synack's stack on a memory link, both ends
/// closing; every packet either end sent is recorded with the time it was sent. Runs in real
/// time (this crate's tokio has no paused clock); a memory link takes milliseconds.
pub async fn synack_http_exchange(body_len: usize) -> Recorder {
    let clock = Clock::new();
    let (a, b) = MemoryLink::pair(1500);
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let tap = |port: MemoryPort| {
        let recorder = recorder.clone();
        Tap::new(port, clock, move |t, packet| {
            recorder.lock().unwrap().packet(t.as_nanos(), packet)
        })
    };
    let config = |ip: [u8; 4], seed| StackConfig {
        addrs: vec![IpAddr::from(ip)],
        seed,
        ..StackConfig::default()
    };
    let client = Net::new(config([10, 0, 0, 1], 1), tap(a), clock);
    let server = Net::new(config([10, 0, 0, 2], 2), tap(b), clock);
    let addr = SocketAddr::from(([10, 0, 0, 2], 80));

    let listener = server.listen(addr).unwrap();
    let served = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "request cut short");
            request.extend_from_slice(&buf[..n]);
        }
        let body = vec![b'x'; body_len];
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
    });

    let run = async {
        let mut stream = client.connect(addr).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n";
        stream.write_all(request).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        stream.shutdown().await.unwrap();
        served.await.unwrap();
        // Both FINs are out; wait for the last ACK to cross the link.
        while !closed(&recorder.lock().unwrap()) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("exchange finished");
    assert!(
        response.ends_with(&vec![b'x'; body_len]),
        "response arrived"
    );
    drop((client, server));
    recorder.lock().unwrap().clone()
}

/// Whether the recording's first connection has finished its 4-way handshake.
fn closed(recorder: &Recorder) -> bool {
    let trace = recorder.finish();
    trace.connections.first().is_some_and(|c| {
        c.phases
            .iter()
            .any(|p| p.name == PhaseName::Tcp4WayHandshake && p.complete)
    })
}

/// A short TCP conversation as IPv4 packets built by etherparse: handshake, a request, a
/// response, FINs. `(t_ns, packet)`.
pub fn tcp_conversation() -> Vec<(u64, Vec<u8>)> {
    let (c, s) = ([192, 168, 1, 10], [192, 168, 1, 20]);
    let seg = |from_client: bool, seq: u32, ack: Option<u32>, flags: &str, data: &[u8]| {
        let (src, dst, sp, dp) = match from_client {
            true => (c, s, 40000, 80),
            false => (s, c, 80, 40000),
        };
        let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 64240);
        if let Some(ack) = ack {
            b = b.ack(ack);
        }
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('P') {
            b = b.psh();
        }
        let mut out = Vec::new();
        b.write(&mut out, data).unwrap();
        out
    };
    let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let res = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let (ci, si) = (1000u32, 5000u32);
    let rl = req.len() as u32;
    let sl = res.len() as u32;
    let packets = [
        seg(true, ci, None, "S", b""),
        seg(false, si, Some(ci + 1), "S", b""),
        seg(true, ci + 1, Some(si + 1), "", b""),
        seg(true, ci + 1, Some(si + 1), "P", req),
        seg(false, si + 1, Some(ci + 1 + rl), "P", res),
        seg(true, ci + 1 + rl, Some(si + 1 + sl), "F", b""),
        seg(false, si + 1 + sl, Some(ci + 2 + rl), "F", b""),
        seg(true, ci + 2 + rl, Some(si + 2 + sl), "", b""),
    ];
    let base = 1_700_000_000_000_000_000u64;
    packets
        .into_iter()
        .enumerate()
        .map(|(i, p)| (base + i as u64 * 1_250_000, p))
        .collect()
}

/// A recorder holding `packets`.
pub fn recorder_of(packets: &[(u64, Vec<u8>)]) -> Recorder {
    let mut r = Recorder::new();
    for (t, p) in packets {
        r.packet(*t, p);
    }
    r
}

/// Writes u16/u32/u64 in a chosen byte order.
#[derive(Clone, Copy)]
pub struct Order {
    pub big: bool,
}

impl Order {
    pub fn u16(self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    pub fn u32(self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    pub fn u64(self, out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
}

/// A classic pcap file: `nanos` picks the nanosecond magic. Frames are `(t_ns, bytes)`,
/// original length = captured length.
pub fn pcap_file(order: Order, nanos: bool, link: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    order.u32(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    order.u16(&mut out, 2);
    order.u16(&mut out, 4);
    order.u32(&mut out, 0); // thiszone
    order.u32(&mut out, 0); // sigfigs
    order.u32(&mut out, 262_144);
    order.u32(&mut out, link);
    for (t, frame) in frames {
        let (secs, frac) = (t / 1_000_000_000, t % 1_000_000_000);
        order.u32(&mut out, secs as u32);
        order.u32(&mut out, if nanos { frac } else { frac / 1000 } as u32);
        order.u32(&mut out, frame.len() as u32);
        order.u32(&mut out, frame.len() as u32);
        out.extend_from_slice(frame);
    }
    out
}

/// pcapng built block by block in either byte order.
pub struct Ng {
    pub order: Order,
    pub out: Vec<u8>,
}

impl Ng {
    pub fn new(big: bool) -> Ng {
        let mut ng = Ng {
            order: Order { big },
            out: Vec::new(),
        };
        ng.shb();
        ng
    }

    /// A block: type, lengths, body padded to 32 bits.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Ng {
        let padded = body.len().next_multiple_of(4);
        let total = (12 + padded) as u32;
        self.order.u32(&mut self.out, block_type);
        self.order.u32(&mut self.out, total);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.order.u32(&mut self.out, total);
        self
    }

    /// A new section header (starting a section in this builder's byte order).
    pub fn shb(&mut self) -> &mut Ng {
        let mut body = Vec::new();
        self.order.u32(&mut body, 0x1a2b_3c4d);
        self.order.u16(&mut body, 1);
        self.order.u16(&mut body, 0);
        self.order.u64(&mut body, u64::MAX);
        self.block(0x0a0d_0d0a, &body)
    }

    /// Switches byte order and starts a new section in it.
    pub fn section(&mut self, big: bool) -> &mut Ng {
        self.order = Order { big };
        self.shb()
    }

    /// An interface; `options` are (code, value).
    pub fn idb(&mut self, link: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> &mut Ng {
        let mut body = Vec::new();
        self.order.u16(&mut body, link);
        self.order.u16(&mut body, 0);
        self.order.u32(&mut body, snaplen);
        for (code, value) in options {
            self.order.u16(&mut body, *code);
            self.order.u16(&mut body, value.len() as u16);
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        if !options.is_empty() {
            body.extend_from_slice(&[0; 4]);
        }
        self.block(1, &body)
    }

    pub fn epb(&mut self, interface: u32, ticks: u64, data: &[u8]) -> &mut Ng {
        let mut body = Vec::new();
        self.order.u32(&mut body, interface);
        self.order.u32(&mut body, (ticks >> 32) as u32);
        self.order.u32(&mut body, ticks as u32);
        self.order.u32(&mut body, data.len() as u32);
        self.order.u32(&mut body, data.len() as u32);
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    /// The obsolete Packet Block.
    pub fn pb(&mut self, interface: u16, ticks: u64, data: &[u8]) -> &mut Ng {
        let mut body = Vec::new();
        self.order.u16(&mut body, interface);
        self.order.u16(&mut body, 0); // drops
        self.order.u32(&mut body, (ticks >> 32) as u32);
        self.order.u32(&mut body, ticks as u32);
        self.order.u32(&mut body, data.len() as u32);
        self.order.u32(&mut body, data.len() as u32);
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    pub fn spb(&mut self, data: &[u8]) -> &mut Ng {
        let mut body = Vec::new();
        self.order.u32(&mut body, data.len() as u32);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    pub fn dsb(&mut self, kind: u32, secrets: &[u8]) -> &mut Ng {
        let mut body = Vec::new();
        self.order.u32(&mut body, kind);
        self.order.u32(&mut body, secrets.len() as u32);
        body.extend_from_slice(secrets);
        self.block(10, &body)
    }
}

/// An Ethernet II frame around `ip`, with these VLAN tag protocol ids (each followed by a
/// made-up tag).
pub fn ethernet(ip: &[u8], vlan_tpids: &[u16]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    for (i, tpid) in vlan_tpids.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    f.extend_from_slice(&ethertype_of(ip).to_be_bytes());
    f.extend_from_slice(ip);
    // Minimum frame size: pad as a NIC would.
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// Linux cooked capture v1 around `ip`.
pub fn sll(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(&ethertype_of(ip).to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// Linux cooked capture v2 around `ip`.
pub fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut f = ethertype_of(ip).to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(ip);
    f
}

/// BSD loopback around `ip`: the address family in the given byte order.
pub fn null(ip: &[u8], family: u32, big: bool) -> Vec<u8> {
    let mut f = Vec::new();
    Order { big }.u32(&mut f, family);
    f.extend_from_slice(ip);
    f
}

fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 { 0x86dd } else { 0x0800 }
}

/// A unique path under the temp dir.
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let file = format!("synack-{}-{n}-{name}", std::process::id());
    std::env::temp_dir().join(file)
}

/// Removes the file when dropped, so a failing test leaves nothing behind.
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `tool` runs at all.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A test that needs something missing: fails under CI (where it is installed), otherwise
/// says so and lets the caller return.
pub fn skip(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} (required when CI is set)");
    }
    eprintln!("skipped: {what}");
}

/// Loopback 127.0.0.1.
pub const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
