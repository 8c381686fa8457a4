//! `scale`: synack with many connections open, two stacks in memory (no peer: what is asked
//! is how synack's own costs grow).
//!
//! - `idle_memory_N`: resident memory the process gains per idle established endpoint, N
//!   connections (2N endpoints) opened and left idle; no data was sent, so no buffer should
//!   have been allocated (Linux only: it reads /proc/self/statm). Memory the allocator kept
//!   from earlier scenarios may absorb some of it: `synack bench scale` alone is exact.
//! - `segment_N`: with N connections open, 100-byte requests and answers on 64 of them in
//!   turn, spread over the table; wall time per segment either stack sent.

use std::net::SocketAddr;

use synack_core::stack::{ListenerHandle, SocketError, SocketHandle};
use synack_core::tcp::TcpConfig;

use super::Settings;
use super::mem::{CLIENT_IP, SERVER_IP, SERVER_PORT, SynackPair, WallClock};
use super::report::{Better, Row};

const SCENARIO: &str = "scale";
/// Client ports used per server port.
const PORTS: usize = 60_000;
/// Connections that take turns carrying the requests.
const ACTIVE: usize = 64;
const MESSAGE: usize = 100;
/// Turns of both stacks a message may take to arrive in memory before it is late.
const TURNS: usize = 100;

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<Vec<Row>, String> {
    let (counts, memory_count): (&[usize], usize) = if settings.quick {
        (&[1, 1_000], 10_000)
    } else {
        (&[1, 10_000, 100_000, 1_000_000], 1_000_000)
    };
    let exchanges = if settings.quick { 2_000 } else { 50_000 };
    let mut rows = Vec::new();
    let mut memory = [Row::new(
        SCENARIO,
        format!("idle_memory_{}", label(memory_count)),
        "synack",
        "B/endpoint",
        Better::Lower,
    )];
    memory[0].note = "buffers allocated on demand; target <= 1 KiB".into();
    if statm_resident().is_some() {
        super::alternate(settings, &mut memory, |_| idle_memory(memory_count))?;
        rows.extend(memory);
    }
    for &n in counts {
        let mut row = [Row::new(
            SCENARIO,
            format!("segment_{}", label(n)),
            "synack",
            "ns/segment",
            Better::Lower,
        )];
        super::alternate(settings, &mut row, |_| segment_cost(n, exchanges))?;
        rows.extend(row);
    }
    // The cost at the largest count against the cost at one: the target is at most 1.5×.
    let cost = |n: usize| {
        rows.iter()
            .find(|r| r.case == format!("segment_{}", label(n)))
            .map(Row::median)
    };
    if let (Some(one), Some(&most)) = (cost(1), counts.last())
        && let Some(at_most) = cost(most)
        && let Some(row) = rows
            .iter_mut()
            .find(|r| r.case == format!("segment_{}", label(most)))
    {
        row.note = format!("{:.2}× the cost at 1; target <= 1.5×", at_most / one);
    }
    Ok(rows)
}

/// `100000` as `100k`.
fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The process's resident memory in bytes (Linux; 4 KiB pages).
fn statm_resident() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn config() -> TcpConfig {
    TcpConfig {
        nodelay: true,
        ..TcpConfig::default()
    }
}

/// Two stacks with `n` established connections: the client's and the server's handles.
struct Open {
    pair: SynackPair,
    clock: WallClock,
    clients: Vec<SocketHandle>,
    servers: Vec<SocketHandle>,
}

