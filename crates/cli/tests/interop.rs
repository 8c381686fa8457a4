//! Real peers: `synack serve` and `synack get` on a TUN device against the kernel's TCP and
//! everyday clients and servers (curl, OpenSSL, Python), inside a network namespace each
//! test makes for itself (`unshare -n`), so nothing leaves it.
//!
//! Needs root and curl, openssl and python3. Without root the tests say so and pass, except
//! under CI (the `CI` variable set), where they fail: CI runs as root.

#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

const CHILD: &str = "SYNACK_INTEROP_CHILD";
const BIN: &str = env!("CARGO_BIN_EXE_synack");
/// Exit status of a namespace child that lacked privilege.
const NO_PRIVILEGE: i32 = 77;

/// Runs test `name` again in a new network namespace; true if the caller is that child.
fn in_namespace(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new("unshare")
        .args(["-n", "--"])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) if s.code() == Some(NO_PRIVILEGE) => skip(name, "no privilege for a TUN device"),
        // unshare itself fails (exit 1) without CAP_SYS_ADMIN; the child never ran.
        Ok(s) if s.code() == Some(1) && !is_root() => skip(name, "unshare -n needs root"),
        Ok(s) => panic!("{name} failed in its namespace: {s}"),
        Err(e) => skip(name, &format!("cannot run unshare: {e}")),
    }
    false
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn skip(name: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{name}: {why} (CI must run this as root)");
    }
    eprintln!("{name}: skipped: {why}");
}

/// Inside the namespace: loopback up, no IPv6 duplicate-address wait.
fn prepare_namespace() {
    let _ = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    for conf in ["all", "default"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/accept_dad"), "0");
    }
}

