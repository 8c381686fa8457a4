//! `tun`: one bulk flow between synack and the kernel's TCP over a TUN device, against the
//! same flow between two kernel sockets over a veth pair; MTU 1500 both, Linux only, root only.
//!
//! - `download`: the kernel sends, the system measured receives; `upload`: the other way.
//! - synack: the kernel's socket on the TUN device's host side (10.88.0.1), synack's runtime
//!   (`Net` on `Tun`, a current-thread tokio runtime) at 10.88.0.2; one thread each.
//! - kernel: two sockets in two namespaces joined by a veth pair (10.88.1.1, 10.88.1.2),
//!   default buffers and offloads; one thread each.
//!
//! Every round runs in network namespaces of its own, made by the thread that measures
//! (`unshare(CLONE_NEWNET)` is per thread, and the `ip` commands it starts inherit it): the
//! host's interfaces and routes are never touched, and all is gone when the threads end.
//! Time runs from the sender's first write to the receiver reading the end of the stream;
//! every byte is checked against a known pattern, so a round that loses or garbles data is
//! an error, not a figure.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use synack::{Clock, Net, Tun, TunConfig};
use synack_core::StackConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Settings;
use super::report::{Better, Row};

const SCENARIO: &str = "tun";
/// What the application writes or reads at once.
const CHUNK: usize = 128 * 1024;
/// The pattern's period: a prime, so that it never lines up with a chunk or a segment.
const PERIOD: usize = 251;
/// A transfer, connect or accept with nothing moving for this long has stalled.
const IDLE: Duration = Duration::from_secs(10);
/// The measured side's port.
const PORT: u16 = 5201;
/// The TUN device's kernel side and synack's address.
const TUN_HOST: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const TUN_OURS: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
/// The veth pair's ends: the peer's and the measured kernel's.
const VETH_PEER: Ipv4Addr = Ipv4Addr::new(10, 88, 1, 1);
const VETH_OURS: Ipv4Addr = Ipv4Addr::new(10, 88, 1, 2);

/// Why the scenario cannot run without privilege.
const NEEDS_ROOT: &str = "needs root (CAP_NET_ADMIN) to create network namespaces and a TUN \
                          device; run it with sudo";

/// Which way the bytes go, seen from the system measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The kernel peer sends, the system measured receives.
    Download,
    /// The system measured sends, the kernel peer receives.
    Upload,
}

/// Checks that this process may make what the scenario needs (a network namespace, a TUN
/// device, a veth pair, the `ip` command), in a namespace thrown away at once; the error is
/// one line with a way out.
pub fn available() -> Result<(), String> {
    in_new_namespace(|| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|e| match e.kind() {
                io::ErrorKind::PermissionDenied => NEEDS_ROOT.to_owned(),
                io::ErrorKind::NotFound => {
                    "needs /dev/net/tun: is the tun module loaded? (`modprobe tun`)".to_owned()
                }
                _ => format!("cannot open /dev/net/tun: {e}"),
            })?;
        ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])
            .map_err(|e| format!("cannot create a veth pair: {e}"))
    })
}

/// Runs the scenario; call [`available`] first to tell a machine that cannot from a failure.
pub fn run(settings: &Settings) -> Result<Vec<Row>, String> {
    let bytes: u64 = if settings.quick { 16 << 20 } else { 1 << 30 };
    let mut rows = Vec::new();
    for (case, direction) in [
        ("download", Direction::Download),
        ("upload", Direction::Upload),
    ] {
        let mut pair = [
            Row::new(SCENARIO, case, "synack", "Gbit/s", Better::Higher),
            Row::new(SCENARIO, case, "kernel", "Gbit/s", Better::Higher),
        ];
        pair[1].note = "kernel↔kernel over veth".into();
        let mut offload = true;
        super::alternate(settings, &mut pair, |i| {
            let secs = if i == 0 {
                let (secs, on) = over_tun(direction, bytes)?;
                offload &= on;
                secs
            } else {
                over_veth(direction, bytes)?
            };
            Ok(bytes as f64 * 8.0 / secs / 1e9)
        })?;
        let offload = if offload { "on" } else { "off" };
        pair[0].note = format!("TSO/GRO offload {offload}; target >= 60% of veth");
        rows.extend(pair);
    }
    Ok(rows)
}

