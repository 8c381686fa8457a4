//! The peer: two smoltcp interfaces (medium IP, checksums computed and verified) joined by
//! the same in-memory [`PacketQueue`]s synack uses, each with one TCP socket.

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use super::mem::{CLIENT_IP, PacketQueue, SERVER_IP, SERVER_PORT};

/// A client and a server smoltcp interface, each with one TCP socket of the given buffers.
pub struct SmolPair {
    client: Side,
    server: Side,
    to_server: PacketQueue,
    to_client: PacketQueue,
    mtu: usize,
    next_port: u16,
}

struct Side {
    iface: Interface,
    sockets: SocketSet<'static>,
    socket: SocketHandle,
}

impl SmolPair {
    /// Two interfaces with this MTU; each socket gets `buffer` bytes to send and to receive.
    pub fn new(mtu: usize, buffer: usize, now: Instant) -> SmolPair {
        let mut to_server = PacketQueue::new(mtu);
        let mut to_client = PacketQueue::new(mtu);
        let side = |ip: [u8; 4], inbox: &mut PacketQueue, outbox: &mut PacketQueue| {
            let mut port = Port { inbox, outbox, mtu };
            let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut port, now);
            let [a, b, c, d] = ip;
            iface.update_ip_addrs(|addrs| {
                // A fresh interface has room for its one address.
                let _ = addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), 24));
            });
            let mut sockets = SocketSet::new(Vec::new());
            let socket = sockets.add(tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; buffer]),
                tcp::SocketBuffer::new(vec![0; buffer]),
            ));
            Side {
                iface,
                sockets,
                socket,
            }
        };
        let client = side(CLIENT_IP, &mut to_client, &mut to_server);
        let server = side(SERVER_IP, &mut to_server, &mut to_client);
        SmolPair {
            client,
            server,
            to_server,
            to_client,
            mtu,
            next_port: 49152,
        }
    }

    /// The client's socket.
    pub fn client(&mut self) -> &mut tcp::Socket<'static> {
        self.client.sockets.get_mut(self.client.socket)
    }

    /// The server's socket.
    pub fn server(&mut self) -> &mut tcp::Socket<'static> {
        self.server.sockets.get_mut(self.server.socket)
    }

    /// Puts the server's socket in LISTEN on the server port.
    pub fn listen(&mut self) -> Result<(), String> {
        self.server()
            .listen(SERVER_PORT)
            .map_err(|e| format!("smoltcp listen: {e}"))
    }

    /// Starts the client's active open from the next ephemeral port.
    pub fn connect(&mut self) -> Result<(), String> {
        let port = self.next_port;
        self.next_port = if port == u16::MAX { 49152 } else { port + 1 };
        let [a, b, c, d] = SERVER_IP;
        let side = &mut self.client;
        let socket = side.sockets.get_mut::<tcp::Socket>(side.socket);
        socket
            .connect(
                side.iface.context(),
                (IpAddress::v4(a, b, c, d), SERVER_PORT),
                port,
            )
            .map_err(|e| format!("smoltcp connect: {e}"))
    }

    /// The client's turn: what arrived goes in, then what it can send goes out.
    pub fn client_io(&mut self, now: Instant) {
        let mut port = Port {
            inbox: &mut self.to_client,
            outbox: &mut self.to_server,
            mtu: self.mtu,
        };
        let side = &mut self.client;
        side.iface.poll(now, &mut port, &mut side.sockets);
    }

    /// The server's turn: what arrived goes in, then what it can send goes out.
    pub fn server_io(&mut self, now: Instant) {
        let mut port = Port {
            inbox: &mut self.to_server,
            outbox: &mut self.to_client,
            mtu: self.mtu,
        };
        let side = &mut self.server;
        side.iface.poll(now, &mut port, &mut side.sockets);
    }
}

/// One interface's view of the link: a smoltcp device over two queues.
struct Port<'q> {
    inbox: &'q mut PacketQueue,
    outbox: &'q mut PacketQueue,
    mtu: usize,
}

impl Device for Port<'_> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if self.inbox.is_empty() {
            return None;
        }
        Some((
            RxToken { queue: self.inbox },
            TxToken { queue: self.outbox },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken { queue: self.outbox })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // The default checksum capabilities compute and verify every checksum, as synack does.
        caps
    }
}

/// Reads the oldest packet of the inbox.
struct RxToken<'a> {
    queue: &'a mut PacketQueue,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        // `receive` hands a token out only for a waiting packet; were the queue empty, the
        // empty packet would be dropped by smoltcp as malformed.
        self.queue.take(f)
    }
}

/// Writes one packet into the outbox.
struct TxToken<'a> {
    queue: &'a mut PacketQueue,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.queue.push(len, |buf| (len, f(buf)))
    }
}
