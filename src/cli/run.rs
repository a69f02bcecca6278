//! `purser run`: starts an agent the safe way, with the settings `purser env` prints, inside a sandbox
//! where Purser's files, the other agents' keys and the keyring are out of its reach (see `purser::confine`).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use clap::Args;
use purser::confine::{self, Confinement};

use super::{Error, Result};

#[derive(Args)]
pub struct AgentRunArgs {
    /// The agent to run; its key goes in the proxy settings (default: the only agent, if there is one)
    #[arg(long)]
    agent: Option<String>,
    /// Let the agent also write here (it writes only its working directory otherwise); may be repeated
    #[arg(long = "rw", value_name = "PATH")]
    writable: Vec<PathBuf>,
    /// Let the agent read here even where Purser hides things; may be repeated
    #[arg(long = "ro", value_name = "PATH")]
    read_only: Vec<PathBuf>,
    /// Start the agent without a sandbox: it can then read Purser's files, every agent's key and the keyring,
    /// approve its own payments and change your limits
    #[arg(long)]
    no_sandbox: bool,
    /// The agent's command and its arguments
    #[arg(trailing_var_arg = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// `data_dir` and `sandbox_dir` as for `purser env`; `hidden` are Purser's data directories to keep from the
/// agent besides the one it belongs to.
pub async fn run(
    data_dir: PathBuf,
    sandbox_dir: Option<PathBuf>,
    hidden: Vec<PathBuf>,
    args: AgentRunArgs,
) -> Result<()> {
    let (data_dir, env) = super::env::agent_env(data_dir, sandbox_dir, args.agent).await?;
    let vars = env.vars();
    let (program, rest) = args.command.split_first().ok_or_else(|| Error::Usage("say which command to run".into()))?;
    if args.no_sandbox {
        eprintln!(
            "purser: running {} WITHOUT a sandbox: it can read Purser's files and the keyring as you can",
            program.to_string_lossy()
        );
        let err = std::process::Command::new(program)
            .args(rest)
            .envs(vars)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .exec();
        return Err(Error::Usage(format!("cannot start {}: {err}", program.to_string_lossy())));
    }
    let bwrap = confine::bwrap()?;
    confine::probe(&bwrap)?;
    let work_dir =
        std::env::current_dir().map_err(|e| Error::Usage(format!("cannot read the working directory: {e}")))?;
    let confinement = Confinement {
        hidden: hidden_dirs(&data_dir, hidden),
        shown: vec![env.bundle.clone(), env.ca_cert.clone()],
        work_dir,
        writable: absolute(args.writable)?,
        read_only: absolute(args.read_only)?,
        bus_address: std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().filter(|a| !a.is_empty()),
        env: vars,
    };
    confinement.check()?;
    let err = std::process::Command::new(bwrap).args(confinement.bwrap_args()).arg(program).args(rest).exec();
    Err(Error::Usage(format!("cannot start bubblewrap: {err}")))
}

/// Purser's data directories and the user's runtime directory (where the session bus and keyring sockets
/// live), those that exist.
fn hidden_dirs(data_dir: &Path, more: Vec<PathBuf>) -> Vec<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut dirs: Vec<PathBuf> = std::iter::once(data_dir.to_path_buf()).chain(more).chain(runtime).collect();
    dirs.retain(|d| d.is_dir());
    dirs.iter_mut().for_each(|d| *d = d.canonicalize().unwrap_or_else(|_| d.clone()));
    dirs.sort();
    dirs.dedup();
    dirs
}

fn absolute(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    paths.into_iter().map(|p| p.canonicalize().map_err(|e| Error::Usage(format!("{}: {e}", p.display())))).collect()
}
