//! The load generator `scripts/bench` uses where wrk cannot go: HTTPS through a forward proxy (`CONNECT`,
//! then TLS with the proxy's minted certificate), many agents each with its own key, connections held open
//! waiting for approval while the load runs, and Purser's own share of paid calls (its `Server-Timing`).
//!
//! Usage: bench_client [OPTIONS] URL
//!   -c N             connections, each sending requests one after another (default 10)
//!   -d SECONDS       how long (default 5)
//!   -n REQUESTS      stop after this many requests in all instead (sequential paid calls, say)
//!   --proxy H:P      through a forward proxy: absolute-form for http://, CONNECT for https://
//!   --agents FILE    lines `name:key`; connection i authenticates as line i mod lines
//!   --header 'N: V'  an extra header on every request (repeatable)
//!   --ca PEM         trusted for https besides the system roots
//!   --hold N --hold-url URL   N more connections that each send one request to URL and wait for its answer
//!
//! Prints one line: `rps=… p50_us=… p99_us=… errors=… requests=…`, then `own_p50_us=… own_p99_us=…` when
//! answers carried `Server-Timing: purser;dur=…`, then `held_waiting=… held_answered=…` with `--hold`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Clone)]
struct Options {
    url: http::Uri,
    proxy: Option<String>,
    agents: Vec<String>,
    headers: Vec<(String, String)>,
    tls: Arc<rustls::ClientConfig>,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    own_us: Vec<u64>,
    errors: usize,
}

#[allow(clippy::too_many_lines)] // one command line, read top to bottom
fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let (mut connections, mut seconds, mut limit) = (10usize, 5u64, None::<usize>);
    let (mut proxy, mut agents_file, mut ca, mut hold, mut hold_url) = (None, None, None, 0usize, None);
    let mut headers = Vec::new();
    let mut url = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "-c" => connections = value().parse().expect("-c N"),
            "-d" => seconds = value().parse().expect("-d SECONDS"),
            "-n" => limit = Some(value().parse().expect("-n REQUESTS")),
            "--proxy" => proxy = Some(value()),
            "--agents" => agents_file = Some(value()),
            "--ca" => ca = Some(value()),
            "--hold" => hold = value().parse().expect("--hold N"),
            "--hold-url" => hold_url = Some(value().parse::<http::Uri>().expect("--hold-url URL")),
            "--header" => {
                let v = value();
                let (name, val) = v.split_once(':').expect("--header 'Name: value'");
                headers.push((name.trim().to_string(), val.trim().to_string()));
            }
            _ => url = Some(arg.parse::<http::Uri>().expect("URL")),
        }
    }
    let url = url.expect("usage: bench_client [OPTIONS] URL");
    let agents = agents_file
        .map(|f| std::fs::read_to_string(f).expect("agents file").lines().map(str::to_string).collect())
        .unwrap_or_default();
    let roots = purser::http::client::roots(ca.as_deref().map(std::path::Path::new), &[]).expect("the CA file");
    let mut tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let options = Options { url, proxy, agents, headers, tls: Arc::new(tls) };

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let held_answered = Arc::new(AtomicUsize::new(0));
        if let Some(hold_url) = hold_url {
            let mut opened = 0;
            for i in 0..hold {
                let options = Options { url: hold_url.clone(), ..options.clone() };
                let answered = held_answered.clone();
                let Ok(mut sender) = open(&options, connections + i).await else { continue };
                opened += 1;
                tokio::spawn(async move {
                    let _ = sender.send_request(request(&options, connections + i)).await;
                    answered.fetch_add(1, Ordering::SeqCst);
                });
            }
            // Every held request is on its way before the load starts.
            tokio::time::sleep(Duration::from_millis(500)).await;
            eprintln!("holding {opened} connections");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|i| {
                let (options, stop, issued) = (options.clone(), stop.clone(), issued.clone());
                tokio::spawn(async move { load(options, i, stop, issued, limit).await })
            })
            .collect();
        if limit.is_none() {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::SeqCst);
        }
        let mut tally = Tally::default();
        for task in tasks {
            let t = task.await.unwrap();
            tally.latencies_us.extend(t.latencies_us);
            tally.own_us.extend(t.own_us);
            tally.errors += t.errors;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let requests = tally.latencies_us.len();
        print!(
            "rps={:.0} p50_us={} p99_us={} errors={} requests={requests}",
            requests as f64 / elapsed,
            percentile(&mut tally.latencies_us, 50.0),
            percentile(&mut tally.latencies_us, 99.0),
            tally.errors,
        );
        if !tally.own_us.is_empty() {
            print!(
                " own_p50_us={} own_p99_us={}",
                percentile(&mut tally.own_us, 50.0),
                percentile(&mut tally.own_us, 99.0)
            );
        }
        if hold > 0 {
            let answered = held_answered.load(Ordering::SeqCst);
            print!(" held_waiting={} held_answered={answered}", hold.saturating_sub(answered));
        }
        println!();
    });
}

