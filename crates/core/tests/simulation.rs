//! Deterministic simulation: two stacks on the `Pair` wire moving seeded data both ways at
//! once, with half-close, either side closing first, varied MTU, delay and address family,
//! on a clean wire and on a lossy one. Every failure names its `Scenario` (seed included);
//! `Scenario::run` on the same value replays it exactly.
//!
//! The `Network` wire is the core's seeded impairment model in each direction: delay and
//! jitter, a rate-limited bottleneck with a queue, random and bursty loss, reordering,
//! duplication and corruption, all drawn from the scenario's seed. Every run also checks,
//! from the packets alone, that no side sent beyond the window its peer had offered.
//!
//! `SYNACK_SIM_SEEDS=N` widens the seeded sweeps for nightly runs (default 20);
//! `SYNACK_SIM_SEED=N` replays just seed N. `SYNACK_SIM_TRACE=1` prints the last packets of a
//! run that gets stuck.

mod support;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use support::{InFlight, Pair};
use synack_core::impair::{Impairment, LinkConditions};
use synack_core::stack::{Counters, SocketHandle, StackConfig};
use synack_core::tcp::State;
use synack_core::wire::TcpFlags;
use synack_core::{Event, Instant};

/// A packet stashed by the lossy wire: (to_server, bytes).
type Packet = (bool, Vec<u8>);

