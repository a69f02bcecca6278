//! The commands the UI invokes: each a thin call into the core, errors mapped by `error`.

use std::sync::atomic::Ordering;

use purser::approval::{Answer, ApprovalView, Verdict};
use purser::ledger::credentials::CredentialInfo;
use purser::ledger::endpoints::EndpointSummary;
use purser::ledger::policy_store::ScopeSpec;
use purser::ledger::prices::StoredPrice;
use purser::ledger::queries::{ApiSummary, DaySpend, GroupBy, PaymentFilter, PaymentPage, SortBy, Valuing};
use purser::ledger::uninspected::UninspectedHost;
use purser::policy::fiat::FiatThreshold;
use purser::policy::{Period, PeriodKind};
use purser::rates::Money;
use purser::rates::money::currency_code;
use purser::units::Msats;
use purser::wallet::nwc::{NwcOptions, NwcWallet};
use purser::wallet::{Wallet, uri_store};
use tauri::State;

use crate::dto::*;
use crate::error::{Result, UiError};
use crate::runtime::AppCore;

/// A typed amount or currency the core could not read, for the form that sent it.
fn invalid(e: purser::rates::MoneyError) -> UiError {
    UiError::new("invalid", e.to_string())
}

#[tauri::command]
pub async fn overview(core: State<'_, AppCore>) -> Result<Overview> {
    let rate = crate::currency_commands::rate_line(&core).await?;
    // Figures in money only with a rate: payments recorded without one would otherwise be left out unseen.
    let valuing = rate
        .currency
        .clone()
        .filter(|_| rate.per_btc.is_some())
        .map(|currency| Valuing { currency, current_per_btc: rate.per_btc });
    Ok(Overview {
        totals: core.ledger.totals_valued(valuing.as_ref()).await?,
        budgets: core.proxy.budget_uses().await?,
        approvals: all_approvals(&core).await,
        alerts: core.ledger.alerts(10).await?,
        paused: core.ledger.paused_all().await?,
        paused_agents: core.ledger.agents().await?.into_iter().filter(|a| a.paused).map(|a| a.name).collect(),
        breakers: core.ledger.breakers().await?,
        proxy_url: core.proxy_url.clone(),
        sandbox: core.sandbox.is_some(),
        sandbox_env: core.sandbox_env.clone(),
        rate,
        held: core.ledger.held_at_apis().await?,
        sessions: core.ledger.sessions(50).await?.into_iter().filter(needs_showing).collect(),
    })
}

/// A session the Overview lists: open, or closed with its refund awaited or missing.
fn needs_showing(s: &purser::ledger::sessions::SessionInfo) -> bool {
    use purser::ledger::sessions::{RefundState, SessionState};
    matches!(s.state, SessionState::Open | SessionState::Closing)
        || matches!(s.refund_state, RefundState::Waiting | RefundState::Missing)
}

/// Closes an open session: its API returns what is left to the wallet.
#[tauri::command]
pub async fn close_session(core: State<'_, AppCore>, id: i64) -> Result<()> {
    purser::flow::Flow::new(&*core.proxy)
        .close_session_now(id)
        .await
        .map(|_| ())
        .map_err(|e| UiError::new("session_not_closed", e.to_string()))
}

#[tauri::command]
pub async fn spend_chart(core: State<'_, AppCore>, days: u32, group: GroupBy) -> Result<Vec<DaySpend>> {
    let valuing = core.proxy.valuing().await?.filter(|v| v.current_per_btc.is_some());
    Ok(core.ledger.spend_per_day_valued(days.clamp(1, 366), group, valuing.as_ref()).await?)
}

#[tauri::command]
pub async fn ledger_page(
    core: State<'_, AppCore>,
    filter: PaymentFilter,
    sort: SortBy,
    offset: i64,
    limit: i64,
) -> Result<PaymentPage> {
    Ok(core.ledger.payment_page(&filter, sort, offset, limit).await?)
}

