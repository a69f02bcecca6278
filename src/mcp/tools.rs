//! The tools an agent gets over MCP, with descriptions written for a model to read. Each one is a call to
//! an agent endpoint through the agent's [`Link`]; the endpoint's answer is the tool's structured result.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Extensions, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, Json, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::link::Link;
use crate::proxy::allowance_api::AllowanceRequest;
use crate::proxy::answers::{Allowance, FetchAnswer, Overview, PaymentList, Quote};
use crate::proxy::fetch_api::FetchAsk;
use crate::proxy::quote_api::QuoteAsk;

/// What the server tells a client about itself.
const INSTRUCTIONS: &str = "Purser pays for the paid HTTP APIs you call (HTTP 402, Lightning) on behalf of a \
person who sets your budgets and approves larger payments. Use `fetch` for any call that may cost money: it \
pays within your limits, may wait for the person's approval, and tells you what was paid and why a payment \
was refused. Before a task with many paid calls, use `quote` for the cost and `request_allowance` to have \
the person approve the task's maximum once; then pass the allowance id to `fetch`. `get_budget` shows what \
you may still spend. Amounts are in msat (1 sat = 1000 msat).";

/// The MCP server: the tools, and the link they use when it is fixed (stdio).
#[derive(Clone)]
pub struct PurserTools {
    link: Option<Arc<Link>>,
    tool_router: ToolRouter<Self>,
}

/// `allowance_status`'s arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowanceStatusArgs {
    /// The allowance's id, from `request_allowance`.
    pub id: i64,
    /// While the person has not answered, wait up to this many seconds (at most 60) for the answer.
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// `close_allowance`'s arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseAllowanceArgs {
    /// The allowance's id.
    pub id: i64,
}

/// `list_payments`'s arguments.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPaymentsArgs {
    /// Only payments to this API: a host (`api.example.com`, `127.0.0.1:8080`) or a URL.
    #[serde(default)]
    pub api: Option<String>,
    /// Only payments in this state: settled, refused, failed, pending, paying, unknown or bad_preimage.
    #[serde(default)]
    pub status: Option<String>,
    /// Only payments since this moment: RFC 3339 (`2026-12-01T00:00:00Z`) or ms since the epoch.
    #[serde(default)]
    pub since: Option<String>,
    /// At most this many, newest first (default 20, at most 200).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A path's query string from `pairs`, leaving out the empty ones.
fn query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() { path.to_string() } else { format!("{path}?{q}") }
}

#[tool_router]
impl PurserTools {
    /// The server for one agent over stdio: every call goes through `link`.
    pub fn over_stdio(link: Link) -> Self {
        PurserTools { link: Some(Arc::new(link)), tool_router: Self::tool_router() }
    }

    /// The server for Streamable HTTP: each call uses the link of the agent that made the HTTP request.
    pub fn over_http() -> Self {
        PurserTools { link: None, tool_router: Self::tool_router() }
    }

    fn link(&self, extensions: &Extensions) -> Result<Arc<Link>, ErrorData> {
        self.link
            .clone()
            .or_else(|| extensions.get::<http::request::Parts>()?.extensions.get::<Arc<Link>>().cloned())
            .ok_or_else(|| ErrorData::invalid_request("this call carries no agent's name and key", None))
    }

