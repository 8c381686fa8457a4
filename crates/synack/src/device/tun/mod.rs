//! A Linux TUN device: the kernel routes packets for a subnet to us, and takes ours back, so
//! the kernel's own TCP, curl and browsers talk to a synack stack.
//!
//! With offload on (the default when the kernel supports it), each read and write carries a
//! virtio-net header, as a virtual NIC's would: the kernel hands us TCP super-segments of up
//! to 64 KiB (TSO), which go to the stack whole once their checksum is completed (as Linux's
//! GRO hands its TCP one segment for many), and `flush` coalesces our consecutive segments of
//! a flow into super-segments (GRO towards the kernel), so one system call moves dozens of
//! packets each way.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

mod offload;

use super::{Device, RecvBatch};
use offload::{TxBatch, read_buffer};
use tun_rs::VIRTIO_NET_HDR_LEN;

/// How to create a TUN device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    /// Interface name, e.g. `syn0` (at most 15 bytes).
    pub name: String,
    /// The kernel's side of the link: its IPv4 address and prefix length, e.g. 10.77.0.1/24.
    pub host_v4: Option<(Ipv4Addr, u8)>,
    /// The kernel's IPv6 address and prefix length, e.g. fd77::1/64.
    pub host_v6: Option<(Ipv6Addr, u8)>,
    /// The link MTU.
    pub mtu: u16,
}

impl TunConfig {
    /// A device named `name` whose kernel side has `addr/prefix`.
    pub fn new(name: impl Into<String>, addr: IpAddr, prefix: u8) -> TunConfig {
        let mut config = TunConfig {
            name: name.into(),
            host_v4: None,
            host_v6: None,
            mtu: 1500,
        };
        config.add_host_addr(addr, prefix);
        config
    }

    /// Gives the kernel's side another address (one per family).
    pub fn add_host_addr(&mut self, addr: IpAddr, prefix: u8) {
        match addr {
            IpAddr::V4(a) => self.host_v4 = Some((a, prefix)),
            IpAddr::V6(a) => self.host_v6 = Some((a, prefix)),
        }
    }
}

/// A TUN device carrying IP packets (no packet-information header) between the kernel and a
/// synack stack. Created and brought up by [`Tun::create`]; removed when dropped.
///
/// With offload on ([`Tun::offload`]), `send` only queues a packet and [`Device::flush`]
/// submits the queue, coalesced; a full queue (128 frames) is submitted at once. The queue's
/// buffers hold a super-segment each: up to 8 MiB, allocated as bursts first need them. A
/// read super-segment goes to the stack as one segment of up to 64 KiB.
///
/// A write waits, rather than being lost, while the device is not yet known writable: tokio
/// learns that only when its reactor next turns after [`Tun::create`], and a SYN sent right
/// away comes before then (it was lost, and the connection waited 1 s for its RTO). Such
/// writes are held (at most [`Tun::MAX_HELD`]) and submitted, in order, from
/// [`Device::poll_recv`] as soon as the device is writable.
pub struct Tun {
    dev: tun_rs::AsyncDevice,
    name: String,
    mtu: usize,
    /// Where each read lands.
    rx: Vec<u8>,
    /// Offload only: packets queued by `send` for the next `flush`.
    tx: Option<TxBatch>,
    /// Writes (plain packets, or virtio frames) that could not be handed over yet, oldest
    /// first; `poll_recv` submits them.
    held: VecDeque<Held>,
    /// The driver's waker from the last `poll_recv`, woken when a write is held so that
    /// `poll_recv` runs again and waits for the device to be writable.
    waker: Option<Waker>,
    counts: Arc<Counts>,
}

/// What a [`Tun`] did with packets since it was created.
///
/// Without offload each packet is one kernel write or read; with it, `sent / writes` and
/// `received / reads` show how many packets a super-segment carried on average.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunStats {
    /// Packets handed to the kernel.
    pub sent: u64,
    /// Writes to the kernel (each a packet or a super-segment of several).
    pub writes: u64,
    /// Packets read from the kernel, a super-segment counted as the segments it carries.
    pub received: u64,
    /// Reads from the kernel (each a packet or a super-segment of several).
    pub reads: u64,
    /// Packets that had to wait for the device to become writable (then sent, or counted in
    /// `dropped` or `failed`).
    pub held: u64,
    /// Packets lost because more than [`Tun::MAX_HELD`] writes were waiting.
    pub dropped: u64,
    /// Packets the kernel refused with an error; [`TunStatsHandle::first_error`] says why.
    pub failed: u64,
    /// Reads lost because their virtio framing could not be right (a short header, a
    /// checksum position outside the packet); TCP retransmits.
    pub bad_reads: u64,
}

