//! The established fast path allocates nothing: once a bulk transfer has warmed up (rings
//! grown, timers and tables at their size), moving more data through two stacks takes no
//! allocation at all, for each packet or otherwise.
//!
//! A counting global allocator counts this thread's allocations only, so other tests running
//! in parallel threads do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use synack_core::stack::SocketError;
use synack_core::tcp::TcpConfig;
use synack_core::{Instant, Stack, StackConfig};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed straight to the system allocator; counting touches only a
// const-initialised thread-local, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Packets between the two stacks in buffers that are reused, so the link itself allocates
/// nothing once warm.
struct Link {
    queue: VecDeque<(Box<[u8]>, usize)>,
    spare: Vec<Box<[u8]>>,
    packets: u64,
}

impl Link {
    fn new() -> Link {
        Link {
            queue: VecDeque::with_capacity(4096),
            spare: Vec::with_capacity(4096),
            packets: 0,
        }
    }
}

/// One stack's turn: every waiting packet in, then every packet it has out.
fn turn(stack: &mut Stack, now: Instant, inbox: &mut Link, outbox: &mut Link) {
    while let Some((buf, len)) = inbox.queue.pop_front() {
        stack.receive(now, &buf[..len]);
        inbox.spare.push(buf);
    }
    loop {
        let mut buf = outbox
            .spare
            .pop()
            .unwrap_or_else(|| vec![0; 65_535].into_boxed_slice());
        match stack.poll_transmit(now, &mut buf) {
            Some(len) => {
                outbox.queue.push_back((buf, len));
                outbox.packets += 1;
            }
            None => {
                outbox.spare.push(buf);
                break;
            }
        }
    }
}

/// What one transfer allocated.
struct Counts {
    /// Allocations from the start through the warm-up (the rings grow): never 0, which shows
    /// the counter sees this thread's allocations.
    warm_up: u64,
    /// Allocations while the measured bytes moved.
    measured: u64,
    /// Packets, both ways, while the measured bytes moved.
    packets: u64,
}

impl Counts {
    /// Asserts the measured part allocated nothing over more than `min_packets` packets,
    /// and that the counter did see this thread's warm-up allocations.
    fn assert_nothing_allocated(&self, min_packets: u64) {
        assert!(self.warm_up > 0, "the counter saw no allocation at all");
        assert!(
            self.packets > min_packets,
            "only {} packets measured",
            self.packets
        );
        assert_eq!(
            self.measured, 0,
            "{} allocations over {} packets",
            self.measured, self.packets
        );
    }
}

/// Moves `warm` bytes and then `measured` more from a client to a server over `mtu`.
fn bulk(client_ip: std::net::IpAddr, server_ip: std::net::IpAddr, mtu: usize) -> Counts {
    const BUFFER: usize = 256 * 1024;
    let tcp = TcpConfig {
        send_buffer: BUFFER,
        send_buffer_max: BUFFER,
        recv_buffer: BUFFER,
        recv_buffer_max: BUFFER,
        ..TcpConfig::default()
    };
    let config = |ip, seed| StackConfig {
        addrs: vec![ip],
        mtu,
        seed,
        record_events: false,
        tcp: tcp.clone(),
        ..StackConfig::default()
    };
    // Time moves 10 µs a turn: enough for RTT samples, never enough for a timer to matter.
    let start = allocations();
    let mut now = Instant::from_nanos(1_000_000);
    let mut client = Stack::new(config(client_ip, 1), now);
    let mut server = Stack::new(config(server_ip, 2), now);
    let server_addr = SocketAddr::new(server_ip, 5001);
    let listener = server.listen(server_addr, 1).expect("listen");
    let conn = client.connect(now, server_addr, None).expect("connect");
    let (mut to_server, mut to_client) = (Link::new(), Link::new());
    let data = vec![0x5a_u8; 64 * 1024];
    let mut sink = vec![0_u8; 64 * 1024];
    let (warm, measured) = (8_u64 << 20, 16_u64 << 20);
    let total = warm + measured;
    let (mut sent, mut received) = (0_u64, 0_u64);
    let mut accepted = None;
    let mut mark: Option<(u64, u64)> = None;
    let mut turns = 0_u32;
    while received < total {
        turns += 1;
        assert!(turns < 1_000_000, "stalled at {received} of {total} bytes");
        now = Instant::from_nanos(now.as_nanos() + 10_000);
        while sent < total {
            let n = (total - sent).min(data.len() as u64) as usize;
            match client.send(now, conn, &data[..n]) {
                Ok(0) | Err(SocketError::WouldBlock) => break,
                Ok(k) => sent += k as u64,
                Err(e) => panic!("send: {e}"),
            }
        }
        turn(&mut client, now, &mut to_client, &mut to_server);
        turn(&mut server, now, &mut to_server, &mut to_client);
        if accepted.is_none() {
            accepted = server.accept(listener).ok();
        }
        if let Some(s) = accepted {
            loop {
                match server.recv(now, s, &mut sink) {
                    Ok(0) => panic!("closed after {received} bytes"),
                    Ok(n) => received += n as u64,
                    Err(SocketError::WouldBlock) => break,
                    Err(e) => panic!("recv: {e}"),
                }
            }
        }
        if mark.is_none() && received >= warm {
            mark = Some((allocations(), to_server.packets + to_client.packets));
        }
    }
    let (allocs, packets) = mark.expect("warm-up ended");
    Counts {
        warm_up: allocs - start,
        measured: allocations() - allocs,
        packets: to_server.packets + to_client.packets - packets,
    }
}

#[test]
fn established_bulk_transfer_allocates_nothing_ipv4() {
    let c = bulk(
        Ipv4Addr::new(10, 0, 0, 1).into(),
        Ipv4Addr::new(10, 0, 0, 2).into(),
        1500,
    );
    c.assert_nothing_allocated(10_000);
}

#[test]
fn established_bulk_transfer_allocates_nothing_ipv6_large_mtu() {
    let c = bulk(
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).into(),
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2).into(),
        65_535,
    );
    c.assert_nothing_allocated(300);
}