    #[tool(
        description = "What you may still spend: every budget that applies to you (limit, used, left, \
        when the window resets), the approval thresholds (paid at once up to, asked up to, refused above), your \
        task allowances that are waiting or active, and whether the person paused your payments. Amounts in \
        msat. Call it before a costly task.",
        annotations(read_only_hint = true)
    )]
    async fn get_budget(&self, extensions: Extensions) -> Result<Json<Overview>, ErrorData> {
        Ok(Json(self.link(&extensions)?.get(crate::proxy::agent_api::PREFIX).await?))
    }

    #[tool(
        description = "What a list of planned calls would cost and what today's policy would do with each \
        (pay at once, ask the person, need confirmation, refuse), with a total range (lowest, expected, highest, \
        in msat) and the calls whose price is unknown. Nothing is paid.",
        annotations(read_only_hint = true)
    )]
    async fn quote(
        &self,
        Parameters(args): Parameters<QuoteAsk>,
        extensions: Extensions,
    ) -> Result<Json<Quote>, ErrorData> {
        Ok(Json(self.link(&extensions)?.post(crate::proxy::quote_api::PATH, &args).await?))
    }

    #[tool(description = "Ask the person to approve a task's maximum spend once, so the task's payments within \
        it go ahead without asking each time. Give the purpose in a sentence, max_sats for the whole task \
        (or max_fiat such as \"2.50 USD\", converted at the rate of each payment), optionally the APIs, a \
        per-payment maximum, a time limit and the planned calls. With wait_secs (up to 60) the answer comes \
        back once the person decided: state `active` (approved, maybe for less: see max_msat), `denied`, or \
        still `requested` — then call allowance_status later. Pass the id as `allowance` to fetch.")]
    async fn request_allowance(
        &self,
        Parameters(args): Parameters<AllowanceRequest>,
        extensions: Extensions,
    ) -> Result<Json<Allowance>, ErrorData> {
        Ok(Json(self.link(&extensions)?.post(crate::proxy::allowance_api::PREFIX, &args).await?))
    }

    #[tool(
        description = "One of your task allowances: its state (requested, active, denied, exhausted, \
        expired, closed), the approved maximum, what is used (msat) and its paid calls. With wait_secs (up to 60) \
        a request still waiting for the person is answered once they decide, or still `requested` after the \
        wait.",
        annotations(read_only_hint = true)
    )]
    async fn allowance_status(
        &self,
        Parameters(args): Parameters<AllowanceStatusArgs>,
        extensions: Extensions,
    ) -> Result<Json<Allowance>, ErrorData> {
        let path = query(
            &format!("{}/{}", crate::proxy::allowance_api::PREFIX, args.id),
            &[("wait", args.wait_secs.map(|w| w.to_string()))],
        );
        Ok(Json(self.link(&extensions)?.get(&path).await?))
    }

    #[tool(description = "Close a task allowance when the task is done: what is left is released and the \
        summary (spent, calls, APIs) is returned.")]
    async fn close_allowance(
        &self,
        Parameters(args): Parameters<CloseAllowanceArgs>,
        extensions: Extensions,
    ) -> Result<Json<Allowance>, ErrorData> {
        let path = format!("{}/{}/close", crate::proxy::allowance_api::PREFIX, args.id);
        Ok(Json(self.link(&extensions)?.post(&path, &serde_json::json!({})).await?))
    }

    #[tool(description = "Make an HTTP request that may cost money. If the API answers 402 Payment Required, \
        Purser pays within your budgets (or asks the person, which may take a while), retries with the proof \
        and returns the API's answer: status, headers, body (text, or base64 when binary; cut at \
        max_body_bytes with a note) and the payment (amount and fee in msat, dialect, who decided and why). \
        When Purser refuses to pay, `problem` holds the reason code and why. Set max_sats to cap this one \
        call, allowance to pay from a task allowance, reason to tell the person why it is worth it.")]
    async fn fetch(
        &self,
        Parameters(args): Parameters<FetchAsk>,
        extensions: Extensions,
    ) -> Result<Json<FetchAnswer>, ErrorData> {
        Ok(Json(self.link(&extensions)?.post(crate::proxy::fetch_api::PATH, &args).await?))
    }

    #[tool(
        description = "Your own payments, newest first: each with its URL, amount and fee (msat), status \
        (settled, refused, failed, …), the reason of a refusal, who decided, and the allowance it came from. \
        Filter by api, status or since; limit up to 200.",
        annotations(read_only_hint = true)
    )]
    async fn list_payments(
        &self,
        Parameters(args): Parameters<ListPaymentsArgs>,
        extensions: Extensions,
    ) -> Result<Json<PaymentList>, ErrorData> {
        let path = query(
            crate::proxy::payments_api::PATH,
            &[
                ("api", args.api),
                ("status", args.status),
                ("since", args.since),
                ("limit", args.limit.map(|l| l.to_string())),
            ],
        );
        Ok(Json(self.link(&extensions)?.get(&path).await?))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PurserTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("purser", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
