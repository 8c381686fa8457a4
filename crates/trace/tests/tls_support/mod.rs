//! A real TLS exchange over synack's own stack, recorded: a tokio-rustls client and server
//! on two `Net`s joined by a `MemoryLink`, every packet tapped into a `Recorder`, the
//! client's secrets collected as an NSS key log.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use synack::{Clock, MemoryLink, MemoryPort, Net, Tap};
use synack_core::tcp::State;
use synack_core::{Event, StackConfig};
use synack_trace::{Recorder, Trace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What to run.
#[derive(Clone, Copy)]
pub struct Exchange {
    pub version: &'static SupportedProtocolVersion,
    /// Give the analysis the key log.
    pub keys: bool,
    pub mtu: usize,
    /// Response body bytes.
    pub body: usize,
    /// Extra names in the certificate, to make it longer.
    pub extra_names: usize,
    /// The server accepts only X25519MLKEM768, which the client offers without a key
    /// share: a HelloRetryRequest follows.
    pub hello_retry: bool,
    /// The client updates its keys (TLS 1.3 KeyUpdate) after reading the response.
    pub key_update: bool,
}

impl Exchange {
    pub fn tls13() -> Exchange {
        Exchange {
            version: &rustls::version::TLS13,
            keys: true,
            mtu: 1500,
            body: 100,
            extra_names: 0,
            hello_retry: false,
            key_update: false,
        }
    }

    pub fn tls12() -> Exchange {
        Exchange {
            version: &rustls::version::TLS12,
            ..Exchange::tls13()
        }
    }
}

pub const SERVER: &str = "10.0.0.2:443";
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: synack.test\r\n\r\n";

/// Runs the exchange on a fresh single-threaded runtime and analyzes what was recorded.
pub fn run(ex: Exchange) -> Trace {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let within = tokio::time::timeout(Duration::from_secs(60), exchange(ex));
        within.await.expect("the TLS exchange finished in time")
    })
}

/// Secrets as NSS key log lines.
#[derive(Debug, Default)]
struct Collect(Mutex<String>);

impl rustls::KeyLog for Collect {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| {
            b.iter().fold(String::new(), |mut s, x| {
                let _ = write!(s, "{x:02x}");
                s
            })
        };
        let mut text = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(text, "{label} {} {}", hex(client_random), hex(secret));
    }
}

/// A certificate whose size does not change between runs: Ed25519 signatures have one
/// length, and the serial number is fixed.
fn certificate(extra_names: usize) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut names = vec!["synack.test".to_owned()];
    names.extend((0..extra_names).map(|i| format!("host-{i:03}.synack.test")));
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from(0x5eed_u64));
    let cert = params.self_signed(&key).unwrap();
    let der = PrivatePkcs8KeyDer::from(key.serialize_der());
    (cert.der().clone(), PrivateKeyDer::Pkcs8(der))
}

fn configs(ex: Exchange, log: Arc<Collect>) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (cert, key) = certificate(ex.extra_names);
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[ex.version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    client.key_log = log;
    let mut server_provider = (*provider).clone();
    if ex.hello_retry {
        server_provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768];
    }
    let mut server = ServerConfig::builder_with_provider(Arc::new(server_provider))
        .with_protocol_versions(&[ex.version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    (Arc::new(client), Arc::new(server))
}

type Shared = Arc<Mutex<Recorder>>;

fn tap(rec: &Shared, port: MemoryPort, clock: Clock) -> Tap<MemoryPort> {
    let rec = rec.clone();
    Tap::new(port, clock, move |t, packet| {
        rec.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .packet(t.as_nanos(), packet)
    })
}

/// Records `net`'s state changes; the watch follows its connection's state.
fn states(rec: &Shared, net: &Net) -> watch::Receiver<Option<State>> {
    let (tx, rx) = watch::channel(None);
    let rec = rec.clone();
    net.set_event_sink(move |event| {
        if let Event::StateChanged {
            at,
            local,
            remote,
            from,
            to,
            ..
        } = event
        {
            let mut r = rec.lock().unwrap_or_else(PoisonError::into_inner);
            r.state_change(at.as_nanos(), local, remote, from, to);
            tx.send_replace(Some(to));
        }
    });
    rx
}

async fn closed(states: &mut watch::Receiver<Option<State>>) {
    let done = |s: &Option<State>| matches!(s, Some(State::TimeWait | State::Closed));
    let _ = states.wait_for(done).await;
}

async fn exchange(ex: Exchange) -> Trace {
    let rec: Shared = Arc::default();
    let clock = Clock::new();
    let (a, b) = MemoryLink::pair(ex.mtu);
    let server_addr: SocketAddr = SERVER.parse().unwrap();
    let config = |ip: [u8; 4], seed| StackConfig {
        addrs: vec![ip.into()],
        mtu: ex.mtu,
        seed,
        ..StackConfig::default()
    };
    let client = Net::new(config([10, 0, 0, 1], 1), tap(&rec, a, clock), clock);
    let server = Net::new(config([10, 0, 0, 2], 2), tap(&rec, b, clock), clock);
    let mut client_states = states(&rec, &client);
    let mut server_states = states(&rec, &server);
    let log = Arc::new(Collect::default());
    let (client_config, server_config) = configs(ex, log.clone());

    let listener = server.listen(server_addr).unwrap();
    let body = ex.body;
    let serving = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut tls = TlsAcceptor::from(server_config)
            .accept(stream)
            .await
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tls.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {body}\r\n\r\n").into_bytes();
        response.extend((0..body).map(|i| (i % 251) as u8));
        tls.write_all(&response).await.unwrap();
        tls.flush().await.unwrap();
        // Wait for the client's close_notify, then close too.
        while tls.read(&mut buf).await.unwrap() > 0 {}
        tls.shutdown().await.unwrap();
    });

    let stream = client.connect(server_addr).await.unwrap();
    let name = ServerName::try_from("synack.test").unwrap();
    let mut tls = TlsConnector::from(client_config)
        .connect(name, stream)
        .await
        .unwrap();
    tls.write_all(REQUEST).await.unwrap();
    tls.flush().await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 16384];
    let head_len = loop {
        if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tls.read(&mut buf).await.unwrap();
        assert!(n > 0, "the response ended early");
        response.extend_from_slice(&buf[..n]);
    };
    while response.len() < head_len + body {
        let n = tls.read(&mut buf).await.unwrap();
        assert!(n > 0, "the response body ended early");
        response.extend_from_slice(&buf[..n]);
    }
    if ex.key_update {
        tls.get_mut().1.refresh_traffic_keys().unwrap();
    }
    tls.shutdown().await.unwrap();
    while tls.read(&mut buf).await.unwrap() > 0 {}
    serving.await.unwrap();
    tokio::join!(closed(&mut client_states), closed(&mut server_states));

    let mut r = rec.lock().unwrap_or_else(PoisonError::into_inner);
    if ex.keys {
        let text = log.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        r.key_log(&text);
    }
    r.finish()
}
