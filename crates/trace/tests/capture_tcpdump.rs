//! The kernel's own TCP, captured by tcpdump on the loopback interface: a curl GET against a
//! tiny HTTP server reads back (pcap, and pcapng after tshark converts it) into a connection
//! with all four phases; captured with a snapshot length (`-s 96`), into the same sequence
//! space with the payload marked as not captured.

mod capture_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use capture_support::{TempFile, have, is_root, skip, temp_path};
use synack_trace::capture::{self, Capture, CaptureFormat};
use synack_trace::{PhaseName, Side, Trace};

const BODY: &str = "hello from the kernel's TCP\n";

/// Answers one GET with `BODY`, then closes.
fn serve_once(listener: TcpListener) {
    serve_body(listener, BODY);
}

/// The response `serve_body` sends for `body`.
fn response(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Answers one GET with `body`, then closes.
fn serve_body(listener: TcpListener, body: &str) {
    let (mut stream, _) = listener.accept().unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "request cut short");
        request.extend_from_slice(&buf[..n]);
    }
    stream.write_all(response(body).as_bytes()).unwrap();
}

/// GET / from 127.0.0.1:`port` with curl, or a plain socket when curl is missing.
fn get(port: u16) -> String {
    if have("curl") {
        let url = format!("http://127.0.0.1:{port}/");
        let out = Command::new("curl").args(["-s", &url]).output().unwrap();
        assert!(out.status.success(), "curl failed");
        return String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// tcpdump writing to a file; killed if the test ends without stopping it.
struct Tcpdump(Child);

impl Tcpdump {
    /// Starts capturing `tcp port N` on lo and waits until it says it is listening.
    fn start(file: &Path, port: u16) -> Tcpdump {
        Tcpdump::start_with(file, port, &[])
    }

    /// As `start`, with more tcpdump arguments (`-s 96`).
    fn start_with(file: &Path, port: u16, extra: &[&str]) -> Tcpdump {
        let mut child = Command::new("tcpdump")
            .args(["-i", "lo", "-U", "-n"])
            .args(extra)
            .arg("-w")
            .arg(file)
            .arg(format!("tcp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let tcpdump = Tcpdump(child);
        let mut said = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.contains("listening on") => return tcpdump,
                Ok(line) => said.push(line),
                Err(_) => panic!("tcpdump did not start listening: {said:?}"),
            }
        }
    }

    /// SIGINT (tcpdump flushes and exits), then waits for it.
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success(), "kill -INT {pid}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "tcpdump did not exit on SIGINT");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn read(file: &Path) -> Capture {
    capture::read(&std::fs::read(file).unwrap()).unwrap()
}

fn phase_names(trace: &Trace) -> Vec<PhaseName> {
    let c = trace.connections.first().expect("a connection");
    c.phases.iter().map(|p| p.name).collect()
}

/// Whether the capture so far holds a finished close (tcpdump -U writes as it goes).
fn closed(file: &Path) -> bool {
    let Ok(bytes) = std::fs::read(file) else {
        return false;
    };
    let Ok(capture) = capture::read(&bytes) else {
        return false;
    };
    let trace = capture.recorder.finish();
    trace.connections.first().is_some_and(|c| {
        let four_way = PhaseName::Tcp4WayHandshake;
        c.phases.iter().any(|p| p.name == four_way && p.complete)
    })
}

#[test]
fn kernel_tcp_captured_by_tcpdump() {
    if !have("tcpdump") {
        return skip("tcpdump is not installed");
    }
    if !is_root() {
        return skip("capturing on lo needs root");
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pcap = TempFile(temp_path("lo.pcap"));
    let tcpdump = Tcpdump::start(&pcap.0, port);

    let server = thread::spawn(move || serve_once(listener));
    assert_eq!(get(port), BODY);
    server.join().unwrap();
    // The last ACK may still be on its way into the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !closed(&pcap.0) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    tcpdump.stop();

    let capture = read(&pcap.0);
    assert_eq!(capture.format, CaptureFormat::Pcap);
    assert_eq!(capture.error, None);
    assert_eq!(capture.skipped, 0);
    let trace = capture.recorder.finish();
    assert_eq!(trace.connections.len(), 1, "{trace:#?}");
    assert_eq!(trace.malformed_packets, 0);
    let conn = &trace.connections[0];
    assert_eq!(conn.server.port(), port);
    let phases = phase_names(&trace);
    for name in [
        PhaseName::Tcp3WayHandshake,
        PhaseName::HttpRequest,
        PhaseName::HttpResponse,
        PhaseName::Tcp4WayHandshake,
    ] {
        assert!(phases.contains(&name), "{name:?} missing from {phases:?}");
    }
    assert!(conn.phases.iter().all(|p| p.complete), "{:?}", conn.phases);
    let first_lines: Vec<_> = conn.http.iter().map(|m| m.first_line.as_str()).collect();
    assert_eq!(first_lines, ["GET / HTTP/1.1", "HTTP/1.1 200 OK"]);
    let response = &conn.http[1];
    assert_eq!(response.body_len, BODY.len() as u64);

    if !have("tshark") {
        return skip("tshark is not installed (pcapng conversion)");
    }
    let pcapng = TempFile(temp_path("lo.pcapng"));
    let status = Command::new("tshark")
        .arg("-r")
        .arg(&pcap.0)
        .arg("-w")
        .arg(&pcapng.0)
        .args(["-F", "pcapng"])
        .stdout(Stdio::null())
        .status()
        .expect("tshark runs");
    assert!(status.success(), "tshark conversion");
    let converted = read(&pcapng.0);
    assert_eq!(converted.format, CaptureFormat::PcapNg);
    assert_eq!(converted.error, None);
    let got: Vec<_> = converted.recorder.packets().collect();
    let want: Vec<_> = capture.recorder.packets().collect();
    assert_eq!(got, want, "same packets and times through pcapng");
    assert_eq!(phase_names(&converted.recorder.finish()), phases);
}

#[test]
fn kernel_tcp_captured_by_tcpdump_with_a_snapshot_length() {
    if !have("tcpdump") {
        return skip("tcpdump is not installed");
    }
    if !is_root() {
        return skip("capturing on lo needs root");
    }
    // Big enough for several segments, each snapped to its headers and a few bytes.
    let body: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pcap = TempFile(temp_path("lo-snapped.pcap"));
    let tcpdump = Tcpdump::start_with(&pcap.0, port, &["-s", "96"]);

    let served = body.clone();
    let server = thread::spawn(move || serve_body(listener, &served));
    assert_eq!(get(port).len(), body.len());
    server.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !closed(&pcap.0) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    tcpdump.stop();

    let capture = read(&pcap.0);
    assert_eq!(capture.error, None);
    let snapped = capture
        .recorder
        .packets_with_len()
        .filter(|(_, p, len)| *len > p.len())
        .count();
    assert!(snapped > 0, "tcpdump -s 96 snapped nothing");
    let trace = capture.recorder.finish();
    assert_eq!(trace.malformed_packets, 0);
    assert_eq!(trace.connections.len(), 1, "{trace:#?}");
    // Loopback loses nothing: every retransmission would be a misreading of the lengths.
    assert_eq!(trace.retransmissions(), 0);
    let conn = &trace.connections[0];
    let phases = phase_names(&trace);
    for name in [
        PhaseName::Tcp3WayHandshake,
        PhaseName::HttpRequest,
        PhaseName::HttpResponse,
        PhaseName::Tcp4WayHandshake,
    ] {
        assert!(phases.contains(&name), "{name:?} missing from {phases:?}");
    }
    for p in conn
        .phases
        .iter()
        .filter(|p| p.name.as_str().starts_with("tcp"))
    {
        assert!(p.complete, "{p:?}");
    }
    // The sequence space is the whole response's, though little of it was captured.
    let from_server = conn.segments.iter().filter(|s| s.from == Side::Server);
    let sent: usize = from_server.clone().map(|s| s.len).sum();
    let captured: usize = from_server.map(|s| s.captured).sum();
    assert_eq!(sent, response(&body).len());
    assert!(captured < sent / 100, "{captured} of {sent}");
    let first_lines: Vec<_> = conn.http.iter().map(|m| m.first_line.as_str()).collect();
    assert_eq!(first_lines, ["GET / HTTP/1.1", "HTTP/1.1 200 OK"]);
    let text = synack_trace::ladder::render(&trace, None, &Default::default());
    assert!(text.contains(" captured)"), "{text}");
}
