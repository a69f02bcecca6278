//! MCP clients written elsewhere drive Purser's MCP server over real sockets with the sandbox wallet: the
//! Python MCP SDK's client over stdio (`purser mcp` started with the proxy settings `purser run` gives an
//! agent) and over Streamable HTTP (`/_purser/mcp`), and the MCP Inspector's CLI. Each lists the tools and
//! calls `get_budget`, `quote`, a paid `fetch` (one settled ledger row, as for a proxied call), an allowance
//! the person approves, and a `fetch` refused by policy; bad arguments are JSON-RPC errors; one agent cannot
//! read another's payments or allowances; a wrong key is refused.
//!
//! The clients come from `scripts/deps test` (the Python venv and `tests/clients/node_modules`).

use std::process::Stdio;
use std::time::Duration;

use http::Method;
use purser::policy::allowance::AllowanceState;
use purser::proxy::control;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::clients::{clients_dir, python};
use crate::harness::{Harness, Setup, collect, send};

/// Paid at once up to 10 sats, asked up to 100, refused above: `/joke` (1 sat) is paid, `/fortune` (21) needs
/// the person or an allowance, `/premium` (250) is refused by policy.
async fn harness() -> Harness {
    Harness::start(Setup { auto_sats: 10, ask_sats: 100, ..Setup::default() }).await
}

/// The agent's proxy settings as `purser run` and `purser env` set them.
fn agent_env(h: &Harness) -> Vec<(String, String)> {
    purser::agent_env::AgentEnv::new(h.dir.path(), h.proxy_addr, &h.agent, &h.key).unwrap().vars()
}

fn mcp_url(h: &Harness) -> String {
    format!("http://{}/_purser/mcp", h.proxy_addr)
}

