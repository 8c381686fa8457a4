//! A Linux TUN device: the kernel routes packets for a subnet to us, and takes ours back, so
//! the kernel's own TCP, curl and browsers talk to a synack stack.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{Device, RecvBatch};

/// The largest packet a TUN read can return when the MTU is at its maximum.
const MAX_PACKET: usize = 65_535;

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
/// A send waits, rather than being lost, while the device is not yet known writable: tokio
/// learns that only when its reactor next turns after [`Tun::create`], and a SYN sent right
/// away comes before then (it was lost, and the connection waited 1 s for its RTO). Such
/// packets are held (at most [`Tun::MAX_HELD`]) and submitted, in order, from
/// [`Device::poll_recv`] as soon as the device is writable.
pub struct Tun {
    dev: tun_rs::AsyncDevice,
    name: String,
    mtu: usize,
    buf: Vec<u8>,
    /// Packets `send` could not hand over yet, oldest first; `poll_recv` submits them.
    held: VecDeque<Vec<u8>>,
    /// The driver's waker from the last `poll_recv`, woken when a packet is held so that
    /// `poll_recv` runs again and waits for the device to be writable.
    waker: Option<Waker>,
    counts: Arc<Counts>,
}

/// What a [`Tun`] did with packets since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunStats {
    /// Packets handed to the kernel.
    pub sent: u64,
    /// Packets read from the kernel.
    pub received: u64,
    /// Packets that had to wait for the device to become writable (then sent, or counted in
    /// `dropped` or `failed`).
    pub held: u64,
    /// Packets lost because more than [`Tun::MAX_HELD`] were waiting.
    pub dropped: u64,
    /// Packets the kernel refused with an error; [`TunStatsHandle::first_error`] says why.
    pub failed: u64,
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
            received: c.received.load(Ordering::Relaxed),
            held: c.held.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
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
    sent: AtomicU64,
    received: AtomicU64,
    held: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counts {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a write the kernel refused, keeping the first reason.
    fn failed(&self, e: &io::Error) {
        Counts::add(&self.failed, 1);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }
}

impl Tun {
    /// Packets held while the device is not yet writable; more are lost, as on a full link.
    pub const MAX_HELD: usize = 256;

    /// Creates the device, gives the kernel's side its addresses and brings it up. Needs
    /// CAP_NET_ADMIN; without it the error says so and how to get it. Call it inside a tokio
    /// runtime: the device registers with its reactor.
    pub fn create(config: &TunConfig) -> io::Result<Tun> {
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
        let mut builder = tun_rs::DeviceBuilder::new()
            .name(&config.name)
            .mtu(config.mtu)
            .packet_information(false);
        if let Some((addr, prefix)) = config.host_v4 {
            builder = builder.ipv4(addr, prefix, None);
        }
        if let Some((addr, prefix)) = config.host_v6 {
            builder = builder.ipv6(addr, prefix);
        }
        let dev = builder
            .build_async()
            .map_err(|e| explain(&config.name, e))?;
        Ok(Tun {
            dev,
            name: config.name.clone(),
            mtu: usize::from(config.mtu),
            buf: vec![0; MAX_PACKET],
            held: VecDeque::new(),
            waker: None,
            counts: Arc::default(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Packets lost because too many were waiting for the device to become writable.
    pub fn send_drops(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// A handle that reads this device's counts, also once it has moved into a driver.
    pub fn stats_handle(&self) -> TunStatsHandle {
        TunStatsHandle(self.counts.clone())
    }

    /// Keeps `packet` until the device is writable, and has the driver poll us to wait for it.
    fn hold(&mut self, packet: &[u8]) {
        if self.held.len() >= Tun::MAX_HELD {
            Counts::add(&self.counts.dropped, 1);
            return;
        }
        if self.held.is_empty()
            && let Some(w) = &self.waker
        {
            w.wake_by_ref();
        }
        self.held.push_back(packet.to_vec());
        Counts::add(&self.counts.held, 1);
    }

    /// Submits held packets while the device is writable; when it is not, arms `cx`'s waker
    /// for when it is.
    fn submit_held(&mut self, cx: &mut Context<'_>) {
        while let Some(packet) = self.held.front() {
            match self.dev.poll_send(cx, packet) {
                Poll::Ready(Ok(_)) => Counts::add(&self.counts.sent, 1),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Refused (the link went down, say): lost, as `send` would have lost it.
                Poll::Ready(Err(e)) => self.counts.failed(&e),
                Poll::Pending => return,
            }
            self.held.pop_front();
        }
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
            match self.dev.try_recv(&mut self.buf) {
                Ok(n) => {
                    batch.push(&self.buf[..n]);
                    Counts::add(&self.counts.received, 1);
                }
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
        // Behind packets already waiting, to keep the order.
        if !self.held.is_empty() {
            self.hold(packet);
            return Ok(());
        }
        let sent = loop {
            match self.dev.try_send(packet) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                sent => break sent,
            }
        };
        match sent {
            Ok(_) => {
                Counts::add(&self.counts.sent, 1);
                Ok(())
            }
            // Not known writable yet (or, rarely, the kernel's queue is full): wait.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.hold(packet);
                Ok(())
            }
            Err(e) => {
                self.counts.failed(&e);
                Err(e)
            }
        }
    }
}

impl fmt::Debug for Tun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}
