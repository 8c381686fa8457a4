//! A Linux TUN device: the kernel routes packets for a subnet to us, and takes ours back, so
//! the kernel's own TCP, curl and browsers talk to a synack stack.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::task::{Context, Poll};

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
pub struct Tun {
    dev: tun_rs::AsyncDevice,
    name: String,
    mtu: usize,
    buf: Vec<u8>,
    /// Packets the kernel would not take at once (its queue was full): lost, as on a link.
    send_drops: u64,
}

impl Tun {
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
            send_drops: 0,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Packets dropped because the kernel's queue was full.
    pub fn send_drops(&self) -> u64 {
        self.send_drops
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
        let before = batch.len();
        while !batch.is_full() {
            match self.dev.try_recv(&mut self.buf) {
                Ok(n) => {
                    batch.push(&self.buf[..n]);
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
        match self.dev.try_send(packet) {
            Ok(_) => Ok(()),
            // A full queue loses the packet, as a real link would; TCP recovers.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.send_drops += 1;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl fmt::Debug for Tun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tun")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .finish_non_exhaustive()
    }
}
