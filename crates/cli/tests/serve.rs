//! `synack serve` and `synack get` from the command line, without a network namespace:
//! usage errors, no privilege, and `get --kernel` against the kernel's own loopback.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_synack");

fn synack(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run synack")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    for (args, needle) in [
        (&["serve"][..], "--tun"),
        (
            &["serve", "--tun", "x0", "--host-addr", "10.77.0.1"],
            "ADDR/LEN",
        ),
        (
            &[
                "serve",
                "--tun",
                "x0",
                "--host-addr",
                "10.77.0.1/24",
                "--addr",
                "fd77::2",
            ],
            "family",
        ),
        (
            &[
                "serve",
                "--tun",
                "x0",
                "--host-addr",
                "10.77.0.1/24",
                "--addr",
                "10.77.0.2",
                "--cert",
                "c.pem",
            ],
            "--cert",
        ),
        (
            &[
                "serve",
                "--tun",
                "x0",
                "--host-addr",
                "10.77.0.1/24",
                "--addr",
                "10.77.0.2",
                "--loss",
                "101",
            ],
            "--loss",
        ),
        (&["get", "ftp://10.77.0.1/"], "http://"),
        (&["get", "http://10.77.0.1/"], "--tun"),
        (
            &["get", "http://10.77.0.1/", "--kernel", "--pcap", "x.pcapng"],
            "--pcap",
        ),
        (
            &["get", "http://10.77.0.1/", "--kernel", "--timeout", "0"],
            "--timeout",
        ),
    ] {
        let out = synack(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Without CAP_NET_ADMIN the TUN device cannot be made: one line with a hint, exit 1. As
/// root the test drops to nobody to see it.
#[test]
fn no_privilege_is_one_line_with_a_hint() {
    let args = [
        "serve",
        "--tun",
        "synp0",
        "--host-addr",
        "10.77.0.1/24",
        "--addr",
        "10.77.0.2",
    ];
    let out = if is_root() {
        let run = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(BIN)
            .args(args)
            .output();
        match run {
            Ok(out) => out,
            Err(e) => {
                eprintln!("skipped: cannot run setpriv: {e}");
                return;
            }
        }
    } else {
        synack(&args)
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAP_NET_ADMIN"), "{err}");
}

/// `get --kernel` to a port nobody listens on: the kernel's RST, reported in one line.
#[test]
fn kernel_get_reports_a_refused_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    // Closing the listener leaves a port that answers SYN with RST.
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/");
    let out = synack(&["get", &url, "--kernel"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("synack get: connection refused by 127.0.0.1:{port} (RST)")
    );
}

/// `get --kernel` against a tiny HTTP server on loopback: the body saved, timings printed.
#[test]
fn kernel_get_saves_the_body_and_times_it() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = [0; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let body = b"hello, synack";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).expect("write");
        s.write_all(body).expect("write");
        String::from_utf8_lossy(&got).into_owned()
    });
    let dir = std::env::temp_dir().join(format!("synack-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("body");
    let url = format!("http://127.0.0.1:{port}/x?y=1");
    let out = synack(&["get", &url, "--kernel", "-o", saved.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", stderr(&out));
    assert_eq!(std::fs::read(&saved).unwrap(), b"hello, synack");
    assert!(stdout.contains("HTTP/1.1 200 OK"), "{stdout}");
    assert!(stdout.contains("time_starttransfer"), "{stdout}");
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{port}"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
