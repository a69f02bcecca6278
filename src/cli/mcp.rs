//! `purser mcp`: Purser's tools for an MCP client over stdio, as one agent, talking to the running Purser
//! (the app, `purser serve` or `purser sandbox`) with that agent's key; `--print-config` prints the client
//! configuration instead.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use purser::mcp::link::Link;
use purser::mcp::tools::PurserTools;
use rmcp::ServiceExt;

use super::{Error, Result};

#[derive(Args)]
pub struct McpArgs {
    /// The agent the tools act for (default: the one the proxy settings name, or the only agent). Its key
    /// comes from the proxy settings `purser run` and `purser env` set, or is read as `purser env` reads it
    #[arg(long)]
    agent: Option<String>,
    /// Print the `mcpServers` configuration for this agent instead of serving: both forms with a heading
    /// each, or one form alone as plain JSON
    #[arg(long, value_enum, value_name = "FORM", num_args = 0..=1, default_missing_value = "both")]
    print_config: Option<ConfigForm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ConfigForm {
    Both,
    Stdio,
    Http,
}

pub async fn run(data_dir: PathBuf, sandbox_dir: Option<PathBuf>, args: McpArgs) -> Result<()> {
    if let Some(form) = args.print_config {
        return print_config(data_dir, sandbox_dir, args.agent, form).await;
    }
    let link = match from_environment(args.agent.as_deref()) {
        Some(link) => link,
        None => {
            let (_, env) = super::env::agent_env(data_dir, sandbox_dir, args.agent).await?;
            Link::from_proxy_url(&env.proxy_url)
                .ok_or_else(|| Error::Usage("Purser's proxy is not on a loopback address".into()))?
        }
    };
    tracing::info!(agent = link.agent(), "serving Purser's MCP tools over stdio");
    let server = PurserTools::over_stdio(link)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Usage(format!("the MCP client did not start a session: {e}")))?;
    server.waiting().await.map_err(|e| Error::Usage(format!("the MCP session ended with an error: {e}")))?;
    Ok(())
}

/// The link the proxy settings in the environment describe (inside `purser run`'s sandbox, or a shell that
/// ran `purser env`), when they are for `agent` (or no agent was named).
fn from_environment(agent: Option<&str>) -> Option<Link> {
    let url =
        ["http_proxy", "HTTP_PROXY"].iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))?;
    Link::from_proxy_url(&url).filter(|link| agent.is_none_or(|name| name == link.agent()))
}

async fn print_config(
    data_dir: PathBuf,
    sandbox_dir: Option<PathBuf>,
    agent: Option<String>,
    form: ConfigForm,
) -> Result<()> {
    let (data_dir, env) = super::env::agent_env(data_dir, sandbox_dir, agent).await?;
    let link = Link::from_proxy_url(&env.proxy_url)
        .ok_or_else(|| Error::Usage("Purser's proxy is not on a loopback address".into()))?;
    let stdio = purser::mcp::config::stdio(&data_dir, link.agent(), &purser::mcp::config::purser_program());
    let http = purser::mcp::config::http(&link);
    match form {
        ConfigForm::Stdio => println!("{}", stdio.pretty()),
        ConfigForm::Http => println!("{}", http.pretty()),
        ConfigForm::Both => {
            println!("# Over stdio (desktop assistants, coding agents): Purser's tools run in the agent's sandbox.");
            println!("{}\n", stdio.pretty());
            println!("# Over HTTP, for clients that take a URL: it holds the agent's key, keep it private.");
            println!("{}", http.pretty());
        }
    }
    Ok(())
}