/// SplitMix64: small, seedable, and independent of the stack's own RNG.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// The bytes one side sends: `i mod 251`, or seeded random bytes.
fn payload(len: usize, seed: Option<u64>) -> Vec<u8> {
    match seed {
        None => (0..len).map(|i| (i % 251) as u8).collect(),
        Some(s) => {
            let mut r = Rng(s);
            (0..len).map(|_| r.next() as u8).collect()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseOrder {
    /// The client shuts down once it has sent everything and keeps reading until EOF; the
    /// server shuts down after reading the client's EOF.
    ClientFirst,
    /// The mirror image.
    ServerFirst,
    /// Both shut down as soon as they have sent everything.
    Simultaneous,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire {
    Clean,
    /// Drops `loss` per mille and duplicates `dup` per mille (delivered late: reordering).
    Lossy {
        loss: u64,
        dup: u64,
    },
    /// Each direction through `synack_core::impair` with these conditions.
    Network(LinkConditions),
}

/// Conditions drawn from a seed across the impairment space; `harsh` allows more of
/// everything.
fn network(seed: u64, harsh: bool) -> LinkConditions {
    let mut r = Rng(seed ^ 0x0bad_11e5);
    let pct = |r: &mut Rng, max_tenths: u64| r.below(max_tenths + 1) as f64 / 1000.0;
    let scale = if harsh { 2 } else { 1 };
    let rate_bps = if r.chance(400) {
        [1_000_000, 10_000_000, 100_000_000][r.below(3) as usize]
    } else {
        0
    };
    LinkConditions {
        delay: Duration::from_micros(r.below(40_000)),
        jitter: Duration::from_micros(r.below(5_000)),
        rate_bps,
        queue_limit: if rate_bps > 0 {
            20 + r.below(500) as usize
        } else {
            0
        },
        loss: pct(&mut r, 30 * scale),
        loss_burst: if r.chance(300) {
            1.0 + r.below(5) as f64
        } else {
            1.0
        },
        reorder: pct(&mut r, 30 * scale),
        reorder_depth: 1 + r.below(3) as u32,
        duplicate: pct(&mut r, 10 * scale),
        corrupt: pct(&mut r, 10 * scale),
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    to_server: usize,
    to_client: usize,
    mtu: usize,
    delay_us: u64,
    ipv6: bool,
    order: CloseOrder,
    wire: Wire,
    /// Seeded random payload bytes instead of the `i mod 251` pattern.
    random_bytes: bool,
}

impl Scenario {
    fn clean(seed: u64, to_server: usize, to_client: usize) -> Scenario {
        Scenario {
            seed,
            to_server,
            to_client,
            mtu: 1500,
            delay_us: 5_000,
            ipv6: false,
            order: CloseOrder::ClientFirst,
            wire: Wire::Clean,
            random_bytes: false,
        }
    }

    /// A scenario drawn from the seed: sizes, MTU, delay, family, close order.
    fn random(seed: u64, wire: Wire, max_size: usize) -> Scenario {
        let mut r = Rng(seed ^ 0x5eed_5eed);
        let sizes = [0, 1, 1024, 100 * 1024, max_size];
        let ipv6 = r.chance(330);
        let min_mtu = if ipv6 { 1280 } else { 576 };
        Scenario {
            seed,
            to_server: sizes[r.below(sizes.len() as u64) as usize].min(max_size),
            to_client: sizes[r.below(sizes.len() as u64) as usize].min(max_size),
            mtu: min_mtu + r.below((9000 - min_mtu + 1) as u64) as usize,
            delay_us: r.below(50_000),
            ipv6,
            order: [
                CloseOrder::ClientFirst,
                CloseOrder::ServerFirst,
                CloseOrder::Simultaneous,
            ][r.below(3) as usize],
            wire,
            random_bytes: r.chance(500),
        }
    }

    fn pair(&self) -> Pair {
        let (c, s): (IpAddr, IpAddr) = if self.ipv6 {
            (
                "2001:db8::1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            )
        } else {
            (support::CLIENT_V4.into(), support::SERVER_V4.into())
        };
        let cfg = |addr, seed| StackConfig {
            mtu: self.mtu,
            ..support::config(addr, seed)
        };
        Pair::new(
            cfg(c, self.seed),
            cfg(s, self.seed.wrapping_add(1)),
            Duration::from_micros(self.delay_us),
        )
    }

    /// Runs the scenario to the end and returns the packet log. Panics, naming the scenario,
    /// on any failed check.
    fn run(&self) -> Outcome {
        let mut p = self.pair();
        // The lossy wire: the filter drops, or stashes a copy to be delivered late.
        let dups: Rc<RefCell<Vec<Packet>>> = Rc::default();
        let dropped = Rc::new(RefCell::new([0u64; 2]));
        if let Wire::Lossy { loss, dup } = self.wire {
            let mut r = Rng(self.seed ^ 0x1055);
            let dups = dups.clone();
            let dropped = dropped.clone();
            p.filter = Some(Box::new(move |to_server, data| {
                if r.chance(loss) {
                    dropped.borrow_mut()[usize::from(to_server)] += 1;
                    return false;
                }
                if r.chance(dup) {
                    dups.borrow_mut().push((to_server, data.clone()));
                }
                true
            }));
        }
        if let Wire::Network(conditions) = self.wire {
            p.links = Some([
                Impairment::new(conditions, self.seed ^ 0x70_5e),
                Impairment::new(conditions, self.seed ^ 0x70_c1),
            ]);
        }
        let (c, s) = p.connect(80);
        let mut sides = [
            Side::new(
                c,
                payload(self.to_server, self.random_bytes.then_some(self.seed)),
            ),
            Side::new(
                s,
                payload(
                    self.to_client,
                    self.random_bytes.then_some(self.seed.wrapping_add(7)),
                ),
            ),
        ];
        let expect = [sides[1].data.clone(), sides[0].data.clone()];
        // Per socket: the last state reported, and whether it ever entered TIME-WAIT.
        let mut states: HashMap<(bool, SocketHandle), (State, bool)> = HashMap::new();
        let limit = match self.wire {
            Wire::Clean => Duration::from_secs(600),
            Wire::Lossy { .. } | Wire::Network(_) => Duration::from_secs(3600),
        };
        let deadline = p.now + limit;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // The applications: send what fits, read what arrived, close as the order says.
            for (i, side) in sides.iter_mut().enumerate() {
                let is_client = i == 0;
                let stack = if is_client {
                    &mut p.client
                } else {
                    &mut p.server
                };
                if let Err(e) = side.pump(self, p.now, stack, &mut buf, &expect[i], is_client) {
                    trace(&p.log);
                    panic!("{e}");
                }
            }
            let (a, b) = (
                sides[0].eof && sides[0].released,
                sides[1].eof && sides[1].released,
            );
            if a && b
                && p.client.state(c).is_none_or(|s| s == State::TimeWait)
                && p.server.state(s).is_none_or(|s| s == State::TimeWait)
            {
                break;
            }
            if p.now > deadline {
                trace(&p.log);
                panic!("{self:?}: not finished after {limit:?}: {sides:?}");
            }
            // Duplicates reach the wire late (reordered behind what follows).
            for (to_server, data) in dups.borrow_mut().drain(..) {
                p.wire.push_back(InFlight {
                    deliver_at: p.now + Duration::from_micros(self.delay_us * 3 / 2 + 100),
                    to_server,
                    data,
                });
            }
            assert!(
                p.step(),
                "{self:?}: nothing pending but not finished: {sides:?}"
            );
            self.check_invariants(&mut p, &mut states);
        }
        for (i, side) in sides.iter().enumerate() {
            assert_eq!(
                side.received.len(),
                expect[i].len(),
                "{self:?}: side {i} got a short stream"
            );
            assert!(
                side.received == expect[i],
                "{self:?}: side {i} bytes differ"
            );
        }
        // Clean close: whoever closed first (actively) ends in TIME-WAIT, the other's slot is
        // reclaimed after LAST-ACK (or both TIME-WAIT after a simultaneous close).
        // On a bad wire the passive side's FIN may be lost for longer than 2 MSL: the active
        // side's TIME-WAIT then ends first (and answers the late FIN with a RST). It must
        // still have entered TIME-WAIT.
        let cs = p.client.state(c);
        let ss = p.server.state(s);
        let waited =
            |is_client: bool, socket| states.get(&(is_client, socket)).is_some_and(|e| e.1);
        let active_done = |state: Option<State>, is_client: bool, socket| {
            state == Some(State::TimeWait)
                || (self.wire != Wire::Clean && state.is_none() && waited(is_client, socket))
        };
        match self.order {
            CloseOrder::ClientFirst => {
                assert!(active_done(cs, true, c), "{self:?}: client {cs:?}");
                assert_eq!(ss, None, "{self:?}: server");
            }
            CloseOrder::ServerFirst => {
                assert!(active_done(ss, false, s), "{self:?}: server {ss:?}");
                assert_eq!(cs, None, "{self:?}: client");
            }
            CloseOrder::Simultaneous => {
                assert!(
                    cs.is_none_or(|s| s == State::TimeWait)
                        && ss.is_none_or(|s| s == State::TimeWait)
                        && (cs.is_some() || ss.is_some()),
                    "{self:?}: after a simultaneous close: client {cs:?}, server {ss:?}"
                );
            }
        }
        // TIME-WAIT ends after 2 MSL and every slot is reclaimed; nothing is left to send.
        let end = p.now + Duration::from_secs(120);
        assert!(
            p.run_until(Duration::from_secs(121), |p| p.client.connection_count()
                == 0
                && p.server.connection_count() == 0
                && p.wire.is_empty()),
            "{self:?}: connections linger after TIME-WAIT: {} {}",
            p.client.connection_count(),
            p.server.connection_count()
        );
        assert!(p.now <= end);
        let filtered_out = *dropped.borrow();
        let (cc, sc) = (p.client.counters().clone(), p.server.counters().clone());
        let log_to_server = p.log.iter().filter(|e| e.1).count() as u64;
        let log_to_client = p.log.len() as u64 - log_to_server;
        assert_eq!(
            cc.packets_out,
            log_to_server + filtered_out[1],
            "{self:?}: client's packets_out vs the wire"
        );
        assert_eq!(
            sc.packets_out,
            log_to_client + filtered_out[0],
            "{self:?}: server's packets_out vs the wire"
        );
        if self.wire == Wire::Clean {
            assert_eq!(sc.packets_in, log_to_server, "{self:?}");
            assert_eq!(cc.packets_in, log_to_client, "{self:?}");
        }
        if let Err(e) = within_offered_windows(&p.log) {
            trace(&p.log);
            panic!("{self:?}: {e}");
        }
        Outcome {
            retransmitted: cc.retransmitted_segments + sc.retransmitted_segments,
            log: p.log,
        }
    }

    /// Checks after every step.
    fn check_invariants(
        &self,
        p: &mut Pair,
        states: &mut HashMap<(bool, SocketHandle), (State, bool)>,
    ) {
        for is_client in [true, false] {
            let stack = if is_client {
                &mut p.client
            } else {
                &mut p.server
            };
            let c = stack.counters().clone();
            let who = if is_client { "client" } else { "server" };
            assert!(c.segments_in <= c.packets_in, "{self:?}: {who} {c:?}");
            assert!(c.segments_out <= c.packets_out, "{self:?}: {who} {c:?}");
            assert!(
                drops(&c) <= c.packets_in,
                "{self:?}: {who} counts more drops than packets: {c:?}"
            );
            if self.wire == Wire::Clean {
                assert_eq!(
                    drops(&c),
                    0,
                    "{self:?}: {who} dropped on a clean wire: {c:?}"
                );
                assert_eq!(
                    c.retransmitted_segments, 0,
                    "{self:?}: {who} retransmitted on a clean wire: {c:?}"
                );
                assert_eq!(c.resets_sent, 0, "{self:?}: {who} sent RST: {c:?}");
                assert_eq!(c.challenge_acks_sent, 0, "{self:?}: {who}: {c:?}");
            }
            // State changes chain: each `from` is the state last reported.
            while let Some(ev) = stack.poll_event() {
                match ev {
                    Event::StateChanged {
                        socket, from, to, ..
                    } => {
                        let key = (is_client, socket);
                        let waited = states.get(&key).is_some_and(|s| s.1);
                        let entry = (to, waited || to == State::TimeWait);
                        if let Some((prev, _)) = states.insert(key, entry) {
                            assert_eq!(
                                prev, from,
                                "{self:?}: {who} socket {socket:?} jumped {prev:?} -> {from:?} -> {to:?}"
                            );
                        }
                    }
                    Event::Dropped { reason, .. } => {
                        assert!(
                            self.wire != Wire::Clean,
                            "{self:?}: {who} dropped {reason:?} on a clean wire"
                        );
                    }
                }
            }
        }
    }
}

/// Checks from the packets alone that no segment reached beyond the largest right window
/// edge (ACK + scaled window) its peer had sent before it; a one-byte zero-window probe
/// may. Packets that do not parse (corrupted on purpose) are skipped.
fn within_offered_windows(log: &[(Instant, bool, Vec<u8>)]) -> Result<(), String> {
    // Indexed by sender: 0 the client, 1 the server.
    let mut shift: [Option<u8>; 2] = [None; 2];
    let mut right_edge: [Option<u32>; 2] = [None; 2];
    let before = |a: u32, b: u32| (a.wrapping_sub(b) as i32) < 0;
    for (i, (at, to_server, pkt)) in log.iter().enumerate() {
        let from = usize::from(!to_server);
        let Ok((ip, payload)) = synack_core::wire::parse_ip(pkt) else {
            continue;
        };
        let Ok((t, data)) = synack_core::wire::TcpRepr::parse(payload, ip.src, ip.dst, true) else {
            continue;
        };
        if t.flags.contains(TcpFlags::SYN) {
            shift[from] = t.options.window_scale;
            continue;
        }
        // The window this segment may use is what the peer offered so far.
        if !data.is_empty()
            && let Some(edge) = right_edge[1 - from]
        {
            let end = t.seq.wrapping_add(data.len() as u32);
            let probe = data.len() == 1;
            if before(edge, end) && !(probe && end == edge.wrapping_add(1)) {
                return Err(format!(
                    "packet {i} at {at:?} from {} sends to {end}, beyond the offered edge {edge}",
                    if from == 0 { "client" } else { "server" }
                ));
            }
        }
        if t.flags.contains(TcpFlags::ACK) && !t.flags.contains(TcpFlags::RST) {
            let scale = match (shift[0], shift[1]) {
                (Some(_), Some(_)) => shift[from].unwrap_or(0),
                _ => 0,
            };
            let edge = t.ack.wrapping_add(u32::from(t.window) << scale);
            if right_edge[from].is_none_or(|e| before(e, edge)) {
                right_edge[from] = Some(edge);
            }
        }
    }
    Ok(())
}

/// With `SYNACK_SIM_TRACE` set, prints the last packets of the log, decoded.
fn trace(log: &[(Instant, bool, Vec<u8>)]) {
    if std::env::var_os("SYNACK_SIM_TRACE").is_none() {
        return;
    }
    for (at, to_server, pkt) in &log[log.len().saturating_sub(60)..] {
        let Ok((ip, payload)) = synack_core::wire::parse_ip(pkt) else {
            continue;
        };
        let Ok((t, data)) = synack_core::wire::TcpRepr::parse(payload, ip.src, ip.dst, true) else {
            continue;
        };
        eprintln!(
            "{at:?} {} [{:?}] seq={} ack={} win={} len={} sack={:?}",
            if *to_server { "C->S" } else { "S->C" },
            t.flags,
            t.seq,
            t.ack,
            t.window,
            data.len(),
            t.options.sack_blocks()
        );
    }
}

struct Outcome {
    log: Vec<(Instant, bool, Vec<u8>)>,
    retransmitted: u64,
}

fn drops(c: &Counters) -> u64 {
    c.dropped_malformed
        + c.dropped_bad_checksum
        + c.dropped_not_ours
        + c.dropped_unknown_protocol
        + c.dropped_backlog_full
        + c.dropped_unacceptable
        + c.dropped_paws
}

/// One application: a socket, what it sends, what it has read.
#[derive(Debug)]
struct Side {
    socket: SocketHandle,
    #[allow(dead_code)]
    data: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    shut: bool,
    eof: bool,
    released: bool,
}

impl Side {
    fn new(socket: SocketHandle, data: Vec<u8>) -> Side {
        Side {
            socket,
            data,
            sent: 0,
            received: Vec::new(),
            shut: false,
            eof: false,
            released: false,
        }
    }

    fn pump(
        &mut self,
        sc: &Scenario,
        now: Instant,
        stack: &mut synack_core::Stack,
        buf: &mut [u8],
        expect: &[u8],
        is_client: bool,
    ) -> Result<(), String> {
        if self.released {
            return Ok(());
        }
        let who = if is_client { "client" } else { "server" };
        while self.sent < self.data.len() {
            match stack.send(now, self.socket, &self.data[self.sent..]) {
                Ok(n) if n > 0 => self.sent += n,
                Ok(_) | Err(synack_core::stack::SocketError::WouldBlock) => break,
                Err(e) => return Err(format!("{sc:?}: {who} send failed: {e}")),
            }
        }
        while !self.eof {
            match stack.recv(now, self.socket, buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let at = self.received.len();
                    assert!(
                        at + n <= expect.len() && buf[..n] == expect[at..at + n],
                        "{sc:?}: {who} received wrong bytes at offset {at} (len {n})"
                    );
                    self.received.extend_from_slice(&buf[..n]);
                }
                Err(synack_core::stack::SocketError::WouldBlock) => break,
                Err(e) => return Err(format!("{sc:?}: {who} recv failed: {e}")),
            }
        }
        let all_sent = self.sent == self.data.len();
        let my_turn = match sc.order {
            CloseOrder::ClientFirst => is_client || self.eof,
            CloseOrder::ServerFirst => !is_client || self.eof,
            CloseOrder::Simultaneous => true,
        };
        if all_sent && my_turn && !self.shut {
            stack
                .shutdown(now, self.socket)
                .unwrap_or_else(|e| panic!("{sc:?}: {who} shutdown failed: {e}"));
            self.shut = true;
        }
        if self.shut && self.eof {
            stack.close(now, self.socket);
            self.released = true;
        }
        Ok(())
    }
}

/// The seeds of the sweeps: `0..SYNACK_SIM_SEEDS` (default 20), or only `SYNACK_SIM_SEED`
/// to replay one failure.
fn seeds() -> std::ops::Range<u64> {
    let var = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match var("SYNACK_SIM_SEED") {
        Some(s) => s..s + 1,
        None => 0..var("SYNACK_SIM_SEEDS").unwrap_or(20),
    }
}

#[test]
fn sizes_both_directions_clean() {
    const SIZES: [usize; 5] = [0, 1, 1024, 100 * 1024, 1024 * 1024];
    let mut seed = 100;
    for &up in &SIZES {
        for &down in &SIZES {
            // Only one 1 MB x 1 MB run here; the other large pairs are covered one-way.
            seed += 1;
            let mut sc = Scenario::clean(seed, up, down);
            sc.order = [
                CloseOrder::ClientFirst,
                CloseOrder::ServerFirst,
                CloseOrder::Simultaneous,
            ][(seed % 3) as usize];
            sc.random_bytes = seed % 2 == 0;
            sc.run();
        }
    }
}

#[test]
fn mtu_delay_and_family_clean() {
    for (i, &(mtu, delay_us, ipv6)) in [
        (576, 0, false),
        (576, 40_000, false),
        (1280, 1_000, true),
        (1500, 20_000, true),
        (4000, 7_000, false),
        (9000, 30_000, false),
        (9000, 2_000, true),
    ]
    .iter()
    .enumerate()
    {
        let sc = Scenario {
            mtu,
            delay_us,
            ipv6,
            ..Scenario::clean(200 + i as u64, 300 * 1024, 200 * 1024)
        };
        let log = sc.run().log;
        // No packet exceeds the MTU; full-sized segments are used.
        let largest = log.iter().map(|e| e.2.len()).max().unwrap();
        assert!(
            largest <= mtu,
            "{sc:?}: a {largest}-byte packet on a {mtu} link"
        );
        assert_eq!(largest, mtu, "{sc:?}: segments never filled the MTU");
    }
}

/// Runs every seed (a failure does not stop the sweep) and fails listing the failed ones.
fn sweep(wire: impl Fn(u64) -> Wire, max_size: usize) -> u64 {
    let mut failed = Vec::new();
    let mut retransmitted = 0;
    for seed in seeds() {
        let sc = Scenario::random(seed, wire(seed), max_size);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sc.run())) {
            Ok(out) => retransmitted += out.retransmitted,
            Err(_) => {
                eprintln!("failed: {sc:?}");
                failed.push(seed);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{:?}: seeds {failed:?} failed (replay one with SYNACK_SIM_SEED=N SYNACK_SIM_TRACE=1)",
        wire(0)
    );
    retransmitted
}

#[test]
fn seeded_sweep_clean() {
    sweep(|_| Wire::Clean, 1024 * 1024);
}

#[test]
fn seeded_sweep_lossy() {
    let retransmitted = sweep(|_| Wire::Lossy { loss: 20, dup: 5 }, 256 * 1024);
    assert!(
        retransmitted > 0,
        "no retransmission in lossy runs {:?}",
        seeds()
    );
}

/// Regression (seed 119): after an RTO both ends rewound SND.NXT and sent pure ACKs with
/// that old sequence number; each found the other's ACKs unacceptable and dropped them
/// without reading SEG.ACK, until R2 aborted. Pure ACKs now carry the highest SND.NXT.
#[test]
fn lossy_seed_119_ack_deadlock_after_rto() {
    Scenario::random(119, Wire::Lossy { loss: 20, dup: 5 }, 256 * 1024).run();
}

#[test]
fn lossy_recovers_with_retransmissions() {
    // One bigger lossy run both ways, checking that loss recovery was actually exercised.
    let sc = Scenario {
        wire: Wire::Lossy { loss: 20, dup: 5 },
        ..Scenario::clean(4242, 512 * 1024, 512 * 1024)
    };
    let out = sc.run();
    assert!(
        out.retransmitted > 0,
        "{sc:?}: no retransmission on a 2% lossy wire?"
    );
}

#[test]
fn twenty_megabytes() {
    let sc = Scenario {
        random_bytes: true,
        ..Scenario::clean(7, 20 * 1024 * 1024, 64 * 1024)
    };
    let out = sc.run();
    let bytes: usize = out.log.iter().filter(|e| e.1).map(|e| e.2.len()).sum();
    assert!(
        bytes > 20 * 1024 * 1024,
        "{sc:?}: only {bytes} bytes crossed"
    );
}

#[test]
fn seeded_sweep_network() {
    sweep(|seed| Wire::Network(network(seed, false)), 512 * 1024);
}

#[test]
fn harsh_network_everything_at_once() {
    let conditions = LinkConditions {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(3),
        loss: 0.03,
        loss_burst: 3.0,
        reorder: 0.03,
        reorder_depth: 3,
        duplicate: 0.02,
        corrupt: 0.02,
        ..LinkConditions::default()
    };
    let sc = Scenario {
        wire: Wire::Network(conditions),
        ..Scenario::clean(77, 1024 * 1024, 1024 * 1024)
    };
    assert!(sc.run().retransmitted > 0);
}

#[test]
fn same_seed_replays_exactly() {
    for wire in [
        Wire::Clean,
        Wire::Lossy { loss: 20, dup: 5 },
        Wire::Network(network(3, true)),
    ] {
        let sc = Scenario::random(3, wire, 256 * 1024);
        let a = sc.run().log;
        let b = sc.run().log;
        assert!(a == b, "{sc:?}: two runs of the same seed differ");
        // And the log does depend on the seed (the check above could fail).
        let other = Scenario {
            seed: 4,
            ..sc.clone()
        }
        .run()
        .log;
        assert!(a != other, "{sc:?}: seeds 3 and 4 gave identical logs");
    }
}

/// The window check is not vacuous: moving one data segment far beyond the offered window
/// (checksum fixed, so it still parses) makes it fail.
#[test]
fn window_check_catches_an_overrun() {
    let mut log = Scenario::clean(9, 64 * 1024, 0).run().log;
    assert!(within_offered_windows(&log).is_ok());
    let (i, hl) = log
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, (_, to_server, pkt))| {
            let (ip, payload) = synack_core::wire::parse_ip(pkt).ok()?;
            let (_, data) =
                synack_core::wire::TcpRepr::parse(payload, ip.src, ip.dst, true).ok()?;
            (*to_server && data.len() > 100).then_some((i, ip.header_len()))
        })
        .expect("a data segment");
    let pkt = &mut log[i].2;
    let (ip, _) = synack_core::wire::parse_ip(pkt).unwrap();
    let seq = u32::from_be_bytes(pkt[hl + 4..hl + 8].try_into().unwrap());
    pkt[hl + 4..hl + 8].copy_from_slice(&seq.wrapping_add(10_000_000).to_be_bytes());
    synack_core::wire::tcp::fill_checksum(&mut pkt[hl..], ip.src, ip.dst);
    assert!(within_offered_windows(&log).is_err());
}