/// The preimage of one payment: shown only when a person asks for it.
#[tauri::command]
pub async fn payment_preimage(core: State<'_, AppCore>, id: i64) -> Result<Option<String>> {
    Ok(core.ledger.preimage(id).await?)
}

/// Writes the CSV of the filtered view to `exports/` in the data directory.
#[tauri::command]
pub async fn export_csv(core: State<'_, AppCore>, filter: PaymentFilter) -> Result<Exported> {
    let csv = core.ledger.export_csv(&filter).await?;
    let dir = core.data_dir.join("exports");
    let name = format!("purser-ledger-{}.csv", core.ledger.now_ms());
    let path = dir.join(name);
    // Owner-only, like the ledger it comes from.
    purser::private_fs::write_atomic(&path, csv.as_bytes(), true)
        .map_err(|e| UiError::new("io", format!("cannot write {}: {e}", path.display())))?;
    let rows = csv.lines().count().saturating_sub(1) as u64;
    Ok(Exported { path: path.display().to_string(), rows })
}

#[tauri::command]
pub async fn approvals(core: State<'_, AppCore>) -> Result<Vec<ApprovalView>> {
    Ok(all_approvals(&core).await)
}

/// The payments held on this machine and, on a team's database, those held on the team's other machines
/// (each naming its machine). Should the database not answer, this machine's own are still listed.
pub async fn all_approvals(core: &AppCore) -> Vec<ApprovalView> {
    let mut all = core.proxy.approvals.list();
    if !core.ledger.shares_approvals() {
        return all;
    }
    for own in &mut all {
        own.machine = Some(core.ledger.instance().to_string());
    }
    match purser::team_approvals::waiting(&core.ledger, true).await {
        Ok(elsewhere) => all.extend(elsewhere),
        Err(e) => tracing::warn!("the team's waiting approvals could not be read: {e}"),
    }
    all
}

/// Approves or denies a payment held on another of the team's machines (`team_id` as the list gave it), as
/// [`decide_approval`] does for this machine's own; the machine holding it pays or refuses within a second.
#[tauri::command]
pub async fn decide_team_approval(core: State<'_, AppCore>, team_id: i64, answer: ApprovalAnswer) -> Result<()> {
    purser::team_approvals::answer(&core.ledger, team_id, answer.into_answer()).await?;
    Ok(())
}

/// Approves or denies the `count` requests of a held payment the person was shown; `remember_sats_per_day`
/// also remembers a rule for its agent and API; an approval that needs confirming takes the passphrase (or
/// the typed total).
#[tauri::command]
pub async fn decide_approval(core: State<'_, AppCore>, id: u64, answer: ApprovalAnswer) -> Result<()> {
    purser::approval::answer(&core.proxy.approvals, &core.ledger, id, answer.into_answer()).await?;
    Ok(())
}

/// A click in a notification: a plain answer to the `seen` requests it showed, held on this machine or
/// (with a `team_id`) on another of the team's.
pub async fn decide_from_notification(core: &AppCore, a: &ApprovalView, approve: bool) -> Result<()> {
    let verdict = if approve { Verdict::Approve } else { Verdict::Deny };
    let answer = Answer::new(verdict, a.count);
    match a.team_id {
        Some(team_id) => {
            purser::team_approvals::answer(&core.ledger, team_id, answer).await?;
        }
        None => {
            purser::approval::answer(&core.proxy.approvals, &core.ledger, a.id, answer).await?;
        }
    }
    Ok(())
}

/// Sets, changes or removes (`new_passphrase` empty) the passphrase; once one is set, `current` must match it.
#[tauri::command]
pub async fn set_passphrase(
    core: State<'_, AppCore>,
    current: Option<String>,
    new_passphrase: Option<String>,
) -> Result<()> {
    purser::consent::authorize_change(&core.ledger, current.as_deref()).await?;
    match new_passphrase.filter(|n| !n.is_empty()) {
        Some(new) => {
            let phc = tokio::task::spawn_blocking(move || purser::consent::hash(&new))
                .await
                .map_err(|e| UiError::new("internal", e.to_string()))??;
            core.ledger.set_passphrase_hash(Some(&phc)).await?;
        }
        None => core.ledger.set_passphrase_hash(None).await?,
    }
    Ok(())
}