/// Seconds `bytes` take between synack and the kernel over a TUN device, and whether the
/// device had its virtio-net offloads on.
fn over_tun(direction: Direction, bytes: u64) -> Result<(f64, bool), String> {
    in_new_namespace(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let (done, mut kernel_result) = tokio::sync::oneshot::channel();
        let mut kernel = None;
        let mut offload = false;
        let ours = runtime.block_on(async {
            let config = TunConfig::new("synbench0", TUN_HOST.into(), 24);
            let tun = Tun::create(&config).map_err(|e| e.to_string())?;
            offload = tun.offload();
            let stack = StackConfig {
                addrs: vec![TUN_OURS.into()],
                mtu: usize::from(config.mtu),
                record_events: false,
                seed: 1,
                ..StackConfig::default()
            };
            let net = Net::new(stack, tun, Clock::new());
            let listener = net
                .listen(SocketAddr::from((TUN_OURS, PORT)))
                .map_err(io("listen"))?;
            // The kernel's side, a thread of this namespace (threads inherit it); it connects
            // once our listener is there, and says how its half went on `done`.
            kernel = Some(thread::spawn(move || {
                let result = connect(SocketAddr::from((TUN_OURS, PORT)))
                    .and_then(|s| kernel_transfer(s, direction.reverse(), bytes));
                let _ = done.send(result);
            }));
            let ours = async {
                let (mut stream, _) = tokio::time::timeout(IDLE, listener.accept())
                    .await
                    .map_err(|_| "nothing connected".to_owned())?
                    .map_err(io("accept"))?;
                match direction {
                    Direction::Download => receive_async(&mut stream, bytes).await,
                    Direction::Upload => send_async(&mut stream, bytes).await,
                }
            };
            tokio::pin!(ours);
            let lost = |_| "the kernel's side ended without a word".to_owned();
            // Whichever side fails first is told. Our driver runs on this thread: it keeps
            // turning until both sides are done.
            tokio::select! {
                ours = &mut ours => {
                    let ours = ours?;
                    let theirs = tokio::time::timeout(IDLE, kernel_result)
                        .await
                        .map_err(|_| "the kernel's side stalled".to_owned())?
                        .map_err(lost)?;
                    Ok::<_, String>((ours, theirs?))
                }
                theirs = &mut kernel_result => {
                    let theirs = theirs.map_err(lost)??;
                    Ok((ours.await?, theirs))
                }
            }
        });
        // On an error the device is gone with the runtime and the kernel's socket times out.
        drop(runtime);
        if let Some(k) = kernel {
            k.join()
                .map_err(|_| "the kernel's thread panicked".to_owned())?;
        }
        let (ours, theirs) = ours?;
        Ok((elapsed(direction, ours, theirs), offload))
    })
}

/// Seconds `bytes` take between two kernel sockets in two namespaces over a veth pair.
fn over_veth(direction: Direction, bytes: u64) -> Result<f64, String> {
    // The measured side's namespace is made first; the peer's thread then makes the veth
    // pair, with one end in the measured side's namespace (named by its thread id).
    let (tid_tx, tid_rx) = mpsc::channel::<libc::pid_t>();
    let (made_tx, made_rx) = mpsc::channel::<()>();
    let (listening_tx, listening_rx) = mpsc::channel::<()>();
    let measured = thread::spawn(move || {
        in_this_thread_new_namespace()?;
        // SAFETY: gettid takes nothing and cannot fail.
        let tid = unsafe { libc::gettid() };
        tid_tx.send(tid).map_err(|_| "the peer's thread ended")?;
        made_rx
            .recv_timeout(IDLE)
            .map_err(|_| "no veth pair came")?;
        ip(&["addr", "add", &format!("{VETH_OURS}/24"), "dev", "vb"])?;
        ip(&["link", "set", "vb", "up"])?;
        let listener = TcpListener::bind((VETH_OURS, PORT)).map_err(io("bind"))?;
        listening_tx
            .send(())
            .map_err(|_| "the peer's thread ended")?;
        let stream = accept(&listener)?;
        kernel_transfer(stream, direction, bytes)
    });
    let peer = thread::spawn(move || {
        in_this_thread_new_namespace()?;
        let tid = tid_rx
            .recv_timeout(IDLE)
            .map_err(|_| "the measured side's thread ended")?;
        let (a, b) = ("va", "vb");
        let tid = tid.to_string();
        ip(&[
            "link", "add", a, "type", "veth", "peer", "name", b, "netns", &tid,
        ])?;
        made_tx
            .send(())
            .map_err(|_| "the measured side's thread ended")?;
        ip(&["addr", "add", &format!("{VETH_PEER}/24"), "dev", a])?;
        ip(&["link", "set", a, "up"])?;
        listening_rx
            .recv_timeout(IDLE)
            .map_err(|_| "the measured side is not listening")?;
        let stream = connect(SocketAddr::from((VETH_OURS, PORT)))?;
        kernel_transfer(stream, direction.reverse(), bytes)
    });
    let joined = |t: thread::JoinHandle<Result<Instant, String>>| {
        t.join()
            .map_err(|_| "a thread panicked".to_owned())
            .and_then(|r| r)
    };
    // Both joined before either error is told: neither thread outlives the round.
    let (ours, theirs) = (joined(measured), joined(peer));
    Ok(elapsed(direction, ours?, theirs?))
}

