//! tokio-style sockets on a [`Net`](crate::Net).

mod listener;
mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;
