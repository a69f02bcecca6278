//! Purser for agents that take their tools over the Model Context Protocol: an MCP server (on `rmcp`) whose
//! tools — budgets, quotes, task allowances, a paid fetch, the agent's own payments — are each one call to
//! the agent endpoints on the proxy's own port, made with the agent's own name and key ([`link`]). So a tool
//! can do exactly what the agent could do itself and nothing more, and a paid fetch goes through the same
//! policy, approvals and ledger as a proxied request.
//!
//! Two ways in: `purser mcp --agent NAME` over stdio ([`tools::PurserTools::over_stdio`]), and Streamable HTTP
//! at `/_purser/mcp` on the proxy's own port ([`http`]). The server keeps no session state: every call
//! stands alone, and what lasts (allowances, payments) is in Purser's ledger.

pub mod config;
pub mod http;
pub mod link;
pub mod tools;