impl Direction {
    /// The same transfer seen from the other end.
    fn reverse(self) -> Direction {
        match self {
            Direction::Download => Direction::Upload,
            Direction::Upload => Direction::Download,
        }
    }
}

/// Seconds from the sender's start to the receiver's end, given what each side returned
/// (senders their start, receivers their end).
fn elapsed(direction: Direction, ours: Instant, theirs: Instant) -> f64 {
    let (start, end) = match direction {
        Direction::Download => (theirs, ours),
        Direction::Upload => (ours, theirs),
    };
    // Never zero, so that a figure is never infinite.
    end.saturating_duration_since(start).as_secs_f64().max(1e-9)
}

/// Runs `f` on a thread of its own in a new network namespace, and returns what it did.
fn in_new_namespace<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    thread::spawn(move || {
        in_this_thread_new_namespace()?;
        f()
    })
    .join()
    .map_err(|_| "a thread panicked".to_owned())?
}

/// Moves the calling thread (and threads and processes it starts from now on) into a new
/// network namespace with only a loopback device in it, down.
fn in_this_thread_new_namespace() -> Result<(), String> {
    // SAFETY: unshare takes flags alone and changes only the calling thread's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    Err(match e.kind() {
        io::ErrorKind::PermissionDenied => NEEDS_ROOT.to_owned(),
        _ => format!("cannot create a network namespace: {e}"),
    })
}

/// Runs `ip ARGS` in the calling thread's namespace, which must not be the process's own:
/// the benchmark never changes the host's interfaces.
fn ip(args: &[&str]) -> Result<(), String> {
    let ns = |path| std::fs::read_link(path).map_err(io("reading the network namespace"));
    if ns("/proc/thread-self/ns/net")? == ns("/proc/self/ns/net")? {
        return Err("refusing to run `ip` outside a namespace of the benchmark's own".into());
    }
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("needs the `ip` command (iproute2): {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(format!("ip {}: {}", args.join(" "), stderr.trim()))
}

/// A kernel connection to `addr`, its reads and writes given up after [`IDLE`] without progress.
fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, IDLE).map_err(io("connect"))?;
    with_timeouts(stream)
}

