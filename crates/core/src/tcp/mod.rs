//! One TCP connection: RFC 9293's state machine, sans-IO.

mod config;
mod seq;
mod state;

pub use config::TcpConfig;
pub use seq::SeqNum;
pub use state::State;
