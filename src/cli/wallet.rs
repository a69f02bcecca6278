//! `purser wallet connect|info|disconnect`: the wallet Purser pays with. The connection string goes to the
//! OS keyring only; `PURSER_NWC_URI` is the headless alternative and is never stored.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use purser::wallet::nwc::{NwcOptions, NwcWallet};
use purser::wallet::{Wallet, uri_store};

use super::{Error, Result};

#[derive(Subcommand)]
pub enum WalletCommand {
    /// Check a nostr+walletconnect:// connection string with get_info, then keep it in the OS keyring
    Connect {
        /// The connection string; leave it out (or give `-`) to paste it on standard input, which keeps the
        /// secret out of the shell history and the process list
        uri: Option<String>,
    },
    /// Show the connected wallet's alias, network and balance
    Info,
    /// Forget the connection string kept in the OS keyring
    Disconnect,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("keyring task panicked")
}

/// The configured connection string, from the environment or the keyring.
pub async fn configured_uri(data_dir: &Path) -> Result<(String, uri_store::Source)> {
    let dir = data_dir.to_path_buf();
    blocking(move || uri_store::load(&dir)).await?.ok_or(Error::Wallet(purser::wallet::Error::NotConfigured))
}

async fn describe(wallet: &NwcWallet) -> Result<()> {
    let info = wallet.get_info().await?;
    println!("alias       {}", info.alias.as_deref().unwrap_or("(not given)"));
    println!("network     {}", info.network.as_deref().unwrap_or("(not given)"));
    match wallet.get_balance().await {
        Ok(b) => println!("balance     {b}"),
        Err(e) => println!("balance     unavailable ({e})"),
    }
    println!("encryption  {}", info.encryption);
    println!("methods     {}", info.methods.join(", "));
    Ok(())
}

pub async fn run(data_dir: PathBuf, cmd: WalletCommand) -> Result<()> {
    match cmd {
        WalletCommand::Connect { uri } => {
            super::passphrase::authorize_in(&data_dir).await?;
            let uri = match uri.filter(|u| u != "-") {
                Some(uri) => uri,
                None => {
                    use std::io::IsTerminal;
                    if std::io::stdin().is_terminal() {
                        eprintln!("Paste the nostr+walletconnect:// connection string and press Enter:");
                    }
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| Error::Usage(format!("cannot read standard input: {e}")))?;
                    line.trim().to_string()
                }
            };
            let wallet = NwcWallet::new(&uri, NwcOptions::default())?;
            println!("Checking the wallet with get_info…");
            describe(&wallet).await?;
            let dir = data_dir.clone();
            blocking(move || uri_store::store(&dir, &uri)).await?;
            println!();
            println!("Connected. The connection string is kept in the OS keyring (for {}).", data_dir.display());
        }
        WalletCommand::Info => {
            let (uri, source) = configured_uri(&data_dir).await?;
            let wallet = NwcWallet::new(&uri, NwcOptions::default())?;
            println!("source      {}", source.describe());
            describe(&wallet).await?;
        }
        WalletCommand::Disconnect => {
            super::passphrase::authorize_in(&data_dir).await?;
            let dir = data_dir.clone();
            if blocking(move || uri_store::forget(&dir)).await? {
                println!("The wallet connection string was removed from the OS keyring.");
            } else {
                println!("No wallet connection string was kept for {}.", data_dir.display());
            }
            if std::env::var_os(uri_store::ENV_VAR).is_some() {
                println!("Note: {} is still set in this environment.", uri_store::ENV_VAR);
            }
        }
    }
    Ok(())
}