/// Whether every approval needs the passphrase, not only those above a confirm limit.
#[tauri::command]
pub async fn set_confirm_every_approval(core: State<'_, AppCore>, on: bool) -> Result<()> {
    Ok(core.ledger.set_confirm_every_approval(on).await?)
}

#[tauri::command]
pub async fn budgets(core: State<'_, AppCore>) -> Result<PolicyView> {
    let valuing = core.proxy.valuing().await?;
    Ok(PolicyView {
        budgets: core.proxy.budget_uses().await?,
        thresholds: core.ledger.thresholds().await?,
        rules: core.ledger.rules().await?,
        paused: core.ledger.paused_all().await?,
        time_zone: core.ledger.policy().time_zone.iana_name().unwrap_or("UTC").to_string(),
        currency: valuing.as_ref().map(|v| v.currency.clone()),
        per_btc: valuing.and_then(|v| v.current_per_btc),
    })
}

#[tauri::command]
pub async fn add_budget(core: State<'_, AppCore>, input: BudgetInput) -> Result<()> {
    // The form sends its hours field only for a rolling period.
    let hours = input.hours.filter(|_| input.period == PeriodKind::Rolling);
    let period = Period::new(input.period, hours).map_err(|e| UiError::new("invalid", e.to_string()))?;
    let spec = ScopeSpec::parse(input.agent.as_deref(), input.api.as_deref());
    if let Some(fiat) = input.fiat {
        let limit = Money::parse_amount(&fiat.currency, &fiat.amount).map_err(invalid)?;
        if limit.micros == 0 {
            return Err(UiError::new("invalid", "a budget of 0 refuses everything: use Pause instead"));
        }
        core.ledger.add_fiat_budget(&spec, period, limit, input.expires_at_ms, None).await?;
        return Ok(());
    }
    if input.sats == 0 {
        return Err(UiError::new("invalid", "a budget of 0 sats refuses everything: use Pause instead"));
    }
    core.ledger.add_budget(&spec, period, Msats::from_sats(input.sats), input.expires_at_ms, None).await?;
    Ok(())
}

#[tauri::command]
pub async fn remove_budget(core: State<'_, AppCore>, id: i64) -> Result<()> {
    Ok(core.ledger.remove_budget(id).await?)
}

#[tauri::command]
pub async fn set_threshold(core: State<'_, AppCore>, input: ThresholdInput) -> Result<()> {
    let spec = ScopeSpec::parse(input.agent.as_deref(), input.api.as_deref());
    if let Some(f) = input.fiat {
        let micros = |text: &str| Money::parse_amount(&f.currency, text).map(|m| m.micros).map_err(invalid);
        let limits = FiatThreshold {
            currency: currency_code(&f.currency).map_err(invalid)?,
            auto_max_micros: micros(&f.auto)?,
            ask_max_micros: micros(&f.ask)?,
            confirm_above_micros: f
                .confirm_above
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(micros)
                .transpose()?,
        };
        core.ledger.set_fiat_threshold(&spec, limits).await?;
        return Ok(());
    }
    let confirm = input.confirm_above_sats.map(Msats::from_sats);
    core.ledger
        .set_threshold(&spec, Msats::from_sats(input.auto_sats), Msats::from_sats(input.ask_sats), confirm)
        .await?;
    Ok(())
}

#[tauri::command]
pub async fn remove_threshold(core: State<'_, AppCore>, id: i64) -> Result<()> {
    Ok(core.ledger.remove_threshold(id).await?)
}

