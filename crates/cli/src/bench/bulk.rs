//! `bulk`: one flow over an in-memory link in one thread, synack↔synack against
//! smoltcp↔smoltcp, at MTU 1500 and MTU 65535, checksums on, 256 KiB socket buffers.
//!
//! Both loops have the same shape: the client writes what its socket takes, each side in turn
//! takes in what arrived and sends what it can, the server reads everything. Time is the wall
//! clock, from the client's connect to the server reading the last byte.

use synack_core::stack::SocketError;
use synack_core::tcp::TcpConfig;

use super::Settings;
use super::mem::{SynackPair, WallClock, server_addr};
use super::report::{Better, Row};
use super::smol::SmolPair;

const SCENARIO: &str = "bulk";
/// Send and receive buffer of every socket.
const BUFFER: usize = 256 * 1024;
/// What the application writes or reads at once.
const CHUNK: usize = 64 * 1024;
/// A transfer still running after this long has stalled: an error, not a figure.
const STALL_SECS: f64 = 300.0;

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<Vec<Row>, String> {
    let bytes: u64 = if settings.quick { 16 << 20 } else { 1 << 30 };
    let mut rows = Vec::new();
    for mtu in [1500, 65_535] {
        let case = format!("mtu{mtu}");
        let mut pair = [
            Row::new(SCENARIO, case.clone(), "synack", "Gbit/s", Better::Higher),
            Row::new(SCENARIO, case, "smoltcp", "Gbit/s", Better::Higher),
        ];
        super::alternate(settings, &mut pair, |i| {
            let secs = if i == 0 {
                synack(mtu, bytes)?
            } else {
                smoltcp(mtu, bytes)?
            };
            Ok(bytes as f64 * 8.0 / secs / 1e9)
        })?;
        rows.extend(pair);
    }
    Ok(rows)
}

/// Seconds synack takes to move `bytes` from one stack to the other.
fn synack(mtu: usize, bytes: u64) -> Result<f64, String> {
    let tcp = TcpConfig {
        send_buffer: BUFFER,
        send_buffer_max: BUFFER,
        recv_buffer: BUFFER,
        recv_buffer_max: BUFFER,
        ..TcpConfig::default()
    };
    let data = vec![0x5a; CHUNK];
    let mut sink = vec![0; CHUNK];
    let clock = WallClock::start();
    let mut pair = SynackPair::new(mtu, tcp, clock.synack());
    let listener = pair
        .server
        .listen(server_addr(), 1)
        .map_err(|e| format!("listen: {e}"))?;
    let client = pair
        .client
        .connect(clock.synack(), server_addr(), None)
        .map_err(|e| format!("connect: {e}"))?;
    let mut server = None;
    let (mut sent, mut received) = (0u64, 0u64);
    while received < bytes {
        let now = clock.synack();
        while sent < bytes {
            let n = (bytes - sent).min(CHUNK as u64) as usize;
            match pair.client.send(now, client, &data[..n]) {
                Ok(0) | Err(SocketError::WouldBlock) => break,
                Ok(k) => sent += k as u64,
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        pair.client_io(now);
        pair.server_io(now);
        if server.is_none() {
            server = pair.server.accept(listener).ok();
        }
        if let Some(s) = server {
            loop {
                match pair.server.recv(now, s, &mut sink) {
                    Ok(0) => return Err(format!("closed after {received} bytes")),
                    Ok(n) => received += n as u64,
                    Err(SocketError::WouldBlock) => break,
                    Err(e) => return Err(format!("recv: {e}")),
                }
            }
        }
        pair.timers(now);
        if clock.secs() > STALL_SECS {
            return Err(format!("stalled: {sent} B sent, {received} B received"));
        }
    }
    Ok(clock.secs())
}

/// Seconds smoltcp takes to move `bytes` from one interface to the other.
fn smoltcp(mtu: usize, bytes: u64) -> Result<f64, String> {
    let data = vec![0x5a; CHUNK];
    let mut sink = vec![0; CHUNK];
    let clock = WallClock::start();
    let mut pair = SmolPair::new(mtu, BUFFER, clock.smoltcp());
    pair.listen()?;
    pair.connect()?;
    let (mut sent, mut received) = (0u64, 0u64);
    while received < bytes {
        let now = clock.smoltcp();
        while sent < bytes && pair.client().can_send() {
            let n = (bytes - sent).min(CHUNK as u64) as usize;
            match pair.client().send_slice(&data[..n]) {
                Ok(0) => break,
                Ok(k) => sent += k as u64,
                Err(e) => return Err(format!("send: {e}")),
            }
        }
        pair.client_io(now);
        pair.server_io(now);
        while pair.server().can_recv() {
            match pair.server().recv_slice(&mut sink) {
                Ok(0) => break,
                Ok(n) => received += n as u64,
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
        if clock.secs() > STALL_SECS {
            return Err(format!("stalled: {sent} B sent, {received} B received"));
        }
    }
    Ok(clock.secs())
}