/// A scratch directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synack-interop-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A child process killed when dropped (a failing test leaves nothing running).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `synack serve`, its output going to files (a pipe could fill and stall it).
struct Server {
    guard: Guard,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Server {
    /// Starts `synack serve` on device `tun` (10.77.0.1/24 and fd77::1/64 for the kernel,
    /// .2 and ::2 for us) with `extra` options, and waits until it listens.
    fn start(dir: &Path, tun: &str, extra: &[&str]) -> Server {
        let stdout = dir.join(format!("{tun}.out"));
        let stderr = dir.join(format!("{tun}.err"));
        let mut args = vec![
            "serve",
            "--tun",
            tun,
            "--host-addr",
            "10.77.0.1/24",
            "--addr",
            "10.77.0.2",
            "--host-addr",
            "fd77::1/64",
            "--addr",
            "fd77::2",
            "--no-color",
        ];
        args.extend_from_slice(extra);
        let child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::from(File::create(&stdout).expect("stdout file")))
            .stderr(Stdio::from(File::create(&stderr).expect("stderr file")))
            .spawn()
            .expect("run synack serve");
        let mut server = Server {
            guard: Guard(child),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let err = std::fs::read_to_string(&server.stderr).unwrap_or_default();
            if err.contains("listening on") {
                return server;
            }
            if err.contains("CAP_NET_ADMIN") {
                eprintln!("{err}");
                std::process::exit(NO_PRIVILEGE);
            }
            if let Ok(Some(status)) = server.guard.0.try_wait() {
                panic!("synack serve exited ({status}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "synack serve did not start: {err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C (SIGINT), then its exit status, stdout and stderr.
    fn stop(self) -> (ExitStatus, String, String) {
        self.stop_with("INT")
    }

    /// Sends `signal` (`INT`, `TERM`), then waits for the exit status, stdout and stderr.
    fn stop_with(mut self, signal: &str) -> (ExitStatus, String, String) {
        let pid = self.guard.0.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.guard.0.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "synack serve did not stop on SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status, out, err)
    }
}

/// Runs a command to its end; panics if it cannot start.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs a command that must succeed; returns its stdout.
fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// curl with a time limit, silent, failing on HTTP errors.
fn curl(args: &[&str]) -> String {
    let mut all = vec!["-sS", "--fail", "--max-time", "60"];
    all.extend_from_slice(args);
    ok("curl", &all)
}

/// SHA-256 (hex) of the body curl downloads from `url`.
fn curl_sha256(url: &str, extra: &[&str], dir: &Path) -> String {
    let file = dir.join("download");
    let file_arg = file.to_str().expect("utf-8 path");
    let mut args = extra.to_vec();
    args.extend_from_slice(&["-o", file_arg, url]);
    curl(&args);
    file_sha256(&file)
}

fn file_sha256(path: &Path) -> String {
    let mut file = File::open(path).expect("open");
    let mut sha = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            return hex(&sha.finalize());
        }
        sha.update(&buf[..n]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `len` bytes of the pattern (byte i is i mod 251).
fn pattern_sha256(len: usize) -> String {
    let period: Vec<u8> = (0..251u32).map(|i| i as u8).collect();
    let mut sha = Sha256::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(period.len());
        sha.update(&period[..n]);
        left -= n;
    }
    hex(&sha.finalize())
}

/// A file of `len` bytes that are not the pattern, written a chunk at a time.
fn data_file(dir: &Path, name: &str, len: usize) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(File::create(&path).expect("create data file"));
    let mut chunk = Vec::with_capacity(1 << 20);
    let mut i = 0;
    while i < len {
        chunk.clear();
        let end = len.min(i + (1 << 20));
        chunk.extend((i..end).map(|i| (i * 7 + i / 1000) as u8));
        std::io::Write::write_all(&mut file, &chunk).expect("write data");
        i = end;
    }
    std::io::Write::flush(&mut file).expect("write data");
    path
}

/// Uploads `path` with curl and checks the server's `{"bytes","sha256"}` answer.
fn check_upload(url: &str, path: &Path, extra: &[&str]) {
    let data = format!("@{}", path.display());
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--data-binary", &data, url]);
    let answer: Value = serde_json::from_str(&curl(&args)).expect("upload answer is JSON");
    let len = std::fs::metadata(path).expect("size").len();
    assert_eq!(answer["bytes"], len, "{url} {extra:?}");
    assert_eq!(
        answer["sha256"],
        file_sha256(path).as_str(),
        "{url} {extra:?}"
    );
}

/// Plain HTTP from curl and Python over IPv4 and IPv6: pattern downloads (1 MB and 64 MiB)
/// verified by hash, uploads of 0 B and 1 MiB, `/me` reporting the kernel's SYN options,
/// `/connections`, a refused port; then Ctrl-C: exit 0, every lifecycle printed, a capture.
#[test]
fn http_from_curl_and_python() {
    if !in_namespace("http_from_curl_and_python") {
        return;
    }
    prepare_namespace();
    let dir = scratch("http");
    let pcap = dir.join("serve.pcapng");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let served = data_file(&root.join("sub"), "file.bin", 100_000);
    std::fs::write(dir.join("secret"), b"outside the root").unwrap();
    let server = Server::start(
        &dir,
        "synh0",
        &[
            "--pcap",
            pcap.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ],
    );

    assert_eq!(
        curl_sha256("http://10.77.0.2/bytes/1000000", &[], &dir),
        pattern_sha256(1_000_000)
    );
    let big = 64 << 20;
    assert_eq!(
        curl_sha256(&format!("http://10.77.0.2/bytes/{big}"), &[], &dir),
        pattern_sha256(big)
    );
    assert_eq!(
        curl_sha256("http://[fd77::2]/bytes/300000", &[], &dir),
        pattern_sha256(300_000)
    );
    let empty = data_file(&dir, "empty", 0);
    let mib = data_file(&dir, "mib", 1 << 20);
    check_upload("http://10.77.0.2/upload", &empty, &[]);
    check_upload("http://10.77.0.2/upload", &mib, &[]);
    check_upload("http://[fd77::2]/upload", &mib, &[]);

    // Python's http.client, two requests on one keep-alive connection.
    let script = "import http.client,hashlib\n\
        c=http.client.HTTPConnection('10.77.0.2',80,timeout=30)\n\
        for n in (12345,0):\n\
        \x20   c.request('GET','/bytes/%d'%n)\n\
        \x20   r=c.getresponse()\n\
        \x20   print(r.status,hashlib.sha256(r.read()).hexdigest())\n\
        c.close()\n";
    let printed = ok("python3", &["-c", script]);
    let expected = format!("200 {}\n200 {}\n", pattern_sha256(12345), pattern_sha256(0));
    assert_eq!(printed, expected);

    // /me: what the kernel's SYN offered, as recorded, and as our stack uses it.
    let me: Value = serde_json::from_str(&curl(&[
        "-H",
        "Accept: application/json",
        "http://10.77.0.2/me",
    ]))
    .expect("/me is JSON");
    let syn = &me["syn"];
    // A 1500-byte MTU leaves 1460 bytes of TCP payload for IPv4.
    assert_eq!(syn["mss"], 1460, "{me:#}");
    let ws = syn["window_scale"]
        .as_u64()
        .expect("the kernel offers window scaling");
    assert!(ws <= 14, "window scale {ws}");
    assert!(
        syn["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == format!("ws {ws}").as_str())
    );
    assert_eq!(syn["sack_permitted"], true);
    assert_eq!(me["tcp"]["window_scale"]["peer"], ws, "{me:#}");
    assert_eq!(
        me["tcp"]["send_mss"].as_u64().map(|m| m <= 1460),
        Some(true)
    );
    assert!(me["tcp"]["srtt_ms"].is_number(), "{me:#}");
    assert_eq!(me["request"]["method"], "GET");
    assert_eq!(me["tls"], Value::Null);
    let over_v6: Value = serde_json::from_str(&curl(&[
        "-H",
        "Accept: application/json",
        "http://[fd77::2]/me",
    ]))
    .unwrap();
    assert_eq!(
        over_v6["syn"]["mss"], 1440,
        "IPv6 headers are 20 bytes longer"
    );
    let page = curl(&["http://10.77.0.2/me"]);
    assert!(
        page.contains("<html>") && page.contains("your SYN"),
        "{page}"
    );

    // A port nobody listens on: our stack answers the SYN with RST; curl exits 7.
    let refused = run("curl", &["-sS", "--max-time", "10", "http://10.77.0.2:81/"]);
    assert_eq!(refused.status.code(), Some(7));

    // Files under --root, and nothing outside it however the path is spelled.
    assert_eq!(
        curl_sha256("http://10.77.0.2/sub/file.bin", &[], &dir),
        file_sha256(&served)
    );
    for escape in [
        "/../secret",
        "/sub/../../secret",
        "/%2e%2e/secret",
        "/sub/..%2f..%2fsecret",
    ] {
        let url = format!("http://10.77.0.2{escape}");
        let out = run(
            "curl",
            &[
                "-s",
                "--path-as-is",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &url,
            ],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "404", "{escape}");
    }
    // `synack get --kernel` uploads to our server over the kernel's TCP.
    let got = run(
        BIN,
        &[
            "get",
            "--kernel",
            "http://10.77.0.2/upload",
            "--data-file",
            mib.to_str().unwrap(),
        ],
    );
    let printed = String::from_utf8_lossy(&got.stdout);
    assert!(got.status.success(), "{printed}");
    assert!(printed.contains(&file_sha256(&mib)), "{printed}");
    let missing = run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://10.77.0.2/../../etc/passwd",
            "--path-as-is",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");

    // Finished connections are listed with their teardown.
    std::thread::sleep(Duration::from_millis(400));
    let recent = curl(&[
        "-H",
        "Accept: application/json",
        "http://10.77.0.2/connections",
    ]);
    let fins = recent
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "segment")
        .filter(|v| {
            v["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "FIN"))
        })
        .count();
    assert!(fins >= 2, "no teardown in /connections: {recent}");

    let (status, out, err) = server.stop();
    assert!(status.success(), "synack serve: {status}: {err}");
    // 1 MB, 64 MiB, v6, 3 uploads, Python, 2 × /me, /me page, refused, 404, /connections.
    let connections = out.lines().filter(|l| l.starts_with("connection ")).count();
    assert!(
        connections >= 13,
        "{connections} lifecycles printed:\n{err}"
    );
    assert!(out.contains("FIN"), "no teardown drawn");
    assert!(out.contains("RST"), "the refused SYN is not drawn");
    let capture = std::fs::read(&pcap).expect("--pcap written");
    assert_eq!(
        capture.get(..4),
        Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]),
        "pcapng magic"
    );
    let traced = run(BIN, &["trace", pcap.to_str().unwrap(), "--json"]);
    let lines = String::from_utf8_lossy(&traced.stdout);
    assert!(
        lines
            .lines()
            .filter(|l| l.contains("\"type\":\"segment\""))
            .count()
            > 100
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTTPS: curl with TLS 1.3 and with TLS 1.2 only, uploads of 0 B and 1 MiB verified; OpenSSL's
/// s_client handshakes with both versions; `/me` reports what TLS negotiated.
#[test]
fn https_from_curl_and_openssl() {
    if !in_namespace("https_from_curl_and_openssl") {
        return;
    }
    prepare_namespace();
    let dir = scratch("https");
    let server = Server::start(&dir, "syns0", &["--tls"]);
    let empty = data_file(&dir, "empty", 0);
    let mib = data_file(&dir, "mib", 1 << 20);
    for versions in [&["--tlsv1.3"][..], &["--tlsv1.2", "--tls-max", "1.2"][..]] {
        let mut extra = vec!["-k"];
        extra.extend_from_slice(versions);
        check_upload("https://10.77.0.2/upload", &empty, &extra);
        check_upload("https://10.77.0.2/upload", &mib, &extra);
        assert_eq!(
            curl_sha256("https://[fd77::2]/bytes/500000", &extra, &dir),
            pattern_sha256(500_000)
        );
        let me: Value = serde_json::from_str(&curl(
            &[
                &extra[..],
                &["-H", "Accept: application/json", "https://10.77.0.2/me"],
            ]
            .concat(),
        ))
        .unwrap();
        let want = if versions[0] == "--tlsv1.3" {
            "TLS 1.3"
        } else {
            "TLS 1.2"
        };
        assert_eq!(me["tls"]["version"], want, "{me:#}");
        assert_eq!(me["tls"]["alpn"], "http/1.1", "{me:#}");
    }
    // A name asked for (SNI) is reported as our rustls received it.
    let me: Value = serde_json::from_str(&curl(&[
        "-k",
        "--resolve",
        "synack.test:443:10.77.0.2",
        "-H",
        "Accept: application/json",
        "https://synack.test/me",
    ]))
    .unwrap();
    assert_eq!(me["tls"]["sni"], "synack.test", "{me:#}");
    for (flag, name) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", "10.77.0.2:443", flag, "-brief"])
            .stdin(Stdio::null())
            .output()
            .expect("run openssl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("Protocol version: {name}")),
            "{flag}: {text}"
        );
    }
    // An idle keep-alive connection when Ctrl-C comes: our side sends close_notify, then
    // FIN (Python's ssl reads b'' only after a close_notify; a bare FIN raises).
    let script = "import http.client,ssl,sys\n\
        c=http.client.HTTPSConnection('10.77.0.2',443,timeout=30,\
        context=ssl._create_unverified_context())\n\
        c.request('GET','/bytes/10')\n\
        c.getresponse().read()\n\
        print('ready',flush=True)\n\
        print('clean' if c.sock.recv(1)==b'' else 'data',flush=True)\n";
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = std::io::BufReader::new(python.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let _python = Guard(python);
    let (status, out, err) = server.stop();
    assert!(status.success(), "{err}");
    line.clear();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    assert_eq!(line, "clean\n", "Python's view of our close");
    // The server's key log decrypts its own traces: the HTTP inside shows on the ladder.
    assert!(out.contains("ClientHello"), "{out}");
    assert!(
        out.contains("POST /upload"),
        "requests are not decrypted on the ladder"
    );

    // --cert/--key: a certificate curl verifies (no -k), made by OpenSSL.
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=synack.test",
            "-addext",
            "subjectAltName=DNS:synack.test",
        ],
    );
    let server = Server::start(&dir, "syns1", &["--tls", "--cert", cert, "--key", key]);
    let url = "https://synack.test/bytes/100000";
    let resolve = "synack.test:443:10.77.0.2";
    let extra = ["--cacert", cert, "--resolve", resolve];
    assert_eq!(curl_sha256(url, &extra, &dir), pattern_sha256(100_000));
    let (status, _, err) = server.stop();
    assert!(status.success(), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 200 connections at once, twice: the kernel closing first, then our stack (the requests
/// say `Connection: close`, so our side sends the first FIN).
#[test]
fn two_hundred_connections_closing_either_way() {
    if !in_namespace("two_hundred_connections_closing_either_way") {
        return;
    }
    prepare_namespace();
    let dir = scratch("many");
    let server = Server::start(&dir, "synm0", &["--json"]);
    let n = 200;
    for close_header in [None, Some("Connection: close")] {
        let mut args: Vec<String> = [
            "-sS",
            "--max-time",
            "60",
            "--parallel",
            "--parallel-immediate",
            "--parallel-max",
            "200",
            "-w",
            "%{http_code} %{size_download}\\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(h) = close_header {
            args.extend(["-H".to_owned(), h.to_owned()]);
        }
        for _ in 0..n {
            args.extend([
                "-o".into(),
                "/dev/null".into(),
                "http://10.77.0.2/bytes/20000".into(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let printed = ok("curl", &args);
        let good = printed.lines().filter(|l| *l == "200 20000").count();
        assert_eq!(good, n, "{close_header:?}: {printed}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let (status, out, err) = server.stop();
    assert!(status.success(), "{err}");
    // Who sent the first FIN, per connection, and which sides sent one at all.
    let mut first_fin = std::collections::HashMap::new();
    let mut fins = std::collections::HashSet::new();
    let mut conns = std::collections::HashSet::new();
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["type"] != "segment" {
            continue;
        }
        let conn = v["conn"].as_u64().unwrap();
        let from = v["from"].as_str().unwrap().to_owned();
        conns.insert(conn);
        let flags = v["flags"].as_array().unwrap();
        assert!(!flags.iter().any(|x| x == "RST"), "a reset: {line}");
        if flags.iter().any(|x| x == "FIN") {
            first_fin.entry(conn).or_insert(from.clone());
            fins.insert((conn, from));
        }
    }
    // Every connection closed both ways.
    for conn in &conns {
        for side in ["client", "server"] {
            assert!(
                fins.contains(&(*conn, side.to_owned())),
                "conn {conn}: no {side} FIN"
            );
        }
    }
    let by_client = first_fin.values().filter(|f| *f == "client").count();
    let by_server = first_fin.values().filter(|f| *f == "server").count();
    // In the second round curl closes as soon as it holds Content-Length bytes, so now and
    // then its FIN crosses ours on the wire: those closes are the kernel's first, correctly.
    assert!(
        by_client >= n && by_server >= n * 9 / 10 && by_client + by_server == conns.len(),
        "first FIN: client {by_client}, server {by_server}, of {} connections",
        conns.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `synack get` against kernel-side servers: Python's http.server (a file, hash checked),
/// OpenSSL's s_server (TLS, --insecure), and a closed port (the kernel's RST reported).
#[test]
fn get_against_kernel_servers() {
    if !in_namespace("get_against_kernel_servers") {
        return;
    }
    prepare_namespace();
    let dir = scratch("get");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let file = data_file(&www, "file.bin", 700_000);
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-days",
            "1",
            "-subj",
            "/CN=synack interop",
        ],
    );
    let tun = [
        "--tun",
        "syng0",
        "--host-addr",
        "10.77.0.1/24",
        "--addr",
        "10.77.0.2",
    ];
    let get = |url: &str, extra: &[&str]| {
        let mut args = vec!["get", url, "--no-color"];
        args.extend_from_slice(&tun);
        args.extend_from_slice(extra);
        let out = run(BIN, &args);
        if String::from_utf8_lossy(&out.stderr).contains("CAP_NET_ADMIN") {
            std::process::exit(NO_PRIVILEGE);
        }
        out
    };

    // The kernel's address exists only while `get` holds its TUN device (each run makes it
    // again), so the servers listen on every address.
    let _python = Guard(
        Command::new("python3")
            .args(["-m", "http.server", "8000"])
            .current_dir(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server"),
    );
    let _openssl = Guard(
        Command::new("openssl")
            .args(["s_server", "-accept", "4433", "-www", "-quiet", "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    wait_for_port(8000);
    wait_for_port(4433);

    let saved = dir.join("saved.bin");
    let (pcap, page) = (dir.join("get.pcapng"), dir.join("get.html"));
    let out = get(
        "http://10.77.0.1:8000/file.bin",
        &[
            "-o",
            saved.to_str().unwrap(),
            "--pcap",
            pcap.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(file_sha256(&saved), file_sha256(&file));
    let capture = std::fs::read(&pcap).expect("--pcap written");
    assert_eq!(capture.get(..4), Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]));
    let html = std::fs::read_to_string(&page).expect("--html written");
    assert!(html.contains("GET /file.bin"), "the page shows the request");
    assert!(
        stdout.contains(&format!("sha256 {}", file_sha256(&file))),
        "{stdout}"
    );
    assert!(
        stdout.contains("SYN") && stdout.contains("FIN"),
        "no ladder: {stdout}"
    );
    assert!(stdout.contains("time_total"), "no timings: {stdout}");

    let out = get("https://10.77.0.1:4433/", &["--insecure"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("--insecure: the server's certificate is NOT verified"));
    assert!(
        stdout.contains("ClientHello") && stdout.contains("TLS 1.3"),
        "{stdout}"
    );
    // Without --insecure, a certificate nobody vouches for is refused.
    let out = get(
        "https://10.77.0.1:4433/",
        &["--cacert", "/etc/ssl/certs/ca-certificates.crt"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure"));

    let out = get("http://10.77.0.1:81/", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("connection refused by 10.77.0.1:81 (RST)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until something listens on 127.0.0.1:`port` (the kernel's own loopback).
fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A lossy, reordering, duplicating link at our device boundary: 2 MB each way still
/// arrive intact.
#[test]
fn impaired_link_still_delivers() {
    if !in_namespace("impaired_link_still_delivers") {
        return;
    }
    prepare_namespace();
    let dir = scratch("impaired");
    let server = Server::start(
        &dir,
        "syni0",
        &[
            "--loss",
            "2",
            "--reorder",
            "2",
            "--duplicate",
            "1",
            "--seed",
            "5",
        ],
    );
    assert_eq!(
        curl_sha256("http://10.77.0.2/bytes/2000000", &[], &dir),
        pattern_sha256(2_000_000)
    );
    let up = data_file(&dir, "up", 2_000_000);
    check_upload("http://10.77.0.2/upload", &up, &[]);
    let (status, out, err) = server.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("lost"), "the link lost nothing? {err}");
    assert!(out.contains("connection ") && out.contains("FIN"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Our client and our server, each on its own TUN device, with the kernel routing between
/// them (10.78.0.2 → 10.77.0.2): HTTPS download and upload, both ends ours.
#[test]
fn our_stack_to_our_stack_through_the_kernel_router() {
    if !in_namespace("our_stack_to_our_stack_through_the_kernel_router") {
        return;
    }
    prepare_namespace();
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").expect("enable forwarding");
    let dir = scratch("routed");
    let server = Server::start(&dir, "synr0", &["--tls"]);
    let tun = [
        "--tun",
        "synr1",
        "--host-addr",
        "10.78.0.1/24",
        "--addr",
        "10.78.0.2",
        "--insecure",
        "--no-color",
    ];
    let saved = dir.join("saved");
    let saved_arg = saved.to_str().unwrap();
    let mut args = vec!["get", "https://10.77.0.2/bytes/3000000", "-o", saved_arg];
    args.extend_from_slice(&tun);
    let out = run(BIN, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(file_sha256(&saved), pattern_sha256(3_000_000));
    assert!(
        stdout.contains("close_notify"),
        "both TLS closes drawn: {stdout}"
    );

    let up = data_file(&dir, "up", 1 << 20);
    let mut args = vec![
        "get",
        "https://10.77.0.2/upload",
        "-X",
        "POST",
        "--data-file",
        up.to_str().unwrap(),
        "-o",
        saved_arg,
    ];
    args.extend_from_slice(&tun);
    let out = run(BIN, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(answer["bytes"], 1 << 20);
    assert_eq!(answer["sha256"], file_sha256(&up).as_str());
    let (status, out, err) = server.stop();
    assert!(status.success(), "{err}");
    assert!(
        out.contains("10.78.0.2:"),
        "the server saw our client's address: {out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Headless Chromium loads `/me` over HTTPS: its own SYN options and TLS, as our stack and
/// our rustls saw them, in the page.
#[test]
fn chromium_reads_its_own_connection() {
    if !in_namespace("chromium_reads_its_own_connection") {
        return;
    }
    if Command::new("chromium").arg("--version").output().is_err() {
        // .ci/run installs it; elsewhere it is optional.
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed"
        );
        eprintln!("chromium_reads_its_own_connection: skipped: no chromium");
        return;
    }
    prepare_namespace();
    let dir = scratch("chromium");
    let profile = dir.join("profile");
    let server = Server::start(&dir, "sync0", &["--tls"]);
    let dom = ok(
        "timeout",
        &[
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--ignore-certificate-errors",
            "--dump-dom",
            "https://10.77.0.2/me",
        ],
    );
    let (status, out, err) = server.stop();
    assert!(status.success(), "{err}");
    assert!(dom.contains("<th>your SYN: mss</th><td>1460</td>"), "{dom}");
    assert!(
        dom.contains("<th>TLS: version</th><td>TLS 1.3</td>"),
        "{dom}"
    );
    assert!(dom.contains("<th>TLS: alpn</th><td>http/1.1</td>"), "{dom}");
    assert!(
        dom.contains("GET /me HTTP/1.1"),
        "the request as received: {dom}"
    );
    assert!(out.contains("connection "), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 256 MiB each way over our stack, checked by SHA-256: curl downloads the pattern and
/// uploads a file. The server's record keeps 64 KiB of payload a direction and every segment
/// beyond it cut to its headers: its `connection` lines say how much payload was not kept,
/// every segment is on the record (the lengths add up to every byte up to the FIN, no packet
/// dropped), the cut ones with `captured` 0, and the response and request phases finished.
#[test]
fn quarter_gibibyte_both_ways() {
    if !in_namespace("quarter_gibibyte_both_ways") {
        return;
    }
    prepare_namespace();
    let dir = scratch("big");
    let server = Server::start(&dir, "synq0", &["--json"]);
    let len: usize = 256 << 20;
    let started = Instant::now();
    assert_eq!(
        curl_sha256(&format!("http://10.77.0.2/bytes/{len}"), &[], &dir),
        pattern_sha256(len)
    );
    eprintln!(
        "256 MiB down (curl, hashed): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(dir.join("download"));
    let up = data_file(&dir, "up", len);
    let started = Instant::now();
    check_upload("http://10.77.0.2/upload", &up, &[]);
    eprintln!(
        "256 MiB up (curl, hashed both ends): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_file(&up);
    let (status, out, err) = server.stop();
    assert!(status.success(), "{err}");
    // Hundreds of thousands of segment lines: each is read for what it adds to its
    // sender's tally, not kept.
    #[derive(Default)]
    struct Tally {
        fin_seq: Option<u64>,
        data_end: u64,
        /// Payload claimed by the headers, of the segments that are not retransmissions.
        fresh_len: u64,
        len: u64,
        captured: u64,
        cut: u64,
    }
    let mut conns: Vec<Value> = Vec::new();
    let mut phases: Vec<Value> = Vec::new();
    let mut tallies: std::collections::HashMap<(u64, String), Tally> = Default::default();
    for line in out.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match v["type"].as_str() {
            Some("connection") => conns.push(v),
            Some("phase") => phases.push(v),
            Some("segment") => {
                let key = (
                    v["conn"].as_u64().unwrap(),
                    v["from"].as_str().unwrap().to_owned(),
                );
                let t = tallies.entry(key).or_default();
                let seq = v["seq"].as_u64().unwrap();
                let seg_len = v["len"].as_u64().unwrap();
                let captured = v.get("captured").map_or(seg_len, |c| c.as_u64().unwrap());
                if v["flags"].as_array().unwrap().iter().any(|f| f == "FIN") {
                    t.fin_seq.get_or_insert(seq);
                }
                if seg_len > 0 {
                    t.data_end = t.data_end.max(seq + seg_len);
                }
                if v["retransmission"] != true {
                    t.fresh_len += seg_len;
                }
                t.len += seg_len;
                t.captured += captured;
                if captured < seg_len {
                    assert_eq!(captured, 0, "cut to its headers: {v}");
                    t.cut += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(conns.len(), 2, "{err}");
    for (conn, sender) in [(&conns[0], "server"), (&conns[1], "client")] {
        assert_eq!(conn["open"], false);
        let id = conn["conn"].as_u64().unwrap();
        let elided = &conn["elided"][sender];
        let uncaptured = elided["uncaptured_bytes"].as_u64().unwrap();
        assert!(uncaptured > (len as u64) * 9 / 10, "{conn}");
        assert_eq!(elided["dropped_segments"], 0, "{conn}");
        let t = &tallies[&(id, sender.to_owned())];
        let fin = t
            .fin_seq
            .unwrap_or_else(|| panic!("no {sender} FIN in conn {id}"));
        // Relative seq of the FIN = 1 + every byte the sender sent.
        let sent = fin - 1;
        assert!(sent >= len as u64, "{fin}");
        assert_eq!(
            t.data_end,
            sent + 1,
            "the last data segment is on the record"
        );
        // Every byte's segment is on the record, once: no jump in sequence space.
        assert_eq!(t.fresh_len, sent, "segments on the record cover every byte");
        assert_eq!(
            t.captured + uncaptured,
            t.len,
            "kept {} + not kept {uncaptured} != {}",
            t.captured,
            t.len
        );
        assert!(
            t.captured < 256 << 10,
            "kept {} bytes of payload",
            t.captured
        );
        assert_eq!(
            Some(t.cut),
            elided["cut_segments"].as_u64(),
            "cut segments: {conn}"
        );
        // The body not kept was seen go by: the phase finished, it was not cut short.
        let phase = if sender == "server" {
            "http-response"
        } else {
            "http-request"
        };
        let phase = phases
            .iter()
            .find(|v| v["conn"] == id && v["name"] == phase)
            .unwrap_or_else(|| panic!("no {phase} in conn {id}"));
        assert_eq!(phase.get("complete"), None, "{phase}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM (what service managers and `timeout` send) stops the server as Ctrl-C does: an
/// idle keep-alive connection is closed cleanly (Python reads the end of the stream), exit 0.
/// Before that, `/connections` lists that connection as open (ESTABLISHED) beside finished
/// ones.
#[test]
fn sigterm_stops_cleanly_and_connections_lists_open_ones() {
    if !in_namespace("sigterm_stops_cleanly_and_connections_lists_open_ones") {
        return;
    }
    prepare_namespace();
    let dir = scratch("sigterm");
    let server = Server::start(&dir, "synt0", &[]);
    assert_eq!(
        curl_sha256("http://10.77.0.2/bytes/5000", &[], &dir),
        pattern_sha256(5000)
    );
    let script = "import http.client\n\
        c=http.client.HTTPConnection('10.77.0.2',80,timeout=30)\n\
        c.request('GET','/bytes/10')\n\
        c.getresponse().read()\n\
        print(c.sock.getsockname()[1],flush=True)\n\
        print('clean' if c.sock.recv(1)==b'' else 'data',flush=True)\n";
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = std::io::BufReader::new(python.stdout.take().unwrap());
    let _python = Guard(python);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    let port: u16 = line.trim().parse().expect("Python's port");
    let python_addr = format!("10.77.0.1:{port}");
    // Let curl's connection finish (its last ACK in, then swept).
    std::thread::sleep(Duration::from_millis(500));

    let listed = curl(&[
        "-H",
        "Accept: application/json",
        "http://10.77.0.2/connections",
    ]);
    let conns: Vec<Value> = listed
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "connection")
        .collect();
    let python_conn = conns
        .iter()
        .find(|c| c["client"] == python_addr.as_str())
        .unwrap_or_else(|| panic!("{python_addr} not listed: {listed}"));
    assert_eq!(python_conn["open"], true, "{python_conn}");
    assert_eq!(python_conn["state"], "Established", "{python_conn}");
    // Its lines so far: the handshake and the exchange, no FIN yet.
    let id = &python_conn["conn"];
    let segments = listed
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "segment" && v["conn"] == *id)
        .count();
    assert!(segments >= 5, "{listed}");
    let finished = conns
        .iter()
        .filter(|c| c["open"] == false && c["state"] != "Established")
        .count();
    assert!(finished >= 1, "curl's finished connection: {listed}");
    let text = curl(&["http://10.77.0.2/connections"]);
    assert!(
        text.contains(&format!("(open, ESTABLISHED): {python_addr}")),
        "{text}"
    );

    let (status, out, err) = server.stop_with("TERM");
    assert!(status.success(), "SIGTERM: {status}: {err}");
    assert!(err.contains("SIGTERM"), "{err}");
    line.clear();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    assert_eq!(line, "clean\n", "Python's view of our close");
    let drawn = out
        .split("connection ")
        .find(|c| c.contains(&python_addr))
        .unwrap_or_else(|| panic!("{python_addr}'s lifecycle not printed: {out}"));
    assert!(drawn.contains("FIN"), "{drawn}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `synack get` against nginx from apt, run in the foreground with a configuration of the
/// test's own: a file over HTTP (IPv4 and IPv6), over HTTPS with TLS 1.3 and with TLS 1.2 only (the
/// certificate checked against a CA the test makes), and an empty file; hashes match and
/// nginx's access log shows our requests.
#[test]
fn get_against_nginx() {
    if !in_namespace("get_against_nginx") {
        return;
    }
    if Command::new("nginx").arg("-v").output().is_err() {
        // .ci/run installs it; elsewhere it is optional.
        assert!(std::env::var_os("CI").is_none(), "nginx is not installed");
        eprintln!("get_against_nginx: skipped: no nginx");
        return;
    }
    prepare_namespace();
    let dir = scratch("nginx");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let file = data_file(&www, "file.bin", 3_000_000);
    let empty = data_file(&www, "empty", 0);
    let path = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_owned();
    // A CA, and a leaf for the kernel's address signed by it.
    ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &path("ca.key"),
            "-out",
            &path("ca.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=synack interop CA",
        ],
    );
    ok(
        "openssl",
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &path("leaf.key"),
            "-out",
            &path("leaf.csr"),
            "-subj",
            "/CN=10.77.0.1",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:10.77.0.1\nbasicConstraints=critical,CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ok(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &path("leaf.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("leaf.pem"),
            "-days",
            "1",
            "-extfile",
            &path("leaf.ext"),
        ],
    );
    // Foreground, one process, everything it writes in the scratch dir.
    let d = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nuser root;\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         \x20   access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/tmp/body;\n\
         \x20   proxy_temp_path {d}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {d}/tmp/scgi;\n\
         \x20   default_type application/octet-stream;\n\
         \x20   ssl_certificate {d}/leaf.pem;\n\
         \x20   ssl_certificate_key {d}/leaf.key;\n\
         \x20   server {{ listen 8080; listen [::]:8080; listen 8443 ssl; ssl_protocols TLSv1.3;\n\
         \x20       root {d}/www; }}\n\
         \x20   server {{ listen 8444 ssl; ssl_protocols TLSv1.2; root {d}/www; }}\n\
         }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let _nginx = Guard(
        Command::new("nginx")
            .args(["-p", &path(""), "-c", &path("nginx.conf"), "-e"])
            .arg(path("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                File::create(dir.join("nginx.stderr")).expect("stderr file"),
            ))
            .spawn()
            .expect("nginx"),
    );
    for port in [8080, 8443, 8444] {
        wait_for_port(port);
    }
    let get = |url: &str, extra: &[&str]| {
        let mut args = vec![
            "get",
            url,
            "--no-color",
            "--tun",
            "synx0",
            "--host-addr",
            "10.77.0.1/24",
            "--addr",
            "10.77.0.2",
            "--host-addr",
            "fd77::1/64",
            "--addr",
            "fd77::2",
        ];
        args.extend_from_slice(extra);
        let out = run(BIN, &args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("CAP_NET_ADMIN") {
            std::process::exit(NO_PRIVILEGE);
        }
        assert!(out.status.success(), "{url}: {stdout}{stderr}");
        stdout
    };
    let want = file_sha256(&file);
    let saved = path("saved");
    let cacert = path("ca.pem");
    for url in [
        "http://10.77.0.1:8080/file.bin",
        "http://[fd77::1]:8080/file.bin",
    ] {
        let out = get(url, &["-o", &saved]);
        assert_eq!(file_sha256(Path::new(&saved)), want, "{url}");
        assert!(
            out.contains(&format!("received 3000000 bytes, sha256 {want}")),
            "{out}"
        );
    }
    for (port, version) in [(8443, "TLS 1.3"), (8444, "TLS 1.2")] {
        let url = format!("https://10.77.0.1:{port}/file.bin");
        let out = get(&url, &["--cacert", &cacert, "-o", &saved]);
        assert_eq!(file_sha256(Path::new(&saved)), want, "{url}");
        assert!(out.contains(&format!("TLS: {version}")), "{out}");
        assert!(out.contains("ClientHello"), "{out}");
        let url = format!("https://10.77.0.1:{port}/empty");
        let out = get(&url, &["--cacert", &cacert]);
        assert!(
            out.contains(&format!("received 0 bytes, sha256 {}", file_sha256(&empty))),
            "{out}"
        );
    }
    // nginx logs a request when it has finished with it, which may be just after our
    // client is done: wait for the six lines a little.
    let deadline = Instant::now() + Duration::from_secs(3);
    let log = loop {
        let log = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
        if log.lines().count() >= 6 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let ours = |from: &str| {
        log.lines()
            .filter(|l| l.starts_with(from) && l.contains(" 200 ") && l.contains("synack/"))
            .count()
    };
    assert_eq!((ours("10.77.0.2 "), ours("fd77::2 ")), (5, 1), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