fn open(n: usize) -> Result<Open, String> {
    let clock = WallClock::start();
    let mut pair = SynackPair::new(1500, config(), clock.synack());
    let listeners: Vec<ListenerHandle> = (0..n.div_ceil(PORTS))
        .map(|j| {
            let addr = SocketAddr::from((SERVER_IP, SERVER_PORT + j as u16));
            pair.server
                .listen(addr, 1024)
                .map_err(|e| format!("listen on {addr}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let (mut clients, mut servers) = (Vec::with_capacity(n), Vec::with_capacity(n));
    // In batches, so that no backlog overflows.
    for batch in (0..n).collect::<Vec<_>>().chunks(512) {
        let now = clock.synack();
        for &i in batch {
            let remote = SocketAddr::from((SERVER_IP, SERVER_PORT + (i / PORTS) as u16));
            let local = SocketAddr::from((CLIENT_IP, 1024 + (i % PORTS) as u16));
            let c = pair
                .client
                .connect(now, remote, Some(local))
                .map_err(|e| format!("connect {i}: {e}"))?;
            clients.push(c);
        }
        let want = clients.len();
        let started = clock.secs();
        while servers.len() < want {
            let now = clock.synack();
            pair.client_io(now);
            pair.server_io(now);
            for &l in &listeners {
                while let Ok(s) = pair.server.accept(l) {
                    servers.push(s);
                }
            }
            pair.timers(now);
            if clock.secs() - started > 10.0 {
                return Err(format!("{} of {want} connections accepted", servers.len()));
            }
        }
        // The handshake's last ACK has landed; nothing more is owed.
        let now = clock.synack();
        pair.client_io(now);
        pair.server_io(now);
    }
    Ok(Open {
        pair,
        clock,
        clients,
        servers,
    })
}

/// Resident bytes gained per endpoint with `n` idle connections.
fn idle_memory(n: usize) -> Result<f64, String> {
    let before = statm_resident().ok_or("cannot read /proc/self/statm")?;
    let open = open(n)?;
    let after = statm_resident().ok_or("cannot read /proc/self/statm")?;
    let endpoints = (open.clients.len() + open.servers.len()).max(1);
    drop(open);
    Ok(after.saturating_sub(before) as f64 / endpoints as f64)
}

/// Wall nanoseconds per segment sent, with `n` connections open.
fn segment_cost(n: usize, exchanges: usize) -> Result<f64, String> {
    let Open {
        mut pair,
        clock,
        clients,
        servers,
    } = open(n)?;
    // Accept order may differ from connect order: pair the ends by their addresses.
    type Ends = (SocketAddr, SocketAddr);
    let mut by_ends: Vec<(Ends, SocketHandle)> = servers
        .iter()
        .filter_map(|&s| pair.server.info(s).map(|i| ((i.remote, i.local), s)))
        .collect();
    by_ends.sort_unstable_by_key(|(ends, _)| *ends);
    let active: Vec<(SocketHandle, SocketHandle)> = (0..ACTIVE.min(n))
        .filter_map(|k| {
            let c = clients[k * n / ACTIVE.min(n)];
            let info = pair.client.info(c)?;
            let ends = (info.local, info.remote);
            let i = by_ends.binary_search_by_key(&ends, |(e, _)| *e).ok()?;
            Some((c, by_ends[i].1))
        })
        .collect();
    if active.is_empty() {
        return Err("no connection to use".into());
    }
    // Each active connection allocates its buffers on its first data: before the clock
    // starts, so that what is timed is the steady state.
    for &(c, s) in &active {
        exchange(&mut pair, &clock, c, s)?;
    }
    let out = |p: &SynackPair| p.client.counters().packets_out + p.server.counters().packets_out;
    let sent_before = out(&pair);
    let started = clock.secs();
    for k in 0..exchanges {
        let (c, s) = active[k % active.len()];
        exchange(&mut pair, &clock, c, s).map_err(|e| format!("exchange {k}: {e}"))?;
        if clock.secs() - started > 60.0 {
            return Err(format!("stalled after {k} exchanges"));
        }
    }
    let secs = clock.secs() - started;
    let segments = out(&pair).saturating_sub(sent_before).max(1);
    Ok(secs * 1e9 / segments as f64)
}

/// A 100-byte request from the client on `c` and the server's 100-byte answer on `s`.
fn exchange(
    pair: &mut SynackPair,
    clock: &WallClock,
    c: SocketHandle,
    s: SocketHandle,
) -> Result<(), String> {
    let message = [0x42; MESSAGE];
    let mut buf = [0; MESSAGE];
    let now = clock.synack();
    expect(pair.client.send(now, c, &message), "client send")?;
    pair.client_io(now);
    pair.server_io(now);
    let mut heard = 0;
    for _ in 0..TURNS {
        heard += expect(pair.server.recv(now, s, &mut buf), "server recv")?;
        if heard >= MESSAGE {
            break;
        }
        pair.client_io(now);
        pair.server_io(now);
    }
    expect(pair.server.send(now, s, &message), "server send")?;
    pair.server_io(now);
    pair.client_io(now);
    let mut got = 0;
    for _ in 0..TURNS {
        got += expect(pair.client.recv(now, c, &mut buf), "client recv")?;
        if got >= MESSAGE {
            break;
        }
        pair.server_io(now);
        pair.client_io(now);
    }
    pair.timers(now);
    match (heard, got) {
        (MESSAGE, MESSAGE) => Ok(()),
        _ => Err(format!("{heard} bytes heard, {got} answered of {MESSAGE}")),
    }
}

/// The bytes a call moved; waiting is 0, any other failure is an error.
fn expect(result: Result<usize, SocketError>, what: &str) -> Result<usize, String> {
    match result {
        Ok(n) => Ok(n),
        Err(SocketError::WouldBlock) => Ok(0),
        Err(e) => Err(format!("{what}: {e}")),
    }
}
