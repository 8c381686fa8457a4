//! `lifecycle`: whole connections a second, one after another in one thread. Each is a 3-way
//! handshake, a 100-byte request, a 100-byte response and a 4-way handshake the client
//! starts; it counts once the server's side is closed.
//!
//! - synack: two stacks in memory (the sans-IO core driven directly). TIME-WAIT is cut to
//!   2 ms (MSL 1 ms) so that ports come free as fast as connections end; the timers that end
//!   it still run, and are counted in the time. The request is sent at once, while the
//!   connection is opening: synack queues it (RFC 9293 §3.10.2) and it rides the handshake's
//!   last ACK, so a connection is 8 segments. smoltcp's sockets take data only once
//!   established, so there the request goes in a segment of its own.
//! - smoltcp: two interfaces in memory, one socket each, reused: the server listens again once
//!   closed, the client connects again out of TIME-WAIT from the next port.
//! - kernel: blocking `std::net` sockets on 127.0.0.1, Nagle off.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use synack_core::stack::{ListenerHandle, SocketError};
use synack_core::tcp::{State, TcpConfig};

use super::Settings;
use super::mem::{SynackPair, WallClock, server_addr};
use super::report::{Better, Row};
use super::smol::SmolPair;

const SCENARIO: &str = "lifecycle";
/// Request and response size.
const MESSAGE: usize = 100;
/// Socket buffers: far more than a connection here uses, as small as is usual.
const BUFFER: usize = 64 * 1024;
/// One connection that has not ended after this long has stalled.
const STALL_SECS: f64 = 10.0;

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<Vec<Row>, String> {
    let round_secs = if settings.quick { 0.05 } else { 1.0 };
    let mut rows = [
        Row::new(
            SCENARIO,
            "connect_request_close",
            "synack",
            "conn/s",
            Better::Higher,
        ),
        Row::new(
            SCENARIO,
            "connect_request_close",
            "smoltcp",
            "conn/s",
            Better::Higher,
        ),
        Row::new(
            SCENARIO,
            "connect_request_close",
            "kernel",
            "conn/s",
            Better::Higher,
        ),
    ];
    super::alternate(settings, &mut rows, |i| match i {
        0 => synack(round_secs),
        1 => smoltcp(round_secs),
        _ => kernel(round_secs),
    })?;
    Ok(rows.into())
}

/// Runs `one` connection after another for about `secs`; returns connections a second.
fn rate(secs: f64, mut one: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let clock = WallClock::start();
    let mut count = 0u64;
    // The clock is read every 64 connections: reading it is not free either.
    while !count.is_multiple_of(64) || clock.secs() < secs {
        one()?;
        count += 1;
    }
    Ok(count as f64 / clock.secs())
}

fn synack(secs: f64) -> Result<f64, String> {
    let tcp = TcpConfig {
        msl: Duration::from_millis(1),
        send_buffer: BUFFER,
        send_buffer_max: BUFFER,
        recv_buffer: BUFFER,
        recv_buffer_max: BUFFER,
        nodelay: true,
        ..TcpConfig::default()
    };
    let clock = WallClock::start();
    let mut pair = SynackPair::new(1500, tcp, clock.synack());
    let listener = pair
        .server
        .listen(server_addr(), 128)
        .map_err(|e| format!("listen: {e}"))?;
    rate(secs, || synack_once(&mut pair, listener, &clock))
}

/// One connection between the pair's stacks, from connect to the server's side closed.
fn synack_once(
    pair: &mut SynackPair,
    listener: ListenerHandle,
    clock: &WallClock,
) -> Result<(), String> {
    let message = [0x42; MESSAGE];
    let mut buf = [0; MESSAGE];
    let started = clock.secs();
    let client = pair
        .client
        .connect(clock.synack(), server_addr(), None)
        .map_err(|e| format!("connect: {e}"))?;
    let mut server = None;
    let (mut asked, mut heard, mut answered, mut got) = (0, 0, 0, 0);
    let mut client_closed = false;
    let mut server_closed = false;
    loop {
        let now = clock.synack();
        if asked < MESSAGE {
            asked += sent(pair.client.send(now, client, &message[asked..]))?;
        }
        pair.client_io(now);
        pair.server_io(now);
        if server.is_none() {
            server = pair.server.accept(listener).ok();
        }
        if let Some(s) = server.filter(|_| !server_closed) {
            loop {
                match pair.server.recv(now, s, &mut buf) {
                    Ok(0) => {
                        pair.server.close(now, s);
                        server_closed = true;
                        break;
                    }
                    Ok(n) => heard += n,
                    Err(SocketError::WouldBlock) => break,
                    Err(e) => return Err(format!("server recv: {e}")),
                }
            }
            if heard == MESSAGE && answered < MESSAGE && !server_closed {
                answered += sent(pair.server.send(now, s, &message[answered..]))?;
            }
        }
        if !client_closed {
            match pair.client.recv(now, client, &mut buf) {
                Ok(0) => return Err("the server closed before answering".into()),
                Ok(n) => got += n,
                Err(SocketError::WouldBlock) => {}
                Err(e) => return Err(format!("client recv: {e}")),
            }
            if got == MESSAGE {
                pair.client.close(now, client);
                client_closed = true;
            }
        }
        pair.timers(now);
        let server_gone = server
            .filter(|_| server_closed)
            .is_some_and(|s| pair.server.state(s).is_none_or(|st| st == State::Closed));
        if server_gone && !pair.in_flight() {
            return Ok(());
        }
        if clock.secs() - started > STALL_SECS {
            return Err("a connection stalled".into());
        }
    }
}

