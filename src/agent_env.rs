//! What an agent's shell needs to go through Purser (`purser env`): the proxy variables with the agent's
//! key, and a CA bundle (the system's roots plus Purser's CA) under the names common clients read, so the
//! agent's HTTPS is supervised and its other HTTPS keeps working.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::ledger::Ledger;

/// The shells `purser env` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Fish,
    Powershell,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ca(#[from] crate::ca::Error),
    #[error(transparent)]
    Keys(#[from] crate::agent_keys::Error),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::Error),
}

/// The settings for one agent.
#[derive(Debug, Clone)]
pub struct AgentEnv {
    /// `http://NAME:KEY@host:port`.
    pub proxy_url: String,
    /// The system's roots plus Purser's CA.
    pub bundle: PathBuf,
    /// Purser's CA alone (Node.js adds it to its own roots).
    pub ca_cert: PathBuf,
    /// More variables to print after Purser's own (the sandbox's demo API addresses).
    pub extra: Vec<(String, String)>,
}

impl AgentEnv {
    /// The settings for agent `name` with `key`, reaching the proxy at `proxy`; writes the CA bundle (and
    /// the CA itself on first use) in `data_dir`.
    pub fn new(data_dir: &Path, proxy: SocketAddr, name: &str, key: &str) -> Result<Self, Error> {
        let authority = crate::ca::files::load_or_create(data_dir)?;
        let bundle = crate::ca::files::write_bundle(data_dir, &authority)?;
        Ok(AgentEnv {
            proxy_url: format!("http://{name}:{key}@{proxy}"),
            bundle,
            ca_cert: crate::ca::files::cert_path(data_dir),
            extra: Vec::new(),
        })
    }

    /// Every variable, in print order.
    pub fn vars(&self) -> Vec<(String, String)> {
        let bundle = self.bundle.display().to_string();
        let mut vars: Vec<(String, String)> = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"]
            .iter()
            .map(|n| (n.to_string(), self.proxy_url.clone()))
            .collect();
        for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] {
            vars.push((name.to_string(), bundle.clone()));
        }
        vars.push(("NODE_EXTRA_CA_CERTS".into(), self.ca_cert.display().to_string()));
        vars.extend(self.extra.iter().cloned());
        vars
    }

    /// The lines to `eval` in `shell`.
    pub fn render(&self, shell: Shell) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Purser: send this shell's HTTP(S) through Purser, trusting its local CA.");
        let _ = writeln!(
            out,
            "# An agent started from this shell runs as you: it can read Purser's files and your keyring, approve \
             its own payments and change your limits. `purser run --agent NAME -- COMMAND` starts it where it \
             cannot (or run it as another OS user)."
        );
        for (name, value) in self.vars() {
            let _ = match shell {
                Shell::Bash => writeln!(out, "export {name}={}", quote_posix(&value)),
                Shell::Fish => writeln!(out, "set -gx {name} {}", quote_fish(&value)),
                Shell::Powershell => writeln!(out, "$env:{name} = '{}'", value.replace('\'', "''")),
            };
        }
        // A NO_PROXY in the agent's shell would let local APIs (the sandbox's among them) bypass Purser.
        let _ = writeln!(out, "# No NO_PROXY: local APIs go through Purser too.");
        let _ = match shell {
            Shell::Bash => writeln!(out, "unset NO_PROXY no_proxy"),
            Shell::Fish => writeln!(out, "set -e NO_PROXY; set -e no_proxy"),
            Shell::Powershell => writeln!(
                out,
                "Remove-Item Env:NO_PROXY -ErrorAction SilentlyContinue; \
                 Remove-Item Env:no_proxy -ErrorAction SilentlyContinue"
            ),
        };
        out
    }
}

/// The line that starts agent `name` through Purser inside its sandbox (`purser run`), for a person to copy;
/// `COMMAND` stands for the agent's own command. Names the data directory when it is not the default one.
pub fn run_line(data_dir: &Path, name: &str) -> String {
    format!("purser run{} --agent {name} -- COMMAND", data_dir_flag(data_dir))
}

