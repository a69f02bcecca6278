//! `purser env`: the lines an agent's shell evaluates to go through Purser.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use purser::agent_env::{AgentEnv, Shell};
use purser::config::{self, loopback_addr};
use purser::ledger::Ledger;

use super::{Error, Result};

#[derive(Args)]
pub struct EnvArgs {
    /// The agent whose key goes in the proxy URL (default: the only agent, if there is one)
    #[arg(long)]
    agent: Option<String>,
    /// The shell to write for
    #[arg(long, value_enum, default_value = "bash")]
    shell: Shell,
}

/// `data_dir` is where to look; `sandbox_dir`, when the user named no data directory, is the running
/// sandbox's, used when the agent is not found in `data_dir` but is the sandbox's.
pub async fn run(data_dir: PathBuf, sandbox_dir: Option<PathBuf>, args: EnvArgs) -> Result<()> {
    let (used, env) = agent_env(data_dir.clone(), sandbox_dir, args.agent.clone()).await?;
    if used != data_dir {
        println!("# agent `{}` of the running sandbox ({})", args.agent.unwrap_or_default(), used.display());
    }
    print!("{}", env.render(args.shell));
    Ok(())
}

/// The settings agent `agent` (default: the only one) needs, and the data directory it belongs to.
pub async fn agent_env(
    data_dir: PathBuf,
    sandbox_dir: Option<PathBuf>,
    agent: Option<String>,
) -> Result<(PathBuf, AgentEnv)> {
    let data_dir = match (&agent, sandbox_dir) {
        (Some(name), Some(sandbox)) if !has_agent(&data_dir, name).await && has_running_agent(&sandbox, name).await => {
            sandbox
        }
        _ => data_dir,
    };
    let (settings, _) = config::load(&data_dir)?;
    let ledger = Ledger::open_at(&settings.ledger).await?;
    let agents = ledger.agents().await?;
    let name = match agent {
        Some(name) => name,
        None => match agents.as_slice() {
            [only] => only.name.clone(),
            [] => {
                return Err(Error::Usage("there is no agent yet: create one with `purser agent add NAME`".into()));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|a| a.name.as_str()).collect();
                return Err(Error::Usage(format!("say which agent with --agent: {}", names.join(", "))));
            }
        },
    };
    if !agents.iter().any(|a| a.name == name) {
        return Err(Error::Usage(format!("there is no agent `{name}`: create it with `purser agent add {name}`")));
    }
    let Some(key) = purser::agent_keys::get(&data_dir, &name)? else {
        return Err(Error::Usage(format!(
            "the key of agent `{name}` is not kept on this machine (it was made before Purser kept keys): \
             `purser agent rotate {name}` issues a new one"
        )));
    };
    // The running proxy's address if there is one, else where it will listen.
    let (addr, extra): (SocketAddr, _) = match purser::proxy::control::running(&settings.control_path()) {
        Some(running) => running,
        None => (loopback_addr(&settings.listen)?, Vec::new()),
    };
    let mut env = AgentEnv::new(&data_dir, addr, &name, &key)?;
    env.extra = extra;
    Ok((data_dir, env))
}

async fn has_agent(data_dir: &std::path::Path, name: &str) -> bool {
    let Ok(location) = purser::config::ledger_location(data_dir) else { return false };
    if let purser::ledger::Location::File(path) = &location
        && !path.exists()
    {
        return false;
    }
    match Ledger::open_at(&location).await {
        Ok(ledger) => ledger.agents().await.is_ok_and(|agents| agents.iter().any(|a| a.name == name)),
        Err(_) => false,
    }
}

async fn has_running_agent(data_dir: &std::path::Path, name: &str) -> bool {
    let settings = purser::config::Settings::new(data_dir.to_path_buf());
    purser::proxy::control::running(&settings.control_path()).is_some() && has_agent(data_dir, name).await
}
