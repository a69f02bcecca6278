//! The `purser` command: `serve`, `sandbox`, `agent`, `wallet`, `ledger`. See `purser --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
