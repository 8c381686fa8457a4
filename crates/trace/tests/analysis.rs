//! The analysis, checked on captures built with etherparse.

mod common;

use common::{GET, Script, Seg, response};
use synack_core::tcp::State;
use synack_trace::{PhaseName, Recorder, SegmentRecord, Side, TcpFlags, Trace};

fn only(trace: &Trace) -> &synack_trace::ConnectionTrace {
    assert_eq!(trace.connections.len(), 1, "{trace:#?}");
    &trace.connections[0]
}

fn numbers(segs: &[SegmentRecord]) -> Vec<(Side, u32, u32, usize)> {
    segs.iter().map(|s| (s.from, s.seq, s.ack, s.len)).collect()
}

fn phase_names(trace: &Trace) -> Vec<PhaseName> {
    only(trace).phases.iter().map(|p| p.name).collect()
}

fn carries(trace: &Trace) -> Vec<Option<&str>> {
    only(trace)
        .segments
        .iter()
        .map(|s| s.carries.as_deref())
        .collect()
}

#[test]
fn numbers_are_relative_to_each_isn_like_wireshark() {
    // The client's ISN sits just below 2^32, so its numbers wrap during the exchange.
    let mut s = Script::new(0xffff_fff0, 7_000_000);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    s.ack(110, Side::Server);
    s.close(200, Side::Client);
    let trace = s.finish();
    let conn = only(&trace);
    let n = GET.len() as u32;
    use Side::{Client as C, Server as S};
    assert_eq!(
        numbers(&conn.segments),
        vec![
            (C, 0, 0, 0),
            (S, 0, 1, 0),
            (C, 1, 1, 0),
            (C, 1, 1, GET.len()),
            (S, 1, n + 1, 0),
            (C, n + 1, 1, 0),
            (S, 1, n + 2, 0),
            (S, 1, n + 2, 0),
            (C, n + 2, 2, 0),
        ]
    );
    let syn = &conn.segments[0];
    assert_eq!((syn.seq_raw, syn.ack_raw), (0xffff_fff0, 0));
    assert_eq!(conn.segments[3].seq_raw, 0xffff_fff1);
    assert_eq!(syn.options, ["mss 1460", "sackOK", "ts 1000 0", "ws 7"]);
    assert!(conn.segments.iter().all(|s| !s.retransmission));
}

#[test]
fn window_is_scaled_once_both_syns_offer_scaling() {
    let mut s = Script::new(1, 2);
    s.handshake(0);
    let trace = s.finish();
    let wins: Vec<u32> = only(&trace).segments.iter().map(|s| s.win).collect();
    // SYN windows are never scaled; the third segment's 502 is scaled by 2^7.
    assert_eq!(wins, [64240, 65160, 502 << 7]);

    let mut s = Script::new(1, 2);
    s.syn(0);
    let ack = Some(2);
    let seg = Seg {
        seq: 2,
        ack,
        syn: true,
        win: 65160,
        ..Seg::default()
    };
    s.send(10, Side::Server, seg, &[]);
    s.ack(20, Side::Client);
    let trace = s.finish();
    assert_eq!(
        only(&trace).segments[2].win,
        502,
        "the server offered no scaling"
    );
}

#[test]
fn the_syn_sender_is_the_client_whatever_its_port() {
    let mut s = Script::between("10.0.0.9:80", "10.0.0.2:50000", 10, 20);
    s.handshake(0);
    let trace = s.finish();
    let conn = only(&trace);
    assert_eq!(conn.client.to_string(), "10.0.0.9:80");
    assert_eq!(conn.server.to_string(), "10.0.0.2:50000");
    assert_eq!(conn.segments[0].from, Side::Client);
}

#[test]
fn mid_connection_capture_picks_the_higher_port_and_starts_at_one() {
    let mut s = Script::new(5000, 9000);
    s.rec = Recorder::new();
    // Server data is the first thing captured: no SYN in sight.
    s.data_at(0, Side::Server, 101, b"HTTP/1.1 204 No Content\r\n\r\n");
    s.ack_rel(10, Side::Client, 128);
    let trace = s.finish();
    let conn = only(&trace);
    assert_eq!(conn.client.port(), 49152);
    assert_eq!(conn.segments[0].from, Side::Server);
    assert_eq!((conn.segments[0].seq, conn.segments[0].ack), (1, 1));
    assert_eq!((conn.segments[1].seq, conn.segments[1].ack), (1, 28));
    // No SYN, no FIN: only the response phase.
    assert_eq!(phase_names(&trace), [PhaseName::HttpResponse]);
    assert_eq!(carries(&trace)[0], Some("HTTP/1.1 204 No Content"));
}