/// Bytes a send took; nothing when the socket cannot take more yet.
fn sent(result: Result<usize, SocketError>) -> Result<usize, String> {
    match result {
        Ok(n) => Ok(n),
        Err(SocketError::WouldBlock) => Ok(0),
        Err(e) => Err(format!("send: {e}")),
    }
}

fn smoltcp(secs: f64) -> Result<f64, String> {
    use smoltcp::socket::tcp::State as S;
    let clock = WallClock::start();
    let mut pair = SmolPair::new(1500, BUFFER, clock.smoltcp());
    let message = [0x42; MESSAGE];
    let mut buf = [0; MESSAGE];
    rate(secs, || {
        let started = clock.secs();
        pair.listen()?;
        pair.connect()?;
        let (mut asked, mut heard, mut answered, mut got) = (0, 0, 0, 0);
        let mut client_closed = false;
        let mut server_closed = false;
        loop {
            let now = clock.smoltcp();
            if asked < MESSAGE && pair.client().may_send() {
                asked += pair
                    .client()
                    .send_slice(&message[asked..])
                    .map_err(|e| format!("send: {e}"))?;
            }
            pair.client_io(now);
            pair.server_io(now);
            let server = pair.server();
            while server.can_recv() {
                heard += server
                    .recv_slice(&mut buf)
                    .map_err(|e| format!("server recv: {e}"))?;
            }
            if heard == MESSAGE && answered < MESSAGE && server.may_send() {
                answered += server
                    .send_slice(&message[answered..])
                    .map_err(|e| format!("send: {e}"))?;
            }
            if !server_closed && heard == MESSAGE && server.state() == S::CloseWait {
                server.close();
                server_closed = true;
            }
            let client = pair.client();
            while !client_closed && client.can_recv() {
                got += client
                    .recv_slice(&mut buf)
                    .map_err(|e| format!("client recv: {e}"))?;
            }
            if !client_closed && got == MESSAGE {
                client.close();
                client_closed = true;
            }
            if server_closed && pair.server().state() == S::Closed {
                return Ok(());
            }
            if clock.secs() - started > STALL_SECS {
                return Err("a connection stalled".into());
            }
        }
    })
}

fn kernel(secs: f64) -> Result<f64, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("bind"))?;
    let addr = listener.local_addr().map_err(io("bind"))?;
    let message = [0x42; MESSAGE];
    let mut buf = [0; MESSAGE];
    rate(secs, || {
        let mut client = TcpStream::connect(addr).map_err(io("connect"))?;
        client.set_nodelay(true).map_err(io("nodelay"))?;
        let (mut server, _) = listener.accept().map_err(io("accept"))?;
        server.set_nodelay(true).map_err(io("nodelay"))?;
        client.write_all(&message).map_err(io("client write"))?;
        server.read_exact(&mut buf).map_err(io("server read"))?;
        server.write_all(&message).map_err(io("server write"))?;
        client.read_exact(&mut buf).map_err(io("client read"))?;
        drop(client);
        // The client's FIN: the server reads the end of the stream, then closes its side.
        match server.read(&mut buf).map_err(io("server read"))? {
            0 => Ok(()),
            n => Err(format!("{n} bytes after the request")),
        }
    })
}

/// Turns an I/O error into a message saying what failed.
fn io(what: &'static str) -> impl Fn(std::io::Error) -> String {
    move |e| format!("{what}: {e}")
}
