//! The sandbox's relay, play wallet and demo API on loopback without a proxy, for `purser serve` instances
//! (a team's machines in the end-to-end run and the team benchmarks) to pay with and call.
//!
//! Usage: sandbox_parts [--balance-sats N] [--wallet-delay-ms MS]
//! Prints `wallet_uri=nostr+walletconnect://…` and `demo=127.0.0.1:PORT`, then serves until it is stopped.

use std::time::Duration;

use purser::sandbox::Sandbox;
use purser::sandbox::wallet_service::WalletServiceOptions;
use purser::units::Msats;

#[tokio::main]
async fn main() {
    purser::install_crypto_provider();
    let mut wallet = WalletServiceOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--balance-sats" => wallet.balance = Msats::from_sats(value),
            "--wallet-delay-ms" => wallet.pay_delay = Duration::from_millis(value),
            _ => usage(&arg),
        }
    }
    let sandbox = Sandbox::start(wallet, Default::default()).await.expect("the sandbox starts on loopback");
    println!("wallet_uri={}", sandbox.wallet.uri);
    println!("demo={}", sandbox.demo_addr);
    let _ = tokio::signal::ctrl_c().await;
    drop(sandbox);
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "sandbox_parts: `{arg}` is not understood; usage: sandbox_parts [--balance-sats N] [--wallet-delay-ms MS]"
    );
    std::process::exit(2);
}
