//! The composite answers the commands give, and the inputs they take. Their TypeScript types are generated
//! (`cargo test -p purser-desktop`) into `ui/src/bindings/` and committed.

use purser::approval::ApprovalView;
use purser::ledger::agents::Agent;
use purser::ledger::alerts::Alert;
use purser::ledger::queries::Totals;
use purser::policy::{BudgetUse, PeriodKind, Rule, Threshold};
use purser::wallet::WalletInfo;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct Overview {
    pub totals: Totals,
    pub budgets: Vec<BudgetUse>,
    pub approvals: Vec<ApprovalView>,
    pub alerts: Vec<Alert>,
    pub paused: bool,
    /// Agents whose payments are paused, by name.
    pub paused_agents: Vec<String>,
    /// Endpoints whose payments the circuit breaker stopped.
    pub breakers: Vec<purser::policy::BreakerTrip>,
    pub proxy_url: String,
    pub sandbox: bool,
    /// With the sandbox: the shell lines that make an agent of the current shell.
    pub sandbox_env: Option<String>,
    /// The display currency and its rate now.
    pub rate: RateLine,
    /// What is held at each API (session deposits not yet drawn, refunds on their way).
    pub held: Vec<purser::ledger::held::HeldAt>,
    /// The open sessions, and closed ones whose refund is awaited or missing.
    pub sessions: Vec<purser::ledger::sessions::SessionInfo>,
}

/// The display currency's BTC rate as the Overview shows it: the price, where it came from, how old it is;
/// or why there is none.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct RateLine {
    /// `None`: amounts are shown in sats only.
    pub currency: Option<String>,
    pub per_btc: Option<f64>,
    pub source: Option<String>,
    #[ts(type = "number | null")]
    pub age_secs: Option<i64>,
    /// Why no rate young enough could be had.
    pub error: Option<String>,
}

impl RateLine {
    pub fn none() -> Self {
        RateLine { currency: None, per_btc: None, source: None, age_secs: None, error: None }
    }

    pub fn of(
        currency: String,
        rate: std::result::Result<purser::rates::Rate, purser::rates::RatesError>,
        now_ms: i64,
    ) -> Self {
        match rate {
            Ok(r) => RateLine {
                currency: Some(currency),
                per_btc: Some(r.per_btc),
                source: Some(r.source),
                age_secs: Some((now_ms - r.at_ms).max(0) / 1000),
                error: None,
            },
            Err(e) => {
                RateLine { error: Some(e.to_string()), ..RateLine { currency: Some(currency), ..RateLine::none() } }
            }
        }
    }
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct WalletStatus {
    pub connected: bool,
    /// "the OS keyring", "the PURSER_NWC_URI environment variable", "the sandbox (play sats)".
    pub source: Option<String>,
    pub info: Option<WalletInfo>,
    #[ts(type = "number | null")]
    pub balance_msat: Option<u64>,
    /// Why the wallet could not be asked, when it could not.
    pub error: Option<String>,
    pub sandbox: bool,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct AgentView {
    pub agent: Agent,
    #[ts(type = "number")]
    pub spent_msat: u64,
    /// The line that starts it through Purser in its sandbox (`purser run …`).
    pub run: String,
    /// The line that sets its variables in a shell (`eval "$(purser env …)"`).
    pub env_line: String,
}

/// A new (or rotated) key, shown once, with the lines that point an agent's shell at Purser.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct AgentKey {
    pub name: String,
    pub key: String,
    pub env: String,
    /// The line that starts it through Purser in its sandbox (`purser run …`).
    pub run: String,
    /// The line that prints `env` again later (`eval "$(purser env …)"`).
    pub env_line: String,
}

/// How an MCP client (a desktop assistant, a coding agent) reaches Purser's tools as one agent.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct McpSetup {
    pub name: String,
    /// The `mcpServers` JSON that starts `purser mcp` inside the agent's sandbox: no secret in it.
    pub stdio: String,
    /// The `mcpServers` JSON for Streamable HTTP on the proxy's port, with the agent's key.
    pub http: String,
    /// The command that prints both again (`purser mcp --print-config …`).
    pub print_line: String,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct PolicyView {
    pub budgets: Vec<BudgetUse>,
    pub thresholds: Vec<Threshold>,
    pub rules: Vec<Rule>,
    pub paused: bool,
    pub time_zone: String,
    /// The display currency, in which limits may also be typed.
    pub currency: Option<String>,
    /// Its BTC price now, to show limits in the other denomination beside their own.
    pub per_btc: Option<f64>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct BudgetInput {
    pub agent: Option<String>,
    /// `host[:port][/path-prefix]`
    pub api: Option<String>,
    pub period: PeriodKind,
    /// For a rolling period only.
    pub hours: Option<u32>,
    #[ts(type = "number")]
    pub sats: u64,
    /// A limit in a currency instead of sats: an amount such as "1.00" of `currency`.
    pub fiat: Option<FiatInput>,
    #[ts(type = "number | null")]
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct ThresholdInput {
    pub agent: Option<String>,
    pub api: Option<String>,
    #[ts(type = "number")]
    pub auto_sats: u64,
    #[ts(type = "number")]
    pub ask_sats: u64,
    /// Above this, approving takes the passphrase (or the amount typed).
    #[ts(type = "number | null")]
    pub confirm_above_sats: Option<u64>,
    /// The limits in a currency instead of sats (the sat fields are then ignored).
    pub fiat: Option<FiatThresholdInput>,
}

/// An amount as a person typed it ("1.00") and its currency.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct FiatInput {
    pub currency: String,
    pub amount: String,
}

/// A threshold's limits typed in a currency.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct FiatThresholdInput {
    pub currency: String,
    pub auto: String,
    pub ask: String,
    pub confirm_above: Option<String>,
}

/// A person's answer in the Approvals screen.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct ApprovalAnswer {
    pub approve: bool,
    /// The count of requests the screen showed: at most these are answered.
    pub count: u32,
    #[ts(type = "number | null")]
    pub remember_sats_per_day: Option<u64>,
    pub passphrase: Option<String>,
    #[ts(type = "number | null")]
    pub typed_sats: Option<u64>,
}

