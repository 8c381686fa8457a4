//! Malformed input into `Stack::receive`: each bad packet is dropped, counted in exactly the
//! right `Counters` field, provokes no answer, and leaves an established connection working.
//! Then proptests: arbitrary bytes, and mutations of a valid SYN, never panic and are always
//! counted.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use proptest::prelude::*;
use support::Pair;
use synack_core::Stack;
use synack_core::stack::{Counters, SocketHandle};
use synack_core::tcp::State;
use synack_core::wire::ipv4::Ipv4Packet;
use synack_core::wire::tcp::fill_checksum;
use synack_core::wire::{IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpRepr};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Which counter a packet must land in.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Malformed,
    BadChecksum,
    NotOurs,
    UnknownProtocol,
}

fn bump(c: &Counters, e: Expect) -> Counters {
    let mut c = c.clone();
    c.packets_in += 1;
    match e {
        Expect::Malformed => c.dropped_malformed += 1,
        Expect::BadChecksum => c.dropped_bad_checksum += 1,
        Expect::NotOurs => c.dropped_not_ours += 1,
        Expect::UnknownProtocol => c.dropped_unknown_protocol += 1,
    }
    c
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

fn ip(src: IpAddr, dst: IpAddr, protocol: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let repr = IpRepr {
        src,
        dst,
        protocol,
        ttl: 64,
        payload_len: payload.len(),
    };
    let mut buf = vec![0; repr.buffer_len()];
    let h = repr.emit(&mut buf);
    buf[h..].copy_from_slice(payload);
    buf
}

/// A TCP segment (checksum filled) with raw `options` bytes (a multiple of 4) and `data`.
#[allow(clippy::too_many_arguments)]
fn segment(
    src: IpAddr,
    dst: IpAddr,
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    options: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: ports.0,
        dst_port: ports.1,
        seq,
        ack,
        flags,
        window: 65535,
        urgent: 0,
        options: TcpOptions::default(),
    };
    let mut seg = vec![0; 20 + options.len() + data.len()];
    repr.emit_header(&mut seg);
    seg[12] = (((20 + options.len()) / 4) as u8) << 4;
    seg[20..20 + options.len()].copy_from_slice(options);
    seg[20 + options.len()..].copy_from_slice(data);
    fill_checksum(&mut seg, src, dst);
    seg
}

/// An established IPv4 connection and the bytes it has moved so far.
struct Conn {
    p: Pair,
    c: SocketHandle,
    s: SocketHandle,
    client_port: u16,
    round: u32,
}

impl Conn {
    fn new(seed: u64) -> Conn {
        let mut p = Pair::v4(seed);
        let (c, s) = p.connect(80);
        let client_port = p.client.info(c).unwrap().local.port();
        let mut conn = Conn {
            p,
            c,
            s,
            client_port,
            round: 0,
        };
        conn.exchange();
        conn
    }

    /// A segment on the connection's 4-tuple, client to server, with the client's current
    /// sequence numbers (so that, were it well formed, it would be acceptable).
    fn to_server(&self, options: &[u8], data: &[u8]) -> Vec<u8> {
        // The client has nothing in flight after `exchange`: its next seq and ack are what
        // the server expects.
        let last = self
            .p
            .log
            .iter()
            .rev()
            .find(|e| e.1)
            .expect("client sent something");
        let tcp = &last.2[20..];
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        let ack = u32::from_be_bytes(tcp[8..12].try_into().unwrap());
        let seg_len = last.2.len() - 20 - usize::from(tcp[12] >> 4) * 4;
        let seg = segment(
            CLIENT.into(),
            SERVER.into(),
            (self.client_port, 80),
            seq.wrapping_add(seg_len as u32),
            ack,
            TcpFlags::ACK | TcpFlags::PSH,
            options,
            data,
        );
        ip(CLIENT.into(), SERVER.into(), IpProtocol::Tcp, &seg)
    }

    /// Both ways, some data: proves the connection still works.
    fn exchange(&mut self) {
        self.round += 1;
        let msg = format!("round {} from the client", self.round);
        let reply = format!("round {} from the server", self.round);
        let (c, s) = (self.c, self.s);
        let now = self.p.now;
        assert_eq!(self.p.client.send(now, c, msg.as_bytes()), Ok(msg.len()));
        assert_eq!(
            self.p.server.send(now, s, reply.as_bytes()),
            Ok(reply.len())
        );
        let mut got_s = Vec::new();
        let mut got_c = Vec::new();
        let mut buf = [0u8; 256];
        assert!(
            self.p.run_until(Duration::from_secs(5), |p| {
                if let Ok(n) = p.server.recv(p.now, s, &mut buf) {
                    got_s.extend_from_slice(&buf[..n]);
                }
                if let Ok(n) = p.client.recv(p.now, c, &mut buf) {
                    got_c.extend_from_slice(&buf[..n]);
                }
                got_s.len() >= msg.len() && got_c.len() >= reply.len()
            }),
            "round {}: data did not get through",
            self.round
        );
        assert_eq!(got_s, msg.as_bytes());
        assert_eq!(got_c, reply.as_bytes());
        // Let the delayed ACKs go out so nothing is in flight.
        self.p.run_until(Duration::from_millis(500), |p| {
            p.wire.is_empty()
                && p.client
                    .poll_timeout()
                    .is_none_or(|t| t > p.now + Duration::from_secs(1))
        });
        assert_eq!(self.p.client.state(c), Some(State::Established));
        assert_eq!(self.p.server.state(s), Some(State::Established));
    }

