//! What MCP costs, for `scripts/bench`: `purser mcp` started as an MCP client starts it (a child process
//! speaking newline-delimited JSON-RPC on stdin/stdout), against a running `purser sandbox`.
//!
//! 1. `get_budget` over stdio: each call's round trip, from writing the request to reading its answer;
//! 2. a paid `fetch` against the same call through the proxy, paired call by call: each path's wall time less
//!    the time the API, the wallet and a person took (from the `Server-Timing` Purser sends on the API's
//!    answer), so what is left is Purser's own share; the median of the pairs' differences is what MCP adds.
//!
//! Usage: bench_mcp PURSER_BIN PROXY_URL PAID_URL [CALLS=200]
//!   PROXY_URL  the agent's `http://NAME:KEY@127.0.0.1:PORT`, as `purser env` prints it
//!   PAID_URL   an http:// URL whose every call is paid (the sandbox's `/mpp`)
//! Prints `get_budget p50_us=… p99_us=…` and `fetch own_mcp_p50_us=… own_proxy_p50_us=… adds_p50_us=…`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct Mcp {
    _child: Child,
    stdin: ChildStdin,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Mcp {
    async fn start(purser: &str, proxy_url: &str) -> Mcp {
        let mut child = Command::new(purser)
            .args(["mcp"])
            .env("http_proxy", proxy_url)
            .env("PURSER_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("purser mcp starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut mcp = Mcp { _child: child, stdin, lines, next_id: 0 };
        let init = json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}});
        mcp.call("initialize", init).await;
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        mcp
    }

    async fn send(&mut self, message: &Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Sends one request and reads lines until its answer.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        loop {
            let line = self.lines.next_line().await.unwrap().expect("purser mcp answers");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    async fn tool(&mut self, name: &str, arguments: Value) -> Value {
        let result = self.call("tools/call", json!({"name": name, "arguments": arguments})).await;
        result["structuredContent"].clone()
    }
}

/// The time `Server-Timing` gives to the API, the wallet and a person, in µs.
fn outside_us(server_timing: &str) -> f64 {
    server_timing
        .split(',')
        .filter(|part| ["upstream", "wallet", "approval"].contains(&part.trim().split(';').next().unwrap_or_default()))
        .filter_map(|part| part.split(';').find_map(|p| p.trim().strip_prefix("dur=")?.parse::<f64>().ok()))
        .sum::<f64>()
        * 1000.0
}

/// One paid call through the proxy on `conn`: wall time and the `Server-Timing` it carried.
async fn proxied(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    url: &str,
    auth: &str,
) -> (Duration, String) {
    let req = hyper::Request::get(url).header("proxy-authorization", auth).body(Empty::new()).unwrap();
    let start = Instant::now();
    let resp = sender.send_request(req).await.unwrap();
    let timing = resp.headers().get("server-timing").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(resp.status(), 200, "a paid call through the proxy");
    resp.into_body().collect().await.unwrap();
    (start.elapsed(), timing)
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, purser, proxy_url, paid_url, rest @ ..] = args.as_slice() else {
        panic!("usage: bench_mcp PURSER_BIN PROXY_URL PAID_URL [CALLS]");
    };
    let calls: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(200);
    let mut mcp = Mcp::start(purser, proxy_url).await;

    // Warm: the first calls read the API's pricing documents and open connections.
    for _ in 0..5 {
        mcp.tool("get_budget", json!({})).await;
    }
    let mut budget_us = Vec::new();
    for _ in 0..calls {
        let start = Instant::now();
        let answer = mcp.tool("get_budget", json!({})).await;
        budget_us.push(start.elapsed().as_secs_f64() * 1e6);
        assert!(answer["agent"].is_string(), "{answer}");
    }
    println!("get_budget p50_us={:.0} p99_us={:.0}", percentile(budget_us.clone(), 0.5), percentile(budget_us, 0.99));

    let url = url::Url::parse(proxy_url).unwrap();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", url.username(), url.password().unwrap()))
    );
    let stream = TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    proxied(&mut sender, paid_url, &auth).await;
    mcp.tool("fetch", json!({"url": paid_url})).await;
    let (mut own_mcp, mut own_proxy, mut adds) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..calls / 2 {
        let (wall, timing) = proxied(&mut sender, paid_url, &auth).await;
        let proxy_own = wall.as_secs_f64() * 1e6 - outside_us(&timing);
        let start = Instant::now();
        let answer = mcp.tool("fetch", json!({"url": paid_url})).await;
        let wall = start.elapsed().as_secs_f64() * 1e6;
        assert_eq!(answer["payment"]["status"], "settled", "a paid fetch: {answer}");
        let mcp_own = wall - outside_us(answer["headers"]["server-timing"].as_str().unwrap_or_default());
        own_mcp.push(mcp_own);
        own_proxy.push(proxy_own);
        adds.push(mcp_own - proxy_own);
    }
    println!(
        "fetch own_mcp_p50_us={:.0} own_proxy_p50_us={:.0} adds_p50_us={:.0}",
        percentile(own_mcp, 0.5),
        percentile(own_proxy, 0.5),
        percentile(adds, 0.5)
    );
}