#[tauri::command]
pub async fn add_rule(core: State<'_, AppCore>, input: RuleInput) -> Result<()> {
    let spec = ScopeSpec::parse(Some(&input.agent), Some(&input.api));
    let host = spec.host.ok_or_else(|| UiError::new("invalid", "a rule needs an API"))?;
    let limit = Msats::from_sats(input.max_sats_per_day);
    core.ledger.add_rule(&input.agent, &host, spec.path_prefix.as_deref(), limit, "added in the app").await?;
    Ok(())
}

#[tauri::command]
pub async fn remove_rule(core: State<'_, AppCore>, id: i64) -> Result<()> {
    Ok(core.ledger.remove_rule(id).await?)
}

/// Pauses or resumes all payments, or one agent's.
#[tauri::command]
pub async fn set_paused(core: State<'_, AppCore>, agent: Option<String>, paused: bool) -> Result<()> {
    match agent {
        Some(a) => core.ledger.set_agent_paused(&a, paused).await?,
        None => core.ledger.set_paused_all(paused).await?,
    }
    Ok(())
}

/// Lets payments to one endpoint go ahead again after its circuit breaker tripped.
#[tauri::command]
pub async fn reset_breaker(core: State<'_, AppCore>, host: String, path: String) -> Result<()> {
    core.ledger.reset_breakers(Some(&host), Some(&path)).await?;
    Ok(())
}

#[tauri::command]
pub async fn agents(core: State<'_, AppCore>) -> Result<Vec<AgentView>> {
    let spent = core.ledger.spend_per_agent().await?;
    Ok(core
        .ledger
        .agents()
        .await?
        .into_iter()
        .map(|agent| AgentView {
            spent_msat: spent.get(&agent.name).map_or(0, |m| m.0),
            run: purser::agent_env::run_line(&core.data_dir, &agent.name),
            env_line: purser::agent_env::env_line(&core.data_dir, &agent.name),
            agent,
        })
        .collect())
}

/// The MCP client configuration for agent `name`: over stdio (no secret) and over HTTP (with its kept key).
#[tauri::command]
pub async fn agent_mcp(core: State<'_, AppCore>, name: String) -> Result<McpSetup> {
    let key = purser::agent_keys::get(&core.data_dir, &name)?.ok_or_else(|| {
        UiError::new("not_found", format!("no key is kept for `{name}`: New key makes one (and cuts off the old)"))
    })?;
    Ok(McpSetup {
        stdio: purser::mcp::config::stdio(&core.data_dir, &name, &purser::mcp::config::purser_program()).pretty(),
        http: purser::mcp::config::http(&purser::mcp::link::Link::new(proxy_addr(&core)?, &name, &key)).pretty(),
        print_line: purser::agent_env::mcp_config_line(&core.data_dir, &name),
        name,
    })
}

/// The address agents reach the proxy at.
fn proxy_addr(core: &AppCore) -> Result<std::net::SocketAddr> {
    core.proxy_url
        .trim_start_matches("http://")
        .parse()
        .map_err(|_| UiError::new("invalid", format!("the proxy address {} is not an address", core.proxy_url)))
}

/// Keeps the agent's key for `purser env` and returns the shell lines that point the agent at Purser.
fn keep_and_env(core: &AppCore, name: &str, key: &str) -> Result<String> {
    purser::agent_keys::put(&core.data_dir, name, key)?;
    let env = purser::agent_env::AgentEnv::new(&core.data_dir, proxy_addr(core)?, name, key)?;
    Ok(env.render(purser::agent_env::Shell::Bash))
}

#[tauri::command]
pub async fn add_agent(core: State<'_, AppCore>, name: String) -> Result<AgentKey> {
    let (agent, key) = core.ledger.add_agent(name.trim()).await?;
    let run = purser::agent_env::run_line(&core.data_dir, &agent.name);
    let env_line = purser::agent_env::env_line(&core.data_dir, &agent.name);
    Ok(AgentKey { env: keep_and_env(&core, &agent.name, &key)?, name: agent.name, key, run, env_line })
}