    /// Feeds `packet` to the server; it must be counted as `e` and change nothing else.
    fn feed(&mut self, what: &str, packet: &[u8], e: Expect) {
        let before = self.p.server.counters().clone();
        let now = self.p.now;
        self.p.server.receive(now, packet);
        let after = self.p.server.counters().clone();
        assert_eq!(after, bump(&before, e), "{what}: counted wrongly");
        let mut buf = [0u8; 1600];
        assert_eq!(
            self.p.server.poll_transmit(now, &mut buf),
            None,
            "{what}: the stack answered a dropped packet"
        );
        self.exchange();
    }
}

#[test]
fn control_well_formed_segment_is_accepted() {
    // The builder makes acceptable segments, so the drops below are for the defect alone.
    let mut k = Conn::new(1);
    let pkt = k.to_server(&[30, 4, 0, 0], b"xyz"); // an unknown option, skipped
    let before = k.p.server.counters().clone();
    k.p.server.receive(k.p.now, &pkt);
    let after = k.p.server.counters().clone();
    assert_eq!(drops(&after), drops(&before));
    assert_eq!(after.segments_in, before.segments_in + 1);
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Ok(n) = k.p.server.recv(k.p.now, k.s, &mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"xyz");
}

#[test]
fn truncated_headers() {
    let mut k = Conn::new(2);
    let good = k.to_server(&[], b"data");
    k.feed("empty", &[], Expect::Malformed);
    k.feed("10 bytes of IPv4", &good[..10], Expect::Malformed);
    k.feed(
        "IPv4 header only, TCP missing",
        &good[..20],
        Expect::Malformed,
    );
    // IP total length says more than the buffer holds.
    k.feed(
        "cut mid-payload",
        &good[..good.len() - 2],
        Expect::Malformed,
    );
    // A consistent IPv4 header around 10 bytes of TCP.
    let short = ip(CLIENT.into(), SERVER.into(), IpProtocol::Tcp, &good[20..30]);
    k.feed("10-byte TCP header", &short, Expect::Malformed);
    k.feed("39 bytes of IPv6", &[0x60; 39], Expect::Malformed);
    // IHL under 5.
    let mut ihl = good.clone();
    ihl[0] = 0x44;
    Ipv4Packet::new_unchecked(&mut ihl[..]).fill_checksum();
    k.feed("IHL 4", &ihl, Expect::Malformed);
}

#[test]
fn bad_checksums() {
    let mut k = Conn::new(3);
    let mut pkt = k.to_server(&[], b"data");
    pkt[8] -= 1; // TTL changed, IP checksum not fixed
    k.feed("bad IPv4 header checksum", &pkt, Expect::BadChecksum);
    let mut pkt = k.to_server(&[], b"data");
    *pkt.last_mut().unwrap() ^= 0x40;
    k.feed("bad TCP checksum", &pkt, Expect::BadChecksum);
    let mut pkt = k.to_server(&[], b"");
    pkt[36] ^= 0xff;
    k.feed("bad TCP checksum, no payload", &pkt, Expect::BadChecksum);
}

#[test]
fn bad_data_offset() {
    let mut k = Conn::new(4);
    for (off, what) in [
        (4u8, "data offset 4"),
        (0, "data offset 0"),
        (15, "data offset 15"),
    ] {
        let mut pkt = k.to_server(&[], b"data");
        pkt[32] = off << 4;
        fill_checksum(&mut pkt[20..], CLIENT.into(), SERVER.into());
        k.feed(what, &pkt, Expect::Malformed);
    }
    // Beyond the segment by one word.
    let mut pkt = k.to_server(&[1, 1, 1, 1], b"");
    pkt[32] = 7 << 4;
    fill_checksum(&mut pkt[20..], CLIENT.into(), SERVER.into());
    k.feed("data offset past the end", &pkt, Expect::Malformed);
}

