//! `purser ca path` and `purser ca export`: the local CA agents trust so Purser can read their HTTPS.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use purser::ca::files;

use super::Result;

#[derive(Subcommand)]
pub enum CaCommand {
    /// Print the path of Purser's CA certificate (PEM), making the CA on first use
    Path,
    /// Write Purser's CA certificate (PEM) to stdout, making the CA on first use
    Export,
}

pub fn run(data_dir: PathBuf, cmd: CaCommand) -> Result<()> {
    let authority = files::load_or_create(&data_dir)?;
    match cmd {
        CaCommand::Path => println!("{}", files::cert_path(&data_dir).display()),
        CaCommand::Export => {
            let mut out = std::io::stdout().lock();
            out.write_all(authority.cert_pem().as_bytes()).map_err(super::Error::Stdout)?;
        }
    }
    Ok(())
}
