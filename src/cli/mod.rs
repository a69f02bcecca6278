//! The command line: argument definitions, one error type, and dispatch to the commands' files.

mod agent;
mod allowances;
mod approvals;
mod ca;
mod credentials;
mod env;
mod ledger;
mod mcp;
mod passphrase;
mod policy;
mod pricing;
mod rate;
mod run;
mod serve;
mod sessions;
mod team_approvals;
mod wallet;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "purser",
    version,
    about = "Supervise what AI agents spend: a loopback proxy that pays HTTP 402 \
Lightning challenges through your Nostr Wallet Connect wallet, within your limits, and records every sat."
)]
struct Cli {
    /// Where the ledger lives (default: $PURSER_DATA_DIR, else $XDG_DATA_HOME/purser, else ~/.local/share/purser)
    #[arg(long, global = true, env = "PURSER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The ledger on a team's PostgreSQL server, `postgres://user:password@host/db`, instead of the data
    /// directory's file (also `database = "…"` in purser.toml)
    #[arg(long, global = true, env = "PURSER_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// This instance's name in a team's ledger (default: the host name; also `instance = "…"` in purser.toml)
    #[arg(long, global = true, env = "PURSER_INSTANCE")]
    instance: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy that agents send their traffic through
    Serve(serve::ServeArgs),
    /// Run the proxy with a play-sats wallet, relay and demo paid API, and print how an agent uses them
    Sandbox(serve::SandboxArgs),
    /// Create, list and re-key agents
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Print the variables an agent's shell needs to go through Purser: eval "$(purser env --agent NAME)"
    Env(env::EnvArgs),
    /// Start an agent through Purser inside a sandbox where it cannot read Purser's files, other agents' keys
    /// or the keyring: purser run --agent NAME -- COMMAND...
    Run(run::AgentRunArgs),
    /// Serve Purser's tools to an MCP client over stdio as an agent (budgets, quotes, allowances, a paid
    /// fetch, its payments); --print-config prints the client configuration
    Mcp(mcp::McpArgs),
    /// Show the BTC rate in a currency from the configured sources, as Purser would use it
    Rate(rate::RateArgs),
    /// Show or choose the currency amounts are shown in beside sats (`none` for sats only)
    Currency(rate::CurrencyArgs),
    /// Show or export Purser's local CA, which agents trust so Purser can read their HTTPS
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Show connections Purser could not look inside (pass-through hosts, refused certificates)
    Uninspected,
    /// Show the prices an API publishes (/pricing, /.well-known/l402-services, /.well-known/l402.json, OpenAPI)
    Pricing(pricing::PricingArgs),
    /// List the proofs of payment kept for reuse per agent and API; `revoke ID` forgets one
    Credentials(credentials::CredentialsArgs),
    /// Connect, show or disconnect the wallet Purser pays with
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// Show every payment Purser decided on, newest first, and what is held at APIs
    Ledger(ledger::LedgerArgs),
    /// Show the sessions agents opened at APIs and what each holds; `close ID` closes one
    Sessions(sessions::SessionsArgs),
    /// Add, list and remove budgets (per request, day, week, month, rolling hours, lifetime)
    #[command(subcommand)]
    Budget(policy::BudgetCommand),
    /// Set, list and remove auto-approve / ask / confirm thresholds
    #[command(subcommand)]
    Threshold(policy::ThresholdCommand),
    /// Add, list and remove remembered rules ("approve this API up to N sats a day for this agent")
    #[command(subcommand)]
    Rule(policy::RuleCommand),
    /// List payments waiting for your approval (needs the running proxy)
    Approvals,
    /// Approve a waiting payment
    Approve(approvals::ApproveArgs),
    /// Deny a waiting payment
    Deny(approvals::DenyArgs),
    /// List task allowances (open ones; --all for every one)
    Allowances(allowances::ListArgs),
    /// Approve, deny, open, raise or close a task allowance
    #[command(subcommand)]
    Allowance(allowances::AllowanceCommand),
    /// Show alerts, newest first
    Alerts(policy::AlertsArgs),
    /// Stop all payments, or one agent's, until resumed
    Pause(policy::PauseArgs),
    /// Resume payments stopped with `purser pause`
    Resume(policy::PauseArgs),
    /// Show or reset circuit breakers
    #[command(subcommand)]
    Breaker(policy::BreakerCommand),
    /// Set the passphrase that confirms large payments and changes to what guards your money
    #[command(subcommand)]
    Passphrase(passphrase::PassphraseCommand),
}

