//! `synack get URL`: an HTTP(S) client (hyper, rustls) on our stack over a TUN device, with
//! the connection drawn as a ladder and its timings; or on the kernel's TCP (`--kernel`),
//! timed from the outside.

mod fetch;
mod tls;

use std::fmt;
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::Method;
use synack::{Clock, LinkConditions};
use synack_trace::capture::{self, WriteOptions};
use synack_trace::html::{self, HtmlOptions};
use synack_trace::ladder::{self, LadderOptions};
use synack_trace::timings::Timings;
use synack_trace::{Summary, Trace};
use tokio::time::Instant;

use crate::cli::{GetArgs, USAGE_ERROR};
use crate::serve::device::TunSetup;
use crate::serve::print;
use crate::serve::record::{Book, Lifecycle};
use crate::{link, output};
use fetch::{Ask, Fetched};
use tls::Trust;

/// How long the record waits for the connection's last segments after the exchange.
const SETTLE: Duration = Duration::from_secs(3);

/// Fetches the URL; exit 0 when the response was a success, 1 otherwise, 2 for bad options.
pub fn main(args: GetArgs) -> ExitCode {
    let setup = match Setup::new(&args) {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("synack get: {e}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    if matches!(setup.trust, Some(Trust::Nothing)) {
        eprintln!("synack get: --insecure: the server's certificate is NOT verified");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(async {
            match tokio::time::timeout(setup.timeout, run(&setup)).await {
                Ok(result) => result,
                Err(_) => Err(GetError::Other(format!(
                    "no answer within {} s (--timeout)",
                    setup.timeout.as_secs_f64()
                ))),
            }
        }),
        Err(e) => Err(GetError::Other(format!("starting the runtime failed: {e}"))),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("synack get: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The URL and options, checked.
struct Setup {
    https: bool,
    host: String,
    port: u16,
    target: String,
    method: Method,
    data_file: Option<PathBuf>,
    output: Option<PathBuf>,
    /// `None` for plain HTTP.
    trust: Option<Trust>,
    /// `None` with `--kernel`.
    tun: Option<TunSetup>,
    link: LinkConditions,
    pcap: Option<PathBuf>,
    html: Option<PathBuf>,
    json: bool,
    color: bool,
    timeout: Duration,
}

impl Setup {
    fn new(args: &GetArgs) -> Result<Setup, String> {
        let url = Url::parse(&args.url)?;
        let method = Method::from_bytes(args.request.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("-X {:?} is not an HTTP method", args.request))?;
        // As curl: a body makes the default GET a POST.
        let method = if args.data_file.is_some() && method == Method::GET {
            Method::POST
        } else {
            method
        };
        let trust = if url.https {
            Some(Trust::choose(args.cacert.as_deref(), args.insecure)?)
        } else {
            None
        };
        let link = args.link.conditions()?;
        let tun = if args.kernel {
            if args.tun.tun.is_some() || !link.is_perfect() {
                return Err(
                    "--kernel uses the kernel's TCP: leave out --tun and the link flags".into(),
                );
            }
            let ours = [
                ("--pcap", args.pcap.is_some()),
                ("--html", args.html.is_some()),
            ];
            if let Some((flag, _)) = ours.iter().find(|(_, given)| *given) {
                return Err(format!(
                    "{flag} needs our stack's trace: leave out --kernel"
                ));
            }
            None
        } else {
            let mut tun = TunSetup::new(&args.tun).map_err(|e| format!("{e} (or use --kernel)"))?;
            if args.tun.seed.is_none() {
                // A new port and ISN each run: a server still in TIME-WAIT from the last run
                // refuses a SYN that repeats it, and the connection would wait for the RTO.
                tun.seed = std::hash::RandomState::new().hash_one(std::process::id());
            }
            Some(tun)
        };
        if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
            return Err(format!(
                "--timeout {} is out of range: use 0..=86400 s",
                args.timeout
            ));
        }
        Ok(Setup {
            https: url.https,
            host: url.host,
            port: url.port,
            target: url.target,
            method,
            data_file: args.data_file.clone(),
            output: args.output.clone(),
            trust,
            tun,
            link,
            pcap: args.pcap.clone(),
            html: args.html.clone(),
            json: args.json,
            color: output::use_color(args.no_color),
            timeout: Duration::from_secs_f64(args.timeout),
        })
    }

    /// The Host header: the name as given, the port only when not the default.
    fn host_header(&self) -> String {
        let host = match self.host.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => self.host.clone(),
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    fn ask(&self) -> Ask {
        Ask {
            method: self.method.clone(),
            host: self.host_header(),
            target: self.target.clone(),
            data_file: self.data_file.clone(),
            output: self.output.clone(),
        }
    }
}

/// The parts of an http(s) URL that matter here.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    https: bool,
    /// A name, or an IP address (without brackets).
    host: String,
    port: u16,
    /// Path and query, at least "/".
    target: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, String> {
        let bad = |why: &str| format!("{url:?} is not a usable URL: {why}");
        let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(bad("it must start with http:// or https://"));
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let target = target.split('#').next().unwrap_or("");
        let target = match target {
            "" => "/".to_owned(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_owned(),
        };
        if authority.contains('@') {
            return Err(bad("user names and passwords are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| bad("the port is not a number 1..=65535"))?,
            None if https => 443,
            None => 80,
        };
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(Url {
            https,
            host: host.to_owned(),
            port,
            target,
        })
    }
}

/// Why the fetch failed.
#[derive(Debug)]
enum GetError {
    /// The server's side answered the SYN with a RST.
    Refused(SocketAddr),
    Other(String),
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Refused(addr) => write!(f, "connection refused by {addr} (RST)"),
            GetError::Other(message) => f.write_str(message),
        }
    }
}

/// Resolves the URL's host: an address as is, a name through the system's resolver.
fn resolve(setup: &Setup) -> Result<SocketAddr, GetError> {
    if let Ok(ip) = setup.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, setup.port));
    }
    let found = (setup.host.as_str(), setup.port).to_socket_addrs();
    let found =
        found.map_err(|e| GetError::Other(format!("cannot resolve {}: {e}", setup.host)))?;
    let wanted = |a: &SocketAddr| match &setup.tun {
        // Over the TUN device, only the families our stack has addresses in.
        Some(tun) => tun.addrs.iter().any(|ours| ours.is_ipv4() == a.is_ipv4()),
        None => true,
    };
    let mut found: Vec<SocketAddr> = found.collect();
    found.retain(wanted);
    found
        .first()
        .copied()
        .ok_or_else(|| GetError::Other(format!("{} has no usable address", setup.host)))
}

fn connector(
    setup: &Setup,
    book: &Book,
) -> Result<
    Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    GetError,
> {
    let Some(trust) = &setup.trust else {
        return Ok(None);
    };
    let connector = tls::connector(trust, book).map_err(GetError::Other)?;
    let name = tls::server_name(&setup.host).map_err(GetError::Other)?;
    Ok(Some((connector, name)))
}

/// Connects, fetches and prints; `Ok(false)` when the server answered but not with success.
async fn run(setup: &Setup) -> Result<bool, GetError> {
    let server = resolve(setup)?;
    let clock = Clock::new();
    let book = Book::new(clock);
    let tls = connector(setup, &book)?;
    let ask = setup.ask();
    let Some(tun) = &setup.tun else {
        return kernel(setup, server, tls, &ask).await;
    };
    let epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    let epoch_unix_ns = epoch.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let (net, link_stats) = tun
        .start(setup.link, &book, clock)
        .map_err(|e| GetError::Other(e.to_string()))?;
    let connected = net.connect(server).await;
    let outcome = match connected {
        Ok(stream) => fetch::exchange(stream, tls, &ask)
            .await
            .map_err(|e| GetError::Other(e.to_string())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(GetError::Refused(server)),
        Err(e) => Err(GetError::Other(format!(
            "connecting to {server} failed: {e}"
        ))),
    };
    // Wait for the connection's end (TIME-WAIT entered, or the RST), then take its record.
    let deadline = Instant::now() + SETTLE;
    let mut finished = Vec::new();
    while finished.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        finished = book.sweep(false);
    }
    finished.extend(book.sweep(true));
    let (recorder, _) = book.archive();
    drop(net);
    let mut trace = Trace::default();
    for f in &finished {
        trace
            .connections
            .extend(f.trace.connections.iter().cloned());
    }
    if let Some(first) = trace
        .connections
        .iter()
        .filter_map(|c| c.segments.first())
        .map(|s| s.t_ns)
        .min()
    {
        trace.start_ns = first;
    }
    let fetched = outcome.as_ref().ok();
    let summary = fetched.map(|f| summary(f, &trace));
    let title = format!(
        "synack get {} {}://{}{} over synack's TCP/IP on {}",
        setup.method,
        if setup.https { "https" } else { "http" },
        setup.host_header(),
        setup.target,
        tun.config.name
    );
    print_trace(setup, &title, &trace, &finished, summary.as_ref(), fetched)
        .map_err(|e| GetError::Other(format!("writing the output failed: {e}")))?;
    if let Some(effects) = link_stats.as_ref().and_then(link::effects_at_our_end) {
        eprintln!("synack get: link: {effects}");
    }
    if let Some(path) = &setup.pcap {
        let options = WriteOptions {
            epoch_unix_ns,
            comment: Some("synack get".to_owned()),
        };
        write_file(path, |out| capture::write_pcapng(out, &recorder, &options))?;
    }
    if let Some(path) = &setup.html {
        let options = HtmlOptions {
            title,
            ..HtmlOptions::default()
        };
        let page = html::render(&trace, summary.as_ref(), &options);
        write_file(path, |out| out.write_all(page.as_bytes()))?;
    }
    let fetched = outcome?;
    Ok(fetched.success)
}

/// `--kernel`: the same exchange over the kernel's TCP, timed around each step.
async fn kernel(
    setup: &Setup,
    server: SocketAddr,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    ask: &Ask,
) -> Result<bool, GetError> {
    let start = Instant::now();
    let stream = match tokio::net::TcpStream::connect(server).await {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(GetError::Refused(server));
        }
        Err(e) => {
            return Err(GetError::Other(format!(
                "connecting to {server} failed: {e}"
            )));
        }
    };
    let connected = Instant::now();
    let fetched = fetch::exchange(stream, tls, ask)
        .await
        .map_err(|e| GetError::Other(e.to_string()))?;
    let ns = |t: Option<Instant>| t.map(|t| t.duration_since(start).as_nanos() as u64);
    let connect_ns = connected.duration_since(start).as_nanos() as u64;
    let appconnect_ns = ns(fetched.tls_done);
    let timings = Timings {
        connect_ns,
        appconnect_ns,
        pretransfer_ns: ns(fetched.request_sent).unwrap_or(connect_ns),
        starttransfer_ns: ns(fetched.first_byte).unwrap_or(connect_ns),
        total_ns: ns(fetched.done).unwrap_or(connect_ns),
    };
    let mut out = io::stdout().lock();
    let write = |out: &mut io::StdoutLock<'_>| -> io::Result<()> {
        if setup.json {
            let fields = timings.to_json();
            let fields = fields.strip_prefix('{').unwrap_or(&fields);
            writeln!(out, "{{\"type\":\"timings\",\"conn\":1,{fields}")?;
            return Ok(());
        }
        let (b, r) = output::bold(setup.color);
        writeln!(
            out,
            "{b}synack get {} {} over the kernel's TCP{r} (timed by us: no ladder)",
            setup.method, server
        )?;
        result_lines(out, &fetched)?;
        writeln!(out)?;
        writeln!(out, "{b}timings{r} (curl -w names, seconds from connect())")?;
        out.write_all(timings.curl_lines().as_bytes())?;
        writeln!(out)?;
        out.write_all(timings.httpstat(setup.color).as_bytes())
    };
    write(&mut out).map_err(|e| GetError::Other(format!("writing the output failed: {e}")))?;
    Ok(fetched.success)
}