impl TunStats {
    /// What happened between `earlier` (a snapshot of the same device) and this one.
    pub fn since(&self, earlier: &TunStats) -> TunStats {
        TunStats {
            sent: self.sent - earlier.sent,
            writes: self.writes - earlier.writes,
            received: self.received - earlier.received,
            reads: self.reads - earlier.reads,
            held: self.held - earlier.held,
            dropped: self.dropped - earlier.dropped,
            failed: self.failed - earlier.failed,
            bad_reads: self.bad_reads - earlier.bad_reads,
        }
    }
}

/// Reads a [`Tun`]'s counts from anywhere, after the device has moved into a driver.
#[derive(Debug, Clone)]
pub struct TunStatsHandle(Arc<Counts>);

impl TunStatsHandle {
    /// The counts now.
    pub fn snapshot(&self) -> TunStats {
        let c = &self.0;
        TunStats {
            sent: c.sent.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            reads: c.reads.load(Ordering::Relaxed),
            held: c.held.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            bad_reads: c.bad_reads.load(Ordering::Relaxed),
        }
    }

    /// Whether the device moves super-segments (see [`Tun::offload`]).
    pub fn offload(&self) -> bool {
        self.0.offload
    }

    /// The first error a write to the device returned, if any did.
    pub fn first_error(&self) -> Option<String> {
        self.0
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Shared with every [`TunStatsHandle`]; written only by the device.
#[derive(Debug, Default)]
struct Counts {
    offload: bool,
    sent: AtomicU64,
    writes: AtomicU64,
    received: AtomicU64,
    reads: AtomicU64,
    held: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    bad_reads: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counts {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a write the kernel refused, keeping the first reason.
    fn failed(&self, e: &io::Error, packets: u64) {
        Counts::add(&self.failed, packets);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }

    /// Counts a write the kernel took.
    fn written(&self, packets: u64) {
        Counts::add(&self.writes, 1);
        Counts::add(&self.sent, packets);
    }
}

/// One write waiting for the device to become writable.
struct Held {
    /// The bytes to write: a packet, or with offload a virtio header and a (super-)segment.
    frame: Vec<u8>,
    /// How many packets it carries.
    packets: u64,
}

impl Tun {
    /// Writes held while the device is not yet writable; more are lost, as on a full link.
    pub const MAX_HELD: usize = 256;

    /// Creates the device, gives the kernel's side its addresses and brings it up, with
    /// offload on if the kernel supports it. Needs CAP_NET_ADMIN; without it the error says
    /// so and how to get it. Call it inside a tokio runtime: the device registers with its
    /// reactor.
    pub fn create(config: &TunConfig) -> io::Result<Tun> {
        Tun::create_with_offload(config, true)
    }

    /// [`Tun::create`], choosing whether to ask for offload. When it is asked for but the
    /// kernel refuses it (no `IFF_VNET_HDR` or `TUNSETOFFLOAD`), the device is created without
    /// it and no error is reported: [`Tun::offload`] says which it got.
    pub fn create_with_offload(config: &TunConfig, offload: bool) -> io::Result<Tun> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "Tun::create must be called inside a tokio runtime",
            ));
        }
        if config.name.is_empty() || config.name.len() > 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "TUN device name {:?} must be 1 to 15 bytes long",
                    config.name
                ),
            ));
        }
        let build = |offload: bool| {
            let mut builder = tun_rs::DeviceBuilder::new()
                .name(&config.name)
                .mtu(config.mtu)
                .packet_information(false)
                .offload(offload);
            if let Some((addr, prefix)) = config.host_v4 {
                builder = builder.ipv4(addr, prefix, None);
            }
            if let Some((addr, prefix)) = config.host_v6 {
                builder = builder.ipv6(addr, prefix);
            }
            builder.build_async()
        };
        // A failed attempt closes its descriptor, which removes the device it made.
        let dev = match offload {
            true => build(true).or_else(|_| build(false)),
            false => build(false),
        }
        .map_err(|e| explain(&config.name, e))?;
        // tun-rs reports the virtio framing as "TCP GSO".
        let offload = dev.tcp_gso();
        let mtu = usize::from(config.mtu);
        Ok(Tun {
            dev,
            name: config.name.clone(),
            mtu,
            rx: read_buffer(offload),
            tx: offload.then(TxBatch::new),
            held: VecDeque::new(),
            waker: None,
            counts: Arc::new(Counts {
                offload,
                ..Counts::default()
            }),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether reads and writes carry super-segments with a virtio-net header (TSO/GSO from
    /// the kernel, GRO towards it).
    pub fn offload(&self) -> bool {
        self.tx.is_some()
    }

    /// Packets lost because too many writes were waiting for the device to become writable.
    pub fn send_drops(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// A handle that reads this device's counts, also once it has moved into a driver.
    pub fn stats_handle(&self) -> TunStatsHandle {
        TunStatsHandle(self.counts.clone())
    }

    /// Writes `frame` now, or holds it if the device is not writable yet (or earlier writes
    /// wait). An error means the kernel refused it; it is counted and lost.
    fn write(&mut self, frame: &[u8], packets: u64) -> io::Result<()> {
        // Behind writes already waiting, to keep the order.
        if !self.held.is_empty() {
            self.hold(frame, packets);
            return Ok(());
        }
        let written = loop {
            match self.dev.try_send(frame) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                written => break written,
            }
        };
        match written {
            Ok(_) => {
                self.counts.written(packets);
                Ok(())
            }
            // Not known writable yet (or, rarely, the kernel's queue is full): wait.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.hold(frame, packets);
                Ok(())
            }
            Err(e) => {
                self.counts.failed(&e, packets);
                Err(e)
            }
        }
    }

    /// Keeps `frame` until the device is writable, and has the driver poll us to wait for it.
    fn hold(&mut self, frame: &[u8], packets: u64) {
        if self.held.len() >= Tun::MAX_HELD {
            Counts::add(&self.counts.dropped, packets);
            return;
        }
        if self.held.is_empty()
            && let Some(w) = &self.waker
        {
            w.wake_by_ref();
        }
        self.held.push_back(Held {
            frame: frame.to_vec(),
            packets,
        });
        Counts::add(&self.counts.held, packets);
    }

    /// Submits held writes while the device is writable; when it is not, arms `cx`'s waker
    /// for when it is.
    fn submit_held(&mut self, cx: &mut Context<'_>) {
        while let Some(held) = self.held.front() {
            match self.dev.poll_send(cx, &held.frame) {
                Poll::Ready(Ok(_)) => self.counts.written(held.packets),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Refused (the link went down, say): lost, as `send` would have lost it.
                Poll::Ready(Err(e)) => self.counts.failed(&e, held.packets),
                Poll::Pending => return,
            }
            self.held.pop_front();
        }
    }

    /// Offload only: writes the queued frames (packets and super-segments). Returns the
    /// first error the kernel gave, after trying every write.
    fn submit_batch(&mut self) -> io::Result<()> {
        let Some(mut tx) = self.tx.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        tx.finish();
        for (frame, packets) in tx.frames() {
            let written = self.write(frame, packets);
            if result.is_ok() {
                result = written;
            }
        }
        tx.clear();
        self.tx = Some(tx);
        result
    }

    /// Reads once from the kernel into `batch`; `WouldBlock` when nothing was waiting.
    fn read(&mut self, batch: &mut RecvBatch) -> io::Result<()> {
        let n = self.dev.try_recv(&mut self.rx)?;
        Counts::add(&self.counts.reads, 1);
        if self.tx.is_none() {
            batch.push(&self.rx[..n]);
            Counts::add(&self.counts.received, 1);
            return Ok(());
        }
        match offload::complete(&mut self.rx[..n]) {
            Some(packets) => {
                batch.push(&self.rx[VIRTIO_NET_HDR_LEN..n]);
                Counts::add(&self.counts.received, packets);
            }
            // That read is lost, not the device.
            None => Counts::add(&self.counts.bad_reads, 1),
        }
        Ok(())
    }
}

/// Turns the kernel's refusal into a sentence with a way out.
fn explain(name: &str, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "creating a TUN device needs CAP_NET_ADMIN: run as root, or inside a namespace of \
             your own (`unshare -rn`)"
        }
        io::ErrorKind::NotFound => "is /dev/net/tun there? (`modprobe tun`)",
        io::ErrorKind::ResourceBusy | io::ErrorKind::AlreadyExists => {
            "an interface of that name exists: pick another --tun name"
        }
        _ => "",
    };
    let sep = if hint.is_empty() { "" } else { "; " };
    io::Error::new(
        e.kind(),
        format!("cannot create TUN device {name}: {e}{sep}{hint}"),
    )
}

impl Device for Tun {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
        if !self.held.is_empty() {
            self.submit_held(cx);
        }
        let before = batch.len();
        while !batch.is_full() {
            match self.read(batch) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if batch.len() > before {
                        break;
                    }
                    // Nothing waiting: arm the readiness waker, then try once more in case a
                    // packet arrived in between.
                    match self.dev.poll_readable(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let Some(tx) = &mut self.tx else {
            return self.write(packet, 1);
        };
        if !tx.push(packet) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {}-byte packet is not an IP packet", packet.len()),
            ));
        }
        if tx.is_full() {
            return self.submit_batch();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.submit_batch()
    }
}

impl fmt::Debug for Tun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .field("offload", &self.offload())
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}
