//! Packetdrill-style scripts: at virtual time T inject this segment, expect exactly these
//! segments out. Sequence numbers read as packetdrill shows them: the peer's from its ISN 0,
//! ours relative to the ISS the stack chose (learned from its first SYN or SYN-ACK).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use synack_core::stack::{SocketHandle, StackConfig};
use synack_core::wire::{
    IpProtocol, IpRepr, TcpFlags, TcpOptions, TcpRepr, parse_ip, tcp::fill_checksum,
};
use synack_core::{Instant, Stack};

pub const SYN: TcpFlags = TcpFlags::SYN;
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const RST: TcpFlags = TcpFlags::RST;
pub const PSH: TcpFlags = TcpFlags::PSH;

/// One segment, as injected or as expected.
#[derive(Clone, Debug, Default)]
pub struct Seg {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub win: Option<u16>,
    pub data: Vec<u8>,
    pub options: TcpOptions,
    /// For expectations: compare options too.
    pub check_options: bool,
}

/// A segment with these flags; chain the setters.
pub fn seg(flags: TcpFlags) -> Seg {
    Seg {
        flags,
        win: None,
        ..Seg::default()
    }
}

impl Seg {
    pub fn seq(mut self, seq: u32) -> Seg {
        self.seq = seq;
        self
    }
    pub fn ack(mut self, ack: u32) -> Seg {
        self.ack = ack;
        self
    }
    pub fn win(mut self, win: u16) -> Seg {
        self.win = Some(win);
        self
    }
    pub fn data(mut self, data: &[u8]) -> Seg {
        self.data = data.to_vec();
        self
    }
    pub fn len(self, n: usize) -> Seg {
        let data = (0..n).map(|i| (i % 251) as u8).collect::<Vec<_>>();
        self.data(&data)
    }
    pub fn mss(mut self, mss: u16) -> Seg {
        self.options.mss = Some(mss);
        self.check_options = true;
        self
    }
    pub fn ws(mut self, shift: u8) -> Seg {
        self.options.window_scale = Some(shift);
        self.check_options = true;
        self
    }
    pub fn sack_ok(mut self) -> Seg {
        self.options.sack_permitted = true;
        self.check_options = true;
        self
    }
    pub fn ts(mut self, tsval: u32, tsecr: u32) -> Seg {
        self.options.timestamps = Some((tsval, tsecr));
        self.check_options = true;
        self
    }
}

/// What the stack sent, with sequence numbers made relative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Out {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub len: usize,
    pub options: TcpOptions,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// One stack under test and a scripted peer.
pub struct Script {
    pub stack: Stack,
    pub now: Instant,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The stack's ISS, once seen.
    pub iss: Option<u32>,
    buf: Vec<u8>,
}

impl Script {
    /// A stack at 10.0.0.2 (port 80 for listeners), a peer at 10.0.0.1:40000.
    pub fn new() -> Script {
        Script::with_config(|_| {})
    }

    /// Like `new`, with the stack's settings adjusted. Timestamps and SACK are off by default
    /// here so that scripts stay short; tests about options switch them on.
    pub fn with_config(adjust: impl FnOnce(&mut StackConfig)) -> Script {
        let mut config = StackConfig {
            addrs: vec![IpAddr::from([10, 0, 0, 2])],
            seed: 7,
            ..StackConfig::default()
        };
        config.tcp.timestamps = false;
        config.tcp.sack = false;
        config.tcp.window_scale = false;
        adjust(&mut config);
        let local = SocketAddr::new(config.addrs[0], 80);
        let peer: SocketAddr = if local.is_ipv4() {
            "10.0.0.1:40000".parse().unwrap()
        } else {
            "[fd00::1]:40000".parse().unwrap()
        };
        Script {
            stack: Stack::new(config, Instant::ZERO),
            now: Instant::ZERO,
            local,
            peer,
            iss: None,
            buf: vec![0; 65536],
        }
    }

    /// Moves virtual time to `ms` milliseconds and runs due timers.
    pub fn at(&mut self, ms: u64) -> &mut Script {
        let t = Instant::from_millis(ms);
        assert!(t >= self.now, "scripts move forward in time");
        self.now = t;
        self.stack.handle_timeout(t);
        self
    }

    /// Advances by `d` and runs due timers.
    pub fn wait(&mut self, d: Duration) -> &mut Script {
        self.now += d;
        self.stack.handle_timeout(self.now);
        self
    }

    /// The stack listens on port 80.
    pub fn listen(&mut self) -> synack_core::stack::ListenerHandle {
        self.stack.listen(self.local, 8).unwrap()
    }

    /// The stack connects to the peer.
    pub fn connect(&mut self) -> SocketHandle {
        let s = self
            .stack
            .connect(
                self.now,
                self.peer,
                Some(SocketAddr::new(self.local.ip(), 50000)),
            )
            .unwrap();
        self.local = SocketAddr::new(self.local.ip(), 50000);
        s
    }

    fn abs_ack(&self, rel: u32) -> u32 {
        self.iss.map_or(rel, |iss| iss.wrapping_add(rel))
    }