#[test]
fn keep_alive_requests_with_a_body_split_over_segments() {
    let mut s = Script::new(100, 200);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    s.ack(110, Side::Server);
    let first = response(1000);
    s.data(200, Side::Server, &first);
    s.ack(210, Side::Client);
    s.data(300, Side::Client, GET);
    s.ack(310, Side::Server);
    // 3000 B of body over three segments: head + 1000, 1448, 552.
    let second = response(3000);
    let head = second.len() - 3000;
    s.data(400, Side::Server, &second[..head + 1000]);
    s.data(401, Side::Server, &second[head + 1000..head + 2448]);
    s.data(402, Side::Server, &second[head + 2448..]);
    s.ack(410, Side::Client);
    s.close(500, Side::Client);
    let trace = s.finish();

    let c = carries(&trace);
    assert_eq!(c[3], Some("GET / HTTP/1.1"));
    assert_eq!(c[5], Some("HTTP/1.1 200 OK + [body 1000 B]"));
    assert_eq!(c[7], Some("GET / HTTP/1.1"));
    assert_eq!(c[9], Some("HTTP/1.1 200 OK + [body 1000 B]"));
    assert_eq!(c[10], Some("[body 1448 B]"));
    assert_eq!(c[11], Some("[body 552 B]"));
    assert_eq!(c[12], None);

    use PhaseName::*;
    assert_eq!(
        phase_names(&trace),
        [
            Tcp3WayHandshake,
            HttpRequest,
            HttpResponse,
            HttpRequest,
            HttpResponse,
            Tcp4WayHandshake
        ]
    );
    let conn = only(&trace);
    let p = &conn.phases;
    assert_eq!(
        (p[0].start_ns, p[0].end_ns),
        (0, 30_000),
        "SYN to the client's ACK"
    );
    assert_eq!(
        (p[4].start_ns, p[4].end_ns),
        (400_000, 402_000),
        "second response"
    );
    assert_eq!(p[4].duration_ns(), 2_000);
    assert_eq!(
        (p[5].start_ns, p[5].end_ns),
        (500_000, 530_000),
        "first FIN to last ACK"
    );
    assert!(p.iter().all(|p| p.complete));

    assert_eq!(conn.http.len(), 4);
    let last = &conn.http[3];
    assert_eq!(
        (last.from, last.body_len, last.complete),
        (Side::Server, 3000, true)
    );
    assert_eq!(last.end_offset - last.head_end_offset, 3000);
    assert_eq!(last.start_offset, first.len() as u64);
    assert_eq!(trace.requests(), 2);
}

#[test]
fn chunked_response_is_delimited_by_its_last_chunk() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    s.data(
        200,
        Side::Server,
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n",
    );
    s.data(201, Side::Server, b"0\r\n\r\n");
    s.data(300, Side::Client, GET);
    let trace = s.finish();
    let conn = only(&trace);
    let res = conn.http.iter().find(|m| m.from == Side::Server).unwrap();
    assert!(res.chunked && res.complete);
    assert_eq!(res.body_len, 4);
    assert_eq!(carries(&trace)[5], Some("[body 5 B]"));
    assert_eq!(
        conn.http.iter().filter(|m| m.from == Side::Client).count(),
        2
    );
}

