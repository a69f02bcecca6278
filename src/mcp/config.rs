//! The MCP configuration that desktop assistants and coding agents read (`mcpServers`), for one agent: over
//! stdio, `purser mcp` started inside the agent's sandbox by `purser run`; over HTTP, the proxy's
//! `/_purser/mcp` with the agent's key. The desktop's Agents screen and `purser mcp --print-config` show it.

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

/// The name the server goes by in a client's configuration.
pub const SERVER_NAME: &str = "purser";

/// The `purser` program a configuration names: this one's full path (or that of the one beside the desktop
/// app) when there is one, so a client needs no `PATH` set up; else `purser`, found on the `PATH`.
pub fn purser_program() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "purser".into();
    };
    let cli = if exe.file_stem().is_some_and(|s| s == "purser") { exe.clone() } else { exe.with_file_name("purser") };
    if cli.is_file() { cli.display().to_string() } else { "purser".into() }
}

/// `PURSER run --agent NAME -- PURSER mcp --agent NAME`, `PURSER` being `program`: the key comes from the
/// proxy settings `purser run` gives the sandbox, so the configuration holds no secret. Names the data
/// directory when it is not the default one.
pub fn stdio(data_dir: &Path, agent: &str, program: &str) -> Value {
    let mut args = vec!["run".to_string()];
    if data_dir != crate::config::default_data_dir() {
        args.extend(["--data-dir".to_string(), data_dir.display().to_string()]);
    }
    args.extend(["--agent", agent, "--", program, "mcp", "--agent", agent].map(String::from));
    json!({ "mcpServers": { SERVER_NAME: { "command": program, "args": args } } })
}

/// Streamable HTTP on the proxy's own port, with the agent's name and key as `Authorization: Basic`.
pub fn http(proxy: SocketAddr, agent: &str, key: &str) -> Value {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{agent}:{key}"));
    json!({ "mcpServers": { SERVER_NAME: {
        "type": "http",
        "url": format!("http://{proxy}{}", super::http::PATH),
        "headers": { "Authorization": format!("Basic {basic}") },
    } } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdio_starts_the_server_in_the_agents_sandbox_without_its_key() {
        let config = stdio(&crate::config::default_data_dir(), "research", "/opt/purser/bin/purser");
        let server = &config["mcpServers"]["purser"];
        assert_eq!(server["command"], "/opt/purser/bin/purser");
        let inner = "/opt/purser/bin/purser";
        assert_eq!(server["args"], json!(["run", "--agent", "research", "--", inner, "mcp", "--agent", "research"]));
        let other = stdio(Path::new("/tmp/elsewhere"), "research", "purser");
        assert_eq!(other["mcpServers"]["purser"]["args"][1], "--data-dir");
        assert_eq!(other["mcpServers"]["purser"]["args"][2], "/tmp/elsewhere");
    }

    #[test]
    fn http_carries_the_key_as_basic_auth() {
        let config = http("127.0.0.1:8402".parse().unwrap(), "research", "k3y");
        let server = &config["mcpServers"]["purser"];
        assert_eq!(server["url"], "http://127.0.0.1:8402/_purser/mcp");
        let sent = server["headers"]["Authorization"].as_str().unwrap().strip_prefix("Basic ").unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(sent).unwrap(), b"research:k3y");
    }
}