#[tauri::command]
pub async fn rotate_agent_key(core: State<'_, AppCore>, name: String) -> Result<AgentKey> {
    let key = core
        .ledger
        .rotate_key(&name)
        .await?
        .ok_or_else(|| UiError::new("not_found", format!("no agent is named `{name}`")))?;
    let run = purser::agent_env::run_line(&core.data_dir, &name);
    let env_line = purser::agent_env::env_line(&core.data_dir, &name);
    Ok(AgentKey { env: keep_and_env(&core, &name, &key)?, name, key, run, env_line })
}

/// An agent's settings again, with the key it has now (kept in `agent-keys.toml`): nothing changes.
#[tauri::command]
pub async fn agent_settings(core: State<'_, AppCore>, name: String) -> Result<AgentKey> {
    let key = purser::agent_keys::get(&core.data_dir, &name)?.ok_or_else(|| {
        UiError::new("not_found", format!("no key is kept for `{name}`: New key makes one (and cuts off the old)"))
    })?;
    let run = purser::agent_env::run_line(&core.data_dir, &name);
    let env_line = purser::agent_env::env_line(&core.data_dir, &name);
    Ok(AgentKey { env: keep_and_env(&core, &name, &key)?, name, key, run, env_line })
}

#[tauri::command]
pub async fn apis(core: State<'_, AppCore>) -> Result<Vec<ApiSummary>> {
    Ok(core.ledger.apis().await?)
}

/// One API's endpoints with their own usual prices.
#[tauri::command]
pub async fn api_endpoints(core: State<'_, AppCore>, host: String) -> Result<Vec<EndpointSummary>> {
    Ok(core.ledger.endpoints(&host).await?)
}

/// Connections Purser could not look inside, per host.
#[tauri::command]
pub async fn uninspected(core: State<'_, AppCore>) -> Result<Vec<UninspectedHost>> {
    Ok(core.ledger.uninspected_hosts().await?)
}

/// Proofs of payment kept for reuse, per agent and API, newest first.
#[tauri::command]
pub async fn credentials(core: State<'_, AppCore>) -> Result<Vec<CredentialInfo>> {
    Ok(core.ledger.credentials(None).await?)
}

/// Forgets a kept proof: the agent's next request there pays again, under policy.
#[tauri::command]
pub async fn revoke_credential(core: State<'_, AppCore>, id: i64) -> Result<()> {
    Ok(core.ledger.revoke_credential(id).await?)
}

/// The prices APIs publish, as last read.
#[tauri::command]
pub async fn prices(core: State<'_, AppCore>) -> Result<Vec<StoredPrice>> {
    Ok(core.ledger.prices(None).await?)
}

#[tauri::command]
pub async fn wallet_status(core: State<'_, AppCore>) -> Result<WalletStatus> {
    let source = core.wallet_source.lock().unwrap().clone();
    let sandbox = core.sandbox.is_some();
    let Ok(wallet) = core.proxy.wallet.wallet() else {
        return Ok(WalletStatus {
            connected: false,
            source: None,
            info: None,
            balance_msat: None,
            error: None,
            sandbox,
        });
    };
    let (info, balance) = tokio::join!(wallet.get_info(), wallet.get_balance());
    let error = info.as_ref().err().map(|e| e.to_string());
    Ok(WalletStatus {
        connected: true,
        source,
        info: info.ok(),
        balance_msat: balance.ok().map(|b| b.0),
        error,
        sandbox,
    })
}

/// Checks a connection string with `get_info`, keeps it in the OS keyring, and pays with it from now on.
#[tauri::command]
pub async fn wallet_connect(core: State<'_, AppCore>, uri: String) -> Result<WalletStatus> {
    let wallet = NwcWallet::new(uri.trim(), NwcOptions::default())?;
    wallet.get_info().await?;
    let dir = core.data_dir.clone();
    let stored = uri.trim().to_string();
    tokio::task::spawn_blocking(move || uri_store::store(&dir, &stored))
        .await
        .map_err(|e| UiError::new("keyring", e.to_string()))??;
    core.proxy.wallet.replace(Some(std::sync::Arc::new(wallet) as std::sync::Arc<dyn Wallet>));
    *core.wallet_source.lock().unwrap() = Some(uri_store::Source::Keyring.describe().to_string());
    wallet_status(core).await
}