/// The summary under the ladder. `verified` here means the server answered with success;
/// with no upload, the hash shown is the body's (the ladder shows the "sent" one).
fn summary(f: &Fetched, trace: &Trace) -> Summary {
    let shown = if f.upload_sha256.is_empty() {
        &f.sha256
    } else {
        &f.upload_sha256
    };
    Summary {
        requests: 1,
        bytes_down: f.bytes_down,
        bytes_up: f.bytes_up,
        sha256_sent: shown.clone(),
        sha256_received: f.sha256.clone(),
        verified: f.success,
        segments: trace.segments() as u64,
        retransmissions: trace.retransmissions() as u64,
    }
}

/// The status, sizes and hashes, TLS as negotiated, and how the close went.
fn result_lines(out: &mut impl Write, f: &Fetched) -> io::Result<()> {
    writeln!(out, "{}", f.status_line)?;
    if f.bytes_up > 0 || !f.upload_sha256.is_empty() {
        writeln!(out, "sent {} bytes, sha256 {}", f.bytes_up, f.upload_sha256)?;
    }
    writeln!(out, "received {} bytes, sha256 {}", f.bytes_down, f.sha256)?;
    if let Some(tls) = &f.tls {
        let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        writeln!(
            out,
            "TLS: {} · {} · key exchange {}",
            field(&tls.version),
            field(&tls.cipher_suite),
            field(&tls.key_exchange)
        )?;
    }
    if let Some(note) = &f.close_note {
        writeln!(out, "close: {note}")?;
    }
    Ok(())
}

