//! `purser budget|threshold|rule|alerts|pause|resume|breaker`: the spending policy from the command line.
//! Changes go straight to the ledger; a running proxy applies them to the next payment. Once a passphrase is
//! set, every change that could loosen spending asks for it first (pausing does not).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use purser::config;
use purser::ledger::Ledger;
use purser::ledger::policy_store::ScopeSpec;
use purser::policy::{Period, PeriodError, PeriodKind};
use purser::units::Msats;

use super::passphrase::authorize;
use super::{Error, Result};

/// The ledger with the config file's policy settings, as every command that changes policy opens it.
pub(super) async fn open(data_dir: &std::path::Path) -> Result<Ledger> {
    let (settings, policy) = config::load(data_dir)?;
    Ok(Ledger::open_at(&settings.ledger).await?.with_policy(policy))
}

/// Which spending a budget, threshold or rule covers; none of them means the whole wallet.
#[derive(Args, Clone, Default)]
pub struct ScopeArgs {
    /// Only this agent's payments
    #[arg(long)]
    agent: Option<String>,
    /// Only payments to this API: HOST, HOST:PORT, optionally with a path prefix (api.example.com/v1)
    #[arg(long)]
    api: Option<String>,
}

impl ScopeArgs {
    fn spec(&self) -> ScopeSpec {
        ScopeSpec::parse(self.agent.as_deref(), self.api.as_deref())
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PeriodArg {
    Request,
    Day,
    Week,
    Month,
    Rolling,
    Lifetime,
    Held,
}

impl From<PeriodArg> for PeriodKind {
    fn from(arg: PeriodArg) -> Self {
        match arg {
            PeriodArg::Request => PeriodKind::Request,
            PeriodArg::Day => PeriodKind::Day,
            PeriodArg::Week => PeriodKind::Week,
            PeriodArg::Month => PeriodKind::Month,
            PeriodArg::Rolling => PeriodKind::Rolling,
            PeriodArg::Lifetime => PeriodKind::Lifetime,
            PeriodArg::Held => PeriodKind::Held,
        }
    }
}

#[derive(Subcommand)]
pub enum BudgetCommand {
    /// Add a budget
    #[command(group(clap::ArgGroup::new("limit").required(true).args(["sats", "fiat"])))]
    Add {
        /// The most this budget allows in its period, in sats
        #[arg(long)]
        sats: Option<u64>,
        /// The most this budget allows in its period in a currency, e.g. "1.00 USD": converted when a payment
        /// is decided; each payment counts at the rate it was paid at
        #[arg(long, value_name = "AMOUNT CURRENCY")]
        fiat: Option<String>,
        /// request, day, week, month (calendar, in the configured time zone), rolling (with --hours), lifetime,
        /// or held: the most held at one API at once (session deposits not yet drawn, refunds awaited; with --api)
        #[arg(long, value_enum)]
        period: PeriodArg,
        /// The length of a rolling period, in hours
        #[arg(long)]
        hours: Option<u32>,
        #[command(flatten)]
        scope: ScopeArgs,
        /// When the budget stops applying: an RFC 3339 time (2026-12-31T23:00:00Z) or a date (2026-12-31,
        /// its midnight in the configured time zone)
        #[arg(long)]
        expires: Option<String>,
    },
    /// List budgets with what their current window has used
    List,
    /// Remove a budget
    Remove { id: i64 },
}

#[derive(Subcommand)]
pub enum ThresholdCommand {
    /// Set the thresholds of a scope (replacing its old ones)
    Set {
        /// Pay at once up to this many sats (or this amount of --currency)
        #[arg(long)]
        auto: String,
        /// Ask a person up to this many sats (or this amount of --currency); refuse above
        #[arg(long)]
        ask: String,
        /// Above this many sats (or this amount of --currency) a click is not enough: approving takes your
        /// passphrase (or the amount typed)
        #[arg(long, value_name = "AMOUNT")]
        confirm_above: Option<String>,
        /// The limits are amounts of this currency (USD, EUR…), converted when a payment is decided
        #[arg(long)]
        currency: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List thresholds (the most specific one that matches a payment applies)
    List,
    /// Remove thresholds
    Remove { id: i64 },
}

#[derive(Subcommand)]
pub enum RuleCommand {
    /// Approve an agent's payments to an API up to N sats a day without asking
    Add {
        #[arg(long)]
        agent: String,
        /// HOST, HOST:PORT, optionally with a path prefix
        #[arg(long)]
        api: String,
        #[arg(long)]
        max_sats_per_day: u64,
    },
    /// List remembered rules
    List,
    /// Remove a rule
    Remove { id: i64 },
}

#[derive(Args)]
pub struct AlertsArgs {
    /// At most this many, newest first
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct PauseArgs {
    /// Only this agent (default: all payments)
    #[arg(long)]
    agent: Option<String>,
}

#[derive(Subcommand)]
pub enum BreakerCommand {
    /// List tripped breakers
    List,
    /// Reset breakers: all, or those of one API (and path)
    Reset {
        /// HOST or HOST:PORT as the ledger shows it
        #[arg(long)]
        api: Option<String>,
        #[arg(long, requires = "api")]
        path: Option<String>,
    },
}

fn expires_ms(text: &str, tz: &jiff::tz::TimeZone) -> Result<i64> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| Error::Usage(format!("--expires: `{text}` is neither an RFC 3339 time nor a date")))?;
    let zoned = date.to_zoned(tz.clone()).map_err(|e| Error::Usage(format!("--expires: {e}")))?;
    Ok(zoned.timestamp().as_millisecond())
}

fn describe_threshold(t: &purser::policy::Threshold) -> String {
    if let Some(f) = &t.fiat {
        let confirm = f
            .confirm_above_micros
            .map(|c| format!(", confirm with your passphrase above {}", f.money(c)))
            .unwrap_or_default();
        return format!(
            "pay at once up to {}, ask up to {}{confirm}, refuse above (converted at the rate of each payment)",
            f.money(f.auto_max_micros),
            f.money(f.ask_max_micros)
        );
    }
    let confirm = t.confirm_above.map(|c| format!(", confirm with your passphrase above {c}")).unwrap_or_default();
    format!("pay at once up to {}, ask up to {}{confirm}, refuse above", t.auto_max, t.ask_max)
}

/// A threshold's limit as typed: whole sats, or an amount of `currency`.
fn limit_sats(text: &str, what: &str) -> Result<u64> {
    text.trim().parse().map_err(|_| {
        Error::Usage(format!(
            "--{what}: `{text}` is not a whole number of sats (with --currency, amounts may have decimals)"
        ))
    })
}

fn limit_micros(currency: &str, text: &str, what: &str) -> Result<i64> {
    purser::rates::Money::parse_amount(currency, text)
        .map(|m| m.micros)
        .map_err(|e| Error::Usage(format!("--{what}: {e}")))
}

pub async fn budget(data_dir: PathBuf, cmd: BudgetCommand) -> Result<()> {
    let ledger = open(&data_dir).await?;
    match cmd {
        BudgetCommand::Add { sats: amount, fiat, period, hours, scope, expires } => {
            authorize(&ledger).await?;
            let period = Period::new(period.into(), hours).map_err(|e| match e {
                PeriodError::RollingWithoutHours => Error::Usage("a rolling budget needs --hours N (N ≥ 1)".into()),
                PeriodError::HoursWithoutRolling => Error::Usage("--hours goes with --period rolling only".into()),
                PeriodError::Unknown(_) => Error::Usage(e.to_string()),
            })?;
            let expires = expires.map(|e| expires_ms(&e, &ledger.policy().time_zone)).transpose()?;
            let b = match (amount, fiat) {
                (_, Some(fiat)) => {
                    let limit = purser::rates::Money::parse(&fiat).map_err(|e| Error::Usage(format!("--fiat: {e}")))?;
                    ledger.add_fiat_budget(&scope.spec(), period, limit, expires, None).await?
                }
                (amount, None) => {
                    ledger
                        .add_budget(&scope.spec(), period, Msats::from_sats(amount.unwrap_or_default()), expires, None)
                        .await?
                }
            };
            println!("Added {}.", b.describe());
        }
        BudgetCommand::List => {
            let (settings, _) = config::load(&data_dir)?;
            let mut currencies: Vec<String> = ledger
                .budgets()
                .await?
                .iter()
                .filter_map(|b| b.limit_fiat.as_ref().map(|m| m.currency.clone()))
                .collect();
            currencies.dedup();
            let at_hand = super::rate::at_hand(&settings, &currencies).await?;
            let uses = ledger.budget_uses(&at_hand).await?;
            if uses.is_empty() {
                println!("No budgets: only thresholds limit payments. Add one with `purser budget add`.");
            }
            let now = ledger.now_ms();
            for u in uses {
                let state = match u.budget.expires_at_ms {
                    Some(e) if e <= now => " (expired)".to_string(),
                    Some(e) => format!(
                        " (until {})",
                        jiff::Timestamp::from_millisecond(e).map(|t| t.to_string()).unwrap_or_default()
                    ),
                    None => String::new(),
                };
                let used = match u.budget.period {
                    Period::Request => "each payment".to_string(),
                    _ if u.budget.limit_fiat.is_some() && u.budget.limit.0 == 0 => format!(
                        "{} used (no rate now: {})",
                        u.used_fiat.as_ref().map(ToString::to_string).unwrap_or_default(),
                        at_hand.missing.first().map_or("", |(_, why)| why.as_str())
                    ),
                    Period::Held => {
                        let (held, left) = u.figures();
                        format!("{held} held there now, {left} left")
                    }
                    _ => {
                        let (used, left) = u.figures();
                        format!("{used} used, {left} left")
                    }
                };
                println!("#{:<4} {:<50} {used}{state}", u.budget.id, u.budget.describe());
            }
            println!(
                "Calendar periods follow the time zone {}.",
                ledger.policy().time_zone.iana_name().unwrap_or("UTC")
            );
        }
        BudgetCommand::Remove { id } => {
            authorize(&ledger).await?;
            ledger.remove_budget(id).await?;
            println!("Removed budget #{id}.");
        }
    }
    Ok(())
}

pub async fn threshold(data_dir: PathBuf, cmd: ThresholdCommand) -> Result<()> {
    let ledger = open(&data_dir).await?;
    match cmd {
        ThresholdCommand::Set { auto, ask, confirm_above, currency, scope } => {
            authorize(&ledger).await?;
            let t = match currency {
                Some(currency) => {
                    let code =
                        purser::rates::money::currency_code(&currency).map_err(|e| Error::Usage(e.to_string()))?;
                    let limits = purser::policy::fiat::FiatThreshold {
                        auto_max_micros: limit_micros(&code, &auto, "auto")?,
                        ask_max_micros: limit_micros(&code, &ask, "ask")?,
                        confirm_above_micros: confirm_above
                            .map(|c| limit_micros(&code, &c, "confirm-above"))
                            .transpose()?,
                        currency: code,
                    };
                    ledger.set_fiat_threshold(&scope.spec(), limits).await?
                }
                None => {
                    let confirm =
                        confirm_above.map(|c| limit_sats(&c, "confirm-above")).transpose()?.map(Msats::from_sats);
                    let (auto, ask) = (limit_sats(&auto, "auto")?, limit_sats(&ask, "ask")?);
                    ledger.set_threshold(&scope.spec(), Msats::from_sats(auto), Msats::from_sats(ask), confirm).await?
                }
            };
            println!("#{}: {}: {}.", t.id, t.scope.describe(), describe_threshold(&t));
        }
        ThresholdCommand::List => {
            for t in ledger.thresholds().await? {
                println!("#{:<4} {:<40} {}", t.id, t.scope.describe(), describe_threshold(&t));
            }
        }
        ThresholdCommand::Remove { id } => {
            authorize(&ledger).await?;
            ledger.remove_threshold(id).await?;
            println!("Removed thresholds #{id}.");
        }
    }
    Ok(())
}

pub async fn rule(data_dir: PathBuf, cmd: RuleCommand) -> Result<()> {
    let ledger = open(&data_dir).await?;
    match cmd {
        RuleCommand::Add { agent, api, max_sats_per_day } => {
            authorize(&ledger).await?;
            let spec = ScopeArgs { agent: Some(agent.clone()), api: Some(api) }.spec();
            let host = spec.host.unwrap_or_default();
            let r = ledger
                .add_rule(
                    &agent,
                    &host,
                    spec.path_prefix.as_deref(),
                    Msats::from_sats(max_sats_per_day),
                    "added by hand",
                )
                .await?;
            println!("#{}: approve {} up to {} a day.", r.id, r.scope.describe(), r.max_per_day);
        }
        RuleCommand::List => {
            let rules = ledger.rules().await?;
            if rules.is_empty() {
                println!("No remembered rules.");
            }
            for r in rules {
                println!("#{:<4} approve {} up to {} a day ({})", r.id, r.scope.describe(), r.max_per_day, r.source);
            }
        }
        RuleCommand::Remove { id } => {
            authorize(&ledger).await?;
            ledger.remove_rule(id).await?;
            println!("Removed rule #{id}.");
        }
    }
    Ok(())
}

pub async fn alerts(data_dir: PathBuf, args: AlertsArgs) -> Result<()> {
    let ledger = open(&data_dir).await?;
    let alerts = ledger.alerts(args.limit).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&alerts).unwrap_or_default());
        return Ok(());
    }
    if alerts.is_empty() {
        println!("No alerts.");
    }
    for a in alerts {
        println!("{}  {:<21} {}", a.created_at.get(..19).unwrap_or(&a.created_at).replace('T', " "), a.kind, a.message);
    }
    Ok(())
}

pub async fn pause(data_dir: PathBuf, args: PauseArgs, paused: bool) -> Result<()> {
    let ledger = open(&data_dir).await?;
    let verb = if paused { "paused" } else { "resumed" };
    if !paused {
        authorize(&ledger).await?;
    }
    match args.agent {
        Some(agent) => {
            ledger.set_agent_paused(&agent, paused).await?;
            println!("Payments by agent {agent} are {verb}.");
        }
        None => {
            ledger.set_paused_all(paused).await?;
            println!("All payments are {verb}.");
        }
    }
    Ok(())
}

pub async fn breaker(data_dir: PathBuf, cmd: BreakerCommand) -> Result<()> {
    let ledger = open(&data_dir).await?;
    match cmd {
        BreakerCommand::List => {
            let trips = ledger.breakers().await?;
            if trips.is_empty() {
                println!("No tripped breakers.");
            }
            for t in trips {
                println!("{}{}: {}", t.host, t.path, t.reason);
            }
        }
        BreakerCommand::Reset { api, path } => {
            authorize(&ledger).await?;
            let n = ledger.reset_breakers(api.as_deref(), path.as_deref()).await?;
            println!("Reset {n} breaker(s).");
        }
    }
    Ok(())
}
