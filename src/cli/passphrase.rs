//! `purser passphrase set|remove|every-approval`, and the passphrase check every command that changes what
//! guards money (budgets, thresholds, rules, resuming, breakers, the wallet, the passphrase) runs first. The
//! passphrase is read from the terminal with echo off, never from an argument or the environment, so an
//! agent that can run `purser` cannot hand it one.

use std::path::Path;

use clap::Subcommand;
use purser::consent::{self, ConsentError};
use purser::ledger::Ledger;

use super::policy::open;
use super::{Error, Result};

#[derive(Subcommand)]
pub enum PassphraseCommand {
    /// Set or change the passphrase that confirms payments and changes (asks for the current one first)
    Set,
    /// Remove the passphrase (confirm-tier payments then ask for the amount typed instead)
    Remove,
    /// Whether every approval needs the passphrase, not only those above a confirm limit
    EveryApproval {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Whether a passphrase is set and what needs it
    Status,
}

/// Reads a line from the terminal with echo off.
pub fn read_hidden(prompt: &str) -> Result<String> {
    rpassword::prompt_password(prompt).map_err(|e| {
        Error::Usage(format!(
            "this needs your passphrase, typed at a terminal ({e}); it is never read from arguments or the environment"
        ))
    })
}

/// Lets a change go ahead: at once while no passphrase is set, after the person types it once one is.
pub async fn authorize(ledger: &Ledger) -> Result<()> {
    if ledger.passphrase_hash().await?.is_none() {
        return Ok(());
    }
    let given = read_hidden("Passphrase: ")?;
    consent::authorize_change(ledger, Some(&given)).await.map_err(|mut e| {
        if e.take_alert().is_some() {
            eprintln!("Confirmations are now locked and an alert was raised.");
        }
        Error::Consent(e)
    })
}

/// [`authorize`] for commands that do not otherwise open the ledger.
pub async fn authorize_in(data_dir: &Path) -> Result<()> {
    authorize(&open(data_dir).await?).await
}

pub async fn run(data_dir: &Path, cmd: PassphraseCommand) -> Result<()> {
    let ledger = open(data_dir).await?;
    match cmd {
        PassphraseCommand::Set => {
            authorize(&ledger).await?;
            let new = read_hidden("New passphrase: ")?;
            if read_hidden("Again: ")? != new {
                return Err(Error::Usage("the two passphrases differ; nothing changed".into()));
            }
            let phc = tokio::task::spawn_blocking(move || consent::hash(&new))
                .await
                .map_err(|e| Error::Usage(e.to_string()))??;
            ledger.set_passphrase_hash(Some(&phc)).await?;
            println!("Passphrase set (only its Argon2id hash is kept). Payments above a confirm limit now need it,");
            println!("and so do changes to budgets, thresholds, rules and the wallet from the command line.");
        }
        PassphraseCommand::Remove => {
            authorize(&ledger).await?;
            ledger.set_passphrase_hash(None).await?;
            println!("Passphrase removed. Payments above a confirm limit now ask for their amount typed.");
        }
        PassphraseCommand::EveryApproval { state } => {
            authorize(&ledger).await?;
            let on = state == "on";
            ledger.set_confirm_every_approval(on).await?;
            match (on, ledger.passphrase_hash().await?.is_some()) {
                (true, true) => println!("Every approval now needs the passphrase."),
                (true, false) => println!("Saved; it applies once a passphrase is set (`purser passphrase set`)."),
                (false, _) => println!("Only payments above a confirm limit need the passphrase now."),
            }
        }
        PassphraseCommand::Status => {
            let set = ledger.passphrase_hash().await?.is_some();
            println!("passphrase      {}", if set { "set" } else { "not set" });
            println!("every approval  {}", if ledger.confirm_every_approval().await? { "needs it" } else { "no" });
            if let Some(until) = ledger.confirmations_locked_until().await? {
                println!("locked          for {} more seconds", (until - ledger.now_ms()).max(0) / 1000);
            }
        }
    }
    Ok(())
}

impl From<ConsentError> for Error {
    fn from(e: ConsentError) -> Self {
        Error::Consent(e)
    }
}