/// One connection's requests, one after another, until told to stop; reconnects after an error.
async fn load(
    options: Options,
    index: usize,
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicUsize>,
    limit: Option<usize>,
) -> Tally {
    let mut tally = Tally::default();
    let mut sender = None;
    while !stop.load(Ordering::Relaxed) {
        if limit.is_some_and(|l| issued.fetch_add(1, Ordering::SeqCst) >= l) {
            break;
        }
        if sender.is_none() {
            match open(&options, index).await {
                Ok(s) => sender = Some(s),
                Err(_) => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let s = sender.as_mut().unwrap();
        let start = Instant::now();
        match s.send_request(request(&options, index)).await {
            Ok(resp) => {
                let own = server_timing_us(resp.headers());
                let ok = resp.status().is_success();
                let body = resp.into_body().collect().await;
                tally.latencies_us.push(start.elapsed().as_micros() as u64);
                if let Some(own) = own {
                    tally.own_us.push(own);
                }
                if !ok || body.is_err() {
                    tally.errors += 1;
                    if body.is_err() {
                        sender = None;
                    }
                }
            }
            Err(_) => {
                tally.errors += 1;
                sender = None;
            }
        }
    }
    tally
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// A connection to the URL's host: direct, to the proxy, or through a `CONNECT` tunnel; TLS for https.
async fn open(options: &Options, index: usize) -> std::io::Result<Sender> {
    let url = &options.url;
    let https = url.scheme_str() == Some("https");
    let authority = url.authority().expect("an absolute URL").clone();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let target = format!("{}:{port}", authority.host());
    let mut tcp = TcpStream::connect(options.proxy.as_deref().unwrap_or(&target)).await?;
    tcp.set_nodelay(true)?;
    if https && options.proxy.is_some() {
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(auth) = basic(options, index) {
            head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if tcp.read(&mut byte).await? == 0 {
                return Err(std::io::Error::other("the proxy closed the CONNECT"));
            }
            answer.push(byte[0]);
        }
        if !answer.starts_with(b"HTTP/1.1 200") && !answer.starts_with(b"HTTP/1.0 200") {
            return Err(std::io::Error::other(String::from_utf8_lossy(&answer).into_owned()));
        }
    }
    let io: Box<dyn Io> = if https {
        let name =
            rustls::pki_types::ServerName::try_from(authority.host().to_string()).map_err(std::io::Error::other)?;
        Box::new(tokio_rustls::TlsConnector::from(options.tls.clone()).connect(name, tcp).await?)
    } else {
        Box::new(tcp)
    };
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(sender)
}

fn request(options: &Options, index: usize) -> Request<Empty<Bytes>> {
    let url = &options.url;
    let absolute = options.proxy.is_some() && url.scheme_str() != Some("https");
    let path = url.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = Request::get(if absolute { url.to_string() } else { path.to_string() })
        .header(http::header::HOST, url.authority().unwrap().as_str());
    if let Some(auth) = basic(options, index) {
        req = req.header(http::header::PROXY_AUTHORIZATION, auth);
    }
    for (name, value) in &options.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    req.body(Empty::new()).unwrap()
}

fn basic(options: &Options, index: usize) -> Option<String> {
    let line = options.agents.get(index % options.agents.len().max(1))?;
    Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(line)))
}

/// `Server-Timing: purser;dur=1.25, …` in µs.
fn server_timing_us(headers: &http::HeaderMap) -> Option<u64> {
    let value = headers.get("server-timing")?.to_str().ok()?;
    let entry = value.split(',').map(str::trim).find(|e| e.starts_with("purser;"))?;
    let dur = entry.split(';').find_map(|p| p.trim().strip_prefix("dur="))?;
    Some((dur.parse::<f64>().ok()? * 1000.0).round() as u64)
}

fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * p / 100.0).round() as usize]
}