impl ApprovalAnswer {
    /// The core's answer: the verdict, the requests seen, the rule to remember and the proof.
    pub fn into_answer(self) -> purser::approval::Answer {
        let verdict = if self.approve { purser::approval::Verdict::Approve } else { purser::approval::Verdict::Deny };
        purser::approval::Answer {
            verdict,
            seen: self.count,
            remember_sats_per_day: self.remember_sats_per_day,
            proof: purser::consent::Proof { passphrase: self.passphrase, typed_sats: self.typed_sats },
        }
    }
}

/// A person's answer to a requested task allowance: a lower maximum and a shorter time are allowed.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct AllowanceAnswer {
    pub approve: bool,
    #[ts(type = "number | null")]
    pub max_sats: Option<u64>,
    /// For an allowance set in a currency: its lower maximum, e.g. "1.50 USD".
    pub max_fiat: Option<String>,
    #[ts(type = "number | null")]
    pub time_limit_secs: Option<u64>,
    pub passphrase: Option<String>,
    #[ts(type = "number | null")]
    pub typed_sats: Option<u64>,
}

/// A task allowance a person opens for an agent.
#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct AllowanceInput {
    pub agent: String,
    pub purpose: String,
    #[ts(type = "number")]
    pub max_sats: u64,
    #[ts(type = "number | null")]
    pub per_payment_sats: Option<u64>,
    /// The maximum in a currency instead of `max_sats`.
    pub fiat: Option<FiatInput>,
    pub apis: Vec<String>,
    #[ts(type = "number")]
    pub time_limit_secs: u64,
    pub passphrase: Option<String>,
    #[ts(type = "number | null")]
    pub typed_sats: Option<u64>,
}

