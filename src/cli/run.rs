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
        // Purser's own variables (the wallet's connection string may be among them).
        unset: std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with("PURSER_"))
            .collect(),
        covered: x_authority(),
    };
    confinement.check()?;
    let err = std::process::Command::new(bwrap).args(confinement.bwrap_args()).arg(program).args(rest).exec();
    Err(Error::Usage(format!("cannot start bubblewrap: {err}")))
}

/// Purser's data directories, the user's runtime directory (the session bus, the keyring's and systemd's
/// sockets) and the keyrings' files, those that exist.
fn hidden_dirs(data_dir: &Path, more: Vec<PathBuf>) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    // Also when `XDG_RUNTIME_DIR` is not set (su, ssh): the runtime directory of this process's user.
    let uid_runtime = std::fs::metadata("/proc/self").ok().map(|m| PathBuf::from(format!("/run/user/{}", m.uid())));
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    let keyrings = data_home.iter().flat_map(|d| [d.join("keyrings"), d.join("kwalletd")]).collect::<Vec<_>>();
    let mut dirs: Vec<PathBuf> =
        std::iter::once(data_dir.to_path_buf()).chain(more).chain(runtime).chain(uid_runtime).chain(keyrings).collect();
    dirs.retain(|d| d.is_dir());
    dirs.iter_mut().for_each(|d| *d = d.canonicalize().unwrap_or_else(|_| d.clone()));
    dirs.sort();
    dirs.dedup();
    dirs
}

/// The X authority file (its cookie lets a program type into the person's windows), shown empty.
fn x_authority() -> Vec<PathBuf> {
    let named = std::env::var_os("XAUTHORITY").filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".Xauthority"));
    named.into_iter().chain(home).filter(|p| p.is_file()).collect()
}

fn absolute(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    paths.into_iter().map(|p| p.canonicalize().map_err(|e| Error::Usage(format!("{}: {e}", p.display())))).collect()
}