#[test]
fn retransmissions_are_marked_and_counted_once_in_the_stream() {
    let mut s = Script::new(1, 1);
    s.syn(0);
    let again = Seg {
        seq: 1,
        syn: true,
        win: 64240,
        options: common::syn_options(1000),
        ..Seg::default()
    };
    s.send(1_000_000, Side::Client, again, &[]);
    s.syn_ack(1_000_020);
    s.ack(1_000_030, Side::Client);
    s.data(1_000_100, Side::Client, GET);
    s.data_at(1_200_000, Side::Client, 1, GET);
    s.ack(1_200_010, Side::Server);
    s.ack(1_200_020, Side::Server);
    let trace = s.finish();
    let conn = only(&trace);
    let marks: Vec<bool> = conn.segments.iter().map(|s| s.retransmission).collect();
    assert_eq!(
        marks,
        [false, true, false, false, false, true, false, false]
    );
    assert_eq!(trace.retransmissions(), 2);
    assert_eq!(conn.segments[5].carries.as_deref(), Some("GET / HTTP/1.1"));
    assert_eq!(conn.http.len(), 1);
    let request = conn
        .phases
        .iter()
        .find(|p| p.name == PhaseName::HttpRequest)
        .unwrap();
    assert_eq!(
        request.end_ns, 1_200_000_000,
        "the request lasts until its retransmission"
    );
}

#[test]
fn out_of_order_segments_are_not_retransmissions_and_reassemble() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    let res = response(2000);
    let cut = 1000;
    // The second half crosses the link first.
    s.data_at(200, Side::Server, 1 + cut as u32, &res[cut..]);
    s.data_at(201, Side::Server, 1, &res[..cut]);
    s.ack(210, Side::Client);
    let trace = s.finish();
    let conn = only(&trace);
    assert!(conn.segments.iter().all(|s| !s.retransmission));
    let head = res.len() - 2000;
    assert_eq!(
        conn.segments[4].carries.as_deref(),
        Some(&*format!("[body {} B]", res.len() - cut))
    );
    assert_eq!(
        conn.segments[5].carries.as_deref(),
        Some(&*format!("HTTP/1.1 200 OK + [body {} B]", cut - head))
    );
    let response = conn.http.iter().find(|m| m.from == Side::Server).unwrap();
    assert!(response.complete);
    assert_eq!(
        (response.t_first_ns, response.t_last_ns),
        (200_000, 201_000)
    );
}

#[test]
fn a_refused_connection_is_a_reset() {
    let mut s = Script::new(1, 1);
    s.syn(0);
    s.rst(15, Side::Server);
    let trace = s.finish();
    let conn = only(&trace);
    let rst = &conn.segments[1];
    assert!(rst.flags.contains(TcpFlags::RST | TcpFlags::ACK));
    assert_eq!(rst.ack, 1);
    let p = &conn.phases;
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0].name, p[0].complete),
        (PhaseName::Tcp3WayHandshake, false)
    );
    assert_eq!(
        (p[1].name, p[1].start_ns, p[1].end_ns),
        (PhaseName::Reset, 15_000, 15_000)
    );
}

#[test]
fn a_reset_during_transfer_leaves_the_close_incomplete() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    s.fin(150, Side::Client);
    s.rst(200, Side::Server);
    let trace = s.finish();
    use PhaseName::*;
    assert_eq!(
        phase_names(&trace),
        [Tcp3WayHandshake, HttpRequest, Tcp4WayHandshake, Reset]
    );
    let close = &only(&trace).phases[2];
    assert!(!close.complete);
    assert_eq!(close.end_ns, 200_000);
}

#[test]
fn a_new_syn_after_a_close_is_a_new_connection() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.close(100, Side::Client);
    let mut again = Script::new(50_000, 90_000);
    again.rec = std::mem::take(&mut s.rec);
    again.handshake(1000);
    let trace = again.finish();
    assert_eq!(trace.connections.len(), 2);
    assert_eq!(trace.connections[1].id, 2);
    assert_eq!(trace.connections[1].segments.len(), 3);
    assert_eq!(trace.connections[1].segments[1].ack, 1);
}

#[test]
fn simultaneous_open_stays_one_connection() {
    let mut s = Script::new(1, 1);
    s.syn(0);
    let seg = Seg {
        seq: 1,
        syn: true,
        win: 65160,
        ..Seg::default()
    };
    s.send(5, Side::Server, seg, &[]);
    let trace = s.finish();
    assert_eq!(trace.connections.len(), 1);
}