#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct RuleInput {
    pub agent: String,
    pub api: String,
    #[ts(type = "number")]
    pub max_sats_per_day: u64,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct SettingsView {
    pub data_dir: String,
    pub proxy_url: String,
    #[ts(type = "number")]
    pub approval_timeout_secs: u64,
    pub notifications: bool,
    /// `purser.toml` in the data directory: where the other settings live.
    pub config_file: String,
    pub time_zone: String,
    /// Purser's CA certificate (PEM), which agents trust so Purser can read their HTTPS.
    pub ca_cert_path: String,
    /// Hosts tunnelled without inspection (`pass_through` in the config file).
    pub pass_through: Vec<String>,
    /// A passphrase confirms large payments (and changes from the command line).
    pub passphrase_set: bool,
    /// Every approval needs the passphrase, not only those above a confirm limit.
    pub confirm_every_approval: bool,
    /// The currency amounts are shown in beside sats, when one is chosen.
    pub currency: Option<String>,
    /// The oldest a rate may be when it converts a limit, in seconds (`rate_max_age_secs`).
    #[ts(type = "number")]
    pub rate_max_age_secs: u64,
    /// Where rates are asked, by name.
    pub rate_sources: Vec<String>,
    /// The team database this desktop keeps its ledger in (shown without its password); `None` on this
    /// machine's own file.
    pub team_database: Option<String>,
    /// What chose the database instead of `purser.toml` (the command line, `PURSER_DATABASE_URL`, the sandbox),
    /// so Settings cannot change it.
    pub database_chosen_by: Option<String>,
    /// This instance's name, recorded on its payments in a team database.
    pub instance: String,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct Exported {
    pub path: String,
    #[ts(type = "number")]
    pub rows: u64,
}

/// The shell's own event: payments were paused or resumed from the tray (payload: whether now paused).
pub const PAUSED_EVENT: &str = "payments:paused";
/// The shell's own event: show this screen (payload: the screen's name), from a notification or the tray.
pub const NAVIGATE_EVENT: &str = "ui:navigate";
/// The shell's own events, besides the core's (listed for the UI's bindings).
#[cfg(test)]
pub const SHELL_EVENTS: [&str; 2] = [PAUSED_EVENT, NAVIGATE_EVENT];

#[cfg(test)]
mod bindings {
    use purser::ledger::credentials::CredentialInfo;
    use purser::ledger::prices::StoredPrice;
    use purser::ledger::queries::{ApiSummary, DaySpend, GroupBy, PaymentFilter, PaymentPage, SortBy};
    use purser::ledger::status::PaymentStatus;
    use purser::ledger::uninspected::UninspectedHost;
    use purser::policy::PeriodKind;
    use ts_rs::TS;

    /// The core types commands return directly (not inside a DTO) get their TypeScript files here too.
    #[test]
    fn export_core_bindings() {
        let cfg = ts_rs::Config::from_env();
        PaymentPage::export_all(&cfg).unwrap();
        PaymentFilter::export_all(&cfg).unwrap();
        SortBy::export_all(&cfg).unwrap();
        DaySpend::export_all(&cfg).unwrap();
        GroupBy::export_all(&cfg).unwrap();
        ApiSummary::export_all(&cfg).unwrap();
        UninspectedHost::export_all(&cfg).unwrap();
        CredentialInfo::export_all(&cfg).unwrap();
        StoredPrice::export_all(&cfg).unwrap();
        PaymentStatus::export_all(&cfg).unwrap();
        PeriodKind::export_all(&cfg).unwrap();
        write_values(&cfg);
        let numbers = ts_rs::Config::from_env().with_large_int("number");
        let client = crate::handlers::signature::client(&crate::handlers::signatures(&numbers));
        std::fs::write(cfg.out_dir().join("commands.ts"), client).unwrap();
    }

    /// The values the UI offers in its lists, from the Rust types, so no screen keeps a list of its own.
    fn write_values(cfg: &ts_rs::Config) {
        let list = |values: &[&str]| values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ");
        let keyed = |values: &[&str]| {
            values.iter().map(|v| format!("  {}: \"{v}\",\n", v.replace(':', "_"))).collect::<String>()
        };
        let statuses: Vec<&str> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
        let periods: Vec<&str> = PeriodKind::ALL.iter().map(|p| p.as_str()).collect();
        let mut names: Vec<&str> = purser::events::Event::NAMES.to_vec();
        names.extend(crate::dto::SHELL_EVENTS);
        let (status_list, status_keys) = (list(&statuses), keyed(&statuses));
        let (period_list, period_keys) = (list(&periods), keyed(&periods));
        let events = keyed(&names);
        let text = format!(
            "// Generated from the Rust types by the desktop tests (dto.rs). Do not edit this file manually.\n\
             import type {{ PaymentStatus }} from \"./PaymentStatus\";\n\
             import type {{ PeriodKind }} from \"./PeriodKind\";\n\n\
             /** Every payment status, in the order listings offer them. */\n\
             export const PAYMENT_STATUSES: readonly PaymentStatus[] = [{status_list}];\n\n\
             /** Each payment status by name, for the screens that single one out. */\n\
             export const STATUS = {{\n{status_keys}}} as const satisfies Record<PaymentStatus, PaymentStatus>;\n\n\
             /** Every budget period, in the order forms offer them. */\n\
             export const PERIOD_KINDS: readonly PeriodKind[] = [{period_list}];\n\n\
             /** Each budget period by name, for the screens that single one out. */\n\
             export const PERIOD = {{\n{period_keys}}} as const satisfies Record<PeriodKind, PeriodKind>;\n\n\
             /** Every event the window hears: the core's, then the desktop shell's own. */\n\
             export const EVENTS = {{\n{events}}} as const;\n\n\
             export type EventName = (typeof EVENTS)[keyof typeof EVENTS];\n"
        );
        std::fs::write(cfg.out_dir().join("values.ts"), text).unwrap();
    }
}