#[test]
fn bad_option_lengths() {
    let mut k = Conn::new(5);
    for (opts, what) in [
        (&[2u8, 0, 0, 0][..], "MSS length 0"),
        (&[2, 1, 0, 0], "MSS length 1"),
        (&[30, 0, 0, 0], "unknown option length 0"),
        (&[30, 1, 0, 0], "unknown option length 1"),
        (&[1, 1, 1, 30], "length byte missing"),
        (&[30, 5, 0, 0], "unknown option past the end"),
        (&[8, 10, 0, 0], "timestamps past the end"),
        (&[1, 1, 8, 10, 0, 0, 0, 0], "timestamps past the end (2)"),
        (&[2, 3, 0, 0], "MSS length 3"),
        (&[3, 4, 7, 0], "window scale length 4"),
        (&[5, 4, 0, 0], "SACK with no block"),
    ] {
        let pkt = k.to_server(opts, b"data");
        k.feed(what, &pkt, Expect::Malformed);
    }
}

#[test]
fn wrong_version_fragments_and_addresses() {
    let mut k = Conn::new(6);
    let good = k.to_server(&[], b"data");
    for v in [0u8, 5, 7, 15] {
        let mut pkt = good.clone();
        pkt[0] = (v << 4) | 5;
        Ipv4Packet::new_unchecked(&mut pkt[..]).fill_checksum();
        k.feed(&format!("IP version {v}"), &pkt, Expect::Malformed);
    }
    // An IPv6 version nibble on an IPv4 packet: its first 40 bytes parse as an IPv6 header
    // (payload length 0, from the IPv4 ident) whose destination is not ours.
    let mut pkt = good.clone();
    pkt[0] = 0x65;
    k.feed("IPv6 nibble on IPv4", &pkt, Expect::NotOurs);
    for (df, mf, offset) in [(false, true, 0), (false, false, 8), (false, true, 1480)] {
        let mut pkt = good.clone();
        let mut v = Ipv4Packet::new_unchecked(&mut pkt[..]);
        v.set_frag(df, mf, offset);
        v.fill_checksum();
        k.feed(
            &format!("fragment mf={mf} offset={offset}"),
            &pkt,
            Expect::Malformed,
        );
    }
    for src in [
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(239, 1, 2, 3),
        Ipv4Addr::BROADCAST,
    ] {
        let mut pkt = good.clone();
        let mut v = Ipv4Packet::new_unchecked(&mut pkt[..]);
        v.set_src_addr(src);
        v.fill_checksum();
        fill_checksum(&mut pkt[20..], src.into(), SERVER.into());
        k.feed(&format!("source {src}"), &pkt, Expect::Malformed);
    }
    let mut pkt = good.clone();
    let mut v = Ipv4Packet::new_unchecked(&mut pkt[..]);
    v.set_dst_addr(Ipv4Addr::new(10, 0, 0, 3));
    v.fill_checksum();
    k.feed("not our address", &pkt, Expect::NotOurs);
    let udp = ip(CLIENT.into(), SERVER.into(), IpProtocol::Udp, &[0; 12]);
    k.feed("UDP", &udp, Expect::UnknownProtocol);
    let icmpv6_on_v4 = ip(
        CLIENT.into(),
        SERVER.into(),
        IpProtocol::Icmpv6,
        &[128, 0, 0, 0],
    );
    k.feed("ICMPv6 over IPv4", &icmpv6_on_v4, Expect::UnknownProtocol);
}

#[test]
fn ipv6_malformed() {
    let c6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let s6: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let mut p = Pair::new(
        support::config(c6.into(), 1),
        support::config(s6.into(), 2),
        Duration::from_millis(1),
    );
    let _l = p.server.listen(SocketAddr::new(s6.into(), 80), 4).unwrap();
    let syn = segment(
        c6.into(),
        s6.into(),
        (40000, 80),
        1,
        0,
        TcpFlags::SYN,
        &[],
        &[],
    );
    let good = ip(c6.into(), s6.into(), IpProtocol::Tcp, &syn);
    let mut cases: Vec<(&str, Vec<u8>, Expect)> = Vec::new();
    cases.push(("truncated", good[..50].to_vec(), Expect::Malformed));
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    cases.push(("bad TCP checksum", bad, Expect::BadChecksum));
    let mut mc = good.clone();
    mc[8] = 0xff;
    cases.push(("multicast source", mc, Expect::Malformed));
    let mut frag_payload = vec![6, 0, 0, 1, 0, 0, 0, 42];
    frag_payload.extend_from_slice(&syn);
    let frag = ip(c6.into(), s6.into(), IpProtocol::Other(44), &frag_payload);
    cases.push(("fragment header", frag, Expect::Malformed));
    let mut opt = syn.clone();
    opt.extend_from_slice(&[0; 4]);
    opt[12] = 6 << 4;
    opt[20..24].copy_from_slice(&[2, 0, 0, 0]);
    fill_checksum(&mut opt, c6.into(), s6.into());
    cases.push((
        "option length 0",
        ip(c6.into(), s6.into(), IpProtocol::Tcp, &opt),
        Expect::Malformed,
    ));
    for (what, pkt, e) in cases {
        let before = p.server.counters().clone();
        p.server.receive(p.now, &pkt);
        assert_eq!(p.server.counters(), &bump(&before, e), "IPv6 {what}");
        assert_eq!(
            p.server.connection_count(),
            0,
            "IPv6 {what} made a connection"
        );
    }
    // The well-formed SYN still opens a connection.
    p.server.receive(p.now, &good);
    assert_eq!(p.server.connection_count(), 1);
}