/// Everything a command can fail with; printed as one clear line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ledger(#[from] purser::ledger::Error),
    #[error(transparent)]
    Wallet(#[from] purser::wallet::Error),
    #[error(transparent)]
    Listen(#[from] purser::config::ListenError),
    #[error(transparent)]
    Start(#[from] purser::proxy::StartError),
    #[error(transparent)]
    Ca(#[from] purser::ca::Error),
    #[error(transparent)]
    AgentEnv(#[from] purser::agent_env::Error),
    #[error(transparent)]
    AgentKeys(#[from] purser::agent_keys::Error),
    #[error(transparent)]
    Confine(#[from] purser::confine::Error),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error(transparent)]
    Sandbox(#[from] purser::sandbox::Error),
    #[error(transparent)]
    Startup(#[from] purser::startup::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot write the export: {0}")]
    Export(#[from] csv::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Config(#[from] purser::config::ConfigError),
    #[error(transparent)]
    Control(#[from] purser::proxy::control::ClientError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Consent(purser::consent::ConsentError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<purser::team_approvals::TeamAnswerError> for Error {
    fn from(e: purser::team_approvals::TeamAnswerError) -> Self {
        use purser::team_approvals::TeamAnswerError as E;
        match e {
            E::Answer(purser::approval::AnswerError::Consent(c)) => Error::Consent(c),
            E::NotWaiting(_) | E::Answer(_) => Error::Usage(e.to_string()),
            E::Ledger(l) => Error::Ledger(l),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The sandbox's play sats get a ledger of their own unless told otherwise.
    let data_dir = match (&cli.data_dir, &cli.command) {
        (Some(dir), _) => dir.clone(),
        (None, Command::Sandbox(_)) => purser::config::default_data_dir().join("sandbox"),
        (None, _) => purser::config::default_data_dir(),
    };
    purser::database_setting::set_from_command_line(purser::database_setting::CommandLine {
        database: cli.database.clone(),
        instance: cli.instance.clone(),
        file_only: matches!(cli.command, Command::Sandbox(_)),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {}", Error::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::serve(data_dir, args).await,
            Command::Sandbox(args) => serve::sandbox(data_dir, args).await,
            Command::Agent(cmd) => agent::run(data_dir, cmd).await,
            Command::Env(args) => {
                let sandbox = cli.data_dir.is_none().then(|| purser::config::default_data_dir().join("sandbox"));
                env::run(data_dir, sandbox, args).await
            }
            Command::Mcp(args) => {
                let sandbox = cli.data_dir.is_none().then(|| purser::config::default_data_dir().join("sandbox"));
                mcp::run(data_dir, sandbox, args).await
            }
            Command::Run(args) => {
                let root = purser::config::default_data_dir();
                let sandbox = cli.data_dir.is_none().then(|| root.join("sandbox"));
                run::run(data_dir, sandbox, vec![root], args).await
            }
            Command::Ca(cmd) => ca::run(data_dir, cmd),
            Command::Uninspected => agent::uninspected(data_dir).await,
            Command::Pricing(args) => pricing::run(data_dir, args).await,
            Command::Rate(args) => rate::run(data_dir, args).await,
            Command::Currency(args) => rate::currency(data_dir, args).await,
            Command::Credentials(args) => credentials::run(data_dir, args).await,
            Command::Wallet(cmd) => wallet::run(data_dir, cmd).await,
            Command::Ledger(args) => ledger::run(data_dir, args).await,
            Command::Sessions(args) => sessions::run(data_dir, args).await,
            Command::Budget(cmd) => policy::budget(data_dir, cmd).await,
            Command::Threshold(cmd) => policy::threshold(data_dir, cmd).await,
            Command::Rule(cmd) => policy::rule(data_dir, cmd).await,
            Command::Approvals => approvals::list(data_dir).await,
            Command::Approve(args) => approvals::approve(data_dir, args).await,
            Command::Deny(args) => approvals::deny(data_dir, args).await,
            Command::Allowances(args) => allowances::list(data_dir, args).await,
            Command::Allowance(command) => allowances::run(data_dir, command).await,
            Command::Alerts(args) => policy::alerts(data_dir, args).await,
            Command::Pause(args) => policy::pause(data_dir, args, true).await,
            Command::Resume(args) => policy::pause(data_dir, args, false).await,
            Command::Breaker(cmd) => policy::breaker(data_dir, cmd).await,
            Command::Passphrase(cmd) => passphrase::run(&data_dir, cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `PURSER_LOG` sets the filter (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PURSER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,nostr_relay_pool=warn,nostr_sdk=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