/// The first connection `listener` gets within [`IDLE`].
fn accept(listener: &TcpListener) -> Result<TcpStream, String> {
    listener.set_nonblocking(true).map_err(io("accept"))?;
    let started = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(io("accept"))?;
                return with_timeouts(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if started.elapsed() > IDLE {
                    return Err("nothing connected".into());
                }
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
}

/// `stream` with its reads and writes given up after [`IDLE`] without progress.
fn with_timeouts(stream: TcpStream) -> Result<TcpStream, String> {
    stream
        .set_read_timeout(Some(IDLE))
        .and_then(|()| stream.set_write_timeout(Some(IDLE)))
        .map_err(io("socket timeouts"))?;
    Ok(stream)
}

/// A kernel socket's half of the transfer: the sender returns when it started, the
/// receiver when the last byte came.
fn kernel_transfer(
    mut stream: TcpStream,
    direction: Direction,
    bytes: u64,
) -> Result<Instant, String> {
    match direction {
        Direction::Upload => {
            let pattern = Pattern::new();
            let started = Instant::now();
            let mut sent = 0;
            while sent < bytes {
                let chunk = pattern.at(sent, bytes - sent);
                let n = stream.write(chunk).map_err(io("write"))?;
                if n == 0 {
                    return Err(format!("the connection took nothing after {sent} B"));
                }
                sent += n as u64;
            }
            // The kernel sends what is still queued after the socket is closed.
            stream
                .shutdown(std::net::Shutdown::Write)
                .map_err(io("shutdown"))?;
            Ok(started)
        }
        Direction::Download => {
            let mut check = Check::new(bytes);
            let mut buf = vec![0; CHUNK];
            loop {
                let n = stream.read(&mut buf).map_err(io("read"))?;
                if n == 0 {
                    return check.end();
                }
                check.take(&buf[..n])?;
            }
        }
    }
}

/// synack's sending half: writes `bytes` of the pattern, then its FIN; returns when it
/// started.
async fn send_async(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    bytes: u64,
) -> Result<Instant, String> {
    let pattern = Pattern::new();
    let started = Instant::now();
    let mut sent = 0;
    while sent < bytes {
        let chunk = pattern.at(sent, bytes - sent);
        let n = tokio::time::timeout(IDLE, stream.write(chunk))
            .await
            .map_err(|_| format!("write stalled after {sent} B"))?
            .map_err(io("write"))?;
        if n == 0 {
            return Err(format!("the connection took nothing after {sent} B"));
        }
        sent += n as u64;
    }
    tokio::time::timeout(IDLE, stream.shutdown())
        .await
        .map_err(|_| "shutdown stalled".to_owned())?
        .map_err(io("shutdown"))?;
    Ok(started)
}

/// synack's receiving half: reads to the end, checking every byte; returns when the last
/// one came.
async fn receive_async(
    stream: &mut (impl AsyncRead + Unpin),
    bytes: u64,
) -> Result<Instant, String> {
    let mut check = Check::new(bytes);
    let mut buf = vec![0; CHUNK];
    loop {
        let n = tokio::time::timeout(IDLE, stream.read(&mut buf))
            .await
            .map_err(|_| format!("read stalled after {} B", check.got))?
            .map_err(io("read"))?;
        if n == 0 {
            return check.end();
        }
        check.take(&buf[..n])?;
    }
}

/// The bytes every transfer carries: byte `i` of the stream is `i % PERIOD`.
struct Pattern(Vec<u8>);

impl Pattern {
    fn new() -> Pattern {
        Pattern((0..CHUNK + PERIOD).map(|i| (i % PERIOD) as u8).collect())
    }

    /// The stream's bytes from `offset`, at most [`CHUNK`] and at most `left` of them.
    fn at(&self, offset: u64, left: u64) -> &[u8] {
        let start = (offset % PERIOD as u64) as usize;
        let len = left.min(CHUNK as u64) as usize;
        &self.0[start..start + len]
    }
}

/// What a receiver checks: every byte the pattern's, and exactly `expected` of them.
struct Check {
    pattern: Pattern,
    got: u64,
    expected: u64,
}

impl Check {
    fn new(expected: u64) -> Check {
        Check {
            pattern: Pattern::new(),
            got: 0,
            expected,
        }
    }

    /// Checks the next bytes read (at most [`CHUNK`]).
    fn take(&mut self, data: &[u8]) -> Result<(), String> {
        if self.got + data.len() as u64 > self.expected {
            return Err(format!("more than the {} B sent arrived", self.expected));
        }
        let want = self.pattern.at(self.got, data.len() as u64);
        if want != data {
            let at = want.iter().zip(data).position(|(a, b)| a != b).unwrap_or(0);
            return Err(format!("byte {} arrived wrong", self.got + at as u64));
        }
        self.got += data.len() as u64;
        Ok(())
    }

    /// The end of the stream: when it came, if everything came.
    fn end(&self) -> Result<Instant, String> {
        let now = Instant::now();
        if self.got == self.expected {
            Ok(now)
        } else {
            Err(format!(
                "the stream ended after {} of {} B",
                self.got, self.expected
            ))
        }
    }
}

/// Turns an I/O error into a message saying what failed.
fn io(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_runs_on_across_chunks() {
        let p = Pattern::new();
        let first = p.at(0, CHUNK as u64);
        let next = p.at(CHUNK as u64, 10);
        assert_eq!(first.len(), CHUNK);
        assert_eq!(next[0], (CHUNK % PERIOD) as u8);
        assert_eq!(p.at(5, 3), &[5, 6, 7]);
    }

    #[test]
    fn a_check_finds_wrong_missing_and_extra_bytes() {
        let p = Pattern::new();
        let mut ok = Check::new(300);
        ok.take(p.at(0, 100)).unwrap();
        ok.take(p.at(100, 200)).unwrap();
        assert!(ok.end().is_ok());

        let mut wrong = Check::new(300);
        let mut data = p.at(0, 100).to_vec();
        data[42] ^= 1;
        assert_eq!(wrong.take(&data).unwrap_err(), "byte 42 arrived wrong");

        let mut short = Check::new(300);
        short.take(p.at(0, 100)).unwrap();
        assert!(short.end().unwrap_err().contains("100 of 300"));

        let mut long = Check::new(50);
        assert!(long.take(p.at(0, 100)).is_err());
    }
}