/// A valid SYN from the client to the server's listener on port 80.
fn valid_syn(sport: u16) -> Vec<u8> {
    let opts = [2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0];
    let seg = segment(
        CLIENT.into(),
        SERVER.into(),
        (sport, 80),
        12345,
        0,
        TcpFlags::SYN,
        &opts,
        &[],
    );
    ip(CLIENT.into(), SERVER.into(), IpProtocol::Tcp, &seg)
}

fn listening_server() -> Stack {
    let mut s = Stack::new(
        support::config(SERVER.into(), 9),
        synack_core::Instant::ZERO,
    );
    s.listen(SocketAddr::new(SERVER.into(), 80), 8).unwrap();
    s
}

/// Receives `pkt` and checks it was accounted for: `packets_in` + 1, at most one drop.
fn receive_accounted(stack: &mut Stack, now: synack_core::Instant, pkt: &[u8]) {
    let before = stack.counters().clone();
    stack.receive(now, pkt);
    let after = stack.counters().clone();
    assert_eq!(after.packets_in, before.packets_in + 1);
    let d = drops(&after) - drops(&before);
    assert!(d <= 1, "one packet counted as {d} drops");
    assert!(after.segments_in - before.segments_in <= 1);
    // Dropped before TCP, or parsed as a segment (then maybe dropped), or ICMP: never both
    // unparsed and uncounted unless it was ICMP.
    let mut buf = vec![0u8; 2048];
    let mut n = 0;
    while stack.poll_transmit(now, &mut buf).is_some() {
        n += 1;
        assert!(n < 100, "endless output for one packet");
    }
    while stack.poll_ready().is_some() {}
    while stack.poll_event().is_some() {}
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut s = listening_server();
        receive_accounted(&mut s, synack_core::Instant::ZERO, &bytes);
    }

    #[test]
    fn arbitrary_ipv4_payload_never_panics(
        tcp in proptest::collection::vec(any::<u8>(), 0..120),
        proto in prop_oneof![Just(6u8), Just(1u8), any::<u8>()],
        fix in any::<bool>(),
    ) {
        let mut s = listening_server();
        let mut tcp = tcp;
        if fix && tcp.len() >= 20 {
            tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
            fill_checksum(&mut tcp, CLIENT.into(), SERVER.into());
        }
        let pkt = ip(CLIENT.into(), SERVER.into(), IpProtocol::from(proto), &tcp);
        receive_accounted(&mut s, synack_core::Instant::ZERO, &pkt);
    }

    #[test]
    fn mutated_syn_never_panics(
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<usize>()),
        refix in any::<bool>(),
    ) {
        let mut s = listening_server();
        // A connection in SYN-RECEIVED first, so mutations can hit its 4-tuple too.
        receive_accounted(&mut s, synack_core::Instant::ZERO, &valid_syn(40000));
        let mut pkt = valid_syn(40000);
        for (at, x) in mutations {
            let at = at % pkt.len();
            pkt[at] ^= x;
        }
        if let Some(cut) = cut {
            pkt.truncate(cut % (pkt.len() + 1));
        }
        if refix && pkt.len() >= 40 && pkt[0] == 0x45 {
            Ipv4Packet::new_unchecked(&mut pkt[..]).fill_checksum();
            let (src, dst) = (
                Ipv4Addr::from(<[u8; 4]>::try_from(&pkt[12..16]).unwrap()),
                Ipv4Addr::from(<[u8; 4]>::try_from(&pkt[16..20]).unwrap()),
            );
            fill_checksum(&mut pkt[20..], src.into(), dst.into());
        }
        receive_accounted(&mut s, synack_core::Instant::ZERO, &pkt);
        // The stack still accepts fresh, valid SYNs from other ports. The mutated packet
        // may itself have become a valid SYN from one of them (40000 xor 1 is 40001), which
        // makes that one a duplicate; it cannot have taken both.
        let n = s.connection_count();
        for port in [40001, 40002] {
            receive_accounted(&mut s, synack_core::Instant::ZERO, &valid_syn(port));
        }
        prop_assert!(s.connection_count() > n, "no fresh SYN was accepted");
    }
}