#[test]
fn state_changes_attach_to_their_connection_in_either_orientation() {
    let mut s = Script::new(1, 1);
    let (c, srv) = (s.client, s.server);
    s.rec.state_change(0, c, srv, State::Closed, State::SynSent);
    s.handshake(0);
    s.rec
        .state_change(20_000, srv, c, State::Listen, State::SynReceived);
    s.rec
        .state_change(30_000, c, srv, State::SynSent, State::Established);
    let other: std::net::SocketAddr = "10.9.9.9:1".parse().unwrap();
    s.rec
        .state_change(40_000, other, c, State::Closed, State::SynSent);
    let trace = s.finish();
    let conn = only(&trace);
    let sides: Vec<(Side, State)> = conn.states.iter().map(|s| (s.side, s.to)).collect();
    assert_eq!(
        sides,
        [
            (Side::Client, State::SynSent),
            (Side::Server, State::SynReceived),
            (Side::Client, State::Established)
        ]
    );
    assert_eq!(trace.unmatched_states, 1);
    // SYN-SENT was recorded before the SYN at the same instant and stays before it.
    let first = conn.events().next().unwrap();
    assert!(matches!(first, synack_trace::Event::State(_)));
}

#[test]
fn odd_input_is_counted_not_fatal() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.rec.packet(100, &[]);
    s.rec.packet(101, &[0x45, 0, 0]);
    s.rec.packet(102, &[0x60; 30]);
    // A TCP header cut short inside a valid IPv4 packet.
    let syn = common::packet(
        s.client,
        s.server,
        &Seg {
            seq: 1,
            syn: true,
            ..Seg::default()
        },
        &[],
    );
    let mut cut = syn[..20 + 12].to_vec();
    cut[2..4].copy_from_slice(&32u16.to_be_bytes());
    cut[10..12].copy_from_slice(&[0, 0]);
    let sum = ipv4_checksum(&cut[..20]);
    cut[10..12].copy_from_slice(&sum.to_be_bytes());
    s.rec.packet(103, &cut);
    let trace = s.finish();
    assert_eq!(trace.connections.len(), 1);
    assert_eq!(trace.malformed_packets, 4);
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Garbage of every length, and every prefix of a real packet, never panics.
#[test]
fn fuzzish_inputs_never_panic() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.data(100, Side::Client, GET);
    let p = common::packet(
        s.client,
        s.server,
        &Seg {
            seq: 1,
            ack: Some(1),
            psh: true,
            ..Seg::default()
        },
        GET,
    );
    let mut rec = s.rec.clone();
    for n in 0..p.len() {
        rec.packet(200, &p[..n]);
    }
    let mut x: u32 = 12345;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        rec.packet(300, &bytes);
    }
    let trace = rec.finish();
    let _ = synack_trace::ladder::render(&trace, None, &Default::default());
    let mut out = Vec::new();
    synack_trace::json::write_lines(&trace, None, &mut out).unwrap();
}

#[test]
fn non_http_payload_is_data() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    s.data(
        100,
        Side::Client,
        &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06],
    );
    s.data(200, Side::Server, b"SSH-2.0-OpenSSH_9.6\r\n");
    let trace = s.finish();
    let c = carries(&trace);
    assert_eq!(c[3], Some("[data 7 B]"));
    assert_eq!(c[4], Some("[data 21 B]"));
    assert!(only(&trace).http.is_empty());
    assert!(only(&trace).tls.is_none());
    assert_eq!(phase_names(&trace), [PhaseName::Tcp3WayHandshake]);
}

#[test]
fn a_truncated_client_hello_is_tls_and_the_rest_is_data() {
    let mut s = Script::new(1, 1);
    s.handshake(0);
    // A ClientHello's record header and first bytes; the capture has nothing more.
    s.data(
        100,
        Side::Client,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
    );
    s.data(200, Side::Server, b"SSH-2.0-OpenSSH_9.6\r\n");
    let trace = s.finish();
    let c = carries(&trace);
    assert_eq!(c[3], Some("ClientHello (truncated)"));
    assert_eq!(c[4], Some("[data 21 B]"));
    let conn = only(&trace);
    assert!(conn.http.is_empty());
    let tls = conn.tls.as_ref().expect("TLS detected");
    assert_eq!(tls.version, None);
    assert!(!conn.tls_messages[0].complete);
    assert_eq!(
        phase_names(&trace),
        [PhaseName::Tcp3WayHandshake, PhaseName::TlsHandshake]
    );
    assert!(!conn.phases[1].complete);
}