/// Prints the ladder (or JSON lines, each connection's `connection` line first) with the
/// result and timings; `recorded` says what the record left out.
fn print_trace(
    setup: &Setup,
    title: &str,
    trace: &Trace,
    recorded: &[Arc<Lifecycle>],
    summary: Option<&Summary>,
    fetched: Option<&Fetched>,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if setup.json {
        for f in recorded {
            writeln!(out, "{}", print::connection_line(f))?;
        }
        output::write_json(trace, summary, &mut out)?;
        return out.flush();
    }
    let (b, r) = output::bold(setup.color);
    writeln!(out, "{b}{title}{r}")?;
    let seed = setup.tun.as_ref().map_or(String::new(), |t| {
        format!(" (seed {}: --seed replays the choices)", t.seed)
    });
    writeln!(out, "link: TUN, {}{seed}", link::describe(&setup.link))?;
    for f in recorded.iter().filter(|f| f.elided.total_segments() > 0) {
        writeln!(out, "{}", print::heading(f))?;
    }
    writeln!(out)?;
    let options = LadderOptions {
        color: setup.color,
        width: output::width(),
        ..LadderOptions::default()
    };
    let drawing = ladder::render(trace, summary, &options);
    out.write_all(drawing.as_bytes())?;
    if !drawing.ends_with('\n') {
        writeln!(out)?;
    }
    if let Some(f) = fetched {
        writeln!(out)?;
        result_lines(&mut out, f)?;
    }
    let timings = output::timings_text(trace, setup.color);
    if !timings.is_empty() {
        writeln!(out)?;
        out.write_all(timings.as_bytes())?;
    }
    out.flush()
}

fn write_file(
    path: &std::path::Path,
    body: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> io::Result<()>,
) -> Result<(), GetError> {
    let written = std::fs::File::create(path).and_then(|file| {
        let mut out = io::BufWriter::new(file);
        body(&mut out)?;
        out.flush()
    });
    written.map_err(|e| GetError::Other(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_target() {
        let u = Url::parse("https://[fd77::1]:8443/a?b=1#frag").unwrap();
        assert_eq!(
            u,
            Url {
                https: true,
                host: "fd77::1".into(),
                port: 8443,
                target: "/a?b=1".into()
            }
        );
        let u = Url::parse("http://10.77.0.1").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/"));
        assert_eq!(Url::parse("https://example.test?x").unwrap().target, "/?x");
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert!(Url::parse("http://h:99999/").is_err());
        assert!(Url::parse("http://u:p@h/").is_err());
    }
}
