//! synack-core: a sans-IO TCP/IP stack.
//!
//! Nothing here performs I/O, reads a clock or draws from the OS's randomness. Time arrives as
//! an [`Instant`] argument and randomness from a seed given at construction, so the same
//! inputs always give the same outputs and any run can be replayed from its seed.
//!
//! Layers, bottom up:
//! - [`wire`]: zero-copy views and emitters for IPv4, IPv6, TCP, ICMP and the checksum.
//! - [`tcp`]: one connection's RFC 9293 state machine.
//! - [`stack`]: addresses, demultiplexing, listeners, timers: the [`Stack`] a driver owns.
//!
//! Beside them, [`impair`] is a seeded model of a bad link (delay, rate, loss, reordering,
//! duplication, corruption) for tests, simulations and the demo, and [`sim`] joins two
//! stacks with it in virtual time.

#![deny(unsafe_code)]

pub mod impair;
pub mod sim;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod wire;

pub use stack::{Event, Stack, StackConfig};
pub use time::Instant;
