//! Hand-built captures of each link type, byte order and block kind read back as the IP
//! packets inside them, at the right times.

mod capture_support;

use capture_support::{KEY_LOG, Ng, Order, ethernet, null, pcap_file, sll, sll2, tcp_conversation};
use etherparse::PacketBuilder;
use synack_trace::PhaseName;
use synack_trace::capture::{self, Capture, CaptureFormat, linktype};

const LE: Order = Order { big: false };
const BE: Order = Order { big: true };

/// Wraps each packet of the conversation with `wrap(i, packet)`.
fn frames(wrap: impl Fn(usize, &[u8]) -> Vec<u8>) -> Vec<(u64, Vec<u8>)> {
    let conv = tcp_conversation();
    conv.iter()
        .enumerate()
        .map(|(i, (t, p))| (*t, wrap(i, p)))
        .collect()
}

/// The capture holds exactly the conversation's packets and times, and analyzes into one
/// connection with all four phases.
fn assert_conversation(capture: &Capture) {
    assert_eq!(capture.error, None);
    let want = tcp_conversation();
    let got: Vec<_> = capture
        .recorder
        .packets()
        .map(|(t, p)| (t, p.to_vec()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(capture.packets, want.len());
    let trace = capture.recorder.finish();
    assert_eq!(trace.connections.len(), 1);
    let phases: Vec<_> = trace.connections[0].phases.iter().map(|p| p.name).collect();
    assert_eq!(
        phases,
        [
            PhaseName::Tcp3WayHandshake,
            PhaseName::HttpRequest,
            PhaseName::HttpResponse,
            PhaseName::Tcp4WayHandshake
        ]
    );
}

fn arp() -> Vec<u8> {
    let mut f = vec![0xff; 12];
    f.extend_from_slice(&[0x08, 0x06]);
    f.resize(60, 0);
    f
}

#[test]
fn ethernet_with_vlan_and_qinq_tags() {
    let tags: [&[u16]; 3] = [&[], &[0x8100], &[0x88a8, 0x8100]];
    let mut frames = frames(|i, p| ethernet(p, tags[i % 3]));
    frames.insert(2, (frames[1].0, arp()));
    let capture = capture::read(&pcap_file(LE, false, linktype::ETHERNET, &frames)).unwrap();
    assert_eq!(capture.format, CaptureFormat::Pcap);
    assert_eq!(capture.skipped, 1, "the ARP frame");
    assert_conversation(&capture);
}

#[test]
fn linux_cooked_v1_big_endian_nanoseconds() {
    let frames = frames(|_, p| sll(p));
    assert_conversation(
        &capture::read(&pcap_file(BE, true, linktype::LINUX_SLL, &frames)).unwrap(),
    );
}

#[test]
fn linux_cooked_v2() {
    let frames = frames(|_, p| sll2(p));
    let bytes = pcap_file(LE, true, linktype::LINUX_SLL2, &frames);
    assert_conversation(&capture::read(&bytes).unwrap());
}

#[test]
fn bsd_loopback_in_either_byte_order() {
    for link in [linktype::NULL, linktype::LOOP] {
        let frames = frames(|i, p| null(p, 2, i % 2 == 0));
        assert_conversation(&capture::read(&pcap_file(BE, false, link, &frames)).unwrap());
    }
}

#[test]
fn raw_ip_link_types_check_the_version() {
    let v6 = {
        let mut out = Vec::new();
        let b = PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).tcp(1, 2, 3, 4);
        b.syn().write(&mut out, &[]).unwrap();
        out
    };
    let v4 = tcp_conversation().remove(0).1;
    let mut frames = vec![(1_000, v4.clone()), (2_000, v6.clone())];
    frames.push((3_000, vec![0x50, 1, 2, 3])); // version 5
    let read = |link| capture::read(&pcap_file(LE, true, link, &frames)).unwrap();

    let raw = read(linktype::RAW);
    assert_eq!((raw.packets, raw.skipped), (2, 1));
    let only_v4 = read(linktype::IPV4);
    assert_eq!((only_v4.packets, only_v4.skipped), (1, 2));
    assert_eq!(only_v4.recorder.packets().next(), Some((1_000, &v4[..])));
    let only_v6 = read(linktype::IPV6);
    assert_eq!(only_v6.recorder.packets().next(), Some((2_000, &v6[..])));
    let unknown = read(147);
    assert_eq!((unknown.packets, unknown.skipped), (0, 3));
}

#[test]
fn pcapng_sections_blocks_and_timestamp_options() {
    let conv = tcp_conversation();
    let packet = |i: usize| conv[i].1.as_slice();
    let mut ng = Ng::new(true);
    // Section 1, big-endian: an Ethernet interface ticking in 2^-10 s, offset by 100 s.
    let tsresol = (9u16, vec![0x80 | 10]);
    let tsoffset = (14u16, 100i64.to_be_bytes().to_vec());
    ng.idb(linktype::ETHERNET as u16, 0, &[tsresol, tsoffset]);
    ng.pb(0, 1024 * 5 + 512, &ethernet(packet(0), &[0x8100])); // 105.5 s
    ng.spb(&ethernet(packet(1), &[])); // no time of its own: the previous one
    ng.epb(7, 0, packet(2)); // no such interface
    // Section 2, little-endian: interfaces start again; raw IP in ns, and a µs default.
    ng.section(false);
    ng.block(0x0000_0bad, b"a custom block, skipped");
    ng.dsb(0x5747_4b4c, b"wireguard keys, ignored");
    ng.idb(linktype::RAW as u16, 65535, &[(9, vec![9])]);
    ng.idb(linktype::IPV4 as u16, 65535, &[]);
    ng.dsb(0x544c_534b, KEY_LOG.as_bytes());
    ng.epb(0, 1_700_000_000_123_456_789, packet(3));
    ng.epb(1, 1_700_000_000_123_457, packet(4));
    let capture = capture::read(&ng.out).unwrap();

    assert_eq!(capture.format, CaptureFormat::PcapNg);
    assert_eq!(capture.error, None);
    assert_eq!((capture.packets, capture.skipped), (4, 1));
    assert_eq!(capture.recorder.key_log_text(), KEY_LOG);
    let got: Vec<_> = capture.recorder.packets().collect();
    let want = [
        (105_500_000_000, packet(0)),
        (105_500_000_000, packet(1)),
        (1_700_000_000_123_456_789, packet(3)),
        (1_700_000_000_123_457_000, packet(4)),
    ];
    assert_eq!(got, want);
}

#[test]
fn simple_packet_block_respects_the_snapshot_length() {
    let packet = tcp_conversation().remove(3).1;
    let mut ng = Ng::new(false);
    ng.idb(linktype::RAW as u16, 40, &[]);
    ng.spb(&packet);
    let capture = capture::read(&ng.out).unwrap();
    assert_eq!(capture.recorder.packets().next(), Some((0, &packet[..40])));
}