    /// Builds the packet for `seg` from the peer to the stack.
    pub fn packet(&self, seg: &Seg) -> Vec<u8> {
        let repr = TcpRepr {
            src_port: self.peer.port(),
            dst_port: self.local.port(),
            seq: seg.seq,
            ack: if seg.flags.contains(ACK) {
                self.abs_ack(seg.ack)
            } else {
                0
            },
            flags: seg.flags,
            window: seg.win.unwrap_or(65535),
            urgent: 0,
            options: seg.options,
        };
        let tcp_len = repr.header_len() + seg.data.len();
        let ip = IpRepr {
            src: self.peer.ip(),
            dst: self.local.ip(),
            protocol: IpProtocol::Tcp,
            ttl: 64,
            payload_len: tcp_len,
        };
        let mut buf = vec![0; ip.header_len() + tcp_len];
        let h = ip.emit(&mut buf);
        let th = repr.emit_header(&mut buf[h..]);
        buf[h + th..].copy_from_slice(&seg.data);
        fill_checksum(&mut buf[h..], self.peer.ip(), self.local.ip());
        buf
    }

    /// The peer sends `seg`.
    pub fn inject(&mut self, seg: Seg) -> &mut Script {
        let p = self.packet(&seg);
        self.stack.receive(self.now, &p);
        self
    }

    /// The peer sends `seg` with SACK blocks given as packetdrill shows them: relative to the
    /// stack's ISS (at most four are kept).
    pub fn inject_sack(&mut self, seg: Seg, blocks: &[(u32, u32)]) -> &mut Script {
        let mut seg = seg;
        let n = blocks.len().min(seg.options.sack.len());
        for (slot, &(l, r)) in seg.options.sack.iter_mut().zip(&blocks[..n]) {
            *slot = (self.abs_ack(l), self.abs_ack(r));
        }
        seg.options.sack_len = n as u8;
        self.inject(seg)
    }

    /// The next packet the stack sends, parsed, if any.
    pub fn next_out(&mut self) -> Option<Out> {
        let n = self.stack.poll_transmit(self.now, &mut self.buf)?;
        let (ip, payload) = parse_ip(&self.buf[..n]).expect("the stack sends valid IP");
        assert_eq!(ip.protocol, IpProtocol::Tcp);
        let (repr, data) =
            TcpRepr::parse(payload, ip.src, ip.dst, true).expect("the stack sends valid TCP");
        if repr.flags.contains(SYN) {
            self.iss = Some(repr.seq);
        }
        let iss = self.iss.unwrap_or(0);
        Some(Out {
            flags: repr.flags,
            seq: repr.seq.wrapping_sub(iss),
            ack: repr.ack,
            win: repr.window,
            len: data.len(),
            options: repr.options,
            src: SocketAddr::new(ip.src, repr.src_port),
            dst: SocketAddr::new(ip.dst, repr.dst_port),
        })
    }

    /// Expects the stack's next segment to match `want` (flags, seq, ack, length; window and
    /// options when the expectation names them).
    #[track_caller]
    pub fn expect(&mut self, want: Seg) -> Out {
        let got = self.next_out().unwrap_or_else(|| {
            panic!(
                "expected {:?} seq {} ack {}, the stack sent nothing",
                want.flags, want.seq, want.ack
            )
        });
        assert_eq!(got.flags, want.flags, "flags of {got:?}");
        assert_eq!(got.seq, want.seq, "seq of {got:?}");
        if want.flags.contains(ACK) {
            assert_eq!(got.ack, want.ack, "ack of {got:?}");
        }
        assert_eq!(got.len, want.data.len(), "payload length of {got:?}");
        if let Some(w) = want.win {
            assert_eq!(got.win, w, "window of {got:?}");
        }
        if want.check_options {
            let mut got_opts = got.options;
            if want.options.timestamps.is_none() {
                got_opts.timestamps = None;
            }
            assert_eq!(got_opts, want.options, "options of {got:?}");
        }
        assert_eq!(got.dst, self.peer);
        got
    }

    /// Expects the stack to send nothing now.
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        if let Some(out) = self.next_out() {
            panic!("expected silence, the stack sent {out:?}");
        }
    }

    /// Delivers `packet`, whose checksum is wrong, and expects it dropped with no effect on
    /// `c`: nothing sent, nothing readable, and one more drop counted (the first here).
    #[track_caller]
    pub fn expect_dropped_bad_checksum(&mut self, c: SocketHandle, packet: &[u8]) {
        let now = self.now;
        self.stack.receive(now, packet);
        self.at(1000);
        self.expect_nothing();
        assert!(!self.stack.readiness(c).readable);
        assert_eq!(self.stack.counters().dropped_bad_checksum, 1);
    }

    /// The states the stack's connections entered since last asked, in order.
    pub fn entered(&mut self) -> Vec<synack_core::tcp::State> {
        let mut out = Vec::new();
        while let Some(e) = self.stack.poll_event() {
            if let synack_core::stack::Event::StateChanged { to, .. } = e {
                out.push(to);
            }
        }
        out
    }

    /// Completes a passive open: SYN in, SYN-ACK out, ACK in. Returns the accepted socket.
    pub fn accept_connection(&mut self) -> SocketHandle {
        let l = self.listen();
        self.inject(seg(SYN).seq(0).mss(1460));
        self.expect(seg(SYN | ACK).seq(0).ack(1));
        self.inject(seg(ACK).seq(1).ack(1));
        self.expect_nothing();
        self.stack
            .accept(l)
            .expect("an established connection to accept")
    }

    /// Everything readable on `c` now, until it would block or the peer's FIN.
    pub fn read_all(&mut self, c: SocketHandle) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.stack.recv(self.now, c, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// Completes an active open: SYN out, SYN-ACK in, ACK out.
    pub fn open_connection(&mut self) -> SocketHandle {
        let s = self.connect();
        self.expect(seg(SYN).seq(0));
        self.inject(seg(SYN | ACK).seq(0).ack(1).mss(1460));
        self.expect(seg(ACK).seq(1).ack(1));
        s
    }
}
