//! synack's runtime: tokio sockets on synack's own user-space TCP/IP stack.
//!
//! A [`Net`] owns a sans-IO [`synack_core::Stack`] and one [`Device`], and spawns a driver
//! task that moves packets between them, runs the stack's timers and wakes the tasks whose
//! sockets became ready. [`TcpListener`] and [`TcpStream`] look like tokio's: the stream
//! implements `AsyncRead` and `AsyncWrite`, so hyper (through `hyper_util::rt::TokioIo`) and
//! tokio-rustls run on it unchanged.
//!
//! Devices: [`MemoryLink`] joins two stacks in one process; [`Tap`] wraps any device and shows
//! each packet it sends to a closure (the trace records packets this way); [`Impaired`]
//! makes any device a bad link (delay, rate, loss, reordering, duplication, corruption);
//! [`Tun`] (Linux) puts a stack on a TUN device, where the kernel and its programs reach it.
//! Time comes from a [`Clock`] on tokio's clock, so tests can run with
//! `#[tokio::test(start_paused = true)]`.
//!
//! # Example
//! Two stacks over an in-memory link, an echo:
//! ```
//! use synack::{Clock, MemoryLink, Net};
//! use synack_core::StackConfig;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let clock = Clock::new();
//! let (a, b) = MemoryLink::pair(1500);
//! let config = |ip: [u8; 4]| StackConfig { addrs: vec![ip.into()], ..StackConfig::default() };
//! let client = Net::new(config([10, 0, 0, 1]), a, clock);
//! let server = Net::new(config([10, 0, 0, 2]), b, clock);
//!
//! let listener = server.listen("10.0.0.2:7".parse().unwrap())?;
//! tokio::spawn(async move {
//!     let (mut stream, _peer) = listener.accept().await?;
//!     let (mut rd, mut wr) = tokio::io::split(&mut stream);
//!     tokio::io::copy(&mut rd, &mut wr).await?;
//!     stream.shutdown().await
//! });
//!
//! let mut stream = client.connect("10.0.0.2:7".parse().unwrap()).await?;
//! stream.write_all(b"hello").await?;
//! stream.shutdown().await?; // half-close: the echo goes on until our FIN
//! let mut echo = Vec::new();
//! stream.read_to_end(&mut echo).await?;
//! assert_eq!(echo, b"hello");
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod clock;
pub mod device;
mod error;
mod net;
mod socket;

pub use clock::Clock;
pub use device::{Device, Impaired, ImpairedStats, MemoryLink, MemoryPort, RecvBatch, Tap};
#[cfg(target_os = "linux")]
pub use device::{Tun, TunConfig};
pub use error::{error_kind, io_error};
pub use net::{DEFAULT_BACKLOG, Net};
pub use socket::{TcpListener, TcpStream};
pub use synack_core::impair::LinkConditions;