/// Stops paying: forgets the stored connection string (the sandbox's play wallet is only let go, to be
/// reconnected with [`wallet_reconnect_sandbox`]).
#[tauri::command]
pub async fn wallet_disconnect(core: State<'_, AppCore>) -> Result<()> {
    if core.sandbox.is_none() {
        let dir = core.data_dir.clone();
        tokio::task::spawn_blocking(move || uri_store::forget(&dir))
            .await
            .map_err(|e| UiError::new("keyring", e.to_string()))??;
    }
    core.proxy.wallet.replace(None);
    *core.wallet_source.lock().unwrap() = None;
    Ok(())
}

/// Connects the sandbox's play wallet again after a disconnect (nothing is stored).
#[tauri::command]
pub async fn wallet_reconnect_sandbox(core: State<'_, AppCore>) -> Result<WalletStatus> {
    let Some(sandbox) = &core.sandbox else {
        return Err(UiError::new("invalid", "this Purser does not run the sandbox"));
    };
    let wallet = NwcWallet::new(&sandbox.wallet.uri, NwcOptions::default())?;
    core.proxy.wallet.replace(Some(std::sync::Arc::new(wallet) as std::sync::Arc<dyn Wallet>));
    *core.wallet_source.lock().unwrap() = Some(crate::runtime::SANDBOX_WALLET_SOURCE.to_string());
    wallet_status(core).await
}

#[tauri::command]
pub async fn settings(core: State<'_, AppCore>) -> Result<SettingsView> {
    Ok(SettingsView {
        data_dir: core.data_dir.display().to_string(),
        proxy_url: core.proxy_url.clone(),
        approval_timeout_secs: core.proxy.settings.approval_timeout.as_secs(),
        notifications: core.notifications_on(),
        config_file: core.data_dir.join(purser::config::CONFIG_FILE).display().to_string(),
        time_zone: core.ledger.policy().time_zone.iana_name().unwrap_or("UTC").to_string(),
        ca_cert_path: core.proxy.settings.ca_cert_path().display().to_string(),
        pass_through: core.proxy.settings.pass_through.clone(),
        passphrase_set: core.ledger.passphrase_hash().await?.is_some(),
        confirm_every_approval: core.ledger.confirm_every_approval().await?,
        currency: core.proxy.display_currency().await?,
        rate_max_age_secs: core.proxy.settings.rate_max_age.as_secs(),
        rate_sources: core.proxy.settings.rate_sources.iter().map(|s| s.name.clone()).collect(),
        team_database: match &core.proxy.settings.ledger {
            // The URL as purser.toml holds it (the kept password is not shown, not even as `***`).
            purser::ledger::Location::Server(url) => {
                Some(purser::ledger::postgres::without_password(&purser::database_setting::split_password(url).0))
            }
            purser::ledger::Location::File(_) => None,
        },
        database_chosen_by: purser::database_setting::overridden_by().map(str::to_string),
        instance: core.proxy.settings.instance.clone(),
    })
}

/// Saves the listen address and approval timeout to purser.toml; they apply on the next start.
#[tauri::command]
pub async fn save_settings(core: State<'_, AppCore>, listen: String, approval_timeout_secs: u64) -> Result<()> {
    purser::config::update(&core.data_dir, Some(listen.trim()), Some(approval_timeout_secs))
        .map_err(|e| UiError::new("invalid", e.to_string()))
}

#[tauri::command]
pub async fn set_notifications(core: State<'_, AppCore>, on: bool) -> Result<()> {
    core.notifications.store(on, Ordering::Relaxed);
    Ok(())
}
