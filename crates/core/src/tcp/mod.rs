//! One TCP connection: RFC 9293's state machine, sans-IO.
//!
//! A [`Connection`] is the Transmission Control Block. The stack hands it segments
//! (`input.rs`, RFC 9293 §3.10.7), asks it for segments to send (`output.rs`), runs its timers,
//! and forwards the application's calls (`connection.rs`, §3.10.1-3.10.6).

mod config;
pub mod congestion;
mod connection;
mod input;
mod output;
pub mod pacing;
mod rack;
mod recovery;
mod recv_buf;
mod rtt;
mod sack;
mod scoreboard;
mod send_buf;
mod seq;
mod spares;
mod state;
mod timers;

pub use config::{Keepalive, TcpConfig};
pub use congestion::{CongestionAlgorithm, CongestionControl};
pub use connection::Connection;
pub(crate) use connection::{Ctx, Endpoints};
pub use seq::SeqNum;
pub(crate) use spares::Spares;
pub use state::State;