/// Runs `program args` with `env` and `stdin`; what it printed on stdout, after asserting it succeeded.
async fn run(program: &std::path::Path, args: &[String], env: &[(String, String)], stdin: &str) -> String {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).current_dir(clients_dir()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env_remove("NO_PROXY").env_remove("no_proxy").env_remove("HTTP_PROXY").env_remove("http_proxy");
    cmd.envs(env.iter().map(|(k, v)| (k, v))).kill_on_drop(true);
    let mut child =
        cmd.spawn().unwrap_or_else(|e| panic!("cannot run {} (scripts/deps test installs it): {e}", program.display()));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the client finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{} failed: {stdout}\n{}", program.display(), String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The person approves the agent's first allowance request as soon as it comes, from the control endpoint.
fn approve_when_asked(h: &Harness) -> tokio::task::JoinHandle<i64> {
    let (ledger, control_path, agent) = (h.ledger.clone(), h.control.clone(), h.agent.clone());
    tokio::spawn(async move {
        for _ in 0..1500 {
            let open = ledger.allowances(Some(&agent), true, 10).await.unwrap();
            if let Some(a) = open.iter().find(|a| a.state == AllowanceState::Requested) {
                let path = format!("allowances/{}/approve", a.id);
                control::call(&control_path, Method::POST, &path, Some(json!({}))).await.unwrap();
                return a.id;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the agent never asked for an allowance");
    })
}

/// The calls every client makes, in one session: budget, quote, a paid fetch, an allowance (waiting for the
/// person) spent and closed, a fetch refused by policy, the agent's payments, and two bad calls.
fn scenario(h: &Harness) -> Value {
    json!([
        {"tool": "get_budget"},
        {"tool": "quote", "args": {"calls": [{"url": h.demo("/joke"), "count": 3}]}},
        {"tool": "fetch", "args": {"url": h.demo("/joke")}},
        {"tool": "request_allowance", "args": {"purpose": "read two fortunes", "max_sats": 60, "wait_secs": 30}},
        {"tool": "fetch", "args": {"url": h.demo("/fortune"), "allowance": 1, "reason": "the second fortune"}},
        {"tool": "close_allowance", "args": {"id": 1}},
        {"tool": "fetch", "args": {"url": h.demo("/premium")}},
        {"tool": "list_payments", "args": {"limit": 10}},
        {"tool": "allowance_status", "args": {"id": 99}},
        {"tool": "fetch", "args": {"url": "ftp://example.com/file"}},
    ])
}

/// What the Python driver printed for `scenario`, checked against the ledger.
async fn check_scenario(h: &Harness, out: &Value) {
    let names: Vec<&str> = out["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for tool in
        ["get_budget", "quote", "request_allowance", "allowance_status", "close_allowance", "fetch", "list_payments"]
    {
        assert!(names.contains(&tool), "{tool} is listed: {names:?}");
    }
    assert!(out["tools"].as_array().unwrap().iter().all(|t| t["has_output_schema"] == true), "{out}");
    let calls = out["calls"].as_array().unwrap();
    let result = |i: usize| &calls[i]["structured"];

    let budget = result(0);
    assert_eq!(budget["agent"], h.agent.as_str());
    assert_eq!(budget["thresholds"][0]["auto_approve_up_to_msat"], 10_000, "{budget}");
    assert_eq!(budget["paused"], false);

    let quote = result(1);
    assert_eq!(
        (quote["total"]["expected_msat"].as_u64(), quote["paid"].as_bool()),
        (Some(3_000), Some(false)),
        "{quote}"
    );
    assert_eq!(quote["calls"][0]["policy"]["decision"], "pay");

    let joke = result(2);
    assert_eq!(joke["status"], 200, "{joke}");
    assert!(joke["body"].as_str().unwrap().contains("micro-manager"), "{joke}");
    assert_eq!(
        (joke["payment"]["status"].as_str(), joke["payment"]["amount_msat"].as_i64()),
        (Some("settled"), Some(1_000))
    );
    assert_eq!(joke["payment"]["dialect"], "l402");

    let allowance = result(3);
    assert_eq!((allowance["id"].as_i64(), allowance["state"].as_str()), (Some(1), Some("active")), "{allowance}");
    let fortune = result(4);
    assert_eq!(fortune["status"], 200, "{fortune}");
    assert_eq!(
        (fortune["payment"]["allowance_id"].as_i64(), fortune["payment"]["status"].as_str()),
        (Some(1), Some("settled"))
    );
    let closed = result(5);
    assert_eq!(
        (closed["state"].as_str(), closed["used_msat"].as_u64().map(|m| m >= 21_000)),
        (Some("closed"), Some(true))
    );

    let premium = result(6);
    assert_eq!(premium["status"], 402, "{premium}");
    assert_eq!(premium["problem"]["reason"], "over_threshold_denied", "{premium}");
    assert_eq!(premium["payment"]["status"], "refused");

    let listed: Vec<(String, String)> = result(7)["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [("premium", "refused"), ("fortune", "settled"), ("joke", "settled")];
    assert_eq!(listed, expected.map(|(a, b)| (a.to_string(), b.to_string())));

    // Bad arguments: JSON-RPC "invalid params" saying what is wrong; nothing paid.
    assert_eq!(calls[8]["error"]["code"], -32602, "{}", calls[8]);
    assert!(calls[8]["error"]["message"].as_str().unwrap().contains("no allowance #99"));
    assert_eq!(calls[9]["error"]["code"], -32602, "{}", calls[9]);
    assert!(calls[9]["error"]["message"].as_str().unwrap().contains("not an http"), "{}", calls[9]);

    // The ledger: the same rows proxied calls write, under this agent.
    let rows = h.rows().await;
    let summary: Vec<(&str, &str, &str)> =
        rows.iter().map(|r| (r.agent.as_str(), r.path.as_str(), r.status.as_str())).collect();
    let agent = h.agent.as_str();
    assert_eq!(
        summary,
        vec![(agent, "/joke", "settled"), (agent, "/fortune", "settled"), (agent, "/premium", "refused")]
    );
    assert_eq!(rows[0].delivered, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_stdio_as_started_inside_the_agents_sandbox() {
    let h = harness().await;
    let approver = approve_when_asked(&h);
    let args = ["mcp_client.py", "stdio", env!("CARGO_BIN_EXE_purser"), "mcp", "--agent", &h.agent].map(String::from);
    let printed = run(python().as_ref(), &args, &agent_env(&h), &scenario(&h).to_string()).await;
    assert_eq!(approver.await.unwrap(), 1);
    check_scenario(&h, &serde_json::from_str(&printed).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_streamable_http_and_agents_kept_apart() {
    let h = harness().await;
    let approver = approve_when_asked(&h);
    let auth = purser::proxy::auth::basic(&h.agent, &h.key);
    let args = ["mcp_client.py".into(), "http".into(), mcp_url(&h), auth];
    let printed = run(python().as_ref(), &args, &[], &scenario(&h).to_string()).await;
    assert_eq!(approver.await.unwrap(), 1);
    check_scenario(&h, &serde_json::from_str(&printed).unwrap()).await;

    // Another agent sees none of it: no payments, and the allowance is "not found".
    let (_, other_key) = h.ledger.add_agent("other").await.unwrap();
    let calls = json!([
        {"tool": "list_payments"},
        {"tool": "allowance_status", "args": {"id": 1}},
        {"tool": "close_allowance", "args": {"id": 1}},
        {"tool": "get_budget"},
    ]);
    let args = ["mcp_client.py".into(), "http".into(), mcp_url(&h), purser::proxy::auth::basic("other", &other_key)];
    let out: Value = serde_json::from_str(&run(python().as_ref(), &args, &[], &calls.to_string()).await).unwrap();
    assert_eq!(out["calls"][0]["structured"]["payments"], json!([]), "{out}");
    assert_eq!(out["calls"][1]["error"]["data"]["reason"], "no_such_allowance", "{out}");
    assert_eq!(out["calls"][2]["error"]["data"]["reason"], "no_such_allowance", "{out}");
    assert_eq!(out["calls"][3]["structured"]["agent"], "other");
    assert_eq!(out["calls"][3]["structured"]["allowances"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_foreign_hosts_and_origins_are_refused() {
    let h = harness().await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let accept = ("accept", "application/json, text/event-stream");
    let json_type = ("content-type", "application/json");
    let good = purser::proxy::auth::basic(&h.agent, &h.key);
    let wrong = purser::proxy::auth::basic(&h.agent, "not-the-key");
    let ask = |headers: Vec<(&'static str, String)>| {
        let addr = h.proxy_addr;
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            collect(send(addr, Method::POST, "/_purser/mcp", list, &headers).await).await
        }
    };
    let base = |auth: &str| {
        vec![("authorization", auth.to_string()), (accept.0, accept.1.into()), (json_type.0, json_type.1.into())]
    };

    let none = ask(vec![(accept.0, accept.1.into()), (json_type.0, json_type.1.into())]).await;
    assert_eq!(none.status, 401, "{:?}", none.body);
    assert_eq!(none.header("www-authenticate"), Some("Basic realm=\"Purser\""));
    let refused = ask(base(&wrong)).await;
    assert_eq!((refused.status, refused.json()["reason"].as_str()), (401, Some("auth_required")));

    let mut from_a_page = base(&good);
    from_a_page.push(("origin", "http://evil.example".into()));
    let turned_away = ask(from_a_page).await;
    assert_eq!((turned_away.status, turned_away.json()["reason"].as_str()), (403, Some("origin_not_allowed")));
    // Without a key too: a page of another site is not asked for one (a browser would prompt for it).
    for origin in ["http://evil.example", "null"] {
        let keyless =
            ask(vec![("origin", origin.into()), (accept.0, accept.1.into()), (json_type.0, json_type.1.into())]).await;
        assert_eq!((keyless.status, keyless.header("www-authenticate")), (403, None), "{origin}");
    }
    let mut rebound = base(&good);
    rebound.push(("host", "evil.example".into()));
    assert_eq!(ask(rebound).await.status, 400);

    let mut local_page = base(&good);
    local_page.push(("origin", "http://localhost:3000".into()));
    let listed = ask(local_page).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert!(String::from_utf8_lossy(&listed.body).contains("get_budget"));
    assert!(h.rows().await.is_empty(), "nothing was paid");
}

/// One call of the MCP Inspector's CLI against `purser mcp` (or `url` with the agent's key); its JSON answer.
async fn inspector(h: &Harness, target: &[String], method_args: &[&str]) -> Value {
    let cli = clients_dir().join("node_modules/.bin/mcp-inspector");
    // The server gets the agent's proxy settings the way an MCP configuration's `env` gives them.
    let proxy_url = format!("http_proxy={}", h.proxy_url());
    let mut args: Vec<String> = vec!["--cli".into(), "-e".into(), proxy_url];
    args.extend(target.iter().cloned());
    args.extend(method_args.iter().map(|s| s.to_string()));
    let printed = run(&cli, &args, &[], "").await;
    serde_json::from_str(&printed).unwrap_or_else(|e| panic!("the Inspector printed no JSON ({e}): {printed}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_inspector_cli_over_stdio_and_http() {
    let h = harness().await;
    let stdio = [env!("CARGO_BIN_EXE_purser"), "mcp", "--agent", &h.agent].map(String::from);
    let call = |tool: &'static str| ["--method", "tools/call", "--tool-name", tool];

    let listed = inspector(&h, &stdio, &["--method", "tools/list"]).await;
    assert_eq!(listed["tools"].as_array().unwrap().len(), 7, "{listed}");
    assert!(listed["tools"].as_array().unwrap().iter().all(|t| t["outputSchema"].is_object()));

    let budget = inspector(&h, &stdio, &call("get_budget")).await;
    assert_eq!(budget["structuredContent"]["agent"], h.agent.as_str(), "{budget}");
    let calls = format!("calls=[{{\"url\": \"{}\", \"count\": 2}}]", h.demo("/joke"));
    let quote = inspector(&h, &stdio, &[&call("quote")[..], &["--tool-arg", &calls]].concat()).await;
    assert_eq!(quote["structuredContent"]["total"]["expected_msat"], 2_000, "{quote}");

    let joke = format!("url={}", h.demo("/joke"));
    let paid = inspector(&h, &stdio, &[&call("fetch")[..], &["--tool-arg", &joke]].concat()).await;
    assert_eq!(paid["structuredContent"]["payment"]["status"], "settled", "{paid}");

    // An allowance: asked without waiting, approved by the person, then spent.
    let asked = inspector(
        &h,
        &stdio,
        &[&call("request_allowance")[..], &["--tool-arg", "purpose=one fortune", "max_sats=40"]].concat(),
    )
    .await;
    let id = asked["structuredContent"]["id"].as_i64().unwrap();
    assert_eq!(asked["structuredContent"]["state"], "requested", "{asked}");
    control::call(&h.control, Method::POST, &format!("allowances/{id}/approve"), Some(json!({}))).await.unwrap();
    let status =
        inspector(&h, &stdio, &[&call("allowance_status")[..], &["--tool-arg", &format!("id={id}")]].concat()).await;
    assert_eq!(status["structuredContent"]["state"], "active", "{status}");
    let fortune = [format!("url={}", h.demo("/fortune")), format!("allowance={id}")];
    let spent = inspector(&h, &stdio, &[&call("fetch")[..], &["--tool-arg", &fortune[0], &fortune[1]]].concat()).await;
    assert_eq!(spent["structuredContent"]["payment"]["allowance_id"], id, "{spent}");

    // Refused by policy, over HTTP this time.
    let http = [
        mcp_url(&h),
        "--transport".into(),
        "http".into(),
        "--header".into(),
        format!("Authorization: {}", purser::proxy::auth::basic(&h.agent, &h.key)),
    ];
    let premium = format!("url={}", h.demo("/premium"));
    let refused = inspector(&h, &http, &[&call("fetch")[..], &["--tool-arg", &premium]].concat()).await;
    assert_eq!(refused["structuredContent"]["problem"]["reason"], "over_threshold_denied", "{refused}");

    let statuses: Vec<String> = h.rows().await.iter().map(|r| format!("{} {}", r.path, r.status)).collect();
    assert_eq!(statuses, ["/joke settled", "/fortune settled", "/premium refused"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_config_and_a_key_read_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Where Purser would listen: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(dir.path().join("purser.toml"), format!("listen = \"127.0.0.1:{port}\"\n")).unwrap();
    let added = crate::cli::run_ok(crate::cli::purser(dir.path()).args(["agent", "add", "research"]));
    let key = added.split_whitespace().find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit())).unwrap();
    let print = |form: &str| {
        let out = crate::cli::run_ok(crate::cli::purser(dir.path()).args([
            "mcp",
            "--print-config",
            form,
            "--agent",
            "research",
        ]));
        serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{form}: not JSON ({e}): {out}"))
    };
    let stdio = &print("stdio")["mcpServers"]["purser"];
    let data_dir = dir.path().display().to_string();
    // The full path of the `purser` that printed it: the client needs no PATH set up.
    let bin = env!("CARGO_BIN_EXE_purser");
    let args = json!(["run", "--data-dir", data_dir, "--agent", "research", "--", bin, "mcp", "--agent", "research"]);
    assert_eq!((&stdio["command"], &stdio["args"]), (&json!(bin), &args));
    let http = &print("http")["mcpServers"]["purser"];
    assert_eq!(http["url"], format!("http://127.0.0.1:{port}/_purser/mcp"));
    assert_eq!(http["headers"]["Authorization"], purser::proxy::auth::basic("research", key));
    let both =
        crate::cli::run_ok(crate::cli::purser(dir.path()).args(["mcp", "--print-config", "--agent", "research"]));
    assert!(both.contains("# Over stdio") && both.contains("# Over HTTP"), "{both}");
    assert!(both.contains(&purser::proxy::auth::basic("research", key)), "{both}");

    // Outside a sandbox the server reads the agent's key as `purser env` does; with no Purser running, each
    // call says so and what to start.
    let bin = env!("CARGO_BIN_EXE_purser").to_string();
    let args = [
        "mcp_client.py".into(),
        "stdio".into(),
        bin,
        "--data-dir".into(),
        data_dir,
        "mcp".into(),
        "--agent".into(),
        "research".into(),
    ];
    let out: Value =
        serde_json::from_str(&run(python().as_ref(), &args, &[], r#"[{"tool": "get_budget"}]"#).await).unwrap();
    let error = &out["calls"][0]["error"];
    assert_eq!(error["code"], -32603, "{out}");
    assert!(
        error["message"].as_str().unwrap().contains(&format!("Purser is not reachable at 127.0.0.1:{port}")),
        "{out}"
    );
}
