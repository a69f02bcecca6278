//! The MCP configuration that desktop assistants and coding agents read (`mcpServers`), for one agent: over
//! stdio, `purser mcp` started inside the agent's sandbox by `purser run`; over HTTP, the proxy's
//! `/_purser/mcp` with the agent's key. The desktop's Agents screen and `purser mcp --print-config` show it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::link::Link;

/// The name the server goes by in a client's configuration.
pub const SERVER_NAME: &str = "purser";

/// A client's configuration with one server: `{"mcpServers": {"purser": …}}`, its fields in the order a
/// person reads them (a struct keeps its order; a JSON map would sort them).
#[derive(Debug, Serialize)]
pub struct McpServers<T> {
    #[serde(rename = "mcpServers")]
    pub servers: BTreeMap<&'static str, T>,
}

/// A server the client starts.
#[derive(Debug, Serialize)]
pub struct StdioServer {
    pub command: String,
    pub args: Vec<String>,
}

/// A server the client reaches over Streamable HTTP.
#[derive(Debug, Serialize)]
pub struct HttpServer {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    pub headers: BTreeMap<&'static str, String>,
}

impl<T: Serialize> McpServers<T> {
    fn one(server: T) -> Self {
        McpServers { servers: BTreeMap::from([(SERVER_NAME, server)]) }
    }

    /// As a person copies it: indented JSON.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

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
pub fn stdio(data_dir: &Path, agent: &str, program: &str) -> McpServers<StdioServer> {
    let mut args = vec!["run".to_string()];
    if data_dir != crate::config::default_data_dir() {
        args.extend(["--data-dir".to_string(), data_dir.display().to_string()]);
    }
    args.extend(["--agent", agent, "--", program, "mcp", "--agent", agent].map(String::from));
    McpServers::one(StdioServer { command: program.to_string(), args })
}

/// Streamable HTTP on the proxy's own port, with the agent's name and key as `Authorization: Basic`, as
/// `link` sends them.
pub fn http(link: &Link) -> McpServers<HttpServer> {
    let authorization = String::from_utf8_lossy(link.authorization().as_bytes()).into_owned();
    McpServers::one(HttpServer {
        kind: "http",
        url: format!("http://{}{}", link.addr(), super::http::PATH),
        headers: BTreeMap::from([("Authorization", authorization)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::{Value, json};

    fn value<T: Serialize>(c: &McpServers<T>) -> Value {
        serde_json::from_str(&c.pretty()).unwrap()
    }

    #[test]
    fn stdio_starts_the_server_in_the_agents_sandbox_without_its_key() {
        let config = value(&stdio(&crate::config::default_data_dir(), "research", "/opt/purser/bin/purser"));
        let server = &config["mcpServers"]["purser"];
        assert_eq!(server["command"], "/opt/purser/bin/purser");
        let inner = "/opt/purser/bin/purser";
        assert_eq!(server["args"], json!(["run", "--agent", "research", "--", inner, "mcp", "--agent", "research"]));
        let other = value(&stdio(Path::new("/tmp/elsewhere"), "research", "purser"));
        // Read top to bottom as a person reads it: the command, then its arguments.
        let text = stdio(Path::new("/tmp/elsewhere"), "research", "purser").pretty();
        assert!(text.find("\"command\"").unwrap() < text.find("\"args\"").unwrap(), "{text}");
        assert_eq!(other["mcpServers"]["purser"]["args"][1], "--data-dir");
        assert_eq!(other["mcpServers"]["purser"]["args"][2], "/tmp/elsewhere");
    }

    #[test]
    fn http_carries_the_key_as_basic_auth() {
        let config = value(&http(&Link::new("127.0.0.1:8402".parse().unwrap(), "research", "k3y")));
        let server = &config["mcpServers"]["purser"];
        assert_eq!(server["url"], "http://127.0.0.1:8402/_purser/mcp");
        let sent = server["headers"]["Authorization"].as_str().unwrap().strip_prefix("Basic ").unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(sent).unwrap(), b"research:k3y");
    }
}