/// The line that sets agent `name`'s variables in a bash or zsh shell, as it works when pasted: with the data
/// directory when it is not the default one.
pub fn env_line(data_dir: &Path, name: &str) -> String {
    format!("eval \"$(purser env{} --agent {name})\"", data_dir_flag(data_dir))
}

/// The line that prints agent `name`'s MCP client configuration (`purser mcp --print-config …`).
pub fn mcp_config_line(data_dir: &Path, name: &str) -> String {
    format!("purser mcp --print-config{} --agent {name}", data_dir_flag(data_dir))
}

fn data_dir_flag(data_dir: &Path) -> String {
    if data_dir == crate::config::default_data_dir() {
        String::new()
    } else {
        format!(" --data-dir {}", quote_posix(&data_dir.display().to_string()))
    }
}

/// Single-quoted for POSIX shells: nothing inside is expanded.
fn quote_posix(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Single-quoted for fish, where `\\` and `\'` are the only escapes inside single quotes.
fn quote_fish(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// A key for agent `name` that works now: the kept one if the ledger still takes it, else a new one (the
/// agent is created if missing), kept for the next time.
pub async fn usable_key(ledger: &Ledger, data_dir: &Path, name: &str) -> Result<String, Error> {
    if let Some(key) = crate::agent_keys::get(data_dir, name)?
        && ledger.authenticate(name, &key).await?.is_some()
    {
        return Ok(key);
    }
    let key = match ledger.rotate_key(name).await? {
        Some(key) => key,
        None => ledger.add_agent(name).await?.1,
    };
    crate::agent_keys::put(data_dir, name, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_a_person_copies_name_a_data_directory_that_is_not_the_default() {
        let default = crate::config::default_data_dir();
        assert_eq!(env_line(&default, "research"), "eval \"$(purser env --agent research)\"");
        assert_eq!(run_line(&default, "research"), "purser run --agent research -- COMMAND");
        let other = Path::new("/tmp/it's here");
        assert_eq!(env_line(other, "demo"), "eval \"$(purser env --data-dir '/tmp/it'\\''s here' --agent demo)\"");
    }

    fn sample() -> AgentEnv {
        AgentEnv {
            proxy_url: "http://a:k@127.0.0.1:8402".into(),
            bundle: "/d/ca/bundle.pem".into(),
            ca_cert: "/d/ca/purser-ca.pem".into(),
            extra: vec![("PURSER_DEMO_API_HTTPS".into(), "https://127.0.0.1:1".into())],
        }
    }

    #[test]
    fn every_shell_gets_every_variable() {
        let bash = sample().render(Shell::Bash);
        assert!(bash.contains("export HTTPS_PROXY='http://a:k@127.0.0.1:8402'\n"));
        assert!(bash.contains("export https_proxy='http://a:k@127.0.0.1:8402'\n"));
        assert!(bash.contains("export SSL_CERT_FILE='/d/ca/bundle.pem'\n"));
        assert!(bash.contains("export REQUESTS_CA_BUNDLE='/d/ca/bundle.pem'\n"));
        assert!(bash.contains("export CURL_CA_BUNDLE='/d/ca/bundle.pem'\n"));
        assert!(bash.contains("export NODE_EXTRA_CA_CERTS='/d/ca/purser-ca.pem'\n"));
        assert!(bash.contains("export PURSER_DEMO_API_HTTPS='https://127.0.0.1:1'\n"));
        assert!(bash.contains("unset NO_PROXY no_proxy\n"));
        assert!(!bash.contains("export NO_PROXY"), "loopback must not be exempted");
        let fish = sample().render(Shell::Fish);
        assert!(fish.contains("set -gx HTTP_PROXY 'http://a:k@127.0.0.1:8402'\n"));
        assert!(fish.contains("set -e NO_PROXY"));
        let ps = sample().render(Shell::Powershell);
        assert!(ps.contains("$env:SSL_CERT_FILE = '/d/ca/bundle.pem'\n"));
        assert!(ps.contains("Remove-Item Env:NO_PROXY"));
    }

    #[test]
    fn quotes_survive_the_shell() {
        assert_eq!(quote_posix("it's"), r"'it'\''s'");
        assert_eq!(quote_fish(r"C:\it's"), r"'C:\\it\'s'");
    }
}
